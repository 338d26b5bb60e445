// Walks a directory tree that may be hostile (a task's outputs, written by a container
// the site does not trust) without ever following a symbolic link: each directory is
// opened with openat(O_NOFOLLOW | O_DIRECTORY) relative to its already-open parent and
// checked to be the directory that was listed, and each entry is examined with
// fstatat(AT_SYMLINK_NOFOLLOW). A link, or a directory swapped for a link while the walk
// runs, is reported to the caller as what it is and never entered.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace medperf {

struct TreeEntry {
  // Open directory holding the entry, valid during the callback; pass it to openat() or
  // fstatat() together with `name`. For the root itself: AT_FDCWD and the root path.
  int dir_fd;
  const char* name;
  // Path relative to the root ("a/b.txt"); empty for the root itself.
  std::string_view relative;
  // lstat() of the entry (the root's stat follows a symlink when the options allow it).
  const struct stat& st;
  // 0 for the root, 1 for its entries, ...
  int depth;
};

struct TreeWalkOptions {
  // The root itself may be a symlink to a directory or file (a path the site admin gave).
  bool follow_root_symlink = false;
  // Entries that disappear or change type while the walk runs are skipped instead of
  // being errors (for measuring a tree that a running task is still writing).
  bool tolerate_changes = false;
  // Directory levels below the root. Each level holds one open file descriptor.
  int max_depth = 256;
  // Entries (files, directories, links, ...) below the root; 0 = no limit.
  uint64_t max_entries = 0;
  // Checked before every entry; when it becomes true the walk stops with CANCELLED.
  const std::atomic<bool>* cancel = nullptr;
};

// Calls `visit` for the root and then for every entry below it, each directory before its
// contents, and descends into real directories only (never into symlinks). A non-OK
// status from `visit` stops the walk and is returned as is. Entry order is the order of
// readdir(), i.e. unspecified.
// Errors (messages name the root and the entry): NOT_FOUND when the root does not exist;
// INVALID_ARGUMENT when a directory changed into something else during the walk (unless
// tolerate_changes); RESOURCE_EXHAUSTED past max_depth or max_entries; CANCELLED;
// PERMISSION_DENIED / INTERNAL for I/O errors.
absl::Status WalkTree(const std::filesystem::path& root, const TreeWalkOptions& options,
                      const std::function<absl::Status(const TreeEntry&)>& visit);

// Succeeds when the folder `root` (a symlink to a folder is followed) holds at least one
// data file at any depth: a regular file, or a link to one, whose name does not start
// with '.'. A folder without one has no data (hidden files such as .DS_Store and broken
// links do not count), and registering it would put a dataset on the MedPerf server that
// can never be prepared. Stops at the first data file found. `what` names the folder in
// errors (e.g. "--data_path").
// Errors: INVALID_ARGUMENT "<what> '<root>' is empty: no data file in it or its subfolders
// (...)"; the
// errors of WalkTree (NOT_FOUND when `root` does not exist, PERMISSION_DENIED, ...).
absl::Status CheckFolderHoldsAFile(const std::filesystem::path& root, std::string_view what);

// "symbolic link", "FIFO", "socket", "block device", "character device", "directory",
// "regular file" (for error messages).
std::string_view FileTypeName(mode_t mode);

}  // namespace medperf
