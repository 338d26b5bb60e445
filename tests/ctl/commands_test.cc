// Commands that need no daemon, run through the whole skeleton (RunCli): the same
// command in --json and human form, and how handler errors become exit codes.
#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/hashing.h"
#include "ctl/cli.h"
#include "tests/ctl/run_ctl.h"
#include "tests/support/test_support.h"

namespace medperf::ctl {
namespace {

class DemoPackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "demo_data/images");
    std::filesystem::create_directories(dir_ / "demo_data/labels");
    testing::WriteFile(dir_ / "demo_data/images/1.txt", "1\n");
    testing::WriteFile(dir_ / "demo_data/labels/1.txt", "0\n");
  }
  std::vector<std::string> Pack(std::vector<std::string> extra) {
    std::vector<std::string> argv = {"demo",
                                     "pack",
                                     dir_.path().string(),
                                     "--data_path",
                                     "demo_data/images",
                                     "--labels_path",
                                     "demo_data/labels"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  testing::TempDir dir_;
};

TEST_F(DemoPackTest, JsonAndHumanOutputDescribeTheSameTarball) {
  CliRun json = RunCtl(Pack({"--json", "--output", (dir_ / "a.tar.gz").string()}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["path"], (dir_ / "a.tar.gz").string());
  EXPECT_EQ(j["paths"]["data_path"], "demo_data/images");
  absl::StatusOr<std::string> hash = Sha256File(dir_ / "a.tar.gz");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(j["hash"], *hash);

  CliRun human = RunCtl(Pack({"-o", (dir_ / "b.tar.gz").string()}));
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("Demo dataset: " + (dir_ / "b.tar.gz").string()), std::string::npos)
      << human.out;
  EXPECT_NE(human.out.find("hash (sha256): "), std::string::npos) << human.out;
  EXPECT_TRUE(nlohmann::json::parse(human.out, nullptr, /*allow_exceptions=*/false).is_discarded());
}

// Handler errors: a usage error exits 2, any other failure 1, both prefixed.
TEST_F(DemoPackTest, HandlerErrorsBecomeExitCodes) {
  CliRun outside = RunCtl({"demo", "pack", dir_.path().string(), "--data_path", "/",
                           "--labels_path", "demo_data/labels"});
  EXPECT_EQ(outside.exit_code, 2);
  EXPECT_NE(outside.err.find("medperfctl: --data_path '/' must be a folder inside"),
            std::string::npos)
      << outside.err;
  CliRun missing = RunCtl(
      {"demo", "pack", (dir_ / "absent").string(), "--data_path", "x", "--labels_path", "y"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("medperfctl: " + (dir_ / "absent").string() + " is not a directory"),
            std::string::npos)
      << missing.err;
}

// Even a command that never talks to the daemon refuses an unreadable token file.
TEST_F(DemoPackTest, RefusesAnUnreadableTokenFile) {
  CliRun r = RunCtl(Pack({"--token-file", (dir_ / "no-token").string()}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read token file " + (dir_ / "no-token").string()), std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "demo_data.tar.gz"));
}

TEST(CompletionTest, IsGeneratedFromTheCommandTable) {
  CliRun r = RunCtl({"completion", "bash"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("complete -o default -F _medperfctl medperfctl"), std::string::npos);
  for (const Command& c : AllCommands()) {
    EXPECT_NE(r.out.find(c.words.back()), std::string::npos) << c.words.back();
  }
  EXPECT_EQ(RunCtl({"--json", "completion"}).out, r.out);
}

TEST(StatusTest, AnUnreachableDaemonIsAnErrorNamingTheSocket) {
  testing::TempDir dir;
  std::string socket = (dir / "none.sock").string();
  for (bool json : {false, true}) {
    std::vector<std::string> argv = {"--socket", socket, "status"};
    if (json) argv.push_back("--json");
    CliRun r = RunCtl(argv);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("medperfctl: cannot reach medperfd at " + socket), std::string::npos)
        << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(ErrorCodesTest, FailedNeverReadsAsAUsageErrorOrADecline) {
  EXPECT_EQ(Failed(absl::InvalidArgumentError("x")).code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(Failed(absl::CancelledError("x")).code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(Failed(absl::NotFoundError("x")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Failed(absl::InvalidArgumentError("bad tar")).message(), "bad tar");
  EXPECT_EQ(UsageError("u").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Declined("d").code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace medperf::ctl
