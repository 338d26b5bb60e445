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
  // Root only: binds made in a private mount namespace before the switch, so the
  // unprivileged engine can reach inputs under paths only the daemon may traverse.
  // Each source is opened by the daemon and bound at `target` (under a fresh tmpfs
  // mounted at `stage_root`).
  struct StageMount {
    int source_fd = -1;  // O_PATH, opened by the caller; bound via /proc/self/fd
    std::string target;  // absolute, under stage_root
    bool is_dir = true;
  };
  std::string stage_root;
  std::vector<StageMount> stage;
  // File descriptors the child keeps open across exec (opened O_CLOEXEC by the caller,
  // e.g. a seccomp program or --ro-bind-data payloads); the caller closes them after.
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
