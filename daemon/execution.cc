#include "daemon/execution.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/errors.h"
#include "core/hashing.h"
#include "core/rest_client.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"
#include "daemon/associations.h"
#include "daemon/container_policy.h"
#include "daemon/gpu_pool.h"
#include "daemon/log.h"
#include "daemon/poller.h"
#include "daemon/recovery.h"
#include "runners/output_check.h"
#include "runners/runner.h"  // DescribeBytes

namespace medperf::daemon {
namespace fs = std::filesystem;
using Json = nlohmann::json;

absl::Status ResetDir(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  return absl::OkStatus();
}

namespace {

// Server reports are informative; a failure to send one must not fail the work.
template <typename F>
void BestEffort(const char* what, F&& send) {
  absl::Status st = send();
  if (!st.ok())
    LogWarning(absl::StrCat("could not send ", what), {{"error", std::string(st.message())}});
}

}  // namespace

const std::set<std::string>& TaskOutputs(const std::string& task) {
  // The outputs of each MedPerf task (cli/medperf/entities/cube.py and the commands
  // that run them in mlcommons/medperf); every other volume is an input.
  static const std::map<std::string, std::set<std::string>> outputs = {
      {"prepare", {"output_path", "output_labels_path", "metadata_path", "report_file"}},
      {"sanity_check", {}},
      {"statistics", {"output_path"}},
      {"infer", {"output_path"}},
      {"evaluate", {"output_path", "local_outputs_path"}},
  };
  static const std::set<std::string> none;
  auto it = outputs.find(task);
  return it == outputs.end() ? none : it->second;
}

namespace {

// A task that failed on a (nearly) full state directory most likely failed because of it:
// below this many free bytes the failure is reported as out of space.
constexpr uint64_t kFullDiskBytes = uint64_t{16} << 20;

// After a task failed: when the state directory's filesystem is full, removes the task's
// partial outputs (they are what filled it, and nothing can use them), gives back the
// database reserve if still needed, and returns RESOURCE_EXHAUSTED saying so; OK when
// the disk was not full (the failure is the task's own).
absl::Status RecoverFromFullDisk(Site& site, const std::string& task,
                                 const LocalContainer& container,
                                 const std::vector<fs::path>& outputs, const fs::path& log_file) {
  absl::StatusOr<uint64_t> free = FreeBytes(site.state_dir());
  if (!free.ok() || *free >= kFullDiskBytes) return absl::OkStatus();
  std::error_code ec;
  for (const fs::path& out : outputs) fs::remove_all(out, ec);
  site.reserve().ReleaseIfLow(kFullDiskBytes);
  absl::StatusOr<uint64_t> after = FreeBytes(site.state_dir());
  // The log lives on the same full filesystem: it may have stayed empty, and is then
  // not worth pointing to; the note goes in now that there is room again.
  const bool log_written = fs::file_size(log_file, ec) > 0 && !ec;
  const std::string note =
      absl::StrCat("ran out of disk space: the state directory ", site.state_dir().string(),
                   " had ", DescribeBytes(*free), " free when it failed");
  std::ofstream(log_file, std::ios::app) << "[medperf] " << task << " " << note << "\n";
  return absl::ResourceExhaustedError(absl::StrCat(
      task, " of ", container.name, " ", note, "; its partial outputs were removed (now ",
      DescribeBytes(after.ok() ? *after : 0),
      " free). Free space on that filesystem and run the command again",
      log_written ? absl::StrCat("; see the task's log: ", log_file.string())
                  : std::string(" (the task's log stayed empty: the disk was already full)")));
}

// A warning about a task the user must see: in the job's progress (streamed to
// medperfctl), in the task's own log, and in the daemon's log.
// A line for the user (progress) that the task's own log keeps too, above the task's
// output: the log is what people read when a task failed.
void Note(JobContext& job, const std::string& task, const fs::path& log_file,
          const std::string& message) {
  job.Progress(task, message, log_file.string());
  std::error_code ec;
  fs::create_directories(log_file.parent_path(), ec);
  std::ofstream(log_file, std::ios::app) << "[medperf] " << message << "\n";
}

void Warn(JobContext& job, const std::string& task, const fs::path& log_file,
          const std::string& message) {
  Note(job, task, log_file, message);
  LogWarning(message, {{"job", absl::StrCat(job.id().value())}, {"task", task}});
}

}  // namespace

absl::Status RunContainerTask(Site& site, JobContext& job, const LocalContainer& container,
                              const std::string& task, std::map<std::string, fs::path> mounts,
                              const fs::path& log_file) {
  const TaskSpec* spec = container.config.FindTask(task);
  if (!spec) {
    return absl::InvalidArgumentError(
        absl::StrCat("container ", container.name, " has no '", task, "' task"));
  }
  if (spec->FindVolume("parameters_file") && !mounts.count("parameters_file")) {
    if (container.parameters_file.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", container.name, ": task '", task,
                       "' declares parameters_file but the container has no parameters"));
    }
    mounts["parameters_file"] = container.parameters_file;
  }
  if (spec->FindVolume("additional_files") && !mounts.count("additional_files")) {
    // A container without additional files still gets the folder it declares: an
    // empty one, mounted read-only like every input.
    mounts["additional_files"] =
        container.additional_files.empty() ? site.EmptyDir() : container.additional_files;
    // Model weights usually live there: an empty folder is why a model then fails with
    // its own traceback, so say where we looked before it runs.
    if (std::error_code dir_ec; fs::is_empty(mounts["additional_files"], dir_ec) || dir_ec) {
      Warn(job, task, log_file,
           absl::StrCat("warning: ", task, " of ", container.name,
                        " declares additional_files but gets an empty folder (",
                        container.additional_files_origin.empty()
                            ? std::string("no additional files")
                            : container.additional_files_origin,
                        ")"));
    }
  }
  RETURN_IF_ERROR(site.CheckFreeSpace(absl::StrCat(task, " of ", container.name)));
  std::error_code ec;
  fs::create_directories(log_file.parent_path(), ec);

  TaskRun run;
  run.task = task;
  run.outputs_decided = true;
  std::vector<fs::path> output_paths;
  for (const std::string& name : TaskOutputs(task)) {
    auto it = mounts.find(name);
    if (it == mounts.end()) continue;
    run.outputs.insert(name);
    // Every output is fresh: nothing a previous task left there is inherited.
    fs::remove_all(it->second, ec);
    if (spec->FindVolume(name) && spec->FindVolume(name)->type == VolumeType::kFile) {
      fs::create_directories(it->second.parent_path(), ec);
    } else {
      fs::create_directories(it->second, ec);
    }
    output_paths.push_back(it->second);
  }
  run.mounts = std::move(mounts);
  run.log_file = log_file;
  // Every line is in the log file already; the job streams a bounded share of them.
  run.on_output = [&job, &task, log = log_file.string()](std::string_view line) {
    job.Output(task, line, log);
  };
  // The fetched, hash-checked copy of an image archive, not the config's `image`.
  run.image_file = container.image_file;
  run.cancel = job.cancel_flag();
  auto limits = site.config().limits.find(task);
  run.limits = limits != site.config().limits.end() ? limits->second : DefaultTaskLimits(task);
  ASSIGN_OR_RETURN(std::unique_ptr<Runner> runner, site.RunnerFor(container));
  // GPUs go to the task kinds the site lists (policy.gpu_tasks, default infer) and to
  // tasks whose container asks (run_args.gpus); the devices come from the site's pool,
  // held until this function returns, whatever the outcome (daemon/gpu_pool.h).
  GpuPool::Lease gpus;
  const bool wants_gpus = site.config().policy.gpu_tasks.count(task) > 0 || !spec->gpus.empty();
  if (wants_gpus && runner->name() == "sandbox") {
    std::string asked = site.gpus().enabled() ? site.config().policy.gpus : spec->gpus;
    if (!asked.empty()) {
      Warn(job, task, log_file,
           absl::StrCat("warning: the sandbox has no GPU support; the GPU request (gpus: ", asked,
                        ") of ", task, " of ", container.name,
                        " is ignored and it runs on CPU. Run GPU models with the docker or "
                        "apptainer runner (runner in medperfd's config)"));
    }
  } else if (wants_gpus) {
    ASSIGN_OR_RETURN(gpus, site.gpus().Acquire(job.cancel_flag(), [&](const std::string& busy) {
      job.Progress(task,
                   absl::StrCat("waiting for a free GPU for ", task, " of ", container.name,
                                " (devices in use by other tasks: ", busy, ")"),
                   log_file.string());
    }));
    run.gpus = gpus.gpus();
    std::string granted = !run.gpus.empty() ? run.gpus : spec->gpus;
    if (!granted.empty()) {
      job.Progress(task, absl::StrCat("GPUs for ", task, ": ", granted), log_file.string());
    }
  }
  job.Progress(task,
               absl::StrCat("running ", task, " of ", container.name, " (", runner->name(), ")"),
               log_file.string());
  Note(job, task, log_file, absl::StrCat("runner ", site.RunnerChoice(container)));
  absl::StatusOr<TaskOutcome> ran = runner->Run(container.config, run);
  job.EndOutput(task, log_file.string());
  if (!ran.ok()) {
    // The runner's own set-up (the sandbox's /etc, an unpacked image) may hit a full disk.
    RETURN_IF_ERROR(RecoverFromFullDisk(site, task, container, output_paths, log_file));
    return ran.status();
  }
  const TaskOutcome& outcome = *ran;
  if (outcome.cancelled || job.cancelled()) {
    return absl::CancelledError(absl::StrCat(task, " of ", container.name, " was cancelled"));
  }
  if (!outcome.ok()) {
    if (absl::Status full = RecoverFromFullDisk(site, task, container, output_paths, log_file);
        !full.ok()) {
      return full;
    }
    ErrorInfo info;
    info.error_class = ErrorClass::kContainerFailed;
    info.object = absl::StrCat(task, " of ", container.name);
    info.object_kind = "container";
    info.reason = outcome.Describe();
    info.log_path = log_file.string();
    return WithErrorInfo(
        absl::AbortedError(absl::StrCat(task, " of ", container.name, " ", outcome.Describe(),
                                        "; see its log: ", log_file.string())),
        info);
  }
  // Outputs are untrusted: no links, devices or pipes, within the size cap, before any
  // host code reads or hashes them.
  absl::Status outputs_ok = ValidateTaskOutputs(
      output_paths, OutputLimits{.max_total_bytes = run.limits.output_bytes}, job.cancel_flag());
  if (!outputs_ok.ok()) {
    bool too_big = absl::IsResourceExhausted(outputs_ok);
    return absl::Status(
        outputs_ok.code(),
        absl::StrCat(
            task, " of ", container.name,
            too_big ? " hit its output limit: " : " left unsafe outputs: ", outputs_ok.message(),
            too_big ? absl::StrCat(" (limits.", task,
                                   ".output; raise it in medperfd's config if the task "
                                   "needs more)")
                    : std::string()));
  }
  job.Progress(task, absl::StrCat(task, " finished in ", outcome.duration.count(), " ms"),
               log_file.string());
  return absl::OkStatus();
}

absl::StatusOr<Json> ReadYamlMapping(const fs::path& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) {
    return absl::NotFoundError(absl::StrCat(what, " was not written: ", path.string()));
  }
  // A task wrote it: the one bounded reader (size, depth, alias expansion; no links).
  ASSIGN_OR_RETURN(Json j, ReadYamlFileBounded(path, what, DocumentLimits{}));
  if (!j.is_object() || j.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path.string(), " must be a non-empty YAML mapping"));
  }
  // `.nan`, `.inf` and `-.inf` become the strings the MedPerf client sends ("nan",
  // "Infinity", "-Infinity"): stored, shown and submitted faithfully, where JSON would
  // turn all three into null.
  return SanitizeJson(j);
}

absl::StatusOr<PreparedData> PrepareData(Site& site, JobContext& job, const LocalContainer& prep,
                                         const fs::path& raw_data, const fs::path& raw_labels,
                                         const fs::path& out_dir, const fs::path& log_dir) {
  PreparedData out;
  out.data = out_dir / "data";
  out.labels = out_dir / "labels";
  fs::path ready = out_dir / ".ready";
  std::error_code ec;
  if (!fs::exists(ready, ec)) {
    RETURN_IF_ERROR(ResetDir(out.data));
    RETURN_IF_ERROR(ResetDir(out.labels));
    RETURN_IF_ERROR(RunContainerTask(site, job, prep, "prepare",
                                     {{"data_path", raw_data},
                                      {"labels_path", raw_labels},
                                      {"output_path", out.data},
                                      {"output_labels_path", out.labels},
                                      {"metadata_path", out_dir / "metadata"},
                                      {"report_file", out_dir / "report.yaml"}},
                                     log_dir / "prepare.log"));
  } else {
    job.Progress("prepare", "already prepared; running the checks again");
  }
  absl::Status sanity = RunContainerTask(site, job, prep, "sanity_check",
                                         {{"data_path", out.data},
                                          {"labels_path", out.labels},
                                          {"metadata_path", out_dir / "metadata"}},
                                         log_dir / "sanity_check.log");
  if (!sanity.ok()) {
    fs::remove(ready, ec);
    return absl::Status(sanity.code(), absl::StrCat("the sanity check failed: ", sanity.message()));
  }
  fs::path stats_file = out_dir / "statistics.yaml";
  fs::remove(stats_file, ec);
  RETURN_IF_ERROR(RunContainerTask(site, job, prep, "statistics",
                                   {{"data_path", out.data},
                                    {"labels_path", out.labels},
                                    {"metadata_path", out_dir / "metadata"},
                                    {"output_path", stats_file}},
                                   log_dir / "statistics.log"));
  ASSIGN_OR_RETURN(out.statistics, ReadYamlMapping(stats_file, "the statistics file"));
  // Written by the preparator: never follow a link out of it, and let cancel stop it.
  ASSIGN_OR_RETURN(out.generated_uid,
                   FoldersHash({out.data, out.labels},
                               HashOptions{.untrusted = true, .cancel = job.cancel_flag()}));
  std::ofstream(ready).put('\n');
  job.Progress("statistics", absl::StrCat("prepared data hash ", out.generated_uid));
  return out;
}

absl::StatusOr<Evaluation> EvaluateModel(Site& site, JobContext& job, const LocalContainer& model,
                                         const LocalContainer& evaluator, const fs::path& data,
                                         const fs::path& labels, const fs::path& work_dir,
                                         bool ignore_model_errors,
                                         const ExecutionReporter& report) {
  Evaluation ev;
  ev.log_dir = work_dir / "logs";
  fs::path predictions = work_dir / "predictions";
  RETURN_IF_ERROR(ResetDir(predictions));
  report("model_report", "pending");
  report("evaluation_report", "pending");
  report("model_report", "started");
  absl::Status infer = RunContainerTask(site, job, model, "infer",
                                        {{"data_path", data}, {"output_path", predictions}},
                                        ev.log_dir / "model.log");
  if (absl::IsCancelled(infer)) {
    report("model_report", "interrupted");
    return infer;
  }
  if (!infer.ok()) {
    report("model_report", "failed");
    if (!ignore_model_errors) return infer;
    ev.partial = true;
    ev.model_error = std::string(infer.message());
    job.Progress("infer",
                 absl::StrCat("model failed, evaluating partial predictions: ", infer.message()));
  } else {
    report("model_report", "finished");
  }
  job.SetState(storage::JobState::kEvaluating);
  fs::path results = work_dir / "results.yaml";
  std::error_code ec;
  fs::remove(results, ec);
  report("evaluation_report", "started");
  absl::Status evaluate =
      RunContainerTask(site, job, evaluator, "evaluate",
                       {{"predictions", predictions},
                        {"labels", labels},
                        {"output_path", results},
                        {"local_outputs_path", work_dir / "local_outputs"}},
                       ev.log_dir / absl::StrCat("metrics_", evaluator.name, ".log"));
  if (!evaluate.ok()) {
    report("evaluation_report", absl::IsCancelled(evaluate) ? "interrupted" : "failed");
    return evaluate;
  }
  // As the MedPerf client: the step finished; an unreadable results file fails the run
  // afterwards without changing the report.
  report("evaluation_report", "finished");
  ASSIGN_OR_RETURN(ev.metrics, ReadYamlMapping(results, "the metrics results file"));
  return ev;
}

namespace {

// The server execution for the triple: the one this job created before (saved in its
// params), else an unfinalized one of ours, else a new one.
absl::StatusOr<ResultId> EnsureExecution(RestClient& server, JobContext& job,
                                         const LocalResultUid& uid) {
  Json params = job.params();
  if (params.contains("execution_id") && params["execution_id"].is_number_integer()) {
    return ResultId(params["execution_id"].get<int64_t>());
  }
  ASSIGN_OR_RETURN(std::vector<Result> mine, server.ListMyResults());
  const Result* latest = nullptr;
  for (const Result& r : mine) {
    if (r.benchmark == uid.benchmark() && r.model == uid.model() && r.dataset == uid.dataset() &&
        (!latest || r.created_at > latest->created_at)) {
      latest = &r;
    }
  }
  ResultId id;
  if (latest && !latest->finalized) {
    id = latest->id;
  } else {
    Result fresh;
    fresh.name = uid.str();
    fresh.benchmark = uid.benchmark();
    fresh.model = uid.model();
    fresh.dataset = uid.dataset();
    ASSIGN_OR_RETURN(Result created, server.CreateResult(fresh));
    id = created.id;
  }
  job.SaveParam("execution_id", id.value());
  return id;
}

// --- Submission policy `auto` (docs/daemon.md) ---
// After a result is stored, a benchmark the site pre-approved gets it submitted at once.
// Only complete results go: a failed or partial one waits for a person. A failure to
// submit does not fail the job (the result is safe locally; `result submit` still works).
// Idempotent across crashes: an execution the server already finalized counts as ours.
void AutoSubmitIfAllowed(Site& site, RestClient& server, const LocalResultUid& uid) {
  if (!AutoSubmits(site.config().policy, uid.benchmark())) return;
  absl::StatusOr<storage::ResultRecord> result = site.store().GetResult(uid);
  if (!result.ok() || result->status != "executed" || result->partial || result->submitted_at ||
      !result->server_id) {
    return;
  }
  Json metrics = Json::parse(result->metrics_json, nullptr, false);
  absl::StatusOr<Result> submitted = server.SubmitResult(*result->server_id, metrics, false);
  if (!submitted.ok()) {
    absl::StatusOr<Result> remote = server.GetResult(*result->server_id);
    if (!remote.ok() || !remote->finalized) {
      std::string error(submitted.status().message());
      site.events()
          .Publish(
              "result.submit_failed",
              absl::StrCat("automatic submission of ", uid.str(), " failed: ", error,
                           "; submit it with medperfctl result submit ", uid.str()),
              {{"uid", uid.str()}, {"execution", result->server_id->value()}, {"error", error}})
          .IgnoreError();
      return;
    }
  }
  result->submitted_at = storage::NowTimestamp();
  if (absl::Status st = site.store().PutResult(*result); !st.ok()) {
    LogWarning("cannot record an automatic submission",
               {{"uid", uid.str()}, {"error", std::string(st.message())}});
    return;
  }
  site.events()
      .Publish("result.submitted",
               absl::StrCat("result ", uid.str(), " submitted automatically as execution ",
                            result->server_id->value(), " (submission policy auto)"),
               {{"uid", uid.str()}, {"execution", result->server_id->value()}, {"auto", true}})
      .IgnoreError();
}

void Report(RestClient& server, ResultId id, const char* field, const char* status) {
  BestEffort(field, [&]() -> absl::Status {
    return server.UpdateResult(id, {{field, {{"execution_status", status}}}}).status();
  });
}

}  // namespace

absl::StatusOr<Json> ExecuteRunJob(Site& site, JobContext& job) {
  const storage::JobRecord& record = job.record();
  if (!record.benchmark || !record.model || !record.dataset) {
    return absl::InvalidArgumentError("run job without benchmark, model and dataset");
  }
  LocalResultUid uid(*record.benchmark, *record.model, *record.dataset);
  Json params = job.params();
  bool ignore_model_errors = params.value("ignore_model_errors", false);

  // A job interrupted after storing its result (crash between the two writes) is done.
  if (auto existing = site.store().GetResult(uid); existing.ok() &&
                                                   existing->status == "executed" &&
                                                   existing->updated_at >= record.created_at) {
    job.Progress("done", absl::StrCat("result ", uid.str(), " was already stored by this job"));
    // The crash may have come before the automatic submission.
    if (auto server = site.Server(); server.ok()) AutoSubmitIfAllowed(site, *server, uid);
    return Json{{"uid", uid.str()}, {"from_cache", true}};
  }

  // A result this site does not know but the server holds finalized (the site lost its
  // state directory, or a second machine ran it): it is adopted as it is on the server,
  // never run and submitted again. MedPerf's client likewise treats the user's own
  // executions as cached (cli/medperf/commands/execution/create.py).
  if (absl::IsNotFound(site.store().GetResult(uid).status())) {
    ASSIGN_OR_RETURN(RestClient server, site.Server());
    ASSIGN_OR_RETURN(std::vector<Result> mine, server.ListMyResults());
    for (const Result& r : mine) {
      if (r.benchmark != uid.benchmark() || r.model != uid.model() || r.dataset != uid.dataset() ||
          !r.finalized) {
        continue;
      }
      storage::ResultRecord adopted(uid);
      adopted.server_id = r.id;
      adopted.status = "executed";
      adopted.partial = r.metadata.is_object() && r.metadata.value("partial", false);
      adopted.metrics_json = r.results.dump();
      adopted.submitted_at = storage::NowTimestamp();
      RETURN_IF_ERROR(site.store().PutResult(adopted));
      site.events()
          .Publish("result.adopted",
                   absl::StrCat("result ", uid.str(),
                                " was already submitted to the server as "
                                "execution ",
                                r.id.value(), "; recorded here, not run again"),
                   {{"uid", uid.str()}, {"execution", r.id.value()}})
          .IgnoreError();
      job.Progress("done",
                   absl::StrCat("result ", uid.str(), " is already on the server (execution ",
                                r.id.value(), "); not run again"));
      return Json{{"uid", uid.str()}, {"from_server", true}};
    }
  }

  job.SetState(storage::JobState::kFetching);
  ASSIGN_OR_RETURN(storage::DatasetRecord dataset, site.store().GetDataset(uid.dataset()));
  if (dataset.prep_status != "prepared") {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", dataset.id.value(),
                     " is not prepared; run `medperfctl dataset prepare "
                     "--data_uid ",
                     dataset.id.value(), "` first"));
  }
  ASSIGN_OR_RETURN(RestClient server, site.Server());
  ASSIGN_OR_RETURN(Benchmark benchmark, server.GetBenchmark(uid.benchmark()));
  RETURN_IF_ERROR(CheckValid(benchmark));
  if (benchmark.data_preparation_mlcube != dataset.prep_container) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", dataset.id.value(), " was prepared with container ",
                     dataset.prep_container.value(), " but benchmark ", benchmark.id.value(),
                     " uses ", benchmark.data_preparation_mlcube.value()));
  }
  // Any model but the reference needs the dataset's approved association (the server
  // refuses the execution otherwise): said before anything is downloaded.
  if (uid.model() != benchmark.reference_model) {
    RETURN_IF_ERROR(RequireApprovedDatasetAssociation(server, uid.dataset(), uid.benchmark()));
  }
  job.Progress("fetch", absl::StrCat("fetching model ", uid.model().value(), " and evaluator ",
                                     benchmark.data_evaluator_mlcube.value()));
  ASSIGN_OR_RETURN(Model model, server.GetModel(uid.model()));
  RETURN_IF_ERROR(CheckValid(model));
  if (!model.container) {
    return absl::FailedPreconditionError(absl::StrCat("model ", model.id.value(), " (", model.name,
                                                      ") is not a container model; only "
                                                      "container models can run here"));
  }
  ASSIGN_OR_RETURN(LocalContainer local_model, site.FetchContainer(*model.container));
  ASSIGN_OR_RETURN(Container evaluator_entity,
                   server.GetContainer(benchmark.data_evaluator_mlcube));
  ASSIGN_OR_RETURN(LocalContainer evaluator, site.FetchContainer(evaluator_entity));
  ASSIGN_OR_RETURN(ResultId execution, EnsureExecution(server, job, uid));

  fs::path dir = site.ResultDir(uid);
  fs::path dataset_dir = site.DatasetDir(dataset.id);
  job.SetState(storage::JobState::kRunning);
  // A kill between the first report and the last leaves a note, so a job that never runs
  // again still gets its `started` reports turned into `interrupted` (daemon/recovery.h).
  RETURN_IF_ERROR(NoteExecutionReporting(site.store(), record.id, execution));
  absl::StatusOr<Evaluation> ev = EvaluateModel(
      site, job, local_model, evaluator, dataset_dir / "data", dataset_dir / "labels", dir,
      ignore_model_errors,
      [&](const char* field, const char* status) { Report(server, execution, field, status); });
  RETURN_IF_ERROR(EndExecutionReporting(site.store(), record.id, execution));

  storage::ResultRecord result(uid);
  if (auto previous = site.store().GetResult(uid); previous.ok()) result = *previous;
  result.server_id = execution;
  result.log_dir = (dir / "logs").string();
  result.submitted_at.reset();
  if (!ev.ok()) {
    if (absl::IsCancelled(ev.status())) return ev.status();
    result.status = "failed";
    result.error = std::string(ev.status().message());
    result.metrics_json = "{}";
    result.partial = false;
    RETURN_IF_ERROR(site.store().PutResult(result));
    site.events()
        .Publish("result.failed",
                 absl::StrCat("running model ", uid.model().value(), " on dataset ",
                              uid.dataset().value(), " failed: ", result.error),
                 {{"uid", uid.str()}, {"error", result.error}, {"log_dir", result.log_dir}})
        .IgnoreError();
    return ev.status();
  }
  result.status = "executed";
  result.error = ev->model_error;
  result.partial = ev->partial;
  result.metrics_json = ev->metrics.dump();
  RETURN_IF_ERROR(site.store().PutResult(result));
  site.events()
      .Publish("result.ready",
               absl::StrCat("result ", uid.str(), " is ready for review: medperfctl result view ",
                            uid.str()),
               {{"uid", uid.str()},
                {"benchmark", uid.benchmark().value()},
                {"model", uid.model().value()},
                {"dataset", uid.dataset().value()},
                {"partial", ev->partial}})
      .IgnoreError();
  AutoSubmitIfAllowed(site, server, uid);
  return Json{{"uid", uid.str()},
              {"metrics", ev->metrics},
              {"partial", ev->partial},
              {"execution_id", execution.value()},
              {"from_cache", false}};
}

}  // namespace medperf::daemon
