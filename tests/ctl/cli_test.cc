// medperfctl's command-line layer, without a daemon: what every command must do before
// it talks to medperfd.
#include "ctl/cli.h"

#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "tests/support/test_support.h"

namespace medperf::ctl {
namespace {

struct CliRun {
  int exit_code;
  std::string out, err;
};

CliRun RunCtl(const std::vector<std::string>& argv) {
  std::ostringstream out, err;
  std::istringstream in;
  int code = RunCli(argv, out, err, in);
  return {code, out.str(), err.str()};
}

// argv for `command` with every required option given a placeholder value, on a socket
// nobody listens on.
std::vector<std::string> Invocation(const Command& command, const std::string& token_file) {
  std::vector<std::string> argv = {"--socket", "/nonexistent/medperfd.sock", "--token-file",
                                   token_file};
  argv.insert(argv.end(), command.words.begin(), command.words.end());
  for (const FlagSpec& f : command.flags) {
    if (f.required) argv.insert(argv.end(), {"--" + f.name, "1"});
  }
  return argv;
}

// A --token-file that cannot be read stops every command before it reaches the daemon,
// so no command can silently run as the daemon's own user instead.
TEST(CliTest, EveryCommandRefusesAnUnreadableTokenFile) {
  ASSERT_FALSE(AllCommands().empty());
  for (const Command& command : AllCommands()) {
    SCOPED_TRACE(absl::StrJoin(command.words, " "));
    CliRun r = RunCtl(Invocation(command, "/nonexistent/token"));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("cannot read token file /nonexistent/token"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("cannot reach medperfd"), std::string::npos) << r.err;
  }
}

// A token others may read is refused with the fix, for every command.
TEST(CliTest, EveryCommandRefusesAWorldReadableTokenFile) {
  testing::TempDir dir;
  std::string token = (dir / "token").string();
  testing::WriteFile(token, "secret-token\n");
  ASSERT_EQ(::chmod(token.c_str(), 0644), 0);
  for (const Command& command : AllCommands()) {
    SCOPED_TRACE(absl::StrJoin(command.words, " "));
    CliRun r = RunCtl(Invocation(command, token));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("run: chmod 600 " + token), std::string::npos) << r.err;
  }
}

// A readable token lets the command go on to the daemon (here: nobody listening).
TEST(CliTest, AReadableTokenFileReachesTheDaemonCall) {
  testing::TempDir dir;
  std::string token = (dir / "token").string();
  testing::WriteFile(token, "secret-token\n");
  ASSERT_EQ(::chmod(token.c_str(), 0600), 0);
  CliRun r = RunCtl({"--socket", (dir / "none.sock").string(), "--token-file", token, "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot reach medperfd"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("secret-token"), std::string::npos) << "the token was printed";
}

}  // namespace
}  // namespace medperf::ctl
