#include "daemon/compatibility_check.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/errors.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "daemon/container_policy.h"
#include "daemon/execution.h"
#include "storage/store.h"

namespace medperf::daemon {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// One test folder per key: two identical tests at once (two terminals, a test run beside
// a benchmark submit) would reset and write the same folder under each other. The
// second waits for the first and then finds its report (or, with --no-cache, runs
// afresh in a folder nobody else is using).
class TestFolderLock {
 public:
  TestFolderLock(const std::string& key, JobContext& job) : key_(key) {
    std::unique_lock<std::mutex> lock(mu());
    bool said = false;
    while (busy().contains(key_)) {
      if (!said) {
        job.Progress("test", "an identical test is running; waiting for it to end");
        said = true;
      }
      cv().wait_for(lock, std::chrono::seconds(1));
      if (job.cancelled()) {
        cancelled_ = true;
        return;
      }
    }
    busy().insert(key_);
    held_ = true;
  }
  ~TestFolderLock() {
    if (!held_) return;
    {
      std::lock_guard<std::mutex> lock(mu());
      busy().erase(key_);
    }
    cv().notify_all();
  }
  TestFolderLock(const TestFolderLock&) = delete;
  TestFolderLock& operator=(const TestFolderLock&) = delete;
  bool cancelled() const { return cancelled_; }

 private:
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::condition_variable& cv() {
    static std::condition_variable c;
    return c;
  }
  static std::set<std::string>& busy() {
    static std::set<std::string>* b = new std::set<std::string>;
    return *b;
  }
  std::string key_;
  bool held_ = false;
  bool cancelled_ = false;
};

std::string Describe(const TestContainerSource& s) {
  if (s.container) return absl::StrCat("container ", s.container->value());
  if (s.model) return absl::StrCat("model ", s.model->value());
  return s.local.string();
}

// Everything that decides what a container does, so that a cached report is reused
// only for the very same containers: the parsed config (not its text, so comments and
// key order do not matter), the image hash, the parameters and the additional files.
absl::StatusOr<Json> Fingerprint(const LocalContainer& c) {
  Json tasks = Json::object();
  for (const auto& [name, t] : c.config.tasks) {
    Json volumes = Json::array();
    for (const auto* list : {&t.input_volumes, &t.output_volumes}) {
      for (const Volume& v : *list) {
        volumes.push_back({v.name, v.mount_path, std::string(VolumeTypeName(v.type)),
                           v.default_host_path.string(), list == &t.output_volumes});
      }
    }
    tasks[name] = {{"command", t.command},
                   {"has_command", t.has_command},
                   {"entrypoint", t.entrypoint.value_or("")},
                   {"environment", t.environment},
                   {"gpus", t.gpus},
                   {"shm_size", t.shm_size},
                   {"volumes", volumes}};
  }
  Json out = {{"type", std::string(ContainerTypeName(c.config.type))},
              {"image", c.config.image},
              {"image_hash", c.image_hash},
              {"tasks", tasks},
              {"parameters", ""},
              {"additional_files", ""}};
  if (c.id) out["id"] = c.id->value();
  if (!c.parameters_file.empty()) {
    ASSIGN_OR_RETURN(std::string h, Sha256File(c.parameters_file));
    out["parameters"] = h;
  }
  if (!c.additional_files.empty()) {
    ASSIGN_OR_RETURN(std::string h, FoldersHash({c.additional_files}));
    out["additional_files"] = h;
  }
  return out;
}

// How the report names a container: its server id, or where the local config is.
Json Identity(const LocalContainer& c) {
  if (c.id) return c.id->value();
  return c.config.source.empty() ? c.name : c.config.source;
}

// The last lines of a task's log, so a failure message shows the task's own words.
std::string LogTail(const fs::path& log, size_t lines = 6) {
  std::ifstream in(log);
  if (!in) return "";
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (line.size() > 400) line = line.substr(0, 400) + "...";
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  if (tail.empty()) return "";
  return absl::StrCat("\n--- last lines of ", log.string(), " ---\n", absl::StrJoin(tail, "\n"));
}

absl::Status StageError(const absl::Status& st, const std::string& what, const fs::path& log) {
  if (absl::IsCancelled(st)) return st;
  // Not WithMessage: the stage's own words and its log tail are the message to show,
  // so the container's classification is left behind here on purpose.
  return absl::Status(st.code(), absl::StrCat("compatibility test failed: ", what, ": ",
                                              st.message(), LogTail(log)));
}

absl::Status WriteReport(const fs::path& file, const Json& report) {
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << report.dump(2) << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot write ", file.string(), ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status CheckFolder(const fs::path& p, const char* what) {
  std::error_code ec;
  if (p.is_relative()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", p.string(), "' must be absolute"));
  }
  if (!fs::is_directory(p, ec)) {
    return absl::NotFoundError(
        absl::StrCat(what, " '", p.string(), "' is not a directory on the daemon's machine"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LocalContainer> ResolveTestContainer(Site& site, const MedPerfApi* server,
                                                    JobContext& job,
                                                    const TestContainerSource& source,
                                                    const std::string& role) {
  auto fail = [&](const absl::Status& st) {
    return WithMessage(st, absl::StrCat("the ", role, " (", Describe(source), "): ", st.message()));
  };
  if (source.empty()) return absl::InvalidArgumentError(absl::StrCat("no ", role, " given"));
  if (!source.local.empty()) {
    job.Progress("fetch", absl::StrCat("loading the ", role, " from ", source.local.string()));
    absl::StatusOr<LocalContainer> local = site.LoadLocalContainer(source.local);
    if (!local.ok()) return fail(local.status());
    return local;
  }
  if (!server) return absl::FailedPreconditionError("no MedPerf server to fetch from");
  absl::StatusOr<Container> entity;
  if (source.model) {
    absl::StatusOr<Model> model = server->GetModel(*source.model);
    if (!model.ok()) return fail(model.status());
    if (absl::Status valid = CheckValid(*model); !valid.ok()) return fail(valid);
    if (!model->container) {
      return fail(absl::FailedPreconditionError(
          "it is not a container model; only container models can run here"));
    }
    entity = *model->container;
  } else {
    entity = server->GetContainer(*source.container);
    if (!entity.ok()) return fail(entity.status());
  }
  job.Progress("fetch", absl::StrCat("fetching the ", role, ": container ", entity->id.value(),
                                     " (", entity->name, ")"));
  // FetchContainer applies the site's container policy (validity, LocalProcess allow-list).
  absl::StatusOr<LocalContainer> local = site.FetchContainer(*entity);
  if (!local.ok()) return fail(local.status());
  return local;
}

absl::StatusOr<CompatibilityTestResult> RunCompatibilityTest(Site& site, JobContext& job,
                                                             const CompatibilityTestSpec& spec) {
  bool demo = !spec.demo_url.empty();
  if (demo == !spec.data_path.empty()) {
    return absl::InvalidArgumentError(
        "give exactly one data source: a demo dataset URL, or --data_path with --labels_path");
  }
  CompatibilityTestResult out;
  fs::path raw_data = spec.data_path;
  fs::path raw_labels = spec.labels_path;
  std::string data_identity;
  if (demo) {
    job.Progress("demo", absl::StrCat("fetching the demo dataset ", spec.demo_url,
                                      spec.demo_hash.empty() ? "" : " (verifying its hash)"));
    ASSIGN_OR_RETURN(DemoDataset d, site.assets().FetchDemoDataset(spec.demo_url, spec.demo_hash));
    raw_data = d.data_path;
    raw_labels = d.labels_path;
    out.demo_hash = d.sha256;
    data_identity = d.sha256;
  } else {
    RETURN_IF_ERROR(CheckFolder(raw_data, "--data_path"));
    RETURN_IF_ERROR(CheckFolder(raw_labels, "--labels_path"));
    job.Progress("hash", "hashing the test data");
    ASSIGN_OR_RETURN(data_identity, FoldersHash({raw_data, raw_labels}));
  }

  ASSIGN_OR_RETURN(Json prep_fp, Fingerprint(spec.prep));
  ASSIGN_OR_RETURN(Json model_fp, Fingerprint(spec.model));
  ASSIGN_OR_RETURN(Json eval_fp, Fingerprint(spec.evaluator));
  Json key_doc = {{"data", data_identity},
                  {"data_already_prepared", spec.data_already_prepared},
                  {"data_preparator", prep_fp},
                  {"model", model_fp},
                  {"evaluator", eval_fp}};
  std::string key = Sha256Hex(key_doc.dump());
  TestFolderLock folder_lock(key, job);
  if (folder_lock.cancelled()) return absl::CancelledError("the test was cancelled");
  out.dir = site.state_dir() / "tests" / key;
  out.log_dir = out.dir / "logs";
  fs::path report_file = out.dir / "test_report.json";

  std::error_code ec;
  if (!spec.no_cache && fs::is_regular_file(report_file, ec)) {
    std::ifstream in(report_file);
    Json cached = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (cached.is_object() && cached.contains("results") && cached["results"].is_object()) {
      out.report = cached;
      out.metrics = cached["results"];
      out.prepared_data_hash = cached.value("prepared_data_hash", "");
      out.from_cache = true;
      job.Progress("test", absl::StrCat("reusing the report of an identical earlier test: ",
                                        report_file.string(), " (--no-cache runs it again)"));
      return out;
    }
  }

  RETURN_IF_ERROR(ResetDir(out.dir));
  fs::path data = out.dir / "prepared" / "data";
  fs::path labels = out.dir / "prepared" / "labels";
  if (spec.data_already_prepared) {
    job.Progress("prepare", "the demo data is already prepared; skipping the data preparator");
    data = raw_data;
    labels = raw_labels;
    ASSIGN_OR_RETURN(out.prepared_data_hash, FoldersHash({data, labels}));
  } else {
    job.SetState(storage::JobState::kRunning);
    absl::StatusOr<PreparedData> prepared =
        PrepareData(site, job, spec.prep, raw_data, raw_labels, out.dir / "prepared", out.log_dir);
    if (!prepared.ok()) {
      // PrepareData's messages name the task; point at the log of the step that broke.
      fs::path log = out.log_dir / "prepare.log";
      for (const char* step : {"statistics", "sanity_check"}) {
        if (fs::exists(out.log_dir / absl::StrCat(step, ".log"), ec)) {
          log = out.log_dir / absl::StrCat(step, ".log");
          break;
        }
      }
      return StageError(
          prepared.status(),
          absl::StrCat("the data preparator ", spec.prep.name, " could not prepare the test data"),
          log);
    }
    out.prepared_data_hash = prepared->generated_uid;
  }

  // infer and evaluate are run here rather than through EvaluateModel so that a
  // failure can say which side is at fault.
  fs::path predictions = out.dir / "predictions";
  RETURN_IF_ERROR(ResetDir(predictions));
  fs::path model_log = out.log_dir / "model.log";
  absl::Status infer =
      RunContainerTask(site, job, spec.model, "infer",
                       {{"data_path", data}, {"output_path", predictions}}, model_log);
  if (!infer.ok()) {
    return StageError(infer, absl::StrCat("the model ", spec.model.name, " failed"), model_log);
  }
  job.SetState(storage::JobState::kEvaluating);
  fs::path results = out.dir / "results.yaml";
  fs::path eval_log = out.log_dir / "evaluator.log";
  absl::Status evaluate = RunContainerTask(site, job, spec.evaluator, "evaluate",
                                           {{"predictions", predictions},
                                            {"labels", labels},
                                            {"output_path", results},
                                            {"local_outputs_path", out.dir / "local_outputs"}},
                                           eval_log);
  if (!evaluate.ok()) {
    return StageError(
        evaluate,
        absl::StrCat("the evaluator ", spec.evaluator.name,
                     " could not evaluate the predictions of the model ", spec.model.name,
                     " (is the model's output in the format the benchmark "
                     "expects?)"),
        eval_log);
  }
  absl::StatusOr<Json> metrics = ReadYamlMapping(results, "the evaluator's results file");
  if (!metrics.ok()) {
    return StageError(
        metrics.status(),
        absl::StrCat("the evaluator ", spec.evaluator.name, " wrote no usable results"), eval_log);
  }
  out.metrics = *metrics;
  // The fields of the MedPerf client's TestReport.
  out.report = {{"demo_dataset_url", spec.demo_url},
                {"demo_dataset_hash", out.demo_hash},
                {"data_path", spec.data_path.string()},
                {"labels_path", spec.labels_path.string()},
                {"prepared_data_hash", out.prepared_data_hash},
                {"data_preparation_mlcube", Identity(spec.prep)},
                {"model", Identity(spec.model)},
                {"data_evaluator_mlcube", Identity(spec.evaluator)},
                {"results", out.metrics},
                {"created_at", storage::NowTimestamp()}};
  RETURN_IF_ERROR(WriteReport(report_file, out.report));
  job.Progress("test", absl::StrCat("compatibility test passed; report: ", report_file.string()));
  return out;
}

}  // namespace medperf::daemon
