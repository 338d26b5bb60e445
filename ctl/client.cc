#include "ctl/client.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace medperf::ctl {

DaemonClient::DaemonClient(std::string socket, std::string token)
    : socket_(std::move(socket)), token_(std::move(token)) {
  grpc::ChannelArguments args;
  // A local daemon answers at once or not at all: do not wait minutes to reconnect.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  auto channel =
      grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
  stub_ = medperf::v1::Control::NewStub(channel);
}

std::unique_ptr<grpc::ClientContext> DaemonClient::Context(bool streaming) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  // Fail fast when the daemon is down instead of waiting for it to appear.
  ctx->set_wait_for_ready(false);
  if (!streaming) ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  if (!token_.empty()) ctx->AddMetadata("x-medperf-token", token_);
  return ctx;
}

std::string DescribeRpcError(const grpc::Status& status, const std::string& socket) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (status.error_message().find("shutting down") != std::string::npos) {
        return status.error_message();
      }
      return absl::StrCat("cannot reach medperfd at ", socket, ": ", status.error_message(),
                          "; is the service running? (systemctl status medperfd)");
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::StrCat("this medperfd does not implement that command yet",
                          status.error_message().empty() ? "" : ": ", status.error_message());
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("medperfd did not answer in time: ", status.error_message());
    default:
      return status.error_message();
  }
}

absl::Status DaemonClient::Fail(const grpc::Status& status) const {
  std::string message = DescribeRpcError(status, socket_);
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(message);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(message);
    default:
      return absl::UnknownError(message);
  }
}

}  // namespace medperf::ctl
