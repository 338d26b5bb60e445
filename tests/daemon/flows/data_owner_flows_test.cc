// The data owner's flows against a fake server and a fake runner: what each one sends,
// what it stores locally, and how it fails. Over 600 lines: every data-owner flow shares
// the one fixture below, and the flows are the tutorial's steps in order.
#include <gtest/gtest.h>

#include "daemon/flows/associate_dataset.h"
#include "daemon/flows/benchmark_run.h"
#include "daemon/flows/prepare_dataset.h"
#include "daemon/flows/set_operational.h"
#include "daemon/flows/submit_dataset.h"
#include "daemon/flows/submit_result.h"
#include "tests/daemon/flows/flow_fixture.h"

namespace medperf::daemon::flows {
namespace {

constexpr int64_t kBenchmark = 1, kPrep = 10, kReference = 20, kModel2 = 21, kModel3 = 22,
                  kEvaluator = 30, kDataset = 5;

class DataOwnerFlowTest : public FlowTest {
 protected:
  DataOwnerFlowTest() {
    Benchmark b;
    b.id = BenchmarkId(kBenchmark);
    b.name = "bench";
    b.data_preparation_mlcube = ContainerId(kPrep);
    b.reference_model = ModelId(kReference);
    b.data_evaluator_mlcube = ContainerId(kEvaluator);
    b.state = EntityState::kOperation;
    b.approval_status = ApprovalStatus::kApproved;
    server_->benchmarks[kBenchmark] = b;
    server_->containers[kPrep] =
        FakeContainer(kPrep, "prep", {"prepare", "sanity_check", "statistics"});
    server_->containers[kEvaluator] = FakeContainer(kEvaluator, "metrics", {"evaluate"});
    for (int64_t m : {kReference, kModel2, kModel3}) {
      server_->models[m] = FakeModel(m, absl::StrCat("model", m));
    }
    Dataset d;
    d.id = DatasetId(kDataset);
    d.name = "ds";
    d.data_preparation_mlcube = ContainerId(kPrep);
    server_->datasets[kDataset] = d;
    GoodPreparator("prep");
  }

  // The local record `dataset submit` leaves.
  storage::DatasetRecord LocalDataset(const std::string& state = "DEVELOPMENT") {
    auto [data, labels] = RawData();
    storage::DatasetRecord r;
    r.id = DatasetId(kDataset);
    r.name = "ds";
    r.benchmark = BenchmarkId(kBenchmark);
    r.prep_container = ContainerId(kPrep);
    r.raw_data_path = data;
    r.raw_labels_path = labels;
    r.state = state;
    EXPECT_TRUE(store_->PutDataset(r).ok());
    return r;
  }

  // The dataset's association with the benchmark, approved on the server.
  void ApproveDataset() {
    BenchmarkDatasetAssociation a;
    a.dataset = DatasetId(kDataset);
    a.benchmark = BenchmarkId(kBenchmark);
    a.approval_status = ApprovalStatus::kApproved;
    a.created_at = "2025-01-01T00:00:00Z";
    server_->dataset_associations.push_back(a);
  }

  BenchmarkModelAssociation Assoc(int64_t model, ApprovalStatus status, const std::string& at) {
    BenchmarkModelAssociation a;
    a.model = ModelId(model);
    a.benchmark = BenchmarkId(kBenchmark);
    a.approval_status = status;
    a.created_at = at;
    return a;
  }
};

// --- dataset submit ---

TEST_F(DataOwnerFlowTest, SubmitDatasetRegistersAndStoresTheLocalRecord) {
  auto [data, labels] = RawData();
  SubmitDatasetInput in{.name = "ds",
                        .description = "d",
                        .location = "here",
                        .data_path = data,
                        .labels_path = labels,
                        .benchmark = BenchmarkId(kBenchmark),
                        .data_preparation_container = std::nullopt,
                        .dry_run = false};
  ASSERT_TRUE(CheckSubmitDataset(in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();

  ASSERT_EQ(server_->created_datasets.size(), 1u);
  const Dataset& sent = server_->created_datasets[0];
  EXPECT_EQ(sent.name, "ds");
  EXPECT_EQ(sent.data_preparation_mlcube, ContainerId(kPrep));  // the benchmark's preparator
  EXPECT_FALSE(sent.input_data_hash.empty());
  EXPECT_EQ(sent.generated_uid, sent.input_data_hash);  // placeholder until set_operational

  auto local = store_->GetDataset(out->dataset.id);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->prep_status, "registered");
  EXPECT_EQ(local->raw_data_path, data);
  EXPECT_EQ(local->input_data_hash, sent.input_data_hash);
  EXPECT_EQ(local->benchmark, BenchmarkId(kBenchmark));
  EXPECT_EQ(Events("dataset.registered").size(), 1u);
  EXPECT_EQ(SummaryJson(*out)["dataset"]["id"], out->dataset.id.value());
}

// A site that lost its state (or a second machine) submitting the same raw data for the
// same preparator gets its existing server dataset back, not a twin (issue 13, item 1).
TEST_F(DataOwnerFlowTest, SubmitDatasetReusesTheCallersDatasetWithTheSameData) {
  auto [data, labels] = RawData();
  SubmitDatasetInput in{.name = "again",
                        .description = "",
                        .location = "",
                        .data_path = data,
                        .labels_path = labels,
                        .benchmark = BenchmarkId(kBenchmark),
                        .data_preparation_container = std::nullopt,
                        .dry_run = false};
  // The same data registered before from a machine whose state is gone: the server
  // holds it, this site knows nothing of it.
  in.dry_run = true;
  auto body = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  ASSERT_TRUE(body.ok()) << body.status();
  ASSERT_FALSE(body->reused);
  Dataset registered = body->dataset;
  registered.id = DatasetId(77);
  registered.name = "registered-earlier";
  server_->datasets[77] = registered;

  auto preview = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  ASSERT_TRUE(preview.ok()) << preview.status();
  EXPECT_TRUE(preview->reused);
  EXPECT_NE(SummaryJson(*preview)["note"].get<std::string>().find("already registered"),
            std::string::npos);
  in.dry_run = false;
  auto again = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->dataset.id, registered.id);
  EXPECT_TRUE(server_->created_datasets.empty()) << "no twin on the server";
  EXPECT_TRUE(store_->GetDataset(registered.id).ok());
  EXPECT_EQ(Events("dataset.reused").size(), 1u);

  // Once tracked here, a third submission is refused naming the dataset.
  auto third = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  EXPECT_EQ(third.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(third.status().message().find("medperfctl dataset prepare --data_uid"),
            std::string::npos);
}

TEST_F(DataOwnerFlowTest, SubmitDatasetDryRunSendsAndStoresNothing) {
  auto [data, labels] = RawData();
  SubmitDatasetInput in{.name = "ds",
                        .description = "",
                        .location = "",
                        .data_path = data,
                        .labels_path = labels,
                        .benchmark = std::nullopt,
                        .data_preparation_container = ContainerId(kPrep),
                        .dry_run = true};
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(server_->created_datasets.empty());
  EXPECT_TRUE(store_->ListDatasets()->empty());
  EXPECT_TRUE(SummaryJson(*out).contains("note"));
}

TEST_F(DataOwnerFlowTest, SubmitDatasetRejectedByTheServerStoresNothing) {
  auto [data, labels] = RawData();
  server_->create_error = absl::PermissionDeniedError("not a data owner");
  SubmitDatasetInput in{.name = "ds",
                        .description = "",
                        .location = "",
                        .data_path = data,
                        .labels_path = labels,
                        .benchmark = BenchmarkId(kBenchmark),
                        .data_preparation_container = std::nullopt,
                        .dry_run = false};
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  EXPECT_TRUE(absl::IsPermissionDenied(out.status())) << out.status();
  EXPECT_TRUE(store_->ListDatasets()->empty());
  EXPECT_TRUE(Events("dataset.registered").empty());
}

TEST_F(DataOwnerFlowTest, SubmitDatasetRefusesAnInvalidPreparator) {
  auto [data, labels] = RawData();
  server_->containers[kPrep].is_valid = false;
  SubmitDatasetInput in{.name = "ds",
                        .description = "",
                        .location = "",
                        .data_path = data,
                        .labels_path = labels,
                        .benchmark = std::nullopt,
                        .data_preparation_container = ContainerId(kPrep),
                        .dry_run = false};
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitDataset(ctx, in); });
  EXPECT_TRUE(absl::IsFailedPrecondition(out.status())) << out.status();
  EXPECT_TRUE(server_->created_datasets.empty());
}

TEST_F(DataOwnerFlowTest, SubmitDatasetChecksItsArguments) {
  auto [data, labels] = RawData();
  SubmitDatasetInput in{.name = "ds",
                        .description = "",
                        .location = "",
                        .data_path = data,
                        .labels_path = labels,
                        .benchmark = BenchmarkId(kBenchmark),
                        .data_preparation_container = ContainerId(kPrep),
                        .dry_run = false};
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSubmitDataset(in)));  // both given
  in.data_preparation_container.reset();
  in.data_path = "relative/data";
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSubmitDataset(in)));
  in.data_path = (dir_ / "missing").string();
  EXPECT_TRUE(absl::IsNotFound(CheckSubmitDataset(in)));
}

// --- dataset prepare ---

TEST_F(DataOwnerFlowTest, PrepareRunsThePreparatorAndStoresTheResult) {
  LocalDataset();
  ASSERT_TRUE(CheckPrepareDataset(*store_, {.dataset = DatasetId(kDataset)}).ok());
  auto out = RunFlow(
      [&](FlowContext& ctx) { return PrepareDataset(ctx, {.dataset = DatasetId(kDataset)}); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(TasksRan(),
            (std::vector<std::string>{"prep/prepare", "prep/sanity_check", "prep/statistics"}));
  auto local = store_->GetDataset(DatasetId(kDataset));
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->prep_status, "prepared");
  EXPECT_EQ(local->generated_uid, out->generated_uid);
  EXPECT_EQ(Json::parse(local->statistics_json), (Json{{"count", 1}}));
  // The execution report went started → finished.
  ASSERT_EQ(server_->dataset_updates.size(), 2u);
  EXPECT_EQ(server_->dataset_updates[0].second["report"]["execution_status"], "started");
  EXPECT_EQ(server_->dataset_updates[1].second["report"]["execution_status"], "finished");
  // Every report carries `progress`, as the MedPerf client's does.
  for (const auto& update : server_->dataset_updates) {
    EXPECT_TRUE(update.second["report"].contains("progress")) << update.second.dump();
  }
  EXPECT_EQ(Events("dataset.prepared").size(), 1u);
}

TEST_F(DataOwnerFlowTest, PrepareWithAFailingSanityCheckMarksTheDatasetFailed) {
  LocalDataset();
  SetTask("prep/sanity_check", {{}, 1});
  auto out = RunFlow(
      [&](FlowContext& ctx) { return PrepareDataset(ctx, {.dataset = DatasetId(kDataset)}); });
  EXPECT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("sanity check"), std::string::npos) << out.status();
  EXPECT_EQ(store_->GetDataset(DatasetId(kDataset))->prep_status, "failed");
  ASSERT_FALSE(server_->dataset_updates.empty());
  EXPECT_EQ(server_->dataset_updates.back().second["report"]["execution_status"], "failed");
  EXPECT_TRUE(Events("dataset.prepared").empty());
}

TEST_F(DataOwnerFlowTest, PrepareOfAnUnknownDatasetIsRefusedBeforeAnyJob) {
  EXPECT_TRUE(absl::IsNotFound(CheckPrepareDataset(*store_, {.dataset = DatasetId(99)})));
}

// --- dataset set_operational ---

TEST_F(DataOwnerFlowTest, SetOperationalPublishesTheHashesAndStoresTheState) {
  LocalDataset();
  ASSERT_TRUE(RunFlow([&](FlowContext& ctx) {
                return PrepareDataset(ctx, {.dataset = DatasetId(kDataset)});
              }).ok());
  SetOperationalInput in{.dataset = DatasetId(kDataset), .dry_run = false};
  ASSERT_TRUE(CheckSetOperational(*store_, in).ok());
  server_->dataset_updates.clear();
  auto out = RunFlow([&](FlowContext& ctx) { return SetOperational(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  auto local = store_->GetDataset(DatasetId(kDataset));
  ASSERT_EQ(server_->dataset_updates.size(), 1u);
  const Json& sent = server_->dataset_updates[0].second;
  EXPECT_EQ(sent["state"], "OPERATION");
  EXPECT_EQ(sent["generated_uid"], local->generated_uid);
  EXPECT_EQ(sent["generated_metadata"], (Json{{"count", 1}}));
  EXPECT_EQ(local->state, "OPERATION");
  EXPECT_EQ(Events("dataset.operational").size(), 1u);
}

TEST_F(DataOwnerFlowTest, SetOperationalRefusesChangedPreparedData) {
  LocalDataset();
  ASSERT_TRUE(RunFlow([&](FlowContext& ctx) {
                return PrepareDataset(ctx, {.dataset = DatasetId(kDataset)});
              }).ok());
  testing::WriteFile(site_->DatasetDir(DatasetId(kDataset)) / "data" / "case2.txt", "tampered");
  server_->dataset_updates.clear();
  int connects_before = connects_;
  auto out = RunFlow([&](FlowContext& ctx) {
    return SetOperational(ctx, {.dataset = DatasetId(kDataset), .dry_run = false});
  });
  EXPECT_TRUE(absl::IsDataLoss(out.status())) << out.status();
  EXPECT_TRUE(server_->dataset_updates.empty());
  EXPECT_EQ(connects_, connects_before);  // the server is not even contacted
  EXPECT_EQ(store_->GetDataset(DatasetId(kDataset))->state, "DEVELOPMENT");
}

TEST_F(DataOwnerFlowTest, SetOperationalNeedsAPreparedDataset) {
  LocalDataset();
  EXPECT_TRUE(absl::IsFailedPrecondition(
      CheckSetOperational(*store_, {.dataset = DatasetId(kDataset), .dry_run = false})));
}

// --- dataset associate ---

TEST_F(DataOwnerFlowTest, AssociateRunsTheReferenceModelAndSendsItsResult) {
  LocalDataset("OPERATION");
  AssociateDatasetInput in{.dataset = DatasetId(kDataset),
                           .benchmark = BenchmarkId(kBenchmark),
                           .dry_run = false,
                           .no_cache = false};
  ASSERT_TRUE(CheckAssociateDataset(*store_, in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return AssociateDataset(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(RunJobs(), (std::vector<std::string>{"b1m20d5"}));
  EXPECT_EQ(out->result_uid, "b1m20d5");
  ASSERT_EQ(server_->dataset_associations.size(), 1u);
  EXPECT_EQ(server_->dataset_associations[0].dataset, DatasetId(kDataset));
  EXPECT_EQ(server_->dataset_associations[0].metadata["test_result"], run_metrics_);
  EXPECT_EQ(Events("association.requested").size(), 1u);

  // A second request finds the association in force: nothing runs, nothing is sent.
  auto again = RunFlow([&](FlowContext& ctx) { return AssociateDataset(ctx, in); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_associated);
  EXPECT_EQ(SummaryJson(*again)["association"]["approval_status"], "PENDING");
  EXPECT_EQ(RunJobs().size(), 1u);
  EXPECT_EQ(server_->dataset_associations.size(), 1u);
}

// As medperfctl does it: the dry run tests, the request reuses the stored result.
TEST_F(DataOwnerFlowTest, AssociateReusesTheResultOfItsDryRun) {
  LocalDataset("OPERATION");
  AssociateDatasetInput in{.dataset = DatasetId(kDataset),
                           .benchmark = BenchmarkId(kBenchmark),
                           .dry_run = true,
                           .no_cache = false};
  auto preview = RunFlow([&](FlowContext& ctx) { return AssociateDataset(ctx, in); });
  ASSERT_TRUE(preview.ok()) << preview.status();
  EXPECT_TRUE(server_->dataset_associations.empty());
  in.dry_run = false;
  auto out = RunFlow([&](FlowContext& ctx) { return AssociateDataset(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(RunJobs().size(), 1u);
  EXPECT_EQ(server_->dataset_associations.size(), 1u);
}

// An APPROVED association (e.g. a dataset tracked again after a lost state directory,
// not operational here yet) needs nothing: no test, no request, no error.
TEST_F(DataOwnerFlowTest, AssociateDoesNothingForAnApprovedAssociation) {
  LocalDataset("DEVELOPMENT");
  BenchmarkDatasetAssociation approved;
  approved.dataset = DatasetId(kDataset);
  approved.benchmark = BenchmarkId(kBenchmark);
  approved.approval_status = ApprovalStatus::kApproved;
  approved.created_at = "2025-01-01T00:00:00Z";
  server_->dataset_associations.push_back(approved);
  for (bool dry_run : {true, false}) {
    auto out = RunFlow([&](FlowContext& ctx) {
      return AssociateDataset(ctx, {.dataset = DatasetId(kDataset),
                                    .benchmark = BenchmarkId(kBenchmark),
                                    .dry_run = dry_run,
                                    .no_cache = false});
    });
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(out->already_associated);
    EXPECT_EQ(out->association->approval_status, ApprovalStatus::kApproved);
  }
  EXPECT_TRUE(RunJobs().empty());
  EXPECT_EQ(server_->dataset_associations.size(), 1u);
}

// After a rejection a new request is sent (the server allows it, MedPerf's client does
// it), and the answer names the rejected one.
TEST_F(DataOwnerFlowTest, AssociateAfterARejectionRequestsAgain) {
  LocalDataset("OPERATION");
  BenchmarkDatasetAssociation rejected;
  rejected.dataset = DatasetId(kDataset);
  rejected.benchmark = BenchmarkId(kBenchmark);
  rejected.approval_status = ApprovalStatus::kRejected;
  rejected.created_at = "2025-01-01T00:00:00Z";
  server_->dataset_associations.push_back(rejected);
  auto out = RunFlow([&](FlowContext& ctx) {
    return AssociateDataset(ctx, {.dataset = DatasetId(kDataset),
                                  .benchmark = BenchmarkId(kBenchmark),
                                  .dry_run = false,
                                  .no_cache = false});
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(out->already_associated);
  EXPECT_EQ(SummaryJson(*out)["previous"]["approval_status"], "REJECTED");
  EXPECT_EQ(RunJobs().size(), 1u);
  EXPECT_EQ(server_->dataset_associations.size(), 2u);
}

TEST_F(DataOwnerFlowTest, AssociateRefusesADatasetPreparedWithAnotherContainer) {
  storage::DatasetRecord r = LocalDataset("OPERATION");
  r.prep_container = ContainerId(11);
  ASSERT_TRUE(store_->PutDataset(r).ok());
  auto out = RunFlow([&](FlowContext& ctx) {
    return AssociateDataset(ctx, {.dataset = DatasetId(kDataset),
                                  .benchmark = BenchmarkId(kBenchmark),
                                  .dry_run = false,
                                  .no_cache = false});
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(out.status())) << out.status();
  EXPECT_TRUE(RunJobs().empty());
  EXPECT_TRUE(server_->dataset_associations.empty());
}

TEST_F(DataOwnerFlowTest, AssociateFailsWhenTheReferenceModelFails) {
  LocalDataset("OPERATION");
  run_error_ = absl::InvalidArgumentError("infer exited with code 3");
  auto out = RunFlow([&](FlowContext& ctx) {
    return AssociateDataset(ctx, {.dataset = DatasetId(kDataset),
                                  .benchmark = BenchmarkId(kBenchmark),
                                  .dry_run = false,
                                  .no_cache = false});
  });
  EXPECT_TRUE(absl::IsAborted(out.status())) << out.status();
  EXPECT_NE(out.status().message().find("infer exited with code 3"), std::string::npos);
  EXPECT_TRUE(server_->dataset_associations.empty());
}

// --- benchmark run ---

TEST_F(DataOwnerFlowTest, BenchmarkRunRunsTheApprovedModelsAndReusesCachedResults) {
  LocalDataset("OPERATION");
  server_->benchmark_models[kBenchmark] = {
      Assoc(kModel2, ApprovalStatus::kApproved, "2025-01-01T00:00:00Z"),
      Assoc(kModel3, ApprovalStatus::kPending, "2025-01-02T00:00:00Z")};
  storage::ResultRecord cached{
      LocalResultUid{BenchmarkId{kBenchmark}, ModelId{kModel2}, DatasetId{kDataset}}};
  cached.metrics_json = R"({"AUC":0.5})";
  ASSERT_TRUE(store_->PutResult(cached).ok());

  BenchmarkRunInput in{.dataset = DatasetId(kDataset),
                       .benchmark = BenchmarkId(kBenchmark),
                       .models = {},
                       .no_cache = false,
                       .ignore_model_errors = false};
  ApproveDataset();
  ASSERT_TRUE(CheckBenchmarkRun(*store_, Connect(), in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return BenchmarkRun(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  // The reference model ran; model 21 came from the cache; model 22 is not approved.
  EXPECT_EQ(RunJobs(), (std::vector<std::string>{"b1m20d5"}));
  ASSERT_EQ(out->rows.size(), 2u);
  EXPECT_EQ(out->rows[0].model, ModelId(kReference));
  EXPECT_FALSE(out->rows[0].from_cache);
  EXPECT_EQ(out->rows[1].model, ModelId(kModel2));
  EXPECT_TRUE(out->rows[1].from_cache);
  EXPECT_EQ(out->ran, 1);
  EXPECT_EQ(out->skipped, 1);
  EXPECT_EQ(out->failed, 0);
  EXPECT_EQ(SummaryJson(*out)["total"], 2);
}

// Without an approved association nothing is queued, and no job is created at all: the
// check comes before the job (the server would refuse each model's execution).
TEST_F(DataOwnerFlowTest, BenchmarkRunNeedsAnApprovedAssociationBeforeAnyJob) {
  LocalDataset("OPERATION");
  BenchmarkRunInput in{.dataset = DatasetId(kDataset),
                       .benchmark = BenchmarkId(kBenchmark),
                       .models = {},
                       .no_cache = false,
                       .ignore_model_errors = false};
  absl::Status none = CheckBenchmarkRun(*store_, Connect(), in);
  EXPECT_TRUE(absl::IsFailedPrecondition(none)) << none;
  EXPECT_NE(none.message().find("dataset 5 is not associated with benchmark 1 (it never asked to "
                                "join); run: medperfctl dataset associate -b 1 -d 5"),
            std::string::npos)
      << none;
  // A dataset made by another preparator is told it cannot join, not to associate.
  Dataset other_prep = server_->datasets[kDataset];
  other_prep.id = DatasetId(kDataset);
  other_prep.data_preparation_mlcube = ContainerId(999);
  std::swap(server_->datasets[kDataset], other_prep);
  absl::Status foreign = CheckBenchmarkRun(*store_, Connect(), in);
  EXPECT_NE(foreign.message().find("cannot join it: it was prepared with container 999"),
            std::string::npos)
      << foreign;
  EXPECT_EQ(foreign.message().find("dataset associate"), std::string::npos) << foreign;
  std::swap(server_->datasets[kDataset], other_prep);

  BenchmarkDatasetAssociation row;
  row.dataset = DatasetId(kDataset);
  row.benchmark = BenchmarkId(kBenchmark);
  row.created_at = "2025-01-01T00:00:00Z";
  server_->dataset_associations.push_back(row);
  absl::Status pending = CheckBenchmarkRun(*store_, Connect(), in);
  EXPECT_TRUE(absl::IsFailedPrecondition(pending)) << pending;
  EXPECT_NE(pending.message().find("PENDING until the benchmark owner approves it"),
            std::string::npos)
      << pending;

  row.approval_status = ApprovalStatus::kRejected;
  row.created_at = "2025-01-02T00:00:00Z";
  server_->dataset_associations.push_back(row);
  absl::Status rejected = CheckBenchmarkRun(*store_, Connect(), in);
  EXPECT_NE(rejected.message().find("rejected its association request"), std::string::npos)
      << rejected;

  // The reference model alone needs no association (the compatibility test's run).
  in.models = {ModelId(kReference)};
  EXPECT_TRUE(CheckBenchmarkRun(*store_, Connect(), in).ok());

  row.approval_status = ApprovalStatus::kApproved;
  row.created_at = "2025-01-03T00:00:00Z";
  server_->dataset_associations.push_back(row);
  in.models = {};
  EXPECT_TRUE(CheckBenchmarkRun(*store_, Connect(), in).ok());
  EXPECT_TRUE(RunJobs().empty());
}

TEST_F(DataOwnerFlowTest, BenchmarkRunReportsARefusedModelAsItsRowsError) {
  LocalDataset("OPERATION");
  server_->benchmark_models[kBenchmark] = {
      Assoc(kModel2, ApprovalStatus::kApproved, "2025-01-01T00:00:00Z")};
  server_->models[kModel2].is_valid = false;
  auto out = RunFlow([&](FlowContext& ctx) {
    return BenchmarkRun(ctx, {.dataset = DatasetId(kDataset),
                              .benchmark = BenchmarkId(kBenchmark),
                              .models = {},
                              .no_cache = false,
                              .ignore_model_errors = false});
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(RunJobs(), (std::vector<std::string>{"b1m20d5"}));
  ASSERT_EQ(out->rows.size(), 2u);
  EXPECT_NE(out->rows[1].error.find("invalid"), std::string::npos) << out->rows[1].error;
  EXPECT_EQ(out->failed, 1);
  EXPECT_EQ(out->ran, 1);
}

TEST_F(DataOwnerFlowTest, BenchmarkRunExplainsAHiddenModelList) {
  LocalDataset("OPERATION");
  server_->list_models_error = absl::PermissionDeniedError("forbidden");
  auto out = RunFlow([&](FlowContext& ctx) {
    return BenchmarkRun(ctx, {.dataset = DatasetId(kDataset),
                              .benchmark = BenchmarkId(kBenchmark),
                              .models = {},
                              .no_cache = false,
                              .ignore_model_errors = false});
  });
  EXPECT_TRUE(absl::IsPermissionDenied(out.status())) << out.status();
  EXPECT_NE(out.status().message().find("no approved association"), std::string::npos);
  EXPECT_TRUE(RunJobs().empty());
}

TEST_F(DataOwnerFlowTest, BenchmarkRunRefusesAModelThatIsNotApproved) {
  LocalDataset("OPERATION");
  server_->benchmark_models[kBenchmark] = {
      Assoc(kModel3, ApprovalStatus::kPending, "2025-01-01T00:00:00Z")};
  auto out = RunFlow([&](FlowContext& ctx) {
    return BenchmarkRun(ctx, {.dataset = DatasetId(kDataset),
                              .benchmark = BenchmarkId(kBenchmark),
                              .models = {ModelId(kModel3)},
                              .no_cache = false,
                              .ignore_model_errors = false});
  });
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_TRUE(RunJobs().empty());
}

// --- result submit ---

class SubmitResultFlowTest : public DataOwnerFlowTest {
 protected:
  storage::ResultRecord StoredResult() {
    LocalDataset("OPERATION");  // a result belongs to a local dataset
    storage::ResultRecord r{
        LocalResultUid{BenchmarkId{kBenchmark}, ModelId{kReference}, DatasetId{kDataset}}};
    r.metrics_json = R"({"AUC":0.75})";
    r.server_id = ResultId(77);
    absl::Status stored = store_->PutResult(r);
    EXPECT_TRUE(stored.ok()) << stored;
    return r;
  }
};

TEST_F(SubmitResultFlowTest, SendsTheMetricsAndMarksTheResultSubmitted) {
  StoredResult();
  auto out = SubmitResult(*site_, Connect(), {.uid = "b1m20d5", .dry_run = false});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(server_->submitted_results.size(), 1u);
  EXPECT_EQ(server_->submitted_results[0].first, 77);
  EXPECT_EQ(server_->submitted_results[0].second["results"], (Json{{"AUC", 0.75}}));
  EXPECT_TRUE(out->submitted_at.has_value());
  auto stored = store_->GetResult(out->uid);
  EXPECT_TRUE(stored->submitted_at.has_value());
  EXPECT_EQ(Events("result.submitted").size(), 1u);
}

TEST_F(SubmitResultFlowTest, AResultIsSubmittedOnce) {
  StoredResult();
  ASSERT_TRUE(SubmitResult(*site_, Connect(), {.uid = "b1m20d5", .dry_run = false}).ok());
  int connects = connects_;
  auto again = SubmitResult(*site_, Connect(), {.uid = "b1m20d5", .dry_run = false});
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_EQ(connects_, connects);
  EXPECT_EQ(server_->submitted_results.size(), 1u);
}

TEST_F(SubmitResultFlowTest, AServerRejectionLeavesTheResultUnsubmitted) {
  StoredResult();
  server_->create_error = absl::PermissionDeniedError("not yours");
  auto out = SubmitResult(*site_, Connect(), {.uid = "b1m20d5", .dry_run = false});
  EXPECT_TRUE(absl::IsPermissionDenied(out.status())) << out.status();
  auto stored = store_->GetResult(
      LocalResultUid(BenchmarkId(kBenchmark), ModelId(kReference), DatasetId(kDataset)));
  EXPECT_FALSE(stored->submitted_at.has_value());
  EXPECT_TRUE(Events("result.submitted").empty());
}

// An earlier attempt finalized the execution but its answer was lost (medperfd killed,
// a reset): the server refuses a second update, and the result is recorded as submitted.
TEST_F(SubmitResultFlowTest, AnExecutionAlreadyFinalizedIsRecordedNotSentAgain) {
  StoredResult();
  Result finalized;
  finalized.id = ResultId(77);
  finalized.finalized = true;
  server_->results[77] = finalized;
  server_->create_error =
      absl::InvalidArgumentError("User cannot update a result object after it's been finalized.");
  auto out = SubmitResult(*site_, Connect(), {.uid = "b1m20d5", .dry_run = false});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->submitted_at.has_value());
  auto stored = store_->GetResult(out->uid);
  EXPECT_TRUE(stored->submitted_at.has_value());
  auto events = Events("result.submitted");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0].message.find("already submitted"), std::string::npos) << events[0].message;
  auto meta = store_->GetMeta("submissions_in_flight");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(**meta, "[]");
}

TEST_F(SubmitResultFlowTest, DryRunAndBadUidsNeverContactTheServer) {
  StoredResult();
  EXPECT_TRUE(SubmitResult(*site_, Connect(), {.uid = "b1m20d5", .dry_run = true}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      SubmitResult(*site_, Connect(), {.uid = "nonsense", .dry_run = false}).status()));
  EXPECT_EQ(connects_, 0);
}

BenchmarkRunInput AllModels() {
  return {.dataset = DatasetId(kDataset),
          .benchmark = BenchmarkId(kBenchmark),
          .models = {},
          .no_cache = false,
          .ignore_model_errors = false};
}

// After a crash, a benchmark run that had queued its model runs is not "failed ... run
// the command again": medperfd queues it again, its run jobs resume, and it ends with
// the summary of what they did, as the command would have shown it.
TEST_F(DataOwnerFlowTest, AnInterruptedBenchmarkRunIsMarkedByWhatItsModelRunsDid) {
  LocalDataset("OPERATION");
  storage::JobRecord parent = BenchmarkRunJob(AllModels());
  parent.state = storage::JobState::kRunning;
  parent.attempts = 1;
  auto parent_id = store_->AddJob(parent);
  ASSERT_TRUE(parent_id.ok()) << parent_id.status();
  parent.id = *parent_id;
  auto reference = jobs_->EnqueueRun(BenchmarkId(kBenchmark), ModelId(kReference),
                                     DatasetId(kDataset), Json::object());
  auto second = jobs_->EnqueueRun(BenchmarkId(kBenchmark), ModelId(kModel2), DatasetId(kDataset),
                                  Json::object());
  ASSERT_TRUE(reference.ok() && second.ok());
  parent.params_json = Json{{"plan",
                             {{{"model", kReference}, {"job", reference->value()}},
                              {{"model", kModel2}, {"job", second->value()}},
                              {{"model", kModel3}, {"job", 0}, {"refused", "not allow-listed"}}}}}
                           .dump();
  ASSERT_TRUE(store_->UpdateJob(parent).ok());
  // An interactive job without a plan still fails: nobody can finish it.
  storage::JobRecord prepare = InteractiveJob("prepare");
  prepare.state = storage::JobState::kRunning;
  auto prepare_id = store_->AddJob(prepare);
  ASSERT_TRUE(prepare_id.ok());

  ASSERT_TRUE(store_->RequeueInterruptedJobs(kMaxRunAttempts).ok());
  auto requeued = store_->GetJob(*parent_id);
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->state, storage::JobState::kQueued);
  EXPECT_EQ(store_->GetJob(*prepare_id)->state, storage::JobState::kFailed);

  jobs_->Resume(*requeued, [this](JobContext& job) -> absl::StatusOr<Json> {
    FlowContext ctx{*site_, job, Connect(), jobs_.get()};
    absl::StatusOr<BenchmarkRunResult> result = ResumeBenchmarkRun(ctx);
    if (!result.ok()) return result.status();
    return SummaryJson(*result);
  });
  storage::JobRecord done = WaitFor(*parent_id);
  EXPECT_EQ(done.state, storage::JobState::kDone) << done.error;
  Json summary = Json::parse(done.result_json);
  EXPECT_EQ(summary["ran"], 2) << summary;
  EXPECT_EQ(summary["failed"], 1) << summary;
  EXPECT_EQ(summary["rows"][2]["error"], "not allow-listed") << summary;
  EXPECT_EQ(connects_, 0);  // the summary needs no server
}

// Without a saved plan (it was interrupted before queuing its models) it still asks
// for the command to be run again.
TEST_F(DataOwnerFlowTest, ABenchmarkRunInterruptedBeforeItsPlanFails) {
  storage::JobRecord parent = BenchmarkRunJob(AllModels());
  parent.state = storage::JobState::kRunning;
  auto id = store_->AddJob(parent);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(store_->RequeueInterruptedJobs(kMaxRunAttempts).ok());
  auto after = store_->GetJob(*id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, storage::JobState::kFailed);
  EXPECT_NE(after->error.find("run the command again"), std::string::npos) << after->error;
}

}  // namespace
}  // namespace medperf::daemon::flows
