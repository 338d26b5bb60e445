// The schema of medperfd's state database (state.db), as numbered migrations for the
// shared runner (storage/migrations.h).
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "storage/migrations.h"
#include "storage/sqlite.h"

namespace medperf::storage {

// Every step, in order (step N takes the schema from version N-1 to N).
const std::vector<Migration>& StateMigrations();
int LatestStateVersion();

// Brings `conn`'s state database to version `up_to` (the latest when negative).
// A state.db from medperfd before version 3 recorded its version in a one-row table
// `schema_version` and left PRAGMA user_version at 0: that version is carried over first
// (step 3 then drops the table). Errors: DataLoss naming the file if that table is empty or
// holds a version medperfd never wrote there; otherwise those of Migrate (a newer database
// is refused untouched, a failing step is rolled back).
absl::Status MigrateState(Connection& conn, int up_to = -1);

}  // namespace medperf::storage
