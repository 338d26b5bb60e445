#include "core/entities.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace medperf {
namespace {

using ::testing::HasSubstr;

TEST(EntitiesTest, BenchmarkRoundTrip) {
  Benchmark b;
  b.id = BenchmarkId(3);
  b.name = "bmk";
  b.owner = UserId(2);
  b.data_preparation_mlcube = ContainerId(1);
  b.reference_model = ModelId(2);
  b.data_evaluator_mlcube = ContainerId(3);
  b.state = EntityState::kOperation;
  b.approval_status = ApprovalStatus::kApproved;
  b.dataset_auto_approval_allow_list = {"a@b.org"};
  b.model_auto_approval_mode = AutoApprovalMode::kAllowList;
  b.metadata = {{"results", {{"AUC", 0.5}}}};
  b.approved_at = "2026-01-01T00:00:00.000000Z";
  auto back = BenchmarkFromJson(ToFullJson(b));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, b.id);
  EXPECT_EQ(back->reference_model, ModelId(2));
  EXPECT_EQ(back->state, EntityState::kOperation);
  EXPECT_EQ(back->approval_status, ApprovalStatus::kApproved);
  EXPECT_EQ(back->dataset_auto_approval_allow_list, b.dataset_auto_approval_allow_list);
  EXPECT_EQ(back->model_auto_approval_mode, AutoApprovalMode::kAllowList);
  EXPECT_EQ(back->metadata, b.metadata);
  EXPECT_EQ(back->approved_at, b.approved_at);
}

TEST(EntitiesTest, WriteEncodersSendEmptyStringsNotNullAndNoReadOnlyFields) {
  Dataset d;
  Json j = ToJson(d);
  EXPECT_EQ(j["description"], "");
  EXPECT_EQ(j["location"], "");
  EXPECT_FALSE(j.contains("id"));
  EXPECT_FALSE(j.contains("owner"));
  Benchmark b;
  EXPECT_FALSE(ToJson(b).contains("approval_status"));
  Result r;
  Json rj = ToJson(r);
  EXPECT_EQ(rj["name"], "");
  EXPECT_FALSE(rj.contains("finalized"));
}

TEST(EntitiesTest, ModelWithNestedContainer) {
  Json j = Json::parse(R"({"id": 4, "name": "m", "type": "CONTAINER", "state": "OPERATION",
    "container": {"id": 4, "name": "m", "container_config": {"tasks": {"infer": {}}},
                  "parameters_config": null, "image_hash": "sha256:ab", "owner": 3}})");
  auto m = ModelFromJson(j);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->container.has_value());
  EXPECT_EQ(m->container->id, ContainerId(4));
  EXPECT_TRUE(m->container->IsModelContainer());
  EXPECT_TRUE(m->container->parameters_config.is_null());
  j["container"]["image_hash"] = 5;
  auto bad = ModelFromJson(j);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("model 4: field 'container'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("'image_hash': expected string, got integer"));
}

TEST(EntitiesTest, PartialAssociationRowsKeepDefaults) {
  auto a = ModelAssociationFromJson(
      Json::parse(R"({"model": 4, "approval_status": "APPROVED", "created_at": "x"})"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->model, ModelId(4));
  EXPECT_EQ(a->approval_status, ApprovalStatus::kApproved);
  EXPECT_EQ(a->priority, 0);
  EXPECT_FALSE(a->benchmark.valid());
}

// What the server did not send is not rendered back (issue 13, item 7): a non-owner's
// benchmark has no allow lists, not empty ones; sent-but-empty ones stay.
TEST(EntitiesTest, FullJsonHoldsOnlyTheFieldsTheServerSent) {
  Benchmark owned;
  owned.id = BenchmarkId(1);
  owned.name = "b";
  Json sent = ToFullJson(owned);
  ASSERT_EQ(sent["dataset_auto_approval_allow_list"], Json::array());
  Json hidden = sent;
  hidden.erase("dataset_auto_approval_allow_list");
  hidden.erase("model_auto_approval_allow_list");

  auto full = BenchmarkFromJson(sent);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_TRUE(full->absent_fields.empty());
  EXPECT_EQ(ToFullJson(*full), sent);

  auto public_form = BenchmarkFromJson(hidden);
  ASSERT_TRUE(public_form.ok()) << public_form.status();
  EXPECT_THAT(public_form->absent_fields,
              ::testing::UnorderedElementsAre("dataset_auto_approval_allow_list",
                                              "model_auto_approval_allow_list"));
  EXPECT_EQ(ToFullJson(*public_form), hidden);
  // The request body still carries every writable field.
  EXPECT_TRUE(ToJson(*public_form).contains("model_auto_approval_allow_list"));

  Dataset d;
  d.id = DatasetId(2);
  Json no_report = ToFullJson(d);
  no_report.erase("report");
  auto other = DatasetFromJson(no_report);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(ToFullJson(*other).contains("report"));
  Json empty_report = ToFullJson(d);
  auto owner = DatasetFromJson(empty_report);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(ToFullJson(*owner)["report"], Json::object());

  // Nested: a model's container, and an association row endpoint's subset.
  auto m = ModelFromJson(Json::parse(
      R"({"id": 4, "name": "m", "type": "CONTAINER", "container": {"id": 4, "name": "m"}})"));
  ASSERT_TRUE(m.ok()) << m.status();
  Json mj = ToFullJson(*m);
  EXPECT_FALSE(mj.contains("owner"));
  EXPECT_FALSE(mj["container"].contains("image_hash"));
  EXPECT_EQ(mj["container"]["name"], "m");
  auto row = ModelAssociationFromJson(
      Json::parse(R"({"model": 4, "approval_status": "APPROVED", "created_at": "x"})"));
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(ToFullJson(*row),
            Json::parse(R"({"model": 4, "approval_status": "APPROVED", "created_at": "x"})"));
}

struct BadCase {
  const char* json;
  const char* message;
};

class EntitiesHostileTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(EntitiesHostileTest, RejectedWithEntityAndField) {
  Json j = Json::parse(GetParam().json);
  absl::Status s;
  if (j.contains("kind") && j["kind"] == "dataset") {
    s = DatasetFromJson(j["v"]).status();
  } else if (j.contains("kind") && j["kind"] == "result") {
    s = ResultFromJson(j["v"]).status();
  } else if (j.contains("kind") && j["kind"] == "user") {
    s = UserFromJson(j["v"]).status();
  } else if (j.contains("kind") && j["kind"] == "assoc") {
    s = DatasetAssociationFromJson(j["v"]).status();
  } else {
    s = BenchmarkFromJson(j.contains("v") ? j["v"] : j).status();
  }
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EntitiesHostileTest,
    ::testing::Values(
        BadCase{R"({"v": [1, 2]})", "benchmark: expected a JSON object, got array"},
        BadCase{R"({"v": null})", "expected a JSON object, got null"},
        BadCase{R"({"id": 3, "reference_model": "2"})",
                "benchmark 3: field 'reference_model': expected integer, got string"},
        BadCase{R"({"id": "3"})", "benchmark: field 'id': expected integer, got string"},
        BadCase{R"({"id": 1, "state": "BROKEN"})", "field 'state': invalid state 'BROKEN'"},
        BadCase{R"({"id": 1, "approval_status": 1})", "'approval_status': expected string"},
        BadCase{R"({"id": 1, "is_valid": "true"})", "'is_valid': expected boolean, got string"},
        BadCase{R"({"id": 1, "metadata": [1]})", "'metadata': expected object, got array"},
        BadCase{R"({"id": 1, "dataset_auto_approval_allow_list": [1]})",
                "expected list of strings, got an element of type integer"},
        BadCase{R"({"id": 18446744073709551615})", "out-of-range"},
        BadCase{R"({"id": 1, "data_evaluator_mlcube": 1.5})", "expected integer, got number"},
        BadCase{R"({"kind": "dataset", "v": {"id": 9, "split_seed": true}})",
                "dataset 9: field 'split_seed': expected integer, got boolean"},
        BadCase{R"({"kind": "result", "v": {"id": 2, "results": "AUC=1"}})",
                "result 2: field 'results': expected object, got string"},
        BadCase{R"({"kind": "user", "v": {"id": 2, "email": {}}})",
                "user 2: field 'email': expected string, got object"},
        BadCase{R"({"kind": "assoc", "v": {"approval_status": "MAYBE"}})",
                "dataset association: field 'approval_status'"}));

TEST(EntitiesTest, NullStringsBecomeEmpty) {
  auto d = DatasetFromJson(Json::parse(R"({"id": 1, "description": null, "report": null})"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->description, "");
  EXPECT_EQ(d->report, Json::object());
}

TEST(EntitiesTest, EnumParsing) {
  EXPECT_EQ(*ParseApprovalStatus("REJECTED"), ApprovalStatus::kRejected);
  EXPECT_FALSE(ParseApprovalStatus("rejected").ok());
  EXPECT_EQ(ToString(AutoApprovalMode::kAllowList), "ALLOWLIST");
  EXPECT_EQ(*ParseModelType("ASSET"), ModelType::kAsset);
}

TEST(EntitiesTest, SanitizeJsonReplacesNonFiniteNumbersDeeply) {
  Json in = {
      {"a", std::nan("")}, {"b", {1.0, HUGE_VAL, {{"c", -HUGE_VAL}}}}, {"d", "nan"}, {"e", 2}};
  Json out = SanitizeJson(in);
  EXPECT_EQ(out["a"], "nan");
  EXPECT_EQ(out["b"][0], 1.0);
  EXPECT_EQ(out["b"][1], "Infinity");
  EXPECT_EQ(out["b"][2]["c"], "-Infinity");
  EXPECT_EQ(out["d"], "nan");
  EXPECT_EQ(out["e"], 2);
}

// Issue 13 (2): what medperfctl shows for the wire form of NaN and ±infinity.
TEST(EntitiesTest, NonFiniteTextReadsTheWireForm) {
  Json wire = SanitizeJson({std::nan(""), HUGE_VAL, -HUGE_VAL});
  EXPECT_EQ(NonFiniteText(wire[0]), "nan");
  EXPECT_EQ(NonFiniteText(wire[1]), "inf");
  EXPECT_EQ(NonFiniteText(wire[2]), "-inf");
  EXPECT_EQ(NonFiniteText(Json(0.5)), std::nullopt);
  EXPECT_EQ(NonFiniteText(Json("NaN")), std::nullopt);
  EXPECT_EQ(NonFiniteText(Json(nullptr)), std::nullopt);
}

}  // namespace
}  // namespace medperf
