#include "daemon/jobs.h"

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/errors.h"
#include "daemon/log.h"

namespace medperf::daemon {

using storage::JobRecord;
using storage::JobState;

bool IsTransient(const absl::Status& status) { return IsRetryable(status); }

storage::JobRecord InteractiveJob(std::string kind, const nlohmann::json& params) {
  storage::JobRecord r;
  r.kind = std::move(kind);
  r.params_json = params.dump();
  return r;
}

nlohmann::json JobContext::params() const {
  nlohmann::json p = nlohmann::json::parse(record_.params_json, nullptr, false);
  return p.is_object() ? p : nlohmann::json::object();
}

namespace {

// Written out member by member: -Wextra wants every member of an aggregate initializer.
ProgressUpdate Update(std::string step, std::string message, JobState state, std::string log_path,
                      bool final = false) {
  ProgressUpdate u;
  u.step = std::move(step);
  u.message = std::move(message);
  u.state = state;
  u.log_path = std::move(log_path);
  u.final = final;
  return u;
}

}  // namespace

bool OutputLimiter::Admit(absl::Time now, int64_t* skipped) {
  *skipped = 0;
  if (now - window_start_ >= limits_.window) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= limits_.lines_per_window || total_ >= limits_.max_lines) {
    ++skipped_;
    return false;
  }
  ++in_window_;
  ++total_;
  *skipped = TakeSkipped();
  return true;
}

int64_t OutputLimiter::TakeSkipped() { return std::exchange(skipped_, 0); }

std::string OutputLimiter::Cut(std::string_view line) const {
  if (line.size() <= limits_.max_line_bytes) return std::string(line);
  return std::string(line.substr(0, limits_.max_line_bytes)) + "…";
}

std::string SkippedLinesNote(int64_t skipped, const std::string& log_path) {
  return absl::StrCat("… ", skipped, skipped == 1 ? " line" : " lines", " skipped, see the log ",
                      log_path);
}

ProgressUpdate JobContext::Stamped(const std::string& step, ProgressUpdate update) {
  absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  if (step != step_) {
    step_ = step;
    step_started_ = now;
  }
  update.step = step;
  update.state = record_.state;
  update.step_started = step_started_;
  update.at = now;
  return update;
}

void JobContext::Progress(const std::string& step, const std::string& message,
                          const std::string& log_path) {
  {
    std::ofstream log(log_path_, std::ios::app);
    log << storage::NowTimestamp() << " [" << step << "] " << message << "\n";
  }
  manager_.Append(record_.id, Stamped(step, Update(step, message, record_.state, log_path)));
}

void JobContext::Count(const std::string& step, const std::string& message, int64_t done,
                       int64_t total, const std::string& unit) {
  ProgressUpdate u = Update(step, message, record_.state, "");
  u.done = done;
  u.total = total;
  u.unit = unit;
  manager_.Append(record_.id, Stamped(step, std::move(u)));
}

std::function<void(uint64_t, uint64_t)> JobContext::ByteCounter(const std::string& step,
                                                                const std::string& message) {
  return [this, step, message](uint64_t done, uint64_t total) {
    Count(step, message, static_cast<int64_t>(done), static_cast<int64_t>(total), "bytes");
  };
}

void JobContext::Output(const std::string& task, std::string_view line,
                        const std::string& log_path) {
  absl::Time now = absl::Now();
  int64_t skipped = 0;
  std::string text;
  {
    absl::MutexLock lock(&mu_);
    if (!output_.Admit(now, &skipped)) return;
    text = output_.Cut(line);
  }
  auto emit = [&](std::string message) {
    ProgressUpdate u = Update(task, std::move(message), record_.state, log_path);
    u.output = true;
    u.at = now;
    manager_.Append(record_.id, std::move(u));
  };
  if (skipped > 0) emit(SkippedLinesNote(skipped, log_path));
  emit(std::move(text));
}

void JobContext::EndOutput(const std::string& task, const std::string& log_path) {
  int64_t skipped;
  {
    absl::MutexLock lock(&mu_);
    skipped = output_.TakeSkipped();
  }
  if (skipped == 0) return;
  ProgressUpdate u = Update(task, SkippedLinesNote(skipped, log_path), record_.state, log_path);
  u.output = true;
  u.at = absl::Now();
  manager_.Append(record_.id, std::move(u));
}

void JobContext::SetState(JobState state) {
  record_.state = state;
  if (absl::Status st = manager_.store_.UpdateJob(record_); !st.ok()) {
    LogWarning("cannot persist job state",
               {{"job", record_.id.str()}, {"error", std::string(st.message())}});
  }
}

void JobContext::SaveParam(const std::string& key, const nlohmann::json& value) {
  nlohmann::json p = params();
  p[key] = value;
  record_.params_json = p.dump();
  manager_.store_.UpdateJob(record_).IgnoreError();
}

JobManager::JobManager(storage::Store& store, EventBus& events, std::filesystem::path log_dir,
                       int workers, JobBody run_body, std::function<uint64_t()> make_room)
    : store_(store),
      events_(events),
      log_dir_(std::move(log_dir)),
      workers_(workers),
      run_body_(std::move(run_body)),
      make_room_(std::move(make_room)) {
  std::error_code ec;
  std::filesystem::create_directories(log_dir_, ec);
}

JobManager::~JobManager() { Shutdown(); }

void JobManager::StartWorkers() {
  absl::MutexLock lock(&threads_mu_);
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

std::shared_ptr<std::atomic<bool>> JobManager::Register(JobId id) {
  absl::MutexLock lock(&mu_);
  Live& live = live_[id.value()];
  live.finished = false;
  live.updates.clear();
  live.latest.reset();
  live.cancel->store(false);
  return live.cancel;
}

void JobManager::Append(JobId id, ProgressUpdate update) {
  absl::MutexLock lock(&mu_);
  Live& live = live_[id.value()];
  if (update.final) live.finished = true;
  if (!update.output && !update.final) live.latest = update;
  // A long hash or download counts thousands of times: only its latest count is kept
  // (a watcher already past it sees it through Latest).
  bool is_count = update.total > 0 || update.done > 0;
  if (is_count && !live.updates.empty()) {
    ProgressUpdate& last = live.updates.back();
    if ((last.total > 0 || last.done > 0) && !last.output && last.step == update.step) {
      last = std::move(update);
      return;
    }
  }
  live.updates.push_back(std::move(update));
}

std::optional<ProgressUpdate> JobManager::Latest(JobId id) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(id.value());
  if (it == live_.end()) return std::nullopt;
  return it->second.latest;
}

absl::StatusOr<JobId> JobManager::Start(JobRecord record, JobBody body) {
  record.state = JobState::kRunning;
  record.attempts = 1;
  absl::StatusOr<JobId> id = store_.AddJob(record);
  if (!id.ok()) return id.status();
  record.id = *id;
  record.log_path = (log_dir_ / absl::StrCat("job-", id->value(), ".log")).string();
  store_.UpdateJob(record).IgnoreError();
  Register(*id);
  absl::MutexLock lock(&threads_mu_);
  threads_.emplace_back(
      [this, record, body = std::move(body)]() mutable { Execute(std::move(record), body); });
  return *id;
}

void JobManager::Resume(JobRecord record, JobBody body) {
  record.state = JobState::kRunning;
  ++record.attempts;
  store_.UpdateJob(record).IgnoreError();
  Register(record.id);
  absl::MutexLock lock(&threads_mu_);
  threads_.emplace_back(
      [this, record, body = std::move(body)]() mutable { Execute(std::move(record), body); });
}

absl::StatusOr<JobId> JobManager::EnqueueRun(BenchmarkId benchmark, ModelId model,
                                             DatasetId dataset, const nlohmann::json& params,
                                             bool* created) {
  JobRecord record;
  record.kind = "run";
  record.benchmark = benchmark;
  record.model = model;
  record.dataset = dataset;
  record.params_json = params.dump();
  absl::StatusOr<JobId> id = store_.AddJob(record);
  if (created) *created = id.ok();
  if (absl::IsAlreadyExists(id.status())) {
    // The unique index found an unfinished job for the triple: attach to it.
    auto active = store_.ListJobs(false, 1000);
    if (!active.ok()) return active.status();
    for (const JobRecord& j : *active) {
      if (j.kind == "run" && j.benchmark == benchmark && j.model == model && j.dataset == dataset) {
        return j.id;
      }
    }
    return id.status();
  }
  if (!id.ok()) return id;
  Register(*id);
  {
    absl::MutexLock lock(&mu_);
    ++wake_;
  }
  events_
      .Publish("job.queued",
               absl::StrCat("job ", id->value(), " queued: model ", model.value(), " on dataset ",
                            dataset.value(), " for benchmark ", benchmark.value()),
               {{"job", id->value()},
                {"benchmark", benchmark.value()},
                {"model", model.value()},
                {"dataset", dataset.value()}})
      .IgnoreError();
  return id;
}

void JobManager::Execute(JobRecord record, const JobBody& body) {
  std::shared_ptr<std::atomic<bool>> cancel;
  {
    absl::MutexLock lock(&mu_);
    cancel = live_[record.id.value()].cancel;
  }
  if (record.log_path.empty()) {
    record.log_path = (log_dir_ / absl::StrCat("job-", record.id.value(), ".log")).string();
    store_.UpdateJob(record).IgnoreError();
  }
  JobContext ctx(*this, record, cancel, record.log_path);
  nlohmann::json ids = {{"job", record.id.value()}, {"kind", record.kind}};
  if (record.benchmark) ids["benchmark"] = record.benchmark->value();
  if (record.model) ids["model"] = record.model->value();
  if (record.dataset) ids["dataset"] = record.dataset->value();
  events_
      .Publish("job.started",
               absl::StrCat("job ", record.id.value(), " (", record.kind, ") started"), ids)
      .IgnoreError();

  absl::StatusOr<nlohmann::json> result;
  {
    absl::ReaderMutexLock running(&bodies_mu_);
    try {
      result = body(ctx);
    } catch (const std::exception& e) {
      result = absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
    }
  }

  JobRecord done = ctx.record_;
  // Re-read params saved during the run; keep the log path.
  if (auto latest = store_.GetJob(done.id); latest.ok()) done.params_json = latest->params_json;
  std::string kind = "job.finished";
  std::string message;
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
  }
  if (stopping && cancel->load()) {
    // Interrupted by a daemon shutdown, not by a user: a run resumes at the next start.
    // A benchmark run that saved its plan is finished from it at the next start, as
    // after a crash (Store::RequeueInterruptedJobs).
    nlohmann::json params = nlohmann::json::parse(done.params_json, nullptr, false);
    const bool resumes = done.kind == "run" || (done.kind == "benchmark-run" &&
                                                params.is_object() && params.contains("plan"));
    done.state = resumes ? JobState::kQueued : JobState::kFailed;
    done.error = "interrupted: medperfd stopped while this job ran";
    kind = "job.interrupted";
    message = absl::StrCat("job ", done.id.value(), " (", done.kind, ") interrupted by shutdown",
                           resumes ? "; it resumes when medperfd starts again" : "");
  } else if (cancel->load()) {
    done.state = JobState::kCancelled;
    done.error = "cancelled";
    kind = "job.cancelled";
    message = absl::StrCat("job ", done.id.value(), " (", done.kind, ") was cancelled");
  } else if (!result.ok() && done.kind == "run" && IsTransient(result.status()) &&
             done.attempts < kMaxRunAttempts) {
    // The server or the network failed, not the work: queue it again and let the queue
    // rest a while, so an outage costs a few attempts instead of failing every job.
    absl::Duration wait = std::min(absl::Seconds(int64_t{1} << done.attempts), absl::Seconds(60));
    done.state = JobState::kQueued;
    done.error = absl::StrCat("will retry: ", result.status().message());
    kind = "job.retrying";
    message =
        absl::StrCat("job ", done.id.value(), " (", done.kind, ") hit a server error, retrying in ",
                     absl::FormatDuration(wait), ": ", result.status().message());
    ids["error"] = std::string(result.status().message());
    absl::MutexLock lock(&mu_);
    retry_not_before_ = std::max(retry_not_before_, absl::Now() + wait);
  } else if (result.ok()) {
    done.state = JobState::kDone;
    done.error.clear();
    done.result_json = result->dump();
    message = absl::StrCat("job ", done.id.value(), " (", done.kind, ") finished");
  } else {
    done.state = JobState::kFailed;
    // A classified failure is recorded as the one sentence medperfctl shows; its raw
    // detail (request line, server answer) stays in result_json for --verbose, in the
    // event and in the job's log.
    done.error = DescribeStatus(result.status());
    // A failure is never recorded without a reason.
    if (done.error.empty()) done.error = result.status().ToString();
    kind = "job.failed";
    message = absl::StrCat("job ", done.id.value(), " (", done.kind, ") failed: ", done.error);
    ids["error"] = done.error;
    if (std::optional<ErrorInfo> info = GetErrorInfo(result.status())) {
      std::string raw = RawDetail(result.status()).value_or(std::string(result.status().message()));
      done.result_json = nlohmann::json{
          {"error_class", ErrorClassName(info->error_class)},
          {"error_detail",
           raw}}.dump();
      ids["error_class"] = std::string(ErrorClassName(info->error_class));
      ids["error_detail"] = raw;
      std::ofstream log(done.log_path, std::ios::app);
      log << storage::NowTimestamp() << " [error] " << raw << "\n";
    }
  }
  ids["log"] = done.log_path;
  absl::Status recorded = store_.UpdateJob(done);
  if (!recorded.ok() && make_room_ && make_room_() > 0) recorded = store_.UpdateJob(done);
  if (absl::Status st = recorded; !st.ok()) {
    LogError("cannot record the end of a job",
             {{"job", done.id.str()}, {"error", std::string(st.message())}});
  }
  {
    std::ofstream log(done.log_path, std::ios::app);
    log << storage::NowTimestamp() << " [end] " << message << "\n";
  }
  events_.Publish(kind, message, ids).IgnoreError();
  // A job queued again is not over: whoever follows it keeps following.
  bool over = done.state != JobState::kQueued;
  Append(done.id, Update(over ? "end" : "retry", message, done.state, done.log_path, over));
}

void JobManager::WorkerLoop() {
  int64_t seen = -1;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    {
      absl::MutexLock lock(&mu_);
      auto rested = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || absl::Now() >= retry_not_before_;
      };
      mu_.AwaitWithDeadline(absl::Condition(&rested), retry_not_before_);
      if (stopping_) return;
    }
    absl::StatusOr<std::optional<JobRecord>> job = store_.ClaimNextQueuedJob("run");
    if (job.ok() && job->has_value()) {
      JobRecord record = **job;
      {
        absl::MutexLock lock(&mu_);
        Live& live = live_[record.id.value()];
        live.finished = false;
        if (!live.cancel) live.cancel = std::make_shared<std::atomic<bool>>(false);
      }
      Execute(std::move(record), run_body_);
      continue;
    }
    if (!job.ok()) {
      LogWarning("cannot read the job queue", {{"error", std::string(job.status().message())}});
    }
    absl::MutexLock lock(&mu_);
    auto woken = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || wake_ != seen; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Seconds(2));
    seen = wake_;
  }
}

absl::StatusOr<JobRecord> JobManager::Poll(JobId id, size_t* cursor,
                                           std::vector<ProgressUpdate>* out, bool* finished,
                                           absl::Duration timeout) {
  *finished = false;
  bool known = false;
  {
    absl::MutexLock lock(&mu_);
    auto has_news = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = live_.find(id.value());
      return stopping_ || it == live_.end() || it->second.updates.size() > *cursor ||
             it->second.finished;
    };
    mu_.AwaitWithTimeout(absl::Condition(&has_news), timeout);
    auto it = live_.find(id.value());
    if (it != live_.end()) {
      known = true;
      const Live& live = it->second;
      for (size_t i = *cursor; i < live.updates.size(); ++i) out->push_back(live.updates[i]);
      *cursor = live.updates.size();
      *finished = live.finished;
    }
  }
  absl::StatusOr<JobRecord> record = store_.GetJob(id);
  if (!record.ok()) return record.status();
  // A job from before a restart has no live progress: its stored state is the truth.
  if (!known && storage::IsFinished(record->state)) *finished = true;
  return record;
}

absl::StatusOr<JobRecord> JobManager::Cancel(JobId id) {
  absl::StatusOr<JobRecord> record = store_.GetJob(id);
  if (!record.ok()) return record.status();
  if (storage::IsFinished(record->state)) {
    return absl::FailedPreconditionError(absl::StrCat("job ", id.value(), " has already ended (",
                                                      storage::JobStateName(record->state), ")"));
  }
  if (record->state == JobState::kQueued) {
    record->state = JobState::kCancelled;
    record->error = "cancelled before it started";
    if (absl::Status st = store_.UpdateJob(*record); !st.ok()) return st;
    events_
        .Publish("job.cancelled", absl::StrCat("job ", id.value(), " was cancelled"),
                 {{"job", id.value()}})
        .IgnoreError();
    Append(id, Update("end", "cancelled", JobState::kCancelled, record->log_path, true));
    return record;
  }
  absl::MutexLock lock(&mu_);
  auto it = live_.find(id.value());
  if (it != live_.end()) it->second.cancel->store(true);
  return record;
}

absl::StatusOr<JobRecord> JobManager::Retry(JobId id) {
  absl::StatusOr<JobRecord> record = store_.GetJob(id);
  if (!record.ok()) return record.status();
  if (record->kind != "run") {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id.value(), " (", record->kind, ") is not a model run; run its command again"));
  }
  if (record->state != JobState::kFailed && record->state != JobState::kCancelled) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id.value(), " is ", storage::JobStateName(record->state),
                     "; only failed or cancelled jobs can be retried"));
  }
  // A new job keeps the history of the old one intact.
  absl::StatusOr<JobId> fresh =
      EnqueueRun(*record->benchmark, *record->model, *record->dataset,
                 nlohmann::json::parse(record->params_json, nullptr, false));
  if (!fresh.ok()) return fresh.status();
  return store_.GetJob(*fresh);
}

void JobManager::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, live] : live_) live.cancel->store(true);
  }
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&threads_mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
}

absl::Status JobManager::RunWhileIdle(const std::function<absl::Status()>& fn) {
  if (bodies_mu_.TryLock()) {
    absl::Status st = fn();
    bodies_mu_.Unlock();
    return st;
  }
  // Name what runs: the store knows every unfinished job, queued ones included (those
  // wait for a worker and use nothing yet).
  std::vector<std::string> running;
  if (auto jobs = store_.ListJobs(false, 1000); jobs.ok()) {
    for (const JobRecord& j : *jobs) {
      if (j.state == JobState::kQueued) continue;
      running.push_back(absl::StrCat(j.id.value(), " (", j.kind, ")"));
    }
  }
  std::string cancel = running.empty()
                           ? "medperfctl job cancel <id>"
                           : absl::StrCat("medperfctl job cancel ",
                                          running.front().substr(0, running.front().find(' ')));
  return absl::FailedPreconditionError(absl::StrCat(
      running.empty() ? "a job is starting"
                      : absl::StrCat("job ", absl::StrJoin(running, ", job "), " is running"),
      ": wait until it ends (medperfctl job ls) or cancel it (", cancel, "), then try again"));
}

}  // namespace medperf::daemon
