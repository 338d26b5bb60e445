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
  // The caller already had a dataset on the server with the same raw data for the same
  // preparator (a lost state directory, a second machine): it is tracked here again
  // instead of registering a twin.
  bool reused = false;
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
// record (prep_status "registered") and a "dataset.registered" event. When the caller's
// own datasets (GET /me/datasets/) already hold one with the same input_data_hash and
// preparator, nothing is POSTed: that dataset is stored locally again ("dataset.reused",
// result.reused), so a lost state directory or a second machine never makes a twin.
// Errors: ALREADY_EXISTS when that dataset is also tracked here already (naming it and
// the next command); the server's (NOT_FOUND benchmark/container, PERMISSION_DENIED, ...);
// FAILED_PRECONDITION when the benchmark or preparator is marked invalid on the server;
// hashing errors naming the folder; the store's.
absl::StatusOr<SubmitDatasetResult> SubmitDataset(FlowContext& ctx, const SubmitDatasetInput& in);

// The job's result as medperfctl prints it: {"dataset": {...}, "reused": bool} (dry run:
// the body without server fields and a "note" on who sees the submitter's e-mail
// address; or, when an existing dataset will be reused, that dataset, "reused": true and
// a note saying so).
nlohmann::json SummaryJson(const SubmitDatasetResult& result);

}  // namespace medperf::daemon::flows
