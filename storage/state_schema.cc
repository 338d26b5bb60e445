#include "storage/state_schema.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace medperf::storage {
namespace {

// The last version medperfd recorded in the `schema_version` table (before step 3).
constexpr int kLastTableRecordedVersion = 2;

// The version a pre-3 state.db recorded in its `schema_version` table, or 0 if it has none.
absl::StatusOr<int> TableRecordedVersion(Connection& conn) {
  ASSIGN_OR_RETURN(Statement exists,
                   conn.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                "name = 'schema_version'"));
  ASSIGN_OR_RETURN(bool row, exists.Step());
  if (!row || exists.Int(0) == 0) return 0;
  ASSIGN_OR_RETURN(Statement q, conn.Prepare("SELECT version FROM schema_version"));
  ASSIGN_OR_RETURN(bool has, q.Step());
  if (!has) {
    return absl::DataLossError(
        absl::StrCat(conn.path().string(), ": table schema_version is empty"));
  }
  const int64_t version = q.Int(0);
  if (version < 0 || version > kLastTableRecordedVersion) {
    return absl::DataLossError(absl::StrCat(conn.path().string(), ": table schema_version holds ",
                                            version, ", a version medperfd never recorded there"));
  }
  return static_cast<int>(version);
}

}  // namespace

const std::vector<Migration>& StateMigrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "datasets, results, jobs, containers, events", R"sql(
CREATE TABLE schema_version (
  version INTEGER NOT NULL
);
INSERT INTO schema_version (version) VALUES (0);

CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,                 -- the MedPerf server's dataset id
  name TEXT NOT NULL,
  benchmark_id INTEGER,                   -- benchmark named at registration, if any
  prep_container_id INTEGER NOT NULL,
  raw_data_path TEXT NOT NULL,
  raw_labels_path TEXT NOT NULL,
  input_data_hash TEXT NOT NULL,
  generated_uid TEXT NOT NULL DEFAULT '', -- hash of the prepared data, once prepared
  state TEXT NOT NULL DEFAULT 'DEVELOPMENT' CHECK (state IN ('DEVELOPMENT', 'OPERATION')),
  prep_status TEXT NOT NULL DEFAULT 'registered'
      CHECK (prep_status IN ('registered', 'preparing', 'prepared', 'failed')),
  statistics_json TEXT NOT NULL DEFAULT '{}',
  server_json TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE containers (
  id INTEGER PRIMARY KEY,                 -- the MedPerf server's container id
  name TEXT NOT NULL,
  server_json TEXT NOT NULL DEFAULT '{}',
  image_hash TEXT NOT NULL DEFAULT '',
  additional_files_hash TEXT NOT NULL DEFAULT '',
  fetched_at TEXT NOT NULL,
  last_used_at TEXT
);

CREATE TABLE results (
  uid TEXT PRIMARY KEY,                   -- b{benchmark}m{model}d{dataset}
  benchmark_id INTEGER NOT NULL,
  model_id INTEGER NOT NULL,
  dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE RESTRICT,
  server_id INTEGER,                      -- the server's execution id
  status TEXT NOT NULL CHECK (status IN ('executed', 'failed')),
  partial INTEGER NOT NULL DEFAULT 0,
  metrics_json TEXT NOT NULL DEFAULT '{}',
  error TEXT NOT NULL DEFAULT '',
  log_dir TEXT NOT NULL DEFAULT '',
  submitted_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (benchmark_id, model_id, dataset_id)
);

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN
      ('queued', 'fetching', 'running', 'evaluating', 'done', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  benchmark_id INTEGER,
  model_id INTEGER,
  dataset_id INTEGER,
  params_json TEXT NOT NULL DEFAULT '{}',
  result_json TEXT NOT NULL DEFAULT '{}',
  error TEXT NOT NULL DEFAULT '',
  log_path TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state);
-- At most one unfinished run job per (benchmark, model, dataset): the poller may
-- notice the same model twice, a crash may interrupt a job; neither may duplicate it.
CREATE UNIQUE INDEX jobs_one_active_run ON jobs (benchmark_id, model_id, dataset_id)
  WHERE kind = 'run' AND state IN ('queued', 'fetching', 'running', 'evaluating');

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  json TEXT NOT NULL DEFAULT '{}'
);
)sql"},
      {2, "server cache and daemon metadata", R"sql(
CREATE TABLE server_cache (
  entity TEXT NOT NULL,                   -- e.g. 'benchmark_models'
  entity_id INTEGER NOT NULL,
  etag TEXT NOT NULL DEFAULT '',
  digest TEXT NOT NULL DEFAULT '',        -- hash of the last body, for change detection
  last_seen TEXT NOT NULL,
  PRIMARY KEY (entity, entity_id)
);
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE INDEX events_by_kind ON events (kind);
)sql"},
      // The version now lives in PRAGMA user_version, as the shared runner records it for
      // both programs; MigrateState carried the table's value over before this step ran.
      {3, "schema version recorded in PRAGMA user_version", R"sql(
DROP TABLE schema_version;
)sql"},
  };
  return *migrations;
}

int LatestStateVersion() { return StateMigrations().back().version; }

absl::Status MigrateState(Connection& conn, int up_to) {
  ASSIGN_OR_RETURN(int version, SchemaVersion(conn));
  if (version == 0) {
    ASSIGN_OR_RETURN(int recorded, TableRecordedVersion(conn));
    if (recorded > 0) {
      Transaction tx(conn);
      absl::Status st = tx.status();
      if (st.ok()) st = conn.Exec(absl::StrCat("PRAGMA user_version = ", recorded));
      if (st.ok()) st = tx.Commit();
      if (!st.ok()) {
        return absl::Status(st.code(),
                            absl::StrCat(conn.path().string(),
                                         ": carrying the schema version over: ", st.message()));
      }
    }
  }
  return Migrate(conn, StateMigrations(), "medperfd", up_to);
}

}  // namespace medperf::storage
