#include "daemon/flows/submit_dataset.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"
#include "core/tree_walk.h"
#include "daemon/container_policy.h"

namespace medperf::daemon::flows {
namespace fs = std::filesystem;

namespace {

absl::Status CheckDirectory(const std::string& path, const char* flag) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  fs::path p(path);
  if (p.is_relative()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", path, "' must be absolute"));
  }
  std::error_code ec;
  if (!fs::is_directory(p, ec)) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, " '", path, "' is not a directory on the daemon's machine"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSubmitDataset(const SubmitDatasetInput& in) {
  if (in.name.empty()) return absl::InvalidArgumentError("--name is required");
  RETURN_IF_ERROR(CheckDirectory(in.data_path, "data_path"));
  RETURN_IF_ERROR(CheckDirectory(in.labels_path, "labels_path"));
  // An empty data or labels folder would be registered on the server and fail only at
  // prepare.
  RETURN_IF_ERROR(CheckFolderHoldsAFile(in.data_path, "--data_path"));
  RETURN_IF_ERROR(CheckFolderHoldsAFile(in.labels_path, "--labels_path"));
  if (in.benchmark.has_value() == in.data_preparation_container.has_value()) {
    return absl::InvalidArgumentError(
        "give exactly one of --benchmark or --data_preparation_container");
  }
  return absl::OkStatus();
}

storage::JobRecord SubmitDatasetJob(const SubmitDatasetInput& in) {
  return InteractiveJob("submit-dataset", {{"name", in.name}, {"dry_run", in.dry_run}});
}

absl::StatusOr<SubmitDatasetResult> SubmitDataset(FlowContext& ctx, const SubmitDatasetInput& in) {
  Site& site = ctx.site;
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  ContainerId prep = in.data_preparation_container.value_or(ContainerId(0));
  if (in.benchmark) {
    ASSIGN_OR_RETURN(Benchmark b, server->GetBenchmark(*in.benchmark));
    RETURN_IF_ERROR(CheckValid(b));
    prep = b.data_preparation_mlcube;
  }
  ASSIGN_OR_RETURN(Container prep_container, server->GetContainer(prep));
  RETURN_IF_ERROR(CheckValid(prep_container));
  const std::string hashing = "hashing the raw data and labels (they stay on this machine)";
  ctx.job.Progress("hash", hashing);
  ASSIGN_OR_RETURN(std::string hash, site.FoldersHashCached({in.data_path, in.labels_path}, {},
                                                            ctx.job.ByteCounter("hash", hashing)));
  Dataset body;
  body.name = in.name;
  body.description = in.description;
  body.location = in.location;
  body.input_data_hash = hash;
  // The real client sends the raw hash as a placeholder until set_operational.
  body.generated_uid = hash;
  body.data_preparation_mlcube = prep;
  // The same raw data for the same preparator, registered before by this user (a site
  // that lost its state directory, a second machine): reuse that dataset rather than
  // put a twin on the server. The oldest one wins if there are several already.
  // One submission at a time from the look-up to the local record, so two concurrent
  // `dataset submit`s of the same data cannot both miss each other and register twins.
  static absl::Mutex* const submitting = new absl::Mutex();
  absl::MutexLock one_at_a_time(submitting);
  ASSIGN_OR_RETURN(std::vector<Dataset> mine, server->ListMyDatasets());
  const Dataset* twin = nullptr;
  for (const Dataset& d : mine) {
    if (d.input_data_hash == hash && d.data_preparation_mlcube == prep &&
        (!twin || d.id.value() < twin->id.value())) {
      twin = &d;
    }
  }
  if (twin && site.store().GetDataset(twin->id).ok()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "this data is already registered as dataset ", twin->id.value(), " (", twin->name,
        ") and tracked here; next: medperfctl dataset prepare --data_uid ", twin->id.value()));
  }
  if (in.dry_run) {
    return SubmitDatasetResult{
        .dry_run = true, .reused = twin != nullptr, .dataset = twin ? *twin : body};
  }
  Dataset created;
  if (twin) {
    created = *twin;
  } else {
    ASSIGN_OR_RETURN(created, server->CreateDataset(body));
  }
  storage::DatasetRecord local;
  local.id = created.id;
  local.name = created.name;
  local.benchmark = in.benchmark;
  local.prep_container = prep;
  local.raw_data_path = in.data_path;
  local.raw_labels_path = in.labels_path;
  local.input_data_hash = hash;
  local.server_json = ToFullJson(created).dump();
  RETURN_IF_ERROR(site.store().PutDataset(local));
  site.events()
      .Publish(twin ? "dataset.reused" : "dataset.registered",
               absl::StrCat("dataset ", created.id.value(), " (", created.name,
                            twin ? ") was already registered with this data; tracked here again"
                                 : ") registered on the server"),
               {{"dataset", created.id.value()}, {"input_data_hash", hash}})
      .IgnoreError();
  return SubmitDatasetResult{.dry_run = false, .reused = twin != nullptr, .dataset = created};
}

nlohmann::json SummaryJson(const SubmitDatasetResult& result) {
  if (result.dry_run && result.reused) {
    return {{"dataset", ToFullJson(result.dataset)},
            {"reused", true},
            {"note",
             absl::StrCat("you already registered this data as dataset ", result.dataset.id.value(),
                          "; nothing new is sent, it is tracked here again")}};
  }
  if (result.dry_run) {
    return {{"dataset", ToJson(result.dataset)},
            {"note",
             "your e-mail address becomes visible to the owner of the data "
             "preparation container"}};
  }
  return {{"dataset", ToFullJson(result.dataset)}, {"reused", result.reused}};
}

}  // namespace medperf::daemon::flows
