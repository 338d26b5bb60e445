// The MedPerf compatibility test (reference §5.1): demo data → data preparator
// (prepare, sanity_check, statistics) → model (infer) → evaluator (evaluate). No server
// execution is created. One function serves `test run`, `benchmark submit` and
// `model associate`, so the three always test the same way.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/ids.h"
#include "core/rest_client.h"
#include "daemon/jobs.h"
#include "daemon/site.h"

namespace medperf::daemon {

// Where a container of the test comes from: exactly one of a local config (file or
// folder), a registered container, or a registered model.
struct TestContainerSource {
  std::filesystem::path local;
  std::optional<ContainerId> container;
  std::optional<ModelId> model;

  bool empty() const { return local.empty() && !container && !model; }
};

// Loads or fetches the container (verifying hashes on the way). `role` names it in
// progress and errors ("data preparator", "model", "evaluator"). `server` may be null
// when the source is local.
absl::StatusOr<LocalContainer> ResolveTestContainer(Site& site, const MedPerfApi* server,
                                                    JobContext& job,
                                                    const TestContainerSource& source,
                                                    const std::string& role);

struct CompatibilityTestSpec {
  // The data: either raw folders on this machine, or a demo tarball (URL, optional hash).
  std::filesystem::path data_path;
  std::filesystem::path labels_path;
  std::string demo_url;
  std::string demo_hash;
  // The demo tarball holds prepared data: skip the data preparator.
  bool data_already_prepared = false;
  LocalContainer prep;
  LocalContainer model;
  LocalContainer evaluator;
  // Run again even when a report for the same inputs exists.
  bool no_cache = false;
};

struct CompatibilityTestResult {
  nlohmann::json metrics;
  std::string demo_hash;           // SHA-256 of the demo tarball; "" for local folders
  std::string prepared_data_hash;  // MedPerf folders hash of the prepared data + labels
  std::filesystem::path dir;       // state/tests/<key>: report, prepared data, predictions
  std::filesystem::path log_dir;   // every task's log
  bool from_cache = false;
  nlohmann::json report;  // what test_report.json holds
};

// Runs the test, or returns the stored report of an identical earlier test (same data
// hash, same container configs, parameters, additional files and image hashes) unless
// `no_cache`. A failure says which stage failed, why, and ends with the failing task's
// last log lines, so "the model writes the wrong output format" is visible at once.
absl::StatusOr<CompatibilityTestResult> RunCompatibilityTest(Site& site, JobContext& job,
                                                             const CompatibilityTestSpec& spec);

}  // namespace medperf::daemon
