// The data owner's flow, step by step as in the MedPerf data-owner tutorial:
// dataset submit → prepare → set_operational → associate → benchmark run → result submit.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "core/tree_walk.h"
#include "daemon/associations.h"
#include "daemon/container_policy.h"
#include "daemon/control_service.h"
#include "daemon/execution.h"

namespace medperf::daemon {
namespace v1 = medperf::v1;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

absl::Status CheckDirectory(const std::string& path, const char* flag) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  fs::path p(path);
  if (p.is_relative()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", path, "' must be absolute"));
  }
  std::error_code ec;
  if (!fs::is_directory(p, ec)) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, " '", path, "' is not a directory on the daemon's machine"));
  }
  return absl::OkStatus();
}

// Waits for a run job, forwarding its progress into the calling job's stream.
absl::StatusOr<storage::JobRecord> FollowRunJob(JobManager& jobs, JobContext& parent, JobId run,
                                                const std::string& label) {
  size_t cursor = 0;
  while (true) {
    std::vector<ProgressUpdate> updates;
    bool finished = false;
    auto record = jobs.Poll(run, &cursor, &updates, &finished, absl::Seconds(1));
    if (!record.ok()) return record.status();
    for (const auto& u : updates) {
      if (!u.final) parent.Progress(u.step, absl::StrCat(label, ": ", u.message), u.log_path);
    }
    if (finished) return record;
    if (parent.cancelled()) {
      return absl::CancelledError(absl::StrCat("stopped waiting for job ", run.value(),
                                               " (it continues; see medperfctl job ls)"));
    }
  }
}

// The local result of the reference model on a dataset: reused if present, else run.
absl::StatusOr<storage::ResultRecord> ReferenceResult(Site& site, JobManager& jobs, JobContext& job,
                                                      const Benchmark& benchmark, DatasetId dataset,
                                                      bool no_cache) {
  LocalResultUid uid(benchmark.id, benchmark.reference_model, dataset);
  if (!no_cache) {
    if (auto cached = site.store().GetResult(uid); cached.ok() && cached->status == "executed") {
      job.Progress("test",
                   absl::StrCat("using the cached result ", uid.str(), " of the reference model"));
      return cached;
    }
  }
  job.Progress("test",
               absl::StrCat("running the reference model ", benchmark.reference_model.value(),
                            " on dataset ", dataset.value()));
  ASSIGN_OR_RETURN(
      JobId run, jobs.EnqueueRun(benchmark.id, benchmark.reference_model, dataset, Json::object()));
  ASSIGN_OR_RETURN(storage::JobRecord done,
                   FollowRunJob(jobs, job, run, absl::StrCat("model ", uid.model().value())));
  if (done.state != storage::JobState::kDone) {
    return absl::AbortedError(
        absl::StrCat("the reference model failed on dataset ", dataset.value(), ": ", done.error));
  }
  return site.store().GetResult(uid);
}

}  // namespace

grpc::Status ControlService::SubmitDataset(grpc::ServerContext* context,
                                           const v1::SubmitDatasetRequest* req,
                                           grpc::ServerWriter<v1::JobProgress>* writer) {
  if (req->name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "--name is required");
  }
  for (auto [path, flag] :
       {std::pair{req->data_path(), "data_path"}, std::pair{req->labels_path(), "labels_path"}}) {
    if (absl::Status st = CheckDirectory(path, flag); !st.ok()) return ToGrpc(st);
  }
  if (absl::Status st = CheckFolderHoldsAFile(req->data_path(), "--data_path"); !st.ok())
    return ToGrpc(st);
  if ((req->benchmark() > 0) == (req->data_preparation_container() > 0)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "give exactly one of --benchmark or --data_preparation_container");
  }
  Site& site = ctx_.site;
  std::string token = CallerToken(context);
  v1::SubmitDatasetRequest r = *req;
  return StartAndStream(
      context, InteractiveJob("submit-dataset", {{"name", r.name()}, {"dry_run", r.dry_run()}}),
      [&site, token, r](JobContext& job) -> absl::StatusOr<Json> {
        ASSIGN_OR_RETURN(RestClient server, site.Server(token));
        ContainerId prep(r.data_preparation_container());
        if (r.benchmark()) {
          ASSIGN_OR_RETURN(Benchmark b, server.GetBenchmark(BenchmarkId(r.benchmark())));
          RETURN_IF_ERROR(CheckValid(b));
          prep = b.data_preparation_mlcube;
        }
        ASSIGN_OR_RETURN(Container prep_container, server.GetContainer(prep));
        RETURN_IF_ERROR(CheckValid(prep_container));
        job.Progress("hash", "hashing the raw data and labels (they stay on this machine)");
        ASSIGN_OR_RETURN(std::string hash,
                         site.FoldersHashCached({r.data_path(), r.labels_path()}));
        Dataset body;
        body.name = r.name();
        body.description = r.description();
        body.location = r.location();
        body.input_data_hash = hash;
        // The real client sends the raw hash as a placeholder until set_operational.
        body.generated_uid = hash;
        body.data_preparation_mlcube = prep;
        if (r.dry_run()) {
          return Json{{"dataset", ToJson(body)},
                      {"note",
                       "your e-mail address becomes visible to the owner of the data "
                       "preparation container"}};
        }
        ASSIGN_OR_RETURN(Dataset created, server.CreateDataset(body));
        storage::DatasetRecord local;
        local.id = created.id;
        local.name = created.name;
        if (r.benchmark()) local.benchmark = BenchmarkId(r.benchmark());
        local.prep_container = prep;
        local.raw_data_path = r.data_path();
        local.raw_labels_path = r.labels_path();
        local.input_data_hash = hash;
        local.server_json = ToFullJson(created).dump();
        RETURN_IF_ERROR(site.store().PutDataset(local));
        site.events()
            .Publish("dataset.registered",
                     absl::StrCat("dataset ", created.id.value(), " (", created.name,
                                  ") registered on the server"),
                     {{"dataset", created.id.value()}, {"input_data_hash", hash}})
            .IgnoreError();
        return Json{{"dataset", ToFullJson(created)}};
      },
      writer);
}

grpc::Status ControlService::PrepareDataset(grpc::ServerContext* context,
                                            const v1::PrepareDatasetRequest* req,
                                            grpc::ServerWriter<v1::JobProgress>* writer) {
  DatasetId id(req->dataset());
  auto local = ctx_.store.GetDataset(id);
  if (!local.ok()) return ToGrpc(local.status());
  Site& site = ctx_.site;
  std::string token = CallerToken(context);
  storage::JobRecord record = InteractiveJob("prepare");
  record.dataset = id;
  return StartAndStream(
      context, record,
      [&site, token, id](JobContext& job) -> absl::StatusOr<Json> {
        ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(id));
        ASSIGN_OR_RETURN(RestClient server, site.Server(token));
        ASSIGN_OR_RETURN(Dataset remote, server.GetDataset(id));
        RETURN_IF_ERROR(CheckValid(remote));
        if (local.benchmark) {
          ASSIGN_OR_RETURN(Benchmark benchmark, server.GetBenchmark(*local.benchmark));
          RETURN_IF_ERROR(CheckValid(benchmark));
        }
        if (remote.state == EntityState::kOperation && local.prep_status == "prepared") {
          return absl::FailedPreconditionError(absl::StrCat(
              "dataset ", id.value(), " is already operational; its preparation is final"));
        }
        ASSIGN_OR_RETURN(Container prep_entity, server.GetContainer(local.prep_container));
        // FetchContainer applies the site's container policy before fetching anything.
        job.Progress("fetch", absl::StrCat("fetching the data preparation container ",
                                           prep_entity.id.value(), " (", prep_entity.name, ")"));
        ASSIGN_OR_RETURN(LocalContainer prep, site.FetchContainer(prep_entity));
        local.prep_status = "preparing";
        RETURN_IF_ERROR(site.store().PutDataset(local));
        auto report = [&](const char* status) {
          server.UpdateDataset(id, {{"report", {{"execution_status", status}}}}).IgnoreError();
        };
        report("started");
        fs::path dir = site.DatasetDir(id);
        absl::StatusOr<PreparedData> prepared = PrepareData(
            site, job, prep, local.raw_data_path, local.raw_labels_path, dir, dir / "logs");
        if (!prepared.ok()) {
          local.prep_status = "failed";
          site.store().PutDataset(local).IgnoreError();
          report(absl::IsCancelled(prepared.status()) ? "interrupted" : "failed");
          return prepared.status();
        }
        local.prep_status = "prepared";
        local.generated_uid = prepared->generated_uid;
        local.statistics_json = prepared->statistics.dump();
        local.server_json = ToFullJson(remote).dump();
        RETURN_IF_ERROR(site.store().PutDataset(local));
        report("finished");
        site.events()
            .Publish("dataset.prepared", absl::StrCat("dataset ", id.value(), " prepared"),
                     {{"dataset", id.value()}, {"generated_uid", prepared->generated_uid}})
            .IgnoreError();
        return Json{{"dataset", id.value()},
                    {"generated_uid", prepared->generated_uid},
                    {"statistics", prepared->statistics},
                    {"logs", (dir / "logs").string()}};
      },
      writer);
}

grpc::Status ControlService::SetDatasetOperational(grpc::ServerContext* context,
                                                   const v1::SetDatasetOperationalRequest* req,
                                                   grpc::ServerWriter<v1::JobProgress>* writer) {
  DatasetId id(req->dataset());
  auto local = ctx_.store.GetDataset(id);
  if (!local.ok()) return ToGrpc(local.status());
  if (local->prep_status != "prepared") {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("dataset ", id.value(), " is not prepared (", local->prep_status,
                     "); run `medperfctl dataset prepare --data_uid ", id.value(), "` first"));
  }
  Site& site = ctx_.site;
  std::string token = CallerToken(context);
  bool dry_run = req->dry_run();
  storage::JobRecord record = InteractiveJob("set-operational", {{"dry_run", dry_run}});
  record.dataset = id;
  return StartAndStream(
      context, record,
      [&site, token, id, dry_run](JobContext& job) -> absl::StatusOr<Json> {
        ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(id));
        job.Progress("hash", "hashing the raw and the prepared data");
        ASSIGN_OR_RETURN(std::string input_hash,
                         site.FoldersHashCached({local.raw_data_path, local.raw_labels_path}));
        fs::path dir = site.DatasetDir(id);
        ASSIGN_OR_RETURN(
            std::string generated_uid,
            site.FoldersHashCached({dir / "data", dir / "labels"}, HashOptions{.untrusted = true}));
        if (generated_uid != local.generated_uid) {
          return absl::DataLossError(absl::StrCat(
              "the prepared data of dataset ", id.value(), " changed since it was prepared (hash ",
              generated_uid, ", expected ", local.generated_uid, "); prepare it again"));
        }
        Json statistics = Json::parse(local.statistics_json, nullptr, false);
        Json body = {{"input_data_hash", input_hash},
                     {"generated_uid", generated_uid},
                     {"generated_metadata", statistics},
                     {"state", "OPERATION"}};
        if (dry_run) return Json{{"dataset", id.value()}, {"update", body}};
        ASSIGN_OR_RETURN(RestClient server, site.Server(token));
        ASSIGN_OR_RETURN(Dataset updated, server.UpdateDataset(id, body));
        local.state = "OPERATION";
        local.input_data_hash = input_hash;
        local.server_json = ToFullJson(updated).dump();
        RETURN_IF_ERROR(site.store().PutDataset(local));
        site.events()
            .Publish("dataset.operational",
                     absl::StrCat("dataset ", id.value(), " is now operational"),
                     {{"dataset", id.value()}})
            .IgnoreError();
        return Json{{"dataset", ToFullJson(updated)}};
      },
      writer);
}

grpc::Status ControlService::AssociateDataset(grpc::ServerContext* context,
                                              const v1::AssociateDatasetRequest* req,
                                              grpc::ServerWriter<v1::JobProgress>* writer) {
  DatasetId dataset(req->dataset());
  auto local = ctx_.store.GetDataset(dataset);
  if (!local.ok()) return ToGrpc(local.status());
  Site& site = ctx_.site;
  JobManager& jobs = ctx_.jobs;
  std::string token = CallerToken(context);
  v1::AssociateDatasetRequest r = *req;
  storage::JobRecord record = InteractiveJob("associate-dataset", {{"dry_run", r.dry_run()}});
  record.dataset = dataset;
  record.benchmark = BenchmarkId(r.benchmark());
  return StartAndStream(
      context, record,
      [&site, &jobs, token, r, dataset](JobContext& job) -> absl::StatusOr<Json> {
        ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(dataset));
        if (local.state != "OPERATION") {
          return absl::FailedPreconditionError(
              absl::StrCat("dataset ", dataset.value(),
                           " is not operational; run `medperfctl dataset "
                           "set_operational --data_uid ",
                           dataset.value(), "` first"));
        }
        ASSIGN_OR_RETURN(RestClient server, site.Server(token));
        ASSIGN_OR_RETURN(Benchmark benchmark, server.GetBenchmark(BenchmarkId(r.benchmark())));
        RETURN_IF_ERROR(CheckValid(benchmark));
        ASSIGN_OR_RETURN(Dataset remote, server.GetDataset(dataset));
        RETURN_IF_ERROR(CheckValid(remote));
        if (benchmark.data_preparation_mlcube != local.prep_container) {
          return absl::FailedPreconditionError(absl::StrCat(
              "dataset ", dataset.value(), " was prepared with container ",
              local.prep_container.value(), ", but benchmark ", benchmark.id.value(),
              " prepares data with container ", benchmark.data_preparation_mlcube.value()));
        }
        Json test_result = Json::object();
        std::string uid;
        if (!benchmark.metadata.value("skip_compatibility_tests", false)) {
          // Checked here too: a cached result of a model marked invalid since is not used.
          ASSIGN_OR_RETURN(Model reference, server.GetModel(benchmark.reference_model));
          RETURN_IF_ERROR(CheckValid(reference));
          if (reference.container) {
            RETURN_IF_ERROR(CheckServerContainer(*reference.container, site.config().sandbox));
          }
          ASSIGN_OR_RETURN(storage::ResultRecord ref,
                           ReferenceResult(site, jobs, job, benchmark, dataset, r.no_cache()));
          test_result = Json::parse(ref.metrics_json, nullptr, false);
          uid = ref.uid.str();
        }
        if (r.dry_run()) return Json{{"test_result", test_result}, {"result_uid", uid}};
        ASSIGN_OR_RETURN(
            BenchmarkDatasetAssociation assoc,
            server.CreateDatasetAssociation(dataset, benchmark.id, {{"test_result", test_result}}));
        site.events()
            .Publish("association.requested",
                     absl::StrCat("association of dataset ", dataset.value(), " with benchmark ",
                                  benchmark.id.value(), " requested (",
                                  std::string(ToString(assoc.approval_status)), ")"),
                     {{"dataset", dataset.value()}, {"benchmark", benchmark.id.value()}})
            .IgnoreError();
        return Json{{"association", ToFullJson(assoc)}, {"test_result", test_result}};
      },
      writer);
}

grpc::Status ControlService::RunBenchmark(grpc::ServerContext* context,
                                          const v1::RunBenchmarkRequest* req,
                                          grpc::ServerWriter<v1::JobProgress>* writer) {
  DatasetId dataset(req->dataset());
  auto local = ctx_.store.GetDataset(dataset);
  if (!local.ok()) return ToGrpc(local.status());
  Site& site = ctx_.site;
  JobManager& jobs = ctx_.jobs;
  std::string token = CallerToken(context);
  v1::RunBenchmarkRequest r = *req;
  storage::JobRecord record = InteractiveJob("benchmark-run");
  record.benchmark = BenchmarkId(r.benchmark());
  record.dataset = dataset;
  return StartAndStream(
      context, record,
      [&site, &jobs, token, r, dataset](JobContext& job) -> absl::StatusOr<Json> {
        ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(dataset));
        if (local.state != "OPERATION") {
          return absl::FailedPreconditionError(
              absl::StrCat("dataset ", dataset.value(), " is not operational yet"));
        }
        ASSIGN_OR_RETURN(RestClient server, site.Server(token));
        BenchmarkId bid(r.benchmark());
        ASSIGN_OR_RETURN(Benchmark benchmark, server.GetBenchmark(bid));
        RETURN_IF_ERROR(CheckValid(benchmark));
        ASSIGN_OR_RETURN(Dataset remote, server.GetDataset(dataset));
        RETURN_IF_ERROR(CheckValid(remote));
        absl::StatusOr<std::vector<BenchmarkModelAssociation>> rows =
            server.ListBenchmarkModels(bid);
        if (absl::IsPermissionDenied(rows.status())) {
          return absl::PermissionDeniedError(
              absl::StrCat("the server does not show benchmark ", bid.value(),
                           "'s models to this site: dataset ", dataset.value(),
                           " has no approved association with it yet (see `medperfctl "
                           "association ls`); server said: ",
                           rows.status().message()));
        }
        if (!rows.ok()) return rows.status();
        // The reference model first (as the tutorial's summary shows it), then the
        // approved models in the order they joined the benchmark.
        std::vector<ModelId> models = {benchmark.reference_model};
        for (ModelId m : ApprovedModels(*rows)) {
          if (m != benchmark.reference_model) models.push_back(m);
        }
        if (r.models_size() > 0) {
          std::vector<ModelId> chosen;
          for (int64_t m : r.models()) {
            if (std::find(models.begin(), models.end(), ModelId(m)) == models.end()) {
              return absl::InvalidArgumentError(absl::StrCat(
                  "model ", m, " is not an approved model of benchmark ", bid.value()));
            }
            chosen.push_back(ModelId(m));
          }
          models = chosen;
        }

        // The site's container policy before anything is queued: without a runnable
        // evaluator no model can be evaluated.
        ASSIGN_OR_RETURN(Container evaluator, server.GetContainer(benchmark.data_evaluator_mlcube));
        RETURN_IF_ERROR(CheckServerContainer(evaluator, site.config().sandbox));

        struct Row {
          ModelId model;
          bool from_cache = false;
          std::optional<JobId> job;
          std::string refused;  // why the site's policy keeps the model from running
        };
        std::vector<Row> plan;
        for (ModelId m : models) {
          // A model the site's container policy refuses (marked invalid on the server, a
          // LocalProcess container not allow-listed) is neither run nor reported from
          // cache; the refusal is its row's error, and the other models go on.
          ASSIGN_OR_RETURN(Model model, server.GetModel(m));
          absl::Status runnable = CheckValid(model);
          if (runnable.ok() && model.container) {
            runnable = CheckServerContainer(*model.container, site.config().sandbox);
          }
          if (!runnable.ok()) {
            job.Progress("plan",
                         absl::StrCat("model ", m.value(), " will not run: ", runnable.message()));
            plan.push_back({m, false, std::nullopt, std::string(runnable.message())});
            continue;
          }
          LocalResultUid uid(bid, m, dataset);
          auto cached = site.store().GetResult(uid);
          if (!r.no_cache() && cached.ok() && cached->status == "executed") {
            plan.push_back({m, true, std::nullopt, ""});
            continue;
          }
          ASSIGN_OR_RETURN(
              JobId id,
              jobs.EnqueueRun(bid, m, dataset, {{"ignore_model_errors", r.ignore_model_errors()}}));
          plan.push_back({m, false, id, ""});
        }
        auto count = [&](auto pred) { return std::count_if(plan.begin(), plan.end(), pred); };
        job.Progress(
            "plan", absl::StrCat(models.size(), " model(s): ",
                                 count([](const Row& p) { return p.from_cache; }), " cached, ",
                                 count([](const Row& p) { return p.job.has_value(); }), " queued, ",
                                 count([](const Row& p) { return !p.refused.empty(); }),
                                 " refused by the site's policy"));
        Json rows_out = Json::array();
        int skipped = 0, skipped_partial = 0, failed = 0, ran = 0, ran_partial = 0;
        for (const Row& p : plan) {
          LocalResultUid uid(bid, p.model, dataset);
          std::string error = p.refused;
          if (p.job) {
            ASSIGN_OR_RETURN(
                storage::JobRecord done,
                FollowRunJob(jobs, job, *p.job, absl::StrCat("model ", p.model.value())));
            if (done.state != storage::JobState::kDone) error = done.error;
          }
          auto result = site.store().GetResult(uid);
          if (!p.refused.empty()) result = absl::NotFoundError("refused");
          bool partial = result.ok() && result->partial;
          if (error.empty() && result.ok() && result->status == "failed") error = result->error;
          if (p.from_cache) {
            ++skipped;
            skipped_partial += partial;
          } else if (!error.empty()) {
            ++failed;
          } else {
            ++ran;
            ran_partial += partial;
          }
          rows_out.push_back({{"model", p.model.value()},
                              {"local_result_uid", uid.str()},
                              {"partial_result", partial},
                              {"from_cache", p.from_cache},
                              {"error", error}});
        }
        return Json{{"benchmark", bid.value()},  {"dataset", dataset.value()},
                    {"rows", rows_out},          {"total", plan.size()},
                    {"skipped", skipped},        {"skipped_partial", skipped_partial},
                    {"failed", failed},          {"ran", ran},
                    {"ran_partial", ran_partial}};
      },
      writer);
}

namespace {

v1::Result ResultProto(const storage::ResultRecord& r) {
  v1::Result out;
  out.set_uid(r.uid.str());
  out.set_benchmark(r.uid.benchmark().value());
  out.set_model(r.uid.model().value());
  out.set_dataset(r.uid.dataset().value());
  out.set_partial(r.partial);
  out.set_metrics_json(r.metrics_json);
  if (r.server_id) out.set_server_id(r.server_id->value());
  out.set_submitted(r.submitted_at.has_value());
  out.set_created_at(r.created_at);
  out.set_error(r.status == "failed" ? r.error : "");
  out.set_log_dir(r.log_dir);
  return out;
}

}  // namespace

grpc::Status ControlService::ListResults(grpc::ServerContext*, const v1::ListResultsRequest* req,
                                         v1::ResultList* resp) {
  storage::ResultFilter filter;
  if (req->benchmark()) filter.benchmark = BenchmarkId(req->benchmark());
  if (req->model()) filter.model = ModelId(req->model());
  if (req->dataset()) filter.dataset = DatasetId(req->dataset());
  auto results = ctx_.store.ListResults(filter);
  if (!results.ok()) return ToGrpc(results.status());
  for (const auto& r : *results) *resp->add_items() = ResultProto(r);
  return grpc::Status::OK;
}

grpc::Status ControlService::GetResult(grpc::ServerContext*, const v1::GetResultRequest* req,
                                       v1::Result* resp) {
  auto uid = LocalResultUid::Parse(req->uid());
  if (!uid.ok()) return ToGrpc(uid.status());
  auto result = ctx_.store.GetResult(*uid);
  if (!result.ok()) return ToGrpc(result.status());
  *resp = ResultProto(*result);
  return grpc::Status::OK;
}

grpc::Status ControlService::SubmitResult(grpc::ServerContext* context,
                                          const v1::SubmitResultRequest* req, v1::Result* resp) {
  auto uid = LocalResultUid::Parse(req->uid());
  if (!uid.ok()) return ToGrpc(uid.status());
  auto result = ctx_.store.GetResult(*uid);
  if (!result.ok()) return ToGrpc(result.status());
  if (result->status != "executed") {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("result ", uid->str(), " failed (", result->error,
                                     "); there is nothing to submit"));
  }
  if (result->submitted_at) {
    return grpc::Status(
        grpc::StatusCode::ALREADY_EXISTS,
        absl::StrCat("result ", uid->str(), " was already submitted at ", *result->submitted_at));
  }
  if (!result->server_id) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("result ", uid->str(), " has no server execution"));
  }
  if (req->dry_run()) {
    *resp = ResultProto(*result);
    return grpc::Status::OK;
  }
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  Json metrics = Json::parse(result->metrics_json, nullptr, false);
  auto submitted = server->SubmitResult(*result->server_id, metrics, result->partial);
  if (!submitted.ok()) return ToGrpc(submitted.status());
  result->submitted_at = storage::NowTimestamp();
  if (auto st = ctx_.store.PutResult(*result); !st.ok()) return ToGrpc(st);
  ctx_.events
      .Publish("result.submitted",
               absl::StrCat("result ", uid->str(), " submitted to the server as execution ",
                            result->server_id->value()),
               {{"uid", uid->str()}, {"execution", result->server_id->value()}})
      .IgnoreError();
  *resp = ResultProto(*result);
  return grpc::Status::OK;
}

}  // namespace medperf::daemon
