#include "ctl/cli.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/errors.h"
#include "core/files.h"
#include "ctl/client.h"
#include "ctl/help.h"

namespace medperf::ctl {

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name) const {
  int64_t v = 0;
  std::string raw = Get(name);
  if (!absl::SimpleAtoi(raw, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " '", raw, "': expected a whole number"));
  }
  return v;
}

absl::StatusOr<int64_t> ParseId(const std::string& text, const std::string& what) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", text, "': expected a positive whole number"));
  }
  return v;
}

absl::StatusOr<int64_t> Args::GetId(const std::string& name) const {
  return ParseId(Get(name), "--" + name);
}

absl::StatusOr<int64_t> Args::PositionalId(size_t index, const std::string& what) const {
  if (index >= positional_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("missing <", what, ">"));
  }
  return ParseId(positional_[index], what);
}

absl::Status UsageError(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::Status Declined(absl::string_view message) { return absl::CancelledError(message); }

absl::Status Failed(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kCancelled) {
    return status;
  }
  return absl::UnknownError(status.message());
}

CommandContext::CommandContext(const GlobalOptions& global, std::string token, const Args& args,
                               Output& out, std::istream& in)
    : global(global), args(args), out(out), in(in), token_(std::move(token)) {}

CommandContext::~CommandContext() = default;

DaemonClient& CommandContext::client() {
  if (!client_) client_ = std::make_unique<DaemonClient>(global.socket, token_, global.token_file);
  return *client_;
}

std::string DefaultSocketPath() {
  if (const char* env = std::getenv("MEDPERFD_SOCKET"); env && *env) return env;
  const std::string system = "/run/medperfd/medperfd.sock";
  struct stat st {};
  if (stat(system.c_str(), &st) == 0) return system;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) {
    std::string user = absl::StrCat(runtime, "/medperfd.sock");
    if (stat(user.c_str(), &st) == 0) return user;
  }
  return system;
}

std::vector<std::string> FlagSpellings(const FlagSpec& f) {
  std::vector<std::string> names;
  auto add_long = [&](const std::string& n) {
    for (std::string s :
         {n, absl::StrReplaceAll(n, {{"_", "-"}}), absl::StrReplaceAll(n, {{"-", "_"}})}) {
      s = "--" + s;
      if (std::find(names.begin(), names.end(), s) == names.end()) names.push_back(s);
    }
  };
  add_long(f.name);
  for (const std::string& a : f.aliases) {
    if (a.size() > 1) add_long(a);
  }
  for (const std::string& a : f.aliases) {
    if (a.size() == 1) names.push_back("-" + a);
  }
  return names;
}

const Command* FindCommand(const std::vector<std::string>& words) {
  for (const Command& c : AllCommands()) {
    if (c.words == words) return &c;
  }
  return nullptr;
}

namespace {

std::string CommandName(const Command& cmd) { return absl::StrJoin(cmd.words, " "); }

// The global options, which may appear anywhere on the command line.
void AddGlobalOptions(CLI::App& app, ParsedCommandLine& p) {
  app.add_option("--socket", p.global.socket)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--token-file", p.global.token_file)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_flag("--json", p.global.json);
  app.add_flag("-y,--yes", p.global.yes);
  app.add_flag("-v,--verbose", p.global.verbose);
  app.add_flag("--follow-logs,--follow_logs", p.global.follow_logs);
  app.add_flag("-h,--help", p.help);
  app.add_flag("--version", p.version);
}

// Which arguments are global options; `with_value` when the next argument is its value.
bool IsGlobalOption(const std::string& a, bool* with_value) {
  *with_value = a == "--socket" || a == "--token-file";
  return *with_value || a == "--json" || a == "-y" || a == "--yes" || a == "-v" ||
         a == "--verbose" || a == "--follow-logs" || a == "--follow_logs" || a == "-h" ||
         a == "--help" || a == "--version" || absl::StartsWith(a, "--socket=") ||
         absl::StartsWith(a, "--token-file=");
}

// CLI11's form of a flag's spellings: "--data_uid,--data-uid,-d".
std::string Spellings(const FlagSpec& f) { return absl::StrJoin(FlagSpellings(f), ","); }

}  // namespace

absl::StatusOr<ParsedCommandLine> ParseCommandLine(const std::vector<std::string>& given) {
  ParsedCommandLine p;
  p.global.socket = DefaultSocketPath();

  // `help X` is `X --help`, so the two can never print different texts (`help --help` is
  // the help of `help`).
  std::vector<std::string> argv = given;
  const bool asked_help = std::find(argv.begin(), argv.end(), "--help") != argv.end() ||
                          std::find(argv.begin(), argv.end(), "-h") != argv.end();
  for (size_t i = 0; i < argv.size() && !asked_help; ++i) {
    bool with_value = false;
    if (IsGlobalOption(argv[i], &with_value)) {
      if (with_value) ++i;
      continue;
    }
    if (argv[i] == "help") {
      argv.erase(argv.begin() + static_cast<std::ptrdiff_t>(i));
      argv.push_back("--help");
    }
    break;
  }

  // The command is named by the leading words that are not options (global options may
  // come before and between them): the longest sequence that names a command wins.
  std::vector<size_t> word_at;
  bool other = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    bool with_value = false;
    if (IsGlobalOption(a, &with_value)) {
      if (with_value) ++i;
    } else if (!other && !absl::StartsWith(a, "-")) {
      word_at.push_back(i);
    } else {
      other = true;
    }
  }
  for (const Command& cmd : AllCommands()) {
    if (cmd.words.size() > word_at.size()) continue;
    bool match = true;
    for (size_t w = 0; w < cmd.words.size() && match; ++w) match = cmd.words[w] == argv[word_at[w]];
    if (match && (!p.command || cmd.words.size() > p.command->words.size())) p.command = &cmd;
  }
  if (!p.command) {
    // No command, so no command options: --help and --version mean themselves wherever
    // they are.
    for (const std::string& a : argv) {
      p.version |= a == "--version";
      p.help |= a == "-h" || a == "--help";
    }
    std::vector<std::string> typed;
    for (size_t at : word_at) typed.push_back(argv[at]);
    if (!typed.empty()) {
      // The first words of some commands ("dataset"): --help lists them.
      bool group = false;
      for (const Command& cmd : AllCommands()) {
        group |= cmd.words.size() > typed.size() &&
                 std::equal(typed.begin(), typed.end(), cmd.words.begin());
      }
      if (!group) return UnknownCommandError(typed);
      p.group = typed;
      if (!p.help && !p.version) {
        return absl::InvalidArgumentError(absl::StrCat("'", absl::StrJoin(typed, " "),
                                                       "' needs a command\n(see medperfctl help ",
                                                       absl::StrJoin(typed, " "), ")"));
      }
    }
    if (p.version || p.help) return p;
  }

  // Everything but the command's words goes to CLI11, which knows every option of the
  // command, so an option's value is never mistaken for a global option.
  const size_t used_words = p.command ? p.command->words.size() : 0;
  std::vector<std::string> rest;
  for (size_t i = 0, w = 0; i < argv.size(); ++i) {
    if (w < used_words && word_at[w] == i) {
      ++w;
    } else {
      rest.push_back(argv[i]);
    }
  }
  CLI::App app("", "medperfctl");
  app.set_help_flag();
  app.allow_extras();
  AddGlobalOptions(app, p);
  const std::vector<FlagSpec> no_flags;
  const std::vector<FlagSpec>& flags = p.command ? p.command->flags : no_flags;
  std::vector<std::string> values(flags.size());
  std::unique_ptr<bool[]> set(new bool[flags.size() + 1]());
  std::vector<CLI::Option*> options;
  for (size_t f = 0; f < flags.size(); ++f) {
    options.push_back(flags[f].takes_value ? app.add_option(Spellings(flags[f]), values[f])
                                           : app.add_flag(Spellings(flags[f]), set[f]));
    options.back()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  if (p.command) {
    // Any number, even for commands that take none: the count is checked after the
    // required flags (as it always was), with a message naming the extra argument.
    app.add_option("positional", p.args.positional_)->expected(0, -1);
  }
  try {
    std::reverse(rest.begin(), rest.end());  // CLI11 takes its arguments last first
    app.parse(rest);
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(e.what(), "\n", p.command ? HelpHint(*p.command) : "(see medperfctl --help)"));
  }
  if (!p.command) {
    // Only options, none of them known: `medperfctl --bogus`.
    if (std::vector<std::string> extras = app.remaining(); !extras.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option ", extras.front(), "\n(see medperfctl --help)"));
    }
    return p;
  }
  if (p.help || p.version) return p;

  const Command& cmd = *p.command;
  // Positional arguments all went to "positional", so only unknown options remain.
  if (std::vector<std::string> extras = app.remaining(); !extras.empty()) {
    return UnknownOptionError(cmd, extras.front());
  }
  for (size_t f = 0; f < flags.size(); ++f) {
    if (options[f]->count() == 0) continue;
    if (flags[f].takes_value) {
      p.args.values_[flags[f].name] = values[f];
    } else if (set[f]) {
      p.args.values_[flags[f].name] = "true";
    }
  }
  for (const FlagSpec& f : cmd.flags) {
    if (f.required && !p.args.Has(f.name)) {
      return absl::InvalidArgumentError(absl::StrCat("'", CommandName(cmd), "' needs --", f.name,
                                                     " (", f.help, ")\n", HelpHint(cmd)));
    }
  }
  if (static_cast<int>(p.args.positional_.size()) > cmd.max_positional) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", p.args.positional_[cmd.max_positional], "' for '",
                     CommandName(cmd), "'\n", HelpHint(cmd)));
  }
  return p;
}

int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
           std::istream& in) {
  absl::StatusOr<ParsedCommandLine> parsed = ParseCommandLine(argv);
  if (!parsed.ok()) {
    err << "medperfctl: " << parsed.status().message() << "\n";
    return 2;
  }
  if (parsed->version) {
    out << "medperfctl " << MEDPERF_VERSION << "\n";
    return 0;
  }
  if (!parsed->command) {
    if (!parsed->group.empty()) {
      out << GroupHelp(parsed->group);
      return 0;
    }
    (parsed->help ? out : err) << UsageText();
    return parsed->help ? 0 : 2;
  }
  if (parsed->help) {
    out << CommandHelp(*parsed->command);
    return 0;
  }
  // Before any command runs: a command must never silently act as the daemon's own
  // user when it was asked to act as another one.
  std::string token;
  if (!parsed->global.token_file.empty()) {
    absl::StatusOr<std::string> read = ReadTokenFile(parsed->global.token_file);
    if (!read.ok()) {
      err << "medperfctl: " << read.status().message() << "\n";
      return 1;
    }
    token = *std::move(read);
  }
  Output output(out, err, parsed->global.json);
  CommandContext ctx(parsed->global, std::move(token), parsed->args, output, in);
  absl::StatusOr<Reply> reply = parsed->command->handler(ctx);
  if (!reply.ok()) {
    const absl::Status& st = reply.status();
    if (st.code() == absl::StatusCode::kCancelled) {
      err << st.message() << "\n";
      return 1;
    }
    err << "medperfctl: " << st.message() << "\n";
    if (st.code() == absl::StatusCode::kInvalidArgument) {
      err << HelpHint(*parsed->command) << "\n";
    }
    // One sentence by default; the raw detail (request line, server answer) on demand.
    if (std::optional<std::string> detail = RawDetail(st);
        parsed->global.verbose && detail && *detail != st.message()) {
      err << "detail: " << *detail << "\n";
    }
    return st.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  output.Emit(*reply);
  return reply->exit_code;
}

}  // namespace medperf::ctl
