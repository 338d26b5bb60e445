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
  // The docker engine (DockerOptions::host); empty = the CLI's default.
  std::string docker_host;
};

// Whether `docker info` answers (a reachable engine), cached per binary and host (an
// engine that did not answer is asked again after 30 s); when
// it does not, *why (if given) says so naming the engine's socket and docker's error.
bool DockerWorks(const std::string& docker_binary = "docker", const std::string& host = "",
                 std::string* why = nullptr);

// Which engine CreateRunner picks for `config` and why, in a sentence for logs and
// status ("docker: runner auto, and the docker engine at unix:///run/docker.sock
// answers", "sandbox: runner auto, the docker engine at ... is unreachable (...); no
// apptainer/singularity found", "docker: configured (runner: docker), but the docker
// engine at ... is unreachable ..."). Runs `docker info` (cached) for auto and docker.
std::string DescribeRunnerChoice(const ContainerConfig& config, const RunnerOptions& options);
// The first of apptainer/singularity on PATH whose --version works, or "".
std::string FindApptainer();

absl::StatusOr<std::unique_ptr<Runner>> CreateRunner(const ContainerConfig& config,
                                                     const RunnerOptions& options);

}  // namespace medperf
