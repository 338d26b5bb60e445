// Internal to server/api*.cc: who the caller is (bearer token -> users row) and the
// permission checks shared by several resources. The per-handler owner checks stay in
// the handlers (server/api_handlers.h says which status each gives).
//
// Sources: mlcommons/medperf server/*/permissions.py (IsAdmin, IsBenchmarkOwner,
// IsDatasetOwner, IsMlCubeOwner, IsAssociatedDatasetOwner, ...). DRF evaluates
// permissions before looking the object up, which is why several checks answer 403, not
// 404, for a missing object to non-admins.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/api_internal.h"
#include "server/api_schema.h"
#include "server/sqlite_db.h"

namespace medperf::server::internal {

// The user whose token is in `authorization` ("Bearer <token>"; only the token's SHA-256
// is compared, see TokenHash), or nullopt for a missing, malformed or unknown token
// (Api::Handle answers 401).
absl::StatusOr<std::optional<User>> Authenticate(Db& db, const std::string& authorization);

// The owner id of row `id` of `t`, or nullopt if `id` is not an integer or no such row
// (used on request bodies, before validation, as the real permission classes do).
absl::StatusOr<std::optional<int64_t>> OwnerOf(Db& db, const Table& t, const Json& id);

// Gate for /benchmarks/{id}/<sub-resource>/: admins pass (404 if the benchmark is
// missing); others pass if they own the benchmark or `extra_sql` (parameters: benchmark
// id, user id) returns a row, and get 403 otherwise, also for a missing benchmark (the
// real permission classes return False there). Loads the benchmark into `*b`. Returns
// the refusal, or nullopt to go on.
absl::StatusOr<std::optional<ApiResponse>> BenchmarkGate(Ctx& c, std::optional<Json>* b,
                                                         const std::string& extra_sql);

// Gate for /{datasets,models}/{id}/benchmarks/{bid}/ (ids[0] in `entity_table`, ids[1]
// a benchmark): admin, benchmark owner or entity owner. Missing objects: 404 for
// admins; for others 403 unless they own the other side, then 404. Returns the refusal,
// or nullopt to go on.
absl::StatusOr<std::optional<ApiResponse>> PairGate(Ctx& c, const Table& entity_table);

// Whether the caller sees dataset `d`'s `report`: the dataset's owner or the owner of
// its preparation container, not the admin (mlcommons/medperf server/dataset/views.py,
// DatasetDetail.get).
bool SeesDatasetReport(const Ctx& c, const Json& d);

}  // namespace medperf::server::internal
