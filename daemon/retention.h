// Retention: what the daemon forgets, and when (docs/operations.md, "Retention").
// Events, finished jobs with their logs, and compatibility-test outputs age out after
// the `storage.keep_*_days` settings. Prepared data, local results (submitted or not),
// containers and the job that keeps the poller from re-creating failed or cancelled work
// are never pruned.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/site.h"

namespace medperf::daemon {

struct RetentionReport {
  int64_t events = 0;          // events deleted
  int64_t jobs = 0;            // finished jobs deleted
  int64_t job_logs = 0;        // their log files deleted
  int64_t tests = 0;           // compatibility-test folders deleted
  uint64_t job_log_bytes = 0;  // bytes of those log files
  uint64_t test_bytes = 0;     // bytes of those test folders
  uint64_t bytes_freed = 0;    // job_log_bytes + test_bytes

  std::string Summary() const;
};

// Applies the site's retention settings as of `now`. Each kind is pruned on its own:
// a failure in one (say, an unreadable test folder) is reported after the others ran.
// With `dry_run` nothing is deleted and the report says what would be.
// Errors: the first store or filesystem error met.
absl::StatusOr<RetentionReport> ApplyRetention(Site& site, absl::Time now, bool dry_run = false);

}  // namespace medperf::daemon
