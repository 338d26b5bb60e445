// Starts the real medperfd on a temp socket and state dir, and runs the real medperfctl.
#pragma once

#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace medperf::testing {

class DaemonProcess {
 public:
  // `extra_args` go to medperfd after the state dir and socket flags.
  explicit DaemonProcess(const std::filesystem::path& root,
                         std::vector<std::string> extra_args = {})
      : root_(root),
        state_dir_(root / "state"),
        socket_(root / "run" / "medperfd.sock"),
        extra_args_(std::move(extra_args)) {}

  // Starts the daemon and waits until `medperfctl status` answers.
  ::testing::AssertionResult Start() {
    std::vector<std::string> argv = {BinaryPath("daemon/medperfd").string(),
                                     "--state-dir",
                                     state_dir_.string(),
                                     "--socket",
                                     socket_.string(),
                                     "--log-level=debug"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    process_ = std::make_unique<Process>(argv, root_ / "medperfd.log");
    bool up = WaitFor([&] { return Ctl({"status"}).exit_code == 0 || !process_->Alive(); },
                      std::chrono::seconds(20));
    if (!up || !process_->Alive()) {
      return ::testing::AssertionFailure() << "medperfd did not come up:\n" << process_->Log();
    }
    return ::testing::AssertionSuccess();
  }

  RunResult Ctl(std::vector<std::string> args, const std::string& input = "",
                std::chrono::milliseconds timeout = std::chrono::seconds(120)) const {
    std::vector<std::string> argv = {BinaryPath("ctl/medperfctl").string(), "--socket",
                                     socket_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv, timeout, input);
  }

  int Stop(int sig = SIGTERM) { return process_ ? process_->Stop(sig) : -1; }
  Process& process() { return *process_; }
  std::string Log() const { return process_ ? process_->Log() : ""; }
  const std::filesystem::path& state_dir() const { return state_dir_; }
  const std::filesystem::path& socket() const { return socket_; }

 private:
  std::filesystem::path root_;
  std::filesystem::path state_dir_;
  std::filesystem::path socket_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<Process> process_;
};

}  // namespace medperf::testing
