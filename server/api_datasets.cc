#include "server/api_handlers.h"

#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_pagination.h"
#include "server/api_store.h"

namespace medperf::server::internal {

Result ListDatasets(Ctx& c) {
  // The real view declares no filters: query parameters are ignored.
  return Page(c, "FROM datasets", {}, "modified_at, id", "*",
              [](const Json& r) { return RenderDataset(Decode(kDatasets, r), false); });
}

Result MyDatasets(Ctx& c) {
  return Page(c, "FROM datasets WHERE owner=?", {c.user.id}, "modified_at, id", "*",
              [](const Json& r) { return RenderDataset(Decode(kDatasets, r), true); });
}

Result CreateDataset(Ctx& c) {
  Errors errors;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kDatasets, c.body, true, {"state"}, &errors));
  if (!errors.empty()) return BadRequest(errors);
  std::string now = Now();
  v["state"] = "DEVELOPMENT";
  v["owner"] = c.user.id;
  v["created_at"] = now;
  v["modified_at"] = now;
  ASSIGN_OR_RETURN(int64_t id, Insert(*c.db, kDatasets, ForStorage(kDatasets, v)));
  ASSIGN_OR_RETURN(auto row, Load(*c.db, kDatasets, id));
  return ApiResponse{201, *row};
}

Result GetDataset(Ctx& c) {
  ASSIGN_OR_RETURN(auto d, Load(*c.db, kDatasets, c.ids[0]));
  if (!d) return NotFound();
  return ApiResponse{200, RenderDataset(*d, SeesDatasetReport(c, *d))};
}

Result PutDataset(Ctx& c) {
  ASSIGN_OR_RETURN(auto cur, Load(*c.db, kDatasets, c.ids[0]));
  if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
  if (!cur) return NotFound();
  Errors errors;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kDatasets, c.body, false, {}, &errors));
  if (!errors.empty()) return BadRequest(errors);
  if ((*cur)["state"] == "OPERATION" && ChangesOtherThan(*cur, v, {"is_valid", "user_metadata"})) {
    return NonFieldError(kNotEditableInOperation);
  }
  Json merged = *cur;
  merged.update(v);
  if (merged["state"] == "OPERATION" && (*cur)["state"] != "OPERATION") {
    ASSIGN_OR_RETURN(auto twins, c.db->Query("SELECT 1 FROM datasets WHERE generated_uid=? AND "
                                             "state='OPERATION' AND id<>?",
                                             {merged["generated_uid"], c.ids[0]}));
    if (!twins.empty()) {
      return NonFieldError(
          "A dataset with the same generated_uid is already in operation; a dataset can be "
          "registered only once");
    }
  }
  RETURN_IF_ERROR(Update(*c.db, kDatasets, c.ids[0], ForStorage(kDatasets, v)));
  ASSIGN_OR_RETURN(cur, Load(*c.db, kDatasets, c.ids[0]));
  return ApiResponse{200, *cur};
}

}  // namespace medperf::server::internal
