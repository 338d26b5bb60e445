// The numbered-migration runner shared by medperfd's state database (storage/state_schema.h)
// and medperf-server's database (server/sqlite_db.h).
//
// A schema is a list of steps; step N takes the database from version N-1 to N. The version
// is recorded in the database header (PRAGMA user_version; 0 for a new file), and each step
// and its version bump commit in one transaction, so a crash or a failing step never leaves
// a half-applied schema. Steps are appended, never edited: deployed databases have applied
// them.
#pragma once

#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/sqlite.h"

namespace medperf::storage {

struct Migration {
  int version;              // 1 for the first step, then consecutive
  const char* description;  // named in errors
  const char* sql;          // one or more statements
};

// The schema version recorded in `conn`'s database: 0 for a database no step has run on.
// Errors: SqliteError.
absl::StatusOr<int> SchemaVersion(Connection& conn);

// Applies every step of `steps` above the database's version, up to version `up_to` (all
// when negative; tests use it to build each earlier schema), each in its own transaction.
// `program` ("medperfd", "medperf-server") names the binary in the newer-database error.
// Errors, each naming the database file:
//   FailedPrecondition: the database's version is above the last step's (written by a newer
//     program); nothing is changed, so a downgrade cannot corrupt it.
//   the failing step's SQLite error, prefixed with the step's number and description; that
//     step is rolled back and the version stays at the step before it.
//   Internal: `steps` is not numbered 1, 2, 3... (a programming error; nothing is applied).
absl::Status Migrate(Connection& conn, std::span<const Migration> steps, std::string_view program,
                     int up_to = -1);

}  // namespace medperf::storage
