// medperf-server's database: its schema (numbered migrations run by the shared runner,
// storage/migrations.h) and JSON-valued queries over the shared SQLite layer
// (storage/sqlite.h), which sets WAL, foreign keys and the busy timeout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "storage/migrations.h"
#include "storage/sqlite.h"

namespace medperf::server {

using Json = nlohmann::json;

// The server schema's steps, in order (step N takes version N-1 to N).
const std::vector<storage::Migration>& ServerMigrations();

class Db {
 public:
  // Opens (creating if needed) the database at `path` and applies pending migrations.
  // Errors, each naming the file: those of storage::Connection::Open and storage::Migrate
  // (FailedPrecondition for a database written by a newer medperf-server, left untouched).
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::filesystem::path& path);

  // Runs ';'-separated statements (e.g. BEGIN/COMMIT). Errors: storage::SqliteError.
  absl::Status Exec(std::string_view sql) { return conn_->Exec(sql); }
  // Runs one statement. Parameters: null, integers, booleans (0/1), floats, strings;
  // objects/arrays are bound as their JSON text. Each row is an object keyed by column
  // name holding integers, floats, strings or null. Errors: storage::SqliteError naming
  // the SQL (IsConstraintError tells a violated constraint).
  absl::StatusOr<std::vector<Json>> Query(std::string_view sql,
                                          const std::vector<Json>& params = {});
  // The first column of the first row. Errors: NotFound if there is no row; as Query.
  absl::StatusOr<Json> Scalar(std::string_view sql, const std::vector<Json>& params = {});
  int64_t LastInsertId() const { return conn_->LastInsertId(); }
  int Changes() const { return conn_->Changes(); }

  // Deletes every row of every data table and resets ids, in one transaction; the schema
  // stays. Errors: storage::SqliteError.
  absl::Status WipeData();

 private:
  explicit Db(std::unique_ptr<storage::Connection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<storage::Connection> conn_;
};

using storage::IsConstraintError;

}  // namespace medperf::server
