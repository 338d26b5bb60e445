#include "daemon/state_storage.h"

#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/disk_space.h"
#include "daemon/retention.h"
#include "runners/runner.h"  // DescribeBytes
#include "runners/output_check.h"

namespace medperf::daemon {
namespace fs = std::filesystem;

namespace {

// An asset of the state directory: where it is, what it holds, and where its items are
// counted (the entries of `count_in`, relative to the asset; none: the asset's own).
struct AssetSpec {
  const char* asset;
  std::vector<const char*> paths;  // relative to the state dir; the first one is shown
  const char* description;
  std::vector<const char*> count_in;
};

const std::vector<AssetSpec>& Assets() {
  static const auto* assets = new std::vector<AssetSpec>{
      {"datasets", {"datasets"}, "prepared datasets (one folder per dataset)", {}},
      {"results", {"results"}, "local results: predictions, metrics and logs", {}},
      {"containers", {"containers"}, "registered containers' parameters", {}},
      {"cache",
       {"cache"},
       "verified downloads: images, additional files, demo data",
       {"sha256", "extracted"}},
      {"images",
       {"images"},
       "unpacked container images (files of shared layers count once)",
       {"rootfs", "sif"}},
      {"tests", {"tests"}, "compatibility-test outputs", {}},
      {"logs", {"logs"}, "job logs", {}},
      {"tmp", {"tmp"}, "tasks' temporary files", {}},
      {"database", {"state.db", "state.db-wal", "state.db-shm"}, "the state database", {}},
      {"reserve", {".space-reserve"}, "room kept for the database (storage.reserve)", {}},
  };
  return *assets;
}

// Entries directly in `dir` whose names do not start with '.' (work in progress).
int64_t CountEntries(const fs::path& dir) {
  int64_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (!absl::StartsWith(it->path().filename().string(), ".")) ++n;
  }
  return n;
}

// Accumulates what a cleanup removes, removing it unless it is a dry run.
class Remover {
 public:
  explicit Remover(bool dry_run) : dry_run_(dry_run) {}

  // Removes `path` (a link itself, never what it points to) and returns its bytes (0
  // when they cannot be measured: what goes does not depend on its size).
  // Errors: INTERNAL naming the path.
  absl::StatusOr<uint64_t> Remove(const fs::path& path) {
    uint64_t bytes = OutputBytes({path}).value_or(0);
    if (dry_run_) return bytes;
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot remove ", path.string(), ": ", ec.message()));
    }
    return bytes;
  }

  // Removes every entry of `dir` that `keep` does not spare (a missing `dir` holds none)
  // and records them as one item when there were any.
  template <typename Keep>
  absl::Status RemoveEntries(const fs::path& dir, const std::string& kind,
                             const std::string& reason, Keep keep) {
    CleanupItem item{.kind = kind, .path = dir, .count = 0, .bytes = 0, .reason = reason};
    std::error_code ec;
    // An operator may point a folder at another disk with a link; what is there is not
    // this cleanup's to empty (it could be anything, and shared).
    if (fs::is_symlink(fs::symlink_status(dir, ec))) {
      report_.kept.push_back(
          absl::StrCat(dir.string(), " is a symbolic link (to ", fs::read_symlink(dir, ec).string(),
                       "): not cleaned; empty it where it points while medperfd is stopped"));
      return absl::OkStatus();
    }
    std::vector<fs::path> doomed;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      if (!keep(it->path().filename().string())) doomed.push_back(it->path());
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return absl::InternalError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
    }
    for (const fs::path& path : doomed) {
      ASSIGN_OR_RETURN(uint64_t bytes, Remove(path));
      ++item.count;
      item.bytes += bytes;
    }
    Add(std::move(item));
    return absl::OkStatus();
  }

  void Add(CleanupItem item) {
    if (item.count == 0) return;
    report_.bytes_freed += item.bytes;
    report_.removed.push_back(std::move(item));
  }

  CleanupReport& report() { return report_; }

 private:
  bool dry_run_;
  CleanupReport report_;
};

bool IsLink(const fs::path& path) {
  std::error_code ec;
  return fs::is_symlink(path, ec);
}

absl::Status RemoveFailedOutputs(Site& site, Remover& remover) {
  auto only_logs = [](const std::string& name) { return name == "logs"; };
  ASSIGN_OR_RETURN(std::vector<storage::DatasetRecord> datasets, site.store().ListDatasets());
  int64_t prepared = 0;
  for (const storage::DatasetRecord& d : datasets) {
    if (d.prep_status == "prepared") ++prepared;
    if (d.prep_status != "failed") continue;
    fs::path dir = site.DatasetDir(d.id);
    std::error_code ec;
    // The preparation's output is complete and the next `dataset prepare` starts from
    // it (daemon/execution.h, PrepareData): it is not clutter.
    if (fs::exists(dir / ".ready", ec)) {
      remover.report().kept.push_back(absl::StrCat("dataset ", d.id.value(),
                                                   ": its preparation failed after the prepare "
                                                   "step, whose output the next `dataset prepare` "
                                                   "reuses"));
      continue;
    }
    if (IsLink(dir)) continue;  // not a folder medperfd made
    RETURN_IF_ERROR(
        remover.RemoveEntries(dir, "failed-preparation",
                              absl::StrCat("partial outputs of the failed preparation of dataset ",
                                           d.id.value(), " (its logs stay)"),
                              only_logs));
  }
  remover.report().kept.push_back(
      absl::StrCat(prepared, " prepared dataset(s) in ", (site.state_dir() / "datasets").string()));

  ASSIGN_OR_RETURN(std::vector<storage::ResultRecord> results, site.store().ListResults());
  int64_t executed = 0, unsubmitted = 0;
  for (const storage::ResultRecord& r : results) {
    if (r.status != "failed") {
      ++executed;
      if (!r.submitted_at) ++unsubmitted;
      continue;
    }
    fs::path dir = site.ResultDir(r.uid);
    if (IsLink(dir)) continue;
    RETURN_IF_ERROR(remover.RemoveEntries(
        dir, "failed-result",
        absl::StrCat("partial outputs of the failed run ", r.uid.str(), " (its logs stay)"),
        only_logs));
  }
  remover.report().kept.push_back(absl::StrCat(executed, " result(s) in ",
                                               (site.state_dir() / "results").string(), ", ",
                                               unsubmitted, " of them not submitted yet"));
  return absl::OkStatus();
}

void AddRetention(const Site& site, const RetentionReport& pruned, Remover& remover) {
  const StorageConfig& cfg = site.config().storage;
  remover.Add({.kind = "test",
               .path = site.state_dir() / "tests",
               .count = pruned.tests,
               .bytes = pruned.test_bytes,
               .reason = absl::StrCat("compatibility-test outputs older than "
                                      "storage.keep_tests_days (",
                                      cfg.keep_tests_days, ")")});
  remover.Add(
      {.kind = "job",
       .path = pruned.job_logs ? site.state_dir() / "logs" : fs::path(),
       .count = pruned.jobs,
       .bytes = pruned.job_log_bytes,
       .reason = absl::StrCat("finished jobs older than storage.keep_jobs_days (",
                              cfg.keep_jobs_days, "), with ", pruned.job_logs, " log file(s)")});
  remover.Add({.kind = "event",
               .path = {},
               .count = pruned.events,
               .bytes = 0,
               .reason = absl::StrCat("events older than storage.keep_events_days (",
                                      cfg.keep_events_days, ")")});
}

}  // namespace

StorageListing ListStorage(const fs::path& state_dir) {
  StorageListing listing;
  listing.state_dir = state_dir;
  for (const AssetSpec& spec : Assets()) {
    StorageFolder folder;
    folder.asset = spec.asset;
    folder.path = state_dir / spec.paths.front();
    folder.description = spec.description;
    std::vector<fs::path> paths;
    for (const char* p : spec.paths) {
      std::error_code ec;
      if (!fs::exists(state_dir / p, ec)) continue;
      paths.push_back(state_dir / p);
      // A file asset (the database, the reserve) counts its files.
      if (!fs::is_directory(state_dir / p, ec)) ++folder.items;
    }
    absl::StatusOr<uint64_t> bytes = OutputBytes(paths);
    if (bytes.ok()) {
      folder.bytes = *bytes;
    } else {
      folder.error = std::string(bytes.status().message());
    }
    if (spec.count_in.empty()) {
      folder.items += CountEntries(folder.path);
    } else {
      for (const char* sub : spec.count_in) folder.items += CountEntries(folder.path / sub);
    }
    listing.folders.push_back(std::move(folder));
  }
  if (absl::StatusOr<uint64_t> free = FreeBytes(state_dir); free.ok()) listing.free_bytes = *free;
  return listing;
}

absl::StatusOr<CleanupReport> CleanupStorage(Site& site, JobManager& jobs, bool dry_run,
                                             absl::Time now) {
  Remover remover(dry_run);
  remover.report().dry_run = dry_run;
  absl::Status done = jobs.RunWhileIdle([&]() -> absl::Status {
    // Retention first: it is what the daemon already does every few hours.
    ASSIGN_OR_RETURN(RetentionReport pruned, ApplyRetention(site, now, dry_run));
    AddRetention(site, pruned, remover);
    auto none = [](const std::string&) { return false; };
    RETURN_IF_ERROR(remover.RemoveEntries(site.state_dir() / "tmp", "tmp",
                                          "temporary files of tasks that ended", none));
    RETURN_IF_ERROR(remover.RemoveEntries(site.assets().root() / "tmp", "download",
                                          "unfinished downloads and extractions", none));
    for (const char* store : {"rootfs", "layers"}) {
      RETURN_IF_ERROR(remover.RemoveEntries(
          site.state_dir() / "images" / store, "download", "unfinished image unpacking",
          [](const std::string& name) { return !absl::StartsWith(name, ".unpack-"); }));
    }
    RETURN_IF_ERROR(RemoveFailedOutputs(site, remover));
    remover.report().kept.push_back(absl::StrCat(
        "verified downloads in ", site.assets().root().string(), " and unpacked images in ",
        (site.state_dir() / "images").string(),
        ": later runs reuse them by hash and nothing records which are still needed (stop "
        "medperfd and delete them by hand to reclaim that space; they are fetched again)"));
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  CleanupReport report = std::move(remover.report());
  if (!dry_run && !report.removed.empty()) {
    site.events()
        .Publish("storage.cleaned", CleanupSummary(report),
                 {{"items", report.removed.size()}, {"bytes_freed", report.bytes_freed}})
        .IgnoreError();
  }
  return report;
}

std::string CleanupSummary(const CleanupReport& report) {
  if (report.removed.empty()) return "nothing to remove";
  return absl::StrCat(report.dry_run ? "would remove " : "removed ", report.removed.size(),
                      " kind(s) of clutter, ", DescribeBytes(report.bytes_freed),
                      report.dry_run ? " would be freed" : " freed");
}

}  // namespace medperf::daemon
