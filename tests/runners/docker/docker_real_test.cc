// The Docker runner through a real engine: a private dockerd started by this process
// (tests/support/docker_engine.h), images `docker import`ed from the example benchmark's
// programs and the host's dash with the libraries they need; no registry. Every test
// skips, saying why, where the engine cannot run. After every test no container is left
// (`docker ps -a` is empty): the runner removes what it started, on every path.
//
// The hostile-container classes (issue 11) run through the real daemon on this engine in
// tests/security (LocalSecurityTest/*.docker); here the runner's own guarantees are
// checked one by one.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "runners/container_config.h"
#include "runners/docker_runner.h"
#include "runners/runner_factory.h"
#include "runners/subprocess.h"
#include "tests/support/docker_engine.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr char kImage[] = "medperf-test/cxr:1";
constexpr char kProgramDir[] = "/opt/cxr";  // where the example programs sit in kImage

fs::path Cxr() { return testing::BuildDir() / "examples" / "chestxray"; }

// One image for every test of this process: /bin/sh (dash) and the example programs in
// kProgramDir, each with its libraries.
::testing::AssertionResult BuildImage() {
  static TempDir* work = new TempDir;
  fs::path root = *work / "rootfs";
  auto sh = testing::CopyWithLibraries("/bin/dash", root, "/bin/sh");
  if (!sh) return sh;
  for (const char* exe : {"chestxray_prep", "chestxray_model_linear", "chestxray_model_faulty",
                          "chestxray_metrics"}) {
    // A fixed path inside the image, not the host's: a build tree under /tmp would be
    // hidden by the tmpfs every container gets at /tmp.
    auto copied = testing::CopyWithLibraries(
        testing::BinaryPath(std::string("examples/bin/") + exe), root, fs::path(kProgramDir) / exe);
    if (!copied) return copied;
  }
  // As in any base image: a task user who is not root must be able to write /tmp
  // (docker gives the tmpfs the mode of the image's /tmp).
  fs::create_directories(root / "tmp");
  fs::permissions(root / "tmp", fs::perms::all | fs::perms::sticky_bit);
  return testing::ImportImage(root, kImage);
}

// An example container folder's LocalProcess config run from kImage: the same tasks,
// volumes and commands, the program (in kProgramDir) as the entrypoint.
ContainerConfig AsDockerImage(const fs::path& folder) {
  auto config = LoadContainerConfigFile(folder / "container_config.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return {};
  config->type = ContainerType::kDockerImage;
  for (auto& [name, task] : config->tasks) {
    task.entrypoint = (fs::path(kProgramDir) / fs::path(config->image).filename()).string();
  }
  config->image = kImage;
  return *config;
}

class DockerRealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MEDPERF_REQUIRE_DOCKER_ENGINE();
    static bool built = [] {
      auto r = BuildImage();
      EXPECT_TRUE(r);
      return static_cast<bool>(r);
    }();
    ASSERT_TRUE(built) << "the test image could not be built";
    auto runner = DockerRunner::Create();
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(*runner);
  }

  void TearDown() override {
    if (!runner_) return;
    auto left =
        RunCapture({"docker", "ps", "-a", "--format", "{{.Names}}"}, std::chrono::seconds(30));
    ASSERT_TRUE(left.ok()) << left.status();
    EXPECT_EQ(left->output, "") << "containers left behind";
  }

  // Runs `task` with the daemon's split: `outputs` writable, everything else read-only.
  TaskOutcome Run(const ContainerConfig& config, const std::string& task,
                  std::map<std::string, fs::path> mounts, std::set<std::string> outputs,
                  TaskLimits limits = {}, const std::atomic<bool>* cancel = nullptr,
                  std::function<void(std::string_view)> on_line = {}) {
    output_.clear();
    TaskRun run{.task = task,
                .mounts = std::move(mounts),
                .outputs = std::move(outputs),
                .outputs_decided = true,
                .limits = limits,
                .on_output =
                    [&](std::string_view l) {
                      output_.append(l.data(), l.size()).push_back('\n');
                      if (on_line) on_line(l);
                    },
                .cancel = cancel};
    if (run.limits.wall_time.count() == 0) run.limits.wall_time = std::chrono::seconds(60);
    auto outcome = runner_->Run(config, run);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? *outcome : TaskOutcome{};
  }

  // The data preparator on the demo data, into dir_/data and dir_/labels.
  void Prepare() {
    ContainerConfig prep = AsDockerImage(Cxr() / "data_preparator");
    TaskOutcome out = Run(prep, "prepare",
                          {{"data_path", Cxr() / "demo_data/images"},
                           {"labels_path", Cxr() / "demo_data/labels"},
                           {"parameters_file", Cxr() / "data_preparator/parameters.yaml"},
                           {"output_path", dir_ / "data"},
                           {"output_labels_path", dir_ / "labels"}},
                          {"output_path", "output_labels_path"});
    ASSERT_TRUE(out.ok()) << out.Describe() << "\n" << output_;
  }

  // A container running `script` under /bin/sh for task infer, with /in read-only and
  // /out writable.
  ContainerConfig Shell(const std::string& script) {
    auto config = ParseContainerConfig(
        absl::StrCat("container_type: DockerImage\nimage: ", kImage,
                     "\ntasks:\n  infer:\n    run_args: {entrypoint: /bin/sh, command: [-c, '",
                     script,
                     "']}\n    input_volumes: {data_path: {mount_path: /in, type: directory}}\n"
                     "    output_volumes: {out: {mount_path: /out, type: directory}}\n"),
        "shell test container");
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? *config : ContainerConfig{};
  }
  TaskOutcome RunShell(const std::string& script, TaskLimits limits = {},
                       const std::atomic<bool>* cancel = nullptr,
                       std::function<void(std::string_view)> on_line = {}) {
    fs::create_directories(dir_ / "in");
    return Run(Shell(script), "infer", {{"data_path", dir_ / "in"}, {"out", dir_ / "out"}}, {"out"},
               limits, cancel, std::move(on_line));
  }

  TempDir dir_;
  std::unique_ptr<DockerRunner> runner_;
  std::string output_;
};

// The example benchmark's whole task set, as a data owner runs it, through the engine;
// outputs belong to the task user (never root) so the daemon can read and remove them.
TEST_F(DockerRealTest, ExampleBenchmarkRunsEveryTask) {
  ASSERT_NO_FATAL_FAILURE(Prepare());
  EXPECT_FALSE(fs::is_empty(dir_ / "data"));
  ContainerConfig prep = AsDockerImage(Cxr() / "data_preparator");
  std::map<std::string, fs::path> prepared = {
      {"data_path", dir_ / "data"},
      {"labels_path", dir_ / "labels"},
      {"parameters_file", Cxr() / "data_preparator/parameters.yaml"}};
  TaskOutcome sanity = Run(prep, "sanity_check", prepared, {});
  EXPECT_TRUE(sanity.ok()) << sanity.Describe() << "\n" << output_;
  auto stats_mounts = prepared;
  stats_mounts["output_path"] = dir_ / "statistics.yaml";
  TaskOutcome stats = Run(prep, "statistics", stats_mounts, {"output_path"});
  EXPECT_TRUE(stats.ok()) << stats.Describe() << "\n" << output_;
  EXPECT_TRUE(absl::StrContains(ReadFile(dir_ / "statistics.yaml"), "num_cases"));

  fs::path weights = dir_ / "weights";
  fs::create_directories(weights);
  auto untar = testing::Run({"/usr/bin/tar", "-xzf",
                             (Cxr() / "model_linear/additional_files.tar.gz").string(), "-C",
                             weights.string()});
  ASSERT_EQ(untar.exit_code, 0) << untar.err;
  ContainerConfig model = AsDockerImage(Cxr() / "model_linear");
  TaskOutcome infer = Run(model, "infer",
                          {{"data_path", dir_ / "data"},
                           {"parameters_file", Cxr() / "model_linear/parameters.yaml"},
                           {"additional_files", weights},
                           {"output_path", dir_ / "predictions"}},
                          {"output_path"});
  ASSERT_TRUE(infer.ok()) << infer.Describe() << "\n" << output_;
  ContainerConfig metrics = AsDockerImage(Cxr() / "metrics");
  TaskOutcome eval = Run(metrics, "evaluate",
                         {{"predictions", dir_ / "predictions"},
                          {"labels", dir_ / "labels"},
                          {"parameters_file", Cxr() / "metrics/parameters.yaml"},
                          {"output_path", dir_ / "results.yaml"}},
                         {"output_path"});
  ASSERT_TRUE(eval.ok()) << eval.Describe() << "\n" << output_;
  EXPECT_FALSE(ReadFile(dir_ / "results.yaml").empty());

  uint32_t task_uid = EngineTaskIdentity({}).uid;
  ASSERT_NE(task_uid, 0u);
  for (const fs::path& p : {dir_ / "predictions/predictions.json", dir_ / "results.yaml"}) {
    struct stat st;
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, task_uid) << p << " is not the task user's";
    EXPECT_NE(st.st_uid, 0u) << p << " is root's";
  }
}

// The faulty model's network mode against a listener on the host's loopback: with
// --network none the container has a loopback of its own and cannot connect.
TEST_F(DockerRealTest, NetworkIsCutOff) {
  ASSERT_NO_FATAL_FAILURE(Prepare());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  WriteFile(dir_ / "params.yaml", absl::StrCat("mode: network\nhost: 127.0.0.1\nport: ",
                                               ntohs(addr.sin_port), "\ntimeout_seconds: 2\n"));
  ContainerConfig model = AsDockerImage(Cxr() / "model_faulty/network");
  TaskOutcome out = Run(model, "infer",
                        {{"data_path", dir_ / "data"},
                         {"parameters_file", dir_ / "params.yaml"},
                         {"output_path", dir_ / "predictions"}},
                        {"output_path"});
  ::close(fd);
  EXPECT_TRUE(out.ok()) << out.Describe() << "\n" << output_;
  std::string report = ReadFile(dir_ / "predictions/network_report.yaml");
  EXPECT_TRUE(absl::StrContains(report, "connected: false")) << report;
}

// Inputs are read-only mounts, the image's root is read-only, the task is not root and
// has no capabilities, /proc/sys cannot be written; /tmp and the outputs can.
TEST_F(DockerRealTest, InputsReadOnlyNonRootNoCapabilities) {
  WriteFile(dir_ / "in/data.txt", "patient data\n");
  // Only dash builtins. Writing /proc/sys writes back the value it read, so a failure
  // of the hardening changes nothing on the host.
  TaskOutcome out = RunShell(
      "while read k v rest; do case $k in Uid:|CapEff:|NoNewPrivs:) echo \"$k $v\";; "
      "esac; done < /proc/self/status; "
      "read om < /proc/sys/vm/overcommit_memory; "
      "if (echo \"$om\" > /proc/sys/vm/overcommit_memory) 2>/dev/null; then echo BREACH procsys; "
      "fi; "
      "if (echo x >> /in/data.txt) 2>/dev/null; then echo BREACH input; fi; "
      "if (echo x > /in/new) 2>/dev/null; then echo BREACH input-new; fi; "
      "if (echo x > /planted) 2>/dev/null; then echo BREACH rootfs; fi; "
      "if (echo x > /tmp/t) 2>/dev/null; then echo tmp ok; fi; "
      "echo done > /out/result",
      {.memory_bytes = 256 << 20, .max_processes = 64, .cpus = 1, .tmp_bytes = 1 << 20});
  EXPECT_TRUE(out.ok()) << out.Describe() << "\n" << output_;
  EXPECT_FALSE(absl::StrContains(output_, "BREACH")) << output_;
  EXPECT_TRUE(absl::StrContains(output_, "CapEff: 0000000000000000")) << output_;
  EXPECT_TRUE(absl::StrContains(output_, "NoNewPrivs: 1")) << output_;
  EXPECT_TRUE(absl::StrContains(output_, absl::StrCat("Uid: ", EngineTaskIdentity({}).uid)))
      << output_;
  EXPECT_FALSE(absl::StrContains(output_, "Uid: 0")) << output_;
  EXPECT_TRUE(absl::StrContains(output_, "tmp ok")) << output_;
  EXPECT_EQ(ReadFile(dir_ / "in/data.txt"), "patient data\n");
  EXPECT_FALSE(fs::exists(dir_ / "in/new"));
  EXPECT_EQ(ReadFile(dir_ / "out/result"), "done\n");
}

TEST_F(DockerRealTest, TimeLimitKillsAndRemovesTheContainer) {
  auto start = std::chrono::steady_clock::now();
  TaskOutcome out =
      RunShell("echo started; while :; do :; done", {.wall_time = std::chrono::seconds(1)});
  EXPECT_TRUE(out.timed_out) << out.Describe() << "\n" << output_;
  EXPECT_EQ(out.limit_detail, "limits.infer.time_seconds = 1");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

// The shell doubles a string until the cgroup's memory limit kills it.
TEST_F(DockerRealTest, MemoryLimitIsReportedAsSuch) {
  TaskOutcome out =
      RunShell("s=xxxxxxxxxxxxxxxx; while :; do s=\"$s$s\"; done", {.memory_bytes = 32 << 20});
  EXPECT_EQ(out.limit_hit, "memory") << out.Describe() << "\n" << output_;
  EXPECT_TRUE(absl::StrContains(out.limit_detail, "limits.infer.memory")) << out.limit_detail;
}

TEST_F(DockerRealTest, HugeOutputHitsTheOutputCap) {
  TaskOutcome out = RunShell(
      "s=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef; "
      "s=$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s$s; while :; do echo $s; done > /out/flood",
      {.output_bytes = 1 << 20, .tmp_bytes = 1 << 20});
  EXPECT_EQ(out.limit_hit, "output") << out.Describe() << "\n" << output_;
  EXPECT_LE(fs::file_size(dir_ / "out/flood"), uint64_t{1} << 20);
}

// Cancelling kills the container, and it is removed (TearDown checks `docker ps -a`).
TEST_F(DockerRealTest, CancelStopsAndRemovesTheContainer) {
  std::atomic<bool> cancel{false};
  TaskOutcome out =
      RunShell("echo started; while :; do :; done", {}, &cancel, [&](std::string_view line) {
        if (line == "started") cancel = true;
      });
  EXPECT_TRUE(out.cancelled) << out.Describe() << "\n" << output_;
}

TEST_F(DockerRealTest, ExitCodeAndOutputReachTheCaller) {
  TaskOutcome out = RunShell("echo hi > /out/x; echo to-log; exit 4");
  EXPECT_EQ(out.exit_code, 4);
  EXPECT_EQ(ReadFile(dir_ / "out/x"), "hi\n");
  EXPECT_TRUE(absl::StrContains(output_, "to-log")) << output_;
}

// A `docker save` tarball (DockerArchive) given as the fetched local file: loaded once
// per image id and reused by later runners (one per task, as the daemon makes them) and
// after the engine already has it; a file that is not an archive and a relative path
// nobody fetched fail naming the image and what to do.
TEST_F(DockerRealTest, ImageArchiveIsLoadedOnceAndReused) {
  fs::path tar = dir_ / "cxr.tar";
  auto saved = RunCapture({"docker", "save", "-o", tar.string(), kImage}, std::chrono::seconds(60));
  ASSERT_TRUE(saved.ok() && saved->exit_code == 0) << saved->output;
  auto id = RunCapture({"docker", "image", "inspect", "--format", "{{.Id}}", kImage},
                       std::chrono::seconds(30));
  ASSERT_TRUE(id.ok() && id->exit_code == 0);
  std::string image_id(absl::StripAsciiWhitespace(id->output));
  // Gone from the engine: the runner must load it from the file.
  auto removed = RunCapture({"docker", "image", "rm", kImage}, std::chrono::seconds(60));
  ASSERT_TRUE(removed.ok() && removed->exit_code == 0) << removed->output;

  auto config = ParseContainerConfig(
      "container_type: DockerArchive\nimage: https://example.org/cxr.tar\ntasks:\n  infer:\n"
      "    run_args: {entrypoint: /bin/sh, command: [-c, 'echo ran > /out/x']}\n"
      "    output_volumes: {out: {mount_path: /out, type: directory}}\n",
      "archive container");
  ASSERT_TRUE(config.ok()) << config.status();
  for (int i = 0; i < 2; ++i) {
    auto runner = DockerRunner::Create();  // a new runner per task, as the daemon does
    ASSERT_TRUE(runner.ok());
    TaskRun run{.task = "infer", .mounts = {{"out", dir_ / "out"}}, .image_file = tar};
    auto out = (*runner)->Run(*config, run);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(out->ok()) << out->Describe();
    EXPECT_EQ(ReadFile(dir_ / "out/x"), "ran\n");
    auto spec = (*runner)->MakeSpec(*config, run, "n");
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->image, image_id) << "the archive's image is run by its id";
  }
  auto images = RunCapture({"docker", "image", "inspect", image_id}, std::chrono::seconds(30));
  EXPECT_TRUE(images.ok() && images->exit_code == 0) << "the archive was not loaded";

  WriteFile(dir_ / "not-an-image.tar", "garbage");
  auto runner = DockerRunner::Create();
  ASSERT_TRUE(runner.ok());
  auto bad = (*runner)->Run(*config, TaskRun{.task = "infer",
                                             .mounts = {{"out", dir_ / "out"}},
                                             .image_file = dir_ / "not-an-image.tar"});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "not-an-image.tar")) << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "docker save")) << bad.status();
  auto relative = ParseContainerConfig(
      "container_type: DockerArchive\nimage: images/cxr.tar\ntasks:\n  infer: {}\n", "rel");
  ASSERT_TRUE(relative.ok());
  bad = (*runner)->Run(*relative, TaskRun{.task = "infer"});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "images/cxr.tar")) << bad.status();
  EXPECT_FALSE(absl::StrContains(bad.status().message(), "TaskRun")) << bad.status();
}

// Tarballs are a model owner's: one whose manifest names a tag the site uses does not
// move that tag (it is loaded by id only), one whose config file is named after another
// image's id is refused instead of running that other image, and an image an operator
// removed from the engine is loaded again by the next task.
TEST_F(DockerRealTest, HostileArchivesCannotRetagOrImpersonateAndRemovedImagesComeBack) {
  auto docker = [](std::vector<std::string> args) {
    args.insert(args.begin(), "docker");
    auto r = RunCapture(args, std::chrono::seconds(120));
    EXPECT_TRUE(r.ok() && r->exit_code == 0)
        << absl::StrJoin(args, " ") << ": " << (r.ok() ? r->output : r.status().ToString());
    return r.ok() ? std::string(absl::StripAsciiWhitespace(r->output)) : std::string();
  };
  std::string original = docker({"image", "inspect", "--format", "{{.Id}}", kImage});
  // Another image (same files, one more ENV: another config, another id), saved under
  // the name kImage, after which kImage points back to the original.
  docker({"tag", kImage, "medperf-test/original:1"});
  fs::path rootfs_tar = dir_ / "rootfs.tar";
  docker({"create", "--name", "export-me", kImage, "/bin/sh"});
  docker({"export", "-o", rootfs_tar.string(), "export-me"});
  docker({"rm", "export-me"});
  std::string hostile = docker({"import", "--change", "ENV HOSTILE=1", "--change",
                                "ENTRYPOINT [\"/bin/sh\"]", rootfs_tar.string()});
  ASSERT_NE(hostile, original);
  docker({"tag", hostile, kImage});
  fs::path tar = dir_ / "hostile.tar";
  docker({"save", "-o", tar.string(), kImage});
  docker({"tag", "medperf-test/original:1", kImage});
  docker({"rmi", "-f", hostile});
  ASSERT_EQ(docker({"image", "inspect", "--format", "{{.Id}}", kImage}), original);

  auto config = ParseContainerConfig(
      "container_type: DockerArchive\nimage: https://example.org/x.tar\ntasks:\n  infer:\n"
      "    run_args: {command: [-c, 'echo \"$HOSTILE\" > /out/x']}\n"
      "    output_volumes: {out: {mount_path: /out, type: directory}}\n",
      "hostile archive");
  ASSERT_TRUE(config.ok()) << config.status();
  auto run_archive = [&](const fs::path& file) {
    auto runner = DockerRunner::Create();  // a new runner per task, as the daemon does
    EXPECT_TRUE(runner.ok());
    fs::remove_all(dir_ / "out");
    TaskRun run{.task = "infer", .mounts = {{"out", dir_ / "out"}}, .image_file = file};
    return (*runner)->Run(*config, run);
  };
  auto ran = run_archive(tar);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(ran->ok()) << ran->Describe();
  EXPECT_EQ(ReadFile(dir_ / "out/x"), "1\n") << "the tarball's own image ran";
  EXPECT_EQ(docker({"image", "inspect", "--format", "{{.Id}}", kImage}), original)
      << "loading the tarball moved the tag " << kImage;
  EXPECT_EQ(docker({"image", "inspect", "--format", "{{len .RepoTags}}", hostile}), "0");

  // Removed by an operator: the next task loads it again.
  docker({"rmi", "-f", hostile});
  ran = run_archive(tar);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(ran->ok()) << ran->Describe();
  EXPECT_EQ(ReadFile(dir_ / "out/x"), "1\n");

  // The same tarball with its config renamed after the original image's id.
  fs::path unpacked = dir_ / "unpacked";
  fs::create_directories(unpacked);
  auto untar = testing::Run({"/usr/bin/tar", "-xf", tar.string(), "-C", unpacked.string()});
  ASSERT_EQ(untar.exit_code, 0) << untar.err;
  std::string hostile_hex = hostile.substr(7), original_hex = original.substr(7);
  fs::rename(unpacked / (hostile_hex + ".json"), unpacked / (original_hex + ".json"));
  std::string manifest = ReadFile(unpacked / "manifest.json");
  ASSERT_TRUE(absl::StrContains(manifest, hostile_hex));
  WriteFile(unpacked / "manifest.json",
            absl::StrReplaceAll(manifest, {{hostile_hex, original_hex}}));
  fs::path lying = dir_ / "lying.tar";
  auto retar = testing::Run({"/usr/bin/tar", "-cf", lying.string(), "-C", unpacked.string(), "."});
  ASSERT_EQ(retar.exit_code, 0) << retar.err;
  ran = run_archive(lying);
  ASSERT_FALSE(ran.ok()) << "a tarball claiming another image's id ran";
  EXPECT_TRUE(absl::StrContains(ran.status().message(), "lying.tar")) << ran.status();
  EXPECT_TRUE(absl::StrContains(ran.status().message(), "altered")) << ran.status();
}

// An engine without a GPU runtime refuses --gpus before the container starts: said as
// the engine's problem with the fix, not as the task's exit code 125.
TEST_F(DockerRealTest, GpusOnAnEngineWithoutAGpuRuntimeAreExplained) {
  fs::create_directories(dir_ / "in");
  auto runner = DockerRunner::Create();
  ASSERT_TRUE(runner.ok());
  TaskRun run{.task = "infer",
              .mounts = {{"data_path", dir_ / "in"}, {"out", dir_ / "out"}},
              .outputs = {"out"},
              .outputs_decided = true,
              .gpus = "all"};
  run.limits.wall_time = std::chrono::seconds(60);
  auto out = (*runner)->Run(Shell("echo ran > /out/x"), run);
  if (out.ok() && out->ok()) GTEST_SKIP() << "this engine has a GPU runtime and a GPU";
  ASSERT_FALSE(out.ok()) << out->Describe();
  EXPECT_TRUE(absl::StrContains(out.status().message(), "no GPU runtime")) << out.status();
  EXPECT_TRUE(absl::StrContains(out.status().message(), "policy.gpus")) << out.status();
}

// runner.docker.host: the engine named in the config is the one used, whatever
// DOCKER_HOST says; an unreachable one is an error naming its socket; `auto` says why
// it picked docker.
TEST_F(DockerRealTest, ConfiguredEngineIsUsedAndAnUnreachableOneIsNamed) {
  std::string why;
  const testing::DockerEngine* engine = testing::PrivateDockerEngine(&why);
  ASSERT_NE(engine, nullptr) << why;
  auto config = ParseContainerConfig(
      absl::StrCat("container_type: DockerImage\nimage: ", kImage,
                   "\ntasks:\n  infer:\n    run_args: {entrypoint: /bin/sh, command: [-c, "
                   "'echo ok > /out/x']}\n    output_volumes: {out: {mount_path: /out, type: "
                   "directory}}\n"),
      "engine test");
  ASSERT_TRUE(config.ok());
  ::unsetenv("DOCKER_HOST");
  RunnerOptions options;
  options.engine = EngineChoice::kDocker;
  options.docker_host = engine->host;
  auto runner = CreateRunner(*config, options);
  ::setenv("DOCKER_HOST", engine->host.c_str(), 1);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ::unsetenv("DOCKER_HOST");
  auto out = (*runner)->Run(*config, TaskRun{.task = "infer", .mounts = {{"out", dir_ / "out"}}});
  ::setenv("DOCKER_HOST", engine->host.c_str(), 1);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->ok()) << out->Describe();
  EXPECT_EQ(ReadFile(dir_ / "out/x"), "ok\n");

  options.engine = EngineChoice::kAuto;
  EXPECT_TRUE(absl::StartsWith(DescribeRunnerChoice(*config, options), "docker: runner auto"))
      << DescribeRunnerChoice(*config, options);

  std::string nowhere = absl::StrCat("unix://", (dir_ / "no-engine.sock").string());
  options.docker_host = nowhere;
  EXPECT_TRUE(absl::StartsWith(DescribeRunnerChoice(*config, options), "sandbox: runner auto"))
      << DescribeRunnerChoice(*config, options);
  options.engine = EngineChoice::kDocker;
  auto refused = CreateRunner(*config, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), nowhere)) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "runner.docker.host"))
      << refused.status();
}

}  // namespace
}  // namespace medperf
