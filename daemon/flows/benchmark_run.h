// `benchmark run`: evaluates the benchmark's reference model and approved models on an
// operational local dataset, each as a persistent `run` job, and summarizes what ran,
// what came from the local cache and what failed or was refused (MedPerf:
// cli/medperf/commands/benchmark/run.py and cli/medperf/commands/execution/create.py,
// BenchmarkExecution; approved models as in cli/medperf/entities/benchmark.py,
// get_models_uids, see daemon/associations.h).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/ids.h"
#include "daemon/flows/flow_context.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct BenchmarkRunInput {
  DatasetId dataset;
  BenchmarkId benchmark;
  // A subset of the benchmark's models (reference or approved); empty = all of them:
  // the reference model first, then the approved ones in the order they joined.
  std::vector<ModelId> models;
  bool no_cache = false;             // run again even when a result is stored
  bool ignore_model_errors = false;  // a failing model gives a partial result
};

struct BenchmarkRunRow {
  ModelId model;
  std::string local_result_uid;  // b{B}m{M}d{D}
  bool partial_result = false;
  bool from_cache = false;
  // Why the model has no result: its run job's or result's error, or the site's policy
  // refusing it (invalid on the server, LocalProcess not allow-listed). "" when it ran.
  std::string error;
};

struct BenchmarkRunResult {
  BenchmarkId benchmark;
  DatasetId dataset;
  std::vector<BenchmarkRunRow> rows;  // one per model, in plan order
  int skipped = 0;                    // results reused from the cache
  int skipped_partial = 0;
  int failed = 0;  // run or refused without a result
  int ran = 0;
  int ran_partial = 0;
};

// Before any job, so that a refused run leaves no failed job behind: NOT_FOUND when the
// dataset has no local record; FAILED_PRECONDITION (naming the association's state and
// the command to run next, daemon/associations.h RequireApprovedDatasetAssociation)
// unless the dataset's association with the benchmark is APPROVED on the server, except
// when only the reference model is asked for (the server runs it without an association,
// as `dataset associate` does); the server's errors (connect is called).
absl::Status CheckBenchmarkRun(storage::Store& store, const ServerConnector& connect,
                               const BenchmarkRunInput& in);
storage::JobRecord BenchmarkRunJob(const BenchmarkRunInput& in);  // "benchmark-run"

// Needs ctx.jobs. Errors: FAILED_PRECONDITION when the dataset is not OPERATION
// locally, the benchmark or dataset is invalid on the server, or the evaluator is not
// allowed here (nothing is queued then); PERMISSION_DENIED when the server hides the
// benchmark's models (the dataset has no approved association yet; the message says
// so); INVALID_ARGUMENT for a requested model that is not the reference or approved;
// CANCELLED when the job is cancelled (queued run jobs go on). A model that fails or is
// refused is a row's error, not the flow's.
absl::StatusOr<BenchmarkRunResult> BenchmarkRun(FlowContext& ctx, const BenchmarkRunInput& in);

// Finishes a `benchmark-run` job that medperfd's restart interrupted (ctx.job is that
// job, queued again by Store::RequeueInterruptedJobs because it had saved its plan): its
// run jobs resume by themselves, and this waits for them and summarizes what they did,
// as BenchmarkRun would have. Needs ctx.jobs; no server. FAILED_PRECONDITION ("run the
// command again") when the job has no saved plan.
absl::StatusOr<BenchmarkRunResult> ResumeBenchmarkRun(FlowContext& ctx);

// {"benchmark", "dataset", "rows": [{model, local_result_uid, partial_result,
// from_cache, error}], "total", "skipped", "skipped_partial", "failed", "ran",
// "ran_partial"}.
nlohmann::json SummaryJson(const BenchmarkRunResult& result);

}  // namespace medperf::daemon::flows
