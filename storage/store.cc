#include "storage/store.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "storage/state_schema.h"

namespace medperf::storage {
namespace {

constexpr std::string_view kJobStateNames[] = {"queued", "fetching", "running",  "evaluating",
                                               "done",   "failed",   "cancelled"};

constexpr char kDatasetColumns[] =
    "id, name, benchmark_id, prep_container_id, raw_data_path, raw_labels_path, "
    "input_data_hash, generated_uid, state, prep_status, statistics_json, server_json, "
    "created_at, updated_at";

DatasetRecord ReadDataset(const Statement& s) {
  DatasetRecord d;
  d.id = DatasetId(s.Int(0));
  d.name = s.Text(1);
  if (auto b = s.OptionalInt(2)) d.benchmark = BenchmarkId(*b);
  d.prep_container = ContainerId(s.Int(3));
  d.raw_data_path = s.Text(4);
  d.raw_labels_path = s.Text(5);
  d.input_data_hash = s.Text(6);
  d.generated_uid = s.Text(7);
  d.state = s.Text(8);
  d.prep_status = s.Text(9);
  d.statistics_json = s.Text(10);
  d.server_json = s.Text(11);
  d.created_at = s.Text(12);
  d.updated_at = s.Text(13);
  return d;
}

constexpr char kResultColumns[] =
    "benchmark_id, model_id, dataset_id, server_id, status, partial, metrics_json, error, "
    "log_dir, submitted_at, created_at, updated_at";

ResultRecord ReadResult(const Statement& s) {
  ResultRecord r(LocalResultUid(BenchmarkId(s.Int(0)), ModelId(s.Int(1)), DatasetId(s.Int(2))));
  if (auto id = s.OptionalInt(3)) r.server_id = ResultId(*id);
  r.status = s.Text(4);
  r.partial = s.Int(5) != 0;
  r.metrics_json = s.Text(6);
  r.error = s.Text(7);
  r.log_dir = s.Text(8);
  r.submitted_at = s.OptionalText(9);
  r.created_at = s.Text(10);
  r.updated_at = s.Text(11);
  return r;
}

constexpr char kJobColumns[] =
    "id, kind, state, attempts, benchmark_id, model_id, dataset_id, params_json, result_json, "
    "error, log_path, created_at, updated_at";

// Runs a statement whose only parameter (?1) is the time of the change.
absl::Status RunStamped(Connection& conn, std::string_view sql, std::string_view now) {
  ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql));
  s.Bind(1, now);
  return s.Run();
}

absl::StatusOr<JobRecord> ReadJob(const Statement& s) {
  JobRecord j;
  j.id = JobId(s.Int(0));
  j.kind = s.Text(1);
  ASSIGN_OR_RETURN(j.state, ParseJobState(s.Text(2)));
  j.attempts = static_cast<int>(s.Int(3));
  if (auto v = s.OptionalInt(4)) j.benchmark = BenchmarkId(*v);
  if (auto v = s.OptionalInt(5)) j.model = ModelId(*v);
  if (auto v = s.OptionalInt(6)) j.dataset = DatasetId(*v);
  j.params_json = s.Text(7);
  j.result_json = s.Text(8);
  j.error = s.Text(9);
  j.log_path = s.Text(10);
  j.created_at = s.Text(11);
  j.updated_at = s.Text(12);
  return j;
}

template <typename IdT>
std::optional<int64_t> OptId(const std::optional<IdT>& id) {
  if (!id) return std::nullopt;
  return id->value();
}

}  // namespace

std::string JobStateName(JobState state) {
  return std::string(kJobStateNames[static_cast<int>(state)]);
}

absl::StatusOr<JobState> ParseJobState(std::string_view name) {
  for (size_t i = 0; i < std::size(kJobStateNames); ++i) {
    if (kJobStateNames[i] == name) return static_cast<JobState>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown job state '", absl::string_view(name.data(), name.size()), "'"));
}

bool IsFinished(JobState state) {
  return state == JobState::kDone || state == JobState::kFailed || state == JobState::kCancelled;
}

std::string Timestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

std::string NowTimestamp() { return Timestamp(absl::Now()); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(path));
  RETURN_IF_ERROR(MigrateState(*conn));
  return std::unique_ptr<Store>(new Store(std::move(conn)));
}

absl::StatusOr<int> Store::SchemaVersion() {
  absl::MutexLock lock(&mu_);
  return storage::SchemaVersion(*conn_);
}

absl::StatusOr<std::string> Store::IntegrityCheck() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare("PRAGMA integrity_check"));
  std::string out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (!out.empty()) out += "\n";
    out += s.Text(0);
  }
  ASSIGN_OR_RETURN(Statement fk, conn_->Prepare("PRAGMA foreign_key_check"));
  ASSIGN_OR_RETURN(bool violation, fk.Step());
  if (violation) {
    out = (out == "ok" ? "" : out + "\n") +
          absl::StrCat("foreign key violation in table ", fk.Text(0), " row ", fk.Int(1));
  }
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> Store::Counts() {
  absl::MutexLock lock(&mu_);
  std::map<std::string, int64_t> counts;
  for (const char* table : {"datasets", "results", "jobs", "containers", "events"}) {
    ASSIGN_OR_RETURN(Statement s, conn_->Prepare(absl::StrCat("SELECT count(*) FROM ", table)));
    ASSIGN_OR_RETURN(bool row, s.Step());
    counts[table] = row ? s.Int(0) : 0;
  }
  return counts;
}

absl::Status Store::PutDataset(const DatasetRecord& d) {
  absl::MutexLock lock(&mu_);
  std::string now = NowTimestamp();
  ASSIGN_OR_RETURN(
      Statement s,
      conn_->Prepare(absl::StrCat(
          "INSERT INTO datasets (", kDatasetColumns,
          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
          "name=excluded.name, benchmark_id=excluded.benchmark_id, "
          "prep_container_id=excluded.prep_container_id, raw_data_path=excluded.raw_data_path, "
          "raw_labels_path=excluded.raw_labels_path, input_data_hash=excluded.input_data_hash, "
          "generated_uid=excluded.generated_uid, state=excluded.state, "
          "prep_status=excluded.prep_status, statistics_json=excluded.statistics_json, "
          "server_json=excluded.server_json, updated_at=excluded.updated_at")));
  s.Bind(1, d.id.value())
      .Bind(2, d.name)
      .BindOptional(3, OptId(d.benchmark))
      .Bind(4, d.prep_container.value())
      .Bind(5, d.raw_data_path)
      .Bind(6, d.raw_labels_path)
      .Bind(7, d.input_data_hash)
      .Bind(8, d.generated_uid)
      .Bind(9, d.state)
      .Bind(10, d.prep_status)
      .Bind(11, d.statistics_json)
      .Bind(12, d.server_json)
      .Bind(13, d.created_at.empty() ? now : d.created_at)
      .Bind(14, now);
  return s.Run();
}

absl::StatusOr<DatasetRecord> Store::GetDataset(DatasetId id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare(absl::StrCat("SELECT ", kDatasetColumns,
                                                            " FROM datasets WHERE id = ?")));
  s.Bind(1, id.value());
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("dataset ", id.value(),
                                            " is not known to this site; register it with "
                                            "`medperfctl dataset submit` first"));
  }
  return ReadDataset(s);
}

absl::StatusOr<std::vector<DatasetRecord>> Store::ListDatasets() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare(absl::StrCat("SELECT ", kDatasetColumns,
                                                            " FROM datasets ORDER BY id")));
  std::vector<DatasetRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadDataset(s));
  }
  return out;
}

absl::Status Store::PutContainer(const ContainerRecord& c) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      conn_->Prepare("INSERT INTO containers (id, name, server_json, image_hash, "
                     "additional_files_hash, fetched_at, last_used_at) VALUES (?,?,?,?,?,?,?) "
                     "ON CONFLICT (id) DO UPDATE SET name=excluded.name, "
                     "server_json=excluded.server_json, image_hash=excluded.image_hash, "
                     "additional_files_hash=excluded.additional_files_hash, "
                     "fetched_at=excluded.fetched_at, last_used_at=excluded.last_used_at"));
  s.Bind(1, c.id.value())
      .Bind(2, c.name)
      .Bind(3, c.server_json)
      .Bind(4, c.image_hash)
      .Bind(5, c.additional_files_hash)
      .Bind(6, c.fetched_at.empty() ? NowTimestamp() : c.fetched_at)
      .BindOptional(7, c.last_used_at);
  return s.Run();
}

absl::StatusOr<ContainerRecord> Store::GetContainer(ContainerId id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s,
                   conn_->Prepare("SELECT id, name, server_json, image_hash, "
                                  "additional_files_hash, fetched_at, last_used_at FROM "
                                  "containers WHERE id = ?"));
  s.Bind(1, id.value());
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("container ", id.value(), " is not cached"));
  ContainerRecord c;
  c.id = ContainerId(s.Int(0));
  c.name = s.Text(1);
  c.server_json = s.Text(2);
  c.image_hash = s.Text(3);
  c.additional_files_hash = s.Text(4);
  c.fetched_at = s.Text(5);
  c.last_used_at = s.OptionalText(6);
  return c;
}

absl::Status Store::PutResult(const ResultRecord& r) {
  absl::MutexLock lock(&mu_);
  std::string now = NowTimestamp();
  ASSIGN_OR_RETURN(
      Statement s,
      conn_->Prepare(absl::StrCat(
          "INSERT INTO results (uid, ", kResultColumns,
          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (uid) DO UPDATE SET "
          "server_id=excluded.server_id, status=excluded.status, partial=excluded.partial, "
          "metrics_json=excluded.metrics_json, error=excluded.error, log_dir=excluded.log_dir, "
          "submitted_at=excluded.submitted_at, updated_at=excluded.updated_at")));
  s.Bind(1, r.uid.str())
      .Bind(2, r.uid.benchmark().value())
      .Bind(3, r.uid.model().value())
      .Bind(4, r.uid.dataset().value())
      .BindOptional(5, OptId(r.server_id))
      .Bind(6, r.status)
      .Bind(7, int64_t{r.partial ? 1 : 0})
      .Bind(8, r.metrics_json)
      .Bind(9, r.error)
      .Bind(10, r.log_dir)
      .BindOptional(11, r.submitted_at)
      .Bind(12, r.created_at.empty() ? now : r.created_at)
      .Bind(13, now);
  absl::Status st = s.Run();
  if (absl::IsAlreadyExists(st)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot store result ", r.uid.str(), ": dataset ", r.uid.dataset().value(),
                     " is not registered locally (", st.message(), ")"));
  }
  return st;
}

absl::StatusOr<ResultRecord> Store::GetResult(const LocalResultUid& uid) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare(absl::StrCat("SELECT ", kResultColumns,
                                                            " FROM results WHERE uid = ?")));
  s.Bind(1, uid.str());
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no local result ", uid.str()));
  return ReadResult(s);
}

absl::StatusOr<std::vector<ResultRecord>> Store::ListResults(const ResultFilter& f) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      conn_->Prepare(absl::StrCat(
          "SELECT ", kResultColumns,
          " FROM results WHERE (?1 IS NULL OR benchmark_id = ?1) AND (?2 IS NULL OR model_id = ?2)"
          " AND (?3 IS NULL OR dataset_id = ?3) ORDER BY benchmark_id, dataset_id, model_id")));
  s.BindOptional(1, OptId(f.benchmark))
      .BindOptional(2, OptId(f.model))
      .BindOptional(3, OptId(f.dataset));
  std::vector<ResultRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadResult(s));
  }
  return out;
}

absl::StatusOr<JobId> Store::AddJob(const JobRecord& j) {
  absl::MutexLock lock(&mu_);
  std::string now = NowTimestamp();
  ASSIGN_OR_RETURN(
      Statement s,
      conn_->Prepare("INSERT INTO jobs (kind, state, attempts, benchmark_id, model_id, "
                     "dataset_id, params_json, result_json, error, log_path, created_at, "
                     "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"));
  s.Bind(1, j.kind)
      .Bind(2, JobStateName(j.state))
      .Bind(3, int64_t{j.attempts})
      .BindOptional(4, OptId(j.benchmark))
      .BindOptional(5, OptId(j.model))
      .BindOptional(6, OptId(j.dataset))
      .Bind(7, j.params_json)
      .Bind(8, j.result_json)
      .Bind(9, j.error)
      .Bind(10, j.log_path)
      .Bind(11, now)
      .Bind(12, now);
  RETURN_IF_ERROR(s.Run());
  return JobId(conn_->LastInsertId());
}

absl::StatusOr<JobRecord> Store::GetJob(JobId id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s,
                   conn_->Prepare(absl::StrCat("SELECT ", kJobColumns, " FROM jobs WHERE id = ?")));
  s.Bind(1, id.value());
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no job ", id.value()));
  return ReadJob(s);
}

absl::StatusOr<std::vector<JobRecord>> Store::ListJobs(bool include_finished, int limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      Statement s,
      conn_->Prepare(absl::StrCat(
          "SELECT ", kJobColumns, " FROM jobs",
          include_finished ? "" : " WHERE state NOT IN ('done', 'failed', 'cancelled')",
          " ORDER BY id DESC LIMIT ?")));
  s.Bind(1, int64_t{limit > 0 ? limit : 100});
  std::vector<JobRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(JobRecord j, ReadJob(s));
    out.push_back(std::move(j));
  }
  return out;
}

absl::StatusOr<std::vector<JobRecord>> Store::ListRunJobsFor(BenchmarkId benchmark, ModelId model,
                                                             DatasetId dataset) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s,
                   conn_->Prepare(absl::StrCat("SELECT ", kJobColumns,
                                               " FROM jobs WHERE kind = 'run' AND benchmark_id = "
                                               "? AND model_id = ? AND dataset_id = ? ORDER BY "
                                               "id DESC")));
  s.Bind(1, benchmark.value()).Bind(2, model.value()).Bind(3, dataset.value());
  std::vector<JobRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(JobRecord j, ReadJob(s));
    out.push_back(std::move(j));
  }
  return out;
}

absl::Status Store::UpdateJob(const JobRecord& j) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s,
                   conn_->Prepare("UPDATE jobs SET state=?, attempts=?, params_json=?, "
                                  "result_json=?, error=?, log_path=?, updated_at=? WHERE id=?"));
  s.Bind(1, JobStateName(j.state))
      .Bind(2, int64_t{j.attempts})
      .Bind(3, j.params_json)
      .Bind(4, j.result_json)
      .Bind(5, j.error)
      .Bind(6, j.log_path)
      .Bind(7, NowTimestamp())
      .Bind(8, j.id.value());
  RETURN_IF_ERROR(s.Run());
  if (conn_->Changes() == 0) return absl::NotFoundError(absl::StrCat("no job ", j.id.value()));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<JobRecord>> Store::ClaimNextQueuedJob(std::string_view kind) {
  absl::MutexLock lock(&mu_);
  Transaction tx(*conn_);
  RETURN_IF_ERROR(tx.status());
  ASSIGN_OR_RETURN(Statement q, conn_->Prepare(absl::StrCat(
                                    "SELECT ", kJobColumns,
                                    " FROM jobs WHERE state = 'queued' AND kind = ? ORDER BY id "
                                    "LIMIT 1")));
  q.Bind(1, kind);
  ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<JobRecord>();
  ASSIGN_OR_RETURN(JobRecord job, ReadJob(q));
  job.state = JobState::kFetching;
  job.attempts += 1;
  job.updated_at = NowTimestamp();
  ASSIGN_OR_RETURN(Statement u, conn_->Prepare("UPDATE jobs SET state = 'fetching', attempts = "
                                               "?, updated_at = ? WHERE id = ?"));
  u.Bind(1, int64_t{job.attempts}).Bind(2, job.updated_at).Bind(3, job.id.value());
  RETURN_IF_ERROR(u.Run());
  RETURN_IF_ERROR(tx.Commit());
  return std::optional<JobRecord>(std::move(job));
}

absl::StatusOr<int> Store::RequeueInterruptedJobs(int max_attempts) {
  absl::MutexLock lock(&mu_);
  Transaction tx(*conn_);
  RETURN_IF_ERROR(tx.status());
  std::string now = NowTimestamp();
  if (max_attempts > 0) {
    ASSIGN_OR_RETURN(Statement give_up,
                     conn_->Prepare("UPDATE jobs SET state = 'failed', error = 'interrupted "
                                    "after ' || attempts || ' attempts; not retried again "
                                    "(medperfctl job retry to try once more)', updated_at = ? "
                                    "WHERE kind = 'run' AND attempts >= ? AND state IN "
                                    "('fetching', 'running', 'evaluating')"));
    give_up.Bind(1, now).Bind(2, int64_t{max_attempts});
    RETURN_IF_ERROR(give_up.Run());
  }
  // A benchmark run that saved its plan is finished from it by the next start: its run
  // jobs resume, and it must say what they did rather than "failed".
  RETURN_IF_ERROR(RunStamped(*conn_,
                             "UPDATE jobs SET state = 'queued', updated_at = ? WHERE kind = "
                             "'benchmark-run' AND state IN ('queued', 'fetching', 'running', "
                             "'evaluating') AND json_valid(params_json) AND "
                             "json_type(params_json, '$.plan') = 'array'",
                             now));
  RETURN_IF_ERROR(RunStamped(*conn_,
                             "UPDATE jobs SET state = 'failed', error = 'interrupted: medperfd "
                             "stopped while this job ran; run the command again', updated_at = ? "
                             "WHERE (kind != 'run' AND state IN ('fetching', 'running', "
                             "'evaluating')) OR (kind NOT IN ('run', 'benchmark-run') AND "
                             "state = 'queued')",
                             now));
  RETURN_IF_ERROR(RunStamped(*conn_,
                             "UPDATE jobs SET state = 'queued', updated_at = ? WHERE kind = 'run' "
                             "AND state IN ('fetching', 'running', 'evaluating')",
                             now));
  int requeued = conn_->Changes();
  RETURN_IF_ERROR(tx.Commit());
  return requeued;
}

absl::StatusOr<std::vector<DatasetId>> Store::FailInterruptedPreparations() {
  absl::MutexLock lock(&mu_);
  Transaction tx(*conn_);
  RETURN_IF_ERROR(tx.status());
  std::vector<DatasetId> ids;
  {
    ASSIGN_OR_RETURN(Statement s,
                     conn_->Prepare("SELECT id FROM datasets WHERE prep_status = 'preparing'"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ids.emplace_back(s.Int(0));
    }
  }
  std::string now = NowTimestamp();
  // Whether RequeueInterruptedJobs ran first or not, the job says what to do next, also
  // when it was stopped before the dataset was `preparing` (fetching the preparator).
  RETURN_IF_ERROR(RunStamped(
      *conn_,
      "UPDATE jobs SET state = 'failed', error = 'interrupted: medperfd stopped while preparing "
      "dataset ' || dataset_id || '; run `medperfctl dataset prepare --data_uid ' || dataset_id "
      "|| '` again', updated_at = ? WHERE kind = 'prepare' AND (state IN ('queued', 'fetching', "
      "'running', 'evaluating') OR (state = 'failed' AND (error LIKE 'interrupted: medperfd "
      "stopped while this job ran%' OR (error LIKE 'interrupted: %' AND dataset_id IN (SELECT id "
      "FROM datasets WHERE prep_status = 'preparing')))))",
      now));
  RETURN_IF_ERROR(RunStamped(
      *conn_,
      "UPDATE datasets SET prep_status = 'failed', updated_at = ? WHERE prep_status = 'preparing'",
      now));
  RETURN_IF_ERROR(tx.Commit());
  return ids;
}

absl::StatusOr<int64_t> Store::AppendEvent(std::string_view kind, std::string_view message,
                                           std::string_view json) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare("INSERT INTO events (time, kind, message, json) "
                                               "VALUES (?,?,?,?)"));
  s.Bind(1, NowTimestamp()).Bind(2, kind).Bind(3, message).Bind(4, json);
  RETURN_IF_ERROR(s.Run());
  return conn_->LastInsertId();
}

absl::StatusOr<std::vector<EventRecord>> Store::ListEvents(int64_t after_id, int limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare("SELECT id, time, kind, message, json FROM events "
                                               "WHERE id > ? ORDER BY id LIMIT ?"));
  s.Bind(1, after_id).Bind(2, int64_t{limit > 0 ? limit : 1000});
  std::vector<EventRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)});
  }
  return out;
}

absl::StatusOr<int64_t> Store::LastEventId() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare("SELECT coalesce(max(id), 0) FROM events"));
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

absl::StatusOr<int64_t> Store::PruneEvents(std::string_view before, bool dry_run) {
  absl::MutexLock lock(&mu_);
  if (dry_run) {
    ASSIGN_OR_RETURN(Statement s, conn_->Prepare("SELECT count(*) FROM events WHERE time < ?"));
    s.Bind(1, before);
    ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? s.Int(0) : 0;
  }
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare("DELETE FROM events WHERE time < ?"));
  s.Bind(1, before);
  RETURN_IF_ERROR(s.Run());
  return conn_->Changes();
}

absl::StatusOr<std::vector<JobRecord>> Store::PruneFinishedJobs(std::string_view before,
                                                                bool dry_run) {
  absl::MutexLock lock(&mu_);
  Transaction tx(*conn_);
  RETURN_IF_ERROR(tx.status());
  // The newest run job of a triple stays whatever its age (see the header).
  constexpr char kDoomed[] =
      " FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND updated_at < ?1 AND NOT "
      "(kind = 'run' AND id = (SELECT max(j.id) FROM jobs j WHERE j.kind = 'run' AND "
      "j.benchmark_id IS jobs.benchmark_id AND j.model_id IS jobs.model_id AND "
      "j.dataset_id IS jobs.dataset_id))";
  std::vector<JobRecord> doomed;
  {
    ASSIGN_OR_RETURN(Statement s, conn_->Prepare(absl::StrCat("SELECT ", kJobColumns, kDoomed)));
    s.Bind(1, before);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(JobRecord j, ReadJob(s));
      doomed.push_back(std::move(j));
    }
  }
  if (dry_run) return doomed;
  ASSIGN_OR_RETURN(Statement del, conn_->Prepare(absl::StrCat("DELETE", kDoomed)));
  del.Bind(1, before);
  RETURN_IF_ERROR(del.Run());
  RETURN_IF_ERROR(tx.Commit());
  return doomed;
}

absl::Status Store::SetMeta(std::string_view key, std::string_view value) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s,
                   conn_->Prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON "
                                  "CONFLICT (key) DO UPDATE SET value=excluded.value"));
  s.Bind(1, key).Bind(2, value);
  return s.Run();
}

absl::StatusOr<std::optional<std::string>> Store::GetMeta(std::string_view key) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, conn_->Prepare("SELECT value FROM meta WHERE key = ?"));
  s.Bind(1, key);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

absl::StatusOr<bool> Store::UpdateServerDigest(std::string_view entity, int64_t id,
                                               std::string_view digest) {
  absl::MutexLock lock(&mu_);
  Transaction tx(*conn_);
  RETURN_IF_ERROR(tx.status());
  ASSIGN_OR_RETURN(Statement q, conn_->Prepare("SELECT digest FROM server_cache WHERE entity = ? "
                                               "AND entity_id = ?"));
  q.Bind(1, entity).Bind(2, id);
  ASSIGN_OR_RETURN(bool row, q.Step());
  bool changed = !row || q.Text(0) != digest;
  ASSIGN_OR_RETURN(Statement u,
                   conn_->Prepare("INSERT INTO server_cache (entity, entity_id, digest, "
                                  "last_seen) VALUES (?,?,?,?) ON CONFLICT (entity, entity_id) "
                                  "DO UPDATE SET digest=excluded.digest, "
                                  "last_seen=excluded.last_seen"));
  u.Bind(1, entity).Bind(2, id).Bind(3, digest).Bind(4, NowTimestamp());
  RETURN_IF_ERROR(u.Run());
  RETURN_IF_ERROR(tx.Commit());
  return changed;
}

}  // namespace medperf::storage
