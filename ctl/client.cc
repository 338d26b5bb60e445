#include "ctl/client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/errors.h"

namespace medperf::ctl {

DaemonClient::DaemonClient(std::string socket, std::string token, std::string token_file)
    : socket_(std::move(socket)), token_(std::move(token)), token_file_(std::move(token_file)) {
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

namespace {

// The last part of gRPC's connection error ("failed to connect to all addresses; last
// error: UNKNOWN: unix:/run/x.sock: No such file or directory" → "No such file or
// directory"), so the socket path is not repeated.
std::string ConnectReason(const std::string& message) {
  size_t colon = message.rfind(": ");
  std::string reason = colon == std::string::npos ? message : message.substr(colon + 2);
  return reason.empty() ? message : reason;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::optional<ErrorInfo> InfoFromDetails(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  medperf::v1::ErrorInfo in;
  if (!in.ParseFromString(status.error_details())) return std::nullopt;
  ErrorInfo info;
  info.error_class = static_cast<ErrorClass>(static_cast<int>(in.error_class()));
  info.server_url = in.server_url();
  info.object = in.object();
  info.object_kind = in.object_kind();
  info.action = in.action();
  info.reason = in.reason();
  info.token_file = in.token_file();
  info.log_path = in.log_path();
  return info;
}

}  // namespace

std::string DescribeDaemonUnreachable(const std::string& socket, const std::string& reason) {
  const std::string system = "/run/medperfd/medperfd.sock";
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string user =
      runtime && *runtime ? absl::StrCat(runtime, "/medperfd.sock") : std::string();
  std::string head = absl::StrCat("cannot reach medperfd at ", socket,
                                  reason.empty() ? "" : absl::StrCat(" (", reason, ")"));
  if (!user.empty() && socket == user) {
    return absl::StrCat(head, "; is your own medperfd running? Start it with `medperfd --user` ",
                        "(or `systemctl --user start medperfd` if you installed a user unit)");
  }
  if (!user.empty() && socket == system && !Exists(system)) {
    // Neither socket exists: the user may run a system service or a --user daemon.
    return absl::StrCat("cannot reach medperfd: neither the system socket ", system,
                        " nor your own ", user,
                        " exists; is the service running? (`systemctl status medperfd`; for a "
                        "per-user daemon start `medperfd --user`, or `systemctl --user start "
                        "medperfd`)");
  }
  return absl::StrCat(head, "; is the service running? (systemctl status medperfd)");
}

std::string DescribeRpcError(const grpc::Status& status, const std::string& socket) {
  if (std::optional<ErrorInfo> info = InfoFromDetails(status)) {
    return DescribeError(*info, status.error_message());
  }
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (status.error_message().find("shutting down") != std::string::npos) {
        return status.error_message();
      }
      return DescribeDaemonUnreachable(socket, ConnectReason(status.error_message()));
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
  std::optional<ErrorInfo> info = InfoFromDetails(status);
  if (info && info->error_class == ErrorClass::kUnauthenticated && info->token_file.empty()) {
    info->token_file = token_file_;  // the daemon used the token this ctl sent
  }
  std::string message =
      info ? DescribeError(*info, status.error_message()) : DescribeRpcError(status, socket_);
  absl::Status out;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      out = absl::UnavailableError(message);
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      out = absl::DeadlineExceededError(message);
      break;
    default:
      out = absl::UnknownError(message);
  }
  if (info) out = WithErrorInfo(std::move(out), *info);
  // The raw detail (the daemon's request line and the server's answer, or gRPC's
  // connection error) is printed with --verbose only.
  return WithRawDetail(std::move(out), status.error_message());
}

}  // namespace medperf::ctl
