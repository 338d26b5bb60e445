#include "runners/runner_factory.h"

#include <map>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "runners/apptainer_runner.h"
#include "runners/docker_runner.h"
#include "runners/sandbox_runner.h"
#include "runners/subprocess.h"

namespace medperf {
namespace fs = std::filesystem;

absl::StatusOr<EngineChoice> ParseEngineChoice(std::string_view text) {
  std::string t = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (t == "auto" || t.empty()) return EngineChoice::kAuto;
  if (t == "sandbox" || t == "bwrap" || t == "bubblewrap") return EngineChoice::kSandbox;
  if (t == "docker") return EngineChoice::kDocker;
  if (t == "apptainer" || t == "singularity") return EngineChoice::kApptainer;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown container engine '", t, "' (expected auto, sandbox, docker or apptainer)"));
}

bool DockerWorks(const std::string& docker_binary) {
  static std::mutex mu;
  static std::map<std::string, bool> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(docker_binary); it != cache.end()) return it->second;
  bool works = false;
  if (!FindExecutable(docker_binary).empty()) {
    auto r = RunCapture({docker_binary, "info", "--format", "{{.ServerVersion}}"},
                        std::chrono::seconds(15));
    works = r.ok() && r->exit_code == 0;
  }
  cache[docker_binary] = works;
  return works;
}

std::string FindApptainer() {
  for (const char* name : {"apptainer", "singularity"}) {
    std::string path = FindExecutable(name);
    if (path.empty()) continue;
    auto r = RunCapture({path, "--version"}, std::chrono::seconds(15));
    if (r.ok() && r->exit_code == 0) return path;
  }
  return "";
}

namespace {

absl::StatusOr<std::unique_ptr<Runner>> MakeSandbox(const RunnerOptions& options) {
  SandboxOptions sandbox;
  sandbox.bwrap = options.bwrap;
  sandbox.image_cache_dir =
      options.image_cache_dir.empty() ? fs::path() : options.image_cache_dir / "rootfs";
  sandbox.identity = options.identity;
  auto runner = SandboxRunner::Create(sandbox);
  if (!runner.ok()) return runner.status();
  return std::unique_ptr<Runner>(std::move(*runner));
}

absl::StatusOr<std::unique_ptr<Runner>> MakeDocker(const RunnerOptions& options) {
  DockerOptions docker;
  docker.docker = options.docker;
  docker.identity = options.identity;
  auto runner = DockerRunner::Create(docker);
  if (!runner.ok()) return runner.status();
  return std::unique_ptr<Runner>(std::move(*runner));
}

absl::StatusOr<std::unique_ptr<Runner>> MakeApptainer(const RunnerOptions& options,
                                                      const std::string& executable) {
  ApptainerOptions apptainer;
  apptainer.executable = executable;
  apptainer.image_dir =
      options.image_cache_dir.empty() ? fs::path() : options.image_cache_dir / "sif";
  apptainer.tmp_dir = options.tmp_dir.empty() ? fs::path() : options.tmp_dir / "apptainer";
  apptainer.identity = options.identity;
  auto runner = ApptainerRunner::Create(apptainer);
  if (!runner.ok()) return runner.status();
  return std::unique_ptr<Runner>(std::move(*runner));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Runner>> CreateRunner(const ContainerConfig& config,
                                                     const RunnerOptions& options) {
  if (config.type == ContainerType::kLocalProcess) return MakeSandbox(options);
  switch (options.engine) {
    case EngineChoice::kSandbox:
      return MakeSandbox(options);
    case EngineChoice::kDocker:
      if (config.type == ContainerType::kSingularityFile) {
        return absl::FailedPreconditionError(
            absl::StrCat("container '", config.source,
                         "' is a SingularityFile container; docker cannot run it"));
      }
      return MakeDocker(options);
    case EngineChoice::kApptainer:
      return MakeApptainer(options, options.apptainer);
    case EngineChoice::kAuto:
      break;
  }
  std::string docker = options.docker.empty() ? "docker" : options.docker;
  if (config.type != ContainerType::kSingularityFile && DockerWorks(docker)) {
    return MakeDocker(options);
  }
  std::string apptainer = options.apptainer.empty() ? FindApptainer() : options.apptainer;
  if (!apptainer.empty()) return MakeApptainer(options, apptainer);
  return MakeSandbox(options);
}

}  // namespace medperf
