// medperfctl's connection to medperfd.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "ctl/cli.h"
#include "medperf/v1/control.grpc.pb.h"

namespace medperf::ctl {

class DaemonClient {
 public:
  explicit DaemonClient(const GlobalOptions& global);

  medperf::v1::Control::Stub& stub() { return *stub_; }
  // A context for one call; carries the --token-file user's token when given.
  std::unique_ptr<grpc::ClientContext> Context(bool streaming = false);

  // Prints a failed call's error in the user's words and returns exit code 1.
  int Fail(Output& out, const grpc::Status& status) const;
  // The token file could not be read: print and return 1.
  bool token_error(Output& out) const;

 private:
  std::string socket_;
  std::string token_;
  std::string token_error_;
  std::unique_ptr<medperf::v1::Control::Stub> stub_;
};

// Describes a gRPC failure the way an operator needs to read it.
std::string DescribeRpcError(const grpc::Status& status, const std::string& socket);

}  // namespace medperf::ctl
