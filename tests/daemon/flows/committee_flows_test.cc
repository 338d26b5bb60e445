// The benchmark committee's and model owner's flows against a fake server and a fake
// runner: test run, container submit, benchmark submit, model associate.
#include <gtest/gtest.h>

#include "daemon/flows/associate_model.h"
#include "daemon/flows/submit_benchmark.h"
#include "daemon/flows/submit_container.h"
#include "daemon/flows/test_run.h"
#include "tests/daemon/flows/flow_fixture.h"

namespace medperf::daemon::flows {
namespace {

constexpr int64_t kBenchmark = 1, kPrep = 10, kReference = 20, kEvaluator = 30;

class CommitteeFlowTest : public FlowTest {
 protected:
  CommitteeFlowTest() {
    Benchmark b;
    b.id = BenchmarkId(kBenchmark);
    b.name = "bench";
    b.data_preparation_mlcube = ContainerId(kPrep);
    b.reference_model = ModelId(kReference);
    b.data_evaluator_mlcube = ContainerId(kEvaluator);
    b.state = EntityState::kOperation;
    b.metadata = {{"skip_compatibility_tests", true}};
    server_->benchmarks[kBenchmark] = b;
    server_->containers[kPrep] =
        FakeContainer(kPrep, "prep", {"prepare", "sanity_check", "statistics"});
    server_->containers[kEvaluator] = FakeContainer(kEvaluator, "metrics", {"evaluate"});
    server_->models[kReference] = FakeModel(kReference, "reference");
    GoodPreparator("prep");
    SetTask("reference/infer", {{{"output_path", {{"case1.txt", "1"}}}}, 0});
    SetTask("metrics/evaluate", {{{"output_path", {{"", "AUC: 0.8\n"}}}}, 0});
  }

  TestRunInput RegisteredParts() {
    auto [data, labels] = RawData();
    TestRunInput in;
    in.data_preparator_id = ContainerId(kPrep);
    in.model_id = ModelId(kReference);
    in.evaluator_id = ContainerId(kEvaluator);
    in.data_path = data;
    in.labels_path = labels;
    return in;
  }

  // A container config file on the daemon's machine.
  std::string ConfigFile(const std::string& name, const std::vector<std::string>& tasks) {
    std::filesystem::path path = dir_ / "configs" / name / "container_config.yaml";
    testing::WriteFile(path, FakeContainer(0, name, tasks).container_config.dump());
    return path.string();
  }
};

// --- test run ---

TEST_F(CommitteeFlowTest, TestRunOfRegisteredPartsReturnsTheMetrics) {
  TestRunInput in = RegisteredParts();
  ASSERT_TRUE(CheckTestRun(in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return TestRun(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->test.metrics, (Json{{"AUC", 0.8}}));
  EXPECT_FALSE(out->test.from_cache);
  EXPECT_EQ(TasksRan(),
            (std::vector<std::string>{"prep/prepare", "prep/sanity_check", "prep/statistics",
                                      "reference/infer", "metrics/evaluate"}));
  EXPECT_EQ(SummaryJson(*out)["results"], (Json{{"AUC", 0.8}}));
  // Nothing is sent to the server by a test.
  EXPECT_TRUE(server_->created_benchmarks.empty());
  EXPECT_TRUE(server_->model_associations.empty());

  // The same test again is answered from its report.
  auto again = RunFlow([&](FlowContext& ctx) { return TestRun(ctx, in); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->test.from_cache);
}

TEST_F(CommitteeFlowTest, TestRunOfLocalPartsNeedsNoServer) {
  auto [data, labels] = RawData();
  TestRunInput in;
  in.data_preparator = ConfigFile("prep", {"prepare", "sanity_check", "statistics"});
  in.model = ConfigFile("reference", {"infer"});
  in.evaluator = ConfigFile("metrics", {"evaluate"});
  in.data_path = data;
  in.labels_path = labels;
  ASSERT_TRUE(CheckTestRun(in).ok());
  // Local containers are named after their folder.
  GoodPreparator("local_prep");
  SetTask("local_reference/infer", {{{"output_path", {{"case1.txt", "1"}}}}, 0});
  SetTask("local_metrics/evaluate", {{{"output_path", {{"", "AUC: 0.7\n"}}}}, 0});
  connect_error_ = absl::FailedPreconditionError("no MedPerf server configured");
  auto out = RunFlow([&](FlowContext& ctx) { return TestRun(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->test.metrics, (Json{{"AUC", 0.7}}));
  EXPECT_EQ(connects_, 0);
}

TEST_F(CommitteeFlowTest, TestRunNamesTheFailingStage) {
  SetTask("metrics/evaluate", {{}, 2});
  auto out = RunFlow([&](FlowContext& ctx) { return TestRun(ctx, RegisteredParts()); });
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("evaluate"), std::string::npos) << out.status();
}

TEST_F(CommitteeFlowTest, TestRunChecksItsArguments) {
  TestRunInput in = RegisteredParts();
  in.data_preparator = "/some/config.yaml";  // and an id
  EXPECT_TRUE(absl::IsInvalidArgument(CheckTestRun(in)));
  in = RegisteredParts();
  in.labels_path.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(CheckTestRun(in)));
  in = RegisteredParts();
  in.benchmark = BenchmarkId(kBenchmark);  // every part overridden
  EXPECT_TRUE(absl::IsInvalidArgument(CheckTestRun(in)));
  in = RegisteredParts();
  in.evaluator_id.reset();  // no benchmark to take it from
  EXPECT_TRUE(absl::IsInvalidArgument(CheckTestRun(in)));
}

// --- container submit ---

SubmitContainerInput ContainerInput(const std::string& config_file) {
  SubmitContainerInput in;
  in.name = "metrics";
  in.container_config_file = config_file;
  return in;
}

TEST_F(CommitteeFlowTest, SubmitContainerRegistersItWithTheImageHashComputedHere) {
  SubmitContainerInput in = ContainerInput(ConfigFile("metrics", {"evaluate"}));
  ASSERT_TRUE(CheckSubmitContainer(in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(server_->created_containers.size(), 1u);
  const Container& sent = server_->created_containers[0];
  EXPECT_EQ(sent.name, "metrics");
  EXPECT_EQ(sent.image_hash, "sha256:" + std::string(64, 'f'));  // the fake runner's
  EXPECT_EQ(sent.container_config["image"], "example/metrics:1");
  EXPECT_EQ(sent.state, EntityState::kDevelopment);
  EXPECT_FALSE(out->model.has_value());
  EXPECT_TRUE(server_->created_models.empty());
  EXPECT_EQ(Events("container.submitted").size(), 1u);
}

TEST_F(CommitteeFlowTest, SubmitContainerWithAnInferTaskRegistersAModel) {
  SubmitContainerInput in = ContainerInput(ConfigFile("reference", {"infer"}));
  in.operational = true;
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(server_->created_models.size(), 1u);
  EXPECT_EQ(server_->created_models[0].state, EntityState::kOperation);
  EXPECT_TRUE(server_->created_containers.empty());
  ASSERT_TRUE(out->model.has_value());
  EXPECT_TRUE(SummaryJson(*out).contains("model"));
}

TEST_F(CommitteeFlowTest, SubmitContainerRefusesAnImageHashMismatch) {
  SubmitContainerInput in = ContainerInput(ConfigFile("metrics", {"evaluate"}));
  in.image_hash = "sha256:" + std::string(64, 'e');
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  EXPECT_TRUE(absl::IsFailedPrecondition(out.status())) << out.status();
  EXPECT_NE(out.status().message().find("image hash mismatch"), std::string::npos);
  EXPECT_TRUE(server_->created_containers.empty());
  EXPECT_EQ(connects_, 0);
}

TEST_F(CommitteeFlowTest, SubmitContainerChecksItsArguments) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSubmitContainer(ContainerInput("relative.yaml"))));
  SubmitContainerInput in = ContainerInput("/abs/config.yaml");
  in.additional_hash = "not-a-hash";
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSubmitContainer(in)));
  in.name.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSubmitContainer(in)));
}

// --- benchmark submit ---

SubmitBenchmarkInput BenchmarkInput() {
  SubmitBenchmarkInput in;
  in.name = "new bench";
  in.data_preparation_container = ContainerId(kPrep);
  in.reference_model_container = ContainerId(kReference);
  in.evaluator_container = ContainerId(kEvaluator);
  in.skip_compatibility_test = true;
  return in;
}

TEST_F(CommitteeFlowTest, SubmitBenchmarkWithoutTestsSendsTheClientsPlaceholders) {
  SubmitBenchmarkInput in = BenchmarkInput();
  ASSERT_TRUE(CheckSubmitBenchmark(in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitBenchmark(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(server_->created_benchmarks.size(), 1u);
  const Benchmark& sent = server_->created_benchmarks[0];
  EXPECT_EQ(sent.reference_model, ModelId(kReference));  // the model wrapping the container
  EXPECT_EQ(sent.demo_dataset_tarball_url, "link");
  EXPECT_EQ(sent.demo_dataset_tarball_hash, "hash");
  EXPECT_EQ(sent.demo_dataset_generated_uid, "uid");
  EXPECT_EQ(sent.metadata["skip_compatibility_tests"], true);
  EXPECT_TRUE(TasksRan().empty());
  EXPECT_EQ(Events("benchmark.submitted").size(), 1u);
}

TEST_F(CommitteeFlowTest, SubmitBenchmarkNeedsAReferenceContainerThatIsAModel) {
  SubmitBenchmarkInput in = BenchmarkInput();
  in.reference_model_container = ContainerId(kEvaluator);  // no model wraps it
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitBenchmark(ctx, in); });
  EXPECT_TRUE(absl::IsNotFound(out.status())) << out.status();
  EXPECT_NE(out.status().message().find("is not a registered model"), std::string::npos);
  EXPECT_TRUE(server_->created_benchmarks.empty());
}

TEST_F(CommitteeFlowTest, SubmitBenchmarkNeedsADemoDatasetToTest) {
  SubmitBenchmarkInput in = BenchmarkInput();
  in.skip_compatibility_test = false;
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSubmitBenchmark(in)));
  in.demo_url = "https://example.org/demo.tar.gz";
  EXPECT_TRUE(CheckSubmitBenchmark(in).ok());
  in.evaluator_container = ContainerId(0);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSubmitBenchmark(in)));
}

// --- model associate ---

TEST_F(CommitteeFlowTest, AssociateModelRequestsTheAssociation) {
  AssociateModelInput in{.benchmark = BenchmarkId(kBenchmark),
                         .model = std::nullopt,
                         .model_container = ContainerId(kReference),
                         .dry_run = false,
                         .no_cache = false};
  ASSERT_TRUE(CheckAssociateModel(in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return AssociateModel(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(server_->model_associations.size(), 1u);
  EXPECT_EQ(server_->model_associations[0].model, ModelId(kReference));
  EXPECT_EQ(server_->model_associations[0].benchmark, BenchmarkId(kBenchmark));
  EXPECT_EQ(server_->model_associations[0].metadata, (Json{{"test_result", Json::object()}}));
  EXPECT_TRUE(TasksRan().empty());  // the benchmark skips compatibility tests
  EXPECT_EQ(Events("association.requested").size(), 1u);
  EXPECT_TRUE(SummaryJson(*out).contains("association"));
}

TEST_F(CommitteeFlowTest, AssociateModelRunsTheTestWhenTheBenchmarkAsksForIt) {
  // A demo "URL" that is a folder-free local path is refused by the asset cache: the
  // test stage fails and nothing is requested.
  server_->benchmarks[kBenchmark].metadata = Json::object();
  server_->benchmarks[kBenchmark].demo_dataset_tarball_url = (dir_ / "missing.tar.gz").string();
  auto out = RunFlow([&](FlowContext& ctx) {
    return AssociateModel(ctx, {.benchmark = BenchmarkId(kBenchmark),
                                .model = ModelId(kReference),
                                .model_container = std::nullopt,
                                .dry_run = false,
                                .no_cache = false});
  });
  EXPECT_FALSE(out.ok());
  EXPECT_TRUE(server_->model_associations.empty());
}

TEST_F(CommitteeFlowTest, AssociateModelRejectedByTheServer) {
  server_->create_error = absl::AlreadyExistsError("an association request is pending");
  auto out = RunFlow([&](FlowContext& ctx) {
    return AssociateModel(ctx, {.benchmark = BenchmarkId(kBenchmark),
                                .model = ModelId(kReference),
                                .model_container = std::nullopt,
                                .dry_run = false,
                                .no_cache = false});
  });
  EXPECT_TRUE(absl::IsAlreadyExists(out.status())) << out.status();
  EXPECT_TRUE(Events("association.requested").empty());
}

TEST_F(CommitteeFlowTest, AssociateModelChecksItsArguments) {
  AssociateModelInput in{.benchmark = BenchmarkId(kBenchmark),
                         .model = std::nullopt,
                         .model_container = std::nullopt,
                         .dry_run = false,
                         .no_cache = false};
  EXPECT_TRUE(absl::IsInvalidArgument(CheckAssociateModel(in)));
  in.model = ModelId(kReference);
  in.benchmark = BenchmarkId(0);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckAssociateModel(in)));
}

}  // namespace
}  // namespace medperf::daemon::flows
