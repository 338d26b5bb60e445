#include "server/api_handlers.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_pagination.h"
#include "server/api_store.h"

namespace medperf::server::internal {

namespace {

// RenderContainer: a container renders as its stored fields.
Json RenderContainer(const Json& row) { return Decode(kContainers, row); }

bool IsModelConfig(const Json& config) {
  return config.is_object() && config.contains("tasks") && config["tasks"].is_object() &&
         config["tasks"].contains("infer");
}

}  // namespace

absl::Status CheckContainer(Db& db, const Json& merged, int64_t except_id, Errors* errors,
                            const std::string& prefix) {
  std::string url = merged.value("additional_files_tarball_url", "");
  std::string hash = merged.value("additional_files_tarball_hash", "");
  if (!url.empty() && hash.empty()) {
    errors->Add(prefix + "additional_files_tarball_hash", "Additional files require file hash");
  }
  if (url.empty() && !hash.empty()) {
    errors->Add(prefix + "additional_files_tarball_url",
                "Additional files hash was given without a URL");
  }
  if (!merged.contains("container_config")) return absl::OkStatus();
  Json params = merged.value("parameters_config", Json(nullptr));
  ASSIGN_OR_RETURN(
      auto rows, db.Query("SELECT 1 FROM containers WHERE image_hash=? AND "
                          "additional_files_tarball_hash=? AND container_config=? AND "
                          "parameters_config IS ? AND id<>?",
                          {merged.value("image_hash", ""), hash, merged["container_config"].dump(),
                           params.is_null() ? Json(nullptr) : Json(params.dump()), except_id}));
  if (!rows.empty()) {
    errors->NonField(
        "The fields image_hash, additional_files_tarball_hash, container_config, "
        "parameters_config must make a unique set.");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> InsertContainer(Ctx& c, Json v, const Json* model_fields) {
  std::string now = Now();
  v["owner"] = c.user.id;
  v["created_at"] = now;
  v["modified_at"] = now;
  ASSIGN_OR_RETURN(int64_t id, Insert(*c.db, kContainers, ForStorage(kContainers, v)));
  if (model_fields || IsModelConfig(v["container_config"])) {
    Json m = model_fields ? *model_fields
                          : Json{{"name", v["name"]},
                                 {"state", v["state"]},
                                 {"is_valid", v["is_valid"]},
                                 {"metadata", Json::object()},
                                 {"user_metadata", Json::object()},
                                 {"type", "CONTAINER"}};
    m["owner"] = c.user.id;
    m["created_at"] = now;
    m["modified_at"] = now;
    RETURN_IF_ERROR(Insert(*c.db, kModels, ForStorage(kModels, m), id).status());
  }
  return id;
}

Result ListContainers(Ctx& c) {
  std::string where = "FROM containers WHERE 1=1";
  std::vector<Json> params;
  if (auto bad = Filters(c, kContainers, {"name", "owner", "state", "is_valid"}, &where, &params)) {
    return *bad;
  }
  return Page(c, where, params, "modified_at, id", "*",
              [](const Json& r) { return RenderContainer(r); });
}

Result MyContainers(Ctx& c) {
  return Page(c, "FROM containers WHERE owner=?", {c.user.id}, "modified_at, id", "*",
              [](const Json& r) { return RenderContainer(r); });
}

Result CreateContainer(Ctx& c) {
  Errors errors;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kContainers, c.body, true, {}, &errors));
  RETURN_IF_ERROR(CheckName(*c.db, kContainers, v, 0, &errors));
  if (errors.empty()) RETURN_IF_ERROR(CheckContainer(*c.db, v, 0, &errors));
  if (errors.empty() && IsModelConfig(v["container_config"])) {
    // The wrapping model takes the container's name; it must be free too.
    RETURN_IF_ERROR(CheckName(*c.db, kModels, v, 0, &errors));
  }
  if (!errors.empty()) return BadRequest(errors);
  ASSIGN_OR_RETURN(int64_t id, InsertContainer(c, v, nullptr));
  ASSIGN_OR_RETURN(auto row, Load(*c.db, kContainers, id));
  return ApiResponse{201, *row};
}

Result GetContainer(Ctx& c) {
  ASSIGN_OR_RETURN(auto row, Load(*c.db, kContainers, c.ids[0]));
  if (!row) return NotFound();
  return ApiResponse{200, *row};
}

Result PutContainer(Ctx& c) {
  ASSIGN_OR_RETURN(auto cur, Load(*c.db, kContainers, c.ids[0]));
  if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
  if (!cur) return NotFound();
  Errors errors;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kContainers, c.body, false, {}, &errors));
  RETURN_IF_ERROR(CheckName(*c.db, kContainers, v, c.ids[0], &errors));
  if (!errors.empty()) return BadRequest(errors);
  if ((*cur)["state"] == "OPERATION" &&
      ChangesOtherThan(*cur, v, {"is_valid", "user_metadata", "additional_files_tarball_url"})) {
    return NonFieldError(kNotEditableInOperation);
  }
  Json merged = *cur;
  merged.update(v);
  RETURN_IF_ERROR(CheckContainer(*c.db, merged, c.ids[0], &errors));
  if (!errors.empty()) return BadRequest(errors);
  RETURN_IF_ERROR(Update(*c.db, kContainers, c.ids[0], ForStorage(kContainers, v)));
  // Container and model share an id here; keep their lifecycle flags in step.
  Json model_changes = Json::object();
  for (const char* f : {"state", "is_valid"}) {
    if (v.contains(f)) model_changes[f] = v[f];
  }
  if (!model_changes.empty()) {
    ASSIGN_OR_RETURN(bool has_model, Exists(*c.db, "models", c.ids[0]));
    if (has_model) RETURN_IF_ERROR(Update(*c.db, kModels, c.ids[0], model_changes));
  }
  ASSIGN_OR_RETURN(cur, Load(*c.db, kContainers, c.ids[0]));
  return ApiResponse{200, *cur};
}

Result ContainerDatasets(Ctx& c) {
  ASSIGN_OR_RETURN(auto cur, Load(*c.db, kContainers, c.ids[0]));
  if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
  if (!cur) return NotFound();
  return Page(c, "FROM datasets WHERE data_preparation_mlcube=?", {c.ids[0]}, "modified_at, id",
              "*", [](const Json& r) { return RenderDataset(Decode(kDatasets, r), true); });
}

Result ContainerModel(Ctx& c) {
  ASSIGN_OR_RETURN(auto rows,
                   c.db->Query("SELECT * FROM models WHERE id=? AND type='CONTAINER'", {c.ids[0]}));
  if (rows.empty()) return NotFound();
  ASSIGN_OR_RETURN(Json m, RenderModel(*c.db, rows[0]));
  return ApiResponse{200, m};
}

}  // namespace medperf::server::internal
