#include "daemon/flows/test_run.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/container_policy.h"

namespace medperf::daemon::flows {

absl::Status CheckTestRun(const TestRunInput& in) {
  bool has_prep = !in.data_preparator.empty() || in.data_preparator_id.has_value();
  bool has_model =
      !in.model.empty() || in.model_id.has_value() || in.model_container_id.has_value();
  bool has_eval = !in.evaluator.empty() || in.evaluator_id.has_value();
  bool has_raw = !in.data_path.empty() || !in.labels_path.empty();
  bool has_demo = !in.demo_url.empty();
  auto invalid = [](const char* message) { return absl::InvalidArgumentError(message); };
  if (!in.data_preparator.empty() && in.data_preparator_id) {
    return invalid("give the data preparator either as a local config or as a container id");
  }
  if (!in.model.empty() && (in.model_id || in.model_container_id)) {
    return invalid("give the model either as a local config or as an id");
  }
  if (in.model_id && in.model_container_id) {
    return invalid("give the model either as a model id or as a container id");
  }
  if (!in.evaluator.empty() && in.evaluator_id) {
    return invalid("give the evaluator either as a local config or as a container id");
  }
  if (has_raw && (in.data_path.empty() || in.labels_path.empty())) {
    return invalid("--data_path and --labels_path go together");
  }
  if (has_raw && has_demo) {
    return invalid("give one data source: --data_path/--labels_path or --demo_dataset_url");
  }
  if (!in.benchmark) {
    if (!has_prep || !has_model || !has_eval || !(has_raw || has_demo)) {
      return invalid(
          "without --benchmark, a test needs --data_preparator, --model, --evaluator and the "
          "data (--data_path with --labels_path, or --demo_dataset_url)");
    }
  } else if (has_prep && has_eval && (has_raw || has_demo) && has_model) {
    return invalid("every part of the benchmark is overridden; leave out --benchmark");
  }
  return absl::OkStatus();
}

storage::JobRecord TestRunJob(const TestRunInput& in) {
  int64_t model_id = in.model_id             ? in.model_id->value()
                     : in.model_container_id ? in.model_container_id->value()
                                             : 0;
  storage::JobRecord record =
      InteractiveJob("test", {{"benchmark", in.benchmark ? in.benchmark->value() : 0},
                              {"model", in.model},
                              {"model_id", model_id}});
  record.benchmark = in.benchmark;
  return record;
}

absl::StatusOr<TestRunResult> TestRun(FlowContext& ctx, const TestRunInput& in) {
  Site& site = ctx.site;
  JobContext& job = ctx.job;
  std::shared_ptr<const MedPerfApi> server;
  if (in.benchmark || in.data_preparator_id || in.model_id || in.model_container_id ||
      in.evaluator_id) {
    ASSIGN_OR_RETURN(server, ctx.connect());
  }
  CompatibilityTestSpec spec;
  spec.no_cache = in.no_cache;
  spec.data_already_prepared = in.skip_demo_data_preparation;
  TestContainerSource prep, model, evaluator;
  if (in.benchmark) {
    ASSIGN_OR_RETURN(Benchmark b, server->GetBenchmark(*in.benchmark));
    RETURN_IF_ERROR(CheckValid(b));
    job.Progress("benchmark", absl::StrCat("benchmark ", b.id.value(), " (", b.name, ")"));
    prep.container = b.data_preparation_mlcube;
    model.model = b.reference_model;
    evaluator.container = b.data_evaluator_mlcube;
    if (in.data_path.empty() && in.demo_url.empty()) {
      spec.demo_url = b.demo_dataset_tarball_url;
      spec.demo_hash = b.demo_dataset_tarball_hash;
      spec.data_already_prepared |= b.metadata.value("demo_dataset_already_prepared", false);
    }
  }
  if (!in.data_preparator.empty()) prep = {in.data_preparator, {}, {}};
  if (in.data_preparator_id) prep = {{}, *in.data_preparator_id, {}};
  if (!in.model.empty()) model = {in.model, {}, {}};
  if (in.model_container_id) model = {{}, *in.model_container_id, {}};
  if (in.model_id) model = {{}, {}, *in.model_id};
  if (!in.evaluator.empty()) evaluator = {in.evaluator, {}, {}};
  if (in.evaluator_id) evaluator = {{}, *in.evaluator_id, {}};
  if (!in.data_path.empty()) {
    spec.data_path = in.data_path;
    spec.labels_path = in.labels_path;
  }
  if (!in.demo_url.empty()) {
    spec.demo_url = in.demo_url;
    spec.demo_hash = in.demo_hash;
  }
  job.SetState(storage::JobState::kFetching);
  ASSIGN_OR_RETURN(spec.prep,
                   ResolveTestContainer(site, server.get(), job, prep, "data preparator"));
  ASSIGN_OR_RETURN(spec.model, ResolveTestContainer(site, server.get(), job, model, "model"));
  ASSIGN_OR_RETURN(spec.evaluator,
                   ResolveTestContainer(site, server.get(), job, evaluator, "evaluator"));
  ASSIGN_OR_RETURN(CompatibilityTestResult t, RunCompatibilityTest(site, job, spec));
  return TestRunResult{.test = std::move(t)};
}

nlohmann::json TestJson(const CompatibilityTestResult& t) {
  return {{"results", t.metrics},
          {"from_cache", t.from_cache},
          {"prepared_data_hash", t.prepared_data_hash},
          {"demo_dataset_hash", t.demo_hash},
          {"test_dir", t.dir.string()},
          {"logs", t.log_dir.string()},
          {"report", t.report}};
}

nlohmann::json SummaryJson(const TestRunResult& result) { return TestJson(result.test); }

}  // namespace medperf::daemon::flows
