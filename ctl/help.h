// medperfctl's help, generated on demand from the command table (nothing is built at
// start-up): the texts of `--help` and `help`, the "did you mean" suggestions of usage
// errors, the medperfctl(1) man page and the bash, zsh and fish completions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ctl/cli.h"

namespace medperf::ctl {

// `medperfctl --help` (and `medperfctl help`): every command with its summary, then the
// global options.
std::string UsageText();
// `medperfctl dataset --help`: the commands whose words start with `prefix`.
std::string GroupHelp(const std::vector<std::string>& prefix);
// `medperfctl <command> --help` and `medperfctl help <command>`: usage line, summary,
// every flag with all its spellings, the examples.
std::string CommandHelp(const Command& command);
// The line pointing to a command's own help: "(see medperfctl dataset submit --help)".
std::string HelpHint(const Command& command);

// medperfctl(1) as roff: the same summaries, flags and examples as CommandHelp.
std::string ManPage();

// `medperfctl completion <shell>` for "bash", "zsh" or "fish"; InvalidArgumentError
// naming the shells otherwise.
absl::StatusOr<std::string> CompletionScript(const std::string& shell);

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
// two neighbouring characters ("sumbit" -> "submit") each count 1.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidates that `typed` is probably a typo of, closest first (at most three).
// Both are space-separated words compared word by word: each word may be off by a
// third of its length (at least 1), so "datset sumbit" finds "dataset submit" but "frob"
// finds nothing. '-' and '_' are the same character.
std::vector<std::string> ClosestMatches(std::string_view typed,
                                        const std::vector<std::string>& candidates);

// Usage errors with a suggestion and the help to read (ParseCommandLine returns them):
// "unknown command 'dataset sumbit'; did you mean 'dataset submit'?\n(see medperfctl
// dataset submit --help)". `typed` are the command words given.
absl::Status UnknownCommandError(const std::vector<std::string>& typed);
// "unknown option --nmae for 'dataset submit'; did you mean --name?\n(see ...)".
absl::Status UnknownOptionError(const Command& command, const std::string& option);

}  // namespace medperf::ctl
