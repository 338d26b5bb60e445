// Issue 17, progress: `--follow-logs` shows the containers' own lines while a job runs,
// and `job watch` re-attached to a finished job prints exactly what the command that
// started it printed (the same rendering, keyed by the job's kind).
#include <gtest/gtest.h>

#include <regex>

#include "tests/e2e/site_fixture.h"

namespace medperf::testing {
namespace {

// The job a command started, from its "job N started" line on stderr.
std::string JobId(const RunResult& r) {
  std::smatch m;
  if (std::regex_search(r.err, m, std::regex("job ([0-9]+) started"))) return m[1];
  ADD_FAILURE() << "no job announced: " << r.err;
  return "0";
}

class ProgressTest : public SiteFixture {
 protected:
  // `job watch` of the job `original` ran prints the same answer and exit code.
  void ExpectWatchRepeats(const RunResult& original) {
    RunResult watch = Ctl({"job", "watch", JobId(original)});
    EXPECT_EQ(watch.exit_code, original.exit_code) << watch.err;
    EXPECT_EQ(watch.out, original.out);
    EXPECT_FALSE(watch.out.empty());
    RunResult watch_json = Ctl({"--json", "job", "watch", JobId(original)});
    EXPECT_EQ(watch_json.exit_code, original.exit_code) << watch_json.err;
    EXPECT_FALSE(watch_json.out.empty());
  }
};

TEST_F(ProgressTest, FollowLogsAndJobWatchRepeatTheCommandsAnswer) {
  RunResult submit =
      Ctl({"dataset", "submit", "--name", "mytestdata", "--description", "A tutorial dataset",
           "--location", "My machine", "--data_path", RawData().string(), "--labels_path",
           RawLabels().string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;

  // The data preparator prints "Prepared N cases into ..." on its stdout.
  RunResult prepare = Ctl({"--follow-logs", "dataset", "prepare", "--data_uid", "1"});
  ASSERT_EQ(prepare.exit_code, 0) << prepare.err;
  EXPECT_NE(prepare.err.find("  [prepare] | Prepared "), std::string::npos) << prepare.err;
  // stderr is not a terminal here: plain lines, never redrawn.
  EXPECT_EQ(prepare.err.find('\r'), std::string::npos) << prepare.err;
  ExpectWatchRepeats(prepare);
  // Without the flag the same job's stream shows no container line.
  RunResult quiet = Ctl({"job", "watch", JobId(prepare)});
  EXPECT_EQ(quiet.err.find("] | Prepared "), std::string::npos) << quiet.err;
  RunResult followed = Ctl({"job", "watch", JobId(prepare), "--follow-logs"});
  EXPECT_NE(followed.err.find("  [prepare] | Prepared "), std::string::npos) << followed.err;

  ASSERT_EQ(Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"}).exit_code, 0);
  ASSERT_EQ(
      Ctl({"dataset", "associate", "--benchmark_uid", "1", "--data_uid", "1", "-y"}).exit_code, 0);
  ASSERT_EQ(CtlAs("testbo", {"association", "approve", "--benchmark", "1", "--dataset_uid", "1"})
                .exit_code,
            0);

  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1", "--no_cache"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("Total number of models: 2"), std::string::npos) << run.out;
  ExpectWatchRepeats(run);

  RunResult test = Ctl({"test", "run", "--benchmark", "1", "--data_path", RawData().string(),
                        "--labels_path", RawLabels().string()});
  ASSERT_EQ(test.exit_code, 0) << test.err;
  EXPECT_NE(test.out.find("Compatibility test passed"), std::string::npos) << test.out;
  ExpectWatchRepeats(test);
}

}  // namespace
}  // namespace medperf::testing
