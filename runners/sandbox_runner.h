// Runs MedPerf container tasks in a bubblewrap sandbox, without a container engine.
// LocalProcess containers see the host's system directories read-only; DockerArchive
// (docker save / OCI layout tarball) containers get their own unpacked root. Either
// way: new PID/IPC/UTS/network namespaces (no network unless allowed), no
// capabilities, inputs read-only, only outputs and a fresh /tmp writable.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/archive.h"
#include "runners/runner.h"

namespace medperf {

struct SandboxOptions {
  std::string bwrap;                      // empty = found on PATH
  std::filesystem::path image_cache_dir;  // unpacked image roots (DockerArchive)
  ExtractLimits image_limits;
};

class SandboxRunner : public Runner {
 public:
  // Fails with a clear message when bwrap is not installed.
  static absl::StatusOr<std::unique_ptr<SandboxRunner>> Create(SandboxOptions options = {});

  std::string name() const override { return "sandbox"; }
  absl::Status Prepare(const ContainerConfig& config,
                       const std::filesystem::path& image_file) override;
  absl::StatusOr<std::string> ImageHash(const ContainerConfig& config,
                                        const std::filesystem::path& image_file) override;
  absl::StatusOr<TaskOutcome> Run(const ContainerConfig& config, const TaskRun& run) override;

  // The complete bwrap command line for a run (resolves mounts, unpacks images).
  // Exposed for tests and benchmarks.
  absl::StatusOr<std::vector<std::string>> BuildCommand(const ContainerConfig& config,
                                                        const TaskRun& run);

  const std::string& bwrap() const { return bwrap_; }

 private:
  explicit SandboxRunner(SandboxOptions options, std::string bwrap)
      : options_(std::move(options)), bwrap_(std::move(bwrap)) {}

  SandboxOptions options_;
  std::string bwrap_;
};

}  // namespace medperf
