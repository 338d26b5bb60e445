// Over 600 lines on purpose: it is the checklist itself, one table row per rule.
// The real server's behaviour checklist (reference §8), one named case per rule, each on
// a fresh server seeded with `--demo data`: testbo owns containers 1-3, model 2 and the
// approved OPERATION benchmark 1; testmo owns model 4, approved for benchmark 1.
#include <gtest/gtest.h>

#include <functional>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "tests/server/server_fixture.h"

namespace medperf::testing {
namespace {

using Json = nlohmann::json;

class RulesTest;
struct RuleCase {
  std::string rule;  // "rule N: what"
  std::function<absl::Status(RulesTest&)> act;
  absl::StatusCode expect;
};

void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.rule; }

class RulesTest : public ServerFixture, public ::testing::WithParamInterface<RuleCase> {};

// For checks that are not about a status code: fail with a description.
#define REQUIRE(cond)                                                               \
  do {                                                                              \
    if (!(cond)) return absl::InternalError(absl::StrCat("check failed: ", #cond)); \
  } while (0)

template <typename T>
absl::Status St(const absl::StatusOr<T>& s) {
  return s.status();
}

Result MakeResult(int64_t model, DatasetId dataset) {
  Result r;
  r.benchmark = BenchmarkId(1);
  r.model = ModelId(model);
  r.dataset = dataset;
  return r;
}

const std::vector<RuleCase>& Cases() {
  using C = absl::StatusCode;
  static const std::vector<RuleCase> cases = {
      // --- auth / general ---
      {"rule 1: no token -> 401",
       [](RulesTest& w) { return St(w.ClientWithToken("").ListBenchmarks()); },
       C::kUnauthenticated},
      {"rule 1: unknown token -> 401",
       [](RulesTest& w) { return St(w.ClientWithToken("deadbeef").GetDataset(DatasetId(1))); },
       C::kUnauthenticated},
      {"rule 3: /me/datasets/ lists only the caller's",
       [](RulesTest& w) {
         w.OperationalDataset("mine", kDo);
         w.OperationalDataset("theirs", kMo);
         ASSIGN_OR_RETURN(auto mine, w.As(kDo).ListMyDatasets());
         REQUIRE(mine.size() == 1 && mine[0].name == "ds-mine");
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 4: read-only owner/created_at on POST are ignored",
       [](RulesTest& w) {
         Json body = ToJson(MakeContainer("ro", false));
         body["owner"] = 1;
         body["created_at"] = "1999-01-01T00:00:00Z";
         ASSIGN_OR_RETURN(Json c, w.As(kDo).SendJson("POST", "/mlcubes/", body));
         ASSIGN_OR_RETURN(User me, w.As(kDo).GetMe());
         REQUIRE(c["owner"] == me.id.value());
         REQUIRE(c["created_at"] != "1999-01-01T00:00:00Z");
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 5: DELETE by the owner -> 403",
       [](RulesTest& w) { return St(w.As(kBo).SendJson("DELETE", "/benchmarks/1/", Json())); },
       C::kPermissionDenied},
      {"rule 5: admin DELETE, then the object 404s",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Container c, w.As(kDo).CreateContainer(MakeContainer("gone", false)));
         RETURN_IF_ERROR(
             w.As(kAdmin).SendJson("DELETE", "/mlcubes/" + c.id.str() + "/", Json()).status());
         return St(w.As(kDo).GetContainer(c.id));
       },
       C::kNotFound},
      // --- users ---
      {"rule 6: GET /users/ by a non-admin -> 403",
       [](RulesTest& w) { return St(w.As(kBo).GetAllPages("/users/")); }, C::kPermissionDenied},
      {"rule 7: GET /users/{other} -> 403",
       [](RulesTest& w) { return St(w.As(kMo).GetUser(UserId(4))); }, C::kPermissionDenied},
      {"rule 8: PUT /users/{other} -> 403",
       [](RulesTest& w) {
         return St(w.As(kMo).SendJson("PUT", "/users/4/", Json{{"metadata", Json::object()}}));
       },
       C::kPermissionDenied},
      // --- containers ---
      {"rule 9: duplicate container name -> 400",
       [](RulesTest& w) { return St(w.As(kDo).CreateContainer(MakeContainer("my-prep", false))); },
       C::kInvalidArgument},
      {"rule 10: identical hashes+configs under another name -> 400",
       [](RulesTest& w) {
         Container a = MakeContainer("twin-a", false);
         RETURN_IF_ERROR(w.As(kDo).CreateContainer(a).status());
         a.name = "twin-b";
         return St(w.As(kDo).CreateContainer(a));
       },
       C::kInvalidArgument},
      {"rule 10: differing in parameters_config only -> 201",
       [](RulesTest& w) {
         Container a = MakeContainer("twin-a", false);
         RETURN_IF_ERROR(w.As(kDo).CreateContainer(a).status());
         a.name = "twin-b";
         a.parameters_config = {{"threshold", 0.7}};
         return St(w.As(kDo).CreateContainer(a));
       },
       C::kOk},
      {"rule 9: duplicate model name on POST /models/ -> 400",
       [](RulesTest& w) {
         RETURN_IF_ERROR(w.As(kMo).CreateModel(MakeModel("twin-model")).status());
         Model again = MakeModel("twin-model");
         again.container->name = "twin-model-container";
         again.container->image_hash = "sha256:" + std::string(64, 'c');
         return St(w.As(kMo).CreateModel(again));
       },
       C::kInvalidArgument},
      {"rule 10: POST /models/ whose container repeats another's hashes+configs -> 400",
       [](RulesTest& w) {
         Model a = MakeModel("set-a");
         RETURN_IF_ERROR(w.As(kMo).CreateModel(a).status());
         a.name = "set-b";
         a.container->name = "set-b";
         return St(w.As(kMo).CreateModel(a));
       },
       C::kInvalidArgument},
      {"rule 11: empty image_hash on POST -> 400",
       [](RulesTest& w) {
         Container c = MakeContainer("nohash", false);
         c.image_hash = "";
         return St(w.As(kDo).CreateContainer(c));
       },
       C::kInvalidArgument},
      {"rule 11: clearing image_hash on PUT -> 400",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Container c, w.As(kDo).CreateContainer(
                                           MakeContainer("dev", false, EntityState::kDevelopment)));
         return St(w.As(kDo).UpdateContainer(c.id, Json{{"image_hash", ""}}));
       },
       C::kInvalidArgument},
      {"rule 12: additional files URL without hash -> 400",
       [](RulesTest& w) {
         Container c = MakeContainer("addl", false);
         c.additional_files_tarball_url = "file:///tmp/x.tar.gz";
         return St(w.As(kDo).CreateContainer(c));
       },
       C::kInvalidArgument},
      {"rule 13: container defaults",
       [](RulesTest& w) {
         Json body{{"name", "minimal"},
                   {"container_config", {{"tasks", Json::object()}}},
                   {"image_hash", "sha256:1"}};
         ASSIGN_OR_RETURN(Json c, w.As(kDo).SendJson("POST", "/mlcubes/", body));
         REQUIRE(c["state"] == "DEVELOPMENT" && c["is_valid"] == true);
         REQUIRE(c["metadata"] == Json::object() && c["user_metadata"] == Json::object());
         REQUIRE(c["additional_files_tarball_url"] == "" && c["parameters_config"].is_null());
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 14: OPERATION container name change -> 400",
       [](RulesTest& w) {
         return St(w.As(kBo).UpdateContainer(ContainerId(1), Json{{"name", "renamed"}}));
       },
       C::kInvalidArgument},
      {"rule 14: OPERATION container is_valid/user_metadata change -> 200",
       [](RulesTest& w) {
         return St(w.As(kBo).UpdateContainer(
             ContainerId(1), Json{{"is_valid", false}, {"user_metadata", {{"a", 1}}}}));
       },
       C::kOk},
      {"rule 14: DEVELOPMENT container: everything editable",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Container c, w.As(kDo).CreateContainer(
                                           MakeContainer("dev", false, EntityState::kDevelopment)));
         return St(w.As(kDo).UpdateContainer(
             c.id, Json{{"name", "dev2"}, {"image_hash", "sha256:2"}, {"state", "OPERATION"}}));
       },
       C::kOk},
      {"rule 15: non-owner PUT of a container -> 403",
       [](RulesTest& w) {
         return St(w.As(kDo).UpdateContainer(ContainerId(1), Json{{"is_valid", false}}));
       },
       C::kPermissionDenied},
      {"rule 16: /mlcubes/{id}/datasets/ by a dataset owner -> 403",
       [](RulesTest& w) {
         w.OperationalDataset("d16");
         return St(w.As(kDo).ListContainerDatasets(ContainerId(1)));
       },
       C::kPermissionDenied},
      {"rule 17: unknown container -> 404",
       [](RulesTest& w) { return St(w.As(kDo).GetContainer(ContainerId(4242))); }, C::kNotFound},
      // --- benchmarks ---
      {"rule 18: benchmark defaults on POST",
       [](RulesTest& w) {
         Json body = ToJson(MakeBenchmark("defaults", 1, 2, 3, EntityState::kDevelopment));
         for (const char* f :
              {"description", "docs_url", "metadata", "state", "is_valid", "is_active",
               "dataset_auto_approval_mode", "model_auto_approval_allow_list"}) {
           body.erase(f);
         }
         body["approval_status"] = "APPROVED";  // read-only on POST
         ASSIGN_OR_RETURN(Json b, w.As(kMo).SendJson("POST", "/benchmarks/", body));
         REQUIRE(b["description"] == "" && b["docs_url"] == "" && b["metadata"] == Json::object());
         REQUIRE(b["state"] == "DEVELOPMENT" && b["is_valid"] == true && b["is_active"] == true);
         REQUIRE(b["approval_status"] == "PENDING" && b["approved_at"].is_null());
         REQUIRE(b["dataset_auto_approval_mode"] == "NEVER");
         REQUIRE(b["model_auto_approval_allow_list"] == Json::array());
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 19: duplicate benchmark name -> 400",
       [](RulesTest& w) { return St(w.As(kMo).CreateBenchmark(MakeBenchmark("tutorial_bmk"))); },
       C::kInvalidArgument},
      {"rule 20: a second PENDING benchmark -> 400",
       [](RulesTest& w) {
         RETURN_IF_ERROR(w.As(kMo).CreateBenchmark(MakeBenchmark("first")).status());
         return St(w.As(kMo).CreateBenchmark(MakeBenchmark("second")));
       },
       C::kInvalidArgument},
      {"rule 20: allowed once the previous one is APPROVED",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Benchmark b, w.As(kMo).CreateBenchmark(MakeBenchmark("first")));
         RETURN_IF_ERROR(
             w.As(kAdmin).SetBenchmarkApproval(b.id, ApprovalStatus::kApproved).status());
         return St(w.As(kMo).CreateBenchmark(MakeBenchmark("second")));
       },
       C::kOk},
      {"rule 21: OPERATION benchmark with a DEVELOPMENT component -> 400",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Container c, w.As(kMo).CreateContainer(MakeContainer(
                                           "dev-metrics", false, EntityState::kDevelopment)));
         return St(w.As(kMo).CreateBenchmark(MakeBenchmark("op", 1, 2, c.id.value())));
       },
       C::kInvalidArgument},
      {"rule 22: allow lists hidden from non-owners",
       [](RulesTest& w) {
         RETURN_IF_ERROR(
             w.As(kBo)
                 .UpdateBenchmark(BenchmarkId(1),
                                  Json{{"dataset_auto_approval_allow_list", {"a@b.org"}}})
                 .status());
         ASSIGN_OR_RETURN(Json other, w.As(kDo).GetJson("/benchmarks/1/"));
         ASSIGN_OR_RETURN(Json owner, w.As(kBo).GetJson("/benchmarks/1/"));
         ASSIGN_OR_RETURN(Json list, w.As(kBo).GetJson("/benchmarks/"));
         REQUIRE(!other.contains("dataset_auto_approval_allow_list"));
         REQUIRE(owner["dataset_auto_approval_allow_list"] == Json{"a@b.org"});
         REQUIRE(!list["results"][0].contains("dataset_auto_approval_allow_list"));
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 22: the admin is not sent another's allow lists either",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Json admin, w.As(kAdmin).GetJson("/benchmarks/1/"));
         ASSIGN_OR_RETURN(Json owner, w.As(kBo).GetJson("/benchmarks/1/"));
         REQUIRE(!admin.contains("dataset_auto_approval_allow_list"));
         REQUIRE(!admin.contains("model_auto_approval_allow_list"));
         REQUIRE(owner["model_auto_approval_allow_list"] == Json::array());
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 23: OPERATION benchmark description change -> 400",
       [](RulesTest& w) {
         return St(w.As(kBo).UpdateBenchmark(BenchmarkId(1), Json{{"description", "new"}}));
       },
       C::kInvalidArgument},
      {"rule 23: OPERATION benchmark is_active change -> 200",
       [](RulesTest& w) {
         return St(w.As(kBo).UpdateBenchmark(BenchmarkId(1), Json{{"is_active", false}}));
       },
       C::kOk},
      {"rule 24: the owner cannot PUT approval_status -> 403",
       [](RulesTest& w) {
         return St(w.As(kBo).SetBenchmarkApproval(BenchmarkId(1), ApprovalStatus::kRejected));
       },
       C::kPermissionDenied},
      {"rule 24: a non-owner PUT -> 403",
       [](RulesTest& w) {
         return St(w.As(kDo).UpdateBenchmark(BenchmarkId(1), Json{{"is_active", false}}));
       },
       C::kPermissionDenied},
      {"rule 25: REJECTED -> APPROVED -> 400",
       [](RulesTest& w) {
         RETURN_IF_ERROR(
             w.As(kAdmin).SetBenchmarkApproval(BenchmarkId(1), ApprovalStatus::kRejected).status());
         return St(w.As(kAdmin).SetBenchmarkApproval(BenchmarkId(1), ApprovalStatus::kApproved));
       },
       C::kInvalidArgument},
      {"rule 25: APPROVED -> REJECTED allowed",
       [](RulesTest& w) {
         return St(w.As(kAdmin).SetBenchmarkApproval(BenchmarkId(1), ApprovalStatus::kRejected));
       },
       C::kOk},
      {"rule 26: /benchmarks/{id}/models/ with only a PENDING dataset association -> 403",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d26");
         RETURN_IF_ERROR(
             w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()).status());
         return St(w.As(kDo).ListBenchmarkModels(BenchmarkId(1)));
       },
       C::kPermissionDenied},
      {"rule 26: model rows carry exactly model, approval_status, created_at",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Json page, w.As(kBo).GetJson("/benchmarks/1/models/"));
         REQUIRE(page["results"].size() == 1);
         Json row = page["results"][0];
         REQUIRE(row.size() == 3 && row.contains("model") && row.contains("approval_status") &&
                 row.contains("created_at"));
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 27: /benchmarks/{id}/datasets/ by a dataset owner -> 403",
       [](RulesTest& w) { return St(w.As(kDo).ListBenchmarkDatasets(BenchmarkId(1))); },
       C::kPermissionDenied},
      {"rule 28: participants_info by a model owner -> 403",
       [](RulesTest& w) { return St(w.As(kMo).GetAllPages("/benchmarks/1/participants_info/")); },
       C::kPermissionDenied},
      {"rule 29: unknown benchmark -> 404",
       [](RulesTest& w) { return St(w.As(kDo).GetBenchmark(BenchmarkId(31337))); }, C::kNotFound},
      // --- datasets ---
      {"rule 30: dataset POST is always DEVELOPMENT with defaults",
       [](RulesTest& w) {
         Json body = ToJson(w.MakeDatasetFor("d30", 1));
         body["state"] = "OPERATION";
         body.erase("description");
         body.erase("location");
         ASSIGN_OR_RETURN(Json d, w.As(kDo).SendJson("POST", "/datasets/", body));
         REQUIRE(d["state"] == "DEVELOPMENT" && d["description"] == "" && d["location"] == "");
         REQUIRE(d["is_valid"] == true && d["report"] == Json::object());
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 31: report never in GET /datasets/",
       [](RulesTest& w) {
         w.OperationalDataset("d31");
         ASSIGN_OR_RETURN(Json page, w.As(kDo).GetJson("/datasets/"));
         REQUIRE(page["results"].size() == 1 && !page["results"][0].contains("report"));
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 31: GET /datasets/{id}/ sends the report to its owner and the prep owner only",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d31b");  // testdo's, prepared with testbo's 1
         const std::string path = "/datasets/" + d.id.str() + "/";
         ASSIGN_OR_RETURN(Json owner, w.As(kDo).GetJson(path));
         ASSIGN_OR_RETURN(Json prep_owner, w.As(kBo).GetJson(path));
         ASSIGN_OR_RETURN(Json admin, w.As(kAdmin).GetJson(path));
         ASSIGN_OR_RETURN(Json other, w.As(kMo).GetJson(path));
         REQUIRE(owner.contains("report") && prep_owner.contains("report"));
         REQUIRE(!admin.contains("report") && !other.contains("report"));
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 32: OPERATION dataset name change -> 400",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d32");
         return St(w.As(kDo).UpdateDataset(d.id, Json{{"name", "renamed"}}));
       },
       C::kInvalidArgument},
      {"rule 32: OPERATION dataset report change -> 400",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d32b");
         return St(w.As(kDo).UpdateDataset(d.id, Json{{"report", {{"x", 1}}}}));
       },
       C::kInvalidArgument},
      {"rule 33: two OPERATION datasets with one generated_uid -> 400",
       [](RulesTest& w) {
         w.OperationalDataset("same", kDo);
         ASSIGN_OR_RETURN(Dataset d, w.As(kMo).CreateDataset(w.MakeDatasetFor("same", 1)));
         return St(w.As(kMo).UpdateDataset(d.id, Json{{"state", "OPERATION"}}));
       },
       C::kInvalidArgument},
      {"rule 34: the prep container's owner cannot PUT a dataset -> 403",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d34");
         return St(w.As(kBo).UpdateDataset(d.id, Json{{"is_valid", false}}));
       },
       C::kPermissionDenied},
      // --- dataset associations ---
      {"rule 35: association defaults PENDING with approved_at null",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d35");
         Json body{{"dataset", d.id.value()},
                   {"benchmark", 1},
                   {"metadata", Json::object()},
                   {"initiated_by", 1},
                   {"approved_at", "2000-01-01T00:00:00Z"}};
         ASSIGN_OR_RETURN(Json a, w.As(kDo).SendJson("POST", "/datasets/benchmarks/", body));
         REQUIRE(a["approval_status"] == "PENDING" && a["approved_at"].is_null());
         REQUIRE(a["initiated_by"] == 4);
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 36: association with an unapproved benchmark -> 400",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Benchmark b, w.As(kMo).CreateBenchmark(MakeBenchmark("pending")));
         Dataset d = w.OperationalDataset("d36");
         return St(w.As(kDo).CreateDatasetAssociation(d.id, b.id, Json::object()));
       },
       C::kInvalidArgument},
      {"rule 37: association of a DEVELOPMENT dataset -> 400",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Dataset d, w.As(kDo).CreateDataset(w.MakeDatasetFor("d37", 1)));
         return St(w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
       },
       C::kInvalidArgument},
      {"rule 38: dataset prepared with another prep container -> 400",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Container prep, w.As(kDo).CreateContainer(MakeContainer("prep2", false)));
         Dataset d = w.OperationalDataset("d38", kDo, prep.id.value());
         return St(w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
       },
       C::kInvalidArgument},
      {"rule 39: a first association may not be APPROVED -> 400",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d39");
         return St(w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object(),
                                                      ApprovalStatus::kApproved));
       },
       C::kInvalidArgument},
      {"rule 40: a new PENDING after a PENDING -> 400",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d40");
         RETURN_IF_ERROR(
             w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()).status());
         return St(w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
       },
       C::kInvalidArgument},
      {"rule 40: REJECTED after APPROVED is allowed and sets approved_at",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d40b");
         ASSIGN_OR_RETURN(auto a,
                          w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object(),
                                                             ApprovalStatus::kRejected));
         REQUIRE(a.approval_status == ApprovalStatus::kRejected && !a.approved_at.empty());
         // ...and after REJECTED a new PENDING is allowed again.
         return St(w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
       },
       C::kOk},
      {"rule 41: the benchmark owner's own dataset is auto-approved",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d41", kBo);
         ASSIGN_OR_RETURN(auto a,
                          w.As(kBo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
         REQUIRE(a.approval_status == ApprovalStatus::kApproved);
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 42: mode ALWAYS auto-approves a data owner's request",
       [](RulesTest& w) {
         RETURN_IF_ERROR(
             w.As(kBo)
                 .UpdateBenchmark(BenchmarkId(1), Json{{"dataset_auto_approval_mode", "ALWAYS"}})
                 .status());
         Dataset d = w.OperationalDataset("d42");
         ASSIGN_OR_RETURN(auto a,
                          w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
         REQUIRE(a.approval_status == ApprovalStatus::kApproved);
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 42: ALLOWLIST approves listed owners only; benchmark-owner requests stay PENDING",
       [](RulesTest& w) {
         RETURN_IF_ERROR(
             w.As(kBo)
                 .UpdateBenchmark(BenchmarkId(1), Json{{"dataset_auto_approval_mode", "ALLOWLIST"},
                                                       {"dataset_auto_approval_allow_list", {kDo}}})
                 .status());
         Dataset listed = w.OperationalDataset("d42a", kDo);
         ASSIGN_OR_RETURN(
             auto a, w.As(kDo).CreateDatasetAssociation(listed.id, BenchmarkId(1), Json::object()));
         REQUIRE(a.approval_status == ApprovalStatus::kApproved);
         Dataset other = w.OperationalDataset("d42b", kMo);
         ASSIGN_OR_RETURN(
             auto b, w.As(kMo).CreateDatasetAssociation(other.id, BenchmarkId(1), Json::object()));
         REQUIRE(b.approval_status == ApprovalStatus::kPending);
         Dataset third = w.OperationalDataset("d42c", kDo);
         ASSIGN_OR_RETURN(
             auto c, w.As(kBo).CreateDatasetAssociation(third.id, BenchmarkId(1), Json::object()));
         REQUIRE(c.approval_status == ApprovalStatus::kPending);
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 43: a container owner (neither party) cannot POST an association -> 403",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d43");
         return St(w.As(kMo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
       },
       C::kPermissionDenied},
      {"rule 44: the pair GET is a plain list with exactly five fields",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d44");
         ASSIGN_OR_RETURN(Json list,
                          w.As(kDo).GetJson("/datasets/" + d.id.str() + "/benchmarks/1/"));
         REQUIRE(list.is_array() && list.size() == 1);
         for (const char* f :
              {"approval_status", "initiated_by", "approved_at", "created_at", "modified_at"}) {
           REQUIRE(list[0].contains(f));
         }
         REQUIRE(list[0].size() == 5);
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 45: the initiator cannot approve their own request -> 400",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d45");
         RETURN_IF_ERROR(
             w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()).status());
         return w.As(kDo).SetDatasetAssociationApproval(d.id, BenchmarkId(1),
                                                        ApprovalStatus::kApproved);
       },
       C::kInvalidArgument},
      {"rule 45: approving a non-PENDING latest row -> 400",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d45b");
         return w.As(kBo).SetDatasetAssociationApproval(d.id, BenchmarkId(1),
                                                        ApprovalStatus::kRejected);
       },
       C::kInvalidArgument},
      {"rule 46: admin DELETE of a pair removes every row",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d46");
         std::string path = "/datasets/" + d.id.str() + "/benchmarks/1/";
         RETURN_IF_ERROR(w.As(kAdmin).SendJson("DELETE", path, Json()).status());
         ASSIGN_OR_RETURN(Json list, w.As(kDo).GetJson(path));
         REQUIRE(list == Json::array());
         return absl::OkStatus();
       },
       C::kOk},
      // --- model associations ---
      {"rule 47: association of a DEVELOPMENT model -> 400",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Model m,
                          w.As(kMo).CreateModel(MakeModel("dev", EntityState::kDevelopment)));
         return St(w.As(kMo).CreateModelAssociation(m.id, BenchmarkId(1), Json::object()));
       },
       C::kInvalidArgument},
      {"rule 47: a second PENDING model request while one is PENDING -> 400",
       [](RulesTest& w) {
         ASSIGN_OR_RETURN(Model m, w.As(kMo).CreateModel(MakeModel("m47")));
         RETURN_IF_ERROR(
             w.As(kMo).CreateModelAssociation(m.id, BenchmarkId(1), Json::object()).status());
         return St(w.As(kMo).CreateModelAssociation(m.id, BenchmarkId(1), Json::object()));
       },
       C::kInvalidArgument},
      {"rule 48: the model owner cannot set priority -> 403",
       [](RulesTest& w) {
         return w.As(kMo).SetModelAssociationPriority(ModelId(4), BenchmarkId(1), 3);
       },
       C::kPermissionDenied},
      // --- results ---
      {"rule 49: reference-model result without any association -> 201",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d49");
         return St(w.As(kDo).CreateResult(MakeResult(2, d.id)));
       },
       C::kOk},
      {"rule 50: result with an approved model but a PENDING dataset association -> 400",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d50");
         RETURN_IF_ERROR(
             w.As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()).status());
         return St(w.As(kDo).CreateResult(MakeResult(4, d.id)));
       },
       C::kInvalidArgument},
      {"rule 50: the latest dataset association counts (APPROVED then REJECTED) -> 400",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d50b");
         RETURN_IF_ERROR(w.As(kDo)
                             .CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object(),
                                                       ApprovalStatus::kRejected)
                             .status());
         return St(w.As(kDo).CreateResult(MakeResult(4, d.id)));
       },
       C::kInvalidArgument},
      {"rule 50: both latest associations APPROVED -> 201",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d50c");
         return St(w.As(kDo).CreateResult(MakeResult(4, d.id)));
       },
       C::kOk},
      {"rule 51: the benchmark owner cannot POST a result for another's dataset -> 403",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d51");
         return St(w.As(kBo).CreateResult(MakeResult(2, d.id)));
       },
       C::kPermissionDenied},
      {"rule 52: GET /results/ by a data owner -> 403",
       [](RulesTest& w) { return St(w.As(kDo).ListResults()); }, C::kPermissionDenied},
      {"rule 53: result defaults on POST",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d53");
         Json body{{"benchmark", 1},
                   {"model", 2},
                   {"dataset", d.id.value()},
                   {"approval_status", "APPROVED"},
                   {"finalized", true}};
         ASSIGN_OR_RETURN(Json r, w.As(kDo).SendJson("POST", "/results/", body));
         REQUIRE(r["approval_status"] == "PENDING" && r["approved_at"].is_null());
         REQUIRE(r["name"] == "" && r["metadata"] == Json::object() && r["is_valid"] == true);
         REQUIRE(r["finalized"] == false);
         return absl::OkStatus();
       },
       C::kOk},
      {"rule 54: unknown result id -> 403 for a non-admin",
       [](RulesTest& w) { return St(w.As(kDo).GetResult(ResultId(9999))); }, C::kPermissionDenied},
      {"rule 54: a model owner cannot read a result -> 403",
       [](RulesTest& w) {
         Dataset d = w.AssociatedDataset("d54");
         ASSIGN_OR_RETURN(Result r, w.As(kDo).CreateResult(MakeResult(4, d.id)));
         return St(w.As(kMo).GetResult(r.id));
       },
       C::kPermissionDenied},
      {"rule 55/56: after a PUT with results any PUT -> 400",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d56");
         ASSIGN_OR_RETURN(Result r, w.As(kDo).CreateResult(MakeResult(2, d.id)));
         ASSIGN_OR_RETURN(Result done,
                          w.As(kDo).UpdateResult(r.id, Json{{"results", {{"AUC", 1}}}}));
         REQUIRE(done.finalized);
         return St(w.As(kDo).UpdateResult(r.id, Json{{"unknown_key", 1}}));
       },
       C::kInvalidArgument},
      {"rule 57: the benchmark owner cannot PUT a result -> 403",
       [](RulesTest& w) {
         Dataset d = w.OperationalDataset("d57");
         ASSIGN_OR_RETURN(Result r, w.As(kDo).CreateResult(MakeResult(2, d.id)));
         return St(w.As(kBo).UpdateResult(r.id, Json{{"model_report", Json::object()}}));
       },
       C::kPermissionDenied},
  };
  return cases;
}

TEST_P(RulesTest, Holds) {
  const RuleCase& c = GetParam();
  absl::Status s = c.act(*this);
  EXPECT_EQ(s.code(), c.expect) << c.rule << "\n  got: " << s;
}

std::string CaseName(const ::testing::TestParamInfo<RuleCase>& info) {
  std::string name = info.param.rule.substr(0, info.param.rule.find(':'));
  std::string out;
  for (char ch : name) out.push_back(isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
  return out + "_case" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(ServerRules, RulesTest, ::testing::ValuesIn(Cases()), CaseName);

}  // namespace
}  // namespace medperf::testing
