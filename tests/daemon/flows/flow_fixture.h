// A site for the flows' unit tests: real store, events, jobs and asset cache in a temp
// dir; a fake MedPerf server (entities in maps, every write recorded) and a fake
// runner (each task writes the outputs a MedPerf container would, or fails on demand).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/rest_client.h"
#include "core/status_macros.h"
#include "daemon/events.h"
#include "daemon/flows/flow_context.h"
#include "daemon/jobs.h"
#include "daemon/site.h"
#include "storage/store.h"
#include "tests/support/test_support.h"

namespace medperf::daemon::flows {

using Json = nlohmann::json;

// The MedPerf server as the flows see it. Reads answer from the maps (NOT_FOUND
// otherwise); writes are recorded and answered like the real server (ids assigned).
// Setting an `*_error` makes that call fail with it.
class FakeServer final : public MedPerfApi {
 public:
  // Created entities are added too (mutable: the API's methods are const).
  mutable std::map<int64_t, Benchmark> benchmarks;
  mutable std::map<int64_t, Container> containers;
  mutable std::map<int64_t, Model> models;
  std::map<int64_t, Dataset> datasets;
  std::map<int64_t, std::vector<BenchmarkModelAssociation>> benchmark_models;

  absl::Status create_error;  // every Create*, and SubmitResult
  absl::Status list_models_error;

  // What the flows sent.
  mutable std::vector<Dataset> created_datasets;
  mutable std::vector<std::pair<int64_t, Json>> dataset_updates;
  mutable std::vector<BenchmarkDatasetAssociation> dataset_associations;
  mutable std::vector<BenchmarkModelAssociation> model_associations;
  mutable std::vector<Container> created_containers;
  mutable std::vector<Model> created_models;
  mutable std::vector<Benchmark> created_benchmarks;
  mutable std::vector<std::pair<int64_t, Json>> submitted_results;
  mutable int calls = 0;

  template <typename T>
  static absl::StatusOr<T> Find(const std::map<int64_t, T>& m, int64_t id, const char* what) {
    auto it = m.find(id);
    if (it == m.end()) return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
    return it->second;
  }

  absl::StatusOr<Benchmark> GetBenchmark(BenchmarkId id) const override {
    ++calls;
    return Find(benchmarks, id.value(), "benchmark");
  }
  absl::StatusOr<Benchmark> CreateBenchmark(const Benchmark& b) const override {
    ++calls;
    if (!create_error.ok()) return create_error;
    Benchmark out = b;
    out.id = BenchmarkId(100 + static_cast<int64_t>(created_benchmarks.size()));
    created_benchmarks.push_back(b);
    benchmarks[out.id.value()] = out;
    return out;
  }
  // "Mine" is everything here: the fake has one user.
  absl::StatusOr<std::vector<Benchmark>> ListBenchmarks(const QueryParams& filters) const override {
    ++calls;
    std::vector<Benchmark> out;
    for (const auto& [id, b] : benchmarks) {
      bool keep = true;
      for (const auto& [k, v] : filters) keep = keep && (k != "name" || b.name == v);
      if (keep) out.push_back(b);
    }
    return out;
  }
  absl::StatusOr<std::vector<Benchmark>> ListMyBenchmarks() const override {
    return ListBenchmarks({});
  }
  absl::StatusOr<std::vector<BenchmarkModelAssociation>> ListBenchmarkModels(
      BenchmarkId id) const override {
    ++calls;
    if (!list_models_error.ok()) return list_models_error;
    auto it = benchmark_models.find(id.value());
    return it == benchmark_models.end() ? std::vector<BenchmarkModelAssociation>{} : it->second;
  }
  absl::StatusOr<Container> GetContainer(ContainerId id) const override {
    ++calls;
    return Find(containers, id.value(), "container");
  }
  absl::StatusOr<Container> CreateContainer(const Container& c) const override {
    ++calls;
    if (!create_error.ok()) return create_error;
    Container out = c;
    out.id = ContainerId(200 + static_cast<int64_t>(created_containers.size()));
    created_containers.push_back(c);
    containers[out.id.value()] = out;
    return out;
  }
  absl::StatusOr<std::vector<Container>> ListContainers(const QueryParams& filters) const override {
    ++calls;
    std::vector<Container> out;
    for (const auto& [id, c] : containers) {
      bool keep = true;
      for (const auto& [k, v] : filters) keep = keep && (k != "name" || c.name == v);
      if (keep) out.push_back(c);
    }
    return out;
  }
  absl::StatusOr<std::vector<Container>> ListMyContainers() const override {
    return ListContainers({});
  }
  absl::StatusOr<Model> GetContainerModel(ContainerId id) const override {
    ++calls;
    for (const auto& [mid, m] : models) {
      if (m.container && m.container->id == id) return m;
    }
    return absl::NotFoundError(absl::StrCat("no model wraps container ", id.value()));
  }
  absl::StatusOr<Model> GetModel(ModelId id) const override {
    ++calls;
    return Find(models, id.value(), "model");
  }
  absl::StatusOr<Model> CreateModel(const Model& m) const override {
    ++calls;
    if (!create_error.ok()) return create_error;
    Model out = m;
    out.id = ModelId(300 + static_cast<int64_t>(created_models.size()));
    out.container->id = ContainerId(out.id.value());
    created_models.push_back(m);
    models[out.id.value()] = out;
    containers[out.id.value()] = *out.container;
    return out;
  }
  absl::StatusOr<Dataset> GetDataset(DatasetId id) const override {
    ++calls;
    return Find(datasets, id.value(), "dataset");
  }
  absl::StatusOr<std::vector<Dataset>> ListMyDatasets() const override {
    ++calls;
    std::vector<Dataset> out;
    for (const auto& [id, d] : datasets) out.push_back(d);
    return out;
  }
  absl::StatusOr<Dataset> CreateDataset(const Dataset& d) const override {
    ++calls;
    if (!create_error.ok()) return create_error;
    Dataset out = d;
    out.id = DatasetId(400 + static_cast<int64_t>(created_datasets.size()));
    created_datasets.push_back(d);
    return out;
  }
  absl::StatusOr<Dataset> UpdateDataset(DatasetId id, const Json& fields) const override {
    ++calls;
    dataset_updates.emplace_back(id.value(), fields);
    ASSIGN_OR_RETURN(Dataset d, Find(datasets, id.value(), "dataset"));
    if (fields.contains("state")) d.state = EntityState::kOperation;
    if (fields.contains("generated_uid")) d.generated_uid = fields["generated_uid"];
    return d;
  }
  absl::StatusOr<BenchmarkDatasetAssociation> CreateDatasetAssociation(
      DatasetId dataset, BenchmarkId benchmark, const Json& metadata,
      ApprovalStatus status) const override {
    ++calls;
    if (!create_error.ok()) return create_error;
    BenchmarkDatasetAssociation a;
    a.dataset = dataset;
    a.benchmark = benchmark;
    a.metadata = metadata;
    a.approval_status = status;
    dataset_associations.push_back(a);
    return a;
  }
  // The rows of dataset_associations for the pair (those a test put there, and those the
  // flows requested), in their order.
  absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> GetDatasetAssociations(
      DatasetId dataset, BenchmarkId benchmark) const override {
    ++calls;
    std::vector<BenchmarkDatasetAssociation> out;
    for (const auto& a : dataset_associations) {
      if (a.dataset == dataset && a.benchmark == benchmark) out.push_back(a);
    }
    return out;
  }
  absl::StatusOr<BenchmarkModelAssociation> CreateModelAssociation(
      ModelId model, BenchmarkId benchmark, const Json& metadata,
      ApprovalStatus status) const override {
    ++calls;
    if (!create_error.ok()) return create_error;
    BenchmarkModelAssociation a;
    a.model = model;
    a.benchmark = benchmark;
    a.metadata = metadata;
    a.approval_status = status;
    model_associations.push_back(a);
    return a;
  }
  absl::StatusOr<Result> SubmitResult(ResultId id, const Json& results, bool partial,
                                      const Json&) const override {
    ++calls;
    if (!create_error.ok()) return create_error;
    submitted_results.emplace_back(id.value(), Json{{"results", results}, {"partial", partial}});
    Result r;
    r.id = id;
    r.results = results;
    r.finalized = true;
    return r;
  }
  // Executions the server has: those set here, plus every one SubmitResult finalized.
  std::map<int64_t, Result> results;
  absl::StatusOr<Result> GetResult(ResultId id) const override {
    ++calls;
    for (const auto& [rid, sent] : submitted_results) {
      if (rid == id.value()) {
        Result r;
        r.id = id;
        r.results = sent["results"];
        r.finalized = true;
        return r;
      }
    }
    return Find(results, id.value(), "execution");
  }
};

// What a fake task does: writes `files` (mount name → relative path → content) into
// its output mounts, and exits with `exit_code`.
struct FakeTask {
  std::map<std::string, std::map<std::string, std::string>> files;
  int exit_code = 0;
};

// Runs every task by looking it up in `tasks` ("<container name>/<task>"); a task not
// there is an error. Records the tasks run.
class FakeRunner final : public Runner {
 public:
  struct Shared {
    absl::Mutex mu;
    std::map<std::string, FakeTask> tasks;
    std::vector<std::string> ran;
    // Called (outside `mu`) at the start of every task with its "<container>/<task>".
    std::function<void(const std::string&)> on_run;
  };
  FakeRunner(std::shared_ptr<Shared> shared, std::string container)
      : shared_(std::move(shared)), container_(std::move(container)) {}
  std::string name() const override { return "fake"; }
  absl::Status Prepare(const ContainerConfig&, const std::filesystem::path&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ImageHash(const ContainerConfig& config,
                                        const std::filesystem::path&) override {
    return "sha256:" + std::string(64, config.image.empty() ? '0' : 'f');
  }
  absl::StatusOr<TaskOutcome> Run(const ContainerConfig&, const TaskRun& run) override {
    std::string key = container_ + "/" + run.task;
    FakeTask task;
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->ran.push_back(key);
      auto it = shared_->tasks.find(key);
      if (it == shared_->tasks.end()) return absl::InternalError("no fake task " + key);
      task = it->second;
    }
    if (shared_->on_run) shared_->on_run(key);
    for (const auto& [mount, files] : task.files) {
      auto m = run.mounts.find(mount);
      if (m == run.mounts.end()) return absl::InternalError(key + ": no mount " + mount);
      for (const auto& [rel, content] : files) {
        std::filesystem::path p = rel.empty() ? m->second : m->second / rel;
        std::filesystem::create_directories(p.parent_path());
        testing::WriteFile(p, content);
      }
    }
    TaskOutcome outcome;
    outcome.exit_code = task.exit_code;
    outcome.log_file = run.log_file;
    return outcome;
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::string container_;
};

// A DockerImage container (no image file to fetch, no allow-list needed) whose tasks
// declare the volumes the MedPerf task of that name has.
inline Container FakeContainer(int64_t id, const std::string& name,
                               const std::vector<std::string>& tasks) {
  auto vol = [](const char* mount_path, bool file = false) {
    Json v = Json::object();
    v["mount_path"] = mount_path;
    v["type"] = file ? "file" : "directory";
    return v;
  };
  Json config_tasks = Json::object();
  for (const std::string& t : tasks) {
    Json in = Json::object();
    Json out = Json::object();
    if (t == "prepare" || t == "sanity_check" || t == "statistics") {
      in["data_path"] = vol("/in/data");
      in["labels_path"] = vol("/in/labels");
    }
    if (t == "prepare") {
      out["output_path"] = vol("/out/data");
      out["output_labels_path"] = vol("/out/labels");
      out["metadata_path"] = vol("/out/metadata");
      out["report_file"] = vol("/out/report.yaml", true);
    } else if (t == "sanity_check") {
      in["metadata_path"] = vol("/in/metadata");
    } else if (t == "statistics") {
      in["metadata_path"] = vol("/in/metadata");
      out["output_path"] = vol("/out/statistics.yaml", true);
    } else if (t == "infer") {
      in["data_path"] = vol("/in/data");
      out["output_path"] = vol("/out/predictions");
    } else if (t == "evaluate") {
      in["predictions"] = vol("/in/predictions");
      in["labels"] = vol("/in/labels");
      out["output_path"] = vol("/out/results.yaml", true);
    }
    Json task = Json::object();
    task["input_volumes"] = in;
    task["output_volumes"] = out;
    config_tasks[t] = task;
  }
  Container c;
  c.id = ContainerId(id);
  c.name = name;
  c.state = EntityState::kOperation;
  c.container_config = Json::object();
  c.container_config["container_type"] = "DockerImage";
  c.container_config["image"] = "example/" + name + ":1";
  c.container_config["tasks"] = config_tasks;
  return c;
}

inline Model FakeModel(int64_t id, const std::string& name) {
  Model m;
  m.id = ModelId(id);
  m.name = name;
  m.state = EntityState::kOperation;
  m.type = ModelType::kContainer;
  m.container = FakeContainer(id, name, {"infer"});
  return m;
}

class FlowTest : public ::testing::Test {
 protected:
  FlowTest() {
    config_.state_dir = dir_ / "state";
    std::filesystem::create_directories(config_.state_dir);
    config_.server.url = "http://fake.invalid";
    store_ = std::move(storage::Store::Open(config_.state_dir / "state.db")).value();
    events_ = std::make_unique<EventBus>(*store_);
    site_ = std::make_unique<Site>(config_, *store_, *events_);
    site_->set_runner_factory_for_testing(
        [shared = runner_](const LocalContainer& c) -> absl::StatusOr<std::unique_ptr<Runner>> {
          return std::make_unique<FakeRunner>(shared, c.name);
        });
    jobs_ = std::make_unique<JobManager>(*store_, *events_, config_.state_dir / "logs", 1,
                                         [this](JobContext& job) { return FakeRunJob(job); });
    jobs_->StartWorkers();
    server_ = std::make_shared<FakeServer>();
  }
  ~FlowTest() override {
    jobs_->Shutdown();
    events_->Shutdown();
  }

  ServerConnector Connect() {
    return [this]() -> absl::StatusOr<std::shared_ptr<const MedPerfApi>> {
      ++connects_;
      if (!connect_error_.ok()) return connect_error_;
      return std::shared_ptr<const MedPerfApi>(server_);
    };
  }

  // Runs `flow(ctx)` as an interactive job (as medperfd does) and returns its result.
  template <typename F>
  auto RunFlow(F flow) -> decltype(flow(std::declval<FlowContext&>())) {
    decltype(flow(std::declval<FlowContext&>())) out = absl::UnknownError("the flow did not run");
    auto id =
        jobs_->Start(InteractiveJob("flow-test"), [&](JobContext& job) -> absl::StatusOr<Json> {
          FlowContext ctx{*site_, job, Connect(), jobs_.get()};
          out = flow(ctx);
          return out.status().ok() ? absl::StatusOr<Json>(Json::object())
                                   : absl::StatusOr<Json>(out.status());
        });
    EXPECT_TRUE(id.ok()) << id.status();
    WaitFor(*id);
    return out;
  }

  storage::JobRecord WaitFor(JobId id) {
    size_t cursor = 0;
    while (true) {
      std::vector<ProgressUpdate> updates;
      bool finished = false;
      auto record = jobs_->Poll(id, &cursor, &updates, &finished, absl::Milliseconds(200));
      EXPECT_TRUE(record.ok()) << record.status();
      if (!record.ok() || finished) return record.ok() ? *record : storage::JobRecord{};
    }
  }

  // The body of `run` jobs here: stores the result `run_metrics_` (or fails with
  // `run_error_`) for the job's triple, without any server.
  absl::StatusOr<Json> FakeRunJob(JobContext& job) {
    const storage::JobRecord& r = job.record();
    LocalResultUid uid(*r.benchmark, *r.model, *r.dataset);
    {
      absl::MutexLock lock(&mu_);
      run_jobs_.push_back(uid.str());
    }
    if (!run_error_.ok()) return run_error_;
    storage::ResultRecord result(uid);
    result.status = "executed";
    result.metrics_json = run_metrics_.dump();
    result.server_id = ResultId(900 + r.model->value());
    RETURN_IF_ERROR(store_->PutResult(result));
    return Json{{"uid", uid.str()}};
  }

  std::vector<std::string> RunJobs() {
    absl::MutexLock lock(&mu_);
    return run_jobs_;
  }

  // Events of `kind` published so far.
  std::vector<storage::EventRecord> Events(const std::string& kind) {
    std::vector<storage::EventRecord> out;
    auto all = store_->ListEvents(0, 1000);
    if (!all.ok()) return out;
    for (const auto& e : *all) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  void SetTask(const std::string& key, FakeTask task) {
    absl::MutexLock lock(&runner_->mu);
    runner_->tasks[key] = std::move(task);
  }
  std::vector<std::string> TasksRan() {
    absl::MutexLock lock(&runner_->mu);
    return runner_->ran;
  }

  // A data preparator whose tasks succeed: one prepared file, statistics {count: 1}.
  void GoodPreparator(const std::string& name) {
    SetTask(name + "/prepare", {{{"output_path", {{"case1.txt", "prepared"}}},
                                 {"output_labels_path", {{"case1.txt", "label"}}},
                                 {"report_file", {{"", "case1: ok\n"}}}},
                                0});
    SetTask(name + "/sanity_check", {});
    SetTask(name + "/statistics", {{{"output_path", {{"", "count: 1\n"}}}}, 0});
  }

  // Raw data and labels folders with one file each.
  std::pair<std::string, std::string> RawData() {
    std::filesystem::path data = dir_ / "raw" / "data";
    std::filesystem::path labels = dir_ / "raw" / "labels";
    testing::WriteFile(data / "case1.txt", "raw");
    testing::WriteFile(labels / "case1.txt", "raw label");
    return {data.string(), labels.string()};
  }

  testing::TempDir dir_;
  DaemonConfig config_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<Site> site_;
  std::shared_ptr<FakeRunner::Shared> runner_ = std::make_shared<FakeRunner::Shared>();
  std::unique_ptr<JobManager> jobs_;
  std::shared_ptr<FakeServer> server_;
  absl::Status connect_error_;
  int connects_ = 0;
  absl::Mutex mu_;
  std::vector<std::string> run_jobs_;
  Json run_metrics_ = {{"AUC", 0.9}};
  absl::Status run_error_;
};

}  // namespace medperf::daemon::flows
