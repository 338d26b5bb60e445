// The state directory seen as the MedPerf CLI's `storage` commands see theirs
// (mlcommons/medperf cli/medperf/commands/storage.py): `ls` shows each asset folder and
// where it is (here also its size and item count, and the free space), `cleanup` removes
// clutter. medperfctl's `storage ls` and `storage cleanup` (docs/operations.md, "Storage").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/jobs.h"
#include "daemon/site.h"

namespace medperf::daemon {

// One asset folder (or file) of the state directory.
struct StorageFolder {
  std::string asset;  // "datasets", "results", ..., "database", "reserve"
  std::filesystem::path path;
  std::string description;  // what it holds, for people
  uint64_t bytes = 0;       // regular files under `path`, links count 0 (OutputBytes)
  int64_t items = 0;        // datasets, results, cached files, log files, ...
  std::string error;        // why it could not be measured; empty when it was
};

struct StorageListing {
  std::filesystem::path state_dir;
  std::vector<StorageFolder> folders;  // in a fixed order, missing folders as 0 bytes/items
  std::optional<uint64_t> free_bytes;  // on its filesystem, for an unprivileged writer
};

// Measures the asset folders of `state_dir` (the layout medperfd creates: datasets/,
// results/, containers/, cache/, images/, tests/, logs/, tmp/, state.db and its WAL,
// .space-reserve). Never fails: a folder that cannot be measured carries `error`.
StorageListing ListStorage(const std::filesystem::path& state_dir);

// One kind of clutter removed from one place (or, on a dry run, that would be).
struct CleanupItem {
  // "tmp" (tasks' temporary files), "download" (unfinished downloads and extractions),
  // "failed-preparation" / "failed-result" (partial outputs of a failed task; its logs
  // stay), "test" / "job" / "event" (past the storage.keep_*_days settings).
  std::string kind;
  std::filesystem::path path;  // empty for database rows
  int64_t count = 0;           // entries or rows
  uint64_t bytes = 0;
  std::string reason;
};

struct CleanupReport {
  bool dry_run = false;
  std::vector<CleanupItem> removed;
  uint64_t bytes_freed = 0;
  std::vector<std::string> kept;  // what stays on purpose, one sentence each
};

// Removes the state directory's clutter, or with `dry_run` only says what would go:
// - every entry of tmp/ and cache/tmp/ (nothing is resumed from them once no job runs);
// - the outputs of failed preparations (datasets/<id>/ but its logs/) unless the prepare
//   step itself completed (`.ready`: a later `dataset prepare` reuses that output), and
//   of failed model runs (results/<uid>/ but its logs/);
// - what ApplyRetention (daemon/retention.h) prunes as of `now`: old events, finished
//   jobs with their logs, compatibility-test outputs.
// Never touched: prepared datasets, executed results (submitted or not), containers,
// verified downloads and images, folders the database does not know, the database and
// the reserve. The work runs under `jobs.RunWhileIdle`, so no job body runs meanwhile.
// Errors: FAILED_PRECONDITION naming the running jobs when a job runs (nothing is
// removed); INTERNAL naming the path that could not be removed; store errors.
absl::StatusOr<CleanupReport> CleanupStorage(Site& site, JobManager& jobs, bool dry_run,
                                             absl::Time now);

// "removed 3 item(s), 1234 bytes (1.2 KiB) freed" or "nothing to remove" (dry run:
// "would remove ...").
std::string CleanupSummary(const CleanupReport& report);

}  // namespace medperf::daemon
