// job ls|view|watch|cancel|retry: the daemon's queue of work.
#include <cctype>

#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;

namespace {

std::string StateName(v1::JobState s) {
  std::string name = v1::JobState_Name(s);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

absl::StatusOr<Reply> JobList(CommandContext& ctx) {
  v1::ListJobsRequest req;
  req.set_all(ctx.args.Has("all"));
  if (ctx.args.Has("limit")) {
    absl::StatusOr<int64_t> limit = ctx.args.GetId("limit");
    if (!limit.ok()) return limit.status();
    req.set_limit(static_cast<int32_t>(*limit));
  }
  absl::StatusOr<v1::JobList> jobs = ctx.client().Call(&v1::Control::Stub::ListJobs, req);
  if (!jobs.ok()) return jobs.status();
  Table t({"ID", "Kind", "State", "Benchmark", "Model", "Dataset", "Attempts", "Updated", "Error"});
  for (const auto& j : jobs->items()) {
    auto id = [](int64_t v) { return v ? std::to_string(v) : std::string(); };
    t.AddRow({std::to_string(j.id()), j.kind(), StateName(j.state()), id(j.benchmark()),
              id(j.model()), id(j.dataset()), std::to_string(j.attempts()), j.updated_at(),
              j.error()});
  }
  return TableReply(ProtoReply(*jobs, nullptr).json, std::move(t));
}

absl::StatusOr<v1::GetJobRequest> JobRequest(const Args& args) {
  absl::StatusOr<int64_t> id = args.PositionalId(0, "job id");
  if (!id.ok()) return id.status();
  v1::GetJobRequest req;
  req.set_id(*id);
  return req;
}

absl::StatusOr<Reply> JobView(CommandContext& ctx) {
  absl::StatusOr<v1::GetJobRequest> req = JobRequest(ctx.args);
  if (!req.ok()) return req.status();
  absl::StatusOr<v1::Job> job = ctx.client().Call(&v1::Control::Stub::GetJob, *req);
  if (!job.ok()) return job.status();
  nlohmann::json view = {{"id", job->id()},
                         {"kind", job->kind()},
                         {"state", StateName(job->state())},
                         {"attempts", job->attempts()},
                         {"created_at", job->created_at()},
                         {"updated_at", job->updated_at()}};
  if (job->benchmark()) view["benchmark"] = job->benchmark();
  if (job->model()) view["model"] = job->model();
  if (job->dataset()) view["dataset"] = job->dataset();
  if (!job->error().empty()) view["error"] = job->error();
  if (!job->log_path().empty()) view["log"] = job->log_path();
  view["params"] = ParseJsonOrString(job->params_json());
  view["result"] = ParseJsonOrString(job->result_json());
  return ProtoReply(*job, [view](std::ostream& o) { PrintKeyValues(o, view); });
}

// What the job's own command would have printed at its end (JobReply).
absl::StatusOr<Reply> JobWatch(CommandContext& ctx) {
  absl::StatusOr<v1::GetJobRequest> req = JobRequest(ctx.args);
  if (!req.ok()) return req.status();
  return RunJobReply(ctx, &v1::Control::Stub::WatchJob, *req);
}

absl::StatusOr<Reply> JobAct(CommandContext& ctx, bool cancel) {
  absl::StatusOr<v1::GetJobRequest> req = JobRequest(ctx.args);
  if (!req.ok()) return req.status();
  absl::StatusOr<v1::Job> job = ctx.client().Call(
      cancel ? &v1::Control::Stub::CancelJob : &v1::Control::Stub::RetryJob, *req);
  if (!job.ok()) return job.status();
  return ProtoReply(*job, [id = req->id(), queued = job->id(), cancel](std::ostream& o) {
    if (cancel) {
      o << "Job " << id << " is being cancelled.\n";
    } else {
      o << "Job " << id << " queued again as job " << queued << ".\n";
    }
  });
}

}  // namespace

std::vector<Command> JobCommands() {
  return {
      {{"job", "ls"},
       "List jobs (unfinished ones unless --all)",
       {"medperfctl job ls --all"},
       {{"all", {"a"}, false, false, "include finished jobs"},
        {"limit", {"n"}, true, false, "at most this many jobs (default 100)"}},
       JobList},
      {{"job", "view"}, "Show one job", {"medperfctl job view 3"}, {}, JobView, 1, "<job id>"},
      {{"job", "watch"},
       "Follow a job until it ends",
       {"medperfctl job watch 3"},
       {},
       JobWatch,
       1,
       "<job id>"},
      {{"job", "cancel"},
       "Cancel a queued or running job",
       {"medperfctl job cancel 3"},
       {},
       [](CommandContext& c) { return JobAct(c, true); },
       1,
       "<job id>"},
      {{"job", "retry"},
       "Queue a failed model run again",
       {"medperfctl job retry 3"},
       {},
       [](CommandContext& c) { return JobAct(c, false); },
       1,
       "<job id>"},
  };
}

}  // namespace medperf::ctl
