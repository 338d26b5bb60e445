#include "server/api_handlers.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_pagination.h"
#include "server/api_store.h"

namespace medperf::server::internal {

namespace {

// The three components must be OPERATION for an OPERATION benchmark.
absl::Status CheckComponentsOperational(Db& db, const Json& b, Errors* errors) {
  struct C {
    const char* field;
    const Table* table;
    const char* label;
  };
  for (const C& comp : {C{"data_preparation_mlcube", &kContainers, "data preparation container"},
                        C{"reference_model", &kModels, "reference model"},
                        C{"data_evaluator_mlcube", &kContainers, "evaluator container"}}) {
    if (!b.contains(comp.field) || !b[comp.field].is_number_integer()) continue;
    ASSIGN_OR_RETURN(auto row, Load(db, *comp.table, b[comp.field].get<int64_t>()));
    if (row && (*row)["state"] != "OPERATION") {
      errors->NonField(absl::StrCat("Could not mark benchmark as operational: its ", comp.label,
                                    " is in DEVELOPMENT"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Result ListBenchmarks(Ctx& c) {
  std::string where = "FROM benchmarks WHERE 1=1";
  std::vector<Json> params;
  if (auto bad = Filters(c, kBenchmarks,
                         {"name", "owner", "state", "is_valid", "is_active", "approval_status",
                          "data_preparation_mlcube"},
                         &where, &params)) {
    return *bad;
  }
  return Page(c, where, params, "modified_at, id", "*",
              [](const Json& row) { return RenderBenchmark(Decode(kBenchmarks, row), false); });
}

Result MyBenchmarks(Ctx& c) {
  return Page(c, "FROM benchmarks WHERE owner=?", {c.user.id}, "modified_at, id", "*",
              [](const Json& row) { return RenderBenchmark(Decode(kBenchmarks, row), true); });
}

Result CreateBenchmark(Ctx& c) {
  Errors errors;
  ASSIGN_OR_RETURN(Json v,
                   Validate(*c.db, kBenchmarks, c.body, true, {"approval_status"}, &errors));
  RETURN_IF_ERROR(CheckName(*c.db, kBenchmarks, v, 0, &errors));
  if (!errors.empty()) return BadRequest(errors);
  ASSIGN_OR_RETURN(auto pending, c.db->Query("SELECT 1 FROM benchmarks WHERE owner=? AND "
                                             "approval_status='PENDING'",
                                             {c.user.id}));
  if (!pending.empty()) return NonFieldError("User can own at most one pending benchmark");
  if (v["state"] == "OPERATION") {
    RETURN_IF_ERROR(CheckComponentsOperational(*c.db, v, &errors));
    if (!errors.empty()) return BadRequest(errors);
  }
  const auto& auto_list = c.options.auto_approve_benchmarks_from;
  bool auto_approve =
      std::find(auto_list.begin(), auto_list.end(), c.user.email) != auto_list.end();
  v["approval_status"] = auto_approve ? "APPROVED" : "PENDING";
  std::string now = Now();
  v["owner"] = c.user.id;
  v["created_at"] = now;
  v["modified_at"] = now;
  ASSIGN_OR_RETURN(int64_t id, Insert(*c.db, kBenchmarks, ForStorage(kBenchmarks, v)));
  ASSIGN_OR_RETURN(auto row, Load(*c.db, kBenchmarks, id));
  return ApiResponse{201, RenderBenchmark(*row, true)};
}

Result GetBenchmark(Ctx& c) {
  ASSIGN_OR_RETURN(auto b, Load(*c.db, kBenchmarks, c.ids[0]));
  if (!b) return NotFound();
  // The owner alone, not the admin (mlcommons/medperf server/benchmark/views.py,
  // BenchmarkDetail.get); the allow lists are left out for everyone else.
  bool full = (*b)["owner"] == c.user.id;
  return ApiResponse{200, RenderBenchmark(*b, full)};
}

Result PutBenchmark(Ctx& c) {
  ASSIGN_OR_RETURN(auto b, Load(*c.db, kBenchmarks, c.ids[0]));
  if (!c.user.admin && !(b && (*b)["owner"] == c.user.id)) return Forbidden();
  // Approval is the admin's alone, even for the benchmark's owner.
  if (c.body.contains("approval_status") && !c.user.admin) return Forbidden();
  if (!b) return NotFound();
  Errors errors;
  ASSIGN_OR_RETURN(Json v, Validate(*c.db, kBenchmarks, c.body, false, {}, &errors));
  RETURN_IF_ERROR(CheckName(*c.db, kBenchmarks, v, c.ids[0], &errors));
  if (!errors.empty()) return BadRequest(errors);
  const Json& cur = *b;
  if (cur["state"] == "OPERATION" &&
      ChangesOtherThan(
          cur, v,
          {"is_valid", "is_active", "user_metadata", "approval_status", "demo_dataset_tarball_url",
           "dataset_auto_approval_allow_list", "model_auto_approval_allow_list",
           "dataset_auto_approval_mode", "model_auto_approval_mode"})) {
    return NonFieldError(kNotEditableInOperation);
  }
  if (v.contains("approval_status")) {
    const std::string to = v["approval_status"];
    const std::string from = cur["approval_status"];
    if (to == "PENDING") return NonFieldError("User can only approve or reject a benchmark");
    if (from == "REJECTED" && to == "APPROVED") {
      return NonFieldError("User can approve only a pending request");
    }
    if (from == "PENDING" && to != from) v["approved_at"] = Now();
  }
  Json merged = cur;
  merged.update(v);
  if (merged["state"] == "OPERATION" && cur["state"] != "OPERATION") {
    RETURN_IF_ERROR(CheckComponentsOperational(*c.db, merged, &errors));
    if (!errors.empty()) return BadRequest(errors);
  }
  RETURN_IF_ERROR(Update(*c.db, kBenchmarks, c.ids[0], ForStorage(kBenchmarks, v)));
  ASSIGN_OR_RETURN(b, Load(*c.db, kBenchmarks, c.ids[0]));
  return ApiResponse{200, RenderBenchmark(*b, true)};
}

Result BenchmarkModels(Ctx& c) {
  std::optional<Json> b;
  ASSIGN_OR_RETURN(
      auto gate,
      BenchmarkGate(c, &b,
                    absl::StrCat("SELECT 1 FROM (", LatestAssocSql("benchmark_datasets", "dataset"),
                                 ") l JOIN datasets d ON d.id=l.dataset WHERE "
                                 "l.benchmark=? AND d.owner=? AND "
                                 "l.approval_status='APPROVED'")));
  if (gate) return *gate;
  return Page(c, "FROM benchmark_models WHERE benchmark=?", {c.ids[0]}, "priority DESC, id",
              "model, approval_status, created_at", [](const Json& r) { return r; });
}

Result BenchmarkDatasets(Ctx& c) {
  std::optional<Json> b;
  ASSIGN_OR_RETURN(
      auto gate,
      BenchmarkGate(c, &b,
                    absl::StrCat("SELECT 1 FROM (", LatestAssocSql("benchmark_models", "model"),
                                 ") l JOIN models m ON m.id=l.model WHERE "
                                 "l.benchmark=? AND m.owner=? AND "
                                 "l.approval_status='APPROVED'")));
  if (gate) return *gate;
  return Page(c, "FROM benchmark_datasets WHERE benchmark=?", {c.ids[0]}, "modified_at, id",
              "dataset, approval_status, created_at", [](const Json& r) { return r; });
}

Result BenchmarkResults(Ctx& c) {
  std::optional<Json> b;
  ASSIGN_OR_RETURN(auto gate, BenchmarkGate(c, &b, ""));
  if (gate) return *gate;
  return Page(c, "FROM results WHERE benchmark=?", {c.ids[0]}, "modified_at, id", "*",
              [](const Json& r) { return Decode(kResults, r); });
}

Result ParticipantsInfo(Ctx& c) {
  std::optional<Json> b;
  ASSIGN_OR_RETURN(auto gate, BenchmarkGate(c, &b, ""));
  if (gate) return *gate;
  std::string from =
      absl::StrCat("FROM (", LatestAssocSql("benchmark_datasets", "dataset"),
                   ") l JOIN datasets d ON d.id=l.dataset JOIN users u ON u.id=d.owner "
                   "WHERE l.benchmark=? AND l.approval_status='APPROVED'");
  return Page(c, from, {c.ids[0]}, "d.id",
              "d.id AS id, u.id AS uid, u.username AS username, u.email AS email, u.metadata "
              "AS metadata",
              [](const Json& r) {
                Json user{{"id", r["uid"]},
                          {"username", r["username"]},
                          {"email", r["email"]},
                          {"metadata", r["metadata"]}};
                return Json{{"id", r["id"]}, {"owner", RenderUser(user)}};
              });
}

}  // namespace medperf::server::internal
