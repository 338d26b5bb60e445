// Task outputs are untrusted data: a container the site does not trust wrote them. Before
// the daemon hashes, copies or reads anything a task produced, ValidateTaskOutputs checks
// that each output holds only regular files and directories, within size and entry caps.
// Both functions walk with openat/fstatat and O_NOFOLLOW (core/tree_walk.h), so a link
// planted in an output is reported, never followed out of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace medperf {

struct OutputLimits {
  // Sum of the sizes (st_size, so sparse files count in full) of every regular file in
  // all outputs together, in bytes; 0 = no cap (TaskLimits::output_bytes).
  uint64_t max_total_bytes = 0;
  // Entries (files and directories, the outputs themselves included) in all outputs.
  uint64_t max_entries = 1'000'000;
  // Directory levels below an output's root.
  int max_depth = 256;
};

// Checks every output (a directory tree, or a single file) after the task has exited.
// Refused, with a message naming the output (its file name and host path) and the entry
// (path relative to the output):
//  - INVALID_ARGUMENT: a symbolic link (any, the output itself included), a regular file
//    with more than one hard link (it may be shared with a file outside the output), a
//    block or character device, a FIFO, a socket;
//  - RESOURCE_EXHAUSTED: more than max_total_bytes in total (the message says the size
//    reached and the limit), more than max_entries entries, nesting past max_depth.
// Also NOT_FOUND when an output does not exist, CANCELLED when `cancel` becomes true,
// PERMISSION_DENIED / INTERNAL for I/O errors.
absl::Status ValidateTaskOutputs(const std::vector<std::filesystem::path>& outputs,
                                 const OutputLimits& limits,
                                 const std::atomic<bool>* cancel = nullptr);

// Total bytes (st_size) of the regular files in `paths`, walked the same safe way, for
// enforcing the output cap while the task still runs: entries (or whole outputs) that
// vanish or change during the walk are skipped, links and special files count 0, and a
// file with several hard links counts once (what it takes on disk: image roots share
// their layers' files by hard links).
// Errors: RESOURCE_EXHAUSTED for a tree nested deeper than OutputLimits{}.max_depth (treat
// it as the output cap being hit), CANCELLED, PERMISSION_DENIED / INTERNAL for I/O errors.
absl::StatusOr<uint64_t> OutputBytes(const std::vector<std::filesystem::path>& paths,
                                     const std::atomic<bool>* cancel = nullptr);

}  // namespace medperf
