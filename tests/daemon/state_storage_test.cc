#include "daemon/state_storage.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/synchronization/notification.h"
#include "daemon/events.h"
#include "storage/store.h"
#include "tests/support/test_support.h"

namespace medperf::daemon {
namespace {

namespace fs = std::filesystem;
using ::medperf::testing::ReadFile;
using ::medperf::testing::TempDir;
using ::medperf::testing::WriteFile;

class StateStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.state_dir = dir_.path();
    for (const char* sub : {"datasets", "results", "containers", "cache", "logs", "tmp", "tests"}) {
      fs::create_directories(dir_ / sub);
    }
    store_ = std::move(*storage::Store::Open(dir_ / "state.db"));
    events_ = std::make_unique<EventBus>(*store_);
    site_ = std::make_unique<Site>(config_, *store_, *events_);
    jobs_ = std::make_unique<JobManager>(*store_, *events_, dir_ / "logs", 1,
                                         [](JobContext&) { return nlohmann::json::object(); });
  }

  void TearDown() override { jobs_->Shutdown(); }

  void Dataset(int64_t id, const std::string& status) {
    storage::DatasetRecord d;
    d.id = DatasetId(id);
    d.name = "d" + std::to_string(id);
    d.prep_container = ContainerId(1);
    d.prep_status = status;
    ASSERT_TRUE(store_->PutDataset(d).ok());
  }

  void Result(const std::string& uid, const std::string& status, bool submitted) {
    storage::ResultRecord r(*LocalResultUid::Parse(uid));
    r.status = status;
    if (submitted) r.submitted_at = storage::NowTimestamp();
    ASSERT_TRUE(store_->PutResult(r).ok());
  }

  // What a site looks like after some work: a prepared dataset, an unsubmitted and a
  // submitted result, a failed preparation and a failed run with partial outputs, leftover
  // temporary files and downloads, and an old compatibility test.
  void Populate() {
    Dataset(1, "prepared");
    WriteFile(dir_ / "datasets/1/data/case1.pgm", std::string(100, 'p'));
    WriteFile(dir_ / "datasets/1/labels/labels.csv", "case1,0\n");
    WriteFile(dir_ / "datasets/1/.ready", "\n");
    Dataset(2, "failed");
    WriteFile(dir_ / "datasets/2/data/half.pgm", std::string(300, 'h'));
    WriteFile(dir_ / "datasets/2/logs/prepare.log", "prepare failed\n");
    Result("b1m4d1", "executed", false);
    WriteFile(dir_ / "results/b1m4d1/predictions/p.csv", std::string(50, 'r'));
    WriteFile(dir_ / "results/b1m4d1/results.yaml", "AUC: 0.7\n");
    Result("b1m2d1", "executed", true);
    WriteFile(dir_ / "results/b1m2d1/results.yaml", "AUC: 0.6\n");
    Result("b1m5d1", "failed", false);
    WriteFile(dir_ / "results/b1m5d1/predictions/p.csv", std::string(70, 'f'));
    WriteFile(dir_ / "results/b1m5d1/logs/model.log", "model failed\n");
    WriteFile(dir_ / "tmp/apptainer/run-1/x", std::string(20, 't'));
    WriteFile(dir_ / "cache/tmp/download-1", std::string(40, 'd'));
    WriteFile(dir_ / "cache/sha256/abc", std::string(200, 'c'));
    WriteFile(dir_ / "images/rootfs/.unpack-abc-123/layer", std::string(10, 'u'));
    WriteFile(dir_ / "images/layers/.unpack-def-456/file", std::string(10, 'u'));
    WriteFile(dir_ / "images/rootfs/abcdef/image.json", "{}");
    fs::create_directories(dir_ / "tests/old");
    WriteFile(dir_ / "tests/old/test_report.json", "{}");
    fs::last_write_time(dir_ / "tests/old/test_report.json",
                        fs::file_time_type::clock::now() - std::chrono::hours(24 * 30));
    WriteFile(dir_ / "tests/recent/test_report.json", "{}");
    WriteFile(dir_ / "containers/7/parameters.yaml", "a: 1\n");
  }

  // Every file under the state dir with its content, but the database's.
  std::map<std::string, std::string> Files() {
    std::map<std::string, std::string> files;
    for (auto& e : fs::recursive_directory_iterator(dir_.path())) {
      std::string name = e.path().filename().string();
      if (e.is_regular_file() && name.rfind("state.db", 0) != 0) {
        files[fs::relative(e.path(), dir_.path()).string()] = ReadFile(e.path());
      }
    }
    return files;
  }

  const CleanupItem* Find(const CleanupReport& r, const std::string& kind,
                          const std::string& rel = "") {
    for (const CleanupItem& i : r.removed) {
      if (i.kind == kind && (rel.empty() || i.path == dir_ / rel)) return &i;
    }
    return nullptr;
  }

  TempDir dir_;
  DaemonConfig config_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<Site> site_;
  std::unique_ptr<JobManager> jobs_;
};

TEST_F(StateStorageTest, ListsEachAssetWithSizeAndItems) {
  Populate();
  StorageListing listing = ListStorage(dir_.path());
  EXPECT_EQ(listing.state_dir, dir_.path());
  ASSERT_TRUE(listing.free_bytes.has_value());
  EXPECT_GT(*listing.free_bytes, 0u);
  std::map<std::string, StorageFolder> by_asset;
  for (const StorageFolder& f : listing.folders) {
    EXPECT_TRUE(f.error.empty()) << f.asset << ": " << f.error;
    by_asset[f.asset] = f;
  }
  for (const char* asset : {"datasets", "results", "containers", "cache", "images", "tests", "logs",
                            "tmp", "database", "reserve"}) {
    EXPECT_TRUE(by_asset.count(asset)) << asset;
  }
  EXPECT_EQ(by_asset["datasets"].path, dir_ / "datasets");
  EXPECT_EQ(by_asset["datasets"].items, 2);
  // 100 + 8 + 1 (dataset 1) + 300 + 15 (dataset 2).
  EXPECT_EQ(by_asset["datasets"].bytes, 424u);
  EXPECT_EQ(by_asset["results"].items, 3);
  // Cached files and unpacked images count, unfinished work (".unpack-*", tmp/) does not.
  EXPECT_EQ(by_asset["cache"].items, 1);
  EXPECT_EQ(by_asset["cache"].bytes, 240u);
  EXPECT_EQ(by_asset["images"].items, 1);
  EXPECT_EQ(by_asset["tests"].items, 2);
  EXPECT_EQ(by_asset["tmp"].items, 1);
  EXPECT_EQ(by_asset["database"].path, dir_ / "state.db");
  EXPECT_GE(by_asset["database"].items, 1);
  EXPECT_GT(by_asset["database"].bytes, 0u);
  EXPECT_EQ(by_asset["reserve"].items, 0) << "no reserve was made in this test";
}

TEST_F(StateStorageTest, CleanupRemovesClutterAndKeepsDatasetsAndResults) {
  Populate();
  auto report = CleanupStorage(*site_, *jobs_, /*dry_run=*/false, absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->dry_run);

  const CleanupItem* tmp = Find(*report, "tmp", "tmp");
  ASSERT_NE(tmp, nullptr);
  EXPECT_EQ(tmp->count, 1);
  EXPECT_EQ(tmp->bytes, 20u);
  ASSERT_NE(Find(*report, "download", "cache/tmp"), nullptr);
  ASSERT_NE(Find(*report, "download", "images/rootfs"), nullptr);
  ASSERT_NE(Find(*report, "download", "images/layers"), nullptr);
  const CleanupItem* prep = Find(*report, "failed-preparation", "datasets/2");
  ASSERT_NE(prep, nullptr);
  EXPECT_EQ(prep->bytes, 300u);
  const CleanupItem* run = Find(*report, "failed-result", "results/b1m5d1");
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->bytes, 70u);
  const CleanupItem* test = Find(*report, "test");
  ASSERT_NE(test, nullptr);
  EXPECT_EQ(test->count, 1);
  EXPECT_EQ(report->bytes_freed, 20u + 40 + 10 + 10 + 300 + 70 + 2);

  std::map<std::string, std::string> after = Files();
  std::map<std::string, std::string> expected = {
      {"datasets/1/data/case1.pgm", std::string(100, 'p')},
      {"datasets/1/labels/labels.csv", "case1,0\n"},
      {"datasets/1/.ready", "\n"},
      {"datasets/2/logs/prepare.log", "prepare failed\n"},
      {"results/b1m4d1/predictions/p.csv", std::string(50, 'r')},
      {"results/b1m4d1/results.yaml", "AUC: 0.7\n"},
      {"results/b1m2d1/results.yaml", "AUC: 0.6\n"},
      {"results/b1m5d1/logs/model.log", "model failed\n"},
      {"cache/sha256/abc", std::string(200, 'c')},
      {"images/rootfs/abcdef/image.json", "{}"},
      {"tests/recent/test_report.json", "{}"},
      {"containers/7/parameters.yaml", "a: 1\n"},
  };
  EXPECT_EQ(after, expected);
  EXPECT_TRUE(fs::is_directory(dir_ / "tmp")) << "the folders themselves stay";
  EXPECT_TRUE(fs::is_directory(dir_ / "cache/tmp"));
  EXPECT_EQ(store_->GetDataset(DatasetId(1))->prep_status, "prepared");
  EXPECT_EQ(store_->GetResult(*LocalResultUid::Parse("b1m4d1"))->status, "executed");

  std::string kept;
  for (const std::string& k : report->kept) kept += k + "\n";
  EXPECT_NE(kept.find("1 prepared dataset(s)"), std::string::npos) << kept;
  EXPECT_NE(kept.find("2 result(s)"), std::string::npos) << kept;
  EXPECT_NE(kept.find("1 of them not submitted yet"), std::string::npos) << kept;

  auto events = store_->ListEvents(0, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().kind, "storage.cleaned");

  // A second cleanup finds nothing.
  auto again = CleanupStorage(*site_, *jobs_, false, absl::Now());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->removed.empty());
  EXPECT_EQ(CleanupSummary(*again), "nothing to remove");
}

TEST_F(StateStorageTest, DryRunRemovesNothingAndReportsTheSame) {
  Populate();
  std::map<std::string, std::string> before = Files();
  auto dry = CleanupStorage(*site_, *jobs_, /*dry_run=*/true, absl::Now());
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_TRUE(dry->dry_run);
  EXPECT_EQ(Files(), before);
  EXPECT_NE(CleanupSummary(*dry).find("would remove"), std::string::npos);
  auto real = CleanupStorage(*site_, *jobs_, false, absl::Now());
  ASSERT_TRUE(real.ok()) << real.status();
  EXPECT_EQ(dry->bytes_freed, real->bytes_freed);
  ASSERT_EQ(dry->removed.size(), real->removed.size());
  for (size_t i = 0; i < dry->removed.size(); ++i) {
    EXPECT_EQ(dry->removed[i].kind, real->removed[i].kind);
    EXPECT_EQ(dry->removed[i].count, real->removed[i].count);
  }
}

// An operator who points tmp/ at a scratch disk with a link keeps what is there: the
// cleanup neither follows the link nor removes it, and says so.
TEST_F(StateStorageTest, ALinkedTmpFolderIsNotFollowed) {
  TempDir elsewhere;
  WriteFile(elsewhere / "important.txt", "precious");
  std::filesystem::remove_all(dir_ / "tmp");
  std::filesystem::create_directory_symlink(elsewhere.path(), dir_ / "tmp");
  auto report = CleanupStorage(*site_, *jobs_, /*dry_run=*/false, absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(ReadFile(elsewhere / "important.txt"), "precious");
  EXPECT_TRUE(std::filesystem::is_symlink(dir_ / "tmp"));
  bool said = false;
  for (const std::string& k : report->kept)
    said |= k.find("is a symbolic link") != std::string::npos;
  EXPECT_TRUE(said) << CleanupSummary(*report);
}

TEST_F(StateStorageTest, RetentionOfJobsAndEventsIsApplied) {
  storage::JobRecord j;
  j.kind = "prepare";
  JobId id = *store_->AddJob(j);
  j = *store_->GetJob(id);
  j.state = storage::JobState::kDone;
  j.log_path = (dir_ / "logs" / "job-1.log").string();
  WriteFile(j.log_path, "12345");
  ASSERT_TRUE(store_->UpdateJob(j).ok());
  ASSERT_TRUE(store_->AppendEvent("x", "old").ok());

  // 91 days on, both are past the 90-day defaults; a dry run leaves them.
  absl::Time later = absl::Now() + absl::Hours(24 * 91);
  auto dry = CleanupStorage(*site_, *jobs_, true, later);
  ASSERT_TRUE(dry.ok()) << dry.status();
  ASSERT_NE(Find(*dry, "job"), nullptr);
  EXPECT_EQ(Find(*dry, "job")->bytes, 5u);
  ASSERT_NE(Find(*dry, "event"), nullptr);
  EXPECT_TRUE(store_->GetJob(id).ok());
  EXPECT_TRUE(fs::exists(j.log_path));

  auto real = CleanupStorage(*site_, *jobs_, false, later);
  ASSERT_TRUE(real.ok()) << real.status();
  ASSERT_NE(Find(*real, "job"), nullptr);
  EXPECT_EQ(Find(*real, "job")->count, 1);
  EXPECT_FALSE(store_->GetJob(id).ok());
  EXPECT_FALSE(fs::exists(j.log_path));
}

TEST_F(StateStorageTest, FailedPreparationWhosePrepareStepCompletedIsKept) {
  Dataset(3, "failed");
  WriteFile(dir_ / "datasets/3/data/case.pgm", "done");
  WriteFile(dir_ / "datasets/3/.ready", "\n");
  auto report = CleanupStorage(*site_, *jobs_, false, absl::Now());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Find(*report, "failed-preparation"), nullptr);
  EXPECT_TRUE(fs::exists(dir_ / "datasets/3/data/case.pgm"));
}

TEST_F(StateStorageTest, RefusedWhileAJobRunsAndNothingIsRemoved) {
  Populate();
  absl::Notification started, release;
  auto id = jobs_->Start(InteractiveJob("prepare"), [&](JobContext&) {
    started.Notify();
    release.WaitForNotification();
    return nlohmann::json::object();
  });
  ASSERT_TRUE(id.ok()) << id.status();
  started.WaitForNotification();
  std::map<std::string, std::string> before = Files();
  for (bool dry : {true, false}) {
    auto refused = CleanupStorage(*site_, *jobs_, dry, absl::Now());
    EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
    EXPECT_NE(refused.status().message().find("job " + id->str() + " (prepare) is running"),
              std::string::npos)
        << refused.status();
  }
  EXPECT_EQ(Files(), before);
  release.Notify();
  ASSERT_TRUE(::medperf::testing::WaitFor(
      [&] { return CleanupStorage(*site_, *jobs_, false, absl::Now()).ok(); },
      std::chrono::seconds(10)));
  EXPECT_FALSE(fs::exists(dir_ / "tmp/apptainer"));
}

TEST_F(StateStorageTest, AJobStartingDuringCleanupWaitsForIt) {
  absl::Notification inside, release;
  std::atomic<bool> body_ran_inside{false};
  std::thread cleanup([&] {
    ASSERT_TRUE(jobs_
                    ->RunWhileIdle([&] {
                      inside.Notify();
                      release.WaitForNotification();
                      return absl::OkStatus();
                    })
                    .ok());
  });
  inside.WaitForNotification();
  absl::Notification body_done;
  auto id = jobs_->Start(InteractiveJob("prepare"), [&](JobContext&) {
    body_ran_inside = !release.HasBeenNotified();
    body_done.Notify();
    return nlohmann::json::object();
  });
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(body_done.WaitForNotificationWithTimeout(absl::Milliseconds(300)))
      << "a job body ran while maintenance held the state directory";
  release.Notify();
  cleanup.join();
  EXPECT_TRUE(body_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(body_ran_inside);
}

}  // namespace
}  // namespace medperf::daemon
