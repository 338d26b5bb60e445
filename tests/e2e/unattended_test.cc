// S4 (acceptance.md): an unattended site. The real daemon polls the real server every
// second; a model owner registers a model, the benchmark owner approves it, and without
// any medperfctl command the site runs it, stores b{B}m{M}d{D}, announces it to
// `medperfctl watch` and to the notify hook, and (policy manual) waits for review.
#include <gtest/gtest.h>

#include "tests/e2e/unattended_fixture.h"

namespace medperf::testing {
namespace {

using std::chrono::seconds;

bool HasModel(const std::vector<nlohmann::json>& events, int64_t model) {
  for (const auto& e : events) {
    if (e.contains("fields") && AsInt(e["fields"].value("model", nlohmann::json())) == model) {
      return true;
    }
  }
  return false;
}

bool HasUid(const std::vector<nlohmann::json>& events, const std::string& uid) {
  for (const auto& e : events) {
    if (e.contains("fields") && e["fields"].value("uid", "") == uid) return true;
  }
  return false;
}

// Waits for the run job of `model` to end; returns its final state.
std::string WaitForJobEnd(UnattendedSite& site, int64_t model, seconds timeout = seconds(60)) {
  std::string state;
  WaitFor(
      [&] {
        state = site.JobState(model);
        return state == "DONE" || state == "FAILED" || state == "CANCELLED";
      },
      timeout);
  return state;
}

TEST(UnattendedTest, NewModelIsRunAnnouncedAndWaitsForReview) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  ASSERT_TRUE(site.StartDaemon());
  // Follow events from before anything happens, as an operator's terminal would.
  Process watch({BinaryPath("ctl/medperfctl").string(), "--socket", site.daemon().socket().string(),
                 "watch", "--follow", "--json"},
                dir / "watch.jsonl");
  ASSERT_TRUE(site.OnboardDataset());

  // The seeded model 4 was approved before the site joined: it runs as soon as the
  // association is approved, with no command.
  EXPECT_EQ(WaitForJobEnd(site, 4), "DONE") << site.daemon().Log();

  absl::StatusOr<int64_t> model = site.AddModel("hospital-new-model");
  ASSERT_TRUE(model.ok()) << model.status();
  std::string uid = "b1m" + std::to_string(*model) + "d1";
  ASSERT_TRUE(WaitFor([&] { return !site.LocalResults(*model).empty(); }, seconds(60)))
      << site.daemon().Log();
  EXPECT_EQ(WaitForJobEnd(site, *model), "DONE");

  // Exactly one job, one local result, one server execution; manual policy: not submitted.
  EXPECT_EQ(site.RunJobsFor(*model).size(), 1u);
  auto results = site.LocalResults(*model);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].value("submitted", true));
  EXPECT_FALSE(results[0]["results"].empty()) << results[0].dump();
  EXPECT_EQ(*site.ServerExecutions(*model), 1);
  absl::StatusOr<std::vector<Result>> mine = site.As(kUaDo).ListMyResults();
  ASSERT_TRUE(mine.ok());
  for (const Result& r : *mine) {
    if (r.model == ModelId(*model)) {
      EXPECT_FALSE(r.finalized) << "manual policy submitted";
    }
  }

  // The headline notification and the job's life, in the store (watch) ...
  EXPECT_TRUE(HasModel(site.Events("model.associated"), *model));
  EXPECT_TRUE(HasModel(site.Events("job.started"), *model));
  EXPECT_TRUE(HasUid(site.Events("result.ready"), uid));
  // ... streamed live to `watch --follow --json` ...
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string live = ReadFile(dir / "watch.jsonl");
        return live.find("\"model.associated\"") != std::string::npos &&
               live.find(uid) != std::string::npos;
      },
      seconds(10)))
      << ReadFile(dir / "watch.jsonl");
  // ... and handed to the hook, one JSON object per event.
  EXPECT_TRUE(WaitFor([&] { return HasUid(site.HookEvents("result.ready"), uid); }, seconds(10)))
      << ReadFile(site.hook_file());
  EXPECT_TRUE(HasModel(site.HookEvents("model.associated"), *model));
  EXPECT_TRUE(HasModel(site.HookEvents("job.started"), *model));
  EXPECT_FALSE(site.HookEvents("job.finished").empty());

  // Nothing left to do: `sync` polls at once and finds no new work.
  RunResult sync = site.daemon().Ctl({"sync"});
  EXPECT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("0 new job(s)"), std::string::npos) << sync.out;
  EXPECT_EQ(site.RunJobsFor(*model).size(), 1u);

  RunResult status = site.daemon().Ctl({"status", "--check"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("last poll:"), std::string::npos);
  EXPECT_NE(status.out.find("integrity:      ok"), std::string::npos);
}

TEST(UnattendedTest, PolicyDeniesModelsAndAutoSubmitsPreApprovedBenchmarks) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  ASSERT_TRUE(
      site.StartDaemon("policy:\n  models:\n    deny: [4]\n  submission:\n    default: manual\n"
                       "    auto_benchmarks: [1]\n"));
  ASSERT_TRUE(site.OnboardDataset());
  absl::StatusOr<int64_t> model = site.AddModel("auto-model");
  ASSERT_TRUE(model.ok()) << model.status();
  std::string uid = "b1m" + std::to_string(*model) + "d1";
  EXPECT_TRUE(WaitFor([&] { return HasUid(site.Events("result.submitted"), uid); }, seconds(60)))
      << site.daemon().Log();
  auto results = site.LocalResults(*model);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].value("submitted", false));
  absl::StatusOr<std::vector<Result>> mine = site.As(kUaDo).ListMyResults();
  ASSERT_TRUE(mine.ok());
  int finalized = 0;
  for (const Result& r : *mine) finalized += r.model == ModelId(*model) && r.finalized;
  EXPECT_EQ(finalized, 1);

  // The denied model was announced but never run.
  EXPECT_TRUE(HasModel(site.Events("model.associated"), 4));
  ASSERT_EQ(site.daemon().Ctl({"sync"}).exit_code, 0);
  EXPECT_TRUE(site.RunJobsFor(4).empty());
  EXPECT_TRUE(site.LocalResults(4).empty());
}

TEST(UnattendedTest, ServerDownThenUpIsReportedOnceAndPollingResumes) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  ASSERT_TRUE(site.StartDaemon("policy:\n  models:\n    deny: [4]\n"));
  ASSERT_TRUE(site.OnboardDataset());
  ASSERT_EQ(site.daemon().Ctl({"sync"}).exit_code, 0);

  site.StopServer();
  EXPECT_TRUE(WaitFor([&] { return !site.HookEvents("server.unreachable").empty(); }, seconds(15)))
      << site.daemon().Log();
  RunResult status = site.daemon().Ctl({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("poll error:"), std::string::npos) << status.out;
  RunResult sync = site.daemon().Ctl({"sync"});
  EXPECT_NE(sync.exit_code, 0) << "sync must say the server is unreachable";
  // Several failed polls (with backoff) still make one notification, not one each.
  std::this_thread::sleep_for(seconds(3));

  ASSERT_TRUE(site.StartServer());
  EXPECT_TRUE(WaitFor([&] { return !site.HookEvents("server.recovered").empty(); }, seconds(15)))
      << site.daemon().Log();
  EXPECT_EQ(site.Events("server.unreachable").size(), 1u);
  EXPECT_EQ(site.Events("server.recovered").size(), 1u);
  status = site.daemon().Ctl({"status"});
  EXPECT_EQ(status.out.find("poll error:"), std::string::npos) << status.out;

  // And work flows again.
  absl::StatusOr<int64_t> model = site.AddModel("after-outage");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(WaitForJobEnd(site, *model), "DONE") << site.daemon().Log();
}

// An idle site (nothing operational and prepared) sends nothing at all: with the server
// gone, polls every second still find nothing to report, because none is attempted.
TEST(UnattendedTest, SiteWithoutReadyDatasetsSendsNothing) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  site.StopServer();
  ASSERT_TRUE(site.StartDaemon());
  std::this_thread::sleep_for(seconds(3));
  RunResult sync = site.daemon().Ctl({"sync"});
  EXPECT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_TRUE(site.Events("server.unreachable").empty()) << site.daemon().Log();
  RunResult status = site.daemon().Ctl({"status"});
  EXPECT_EQ(status.out.find("poll error:"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("last poll"), std::string::npos) << status.out;
}

TEST(UnattendedTest, HangingHookNeverBlocksTheDaemon) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  ASSERT_TRUE(site.StartDaemon("", "sleep 60"));
  // Events keep being stored and served while the hook hangs.
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    RunResult r = site.daemon().Ctl({"sync"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  }
  EXPECT_TRUE(WaitFor(
      [&] { return site.daemon().Log().find("timed out and was killed") != std::string::npos; },
      seconds(10)))
      << site.daemon().Log();
  // A stop does not wait for the hook's full timeout backlog.
  auto start = std::chrono::steady_clock::now();
  site.daemon().Stop(SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST(UnattendedTest, FailingHookIsLoggedAndEventsStillFlow) {
  TempDir dir;
  UnattendedSite site(dir.path());
  ASSERT_TRUE(site.SeedAndServe());
  ASSERT_TRUE(site.StartDaemon("", "cat >/dev/null; echo hook-broke >&2; exit 7"));
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string log = site.daemon().Log();
        return log.find("exited with code 7") != std::string::npos &&
               log.find("hook-broke") != std::string::npos;
      },
      seconds(10)))
      << site.daemon().Log();
  EXPECT_EQ(site.daemon().Ctl({"sync"}).exit_code, 0);
  EXPECT_FALSE(site.Events("daemon.started").empty());
}

}  // namespace
}  // namespace medperf::testing
