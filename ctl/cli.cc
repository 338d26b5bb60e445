#include "ctl/cli.h"

#include "ctl/client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

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

namespace {

// "--data-uid" and "--data_uid" are the same flag (the MedPerf CLI mixes both styles).
std::string Normalize(std::string name) { return absl::StrReplaceAll(name, {{"-", "_"}}); }

const FlagSpec* FindFlag(const Command& cmd, const std::string& name, bool is_short) {
  for (const FlagSpec& f : cmd.flags) {
    if (!is_short && Normalize(f.name) == name) return &f;
    for (const std::string& a : f.aliases) {
      if (is_short ? a == name : (a.size() > 1 && Normalize(a) == name)) return &f;
    }
  }
  return nullptr;
}

std::string CommandName(const Command& cmd) { return absl::StrJoin(cmd.words, " "); }

}  // namespace

absl::StatusOr<ParsedCommandLine> ParseCommandLine(const std::vector<std::string>& argv) {
  ParsedCommandLine p;
  p.global.socket = DefaultSocketPath();
  std::vector<std::string> rest;
  // Global options may appear anywhere.
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    auto value_of = [&](const std::string& flag) -> absl::StatusOr<std::string> {
      if (absl::StartsWith(a, flag + "=")) return a.substr(flag.size() + 1);
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
      }
      return argv[++i];
    };
    if (a == "--json") {
      p.global.json = true;
    } else if (a == "-y" || a == "--yes") {
      p.global.yes = true;
    } else if (a == "--help" || a == "-h") {
      p.help = true;
    } else if (a == "--version") {
      p.version = true;
    } else if (a == "--socket" || absl::StartsWith(a, "--socket=")) {
      absl::StatusOr<std::string> v = value_of("--socket");
      if (!v.ok()) return v.status();
      p.global.socket = *v;
    } else if (a == "--token-file" || absl::StartsWith(a, "--token-file=")) {
      absl::StatusOr<std::string> v = value_of("--token-file");
      if (!v.ok()) return v.status();
      p.global.token_file = *v;
    } else {
      rest.push_back(a);
    }
  }
  if (p.version) return p;

  // The longest sequence of leading words that names a command.
  size_t words = 0;
  while (words < rest.size() && !absl::StartsWith(rest[words], "-")) ++words;
  for (const Command& cmd : AllCommands()) {
    if (cmd.words.size() > words) continue;
    if (!std::equal(cmd.words.begin(), cmd.words.end(), rest.begin())) continue;
    if (!p.command || cmd.words.size() > p.command->words.size()) p.command = &cmd;
  }
  if (!p.command) {
    if (p.help || rest.empty()) return p;
    std::vector<std::string> typed(rest.begin(), rest.begin() + std::min<size_t>(words, 2));
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command '", absl::StrJoin(typed, " "), "'"));
  }
  if (p.help) return p;

  const Command& cmd = *p.command;
  for (size_t i = cmd.words.size(); i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (!absl::StartsWith(a, "-") || a == "-") {
      p.args.positional_.push_back(a);
      continue;
    }
    bool is_short = !absl::StartsWith(a, "--");
    std::string name = a.substr(is_short ? 1 : 2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* flag = FindFlag(cmd, is_short ? name : Normalize(name), is_short);
    if (!flag) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option ", a, " for '", CommandName(cmd), "'"));
    }
    if (flag->takes_value) {
      if (!value) {
        if (i + 1 >= rest.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("option --", flag->name, " needs a value"));
        }
        value = rest[++i];
      }
      p.args.values_[flag->name] = *value;
    } else {
      if (value) {
        return absl::InvalidArgumentError(absl::StrCat("option --", flag->name, " takes no value"));
      }
      p.args.values_[flag->name] = "true";
    }
  }
  for (const FlagSpec& f : cmd.flags) {
    if (f.required && !p.args.Has(f.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", CommandName(cmd), "' needs --", f.name, " (", f.help, ")"));
    }
  }
  if (static_cast<int>(p.args.positional_.size()) > cmd.max_positional) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '",
                                                   p.args.positional_[cmd.max_positional],
                                                   "' for '", CommandName(cmd), "'"));
  }
  return p;
}

namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: medperfctl [--socket PATH] [--json] [-y] <command> [options]\n\n"
         "Talks to medperfd, the MedPerf site daemon. Commands:\n";
  size_t width = 0;
  for (const Command& c : AllCommands()) width = std::max(width, CommandName(c).size());
  for (const Command& c : AllCommands()) {
    std::string name = CommandName(c);
    out << "  " << name << std::string(width - name.size() + 2, ' ') << c.summary << "\n";
  }
  out << "\nGlobal options:\n"
         "  --socket PATH      medperfd's control socket (default: $MEDPERFD_SOCKET,\n"
         "                     /run/medperfd/medperfd.sock, or $XDG_RUNTIME_DIR/medperfd.sock)\n"
         "  --json             machine-readable output\n"
         "  -y, --yes          answer yes to confirmation prompts\n"
         "  --token-file PATH  act as the MedPerf user whose token is in PATH\n"
         "\nRun 'medperfctl <command> --help' for a command's options.\n";
}

void PrintCommandHelp(const Command& cmd, std::ostream& out) {
  out << "usage: medperfctl " << CommandName(cmd);
  if (!cmd.positional_help.empty()) out << " " << cmd.positional_help;
  out << " [options]\n\n" << cmd.summary << "\n";
  if (cmd.flags.empty()) return;
  out << "\nOptions:\n";
  for (const FlagSpec& f : cmd.flags) {
    std::string spelled = "--" + f.name;
    for (const std::string& a : f.aliases) spelled += (a.size() == 1 ? ", -" : ", --") + a;
    if (f.takes_value) spelled += " VALUE";
    out << "  " << spelled << "\n      " << f.help << (f.required ? " (required)" : "") << "\n";
  }
}

}  // namespace

int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
           std::istream& in) {
  absl::StatusOr<ParsedCommandLine> parsed = ParseCommandLine(argv);
  if (!parsed.ok()) {
    err << "medperfctl: " << parsed.status().message() << "\n(see medperfctl --help)\n";
    return 2;
  }
  if (parsed->version) {
    out << "medperfctl " << MEDPERF_VERSION << "\n";
    return 0;
  }
  if (!parsed->command) {
    PrintUsage(parsed->help ? out : err);
    return parsed->help ? 0 : 2;
  }
  if (parsed->help) {
    PrintCommandHelp(*parsed->command, out);
    return 0;
  }
  if (!parsed->global.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(parsed->global.token_file);
    if (!token.ok()) {
      err << "medperfctl: " << token.status().message() << "\n";
      return 1;
    }
    parsed->global.token = *std::move(token);
  }
  Output output(out, err);
  CommandContext ctx{parsed->global, parsed->args, output, in};
  return parsed->command->handler(ctx);
}

}  // namespace medperf::ctl
