// Process supervision shared by the runners: start a command in its own process
// group, stream its merged stdout/stderr to a log file and a line callback, enforce
// a wall-clock limit and cancellation by killing the whole group.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runners/runner.h"

namespace medperf {

struct SupervisedCommand {
  std::vector<std::string> argv;  // argv[0] is resolved through PATH
  // Complete environment of the child ("K=V"); empty = inherit ours.
  std::vector<std::string> env;
  bool inherit_env = true;
  std::filesystem::path log_file;
  std::function<void(std::string_view)> on_output;
  std::chrono::milliseconds time_limit{0};
  const std::atomic<bool>* cancel = nullptr;
  // setrlimit() in the child before exec (lowering needs no privilege); 0 = none.
  uint64_t rlimit_as_bytes = 0;
  uint64_t rlimit_cpu_seconds = 0;
  // --- Confinement, applied in the child between fork and exec (all optional) ---
  // Drop to this host identity (setgroups([]), setresgid, setresuid) and clear every
  // capability, including ambient ones, so a root or CAP_SETUID daemon never hands its
  // privileges to the engine or the task.
  bool switch_user = false;
  uint32_t uid = 0, gid = 0;
  // A daemon that is not root but holds CAP_SETUID and CAP_SETGID (the packaged unit's
  // `medperf` user) may not mount in the initial namespaces. The child then first
  // enters a new user namespace in which this process maps the daemon's own uid/gid to
  // 0 and `uid`/`gid` to themselves (writing /proc/<child>/{uid,gid}_map needs those
  // two capabilities, nothing else); there it may stage mounts and chown outputs, with
  // power over the files of these two users only. Without switch_user the command runs
  // as that namespace's root (used to take a task's outputs back).
  bool private_user_namespace = false;
  // With switch_user: binds made in a private mount namespace before the switch, so the
  // unprivileged engine can reach inputs under paths only the daemon may traverse.
  // Each source is opened by the daemon and bound at `target` (under a fresh tmpfs
  // mounted at `stage_root`).
  struct StageMount {
    int source_fd = -1;       // O_PATH, opened by the caller
    std::string source_path;  // the path source_fd was opened from (absolute)
    bool no_follow = false;   // source_fd was opened with O_NOFOLLOW
    std::string target;       // absolute, under stage_root
    bool is_dir = true;
    bool give_to_task = false;  // an output: chowned to uid:gid before the switch
  };
  std::string stage_root;
  std::vector<StageMount> stage;
  // File descriptors the child keeps open across exec (opened O_CLOEXEC by the caller,
  // e.g. a seccomp program or bwrap's --info-fd/--block-fd pipes); the caller closes them.
  std::vector<int> keep_fds;
  // Open cgroup.procs files the child joins (by writing "0") before exec.
  std::vector<int> cgroup_procs_fds;
  uint64_t rlimit_nproc = 0;
  uint64_t rlimit_fsize = 0;  // bytes; exceeding it kills with SIGXFSZ
  bool no_core_dumps = false;
  // Bytes of output kept in log_file: when exceeded the first half and the last half
  // are kept with a marker between them. 0 = unlimited.
  uint64_t log_limit_bytes = 0;
  // Called about once a second while the command runs; a non-empty return kills it and
  // is reported as TaskOutcome::limit_hit (with the returned detail).
  std::function<std::pair<std::string, std::string>()> on_tick;
  // Extra teardown when we kill the command (e.g. `docker kill <name>`), run before
  // the process group gets SIGKILL.
  std::function<void()> on_kill;
  // Called in the supervising thread right after the command started (its host pid),
  // before any output is read. An error kills the command's process group and is what
  // RunSupervised returns.
  std::function<absl::Status(int pid)> on_started;
};

// Runs to completion. Errors only when the command cannot be started.
absl::StatusOr<TaskOutcome> RunSupervised(const SupervisedCommand& command);

struct CaptureResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, merged
  bool timed_out = false;
};

// Runs a short helper command (docker info, docker load, ...) and captures its output.
absl::StatusOr<CaptureResult> RunCapture(const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout,
                                         size_t max_output = 1 << 20);

// Absolute path of an executable found on PATH (or `name` itself if it contains a
// slash and is executable); empty when not found.
std::string FindExecutable(std::string_view name);

}  // namespace medperf
