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
  // Scratch space for per-run /tmp directories given to docker/apptainer.
  std::filesystem::path tmp_dir;
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
