// Drives apptainer/singularity with the MedPerf client's semantics (reference §3.2),
// hardened like the docker runner (docs/security.md, "Apptainer runner"):
//   <exe> run|exec --containall --cleanenv --no-privs [--workdir <fresh dir>]
//     [--memory B --memory-swap B] [--pids-limit N] [--cpus C]
//     --bind host:mount:ro (every input) --bind host:mount:rw (only the daemon's outputs)
//     [--nv] --net --network none <sif> [entrypoint] <cmd...>
// (`exec` plus the entrypoint when run_args.entrypoint is set), environment passed
// as APPTAINERENV_K / SINGULARITYENV_K. Docker images are converted once to .sif.
// --writable-tmpfs is never used: the image stays read-only; /tmp, /var/tmp and $HOME
// come from the per-run --workdir (its size is not capped: limits.tmp_bytes is not
// enforced by this runner).
// When the task user is not the daemon's (a root daemon, or one holding CAP_SETUID), the
// supervisor switches to it before exec'ing the engine (SupervisedCommand::switch_user:
// no groups, no capabilities); a root daemon first binds every source, the .sif and the
// work dir under a private staging tmpfs, so the task user needs no access to the
// daemon's directories. Unprivileged apptainer then needs user namespaces (or its
// setuid starter). A non-root daemon holding CAP_SETUID cannot stage (no mount
// namespace) nor chown the work dir: there the task user must be able to reach the
// sources and the run's work dir itself (untested here).
// Limits, in order of preference: the daemon's own task cgroup (TaskCgroup, v2 or v1;
// the engine and the container stay in it); else apptainer's cgroup flags (--memory,
// --memory-swap, --pids-limit, --cpus; apptainer >= 1.1), which work for an
// unprivileged apptainer only on cgroups v2 with systemd as init (a delegated user
// slice) and for a root apptainer on v1 or v2; else rlimits on the engine, inherited by
// the container: RLIMIT_AS for memory (not with GPUs: CUDA reserves huge address space)
// and RLIMIT_NPROC for a task user of its own. CPUs are then not limited. Wall time,
// output size (also RLIMIT_FSIZE per file) and log size are enforced by the supervisor.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runners/runner.h"

namespace medperf {

struct ApptainerRunSpec {
  std::string executable = "apptainer";  // or "singularity"
  std::filesystem::path sif;
  std::vector<ResolvedMount> mounts;  // read_only == false only for the daemon's outputs
  bool allow_network = false;
  std::string gpus;  // "", "all", "device=<ids>" (a bare count is rejected, as upstream)
  std::map<std::string, std::string> env;
  std::optional<std::string> entrypoint;
  std::vector<std::string> command;
  // The host user the engine is started as (by the supervisor, not in argv); empty =
  // as we are. BuildApptainerCommand refuses uid or gid 0 here.
  std::optional<TaskIdentity> run_as;
  std::filesystem::path workdir;  // --workdir: the task's /tmp, /var/tmp and $HOME
  // Rendered as apptainer's cgroup flags only when cgroup_limits is true (see above).
  TaskLimits limits;
  bool cgroup_limits = false;
};

struct ApptainerCommand {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // extra "K=V" for the engine's own environment
};

// INVALID_ARGUMENT for a GPU count, a root run_as, and mount paths that --bind cannot
// express or that point into /proc, /sys or /dev.
absl::StatusOr<ApptainerCommand> BuildApptainerCommand(const ApptainerRunSpec& spec);

// Whether apptainer's cgroup flags work here for an engine started as root
// (`as_root`) or as an unprivileged user (needs cgroups v2 and systemd as init).
bool ApptainerCgroupLimitsUsable(bool as_root);

struct ApptainerOptions {
  std::string executable;           // empty = FindApptainer()
  std::filesystem::path image_dir;  // converted .sif files
  std::filesystem::path tmp_dir;    // parent of per-run work dirs; empty = system temp
  // Host user tasks run as (EngineTaskIdentity in docker_runner.h: never root). When it
  // differs from ours the engine is started as that user.
  TaskIdentity identity;
  // Use apptainer's cgroup flags. Empty = only when the daemon has no task cgroup of
  // its own here (DetectLimitEnforcement()) and ApptainerCgroupLimitsUsable().
  std::optional<bool> cgroup_limits;
};

class ApptainerRunner : public Runner {
 public:
  // FAILED_PRECONDITION when neither apptainer nor singularity is found.
  static absl::StatusOr<std::unique_ptr<ApptainerRunner>> Create(ApptainerOptions options = {});

  std::string name() const override { return "apptainer"; }
  absl::Status Prepare(const ContainerConfig& config,
                       const std::filesystem::path& image_file) override;
  absl::StatusOr<std::string> ImageHash(const ContainerConfig& config,
                                        const std::filesystem::path& image_file) override;
  // A limit the task hit is reported in limit_hit ("memory", "processes", "output") with
  // limit_detail naming limits.<task>.<key>; a timeout sets timed_out and names
  // limits.<task>.time_seconds in limit_detail.
  absl::StatusOr<TaskOutcome> Run(const ContainerConfig& config, const TaskRun& run) override;

  // The spec Run() would use (config checked, mounts resolved, outputs handed to the
  // task user). `workdir` is used as given (may be empty).
  absl::StatusOr<ApptainerRunSpec> MakeSpec(const ContainerConfig& config, const TaskRun& run,
                                            const std::filesystem::path& sif,
                                            const std::filesystem::path& workdir = {});
  // Where Prepare puts (or finds) the .sif for a config.
  absl::StatusOr<std::filesystem::path> SifPath(const ContainerConfig& config,
                                                const std::filesystem::path& image_file);

 private:
  explicit ApptainerRunner(ApptainerOptions options) : options_(std::move(options)) {}
  ApptainerOptions options_;
};

}  // namespace medperf
