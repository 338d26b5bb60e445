// The daemon against a misbehaving server (issue 8): while medperfd polls, runs models
// and submits results, the server answers 500s, resets connections, answers slowly and
// cuts JSON replies in half (`medperf-server serve --faults`). Nothing crashes, nothing
// is duplicated on the server, the work still gets done, and once the server heals the
// daemon is back to normal within one backoff period.
#include <gtest/gtest.h>

#include "tests/e2e/unattended_fixture.h"

namespace medperf::testing {
namespace {

using std::chrono::seconds;

constexpr char kAutoSubmit[] = "policy:\n  submission:\n    auto_benchmarks: [1]\n";

TEST(ServerFaultsTest, DaemonRidesOutAFaultyServerWithoutDuplicates) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  ASSERT_TRUE(site.StartDaemon(kAutoSubmit));
  ASSERT_TRUE(site.OnboardDataset());

  // Models approved while the daemon is down; they will be found through the faults.
  ASSERT_NE(site.daemon().Stop(SIGTERM), -1);
  std::vector<int64_t> models = {4};
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<int64_t> id = site.AddModel("faulty-times-" + std::to_string(i));
    ASSERT_TRUE(id.ok()) << id.status();
    models.push_back(*id);
  }
  site.StopServer();
  ASSERT_TRUE(site.StartServer(
      {"--faults", "rate=0.3,kinds=500,reset,slow,truncated,slow_ms=300", "--fault-seed", "11"}));
  ASSERT_TRUE(site.StartDaemon(kAutoSubmit));

  bool all_ran = WaitFor(
      [&] {
        for (int64_t m : models) {
          auto results = site.LocalResults(m);
          if (results.size() != 1 || !results[0].value("error", "").empty()) return false;
        }
        return true;
      },
      seconds(120));
  EXPECT_TRUE(all_ran) << site.daemon().Log();
  EXPECT_TRUE(site.daemon().process().Alive()) << "medperfd died under server faults";
  EXPECT_FALSE(site.Events("server.unreachable").empty()) << "the faults were not noticed";

  // The server heals: polling returns to normal within one backoff (max 2 s here) plus
  // an interval, and new work flows.
  site.StopServer();
  ASSERT_TRUE(site.StartServer());
  absl::StatusOr<int64_t> late = site.AddModel("after-recovery");
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_TRUE(WaitFor([&] { return site.LocalResults(*late).size() == 1; }, seconds(30)))
      << site.daemon().Log();
  models.push_back(*late);

  // No duplicates on the server: one execution per (benchmark, model, dataset), and a
  // result recorded as submitted is finalized exactly there.
  std::map<int64_t, Result> executions;
  absl::StatusOr<std::vector<Result>> mine = site.As(kUaDo).ListMyResults();
  ASSERT_TRUE(mine.ok()) << mine.status();
  for (int64_t m : models) {
    SCOPED_TRACE("model " + std::to_string(m));
    absl::StatusOr<int> n = site.ServerExecutions(m);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 1) << "duplicate execution on the server";
    for (const Result& r : *mine) {
      if (r.model == ModelId(m)) executions[m] = r;
    }
    auto local = site.LocalResults(m);
    ASSERT_EQ(local.size(), 1u);
    if (local[0].value("submitted", false)) {
      EXPECT_TRUE(executions[m].finalized) << "recorded as submitted, not finalized on the server";
    } else {
      // A submission lost to a fault is reported, never silently dropped.
      bool reported = false;
      for (const auto& e : site.Events("result.submit_failed")) {
        if (e.dump().find(local[0].value("uid", "")) != std::string::npos) reported = true;
      }
      EXPECT_TRUE(reported || executions[m].finalized) << local[0].dump();
    }
  }
  RunResult check = site.daemon().Ctl({"status", "--check", "--json"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(nlohmann::json::parse(check.out)["integrity"], "ok");
}

}  // namespace
}  // namespace medperf::testing
