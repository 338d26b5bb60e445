#include "daemon/retention.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "runners/output_check.h"

namespace medperf::daemon {
namespace fs = std::filesystem;

namespace {

// Bytes of the regular files under `path` (links count 0), as the output cap counts them;
// 0 when it cannot be measured.
uint64_t SizeOf(const fs::path& path) { return OutputBytes({path}).value_or(0); }

}  // namespace

std::string RetentionReport::Summary() const {
  std::vector<std::string> parts;
  if (events) parts.push_back(absl::StrCat(events, " event(s)"));
  if (jobs) parts.push_back(absl::StrCat(jobs, " finished job(s) and ", job_logs, " log(s)"));
  if (tests) parts.push_back(absl::StrCat(tests, " compatibility-test output folder(s)"));
  if (parts.empty()) return "nothing to remove";
  return absl::StrCat("removed ", absl::StrJoin(parts, ", "), " (", bytes_freed, " bytes)");
}

absl::StatusOr<RetentionReport> ApplyRetention(Site& site, absl::Time now, bool dry_run) {
  const StorageConfig& cfg = site.config().storage;
  RetentionReport report;
  absl::Status first_error;
  auto note = [&](const absl::Status& st) {
    if (!st.ok() && first_error.ok()) first_error = st;
  };

  if (cfg.keep_events_days > 0) {
    absl::StatusOr<int64_t> n = site.store().PruneEvents(
        storage::Timestamp(now - absl::Hours(24) * cfg.keep_events_days), dry_run);
    if (n.ok()) report.events = *n;
    note(n.status());
  }
  if (cfg.keep_jobs_days > 0) {
    absl::StatusOr<std::vector<storage::JobRecord>> jobs = site.store().PruneFinishedJobs(
        storage::Timestamp(now - absl::Hours(24) * cfg.keep_jobs_days), dry_run);
    note(jobs.status());
    const fs::path logs = site.state_dir() / "logs";
    for (const storage::JobRecord& job : jobs.ok() ? *jobs : std::vector<storage::JobRecord>{}) {
      ++report.jobs;
      // Only logs the daemon keeps itself: a path outside logs/ is not ours to delete.
      fs::path log = job.log_path;
      if (log.empty() || log.parent_path() != logs) continue;
      uint64_t size = SizeOf(log);
      std::error_code ec;
      if (dry_run ? fs::is_regular_file(log, ec) : fs::remove(log, ec)) {
        ++report.job_logs;
        report.job_log_bytes += size;
      }
    }
  }
  if (cfg.keep_tests_days > 0) {
    const fs::path tests = site.state_dir() / "tests";
    const auto cutoff = fs::file_time_type::clock::now() -
                        std::chrono::hours(24) * cfg.keep_tests_days -
                        std::chrono::nanoseconds(absl::ToInt64Nanoseconds(absl::Now() - now));
    std::error_code ec;
    for (auto it = fs::directory_iterator(tests, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::error_code tec;
      if (!it->is_directory(tec) || it->is_symlink(tec)) continue;
      // A test's age is that of its report (written last), else of its folder.
      fs::path marker = it->path() / "test_report.json";
      auto when = fs::last_write_time(fs::exists(marker, tec) ? marker : it->path(), tec);
      if (tec || when >= cutoff) continue;
      uint64_t size = SizeOf(it->path());
      if (dry_run || (fs::remove_all(it->path(), tec) != static_cast<std::uintmax_t>(-1) && !tec)) {
        ++report.tests;
        report.test_bytes += size;
      } else {
        note(absl::InternalError(
            absl::StrCat("cannot remove ", it->path().string(), ": ", tec.message())));
      }
    }
  }
  report.bytes_freed = report.job_log_bytes + report.test_bytes;
  if (!first_error.ok()) return first_error;
  return report;
}

}  // namespace medperf::daemon
