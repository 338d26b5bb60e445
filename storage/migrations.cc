#include "storage/migrations.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace medperf::storage {

absl::StatusOr<int> SchemaVersion(Connection& conn) {
  ASSIGN_OR_RETURN(Statement q, conn.Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? static_cast<int>(q.Int(0)) : 0;
}

absl::Status Migrate(Connection& conn, std::span<const Migration> steps, std::string_view program,
                     int up_to) {
  const std::string file = conn.path().string();
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].version != static_cast<int>(i + 1)) {
      return absl::InternalError(absl::StrCat(file, ": migration '", steps[i].description,
                                              "' is numbered ", steps[i].version, ", expected ",
                                              i + 1, "; refusing to migrate"));
    }
  }
  const int latest = static_cast<int>(steps.size());
  const int target = up_to < 0 ? latest : std::min(up_to, latest);
  ASSIGN_OR_RETURN(int current, SchemaVersion(conn));
  if (current > latest) {
    return absl::FailedPreconditionError(absl::StrCat(
        file, ": database schema version ", current, " is newer than this ",
        absl::string_view(program.data(), program.size()), " supports (", latest, "); upgrade ",
        absl::string_view(program.data(), program.size()), " or restore a backup of the database"));
  }
  for (int v = current + 1; v <= target; ++v) {
    const Migration& m = steps[v - 1];
    Transaction tx(conn);
    absl::Status st = tx.status();
    // PRAGMA user_version is transactional: it rolls back with the step.
    if (st.ok()) st = conn.Exec(m.sql);
    if (st.ok()) st = conn.Exec(absl::StrCat("PRAGMA user_version = ", m.version));
    if (st.ok()) st = tx.Commit();
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat(file, ": migration ", m.version, " (",
                                                  m.description, ") failed: ", st.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace medperf::storage
