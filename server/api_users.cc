#include "server/api_handlers.h"

#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_pagination.h"
#include "server/api_store.h"

namespace medperf::server::internal {

Result Me(Ctx& c) {
  ASSIGN_OR_RETURN(auto row, LoadUser(*c.db, c.user.id));
  if (!row) return NotFound();
  return ApiResponse{200, RenderUser(*row)};
}

Result ListUsers(Ctx& c) {
  if (!c.user.admin) return Forbidden();
  return Page(c, "FROM users", {}, "id", "*", [](const Json& row) { return RenderUser(row); });
}

Result GetUser(Ctx& c) {
  int64_t id = c.ids[0];
  ASSIGN_OR_RETURN(auto row, LoadUser(*c.db, id));
  if (!c.user.admin && c.user.id != id) {
    // The owner of a preparation container may look up the users whose datasets it
    // prepares (the real IsOwnerOfUsedMLCube).
    ASSIGN_OR_RETURN(auto rows,
                     c.db->Query("SELECT 1 FROM datasets d JOIN containers m ON "
                                 "d.data_preparation_mlcube=m.id WHERE d.owner=? AND m.owner=?",
                                 {id, c.user.id}));
    if (rows.empty()) return Forbidden();
  }
  if (!row) return NotFound();
  return ApiResponse{200, RenderUser(*row)};
}

Result PutUser(Ctx& c) {
  int64_t id = c.ids[0];
  if (!c.user.admin && c.user.id != id) return Forbidden();
  ASSIGN_OR_RETURN(auto row, LoadUser(*c.db, id));
  if (!row) return NotFound();
  if (c.body.contains("metadata")) {
    if (!c.body["metadata"].is_object()) return BadRequest("metadata", "Expected a dictionary.");
    RETURN_IF_ERROR(
        c.db->Query("UPDATE users SET metadata=? WHERE id=?", {c.body["metadata"].dump(), id})
            .status());
  }
  ASSIGN_OR_RETURN(row, LoadUser(*c.db, id));
  return ApiResponse{200, RenderUser(*row)};
}

Result GetUserMetadata(Ctx& c) {
  ASSIGN_OR_RETURN(auto row, LoadUser(*c.db, c.ids[0]));
  if (!row) return NotFound();
  return ApiResponse{200, Json{{"metadata", RenderUser(*row)["metadata"]}}};
}

}  // namespace medperf::server::internal
