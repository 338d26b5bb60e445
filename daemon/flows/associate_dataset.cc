#include "daemon/flows/associate_dataset.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/associations.h"
#include "daemon/container_policy.h"

namespace medperf::daemon::flows {
using Json = nlohmann::json;

namespace {

// The local result of the reference model on a dataset: reused if present, else run.
absl::StatusOr<storage::ResultRecord> ReferenceResult(FlowContext& ctx, const Benchmark& benchmark,
                                                      DatasetId dataset, bool no_cache) {
  LocalResultUid uid(benchmark.id, benchmark.reference_model, dataset);
  if (!no_cache) {
    if (auto cached = ctx.site.store().GetResult(uid);
        cached.ok() && cached->status == "executed") {
      ctx.job.Progress(
          "test", absl::StrCat("using the cached result ", uid.str(), " of the reference model"));
      return cached;
    }
  }
  ctx.job.Progress("test",
                   absl::StrCat("running the reference model ", benchmark.reference_model.value(),
                                " on dataset ", dataset.value()));
  ASSIGN_OR_RETURN(JobId run, ctx.jobs->EnqueueRun(benchmark.id, benchmark.reference_model, dataset,
                                                   Json::object()));
  ASSIGN_OR_RETURN(
      storage::JobRecord done,
      FollowRunJob(*ctx.jobs, ctx.job, run, absl::StrCat("model ", uid.model().value())));
  if (done.state != storage::JobState::kDone) {
    return absl::AbortedError(
        absl::StrCat("the reference model failed on dataset ", dataset.value(), ": ", done.error));
  }
  return ctx.site.store().GetResult(uid);
}

}  // namespace

absl::Status CheckAssociateDataset(storage::Store& store, const AssociateDatasetInput& in) {
  return store.GetDataset(in.dataset).status();
}

storage::JobRecord AssociateDatasetJob(const AssociateDatasetInput& in) {
  storage::JobRecord record = InteractiveJob("associate-dataset", {{"dry_run", in.dry_run}});
  record.dataset = in.dataset;
  record.benchmark = in.benchmark;
  return record;
}

absl::StatusOr<AssociateDatasetResult> AssociateDataset(FlowContext& ctx,
                                                        const AssociateDatasetInput& in) {
  Site& site = ctx.site;
  DatasetId dataset = in.dataset;
  ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(dataset));
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  AssociateDatasetResult out;
  out.dry_run = in.dry_run;
  // Before anything runs: an association in force needs nothing (the server would refuse
  // a second request after the test ran for nothing). Checked before the local state, as
  // a dataset tracked again after a lost state directory is associated but not yet
  // operational here.
  ASSIGN_OR_RETURN(out.previous, LatestDatasetAssociation(*server, dataset, in.benchmark));
  if (out.previous && out.previous->approval_status != ApprovalStatus::kRejected) {
    out.already_associated = true;
    out.association = out.previous;
    ctx.job.Progress(
        "check", absl::StrCat("dataset ", dataset.value(), " is already associated with benchmark ",
                              in.benchmark.value(), " (",
                              std::string(ToString(out.previous->approval_status)), ")"));
    return out;
  }
  if (out.previous) {
    ctx.job.Progress("check", absl::StrCat("the previous association request was rejected by "
                                           "the benchmark owner; a new one will be sent"));
  }
  if (local.state != "OPERATION") {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", dataset.value(),
                     " is not operational; run `medperfctl dataset "
                     "set_operational --data_uid ",
                     dataset.value(), "` first"));
  }
  ASSIGN_OR_RETURN(Benchmark benchmark, server->GetBenchmark(in.benchmark));
  RETURN_IF_ERROR(CheckValid(benchmark));
  ASSIGN_OR_RETURN(Dataset remote, server->GetDataset(dataset));
  RETURN_IF_ERROR(CheckValid(remote));
  if (benchmark.data_preparation_mlcube != local.prep_container) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", dataset.value(), " was prepared with container ",
                     local.prep_container.value(), ", but benchmark ", benchmark.id.value(),
                     " prepares data with container ", benchmark.data_preparation_mlcube.value()));
  }
  if (!benchmark.metadata.value("skip_compatibility_tests", false)) {
    // Checked here too: a cached result of a model marked invalid since is not used.
    ASSIGN_OR_RETURN(Model reference, server->GetModel(benchmark.reference_model));
    RETURN_IF_ERROR(CheckValid(reference));
    if (reference.container) {
      RETURN_IF_ERROR(CheckServerContainer(*reference.container, site.config().sandbox));
    }
    ASSIGN_OR_RETURN(storage::ResultRecord ref,
                     ReferenceResult(ctx, benchmark, dataset, in.no_cache));
    out.test_result = Json::parse(ref.metrics_json, nullptr, false);
    out.result_uid = ref.uid.str();
  }
  if (in.dry_run) return out;
  ASSIGN_OR_RETURN(out.association, server->CreateDatasetAssociation(
                                        dataset, benchmark.id, {{"test_result", out.test_result}}));
  site.events()
      .Publish("association.requested",
               absl::StrCat("association of dataset ", dataset.value(), " with benchmark ",
                            benchmark.id.value(), " requested (",
                            std::string(ToString(out.association->approval_status)), ")"),
               {{"dataset", dataset.value()}, {"benchmark", benchmark.id.value()}})
      .IgnoreError();
  return out;
}

nlohmann::json SummaryJson(const AssociateDatasetResult& result) {
  Json out;
  if (result.already_associated) {
    out = {{"already_associated", true}, {"association", ToFullJson(*result.association)}};
  } else if (result.dry_run || !result.association) {
    out = {{"test_result", result.test_result}, {"result_uid", result.result_uid}};
  } else {
    out = {{"association", ToFullJson(*result.association)}, {"test_result", result.test_result}};
  }
  if (result.previous && !result.already_associated) {
    out["previous"] = ToFullJson(*result.previous);
  }
  return out;
}

}  // namespace medperf::daemon::flows
