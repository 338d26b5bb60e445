#include "server/api_auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "server/api_store.h"

namespace medperf::server {

std::string TokenHash(const std::string& token) { return medperf::Sha256Hex(token); }

namespace internal {

absl::StatusOr<std::optional<User>> Authenticate(Db& db, const std::string& header) {
  std::string token;
  if (absl::StartsWith(header, "Bearer ")) {
    token = std::string(absl::StripAsciiWhitespace(header.substr(7)));
  }
  if (token.empty()) return std::optional<User>();
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT id, email, is_admin FROM users WHERE "
                                       "token_hash=?",
                                       {TokenHash(token)}));
  if (rows.empty()) return std::optional<User>();
  User u;
  u.id = rows[0]["id"].get<int64_t>();
  u.email = rows[0]["email"].get<std::string>();
  u.admin = rows[0]["is_admin"].get<int64_t>() != 0;
  return std::optional<User>(u);
}

absl::StatusOr<std::optional<int64_t>> OwnerOf(Db& db, const Table& t, const Json& id) {
  if (!id.is_number_integer()) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(auto row, Load(db, t, id.get<int64_t>()));
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>((*row)["owner"].get<int64_t>());
}

// For benchmark sub-resources: the real permission classes return False for a
// missing benchmark, so non-admins get 403 there; admins get 404.
absl::StatusOr<std::optional<ApiResponse>> BenchmarkGate(Ctx& c, std::optional<Json>* b,
                                                         const std::string& extra_sql) {
  ASSIGN_OR_RETURN(*b, Load(*c.db, kBenchmarks, c.ids[0]));
  if (c.user.admin) {
    if (!*b) return std::optional<ApiResponse>(NotFound());
    return std::optional<ApiResponse>();
  }
  if (!*b) return std::optional<ApiResponse>(Forbidden());
  if ((**b)["owner"] == c.user.id) return std::optional<ApiResponse>();
  if (!extra_sql.empty()) {
    ASSIGN_OR_RETURN(auto rows, c.db->Query(extra_sql, {c.ids[0], c.user.id}));
    if (!rows.empty()) return std::optional<ApiResponse>();
  }
  return std::optional<ApiResponse>(Forbidden());
}

// Admin, benchmark owner or entity owner; missing objects fail the permission for
// non-admins (403) and give 404 to admins.
absl::StatusOr<std::optional<ApiResponse>> PairGate(Ctx& c, const Table& entity_table) {
  ASSIGN_OR_RETURN(auto e, Load(*c.db, entity_table, c.ids[0]));
  ASSIGN_OR_RETURN(auto b, Load(*c.db, kBenchmarks, c.ids[1]));
  if (c.user.admin) {
    if (!e || !b) return std::optional<ApiResponse>(NotFound());
    return std::optional<ApiResponse>();
  }
  if (!(e && (*e)["owner"] == c.user.id) && !(b && (*b)["owner"] == c.user.id)) {
    return std::optional<ApiResponse>(Forbidden());
  }
  if (!e || !b) return std::optional<ApiResponse>(NotFound());
  return std::optional<ApiResponse>();
}

bool SeesDatasetReport(const Ctx& c, const Json& d) {
  // Not the admin: the real view picks the serializer by ownership alone.
  if (d["owner"] == c.user.id) return true;
  auto prep = Load(*c.db, kContainers, d["data_preparation_mlcube"].get<int64_t>());
  return prep.ok() && prep->has_value() && (**prep)["owner"] == c.user.id;
}

}  // namespace internal
}  // namespace medperf::server
