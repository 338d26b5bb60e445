#include "runners/output_check.h"

#include <sys/stat.h>

#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/absl_view.h"
#include "core/tree_walk.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;

std::string OutputName(const fs::path& output) {
  return absl::StrCat("task output '", output.filename().string(), "' (", output.string(), ")");
}

std::string EntryName(const TreeEntry& e) {
  return e.relative.empty() ? std::string("the output itself")
                            : absl::StrCat("entry '", AV(e.relative), "'");
}

}  // namespace

absl::Status ValidateTaskOutputs(const std::vector<fs::path>& outputs, const OutputLimits& limits,
                                 const std::atomic<bool>* cancel) {
  uint64_t total_bytes = 0;
  uint64_t entries = 0;
  for (const fs::path& output : outputs) {
    TreeWalkOptions walk;
    walk.follow_root_symlink = false;  // the task could have replaced a file output
    walk.max_depth = limits.max_depth;
    walk.cancel = cancel;
    absl::Status s = WalkTree(output, walk, [&](const TreeEntry& e) -> absl::Status {
      const mode_t mode = e.st.st_mode;
      if (limits.max_entries != 0 && ++entries > limits.max_entries) {
        return absl::ResourceExhaustedError(
            absl::StrCat("task outputs hold more than ", limits.max_entries, " entries (",
                         OutputName(output), " reached it at ", EntryName(e), ")"));
      }
      if (S_ISDIR(mode)) return absl::OkStatus();
      if (!S_ISREG(mode)) {
        return absl::InvalidArgumentError(
            absl::StrCat(OutputName(output), ": ", EntryName(e), " is a ", AV(FileTypeName(mode)),
                         "; task outputs may hold only regular files and directories"));
      }
      // A second name for the same inode may live outside the output (a file of the
      // daemon's, or another task's): hashing or copying it would leak or alter that file.
      if (e.st.st_nlink > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(OutputName(output), ": ", EntryName(e), " is a regular file with ",
                         e.st.st_nlink, " hard links; task outputs may not hold hard links"));
      }
      total_bytes += static_cast<uint64_t>(e.st.st_size);
      if (limits.max_total_bytes != 0 && total_bytes > limits.max_total_bytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("task outputs hold at least ", total_bytes,
                         " bytes, more than the limit of ", limits.max_total_bytes, " bytes (",
                         OutputName(output), " passed it at ", EntryName(e), ")"));
      }
      return absl::OkStatus();
    });
    if (absl::IsNotFound(s)) {
      return absl::NotFoundError(
          absl::StrCat(OutputName(output), " does not exist or cannot be read: ", s.message()));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> OutputBytes(const std::vector<fs::path>& paths,
                                     const std::atomic<bool>* cancel) {
  uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> linked;  // files with several names, counted once
  for (const fs::path& path : paths) {
    TreeWalkOptions walk;
    walk.tolerate_changes = true;
    walk.max_depth = OutputLimits{}.max_depth;
    walk.cancel = cancel;
    absl::Status s = WalkTree(path, walk, [&](const TreeEntry& e) {
      if (!S_ISREG(e.st.st_mode)) return absl::OkStatus();
      if (e.st.st_nlink > 1 && !linked.emplace(e.st.st_dev, e.st.st_ino).second) {
        return absl::OkStatus();
      }
      total += static_cast<uint64_t>(e.st.st_size);
      return absl::OkStatus();
    });
    // The output (or a part of it) went away while we looked: it holds nothing now.
    if (absl::IsNotFound(s)) continue;
    if (!s.ok()) return s;
  }
  return total;
}

}  // namespace medperf
