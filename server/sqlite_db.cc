#include "server/sqlite_db.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace medperf::server {
namespace {

// Numbered migrations; the DB records how many have run (PRAGMA user_version). Append
// new ones, never edit old ones: deployed databases have already applied them.
const char* const kMigrations[] = {
    // 1: the evaluation schema. Column names equal the API's field names so that rows
    // map one-to-one onto JSON. Foreign keys restrict deletion: the admin must remove
    // dependants first (documented in docs/server.md).
    R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL UNIQUE,
  is_admin INTEGER NOT NULL DEFAULT 0,
  token_hash TEXT NOT NULL UNIQUE,
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE TABLE containers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  container_config TEXT NOT NULL,
  parameters_config TEXT,
  image_hash TEXT NOT NULL,
  additional_files_tarball_url TEXT NOT NULL DEFAULT '',
  additional_files_tarball_hash TEXT NOT NULL DEFAULT '',
  owner INTEGER NOT NULL REFERENCES users(id),
  state TEXT NOT NULL,
  is_valid INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  user_metadata TEXT NOT NULL,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL
);
-- A CONTAINER model shares its container's id (docs/server.md).
CREATE TABLE models (
  id INTEGER PRIMARY KEY REFERENCES containers(id),
  name TEXT NOT NULL UNIQUE,
  owner INTEGER NOT NULL REFERENCES users(id),
  state TEXT NOT NULL,
  is_valid INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  user_metadata TEXT NOT NULL,
  type TEXT NOT NULL,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL
);
CREATE TABLE benchmarks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  docs_url TEXT NOT NULL,
  owner INTEGER NOT NULL REFERENCES users(id),
  demo_dataset_tarball_url TEXT NOT NULL,
  demo_dataset_tarball_hash TEXT NOT NULL,
  demo_dataset_generated_uid TEXT NOT NULL,
  data_preparation_mlcube INTEGER NOT NULL REFERENCES containers(id),
  reference_model INTEGER NOT NULL REFERENCES models(id),
  data_evaluator_mlcube INTEGER NOT NULL REFERENCES containers(id),
  metadata TEXT NOT NULL,
  state TEXT NOT NULL,
  is_valid INTEGER NOT NULL,
  is_active INTEGER NOT NULL,
  approval_status TEXT NOT NULL,
  dataset_auto_approval_allow_list TEXT NOT NULL,
  model_auto_approval_allow_list TEXT NOT NULL,
  dataset_auto_approval_mode TEXT NOT NULL,
  model_auto_approval_mode TEXT NOT NULL,
  user_metadata TEXT NOT NULL,
  approved_at TEXT,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL
);
CREATE INDEX benchmarks_owner ON benchmarks(owner);
CREATE INDEX benchmarks_modified ON benchmarks(modified_at, id);
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  location TEXT NOT NULL,
  owner INTEGER NOT NULL REFERENCES users(id),
  input_data_hash TEXT NOT NULL,
  generated_uid TEXT NOT NULL,
  split_seed INTEGER NOT NULL,
  data_preparation_mlcube INTEGER NOT NULL REFERENCES containers(id),
  is_valid INTEGER NOT NULL,
  submitted_as_prepared INTEGER NOT NULL,
  state TEXT NOT NULL,
  generated_metadata TEXT NOT NULL,
  user_metadata TEXT NOT NULL,
  report TEXT NOT NULL,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL
);
CREATE UNIQUE INDEX datasets_operational_uid ON datasets(generated_uid)
  WHERE state = 'OPERATION';
CREATE TABLE benchmark_datasets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dataset INTEGER NOT NULL REFERENCES datasets(id),
  benchmark INTEGER NOT NULL REFERENCES benchmarks(id),
  initiated_by INTEGER NOT NULL REFERENCES users(id),
  metadata TEXT NOT NULL,
  approval_status TEXT NOT NULL,
  approved_at TEXT,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL
);
CREATE INDEX benchmark_datasets_pair ON benchmark_datasets(dataset, benchmark, created_at);
CREATE INDEX benchmark_datasets_benchmark ON benchmark_datasets(benchmark);
CREATE TABLE benchmark_models (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model INTEGER NOT NULL REFERENCES models(id),
  benchmark INTEGER NOT NULL REFERENCES benchmarks(id),
  initiated_by INTEGER NOT NULL REFERENCES users(id),
  metadata TEXT NOT NULL,
  approval_status TEXT NOT NULL,
  approved_at TEXT,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX benchmark_models_pair ON benchmark_models(model, benchmark, created_at);
CREATE INDEX benchmark_models_benchmark ON benchmark_models(benchmark);
CREATE TABLE results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  owner INTEGER NOT NULL REFERENCES users(id),
  benchmark INTEGER NOT NULL REFERENCES benchmarks(id),
  model INTEGER NOT NULL REFERENCES models(id),
  dataset INTEGER NOT NULL REFERENCES datasets(id),
  results TEXT NOT NULL,
  finalized INTEGER NOT NULL DEFAULT 0,
  finalized_at TEXT,
  metadata TEXT NOT NULL,
  user_metadata TEXT NOT NULL,
  approval_status TEXT NOT NULL,
  is_valid INTEGER NOT NULL,
  model_report TEXT NOT NULL,
  evaluation_report TEXT NOT NULL,
  approved_at TEXT,
  created_at TEXT NOT NULL,
  modified_at TEXT NOT NULL
);
CREATE INDEX results_owner ON results(owner);
CREATE INDEX results_benchmark ON results(benchmark);
)sql",
};

constexpr const char* kDataTables[] = {
    "results",    "benchmark_models", "benchmark_datasets", "datasets",
    "benchmarks", "models",           "containers",         "users"};

}  // namespace

bool IsConstraintError(const absl::Status& s) {
  return absl::StrContains(s.message(), "constraint failed");
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    if (raw) sqlite3_close(raw);
    return absl::UnavailableError(absl::StrCat("cannot open database ", path.string(), ": ", msg));
  }
  std::unique_ptr<Db> db(new Db(raw));
  sqlite3_busy_timeout(raw, 5000);
  auto wal = db->Query("PRAGMA journal_mode=WAL");
  if (!wal.ok()) return wal.status();
  for (const char* pragma : {"PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL"}) {
    if (absl::Status s = db->Exec(pragma); !s.ok()) return s;
  }
  if (absl::Status s = db->Migrate(); !s.ok()) return s;
  return db;
}

Db::~Db() { sqlite3_close_v2(db_); }

absl::Status Db::Error(const std::string& what) const {
  return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(db_)));
}

absl::Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Json>> Db::Query(const std::string& sql,
                                            const std::vector<Json>& params) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return Error(absl::StrCat("sqlite prepare '", sql.substr(0, 80), "'"));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
  for (size_t i = 0; i < params.size(); ++i) {
    const Json& p = params[i];
    int idx = static_cast<int>(i + 1);
    int rc;
    if (p.is_null()) {
      rc = sqlite3_bind_null(stmt, idx);
    } else if (p.is_boolean()) {
      rc = sqlite3_bind_int64(stmt, idx, p.get<bool>() ? 1 : 0);
    } else if (p.is_number_integer() || p.is_number_unsigned()) {
      rc = sqlite3_bind_int64(stmt, idx, p.get<int64_t>());
    } else if (p.is_number_float()) {
      rc = sqlite3_bind_double(stmt, idx, p.get<double>());
    } else if (p.is_string()) {
      const std::string& s = p.get_ref<const std::string&>();
      rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    } else {
      std::string s = p.dump();
      rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return Error("sqlite bind");
  }
  std::vector<Json> rows;
  while (true) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Error("sqlite step");
    Json row = Json::object();
    int n = sqlite3_column_count(stmt);
    for (int c = 0; c < n; ++c) {
      const char* name = sqlite3_column_name(stmt, c);
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_INTEGER:
          row[name] = static_cast<int64_t>(sqlite3_column_int64(stmt, c));
          break;
        case SQLITE_FLOAT:
          row[name] = sqlite3_column_double(stmt, c);
          break;
        case SQLITE_NULL:
          row[name] = nullptr;
          break;
        default: {
          const unsigned char* text = sqlite3_column_text(stmt, c);
          int len = sqlite3_column_bytes(stmt, c);
          row[name] = std::string(reinterpret_cast<const char*>(text), len);
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

absl::StatusOr<Json> Db::Scalar(const std::string& sql, const std::vector<Json>& params) {
  auto rows = Query(sql, params);
  if (!rows.ok()) return rows.status();
  if (rows->empty() || rows->front().empty()) {
    return absl::NotFoundError(absl::StrCat("no row for '", sql.substr(0, 80), "'"));
  }
  return rows->front().begin().value();
}

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

absl::Status Db::Migrate() {
  auto v = Scalar("PRAGMA user_version");
  if (!v.ok()) return v.status();
  int current = static_cast<int>(v->get<int64_t>());
  const int latest = static_cast<int>(std::size(kMigrations));
  if (current > latest) {
    return absl::FailedPreconditionError(absl::StrCat("database schema version ", current,
                                                      " is newer than this server (", latest,
                                                      "); refusing to touch it"));
  }
  for (int i = current; i < latest; ++i) {
    // Each migration and its version bump commit together, so a crash never leaves a
    // half-applied schema.
    absl::Status s = Exec(absl::StrCat("BEGIN IMMEDIATE;", kMigrations[i],
                                       "; PRAGMA user_version = ", i + 1, "; COMMIT;"));
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return absl::Status(s.code(), absl::StrCat("migration ", i + 1, ": ", s.message()));
    }
  }
  schema_version_ = latest;
  return absl::OkStatus();
}

absl::Status Db::WipeData() {
  std::string sql = "BEGIN IMMEDIATE;";
  for (const char* t : kDataTables) absl::StrAppend(&sql, "DELETE FROM ", t, ";");
  absl::StrAppend(&sql, "DELETE FROM sqlite_sequence; COMMIT;");
  absl::Status s = Exec(sql);
  if (!s.ok()) (void)Exec("ROLLBACK");
  return s;
}

}  // namespace medperf::server
