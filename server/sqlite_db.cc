#include "server/sqlite_db.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace medperf::server {
namespace {

constexpr const char* kDataTables[] = {
    "results",    "benchmark_models", "benchmark_datasets", "datasets",
    "benchmarks", "models",           "containers",         "users"};

// Binds one JSON parameter as Db::Query documents.
void BindJson(storage::Statement& stmt, int index, const Json& p) {
  if (p.is_null()) {
    stmt.BindNull(index);
  } else if (p.is_boolean()) {
    stmt.Bind(index, int64_t{p.get<bool>() ? 1 : 0});
  } else if (p.is_number_integer() || p.is_number_unsigned()) {
    stmt.Bind(index, p.get<int64_t>());
  } else if (p.is_number_float()) {
    stmt.BindDouble(index, p.get<double>());
  } else if (p.is_string()) {
    stmt.Bind(index, p.get_ref<const std::string&>());
  } else {
    stmt.Bind(index, p.dump());
  }
}

// The current row as an object keyed by column name.
Json RowJson(const storage::Statement& stmt) {
  Json row = Json::object();
  for (int c = 0, n = stmt.ColumnCount(); c < n; ++c) {
    Json& cell = row[stmt.ColumnName(c)];
    switch (stmt.ColumnType(c)) {
      case SQLITE_INTEGER:
        cell = stmt.Int(c);
        break;
      case SQLITE_FLOAT:
        cell = stmt.Double(c);
        break;
      case SQLITE_NULL:
        cell = nullptr;
        break;
      default:
        cell = stmt.Text(c);
    }
  }
  return row;
}

}  // namespace

// Append new steps, never edit old ones: deployed databases have already applied them.
const std::vector<storage::Migration>& ServerMigrations() {
  static const auto* migrations = new std::vector<storage::Migration>{
      // The evaluation schema. Column names equal the API's field names so that rows map
      // one-to-one onto JSON. Foreign keys restrict deletion: the admin must remove
      // dependants first (documented in docs/server.md).
      {1, "the evaluation schema", R"sql(
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
)sql"},
  };
  return *migrations;
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Connection> conn, storage::Connection::Open(path));
  RETURN_IF_ERROR(storage::Migrate(*conn, ServerMigrations(), "medperf-server"));
  return std::unique_ptr<Db>(new Db(std::move(conn)));
}

absl::StatusOr<std::vector<Json>> Db::Query(std::string_view sql, const std::vector<Json>& params) {
  ASSIGN_OR_RETURN(storage::Statement stmt, conn_->Prepare(sql));
  for (size_t i = 0; i < params.size(); ++i) BindJson(stmt, static_cast<int>(i + 1), params[i]);
  std::vector<Json> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    rows.push_back(RowJson(stmt));
  }
  return rows;
}

absl::StatusOr<Json> Db::Scalar(std::string_view sql, const std::vector<Json>& params) {
  ASSIGN_OR_RETURN(std::vector<Json> rows, Query(sql, params));
  if (rows.empty() || rows.front().empty()) {
    return absl::NotFoundError(
        absl::StrCat("no row for '", absl::string_view(sql.data(), sql.size()).substr(0, 80), "'"));
  }
  return rows.front().begin().value();
}

absl::Status Db::WipeData() {
  storage::Transaction tx(*conn_);
  RETURN_IF_ERROR(tx.status());
  for (const char* t : kDataTables) RETURN_IF_ERROR(conn_->Exec(absl::StrCat("DELETE FROM ", t)));
  RETURN_IF_ERROR(conn_->Exec("DELETE FROM sqlite_sequence"));
  return tx.Commit();
}

}  // namespace medperf::server
