#include "server/api_handlers.h"

#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_pagination.h"
#include "server/api_store.h"

namespace medperf::server::internal {

Result ListResults(Ctx& c) {
  if (!c.user.admin) return Forbidden();
  std::string where = "FROM results WHERE 1=1";
  std::vector<Json> params;
  if (auto bad =
          Filters(c, kResults,
                  {"name", "owner", "benchmark", "model", "dataset", "is_valid", "approval_status"},
                  &where, &params)) {
    return *bad;
  }
  return Page(c, where, params, "modified_at, id", "*",
              [](const Json& r) { return Decode(kResults, r); });
}

Result MyResults(Ctx& c) {
  return Page(c, "FROM results WHERE owner=?", {c.user.id}, "modified_at, id", "*",
              [](const Json& r) { return Decode(kResults, r); });
}

Result CreateResult(Ctx& c) {
  ASSIGN_OR_RETURN(auto dataset_owner, OwnerOf(*c.db, kDatasets, c.body.value("dataset", Json())));
  if (!c.user.admin && dataset_owner != c.user.id) return Forbidden();
  Errors errors;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kResults, c.body, true, {"approval_status"}, &errors));
  if (!errors.empty()) return BadRequest(errors);
  ASSIGN_OR_RETURN(auto b, Load(*c.db, kBenchmarks, v["benchmark"].get<int64_t>()));
  int64_t model = v["model"].get<int64_t>();
  int64_t dataset = v["dataset"].get<int64_t>();
  // The reference model needs no association: data owners run it before asking to
  // join (the compatibility test of `dataset associate`).
  if ((*b)["reference_model"] != model) {
    ASSIGN_OR_RETURN(auto ma, LatestAssoc(*c.db, ModelKind(), model, (*b)["id"].get<int64_t>()));
    ASSIGN_OR_RETURN(auto da,
                     LatestAssoc(*c.db, DatasetKind(), dataset, (*b)["id"].get<int64_t>()));
    if (!ma) {
      errors.NonField("Model must be associated to the benchmark");
    } else if ((*ma)["approval_status"] != "APPROVED") {
      errors.NonField("Model-Benchmark association must be approved");
    }
    if (!da) {
      errors.NonField("Dataset must be associated to the benchmark");
    } else if ((*da)["approval_status"] != "APPROVED") {
      errors.NonField("Dataset-Benchmark association must be approved");
    }
    if (!errors.empty()) return BadRequest(errors);
  }
  std::string now = Now();
  v["owner"] = c.user.id;
  v["approval_status"] = "PENDING";
  v["finalized"] = false;
  v["created_at"] = now;
  v["modified_at"] = now;
  ASSIGN_OR_RETURN(int64_t id, Insert(*c.db, kResults, ForStorage(kResults, v)));
  ASSIGN_OR_RETURN(auto row, Load(*c.db, kResults, id));
  return ApiResponse{201, *row};
}

namespace {

absl::StatusOr<std::optional<int64_t>> DatasetOwnerOfResult(Db& db, const Json& r) {
  return OwnerOf(db, kDatasets, r["dataset"]);
}

}  // namespace

Result GetResult(Ctx& c) {
  ASSIGN_OR_RETURN(auto r, Load(*c.db, kResults, c.ids[0]));
  if (!c.user.admin) {
    // An unknown id is a 403 here, as on the real server.
    if (!r) return Forbidden();
    ASSIGN_OR_RETURN(auto dataset_owner, DatasetOwnerOfResult(*c.db, *r));
    ASSIGN_OR_RETURN(auto bench_owner, OwnerOf(*c.db, kBenchmarks, (*r)["benchmark"]));
    if (dataset_owner != c.user.id && bench_owner != c.user.id) return Forbidden();
  }
  if (!r) return NotFound();
  return ApiResponse{200, *r};
}

Result PutResult(Ctx& c) {
  ASSIGN_OR_RETURN(auto r, Load(*c.db, kResults, c.ids[0]));
  if (!c.user.admin) {
    if (!r) return Forbidden();
    ASSIGN_OR_RETURN(auto dataset_owner, DatasetOwnerOfResult(*c.db, *r));
    if (dataset_owner != c.user.id) return Forbidden();
  }
  if (!r) return NotFound();
  if ((*r)["finalized"] == true) {
    return NonFieldError("User cannot update a result object after it's been finalized.");
  }
  Errors errors;
  ASSIGN_OR_RETURN(
      Json v, Validate(*c.db, kResults, c.body, false, {"benchmark", "model", "dataset"}, &errors));
  if (!errors.empty()) return BadRequest(errors);
  std::string now = Now();
  if (v.contains("results")) {
    v["finalized"] = true;
    v["finalized_at"] = now;
  }
  if (v.contains("approval_status") && v["approval_status"] != (*r)["approval_status"]) {
    v["approved_at"] = v["approval_status"] == "PENDING" ? Json(nullptr) : Json(now);
  }
  RETURN_IF_ERROR(Update(*c.db, kResults, c.ids[0], ForStorage(kResults, v)));
  ASSIGN_OR_RETURN(r, Load(*c.db, kResults, c.ids[0]));
  return ApiResponse{200, *r};
}

}  // namespace medperf::server::internal
