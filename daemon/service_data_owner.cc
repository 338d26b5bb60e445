// The data owner's flow, step by step as in the MedPerf data-owner tutorial:
// dataset submit → prepare → set_operational → associate → benchmark run → result submit.
// The flows live in daemon/flows/; these handlers turn requests into their inputs and
// their results into answers.
#include <optional>

#include "daemon/control_service.h"
#include "daemon/flows/associate_dataset.h"
#include "daemon/flows/benchmark_run.h"
#include "daemon/flows/prepare_dataset.h"
#include "daemon/flows/set_operational.h"
#include "daemon/flows/submit_dataset.h"
#include "daemon/flows/submit_result.h"

namespace medperf::daemon {
namespace v1 = medperf::v1;

grpc::Status ControlService::SubmitDataset(grpc::ServerContext* context,
                                           const v1::SubmitDatasetRequest* req,
                                           grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::SubmitDatasetInput in{
      .name = req->name(),
      .description = req->description(),
      .location = req->location(),
      .data_path = req->data_path(),
      .labels_path = req->labels_path(),
      .benchmark =
          req->benchmark() > 0 ? std::optional(BenchmarkId(req->benchmark())) : std::nullopt,
      .data_preparation_container =
          req->data_preparation_container() > 0
              ? std::optional(ContainerId(req->data_preparation_container()))
              : std::nullopt,
      .dry_run = req->dry_run()};
  if (absl::Status st = flows::CheckSubmitDataset(in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::SubmitDatasetJob(in), Summarized(&flows::SubmitDataset, in),
                   writer);
}

grpc::Status ControlService::PrepareDataset(grpc::ServerContext* context,
                                            const v1::PrepareDatasetRequest* req,
                                            grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::PrepareDatasetInput in{.dataset = DatasetId(req->dataset())};
  if (absl::Status st = flows::CheckPrepareDataset(ctx_.store, in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::PrepareDatasetJob(in), Summarized(&flows::PrepareDataset, in),
                   writer);
}

grpc::Status ControlService::SetDatasetOperational(grpc::ServerContext* context,
                                                   const v1::SetDatasetOperationalRequest* req,
                                                   grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::SetOperationalInput in{.dataset = DatasetId(req->dataset()), .dry_run = req->dry_run()};
  if (absl::Status st = flows::CheckSetOperational(ctx_.store, in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::SetOperationalJob(in), Summarized(&flows::SetOperational, in),
                   writer);
}

grpc::Status ControlService::AssociateDataset(grpc::ServerContext* context,
                                              const v1::AssociateDatasetRequest* req,
                                              grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::AssociateDatasetInput in{.dataset = DatasetId(req->dataset()),
                                  .benchmark = BenchmarkId(req->benchmark()),
                                  .dry_run = req->dry_run(),
                                  .no_cache = req->no_cache()};
  if (absl::Status st = flows::CheckAssociateDataset(ctx_.store, in); !st.ok()) return ToGrpc(st);
  return StartFlow(context, flows::AssociateDatasetJob(in),
                   Summarized(&flows::AssociateDataset, in), writer);
}

grpc::Status ControlService::RunBenchmark(grpc::ServerContext* context,
                                          const v1::RunBenchmarkRequest* req,
                                          grpc::ServerWriter<v1::JobProgress>* writer) {
  flows::BenchmarkRunInput in{.dataset = DatasetId(req->dataset()),
                              .benchmark = BenchmarkId(req->benchmark()),
                              .models = {},
                              .no_cache = req->no_cache(),
                              .ignore_model_errors = req->ignore_model_errors()};
  for (int64_t m : req->models()) in.models.push_back(ModelId(m));
  if (absl::Status st = flows::CheckBenchmarkRun(ctx_.store, in); !st.ok()) return ToGrpc(st);
  // Ask the server before queueing: a benchmark that does not exist (or that this user
  // may not read, or a server that cannot be reached) is answered at once with its
  // sentence instead of leaving a failed job behind.
  absl::StatusOr<RestClient> server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  if (absl::StatusOr<Benchmark> b = server->GetBenchmark(in.benchmark); !b.ok()) {
    return ToGrpc(b.status());
  }
  return StartFlow(context, flows::BenchmarkRunJob(in), Summarized(&flows::BenchmarkRun, in),
                   writer);
}

namespace {

v1::Result ResultProto(const storage::ResultRecord& r) {
  v1::Result out;
  out.set_uid(r.uid.str());
  out.set_benchmark(r.uid.benchmark().value());
  out.set_model(r.uid.model().value());
  out.set_dataset(r.uid.dataset().value());
  out.set_partial(r.partial);
  out.set_metrics_json(r.metrics_json);
  if (r.server_id) out.set_server_id(r.server_id->value());
  out.set_submitted(r.submitted_at.has_value());
  out.set_created_at(r.created_at);
  out.set_error(r.status == "failed" ? r.error : "");
  out.set_log_dir(r.log_dir);
  return out;
}

}  // namespace

grpc::Status ControlService::ListResults(grpc::ServerContext*, const v1::ListResultsRequest* req,
                                         v1::ResultList* resp) {
  storage::ResultFilter filter;
  if (req->benchmark()) filter.benchmark = BenchmarkId(req->benchmark());
  if (req->model()) filter.model = ModelId(req->model());
  if (req->dataset()) filter.dataset = DatasetId(req->dataset());
  auto results = ctx_.store.ListResults(filter);
  if (!results.ok()) return ToGrpc(results.status());
  for (const auto& r : *results) *resp->add_items() = ResultProto(r);
  return grpc::Status::OK;
}

grpc::Status ControlService::GetResult(grpc::ServerContext*, const v1::GetResultRequest* req,
                                       v1::Result* resp) {
  auto uid = LocalResultUid::Parse(req->uid());
  if (!uid.ok()) return ToGrpc(uid.status());
  auto result = ctx_.store.GetResult(*uid);
  if (!result.ok()) return ToGrpc(result.status());
  *resp = ResultProto(*result);
  return grpc::Status::OK;
}

grpc::Status ControlService::SubmitResult(grpc::ServerContext* context,
                                          const v1::SubmitResultRequest* req, v1::Result* resp) {
  absl::StatusOr<storage::ResultRecord> result =
      flows::SubmitResult(ctx_.site, flows::SiteServer(ctx_.site, CallerToken(context)),
                          {.uid = req->uid(), .dry_run = req->dry_run()});
  if (!result.ok()) return ToGrpc(result.status());
  *resp = ResultProto(*result);
  return grpc::Status::OK;
}

}  // namespace medperf::daemon
