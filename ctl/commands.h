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

// A proto message as JSON with the proto's field names (for --json output).
std::string ToJson(const google::protobuf::Message& message);

// Prints a usage error about a flag value and returns exit code 2.
int UsageError(Output& out, const absl::Status& status);

// Asks a yes/no question on the terminal; only an explicit "y"/"yes" approves, so
// an unattended invocation never consents by accident. -y answers yes.
bool Confirm(CommandContext& ctx, const std::string& question);

}  // namespace medperf::ctl
