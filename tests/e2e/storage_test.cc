// `medperfctl storage ls|cleanup` through medperfd on a site that went through the data
// owner's tutorial: the asset folders are listed, and cleanup frees clutter while the
// prepared dataset and the unsubmitted result stay intact.
#include <gtest/gtest.h>

#include <map>

#include "tests/e2e/site_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class StorageTest : public SiteFixture {};

// Every file under `root` with its content.
std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = ReadFile(e.path());
  }
  return files;
}

TEST_F(StorageTest, LsShowsTheFoldersAndCleanupKeepsPreparedDataAndUnsubmittedResults) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  RunResult view_before = Ctl({"result", "view", "b1m4d1", "--json"});
  ASSERT_EQ(view_before.exit_code, 0) << view_before.err;
  ASSERT_EQ(Json::parse(view_before.out)["submitted"], false);

  const fs::path state = daemon_->state_dir();
  RunResult ls = Ctl({"storage", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  for (const char* asset : {"datasets", "results", "containers", "cache", "tests", "logs", "tmp"}) {
    EXPECT_NE(ls.out.find((state / asset).string()), std::string::npos) << asset << "\n" << ls.out;
  }
  EXPECT_NE(ls.out.find((state / "state.db").string()), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("Free space on the state directory's filesystem: "), std::string::npos)
      << ls.out;
  RunResult ls_json = Ctl({"storage", "ls", "--json"});
  ASSERT_EQ(ls_json.exit_code, 0) << ls_json.err;
  Json listing = Json::parse(ls_json.out);
  EXPECT_EQ(listing["state_dir"], state.string());
  std::map<std::string, Json> folders;
  for (const Json& f : listing["folders"]) folders[f["asset"]] = f;
  ASSERT_TRUE(folders.count("datasets")) << ls_json.out;
  EXPECT_EQ(folders["datasets"]["items"], "1");  // int64 fields are strings in proto JSON
  EXPECT_GT(std::stoll(folders["datasets"]["bytes"].get<std::string>()), 0);
  EXPECT_NE(folders["datasets"]["size"].get<std::string>().find(" bytes"), std::string::npos);
  EXPECT_EQ(folders["results"]["items"], "2");  // the reference model's and model 4's
  EXPECT_GT(std::stoll(listing["free_bytes"].get<std::string>()), 0);

  // Clutter: a task's temporary files, an unfinished download, and the output of a
  // compatibility test run 30 days ago (storage.keep_tests_days is 7).
  WriteFile(state / "tmp" / "leftover" / "work.bin", std::string(4096, 't'));
  WriteFile(state / "cache" / "tmp" / "partial-download", std::string(1000, 'd'));
  const std::vector<fs::path> tests = {state / "tests" / "old-test"};
  WriteFile(tests.front() / "logs" / "model.log", std::string(500, 'l'));
  WriteFile(tests.front() / "test_report.json", "{}");
  fs::last_write_time(tests.front() / "test_report.json",
                      fs::file_time_type::clock::now() - std::chrono::hours(24 * 30));
  const auto dataset = Snapshot(state / "datasets" / "1");
  const auto result = Snapshot(state / "results" / "b1m4d1");
  ASSERT_TRUE(dataset.count(
      "data/" + fs::directory_iterator(state / "datasets/1/data")->path().filename().string()));

  // A dry run says what would go and removes nothing.
  RunResult dry = Ctl({"storage", "cleanup", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("Would remove (dry run"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find((state / "tmp").string()), std::string::npos) << dry.out;
  EXPECT_TRUE(fs::exists(state / "tmp" / "leftover" / "work.bin"));
  EXPECT_TRUE(fs::exists(tests.front()));

  RunResult cleanup = Ctl({"storage", "cleanup", "--json"});
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.err;
  Json report = Json::parse(cleanup.out);
  EXPECT_EQ(report["dry_run"], false);
  std::map<std::string, Json> removed;
  for (const Json& r : report["removed"]) removed[r["kind"]] = r;
  ASSERT_TRUE(removed.count("tmp")) << cleanup.out;
  EXPECT_GE(std::stoll(removed["tmp"]["bytes"].get<std::string>()), 4096);
  ASSERT_TRUE(removed.count("download")) << cleanup.out;
  EXPECT_GE(std::stoll(removed["download"]["bytes"].get<std::string>()), 1000);
  ASSERT_TRUE(removed.count("test")) << cleanup.out;
  EXPECT_EQ(removed["test"]["count"], std::to_string(tests.size()));
  EXPECT_GT(std::stoll(report["bytes_freed"].get<std::string>()), 5096);
  std::string kept = report["kept"].dump();
  EXPECT_NE(kept.find("1 prepared dataset(s)"), std::string::npos) << kept;
  EXPECT_NE(kept.find("2 result(s)"), std::string::npos) << kept;

  EXPECT_FALSE(fs::exists(state / "tmp" / "leftover"));
  EXPECT_FALSE(fs::exists(state / "cache" / "tmp" / "partial-download"));
  for (const fs::path& t : tests) EXPECT_FALSE(fs::exists(t)) << t;
  EXPECT_EQ(Snapshot(state / "datasets" / "1"), dataset) << "the prepared dataset changed";
  EXPECT_EQ(Snapshot(state / "results" / "b1m4d1"), result) << "the unsubmitted result changed";
  RunResult view_after = Ctl({"result", "view", "b1m4d1", "--json"});
  ASSERT_EQ(view_after.exit_code, 0) << view_after.err;
  EXPECT_EQ(Json::parse(view_after.out), Json::parse(view_before.out));

  // A second cleanup has nothing left to do, and the result can still be submitted.
  RunResult again = Ctl({"storage", "cleanup"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("Nothing to clean up."), std::string::npos) << again.out;
  RunResult submit = Ctl({"result", "submit", "--result", "b1m4d1", "-y"});
  EXPECT_EQ(submit.exit_code, 0) << submit.err;
}

}  // namespace
}  // namespace medperf::testing
