// status, watch, sync and job commands.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"
#include "ctl/render.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;

namespace {

std::string StateName(v1::JobState s) {
  std::string name = v1::JobState_Name(s);
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

int Status(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::GetStatusRequest req;
  req.set_check(ctx.args.Has("check"));
  v1::StatusResponse resp;
  grpc::Status st = client.stub().GetStatus(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  bool healthy = !req.check() || resp.integrity() == "ok";
  if (ctx.global.json) {
    ctx.out.out() << ToJson(resp) << "\n";
    return healthy ? 0 : 1;
  }
  auto& o = ctx.out.out();
  o << "medperfd " << resp.version() << " (pid " << resp.pid() << "), up "
    << resp.uptime_seconds() << " s\n";
  o << "state dir:      " << resp.state_dir() << "\n";
  o << "socket:         " << resp.socket_path() << "\n";
  o << "server:         " << (resp.server_url().empty() ? "(none configured)" : resp.server_url())
    << "\n";
  o << "runner:         " << resp.runner() << "\n";
  o << "schema version: " << resp.schema_version() << "\n";
  if (!resp.last_poll().empty()) o << "last poll:      " << resp.last_poll() << "\n";
  if (!resp.last_poll_error().empty()) o << "poll error:     " << resp.last_poll_error() << "\n";
  std::string counts;
  for (const char* k : {"datasets", "results", "jobs", "containers", "events"}) {
    auto it = resp.counts().find(k);
    absl::StrAppend(&counts, counts.empty() ? "" : ", ", k, " ",
                    it == resp.counts().end() ? 0 : it->second);
  }
  o << "counts:         " << counts << "\n";
  if (req.check()) o << "integrity:      " << resp.integrity() << "\n";
  return healthy ? 0 : 1;
}

void PrintJobs(std::ostream& out, const v1::JobList& jobs) {
  Table t({"ID", "Kind", "State", "Benchmark", "Model", "Dataset", "Attempts", "Updated", "Error"});
  for (const auto& j : jobs.items()) {
    auto id = [](int64_t v) { return v ? std::to_string(v) : std::string(); };
    t.AddRow({std::to_string(j.id()), j.kind(), StateName(j.state()), id(j.benchmark()),
              id(j.model()), id(j.dataset()), std::to_string(j.attempts()), j.updated_at(),
              j.error()});
  }
  t.Print(out);
}

int JobList(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::ListJobsRequest req;
  req.set_all(ctx.args.Has("all"));
  if (ctx.args.Has("limit")) {
    auto limit = ctx.args.GetId("limit");
    if (!limit.ok()) return UsageError(ctx.out, limit.status());
    req.set_limit(static_cast<int32_t>(*limit));
  }
  v1::JobList resp;
  grpc::Status st = client.stub().ListJobs(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ToJson(resp) << "\n";
  } else {
    PrintJobs(ctx.out.out(), resp);
  }
  return 0;
}

absl::StatusOr<int64_t> JobIdArg(const Args& args) {
  if (args.positional().empty()) return absl::InvalidArgumentError("missing <job id>");
  Args tmp;
  tmp.values_["job id"] = args.positional()[0];
  return tmp.GetId("job id");
}

int JobView(CommandContext& ctx) {
  auto id = JobIdArg(ctx.args);
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::GetJobRequest req;
  req.set_id(*id);
  v1::Job job;
  grpc::Status st = client.stub().GetJob(client.Context().get(), req, &job);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ToJson(job) << "\n";
    return 0;
  }
  nlohmann::json view = {{"id", job.id()},
                         {"kind", job.kind()},
                         {"state", StateName(job.state())},
                         {"attempts", job.attempts()},
                         {"created_at", job.created_at()},
                         {"updated_at", job.updated_at()}};
  if (job.benchmark()) view["benchmark"] = job.benchmark();
  if (job.model()) view["model"] = job.model();
  if (job.dataset()) view["dataset"] = job.dataset();
  if (!job.error().empty()) view["error"] = job.error();
  if (!job.log_path().empty()) view["log"] = job.log_path();
  view["params"] = ParseJsonOrString(job.params_json());
  view["result"] = ParseJsonOrString(job.result_json());
  PrintKeyValues(ctx.out.out(), view);
  return 0;
}

int Watch(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::WatchEventsRequest req;
  req.set_follow(ctx.args.Has("follow"));
  if (ctx.args.Has("after")) {
    auto after = ctx.args.GetInt("after");
    if (!after.ok()) return UsageError(ctx.out, after.status());
    req.set_after_id(*after);
  }
  if (ctx.args.Has("limit")) {
    auto limit = ctx.args.GetId("limit");
    if (!limit.ok()) return UsageError(ctx.out, limit.status());
    req.set_limit(static_cast<int32_t>(*limit));
  }
  auto context = client.Context(/*streaming=*/true);
  auto reader = client.stub().WatchEvents(context.get(), req);
  v1::Event e;
  while (reader->Read(&e)) {
    if (ctx.global.json) {
      nlohmann::json line = {{"id", e.id()},
                             {"time", e.time()},
                             {"kind", e.kind()},
                             {"message", e.message()},
                             {"fields", ParseJsonOrString(e.json())}};
      ctx.out.out() << line.dump() << std::endl;
    } else {
      ctx.out.out() << e.time() << "  " << e.kind() << "  " << e.message() << std::endl;
    }
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return client.Fail(ctx.out, st);
  return 0;
}

}  // namespace

std::vector<Command> DaemonCommands() {
  return {
      {{"status"},
       "Show the daemon's version, state, server and counts",
       {{"check", {}, false, false, "also verify the state database (PRAGMA integrity_check)"}},
       Status},
      {{"watch"},
       "Show daemon events (new models, jobs, results); --follow keeps streaming",
       {{"follow", {"f"}, false, false, "keep streaming new events"},
        {"after", {}, true, false, "only events with an id above this one"},
        {"limit", {"n"}, true, false, "how many recent events to show (default 50)"}},
       Watch},
      {{"job", "ls"},
       "List jobs (unfinished ones unless --all)",
       {{"all", {"a"}, false, false, "include finished jobs"},
        {"limit", {"n"}, true, false, "at most this many jobs (default 100)"}},
       JobList},
      {{"job", "view"}, "Show one job", {}, JobView, 1, "<job id>"},
  };
}

}  // namespace medperf::ctl
