// Command groups of medperfctl; each group lives in its own file.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

#include <optional>

#include "ctl/cli.h"
#include "ctl/client.h"

namespace medperf::ctl {

std::vector<Command> DaemonCommands();     // status, watch, sync, job ls/view
std::vector<Command> DataOwnerCommands();  // benchmark, dataset, association, result, job
std::vector<Command> CommitteeCommands();  // test, container/mlcube, model, benchmark submit, demo

// Follows a job's progress stream until its end; nullopt (after printing why) unless
// the job succeeded.
std::optional<medperf::v1::Job> FollowJob(
    CommandContext& ctx, DaemonClient& client,
    grpc::ClientReaderInterface<medperf::v1::JobProgress>& reader);
nlohmann::json JobResult(const medperf::v1::Job& job);

// Calls a streaming RPC that runs a job, follows it, and stores the job's result JSON.
// Returns the exit code (1 after printing why the job did not succeed).
template <typename Req>
int StreamCall(CommandContext& ctx, DaemonClient& client,
               std::unique_ptr<grpc::ClientReader<medperf::v1::JobProgress>> (
                   medperf::v1::Control::Stub::*rpc)(grpc::ClientContext*, const Req&),
               const Req& req, nlohmann::json* result) {
  auto context = client.Context(/*streaming=*/true);
  auto reader = (client.stub().*rpc)(context.get(), req);
  std::optional<medperf::v1::Job> job = FollowJob(ctx, client, *reader);
  if (!job) return 1;
  *result = JobResult(*job);
  return 0;
}

// Prints the outcome of an association request (dataset or model); returns 0.
int PrintAssociationRequested(CommandContext& ctx, const nlohmann::json& result);

// medperfd may see another working directory than the caller, so local paths are sent
// absolute.
std::string AbsolutePath(const std::string& path);

// A proto message as JSON with the proto's field names (for --json output).
std::string ToJson(const google::protobuf::Message& message);

// Prints a usage error about a flag value and returns exit code 2.
int UsageError(Output& out, const absl::Status& status);

// Asks a yes/no question on the terminal; only an explicit "y"/"yes" approves, so
// an unattended invocation never consents by accident. -y answers yes.
bool Confirm(CommandContext& ctx, const std::string& question);

}  // namespace medperf::ctl
