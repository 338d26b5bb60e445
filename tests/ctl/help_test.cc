// medperfctl's help, suggestions, man page and completions, checked over the whole
// command table: a command added without a description or an example, or whose example
// no longer parses, fails here.
#include "ctl/help.h"

#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "tests/ctl/run_ctl.h"
#include "tests/support/test_support.h"

namespace medperf::ctl {
namespace {

std::string Name(const Command& c) { return absl::StrJoin(c.words, " "); }

// The arguments of the medperfctl call in an example line, as a shell would split them
// (double quotes only, which is all the examples use), without the pipe or the process
// substitution around it: "source <(medperfctl completion bash)" -> {"completion", "bash"}.
std::vector<std::string> ExampleArgs(const std::string& example) {
  size_t start = example.find("medperfctl ");
  if (start == std::string::npos) return {};
  std::string call = example.substr(start + 11);
  call = call.substr(0, call.find_first_of("|)"));
  std::vector<std::string> args;
  std::string cur;
  bool quoted = false, any = false;
  for (char ch : call) {
    if (ch == '"') {
      quoted = !quoted;
      any = true;
    } else if (ch == ' ' && !quoted) {
      if (any) args.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (any) args.push_back(cur);
  return args;
}

TEST(CliHelpTest, EveryCommandHasADescriptionAndExamplesThatParse) {
  ASSERT_GT(AllCommands().size(), 30u);
  for (const Command& c : AllCommands()) {
    SCOPED_TRACE(Name(c));
    EXPECT_GT(c.summary.size(), 10u);
    ASSERT_FALSE(c.examples.empty()) << "no example";
    for (const std::string& e : c.examples) {
      std::vector<std::string> args = ExampleArgs(e);
      ASSERT_GE(args.size(), c.words.size()) << e;
      EXPECT_TRUE(std::equal(c.words.begin(), c.words.end(), args.begin())) << e;
      absl::StatusOr<ParsedCommandLine> parsed = ParseCommandLine(args);
      ASSERT_TRUE(parsed.ok()) << e << ": " << parsed.status();
      // `help X` is `X --help`.
      if (c.words == std::vector<std::string>{"help"}) {
        EXPECT_TRUE(parsed->help) << e;
      } else {
        EXPECT_EQ(parsed->command, &c) << e;
      }
    }
  }
}

// `help X`, `X --help` and `X -h` print one text, with everything a user needs.
TEST(CliHelpTest, HelpAndDashDashHelpAgreeForEveryCommand) {
  for (const Command& c : AllCommands()) {
    SCOPED_TRACE(Name(c));
    std::vector<std::string> help = {"help"};
    help.insert(help.end(), c.words.begin(), c.words.end());
    std::vector<std::string> dashed = c.words;
    dashed.push_back("--help");
    std::vector<std::string> short_flag = c.words;
    short_flag.push_back("-h");
    CliRun a = RunCtl(help), b = RunCtl(dashed), s = RunCtl(short_flag);
    EXPECT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_EQ(a.out, s.out);
    EXPECT_EQ(a.out, CommandHelp(c));
    EXPECT_TRUE(a.err.empty()) << a.err;
    EXPECT_EQ(a.out.rfind("usage: medperfctl " + Name(c), 0), 0u) << a.out;
    EXPECT_NE(a.out.find(c.summary), std::string::npos) << a.out;
    for (const std::string& e : c.examples) EXPECT_NE(a.out.find(e), std::string::npos) << e;
    for (const FlagSpec& f : c.flags) {
      for (const std::string& spelled : FlagSpellings(f)) {
        EXPECT_NE(a.out.find(spelled), std::string::npos) << spelled << "\n" << a.out;
      }
      EXPECT_NE(a.out.find(f.help), std::string::npos) << f.help;
    }
  }
}

TEST(CliHelpTest, BothSpellingsOfAFlagAreListed) {
  const Command* prepare = FindCommand({"dataset", "prepare"});
  ASSERT_NE(prepare, nullptr);
  EXPECT_NE(CommandHelp(*prepare).find("--data_uid, --data-uid, -d VALUE (required)"),
            std::string::npos)
      << CommandHelp(*prepare);
}

TEST(CliHelpTest, GroupHelpListsItsCommands) {
  CliRun dashed = RunCtl({"dataset", "--help"});
  CliRun help = RunCtl({"help", "dataset"});
  EXPECT_EQ(dashed.exit_code, 0) << dashed.err;
  EXPECT_EQ(dashed.out, help.out);
  for (const char* cmd : {"dataset ls", "dataset submit", "dataset set_operational"}) {
    EXPECT_NE(dashed.out.find(cmd), std::string::npos) << dashed.out;
  }
  EXPECT_EQ(dashed.out.find("benchmark run"), std::string::npos) << dashed.out;
  // Without --help a group is a usage error that names its list.
  CliRun bare = RunCtl({"dataset"});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("(see medperfctl help dataset)"), std::string::npos) << bare.err;
}

TEST(CliHelpTest, BareHelpIsTheUsage) {
  CliRun help = RunCtl({"help"});
  CliRun dashed = RunCtl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out, dashed.out);
  EXPECT_EQ(help.out, UsageText());
  for (const Command& c : AllCommands()) {
    EXPECT_NE(help.out.find("  " + Name(c) + " "), std::string::npos) << Name(c);
  }
}

TEST(CliDidYouMeanTest, EditDistance) {
  EXPECT_EQ(EditDistance("submit", "submit"), 0u);
  EXPECT_EQ(EditDistance("sumbit", "submit"), 1u);  // a swap counts once
  EXPECT_EQ(EditDistance("datset", "dataset"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
}

TEST(CliDidYouMeanTest, ClosestMatches) {
  const std::vector<std::string> names = {"dataset submit", "dataset ls", "benchmark submit",
                                          "status"};
  EXPECT_EQ(ClosestMatches("datset sumbit", names), std::vector<std::string>{"dataset submit"});
  EXPECT_EQ(ClosestMatches("stauts", names), std::vector<std::string>{"status"});
  EXPECT_EQ(ClosestMatches("dataset lss", names), std::vector<std::string>{"dataset ls"});
  EXPECT_TRUE(ClosestMatches("frob", names).empty());
  EXPECT_TRUE(ClosestMatches("dataset frobnicate", names).empty());
  EXPECT_TRUE(ClosestMatches("status", names).empty()) << "an exact name is no typo";
  EXPECT_EQ(ClosestMatches("data-ui", {"data_uid", "benchmark"}),
            std::vector<std::string>{"data_uid"});
}

// Unknown commands exit 2 with a suggestion and the suggested command's help, never the
// global help with exit 0 (which would make a missing command look present).
TEST(CliDidYouMeanTest, UnknownCommandsSuggestAndPointToTheCommandsHelp) {
  struct Case {
    std::vector<std::string> argv;
    std::string message;
    std::string hint;
  };
  for (const Case& c : std::vector<Case>{
           {{"dataset", "sumbit", "--help"},
            "unknown command 'dataset sumbit'; did you mean 'dataset submit'?",
            "(see medperfctl dataset submit --help)"},
           {{"help", "dataset", "sumbit"},
            "did you mean 'dataset submit'?",
            "(see medperfctl dataset submit --help)"},
           {{"datset", "ls"}, "did you mean 'dataset ls'?", "(see medperfctl dataset ls --help)"},
           {{"jb", "view", "3"}, "did you mean 'job view'?", "(see medperfctl job view --help)"},
           {{"stauts"}, "did you mean 'status'?", "(see medperfctl status --help)"},
           {{"datset"}, "did you mean 'dataset'?", "(see medperfctl help dataset)"},
           {{"dataset", "frobnicate", "--help"},
            "unknown command 'dataset frobnicate'",
            "(see medperfctl help dataset)"},
           {{"frobnicate", "--help"},
            "unknown command 'frobnicate'",
            "(see medperfctl help for the list of commands)"},
       }) {
    SCOPED_TRACE(absl::StrJoin(c.argv, " "));
    CliRun r = RunCtl(c.argv);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.hint), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Global options"), std::string::npos) << r.err;
  }
  EXPECT_EQ(RunCtl({"frobnicate"}).err.find("did you mean"), std::string::npos);
}

// For every command with a long flag: that flag with one letter doubled is an unknown
// option, answered with the flag and the command's own help.
TEST(CliDidYouMeanTest, MistypedFlagsOfEveryCommandSuggestTheFlag) {
  size_t checked = 0;
  for (const Command& c : AllCommands()) {
    for (const FlagSpec& f : c.flags) {
      if (f.name.size() < 3) continue;
      SCOPED_TRACE(Name(c) + " --" + f.name);
      std::string typo = "--" + f.name.substr(0, 2) + f.name.substr(1);
      std::vector<std::string> argv = c.words;
      argv.push_back(typo);
      CliRun r = RunCtl(argv);
      EXPECT_EQ(r.exit_code, 2);
      EXPECT_NE(r.err.find("unknown option " + typo + " for '" + Name(c) + "'; did you mean --" +
                           f.name + "?"),
                std::string::npos)
          << r.err;
      EXPECT_NE(r.err.find(HelpHint(c)), std::string::npos) << r.err;
      ++checked;
    }
  }
  EXPECT_GT(checked, 30u);
}

TEST(CliDidYouMeanTest, UsageErrorsOfAKnownCommandPointToItsHelp) {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"dataset", "prepare"},                // missing required flag
           {"dataset", "prepare", "--data_uid"},  // missing value
           {"status", "extra"},                   // unexpected argument
           {"job", "view", "abc"},                // the handler's own check
       }) {
    SCOPED_TRACE(absl::StrJoin(argv, " "));
    CliRun r = RunCtl(argv);
    EXPECT_EQ(r.exit_code, 2);
    std::vector<std::string> words(argv.begin(), argv.begin() + (argv[0] == "status" ? 1 : 2));
    EXPECT_NE(r.err.find("(see medperfctl " + absl::StrJoin(words, " ") + " --help)"),
              std::string::npos)
        << r.err;
  }
}

TEST(CliManPageTest, CarriesEveryCommandFlagAndExample) {
  CliRun r = RunCtl({"man"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ManPage());
  EXPECT_EQ(r.out.rfind(".TH MEDPERFCTL 1 ", 0), 0u);
  for (const char* section : {".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH COMMANDS",
                              ".SH EXIT STATUS", ".SH SEE ALSO"}) {
    EXPECT_NE(r.out.find(section), std::string::npos) << section;
  }
  auto roff = [](std::string s) {
    std::string out;
    for (char ch : s) out += ch == '-' ? std::string("\\-") : std::string(1, ch);
    return out;
  };
  for (const Command& c : AllCommands()) {
    EXPECT_NE(r.out.find(".SS \"" + Name(c) + "\""), std::string::npos) << Name(c);
    for (const std::string& e : c.examples) EXPECT_NE(r.out.find(roff(e)), std::string::npos) << e;
    for (const FlagSpec& f : c.flags) {
      EXPECT_NE(r.out.find(roff(absl::StrJoin(FlagSpellings(f), ", "))), std::string::npos)
          << f.name;
    }
  }
}

TEST(CliManPageTest, GroffFormatsItWithoutWarnings) {
  if (access("/usr/bin/groff", X_OK) != 0) GTEST_SKIP() << "groff is not installed";
  testing::TempDir dir;
  testing::WriteFile(dir / "medperfctl.1", ManPage());
  testing::RunResult r =
      testing::RunProcess({"/bin/sh", "-c",
                           "LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 /usr/bin/groff -man -Tutf8 "
                           "-ww -z '" +
                               (dir / "medperfctl.1").string() + "'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

// The three scripts come from the same table: every command word and every long flag.
TEST(CompletionTest, EveryShellKnowsEveryCommandAndFlag) {
  for (const char* shell : {"bash", "zsh", "fish"}) {
    SCOPED_TRACE(shell);
    CliRun r = RunCtl({"completion", shell});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const Command& c : AllCommands()) {
      for (const std::string& w : c.words) EXPECT_NE(r.out.find(w), std::string::npos) << w;
      for (const FlagSpec& f : c.flags) {
        for (const std::string& s : FlagSpellings(f)) {
          if (s.size() <= 2) continue;
          // fish writes long options without their dashes (-l data_uid).
          std::string want = std::string(shell) == "fish" ? "-l " + s.substr(2) : s;
          EXPECT_NE(r.out.find(want), std::string::npos) << want;
        }
      }
    }
  }
}

// zsh's completion system needs a terminal; with its two helpers stubbed (they print
// what they were given) the script's own logic runs for real.
TEST(CompletionTest, ZshScriptIsValidAndCompletes) {
  if (access("/usr/bin/zsh", X_OK) != 0) GTEST_SKIP() << "zsh is not installed";
  testing::TempDir dir;
  testing::WriteFile(dir / "_medperfctl", RunCtl({"completion", "zsh"}).out);
  testing::RunResult syntax =
      testing::RunProcess({"/usr/bin/zsh", "-n", (dir / "_medperfctl").string()});
  EXPECT_EQ(syntax.exit_code, 0) << syntax.err;
  testing::RunResult r = testing::RunProcess(
      {"/usr/bin/zsh", "-f", "-c",
       "compdef() {}; _files() { print FILES }; _describe() { print -rl -- \"${(@P)argv[-1]}\" "
       "}; source '" +
           (dir / "_medperfctl").string() +
           "'; words=(medperfctl dataset ''); CURRENT=3; PREFIX=''; _medperfctl; "
           "words=(medperfctl benchmark run -b 1 --d); CURRENT=6; PREFIX=--d; _medperfctl; "
           "words=(medperfctl --socket ''); CURRENT=3; PREFIX=''; _medperfctl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("set_operational:Send the prepared data"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--data-uid:dataset id"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FILES"), std::string::npos) << r.out;
}

// fish answers completion queries non-interactively: ask it for real.
TEST(CompletionTest, FishCompletesCommandsAndFlags) {
  if (access("/usr/bin/fish", X_OK) != 0) GTEST_SKIP() << "fish is not installed";
  testing::TempDir dir;
  testing::WriteFile(dir / "medperfctl.fish", RunCtl({"completion", "fish"}).out);
  testing::RunResult r =
      testing::RunProcess({"/usr/bin/fish", "--no-config", "-c",
                           "source '" + (dir / "medperfctl.fish").string() +
                               "'; complete -C 'medperfctl dataset '; echo ==; "
                               "complete -C 'medperfctl --json dataset prepare --data'; echo ==; "
                               "complete -C 'medperfctl benchmark run -b 1 --d'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("submit\tRegister a dataset"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("set_operational"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--data_uid"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--data-uid"), std::string::npos) << r.out;
  // "-b 1": the value is not taken for a command word.
  EXPECT_NE(r.out.find("--data_uid"), r.out.rfind("--data_uid")) << r.out;
}

}  // namespace
}  // namespace medperf::ctl
