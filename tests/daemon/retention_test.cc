#include "daemon/retention.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "daemon/events.h"
#include "storage/store.h"
#include "tests/support/test_support.h"

namespace medperf::daemon {
namespace {

namespace fs = std::filesystem;
using ::medperf::testing::TempDir;
using ::medperf::testing::WriteFile;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.state_dir = dir_.path();
    for (const char* sub : {"logs", "tests", "datasets", "results"}) {
      fs::create_directories(dir_ / sub);
    }
    store_ = std::move(*storage::Store::Open(dir_ / "state.db"));
    events_ = std::make_unique<EventBus>(*store_);
    site_ = std::make_unique<Site>(config_, *store_, *events_);
  }

  // A finished job with a log file under logs/.
  JobId FinishedJob(const std::string& kind, int64_t model) {
    storage::JobRecord j;
    j.kind = kind;
    if (kind == "run") {
      j.benchmark = BenchmarkId(1);
      j.model = ModelId(model);
      j.dataset = DatasetId(1);
    }
    JobId id = *store_->AddJob(j);
    j = *store_->GetJob(id);
    j.state = storage::JobState::kDone;
    j.log_path = (dir_ / "logs" / (id.str() + ".log")).string();
    WriteFile(j.log_path, "log of job " + id.str() + "\n");
    EXPECT_TRUE(store_->UpdateJob(j).ok());
    return id;
  }

  // A compatibility-test folder whose report was written `days` ago.
  fs::path TestFolder(const std::string& key, int days) {
    fs::path folder = dir_ / "tests" / key;
    fs::create_directories(folder / "logs");
    WriteFile(folder / "logs" / "model.log", std::string(1000, 'x'));
    WriteFile(folder / "test_report.json", "{}");
    fs::last_write_time(folder / "test_report.json",
                        fs::file_time_type::clock::now() - std::chrono::hours(24) * days);
    return folder;
  }

  TempDir dir_;
  DaemonConfig config_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<Site> site_;
};

TEST_F(RetentionTest, OldRecordsGoPreparedDataAndResultsStay) {
  JobId prepare = FinishedJob("prepare", 0);
  JobId run = FinishedJob("run", 4);  // the only run job of its triple: kept
  ASSERT_TRUE(store_->AppendEvent("job.finished", "old").ok());
  fs::path old_test = TestFolder("aaa", 8);
  fs::path recent_test = TestFolder("bbb", 2);
  WriteFile(dir_ / "datasets" / "1" / "data" / "case.pgm", "pixels");
  WriteFile(dir_ / "results" / "b1m4d1" / "results.yaml", "AUC: 0.5\n");

  // Today nothing but the 8-day-old test output is past its limit.
  auto today = ApplyRetention(*site_, absl::Now());
  ASSERT_TRUE(today.ok()) << today.status();
  EXPECT_EQ(today->events, 0);
  EXPECT_EQ(today->jobs, 0);
  EXPECT_EQ(today->tests, 1);
  EXPECT_FALSE(fs::exists(old_test));
  EXPECT_TRUE(fs::exists(recent_test));
  EXPECT_EQ(today->bytes_freed, 1002u);  // its 1000-byte log and "{}"

  // 91 days on, the events and the interactive job (with its log) age out too.
  auto later = ApplyRetention(*site_, absl::Now() + absl::Hours(24 * 91));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->events, 1);
  EXPECT_EQ(later->jobs, 1);
  EXPECT_EQ(later->job_logs, 1);
  // The job's log, and the test folder that was 2 days old (a 1000-byte log and "{}").
  EXPECT_EQ(later->tests, 1);
  EXPECT_EQ(later->bytes_freed, ("log of job " + prepare.str() + "\n").size() + 1002);
  EXPECT_FALSE(store_->GetJob(prepare).ok());
  EXPECT_FALSE(fs::exists(dir_ / "logs" / (prepare.str() + ".log")));
  EXPECT_TRUE(store_->GetJob(run).ok()) << "the poller's memory of the triple stays";
  EXPECT_TRUE(fs::exists(dir_ / "logs" / (run.str() + ".log")));
  EXPECT_TRUE(fs::exists(dir_ / "datasets" / "1" / "data" / "case.pgm"));
  EXPECT_TRUE(fs::exists(dir_ / "results" / "b1m4d1" / "results.yaml"));
  EXPECT_NE(later->Summary().find("1 event(s)"), std::string::npos) << later->Summary();
}

TEST_F(RetentionTest, ZeroDaysKeepsEverything) {
  config_.storage.keep_events_days = 0;
  config_.storage.keep_jobs_days = 0;
  config_.storage.keep_tests_days = 0;
  FinishedJob("prepare", 0);
  ASSERT_TRUE(store_->AppendEvent("x", "old").ok());
  fs::path old_test = TestFolder("aaa", 400);
  auto r = ApplyRetention(*site_, absl::Now() + absl::Hours(24 * 3650));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Summary(), "nothing to remove");
  EXPECT_TRUE(fs::exists(old_test));
}

}  // namespace
}  // namespace medperf::daemon
