// Rules of the real server checked in process, through Api::Handle (tests/server/
// api_fixture.h): no HTTP, a fresh `--demo data` database per test. testbo owns containers
// 1-3, model 2 and the approved OPERATION benchmark 1; testmo owns model 4, approved for
// benchmark 1; testdo (user 4) owns nothing yet.
#include <gtest/gtest.h>

#include <string>

#include "tests/server/api_fixture.h"

namespace medperf::testing {
namespace {

constexpr char kAdmin[] = "testadmin@example.com";
constexpr char kBo[] = "testbo@example.com";
constexpr char kDo[] = "testdo@example.com";

class ApiRulesTest : public ApiFixture {
 public:
  std::string Demo() const override { return "data"; }

  // A dataset of testdo prepared by container 1, in OPERATION; returns its id.
  int64_t OperationalDataset(const std::string& uid) {
    Json body{{"name", "ds-" + uid},          {"input_data_hash", uid},
              {"generated_uid", uid},         {"split_seed", 0},
              {"data_preparation_mlcube", 1}, {"submitted_as_prepared", false}};
    server::ApiResponse created = Post("/datasets/", body, kDo);
    EXPECT_EQ(created.status, 201) << created.body;
    int64_t id = created.body.value("id", int64_t{0});
    server::ApiResponse op =
        Put("/datasets/" + std::to_string(id) + "/", Json{{"state", "OPERATION"}}, kDo);
    EXPECT_EQ(op.status, 200) << op.body;
    return id;
  }
};

TEST_F(ApiRulesTest, MissingOrUnknownTokenIs401) {
  server::ApiResponse none = Get("/benchmarks/", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["detail"], "Authentication credentials were not provided.");
  server::ApiResponse bad = Send("GET", "/benchmarks/", "", "Bearer not-a-token");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.body["detail"], "Invalid token.");
  EXPECT_EQ(Get("/version", "").status, 200);
}

TEST_F(ApiRulesTest, UnknownRouteIs404AndMissingMethodIs405) {
  EXPECT_EQ(Get("/nothing/here/", kDo).status, 404);
  EXPECT_EQ(Get("/benchmarks/0/", kDo).status, 404);  // ids are positive
  server::ApiResponse r = Call("PATCH", "/benchmarks/", nullptr, kDo);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body["detail"], "Method \"PATCH\" not allowed.");
}

TEST_F(ApiRulesTest, BodyMustBeAJsonObject) {
  server::ApiResponse list = Call("POST", "/datasets/", Json::array(), kDo);
  EXPECT_EQ(list.status, 400);
  EXPECT_EQ(list.body["non_field_errors"][0], "Invalid data. Expected a dictionary, but got list.");
  server::ApiResponse junk = Send("POST", "/datasets/", "{nope", "Bearer " + tokens_.at(kDo));
  EXPECT_EQ(junk.status, 400);
  EXPECT_NE(junk.body["detail"].get<std::string>().find("JSON parse error"), std::string::npos);
}

TEST_F(ApiRulesTest, BenchmarkApprovalIsTheAdminsAlone) {
  // server/benchmark/views.py: only admins may change approval_status, even the owner.
  EXPECT_EQ(Put("/benchmarks/1/", Json{{"approval_status", "REJECTED"}}, kBo).status, 403);
  server::ApiResponse back = Put("/benchmarks/1/", Json{{"approval_status", "PENDING"}}, kAdmin);
  EXPECT_EQ(back.status, 400);
  EXPECT_EQ(back.body["non_field_errors"][0], "User can only approve or reject a benchmark");
}

TEST_F(ApiRulesTest, DuplicateContainerNameIs400AndWritesNothing) {
  const int64_t before = CountRows("containers");
  server::ApiResponse r = Post("/mlcubes/",
                               Json{{"name", "my-prep"},
                                    {"container_config", {{"tasks", Json::object()}}},
                                    {"image_hash", "sha256:1"}},
                               kDo);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["name"][0], "mlcube with this name already exists.");
  EXPECT_EQ(CountRows("containers"), before);
}

TEST_F(ApiRulesTest, UnknownResultIs403ForUsersAnd404ForAdmins) {
  // DRF checks the permission (dataset or benchmark owner) before the lookup.
  EXPECT_EQ(Get("/results/4242/", kDo).status, 403);
  EXPECT_EQ(Get("/results/4242/", kAdmin).status, 404);
}

TEST_F(ApiRulesTest, TheInitiatorCannotApproveItsOwnAssociation) {
  const int64_t d = OperationalDataset("assoc");
  server::ApiResponse a =
      Post("/datasets/benchmarks/",
           Json{{"dataset", d}, {"benchmark", 1}, {"metadata", Json::object()}}, kDo);
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.body["approval_status"], "PENDING");
  const std::string pair = "/datasets/" + std::to_string(d) + "/benchmarks/1/";
  server::ApiResponse self = Put(pair, Json{{"approval_status", "APPROVED"}}, kDo);
  EXPECT_EQ(self.status, 400);
  EXPECT_EQ(self.body["non_field_errors"][0], "Same user cannot approve the association request");
  server::ApiResponse owner = Put(pair, Json{{"approval_status", "APPROVED"}}, kBo);
  EXPECT_EQ(owner.status, 200) << owner.body;
  EXPECT_EQ(owner.body["approval_status"], "APPROVED");
}

TEST_F(ApiRulesTest, DeleteIsAdminOnly) {
  EXPECT_EQ(Delete("/benchmarks/1/", kBo).status, 403);
  // Model 4 is still referred to by its association with benchmark 1.
  EXPECT_EQ(Delete("/models/4/", kAdmin).status, 409);
}

}  // namespace
}  // namespace medperf::testing
