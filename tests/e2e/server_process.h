// The real medperf-server on loopback for end-to-end tests: started with `--port 0`, so
// the kernel picks a free port and no other test can take it between a probe and the
// bind; the port is read from the server's "listening on" line.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace medperf::testing {

class ServerProcess {
 public:
  // `log` receives the server's output; each later start appends to it.
  ServerProcess(std::filesystem::path db, std::filesystem::path log)
      : db_(std::move(db)), log_(std::move(log)) {}

  // Starts `medperf-server serve` with `extra_args` (e.g. {"--faults", "..."}) and waits
  // until it listens. The first start takes a port from the kernel; a restart after
  // Stop() asks for the same one, so clients configured with url() reach it again.
  ::testing::AssertionResult Start(const std::vector<std::string>& extra_args = {}) {
    process_.reset();
    std::vector<std::string> argv = {BinaryPath("server/medperf-server").string(),
                                     "serve",
                                     "--db",
                                     db_.string(),
                                     "--port",
                                     std::to_string(port_)};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    size_t seen = ReadFile(log_).size();  // the log may hold earlier runs
    process_ = std::make_unique<Process>(argv, log_);
    std::string line;
    bool up = WaitFor(
        [&] {
          std::string text = ReadFile(log_);
          text.erase(0, std::min(seen, text.size()));
          size_t at = text.find("listening on ");
          size_t end = at == std::string::npos ? at : text.find('\n', at);
          if (end == std::string::npos) return !process_->Alive();
          line = text.substr(at, end - at);
          return true;
        },
        std::chrono::seconds(20));
    size_t colon = line.rfind(':');
    if (!up || colon == std::string::npos) {
      return ::testing::AssertionFailure() << "medperf-server did not start:\n" << ReadFile(log_);
    }
    port_ = std::stoi(line.substr(colon + 1));
    return ::testing::AssertionSuccess();
  }

  // Kills the server (SIGKILL unless told otherwise) and waits for it.
  void Stop(int sig = SIGKILL) {
    if (process_) process_->Stop(sig);
    process_.reset();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& db() const { return db_; }
  std::string Log() const { return ReadFile(log_); }

 private:
  std::filesystem::path db_;
  std::filesystem::path log_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace medperf::testing
