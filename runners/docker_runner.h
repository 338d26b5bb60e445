// Drives the docker CLI with the MedPerf client's semantics (reference §3.2), hardened
// for containers written by strangers (docs/security.md, "Docker runner"):
//   docker run --name medperf-<task>-<hex> --pull never --user <uid:gid, never root>
//     --cap-drop ALL --security-opt no-new-privileges --read-only
//     --tmpfs /tmp:rw,exec,nosuid,nodev[,size=B] --ipc private --log-driver none
//     --ulimit core=0 [--ulimit fsize=B] --network none
//     --memory B --memory-swap B --pids-limit N --cpus C
//     --volume h:m:ro (every input) --volume h:m:rw (only the daemon's outputs)
//     [--gpus G | --env NVIDIA_VISIBLE_DEVICES=void] [--shm-size S] [--env K=V ...]
//     [--entrypoint E] <image> <command...>
// The container is not started with --rm: after it exits the runner asks docker whether
// the kernel OOM-killed it (State.OOMKilled), then removes it.
// Nothing from a container config reaches docker as a flag: run_args may only carry
// command, entrypoint, environment, gpus and shm_size (container_config.cc refuses any
// other key), and CheckRunArgsForEngine() refuses values that would widen the
// container's reach (malformed gpus/shm_size, NVIDIA_* variables that steer the NVIDIA
// runtime, an image reference that docker would parse as a flag).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runners/runner.h"

namespace medperf {

// The uid used for tasks when the configured identity is root: docker's and Debian's
// "nobody", which owns no files.
inline constexpr uint32_t kNobodyId = 65534;

// The host uid:gid an engine task runs as: `identity` unless it is root (uid 0, also
// what a default-constructed TaskIdentity says). Then it is our own uid:gid when we are
// not root, else kNobodyId:kNobodyId. Never returns uid 0.
TaskIdentity EngineTaskIdentity(const TaskIdentity& identity);

// Checks what a container config passes to an engine for task `task_name`:
// run_args.gpus (and the run's override) must be "", "all", a count or device=<ids>;
// run_args.shm_size a plain size ("512m", "1g", "2147483648"); no environment variable
// may be empty-named, contain NUL or newline, or start with NVIDIA_ (the NVIDIA runtime
// reads NVIDIA_VISIBLE_DEVICES & co from the container's environment and would hand
// out GPUs or driver capabilities the site did not grant); a DockerImage reference must
// not be empty, start with '-' (docker would parse it as a flag) or contain spaces.
// Returns INVALID_ARGUMENT naming the container source and the key path
// (tasks.<task>.run_args.<key>, or image); NOT_FOUND for an unknown task.
absl::Status CheckRunArgsForEngine(const ContainerConfig& config, const std::string& task_name,
                                   const std::string& run_gpus);

// Checks a mount destination inside the container: absolute, not "/", not under /proc,
// /sys or /dev (the kernel's interfaces stay the engine's), no ':' or ','. `engine`
// names the engine in the INVALID_ARGUMENT message.
absl::Status CheckEngineMount(const ResolvedMount& mount, std::string_view engine);

// When we run as root, gives the output mounts (only those with read_only == false) to
// `owner`, so a task running as that unprivileged user can write its outputs. Only the
// top entry is changed (outputs are fresh, empty directories or files) and symlinks are
// never followed. Not root: no-op. Errors are INTERNAL naming the path.
absl::Status GiveOutputsTo(const std::vector<ResolvedMount>& mounts, const TaskIdentity& owner);

// How a runner measures outputs the daemon's own walk (OutputBytes) could not read, e.g.
// MeasureOutputs for a service-user daemon; bytes, or an error.
using OutputMeasure =
    std::function<absl::StatusOr<uint64_t>(const std::vector<std::filesystem::path>&)>;

// A SupervisedCommand::on_tick that stops the task once its outputs exceed
// `output_bytes` (limit_hit "output", naming limits.<task>.output), measuring every other
// tick with OutputBytes (runners/output_check.h). When that walk is refused permission
// and `unreadable` is given, it measures with `unreadable` instead. Outputs that cannot
// be measured count as over the cap. Empty function when there is no cap or no output.
std::function<std::pair<std::string, std::string>()> OutputCapTick(
    std::vector<std::filesystem::path> outputs, uint64_t output_bytes, const std::string& task,
    OutputMeasure unreadable = {});
// The same for the writable mounts (read_only == false) of `mounts`.
std::function<std::pair<std::string, std::string>()> OutputCapTick(
    const std::vector<ResolvedMount>& mounts, uint64_t output_bytes, const std::string& task);

struct DockerRunSpec {
  std::string docker = "docker";
  std::string host;  // the engine (docker --host); empty = the CLI's default
  std::string container_name;
  std::string user;  // "uid:gid", numeric; BuildDockerRunArgs refuses empty and uid 0
  std::string image;
  std::vector<ResolvedMount> mounts;  // read_only == false only for the daemon's outputs
  bool allow_network = false;
  std::string gpus;  // normalized: "", "all", "<n>", "device=<ids>"
  std::string shm_size;
  std::map<std::string, std::string> env;
  std::optional<std::string> entrypoint;
  std::vector<std::string> command;
  // memory_bytes (also the swap cap: none beyond), max_processes, cpus, tmp_bytes (size
  // of the /tmp tmpfs) and output_bytes (largest file any process may write, with
  // tmp_bytes if larger) are rendered as flags; 0 = flag left out. wall_time and
  // log_bytes are enforced by the supervisor, not docker.
  TaskLimits limits;
};

// The argv of `docker run` for a spec. INVALID_ARGUMENT for a root or non-numeric user,
// an image reference starting with '-', a gpus/shm_size value outside the forms above,
// and mount paths that --volume cannot express (':' or ',') or that point into
// /proc, /sys or /dev.
absl::StatusOr<std::vector<std::string>> BuildDockerRunArgs(const DockerRunSpec& spec);

struct DockerOptions {
  std::string docker;  // empty = "docker" on PATH
  // The engine, in DOCKER_HOST form ("unix:///run/docker.sock", "tcp://host:2376"),
  // passed as --host to every docker command (config runner.docker.host). Empty = the
  // CLI's default: DOCKER_HOST of the daemon's environment, else /var/run/docker.sock.
  std::string host;
  // Host user tasks run as (see EngineTaskIdentity; never root). With docker the CLI
  // itself is never switched: the user only matters inside the container.
  TaskIdentity identity;
};

class DockerRunner : public Runner {
 public:
  // FAILED_PRECONDITION when the docker CLI is not found.
  // An archive (DockerArchive) is `docker load`ed once per image id (from its
  // manifest.json) for the whole process and only when `docker image inspect` does not
  // find it already; tasks run the image by that id. Errors name the container and the
  // archive: FAILED_PRECONDITION for a file that is not a `docker save` tarball or a
  // relative path nobody fetched, UNAVAILABLE when `docker load` fails.
  static absl::StatusOr<std::unique_ptr<DockerRunner>> Create(DockerOptions options = {});

  std::string name() const override { return "docker"; }
  absl::Status Prepare(const ContainerConfig& config,
                       const std::filesystem::path& image_file) override;
  absl::StatusOr<std::string> ImageHash(const ContainerConfig& config,
                                        const std::filesystem::path& image_file) override;
  // Runs the task; wall time, cancellation, the output cap and the log cap are
  // enforced by the supervisor, which `docker kill`s the container. An OOM kill is
  // reported as limit_hit "memory", an oversized output as "output" (a file over the
  // cap kills with SIGXFSZ); limit_detail names the config key (limits.<task>.<key>),
  // for a timeout too (timed_out is set, limit_hit stays empty).
  absl::StatusOr<TaskOutcome> Run(const ContainerConfig& config, const TaskRun& run) override;

  // The spec Run() would use (config checked, mounts resolved and outputs handed to the
  // task user; name as given). Needs no docker engine for DockerImage configs.
  absl::StatusOr<DockerRunSpec> MakeSpec(const ContainerConfig& config, const TaskRun& run,
                                         const std::string& container_name);

 private:
  explicit DockerRunner(DockerOptions options) : options_(std::move(options)) {}
  // The image reference to run: the config's image, or the tag of a loaded archive.
  absl::StatusOr<std::string> ImageRef(const ContainerConfig& config,
                                       const std::filesystem::path& image_file);

  // argv of a docker command: the CLI, --host when configured, then `args`.
  std::vector<std::string> Cli(std::vector<std::string> args) const;

  DockerOptions options_;
};

}  // namespace medperf
