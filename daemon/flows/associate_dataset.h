// `dataset associate`: asks a benchmark to include an operational dataset, sending the
// reference model's result on it as the compatibility evidence (MedPerf:
// cli/medperf/commands/dataset/associate_benchmark.py, AssociateBenchmarkDataset; the
// reference run is cli/medperf/commands/execution/create.py).
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

struct AssociateDatasetInput {
  DatasetId dataset;
  BenchmarkId benchmark;
  bool dry_run = false;   // run (or reuse) the reference model, request nothing
  bool no_cache = false;  // run the reference model even if its result is stored
};

struct AssociateDatasetResult {
  bool dry_run = false;
  // The reference model's metrics ({} when the benchmark skips compatibility tests) and
  // the local result uid they come from ("" then).
  nlohmann::json test_result = nlohmann::json::object();
  std::string result_uid;
  std::optional<BenchmarkDatasetAssociation> association;  // the server's row (not dry run)
  // The association in force before this call: APPROVED or PENDING means nothing was run
  // or requested (test_result stays {}); REJECTED means a new request follows (the server
  // accepts one after a rejection, and MedPerf's client sends it), which the benchmark
  // owner must approve again.
  std::optional<BenchmarkDatasetAssociation> previous;
  // True when `previous` is APPROVED or PENDING: the call did nothing.
  bool already_associated = false;
};

// Before any job: NOT_FOUND when the dataset has no local record.
absl::Status CheckAssociateDataset(storage::Store& store, const AssociateDatasetInput& in);
storage::JobRecord AssociateDatasetJob(const AssociateDatasetInput& in);  // "associate-dataset"

// Needs ctx.jobs: the reference model runs as a persistent `run` job (its result is
// stored as b{B}m{M}d{D} and reused unless no_cache). First of all (dry run too), the
// association already on the server is looked up (daemon/associations.h): when it is
// APPROVED or PENDING the flow returns at once with already_associated set, running and
// requesting nothing (a second `associate`, or a dataset reused after a lost state
// directory, would otherwise repeat the test and get the server's refusal).
// Errors: FAILED_PRECONDITION when the dataset is not OPERATION locally, was prepared
// with another container than the benchmark's data preparator, or an entity is invalid /
// the reference model's container is not allowed here; ABORTED when the reference model
// fails (with the run job's error); CANCELLED when the job is cancelled (the run job goes
// on); the server's (e.g. ALREADY_EXISTS for an association request in force).
// On success a "association.requested" event is published.
absl::StatusOr<AssociateDatasetResult> AssociateDataset(FlowContext& ctx,
                                                        const AssociateDatasetInput& in);

// Already associated: {"already_associated": true, "association": the row in force}.
// Dry run: {"test_result", "result_uid"}; else {"association": row, "test_result"}. Both
// with "previous": the rejected row when the request follows a rejection.
nlohmann::json SummaryJson(const AssociateDatasetResult& result);

}  // namespace medperf::daemon::flows
