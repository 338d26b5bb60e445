#include "ctl/help.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace medperf::ctl {
namespace {

// The options every command takes. A constant array: no work at start-up.
struct GlobalOption {
  const char* spellings;
  const char* value;
  const char* help;
};
constexpr GlobalOption kGlobalOptions[] = {
    {"--socket", "PATH",
     "medperfd's control socket (default: $MEDPERFD_SOCKET, /run/medperfd/medperfd.sock, or "
     "$XDG_RUNTIME_DIR/medperfd.sock)"},
    {"--json", "", "machine-readable output"},
    {"-y, --yes", "", "answer yes to confirmation prompts"},
    {"-v, --verbose", "", "after an error's sentence, print its raw detail"},
    {"--token-file", "PATH", "act as the MedPerf user whose token is in PATH"},
    {"--follow-logs", "", "while a job runs, show its containers' output lines (docs/cli.md)"},
    {"-h, --help", "", "show the help of medperfctl or of the command"},
    {"--version", "", "print the version and exit"},
};

std::string Name(const Command& c) { return absl::StrJoin(c.words, " "); }

std::string Usage(const Command& c) {
  std::string u = "medperfctl " + Name(c);
  if (!c.positional_help.empty()) absl::StrAppend(&u, " ", c.positional_help);
  if (!c.flags.empty()) absl::StrAppend(&u, " [options]");
  return u;
}

// "--data_uid, --data-uid, -d VALUE (required)"
std::string FlagLine(const FlagSpec& f) {
  std::string line = absl::StrJoin(FlagSpellings(f), ", ");
  if (f.takes_value) absl::StrAppend(&line, " VALUE");
  if (f.required) absl::StrAppend(&line, " (required)");
  return line;
}

bool StartsWithWords(const Command& c, const std::vector<std::string>& prefix) {
  return c.words.size() > prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), c.words.begin());
}

void CommandList(std::ostream& out, const std::vector<std::string>& prefix) {
  size_t width = 0;
  for (const Command& c : AllCommands()) {
    if (StartsWithWords(c, prefix)) width = std::max(width, Name(c).size());
  }
  for (const Command& c : AllCommands()) {
    if (!StartsWithWords(c, prefix)) continue;
    out << "  " << Name(c) << std::string(width - Name(c).size() + 2, ' ') << c.summary << "\n";
  }
}

// Debian's absl::string_view is its own type, not std::string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Normalised(std::string_view s) { return absl::StrReplaceAll(Absl(s), {{"-", "_"}}); }

}  // namespace

std::string UsageText() {
  std::ostringstream out;
  out << "usage: medperfctl [global options] <command> [options]\n\n"
         "Talks to medperfd, the MedPerf site daemon. Commands:\n";
  CommandList(out, {});
  out << "\nGlobal options (before or after the command):\n";
  for (const GlobalOption& g : kGlobalOptions) {
    std::string spelled = g.spellings;
    if (*g.value) absl::StrAppend(&spelled, " ", g.value);
    out << "  " << spelled << "\n      " << g.help << "\n";
  }
  out << "\nRun 'medperfctl <command> --help' (or 'medperfctl help <command>') for a command's\n"
         "options and examples; 'medperfctl man' prints the whole manual.\n";
  return out.str();
}

std::string GroupHelp(const std::vector<std::string>& prefix) {
  std::ostringstream out;
  out << "usage: medperfctl " << absl::StrJoin(prefix, " ")
      << " <command> [options]\n\nCommands:\n";
  CommandList(out, prefix);
  out << "\nRun 'medperfctl " << absl::StrJoin(prefix, " ")
      << " <command> --help' for a command's options and examples.\n";
  return out.str();
}

std::string CommandHelp(const Command& c) {
  std::ostringstream out;
  out << "usage: " << Usage(c) << "\n\n" << c.summary << "\n";
  if (!c.flags.empty()) {
    out << "\nOptions:\n";
    for (const FlagSpec& f : c.flags) out << "  " << FlagLine(f) << "\n      " << f.help << "\n";
  }
  out << "\nExample" << (c.examples.size() > 1 ? "s" : "") << ":\n";
  for (const std::string& e : c.examples) out << "  " << e << "\n";
  out << "\nGlobal options (--socket, --token-file, --json, -y, -v, --follow-logs): see "
         "'medperfctl --help'.\n";
  return out.str();
}

std::string HelpHint(const Command& c) {
  return absl::StrCat("(see medperfctl ", Name(c), " --help)");
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // Three rows of the classic table suffice: the swap looks two rows back.
  std::vector<size_t> two(b.size() + 1), one(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) one[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({one[j] + 1, cur[j - 1] + 1, one[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], two[j - 2] + 1);
      }
    }
    two.swap(one);
    one.swap(cur);
  }
  return one[b.size()];
}

std::vector<std::string> ClosestMatches(std::string_view typed,
                                        const std::vector<std::string>& candidates) {
  std::vector<std::string> typed_words = absl::StrSplit(Normalised(typed), ' ');
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& candidate : candidates) {
    std::vector<std::string> words = absl::StrSplit(Normalised(candidate), ' ');
    if (words.size() != typed_words.size()) continue;
    size_t total = 0;
    bool close = true;
    for (size_t w = 0; w < words.size() && close; ++w) {
      size_t d = EditDistance(typed_words[w], words[w]);
      close = d <= std::max<size_t>(1, words[w].size() / 3);
      total += d;
    }
    if (close && total > 0) scored.emplace_back(total, candidate);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& [d, c] : scored) {
    if (out.size() == 3 || d > scored.front().first) break;
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

namespace {

std::string DidYouMean(const std::vector<std::string>& matches, const char* quote) {
  if (matches.empty()) return "";
  std::vector<std::string> quoted;
  for (const std::string& m : matches) quoted.push_back(absl::StrCat(quote, m, quote));
  return absl::StrCat("; did you mean ", absl::StrJoin(quoted, " or "), "?");
}

}  // namespace

absl::Status UnknownCommandError(const std::vector<std::string>& typed) {
  // Every command name and group ("dataset"), compared with as many typed words; the
  // longest name that is close wins ("jb view 3" is "job view", not "job").
  std::vector<std::string> matches;
  for (size_t k = std::min<size_t>(typed.size(), 2); k > 0 && matches.empty(); --k) {
    std::vector<std::string> names;
    for (const Command& c : AllCommands()) {
      if (c.words.size() < k) continue;
      std::string name = absl::StrJoin(c.words.begin(), c.words.begin() + k, " ");
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    matches = ClosestMatches(absl::StrJoin(typed.begin(), typed.begin() + k, " "), names);
  }
  std::string hint = "(see medperfctl help for the list of commands)";
  if (matches.size() == 1) {
    std::vector<std::string> words = absl::StrSplit(matches[0], ' ');
    if (const Command* c = FindCommand(words)) {
      hint = HelpHint(*c);
    } else {
      hint = absl::StrCat("(see medperfctl help ", matches[0], ")");
    }
  } else if (matches.empty() && typed.size() > 1) {
    // A known group with an unknown command in it: its list is the help to read.
    for (const Command& c : AllCommands()) {
      if (c.words.size() > 1 && c.words[0] == typed[0]) {
        hint = absl::StrCat("(see medperfctl help ", typed[0], ")");
        break;
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown command '",
      absl::StrJoin(typed.begin(), typed.begin() + std::min<size_t>(typed.size(), 2), " "), "'",
      DidYouMean(matches, "'"), "\n", hint));
}

absl::Status UnknownOptionError(const Command& command, const std::string& option) {
  std::string typed = option.substr(0, option.find('='));
  std::vector<std::string> matches;
  // A one-letter typo of a one-letter flag is anything at all: no suggestion.
  if (typed.size() > 2) {
    std::vector<std::string> names;
    for (const FlagSpec& f : command.flags) {
      for (const std::string& s : FlagSpellings(f)) {
        if (s.size() > 2) names.push_back(s.substr(2));
      }
    }
    for (const char* g :
         {"socket", "token-file", "json", "yes", "verbose", "follow-logs", "help", "version"}) {
      names.push_back(g);
    }
    std::string bare = typed.substr(typed.find_first_not_of('-'));
    for (const std::string& m : ClosestMatches(bare, names)) {
      // The spelling given first for that flag: "--data_uid", not all three of it.
      std::string spelled = "--" + m;
      for (const FlagSpec& f : command.flags) {
        std::vector<std::string> all = FlagSpellings(f);
        if (std::find(all.begin(), all.end(), spelled) != all.end()) spelled = all.front();
      }
      if (std::find(matches.begin(), matches.end(), spelled) == matches.end()) {
        matches.push_back(spelled);
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown option ", typed, " for '", Name(command),
                                                 "'", DidYouMean(matches, ""), "\n",
                                                 HelpHint(command)));
}

namespace {

// Text for roff: backslashes and minus signs escaped, no line starting with a control
// character.
std::string Roff(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(text[i]);
    if (ch == '\\') {
      out += "\\e";
    } else if (ch == '-') {
      out += "\\-";
    } else if (ch < 0x80) {
      out += static_cast<char>(ch);
    } else {
      // A UTF-8 sequence (the summaries' arrows) as a groff \[uXXXX] glyph.
      const int extra = ch >= 0xf0 ? 3 : ch >= 0xe0 ? 2 : 1;
      uint32_t code = ch & (0x3f >> extra);
      for (int k = 0; k < extra && i + 1 < text.size(); ++k) {
        code = (code << 6) | (static_cast<unsigned char>(text[++i]) & 0x3f);
      }
      out += absl::StrFormat("\\[u%04X]", code);
    }
  }
  std::string lines;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (!line.empty() && (line[0] == '.' || line[0] == '\'')) lines += "\\&";
    absl::StrAppend(&lines, line, "\n");
  }
  lines.pop_back();
  return lines;
}

}  // namespace

std::string ManPage() {
  std::ostringstream m;
  m << ".TH MEDPERFCTL 1 \"\" \"medperfctl " << MEDPERF_VERSION << "\" \"MedPerf site agent\"\n"
    << ".SH NAME\nmedperfctl \\- command\\-line front end of medperfd, the MedPerf site daemon\n"
    << ".SH SYNOPSIS\n.B medperfctl\n[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR]\n"
    << ".br\n.B medperfctl help\n\\fIcommand\\fR\n"
    << ".SH DESCRIPTION\n"
    << "medperfctl talks to medperfd over its control socket. Its commands follow the MedPerf "
       "CLI (\\fBmedperf dataset submit\\fR becomes \\fBmedperfctl dataset submit\\fR), so the "
       "MedPerf tutorials read naturally. Flags accept both spellings (\\fB\\-\\-data_uid\\fR "
       "and \\fB\\-\\-data\\-uid\\fR). Long steps run as jobs inside medperfd: interrupting "
       "medperfctl does not stop them (\\fBmedperfctl job watch\\fR re\\-attaches).\n"
    << ".SH GLOBAL OPTIONS\n";
  for (const GlobalOption& g : kGlobalOptions) {
    m << ".TP\n\\fB" << Roff(g.spellings) << "\\fR";
    if (*g.value) m << " \\fI" << g.value << "\\fR";
    m << "\n" << Roff(g.help) << "\n";
  }
  m << ".SH COMMANDS\n";
  for (const Command& c : AllCommands()) {
    m << ".SS \"" << Name(c) << "\"\n"
      << ".B " << Roff(Usage(c)) << "\n.PP\n"
      << Roff(c.summary) << "\n";
    for (const FlagSpec& f : c.flags) {
      m << ".TP\n\\fB" << Roff(absl::StrJoin(FlagSpellings(f), ", ")) << "\\fR";
      if (f.takes_value) m << " \\fIVALUE\\fR";
      if (f.required) m << " (required)";
      m << "\n" << Roff(f.help) << "\n";
    }
    m << ".PP\nExample" << (c.examples.size() > 1 ? "s" : "") << ":\n.RS\n.nf\n";
    for (const std::string& e : c.examples) m << Roff(e) << "\n";
    m << ".fi\n.RE\n";
  }
  m << ".SH EXIT STATUS\n"
       "0: success. 1: an error (the daemon, the server or the command failed; a declined "
       "prompt; \\fBstatus \\-\\-check\\fR found damage). 2: a usage error (unknown command or "
       "option, missing or malformed argument), printed with a suggestion and the command's "
       "help to read.\n"
    << ".SH ENVIRONMENT\n.TP\n.B MEDPERFD_SOCKET\nmedperfd's control socket, unless "
       "\\fB\\-\\-socket\\fR is given.\n"
    << ".SH FILES\n.TP\n.I /run/medperfd/medperfd.sock\nthe system daemon's control socket "
       "(\\fI$XDG_RUNTIME_DIR/medperfd.sock\\fR for \\fBmedperfd \\-\\-user\\fR).\n"
    << ".SH SEE ALSO\n.BR medperfd (8),\n.BR medperfd.yaml (5),\n.BR medperf\\-server (1)\n";
  return m.str();
}

namespace {

// Per command path ("", "dataset", "dataset submit"): the words that may follow it with
// what they are, and the flags.
struct CompletionTable {
  struct Path {
    std::vector<std::pair<std::string, std::string>> next;  // word, what it is
    std::vector<const FlagSpec*> flags;
  };
  std::map<std::string, Path> paths;
  std::set<std::string> value_flags;  // spellings whose next argument is a value
};

CompletionTable BuildCompletionTable() {
  CompletionTable t;
  std::set<std::string> switches;
  for (const Command& c : AllCommands()) {
    for (size_t i = 0; i < c.words.size(); ++i) {
      std::string prefix = absl::StrJoin(c.words.begin(), c.words.begin() + i, " ");
      auto& next = t.paths[prefix].next;
      bool leaf = i + 1 == c.words.size();
      auto it = std::find_if(next.begin(), next.end(),
                             [&](const auto& p) { return p.first == c.words[i]; });
      if (it == next.end()) {
        next.emplace_back(c.words[i], leaf ? c.summary : c.words[i] + " commands");
      }
    }
    auto& flags = t.paths[Name(c)].flags;
    for (const FlagSpec& f : c.flags) {
      flags.push_back(&f);
      for (const std::string& s : FlagSpellings(f))
        (f.takes_value ? t.value_flags : switches).insert(s);
    }
  }
  // The scripts skip a value flag's argument before they know the command, so a
  // spelling that is a switch anywhere (`association ls -d`) is never skipped over.
  for (const std::string& s : switches) t.value_flags.erase(s);
  t.value_flags.insert("--socket");
  t.value_flags.insert("--token-file");
  return t;
}

std::vector<std::string> LongSpellings(const FlagSpec& f) {
  std::vector<std::string> out;
  for (const std::string& s : FlagSpellings(f)) {
    if (s.size() > 2) out.push_back(s);
  }
  return out;
}

constexpr char kGlobalLongOptions[] =
    "--json --yes --verbose --follow-logs --socket --token-file --help";

std::string Bash(const CompletionTable& t) {
  std::string o = absl::StrCat(
      "# bash completion for medperfctl (generated by `medperfctl completion bash`)\n"
      "_medperfctl() {\n"
      "  local cur prev path w i\n"
      "  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
      "  prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  case \"$prev\" in\n"
      "    --socket|--token-file) COMPREPLY=( $(compgen -f -- \"$cur\") ); return ;;\n"
      "  esac\n"
      "  path=\"\"\n"
      "  for ((i=1; i<COMP_CWORD; i++)); do\n"
      "    w=\"${COMP_WORDS[i]}\"\n"
      "    case \"$w\" in\n"
      "      ",
      absl::StrJoin(t.value_flags, "|"),
      ") ((i++)) ;;\n"
      "      -*) ;;\n"
      "      *) path=\"${path:+$path }$w\" ;;\n"
      "    esac\n"
      "  done\n"
      "  local words=\"\" opts=\"",
      kGlobalLongOptions,
      "\"\n"
      "  case \"$path\" in\n");
  for (const auto& [p, path] : t.paths) {
    absl::StrAppend(&o, "    \"", p, "\") ");
    if (!path.next.empty()) {
      std::vector<std::string> words;
      for (const auto& [w, _] : path.next) words.push_back(w);
      absl::StrAppend(&o, "words=\"", absl::StrJoin(words, " "), "\"; ");
    }
    if (!path.flags.empty()) {
      std::vector<std::string> opts;
      for (const FlagSpec* f : path.flags) {
        for (const std::string& s : LongSpellings(*f)) opts.push_back(s);
      }
      absl::StrAppend(&o, "opts=\"$opts ", absl::StrJoin(opts, " "), "\"; ");
    }
    absl::StrAppend(&o, ";;\n");
  }
  absl::StrAppend(&o,
                  "  esac\n"
                  "  if [[ \"$cur\" == -* ]]; then\n"
                  "    COMPREPLY=( $(compgen -W \"$opts\" -- \"$cur\") )\n"
                  "  else\n"
                  "    COMPREPLY=( $(compgen -W \"$words\" -- \"$cur\") )\n"
                  "  fi\n"
                  "}\n"
                  "complete -o default -F _medperfctl medperfctl\n");
  return o;
}

// A word for a single-quoted shell string ('...'), in zsh's _describe "word:what" form.
std::string ZshItem(const std::string& word, const std::string& what) {
  std::string item = absl::StrCat(word, ":", absl::StrReplaceAll(what, {{":", "\\:"}}));
  return absl::StrCat("'", absl::StrReplaceAll(item, {{"'", "'\\''"}}), "'");
}

std::string Zsh(const CompletionTable& t) {
  std::string o = absl::StrCat(
      "#compdef medperfctl\n"
      "# zsh completion for medperfctl (generated by `medperfctl completion zsh`)\n"
      "_medperfctl() {\n"
      "  local cmdpath=\"\" w i\n"
      "  local -a next opts\n"
      "  case \"${words[CURRENT-1]}\" in\n"
      "    --socket|--token-file) _files; return ;;\n"
      "  esac\n"
      "  for (( i = 2; i < CURRENT; i++ )); do\n"
      "    w=\"${words[i]}\"\n"
      "    case \"$w\" in\n"
      "      ",
      absl::StrJoin(t.value_flags, "|"),
      ") (( i++ )) ;;\n"
      "      -*) ;;\n"
      "      *) cmdpath=\"${cmdpath:+$cmdpath }$w\" ;;\n"
      "    esac\n"
      "  done\n"
      "  opts=(");
  std::vector<std::string> globals;
  for (const GlobalOption& g : kGlobalOptions) {
    for (absl::string_view s : absl::StrSplit(g.spellings, ", ")) {
      if (s.size() > 2 && s != "--version") globals.push_back(ZshItem(std::string(s), g.help));
    }
  }
  absl::StrAppend(&o, absl::StrJoin(globals, " "), ")\n  case \"$cmdpath\" in\n");
  for (const auto& [p, path] : t.paths) {
    absl::StrAppend(&o, "    \"", p, "\")");
    if (!path.next.empty()) {
      std::vector<std::string> items;
      for (const auto& [w, what] : path.next) items.push_back(ZshItem(w, what));
      absl::StrAppend(&o, " next=(", absl::StrJoin(items, " "), ");");
    }
    if (!path.flags.empty()) {
      std::vector<std::string> items;
      for (const FlagSpec* f : path.flags) {
        for (const std::string& s : LongSpellings(*f)) items.push_back(ZshItem(s, f->help));
      }
      absl::StrAppend(&o, " opts+=(", absl::StrJoin(items, " "), ");");
    }
    absl::StrAppend(&o, " ;;\n");
  }
  absl::StrAppend(&o,
                  "  esac\n"
                  "  if [[ \"$PREFIX\" == -* ]]; then\n"
                  "    _describe -t options 'option' opts\n"
                  "  elif (( ${#next} )); then\n"
                  "    _describe -t commands 'command' next\n"
                  "  else\n"
                  "    _files\n"
                  "  fi\n"
                  "}\n"
                  "# Autoloaded from $fpath, or sourced: `source <(medperfctl completion zsh)`.\n"
                  "if [[ \"${funcstack[1]}\" == _medperfctl ]]; then\n"
                  "  _medperfctl \"$@\"\n"
                  "else\n"
                  "  compdef _medperfctl medperfctl\n"
                  "fi\n");
  return o;
}

// A single-quoted fish string.
std::string Fish(std::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(Absl(s), {{"\\", "\\\\"}, {"'", "\\'"}}), "'");
}

std::string FishScript(const CompletionTable& t) {
  std::string o = absl::StrCat(
      "# fish completion for medperfctl (generated by `medperfctl completion fish`)\n"
      "# True when the command words typed so far (options and their values left out) are "
      "$argv[1].\n"
      "function __medperfctl_at\n"
      "    set -l path\n"
      "    set -l skip 0\n"
      "    for t in (commandline -opc)[2..-1]\n"
      "        if test $skip = 1\n"
      "            set skip 0\n"
      "        else if contains -- $t ",
      absl::StrJoin(t.value_flags, " "),
      "\n"
      "            set skip 1\n"
      "        else if not string match -q -- '-*' $t\n"
      "            set -a path $t\n"
      "        end\n"
      "    end\n"
      "    test \"$path\" = \"$argv[1]\"\n"
      "end\n"
      "complete -c medperfctl -f\n"
      "complete -c medperfctl -l socket -r -F -d ",
      Fish(kGlobalOptions[0].help),
      "\n"
      "complete -c medperfctl -l token-file -r -F -d ",
      Fish(kGlobalOptions[4].help), "\n");
  for (const GlobalOption& g : kGlobalOptions) {
    if (*g.value) continue;
    std::string line = "complete -c medperfctl";
    for (absl::string_view s : absl::StrSplit(g.spellings, ", ")) {
      absl::StrAppend(&line, s.size() == 2 ? " -s " : " -l ", s.substr(s.size() == 2 ? 1 : 2));
    }
    absl::StrAppend(&o, line, " -d ", Fish(g.help), "\n");
  }
  for (const auto& [p, path] : t.paths) {
    std::string when = absl::StrCat(" -n ", Fish(absl::StrCat("__medperfctl_at '", p, "'")));
    if (!path.next.empty()) {
      for (const auto& [w, what] : path.next) {
        absl::StrAppend(&o, "complete -c medperfctl", when, " -a ", Fish(w), " -d ", Fish(what),
                        "\n");
      }
    }
    if (!path.flags.empty()) {
      for (const FlagSpec* f : path.flags) {
        absl::StrAppend(&o, "complete -c medperfctl", when);
        for (const std::string& s : FlagSpellings(*f)) {
          absl::StrAppend(&o, s.size() == 2 ? " -s " : " -l ", s.substr(s.size() == 2 ? 1 : 2));
        }
        absl::StrAppend(&o, f->takes_value ? " -r" : "", " -d ", Fish(f->help), "\n");
      }
    }
  }
  return o;
}

}  // namespace

absl::StatusOr<std::string> CompletionScript(const std::string& shell) {
  if (shell == "bash") return Bash(BuildCompletionTable());
  if (shell == "zsh") return Zsh(BuildCompletionTable());
  if (shell == "fish") return FishScript(BuildCompletionTable());
  return absl::InvalidArgumentError(
      absl::StrCat("completion for '", shell, "': the shells are bash, zsh and fish"));
}

}  // namespace medperf::ctl
