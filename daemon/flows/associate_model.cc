#include "daemon/flows/associate_model.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/compatibility_check.h"
#include "daemon/container_policy.h"
#include "daemon/flows/test_run.h"

namespace medperf::daemon::flows {

absl::Status CheckAssociateModel(const AssociateModelInput& in) {
  if (in.benchmark.value() <= 0) return absl::InvalidArgumentError("--benchmark is required");
  if (!in.model && !in.model_container) {
    return absl::InvalidArgumentError("--model_uid is required");
  }
  return absl::OkStatus();
}

storage::JobRecord AssociateModelJob(const AssociateModelInput& in) {
  storage::JobRecord record = InteractiveJob("associate-model", {{"dry_run", in.dry_run}});
  record.benchmark = in.benchmark;
  record.model = in.model;
  return record;
}

absl::StatusOr<AssociateModelResult> AssociateModel(FlowContext& ctx,
                                                    const AssociateModelInput& in) {
  Site& site = ctx.site;
  JobContext& job = ctx.job;
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  ASSIGN_OR_RETURN(Benchmark benchmark, server->GetBenchmark(in.benchmark));
  RETURN_IF_ERROR(CheckValid(benchmark));
  ModelId model = in.model.value_or(ModelId(0));
  if (in.model_container) {
    absl::StatusOr<Model> m = server->GetContainerModel(*in.model_container);
    if (!m.ok()) {
      return absl::Status(m.status().code(),
                          absl::StrCat("container ", in.model_container->value(),
                                       " is not a model (", m.status().message(), ")"));
    }
    model = m->id;
  }
  AssociateModelResult out{.benchmark = benchmark.id,
                           .benchmark_name = benchmark.name,
                           .model = model,
                           .dry_run = in.dry_run,
                           .test_result = nlohmann::json::object(),
                           .test = nlohmann::json::object(),
                           .association = std::nullopt};
  if (!benchmark.metadata.value("skip_compatibility_tests", false)) {
    CompatibilityTestSpec spec;
    spec.demo_url = benchmark.demo_dataset_tarball_url;
    spec.demo_hash = benchmark.demo_dataset_tarball_hash;
    spec.data_already_prepared = benchmark.metadata.value("demo_dataset_already_prepared", false);
    spec.no_cache = in.no_cache;
    job.SetState(storage::JobState::kFetching);
    ASSIGN_OR_RETURN(spec.prep, ResolveTestContainer(site, server.get(), job,
                                                     {{}, benchmark.data_preparation_mlcube, {}},
                                                     "data preparator"));
    ASSIGN_OR_RETURN(spec.model,
                     ResolveTestContainer(site, server.get(), job, {{}, {}, model}, "model"));
    ASSIGN_OR_RETURN(spec.evaluator,
                     ResolveTestContainer(site, server.get(), job,
                                          {{}, benchmark.data_evaluator_mlcube, {}}, "evaluator"));
    ASSIGN_OR_RETURN(CompatibilityTestResult t, RunCompatibilityTest(site, job, spec));
    out.test = TestJson(t);
    out.test_result = t.metrics;
  } else {
    job.Progress("test",
                 absl::StrCat("benchmark ", benchmark.id.value(), " skips compatibility tests"));
  }
  if (in.dry_run) return out;
  job.Progress("submit", "requesting the association (POST /models/benchmarks/)");
  ASSIGN_OR_RETURN(out.association, server->CreateModelAssociation(
                                        model, benchmark.id, {{"test_result", out.test_result}}));
  site.events()
      .Publish("association.requested",
               absl::StrCat("association of model ", model.value(), " with benchmark ",
                            benchmark.id.value(), " requested (",
                            std::string(ToString(out.association->approval_status)), ")"),
               {{"model", model.value()}, {"benchmark", benchmark.id.value()}})
      .IgnoreError();
  return out;
}

nlohmann::json SummaryJson(const AssociateModelResult& result) {
  nlohmann::json out = {{"benchmark", result.benchmark.value()},
                        {"benchmark_name", result.benchmark_name},
                        {"model", result.model.value()},
                        {"test_result", result.test_result},
                        {"test", result.test}};
  if (result.association) out["association"] = ToFullJson(*result.association);
  return out;
}

}  // namespace medperf::daemon::flows
