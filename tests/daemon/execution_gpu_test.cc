// RunContainerTask's GPU rules (policy.gpus, policy.gpu_tasks, run_args.gpus), the
// sandbox's GPU warning, the warning about empty additional files, and the MedPerf
// folder layout of local containers, with a real store, job manager and site and a
// runner that records what it was asked to run.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "daemon/events.h"
#include "daemon/execution.h"
#include "daemon/jobs.h"
#include "daemon/site.h"
#include "storage/store.h"
#include "tests/support/test_support.h"

namespace medperf::daemon {
namespace {

namespace fs = std::filesystem;
using ::medperf::testing::TempDir;
using ::medperf::testing::WriteFile;

// Records each run's task and GPU setting; succeeds without doing anything.
class RecordingRunner final : public Runner {
 public:
  struct Shared {
    absl::Mutex mu;
    std::vector<std::pair<std::string, std::string>> runs;  // task, TaskRun::gpus
  };
  RecordingRunner(std::shared_ptr<Shared> shared, std::string name)
      : shared_(std::move(shared)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  absl::Status Prepare(const ContainerConfig&, const fs::path&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ImageHash(const ContainerConfig&, const fs::path&) override {
    return "sha256:" + std::string(64, 'a');
  }
  absl::StatusOr<TaskOutcome> Run(const ContainerConfig&, const TaskRun& run) override {
    absl::MutexLock lock(&shared_->mu);
    shared_->runs.emplace_back(run.task, run.gpus);
    // File outputs (statistics.yaml, results.yaml) must exist after a successful task.
    for (const std::string& name : run.outputs) {
      const fs::path& p = run.mounts.at(name);
      if (!fs::exists(p)) std::ofstream(p) << "x: 1\n";
    }
    TaskOutcome outcome;
    outcome.exit_code = 0;
    outcome.log_file = run.log_file;
    return outcome;
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::string name_;
};

constexpr const char* kConfig = R"({
  "container_type": "DockerImage", "image": "example/model:1",
  "tasks": {
    "infer": {
      "input_volumes": {"data_path": {"mount_path": "/in/data", "type": "directory"},
                        "additional_files": {"mount_path": "/in/additional", "type": "directory"}},
      "output_volumes": {"output_path": {"mount_path": "/out/predictions", "type": "directory"}}},
    "evaluate": {
      "run_args": {"gpus": "all"},
      "input_volumes": {"predictions": {"mount_path": "/in/predictions", "type": "directory"}},
      "output_volumes": {"output_path": {"mount_path": "/out/results.yaml", "type": "file"}}},
    "statistics": {
      "input_volumes": {"data_path": {"mount_path": "/in/data", "type": "directory"}},
      "output_volumes": {"output_path": {"mount_path": "/out/statistics.yaml", "type": "file"}}}
  }})";

class ExecutionGpuTest : public ::testing::Test {
 protected:
  void Start(const std::string& gpus, std::set<std::string> gpu_tasks = {"infer"},
             std::string runner_name = "docker") {
    config_.state_dir = dir_ / "state";
    fs::create_directories(config_.state_dir);
    config_.storage.min_free_bytes = 0;
    config_.storage.reserve_bytes = 0;
    config_.policy.gpus = gpus;
    config_.policy.gpu_tasks = std::move(gpu_tasks);
    config_.policy.max_concurrent_jobs = 2;
    store_ = std::move(storage::Store::Open(config_.state_dir / "state.db")).value();
    events_ = std::make_unique<EventBus>(*store_);
    site_ = std::make_unique<Site>(config_, *store_, *events_);
    site_->set_runner_factory_for_testing(
        [shared = shared_,
         runner_name](const LocalContainer&) -> absl::StatusOr<std::unique_ptr<Runner>> {
          return std::make_unique<RecordingRunner>(shared, runner_name);
        });
    jobs_ = std::make_unique<JobManager>(*store_, *events_, config_.state_dir / "logs", 1,
                                         [](JobContext&) { return nlohmann::json::object(); });
    container_.name = "model";
    container_.config = ParseContainerConfig(kConfig, "model config").value();
    container_.additional_files = dir_ / "weights";
    fs::create_directories(container_.additional_files);
    WriteFile(container_.additional_files / "w.bin", "weights");
    fs::create_directories(dir_ / "data");
  }
  void TearDown() override {
    if (jobs_) jobs_->Shutdown();
    if (events_) events_->Shutdown();
  }

  // Runs `task` in an interactive job; returns its status, and its progress in *progress.
  absl::Status RunTask(const std::string& task, std::string* progress = nullptr) {
    std::map<std::string, fs::path> mounts = {{"data_path", dir_ / "data"},
                                              {"predictions", dir_ / "data"}};
    if (task == "infer") mounts["output_path"] = dir_ / "predictions";
    if (task == "evaluate") mounts["output_path"] = dir_ / "results.yaml";
    if (task == "statistics") mounts["output_path"] = dir_ / "statistics.yaml";
    absl::Status result = absl::UnknownError("did not run");
    auto id = jobs_->Start(InteractiveJob("gpu-test"), [&](JobContext& job) {
      result = RunContainerTask(*site_, job, container_, task, mounts, LogFile(task));
      return result.ok() ? absl::StatusOr<nlohmann::json>(nlohmann::json::object())
                         : absl::StatusOr<nlohmann::json>(result);
    });
    EXPECT_TRUE(id.ok()) << id.status();
    size_t cursor = 0;
    std::string seen;
    for (bool finished = false; !finished;) {
      std::vector<ProgressUpdate> updates;
      auto record = jobs_->Poll(*id, &cursor, &updates, &finished, absl::Milliseconds(200));
      if (!record.ok()) break;
      for (const ProgressUpdate& u : updates) absl::StrAppend(&seen, u.message, "\n");
    }
    if (progress != nullptr) *progress = seen;
    return result;
  }

  fs::path LogFile(const std::string& task) const { return dir_ / "logs" / (task + ".log"); }
  std::string ReadLog(const std::string& task) const {
    std::ifstream in(LogFile(task));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string GpusOf(const std::string& task) {
    absl::MutexLock lock(&shared_->mu);
    for (const auto& [t, g] : shared_->runs) {
      if (t == task) return g;
    }
    return "(not run)";
  }

  TempDir dir_;
  DaemonConfig config_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<Site> site_;
  std::unique_ptr<JobManager> jobs_;
  std::shared_ptr<RecordingRunner::Shared> shared_ = std::make_shared<RecordingRunner::Shared>();
  LocalContainer container_;
};

TEST_F(ExecutionGpuTest, OnlyConfiguredKindsAndAskingContainersGetTheSitesDevices) {
  Start("device=3,4");
  std::string progress;
  ASSERT_TRUE(RunTask("infer", &progress).ok());
  ASSERT_TRUE(RunTask("statistics").ok());
  ASSERT_TRUE(RunTask("evaluate").ok());
  // Each task's devices went back when it ended: the next GPU task gets the first again.
  EXPECT_EQ(GpusOf("infer"), "device=3");
  EXPECT_EQ(GpusOf("statistics"), "") << "statistics is not in policy.gpu_tasks";
  EXPECT_EQ(GpusOf("evaluate"), "device=3") << "its run_args.gpus asks for GPUs";
  EXPECT_NE(progress.find("GPUs for infer: device=3"), std::string::npos) << progress;
}

TEST_F(ExecutionGpuTest, GpuTasksDecideWhichKindsGetGpus) {
  Start("all", {"statistics"});
  ASSERT_TRUE(RunTask("infer").ok());
  ASSERT_TRUE(RunTask("statistics").ok());
  EXPECT_EQ(GpusOf("infer"), "");
  EXPECT_EQ(GpusOf("statistics"), "all");
}

TEST_F(ExecutionGpuTest, WithoutSiteGpusTheContainersOwnRequestApplies) {
  Start("");
  ASSERT_TRUE(RunTask("infer").ok());
  ASSERT_TRUE(RunTask("evaluate").ok());
  // Empty TaskRun::gpus: the runner falls back to the task's run_args.gpus.
  EXPECT_EQ(GpusOf("infer"), "");
  EXPECT_EQ(GpusOf("evaluate"), "");
}

TEST_F(ExecutionGpuTest, TheSandboxsIgnoredGpuRequestReachesTheUserAndTheTaskLog) {
  Start("device=0", {"infer"}, "sandbox");
  std::string progress;
  ASSERT_TRUE(RunTask("infer", &progress).ok());
  EXPECT_EQ(GpusOf("infer"), "");
  EXPECT_NE(progress.find("the sandbox has no GPU support"), std::string::npos) << progress;
  EXPECT_NE(ReadLog("infer").find("(gpus: device=0) of infer of model is ignored"),
            std::string::npos)
      << ReadLog("infer");
  // The device was not taken for a task that cannot use it.
  EXPECT_NE(site_->gpus().Describe().find("busy: none"), std::string::npos);
}

TEST_F(ExecutionGpuTest, EmptyAdditionalFilesWarnNamingWhereTheyWereLookedFor) {
  Start("");
  container_.additional_files.clear();
  container_.additional_files_origin = "looked in /models/cnn/workspace/additional_files";
  std::string progress;
  ASSERT_TRUE(RunTask("infer", &progress).ok());
  EXPECT_NE(progress.find("declares additional_files but gets an empty folder (looked in "
                          "/models/cnn/workspace/additional_files)"),
            std::string::npos)
      << progress;
  EXPECT_NE(ReadLog("infer").find("looked in /models/cnn/workspace/additional_files"),
            std::string::npos);
}

TEST_F(ExecutionGpuTest, FilledAdditionalFilesGiveNoWarning) {
  Start("");
  std::string progress;
  ASSERT_TRUE(RunTask("infer", &progress).ok());
  EXPECT_EQ(progress.find("additional_files"), std::string::npos) << progress;
  // The task's own log says which runner ran it and why (read when a task failed).
  EXPECT_NE(ReadLog("infer").find("[medperf] runner "), std::string::npos) << ReadLog("infer");
}

TEST_F(ExecutionGpuTest, LocalFolderFollowsTheMedPerfWorkspaceLayout) {
  Start("");
  fs::path folder = dir_ / "model_custom_cnn";
  WriteFile(folder / "container_config.yaml", kConfig);
  WriteFile(folder / "workspace" / "parameters.yaml", "batch_size: 8\n");
  WriteFile(folder / "workspace" / "additional_files" / "cnn_weights.pth", "weights");
  // An empty placeholder beside the config loses to the filled workspace folder.
  fs::create_directories(folder / "additional_files");
  absl::StatusOr<LocalContainer> local = site_->LoadLocalContainer(folder);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->parameters_file, folder / "workspace" / "parameters.yaml");
  EXPECT_EQ(local->additional_files, folder / "workspace" / "additional_files");

  // A repeated key in a local parameters file is refused, as `container submit` refuses
  // it (issue 13 item 5): `test run` of local parts must not accept what submit would not.
  WriteFile(folder / "workspace" / "parameters.yaml",
            "threshold: 0.5\nbatch_size: 8\nthreshold: 0.9\n");
  local = site_->LoadLocalContainer(folder);
  ASSERT_FALSE(local.ok());
  EXPECT_NE(local.status().message().find("threshold"), std::string::npos) << local.status();
  EXPECT_NE(local.status().message().find("line 3"), std::string::npos) << local.status();

  fs::path bare = dir_ / "bare";
  WriteFile(bare / "container_config.yaml", kConfig);
  local = site_->LoadLocalContainer(bare);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(local->additional_files.empty());
  EXPECT_NE(local->additional_files_origin.find((bare / "workspace/additional_files").string()),
            std::string::npos)
      << local->additional_files_origin;

  // A folder holding only what keeps it in a repository is empty: the tarball beside the
  // config is used, and without one the folders looked in are named.
  fs::path kept = dir_ / "kept";
  WriteFile(kept / "container_config.yaml", kConfig);
  WriteFile(kept / "workspace" / "additional_files" / ".gitkeep", "");
  local = site_->LoadLocalContainer(kept);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(local->additional_files.empty()) << local->additional_files;
  EXPECT_NE(local->additional_files_origin.find("looked in"), std::string::npos)
      << local->additional_files_origin;
  WriteFile(dir_ / "weights" / "cnn_weights.pth", "weights");
  auto tar = testing::Run({"/usr/bin/tar", "-czf", (kept / "additional_files.tar.gz").string(),
                           "-C", (dir_ / "weights").string(), "."});
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  local = site_->LoadLocalContainer(kept);
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(fs::exists(local->additional_files / "cnn_weights.pth")) << local->additional_files;
  EXPECT_NE(local->additional_files_origin.find("extracted from"), std::string::npos)
      << local->additional_files_origin;
}

}  // namespace
}  // namespace medperf::daemon
