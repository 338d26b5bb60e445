// Internal to server/api*.cc: row access on the tables of server/api_schema.h. All
// functions run inside the request's transaction (Api::Handle opens it) and return a
// non-OK status only when SQLite fails (the caller answers 500).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/api_internal.h"
#include "server/api_schema.h"
#include "server/sqlite_db.h"

namespace medperf::server::internal {

// The row `id` of `t`, decoded (Decode), or nullopt.
absl::StatusOr<std::optional<Json>> Load(Db& db, const Table& t, int64_t id);
// True if `table` has a row with this id.
absl::StatusOr<bool> Exists(Db& db, const char* table, int64_t id);
// Inserts `values` (already ForStorage'd; any "id" key is ignored) and returns the new
// id; `explicit_id` > 0 forces the id (a model sharing its container's id).
absl::StatusOr<int64_t> Insert(Db& db, const Table& t, const Json& values, int64_t explicit_id = 0);
// Sets `changes` (already ForStorage'd) on row `id`; `touch` also sets modified_at = Now().
absl::Status Update(Db& db, const Table& t, int64_t id, Json changes, bool touch = true);
// Adds "<verbose> with this name already exists." to `errors` if `values` has a string
// `name` used by another row (id != except_id) of `t` (the real models' unique names).
absl::Status CheckName(Db& db, const Table& t, const Json& values, int64_t except_id,
                       Errors* errors);
// The raw users row `id` (columns id, username, email, is_admin, metadata, ...), or nullopt.
absl::StatusOr<std::optional<Json>> LoadUser(Db& db, int64_t id);
// Deletes row `id` of `table`: 204; 404 if absent; 409 if other rows still refer to it
// (our deliberate difference: the real server cascades or protects per relation).
Result DeleteRow(Db& db, const char* table, int64_t id);

}  // namespace medperf::server::internal
