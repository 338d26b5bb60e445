// medperfctl's command skeleton and argument parsing. Commands follow the MedPerf CLI
// (`dataset submit`, `benchmark run`, ...) so its tutorials read naturally.
//
// Every command is a Command: its words, flags and a handler that returns a Reply or an
// error. RunCli alone reads --token-file (before any handler runs), creates the
// connection to medperfd (only from the token it read), picks JSON or human output
// (Output::Emit) and turns errors into exit codes, so no command can forget any of it.
// Tokenising is CLI11's (Debian libcli11-dev); command lookup, required flags, the help
// texts (ctl/help.h), the shell completions and the man page all come from the command
// table, so none of them can drift from the commands medperfctl really has.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ctl/output.h"

namespace medperf::ctl {

class DaemonClient;

struct FlagSpec {
  std::string name;                  // long name without dashes, e.g. "data_uid"
  std::vector<std::string> aliases;  // other spellings: "d", "benchmark_uid"
  bool takes_value = true;
  bool required = false;
  std::string help;
};

// The parsed arguments of one command. Flags are keyed by FlagSpec::name, whichever
// alias or spelling ("--data-uid", "--data_uid", "-d") was typed.
class Args {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // Integer flags: InvalidArgumentError (a usage error) naming the flag when the value
  // is not a whole number.
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  // Positive ids; InvalidArgumentError naming the flag otherwise.
  absl::StatusOr<int64_t> GetId(const std::string& name) const;
  // The positional argument at `index` as a positive id; `what` names it in errors
  // ("job id", "benchmark id"). InvalidArgumentError when missing or not an id.
  absl::StatusOr<int64_t> PositionalId(size_t index, const std::string& what) const;
  const std::vector<std::string>& positional() const { return positional_; }

  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// Parses a positive id; InvalidArgumentError naming `what` otherwise.
absl::StatusOr<int64_t> ParseId(const std::string& text, const std::string& what);

struct GlobalOptions {
  std::string socket;
  bool json = false;
  bool yes = false;
  bool verbose = false;      // print an error's raw detail after its sentence
  std::string token_file;    // act as another MedPerf user for this call
  bool follow_logs = false;  // show the containers' output lines while a job runs
};

// How handlers report failure (RunCli turns the code into the exit code):
//   InvalidArgumentError -> "medperfctl: <message>", exit 2 (usage error; Args and
//                           ParseId return this code);
//   Declined(message)    -> "<message>", exit 1 (the user said no at a prompt);
//   any other code       -> "medperfctl: <message>", exit 1.
absl::Status UsageError(absl::string_view message);
absl::Status Declined(absl::string_view message);
// `status` with the same message but a code that means "exit 1", for errors of library
// calls that must not read as usage errors.
absl::Status Failed(const absl::Status& status);

class CommandContext {
 public:
  CommandContext(const GlobalOptions& global, std::string token, const Args& args, Output& out,
                 std::istream& in);
  ~CommandContext();

  const GlobalOptions& global;
  const Args& args;
  Output& out;
  std::istream& in;

  // The connection to medperfd, made on first use and carrying the --token-file user's
  // token. Commands that do not talk to the daemon never open one.
  DaemonClient& client();

 private:
  std::string token_;
  std::unique_ptr<DaemonClient> client_;
};

using Handler = std::function<absl::StatusOr<Reply>(CommandContext&)>;

// Every spelling of a flag, long ones first: {"--data_uid", "--data-uid", "-d"} (the
// MedPerf CLI mixes both styles, so "--data-uid" and "--data_uid" are the same flag).
std::vector<std::string> FlagSpellings(const FlagSpec& flag);

struct Command {
  std::vector<std::string> words;  // e.g. {"dataset", "submit"}
  std::string summary;             // the description `--help` and the man page show
  // Whole command lines ("medperfctl dataset prepare --data_uid 1"), from the MedPerf
  // tutorials where the command is in them; tests/ctl/help_test.cc parses each one.
  std::vector<std::string> examples;
  std::vector<FlagSpec> flags;
  Handler handler;
  int max_positional = 0;
  std::string positional_help = {};  // e.g. "<uid>"
};

// Every command medperfctl knows, in help order (grouped as in ctl/commands/).
const std::vector<Command>& AllCommands();
// The command named exactly by `words`, or nullptr.
const Command* FindCommand(const std::vector<std::string>& words);

// Entry point used by main() and by tests: parses argv (without the program name),
// runs the command and returns the exit code: 0 success, 1 error, 2 usage error.
int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
           std::istream& in);

// Parsing only (exposed for tests). `help X` is read as `X --help`. Errors:
// InvalidArgumentError with the text RunCli prints after "medperfctl: ": the problem
// (unknown command or option, with a "did you mean" suggestion when one is close;
// missing value or required flag; too many arguments), then on its own line the help to
// read, e.g. "(see medperfctl dataset submit --help)".
struct ParsedCommandLine {
  GlobalOptions global;
  const Command* command = nullptr;
  // No command, but the first words of some ("dataset"): --help lists them.
  std::vector<std::string> group;
  Args args;
  bool help = false;
  bool version = false;
};
absl::StatusOr<ParsedCommandLine> ParseCommandLine(const std::vector<std::string>& argv);

// $MEDPERFD_SOCKET, else /run/medperfd/medperfd.sock if it exists, else
// $XDG_RUNTIME_DIR/medperfd.sock if it exists, else the system path.
std::string DefaultSocketPath();

}  // namespace medperf::ctl
