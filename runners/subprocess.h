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
