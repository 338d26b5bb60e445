// Jobs: every long piece of work runs inside the daemon as a job, so it survives the
// caller going away. Interactive jobs (prepare, submit, test ...) start at once on their
// own thread; `run` jobs (one model on one dataset for a benchmark) are persistent, go
// through a queue served by `max_concurrent_jobs` workers, and resume after a crash.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/events.h"
#include "storage/store.h"

namespace medperf::daemon {

struct ProgressUpdate {
  std::string step;
  std::string message;
  storage::JobState state = storage::JobState::kRunning;
  std::string log_path;
  bool final = false;
  // How far the step is when it knows its total (JobContext::Count): `done` of `total`
  // `unit`s; total 0 = unknown.
  int64_t done = 0;
  int64_t total = 0;
  std::string unit;
  // A line a container printed (JobContext::Output); `step` names the task.
  bool output = false;
  // When the step began and when this update was made: the stream shows the step's
  // elapsed time, and repeats the latest update while nothing new comes.
  absl::Time step_started = absl::InfinitePast();
  absl::Time at = absl::InfinitePast();
};

// Bounds the container output a job streams (--follow-logs): a flooding container must
// flood neither the stream nor the daemon's memory, since a job's updates are kept
// until it ends. Every line stays in the task's log file.
class OutputLimiter {
 public:
  struct Limits {
    int lines_per_window = 100;  // streamed per window ...
    absl::Duration window = absl::Seconds(10);
    int max_lines = 5000;          // ... and per job in all
    size_t max_line_bytes = 2000;  // longer lines are cut
  };
  OutputLimiter() = default;
  explicit OutputLimiter(Limits limits) : limits_(limits) {}
  // Whether a line printed at `now` is streamed. Returns false when it is dropped (and
  // counts it). When it is streamed after dropped ones, `*skipped` is set to how many
  // were dropped since the last note, to be noted first; otherwise to 0.
  bool Admit(absl::Time now, int64_t* skipped);
  // The dropped lines not noted yet (then forgotten): noted when a task ends.
  int64_t TakeSkipped();
  // `line` cut to the line length limit ("…" marks a cut).
  std::string Cut(std::string_view line) const;

 private:
  Limits limits_;
  absl::Time window_start_ = absl::InfinitePast();
  int in_window_ = 0;
  int total_ = 0;
  int64_t skipped_ = 0;
};

// The note standing for dropped output lines: "… N lines skipped, see the log <path>".
std::string SkippedLinesNote(int64_t skipped, const std::string& log_path);

class JobManager;

// What a job body sees of its job.
class JobContext {
 public:
  JobId id() const { return record_.id; }
  const storage::JobRecord& record() const { return record_; }
  nlohmann::json params() const;
  // Reports progress: streamed to watchers and appended to the job's log.
  void Progress(const std::string& step, const std::string& message,
                const std::string& log_path = "");
  // Reports how far `step` is: `done` of `total` `unit`s ("bytes", "entries", "models";
  // total 0 when unknown), shown by medperfctl as a bar. Not written to the job's log,
  // and it replaces the step's previous count in the stream, so a loop may call it per
  // block.
  void Count(const std::string& step, const std::string& message, int64_t done, int64_t total,
             const std::string& unit);
  // Count(step, message, done, total, "bytes") as a callback, for hashing and copying.
  std::function<void(uint64_t done, uint64_t total)> ByteCounter(const std::string& step,
                                                                 const std::string& message);
  // A line task `task`'s container printed (the runner writes it to the task's log
  // `log_path`), streamed for `--follow-logs` within OutputLimiter's bounds.
  void Output(const std::string& task, std::string_view line, const std::string& log_path);
  // Task `task`'s output ended: notes the lines dropped and not noted yet.
  void EndOutput(const std::string& task, const std::string& log_path);
  // Moves the job to another state (fetching, running, evaluating), persistently.
  void SetState(storage::JobState state);
  // Saves facts a retry must reuse (e.g. the server execution id) in params_json.
  void SaveParam(const std::string& key, const nlohmann::json& value);
  bool cancelled() const { return cancel_->load(); }
  const std::atomic<bool>* cancel_flag() const { return cancel_.get(); }
  const std::filesystem::path& log_path() const { return log_path_; }

 private:
  friend class JobManager;
  JobContext(JobManager& manager, storage::JobRecord record,
             std::shared_ptr<std::atomic<bool>> cancel, std::filesystem::path log_path)
      : manager_(manager),
        record_(std::move(record)),
        cancel_(std::move(cancel)),
        log_path_(std::move(log_path)) {}
  // A progress update of `step`, stamped with the step's start.
  ProgressUpdate Stamped(const std::string& step, ProgressUpdate update);
  JobManager& manager_;
  storage::JobRecord record_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::filesystem::path log_path_;
  // Updates come from the job's thread and from runners' output callbacks.
  absl::Mutex mu_;
  std::string step_ ABSL_GUARDED_BY(mu_);
  absl::Time step_started_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  OutputLimiter output_ ABSL_GUARDED_BY(mu_);
};

using JobBody = std::function<absl::StatusOr<nlohmann::json>(JobContext&)>;

// A run job gets this many attempts (crashes and transient server errors included)
// before it is marked failed and waits for `medperfctl job retry`.
inline constexpr int kMaxRunAttempts = 5;

// Errors worth another attempt later: the server or the network failing, not the work
// (IsRetryable of core/errors.h: never a TLS/configuration error or a 4xx).
bool IsTransient(const absl::Status& status);

// A record for an interactive job of `kind` with its parameters.
storage::JobRecord InteractiveJob(std::string kind,
                                  const nlohmann::json& params = nlohmann::json::object());

class JobManager {
 public:
  // `run_body` executes one persistent `run` job. `make_room` (optional) is called when
  // the end of a job cannot be recorded, e.g. because the disk is full; it returns the
  // bytes it freed, and a non-zero answer makes the write be tried once more.
  JobManager(storage::Store& store, EventBus& events, std::filesystem::path log_dir, int workers,
             JobBody run_body, std::function<uint64_t()> make_room = {});
  ~JobManager();

  // Starts the workers serving the `run` queue.
  void StartWorkers();

  // Records an interactive job and runs `body` on a new thread at once.
  absl::StatusOr<JobId> Start(storage::JobRecord record, JobBody body);

  // Runs `body` at once on a new thread for a job the store already has (a parent job
  // queued again after a restart, see Store::RequeueInterruptedJobs).
  void Resume(storage::JobRecord record, JobBody body);

  // Queues a `run` job for the triple, or returns the unfinished one already there.
  absl::StatusOr<JobId> EnqueueRun(BenchmarkId benchmark, ModelId model, DatasetId dataset,
                                   const nlohmann::json& params, bool* created = nullptr);

  // Collects progress of job `id` after `*cursor` (advancing it), waiting up to
  // `timeout` for something new. Returns the job's record; `*finished` is set when the
  // job has ended and every update was delivered.
  absl::StatusOr<storage::JobRecord> Poll(JobId id, size_t* cursor,
                                          std::vector<ProgressUpdate>* out, bool* finished,
                                          absl::Duration timeout);
  // The job's latest update that is not a container line, if it has one: what a
  // stream repeats (with the elapsed time advanced) while nothing new comes.
  std::optional<ProgressUpdate> Latest(JobId id);

  // Cancels a queued or running job (a running one is killed at its next check).
  absl::StatusOr<storage::JobRecord> Cancel(JobId id);
  // Queues a failed or cancelled `run` job again.
  absl::StatusOr<storage::JobRecord> Retry(JobId id);

  // Stops taking work, cancels running jobs and joins every thread.
  void Shutdown();

  // Runs `fn` while no job body runs, for maintenance that must never touch what a job
  // uses (`medperfctl storage cleanup`): job bodies that start meanwhile wait until `fn`
  // returns. `fn` is not called when a job body is running; then the answer is
  // FAILED_PRECONDITION naming the running jobs. Otherwise `fn`'s own status.
  absl::Status RunWhileIdle(const std::function<absl::Status()>& fn);

 private:
  friend class JobContext;
  struct Live {
    std::vector<ProgressUpdate> updates;
    std::optional<ProgressUpdate> latest;  // the last one that is not a container line
    bool finished = false;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  };

  // Adds an update; a count (done/total) replaces the previous update when that is a
  // count of the same step.
  void Append(JobId id, ProgressUpdate update);
  void Execute(storage::JobRecord record, const JobBody& body);
  void WorkerLoop();
  std::shared_ptr<std::atomic<bool>> Register(JobId id);

  storage::Store& store_;
  EventBus& events_;
  std::filesystem::path log_dir_;
  int workers_;
  JobBody run_body_;
  std::function<uint64_t()> make_room_;

  absl::Mutex mu_;
  std::map<int64_t, Live> live_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t wake_ ABSL_GUARDED_BY(mu_) = 0;  // bumped when work is queued
  // After a transient failure the run queue rests until then (exponential backoff).
  absl::Time retry_not_before_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::vector<std::thread> threads_;
  absl::Mutex threads_mu_;
  // Held shared by every running job body, exclusively by RunWhileIdle.
  absl::Mutex bodies_mu_;
};

}  // namespace medperf::daemon
