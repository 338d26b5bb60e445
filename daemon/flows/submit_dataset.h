// `dataset submit`: registers a dataset on the MedPerf server from raw data that stays
// on this machine (MedPerf: cli/medperf/commands/dataset/submit.py, DataCreation).
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

struct SubmitDatasetInput {
  std::string name;
  std::string description;
  std::string location;
  std::string data_path;    // absolute folder on the daemon's machine
  std::string labels_path;  // absolute folder on the daemon's machine
  // Exactly one: the benchmark whose data preparator prepares it, or the preparator.
  std::optional<BenchmarkId> benchmark;
  std::optional<ContainerId> data_preparation_container;
  bool dry_run = false;  // build the registration but send nothing, store nothing
};

struct SubmitDatasetResult {
  bool dry_run = false;
  // Dry run: the body that would be sent; otherwise the dataset as the server created it.
  Dataset dataset;
};

// Checks made before any job starts: INVALID_ARGUMENT when the name is empty, a path is
// empty or relative, the data folder holds no file at any depth, or not exactly one of
// benchmark / data preparation container is given; NOT_FOUND when a path is not a
// directory.
absl::Status CheckSubmitDataset(const SubmitDatasetInput& in);
// The job record the flow runs under ("submit-dataset").
storage::JobRecord SubmitDatasetJob(const SubmitDatasetInput& in);

// Resolves the data preparator (from the benchmark when given), hashes data + labels
// (the MedPerf folders hash; the raw hash is also sent as generated_uid, a placeholder
// until set_operational, like the real client), POSTs /datasets/ and stores the local
// record (prep_status "registered") and a "dataset.registered" event.
// Errors: the server's (NOT_FOUND benchmark/container, PERMISSION_DENIED, ...);
// FAILED_PRECONDITION when the benchmark or preparator is marked invalid on the server;
// hashing errors naming the folder; the store's.
absl::StatusOr<SubmitDatasetResult> SubmitDataset(FlowContext& ctx, const SubmitDatasetInput& in);

// The job's result as medperfctl prints it: {"dataset": {...}} (dry run: the body
// without server fields, and a "note" on who sees the submitter's e-mail address).
nlohmann::json SummaryJson(const SubmitDatasetResult& result);

}  // namespace medperf::daemon::flows
