#include "daemon/flows/submit_benchmark.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/hashing.h"
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

namespace {

// The fields in which the benchmark `there` (on the server) differs from this submission
// `here`, for messages: the three containers, and the demo dataset when it was given.
std::string Differences(const Benchmark& there, const Benchmark& here,
                        const SubmitBenchmarkInput& in) {
  std::vector<std::string> out;
  auto id = [&](const char* field, int64_t a, int64_t b) {
    if (a != b) out.push_back(absl::StrCat(field, " (", a, " there, ", b, " here)"));
  };
  id("data_preparation_mlcube", there.data_preparation_mlcube.value(),
     here.data_preparation_mlcube.value());
  id("reference_model", there.reference_model.value(), here.reference_model.value());
  id("data_evaluator_mlcube", there.data_evaluator_mlcube.value(),
     here.data_evaluator_mlcube.value());
  // A local demo tarball is the same whether written as a path or as a file:// URL (the
  // seeded benchmarks hold URLs, the tutorial passes paths).
  auto location = [](std::string_view url) {
    return url.starts_with("file://") ? url.substr(7) : url;
  };
  if (!in.skip_compatibility_test && !in.demo_url.empty() &&
      location(there.demo_dataset_tarball_url) != location(in.demo_url)) {
    out.push_back(absl::StrCat("demo_dataset_tarball_url (", there.demo_dataset_tarball_url,
                               " there, ", in.demo_url, " here)"));
  }
  if (!in.demo_hash.empty() &&
      ComparableSha256(there.demo_dataset_tarball_hash) != ComparableSha256(in.demo_hash)) {
    out.push_back(absl::StrCat("demo_dataset_tarball_hash (", there.demo_dataset_tarball_hash,
                               " there, ", in.demo_hash, " here)"));
  }
  return absl::StrJoin(out, ", ");
}

}  // namespace

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
  // The real server keeps benchmark names unique (mlcommons/medperf
  // server/benchmark/models.py). Look before the compatibility test, which takes long: the
  // caller's own benchmark of this name with the same containers is this submission made
  // before (a repeated command, a lost terminal) and is the answer; with other containers,
  // or another user's, the name is taken and the server would refuse it.
  job.Progress("submit", "looking for a benchmark of this name (GET /me/benchmarks/)");
  ASSIGN_OR_RETURN(std::vector<Benchmark> mine, server->ListMyBenchmarks());
  for (const Benchmark& there : mine) {
    if (there.name != b.name) continue;
    std::string diff = Differences(there, b, in);
    if (!diff.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field 'name': benchmark name '", b.name, "' is already taken by your benchmark ",
          there.id.value(), ", which differs in ", diff, "; not submitted: choose another --name"));
    }
    out.benchmark = there;
    out.reused = true;
    const Json results =
        there.metadata.is_object() ? there.metadata.value("results", Json()) : Json();
    if (results.is_object()) out.results = results;
    std::string text = absl::StrCat("benchmark '", b.name,
                                    "' with these containers already exists on the server as id ",
                                    there.id.value(), "; not submitted again");
    job.Progress("submit", text);
    site.events()
        .Publish("benchmark.reused", text, {{"benchmark", there.id.value()}})
        .IgnoreError();
    return out;
  }
  // Best effort (the server has the last word): a lookup error only skips this check.
  if (auto named = server->ListBenchmarks({{"name", b.name}}); named.ok()) {
    for (const Benchmark& there : *named) {
      if (there.name != b.name) continue;  // a server ignoring the filter
      return absl::InvalidArgumentError(
          absl::StrCat("field 'name': benchmark name '", b.name, "' is already taken by benchmark ",
                       there.id.value(), " (owned by user ", there.owner.value(),
                       "); not submitted: choose another --name"));
    }
  }
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
  return {{"benchmark", ToFullJson(result.benchmark)},
          {"results", result.results},
          {"reused", result.reused}};
}

}  // namespace medperf::daemon::flows
