// Commands about medperfctl itself: help, man, completion (texts in ctl/help.cc).
#include "ctl/help.h"
#include "ctl/commands.h"

namespace medperf::ctl {

std::vector<Command> HelpCommands() {
  return {
      {{"help"},
       "Show the commands, or a command's options and examples (the same as <command> --help)",
       {"medperfctl help dataset submit"},
       {},
       // Never reached: ParseCommandLine reads `help X` as `X --help`.
       [](CommandContext&) -> absl::StatusOr<Reply> { return TextReply(UsageText()); },
       3,
       "[<command>]"},
      {{"man"},
       "Print medperfctl's manual page (roff), as installed in medperfctl(1)",
       {"medperfctl man | man -l -"},
       {},
       [](CommandContext&) -> absl::StatusOr<Reply> { return TextReply(ManPage()); }},
      {{"completion"},
       "Print a shell completion script: bash, zsh or fish",
       {"source <(medperfctl completion bash)", "medperfctl completion fish | source"},
       {},
       [](CommandContext& ctx) -> absl::StatusOr<Reply> {
         absl::StatusOr<std::string> script =
             CompletionScript(ctx.args.positional().empty() ? "bash" : ctx.args.positional()[0]);
         if (!script.ok()) return script.status();
         return TextReply(*std::move(script));
       },
       1,
       "bash|zsh|fish"},
  };
}

}  // namespace medperf::ctl
