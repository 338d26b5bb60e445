// medperfctl's command-line layer, without a daemon: what every command must do before
// it talks to medperfd.
#include "ctl/cli.h"

#include "absl/status/statusor.h"

#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "tests/ctl/run_ctl.h"
#include "tests/support/test_support.h"

namespace medperf::ctl {
namespace {

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

// `help X` only prints X's help (it is `X --help`): it runs nothing, as nobody.
bool IsHelp(const Command& command) { return command.words == std::vector<std::string>{"help"}; }

// A --token-file that cannot be read stops every command before it reaches the daemon,
// so no command can silently run as the daemon's own user instead.
TEST(CliTest, EveryCommandRefusesAnUnreadableTokenFile) {
  ASSERT_FALSE(AllCommands().empty());
  for (const Command& command : AllCommands()) {
    if (IsHelp(command)) continue;
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
    if (IsHelp(command)) continue;
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

// The token check happens before the command's own argument checks, so even a command
// that would fail on its arguments names the unreadable file first.
TEST(CliTest, TokenFileIsCheckedBeforeTheCommandRuns) {
  CliRun r = RunCtl({"--token-file", "/nonexistent/token", "job", "view", "not-a-number"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot read token file /nonexistent/token"), std::string::npos) << r.err;
}

TEST(CliTest, UsageErrorsExitWithTwo) {
  struct Case {
    std::vector<std::string> argv;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"frobnicate"}, "unknown command 'frobnicate'"},
           {{"dataset", "frobnicate"}, "unknown command 'dataset frobnicate'"},
           {{"status", "--bogus"}, "unknown option --bogus for 'status'"},
           {{"status", "-z"}, "unknown option -z for 'status'"},
           {{"status", "extra"}, "unexpected argument 'extra' for 'status'"},
           {{"job", "view", "1", "2"}, "unexpected argument '2' for 'job view'"},
           {{"dataset", "prepare"}, "'dataset prepare' needs --data_uid"},
           {{"dataset", "prepare", "--data_uid"}, "--data_uid"},
           {{"job", "view", "abc"}, "job id 'abc': expected a positive whole number"},
           {{"job", "view"}, "missing <job id>"},
           {{"dataset", "prepare", "--data_uid", "-3"}, "--data_uid '-3'"},
           {{"result", "view"}, "missing result uid"},
           {{"completion", "tcsh"}, "the shells are bash, zsh and fish"},
           {{"--socket"}, "--socket"},
       }) {
    SCOPED_TRACE(absl::StrJoin(c.argv, " "));
    CliRun r = RunCtl(c.argv);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("cannot reach medperfd"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CliTest, NoCommandPrintsUsageAndExitsWithTwo) {
  CliRun r = RunCtl({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: medperfctl"), std::string::npos) << r.err;
  CliRun help = RunCtl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("dataset submit"), std::string::npos) << help.out;
  CliRun command_help = RunCtl({"dataset", "submit", "-h"});
  EXPECT_EQ(command_help.exit_code, 0);
  EXPECT_NE(command_help.out.find("usage: medperfctl dataset submit"), std::string::npos);
  EXPECT_NE(command_help.out.find("--data_path, --data-path, -d VALUE"), std::string::npos)
      << command_help.out;
  CliRun version = RunCtl({"status", "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("medperfctl ", 0), 0u) << version.out;
}

// MedPerf's own spellings all reach the same flag: snake_case, kebab-case, short
// aliases, the legacy mlcube names, and --flag=value.
TEST(CliTest, EverySpellingOfAFlagIsTheSameFlag) {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"dataset", "associate", "--data_uid", "3", "--benchmark_uid", "7"},
           {"dataset", "associate", "--data-uid", "3", "--benchmark-uid", "7"},
           {"dataset", "associate", "-d", "3", "-b", "7"},
           {"dataset", "associate", "--data_uid=3", "--benchmark=7"},
           {"dataset", "associate", "-d3", "--benchmark", "7"},
       }) {
    SCOPED_TRACE(absl::StrJoin(argv, " "));
    absl::StatusOr<ParsedCommandLine> p = ParseCommandLine(argv);
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_NE(p->command, nullptr);
    EXPECT_EQ(p->args.Get("data_uid"), "3");
    EXPECT_EQ(p->args.Get("benchmark_uid"), "7");
  }
  absl::StatusOr<ParsedCommandLine> legacy = ParseCommandLine(
      {"benchmark", "submit", "--name", "b", "--description", "d", "--data-preparation-mlcube", "1",
       "--reference_model_mlcube", "2", "--evaluator-mlcube", "3"});
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_EQ(legacy->args.Get("data_preparation_container"), "1");
  EXPECT_EQ(legacy->args.Get("reference_model_container"), "2");
  EXPECT_EQ(legacy->args.Get("evaluator_container"), "3");
}

// Global options may come before, between or after the command's words and flags.
TEST(CliTest, GlobalOptionsGoAnywhere) {
  absl::StatusOr<ParsedCommandLine> p = ParseCommandLine(
      {"--socket", "/s", "job", "--json", "ls", "--all", "-y", "--token-file=/t", "-n", "5"});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_NE(p->command, nullptr);
  EXPECT_EQ(absl::StrJoin(p->command->words, " "), "job ls");
  EXPECT_EQ(p->global.socket, "/s");
  EXPECT_EQ(p->global.token_file, "/t");
  EXPECT_TRUE(p->global.json);
  EXPECT_TRUE(p->global.yes);
  EXPECT_TRUE(p->args.Has("all"));
  EXPECT_EQ(p->args.Get("limit"), "5");
}

// An option's value is the option's, even when it looks like a global flag: a dataset
// described as "-yes" must not answer every confirmation prompt.
TEST(CliTest, AValueThatLooksLikeAFlagIsAValue) {
  absl::StatusOr<ParsedCommandLine> p =
      ParseCommandLine({"dataset", "submit", "--name", "-yes", "--data_path", "--json",
                        "--labels_path", "-1", "--description", "-h"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->global.yes);
  EXPECT_FALSE(p->global.json);
  EXPECT_EQ(p->args.Get("name"), "-yes");
  EXPECT_EQ(p->args.Get("data_path"), "--json");
  EXPECT_EQ(p->args.Get("labels_path"), "-1");
  absl::StatusOr<ParsedCommandLine> after = ParseCommandLine({"watch", "--after", "-1"});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->args.Get("after"), "-1");
}

TEST(CliTest, MlcubeIsAnAliasOfContainer) {
  for (const char* group : {"container", "mlcube"}) {
    SCOPED_TRACE(group);
    absl::StatusOr<ParsedCommandLine> p =
        ParseCommandLine({group, "submit", "--name", "x", "-m", "https://h/c.yaml"});
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->args.Get("container_config_file"), "https://h/c.yaml");
  }
}

}  // namespace
}  // namespace medperf::ctl
