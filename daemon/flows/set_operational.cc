#include "daemon/flows/set_operational.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/hashing.h"
#include "core/status_macros.h"

namespace medperf::daemon::flows {
namespace fs = std::filesystem;

absl::Status CheckSetOperational(storage::Store& store, const SetOperationalInput& in) {
  ASSIGN_OR_RETURN(storage::DatasetRecord local, store.GetDataset(in.dataset));
  if (local.prep_status != "prepared") {
    return absl::FailedPreconditionError(absl::StrCat(
        "dataset ", in.dataset.value(), " is not prepared (", local.prep_status,
        "); run `medperfctl dataset prepare --data_uid ", in.dataset.value(), "` first"));
  }
  return absl::OkStatus();
}

storage::JobRecord SetOperationalJob(const SetOperationalInput& in) {
  storage::JobRecord record = InteractiveJob("set-operational", {{"dry_run", in.dry_run}});
  record.dataset = in.dataset;
  return record;
}

absl::StatusOr<SetOperationalResult> SetOperational(FlowContext& ctx,
                                                    const SetOperationalInput& in) {
  Site& site = ctx.site;
  DatasetId id = in.dataset;
  ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(id));
  const std::string hashing = "hashing the raw and the prepared data";
  ctx.job.Progress("hash", hashing);
  ASSIGN_OR_RETURN(std::string input_hash,
                   site.FoldersHashCached({local.raw_data_path, local.raw_labels_path}, {},
                                          ctx.job.ByteCounter("hash", hashing)));
  fs::path dir = site.DatasetDir(id);
  ASSIGN_OR_RETURN(
      std::string generated_uid,
      site.FoldersHashCached({dir / "data", dir / "labels"}, HashOptions{.untrusted = true},
                             ctx.job.ByteCounter("hash", hashing)));
  if (generated_uid != local.generated_uid) {
    return absl::DataLossError(absl::StrCat(
        "the prepared data of dataset ", id.value(), " changed since it was prepared (hash ",
        generated_uid, ", expected ", local.generated_uid, "); prepare it again"));
  }
  nlohmann::json statistics = nlohmann::json::parse(local.statistics_json, nullptr, false);
  SetOperationalResult out{.dataset = id,
                           .dry_run = in.dry_run,
                           .update = {{"input_data_hash", input_hash},
                                      {"generated_uid", generated_uid},
                                      {"generated_metadata", statistics},
                                      {"state", "OPERATION"}},
                           .updated = {}};
  if (in.dry_run) return out;
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  ASSIGN_OR_RETURN(out.updated, server->UpdateDataset(id, out.update));
  local.state = "OPERATION";
  local.input_data_hash = input_hash;
  local.server_json = ToFullJson(out.updated).dump();
  RETURN_IF_ERROR(site.store().PutDataset(local));
  site.events()
      .Publish("dataset.operational", absl::StrCat("dataset ", id.value(), " is now operational"),
               {{"dataset", id.value()}})
      .IgnoreError();
  return out;
}

nlohmann::json SummaryJson(const SetOperationalResult& result) {
  if (result.dry_run) return {{"dataset", result.dataset.value()}, {"update", result.update}};
  return {{"dataset", ToFullJson(result.updated)}};
}

}  // namespace medperf::daemon::flows
