// Free space in the state directory: checked before long tasks, and a reserve file that
// is given back when the filesystem fills, so the state database can still record what
// happened (docs/operations.md, "Disk space").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace medperf::daemon {

// Bytes an unprivileged writer may still use on the filesystem holding `path`
// (statvfs f_bavail × f_frsize). Errors: INTERNAL when statvfs fails.
absl::StatusOr<uint64_t> FreeBytes(const std::filesystem::path& path);

// A file of `bytes` zeros, `<state_dir>/.space-reserve`, that keeps room for the state
// database (SQLite's WAL and the records of a failing job) on a filesystem that fills.
// Release() deletes it when free space runs low; Ensure() re-creates it once there is
// room again. Thread-safe.
class DiskReserve {
 public:
  DiskReserve(std::filesystem::path state_dir, uint64_t bytes)
      : path_(std::move(state_dir) / ".space-reserve"), bytes_(bytes) {}

  // Creates the file when missing and at least `bytes` + `keep_free` are free (the
  // reserve never pushes a nearly full disk over the edge). Returns whether it exists.
  bool Ensure(uint64_t keep_free);
  // Deletes the file; returns the bytes given back (0 when it was not there).
  uint64_t Release();
  // Releases the reserve when fewer than `low_water` bytes are free on its filesystem.
  // Returns the bytes given back.
  uint64_t ReleaseIfLow(uint64_t low_water);

  const std::filesystem::path& path() const { return path_; }
  uint64_t bytes() const { return bytes_; }

 private:
  std::filesystem::path path_;
  uint64_t bytes_;
  absl::Mutex mu_;
};

}  // namespace medperf::daemon
