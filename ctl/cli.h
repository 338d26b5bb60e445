// medperfctl's command table and argument parsing. Commands follow the MedPerf CLI
// (`dataset submit`, `benchmark run`, ...) so its tutorials read naturally.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace medperf::ctl {

struct FlagSpec {
  std::string name;                  // long name without dashes, e.g. "data_uid"
  std::vector<std::string> aliases;  // other spellings: "d", "data-uid"
  bool takes_value = true;
  bool required = false;
  std::string help;
};

// The parsed arguments of one command.
class Args {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // Integer flags: a clear usage error names the flag when the value is not a number.
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  absl::StatusOr<int64_t> GetId(const std::string& name) const;  // positive
  // The positional argument at `index` as a positive id; `what` names it in errors
  // ("job id", "benchmark id").
  absl::StatusOr<int64_t> PositionalId(size_t index, const std::string& what) const;
  const std::vector<std::string>& positional() const { return positional_; }

  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// Parses a positive id; errors name `what`.
absl::StatusOr<int64_t> ParseId(const std::string& text, const std::string& what);

struct GlobalOptions {
  std::string socket;
  bool json = false;
  bool yes = false;
  std::string token_file;  // act as another MedPerf user for this call
  std::string token;       // read from token_file by RunCli before any command runs
};

class Output;

struct CommandContext {
  const GlobalOptions& global;
  const Args& args;
  Output& out;
  std::istream& in;
};

// Exit codes: 0 success, 1 error, 2 usage.
using Handler = std::function<int(CommandContext&)>;

struct Command {
  std::vector<std::string> words;  // e.g. {"dataset", "submit"}
  std::string summary;
  std::vector<FlagSpec> flags;
  Handler handler;
  int max_positional = 0;
  std::string positional_help = {};  // e.g. "<uid>"
};

class Output {
 public:
  Output(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

 private:
  std::ostream& out_;
  std::ostream& err_;
};

// Every command medperfctl knows.
const std::vector<Command>& AllCommands();

// Entry point used by main() and by tests: parses argv (without the program name),
// runs the command and returns the exit code.
int RunCli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err,
           std::istream& in);

// Parsing only (exposed for tests).
struct ParsedCommandLine {
  GlobalOptions global;
  const Command* command = nullptr;
  Args args;
  bool help = false;
  bool version = false;
};
absl::StatusOr<ParsedCommandLine> ParseCommandLine(const std::vector<std::string>& argv);

std::string DefaultSocketPath();

}  // namespace medperf::ctl
