// `model associate` (the legacy `mlcube associate`): tests a model with the benchmark's
// data preparator and evaluator on the benchmark's demo dataset, then asks the
// benchmark to include it with the results (MedPerf:
// cli/medperf/commands/mlcube/associate.py, AssociateCube).
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/ids.h"
#include "daemon/flows/flow_context.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct AssociateModelInput {
  BenchmarkId benchmark;
  // The model: a model id, or a container id whose wrapping model is looked up.
  std::optional<ModelId> model;
  std::optional<ContainerId> model_container;
  bool dry_run = false;   // test, but request nothing
  bool no_cache = false;  // test again even if an identical report exists
};

struct AssociateModelResult {
  BenchmarkId benchmark;
  std::string benchmark_name;
  ModelId model;
  bool dry_run = false;
  // The test's metrics and its summary (test_run.h TestJson); both {} when the benchmark
  // skips compatibility tests.
  nlohmann::json test_result = nlohmann::json::object();
  nlohmann::json test = nlohmann::json::object();
  std::optional<BenchmarkModelAssociation> association;  // the server's row (not dry run)
};

// Before any job: INVALID_ARGUMENT when the benchmark or the model is missing.
absl::Status CheckAssociateModel(const AssociateModelInput& in);
storage::JobRecord AssociateModelJob(const AssociateModelInput& in);  // "associate-model"

// Errors: the lookup error of a container that wraps no model ("container N is not a
// model"); FAILED_PRECONDITION when the benchmark or a part is invalid or not allowed
// here; a failed stage of the compatibility test; the server's (e.g. ALREADY_EXISTS).
// On success (not dry run) an "association.requested" event is published.
absl::StatusOr<AssociateModelResult> AssociateModel(FlowContext& ctx,
                                                    const AssociateModelInput& in);

// {"benchmark", "benchmark_name", "model", "test_result", "test"} plus "association".
nlohmann::json SummaryJson(const AssociateModelResult& result);

}  // namespace medperf::daemon::flows
