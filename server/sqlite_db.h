// A thin SQLite wrapper for medperf-server: JSON values in and out, numbered schema
// migrations, WAL, foreign keys and a busy timeout.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace medperf::server {

using Json = nlohmann::json;

class Db {
 public:
  // Opens (creating if needed) the database and applies pending migrations.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::filesystem::path& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  absl::Status Exec(const std::string& sql);
  // Runs one statement. Parameters: null, integers, booleans (0/1), floats, strings;
  // objects/arrays are bound as their JSON text. Each row is an object keyed by column
  // name holding integers, floats, strings or null.
  absl::StatusOr<std::vector<Json>> Query(const std::string& sql,
                                          const std::vector<Json>& params = {});
  // The first column of the first row, or an error if there is no row.
  absl::StatusOr<Json> Scalar(const std::string& sql, const std::vector<Json>& params = {});
  int64_t LastInsertId() const;
  int Changes() const;

  int schema_version() const { return schema_version_; }
  // Deletes every row of every data table and resets ids; the schema stays.
  absl::Status WipeData();

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  absl::Status Migrate();
  absl::Status Error(const std::string& what) const;

  sqlite3* db_;
  int schema_version_ = 0;
};

// True if the status came from a violated UNIQUE/FOREIGN KEY/CHECK constraint.
bool IsConstraintError(const absl::Status& s);

}  // namespace medperf::server
