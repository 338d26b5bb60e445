// Numbered schema migrations of the daemon's state database.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/sqlite.h"

namespace medperf::storage {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// All migrations, in order; migration N takes the schema from version N-1 to N.
const std::vector<Migration>& AllMigrations();
int LatestSchemaVersion();

// 0 for a database that has never been migrated.
absl::StatusOr<int> CurrentSchemaVersion(Connection& conn);

// Applies every migration above the current version, each in its own transaction.
// Refuses a database newer than this binary knows, so a downgrade never corrupts it.
// `up_to` limits the target version (tests use it to build every earlier schema).
absl::Status Migrate(Connection& conn, int up_to = -1);

}  // namespace medperf::storage
