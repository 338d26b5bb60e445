// medperfctl's connection to medperfd.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "medperf/v1/control.grpc.pb.h"

namespace medperf::ctl {

class DaemonClient {
 public:
  // Only CommandContext::client() makes one, from the token RunCli read (and the file it
  // came from, which a 401 message names).
  DaemonClient(std::string socket, std::string token, std::string token_file = "");

  medperf::v1::Control::Stub& stub() { return *stub_; }
  // A context for one call; carries the --token-file user's token when given.
  std::unique_ptr<grpc::ClientContext> Context(bool streaming = false);

  // A failed call's error in the user's words: the sentence for the medperf.v1.ErrorInfo
  // the daemon attached (core/errors.h DescribeError), else DescribeRpcError. The code is
  // one RunCli reports as exit 1 (kUnavailable, kDeadlineExceeded or kUnknown); the
  // ErrorInfo and the raw gRPC message (RawDetail, shown with --verbose) travel with it.
  absl::Status Fail(const grpc::Status& status) const;

  // Calls a unary RPC, e.g. Call(&Stub::GetJob, request): the response, or Fail(status).
  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(grpc::Status (medperf::v1::Control::Stub::*rpc)(grpc::ClientContext*,
                                                                            const Req&, Resp*),
                            const Req& request) {
    Resp response;
    auto context = Context();
    grpc::Status st = (stub().*rpc)(context.get(), request, &response);
    if (!st.ok()) return Fail(st);
    return response;
  }

 private:
  std::string socket_;
  std::string token_;
  std::string token_file_;
  std::unique_ptr<medperf::v1::Control::Stub> stub_;
};

// Describes a gRPC failure the way an operator needs to read it: a classified error by
// its ErrorInfo; an UNAVAILABLE without one means medperfd itself cannot be reached
// (DescribeDaemonUnreachable).
std::string DescribeRpcError(const grpc::Status& status, const std::string& socket);

// "cannot reach medperfd at <socket> (<reason>); ..." with the next step: the system
// service (`systemctl status medperfd`), or for the user socket ($XDG_RUNTIME_DIR/
// medperfd.sock) `medperfd --user` / `systemctl --user`; when neither socket exists,
// both are named.
std::string DescribeDaemonUnreachable(const std::string& socket, const std::string& reason);

}  // namespace medperf::ctl
