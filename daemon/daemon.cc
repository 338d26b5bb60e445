#include "daemon/daemon.h"

#include "runners/task_cgroup.h"
#include "runners/task_identity.h"

#include <sys/stat.h>

#include <set>

#include <grpcpp/server_builder.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/files.h"
#include "core/rest_client.h"
#include "core/status_macros.h"
#include "daemon/execution.h"
#include "daemon/flows/benchmark_run.h"
#include "daemon/log.h"
#include "daemon/recovery.h"
#include "daemon/retention.h"

namespace medperf::daemon {
namespace fs = std::filesystem;

namespace {

// A run job interrupted this many times (each a daemon crash or kill while it ran) is
// failed instead of requeued: work that takes the daemon down must not loop forever.

absl::Status PrepareStateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create state directory ", dir.string(), ": ", ec.message()));
  }
  // Prepared data and results are sensitive: keep the state dir private to the daemon.
  chmod(dir.c_str(), 0750);
  for (const char* sub : {"datasets", "results", "containers", "cache", "logs", "tmp", "empty"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", (dir / sub).string(), ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

// SQLite treats a missing or zero-length file as an empty database and would silently
// create a fresh schema over it, forgetting every prepared dataset and unsubmitted result
// whose files are still on disk (a truncated copy, a restore that went wrong, a full disk
// at the wrong moment). Only a state directory without such files may start from nothing.
absl::Status RefuseLostDatabase(const fs::path& dir) {
  const fs::path db = dir / "state.db";
  std::error_code ec;
  const bool exists = fs::exists(db, ec);
  if (exists && fs::file_size(db, ec) > 0) return absl::OkStatus();
  if (exists && ec) return absl::OkStatus();  // unreadable: SQLite's own error is clearer
  std::vector<std::string> kept;
  for (const char* sub : {"datasets", "results"}) {
    size_t n = 0;
    for (auto it = fs::directory_iterator(dir / sub, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      ++n;
    }
    if (n > 0) kept.push_back(absl::StrCat(n, " entr", n == 1 ? "y" : "ies", " in ", sub, "/"));
  }
  if (kept.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the state database ", db.string(), exists ? " is empty (0 bytes)" : " is missing",
      " but the state directory still holds ", absl::StrJoin(kept, " and "),
      ": refusing to start with a fresh database that would forget those datasets and "
      "results. Restore state.db from a backup (docs/operations.md, \"Backup and restore\"), "
      "or start afresh keeping the prepared data (docs/operations.md, \"A damaged state "
      "database\")"));
}

// A state.db SQLite cannot read (not a database at all, or corrupt pages) is the only
// copy of what the site knows about its datasets, results and jobs: never write over
// it. One message names the file, what is wrong and where the recovery steps are.
absl::StatusOr<std::unique_ptr<storage::Store>> OpenStateDatabase(const fs::path& db) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(db);
  if (store.ok() || !absl::IsDataLoss(store.status())) return store;
  const std::string detail(store.status().message());
  const bool not_sqlite = absl::StrContains(detail, "not a database");
  return absl::DataLossError(absl::StrCat(
      "the state database ", db.string(), " is damaged: ",
      not_sqlite ? "it is not a SQLite database"
                 : absl::StrCat("SQLite reports it corrupt (", detail, ")"),
      ". medperfd does not start on it, so that nothing is written over what it still "
      "holds. Keep a copy of the file, then restore a backup, salvage it, or start afresh "
      "keeping the prepared data, as docs/operations.md, \"A damaged state database\", "
      "explains"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(DaemonConfig config) {
  std::unique_ptr<Daemon> d(new Daemon(std::move(config)));
  // A token readable by others is a leaked credential: refuse to run with it rather
  // than fail on the first request hours later.
  if (!d->config_.server.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(d->config_.server.token_file);
    if (!token.ok()) return token.status();
  }
  RETURN_IF_ERROR(PrepareStateDir(d->config_.state_dir));
  ASSIGN_OR_RETURN(d->lock_, StateDirLock::Acquire(d->config_.state_dir));
  // Leftovers of a crashed run: temp files are never resumed.
  std::error_code ec;
  fs::remove_all(d->config_.state_dir / "tmp", ec);
  fs::create_directories(d->config_.state_dir / "tmp", ec);

  RETURN_IF_ERROR(RefuseLostDatabase(d->config_.state_dir));
  ASSIGN_OR_RETURN(d->store_, OpenStateDatabase(d->config_.state_dir / "state.db"));
  ASSIGN_OR_RETURN(int requeued, d->store_->RequeueInterruptedJobs(kMaxRunAttempts));
  d->events_ = std::make_unique<EventBus>(*d->store_);
  // The hook subscribes first so it also hears about recovered jobs and the start.
  d->notifier_ = std::make_unique<Notifier>(d->config_.notify);
  d->notifier_->Attach(*d->events_);
  if (requeued > 0) {
    d->events_
        ->Publish("daemon.recovered",
                  absl::StrCat(requeued, " interrupted job(s) returned to the queue"),
                  {{"jobs", requeued}})
        .IgnoreError();
  }

  // A preparation the stop interrupted is not resumed: say so locally now, and tell the
  // server (its report still says `started`) from the housekeeper, which may wait for it.
  ASSIGN_OR_RETURN(std::vector<DatasetId> interrupted, d->store_->FailInterruptedPreparations());
  if (!interrupted.empty()) {
    RETURN_IF_ERROR(AddPendingPreparationReports(*d->store_, interrupted));
    for (DatasetId id : interrupted) {
      d->events_
          ->Publish("dataset.interrupted",
                    absl::StrCat("the preparation of dataset ", id.value(),
                                 " was interrupted when medperfd stopped; run `medperfctl "
                                 "dataset prepare --data_uid ",
                                 id.value(), "` again"),
                    {{"dataset", id.value()}})
          .IgnoreError();
    }
  }

  d->site_ = std::make_unique<Site>(d->config_, *d->store_, *d->events_);
  Site* site = d->site_.get();
  // Downloads and extractions the stop cut short are never resumed: nothing reads them,
  // and a later fetch downloads and checks the file again.
  site->assets().DiscardUnfinished();
  // A task user that cannot be resolved (unknown name, root) is a config error: refuse
  // to start rather than fail every task later.
  RETURN_IF_ERROR(site->task_identity().status());
  // Tasks of a daemon that was killed may outlive it in their cgroups: end them.
  if (int swept = SweepStaleTaskCgroups(); swept > 0) {
    LogInfo(absl::StrCat("removed ", swept, " task group(s) left by a previous daemon"));
  }
  LogInfo("tasks run as " + DescribeTaskIdentity(*site->task_identity()),
          {{"limits", DetectLimitEnforcement().Describe()}});
  d->jobs_ = std::make_unique<JobManager>(
      *d->store_, *d->events_, d->config_.state_dir / "logs", d->config_.policy.max_concurrent_jobs,
      [site](JobContext& job) { return ExecuteRunJob(*site, job); },
      [site] { return site->reserve().Release(); });
  d->poller_ = std::make_unique<Poller>(*d->site_, *d->jobs_);
  d->service_ = std::make_unique<ControlService>(
      ServiceContext{d->config_, *d->store_, *d->events_, std::chrono::steady_clock::now(),
                     *d->site_, *d->jobs_, d->poller_.get()});
  grpc::ServerBuilder builder;
  builder.RegisterService(d->service_.get());
  d->server_ = builder.BuildAndStart();
  if (!d->server_) return absl::InternalError("cannot start the gRPC server");

  ASSIGN_OR_RETURN(d->socket_,
                   ControlSocket::Listen(d->config_.socket_path, d->config_.socket_group));
  d->denying_server_ = BuildDenyingServer(
      absl::StrCat("medperfd refuses this client: only root, uid ", d->socket_->owner().uid,
                   " and members of group ", d->socket_->owner().gid,
                   " may use the control socket ", d->config_.socket_path.string()));
  d->socket_->Serve(d->server_.get(), d->denying_server_.get());
  d->jobs_->StartWorkers();
  // Benchmark runs the stop interrupted report what their resumed model runs did.
  if (auto queued = d->store_->ListJobs(false, 1000); queued.ok()) {
    for (const storage::JobRecord& j : *queued) {
      if (j.kind != "benchmark-run" || j.state != storage::JobState::kQueued) continue;
      JobManager* jobs = d->jobs_.get();
      d->jobs_->Resume(j, [site, jobs](JobContext& job) -> absl::StatusOr<nlohmann::json> {
        flows::FlowContext fc{*site, job, flows::SiteServer(*site, ""), jobs};
        ASSIGN_OR_RETURN(flows::BenchmarkRunResult result, flows::ResumeBenchmarkRun(fc));
        return flows::SummaryJson(result);
      });
    }
  }
  d->poller_->Start();
  d->housekeeper_ = std::thread([raw = d.get()] { raw->Housekeep(); });
  d->events_
      ->Publish("daemon.started", absl::StrCat("medperfd ", MEDPERF_VERSION, " started"),
                {{"state_dir", d->config_.state_dir.string()},
                 {"socket", d->config_.socket_path.string()}})
      .IgnoreError();
  return d;
}

void Daemon::Shutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  if (socket_) socket_->Stop();
  if (events_) events_->Publish("daemon.stopping", "medperfd is stopping").IgnoreError();
  if (housekeeper_.joinable()) {
    stop_housekeeping_.Notify();
    housekeeper_.join();
  }
  // No new work from the server while the workers wind down.
  if (poller_) poller_->Shutdown();
  // Jobs stop first (a running run job is requeued for the next start), so the streams
  // following them end before the server waits for in-flight calls.
  if (jobs_) jobs_->Shutdown();
  if (events_) events_->Shutdown();
  // The hook gets a short budget for the last events (daemon.stopping, interrupted jobs).
  if (notifier_)
    notifier_->Shutdown(std::min<std::chrono::milliseconds>(grace, std::chrono::seconds(3)));
  auto deadline = std::chrono::system_clock::now() + grace;
  if (server_) server_->Shutdown(deadline);
  if (denying_server_) denying_server_->Shutdown(deadline);
  server_.reset();
  denying_server_.reset();
  service_.reset();
  poller_.reset();
  jobs_.reset();
  site_.reset();
  notifier_.reset();
  events_.reset();
  store_.reset();
  lock_.reset();
}

void Daemon::Housekeep() {
  // Retention often enough that a day's events age out within hours of their limit,
  // rarely enough to cost nothing; a report the server did not take is retried sooner.
  constexpr absl::Duration kRetentionEvery = absl::Hours(6);
  constexpr absl::Duration kReportRetry = absl::Minutes(1);
  absl::Time last_retention = absl::InfinitePast();
  bool reports_pending = false;
  do {
    // Both before anything else: they settle what a previous daemon left half-told.
    reports_pending = SendPendingPreparationReports(*site_);
    reports_pending |= ReconcileSubmissionsInFlight(*site_);
    reports_pending |= SettleExecutionReports(*site_);
    if (absl::Now() - last_retention < kRetentionEvery) continue;
    last_retention = absl::Now();
    absl::StatusOr<RetentionReport> pruned = ApplyRetention(*site_, absl::Now());
    if (!pruned.ok()) {
      LogWarning("retention could not prune everything",
                 {{"error", std::string(pruned.status().message())}});
    } else if (pruned->events + pruned->jobs + pruned->tests > 0) {
      events_
          ->Publish("storage.pruned", pruned->Summary(),
                    {{"events", pruned->events},
                     {"jobs", pruned->jobs},
                     {"job_logs", pruned->job_logs},
                     {"tests", pruned->tests},
                     {"bytes_freed", pruned->bytes_freed}})
          .IgnoreError();
    }
  } while (!stop_housekeeping_.WaitForNotificationWithTimeout(reports_pending ? kReportRetry
                                                                              : kRetentionEvery));
}

std::string Daemon::StatusLine() const {
  return absl::StrCat("serving ", config_.socket_path.string(), ", state in ",
                      config_.state_dir.string());
}

Daemon::~Daemon() { Shutdown(); }

}  // namespace medperf::daemon
