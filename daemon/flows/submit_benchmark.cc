#include "daemon/flows/submit_benchmark.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/compatibility_check.h"

namespace medperf::daemon::flows {
using Json = nlohmann::json;

absl::Status CheckSubmitBenchmark(const SubmitBenchmarkInput& in) {
  if (in.name.empty()) return absl::InvalidArgumentError("--name is required");
  bool has_reference = (in.reference_model && in.reference_model->value() > 0) ||
                       (in.reference_model_container && in.reference_model_container->value() > 0);
  if (in.data_preparation_container.value() <= 0 || in.evaluator_container.value() <= 0 ||
      !has_reference) {
    return absl::InvalidArgumentError(
        "--data-preparation-container, --reference-model-container and --evaluator-container "
        "are required");
  }
  if (in.demo_url.empty() && !in.skip_compatibility_test) {
    return absl::InvalidArgumentError(
        "--demo-url is required: the benchmark's containers are tested on the demo "
        "dataset before it is submitted");
  }
  return absl::OkStatus();
}

storage::JobRecord SubmitBenchmarkJob(const SubmitBenchmarkInput& in) {
  return InteractiveJob("submit-benchmark", {{"name", in.name}});
}

absl::StatusOr<SubmitBenchmarkResult> SubmitBenchmark(FlowContext& ctx,
                                                      const SubmitBenchmarkInput& in) {
  Site& site = ctx.site;
  JobContext& job = ctx.job;
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  ModelId reference(0);
  if (in.reference_model && in.reference_model->value() > 0) {
    reference = *in.reference_model;
  } else {
    // Container and Model ids differ on the real server; ours shares them.
    ContainerId container = in.reference_model_container.value_or(ContainerId(0));
    absl::StatusOr<Model> m = server->GetContainerModel(container);
    if (!m.ok()) {
      return absl::Status(m.status().code(),
                          absl::StrCat("container ", container.value(),
                                       " is not a registered model (", m.status().message(),
                                       "); submit it with `medperfctl container submit` "
                                       "(a container with an infer task is a model)"));
    }
    reference = m->id;
  }
  Benchmark b;
  b.name = in.name;
  b.description = in.description;
  b.docs_url = in.docs_url;
  b.data_preparation_mlcube = in.data_preparation_container;
  b.reference_model = reference;
  b.data_evaluator_mlcube = in.evaluator_container;
  b.state = in.operational ? EntityState::kOperation : EntityState::kDevelopment;
  SubmitBenchmarkResult out;
  if (in.skip_compatibility_test) {
    // What the real client sends when the tests are skipped.
    b.demo_dataset_tarball_url = in.demo_url.empty() ? "link" : in.demo_url;
    b.demo_dataset_tarball_hash = in.demo_hash.empty() ? "hash" : in.demo_hash;
    b.demo_dataset_generated_uid = "uid";
  } else {
    CompatibilityTestSpec spec;
    spec.demo_url = in.demo_url;
    spec.demo_hash = in.demo_hash;
    spec.data_already_prepared = in.skip_demo_data_preparation;
    spec.no_cache = true;  // as the real client: a submission is always tested afresh
    job.SetState(storage::JobState::kFetching);
    ASSIGN_OR_RETURN(spec.prep,
                     ResolveTestContainer(site, server.get(), job,
                                          {{}, b.data_preparation_mlcube, {}}, "data preparator"));
    ASSIGN_OR_RETURN(spec.model, ResolveTestContainer(site, server.get(), job, {{}, {}, reference},
                                                      "reference model"));
    ASSIGN_OR_RETURN(spec.evaluator,
                     ResolveTestContainer(site, server.get(), job,
                                          {{}, b.data_evaluator_mlcube, {}}, "evaluator"));
    ASSIGN_OR_RETURN(CompatibilityTestResult t, RunCompatibilityTest(site, job, spec));
    out.results = t.metrics;
    b.demo_dataset_tarball_url = in.demo_url;
    b.demo_dataset_tarball_hash = t.demo_hash;
    b.demo_dataset_generated_uid = t.prepared_data_hash;
  }
  b.metadata = {{"results", out.results},
                {"demo_dataset_already_prepared", in.skip_demo_data_preparation},
                {"skip_compatibility_tests", in.skip_compatibility_test}};
  job.Progress("submit", "submitting the benchmark (POST /benchmarks/)");
  ASSIGN_OR_RETURN(out.benchmark, server->CreateBenchmark(b));
  site.events()
      .Publish("benchmark.submitted",
               absl::StrCat("benchmark ", out.benchmark.id.value(), " (", out.benchmark.name,
                            ") submitted, ", std::string(ToString(out.benchmark.approval_status))),
               {{"benchmark", out.benchmark.id.value()}})
      .IgnoreError();
  return out;
}

nlohmann::json SummaryJson(const SubmitBenchmarkResult& result) {
  return {{"benchmark", ToFullJson(result.benchmark)}, {"results", result.results}};
}

}  // namespace medperf::daemon::flows
