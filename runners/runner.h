// Runs one task of a MedPerf container: binds the task's declared volumes to host
// paths and executes the task's command under an engine (bubblewrap sandbox, docker,
// apptainer). A task that exits non-zero, times out or is cancelled is an outcome,
// not an error; errors are for bad configs, missing images or missing host paths.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runners/container_config.h"

namespace medperf {

struct TaskRun {
  std::string task{};  // a task name declared in the config
  // Volume name -> host path. Only volumes the task declares are mounted; a declared
  // volume without a host path here (and no legacy default) is an error. Input host
  // paths must exist; output directories are created and output files touched.
  std::map<std::string, std::filesystem::path> mounts{};
  // stdout+stderr of the task, appended. Empty = not written to a file.
  std::filesystem::path log_file{};
  std::chrono::seconds time_limit{0};  // wall clock, 0 = none; kills the whole tree
  bool allow_network = false;
  std::string gpus{};  // overrides run_args.gpus when non-empty ("all", "2", "device=0")
  std::map<std::string, std::string> env{};  // added to run_args.environment
  // Called with each output line (without the newline), from the calling thread.
  std::function<void(std::string_view)> on_output{};
  // Polled while the task runs; when it becomes true the task is killed.
  const std::atomic<bool>* cancel = nullptr;
  // Resource limits where the engine can enforce them (0 = none). See docs/runners.md
  // for what the sandbox can enforce on a given machine.
  uint64_t memory_limit_bytes = 0;
  std::chrono::seconds cpu_time_limit{0};
  // Local file of the image for DockerArchive/SingularityFile (as fetched by the
  // AssetCache). Empty = config.image, which must then be a local path.
  std::filesystem::path image_file{};
};

struct TaskOutcome {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  bool cancelled = false;
  std::chrono::milliseconds duration{0};
  std::filesystem::path log_file{};

  bool ok() const { return exit_code == 0 && !timed_out && !cancelled; }
  // "exited with code 3", "killed by signal 9", "timed out after 30s", "cancelled".
  std::string Describe() const;
};

class Runner {
 public:
  virtual ~Runner();
  virtual std::string name() const = 0;  // "sandbox", "docker", "apptainer"
  // Makes the image runnable (pull/load/convert/unpack); idempotent and cached.
  // Run() calls it too, so calling it first only moves the cost up front.
  virtual absl::Status Prepare(const ContainerConfig& config,
                               const std::filesystem::path& image_file) = 0;
  // The image identity stored on the server: "sha256:<hex>" for DockerImage digests
  // and LocalProcess executables, bare hex of the file for DockerArchive and
  // SingularityFile (MedPerf's form).
  virtual absl::StatusOr<std::string> ImageHash(const ContainerConfig& config,
                                                const std::filesystem::path& image_file) = 0;
  virtual absl::StatusOr<TaskOutcome> Run(const ContainerConfig& config, const TaskRun& run) = 0;
};

// A host mount resolved from a task's declared volume and TaskRun::mounts.
struct ResolvedMount {
  std::string name;
  std::filesystem::path host_path;  // absolute
  std::string mount_path;
  VolumeType type = VolumeType::kDirectory;
  bool read_only = true;  // inputs
};

// Shared by all runners: checks the task exists, every declared volume has a host
// path (or legacy default), inputs exist with the declared kind, creates output
// directories / touches output files. Errors name the task and volume.
absl::StatusOr<std::vector<ResolvedMount>> ResolveMounts(const ContainerConfig& config,
                                                         const TaskRun& run);

}  // namespace medperf
