// Runs MedPerf container tasks in a bubblewrap sandbox, without a container engine.
// Every task is treated as hostile (docs/security.md):
// - it runs as an unprivileged host user (TaskIdentity; never the daemon's root) inside
//   new user, PID, IPC, UTS, cgroup and network namespaces (no network unless allowed),
//   with no capabilities (bounding set included), no_new_privs, a new session, a
//   seccomp filter (runners/seccomp_policy.h), /proc/sys and /proc/sysrq-trigger
//   read-only, and no further user namespaces;
// - its root is minimal: LocalProcess tasks see /usr, /bin, /sbin, /lib* of the host,
//   a synthetic /etc (passwd/group with the task user, ld.so.cache, CA certificates,
//   localtime, nsswitch.conf) and only their own executable; DockerArchive tasks see
//   only their unpacked image;
// - inputs are bound read-only, only the daemon's fresh outputs and a size-capped /tmp
//   are writable;
// - limits (TaskLimits) are enforced with cgroups where the host allows, else rlimits.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/archive.h"
#include "runners/runner.h"
#include "runners/subprocess.h"

namespace medperf {

struct SandboxOptions {
  std::string bwrap;  // empty = found on PATH
  // Unpacked image roots (DockerArchive) and the synthetic /etc (SyntheticEtc).
  std::filesystem::path image_cache_dir;
  // Unpacked image layers shared by the image roots (runners/image_unpack.h); on the
  // same filesystem as image_cache_dir. Empty: "<image_cache_dir>-layers".
  std::filesystem::path layer_store_dir;
  ExtractLimits image_limits;
  // Default (uid 0, no switch): the daemon's own user when unprivileged, the task user
  // (ResolveTaskIdentity("")) when root; a task never runs as uid 0.
  TaskIdentity identity;
};

// The synthetic /etc a LocalProcess task sees, as one prepared folder under
// `cache_dir`/sandbox-etc/ (bound with one mount: bwrap's cost is per mount, and one
// per file was a tenth of a task's start): passwd and group naming `who` as "medperf",
// name-service files resolving from files only (0644), and copies of the harmless host
// entries (ld.so.cache and ld.so.conf*, alternatives, CA certificates, openssl.cnf,
// localtime, timezone, mime.types) as the task saw them through a read-only bind: links
// as links, files and folders others may read with their own modes, nothing else (a
// private key in /etc/ssl/certs stays out). Its name is derived from `who` and the
// inode, size, mtime and mode of every host entry copied, so a new CA bundle or
// ld.so.cache reaches the tasks started a minute later at the latest (the walk behind
// the name is done at most once a minute per cache_dir and identity); superseded
// folders are removed a week after they were built (a running task may still use one).
// Safe to call concurrently.
// Errors: InternalError naming the folder or the host entry that could not be copied.
absl::StatusOr<std::filesystem::path> SyntheticEtc(const std::filesystem::path& cache_dir,
                                                   const TaskIdentity& who);

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
  // Exposed for tests and benchmarks; file descriptors it names are closed on return,
  // so the command is for inspection only.
  absl::StatusOr<std::vector<std::string>> BuildCommand(const ContainerConfig& config,
                                                        const TaskRun& run);

  const TaskIdentity& identity() const { return options_.identity; }
  const std::filesystem::path& image_cache_dir() const { return options_.image_cache_dir; }

  const std::string& bwrap() const { return bwrap_; }

 private:
  struct Invocation;
  absl::StatusOr<std::unique_ptr<Invocation>> Plan(const ContainerConfig& config,
                                                   const TaskRun& run);
  explicit SandboxRunner(SandboxOptions options, std::string bwrap)
      : options_(std::move(options)), bwrap_(std::move(bwrap)) {}

  SandboxOptions options_;
  std::string bwrap_;
};

}  // namespace medperf
