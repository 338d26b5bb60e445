// Chooses the runner for a container: LocalProcess always runs in the bubblewrap
// sandbox; otherwise "auto" prefers a working docker, then apptainer/singularity,
// then the sandbox (which unpacks DockerArchive tarballs itself).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runners/container_config.h"
#include "runners/runner.h"

namespace medperf {

enum class EngineChoice { kAuto, kSandbox, kDocker, kApptainer };
absl::StatusOr<EngineChoice> ParseEngineChoice(std::string_view text);  // "auto", ...

struct RunnerOptions {
  EngineChoice engine = EngineChoice::kAuto;
  // Unpacked image roots (sandbox) and converted .sif files (apptainer).
  std::filesystem::path image_cache_dir;
  // Scratch space for per-run work dirs (/tmp, /var/tmp, $HOME) given to apptainer
  // tasks; docker tasks get a tmpfs /tmp instead.
  std::filesystem::path tmp_dir;
  // Host user docker/apptainer tasks run as. Root (uid 0, the default) is never used:
  // it becomes our own uid:gid when we are not root, else 65534:65534 (nobody); see
  // EngineTaskIdentity() in docker_runner.h.
  TaskIdentity identity;
  // Engine executables; empty = found on PATH.
  std::string bwrap;
  std::string docker;
  std::string apptainer;  // "apptainer" or "singularity"
};

// True when `docker info` succeeds (a reachable daemon), cached per binary.
bool DockerWorks(const std::string& docker_binary = "docker");
// The first of apptainer/singularity on PATH whose --version works, or "".
std::string FindApptainer();

absl::StatusOr<std::unique_ptr<Runner>> CreateRunner(const ContainerConfig& config,
                                                     const RunnerOptions& options);

}  // namespace medperf
