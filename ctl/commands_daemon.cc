// status, watch, sync and job commands.
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ctl/commands.h"
#include "ctl/render.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;

namespace {

std::string StateName(v1::JobState s) {
  std::string name = v1::JobState_Name(s);
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

int Status(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::GetStatusRequest req;
  req.set_check(ctx.args.Has("check"));
  v1::StatusResponse resp;
  grpc::Status st = client.stub().GetStatus(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  bool healthy = !req.check() || resp.integrity() == "ok";
  if (ctx.global.json) {
    ctx.out.out() << ToJson(resp) << "\n";
    return healthy ? 0 : 1;
  }
  auto& o = ctx.out.out();
  o << "medperfd " << resp.version() << " (pid " << resp.pid() << "), up " << resp.uptime_seconds()
    << " s\n";
  o << "state dir:      " << resp.state_dir() << "\n";
  o << "socket:         " << resp.socket_path() << "\n";
  o << "server:         " << (resp.server_url().empty() ? "(none configured)" : resp.server_url())
    << "\n";
  o << "runner:         " << resp.runner() << "\n";
  o << "task user:      " << resp.task_user() << "\n";
  o << "task limits:    " << resp.limit_enforcement() << "\n";
  o << "schema version: " << resp.schema_version() << "\n";
  if (!resp.last_poll().empty()) o << "last poll:      " << resp.last_poll() << "\n";
  if (!resp.last_poll_error().empty()) o << "poll error:     " << resp.last_poll_error() << "\n";
  std::string counts;
  for (const char* k : {"datasets", "results", "jobs", "containers", "events"}) {
    auto it = resp.counts().find(k);
    absl::StrAppend(&counts, counts.empty() ? "" : ", ", k, " ",
                    it == resp.counts().end() ? 0 : it->second);
  }
  o << "counts:         " << counts << "\n";
  if (req.check()) o << "integrity:      " << resp.integrity() << "\n";
  return healthy ? 0 : 1;
}

void PrintJobs(std::ostream& out, const v1::JobList& jobs) {
  Table t({"ID", "Kind", "State", "Benchmark", "Model", "Dataset", "Attempts", "Updated", "Error"});
  for (const auto& j : jobs.items()) {
    auto id = [](int64_t v) { return v ? std::to_string(v) : std::string(); };
    t.AddRow({std::to_string(j.id()), j.kind(), StateName(j.state()), id(j.benchmark()),
              id(j.model()), id(j.dataset()), std::to_string(j.attempts()), j.updated_at(),
              j.error()});
  }
  t.Print(out);
}

int JobList(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::ListJobsRequest req;
  req.set_all(ctx.args.Has("all"));
  if (ctx.args.Has("limit")) {
    auto limit = ctx.args.GetId("limit");
    if (!limit.ok()) return UsageError(ctx.out, limit.status());
    req.set_limit(static_cast<int32_t>(*limit));
  }
  v1::JobList resp;
  grpc::Status st = client.stub().ListJobs(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ToJson(resp) << "\n";
  } else {
    PrintJobs(ctx.out.out(), resp);
  }
  return 0;
}

absl::StatusOr<int64_t> JobIdArg(const Args& args) {
  if (args.positional().empty()) return absl::InvalidArgumentError("missing <job id>");
  Args tmp;
  tmp.values_["job id"] = args.positional()[0];
  return tmp.GetId("job id");
}

int JobView(CommandContext& ctx) {
  auto id = JobIdArg(ctx.args);
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::GetJobRequest req;
  req.set_id(*id);
  v1::Job job;
  grpc::Status st = client.stub().GetJob(client.Context().get(), req, &job);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ToJson(job) << "\n";
    return 0;
  }
  nlohmann::json view = {{"id", job.id()},
                         {"kind", job.kind()},
                         {"state", StateName(job.state())},
                         {"attempts", job.attempts()},
                         {"created_at", job.created_at()},
                         {"updated_at", job.updated_at()}};
  if (job.benchmark()) view["benchmark"] = job.benchmark();
  if (job.model()) view["model"] = job.model();
  if (job.dataset()) view["dataset"] = job.dataset();
  if (!job.error().empty()) view["error"] = job.error();
  if (!job.log_path().empty()) view["log"] = job.log_path();
  view["params"] = ParseJsonOrString(job.params_json());
  view["result"] = ParseJsonOrString(job.result_json());
  PrintKeyValues(ctx.out.out(), view);
  return 0;
}

int Sync(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::SyncRequest req;
  v1::SyncResponse resp;
  grpc::Status st = client.stub().Sync(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ToJson(resp) << "\n";
  } else {
    ctx.out.out() << resp.message() << "\n";
  }
  return 0;
}

// Event kinds are dotted ("job.failed"): --kind job matches every job event.
bool KindMatches(const std::string& kind, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return true;
  for (const std::string& w : wanted) {
    if (kind == w ||
        (kind.size() > w.size() && kind.compare(0, w.size(), w) == 0 && kind[w.size()] == '.')) {
      return true;
    }
  }
  return false;
}

int Watch(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::WatchEventsRequest req;
  req.set_follow(ctx.args.Has("follow"));
  if (ctx.args.Has("after")) {
    auto after = ctx.args.GetInt("after");
    if (!after.ok()) return UsageError(ctx.out, after.status());
    req.set_after_id(*after);
  }
  if (ctx.args.Has("limit")) {
    auto limit = ctx.args.GetId("limit");
    if (!limit.ok()) return UsageError(ctx.out, limit.status());
    req.set_limit(static_cast<int32_t>(*limit));
  }
  std::vector<std::string> kinds;
  if (ctx.args.Has("kind")) kinds = absl::StrSplit(ctx.args.Get("kind"), ',', absl::SkipEmpty());
  auto context = client.Context(/*streaming=*/true);
  auto reader = client.stub().WatchEvents(context.get(), req);
  v1::Event e;
  while (reader->Read(&e)) {
    if (!KindMatches(e.kind(), kinds)) continue;
    if (ctx.global.json) {
      nlohmann::json line = {{"id", e.id()},
                             {"time", e.time()},
                             {"kind", e.kind()},
                             {"message", e.message()},
                             {"fields", ParseJsonOrString(e.json())}};
      ctx.out.out() << line.dump() << std::endl;
    } else {
      ctx.out.out() << e.time() << "  " << e.kind() << "  " << e.message() << std::endl;
    }
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return client.Fail(ctx.out, st);
  return 0;
}

// A bash completion script generated from the command table, so it never drifts from
// the commands medperfctl really has.
int Completion(CommandContext& ctx) {
  std::string shell = ctx.args.positional().empty() ? "bash" : ctx.args.positional()[0];
  if (shell != "bash") {
    return UsageError(ctx.out, absl::InvalidArgumentError(absl::StrCat(
                                   "completion for '", shell, "': only bash is supported")));
  }
  // For each command path: the words that may follow it, and its flags.
  std::map<std::string, std::set<std::string>> next_words;
  std::map<std::string, std::set<std::string>> flags;
  for (const Command& c : AllCommands()) {
    for (size_t i = 0; i < c.words.size(); ++i) {
      std::vector<std::string> prefix(c.words.begin(), c.words.begin() + i);
      next_words[absl::StrJoin(prefix, " ")].insert(c.words[i]);
    }
    std::set<std::string>& f = flags[absl::StrJoin(c.words, " ")];
    for (const FlagSpec& spec : c.flags) f.insert("--" + spec.name);
    f.insert("--help");
  }
  auto& o = ctx.out.out();
  o << "# bash completion for medperfctl (generated by `medperfctl completion bash`)\n"
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
       "      --socket|--token-file) ((i++)) ;;\n"
       "      -*) ;;\n"
       "      *) path=\"${path:+$path }$w\" ;;\n"
       "    esac\n"
       "  done\n"
       "  local words=\"\" opts=\"--json --yes --socket --token-file --help\"\n"
       "  case \"$path\" in\n";
  std::set<std::string> paths;
  for (const auto& [p, _] : next_words) paths.insert(p);
  for (const auto& [p, _] : flags) paths.insert(p);
  for (const std::string& p : paths) {
    o << "    \"" << p << "\") ";
    if (auto it = next_words.find(p); it != next_words.end()) {
      o << "words=\"" << absl::StrJoin(it->second, " ") << "\"; ";
    }
    if (auto it = flags.find(p); it != flags.end()) {
      o << "opts=\"$opts " << absl::StrJoin(it->second, " ") << "\"; ";
    }
    o << ";;\n";
  }
  o << "  esac\n"
       "  if [[ \"$cur\" == -* ]]; then\n"
       "    COMPREPLY=( $(compgen -W \"$opts\" -- \"$cur\") )\n"
       "  else\n"
       "    COMPREPLY=( $(compgen -W \"$words\" -- \"$cur\") )\n"
       "  fi\n"
       "}\n"
       "complete -o default -F _medperfctl medperfctl\n";
  return 0;
}

}  // namespace

std::vector<Command> DaemonCommands() {
  return {
      {{"status"},
       "Show the daemon's version, state, server and counts",
       {{"check", {}, false, false, "also verify the state database (PRAGMA integrity_check)"}},
       Status},
      {{"watch"},
       "Show daemon events (new models, jobs, results); --follow keeps streaming",
       {{"follow", {"f"}, false, false, "keep streaming new events"},
        {"after", {}, true, false, "only events with an id above this one"},
        {"limit", {"n"}, true, false, "how many recent events to show (default 50)"},
        {"kind",
         {"k"},
         true,
         false,
         "only these event kinds, comma-separated; a prefix matches a family (job, result)"}},
       Watch},
      {{"sync"},
       "Poll the MedPerf server now for newly approved models (instead of waiting)",
       {},
       Sync},
      {{"completion"},
       "Print a shell completion script (bash): source <(medperfctl completion bash)",
       {},
       Completion,
       1,
       "bash"},
      {{"job", "ls"},
       "List jobs (unfinished ones unless --all)",
       {{"all", {"a"}, false, false, "include finished jobs"},
        {"limit", {"n"}, true, false, "at most this many jobs (default 100)"}},
       JobList},
      {{"job", "view"}, "Show one job", {}, JobView, 1, "<job id>"},
  };
}

}  // namespace medperf::ctl
