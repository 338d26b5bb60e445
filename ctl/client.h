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
  // Only CommandContext::client() makes one, from the token RunCli read.
  DaemonClient(std::string socket, std::string token);

  medperf::v1::Control::Stub& stub() { return *stub_; }
  // A context for one call; carries the --token-file user's token when given.
  std::unique_ptr<grpc::ClientContext> Context(bool streaming = false);

  // A failed call's error in the user's words (DescribeRpcError), with a code that
  // RunCli reports as exit 1: kUnavailable, kDeadlineExceeded or kUnknown.
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
  std::unique_ptr<medperf::v1::Control::Stub> stub_;
};

// Describes a gRPC failure the way an operator needs to read it.
std::string DescribeRpcError(const grpc::Status& status, const std::string& socket);

}  // namespace medperf::ctl
