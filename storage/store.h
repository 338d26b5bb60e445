// The daemon's state: typed repository functions over the SQLite database.
// Every method is safe to call from several threads; multi-row changes are atomic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/ids.h"
#include "storage/sqlite.h"

namespace medperf::storage {

enum class JobState { kQueued, kFetching, kRunning, kEvaluating, kDone, kFailed, kCancelled };

std::string JobStateName(JobState state);
absl::StatusOr<JobState> ParseJobState(std::string_view name);
bool IsFinished(JobState state);

struct DatasetRecord {
  DatasetId id;
  std::string name;
  std::optional<BenchmarkId> benchmark;
  ContainerId prep_container;
  std::string raw_data_path;
  std::string raw_labels_path;
  std::string input_data_hash;
  std::string generated_uid;  // empty until prepared
  std::string state = "DEVELOPMENT";
  std::string prep_status = "registered";  // registered, preparing, prepared, failed
  std::string statistics_json = "{}";
  std::string server_json = "{}";
  std::string created_at;
  std::string updated_at;
};

struct ContainerRecord {
  ContainerId id;
  std::string name;
  std::string server_json = "{}";
  std::string image_hash;
  std::string additional_files_hash;
  std::string fetched_at;
  std::optional<std::string> last_used_at;
};

struct ResultRecord {
  ResultRecord(LocalResultUid u) : uid(u) {}
  LocalResultUid uid;
  std::optional<ResultId> server_id;
  std::string status = "executed";  // executed, failed
  bool partial = false;
  std::string metrics_json = "{}";
  std::string error;
  std::string log_dir;
  std::optional<std::string> submitted_at;
  std::string created_at;
  std::string updated_at;
};

struct JobRecord {
  JobId id;
  std::string kind;
  JobState state = JobState::kQueued;
  int attempts = 0;
  std::optional<BenchmarkId> benchmark;
  std::optional<ModelId> model;
  std::optional<DatasetId> dataset;
  std::string params_json = "{}";
  std::string result_json = "{}";
  std::string error;
  std::string log_path;
  std::string created_at;
  std::string updated_at;
};

struct EventRecord {
  int64_t id = 0;
  std::string time;
  std::string kind;
  std::string message;
  std::string json = "{}";
};

struct ResultFilter {
  std::optional<BenchmarkId> benchmark = std::nullopt;
  std::optional<ModelId> model = std::nullopt;
  std::optional<DatasetId> dataset = std::nullopt;
};

// Current time as RFC 3339 UTC with microseconds, the format stored everywhere.
std::string NowTimestamp();
// `t` in the same form as NowTimestamp() (UTC, microseconds), e.g. a retention cut-off.
std::string Timestamp(absl::Time t);

class Store {
 public:
  // Opens or creates the database and migrates it to the latest schema. Errors: those of
  // Connection::Open and MigrateState (storage/state_schema.h), each naming the file.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::filesystem::path& path);

  // The schema version (LatestStateVersion() once Open succeeded).
  absl::StatusOr<int> SchemaVersion();
  // "ok", or the problems `PRAGMA integrity_check` reports, one per line.
  absl::StatusOr<std::string> IntegrityCheck();
  // Row counts of the main tables.
  absl::StatusOr<std::map<std::string, int64_t>> Counts();

  // Datasets. PutDataset inserts or replaces by id.
  absl::Status PutDataset(const DatasetRecord& dataset);
  absl::StatusOr<DatasetRecord> GetDataset(DatasetId id);
  absl::StatusOr<std::vector<DatasetRecord>> ListDatasets();

  // Containers fetched from the server.
  absl::Status PutContainer(const ContainerRecord& container);
  absl::StatusOr<ContainerRecord> GetContainer(ContainerId id);

  // Local results, one per (benchmark, model, dataset).
  absl::Status PutResult(const ResultRecord& result);
  absl::StatusOr<ResultRecord> GetResult(const LocalResultUid& uid);
  absl::StatusOr<std::vector<ResultRecord>> ListResults(const ResultFilter& filter = {});

  // Jobs. AddJob fails with ALREADY_EXISTS when an unfinished run job exists for the
  // same (benchmark, model, dataset).
  absl::StatusOr<JobId> AddJob(const JobRecord& job);
  absl::StatusOr<JobRecord> GetJob(JobId id);
  absl::StatusOr<std::vector<JobRecord>> ListJobs(bool include_finished, int limit = 100);
  // Every `run` job ever recorded for the triple, newest first (the poller must not
  // re-create work a user cancelled or that already failed).
  absl::StatusOr<std::vector<JobRecord>> ListRunJobsFor(BenchmarkId benchmark, ModelId model,
                                                        DatasetId dataset);
  absl::Status UpdateJob(const JobRecord& job);
  // Atomically takes the oldest queued job of `kind`, moves it to `fetching` and
  // counts an attempt.
  absl::StatusOr<std::optional<JobRecord>> ClaimNextQueuedJob(std::string_view kind = "run");
  // After a crash: `run` jobs caught mid-flight go back to the queue (they are
  // idempotent); interactive jobs are marked failed, since whoever started them has
  // gone, except a `benchmark-run` job that saved its plan (params_json "plan"), which is
  // queued for the daemon to finish from it (flows::ResumeBenchmarkRun). A run job that already
  // used `max_attempts` attempts (> 0) fails instead, so work that kills the daemon every time
  // cannot loop forever. Returns how many jobs were requeued.
  absl::StatusOr<int> RequeueInterruptedJobs(int max_attempts = 0);
  // After a crash, before anything runs: datasets caught `preparing` become `failed`
  // (nothing resumes an interactive preparation) and every interrupted `prepare` job
  // (also one stopped while fetching the preparator) names the command to run next,
  // in one transaction. Returns the datasets that were `preparing`.
  absl::StatusOr<std::vector<DatasetId>> FailInterruptedPreparations();

  // Events, in order of occurrence.
  absl::StatusOr<int64_t> AppendEvent(std::string_view kind, std::string_view message,
                                      std::string_view json = "{}");
  absl::StatusOr<std::vector<EventRecord>> ListEvents(int64_t after_id, int limit);
  absl::StatusOr<int64_t> LastEventId();

  // Retention (docs/operations.md, "Retention"). `before` is a NowTimestamp()-form UTC
  // time; rows older than it go, each call in one transaction. With `dry_run` nothing is
  // deleted and the answer is what would be (`medperfctl storage cleanup --dry-run`).
  // Deletes events whose time is before `before`; returns how many.
  absl::StatusOr<int64_t> PruneEvents(std::string_view before, bool dry_run = false);
  // Deletes finished (done, failed, cancelled) jobs last updated before `before`, except
  // the newest `run` job of each (benchmark, model, dataset): it is the record that stops
  // the poller from re-creating work that failed or was cancelled. Returns the deleted
  // jobs (their log files are the caller's to remove).
  absl::StatusOr<std::vector<JobRecord>> PruneFinishedJobs(std::string_view before,
                                                           bool dry_run = false);

  // Small daemon facts (last poll time, ...).
  absl::Status SetMeta(std::string_view key, std::string_view value);
  absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view key);

  // Change detection for server polling: returns true when `digest` differs from
  // the one stored for (entity, id), and stores the new one.
  absl::StatusOr<bool> UpdateServerDigest(std::string_view entity, int64_t id,
                                          std::string_view digest);

 private:
  explicit Store(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
  absl::Mutex mu_;
  std::unique_ptr<Connection> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medperf::storage
