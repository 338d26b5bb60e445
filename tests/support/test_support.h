// Shared helpers for tests: temp dirs, locating built binaries, running processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace medperf::testing {

// A fresh directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Build and source trees, from MEDPERF_BUILD_DIR / MEDPERF_SOURCE_DIR set by ctest.
std::filesystem::path BuildDir();
std::filesystem::path SourceDir();
// A binary built by this project, e.g. BinaryPath("daemon/medperfd").
std::filesystem::path BinaryPath(const std::string& relative);

void WriteFile(const std::filesystem::path& path, const std::string& content);
std::string ReadFile(const std::filesystem::path& path);

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  int signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] with the arguments and waits up to `timeout`; stdin is /dev/null
// unless `input` is given.
RunResult Run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(60),
              const std::string& input = "", const std::vector<std::string>& extra_env = {});

// The same, under a name that gtest's Test::Run does not hide inside TEST bodies.
inline RunResult RunProcess(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60),
                            const std::string& input = "",
                            const std::vector<std::string>& extra_env = {}) {
  return Run(argv, timeout, input, extra_env);
}

// A process running in the background, killed (SIGKILL) on destruction if still alive.
// Its stdout/stderr go to `log_path`.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
          const std::vector<std::string>& extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  pid_t pid() const { return pid_; }
  bool Alive();
  // Sends `sig` and waits up to `timeout` for exit; returns the wait status or -1.
  int Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::filesystem::path log_path_;
};

// Polls `condition` every 20 ms until it is true or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace medperf::testing
