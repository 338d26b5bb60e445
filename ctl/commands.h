// medperfctl's command groups (one file per MedPerf command group in ctl/commands/) and
// the helpers they share.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "ctl/cli.h"
#include "ctl/client.h"
#include "ctl/output.h"
#include "ctl/render.h"

namespace medperf::ctl {

// The command groups, in help order.
std::vector<Command> DaemonCommands();       // status, watch, sync
std::vector<Command> JobCommands();          // job ls|view|watch|cancel|retry
std::vector<Command> BenchmarkCommands();    // benchmark ls|view|run|submit|approve|reject
std::vector<Command> DatasetCommands();      // dataset ls|view|submit|prepare|...
std::vector<Command> AssociationCommands();  // association ls|approve|reject|set_priority
std::vector<Command> ResultCommands();       // result ls|view|submit
std::vector<Command> TestCommands();         // test run, demo pack
std::vector<Command> ContainerCommands();    // container|mlcube submit|ls|view, associate
std::vector<Command> StorageCommands();      // storage ls|cleanup
std::vector<Command> HelpCommands();         // help, man, completion

// Follows a job's progress stream until its end. Progress goes to stderr, the re-attach
// hint first. Returns the job when it succeeded; otherwise an error (exit 1) saying why:
// the RPC failure, a stream without an outcome, or the job's failure and its log.
absl::StatusOr<medperf::v1::Job> FollowJob(
    CommandContext& ctx, grpc::ClientReaderInterface<medperf::v1::JobProgress>& reader);

// Calls a streaming RPC that runs a job and follows it (FollowJob).
template <typename Req>
absl::StatusOr<medperf::v1::Job> RunJobRecord(
    CommandContext& ctx,
    std::unique_ptr<grpc::ClientReader<medperf::v1::JobProgress>> (
        medperf::v1::Control::Stub::*rpc)(grpc::ClientContext*, const Req&),
    const Req& req) {
  DaemonClient& client = ctx.client();
  auto context = client.Context(/*streaming=*/true);
  auto reader = (client.stub().*rpc)(context.get(), req);
  return FollowJob(ctx, *reader);
}

// What the command that started a job prints at its end, chosen by the job's kind
// (`Job.kind`), so that `job watch` re-attached to a job prints exactly what the
// command would have. Kinds without their own rendering (a single `run`, dry runs that
// precede a prompt) print the job's result JSON in both modes.
Reply JobReply(const medperf::v1::Job& job);

// Calls a streaming RPC that runs a job, follows it, and answers with JobReply.
template <typename Req>
absl::StatusOr<Reply> RunJobReply(CommandContext& ctx,
                                  std::unique_ptr<grpc::ClientReader<medperf::v1::JobProgress>> (
                                      medperf::v1::Control::Stub::*rpc)(grpc::ClientContext*,
                                                                        const Req&),
                                  const Req& req) {
  absl::StatusOr<medperf::v1::Job> job = RunJobRecord(ctx, rpc, req);
  if (!job.ok()) return job.status();
  return JobReply(*job);
}

// Calls a streaming RPC that runs a job, follows it, and returns the job's result JSON.
template <typename Req>
absl::StatusOr<nlohmann::json> RunJob(
    CommandContext& ctx,
    std::unique_ptr<grpc::ClientReader<medperf::v1::JobProgress>> (
        medperf::v1::Control::Stub::*rpc)(grpc::ClientContext*, const Req&),
    const Req& req) {
  absl::StatusOr<medperf::v1::Job> job = RunJobRecord(ctx, rpc, req);
  if (!job.ok()) return job.status();
  return ParseJsonOrString(job->result_json());
}

// The renderings of JobReply, one per kind, next to their commands.
Reply BenchmarkRunReply(const medperf::v1::Job& job);    // "benchmark-run"
Reply DatasetPrepareReply(const medperf::v1::Job& job);  // "prepare"
Reply TestRunReply(const medperf::v1::Job& job);         // "test"

// The outcome of an association request (dataset or model).
Reply AssociationRequested(const nlohmann::json& result);

// medperfd may see another working directory than the caller, so local paths are sent
// absolute.
std::string AbsolutePath(const std::string& path);

// URLs ("https://...", "direct:...", "synapse:...") as given, local paths absolute.
std::string UrlOrAbsolute(const std::string& s);

// Metrics as indented "key: value" lines (nothing when `metrics` is not an object).
void PrintMetrics(std::ostream& out, const nlohmann::json& metrics);

// Asks a yes/no question on the terminal; only an explicit "y"/"yes" approves, so
// an unattended invocation never consents by accident. -y answers yes.
bool Confirm(CommandContext& ctx, const std::string& question);

// "True"/"False", as the MedPerf CLI prints booleans.
inline std::string Bool(bool b) { return b ? "True" : "False"; }

// Server entities (benchmarks, datasets, containers): listing and viewing.
using ListRpc = grpc::Status (medperf::v1::Control::Stub::*)(grpc::ClientContext*,
                                                             const medperf::v1::ListRequest&,
                                                             medperf::v1::EntityList*);
using GetRpc = grpc::Status (medperf::v1::Control::Stub::*)(grpc::ClientContext*,
                                                            const medperf::v1::GetRequest&,
                                                            medperf::v1::Entity*);
// A table column: header, and the entity JSON field shown ("local_status": the
// daemon's local status of the entity).
using Column = std::pair<std::string, std::string>;
// The --mine/--name/--owner/--state filters of entity listings.
medperf::v1::ListRequest ListFilters(const Args& args);
// The entities as a JSON array, or the table of `columns`.
absl::StatusOr<Reply> ListEntities(CommandContext& ctx, ListRpc rpc,
                                   const std::vector<Column>& columns);
// The entity with the id given as the first positional argument (`what` names it).
absl::StatusOr<Reply> ViewEntity(CommandContext& ctx, GetRpc rpc, const std::string& what);
// Flags of entity listings.
std::vector<FlagSpec> ListFlags();

}  // namespace medperf::ctl
