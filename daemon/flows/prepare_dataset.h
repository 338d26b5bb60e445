// `dataset prepare`: runs the data preparator (prepare → sanity_check → statistics) on a
// registered dataset's raw data, here (MedPerf: cli/medperf/commands/dataset/prepare.py,
// DataPreparation).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/ids.h"
#include "daemon/flows/flow_context.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct PrepareDatasetInput {
  DatasetId dataset;  // submitted from this site (a local record exists)
};

struct PrepareDatasetResult {
  DatasetId dataset;
  std::string generated_uid;   // MedPerf folders hash of the prepared data + labels
  nlohmann::json statistics;   // the preparator's statistics.yaml
  std::filesystem::path logs;  // every task's log
  // The dataset was already operational on the server and its prepared data matches the
  // server's generated_uid: it is operational here again, no set_operational needed.
  bool operational_again = false;
};

// Before any job: NOT_FOUND when the dataset has no local record.
absl::Status CheckPrepareDataset(storage::Store& store, const PrepareDatasetInput& in);
storage::JobRecord PrepareDatasetJob(const PrepareDatasetInput& in);  // "prepare"

// Checks the dataset (and its benchmark, if any) on the server, fetches the data
// preparator under the site's container policy, runs it into the dataset's folder and
// stores prep_status "prepared" with the generated uid and statistics (a
// "dataset.prepared" event). The server gets the execution report started → finished
// (failed / interrupted on error; those reports are best effort).
// Errors: FAILED_PRECONDITION when the dataset is already operational and prepared (its
// preparation is final, as in MedPerf), or an entity is invalid / a container is not
// allowed here; the runner's errors naming the failing task (prep_status "failed");
// CANCELLED when the job is cancelled; the server's and the store's.
absl::StatusOr<PrepareDatasetResult> PrepareDataset(FlowContext& ctx,
                                                    const PrepareDatasetInput& in);

// {"dataset": id, "generated_uid", "statistics", "logs"}.
nlohmann::json SummaryJson(const PrepareDatasetResult& result);

}  // namespace medperf::daemon::flows
