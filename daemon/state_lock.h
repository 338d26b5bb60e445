// One daemon per state directory: an exclusive flock on <state_dir>/medperfd.lock.
#pragma once

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"

namespace medperf::daemon {

class StateDirLock {
 public:
  // Fails with FAILED_PRECONDITION naming the holder's pid when another daemon owns it.
  static absl::StatusOr<std::unique_ptr<StateDirLock>> Acquire(const std::filesystem::path& dir);
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

 private:
  explicit StateDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace medperf::daemon
