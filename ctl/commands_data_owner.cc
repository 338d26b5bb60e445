// The data owner's commands (MedPerf data-owner tutorial) and the entity listings
// they rely on: benchmark, dataset, association, result, plus job watch/cancel/retry.
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ctl/commands.h"
#include "ctl/render.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
using Json = nlohmann::json;

// Follows a job's progress stream; prints progress to stderr (the result goes to
// stdout), re-attach hints first. Returns the final job, or nullopt after printing why.
std::optional<v1::Job> FollowJob(CommandContext& ctx, DaemonClient& client,
                                 grpc::ClientReaderInterface<v1::JobProgress>& reader) {
  v1::JobProgress p;
  bool announced = false;
  std::optional<v1::Job> final;
  while (reader.Read(&p)) {
    if (!announced) {
      ctx.out.err() << "job " << p.job_id() << " started (if interrupted, it goes on: "
                    << "medperfctl job watch " << p.job_id() << ")\n";
      announced = true;
    }
    if (p.final()) {
      final = p.job();
      continue;
    }
    ctx.out.err() << "  [" << p.step() << "] " << p.message() << "\n";
  }
  grpc::Status st = reader.Finish();
  if (!st.ok()) {
    client.Fail(ctx.out, st);
    return std::nullopt;
  }
  if (!final) {
    ctx.out.err() << "medperfctl: the job stream ended without an outcome\n";
    return std::nullopt;
  }
  if (final->state() != v1::DONE) {
    ctx.out.err() << "medperfctl: job " << final->id() << " "
                  << (final->state() == v1::CANCELLED ? "was cancelled" : "failed") << ": "
                  << final->error() << "\n";
    if (!final->log_path().empty()) ctx.out.err() << "job log: " << final->log_path() << "\n";
    return std::nullopt;
  }
  return final;
}

Json JobResult(const v1::Job& job) { return ParseJsonOrString(job.result_json()); }

namespace {

absl::StatusOr<int64_t> Id(const Args& args, const std::string& name) { return args.GetId(name); }

std::string Bool(bool b) { return b ? "True" : "False"; }

void PrintEntities(CommandContext& ctx, const v1::EntityList& list,
                   const std::vector<std::pair<std::string, std::string>>& columns) {
  if (ctx.global.json) {
    Json out = Json::array();
    for (const auto& e : list.items()) out.push_back(ParseJsonOrString(e.json()));
    ctx.out.out() << out.dump(2) << "\n";
    return;
  }
  std::vector<std::string> headers;
  for (const auto& [h, f] : columns) headers.push_back(h);
  Table t(headers);
  for (const auto& e : list.items()) {
    Json j = ParseJsonOrString(e.json());
    std::vector<std::string> row;
    for (const auto& [h, f] : columns) {
      if (f == "local_status") {
        row.push_back(e.local_status());
      } else {
        row.push_back(j.contains(f) ? Cell(j[f]) : "");
      }
    }
    t.AddRow(row);
  }
  t.Print(ctx.out.out());
}

void PrintEntity(CommandContext& ctx, const v1::Entity& e) {
  Json j = ParseJsonOrString(e.json());
  if (!e.local_status().empty()) j["local_status"] = e.local_status();
  if (ctx.global.json) {
    ctx.out.out() << j.dump(2) << "\n";
  } else {
    PrintKeyValues(ctx.out.out(), j);
  }
}

using ListRpc = grpc::Status (v1::Control::Stub::*)(grpc::ClientContext*, const v1::ListRequest&,
                                                    v1::EntityList*);
using GetRpc = grpc::Status (v1::Control::Stub::*)(grpc::ClientContext*, const v1::GetRequest&,
                                                   v1::Entity*);

int ListEntities(CommandContext& ctx, ListRpc rpc,
                 const std::vector<std::pair<std::string, std::string>>& columns) {
  DaemonClient client(ctx.global);
  v1::ListRequest req;
  req.set_mine(ctx.args.Has("mine"));
  for (const char* filter : {"name", "owner", "state"}) {
    if (ctx.args.Has(filter)) (*req.mutable_filters())[filter] = ctx.args.Get(filter);
  }
  v1::EntityList resp;
  grpc::Status st = (client.stub().*rpc)(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  PrintEntities(ctx, resp, columns);
  return 0;
}

int ViewEntity(CommandContext& ctx, GetRpc rpc, const std::string& what) {
  auto id = ctx.args.PositionalId(0, what + " id");
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::GetRequest req;
  req.set_id(*id);
  v1::Entity resp;
  grpc::Status st = (client.stub().*rpc)(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  PrintEntity(ctx, resp);
  return 0;
}

int DatasetSubmit(CommandContext& ctx) {
  v1::SubmitDatasetRequest req;
  req.set_name(ctx.args.Get("name"));
  req.set_description(ctx.args.Get("description"));
  req.set_location(ctx.args.Get("location"));
  req.set_data_path(AbsolutePath(ctx.args.Get("data_path")));
  req.set_labels_path(AbsolutePath(ctx.args.Get("labels_path")));
  if (ctx.args.Has("benchmark")) {
    auto b = Id(ctx.args, "benchmark");
    if (!b.ok()) return UsageError(ctx.out, b.status());
    req.set_benchmark(*b);
  }
  if (ctx.args.Has("data_preparation_container")) {
    auto p = Id(ctx.args, "data_preparation_container");
    if (!p.ok()) return UsageError(ctx.out, p.status());
    req.set_data_preparation_container(*p);
  }
  DaemonClient client(ctx.global);
  Json preview;
  req.set_dry_run(true);
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::SubmitDataset, req, &preview)) return rc;
  if (!ctx.global.json) {
    ctx.out.out() << "The following will be sent to the MedPerf server (the data itself never "
                     "leaves this machine):\n";
    PrintKeyValues(ctx.out.out(), preview.value("dataset", Json::object()), 2);
    ctx.out.out() << "Note: " << preview.value("note", "") << "\n";
  }
  if (!Confirm(ctx, "Submit this dataset?")) {
    ctx.out.err() << "Dataset not submitted.\n";
    return 1;
  }
  req.set_dry_run(false);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::SubmitDataset, req, &result)) return rc;
  if (ctx.global.json) {
    ctx.out.out() << result.dump(2) << "\n";
  } else {
    ctx.out.out() << "Dataset registered with server UID " << Cell(result["dataset"]["id"])
                  << ". Next: medperfctl dataset prepare --data_uid "
                  << Cell(result["dataset"]["id"]) << "\n";
  }
  return 0;
}

int DatasetPrepare(CommandContext& ctx) {
  auto id = Id(ctx.args, "data_uid");
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::PrepareDatasetRequest req;
  req.set_dataset(*id);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::PrepareDataset, req, &result)) return rc;
  if (ctx.global.json) {
    ctx.out.out() << result.dump(2) << "\n";
  } else {
    ctx.out.out() << "Dataset " << *id << " prepared. Statistics (sent to the server only when "
                  << "you run dataset set_operational):\n";
    PrintKeyValues(ctx.out.out(), result.value("statistics", Json::object()), 2);
  }
  return 0;
}

int DatasetSetOperational(CommandContext& ctx) {
  auto id = Id(ctx.args, "data_uid");
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::SetDatasetOperationalRequest req;
  req.set_dataset(*id);
  req.set_dry_run(true);
  Json preview;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::SetDatasetOperational, req, &preview)) {
    return rc;
  }
  if (!ctx.global.json) {
    ctx.out.out() << "Dataset " << *id << " will be updated on the server with:\n";
    PrintKeyValues(ctx.out.out(), preview.value("update", Json::object()), 2);
    ctx.out.out() << "Once operational, a dataset can never go back to development.\n";
  }
  if (!Confirm(ctx, "Mark this dataset as operational?")) {
    ctx.out.err() << "Dataset not changed.\n";
    return 1;
  }
  req.set_dry_run(false);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::SetDatasetOperational, req, &result)) {
    return rc;
  }
  if (ctx.global.json) {
    ctx.out.out() << result.dump(2) << "\n";
  } else {
    ctx.out.out() << "Dataset " << *id << " is operational.\n";
  }
  return 0;
}

int DatasetAssociate(CommandContext& ctx) {
  auto dataset = Id(ctx.args, "data_uid");
  if (!dataset.ok()) return UsageError(ctx.out, dataset.status());
  auto benchmark = Id(ctx.args, "benchmark_uid");
  if (!benchmark.ok()) return UsageError(ctx.out, benchmark.status());
  DaemonClient client(ctx.global);
  v1::AssociateDatasetRequest req;
  req.set_dataset(*dataset);
  req.set_benchmark(*benchmark);
  req.set_no_cache(ctx.args.Has("no_cache"));
  req.set_dry_run(true);
  Json preview;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::AssociateDataset, req, &preview)) {
    return rc;
  }
  if (!ctx.global.json) {
    ctx.out.out() << "Compatibility test of the reference model on your dataset (sent with the "
                     "association request; not part of the benchmark's results):\n";
    PrintKeyValues(ctx.out.out(), preview.value("test_result", Json::object()), 2);
  }
  if (!Confirm(ctx, absl::StrCat("Request association of dataset ", *dataset, " with benchmark ",
                                 *benchmark, "?"))) {
    ctx.out.err() << "Association not requested.\n";
    return 1;
  }
  req.set_dry_run(false);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::AssociateDataset, req, &result)) {
    return rc;
  }
  return PrintAssociationRequested(ctx, result);
}

int BenchmarkRun(CommandContext& ctx) {
  auto benchmark = Id(ctx.args, "benchmark");
  if (!benchmark.ok()) return UsageError(ctx.out, benchmark.status());
  auto dataset = Id(ctx.args, "data_uid");
  if (!dataset.ok()) return UsageError(ctx.out, dataset.status());
  v1::RunBenchmarkRequest req;
  req.set_benchmark(*benchmark);
  req.set_dataset(*dataset);
  req.set_ignore_model_errors(ctx.args.Has("ignore_model_errors"));
  req.set_no_cache(ctx.args.Has("no_cache"));
  if (ctx.args.Has("models")) {
    for (absl::string_view m : absl::StrSplit(ctx.args.Get("models"), ',', absl::SkipEmpty())) {
      auto id = ParseId(std::string(m), "--models");
      if (!id.ok()) return UsageError(ctx.out, id.status());
      req.add_models(*id);
    }
  }
  DaemonClient client(ctx.global);
  Json summary;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::RunBenchmark, req, &summary)) return rc;
  if (ctx.global.json) {
    ctx.out.out() << summary.dump(2) << "\n";
    return summary.value("failed", 0) > 0 ? 1 : 0;
  }
  Table t({"model", "local result UID", "partial result", "from cache", "error"});
  for (const auto& row : summary["rows"]) {
    t.AddRow({Cell(row["model"]), Cell(row["local_result_uid"]), Bool(row["partial_result"]),
              Bool(row["from_cache"]), Cell(row["error"])});
  }
  auto& o = ctx.out.out();
  t.Print(o);
  o << "Total number of models: " << summary.value("total", 0) << "\n"
    << "\t" << summary.value("skipped", 0) << " were skipped (already executed), of which "
    << summary.value("skipped_partial", 0) << " have partial results\n"
    << "\t" << summary.value("failed", 0) << " failed\n"
    << "\t" << summary.value("ran", 0) << " ran successfully, of which "
    << summary.value("ran_partial", 0) << " have partial results\n";
  // Scripts and schedulers need to notice a failed model without parsing the table.
  return summary.value("failed", 0) > 0 ? 1 : 0;
}

int AssociationList(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::ListAssociationsRequest req;
  if (ctx.args.Has("benchmark")) {
    auto b = Id(ctx.args, "benchmark");
    if (!b.ok()) return UsageError(ctx.out, b.status());
    req.set_benchmark(*b);
  }
  req.set_datasets(ctx.args.Has("datasets"));
  req.set_models(ctx.args.Has("models"));
  if (ctx.args.Has("pending")) req.set_approval_status("PENDING");
  if (ctx.args.Has("approval_status")) req.set_approval_status(ctx.args.Get("approval_status"));
  v1::AssociationList resp;
  grpc::Status st = client.stub().ListAssociations(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    Json out = Json::array();
    for (const auto& a : resp.items()) {
      Json j = ParseJsonOrString(a.json());
      j["kind"] = a.kind();
      out.push_back(j);
    }
    ctx.out.out() << out.dump(2) << "\n";
    return 0;
  }
  Table t({"Kind", "Entity UID", "Benchmark UID", "Initiated by", "Status", "Priority"});
  for (const auto& a : resp.items()) {
    t.AddRow({a.kind(), std::to_string(a.entity()), std::to_string(a.benchmark()),
              std::to_string(a.initiated_by()), a.approval_status(),
              a.kind() == "model" ? std::to_string(a.priority()) : ""});
  }
  t.Print(ctx.out.out());
  return 0;
}

int AssociationDecide(CommandContext& ctx, bool approve) {
  auto benchmark = Id(ctx.args, "benchmark");
  if (!benchmark.ok()) return UsageError(ctx.out, benchmark.status());
  v1::SetAssociationApprovalRequest req;
  req.set_benchmark(*benchmark);
  req.set_approve(approve);
  if (ctx.args.Has("dataset_uid") == ctx.args.Has("model_uid")) {
    return UsageError(
        ctx.out, absl::InvalidArgumentError("give exactly one of --dataset_uid or --model_uid"));
  }
  if (ctx.args.Has("dataset_uid")) {
    auto d = Id(ctx.args, "dataset_uid");
    if (!d.ok()) return UsageError(ctx.out, d.status());
    req.set_dataset(*d);
  } else {
    auto m = Id(ctx.args, "model_uid");
    if (!m.ok()) return UsageError(ctx.out, m.status());
    req.set_model(*m);
  }
  DaemonClient client(ctx.global);
  v1::Association resp;
  grpc::Status st = client.stub().SetAssociationApproval(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ToJson(resp) << "\n";
  } else {
    ctx.out.out() << "Association of " << (req.dataset() ? "dataset " : "model ")
                  << (req.dataset() ? req.dataset() : req.model()) << " with benchmark "
                  << req.benchmark() << ": " << resp.approval_status() << "\n";
  }
  return 0;
}

int AssociationPriority(CommandContext& ctx) {
  auto benchmark = Id(ctx.args, "benchmark");
  auto model = Id(ctx.args, "model_uid");
  auto priority = ctx.args.GetInt("priority");
  for (const auto* s : {&benchmark, &model, &priority}) {
    if (!s->ok()) return UsageError(ctx.out, s->status());
  }
  v1::SetAssociationPriorityRequest req;
  req.set_benchmark(*benchmark);
  req.set_model(*model);
  req.set_priority(static_cast<int32_t>(*priority));
  DaemonClient client(ctx.global);
  v1::Association resp;
  grpc::Status st = client.stub().SetAssociationPriority(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  ctx.out.out() << (ctx.global.json ? ToJson(resp)
                                    : absl::StrCat("Priority of model ", *model, " in benchmark ",
                                                   *benchmark, " set to ", *priority))
                << "\n";
  return 0;
}

Json ResultJson(const v1::Result& r) {
  return {{"uid", r.uid()},
          {"benchmark", r.benchmark()},
          {"model", r.model()},
          {"dataset", r.dataset()},
          {"partial", r.partial()},
          {"results", ParseJsonOrString(r.metrics_json())},
          {"execution_id", r.server_id()},
          {"submitted", r.submitted()},
          {"created_at", r.created_at()},
          {"error", r.error()},
          {"logs", r.log_dir()}};
}

int ResultList(CommandContext& ctx) {
  v1::ListResultsRequest req;
  for (auto [flag, setter] : {std::pair<const char*, void (v1::ListResultsRequest::*)(int64_t)>{
                                  "benchmark", &v1::ListResultsRequest::set_benchmark},
                              {"model", &v1::ListResultsRequest::set_model},
                              {"dataset", &v1::ListResultsRequest::set_dataset}}) {
    if (!ctx.args.Has(flag)) continue;
    auto v = Id(ctx.args, flag);
    if (!v.ok()) return UsageError(ctx.out, v.status());
    (req.*setter)(*v);
  }
  DaemonClient client(ctx.global);
  v1::ResultList resp;
  grpc::Status st = client.stub().ListResults(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    Json out = Json::array();
    for (const auto& r : resp.items()) out.push_back(ResultJson(r));
    ctx.out.out() << out.dump(2) << "\n";
    return 0;
  }
  Table t({"UID", "Benchmark", "Model", "Dataset", "Partial", "Submitted", "Error"});
  for (const auto& r : resp.items()) {
    t.AddRow({r.uid(), std::to_string(r.benchmark()), std::to_string(r.model()),
              std::to_string(r.dataset()), Bool(r.partial()), Bool(r.submitted()), r.error()});
  }
  t.Print(ctx.out.out());
  return 0;
}

std::optional<std::string> ResultUid(CommandContext& ctx) {
  std::string uid = ctx.args.Has("result")          ? ctx.args.Get("result")
                    : ctx.args.positional().empty() ? ""
                                                    : ctx.args.positional()[0];
  if (uid.empty()) {
    UsageError(ctx.out, absl::InvalidArgumentError("missing result uid, e.g. b1m4d1"));
    return std::nullopt;
  }
  return uid;
}

int ResultView(CommandContext& ctx) {
  auto uid = ResultUid(ctx);
  if (!uid) return 2;
  DaemonClient client(ctx.global);
  v1::GetResultRequest req;
  req.set_uid(*uid);
  v1::Result resp;
  grpc::Status st = client.stub().GetResult(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  Json j = ResultJson(resp);
  if (ctx.global.json) {
    ctx.out.out() << j.dump(2) << "\n";
  } else {
    PrintKeyValues(ctx.out.out(), j);
  }
  return 0;
}

int ResultSubmit(CommandContext& ctx) {
  auto uid = ResultUid(ctx);
  if (!uid) return 2;
  DaemonClient client(ctx.global);
  v1::SubmitResultRequest req;
  req.set_uid(*uid);
  req.set_dry_run(true);
  v1::Result preview;
  grpc::Status st = client.stub().SubmitResult(client.Context().get(), req, &preview);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (!ctx.global.json) {
    ctx.out.out() << "These results will be sent to the MedPerf server:\n";
    PrintKeyValues(ctx.out.out(), ParseJsonOrString(preview.metrics_json()), 2);
    ctx.out.out() << "  partial: " << Bool(preview.partial()) << "\n";
  }
  if (!Confirm(ctx, absl::StrCat("Submit result ", *uid, "?"))) {
    ctx.out.err() << "Result not submitted.\n";
    return 1;
  }
  req.set_dry_run(false);
  v1::Result resp;
  st = client.stub().SubmitResult(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ResultJson(resp).dump(2) << "\n";
  } else {
    ctx.out.out() << "Result " << *uid << " submitted (server execution " << resp.server_id()
                  << ").\n";
  }
  return 0;
}

int JobWatch(CommandContext& ctx) {
  auto id = ctx.args.PositionalId(0, "job id");
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::GetJobRequest req;
  req.set_id(*id);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::WatchJob, req, &result)) return rc;
  ctx.out.out() << result.dump(2) << "\n";
  return 0;
}

int JobAct(CommandContext& ctx, bool cancel) {
  auto id = ctx.args.PositionalId(0, "job id");
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::GetJobRequest req;
  req.set_id(*id);
  v1::Job resp;
  grpc::Status st = cancel ? client.stub().CancelJob(client.Context().get(), req, &resp)
                           : client.stub().RetryJob(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ToJson(resp) << "\n";
  } else if (cancel) {
    ctx.out.out() << "Job " << *id << " is being cancelled.\n";
  } else {
    ctx.out.out() << "Job " << *id << " queued again as job " << resp.id() << ".\n";
  }
  return 0;
}

const std::vector<FlagSpec> kListFlags = {{"mine", {}, false, false, "only your own"},
                                          {"name", {}, true, false, "exact name"},
                                          {"owner", {}, true, false, "owner's user id"},
                                          {"state", {}, true, false, "DEVELOPMENT or OPERATION"}};

}  // namespace

std::vector<Command> DataOwnerCommands() {
  return {
      {{"benchmark", "ls"},
       "List benchmarks on the server",
       kListFlags,
       [](CommandContext& c) {
         return ListEntities(c, &v1::Control::Stub::ListBenchmarks,
                             {{"UID", "id"},
                              {"Name", "name"},
                              {"Description", "description"},
                              {"Data Preparation Container", "data_preparation_mlcube"},
                              {"Reference Model", "reference_model"},
                              {"State", "state"},
                              {"Approval Status", "approval_status"}});
       }},
      {{"benchmark", "view"},
       "Show a benchmark",
       {},
       [](CommandContext& c) {
         return ViewEntity(c, &v1::Control::Stub::GetBenchmark, "benchmark");
       },
       1,
       "<benchmark id>"},
      {{"benchmark", "run"},
       "Run every approved model of a benchmark on a prepared, operational dataset",
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
        {"data_uid", {"d", "dataset"}, true, true, "dataset id"},
        {"models", {"m"}, true, false, "only these model ids, comma-separated"},
        {"ignore_model_errors", {}, false, false, "evaluate partial predictions of failing models"},
        {"no_cache", {}, false, false, "run again even where a local result exists"}},
       BenchmarkRun},
      {{"dataset", "ls"},
       "List datasets on the server (--mine: yours, with their local preparation status)",
       kListFlags,
       [](CommandContext& c) {
         return ListEntities(c, &v1::Control::Stub::ListDatasets,
                             {{"UID", "id"},
                              {"Name", "name"},
                              {"Data Preparation Container UID", "data_preparation_mlcube"},
                              {"State", "state"},
                              {"Local", "local_status"},
                              {"Owner", "owner"}});
       }},
      {{"dataset", "view"},
       "Show a dataset",
       {},
       [](CommandContext& c) { return ViewEntity(c, &v1::Control::Stub::GetDataset, "dataset"); },
       1,
       "<dataset id>"},
      {{"dataset", "submit"},
       "Register a dataset: only its hash and description go to the server",
       {{"name", {"n"}, true, true, "a name for the dataset"},
        {"description", {}, true, false, "a short description"},
        {"location", {}, true, false, "where the data comes from, e.g. the hospital"},
        {"data_path", {"d"}, true, true, "folder of the raw data records"},
        {"labels_path", {"l"}, true, true, "folder of the raw labels"},
        {"benchmark", {"b"}, true, false, "benchmark whose preparator will prepare the data"},
        {"data_preparation_container",
         {"p", "data_preparation_mlcube"},
         true,
         false,
         "data preparation container id, instead of --benchmark"}},
       DatasetSubmit},
      {{"dataset", "prepare"},
       "Prepare a registered dataset with its benchmark's data preparator",
       {{"data_uid", {"d"}, true, true, "dataset id"}},
       DatasetPrepare},
      {{"dataset", "set_operational"},
       "Send the prepared data's hash and statistics and mark the dataset operational",
       {{"data_uid", {"d"}, true, true, "dataset id"}},
       DatasetSetOperational},
      {{"dataset", "associate"},
       "Test the benchmark's reference model on the dataset, then request association",
       {{"data_uid", {"d"}, true, true, "dataset id"},
        {"benchmark_uid", {"b", "benchmark"}, true, true, "benchmark id"},
        {"no_cache", {}, false, false, "run the compatibility test again"}},
       DatasetAssociate},
      {{"association", "ls"},
       "List your association requests (latest per pair)",
       {{"benchmark", {"b"}, true, false, "only this benchmark"},
        {"datasets", {"d"}, false, false, "only dataset associations"},
        {"models", {"m"}, false, false, "only model associations"},
        {"pending", {}, false, false, "only pending requests"},
        {"approval_status", {}, true, false, "pending, approved or rejected"}},
       AssociationList},
      {{"association", "approve"},
       "Approve an association request (as the party that did not initiate it)",
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
        {"dataset_uid", {"d"}, true, false, "dataset id"},
        {"model_uid", {"m"}, true, false, "model id"}},
       [](CommandContext& c) { return AssociationDecide(c, true); }},
      {{"association", "reject"},
       "Reject an association request",
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
        {"dataset_uid", {"d"}, true, false, "dataset id"},
        {"model_uid", {"m"}, true, false, "model id"}},
       [](CommandContext& c) { return AssociationDecide(c, false); }},
      {{"association", "set_priority"},
       "Set a model's priority in a benchmark (benchmark owner)",
       {{"benchmark", {"b"}, true, true, "benchmark id"},
        {"model_uid", {"m"}, true, true, "model id"},
        {"priority", {"p"}, true, true, "an integer; higher runs first"}},
       AssociationPriority},
      {{"result", "ls"},
       "List local results",
       {{"benchmark", {"b"}, true, false, "only this benchmark"},
        {"model", {"m"}, true, false, "only this model"},
        {"dataset", {"d"}, true, false, "only this dataset"}},
       ResultList},
      {{"result", "view"}, "Show a local result", {}, ResultView, 1, "<result uid, e.g. b1m4d1>"},
      {{"result", "submit"},
       "Send a local result's metrics to the server",
       {{"result", {"r"}, true, false, "result uid, e.g. b1m4d1"}},
       ResultSubmit,
       1,
       "[<result uid>]"},
      {{"job", "watch"}, "Follow a job until it ends", {}, JobWatch, 1, "<job id>"},
      {{"job", "cancel"},
       "Cancel a queued or running job",
       {},
       [](CommandContext& c) { return JobAct(c, true); },
       1,
       "<job id>"},
      {{"job", "retry"},
       "Queue a failed model run again",
       {},
       [](CommandContext& c) { return JobAct(c, false); },
       1,
       "<job id>"},
  };
}

}  // namespace medperf::ctl
