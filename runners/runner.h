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
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runners/container_config.h"

namespace medperf {

// Resource limits of one task, on by default (docs/security.md lists the defaults the
// daemon applies per task kind). 0 = no limit for that resource. How each is enforced
// depends on the runner and the host (cgroups v2 or v1 where delegated, else rlimits);
// SandboxRunner::Enforcement() says which on this host.
struct TaskLimits {
  std::chrono::seconds wall_time{0};  // wall clock; the whole process tree is killed
  uint64_t memory_bytes = 0;          // resident memory (cgroup) or address space (RLIMIT_AS)
  uint64_t max_processes = 0;         // processes + threads of the task (pids.max / RLIMIT_NPROC)
  double cpus = 0;                    // CPU cores the task may use (cgroup quota / docker --cpus)
  uint64_t output_bytes = 0;          // total bytes in the task's outputs (and largest file)
  uint64_t log_bytes = 0;             // log kept: the first and last half when capped
  uint64_t tmp_bytes = 0;             // size of the task's private /tmp (tmpfs)
};

// The limits a task of `kind` ("prepare", "sanity_check", "statistics", "infer",
// "evaluate") gets when the site's config says nothing (docs/security.md): hours of wall
// time (24 h prepare/infer, 4 h others), three quarters of this host's memory, 4096
// processes, every core, output caps sized for real medical data (1 TiB prepare, 200 GiB
// infer, 1 GiB evaluate, 64 MiB others), 64 MiB of log, 2 GiB of /tmp.
TaskLimits DefaultTaskLimits(std::string_view kind);

// Which host identity a task runs as. Root daemons run tasks as a dedicated unprivileged
// user (medperf-task); unprivileged daemons run them as themselves (inside a user
// namespace for the sandbox). uid/gid are host ids.
struct TaskIdentity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool switch_user = false;  // the runner must drop to uid/gid before starting the engine
};

struct TaskRun {
  std::string task{};  // a task name declared in the config
  // Volume name -> host path. Only volumes the task declares are mounted; a declared
  // volume without a host path here (and no legacy default) is an error. Input host
  // paths must exist.
  std::map<std::string, std::filesystem::path> mounts{};
  // The names in `mounts` the daemon hands out as outputs. Whatever the container config
  // says, every other mount is bound read-only, and a config that declares one of them
  // under output_volumes is refused before anything runs (the daemon, not the
  // container, decides what is writable). Empty set together with an empty
  // `outputs_decided` keeps the config's own split (local `test run` of unit tests).
  std::set<std::string> outputs{};
  bool outputs_decided = false;
  // stdout+stderr of the task, appended. Empty = not written to a file.
  std::filesystem::path log_file{};
  TaskLimits limits{};
  bool allow_network = false;
  std::string gpus{};  // overrides run_args.gpus when non-empty ("all", "2", "device=0")
  std::map<std::string, std::string> env{};  // added to run_args.environment
  // Called with each output line (without the newline), from the calling thread.
  std::function<void(std::string_view)> on_output{};
  // Polled while the task runs; when it becomes true the task is killed.
  const std::atomic<bool>* cancel = nullptr;
  // Local file of the image for DockerArchive/SingularityFile (as fetched by the
  // AssetCache). Empty = config.image, which must then be a local path.
  std::filesystem::path image_file{};
};

struct TaskOutcome {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  bool cancelled = false;
  // A resource limit the task hit ("memory", "processes", "output", ...), empty if none;
  // limit_detail says which value and which config key.
  std::string limit_hit;
  std::string limit_detail;
  std::chrono::milliseconds duration{0};
  std::filesystem::path log_file{};

  bool ok() const { return exit_code == 0 && !timed_out && !cancelled && limit_hit.empty(); }
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

// Renders a byte count as "<n> bytes (<x> GiB|MiB|KiB)" (binary units, one decimal) for
// limit and disk-space messages, e.g. 1610612736 -> "1610612736 bytes (1.5 GiB)".
std::string DescribeBytes(uint64_t bytes);

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
