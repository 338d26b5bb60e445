#include "daemon/disk_space.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace medperf::daemon {
namespace fs = std::filesystem;

absl::StatusOr<uint64_t> FreeBytes(const fs::path& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot read the free space of ", path.string(), ": ", strerror(errno)));
  }
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

bool DiskReserve::Ensure(uint64_t keep_free) {
  absl::MutexLock lock(&mu_);
  if (bytes_ == 0) return false;
  std::error_code ec;
  if (fs::exists(path_, ec) && fs::file_size(path_, ec) == bytes_) return true;
  absl::StatusOr<uint64_t> free = FreeBytes(path_.parent_path());
  if (!free.ok() || *free < bytes_ + keep_free) return false;
  int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return false;
  // posix_fallocate really allocates the blocks (a sparse file would reserve nothing).
  bool ok = posix_fallocate(fd, 0, static_cast<off_t>(bytes_)) == 0;
  close(fd);
  if (!ok) fs::remove(path_, ec);
  return ok;
}

uint64_t DiskReserve::Release() {
  absl::MutexLock lock(&mu_);
  std::error_code ec;
  uint64_t size = fs::file_size(path_, ec);
  if (ec) return 0;
  return fs::remove(path_, ec) ? size : 0;
}

uint64_t DiskReserve::ReleaseIfLow(uint64_t low_water) {
  absl::StatusOr<uint64_t> free = FreeBytes(path_.parent_path());
  if (free.ok() && *free >= low_water) return 0;
  return Release();
}

}  // namespace medperf::daemon
