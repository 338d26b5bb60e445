// The gRPC control service medperfctl talks to.
#pragma once

#include <chrono>
#include <string>

#include "daemon/config.h"
#include "daemon/events.h"
#include "medperf/v1/control.grpc.pb.h"
#include "storage/store.h"

namespace medperf::daemon {

// What the service needs from the running daemon.
struct ServiceContext {
  const DaemonConfig& config;
  storage::Store& store;
  EventBus& events;
  std::chrono::steady_clock::time_point started;
};

medperf::v1::Job JobToProto(const storage::JobRecord& job);

class ControlService final : public medperf::v1::Control::Service {
 public:
  explicit ControlService(ServiceContext ctx) : ctx_(ctx) {}

  grpc::Status GetStatus(grpc::ServerContext*, const medperf::v1::GetStatusRequest*,
                         medperf::v1::StatusResponse*) override;
  grpc::Status WatchEvents(grpc::ServerContext*, const medperf::v1::WatchEventsRequest*,
                           grpc::ServerWriter<medperf::v1::Event>*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const medperf::v1::ListJobsRequest*,
                        medperf::v1::JobList*) override;
  grpc::Status GetJob(grpc::ServerContext*, const medperf::v1::GetJobRequest*,
                      medperf::v1::Job*) override;

 private:
  ServiceContext ctx_;
};

// absl::Status → grpc::Status with the same code and message.
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace medperf::daemon
