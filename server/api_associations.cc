#include "server/api_handlers.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_pagination.h"
#include "server/api_store.h"

namespace medperf::server::internal {

const AssocKind& DatasetKind() {
  static const AssocKind k{&kDatasetAssocs, "dataset", &kDatasets, "dataset_auto_approval_mode",
                           "dataset_auto_approval_allow_list"};
  return k;
}
const AssocKind& ModelKind() {
  static const AssocKind k{&kModelAssocs, "model", &kModels, "model_auto_approval_mode",
                           "model_auto_approval_allow_list"};
  return k;
}

// SQL selecting rows of `assoc_table` that are the latest for their (entity,
// benchmark) pair.
std::string LatestAssocSql(const std::string& assoc_table, const std::string& entity) {
  return absl::StrCat("SELECT a.* FROM ", assoc_table, " a WHERE NOT EXISTS (SELECT 1 FROM ",
                      assoc_table, " b WHERE b.", entity, "=a.", entity,
                      " AND b.benchmark=a.benchmark AND (b.created_at>a.created_at OR "
                      "(b.created_at=a.created_at AND b.id>a.id)))");
}

absl::StatusOr<std::optional<Json>> LatestAssoc(Db& db, const AssocKind& k, int64_t entity,
                                                int64_t benchmark) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query(absl::StrCat("SELECT * FROM ", k.table->name, " WHERE ", k.entity,
                                         "=? AND benchmark=? ORDER BY created_at DESC, id "
                                         "DESC LIMIT 1"),
                            {entity, benchmark}));
  if (rows.empty()) return std::optional<Json>();
  return std::optional<Json>(Decode(*k.table, rows[0]));
}

Result CreateAssoc(Ctx& c, const AssocKind& k) {
  // Permission first (admin, benchmark owner or the entity's owner, read from the
  // body), as the real permission classes run before validation.
  ASSIGN_OR_RETURN(auto bench_owner,
                   OwnerOf(*c.db, kBenchmarks, c.body.value("benchmark", Json())));
  ASSIGN_OR_RETURN(auto entity_owner,
                   OwnerOf(*c.db, *k.entity_table, c.body.value(k.entity, Json())));
  if (!c.user.admin && bench_owner != c.user.id && entity_owner != c.user.id) {
    return Forbidden();
  }
  Errors errors;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, *k.table, c.body, true, {"priority"}, &errors));
  if (!errors.empty()) return BadRequest(errors);
  int64_t entity_id = v[k.entity].get<int64_t>();
  int64_t bench_id = v["benchmark"].get<int64_t>();
  ASSIGN_OR_RETURN(auto b, Load(*c.db, kBenchmarks, bench_id));
  ASSIGN_OR_RETURN(auto e, Load(*c.db, *k.entity_table, entity_id));
  if ((*b)["approval_status"] != "APPROVED") {
    errors.NonField("Association requests can be made only on an approved benchmark");
  }
  if ((*e)["state"] != "OPERATION") {
    errors.NonField(
        absl::StrCat("Association requests can be made only on an operational ", k.entity));
  }
  if (&k == &DatasetKind() && (*e)["data_preparation_mlcube"] != (*b)["data_preparation_mlcube"]) {
    errors.NonField("The specified dataset wasn't prepared for this benchmark");
  }
  if (!errors.empty()) return BadRequest(errors);

  std::string status = v["approval_status"];
  ASSIGN_OR_RETURN(auto last, LatestAssoc(*c.db, k, entity_id, bench_id));
  std::string now = Now();
  v["approved_at"] = nullptr;
  if (!last) {
    if (status != "PENDING") {
      return NonFieldError("User can only create a PENDING association request first");
    }
  } else {
    std::string prev = (*last)["approval_status"];
    if (status == "APPROVED") return NonFieldError("User cannot create an approved association");
    if (status == "PENDING" && prev != "REJECTED") {
      return NonFieldError(absl::StrCat(
          "User can create a new PENDING request only if the previous one was rejected "
          "(it is ",
          prev, ")"));
    }
    if (status == "REJECTED") {
      if (prev != "APPROVED") {
        return NonFieldError(
            "User can create a REJECTED association only if the previous one was approved");
      }
      v["approved_at"] = now;
    }
  }
  if (status == "PENDING") {
    // Auto-approval: same owner on both sides, or the benchmark's policy for requests
    // coming from the other party.
    int64_t owner = (*e)["owner"].get<int64_t>();
    const Json& bj = *b;
    bool approve = false;
    if (owner == bj["owner"].get<int64_t>()) {
      approve = true;
    } else if (c.user.id != bj["owner"].get<int64_t>()) {
      std::string mode = bj[k.mode_field];
      if (mode == "ALWAYS") {
        approve = true;
      } else if (mode == "ALLOWLIST") {
        ASSIGN_OR_RETURN(auto u, LoadUser(*c.db, owner));
        for (const Json& email : bj[k.list_field]) {
          if (u && email.is_string() &&
              absl::EqualsIgnoreCase(email.get<std::string>(), (*u)["email"].get<std::string>())) {
            approve = true;
          }
        }
      }
    }
    if (approve) {
      v["approval_status"] = "APPROVED";
      v["approved_at"] = now;
    }
  }
  v["initiated_by"] = c.user.id;
  v["created_at"] = now;
  v["modified_at"] = now;
  if (&k == &ModelKind()) v["priority"] = 0;
  ASSIGN_OR_RETURN(int64_t id, Insert(*c.db, *k.table, ForStorage(*k.table, v)));
  ASSIGN_OR_RETURN(auto row, Load(*c.db, *k.table, id));
  return ApiResponse{201, *row};
}

Result GetPair(Ctx& c, const AssocKind& k) {
  ASSIGN_OR_RETURN(auto gate, PairGate(c, *k.entity_table));
  if (gate) return *gate;
  ASSIGN_OR_RETURN(auto rows,
                   c.db->Query(absl::StrCat("SELECT approval_status, initiated_by, approved_at, "
                                            "created_at, modified_at FROM ",
                                            k.table->name, " WHERE ", k.entity,
                                            "=? AND benchmark=? ORDER BY created_at, id"),
                               {c.ids[0], c.ids[1]}));
  return ApiResponse{200, Json(rows)};
}

Result PutPair(Ctx& c, const AssocKind& k) {
  ASSIGN_OR_RETURN(auto gate, PairGate(c, *k.entity_table));
  if (gate) return *gate;
  ASSIGN_OR_RETURN(auto b, Load(*c.db, kBenchmarks, c.ids[1]));
  bool is_model = &k == &ModelKind();
  if (is_model && c.body.contains("priority") && !c.user.admin && (*b)["owner"] != c.user.id) {
    return Forbidden();
  }
  ASSIGN_OR_RETURN(auto last, LatestAssoc(*c.db, k, c.ids[0], c.ids[1]));
  if (!last) return NotFound();
  Errors errors;
  Json v = Json::object();
  if (c.body.contains("approval_status")) {
    const Json& s = c.body["approval_status"];
    if (!s.is_string() ||
        std::find(kApproval.begin(), kApproval.end(), s.get<std::string>()) == kApproval.end()) {
      errors.Add("approval_status", absl::StrCat(s.dump(), " is not a valid choice."));
    } else {
      v["approval_status"] = s;
    }
  }
  if (is_model && c.body.contains("priority")) {
    const Json& p = c.body["priority"];
    if (!p.is_number_integer()) {
      errors.Add("priority", "A valid integer is required.");
    } else {
      v["priority"] = p;
    }
  }
  if (!errors.empty()) return BadRequest(errors);
  if (v.contains("approval_status")) {
    std::string to = v["approval_status"];
    if (to == "PENDING")
      return NonFieldError("User can only approve or reject association requests");
    if ((*last)["approval_status"] != "PENDING") {
      return NonFieldError("User can approve or reject only a pending request");
    }
    if (to == "APPROVED" && (*last)["initiated_by"] == c.user.id) {
      return NonFieldError("Same user cannot approve the association request");
    }
    v["approved_at"] = Now();
  }
  RETURN_IF_ERROR(Update(*c.db, *k.table, (*last)["id"].get<int64_t>(), v));
  ASSIGN_OR_RETURN(auto row, Load(*c.db, *k.table, (*last)["id"].get<int64_t>()));
  return ApiResponse{200, *row};
}

Result DeletePair(Ctx& c, const AssocKind& k) {
  if (!c.user.admin) return Forbidden();
  RETURN_IF_ERROR(c.db->Query(absl::StrCat("DELETE FROM ", k.table->name, " WHERE ", k.entity,
                                           "=? AND benchmark=?"),
                              {c.ids[0], c.ids[1]})
                      .status());
  return ApiResponse{204, nullptr};
}

Result EntityAssocs(Ctx& c, const AssocKind& k) {
  ASSIGN_OR_RETURN(auto e, Load(*c.db, *k.entity_table, c.ids[0]));
  if (!c.user.admin && !(e && (*e)["owner"] == c.user.id)) return Forbidden();
  if (!e) return NotFound();
  return Page(c, absl::StrCat("FROM ", k.table->name, " WHERE ", k.entity, "=?"), {c.ids[0]},
              "modified_at, id", "*", [&k](const Json& r) { return Decode(*k.table, r); });
}

Result MyAssocs(Ctx& c, const AssocKind& k) {
  std::string from = absl::StrCat(
      "FROM ", k.table->name, " a WHERE a.", k.entity, " IN (SELECT id FROM ", k.entity_table->name,
      " WHERE owner=?) OR a.benchmark IN (SELECT id FROM benchmarks WHERE "
      "owner=?)");
  return Page(c, from, {c.user.id, c.user.id}, "a.modified_at, a.id", "a.*",
              [&k](const Json& r) { return Decode(*k.table, r); });
}

}  // namespace medperf::server::internal
