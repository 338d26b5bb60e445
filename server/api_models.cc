#include "server/api_handlers.h"

#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_pagination.h"
#include "server/api_store.h"

namespace medperf::server::internal {

Result ListModels(Ctx& c) {
  std::string where = "FROM models WHERE 1=1";
  std::vector<Json> params;
  if (auto bad = Filters(c, kModels, {"type"}, &where, &params)) return *bad;
  absl::Status status;
  Result r = Page(c, where, params, "modified_at, id", "*", ModelRenderer(*c.db, &status));
  if (!status.ok()) return status;
  return r;
}

Result MyModels(Ctx& c) {
  absl::Status status;
  Result r = Page(c, "FROM models WHERE owner=?", {c.user.id}, "modified_at, id", "*",
                  ModelRenderer(*c.db, &status));
  if (!status.ok()) return status;
  return r;
}

Result CreateModel(Ctx& c) {
  Errors errors;
  ASSIGN_OR_RETURN(Json m, Validate(*c.db, kModels, c.body, true, {}, &errors));
  RETURN_IF_ERROR(CheckName(*c.db, kModels, m, 0, &errors));
  if (!errors.empty()) return BadRequest(errors);
  if (m["type"] == "ASSET") {
    return BadRequest("type", "ASSET models are not supported by this server");
  }
  const Json container = c.body.value("container", Json(nullptr));
  if (!container.is_object()) {
    return BadRequest("container", container.is_null() ? "A CONTAINER model requires a container"
                                                       : "Invalid data. Expected a dictionary.");
  }
  Errors cerr;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kContainers, container, true, {}, &cerr));
  RETURN_IF_ERROR(CheckName(*c.db, kContainers, v, 0, &cerr));
  if (cerr.empty()) RETURN_IF_ERROR(CheckContainer(*c.db, v, 0, &cerr));
  if (!cerr.empty()) {
    errors.Nest("container", cerr.json());
    return BadRequest(errors);
  }
  if (m["state"] != v["state"]) {
    return NonFieldError("Model state must match the state of its container");
  }
  if (m["is_valid"] != v["is_valid"]) {
    return NonFieldError("Model is_valid must match is_valid of its container");
  }
  ASSIGN_OR_RETURN(int64_t id, InsertContainer(c, v, &m));
  ASSIGN_OR_RETURN(auto rows, c.db->Query("SELECT * FROM models WHERE id=?", {id}));
  ASSIGN_OR_RETURN(Json out, RenderModel(*c.db, rows[0]));
  return ApiResponse{201, out};
}

Result GetModel(Ctx& c) {
  ASSIGN_OR_RETURN(auto rows, c.db->Query("SELECT * FROM models WHERE id=?", {c.ids[0]}));
  if (rows.empty()) return NotFound();
  ASSIGN_OR_RETURN(Json m, RenderModel(*c.db, rows[0]));
  return ApiResponse{200, m};
}

Result PutModel(Ctx& c) {
  ASSIGN_OR_RETURN(auto cur, Load(*c.db, kModels, c.ids[0]));
  if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
  if (!cur) return NotFound();
  Errors errors;
  // The type and the wrapped container are fixed once created.
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kModels, c.body, false, {"type"}, &errors));
  RETURN_IF_ERROR(CheckName(*c.db, kModels, v, c.ids[0], &errors));
  if (!errors.empty()) return BadRequest(errors);
  if ((*cur)["state"] == "OPERATION" && ChangesOtherThan(*cur, v, {"is_valid", "user_metadata"})) {
    return NonFieldError(kNotEditableInOperation);
  }
  RETURN_IF_ERROR(Update(*c.db, kModels, c.ids[0], ForStorage(kModels, v)));
  Json container_changes = Json::object();
  for (const char* f : {"state", "is_valid"}) {
    if (v.contains(f)) container_changes[f] = v[f];
  }
  if (!container_changes.empty()) {
    RETURN_IF_ERROR(Update(*c.db, kContainers, c.ids[0], container_changes));
  }
  return GetModel(c);
}

Result DeleteModel(Ctx& c) {
  if (!c.user.admin) return Forbidden();
  ASSIGN_OR_RETURN(bool exists, Exists(*c.db, "models", c.ids[0]));
  if (!exists) return NotFound();
  return DeleteRow(*c.db, "models", c.ids[0]);
}

}  // namespace medperf::server::internal
