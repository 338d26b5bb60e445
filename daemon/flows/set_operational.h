// `dataset set_operational`: checks the prepared data is unchanged and publishes its
// hashes and statistics, moving the dataset to OPERATION (MedPerf:
// cli/medperf/commands/dataset/set_operational.py, DatasetSetOperational).
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/ids.h"
#include "daemon/flows/flow_context.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct SetOperationalInput {
  DatasetId dataset;
  bool dry_run = false;  // compute the update but send and store nothing
};

struct SetOperationalResult {
  DatasetId dataset;
  bool dry_run = false;
  // The PUT body: input_data_hash, generated_uid, generated_metadata, state OPERATION.
  nlohmann::json update;
  Dataset updated;  // the server's answer (not set on a dry run)
};

// Before any job: NOT_FOUND without a local record; FAILED_PRECONDITION unless its
// prep_status is "prepared" (the message says to run `dataset prepare`).
absl::Status CheckSetOperational(storage::Store& store, const SetOperationalInput& in);
storage::JobRecord SetOperationalJob(const SetOperationalInput& in);  // "set-operational"

// Hashes the raw data and the prepared data (the prepared folders as untrusted: links
// refused); DATA_LOSS when the prepared hash differs from the one stored at preparation.
// Then (not on a dry run) PUTs the update, stores state OPERATION and the raw hash, and
// a "dataset.operational" event. Errors also: hashing errors, the server's, the store's.
// The server is only contacted after the hashes, so a dry run needs none.
absl::StatusOr<SetOperationalResult> SetOperational(FlowContext& ctx,
                                                    const SetOperationalInput& in);

// Dry run: {"dataset": id, "update": body}; else {"dataset": {the server's dataset}}.
nlohmann::json SummaryJson(const SetOperationalResult& result);

}  // namespace medperf::daemon::flows
