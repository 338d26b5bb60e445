// The benchmark committee's and model owner's flows against a fake server and a fake
// runner: test run, container submit, benchmark submit, model associate.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

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

  // A test of local containers (named after their folders) whose tasks succeed, with
  // no MedPerf server.
  TestRunInput LocalPartsThatWork() {
    auto [data, labels] = RawData();
    TestRunInput in;
    in.data_preparator = ConfigFile("prep", {"prepare", "sanity_check", "statistics"});
    in.model = ConfigFile("reference", {"infer"});
    in.evaluator = ConfigFile("metrics", {"evaluate"});
    in.data_path = data;
    in.labels_path = labels;
    GoodPreparator("local_prep");
    SetTask("local_reference/infer", {{{"output_path", {{"case1.txt", "1"}}}}, 0});
    SetTask("local_metrics/evaluate", {{{"output_path", {{"", "AUC: 0.7\n"}}}}, 0});
    connect_error_ = absl::FailedPreconditionError("no MedPerf server configured");
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
  TestRunInput in = LocalPartsThatWork();
  ASSERT_TRUE(CheckTestRun(in).ok());
  auto out = RunFlow([&](FlowContext& ctx) { return TestRun(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->test.metrics, (Json{{"AUC", 0.7}}));
  EXPECT_EQ(connects_, 0);
}

// Two identical tests at once (two terminals) share a test folder: the second waits for
// the first instead of resetting the folder under it.
TEST_F(CommitteeFlowTest, IdenticalTestRunsAtOnceTakeTurnsInTheirFolder) {
  TestRunInput in = LocalPartsThatWork();
  in.no_cache = true;
  std::atomic<int> in_flight{0}, most{0};
  runner_->on_run = [&](const std::string&) {
    int now = ++in_flight;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    --in_flight;
  };
  absl::StatusOr<TestRunResult> second = absl::UnknownError("not run");
  std::thread other([&] { second = RunFlow([&](FlowContext& ctx) { return TestRun(ctx, in); }); });
  auto first = RunFlow([&](FlowContext& ctx) { return TestRun(ctx, in); });
  other.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->test.metrics, (Json{{"AUC", 0.7}}));
  EXPECT_EQ(second->test.metrics, (Json{{"AUC", 0.7}}));
  EXPECT_EQ(most.load(), 1) << "the two tests ran tasks in the same folder at once";
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

// An image tarball is registered where every site can fetch it: the --image-file URL
// replaces the config's `image`; a relative path in a local config becomes the file it
// names; a relative path in a config fetched from a URL is refused.
TEST_F(CommitteeFlowTest, SubmitArchiveContainerRegistersTheImageEverySiteFetches) {
  namespace fs = std::filesystem;
  fs::path folder = dir_ / "configs" / "archive";
  testing::WriteFile(folder / "images" / "metrics.tar", "an image tarball");
  testing::WriteFile(dir_ / "hosted" / "metrics.tar", "the hosted image tarball");
  auto write_config = [&](const std::string& image) {
    testing::WriteFile(folder / "container_config.yaml", "container_type: DockerArchive\nimage: " +
                                                             image + "\ntasks:\n  evaluate: {}\n");
  };
  write_config("images/metrics.tar");
  SubmitContainerInput in = ContainerInput((folder / "container_config.yaml").string());
  in.name = "archive-from-file";
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(server_->created_containers.size(), 1u);
  EXPECT_EQ(server_->created_containers[0].container_config["image"],
            "file://" + (folder / "images" / "metrics.tar").string());

  in.name = "archive-from-url";
  in.image_file = "file://" + (dir_ / "hosted" / "metrics.tar").string();
  out = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(server_->created_containers.size(), 2u);
  EXPECT_EQ(server_->created_containers[1].container_config["image"], in.image_file)
      << "the config's own image would not be the file whose hash was registered";

  in.name = "archive-relative-in-url-config";
  in.image_file.clear();
  in.container_config_file = "file://" + (folder / "container_config.yaml").string();
  out = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("relative path no site can fetch"), std::string::npos)
      << out.status();
  EXPECT_EQ(server_->created_containers.size(), 2u);
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

// Submitting the same container again (issue 13, item 1) answers with the one already
// registered: the server's unique set matches, whatever the name; nothing is POSTed.
TEST_F(CommitteeFlowTest, SubmitContainerTwiceReusesTheRegisteredOne) {
  SubmitContainerInput in = ContainerInput(ConfigFile("metrics", {"evaluate"}));
  in.name = "metrics-v2";
  auto first = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(SummaryJson(*first)["reused"], false);

  auto again = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->container.id, first->container.id);
  EXPECT_EQ(server_->created_containers.size(), 1u) << "registered twice";
  EXPECT_EQ(SummaryJson(*again)["reused"], true);
  EXPECT_EQ(SummaryJson(*again)["container"]["id"], first->container.id.value());
  ASSERT_EQ(Events("container.reused").size(), 1u);
  EXPECT_NE(Events("container.reused")[0].message.find("already exists on the server as id " +
                                                       std::to_string(first->container.id.value())),
            std::string::npos);

  // Another name for the same hashes is still the same container.
  in.name = "metrics-renamed";
  auto renamed = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_TRUE(renamed->reused);
  EXPECT_EQ(renamed->container.id, first->container.id);
  EXPECT_EQ(server_->created_containers.size(), 1u);
}

// A parameters file holding NaN or infinity (a metrics container's extra results) is the
// same container when submitted again: the values are compared in the form the server
// keeps them ("nan", "Infinity"), where NaN equals itself.
TEST_F(CommitteeFlowTest, SubmitContainerWithNonFiniteParametersTwiceReusesIt) {
  SubmitContainerInput in = ContainerInput(ConfigFile("metrics", {"evaluate"}));
  std::filesystem::path parameters = dir_ / "configs" / "metrics" / "parameters.yaml";
  testing::WriteFile(parameters,
                     "extra_results:\n  AUC_rare: .nan\n  ratio: .inf\n  delta: -.inf\n");
  in.parameters_file = parameters.string();
  auto first = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->container.id, first->container.id);
  EXPECT_EQ(server_->created_containers.size(), 1u) << "registered twice";
}

TEST_F(CommitteeFlowTest, SubmitModelContainerTwiceReusesTheModel) {
  SubmitContainerInput in = ContainerInput(ConfigFile("reference", {"infer"}));
  in.name = "reference-v2";
  auto first = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->reused);
  ASSERT_TRUE(again->model.has_value());
  EXPECT_EQ(again->model->id, first->model->id);
  EXPECT_EQ(server_->created_models.size(), 1u);
  EXPECT_TRUE(SummaryJson(*again).contains("model"));
}

// A taken name with other hashes: the server's refusal names the field and the container
// holding the name, with the fields that differ.
TEST_F(CommitteeFlowTest, SubmitContainerUnderATakenNameNamesTheHolder) {
  SubmitContainerInput in = ContainerInput(ConfigFile("metrics", {"evaluate"}));
  ASSERT_EQ(server_->containers[kEvaluator].name, in.name);
  server_->create_error = absl::InvalidArgumentError(
      "POST /mlcubes/: HTTP 400: name: mlcube with this name already exists.");
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitContainer(ctx, in); });
  ASSERT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  const std::string message(out.status().message());
  EXPECT_NE(message.find("field 'name'"), std::string::npos) << message;
  EXPECT_NE(message.find("by container " + std::to_string(kEvaluator) + " (yours)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("image_hash (none there, sha256:"), std::string::npos) << message;
  EXPECT_EQ(Events("container.reused").size(), 0u);
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

// The same benchmark again (issue 13, item 1): found by name before the compatibility
// test, which is not run again, and answered with the registered one.
TEST_F(CommitteeFlowTest, SubmitBenchmarkTwiceReusesTheRegisteredOne) {
  SubmitBenchmarkInput in = BenchmarkInput();
  auto first = RunFlow([&](FlowContext& ctx) { return SubmitBenchmark(ctx, in); });
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->reused);
  auto again = RunFlow([&](FlowContext& ctx) { return SubmitBenchmark(ctx, in); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->benchmark.id, first->benchmark.id);
  EXPECT_EQ(server_->created_benchmarks.size(), 1u) << "submitted twice";
  EXPECT_EQ(SummaryJson(*again)["reused"], true);
  EXPECT_EQ(Events("benchmark.reused").size(), 1u);
}

TEST_F(CommitteeFlowTest, SubmitBenchmarkFoundAgainSkipsTheCompatibilityTest) {
  Benchmark there = server_->benchmarks[kBenchmark];
  there.id = BenchmarkId(7);
  there.name = "new bench";
  there.demo_dataset_tarball_url = "https://example.org/demo.tar.gz";
  there.metadata = {{"results", {{"AUC", 0.8}}}};
  server_->benchmarks[7] = there;
  SubmitBenchmarkInput in = BenchmarkInput();
  in.skip_compatibility_test = false;
  in.demo_url = there.demo_dataset_tarball_url;
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitBenchmark(ctx, in); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->reused);
  EXPECT_EQ(out->benchmark.id, BenchmarkId(7));
  EXPECT_EQ(out->results, (Json{{"AUC", 0.8}}));
  EXPECT_TRUE(TasksRan().empty()) << "tested again";
  EXPECT_TRUE(server_->created_benchmarks.empty());

  // A local demo tarball given as a path is the file:// URL the server holds (the seeded
  // tutorial benchmark; found by a newcomer's review).
  server_->benchmarks[7].demo_dataset_tarball_url = "file:///srv/demo/demo_data.tar.gz";
  in.demo_url = "/srv/demo/demo_data.tar.gz";
  auto as_path = RunFlow([&](FlowContext& ctx) { return SubmitBenchmark(ctx, in); });
  ASSERT_TRUE(as_path.ok()) << as_path.status();
  EXPECT_TRUE(as_path->reused);
  EXPECT_EQ(as_path->benchmark.id, BenchmarkId(7));
}

// A taken name with other containers is refused before the test, naming the field, the
// benchmark holding the name and what differs.
TEST_F(CommitteeFlowTest, SubmitBenchmarkUnderATakenNameNamesTheHolder) {
  SubmitBenchmarkInput in = BenchmarkInput();
  in.name = "bench";  // benchmark 1, whose reference model is 20 and evaluator 30
  in.evaluator_container = ContainerId(kPrep);
  in.skip_compatibility_test = false;
  in.demo_url = "https://example.org/demo.tar.gz";
  auto out = RunFlow([&](FlowContext& ctx) { return SubmitBenchmark(ctx, in); });
  ASSERT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  const std::string message(out.status().message());
  EXPECT_NE(message.find("field 'name'"), std::string::npos) << message;
  EXPECT_NE(message.find("your benchmark 1"), std::string::npos) << message;
  EXPECT_NE(message.find("data_evaluator_mlcube (30 there, 10 here)"), std::string::npos)
      << message;
  EXPECT_TRUE(TasksRan().empty());
  EXPECT_TRUE(server_->created_benchmarks.empty());
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
