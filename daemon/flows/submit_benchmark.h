// `benchmark submit`: tests the benchmark's data preparator, reference model and
// evaluator together on its demo dataset (afresh, never from cache), then registers the
// benchmark with the results (MedPerf: cli/medperf/commands/benchmark/submit.py,
// SubmitBenchmark).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/ids.h"
#include "daemon/flows/flow_context.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct SubmitBenchmarkInput {
  std::string name;
  std::string description;
  std::string docs_url;
  ContainerId data_preparation_container;
  // The reference model: a model id, or the container wrapped by a registered model.
  std::optional<ModelId> reference_model;
  std::optional<ContainerId> reference_model_container;
  ContainerId evaluator_container;
  std::string demo_url;                     // the demo dataset tarball
  std::string demo_hash;                    // its SHA-256; computed when empty
  bool skip_demo_data_preparation = false;  // the demo tarball holds prepared data
  bool skip_compatibility_test = false;     // register without testing (placeholders sent)
  bool operational = false;                 // state OPERATION instead of DEVELOPMENT
};

struct SubmitBenchmarkResult {
  // The caller already had this benchmark on the server (same name, same containers):
  // nothing was tested or submitted, `benchmark` is that one and `results` its metadata's.
  bool reused = false;
  Benchmark benchmark;                                // as the server created (or holds) it
  nlohmann::json results = nlohmann::json::object();  // the test's metrics ({} if skipped)
};

// Before any job: INVALID_ARGUMENT when the name, a container or the reference model is
// missing, or the demo URL is missing while the test is not skipped.
absl::Status CheckSubmitBenchmark(const SubmitBenchmarkInput& in);
storage::JobRecord SubmitBenchmarkJob(const SubmitBenchmarkInput& in);  // "submit-benchmark"

// Before the compatibility test, looks at the caller's benchmarks (GET /me/benchmarks/):
// one with this name and the same data preparator, reference model and evaluator (and
// demo dataset URL/hash, when given) is returned with result.reused set and a
// "benchmark.reused" event; nothing is tested or POSTed. Otherwise tests, POSTs
// /benchmarks/ and publishes "benchmark.submitted".
// Errors: INVALID_ARGUMENT naming field 'name' and the benchmark holding it when the name
// is taken (the real server keeps benchmark names unique, mlcommons/medperf
// server/benchmark/models.py) by one of the caller's with other containers (listing
// them) or by another user's (GET /benchmarks/?name=); the reference container's lookup
// error (e.g. NOT_FOUND) with a hint to submit it as a model first; a failed stage of the
// compatibility test; FAILED_PRECONDITION for invalid or not allowed containers; the
// server's (POST /benchmarks/).
absl::StatusOr<SubmitBenchmarkResult> SubmitBenchmark(FlowContext& ctx,
                                                      const SubmitBenchmarkInput& in);

// {"benchmark": {...}, "results": {...}, "reused": bool}.
nlohmann::json SummaryJson(const SubmitBenchmarkResult& result);

}  // namespace medperf::daemon::flows
