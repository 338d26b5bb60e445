#include "core/tree_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/absl_view.h"

namespace medperf {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

struct Level {
  DirPtr dir;
  std::string relative;  // of this directory, "" for the root
  int depth;             // of this directory
};

std::string Describe(const std::filesystem::path& root, std::string_view relative) {
  if (relative.empty()) return absl::StrCat("'", root.string(), "'");
  return absl::StrCat("'", AV(relative), "' in '", root.string(), "'");
}

absl::Status ErrnoError(int err, std::string_view what, const std::filesystem::path& root,
                        std::string_view relative) {
  std::string message =
      absl::StrCat("cannot ", AV(what), " ", Describe(root, relative), ": ", std::strerror(err));
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  if (err == EMFILE || err == ENFILE || err == ENOMEM) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

bool Vanished(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

}  // namespace

std::string_view FileTypeName(mode_t mode) {
  if (S_ISLNK(mode)) return "symbolic link";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISREG(mode)) return "regular file";
  return "special file";
}

absl::Status WalkTree(const std::filesystem::path& root, const TreeWalkOptions& options,
                      const std::function<absl::Status(const TreeEntry&)>& visit) {
  auto cancelled = [&] {
    return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed);
  };
  struct stat root_st;
  const int root_flags = options.follow_root_symlink ? 0 : AT_SYMLINK_NOFOLLOW;
  if (::fstatat(AT_FDCWD, root.c_str(), &root_st, root_flags) != 0) {
    return ErrnoError(errno, "examine", root, "");
  }
  if (absl::Status s = visit(TreeEntry{AT_FDCWD, root.c_str(), "", root_st, 0}); !s.ok()) {
    return s;
  }
  if (!S_ISDIR(root_st.st_mode)) return absl::OkStatus();

  // The same open as for every level below: never through a link, and it must still be
  // the directory just examined.
  auto open_dir = [&](int parent_fd, const char* name, const struct stat& expected,
                      bool follow) -> int {
    int fd = ::openat(parent_fd, name,
                      O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0) return -1;
    struct stat st;
    if (::fstat(fd, &st) != 0 || st.st_dev != expected.st_dev || st.st_ino != expected.st_ino) {
      ::close(fd);
      errno = ELOOP;  // reported as "changed during the walk"
      return -1;
    }
    return fd;
  };

  std::vector<Level> stack;
  {
    int fd = open_dir(AT_FDCWD, root.c_str(), root_st, options.follow_root_symlink);
    if (fd < 0) {
      if (errno == ELOOP) {
        return absl::InvalidArgumentError(
            absl::StrCat(Describe(root, ""),
                         " changed while it was being read (now a symbolic link or "
                         "another directory)"));
      }
      return ErrnoError(errno, "open directory", root, "");
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      int err = errno;
      ::close(fd);
      return ErrnoError(err, "list", root, "");
    }
    stack.push_back(Level{DirPtr(dir), "", 0});
  }

  uint64_t entries = 0;
  while (!stack.empty()) {
    if (cancelled()) {
      return absl::CancelledError(absl::StrCat("walking ", Describe(root, ""), " was cancelled"));
    }
    Level& top = stack.back();
    errno = 0;
    struct dirent* e = ::readdir(top.dir.get());
    if (e == nullptr) {
      if (errno != 0 && !(options.tolerate_changes && Vanished(errno))) {
        return ErrnoError(errno, "list", root, top.relative);
      }
      stack.pop_back();
      continue;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (options.max_entries != 0 && ++entries > options.max_entries) {
      return absl::ResourceExhaustedError(
          absl::StrCat(Describe(root, ""), " holds more than ", options.max_entries, " entries"));
    }
    const int dir_fd = ::dirfd(top.dir.get());
    const int depth = top.depth + 1;
    std::string relative =
        top.relative.empty() ? std::string(e->d_name) : absl::StrCat(top.relative, "/", e->d_name);
    struct stat st;
    if (::fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (options.tolerate_changes && Vanished(errno)) continue;
      return ErrnoError(errno, "examine", root, relative);
    }
    if (absl::Status s = visit(TreeEntry{dir_fd, e->d_name, relative, st, depth}); !s.ok()) {
      return s;
    }
    if (!S_ISDIR(st.st_mode)) continue;
    if (depth > options.max_depth) {
      return absl::ResourceExhaustedError(absl::StrCat(Describe(root, relative),
                                                       " is nested more than ", options.max_depth,
                                                       " directories deep"));
    }
    int fd = open_dir(dir_fd, e->d_name, st, /*follow=*/false);
    if (fd < 0) {
      if (options.tolerate_changes && Vanished(errno)) continue;
      if (errno == ELOOP || errno == ENOTDIR) {
        return absl::InvalidArgumentError(
            absl::StrCat(Describe(root, relative),
                         " changed while it was being read (now a symbolic link or "
                         "another directory)"));
      }
      return ErrnoError(errno, "open directory", root, relative);
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      int err = errno;
      ::close(fd);
      return ErrnoError(err, "list", root, relative);
    }
    // `top` may dangle after this push_back; it is not used again in this iteration.
    stack.push_back(Level{DirPtr(dir), std::move(relative), depth});
  }
  return absl::OkStatus();
}

absl::Status CheckFolderHoldsAFile(const std::filesystem::path& root, std::string_view what) {
  TreeWalkOptions options;
  options.follow_root_symlink = true;
  bool found = false;
  // A CANCELLED status is the cheapest way to stop WalkTree at the first file.
  absl::Status walked = WalkTree(root, options, [&](const TreeEntry& e) -> absl::Status {
    // Hidden files (.DS_Store, .gitkeep) and links to nothing are not data.
    if (e.depth == 0 || S_ISDIR(e.st.st_mode) || e.name[0] == '.') return absl::OkStatus();
    bool regular = S_ISREG(e.st.st_mode);
    if (S_ISLNK(e.st.st_mode)) {
      struct stat target {};
      regular = ::fstatat(e.dir_fd, e.name, &target, 0) == 0 && S_ISREG(target.st_mode);
    }
    if (!regular) return absl::OkStatus();
    found = true;
    return absl::CancelledError("found a file");
  });
  if (found) return absl::OkStatus();
  if (!walked.ok()) return walked;
  return absl::InvalidArgumentError(
      absl::StrCat(AV(what), " '", root.string(),
                   "' is empty: no data file in it or its subfolders (hidden files "
                   "and broken links do not count)"));
}

}  // namespace medperf
