#include "daemon/flows/prepare_dataset.h"

#include "absl/strings/str_cat.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "daemon/container_policy.h"
#include "daemon/execution.h"

namespace medperf::daemon::flows {
namespace fs = std::filesystem;

absl::Status CheckPrepareDataset(storage::Store& store, const PrepareDatasetInput& in) {
  return store.GetDataset(in.dataset).status();
}

storage::JobRecord PrepareDatasetJob(const PrepareDatasetInput& in) {
  storage::JobRecord record = InteractiveJob("prepare");
  record.dataset = in.dataset;
  return record;
}

absl::StatusOr<PrepareDatasetResult> PrepareDataset(FlowContext& ctx,
                                                    const PrepareDatasetInput& in) {
  Site& site = ctx.site;
  DatasetId id = in.dataset;
  ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(id));
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  ASSIGN_OR_RETURN(Dataset remote, server->GetDataset(id));
  RETURN_IF_ERROR(CheckValid(remote));
  if (local.benchmark) {
    ASSIGN_OR_RETURN(Benchmark benchmark, server->GetBenchmark(*local.benchmark));
    RETURN_IF_ERROR(CheckValid(benchmark));
  }
  if (remote.state == EntityState::kOperation && local.prep_status == "prepared") {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", id.value(), " is already operational; its preparation is final"));
  }
  // Refused for want of room before anything changes, here or on the server (no
  // `started` report for a preparation that never starts).
  RETURN_IF_ERROR(site.CheckFreeSpace(absl::StrCat("preparation of dataset ", id.value())));
  ASSIGN_OR_RETURN(Container prep_entity, server->GetContainer(local.prep_container));
  // FetchContainer applies the site's container policy before fetching anything.
  ctx.job.Progress("fetch", absl::StrCat("fetching the data preparation container ",
                                         prep_entity.id.value(), " (", prep_entity.name, ")"));
  ASSIGN_OR_RETURN(LocalContainer prep, site.FetchContainer(prep_entity));
  local.prep_status = "preparing";
  RETURN_IF_ERROR(site.store().PutDataset(local));
  // The server's execution report is informative; failing to send it fails nothing. It
  // always carries `progress`, as the MedPerf client's does
  // (cli/medperf/commands/dataset/prepare.py `_send_report`); the per-stage summary it
  // holds there needs the data owner's consent, which this site does not ask for, so it
  // stays empty as the client's does without consent.
  auto report = [&](const char* status) {
    server
        ->UpdateDataset(id,
                        {{"report", {{"progress", Json::object()}, {"execution_status", status}}}})
        .IgnoreError();
  };
  report("started");
  fs::path dir = site.DatasetDir(id);
  absl::StatusOr<PreparedData> prepared = PrepareData(site, ctx.job, prep, local.raw_data_path,
                                                      local.raw_labels_path, dir, dir / "logs");
  if (!prepared.ok()) {
    local.prep_status = "failed";
    site.store().PutDataset(local).IgnoreError();
    report(absl::IsCancelled(prepared.status()) ? "interrupted" : "failed");
    return prepared.status();
  }
  local.prep_status = "prepared";
  local.generated_uid = prepared->generated_uid;
  local.statistics_json = prepared->statistics.dump();
  local.server_json = ToFullJson(remote).dump();
  // A dataset already operational on the server (registered again after this site lost
  // its state, flows/submit_dataset.cc) is operational here too once its preparation
  // reproduces the prepared data the server knows; data that does not is never used.
  bool restored = false;
  if (remote.state == EntityState::kOperation && local.state != "OPERATION") {
    if (ComparableSha256(prepared->generated_uid) != ComparableSha256(remote.generated_uid)) {
      RETURN_IF_ERROR(site.store().PutDataset(local));
      report("finished");
      return absl::DataLossError(absl::StrCat(
          "dataset ", id.value(), " is operational on the server with prepared data hash ",
          remote.generated_uid, ", but preparing this data gave ", prepared->generated_uid,
          ": it is not the data registered as dataset ", id.value(),
          "; register it as a new dataset with `medperfctl dataset submit`"));
    }
    local.state = "OPERATION";
    restored = true;
  }
  RETURN_IF_ERROR(site.store().PutDataset(local));
  report("finished");
  if (restored) {
    ctx.job.Progress("operational",
                     absl::StrCat("dataset ", id.value(),
                                  " is operational again: its prepared data matches the "
                                  "server's (generated_uid ",
                                  remote.generated_uid, ")"));
  }
  site.events()
      .Publish("dataset.prepared", absl::StrCat("dataset ", id.value(), " prepared"),
               {{"dataset", id.value()}, {"generated_uid", prepared->generated_uid}})
      .IgnoreError();
  return PrepareDatasetResult{.dataset = id,
                              .generated_uid = prepared->generated_uid,
                              .statistics = prepared->statistics,
                              .logs = dir / "logs",
                              .operational_again = restored};
}

nlohmann::json SummaryJson(const PrepareDatasetResult& result) {
  return {{"dataset", result.dataset.value()},
          {"generated_uid", result.generated_uid},
          {"statistics", result.statistics},
          {"logs", result.logs.string()},
          {"operational_again", result.operational_again}};
}

}  // namespace medperf::daemon::flows
