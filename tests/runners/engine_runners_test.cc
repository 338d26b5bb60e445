// Docker and Apptainer runners: the command lines they build (always), and real runs
// where the engine works on this machine (skipped, visibly, otherwise).
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "absl/strings/str_cat.h"
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
using testing::TempDir;
using testing::WriteFile;
using Args = std::vector<std::string>;

ResolvedMount Mount(std::string name, fs::path host, std::string mount, bool ro,
                    VolumeType type = VolumeType::kDirectory) {
  return ResolvedMount{std::move(name), std::move(host), std::move(mount), type, ro};
}

TEST(DockerCommandTest, MatchesTheClientsCommandLine) {
  DockerRunSpec spec;
  spec.container_name = "medperf-infer-0123456789abcdef";
  spec.user = "1000:1000";
  spec.image = "mlcommons/chestxray-tutorial-cnn:0.0.1";
  spec.mounts = {Mount("data_path", "/d/data", "/mlcommons/volumes/data", true),
                 Mount("output_path", "/d/preds", "/mlcommons/volumes/predictions", false)};
  spec.tmp_dir = "/state/tmp/1";
  spec.command = {"infer", "--x"};
  EXPECT_EQ(*BuildDockerRunArgs(spec),
            (Args{"docker", "run", "--name", "medperf-infer-0123456789abcdef", "--rm", "-u",
                  "1000:1000", "--volume", "/d/data:/mlcommons/volumes/data:ro", "--volume",
                  "/d/preds:/mlcommons/volumes/predictions:rw", "--volume", "/state/tmp/1:/tmp:rw",
                  "--network", "none", "mlcommons/chestxray-tutorial-cnn:0.0.1", "infer", "--x"}));
  spec.gpus = "device=0,2";
  spec.shm_size = "1g";
  spec.env = {{"A", "1"}, {"B", "two words"}};
  spec.entrypoint = "/bin/run";
  spec.memory_bytes = 1 << 30;
  spec.allow_network = true;
  spec.command.clear();
  spec.tmp_dir.clear();
  EXPECT_EQ(*BuildDockerRunArgs(spec), (Args{"docker",
                                             "run",
                                             "--name",
                                             "medperf-infer-0123456789abcdef",
                                             "--rm",
                                             "-u",
                                             "1000:1000",
                                             "--volume",
                                             "/d/data:/mlcommons/volumes/data:ro",
                                             "--volume",
                                             "/d/preds:/mlcommons/volumes/predictions:rw",
                                             "--gpus",
                                             "\"device=0,2\"",
                                             "--shm-size",
                                             "1g",
                                             "--memory",
                                             "1073741824",
                                             "--env",
                                             "A=1",
                                             "--env",
                                             "B=two words",
                                             "--entrypoint",
                                             "/bin/run",
                                             "mlcommons/chestxray-tutorial-cnn:0.0.1"}));
  spec.gpus = "all";
  EXPECT_NE(std::find(BuildDockerRunArgs(spec)->begin(), BuildDockerRunArgs(spec)->end(), "all"),
            BuildDockerRunArgs(spec)->end());
  spec.mounts.push_back(Mount("bad", "/a:b", "/x", true));
  EXPECT_FALSE(BuildDockerRunArgs(spec).ok());
}

TEST(DockerCommandTest, SpecFromConfigResolvesAndCreatesMounts) {
  TempDir dir;
  WriteFile(dir / "params.yaml", "a: 1\n");
  fs::create_directories(dir / "data");
  auto config = ParseContainerConfig(R"(
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
)",
                                     "model");
  ASSERT_TRUE(config.ok()) << config.status();
  DockerOptions options;
  options.docker = "/bin/true";  // never executed here
  options.user = "7:8";
  auto runner = DockerRunner::Create(options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  TaskRun run{.task = "infer",
              .mounts = {{"data_path", dir / "data"},
                         {"parameters_file", dir / "params.yaml"},
                         {"output_path", dir / "out/preds"},
                         {"log", dir / "out/log.txt"}},
              .gpus = "device=1",
              .env = {{"E", "run"}, {"MEDPERF_LOGLEVEL", "debug"}}};
  auto spec = (*runner)->MakeSpec(*config, run, "medperf-infer-x", dir / "tmp");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(fs::is_directory(dir / "out/preds"));
  EXPECT_TRUE(fs::is_regular_file(dir / "out/log.txt"));
  auto args = BuildDockerRunArgs(*spec);
  ASSERT_TRUE(args.ok());
  std::string joined;
  for (const auto& a : *args) joined += a + " ";
  EXPECT_NE(joined.find("-u 7:8 "), std::string::npos) << joined;
  EXPECT_NE(joined.find((dir / "params.yaml").string() +
                        ":/mlcommons/volumes/parameters/parameters_file.yaml:ro"),
            std::string::npos)
      << joined;
  EXPECT_NE(joined.find((dir / "out/log.txt").string() + ":/mlcommons/volumes/log.txt:rw"),
            std::string::npos);
  EXPECT_NE(
      joined.find("--network none --gpus \"device=1\" --env E=run --env MEDPERF_LOGLEVEL=debug "
                  "example/model:1 python3 infer.py "),
      std::string::npos)
      << joined;
}

TEST(ApptainerCommandTest, MatchesTheClientsCommandLine) {
  ApptainerRunSpec spec;
  spec.executable = "singularity";
  spec.sif = "/images/abc.sif";
  spec.mounts = {Mount("data_path", "/d/data", "/mlcommons/volumes/data", true),
                 Mount("output_path", "/d/out", "/mlcommons/volumes/out", false)};
  spec.command = {"infer"};
  spec.env = {{"K", "V"}};
  auto built = BuildApptainerCommand(spec);
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->argv,
            (Args{"singularity", "run", "-eC", "--bind", "/d/data:/mlcommons/volumes/data:ro",
                  "--bind", "/d/out:/mlcommons/volumes/out:rw", "--net", "--network", "none",
                  "/images/abc.sif", "infer"}));
  EXPECT_EQ(built->env, (Args{"APPTAINERENV_K=V", "SINGULARITYENV_K=V"}));
  spec.entrypoint = "/bin/sh";
  spec.gpus = "all";
  spec.allow_network = true;
  built = BuildApptainerCommand(spec);
  EXPECT_EQ(
      built->argv,
      (Args{"singularity", "exec", "-eC", "--bind", "/d/data:/mlcommons/volumes/data:ro", "--bind",
            "/d/out:/mlcommons/volumes/out:rw", "--nv", "/images/abc.sif", "/bin/sh", "infer"}));
  spec.gpus = "2";
  EXPECT_NE(BuildApptainerCommand(spec).status().message().find("GPU count"),
            std::string_view::npos);
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

TEST(DockerRealTest, RunsWhereTheEngineWorks) {
  if (!DockerWorks()) {
    GTEST_SKIP() << "SKIPPED: no working docker engine here (`docker info` fails); the docker "
                    "runner was tested for its command lines only";
  }
  // An image made here: the host's dash and the libraries it needs, `docker import`ed.
  TempDir build;
  auto copy_in = [&](const fs::path& host) {
    fs::create_directories((build / "root" / host.relative_path()).parent_path());
    fs::copy_file(host, build / "root" / host.relative_path(),
                  fs::copy_options::overwrite_existing);
  };
  copy_in("/bin/dash");
  fs::rename(build / "root/bin/dash", build / "root/bin/sh");
  auto ldd = testing::Run({"/usr/bin/ldd", "/bin/dash"});
  std::istringstream lines(ldd.out);
  for (std::string line; std::getline(lines, line);) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    copy_in(line.substr(slash, line.find(' ', slash) - slash));
  }
  ASSERT_TRUE(CreateTarGz(build / "root", {}, build / "rootfs.tar.gz").ok());
  std::string image = "medperf-test/dash:1";
  auto imported = RunCapture({"docker", "import", (build / "rootfs.tar.gz").string(), image},
                             std::chrono::seconds(120));
  ASSERT_TRUE(imported.ok() && imported->exit_code == 0) << imported->output;
  TempDir dir;
  auto config = ParseContainerConfig(
      absl::StrCat(
          "container_type: DockerImage\nimage: ", image,
          "\ntasks:\n  infer:\n    run_args: {entrypoint: /bin/sh, command: [-c, 'echo hi > "
          "/out/x; exit 4']}\n    output_volumes: {out: {mount_path: /out, type: directory}}\n"),
      "docker test");
  ASSERT_TRUE(config.ok()) << config.status();
  auto runner = DockerRunner::Create();
  ASSERT_TRUE(runner.ok());
  auto outcome =
      (*runner)->Run(*config, TaskRun{.task = "infer", .mounts = {{"out", dir / "out"}}});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->exit_code, 4);
  EXPECT_EQ(testing::ReadFile(dir / "out/x"), "hi\n");
}

TEST(ApptainerRealTest, RunsWhereTheEngineWorks) {
  if (FindApptainer().empty()) {
    GTEST_SKIP() << "SKIPPED: apptainer/singularity is not installed (not packaged in Debian 12); "
                    "the apptainer runner was tested for its command lines only";
  }
  GTEST_SKIP() << "SKIPPED: apptainer found, but no .sif image is available to run offline";
}

}  // namespace
}  // namespace medperf
