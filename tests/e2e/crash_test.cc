// Restart safety (issue 6, S4): medperfd is killed with SIGKILL at several points of an
// unattended run job and started again. Every time, the work ends with exactly one job,
// one local result and one server execution per (benchmark, model, dataset), the
// interrupted attempt counted, and a sound database.
#include <gtest/gtest.h>

#include "tests/e2e/unattended_fixture.h"

namespace medperf::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    site_ = std::make_unique<UnattendedSite>(dir_.path());
    ASSERT_TRUE(site_->SeedAndServe());
    // The seeded model 4 is denied so each step controls exactly which job runs.
    ASSERT_TRUE(site_->StartDaemon(kPolicy));
    ASSERT_TRUE(site_->OnboardDataset());
  }

  void Kill() {
    int status = site_->daemon().Stop(SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(status)) << "medperfd was not running: " << status;
  }

  void Restart() { ASSERT_TRUE(site_->StartDaemon(kPolicy)) << site_->daemon().Log(); }

  std::string WaitForState(int64_t model, const std::vector<std::string>& states,
                           seconds timeout = seconds(30)) {
    std::string state;
    WaitFor(
        [&] {
          state = site_->JobState(model);
          return std::find(states.begin(), states.end(), state) != states.end();
        },
        timeout);
    return state;
  }

  // The invariant after a crash and restart.
  void ExpectExactlyOnce(int64_t model, int min_attempts, size_t expected_jobs = 1) {
    SCOPED_TRACE("model " + std::to_string(model));
    EXPECT_EQ(WaitForState(model, {"DONE", "FAILED", "CANCELLED"}, seconds(60)), "DONE")
        << site_->daemon().Log();
    // One more poll after the end must not re-create the work.
    ASSERT_EQ(site_->daemon().Ctl({"sync"}).exit_code, 0);
    auto jobs = site_->RunJobsFor(model);
    ASSERT_EQ(jobs.size(), expected_jobs) << "duplicated or lost job";
    EXPECT_GE(jobs[0].value("attempts", 0), min_attempts);
    auto results = site_->LocalResults(model);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].value("error", ""), "");
    EXPECT_FALSE(results[0]["results"].empty()) << results[0].dump();
    absl::StatusOr<int> executions = site_->ServerExecutions(model);
    ASSERT_TRUE(executions.ok()) << executions.status();
    EXPECT_EQ(*executions, 1) << "the server got a duplicate execution";
    RunResult check = site_->daemon().Ctl({"status", "--check"});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
    EXPECT_NE(check.out.find("integrity:      ok"), std::string::npos) << check.out;
  }

  static constexpr char kPolicy[] = "policy:\n  models:\n    deny: [4]\n  max_concurrent_jobs: 1\n";
  TempDir dir_;
  std::unique_ptr<UnattendedSite> site_;
};

TEST_F(CrashTest, SigkillAtEveryPointOfAJobLeavesExactlyOneResult) {
  // Point 1: a job still queued behind a running one, and the running one mid-infer.
  absl::StatusOr<int64_t> slow = site_->AddModel("slow-first", /*sleep_before=*/4);
  ASSERT_TRUE(slow.ok()) << slow.status();
  ASSERT_EQ(WaitForState(*slow, {"RUNNING"}), "RUNNING") << site_->daemon().Log();
  absl::StatusOr<int64_t> queued = site_->AddModel("queued-second");
  ASSERT_TRUE(queued.ok()) << queued.status();
  ASSERT_EQ(WaitForState(*queued, {"QUEUED"}), "QUEUED") << site_->daemon().Log();
  Kill();
  Restart();
  ExpectExactlyOnce(*slow, 2);
  ExpectExactlyOnce(*queued, 1);

  // Point 2: mid-infer, twice in a row (the server execution created by the first
  // attempt must be reused by the next ones).
  absl::StatusOr<int64_t> twice = site_->AddModel("killed-twice", /*sleep_before=*/3);
  ASSERT_TRUE(twice.ok()) << twice.status();
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(WaitForState(*twice, {"RUNNING"}), "RUNNING") << site_->daemon().Log();
    std::this_thread::sleep_for(milliseconds(500));
    Kill();
    Restart();
  }
  ExpectExactlyOnce(*twice, 3);

  // Point 3: the model has written its predictions but infer has not returned.
  absl::StatusOr<int64_t> late = site_->AddModel("killed-after-predictions", 0,
                                                 /*sleep_after=*/4);
  ASSERT_TRUE(late.ok()) << late.status();
  std::filesystem::path predictions = site_->daemon().state_dir() / "results" /
                                      ("b1m" + std::to_string(*late) + "d1") / "predictions" /
                                      "predictions.json";
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(predictions); }, seconds(30)))
      << site_->daemon().Log();
  Kill();
  Restart();
  ExpectExactlyOnce(*late, 2);

  // Point 4: right after the result is stored (the job may or may not be marked done).
  absl::StatusOr<int64_t> stored = site_->AddModel("killed-after-result");
  ASSERT_TRUE(stored.ok()) << stored.status();
  std::string uid = "b1m" + std::to_string(*stored) + "d1";
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : site_->Events("result.ready")) {
          if (e["fields"].value("uid", "") == uid) return true;
        }
        return false;
      },
      seconds(30)))
      << site_->daemon().Log();
  Kill();
  Restart();
  ExpectExactlyOnce(*stored, 1);
}

TEST_F(CrashTest, CancelledJobIsNotRecreatedAndRetryRunsItOnce) {
  absl::StatusOr<int64_t> model = site_->AddModel("cancel-me", /*sleep_before=*/3);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(WaitForState(*model, {"RUNNING"}), "RUNNING") << site_->daemon().Log();
  int64_t id = AsInt(site_->RunJobsFor(*model)[0]["id"]);
  RunResult cancel = site_->daemon().Ctl({"job", "cancel", std::to_string(id)});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  EXPECT_EQ(WaitForState(*model, {"CANCELLED"}), "CANCELLED");
  // The poller must respect the operator's decision.
  ASSERT_EQ(site_->daemon().Ctl({"sync"}).exit_code, 0);
  EXPECT_EQ(site_->RunJobsFor(*model).size(), 1u);
  // A kill and restart changes nothing either.
  Kill();
  Restart();
  ASSERT_EQ(site_->daemon().Ctl({"sync"}).exit_code, 0);
  EXPECT_EQ(site_->RunJobsFor(*model).size(), 1u);
  EXPECT_TRUE(site_->LocalResults(*model).empty());

  // `job retry` is how an operator asks again: a new job, run once, old one kept.
  RunResult retry = site_->daemon().Ctl({"job", "retry", std::to_string(id)});
  ASSERT_EQ(retry.exit_code, 0) << retry.out << retry.err;
  ExpectExactlyOnce(*model, 1, /*jobs=*/2);
}

}  // namespace
}  // namespace medperf::testing
