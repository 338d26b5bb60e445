// `test run`: the MedPerf compatibility test of a benchmark's parts, or of local
// containers standing in for some of them, on raw data or a demo dataset; nothing is
// sent to the server (MedPerf: cli/medperf/commands/compatibility_test/run.py,
// CompatibilityTestExecution). The test itself is daemon/compatibility_check.h.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/ids.h"
#include "daemon/compatibility_check.h"
#include "daemon/flows/flow_context.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct TestRunInput {
  // The benchmark whose parts are tested; each part given below replaces its own.
  std::optional<BenchmarkId> benchmark;
  // Each part is at most one of a local config (a container_config.yaml, a legacy
  // mlcube.yaml or a folder holding one, on the daemon's machine) or a registered one.
  std::string data_preparator;
  std::optional<ContainerId> data_preparator_id;
  std::string model;
  std::optional<ModelId> model_id;                // a registered model ...
  std::optional<ContainerId> model_container_id;  // ... or a registered container
  std::string evaluator;
  std::optional<ContainerId> evaluator_id;
  // The data: raw folders (both), or a demo tarball URL (optional SHA-256), or neither
  // to use the benchmark's demo dataset.
  std::string data_path;
  std::string labels_path;
  std::string demo_url;
  std::string demo_hash;
  bool skip_demo_data_preparation = false;  // the data is already prepared
  bool no_cache = false;                    // test again even if an identical report exists
};

// Before any job: INVALID_ARGUMENT when a part is given both locally and by id, only
// one of data_path/labels_path is given, both raw data and a demo URL are given,
// without a benchmark a part or the data is missing, or with one every part is
// overridden (the message says which, in medperfctl's flag names).
absl::Status CheckTestRun(const TestRunInput& in);
storage::JobRecord TestRunJob(const TestRunInput& in);  // "test"

// Connects to the server only when a benchmark or a registered part is named. Errors:
// FAILED_PRECONDITION when the benchmark or a part is invalid or a container is not
// allowed here; a failed stage of the test (RunCompatibilityTest: the stage, why, and
// the last log lines); the server's; CANCELLED when the job is cancelled.
struct TestRunResult {
  CompatibilityTestResult test;
};
absl::StatusOr<TestRunResult> TestRun(FlowContext& ctx, const TestRunInput& in);

// The summary every compatibility test answers with: {"results", "from_cache",
// "prepared_data_hash", "demo_dataset_hash", "test_dir", "logs", "report"}.
nlohmann::json TestJson(const CompatibilityTestResult& t);
nlohmann::json SummaryJson(const TestRunResult& result);  // TestJson(result.test)

}  // namespace medperf::daemon::flows
