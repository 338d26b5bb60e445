// Crash safety under a barrage (issue 8): medperfd is killed with SIGKILL at random
// moments 50 times while it discovers and runs a dozen models, and restarted each time.
// When the dust settles: one job, one local result and one server execution per
// (benchmark, model, dataset), no job left unfinished, a sound database, and no
// temporary files left in the state directory.
// Then kill points at exact moments (issue 13): while the data preparator runs, while a
// result submission is in flight, and half-way through a container download (of a run
// job, and of an interactive command); after each restart the local state and the
// server's agree.
#include <gtest/gtest.h>

#include <random>

#include "tests/e2e/crash_gates.h"
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

  // Let the last daemon finish the work. A job interrupted kMaxRunAttempts times is
  // given up on purpose (a model that keeps taking the daemon down must not loop
  // forever); on a slow machine the barrage can do that to any job, so a given-up job is
  // retried here, as its error message tells the data owner to, and must then finish
  // without a second local result or server execution.
  auto given_up = [](const nlohmann::json& j) {
    return j.value("state", "") == "FAILED" &&
           j.value("error", "").find("not retried again") != std::string::npos;
  };
  auto describe = [&] {
    std::string out;
    for (int64_t m : models) {
      for (const auto& j : site.RunJobsFor(m)) out += j.dump() + "\n";
    }
    return out + site.daemon().Log();
  };
  auto settled = [&] {
    for (int64_t m : models) {
      std::string state = site.JobState(m);
      if (state != "DONE" && state != "FAILED") return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(settled, seconds(180))) << describe();
  for (int64_t m : models) {
    auto jobs = site.RunJobsFor(m);
    if (jobs.empty() || !given_up(jobs.front())) continue;
    RunResult retry = site.daemon().Ctl(
        {"job", "retry", std::to_string(AsInt(jobs.front().value("id", nlohmann::json())))});
    ASSERT_EQ(retry.exit_code, 0) << retry.err;
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int64_t m : models) {
          if (site.JobState(m) != "DONE" || site.LocalResults(m).size() != 1) return false;
        }
        return true;
      },
      seconds(180)))
      << describe();
  ASSERT_EQ(site.daemon().Ctl({"sync"}).exit_code, 0);

  int attempts = 0;
  for (int64_t m : models) {
    SCOPED_TRACE("model " + std::to_string(m));
    auto jobs = site.RunJobsFor(m);
    // One job per model, plus at most the one given up after repeated kills.
    ASSERT_GE(jobs.size(), 1u) << "lost job";
    ASSERT_LE(jobs.size(), 2u) << "duplicated job";
    EXPECT_EQ(jobs[0].value("state", ""), "DONE");
    if (jobs.size() == 2) {
      EXPECT_TRUE(given_up(jobs[1])) << jobs[1].dump();
    }
    for (const auto& j : jobs) attempts += j.value("attempts", 0);
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

// --- Kill points (issue 13) ---
// The daemon talks to the server through a GatedProxy, so a test can hold a request.
class KillPointTest : public ::testing::Test {
 protected:
  // An additional-files tarball holding an incompressible 2 MiB file (so a gate half-way
  // stops a real stream), its bytes and its SHA-256.
  void AdditionalFilesTarball(std::string* content, std::string* hash) {
    fs::path files = dir_.path() / "additional_files";
    fs::create_directories(files);
    std::mt19937 rng(13);
    std::string weights(2 << 20, '\0');
    for (char& c : weights) c = static_cast<char>(rng());
    WriteFile(files / "weights.bin", weights);
    fs::path tarball = dir_.path() / "additional_files.tar.gz";
    RunResult tar = medperf::testing::Run(
        {"/usr/bin/tar", "-czf", tarball.string(), "-C", files.string(), "."});
    ASSERT_EQ(tar.exit_code, 0) << tar.err;
    *content = ReadFile(tarball);
    absl::StatusOr<std::string> sha = Sha256File(tarball);
    ASSERT_TRUE(sha.ok()) << sha.status();
    *hash = *sha;
  }

  // Waits until the daemon's temp file in <cache>/tmp holds `bytes` (all a gated server
  // sent so far) and sets `*partial` to it.
  void WaitForPartialDownload(const fs::path& cache, uintmax_t bytes, fs::path* partial) {
    ASSERT_TRUE(WaitFor(
        [&] {
          std::error_code ec;
          for (const auto& e : fs::directory_iterator(cache / "tmp", ec)) {
            if (e.is_regular_file(ec) && e.file_size(ec) == bytes) *partial = e.path();
          }
          return !partial->empty();
        },
        kLong))
        << site_->daemon().Log();
  }

  void SetUp() override {
    site_ = std::make_unique<UnattendedSite>(dir_.path());
    ASSERT_TRUE(site_->SeedAndServe());
    std::string url = site_->url();
    proxy_ = std::make_unique<GatedProxy>("127.0.0.1", std::stoi(url.substr(url.rfind(':') + 1)));
    site_->set_daemon_server_url(proxy_->url());
    // The seeded model 4 is denied so that only the work a test starts runs.
    ASSERT_TRUE(site_->StartDaemon(kPolicy));
    ASSERT_TRUE(site_->OnboardDataset());
  }

  void KillAndRestart() {
    int status = site_->daemon().Stop(SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(status)) << "medperfd was not running: " << status;
    ASSERT_TRUE(site_->StartDaemon(kPolicy)) << site_->daemon().Log();
  }

  RunResult Ctl(const std::vector<std::string>& args) { return site_->daemon().Ctl(args); }

  // `medperfctl ...` in the background (it would block on the held request).
  std::unique_ptr<Process> CtlInBackground(const std::vector<std::string>& args,
                                           const std::string& log) {
    std::vector<std::string> argv = {BinaryPath("ctl/medperfctl").string(), "--socket",
                                     site_->daemon().socket().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<Process>(argv, dir_.path() / log);
  }

  // The server's execution of (1, model, 1), owned by the data owner.
  std::optional<Result> ServerExecution(int64_t model) {
    absl::StatusOr<std::vector<Result>> mine = site_->As(kUaDo).ListMyResults();
    if (!mine.ok()) return std::nullopt;
    for (const Result& r : *mine) {
      if (r.model == ModelId(model) && r.benchmark == BenchmarkId(1) && r.dataset == DatasetId(1))
        return r;
    }
    return std::nullopt;
  }

  void ExpectSoundDatabase() {
    RunResult check = Ctl({"status", "--check", "--json"});
    ASSERT_EQ(check.exit_code, 0) << check.err;
    EXPECT_EQ(nlohmann::json::parse(check.out)["integrity"], "ok");
  }

  static constexpr char kPolicy[] = "policy:\n  models:\n    deny: [4]\n  max_concurrent_jobs: 1\n";
  static constexpr auto kLong = std::chrono::seconds(90);  // generous: CI, ASan
  TempDir dir_;
  std::unique_ptr<UnattendedSite> site_;
  std::unique_ptr<GatedProxy> proxy_;
};

// (a) While the data preparator runs: the preparation is failed locally and reported
// `interrupted` to the server, the job names the command to run next, and that command
// then prepares the dataset.
TEST_F(KillPointTest, KillWhileThePreparatorRunsIsReportedEverywhere) {
  fs::path raw = dir_.path() / "raw";
  // Enough cases that preparing them takes a while after the first output appears.
  RunResult gen = medperf::testing::Run({(BuildDir() / "examples/bin/chestxray_datagen").string(),
                                         "--out=" + raw.string(), "--seed=7", "--count=3000"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  RunResult submit =
      Ctl({"dataset", "submit", "--name", "big", "--data_path", (raw / "images").string(),
           "--labels_path", (raw / "labels").string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.out << submit.err;
  const std::string id = "2";  // the seed has none of the data owner's, onboarding made 1
  auto prepare = CtlInBackground({"dataset", "prepare", "--data_uid", id}, "prepare.out");
  // The preparator is running once its first prepared case is written.
  fs::path out = site_->daemon().state_dir() / "datasets" / id / "data";
  ASSERT_TRUE(WaitFor(
      [&] {
        std::error_code ec;
        return fs::is_directory(out, ec) && !fs::is_empty(out, ec);
      },
      kLong))
      << prepare->Log() << site_->daemon().Log();
  KillAndRestart();
  prepare->Stop(SIGTERM);

  std::vector<nlohmann::json> jobs = site_->Jobs();
  ASSERT_FALSE(jobs.empty());
  EXPECT_EQ(jobs[0].value("kind", ""), "prepare");
  EXPECT_EQ(jobs[0].value("state", ""), "FAILED") << "the kill missed the preparation";
  EXPECT_NE(jobs[0].value("error", "").find("run `medperfctl dataset prepare --data_uid 2` again"),
            std::string::npos)
      << jobs[0].dump();
  RunResult mine = Ctl({"dataset", "ls", "--mine"});
  EXPECT_EQ(mine.out.find("preparing"), std::string::npos) << mine.out;
  EXPECT_NE(mine.out.find("failed"), std::string::npos) << mine.out;
  std::string reported;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto remote = site_->As(kUaDo).GetDataset(DatasetId(2));
        if (remote.ok()) reported = remote->report.value("execution_status", "");
        return reported == "interrupted";
      },
      kLong))
      << "server report: " << reported;

  // What the job says to run next works, and the server hears the end of it.
  RunResult again = site_->daemon().Ctl({"dataset", "prepare", "--data_uid", id}, "", kLong);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  auto remote = site_->As(kUaDo).GetDataset(DatasetId(2));
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_EQ(remote->report.value("execution_status", ""), "finished");
  ExpectSoundDatabase();
}

// (b) During `result submit`, with the request held on its way to the server: whether
// the server then takes it or never sees it, afterwards the result is submitted on the
// server exactly when it is marked submitted here, and never twice.
bool IsSubmission(const httplib::Request& r) {
  return r.method == "PUT" && r.path.find("/results/") != std::string::npos &&
         r.body.find("\"results\"") != std::string::npos;
}

TEST_F(KillPointTest, KillDuringASubmissionTheServerNeverSawLeavesItSubmittable) {
  ASSERT_EQ(site_->LocalResults(2).size(), 1u);  // the reference model's, from onboarding
  proxy_->HoldNext(IsSubmission);
  auto submit = CtlInBackground({"result", "submit", "b1m2d1", "-y"}, "submit.out");
  ASSERT_TRUE(proxy_->WaitHeld(kLong)) << submit->Log() << site_->daemon().Log();
  KillAndRestart();
  proxy_->Release(/*forward=*/false);
  ASSERT_TRUE(proxy_->WaitDone(kLong));
  submit->Stop(SIGTERM);

  EXPECT_FALSE(site_->LocalResults(2).at(0).value("submitted", true));
  std::optional<Result> remote = ServerExecution(2);
  ASSERT_TRUE(remote.has_value());
  EXPECT_FALSE(remote->finalized);
  // Still submittable, and then submitted once.
  RunResult again = Ctl({"result", "submit", "b1m2d1", "-y"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(site_->LocalResults(2).at(0).value("submitted", false));
  remote = ServerExecution(2);
  ASSERT_TRUE(remote.has_value());
  EXPECT_TRUE(remote->finalized);
  EXPECT_EQ(*site_->ServerExecutions(2), 1);
  EXPECT_EQ(proxy_->Count(IsSubmission), 2);
  ExpectSoundDatabase();
}

TEST_F(KillPointTest, KillDuringASubmissionTheServerTookRecordsItAtRestart) {
  ASSERT_EQ(site_->LocalResults(2).size(), 1u);
  proxy_->HoldNext(IsSubmission);
  auto submit = CtlInBackground({"result", "submit", "b1m2d1", "-y"}, "submit.out");
  ASSERT_TRUE(proxy_->WaitHeld(kLong)) << submit->Log() << site_->daemon().Log();
  int status = site_->daemon().Stop(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  // The server takes the request of a daemon that is gone.
  proxy_->Release(/*forward=*/true);
  ASSERT_TRUE(proxy_->WaitDone(kLong));
  submit->Stop(SIGTERM);
  ASSERT_TRUE(site_->StartDaemon(kPolicy)) << site_->daemon().Log();

  // The restart asks the server and records what it finds.
  EXPECT_TRUE(
      WaitFor([&] { return site_->LocalResults(2).at(0).value("submitted", false); }, kLong))
      << site_->daemon().Log();
  std::optional<Result> remote = ServerExecution(2);
  ASSERT_TRUE(remote.has_value());
  EXPECT_TRUE(remote->finalized);
  EXPECT_EQ(*site_->ServerExecutions(2), 1);
  bool reconciled = false;
  for (const auto& e : site_->Events("result.submitted")) {
    reconciled |= e["fields"].value("reconciled", false);
  }
  EXPECT_TRUE(reconciled);
  // Submitting again sends nothing.
  RunResult again = Ctl({"result", "submit", "b1m2d1", "-y"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already submitted"), std::string::npos) << again.err;
  EXPECT_EQ(proxy_->Count(IsSubmission), 1);
  ExpectSoundDatabase();
}

// (c) Half-way through downloading a model's additional files: the partial file never
// becomes a cached asset; the requeued job downloads and checks it again and runs.
TEST_F(KillPointTest, KillMidDownloadLeavesNothingCachedAndTheJobDownloadsAgain) {
  std::string content, hash;
  ASSERT_NO_FATAL_FAILURE(AdditionalFilesTarball(&content, &hash));
  GatedFileServer server("additional_files.tar.gz", content, content.size() / 2);

  absl::StatusOr<int64_t> model = site_->AddModel(
      "download-model", 0, 0, true,
      {{"additional_files_tarball_url", server.url()}, {"additional_files_tarball_hash", hash}});
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(server.WaitHolds(1, kLong)) << site_->daemon().Log();
  // Everything sent so far has reached the daemon's temp file.
  fs::path cache = site_->daemon().state_dir() / "cache";
  fs::path partial;
  ASSERT_NO_FATAL_FAILURE(WaitForPartialDownload(cache, content.size() / 2, &partial));
  KillAndRestart();
  EXPECT_FALSE(fs::exists(partial)) << "the partial download was kept: " << partial;
  EXPECT_FALSE(fs::exists(cache / "sha256" / hash));

  ASSERT_TRUE(server.WaitHolds(2, kLong)) << "the requeued job did not download again\n"
                                          << site_->daemon().Log();
  server.Open();
  ASSERT_TRUE(WaitFor([&] { return site_->JobState(*model) == "DONE"; }, kLong))
      << site_->JobState(*model) << "\n"
      << site_->daemon().Log();
  auto jobs = site_->RunJobsFor(*model);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].value("attempts", 0), 2);
  EXPECT_EQ(server.requests(), 2);
  absl::StatusOr<std::string> cached = Sha256File(cache / "sha256" / hash);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(*cached, hash);
  EXPECT_TRUE(fs::is_regular_file(cache / "extracted" / hash / "weights.bin"));
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(cache / "tmp", ec));
  for (const auto& e : fs::directory_iterator(cache / "extracted", ec)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".extract-")) << e.path();
  }
  // The server's execution is complete and reported so, once.
  EXPECT_EQ(*site_->ServerExecutions(*model), 1);
  std::optional<Result> remote = ServerExecution(*model);
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->model_report.value("execution_status", ""), "finished");
  EXPECT_EQ(remote->evaluation_report.value("execution_status", ""), "finished");
  ExpectSoundDatabase();
}

// (e) Half-way through a download an interactive command started (`test run` of a model
// whose additional files come from a slow server): the command's job is failed as
// interrupted, saying what to run next; no partial file stays in the cache; running the
// command again downloads, checks and passes.
TEST_F(KillPointTest, KillMidDownloadOfAnInteractiveCommandLetsItRunAgain) {
  std::string content, hash;
  ASSERT_NO_FATAL_FAILURE(AdditionalFilesTarball(&content, &hash));
  GatedFileServer server("additional_files.tar.gz", content, content.size() / 2);
  // Not approved: the poller leaves it alone, only the command below fetches it.
  absl::StatusOr<int64_t> model = site_->AddModel(
      "interactive-download-model", 0, 0, /*approve=*/false,
      {{"additional_files_tarball_url", server.url()}, {"additional_files_tarball_hash", hash}});
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<std::string> test_run = {"test", "run",     "--benchmark",
                                             "1",    "--model", std::to_string(*model)};
  auto first = CtlInBackground(test_run, "test-run.out");
  ASSERT_TRUE(server.WaitHolds(1, kLong)) << first->Log() << site_->daemon().Log();
  fs::path cache = site_->daemon().state_dir() / "cache";
  fs::path partial;
  ASSERT_NO_FATAL_FAILURE(WaitForPartialDownload(cache, content.size() / 2, &partial));
  KillAndRestart();
  first->Stop(SIGTERM);
  EXPECT_FALSE(fs::exists(partial)) << "the partial download was kept: " << partial;
  EXPECT_FALSE(fs::exists(cache / "sha256" / hash));
  nlohmann::json interrupted;
  for (const auto& j : site_->Jobs()) {
    if (j.value("kind", "") == "test") interrupted = j;
  }
  EXPECT_EQ(interrupted.value("state", ""), "FAILED") << interrupted.dump();
  EXPECT_NE(interrupted.value("error", "")
                .find("interrupted: medperfd stopped while this job "
                      "ran; run the command again"),
            std::string::npos)
      << interrupted.dump();

  server.Open();
  RunResult again = Ctl(test_run);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err << site_->daemon().Log();
  EXPECT_EQ(server.requests(), 2);
  absl::StatusOr<std::string> cached = Sha256File(cache / "sha256" / hash);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(*cached, hash);
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(cache / "tmp", ec));
  ExpectSoundDatabase();
}

// (d) While a model runs, kMaxRunAttempts times over: the job is given up, and the
// execution's `started` model report is turned into `interrupted` on the server (as
// the MedPerf client reports an interrupted step) instead of staying `started`.
TEST_F(KillPointTest, AModelRunGivenUpAfterRepeatedKillsIsReportedInterrupted) {
  absl::StatusOr<int64_t> model = site_->AddModel("never-finishing-model", /*sleep_before=*/600);
  ASSERT_TRUE(model.ok()) << model.status();
  for (int kill = 1; kill <= 5; ++kill) {
    SCOPED_TRACE("kill " + std::to_string(kill));
    ASSERT_TRUE(WaitFor(
        [&] {
          std::optional<Result> remote = ServerExecution(*model);
          return site_->JobState(*model) == "RUNNING" && remote &&
                 remote->model_report.value("execution_status", "") == "started";
        },
        kLong))
        << site_->JobState(*model) << "\n"
        << site_->daemon().Log();
    KillAndRestart();
  }
  auto jobs = site_->RunJobsFor(*model);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].value("state", ""), "FAILED");
  EXPECT_NE(jobs[0].value("error", "").find("not retried again"), std::string::npos)
      << jobs[0].dump();
  std::string reported;
  EXPECT_TRUE(WaitFor(
      [&] {
        std::optional<Result> remote = ServerExecution(*model);
        if (remote) reported = remote->model_report.value("execution_status", "");
        return reported == "interrupted";
      },
      kLong))
      << "server model report: " << reported << "\n"
      << site_->daemon().Log();
  EXPECT_EQ(*site_->ServerExecutions(*model), 1);
  ExpectSoundDatabase();
}

}  // namespace
}  // namespace medperf::testing
