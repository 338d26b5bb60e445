// medperfctl's connection to medperfd.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

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

 private:
  std::string socket_;
  std::string token_;
  std::unique_ptr<medperf::v1::Control::Stub> stub_;
};

// The MedPerf token in `path` (--token-file), whitespace stripped. RunCli reads it once
// for every command, so no command can run without the user it was asked to act as.
// Errors: NotFoundError when the file cannot be read; PermissionDeniedError when group or
// others may read it (a token is a password), with the chmod that fixes it.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Describes a gRPC failure the way an operator needs to read it.
std::string DescribeRpcError(const grpc::Status& status, const std::string& socket);

}  // namespace medperf::ctl
