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
#include <string>
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
};

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
  JobManager& manager_;
  storage::JobRecord record_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::filesystem::path log_path_;
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

  // Queues a `run` job for the triple, or returns the unfinished one already there.
  absl::StatusOr<JobId> EnqueueRun(BenchmarkId benchmark, ModelId model, DatasetId dataset,
                                   const nlohmann::json& params, bool* created = nullptr);

  // Collects progress of job `id` after `*cursor` (advancing it), waiting up to
  // `timeout` for something new. Returns the job's record; `*finished` is set when the
  // job has ended and every update was delivered.
  absl::StatusOr<storage::JobRecord> Poll(JobId id, size_t* cursor,
                                          std::vector<ProgressUpdate>* out, bool* finished,
                                          absl::Duration timeout);

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
    bool finished = false;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  };

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
