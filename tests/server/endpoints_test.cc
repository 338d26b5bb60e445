// Every evaluation endpoint through the real client against the real server binary:
// the happy path, a permission denial and a validation error each.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/server/server_fixture.h"

namespace medperf::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    auto _s = (expr);                                     \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.status(); \
  } while (0)

template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
inline absl::Status StatusOf(const absl::Status& s) { return s; }

#define EXPECT_CODE(expr, want)                                                         \
  do {                                                                                  \
    auto _s = StatusOf(expr);                                                           \
    EXPECT_EQ(_s.code(), absl::StatusCode::want) << #expr << " gave " << _s.ToString(); \
  } while (0)

class EndpointsTest : public ServerFixture {};

TEST_F(EndpointsTest, Version) {
  auto v = As(kDo).GetVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, "v0");
}

TEST_F(EndpointsTest, MeReturnsTheCallerAndNeedsAValidToken) {
  for (const char* email : {kAdmin, kBo, kMo, kDo}) {
    auto me = As(email).GetMe();
    ASSERT_OK(me);
    EXPECT_EQ(me->email, email);
    EXPECT_EQ(me->username, std::string(email).substr(0, std::string(email).find('@')));
  }
  EXPECT_CODE(ClientWithToken("").GetMe(), kUnauthenticated);
  EXPECT_CODE(ClientWithToken("not-a-token").GetMe(), kUnauthenticated);
}

TEST_F(EndpointsTest, Users) {
  auto me = As(kDo).GetMe();
  ASSERT_OK(me);
  ASSERT_OK(As(kDo).GetUser(me->id));
  EXPECT_CODE(As(kMo).GetUser(me->id), kPermissionDenied);
  // The prep container's owner may see users whose datasets it prepares.
  EXPECT_CODE(As(kBo).GetUser(me->id), kPermissionDenied);
  OperationalDataset("u1");
  ASSERT_OK(As(kBo).GetUser(me->id));
  ASSERT_OK(As(kAdmin).GetUser(me->id));
  EXPECT_CODE(As(kAdmin).GetUser(UserId(999)), kNotFound);
  auto all = As(kAdmin).GetAllPages("/users/");
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 4u);
  EXPECT_CODE(As(kDo).GetAllPages("/users/"), kPermissionDenied);
  // Only metadata is writable, by the user himself.
  auto put = As(kDo).SendJson("PUT", "/users/" + me->id.str() + "/",
                              Json{{"metadata", {{"site", "H1"}}}, {"email", "x@y.z"}});
  ASSERT_OK(put);
  EXPECT_EQ((*put)["metadata"]["site"], "H1");
  EXPECT_EQ((*put)["email"], kDo);
  EXPECT_CODE(As(kMo).SendJson("PUT", "/users/" + me->id.str() + "/", Json{{"metadata", {}}}),
              kPermissionDenied);
  EXPECT_CODE(As(kDo).SendJson("PUT", "/users/" + me->id.str() + "/", Json{{"metadata", 3}}),
              kInvalidArgument);
}

TEST_F(EndpointsTest, BenchmarkListAndGet) {
  for (const char* email : {kBo, kMo, kDo}) {
    auto list = As(email).ListBenchmarks();
    ASSERT_OK(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].name, "tutorial_bmk");
    EXPECT_EQ((*list)[0].approval_status, ApprovalStatus::kApproved);
  }
  auto mine = As(kBo).ListMyBenchmarks();
  ASSERT_OK(mine);
  EXPECT_EQ(mine->size(), 1u);
  auto none = As(kDo).ListMyBenchmarks();
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  auto b = As(kDo).GetBenchmark(BenchmarkId(1));
  ASSERT_OK(b);
  EXPECT_EQ(b->reference_model, ModelId(2));
  EXPECT_EQ(b->data_preparation_mlcube, ContainerId(1));
  EXPECT_EQ(b->data_evaluator_mlcube, ContainerId(3));
  EXPECT_CODE(As(kDo).GetBenchmark(BenchmarkId(77)), kNotFound);
  // The real client's slash-less form.
  HttpResponse r = Raw("GET", "/api/v0/benchmarks/1", "");
  EXPECT_EQ(r.status, 200);
  // Filters.
  auto filtered = As(kDo).ListBenchmarks({{"owner", "3"}});
  ASSERT_OK(filtered);
  EXPECT_TRUE(filtered->empty());
  EXPECT_CODE(As(kDo).ListBenchmarks({{"owner", "abc"}}), kInvalidArgument);
  EXPECT_CODE(As(kDo).ListBenchmarks({{"state", "BOGUS"}}), kInvalidArgument);
}

TEST_F(EndpointsTest, BenchmarkCreateUpdateApprove) {
  auto created = As(kMo).CreateBenchmark(MakeBenchmark("mo-bench"));
  ASSERT_OK(created);
  EXPECT_EQ(created->approval_status, ApprovalStatus::kPending);
  auto me = As(kMo).GetMe();
  EXPECT_EQ(created->owner, me->id);
  // Validation: a blank required field.
  Benchmark bad = MakeBenchmark("bad");
  bad.demo_dataset_tarball_url = "";
  auto r = As(kDo).CreateBenchmark(bad);
  EXPECT_CODE(r, kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("demo_dataset_tarball_url"));
  // Unknown component id.
  r = As(kDo).CreateBenchmark(MakeBenchmark("bad2", 1, 99, 3));
  EXPECT_CODE(r, kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("reference_model"));
  // Update by the owner, denial for others.
  auto upd = As(kMo).UpdateBenchmark(created->id, Json{{"is_active", false}});
  ASSERT_OK(upd);
  EXPECT_FALSE(upd->is_active);
  EXPECT_CODE(As(kDo).UpdateBenchmark(created->id, Json{{"is_active", true}}), kPermissionDenied);
  EXPECT_CODE(As(kMo).UpdateBenchmark(created->id, Json{{"is_active", "yes"}}), kInvalidArgument);
  // Approval: admin only.
  EXPECT_CODE(As(kMo).SetBenchmarkApproval(created->id, ApprovalStatus::kApproved),
              kPermissionDenied);
  auto approved = As(kAdmin).SetBenchmarkApproval(created->id, ApprovalStatus::kApproved);
  ASSERT_OK(approved);
  EXPECT_EQ(approved->approval_status, ApprovalStatus::kApproved);
  EXPECT_FALSE(approved->approved_at.empty());
  EXPECT_CODE(As(kAdmin).SetBenchmarkApproval(created->id, ApprovalStatus::kPending),
              kInvalidArgument);
  EXPECT_CODE(ClientWithToken("").CreateBenchmark(MakeBenchmark("anon")), kUnauthenticated);
}

TEST_F(EndpointsTest, BenchmarkModelsDatasetsResults) {
  auto rows = As(kBo).ListBenchmarkModels(BenchmarkId(1));
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].model, ModelId(4));
  EXPECT_EQ((*rows)[0].approval_status, ApprovalStatus::kApproved);
  EXPECT_FALSE((*rows)[0].created_at.empty());
  // A data owner without an approved association cannot list the models...
  EXPECT_CODE(As(kDo).ListBenchmarkModels(BenchmarkId(1)), kPermissionDenied);
  EXPECT_CODE(As(kDo).ListBenchmarkDatasets(BenchmarkId(1)), kPermissionDenied);
  EXPECT_CODE(As(kDo).ListBenchmarkResults(BenchmarkId(1)), kPermissionDenied);
  Dataset d = AssociatedDataset("bm1");
  // ...until it has one.
  rows = As(kDo).ListBenchmarkModels(BenchmarkId(1));
  ASSERT_OK(rows);
  EXPECT_EQ(rows->size(), 1u);
  auto ds = As(kMo).ListBenchmarkDatasets(BenchmarkId(1));  // mo owns an approved model
  ASSERT_OK(ds);
  ASSERT_EQ(ds->size(), 1u);
  EXPECT_EQ((*ds)[0].dataset, d.id);
  auto results = As(kBo).ListBenchmarkResults(BenchmarkId(1));
  ASSERT_OK(results);
  EXPECT_TRUE(results->empty());
  EXPECT_CODE(As(kMo).ListBenchmarkResults(BenchmarkId(1)), kPermissionDenied);
  EXPECT_CODE(As(kAdmin).ListBenchmarkModels(BenchmarkId(9)), kNotFound);
  EXPECT_CODE(As(kDo).ListBenchmarkModels(BenchmarkId(9)), kPermissionDenied);
  auto p = As(kBo).GetAllPages("/benchmarks/1/participants_info/");
  ASSERT_OK(p);
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0]["owner"]["email"], kDo);
  EXPECT_CODE(As(kDo).GetAllPages("/benchmarks/1/participants_info/"), kPermissionDenied);
}

TEST_F(EndpointsTest, Containers) {
  auto list = As(kDo).ListContainers();
  ASSERT_OK(list);
  EXPECT_EQ(list->size(), 4u);
  auto mine = As(kMo).ListMyContainers();
  ASSERT_OK(mine);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].id, ContainerId(4));
  auto c = As(kDo).GetContainer(ContainerId(1));
  ASSERT_OK(c);
  EXPECT_EQ(c->name, "my-prep");
  EXPECT_EQ(c->state, EntityState::kOperation);
  EXPECT_CODE(As(kDo).GetContainer(ContainerId(50)), kNotFound);

  auto metrics = As(kDo).CreateContainer(MakeContainer("metrics2", false));
  ASSERT_OK(metrics);
  EXPECT_EQ(metrics->id, ContainerId(5));
  EXPECT_CODE(As(kDo).GetContainerModel(metrics->id), kNotFound);
  // A container with an infer task gets a Model with the same id.
  auto model_container = As(kDo).CreateContainer(MakeContainer("model2", true));
  ASSERT_OK(model_container);
  auto wrapped = As(kMo).GetContainerModel(model_container->id);
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->id.value(), model_container->id.value());
  ASSERT_TRUE(wrapped->container.has_value());
  EXPECT_EQ(wrapped->container->name, "model2");

  auto dup = As(kDo).CreateContainer(MakeContainer("metrics2", false));
  EXPECT_CODE(dup, kInvalidArgument);
  EXPECT_THAT(dup.status().message(), HasSubstr("name"));
  Container no_hash = MakeContainer("nohash", false);
  no_hash.image_hash = "";
  EXPECT_CODE(As(kDo).CreateContainer(no_hash), kInvalidArgument);

  auto upd = As(kDo).UpdateContainer(metrics->id, Json{{"is_valid", false}});
  ASSERT_OK(upd);
  EXPECT_FALSE(upd->is_valid);
  EXPECT_CODE(As(kMo).UpdateContainer(metrics->id, Json{{"is_valid", true}}), kPermissionDenied);
  EXPECT_CODE(As(kDo).UpdateContainer(metrics->id, Json{{"name", "renamed"}}), kInvalidArgument);

  // Datasets prepared with a container: its owner only.
  OperationalDataset("c1");
  auto prepared = As(kBo).ListContainerDatasets(ContainerId(1));
  ASSERT_OK(prepared);
  EXPECT_EQ(prepared->size(), 1u);
  EXPECT_CODE(As(kDo).ListContainerDatasets(ContainerId(1)), kPermissionDenied);
}

TEST_F(EndpointsTest, Models) {
  auto list = As(kDo).ListModels();
  ASSERT_OK(list);
  EXPECT_EQ(list->size(), 2u);
  auto filtered = As(kDo).ListModels({{"type", "ASSET"}});
  ASSERT_OK(filtered);
  EXPECT_TRUE(filtered->empty());
  auto m2 = As(kDo).GetModel(ModelId(2));
  ASSERT_OK(m2);
  EXPECT_EQ(m2->name, "my-refmodel");
  ASSERT_TRUE(m2->container.has_value());
  EXPECT_EQ(m2->container->id, ContainerId(2));
  EXPECT_CODE(As(kDo).GetModel(ModelId(3)), kNotFound);  // container 3 is not a model

  auto created = As(kMo).CreateModel(MakeModel("densenet"));
  ASSERT_OK(created);
  EXPECT_EQ(created->id, ModelId(5));
  EXPECT_EQ(created->container->id, ContainerId(5));
  auto mine = As(kMo).ListMyModels();
  ASSERT_OK(mine);
  EXPECT_EQ(mine->size(), 2u);

  Model asset = MakeModel("asset");
  asset.type = ModelType::kAsset;
  EXPECT_CODE(As(kMo).CreateModel(asset), kInvalidArgument);
  Model mismatch = MakeModel("mismatch");
  mismatch.container->state = EntityState::kDevelopment;
  EXPECT_CODE(As(kMo).CreateModel(mismatch), kInvalidArgument);
  Model bad_nested = MakeModel("bad-nested");
  bad_nested.container->image_hash = "";
  auto r = As(kMo).CreateModel(bad_nested);
  EXPECT_CODE(r, kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("container.image_hash"));

  // PUT: owner only; in OPERATION only is_valid/user_metadata.
  auto upd = As(kMo).UpdateModel(created->id, Json{{"user_metadata", {{"k", 1}}}});
  ASSERT_OK(upd);
  EXPECT_EQ(upd->user_metadata["k"], 1);
  EXPECT_CODE(As(kDo).UpdateModel(created->id, Json{{"is_valid", false}}), kPermissionDenied);
  EXPECT_CODE(As(kMo).UpdateModel(created->id, Json{{"name", "other"}}), kInvalidArgument);
  // is_valid propagates to the wrapped container.
  ASSERT_OK(As(kMo).UpdateModel(created->id, Json{{"is_valid", false}}));
  auto c = As(kMo).GetContainer(ContainerId(5));
  ASSERT_OK(c);
  EXPECT_FALSE(c->is_valid);
}

TEST_F(EndpointsTest, Datasets) {
  Dataset in = MakeDataset("hospital", "uid-1");
  in.state = EntityState::kOperation;  // read-only on create
  in.report = {{"progress", 1}};
  auto d = As(kDo).CreateDataset(in);
  ASSERT_OK(d);
  EXPECT_EQ(d->state, EntityState::kDevelopment);
  EXPECT_EQ(d->description, "");
  auto list = As(kMo).ListDatasets();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  auto mine = As(kDo).ListMyDatasets();
  ASSERT_OK(mine);
  EXPECT_EQ(mine->size(), 1u);
  // The report is visible to the owner and to the prep container's owner only.
  auto raw_mo = As(kMo).GetJson("/datasets/" + d->id.str() + "/");
  ASSERT_OK(raw_mo);
  EXPECT_FALSE(raw_mo->contains("report"));
  auto raw_bo = As(kBo).GetJson("/datasets/" + d->id.str() + "/");
  ASSERT_OK(raw_bo);
  EXPECT_TRUE(raw_bo->contains("report"));
  EXPECT_CODE(As(kDo).GetDataset(DatasetId(42)), kNotFound);

  auto op = As(kDo).UpdateDataset(d->id, Json{{"state", "OPERATION"},
                                              {"generated_uid", "prepared-1"},
                                              {"generated_metadata", {{"num_cases", 3}}}});
  ASSERT_OK(op);
  EXPECT_EQ(op->state, EntityState::kOperation);
  EXPECT_EQ(op->generated_metadata["num_cases"], 3);
  EXPECT_CODE(As(kBo).UpdateDataset(d->id, Json{{"is_valid", false}}), kPermissionDenied);
  EXPECT_CODE(As(kDo).UpdateDataset(d->id, Json{{"state", "DEVELOPMENT"}}), kInvalidArgument);

  Dataset missing = MakeDataset("x", "");
  auto bad = As(kDo).CreateDataset(missing);
  EXPECT_CODE(bad, kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("generated_uid"));
  auto unknown_prep = As(kDo).CreateDataset(MakeDataset("y", "uid-y", 99));
  EXPECT_CODE(unknown_prep, kInvalidArgument);
  EXPECT_THAT(unknown_prep.status().message(), HasSubstr("data_preparation_mlcube"));
}

TEST_F(EndpointsTest, DatasetAssociations) {
  Dataset d = OperationalDataset("a1");
  EXPECT_CODE(As(kMo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()),
              kPermissionDenied);
  auto missing_meta = As(kDo).SendJson("POST", "/datasets/benchmarks/",
                                       Json{{"dataset", d.id.value()}, {"benchmark", 1}});
  EXPECT_CODE(missing_meta, kInvalidArgument);
  EXPECT_THAT(missing_meta.status().message(), HasSubstr("metadata"));

  auto a = As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json{{"test_result", {}}});
  ASSERT_OK(a);
  EXPECT_EQ(a->approval_status, ApprovalStatus::kPending);
  EXPECT_EQ(a->initiated_by, As(kDo).GetMe()->id);
  for (const char* email : {kDo, kBo}) {
    auto mine = As(email).ListMyDatasetAssociations();
    ASSERT_OK(mine);
    EXPECT_EQ(mine->size(), 1u) << email;
  }
  auto mo_mine = As(kMo).ListMyDatasetAssociations();
  ASSERT_OK(mo_mine);
  EXPECT_TRUE(mo_mine->empty());
  auto pair = As(kBo).GetDatasetAssociations(d.id, BenchmarkId(1));
  ASSERT_OK(pair);
  ASSERT_EQ(pair->size(), 1u);
  EXPECT_EQ((*pair)[0].dataset, d.id);
  EXPECT_CODE(As(kMo).GetDatasetAssociations(d.id, BenchmarkId(1)), kPermissionDenied);
  auto hist = As(kDo).ListDatasetBenchmarks(d.id);
  ASSERT_OK(hist);
  EXPECT_EQ(hist->size(), 1u);
  EXPECT_CODE(As(kMo).ListDatasetBenchmarks(d.id), kPermissionDenied);

  // The initiator cannot approve; the benchmark owner can; a stranger is refused.
  EXPECT_CODE(
      As(kDo).SetDatasetAssociationApproval(d.id, BenchmarkId(1), ApprovalStatus::kApproved),
      kInvalidArgument);
  EXPECT_CODE(
      As(kMo).SetDatasetAssociationApproval(d.id, BenchmarkId(1), ApprovalStatus::kApproved),
      kPermissionDenied);
  ASSERT_TRUE(
      As(kBo).SetDatasetAssociationApproval(d.id, BenchmarkId(1), ApprovalStatus::kApproved).ok());
  pair = As(kDo).GetDatasetAssociations(d.id, BenchmarkId(1));
  ASSERT_OK(pair);
  EXPECT_EQ((*pair)[0].approval_status, ApprovalStatus::kApproved);
  EXPECT_FALSE((*pair)[0].approved_at.empty());
}

TEST_F(EndpointsTest, ModelAssociations) {
  auto m = As(kMo).CreateModel(MakeModel("m5"));
  ASSERT_OK(m);
  EXPECT_CODE(As(kDo).CreateModelAssociation(m->id, BenchmarkId(1), Json::object()),
              kPermissionDenied);
  EXPECT_CODE(As(kMo).SendJson("POST", "/models/benchmarks/",
                               Json{{"model", "five"}, {"benchmark", 1}, {"metadata", {}}}),
              kPermissionDenied);  // the permission reads the ids from the body
  auto a = As(kMo).CreateModelAssociation(m->id, BenchmarkId(1), Json{{"test_result", {}}});
  ASSERT_OK(a);
  EXPECT_EQ(a->approval_status, ApprovalStatus::kPending);
  EXPECT_EQ(a->priority, 0);
  auto mine = As(kMo).ListMyModelAssociations();
  ASSERT_OK(mine);
  EXPECT_EQ(mine->size(), 2u);
  auto bo_mine = As(kBo).ListMyModelAssociations();
  ASSERT_OK(bo_mine);
  EXPECT_EQ(bo_mine->size(), 2u);
  auto pair = As(kMo).GetModelAssociations(m->id, BenchmarkId(1));
  ASSERT_OK(pair);
  EXPECT_EQ(pair->size(), 1u);
  EXPECT_CODE(As(kDo).GetModelAssociations(m->id, BenchmarkId(1)), kPermissionDenied);
  auto hist = As(kMo).ListModelBenchmarks(m->id);
  ASSERT_OK(hist);
  EXPECT_EQ(hist->size(), 1u);

  EXPECT_CODE(As(kBo).SetModelAssociationApproval(m->id, BenchmarkId(1), ApprovalStatus::kPending),
              kInvalidArgument);
  ASSERT_TRUE(
      As(kBo).SetModelAssociationApproval(m->id, BenchmarkId(1), ApprovalStatus::kApproved).ok());
  // Priority: benchmark owner yes, model owner no; rows come highest priority first.
  EXPECT_CODE(As(kMo).SetModelAssociationPriority(m->id, BenchmarkId(1), 5), kPermissionDenied);
  ASSERT_TRUE(As(kBo).SetModelAssociationPriority(m->id, BenchmarkId(1), 5).ok());
  auto rows = As(kBo).ListBenchmarkModels(BenchmarkId(1));
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].model, m->id);
  EXPECT_CODE(As(kBo).SendJson("PUT", "/models/5/benchmarks/1/", Json{{"priority", "high"}}),
              kInvalidArgument);
}

TEST_F(EndpointsTest, ResultsLifecycle) {
  Dataset d = OperationalDataset("r1");
  Result r;
  r.name = "b1m2d" + d.id.str();
  r.benchmark = BenchmarkId(1);
  r.model = ModelId(2);
  r.dataset = d.id;
  // The reference model needs no association.
  auto ref = As(kDo).CreateResult(r);
  ASSERT_OK(ref);
  EXPECT_FALSE(ref->finalized);
  EXPECT_EQ(ref->name, r.name);
  // Model 4 needs the dataset association first.
  r.model = ModelId(4);
  auto unassoc = As(kDo).CreateResult(r);
  EXPECT_CODE(unassoc, kInvalidArgument);
  EXPECT_THAT(unassoc.status().message(), HasSubstr("Dataset must be associated"));
  EXPECT_CODE(As(kMo).CreateResult(r), kPermissionDenied);
  ASSERT_OK(As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()));
  ASSERT_TRUE(
      As(kBo).SetDatasetAssociationApproval(d.id, BenchmarkId(1), ApprovalStatus::kApproved).ok());
  auto exec = As(kDo).CreateResult(r);
  ASSERT_OK(exec);

  auto rep =
      As(kDo).UpdateResult(exec->id, Json{{"model_report", {{"execution_status", "started"}}}});
  ASSERT_OK(rep);
  EXPECT_EQ(rep->model_report["execution_status"], "started");
  EXPECT_FALSE(rep->finalized);
  EXPECT_CODE(As(kBo).UpdateResult(exec->id, Json{{"model_report", {}}}), kPermissionDenied);
  EXPECT_CODE(As(kDo).UpdateResult(
                  exec->id, Json{{"results", "not-json-object-but-ok"}, {"is_valid", "nope"}}),
              kInvalidArgument);

  auto sub = As(kDo).SubmitResult(exec->id, Json{{"AUC", 0.75}, {"nan_metric", NAN}}, false);
  ASSERT_OK(sub);
  EXPECT_TRUE(sub->finalized);
  EXPECT_FALSE(sub->finalized_at.empty());
  EXPECT_EQ(sub->results["AUC"], 0.75);
  EXPECT_EQ(sub->results["nan_metric"], "nan");
  EXPECT_EQ(sub->metadata["partial"], false);
  EXPECT_CODE(As(kDo).UpdateResult(exec->id, Json{{"model_report", {}}}), kInvalidArgument);

  ASSERT_OK(As(kBo).GetResult(exec->id));
  ASSERT_OK(As(kDo).GetResult(exec->id));
  EXPECT_CODE(As(kMo).GetResult(exec->id), kPermissionDenied);
  EXPECT_CODE(As(kDo).GetResult(ResultId(999)), kPermissionDenied);
  EXPECT_CODE(As(kAdmin).GetResult(ResultId(999)), kNotFound);
  auto mine = As(kDo).ListMyResults();
  ASSERT_OK(mine);
  EXPECT_EQ(mine->size(), 2u);
  auto all = As(kAdmin).ListResults();
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 2u);
  EXPECT_CODE(As(kDo).ListResults(), kPermissionDenied);
  auto of_bench = As(kBo).ListBenchmarkResults(BenchmarkId(1));
  ASSERT_OK(of_bench);
  EXPECT_EQ(of_bench->size(), 2u);
}

TEST_F(EndpointsTest, PaginationFollowsNextAcrossPages) {
  const int kCount = 70;  // three pages of 32
  for (int i = 0; i < kCount; ++i) {
    ASSERT_OK(
        As(kDo).CreateDataset(MakeDataset("p" + std::to_string(i), "uid" + std::to_string(i))));
  }
  auto all = As(kDo).ListMyDatasets();
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ((*all)[i].name, "p" + std::to_string(i));

  auto first = As(kDo).GetJson("/datasets/");
  ASSERT_OK(first);
  EXPECT_EQ((*first)["count"], kCount);
  EXPECT_EQ((*first)["results"].size(), 32u);
  EXPECT_TRUE((*first)["previous"].is_null());
  EXPECT_EQ((*first)["next"], url() + "/api/v0/datasets/?limit=32&offset=32");
  auto middle = As(kDo).GetJson("/datasets/?limit=10&offset=15");
  ASSERT_OK(middle);
  EXPECT_EQ((*middle)["results"].size(), 10u);
  EXPECT_EQ((*middle)["results"][0]["name"], "p15");
  EXPECT_EQ((*middle)["previous"], url() + "/api/v0/datasets/?limit=10&offset=5");
  EXPECT_EQ((*middle)["next"], url() + "/api/v0/datasets/?limit=10&offset=25");
  auto last = As(kDo).GetJson("/datasets/?limit=32&offset=64");
  ASSERT_OK(last);
  EXPECT_TRUE((*last)["next"].is_null());
  EXPECT_EQ((*last)["results"].size(), 6u);
  // Garbage limits fall back to the default page size, as in DRF.
  auto garbage = As(kDo).GetJson("/datasets/?limit=abc&offset=-4");
  ASSERT_OK(garbage);
  EXPECT_EQ((*garbage)["results"].size(), 32u);
}

}  // namespace
}  // namespace medperf::testing
