// The gRPC control service medperfctl talks to.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "daemon/config.h"
#include "daemon/events.h"
#include "daemon/flows/flow_context.h"
#include "daemon/jobs.h"
#include "daemon/poller.h"
#include "daemon/site.h"
#include "medperf/v1/control.grpc.pb.h"
#include "storage/store.h"

namespace medperf::daemon {

// What the service needs from the running daemon.
struct ServiceContext {
  const DaemonConfig& config;
  storage::Store& store;
  EventBus& events;
  std::chrono::steady_clock::time_point started;
  Site& site;
  JobManager& jobs;
  Poller* poller = nullptr;  // for `medperfctl sync`
};

medperf::v1::Job JobToProto(const storage::JobRecord& job);

class ControlService final : public medperf::v1::Control::Service {
 public:
  explicit ControlService(ServiceContext ctx) : ctx_(ctx) {}

  grpc::Status GetStatus(grpc::ServerContext*, const medperf::v1::GetStatusRequest*,
                         medperf::v1::StatusResponse*) override;
  grpc::Status Sync(grpc::ServerContext*, const medperf::v1::SyncRequest*,
                    medperf::v1::SyncResponse*) override;
  grpc::Status WatchEvents(grpc::ServerContext*, const medperf::v1::WatchEventsRequest*,
                           grpc::ServerWriter<medperf::v1::Event>*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const medperf::v1::ListJobsRequest*,
                        medperf::v1::JobList*) override;
  grpc::Status GetJob(grpc::ServerContext*, const medperf::v1::GetJobRequest*,
                      medperf::v1::Job*) override;
  grpc::Status WatchJob(grpc::ServerContext*, const medperf::v1::GetJobRequest*,
                        grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const medperf::v1::GetJobRequest*,
                         medperf::v1::Job*) override;
  grpc::Status RetryJob(grpc::ServerContext*, const medperf::v1::GetJobRequest*,
                        medperf::v1::Job*) override;

  // Entities on the server (service_entities.cc).
  grpc::Status ListBenchmarks(grpc::ServerContext*, const medperf::v1::ListRequest*,
                              medperf::v1::EntityList*) override;
  grpc::Status GetBenchmark(grpc::ServerContext*, const medperf::v1::GetRequest*,
                            medperf::v1::Entity*) override;
  grpc::Status SetBenchmarkApproval(grpc::ServerContext*,
                                    const medperf::v1::SetBenchmarkApprovalRequest*,
                                    medperf::v1::Entity*) override;
  grpc::Status ListDatasets(grpc::ServerContext*, const medperf::v1::ListRequest*,
                            medperf::v1::EntityList*) override;
  grpc::Status GetDataset(grpc::ServerContext*, const medperf::v1::GetRequest*,
                          medperf::v1::Entity*) override;
  grpc::Status ListContainers(grpc::ServerContext*, const medperf::v1::ListRequest*,
                              medperf::v1::EntityList*) override;
  grpc::Status GetContainer(grpc::ServerContext*, const medperf::v1::GetRequest*,
                            medperf::v1::Entity*) override;
  grpc::Status ListAssociations(grpc::ServerContext*, const medperf::v1::ListAssociationsRequest*,
                                medperf::v1::AssociationList*) override;
  grpc::Status SetAssociationApproval(grpc::ServerContext*,
                                      const medperf::v1::SetAssociationApprovalRequest*,
                                      medperf::v1::Association*) override;
  grpc::Status SetAssociationPriority(grpc::ServerContext*,
                                      const medperf::v1::SetAssociationPriorityRequest*,
                                      medperf::v1::Association*) override;

  // The data owner's flow (service_data_owner.cc).
  grpc::Status SubmitDataset(grpc::ServerContext*, const medperf::v1::SubmitDatasetRequest*,
                             grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status PrepareDataset(grpc::ServerContext*, const medperf::v1::PrepareDatasetRequest*,
                              grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status SetDatasetOperational(grpc::ServerContext*,
                                     const medperf::v1::SetDatasetOperationalRequest*,
                                     grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status AssociateDataset(grpc::ServerContext*, const medperf::v1::AssociateDatasetRequest*,
                                grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status RunBenchmark(grpc::ServerContext*, const medperf::v1::RunBenchmarkRequest*,
                            grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status ListResults(grpc::ServerContext*, const medperf::v1::ListResultsRequest*,
                           medperf::v1::ResultList*) override;
  grpc::Status GetResult(grpc::ServerContext*, const medperf::v1::GetResultRequest*,
                         medperf::v1::Result*) override;
  grpc::Status SubmitResult(grpc::ServerContext*, const medperf::v1::SubmitResultRequest*,
                            medperf::v1::Result*) override;

  // Committee, model owner and admin (service_committee.cc)
  grpc::Status RunTest(grpc::ServerContext*, const medperf::v1::RunTestRequest*,
                       grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status SubmitContainer(grpc::ServerContext*, const medperf::v1::SubmitContainerRequest*,
                               grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status SubmitBenchmark(grpc::ServerContext*, const medperf::v1::SubmitBenchmarkRequest*,
                               grpc::ServerWriter<medperf::v1::JobProgress>*) override;
  grpc::Status AssociateModel(grpc::ServerContext*, const medperf::v1::AssociateModelRequest*,
                              grpc::ServerWriter<medperf::v1::JobProgress>*) override;

  // The state directory's storage (service_storage.cc).
  grpc::Status ListStorage(grpc::ServerContext*, const medperf::v1::ListStorageRequest*,
                           medperf::v1::StorageList*) override;
  grpc::Status CleanupStorage(grpc::ServerContext*, const medperf::v1::CleanupStorageRequest*,
                              medperf::v1::CleanupStorageResponse*) override;

 private:
  // Streams a job's progress until it ends or the caller leaves (the job goes on).
  grpc::Status StreamJob(grpc::ServerContext* context, JobId id,
                         grpc::ServerWriter<medperf::v1::JobProgress>* writer);
  // Starts an interactive job and streams it.
  grpc::Status StartAndStream(grpc::ServerContext* context, storage::JobRecord record, JobBody body,
                              grpc::ServerWriter<medperf::v1::JobProgress>* writer);
  // A server client acting as the caller's --token-file user, or the site's identity.
  absl::StatusOr<RestClient> ServerFor(grpc::ServerContext* context);

  // A workflow of daemon/flows/ as a job body: input bound, result as its summary JSON.
  using FlowBody = std::function<absl::StatusOr<nlohmann::json>(flows::FlowContext&)>;
  template <typename Input, typename Result>
  static FlowBody Summarized(absl::StatusOr<Result> (*flow)(flows::FlowContext&, const Input&),
                             Input in) {
    return [flow, in = std::move(in)](flows::FlowContext& fc) -> absl::StatusOr<nlohmann::json> {
      absl::StatusOr<Result> out = flow(fc, in);
      if (!out.ok()) return out.status();
      return SummaryJson(*out);  // found by ADL in daemon/flows/
    };
  }
  // Starts an interactive job running `flow` as the caller (CallerToken) and streams it.
  grpc::Status StartFlow(grpc::ServerContext* context, storage::JobRecord record, FlowBody flow,
                         grpc::ServerWriter<medperf::v1::JobProgress>* writer);

  ServiceContext ctx_;
};

// The token a ctl call passed in its metadata, or "".
std::string CallerToken(const grpc::ServerContext* context);

// absl::Status → grpc::Status with the same code and the raw message; a classified
// status (core/errors.h) also carries a medperf.v1.ErrorInfo as binary details and is
// logged with its raw detail.
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace medperf::daemon
