#include "runners/sandbox_runner.h"
#include "runners/task_cgroup.h"
#include "runners/task_identity.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "core/archive.h"
#include "core/hashing.h"
#include "runners/container_config.h"
#include "runners/subprocess.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindExecutable("bwrap").empty()) GTEST_SKIP() << "bubblewrap (bwrap) is not installed";
    SandboxOptions options;
    options.image_cache_dir = dir_ / "images";
    auto runner = SandboxRunner::Create(options);
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(*runner);
  }

  // A LocalProcess container whose image is a shell script written for the test.
  ContainerConfig Container(const std::string& script, const std::string& tasks_yaml,
                            const std::string& shell = "/bin/sh") {
    fs::path image = dir_ / "bin" / ("task" + std::to_string(++counter_) + ".sh");
    WriteFile(image, "#!" + shell + "\n" + script);
    fs::permissions(image, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    std::string yaml =
        "container_type: LocalProcess\nimage: " + image.string() + "\ntasks:\n" + tasks_yaml;
    auto config = ParseContainerConfig(yaml, "test container");
    EXPECT_TRUE(config.ok()) << config.status() << "\n" << yaml;
    return config.ok() ? *config : ContainerConfig{};
  }

  TaskOutcome RunOk(const ContainerConfig& config, TaskRun run) {
    std::vector<std::string> lines;
    if (!run.on_output) run.on_output = [&](std::string_view l) { lines.emplace_back(l); };
    auto outcome = runner_->Run(config, run);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) return TaskOutcome{};
    output_.clear();
    for (const auto& l : lines) output_ += l + "\n";
    return *outcome;
  }

  TempDir dir_;
  std::unique_ptr<SandboxRunner> runner_;
  std::string output_;
  int counter_ = 0;
};

// The whole MedPerf task set, with the tutorial's volume names and mount paths.
TEST_F(SandboxTest, AllTaskTypes) {
  ContainerConfig config = Container(R"~(
set -e
V=/mlcommons/volumes
case "$1" in
  prepare)
    mkdir -p "$V/data" "$V/labels"
    for f in "$V"/raw_data/*; do cp "$f" "$V/data/$(basename "$f").npy"; done
    cp "$V"/raw_labels/labels.csv "$V/labels/"
    grep -q 'labels_list' "$V/parameters/parameters_file.yaml"
    echo "prepared";;
  sanity_check)
    test -f "$V/data/a.png.npy" && test -f "$V/labels/labels.csv"
    echo "Sanity checks ran successfully.";;
  statistics)
    echo "num_cases: $(ls "$V/data" | wc -l)" > "$V/statistics/statistics.yaml";;
  infer)
    w=$(cat "$V/additional_files/weights.txt")
    for f in "$V"/data/*; do echo "$(basename "$f"): $w"; done > "$V/predictions/predictions.txt";;
  evaluate)
    n=$(wc -l < "$V/predictions/predictions.txt")
    printf 'Accuracy: 1.0\ncount: %s\n' "$n" > "$V/results/results.yaml";;
esac
)~",
                                     R"~(
  prepare:
    run_args: {command: [prepare]}
    input_volumes:
      data_path: {mount_path: /mlcommons/volumes/raw_data, type: directory}
      labels_path: {mount_path: /mlcommons/volumes/raw_labels, type: directory}
      parameters_file: {mount_path: /mlcommons/volumes/parameters/parameters_file.yaml, type: file}
    output_volumes:
      output_path: {mount_path: /mlcommons/volumes/data, type: directory}
      output_labels_path: {mount_path: /mlcommons/volumes/labels, type: directory}
  sanity_check:
    run_args: {command: [sanity_check]}
    input_volumes:
      data_path: {mount_path: /mlcommons/volumes/data, type: directory}
      labels_path: {mount_path: /mlcommons/volumes/labels, type: directory}
      parameters_file: {mount_path: /mlcommons/volumes/parameters/parameters_file.yaml, type: file}
  statistics:
    run_args: {command: statistics}
    input_volumes:
      data_path: {mount_path: /mlcommons/volumes/data, type: directory}
      labels_path: {mount_path: /mlcommons/volumes/labels, type: directory}
    output_volumes:
      output_path: {mount_path: /mlcommons/volumes/statistics/statistics.yaml, type: file}
  infer:
    run_args: {command: [infer]}
    input_volumes:
      data_path: {mount_path: /mlcommons/volumes/data, type: directory}
      parameters_file: {mount_path: /mlcommons/volumes/parameters/parameters_file.yaml, type: file}
      additional_files: {mount_path: /mlcommons/volumes/additional_files, type: directory}
    output_volumes:
      output_path: {mount_path: /mlcommons/volumes/predictions, type: directory}
  evaluate:
    run_args: {command: [evaluate]}
    input_volumes:
      predictions: {mount_path: /mlcommons/volumes/predictions, type: directory}
      labels: {mount_path: /mlcommons/volumes/labels, type: directory}
      parameters_file: {mount_path: /mlcommons/volumes/parameters/parameters_file.yaml, type: file}
    output_volumes:
      output_path: {mount_path: /mlcommons/volumes/results/results.yaml, type: file}
)~");
  WriteFile(dir_ / "raw/images/a.png", "A");
  WriteFile(dir_ / "raw/images/b.png", "B");
  WriteFile(dir_ / "raw/labels/labels.csv", "Image ID,Label\n");
  WriteFile(dir_ / "params.yaml", "labels_list: [a, b]\n");
  WriteFile(dir_ / "additional/weights.txt", "0.5");
  fs::path ds = dir_ / "dataset";

  TaskRun prepare{.task = "prepare",
                  .mounts = {{"data_path", dir_ / "raw/images"},
                             {"labels_path", dir_ / "raw/labels"},
                             {"parameters_file", dir_ / "params.yaml"},
                             {"output_path", ds / "data"},
                             {"output_labels_path", ds / "labels"}},
                  .log_file = dir_ / "logs/prepare.log"};
  TaskOutcome outcome = RunOk(config, prepare);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_EQ(ReadFile(ds / "data/a.png.npy"), "A");
  EXPECT_EQ(ReadFile(dir_ / "logs/prepare.log"), "prepared\n");

  TaskRun sanity{.task = "sanity_check",
                 .mounts = {{"data_path", ds / "data"},
                            {"labels_path", ds / "labels"},
                            {"parameters_file", dir_ / "params.yaml"}}};
  outcome = RunOk(config, sanity);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_EQ(output_, "Sanity checks ran successfully.\n");

  TaskRun stats{.task = "statistics",
                .mounts = {{"data_path", ds / "data"},
                           {"labels_path", ds / "labels"},
                           {"output_path", ds / "statistics.yaml"}}};
  outcome = RunOk(config, stats);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_EQ(ReadFile(ds / "statistics.yaml"), "num_cases: 2\n");

  TaskRun infer{.task = "infer",
                .mounts = {{"data_path", ds / "data"},
                           {"parameters_file", dir_ / "params.yaml"},
                           {"additional_files", dir_ / "additional"},
                           {"output_path", dir_ / "preds"},
                           {"labels_path", ds / "labels"}}};  // supplied but not declared
  outcome = RunOk(config, infer);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_EQ(ReadFile(dir_ / "preds/predictions.txt"), "a.png.npy: 0.5\nb.png.npy: 0.5\n");

  TaskRun evaluate{.task = "evaluate",
                   .mounts = {{"predictions", dir_ / "preds"},
                              {"labels", ds / "labels"},
                              {"parameters_file", dir_ / "params.yaml"},
                              {"output_path", dir_ / "results/results.yaml"}}};
  outcome = RunOk(config, evaluate);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_EQ(ReadFile(dir_ / "results/results.yaml"), "Accuracy: 1.0\ncount: 2\n");
}

// A loopback TCP listener that counts accepted connections.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 8);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) {
          int c = ::accept(fd_, nullptr, nullptr);
          if (c >= 0) {
            ++accepted_;
            ::close(c);
          }
        }
      }
    });
  }
  ~Listener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(SandboxTest, NetworkIsCutOffUnlessAllowed) {
  Listener listener;
  ContainerConfig config = Container(R"~(
ip -o link 2>/dev/null | cut -d: -f2 | tr -d ' ' | tr '\n' ' '; echo
if exec 3<>/dev/tcp/127.0.0.1/$PORT; then echo connected; else echo refused; exit 7; fi
)~",
                                     "  infer: {}\n", "/bin/bash");
  TaskRun run{.task = "infer", .env = {{"PORT", std::to_string(listener.port())}}};
  TaskOutcome outcome = RunOk(config, run);
  EXPECT_EQ(outcome.exit_code, 7) << output_;
  EXPECT_NE(output_.find("refused"), std::string::npos) << output_;
  EXPECT_EQ(listener.accepted(), 0);
  if (!FindExecutable("ip").empty()) {
    EXPECT_EQ(output_.substr(0, 3), "lo ") << "only loopback inside: " << output_;
  }

  run.allow_network = true;
  outcome = RunOk(config, run);
  EXPECT_EQ(outcome.exit_code, 0) << output_;
  EXPECT_NE(output_.find("connected"), std::string::npos) << output_;
  EXPECT_TRUE(testing::WaitFor([&] { return listener.accepted() == 1; }, std::chrono::seconds(5)));
}

TEST_F(SandboxTest, OnlyOutputsAndTmpAreWritable) {
  WriteFile(dir_ / "in/data.txt", "input");
  ContainerConfig config = Container(R"~(
try() { if ( : > "$1" ) 2>/dev/null; then echo "WROTE $1"; else echo "denied $1"; fi; }
try /in/data.txt
try /in/new.txt
try /usr/medperf-evil
try /etc/medperf-evil
try /medperf-evil
try "$(dirname "$0")/evil"
try /tmp/scratch && ls /tmp
try /out/result.txt
echo hello > /out/result.txt
cat /etc/shadow 2>/dev/null && echo "READ shadow"
test -e /root/.bashrc && echo "SEES /root"
test -e /home && echo "SEES /home"
test -S /run/docker.sock && echo "SEES docker.sock"
( mount -o remount,rw /in && : > /in/remounted ) 2>/dev/null && echo "REMOUNTED rw"
exit 0
)~",
                                     R"~(
  infer:
    input_volumes: {data: {mount_path: /in, type: directory}}
    output_volumes: {out: {mount_path: /out, type: directory}}
)~");
  TaskRun run{.task = "infer", .mounts = {{"data", dir_ / "in"}, {"out", dir_ / "out"}}};
  TaskOutcome outcome = RunOk(config, run);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe();
  EXPECT_EQ(output_.find("WROTE /in"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("WROTE /usr"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("WROTE /etc"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("WROTE /medperf-evil"), std::string::npos) << output_;
  // Only the executable itself is bound; a write beside it lands in the sandbox's
  // private /tmp (the host's bin/ is checked below), never in the container's folder.
  EXPECT_NE(output_.find("WROTE /tmp/scratch"), std::string::npos) << output_;
  EXPECT_NE(output_.find("WROTE /out/result.txt"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("READ shadow"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("SEES"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("REMOUNTED"), std::string::npos) << "capabilities were not dropped";
  EXPECT_EQ(ReadFile(dir_ / "in/data.txt"), "input");
  EXPECT_FALSE(fs::exists(dir_ / "in/new.txt"));
  EXPECT_FALSE(fs::exists("/etc/medperf-evil"));
  EXPECT_FALSE(fs::exists(dir_ / "bin/evil"));
  EXPECT_EQ(ReadFile(dir_ / "out/result.txt"), "hello\n");
}

// A model sees the dataset it is given and nothing else of the site: not the daemon's
// state directory (where every prepared dataset and result lives), not another
// dataset, not raw data elsewhere on the host. The state sits under /var here, as in a
// system install (/var/lib/medperfd).
TEST_F(SandboxTest, OtherDatasetsAndTheStateDirAreInvisible) {
  std::string tmpl = "/var/tmp/medperf-sandbox-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  fs::path state(tmpl);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{state};
  WriteFile(state / "datasets/1/data/case1.txt", "dataset one");
  WriteFile(state / "datasets/2/data/case2.txt", "dataset two");
  WriteFile(state / "state.db", "database");
  WriteFile(dir_ / "raw/other-hospital-data.txt", "raw");
  ContainerConfig config = Container(
      "cat /in/case1.txt\n"
      "for p in \"$@\"; do test -e \"$p\" && echo \"SEES $p\"; done\n"
      "ls /var/tmp 2>/dev/null | grep medperf && echo \"SEES /var/tmp listing\"\n"
      "exit 0\n",
      R"~(
  infer:
    run_args:
      command: [)~" +
          (state / "datasets/2/data/case2.txt").string() + ", " + (state / "state.db").string() +
          ", " + state.string() + ", " + (dir_ / "raw/other-hospital-data.txt").string() +
          R"~(, /var/lib]
    input_volumes: {data: {mount_path: /in, type: directory}}
    output_volumes: {out: {mount_path: /out, type: directory}}
)~");
  TaskRun run{.task = "infer",
              .mounts = {{"data", state / "datasets/1/data"}, {"out", dir_ / "out"}}};
  TaskOutcome outcome = RunOk(config, run);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_NE(output_.find("dataset one"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("SEES"), std::string::npos) << output_;
}

TEST_F(SandboxTest, TimeLimitKillsTheWholeTree) {
  ContainerConfig config =
      Container(R"~(
(sleep 2; echo late > /out/late.txt) &
sh -c 'sleep 2; echo late > /out/late2.txt' &
echo started
sleep 60
)~",
                "  infer:\n    output_volumes: {out: {mount_path: /out, type: directory}}\n");
  TaskRun run{.task = "infer",
              .mounts = {{"out", dir_ / "out"}},
              .limits = {.wall_time = std::chrono::seconds(1)}};
  TaskOutcome outcome = RunOk(config, run);
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_FALSE(outcome.ok());
  EXPECT_LT(outcome.duration, std::chrono::seconds(5));
  EXPECT_NE(outcome.Describe().find("timed out"), std::string::npos);
  EXPECT_EQ(output_, "started\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_FALSE(fs::exists(dir_ / "out/late.txt")) << "a child survived the time limit";
  EXPECT_FALSE(fs::exists(dir_ / "out/late2.txt")) << "a grandchild survived the time limit";
}

TEST_F(SandboxTest, CancellationStopsTheTask) {
  ContainerConfig config = Container("echo running\nsleep 60\n", "  infer: {}\n");
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  TaskRun run{.task = "infer", .cancel = &cancel};
  TaskOutcome outcome = RunOk(config, run);
  canceller.join();
  EXPECT_TRUE(outcome.cancelled);
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_LT(outcome.duration, std::chrono::seconds(5));
  EXPECT_EQ(outcome.Describe(), "cancelled");
}

TEST_F(SandboxTest, ExitCodesOutputAndLogs) {
  ContainerConfig config =
      Container("echo one\necho two >&2\nprintf 'no newline'\nexit 3\n", "  evaluate: {}\n");
  TaskRun run{.task = "evaluate", .log_file = dir_ / "logs/eval.log"};
  TaskOutcome outcome = RunOk(config, run);
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.Describe(), "exited with code 3");
  EXPECT_EQ(output_, "one\ntwo\nno newline\n");
  EXPECT_EQ(ReadFile(dir_ / "logs/eval.log"), "one\ntwo\nno newline");
  EXPECT_EQ(outcome.log_file, dir_ / "logs/eval.log");
}

TEST_F(SandboxTest, EnvironmentIsCleanAndConfigurable) {
  ::setenv("MEDPERF_HOST_SECRET", "leak", 1);
  ContainerConfig config =
      Container("echo \"A=$A B=$B S=$MEDPERF_HOST_SECRET H=$(hostname) PID=$$\"\n",
                "  infer:\n    run_args: {environment: {A: from_config, B: x}}\n");
  TaskRun run{.task = "infer", .env = {{"B", "from_run"}}};
  RunOk(config, run);
  ::unsetenv("MEDPERF_HOST_SECRET");
  EXPECT_NE(output_.find("A=from_config B=from_run S= "), std::string::npos) << output_;
  EXPECT_NE(output_.find("H=medperf"), std::string::npos) << output_;
}

TEST_F(SandboxTest, MountErrorsAreClear) {
  ContainerConfig config = Container("exit 0\n", R"~(
  infer:
    input_volumes: {data_path: {mount_path: /mlcommons/volumes/data, type: directory},
                    parameters_file: {mount_path: /p/parameters.yaml, type: file}}
  evaluate:
    input_volumes: {labels: {mount_path: /usr/medperf-nonexistent, type: directory}}
)~");
  TaskRun run{.task = "infer", .mounts = {{"data_path", dir_.path()}}};
  auto outcome = runner_->Run(config, run);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find("volume 'parameters_file' of task 'infer'"),
            std::string_view::npos)
      << outcome.status();
  EXPECT_NE(outcome.status().message().find("no host path was supplied"), std::string_view::npos);

  run.mounts["parameters_file"] = dir_ / "missing.yaml";
  outcome = runner_->Run(config, run);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kNotFound) << outcome.status();
  EXPECT_NE(outcome.status().message().find("missing.yaml"), std::string_view::npos);

  run.mounts["parameters_file"] = dir_.path();  // a directory where a file is declared
  outcome = runner_->Run(config, run);
  EXPECT_NE(outcome.status().message().find("is a file"), std::string_view::npos)
      << outcome.status();

  TaskRun eval{.task = "evaluate", .mounts = {{"labels", dir_.path()}}};
  outcome = runner_->Run(config, eval);
  EXPECT_NE(outcome.status().message().find("read-only /usr"), std::string_view::npos)
      << outcome.status();

  TaskRun unknown{.task = "train"};
  outcome = runner_->Run(config, unknown);
  EXPECT_NE(outcome.status().message().find("no task 'train' (it declares: evaluate, infer)"),
            std::string_view::npos)
      << outcome.status();
}

TEST_F(SandboxTest, MissingImageIsAnError) {
  auto config = ParseContainerConfig(
      "container_type: LocalProcess\nimage: /nonexistent/model\ntasks: {infer: {}}", "c");
  ASSERT_TRUE(config.ok());
  auto outcome = runner_->Run(*config, TaskRun{.task = "infer"});
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.status().message().find("/nonexistent/model"), std::string_view::npos);
  auto docker =
      ParseContainerConfig("container_type: DockerImage\nimage: x:1\ntasks: {infer: {}}", "d");
  EXPECT_NE(runner_->Run(*docker, TaskRun{.task = "infer"}).status().message().find("needs docker"),
            std::string_view::npos);
}

TEST_F(SandboxTest, LocalProcessImageHash) {
  ContainerConfig config = Container("exit 0\n", "  infer: {}\n");
  auto hash = runner_->ImageHash(config, {});
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash, "sha256:" + *Sha256File(config.image));
}

TEST_F(SandboxTest, MemoryLimit) {
  if (FindExecutable("/usr/bin/python3").empty()) GTEST_SKIP() << "no /usr/bin/python3";
  auto config = ParseContainerConfig(R"~(
container_type: LocalProcess
image: /usr/bin/python3
tasks:
  infer:
    run_args: {command: ["-c", "b = bytearray(400 << 20); print('allocated')"]}
)~",
                                     "python");
  ASSERT_TRUE(config.ok()) << config.status();
  TaskRun run{.task = "infer", .limits = {.memory_bytes = uint64_t{200} << 20}};
  TaskOutcome outcome = RunOk(*config, run);
  EXPECT_FALSE(outcome.ok());
  // A memory cgroup OOM-kills the task; the RLIMIT_AS fallback makes Python raise.
  if (DetectLimitEnforcement().memory) {
    EXPECT_EQ(outcome.limit_hit, "memory") << outcome.Describe() << output_;
    EXPECT_NE(outcome.Describe().find("limits.infer.memory"), std::string::npos);
  } else {
    EXPECT_NE(output_.find("MemoryError"), std::string::npos) << output_;
  }
  run.limits.memory_bytes = 0;
  outcome = RunOk(*config, run);
  EXPECT_EQ(outcome.exit_code, 0) << output_;
}

// Builds a `docker save`-format tarball whose root holds the host's dash and the
// libraries it needs, in two layers (the second with a whiteout).
absl::StatusOr<fs::path> BuildDockerSaveImage(const fs::path& work,
                                              const std::string& extra_link = "") {
  fs::path l1 = work / "layer1";
  auto copy_in = [&](const fs::path& host, const fs::path& inside) {
    fs::create_directories((l1 / inside.relative_path()).parent_path());
    fs::copy_file(host, l1 / inside.relative_path(), fs::copy_options::overwrite_existing);
  };
  copy_in("/bin/dash", "/bin/sh");
  auto ldd = testing::Run({"/usr/bin/ldd", "/bin/dash"});
  std::regex lib(R"((/[^\s]+\.so[^\s]*))");
  for (std::sregex_iterator it(ldd.out.begin(), ldd.out.end(), lib), end; it != end; ++it) {
    copy_in((*it)[1].str(), (*it)[1].str());
  }
  WriteFile(l1 / "etc/removed.txt", "should be whited out");
  if (!extra_link.empty()) fs::create_symlink(extra_link, l1 / "mlcommons");
  fs::path l2 = work / "layer2";
  WriteFile(l2 / "etc/.wh.removed.txt", "");
  WriteFile(l2 / "etc/added.txt", "from layer 2\n");
  fs::path image = work / "image";
  fs::create_directories(image / "l1");
  fs::create_directories(image / "l2");
  if (auto s = CreateTarGz(l1, {}, image / "l1/layer.tar"); !s.ok()) return s;
  if (auto s = CreateTarGz(l2, {}, image / "l2/layer.tar"); !s.ok()) return s;
  WriteFile(image / "config.json",
            R"~({"config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo default-cmd from $PWD"],
                "Env": ["IMAGE_VAR=from-image", "PATH=/bin"], "WorkingDir": "/work"}})~");
  WriteFile(image / "manifest.json",
            R"~([{"Config": "config.json", "RepoTags": ["medperf/test:1"],
                 "Layers": ["l1/layer.tar", "l2/layer.tar"]}])~");
  if (auto s = CreateTarGz(image, {}, work / "image.tar"); !s.ok()) return s;
  return work / "image.tar";
}

TEST_F(SandboxTest, DockerSaveTarballRunsInTheSandbox) {
  auto image = BuildDockerSaveImage(dir_ / "build");
  ASSERT_TRUE(image.ok()) << image.status();
  auto config = ParseContainerConfig(
      "container_type: DockerArchive\nimage: https://example.org/image.tar\ntasks:\n"
      "  infer:\n    output_volumes: {out: {mount_path: /mlcommons/volumes/out, type: directory}}\n"
      "  evaluate:\n    run_args:\n      command:\n        - |\n"
      "          read line < /etc/added.txt; echo \"$line\"\n"
      "          test -e /etc/removed.txt && echo 'whiteout ignored'\n"
      "          echo \"$IMAGE_VAR\" > /mlcommons/volumes/out/o.txt\n"
      "          ( : > /etc/x ) 2>/dev/null && echo 'root is writable'\n"
      "          exit 0\n"
      "    output_volumes: {out: {mount_path: /mlcommons/volumes/out, type: directory}}\n",
      "archive container");
  ASSERT_TRUE(config.ok()) << config.status();
  TaskRun run{.task = "infer", .mounts = {{"out", dir_ / "out"}}, .image_file = *image};
  TaskOutcome outcome = RunOk(*config, run);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_EQ(output_, "default-cmd from /work\n");

  run.task = "evaluate";
  outcome = RunOk(*config, run);
  EXPECT_TRUE(outcome.ok()) << outcome.Describe() << output_;
  EXPECT_EQ(output_, "from layer 2\n");
  EXPECT_EQ(ReadFile(dir_ / "out/o.txt"), "from-image\n");

  auto hash = runner_->ImageHash(*config, *image);
  EXPECT_EQ(*hash, *Sha256File(*image)) << "bare hex, as the MedPerf client stores it";
  // The unpacked root is cached by the tarball's hash.
  EXPECT_TRUE(fs::exists(dir_ / "images" / *hash / "rootfs/bin/sh"));
}

// A broken tarball is named as the container config names it (not only by its cached
// copy), with what to do.
TEST_F(SandboxTest, ABrokenImageTarballIsNamedWithTheFix) {
  WriteFile(dir_ / "cached-copy", "not a tar archive at all");
  auto config = ParseContainerConfig(
      "container_type: DockerArchive\nimage: https://example.org/broken.tar\ntasks:\n"
      "  infer:\n    output_volumes: {out: {mount_path: /mlcommons/volumes/out, type: "
      "directory}}\n",
      "broken archive");
  ASSERT_TRUE(config.ok()) << config.status();
  TaskRun run{
      .task = "infer", .mounts = {{"out", dir_ / "out"}}, .image_file = dir_ / "cached-copy"};
  auto outcome = runner_->Run(*config, run);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find("https://example.org/broken.tar"), std::string::npos)
      << outcome.status();
  EXPECT_NE(outcome.status().message().find("docker save"), std::string::npos) << outcome.status();
  absl::Status prepared = runner_->Prepare(*config, dir_ / "cached-copy");
  EXPECT_NE(prepared.message().find("https://example.org/broken.tar"), std::string::npos)
      << prepared;
}

TEST_F(SandboxTest, HostileImageCannotRedirectMountPoints) {
  fs::path victim = dir_ / "host_victim";
  fs::create_directories(victim);
  auto image = BuildDockerSaveImage(dir_ / "build", victim.string());
  ASSERT_TRUE(image.ok()) << image.status();
  auto config = ParseContainerConfig(
      "container_type: DockerArchive\nimage: x\ntasks:\n  infer:\n"
      "    output_volumes: {out: {mount_path: /mlcommons/volumes/out, type: directory}}\n",
      "hostile");
  TaskRun run{.task = "infer", .mounts = {{"out", dir_ / "out"}}, .image_file = *image};
  auto outcome = runner_->Run(*config, run);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find("crosses a symlink"), std::string_view::npos)
      << outcome.status();
  EXPECT_TRUE(fs::is_empty(victim));
}

}  // namespace
}  // namespace medperf

namespace medperf {
namespace {

// A root daemon's tasks run as the task user, who must be able to read each input; a
// folder only its owner may read is reported before anything runs, naming the path.
TEST(TaskIdentityTest, UnreadableInputsAreReportedWithTheFix) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: only a root daemon switches users";
  testing::TempDir dir;
  fs::path data = dir.path() / "data";
  fs::create_directories(data / "sub");
  testing::WriteFile(data / "sub" / "scan.txt", "x");
  ::chmod(dir.path().c_str(), 0700);  // the parent stays private: staging binds the input
  ::chmod(data.c_str(), 0755);
  ::chmod((data / "sub").c_str(), 0755);
  ::chmod((data / "sub" / "scan.txt").c_str(), 0600);
  TaskIdentity task{.uid = kFallbackTaskUid, .gid = kFallbackTaskUid, .switch_user = true};
  absl::Status st = CheckReadableBy(task, {data});
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
  EXPECT_NE(st.message().find((data / "sub" / "scan.txt").string()), std::string::npos) << st;
  EXPECT_NE(st.message().find("setfacl -R -m u:"), std::string::npos) << st;
  ::chmod((data / "sub" / "scan.txt").c_str(), 0644);
  EXPECT_TRUE(CheckReadableBy(task, {data}).ok());
  // The daemon's own user (no switch) is never checked.
  ::chmod(data.c_str(), 0700);
  EXPECT_TRUE(CheckReadableBy(TaskIdentity{}, {data}).ok());
  EXPECT_FALSE(CheckReadableBy(task, {data}).ok());
}

TEST(TaskIdentityTest, RootIsNeverATaskUser) {
  EXPECT_FALSE(ResolveTaskIdentity("0:0").ok() && ::geteuid() == 0);
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to resolve a switched identity";
  auto fallback = ResolveTaskIdentity("");
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_TRUE(fallback->switch_user);
  EXPECT_NE(fallback->uid, 0u);
  EXPECT_EQ(ResolveTaskIdentity("0:5").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveTaskIdentity("no-such-user-xyz").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The synthetic /etc shows a task what a read-only bind of the host's entries showed it
// (the task user is "other"): a private key among the CA certificates stays out, the
// rest keeps its modes. Tried in a private mount namespace whose /etc/ssl/certs is a
// tmpfs holding one public and one private file, so the host's /etc is never touched.
TEST(SyntheticEtcTest, OnlyWhatOthersMayReadIsCopied) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private mount namespace over /etc";
  if (!fs::is_directory("/etc/ssl/certs")) GTEST_SKIP() << "no /etc/ssl/certs on this host";
  testing::TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/etc/ssl/certs", "tmpfs", 0, "mode=0755") != 0) {
      ::_exit(10);
    }
    std::ofstream("/etc/ssl/certs/public.pem") << "public\n";
    std::ofstream("/etc/ssl/certs/private.key") << "secret\n";
    ::chmod("/etc/ssl/certs/public.pem", 0644);
    ::chmod("/etc/ssl/certs/private.key", 0600);
    TaskIdentity who{.uid = kFallbackTaskUid, .gid = kFallbackTaskUid, .switch_user = true};
    auto etc = SyntheticEtc(dir.path(), who);
    if (!etc.ok()) ::_exit(11);
    struct stat st;
    if (::stat((*etc / "ssl/certs/public.pem").c_str(), &st) != 0)
      code = 12;
    else if ((st.st_mode & 07777) != 0644)
      code = 13;
    if (fs::exists(*etc / "ssl/certs/private.key")) code = 14;
    if (::stat((*etc / "passwd").c_str(), &st) != 0 || (st.st_mode & 0444) != 0444) code = 15;
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  // 10: namespace set-up failed, 11: SyntheticEtc failed, 12/13: the public file is missing
  // or changed mode, 14: the private key was copied, 15: passwd unreadable.
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace medperf
