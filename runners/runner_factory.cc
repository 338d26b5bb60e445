#include "runners/runner_factory.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
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

namespace {
// The socket or address docker talks to when `host` is empty, for messages.
std::string EngineName(const std::string& host) {
  if (!host.empty()) return host;
  const char* env = std::getenv("DOCKER_HOST");
  return env != nullptr && *env != '\0' ? std::string(env) : "unix:///var/run/docker.sock";
}
}  // namespace

bool DockerWorks(const std::string& docker_binary, const std::string& host, std::string* why) {
  static std::mutex mu;
  static std::map<std::string, std::pair<bool, std::string>> cache;
  std::lock_guard<std::mutex> lock(mu);
  std::string key = absl::StrCat(docker_binary, "|", host);
  // A working engine is remembered; a failed probe only for a while, so an engine
  // started after medperfd (or restarted) is found without restarting the daemon.
  static std::map<std::string, std::chrono::steady_clock::time_point> failed_at;
  auto it = cache.find(key);
  if (it != cache.end() && !it->second.first &&
      std::chrono::steady_clock::now() - failed_at[key] > std::chrono::seconds(30)) {
    cache.erase(it);
    it = cache.end();
  }
  if (it == cache.end()) {
    std::pair<bool, std::string> result{false, ""};
    std::string cli = FindExecutable(docker_binary);
    if (cli.empty()) {
      result.second = absl::StrCat("the docker CLI '", docker_binary, "' was not found");
    } else {
      std::vector<std::string> argv = {cli};
      if (!host.empty()) argv.insert(argv.end(), {"--host", host});
      argv.insert(argv.end(), {"info", "--format", "{{.ServerVersion}}"});
      auto r = RunCapture(argv, std::chrono::seconds(15));
      result.first = r.ok() && r->exit_code == 0;
      if (!result.first) {
        result.second = absl::StrCat("the docker engine at ", EngineName(host),
                                     " is unreachable (`docker info`: ",
                                     r.ok() ? absl::StripAsciiWhitespace(r->output).substr(0, 300)
                                            : absl::string_view(r.status().message()),
                                     "); start it or set runner.docker.host in medperfd's config");
      }
    }
    if (!result.first) failed_at[key] = std::chrono::steady_clock::now();
    it = cache.emplace(key, result).first;
  }
  if (why != nullptr) *why = it->second.second;
  return it->second.first;
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
  sandbox.layer_store_dir =
      options.image_cache_dir.empty() ? fs::path() : options.image_cache_dir / "layers";
  sandbox.identity = options.identity;
  auto runner = SandboxRunner::Create(sandbox);
  if (!runner.ok()) return runner.status();
  return std::unique_ptr<Runner>(std::move(*runner));
}

absl::StatusOr<std::unique_ptr<Runner>> MakeDocker(const RunnerOptions& options) {
  DockerOptions docker;
  docker.docker = options.docker;
  docker.host = options.docker_host;
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
      if (std::string why; !DockerWorks(options.docker.empty() ? "docker" : options.docker,
                                        options.docker_host, &why)) {
        return absl::UnavailableError(absl::StrCat("runner: docker is configured but ", why,
                                                   "; container '", config.source,
                                                   "' was not run"));
      }
      return MakeDocker(options);
    case EngineChoice::kApptainer:
      return MakeApptainer(options, options.apptainer);
    case EngineChoice::kAuto:
      break;
  }
  std::string docker = options.docker.empty() ? "docker" : options.docker;
  if (config.type != ContainerType::kSingularityFile && DockerWorks(docker, options.docker_host)) {
    return MakeDocker(options);
  }
  std::string apptainer = options.apptainer.empty() ? FindApptainer() : options.apptainer;
  if (!apptainer.empty()) return MakeApptainer(options, apptainer);
  return MakeSandbox(options);
}

std::string DescribeRunnerChoice(const ContainerConfig& config, const RunnerOptions& options) {
  if (config.type == ContainerType::kLocalProcess) {
    return "sandbox: LocalProcess containers always run in the sandbox";
  }
  switch (options.engine) {
    case EngineChoice::kSandbox:
      return "sandbox: configured (runner: sandbox)";
    case EngineChoice::kDocker: {
      std::string why;
      if (!DockerWorks(options.docker.empty() ? "docker" : options.docker, options.docker_host,
                       &why)) {
        return "docker: configured (runner: docker), but " + why;
      }
      return "docker: configured (runner: docker), and the docker engine at " +
             EngineName(options.docker_host) + " answers";
    }
    case EngineChoice::kApptainer:
      return "apptainer: configured (runner: apptainer)";
    case EngineChoice::kAuto:
      break;
  }
  std::string docker = options.docker.empty() ? "docker" : options.docker;
  std::string why;
  if (config.type != ContainerType::kSingularityFile) {
    if (DockerWorks(docker, options.docker_host, &why)) {
      return "docker: runner auto, and the docker engine at " + EngineName(options.docker_host) +
             " answers";
    }
  } else {
    why = "docker cannot run SingularityFile containers";
  }
  std::string apptainer = options.apptainer.empty() ? FindApptainer() : options.apptainer;
  if (!apptainer.empty()) return "apptainer: runner auto, " + why + "; " + apptainer + " found";
  return "sandbox: runner auto, " + why + "; no apptainer/singularity found";
}

}  // namespace medperf
