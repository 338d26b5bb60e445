// Crash safety under a barrage (issue 8): medperfd is killed with SIGKILL at random
// moments 50 times while it discovers and runs a dozen models, and restarted each time.
// When the dust settles: one job, one local result and one server execution per
// (benchmark, model, dataset), no job left unfinished, a sound database, and no
// temporary files left in the state directory.
#include <gtest/gtest.h>

#include <random>

#include "tests/e2e/unattended_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kKills = 50;
constexpr int kModels = 12;

TEST(CrashLoopTest, FiftyRandomKillsLoseAndDuplicateNothing) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  ASSERT_TRUE(site.StartDaemon());
  ASSERT_TRUE(site.OnboardDataset());
  std::vector<int64_t> models = {2, 4};  // the reference model and the seeded one

  // One kill that certainly lands mid-run (a model that takes 2 s), so the test never
  // passes without having interrupted a job; the random barrage comes on top.
  absl::StatusOr<int64_t> slow = site.AddModel("crash-model-slow", /*sleep_before=*/2);
  ASSERT_TRUE(slow.ok()) << slow.status();
  models.push_back(*slow);
  ASSERT_TRUE(WaitFor([&] { return site.JobState(*slow) == "RUNNING"; }, seconds(60)))
      << site.daemon().Log();
  ASSERT_TRUE(WIFSIGNALED(site.daemon().Stop(SIGKILL)));
  ASSERT_TRUE(site.StartDaemon());
  ASSERT_TRUE(WaitFor([&] { return site.JobState(*slow) == "DONE"; }, seconds(60)))
      << site.daemon().Log();

  for (int i = 0; i < kModels; ++i) {
    absl::StatusOr<int64_t> id = site.AddModel("crash-model-" + std::to_string(i));
    ASSERT_TRUE(id.ok()) << id.status();
    models.push_back(*id);
  }

  // The seed is printed so a failure can be replayed.
  std::random_device rd;
  unsigned seed = rd();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pause_ms(20, 600);
  for (int kill = 0; kill < kKills; ++kill) {
    std::this_thread::sleep_for(milliseconds(pause_ms(rng)));
    int status = site.daemon().Stop(SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(status)) << "medperfd died by itself before kill " << kill << ":\n"
                                     << site.daemon().Log();
    ASSERT_TRUE(site.StartDaemon()) << "restart after kill " << kill;
  }

  // Let the last daemon finish the work.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int64_t m : models) {
          if (site.JobState(m) != "DONE" && m != 2) return false;
          if (site.LocalResults(m).size() != 1) return false;
        }
        return true;
      },
      seconds(120)))
      << site.daemon().Log();
  ASSERT_EQ(site.daemon().Ctl({"sync"}).exit_code, 0);

  int attempts = 0;
  for (int64_t m : models) {
    SCOPED_TRACE("model " + std::to_string(m));
    auto jobs = site.RunJobsFor(m);
    // The reference model ran once during onboarding, before the kills.
    ASSERT_EQ(jobs.size(), 1u) << "duplicated or lost job";
    EXPECT_EQ(jobs[0].value("state", ""), "DONE");
    attempts += jobs[0].value("attempts", 0);
    auto results = site.LocalResults(m);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].value("error", ""), "");
    absl::StatusOr<int> executions = site.ServerExecutions(m);
    ASSERT_TRUE(executions.ok()) << executions.status();
    EXPECT_EQ(*executions, 1) << "the server got a duplicate execution";
  }
  EXPECT_GT(attempts, static_cast<int>(models.size())) << "no kill interrupted a job";

  for (const auto& j : site.Jobs()) {
    std::string state = j.value("state", "");
    EXPECT_TRUE(state == "DONE" || state == "FAILED" || state == "CANCELLED")
        << "job left unfinished: " << j.dump();
  }
  RunResult check = site.daemon().Ctl({"status", "--check", "--json"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(nlohmann::json::parse(check.out)["integrity"], "ok");

  // Nothing half-written stays behind once the work is done.
  fs::path state = site.daemon().state_dir();
  EXPECT_TRUE(fs::is_empty(state / "tmp")) << "leftovers in " << (state / "tmp");
  for (const auto& entry : fs::recursive_directory_iterator(state)) {
    EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
  }
  if (fs::exists(state / "cache" / "tmp")) {
    EXPECT_TRUE(fs::is_empty(state / "cache" / "tmp"));
  }
}

}  // namespace
}  // namespace medperf::testing
