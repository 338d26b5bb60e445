#include "daemon/state_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace medperf::daemon {

absl::StatusOr<std::unique_ptr<StateDirLock>> StateDirLock::Acquire(
    const std::filesystem::path& dir) {
  std::filesystem::path path = dir / "medperfd.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open lock file ", path.string(), ": ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    if (err == EWOULDBLOCK) {
      std::string holder = n > 0 ? std::string(absl::StripAsciiWhitespace(buf)) : "unknown";
      return absl::FailedPreconditionError(absl::StrCat(
          "another medperfd (pid ", holder, ") already owns the state directory ", dir.string()));
    }
    return absl::InternalError(
        absl::StrCat("cannot lock ", path.string(), ": ", std::strerror(err)));
  }
  std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is informational only; the lock itself is held.
  }
  return std::unique_ptr<StateDirLock>(new StateDirLock(fd));
}

StateDirLock::~StateDirLock() {
  flock(fd_, LOCK_UN);
  close(fd_);
}

}  // namespace medperf::daemon
