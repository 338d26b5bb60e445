// Scenario S3: the data owner's tutorial with medperfctl → medperfd → medperf-server,
// using the project's example containers in the bubblewrap sandbox; and its error paths.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "tests/e2e/site_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class DataOwnerTest : public SiteFixture {
 protected:
  // `dataset submit` of the tutorial's raw data for benchmark 1 under `name`, confirmed.
  std::vector<std::string> SubmitRawData(const std::string& name) const {
    return {"dataset",
            "submit",
            "--name",
            name,
            "--data_path",
            RawData().string(),
            "--labels_path",
            RawLabels().string(),
            "--benchmark",
            "1",
            "-y"};
  }
};

TEST_F(DataOwnerTest, TutorialFromRegistrationToSubmittedResult) {
  RunResult benchmarks = Ctl({"benchmark", "ls"});
  ASSERT_EQ(benchmarks.exit_code, 0) << benchmarks.err;
  EXPECT_NE(benchmarks.out.find("APPROVED"), std::string::npos) << benchmarks.out;

  // 1. Register: the summary of what will be sent is shown before confirming.
  RunResult declined =
      Ctl({"dataset", "submit", "--name", "mytestdata", "--description", "A tutorial dataset",
           "--location", "My machine", "--data_path", RawData().string(), "--labels_path",
           RawLabels().string(), "--benchmark", "1"},
          "n\n");
  EXPECT_EQ(declined.exit_code, 1);
  EXPECT_NE(declined.out.find("input_data_hash"), std::string::npos) << declined.out;
  EXPECT_TRUE(As("testdo").ListMyDatasets()->empty()) << "declining must send nothing";

  RunResult submit =
      Ctl({"dataset", "submit", "--name", "mytestdata", "--description", "A tutorial dataset",
           "--location", "My machine", "--data_path", RawData().string(), "--labels_path",
           RawLabels().string(), "--benchmark", "1"},
          "y\n");
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  EXPECT_NE(submit.out.find("server UID 1"), std::string::npos) << submit.out;
  RunResult mine = Ctl({"dataset", "ls", "--mine"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_NE(mine.out.find("mytestdata"), std::string::npos) << mine.out;
  EXPECT_NE(mine.out.find("registered"), std::string::npos) << mine.out;

  // 2. Prepare: statistics of the 48 sample cases.
  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  ASSERT_EQ(prepare.exit_code, 0) << prepare.err;
  EXPECT_NE(prepare.out.find("num_cases: 48"), std::string::npos) << prepare.out;

  // 3. Operational: hash + statistics go to the server.
  RunResult operational = Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"});
  ASSERT_EQ(operational.exit_code, 0) << operational.err;
  auto server_dataset = As("testdo").GetDataset(DatasetId(1));
  ASSERT_TRUE(server_dataset.ok());
  EXPECT_EQ(server_dataset->state, EntityState::kOperation);
  EXPECT_EQ(server_dataset->generated_metadata["num_cases"], 48);
  EXPECT_NE(server_dataset->generated_uid, server_dataset->input_data_hash);

  // 4. Associate: the reference model runs first; its result travels with the request.
  RunResult associate =
      Ctl({"dataset", "associate", "--benchmark_uid", "1", "--data_uid", "1", "-y"});
  ASSERT_EQ(associate.exit_code, 0) << associate.err;
  EXPECT_NE(associate.out.find("AUC"), std::string::npos) << associate.out;
  RunResult pending = Ctl({"association", "ls"});
  EXPECT_NE(pending.out.find("PENDING"), std::string::npos) << pending.out;

  // Before approval nothing runs, and the command says why.
  RunResult too_early = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  EXPECT_EQ(too_early.exit_code, 1);
  EXPECT_NE(too_early.err.find("dataset 1 is not associated with benchmark 1 yet"),
            std::string::npos)
      << too_early.err;

  RunResult approve =
      CtlAs("testbo", {"association", "approve", "--benchmark", "1", "--dataset_uid", "1"});
  ASSERT_EQ(approve.exit_code, 0) << approve.err;
  RunResult approved = Ctl({"association", "ls"});
  EXPECT_NE(approved.out.find("APPROVED"), std::string::npos) << approved.out;

  // 5. Run: the reference model comes from the cache, model 4 runs.
  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("b1m2d1            False           True"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("b1m4d1            False           False"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Total number of models: 2"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("1 were skipped (already executed), of which 0 have partial results"),
            std::string::npos);
  EXPECT_NE(run.out.find("1 ran successfully, of which 0 have partial results"), std::string::npos);

  RunResult view = Ctl({"result", "view", "b1m4d1", "--json"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  Json result = Json::parse(view.out);
  double auc = result["results"]["AUC"].get<double>();
  EXPECT_GT(auc, 0.5);
  EXPECT_LE(auc, 1.0);
  EXPECT_EQ(result["submitted"], false);

  // 6. Submit: the server then holds the finalized result.
  RunResult submit_result = Ctl({"result", "submit", "--result", "b1m4d1", "-y"});
  ASSERT_EQ(submit_result.exit_code, 0) << submit_result.err;
  auto on_server = As("testdo").GetResult(ResultId(result["execution_id"].get<int64_t>()));
  ASSERT_TRUE(on_server.ok()) << on_server.status();
  EXPECT_TRUE(on_server->finalized);
  EXPECT_EQ(on_server->name, "b1m4d1");
  EXPECT_EQ(on_server->model, ModelId(4));
  EXPECT_DOUBLE_EQ(on_server->results["AUC"].get<double>(), auc);
  EXPECT_EQ(on_server->metadata["partial"], false);
  RunResult again_submit = Ctl({"result", "submit", "--result", "b1m4d1", "-y"});
  EXPECT_EQ(again_submit.exit_code, 1);
  EXPECT_NE(again_submit.err.find("already submitted"), std::string::npos);

  // Running again uses the local results.
  RunResult rerun = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_NE(rerun.out.find("2 were skipped (already executed)"), std::string::npos) << rerun.out;
  EXPECT_EQ(As("testdo").ListMyResults()->size(), 2u) << "no duplicate executions on the server";

  // Nothing but hashes, statistics and metrics left the site: no request carried file
  // paths or the bytes of the raw or prepared data.
  std::vector<std::string> forbidden = {RawData().string(), RawLabels().string(),
                                        daemon_->state_dir().string(), examples_.string()};
  for (const auto& entry : fs::directory_iterator(RawData())) {
    std::string bytes = ReadFile(entry.path());
    forbidden.push_back(bytes.substr(bytes.size() / 2, 32));  // pixel data, past the header
    break;
  }
  for (const auto& entry : fs::directory_iterator(daemon_->state_dir() / "datasets/1/data")) {
    std::string bytes = ReadFile(entry.path());
    forbidden.push_back(bytes.substr(bytes.size() / 2, 32));
    break;
  }
  forbidden.push_back(ReadFile(RawLabels() / "labels.csv").substr(0, 40));
  auto requests = proxy_->requests();
  ASSERT_GT(requests.size(), 10u);
  for (const auto& req : requests) {
    for (const auto& secret : forbidden) {
      EXPECT_EQ(req.body.find(secret), std::string::npos)
          << req.method << " " << req.target << " carried '" << secret << "'";
    }
  }
}

TEST_F(DataOwnerTest, UnknownBenchmarkIsAClearError) {
  RunResult r = Ctl({"dataset", "submit", "--name", "x", "--data_path", RawData().string(),
                     "--labels_path", RawLabels().string(), "--benchmark", "99", "-y"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "benchmark 99 does not exist on the MedPerf server"))
      << r.err;
  EXPECT_TRUE(As("testdo").ListMyDatasets()->empty());
}

TEST_F(DataOwnerTest, BadFlagsAndPathsAreRejectedBeforeAnythingIsSent) {
  EXPECT_EQ(Ctl({"dataset", "submit", "--name", "x"}).exit_code, 2);  // required flags
  EXPECT_EQ(Ctl({"dataset", "prepare", "--data_uid", "one"}).exit_code, 2);
  EXPECT_EQ(Ctl({"dataset", "prepare", "--data_uid", "-3"}).exit_code, 2);
  RunResult missing =
      Ctl({"dataset", "submit", "--name", "x", "--data_path", (dir_ / "nope").string(),
           "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("is not a directory"), std::string::npos) << missing.err;
  RunResult both = Ctl({"dataset", "submit", "--name", "x", "--data_path", RawData().string(),
                        "--labels_path", RawLabels().string(), "-y"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("exactly one of --benchmark"), std::string::npos) << both.err;
  RunResult uid = Ctl({"result", "view", "b1m4"});
  EXPECT_EQ(uid.exit_code, 1);
  EXPECT_NE(uid.err.find("expected b<benchmark>m<model>d<dataset>"), std::string::npos);
  EXPECT_TRUE(proxy_->requests().empty()) << "nothing may reach the server";
}

// Issue 13 (13): an empty data folder was accepted and registered on the server.
TEST_F(DataOwnerTest, EmptyDataFolderIsRefusedBeforeAnythingIsSent) {
  fs::create_directories(dir_ / "empty_data/sub");
  RunResult r =
      Ctl({"dataset", "submit", "--name", "empty", "--data_path", (dir_ / "empty_data").string(),
           "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("--data_path '" + (dir_ / "empty_data").string() +
                       "' is empty: no data file in it or its subfolders"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(proxy_->requests().empty()) << "nothing may reach the server";
  auto mine = As("testdo").ListMyDatasets();
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_TRUE(mine->empty());
}

TEST_F(DataOwnerTest, StepsOutOfOrderAreRefusedWithTheNextStepNamed) {
  RunResult unknown = Ctl({"dataset", "prepare", "--data_uid", "5"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("dataset submit"), std::string::npos) << unknown.err;

  RunResult submit = Ctl({"dataset", "submit", "--name", "d", "--data_path", RawData().string(),
                          "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  RunResult not_prepared = Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"});
  EXPECT_EQ(not_prepared.exit_code, 1);
  EXPECT_NE(not_prepared.err.find("dataset prepare --data_uid 1"), std::string::npos)
      << not_prepared.err;
  RunResult not_operational =
      Ctl({"dataset", "associate", "--benchmark_uid", "1", "--data_uid", "1", "-y"});
  EXPECT_EQ(not_operational.exit_code, 1);
  EXPECT_NE(not_operational.err.find("set_operational"), std::string::npos) << not_operational.err;
  RunResult no_result = Ctl({"result", "submit", "--result", "b1m4d1", "-y"});
  EXPECT_EQ(no_result.exit_code, 1);
  EXPECT_NE(no_result.err.find("no local result b1m4d1"), std::string::npos) << no_result.err;
}

TEST_F(DataOwnerTest, PreparationFailuresKeepTheLogAndTheDataset) {
  // Raw data whose labels name a class the preparator does not know: prepare fails.
  fs::path bad = dir_ / "bad_raw";
  fs::create_directories(bad / "images");
  fs::create_directories(bad / "labels");
  for (const auto& e : fs::directory_iterator(RawData())) {
    fs::copy_file(e.path(), bad / "images" / e.path().filename());
  }
  std::string labels = ReadFile(RawLabels() / "labels.csv");
  auto pos = labels.find("effusion");
  ASSERT_NE(pos, std::string::npos);
  labels.replace(pos, 8, "fracture");
  WriteFile(bad / "labels" / "labels.csv", labels);

  RunResult submit =
      Ctl({"dataset", "submit", "--name", "bad", "--data_path", (bad / "images").string(),
           "--labels_path", (bad / "labels").string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(prepare.exit_code, 1);
  EXPECT_NE(prepare.err.find("prepare of my-prep exited with code"), std::string::npos)
      << prepare.err;
  fs::path log = daemon_->state_dir() / "datasets/1/logs/prepare.log";
  EXPECT_NE(prepare.err.find(log.string()), std::string::npos) << prepare.err;
  EXPECT_NE(ReadFile(log).find("fracture"), std::string::npos) << ReadFile(log);
  RunResult mine = Ctl({"dataset", "ls", "--mine"});
  EXPECT_NE(mine.out.find("failed"), std::string::npos) << mine.out;

  // Fixing the raw data and preparing again works.
  WriteFile(bad / "labels" / "labels.csv", ReadFile(RawLabels() / "labels.csv"));
  RunResult retry = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(retry.exit_code, 0) << retry.err;
}

// The state directory on a small filesystem (a 96 MiB tmpfs) that the preparator fills.
class DiskFullTest : public SiteFixture {
 protected:
  std::string ExtraDaemonConfig() const override {
    return "storage:\n  min_free: 1\n  reserve: 1MiB\n";
  }
};

// Unmounts (lazily: the daemon may still hold files) when the test ends.
struct TmpfsMount {
  explicit TmpfsMount(const fs::path& at, const std::string& size) : path(at) {
    fs::create_directories(at);
    mounted = mount("tmpfs", at.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted) umount2(path.c_str(), MNT_DETACH);
  }
  fs::path path;
  bool mounted = false;
};

// Leaves exactly `free` bytes (rounded to pages) free on `dir`'s filesystem.
void FillLeaving(const fs::path& file, uint64_t free) {
  struct statvfs st {};
  ASSERT_EQ(statvfs(file.parent_path().c_str(), &st), 0);
  uint64_t avail = uint64_t{st.f_bavail} * st.f_frsize;
  ASSERT_GT(avail, free);
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(posix_fallocate(fd, 0, static_cast<off_t>(avail - free)), 0);
  close(fd);
}

// A preparation that fills the disk fails with a reason naming the path and free space,
// leaves job and dataset failed (not running/preparing), removes its partial outputs and
// keeps the database writable; once there is room, preparing again works.
TEST_F(DiskFullTest, PreparationThatFillsTheDiskFailsCleanly) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs for the state directory needs root";
  ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
  TmpfsMount tmpfs(daemon_->state_dir(), "96m");
  if (!tmpfs.mounted) GTEST_SKIP() << "cannot mount a tmpfs here: " << strerror(errno);
  ASSERT_TRUE(daemon_->Start());
  // 3,000 cases: at least 12 MiB prepared (a page per image on tmpfs).
  fs::path raw = dir_ / "many";
  RunResult gen = RunProcess({(BuildDir() / "examples/bin/chestxray_datagen").string(),
                              "--out=" + raw.string(), "--seed=3", "--count=3000"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  RunResult submit =
      Ctl({"dataset", "submit", "--name", "full", "--data_path", (raw / "images").string(),
           "--labels_path", (raw / "labels").string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;

  const fs::path state = daemon_->state_dir();
  // Room for the 1 MiB database reserve and the task's set-up, not for the prepared data.
  ASSERT_NO_FATAL_FAILURE(FillLeaving(state / "filler", (1 << 20) + (4 << 20)));
  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(prepare.exit_code, 1);
  EXPECT_NE(prepare.err.find("ran out of disk space"), std::string::npos) << prepare.err;
  EXPECT_NE(prepare.err.find("the state directory " + state.string()), std::string::npos)
      << prepare.err;
  EXPECT_NE(prepare.err.find(" free when it failed"), std::string::npos) << prepare.err;
  // The partial output is gone; the database still records things.
  EXPECT_FALSE(fs::exists(state / "datasets/1/data")) << "partial output kept";
  RunResult jobs = Ctl({"job", "ls", "--all", "--json"});
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  Json list = Json::parse(jobs.out);
  ASSERT_FALSE(list["items"].empty());
  EXPECT_EQ(list["items"][0]["kind"], "prepare");
  EXPECT_EQ(list["items"][0]["state"], "FAILED");
  EXPECT_NE(list["items"][0]["error"].get<std::string>().find("ran out of disk space"),
            std::string::npos);
  RunResult mine = Ctl({"dataset", "ls", "--mine"});
  EXPECT_NE(mine.out.find("failed"), std::string::npos) << mine.out;
  EXPECT_EQ(mine.out.find("preparing"), std::string::npos) << mine.out;

  // Below storage.min_free a task does not even start.
  fs::remove(state / "filler");
  ASSERT_NO_FATAL_FAILURE(FillLeaving(state / "filler", 8 << 20));
  WriteFile(dir_ / "medperfd.yaml", "poll:\n  enabled: false\n" + AllowListYaml(allowed_) +
                                        "storage:\n  min_free: 16MiB\n  reserve: 1MiB\n");
  ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
  ASSERT_TRUE(daemon_->Start());
  auto report = [&] {
    auto remote = As("testdo").GetDataset(DatasetId(1));
    // modified_at moves with every update, even one that ends where it started.
    return remote.ok() ? remote->report.dump() + " " + remote->modified_at
                       : std::string(remote.status().message());
  };
  const std::string report_before = report();
  RunResult refused = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("not enough free space to run preparation of dataset 1"),
            std::string::npos)
      << refused.err;
  // Refused before anything started: the server's preparation report is untouched.
  EXPECT_EQ(report(), report_before);
  EXPECT_NE(refused.err.find("storage.min_free asks for 16777216 bytes (16.0 MiB)"),
            std::string::npos)
      << refused.err;

  // With room again, the same command prepares the dataset.
  fs::remove(state / "filler");
  RunResult retry = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(retry.exit_code, 0) << retry.err;
}

// SIGKILL while the preparator runs: after the restart the job, the local dataset and the
// server's preparation report all say the preparation was interrupted, and name the
// command that starts it again.
TEST_F(DataOwnerTest, PreparationInterruptedByAKillIsReportedEverywhere) {
  // Enough cases that the preparation is still running when the kill lands.
  fs::path raw = dir_ / "many";
  RunResult gen = RunProcess({(BuildDir() / "examples/bin/chestxray_datagen").string(),
                              "--out=" + raw.string(), "--seed=5", "--count=20000"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  RunResult submit =
      Ctl({"dataset", "submit", "--name", "big", "--data_path", (raw / "images").string(),
           "--labels_path", (raw / "labels").string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  Process prepare({BinaryPath("ctl/medperfctl").string(), "--socket", daemon_->socket().string(),
                   "dataset", "prepare", "--data_uid", "1"},
                  dir_ / "prepare.out");
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(dir_ / "prepare.out").find("running prepare") != std::string::npos; },
      std::chrono::seconds(60)))
      << ReadFile(dir_ / "prepare.out");
  ASSERT_NE(daemon_->Stop(SIGKILL), -1);
  prepare.Stop(SIGTERM);
  ASSERT_TRUE(daemon_->Start());

  RunResult jobs = Ctl({"job", "ls", "--all", "--json"});
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  Json list = Json::parse(jobs.out);
  ASSERT_FALSE(list["items"].empty());
  EXPECT_EQ(list["items"][0]["kind"], "prepare");
  EXPECT_EQ(list["items"][0]["state"], "FAILED");
  EXPECT_NE(list["items"][0]["error"].get<std::string>().find(
                "run `medperfctl dataset prepare --data_uid 1` again"),
            std::string::npos)
      << list["items"][0].dump();
  RunResult mine = Ctl({"dataset", "ls", "--mine"});
  EXPECT_EQ(mine.out.find("preparing"), std::string::npos) << mine.out;
  EXPECT_NE(mine.out.find("failed"), std::string::npos) << mine.out;
  std::string reported;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto remote = As("testdo").GetDataset(DatasetId(1));
        if (remote.ok()) reported = remote->report.value("execution_status", "");
        return reported == "interrupted";
      },
      std::chrono::seconds(20)))
      << "server report: " << reported;
  RunResult watch = Ctl({"watch"});
  EXPECT_NE(watch.out.find("dataset 1 was interrupted"), std::string::npos) << watch.out;
}

// A site that lost its state directory submits the same raw data again: the dataset it
// registered before is tracked again, and the server gets no twin (issue 13, item 1).
TEST_F(DataOwnerTest, ResubmittingAfterLosingTheStateDirectoryReusesTheDataset) {
  std::vector<std::string> submit = SubmitRawData("mydata");
  RunResult first = Ctl(submit);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
  fs::remove_all(daemon_->state_dir());
  ASSERT_TRUE(daemon_->Start());

  RunResult again = Ctl(submit);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already registered on the server with this data as UID 1"),
            std::string::npos)
      << again.out;
  // The preview says what happens: nothing is sent.
  EXPECT_NE(again.out.find("the existing dataset 1 will be reused and nothing new is registered"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(again.out.find("will be sent"), std::string::npos) << again.out;
  auto mine = As("testdo").ListMyDatasets();
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->size(), 1u) << "a twin was registered";
  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(prepare.exit_code, 0) << prepare.err;

  RunResult third = Ctl(submit);
  EXPECT_EQ(third.exit_code, 1);
  EXPECT_NE(third.err.find("already registered as dataset 1"), std::string::npos) << third.err;
}

// An operational dataset registered again after the state directory was lost is
// operational here again once its preparation reproduces the server's prepared data
// (found by a newcomer's review: it used to need `set_operational` again, unsaid).
TEST_F(DataOwnerTest, AReusedOperationalDatasetIsOperationalAgainAfterPreparing) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  RunResult submitted = Ctl({"result", "submit", "--result", "b1m4d1", "-y"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.out << submitted.err;
  ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
  fs::remove_all(daemon_->state_dir());
  ASSERT_TRUE(daemon_->Start());
  RunResult again = Ctl(SubmitRawData("mytestdata"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  RunResult before = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  EXPECT_NE(before.err.find("is not operational yet"), std::string::npos) << before.err;
  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  ASSERT_EQ(prepare.exit_code, 0) << prepare.err;
  EXPECT_NE(prepare.out.find("it is operational again"), std::string::npos) << prepare.out;
  RunResult operational = Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"});
  EXPECT_EQ(operational.exit_code, 0) << operational.err;

  // The results the server already holds are adopted, not run and submitted twice.
  RunResult rerun = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1", "--json"});
  EXPECT_EQ(rerun.exit_code, 0) << rerun.out << rerun.err;
  // ...and the summary says so: nothing ran for it (found by the second review).
  nlohmann::json summary = nlohmann::json::parse(rerun.out, nullptr, false);
  ASSERT_TRUE(summary.is_object()) << rerun.out;
  bool row_found = false;
  for (const auto& row : summary["rows"]) {
    if (row.value("local_result_uid", "") != "b1m4d1") continue;
    row_found = true;
    EXPECT_EQ(row.value("from_cache", false), true) << row.dump();
  }
  EXPECT_TRUE(row_found) << rerun.out;
  auto executions = As("testdo").ListMyResults();
  ASSERT_TRUE(executions.ok()) << executions.status();
  int b1m4d1 = 0;
  for (const Result& r : *executions) {
    if (r.model == ModelId(4) && r.dataset == DatasetId(1)) ++b1m4d1;
  }
  EXPECT_EQ(b1m4d1, 1) << "the result was executed again on the server";
  RunResult view = Ctl({"result", "view", "b1m4d1", "--json"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  EXPECT_NE(view.out.find("submitted"), std::string::npos) << view.out;
  RunResult text = Ctl({"result", "view", "b1m4d1"});
  EXPECT_EQ(text.out.find("logs"), std::string::npos) << "no local logs to point to\n" << text.out;
}

// Two `dataset submit`s of the same data at once register it once (found by a
// newcomer's review: both missed each other and registered twins).
TEST_F(DataOwnerTest, TwoSubmissionsOfTheSameDataAtOnceRegisterItOnce) {
  std::vector<std::string> submit = SubmitRawData("together");
  auto first = std::async(std::launch::async, [&] { return Ctl(submit); });
  auto second = std::async(std::launch::async, [&] { return Ctl(submit); });
  RunResult a = first.get(), b = second.get();
  EXPECT_EQ((a.exit_code == 0) + (b.exit_code == 0), 1) << a.out << a.err << b.out << b.err;
  EXPECT_NE((a.err + b.err).find("already registered as dataset 1"), std::string::npos)
      << a.err << b.err;
  auto mine = As("testdo").ListMyDatasets();
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->size(), 1u) << "a twin was registered";
}

TEST_F(DataOwnerTest, SanityCheckFailureIsReported) {
  RunResult submit = Ctl({"dataset", "submit", "--name", "d", "--data_path", RawData().string(),
                          "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  ASSERT_EQ(Ctl({"dataset", "prepare", "--data_uid", "1"}).exit_code, 0);
  // Damage the prepared data: preparing again skips `prepare` but re-checks it.
  fs::path data = daemon_->state_dir() / "datasets/1/data";
  fs::path victim = fs::directory_iterator(data)->path();
  WriteFile(victim, "garbage");
  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(prepare.exit_code, 1);
  EXPECT_NE(prepare.err.find("the sanity check failed"), std::string::npos) << prepare.err;
  EXPECT_NE(prepare.err.find("sanity_check.log"), std::string::npos) << prepare.err;
  RunResult operational = Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"});
  EXPECT_EQ(operational.exit_code, 1) << "a dataset that failed its checks cannot go operational";
}

TEST_F(DataOwnerTest, FailingModelIsRecordedAndOthersStillRun) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  int64_t faulty = AddApprovedModel("model_faulty/fail", "faulty-fail");
  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  EXPECT_EQ(run.exit_code, 1) << "a failed model makes the command fail after the summary";
  std::string uid = "b1m" + std::to_string(faulty) + "d1";
  EXPECT_NE(run.out.find("Total number of models: 3"), std::string::npos) << run.out << run.err;
  EXPECT_NE(run.out.find("1 failed"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("1 ran successfully"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(uid), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("infer of faulty-fail exited with code"), std::string::npos) << run.out;

  RunResult view = Ctl({"result", "view", uid, "--json"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  Json failed = Json::parse(view.out);
  EXPECT_NE(failed["error"].get<std::string>().find("exited with code"), std::string::npos);
  EXPECT_TRUE(fs::exists(fs::path(failed["logs"].get<std::string>()) / "model.log"));
  RunResult submit = Ctl({"result", "submit", "--result", uid, "-y"});
  EXPECT_EQ(submit.exit_code, 1);
  EXPECT_NE(submit.err.find("nothing to submit"), std::string::npos) << submit.err;

  // With --ignore-model-errors the failed model is evaluated on partial predictions.
  RunResult partial = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1", "--models",
                           std::to_string(faulty), "--ignore-model-errors"});
  EXPECT_NE(partial.out.find("Total number of models: 1"), std::string::npos) << partial.out;
}

// The server hears each step's status as the MedPerf client sends it
// (cli/medperf/commands/execution/container_execution.py): a model that ran fine stays
// "finished" when only the evaluator fails, and the evaluation is reported "failed".
TEST_F(DataOwnerTest, EvaluatorFailureIsReportedAsTheEvaluationsNotTheModels) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  // Its predictions have the wrong shape: infer exits 0, the metrics container fails.
  int64_t model = AddApprovedModel("model_faulty/bad_output", "faulty-bad-output");
  size_t before = proxy_->requests().size();
  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1", "--models",
                       std::to_string(model)});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;

  std::vector<std::string> reports;
  auto requests = proxy_->requests();
  for (size_t i = before; i < requests.size(); ++i) {
    if (requests[i].method != "PUT" || requests[i].target.find("/results/") == std::string::npos) {
      continue;
    }
    Json body = Json::parse(requests[i].body, nullptr, false);
    for (const char* field : {"model_report", "evaluation_report"}) {
      if (body.is_object() && body.contains(field)) {
        reports.push_back(std::string(field) + "=" +
                          body[field].value("execution_status", std::string("?")));
      }
    }
  }
  EXPECT_EQ(reports,
            (std::vector<std::string>{"model_report=pending", "evaluation_report=pending",
                                      "model_report=started", "model_report=finished",
                                      "evaluation_report=started", "evaluation_report=failed"}));

  auto mine = As("testdo").ListMyResults();
  ASSERT_TRUE(mine.ok()) << mine.status();
  const Result* execution = nullptr;
  for (const Result& r : *mine) {
    if (r.model.value() == model) execution = &r;
  }
  ASSERT_NE(execution, nullptr);
  EXPECT_EQ(execution->model_report.value("execution_status", ""), "finished");
  EXPECT_EQ(execution->evaluation_report.value("execution_status", ""), "failed");
}

TEST_F(DataOwnerTest, JobsAreListedAndViewable) {
  RunResult submit = Ctl({"dataset", "submit", "--name", "d", "--data_path", RawData().string(),
                          "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  RunResult jobs = Ctl({"job", "ls", "--all", "--json"});
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  Json list = Json::parse(jobs.out);
  ASSERT_EQ(list["items"].size(), 2u);  // the dry run and the submission
  EXPECT_EQ(list["items"][0]["kind"], "submit-dataset");
  EXPECT_EQ(list["items"][0]["state"], "DONE");
  RunResult view = Ctl({"job", "view", list["items"][0]["id"].get<std::string>()});
  EXPECT_EQ(view.exit_code, 0) << view.err;
  EXPECT_NE(view.out.find("state: done"), std::string::npos) << view.out;
  RunResult watch = Ctl({"job", "watch", list["items"][0]["id"].get<std::string>()});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
}

}  // namespace
}  // namespace medperf::testing
