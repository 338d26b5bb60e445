// Docker and Apptainer runners: the command lines they build and the hardening in them
// (always: no engine needed), their run/inspect/kill/cleanup flow against fake engines
// written here (always), and real runs where the engine works on this machine (skipped,
// visibly, otherwise).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/archive.h"
#include "runners/apptainer_runner.h"
#include "runners/container_config.h"
#include "runners/docker_runner.h"
#include "runners/runner_factory.h"
#include "runners/subprocess.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
using Args = std::vector<std::string>;

ResolvedMount Mount(std::string name, fs::path host, std::string mount, bool ro,
                    VolumeType type = VolumeType::kDirectory) {
  return ResolvedMount{std::move(name), std::move(host), std::move(mount), type, ro};
}

// Index of `flag` followed by `value` in argv, or -1.
int FlagAt(const Args& argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return static_cast<int>(i);
  }
  return -1;
}

bool Contains(const Args& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

// Nothing that widens a container's reach may ever appear in a docker command line.
void ExpectNoDangerousDockerFlags(const Args& argv) {
  for (const std::string& a : argv) {
    for (const char* bad :
         {"--privileged", "--cap-add", "--device", "--pid", "--userns", "--uts", "--cgroupns",
          "--volumes-from", "--mount", "-v", "-p", "--publish", "--oom-kill-disable", "--sysctl"}) {
      EXPECT_FALSE(a == bad || absl::StartsWith(a, absl::StrCat(bad, "=")))
          << "dangerous flag " << a << " in " << absl::StrJoin(argv, " ");
    }
    EXPECT_FALSE(absl::StrContains(a, "unconfined")) << absl::StrJoin(argv, " ");
    EXPECT_NE(a, "host") << "host namespace in " << absl::StrJoin(argv, " ");
  }
}

DockerRunSpec HardenedSpec() {
  DockerRunSpec spec;
  spec.container_name = "medperf-infer-0123456789abcdef";
  spec.user = "1000:1000";
  spec.image = "mlcommons/chestxray-tutorial-cnn:0.0.1";
  spec.mounts = {Mount("data_path", "/d/data", "/mlcommons/volumes/data", true),
                 Mount("output_path", "/d/preds", "/mlcommons/volumes/predictions", false)};
  spec.command = {"infer", "--x"};
  return spec;
}

TEST(DockerCommandTest, HardensEveryRun) {
  DockerRunSpec spec = HardenedSpec();
  spec.limits.memory_bytes = 1 << 30;
  spec.limits.max_processes = 512;
  spec.limits.cpus = 2.5;
  spec.limits.tmp_bytes = 1 << 20;
  spec.limits.output_bytes = 4 << 20;
  spec.limits.wall_time = std::chrono::seconds(60);  // the supervisor's, not docker's
  auto args = BuildDockerRunArgs(spec);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(*args, (Args{"docker",
                         "run",
                         "--name",
                         "medperf-infer-0123456789abcdef",
                         "--pull",
                         "never",
                         "--user",
                         "1000:1000",
                         "--cap-drop",
                         "ALL",
                         "--security-opt",
                         "no-new-privileges",
                         "--read-only",
                         "--tmpfs",
                         "/tmp:rw,exec,nosuid,nodev,size=1048576",
                         "--ipc",
                         "private",
                         "--log-driver",
                         "none",
                         "--ulimit",
                         "core=0",
                         "--ulimit",
                         "fsize=4194304",
                         "--network",
                         "none",
                         "--memory",
                         "1073741824",
                         "--memory-swap",
                         "1073741824",
                         "--pids-limit",
                         "512",
                         "--cpus",
                         "2.5",
                         "--volume",
                         "/d/data:/mlcommons/volumes/data:ro",
                         "--volume",
                         "/d/preds:/mlcommons/volumes/predictions:rw",
                         "--env",
                         "NVIDIA_VISIBLE_DEVICES=void",
                         "mlcommons/chestxray-tutorial-cnn:0.0.1",
                         "infer",
                         "--x"}));
  ExpectNoDangerousDockerFlags(*args);
  EXPECT_FALSE(Contains(*args, "--rm")) << "the container must outlive the CLI for docker inspect";

  // Without limits the hardening stays; only the limit flags go.
  spec.limits = {};
  args = BuildDockerRunArgs(spec);
  ASSERT_TRUE(args.ok());
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--cap-drop", "ALL"},
                                                        {"--security-opt", "no-new-privileges"},
                                                        {"--tmpfs", "/tmp:rw,exec,nosuid,nodev"},
                                                        {"--user", "1000:1000"},
                                                        {"--network", "none"},
                                                        {"--ipc", "private"}}) {
    EXPECT_GE(FlagAt(*args, flag, value), 0) << flag << " " << value;
  }
  EXPECT_TRUE(Contains(*args, "--read-only"));
  for (const char* gone : {"--memory", "--memory-swap", "--pids-limit", "--cpus"}) {
    EXPECT_FALSE(Contains(*args, gone)) << gone;
  }
  // Every hardening flag comes before the image (after it, docker passes it to the task).
  auto image = std::find(args->begin(), args->end(), spec.image) - args->begin();
  EXPECT_LT(FlagAt(*args, "--cap-drop", "ALL"), image);
  EXPECT_LT(FlagAt(*args, "--volume", "/d/data:/mlcommons/volumes/data:ro"), image);
}

TEST(DockerCommandTest, OptionalFlagsFromTheConfig) {
  DockerRunSpec spec = HardenedSpec();
  spec.gpus = "device=0,2";
  spec.shm_size = "1g";
  spec.env = {{"A", "1"}, {"B", "two words"}};
  spec.entrypoint = "/bin/run";
  spec.allow_network = true;
  spec.command.clear();
  auto args = BuildDockerRunArgs(spec);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(FlagAt(*args, "--network", "none"), -1) << "the task was allowed the network";
  EXPECT_GE(FlagAt(*args, "--gpus", "\"device=0,2\""), 0);
  EXPECT_FALSE(Contains(*args, "NVIDIA_VISIBLE_DEVICES=void")) << "GPUs were granted";
  EXPECT_GE(FlagAt(*args, "--shm-size", "1g"), 0);
  EXPECT_GE(FlagAt(*args, "--env", "B=two words"), 0);
  EXPECT_GE(FlagAt(*args, "--entrypoint", "/bin/run"), 0);
  EXPECT_EQ(args->back(), spec.image);
  ExpectNoDangerousDockerFlags(*args);
  spec.gpus = "all";
  EXPECT_GE(FlagAt(*BuildDockerRunArgs(spec), "--gpus", "all"), 0);
  // A mount claiming /tmp replaces the tmpfs rather than clashing with it.
  spec.mounts.push_back(Mount("scratch", "/d/scratch", "/tmp", false));
  EXPECT_FALSE(Contains(*BuildDockerRunArgs(spec), "--tmpfs"));
}

TEST(DockerCommandTest, RefusesRootUsersAndMalformedValues) {
  for (const char* user : {"0:0", "0:1000", "1000:0", "root", "", "1000", "1000:1000:1", "-1:5"}) {
    DockerRunSpec spec = HardenedSpec();
    spec.user = user;
    EXPECT_FALSE(BuildDockerRunArgs(spec).ok()) << "user '" << user << "' was accepted";
  }
  DockerRunSpec spec = HardenedSpec();
  spec.image = "--privileged";
  EXPECT_FALSE(BuildDockerRunArgs(spec).ok());
  spec = HardenedSpec();
  spec.gpus = "device=0\",capabilities=all";
  EXPECT_FALSE(BuildDockerRunArgs(spec).ok());
  spec = HardenedSpec();
  spec.shm_size = "1g --privileged";
  EXPECT_FALSE(BuildDockerRunArgs(spec).ok());
  for (const char* inside : {"/proc/sys", "/sys/fs/cgroup", "/dev/sda", "/", "/proc", "x/rel"}) {
    spec = HardenedSpec();
    spec.mounts.push_back(Mount("evil", "/d/evil", inside, false));
    EXPECT_FALSE(BuildDockerRunArgs(spec).ok()) << "mount at " << inside << " was accepted";
  }
  spec = HardenedSpec();
  spec.mounts.push_back(Mount("bad", "/a:b", "/x", true));
  EXPECT_FALSE(BuildDockerRunArgs(spec).ok());
  spec = HardenedSpec();
  spec.mounts.push_back(Mount("bad", "/a,b", "/x", true));
  EXPECT_FALSE(BuildDockerRunArgs(spec).ok());
}

TEST(EngineTaskIdentityTest, NeverRoot) {
  TaskIdentity root;  // what an unset identity says
  TaskIdentity chosen = EngineTaskIdentity(root);
  EXPECT_NE(chosen.uid, 0u);
  EXPECT_NE(chosen.gid, 0u);
  if (::geteuid() == 0) {
    EXPECT_EQ(chosen.uid, kNobodyId);
    EXPECT_TRUE(chosen.switch_user);
  } else {
    EXPECT_EQ(chosen.uid, ::geteuid());
    EXPECT_FALSE(chosen.switch_user);
  }
  chosen = EngineTaskIdentity(TaskIdentity{.uid = 4242, .gid = 0});
  EXPECT_EQ(chosen.uid, 4242u);
  EXPECT_EQ(chosen.gid, kNobodyId) << "the root group is never handed out";
  chosen = EngineTaskIdentity(TaskIdentity{.uid = 4242, .gid = 4343});
  EXPECT_EQ(chosen.gid, 4343u);
  EXPECT_EQ(chosen.switch_user, ::geteuid() != 4242u);
}

constexpr char kModelConfig[] = R"(
container_type: DockerImage
image: example/model:1
tasks:
  infer:
    run_args: {command: "python3 infer.py", gpus: all, environment: {E: config}}
    input_volumes:
      data_path: {mount_path: /mlcommons/volumes/data, type: directory}
      parameters_file: {mount_path: /mlcommons/volumes/parameters/parameters_file.yaml, type: file}
    output_volumes:
      output_path: {mount_path: /mlcommons/volumes/predictions, type: directory}
      log: {mount_path: /mlcommons/volumes/log.txt, type: file}
)";

absl::StatusOr<std::unique_ptr<DockerRunner>> FakeDocker(const std::string& binary,
                                                         TaskIdentity identity = {}) {
  DockerOptions options;
  options.docker = binary;
  options.identity = identity;
  return DockerRunner::Create(options);
}

TEST(DockerCommandTest, SpecFromConfigResolvesMountsAndOutputOwnership) {
  TempDir dir;
  WriteFile(dir / "params.yaml", "a: 1\n");
  fs::create_directories(dir / "data");
  auto config = ParseContainerConfig(kModelConfig, "model");
  ASSERT_TRUE(config.ok()) << config.status();
  auto runner = FakeDocker("/bin/true", TaskIdentity{.uid = 7, .gid = 8});  // never executed
  ASSERT_TRUE(runner.ok()) << runner.status();
  TaskRun run{.task = "infer",
              .mounts = {{"data_path", dir / "data"},
                         {"parameters_file", dir / "params.yaml"},
                         {"output_path", dir / "out/preds"},
                         {"log", dir / "out/log.txt"}},
              .outputs = {"output_path", "log"},
              .outputs_decided = true,
              .limits = {.memory_bytes = 1 << 30, .max_processes = 100, .cpus = 1},
              .gpus = "device=1",
              .env = {{"E", "run"}, {"MEDPERF_LOGLEVEL", "debug"}}};
  auto spec = (*runner)->MakeSpec(*config, run, "medperf-infer-x");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(fs::is_directory(dir / "out/preds"));
  EXPECT_TRUE(fs::is_regular_file(dir / "out/log.txt"));
  if (::geteuid() == 0) {
    struct stat st;
    ASSERT_EQ(::stat((dir / "out/preds").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 7u) << "outputs belong to the task user";
    EXPECT_EQ(st.st_gid, 8u);
    ASSERT_EQ(::stat((dir / "data").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << "inputs are left alone";
  }
  auto args = BuildDockerRunArgs(*spec);
  ASSERT_TRUE(args.ok());
  std::string joined = absl::StrJoin(*args, " ") + " ";
  EXPECT_NE(joined.find("--user 7:8 "), std::string::npos) << joined;
  EXPECT_NE(joined.find((dir / "params.yaml").string() +
                        ":/mlcommons/volumes/parameters/parameters_file.yaml:ro"),
            std::string::npos)
      << joined;
  EXPECT_NE(joined.find((dir / "data").string() + ":/mlcommons/volumes/data:ro"), std::string::npos)
      << joined;
  EXPECT_NE(joined.find((dir / "out/log.txt").string() + ":/mlcommons/volumes/log.txt:rw"),
            std::string::npos);
  EXPECT_NE(joined.find("--memory 1073741824 --memory-swap 1073741824 --pids-limit 100 --cpus 1 "),
            std::string::npos)
      << joined;
  EXPECT_NE(joined.find("--gpus \"device=1\" --env E=run --env MEDPERF_LOGLEVEL=debug "
                        "example/model:1 python3 infer.py "),
            std::string::npos)
      << joined;
  ExpectNoDangerousDockerFlags(*args);

  // The daemon, not the container, decides what is writable.
  run.outputs = {"output_path"};
  auto refused = (*runner)->MakeSpec(*config, run, "medperf-infer-y");
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "log")) << refused.status();
}

TEST(DockerCommandTest, RefusesDangerousRunArgs) {
  TempDir dir;
  fs::create_directories(dir / "data");
  auto runner = FakeDocker("/bin/true");
  ASSERT_TRUE(runner.ok()) << runner.status();
  auto attempt = [&](const std::string& run_args, const std::string& image = "example/model:1") {
    std::string yaml = absl::StrCat("container_type: DockerImage\nimage: '", image,
                                    "'\ntasks:\n  infer:\n    run_args: ", run_args,
                                    "\n    input_volumes: {data_path: {mount_path: /data, type: "
                                    "directory}}\n");
    auto config = ParseContainerConfig(yaml, "hostile");
    if (!config.ok()) return config.status();  // refused by the parser: fine too
    TaskRun run{.task = "infer", .mounts = {{"data_path", dir / "data"}}};
    return (*runner)->MakeSpec(*config, run, "medperf-infer-z").status();
  };
  // Keys other than command/entrypoint/environment/gpus/shm_size never get this far.
  for (const char* key :
       {"privileged: true", "cap_add: [SYS_ADMIN]", "devices: [/dev/sda]", "volumes: ['/:/host']",
        "network: host", "pid: host", "security_opt: [seccomp=unconfined]", "ports: ['22:22']",
        "user: root", "extra_args: [--privileged]"}) {
    absl::Status status = attempt(absl::StrCat("{", key, "}"));
    EXPECT_FALSE(status.ok()) << key;
    EXPECT_TRUE(absl::StrContains(status.message(), "run_args")) << status;
  }
  absl::Status status = attempt("{environment: {NVIDIA_VISIBLE_DEVICES: all}}");
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(),
                                "tasks.infer.run_args.environment.NVIDIA_VISIBLE_DEVICES"))
      << status;
  status = attempt("{environment: {nvidia_driver_capabilities: all}}");
  EXPECT_FALSE(status.ok()) << "NVIDIA_* is refused whatever the case";
  status = attempt("{shm_size: '1g --privileged'}");
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "tasks.infer.run_args.shm_size")) << status;
  status = attempt("{command: 'infer'}", "--privileged");
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "image")) << status;
  // What stays allowed: the command, entrypoint, env and sizes of a normal model.
  EXPECT_TRUE(attempt("{command: 'infer --privileged', entrypoint: /bin/sh, shm_size: 2gb, "
                      "environment: {CUDA_VISIBLE_DEVICES: '0'}}")
                  .ok());
}

// A stand-in for the docker CLI: records every call in `calls` and answers like docker.
struct FakeDockerScript {
  TempDir dir;
  fs::path binary = dir / "docker";
  fs::path calls = dir / "calls";
  explicit FakeDockerScript(const std::string& run_body, const std::string& oom = "false") {
    WriteFile(binary, absl::StrCat("#!/bin/sh\necho \"$*\" >> '", calls.string(),
                                   "'\n"
                                   "case \"$1\" in\n"
                                   "  image|kill|rm) exit 0 ;;\n"
                                   "  inspect) echo ",
                                   oom,
                                   "; exit 0 ;;\n"
                                   "  run)\n",
                                   run_body,
                                   "\n ;;\n"
                                   "esac\n"
                                   "exit 99\n"));
    fs::permissions(binary, fs::perms::owner_all);
  }
  std::vector<std::string> Calls() const {
    std::vector<std::string> out;
    std::istringstream in(ReadFile(calls));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
};

ContainerConfig SimpleDockerConfig() {
  auto config = ParseContainerConfig(R"(
container_type: DockerImage
image: example/model:1
tasks:
  infer:
    run_args: {command: infer}
    output_volumes: {out: {mount_path: /out, type: directory}}
)",
                                     "fake");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

TEST(DockerFlowTest, ReportsAnOomKillAndRemovesTheContainer) {
  FakeDockerScript fake("echo model output; exit 137", "true");
  auto runner = FakeDocker(fake.binary.string());
  ASSERT_TRUE(runner.ok()) << runner.status();
  TempDir dir;
  std::vector<std::string> lines;
  TaskRun run{.task = "infer",
              .mounts = {{"out", dir / "out"}},
              .limits = {.memory_bytes = 1 << 30, .log_bytes = 1 << 20},
              .on_output = [&](std::string_view l) { lines.emplace_back(l); }};
  auto outcome = (*runner)->Run(SimpleDockerConfig(), run);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->exit_code, 137);
  EXPECT_EQ(outcome->limit_hit, "memory");
  EXPECT_TRUE(absl::StrContains(outcome->limit_detail, "limits.infer.memory"))
      << outcome->limit_detail;
  EXPECT_TRUE(absl::StrContains(outcome->limit_detail, "1073741824")) << outcome->limit_detail;
  EXPECT_FALSE(outcome->ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"model output"}));
  auto calls = fake.Calls();
  ASSERT_GE(calls.size(), 4u) << absl::StrJoin(calls, "\n");
  EXPECT_TRUE(absl::StartsWith(calls[0], "image inspect example/model:1"));
  std::string run_call = calls[1];
  EXPECT_TRUE(absl::StartsWith(run_call, "run --name medperf-infer-")) << run_call;
  for (const char* flag : {"--cap-drop ALL", "--security-opt no-new-privileges", "--read-only",
                           "--network none", "--memory 1073741824 --memory-swap 1073741824"}) {
    EXPECT_TRUE(absl::StrContains(run_call, flag)) << flag << " missing in " << run_call;
  }
  std::string name = run_call.substr(11, run_call.find(' ', 11) - 11);
  EXPECT_EQ(calls[2], absl::StrCat("inspect --format {{.State.OOMKilled}} ", name));
  EXPECT_EQ(calls.back(), absl::StrCat("rm --force ", name));
}

TEST(DockerFlowTest, KillsTheContainerAtTheWallTimeLimit) {
  FakeDockerScript fake("sleep 30");
  auto runner = FakeDocker(fake.binary.string());
  ASSERT_TRUE(runner.ok()) << runner.status();
  TempDir dir;
  TaskRun run{.task = "infer",
              .mounts = {{"out", dir / "out"}},
              .limits = {.wall_time = std::chrono::seconds(1)}};
  auto outcome = (*runner)->Run(SimpleDockerConfig(), run);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(outcome->timed_out);
  EXPECT_EQ(outcome->limit_detail, "limits.infer.time_seconds = 1");
  EXPECT_LT(outcome->duration, std::chrono::seconds(20));
  auto calls = fake.Calls();
  bool killed = std::any_of(calls.begin(), calls.end(), [](const auto& c) {
    return absl::StartsWith(c, "kill medperf-infer-");
  });
  EXPECT_TRUE(killed) << absl::StrJoin(calls, "\n");
  EXPECT_TRUE(absl::StartsWith(calls.back(), "rm --force medperf-infer-"));
}

TEST(DockerFlowTest, StopsATaskWhoseOutputsOutgrowTheCap) {
  // The fake finds the output's host path in its --volume flag and floods it.
  FakeDockerScript fake(
      "for a in \"$@\"; do case \"$a\" in *:/out:rw) d=${a%%:*} ;; esac; done\n"
      "head -c 200000 /dev/zero > \"$d/flood\"; sleep 30");
  auto runner = FakeDocker(fake.binary.string());
  ASSERT_TRUE(runner.ok()) << runner.status();
  TempDir dir;
  TaskRun run{.task = "infer",
              .mounts = {{"out", dir / "out"}},
              .limits = {.wall_time = std::chrono::seconds(60), .output_bytes = 100000}};
  auto outcome = (*runner)->Run(SimpleDockerConfig(), run);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE(outcome->timed_out);
  EXPECT_EQ(outcome->limit_hit, "output");
  EXPECT_TRUE(absl::StrContains(outcome->limit_detail, "limits.infer.output"))
      << outcome->limit_detail;
  EXPECT_LT(outcome->duration, std::chrono::seconds(20));
}

TEST(ApptainerCommandTest, HardensEveryRun) {
  ApptainerRunSpec spec;
  spec.executable = "singularity";
  spec.sif = "/images/abc.sif";
  spec.mounts = {Mount("data_path", "/d/data", "/mlcommons/volumes/data", true),
                 Mount("output_path", "/d/out", "/mlcommons/volumes/out", false)};
  spec.command = {"infer"};
  spec.env = {{"K", "V"}};
  spec.workdir = "/state/tmp/run-1";
  spec.limits = {.memory_bytes = 1 << 30, .max_processes = 64, .cpus = 2};
  auto built = BuildApptainerCommand(spec);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->argv,
            (Args{"singularity", "run", "--containall", "--cleanenv", "--no-privs", "--workdir",
                  "/state/tmp/run-1", "--bind", "/d/data:/mlcommons/volumes/data:ro", "--bind",
                  "/d/out:/mlcommons/volumes/out:rw", "--net", "--network", "none",
                  "/images/abc.sif", "infer"}))
      << "cgroup flags only when apptainer can apply them";
  EXPECT_EQ(built->env, (Args{"APPTAINERENV_K=V", "SINGULARITYENV_K=V"}));
  spec.cgroup_limits = true;
  built = BuildApptainerCommand(spec);
  ASSERT_TRUE(built.ok());
  EXPECT_GE(FlagAt(built->argv, "--memory", "1073741824"), 0);
  EXPECT_GE(FlagAt(built->argv, "--memory-swap", "1073741824"), 0);
  EXPECT_GE(FlagAt(built->argv, "--pids-limit", "64"), 0);
  EXPECT_GE(FlagAt(built->argv, "--cpus", "2"), 0);
  for (const char* bad : {"--writable-tmpfs", "--writable", "--add-caps", "--allow-setuid",
                          "--keep-privs", "--userns"}) {
    EXPECT_FALSE(Contains(built->argv, bad)) << bad;
  }
  spec.entrypoint = "/bin/sh";
  spec.gpus = "all";
  spec.allow_network = true;
  spec.cgroup_limits = false;
  spec.workdir.clear();
  built = BuildApptainerCommand(spec);
  EXPECT_EQ(built->argv, (Args{"singularity", "exec", "--containall", "--cleanenv", "--no-privs",
                               "--bind", "/d/data:/mlcommons/volumes/data:ro", "--bind",
                               "/d/out:/mlcommons/volumes/out:rw", "--nv", "/images/abc.sif",
                               "/bin/sh", "infer"}));
  spec.gpus = "2";
  EXPECT_NE(BuildApptainerCommand(spec).status().message().find("GPU count"),
            std::string_view::npos);
  spec.gpus.clear();
  spec.run_as = TaskIdentity{.uid = 0, .gid = 0, .switch_user = true};
  EXPECT_FALSE(BuildApptainerCommand(spec).ok()) << "never root";
  spec.run_as.reset();
  spec.mounts.push_back(Mount("evil", "/d/x", "/proc/sys", false));
  EXPECT_FALSE(BuildApptainerCommand(spec).ok());
}

// A directory outside /tmp (which a root daemon's staging tmpfs hides from the engine)
// that the task user may read.
struct PublicDir {
  fs::path path;
  PublicDir() {
    std::string tmpl = "/var/tmp/medperf-engine-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
    if (!path.empty()) ::chmod(path.c_str(), 0755);
  }
  ~PublicDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

TEST(ApptainerFlowTest, EngineRunsAsTheTaskUserAndReachesOnlyItsStagedMounts) {
  // A stand-in for apptainer that reports who it runs as and what it can reach.
  PublicDir bin;
  ASSERT_FALSE(bin.path.empty()) << "cannot create a directory under /var/tmp";
  fs::path engine = bin.path / "apptainer";
  WriteFile(engine, R"SH(#!/bin/sh
echo "uid $(id -u)"
echo "home $HOME"
prev=
for a in "$@"; do
  if [ "$prev" = --bind ]; then
    src=${a%%:*}
    case "$a" in
      *:ro) if [ -d "$src" ]; then ls "$src"; else cat "$src"; fi ;;
      *:rw) echo written > "$src/by-engine" && echo "wrote output" ;;
    esac
  fi
  if [ "$prev" = --workdir ]; then touch "$a/probe" && echo "workdir writable"; fi
  case "$a" in *.sif) [ -r "$a" ] && echo "image readable" ;; esac
  prev=$a
done
)SH");
  ::chmod(engine.c_str(), 0755);
  TempDir dir;  // private to us (0700): the task user can reach it only through staging
  WriteFile(dir / "data/case1.txt", "input data\n");
  WriteFile(dir / "params.yaml", "threshold: 1\n");
  WriteFile(dir / "image.sif", "not really a sif");
  auto config = ParseContainerConfig(absl::StrCat(R"(
container_type: SingularityFile
image: )",
                                                  (dir / "image.sif").string(), R"(
tasks:
  infer:
    run_args: {command: infer}
    input_volumes:
      data_path: {mount_path: /data, type: directory}
      parameters_file: {mount_path: /params.yaml, type: file}
    output_volumes:
      out: {mount_path: /out, type: directory}
)"),
                                     "fake apptainer");
  ASSERT_TRUE(config.ok()) << config.status();
  ApptainerOptions options;
  options.executable = engine.string();
  options.image_dir = dir / "sif";
  options.tmp_dir = dir / "tmp";
  auto runner = ApptainerRunner::Create(options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::vector<std::string> lines;
  TaskRun run{.task = "infer",
              .mounts = {{"data_path", dir / "data"},
                         {"parameters_file", dir / "params.yaml"},
                         {"out", dir / "out"}},
              .outputs = {"out"},
              .outputs_decided = true,
              .limits = {.wall_time = std::chrono::seconds(60),
                         .memory_bytes = 512 << 20,
                         .max_processes = 256,
                         .log_bytes = 1 << 20},
              .on_output = [&](std::string_view l) { lines.emplace_back(l); }};
  auto outcome = (*runner)->Run(*config, run);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  std::string out = absl::StrJoin(lines, "\n");
  EXPECT_TRUE(outcome->ok()) << outcome->Describe() << "\n" << out;
  uint32_t expected_uid = ::geteuid() == 0 ? kNobodyId : ::geteuid();
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("uid ", expected_uid))) << out;
  EXPECT_TRUE(absl::StrContains(out, "case1.txt")) << out;
  EXPECT_TRUE(absl::StrContains(out, "threshold: 1")) << out;
  EXPECT_TRUE(absl::StrContains(out, "wrote output")) << out;
  EXPECT_TRUE(absl::StrContains(out, "workdir writable")) << out;
  EXPECT_TRUE(absl::StrContains(out, "image readable")) << out;
  const char* home = getenv("HOME");
  if (home != nullptr && *home != '\0') {
    EXPECT_FALSE(absl::StrContains(out, absl::StrCat("home ", home, "\n")))
        << "the engine got the daemon's $HOME: " << out;
  }
  EXPECT_EQ(ReadFile(dir / "out/by-engine"), "written\n");
  struct stat st;
  ASSERT_EQ(::stat((dir / "out/by-engine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, expected_uid) << "the output was written by the task user";
  EXPECT_TRUE(fs::is_empty(dir / "tmp")) << "the per-run work dir is removed";
}

TEST(RunnerFactoryTest, ChoosesByConfigAndEngine) {
  EXPECT_EQ(*ParseEngineChoice("auto"), EngineChoice::kAuto);
  EXPECT_EQ(*ParseEngineChoice("Docker"), EngineChoice::kDocker);
  EXPECT_EQ(*ParseEngineChoice("singularity"), EngineChoice::kApptainer);
  EXPECT_EQ(*ParseEngineChoice("bubblewrap"), EngineChoice::kSandbox);
  EXPECT_FALSE(ParseEngineChoice("podman").ok());
  if (FindExecutable("bwrap").empty()) GTEST_SKIP() << "bubblewrap is not installed";
  auto local =
      ParseContainerConfig("container_type: LocalProcess\nimage: /bin/sh\ntasks: {t: {}}", "l");
  RunnerOptions options;
  options.engine = EngineChoice::kDocker;
  auto runner = CreateRunner(*local, options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_EQ((*runner)->name(), "sandbox") << "LocalProcess always runs in the sandbox";
  auto archive =
      ParseContainerConfig("container_type: DockerArchive\nimage: /x.tar\ntasks: {t: {}}", "a");
  options.engine = EngineChoice::kAuto;
  runner = CreateRunner(*archive, options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  std::string expected =
      DockerWorks() ? "docker" : (!FindApptainer().empty() ? "apptainer" : "sandbox");
  EXPECT_EQ((*runner)->name(), expected);
}

TEST(ApptainerRealTest, RunsWhereTheEngineWorks) {
  if (FindApptainer().empty()) {
    GTEST_SKIP() << "SKIPPED: apptainer/singularity is not installed (not packaged in Debian 12); "
                    "the apptainer runner was tested for its command lines and against a fake "
                    "engine only";
  }
  GTEST_SKIP() << "SKIPPED: apptainer found, but no .sif image is available to run offline";
}

}  // namespace
}  // namespace medperf
