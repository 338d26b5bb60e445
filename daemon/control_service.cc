#include "daemon/control_service.h"

#include "runners/task_cgroup.h"
#include "runners/task_identity.h"

#include "absl/strings/str_cat.h"
#include "core/errors.h"
#include "daemon/log.h"

namespace medperf::daemon {

namespace v1 = medperf::v1;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::string raw = RawDetail(status).value_or(std::string(status.message()));
  std::optional<ErrorInfo> info = GetErrorInfo(status);
  if (!info) return grpc::Status(code, raw);
  // The ctl shows one sentence made from `info`; the raw detail goes with the status (for
  // --verbose) and always to this log.
  LogWarning(absl::StrCat("request failed (", ErrorClassName(info->error_class), "): ", raw),
             {{"error_class", ErrorClassName(info->error_class)}});
  v1::ErrorInfo out;
  out.set_error_class(static_cast<v1::ErrorClass>(static_cast<int>(info->error_class)));
  out.set_server_url(info->server_url);
  out.set_object(info->object);
  out.set_object_kind(info->object_kind);
  out.set_action(info->action);
  out.set_reason(info->reason);
  out.set_token_file(info->token_file);
  out.set_log_path(info->log_path);
  return grpc::Status(code, raw, out.SerializeAsString());
}

v1::Job JobToProto(const storage::JobRecord& job) {
  v1::Job out;
  out.set_id(job.id.value());
  out.set_kind(job.kind);
  out.set_state(static_cast<v1::JobState>(static_cast<int>(job.state) + 1));
  out.set_attempts(job.attempts);
  out.set_created_at(job.created_at);
  out.set_updated_at(job.updated_at);
  out.set_error(job.error);
  out.set_log_path(job.log_path);
  out.set_params_json(job.params_json);
  out.set_result_json(job.result_json);
  if (job.benchmark) out.set_benchmark(job.benchmark->value());
  if (job.model) out.set_model(job.model->value());
  if (job.dataset) out.set_dataset(job.dataset->value());
  return out;
}

grpc::Status ControlService::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest* req,
                                       v1::StatusResponse* resp) {
  resp->set_version(MEDPERF_VERSION);
  resp->set_uptime_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now() - ctx_.started)
                               .count());
  resp->set_state_dir(ctx_.config.state_dir.string());
  resp->set_socket_path(ctx_.config.socket_path.string());
  resp->set_server_url(ctx_.config.server.url);
  resp->set_runner(ctx_.config.runner);
  resp->set_runner_choice(ctx_.site.DefaultRunnerChoice());
  resp->set_gpus(ctx_.site.gpus().Describe());
  for (const std::string& kind : ctx_.config.policy.gpu_tasks) resp->add_gpu_tasks(kind);
  resp->set_pid(getpid());
  resp->set_limit_enforcement(DetectLimitEnforcement().Describe());
  const auto& identity = ctx_.site.task_identity();
  resp->set_task_user(identity.ok() ? DescribeTaskIdentity(*identity)
                                    : std::string(identity.status().message()));
  absl::StatusOr<int> version = ctx_.store.SchemaVersion();
  if (!version.ok()) return ToGrpc(version.status());
  resp->set_schema_version(*version);
  auto counts = ctx_.store.Counts();
  if (!counts.ok()) return ToGrpc(counts.status());
  for (const auto& [k, v] : *counts) (*resp->mutable_counts())[k] = v;
  if (auto last = ctx_.store.GetMeta("last_poll"); last.ok() && last->has_value()) {
    resp->set_last_poll(**last);
  }
  if (auto err = ctx_.store.GetMeta("last_poll_error"); err.ok() && err->has_value()) {
    resp->set_last_poll_error(**err);
  }
  if (req->check()) {
    auto integrity = ctx_.store.IntegrityCheck();
    if (!integrity.ok()) return ToGrpc(integrity.status());
    resp->set_integrity(*integrity);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::Sync(grpc::ServerContext*, const v1::SyncRequest*,
                                  v1::SyncResponse* resp) {
  if (!ctx_.poller) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the poller is not running");
  if (ctx_.config.server.url.empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "no MedPerf server configured: set server.url in medperfd.yaml");
  }
  PollOutcome outcome = ctx_.poller->SyncNow();
  if (!outcome.status.ok()) return ToGrpc(outcome.status);
  resp->set_new_jobs(outcome.new_jobs);
  resp->set_message(outcome.Summary());
  return grpc::Status::OK;
}

grpc::Status ControlService::WatchEvents(grpc::ServerContext* context,
                                         const v1::WatchEventsRequest* req,
                                         grpc::ServerWriter<v1::Event>* writer) {
  int64_t after = req->after_id();
  int limit = req->limit() > 0 ? req->limit() : 50;
  if (after == 0) {
    // Start from the latest `limit` events (not following) or from now (following).
    auto last = ctx_.store.LastEventId();
    if (!last.ok()) return ToGrpc(last.status());
    after = req->follow() ? *last : std::max<int64_t>(0, *last - limit);
  }
  while (true) {
    auto events = ctx_.store.ListEvents(after, 500);
    if (!events.ok()) return ToGrpc(events.status());
    for (const auto& e : *events) {
      v1::Event out;
      out.set_id(e.id);
      out.set_time(e.time);
      out.set_kind(e.kind);
      out.set_message(e.message);
      out.set_json(e.json);
      if (!writer->Write(out)) return grpc::Status::OK;  // the watcher went away
      after = e.id;
    }
    if (!events->empty()) continue;
    if (!req->follow()) return grpc::Status::OK;
    if (context->IsCancelled() || ctx_.events.shutting_down()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "medperfd is shutting down");
    }
    ctx_.events.WaitForNewerThan(after, absl::Milliseconds(500));
  }
}

grpc::Status ControlService::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* req,
                                      v1::JobList* resp) {
  auto jobs = ctx_.store.ListJobs(req->all(), req->limit());
  if (!jobs.ok()) return ToGrpc(jobs.status());
  for (const auto& j : *jobs) *resp->add_items() = JobToProto(j);
  return grpc::Status::OK;
}

grpc::Status ControlService::GetJob(grpc::ServerContext*, const v1::GetJobRequest* req,
                                    v1::Job* resp) {
  auto job = ctx_.store.GetJob(JobId(req->id()));
  if (!job.ok()) return ToGrpc(job.status());
  *resp = JobToProto(*job);
  return grpc::Status::OK;
}

}  // namespace medperf::daemon

namespace medperf::daemon {

std::string CallerToken(const grpc::ServerContext* context) {
  auto md = context->client_metadata();
  auto it = md.find("x-medperf-token");
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

absl::StatusOr<RestClient> ControlService::ServerFor(grpc::ServerContext* context) {
  return ctx_.site.Server(CallerToken(context));
}

namespace {

v1::JobProgress ProgressToProto(JobId id, const ProgressUpdate& u, absl::Time now) {
  v1::JobProgress p;
  p.set_job_id(id.value());
  p.set_step(u.step);
  p.set_message(u.message);
  p.set_state(static_cast<v1::JobState>(static_cast<int>(u.state) + 1));
  p.set_log_path(u.log_path);
  p.set_done(u.done);
  p.set_total(u.total);
  p.set_unit(u.unit);
  p.set_output(u.output);
  if (u.step_started != absl::InfinitePast()) {
    p.set_elapsed_ms(absl::ToInt64Milliseconds(now - u.step_started));
  }
  return p;
}

}  // namespace

grpc::Status ControlService::StreamJob(grpc::ServerContext* context, JobId id,
                                       grpc::ServerWriter<v1::JobProgress>* writer) {
  size_t cursor = 0;
  absl::Time last_write = absl::Now();
  while (true) {
    std::vector<ProgressUpdate> updates;
    bool finished = false;
    auto record = ctx_.jobs.Poll(id, &cursor, &updates, &finished, absl::Milliseconds(500));
    if (!record.ok()) return ToGrpc(record.status());
    for (const ProgressUpdate& u : updates) {
      if (u.final) continue;  // the final message below carries the outcome
      // A replayed update (job watch) shows the elapsed time it had when it was made.
      if (!writer->Write(ProgressToProto(id, u, u.at))) {
        return grpc::Status::OK;  // the caller left; the job goes on
      }
      last_write = absl::Now();
    }
    if (finished) {
      v1::JobProgress last;
      last.set_job_id(id.value());
      last.set_final(true);
      last.set_state(static_cast<v1::JobState>(static_cast<int>(record->state) + 1));
      last.set_log_path(record->log_path);
      *last.mutable_job() = JobToProto(*record);
      writer->Write(last);
      return grpc::Status::OK;
    }
    if (context->IsCancelled()) return grpc::Status::OK;
    if (ctx_.events.shutting_down()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("medperfd is shutting down; job ", id.value(),
                                       " will be resumed or must be run again"));
    }
    // A step working silently (a model running for hours) still shows its time passing.
    absl::Time now = absl::Now();
    if (now - last_write >= absl::Seconds(1)) {
      if (std::optional<ProgressUpdate> latest = ctx_.jobs.Latest(id)) {
        v1::JobProgress beat = ProgressToProto(id, *latest, now);
        beat.set_heartbeat(true);
        if (!writer->Write(beat)) return grpc::Status::OK;
      }
      last_write = now;
    }
  }
}

grpc::Status ControlService::StartAndStream(grpc::ServerContext* context, storage::JobRecord record,
                                            JobBody body,
                                            grpc::ServerWriter<v1::JobProgress>* writer) {
  absl::StatusOr<JobId> id = ctx_.jobs.Start(std::move(record), std::move(body));
  if (!id.ok()) return ToGrpc(id.status());
  return StreamJob(context, *id, writer);
}

grpc::Status ControlService::StartFlow(grpc::ServerContext* context, storage::JobRecord record,
                                       FlowBody flow, grpc::ServerWriter<v1::JobProgress>* writer) {
  Site& site = ctx_.site;
  JobManager& jobs = ctx_.jobs;
  flows::ServerConnector connect = flows::SiteServer(site, CallerToken(context));
  return StartAndStream(
      context, std::move(record),
      [&site, &jobs, connect, flow = std::move(flow)](JobContext& job) {
        flows::FlowContext fc{site, job, connect, &jobs};
        return flow(fc);
      },
      writer);
}

grpc::Status ControlService::WatchJob(grpc::ServerContext* context, const v1::GetJobRequest* req,
                                      grpc::ServerWriter<v1::JobProgress>* writer) {
  return StreamJob(context, JobId(req->id()), writer);
}

grpc::Status ControlService::CancelJob(grpc::ServerContext*, const v1::GetJobRequest* req,
                                       v1::Job* resp) {
  auto job = ctx_.jobs.Cancel(JobId(req->id()));
  if (!job.ok()) return ToGrpc(job.status());
  *resp = JobToProto(*job);
  return grpc::Status::OK;
}

grpc::Status ControlService::RetryJob(grpc::ServerContext*, const v1::GetJobRequest* req,
                                      v1::Job* resp) {
  auto job = ctx_.jobs.Retry(JobId(req->id()));
  if (!job.ok()) return ToGrpc(job.status());
  *resp = JobToProto(*job);
  return grpc::Status::OK;
}

}  // namespace medperf::daemon
