// Daemon-level commands: status, watch, sync.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;

namespace {

// Proto3's JSON mapping writes 64-bit integers as strings ("pid": "123"); a status a
// script reads should have numbers, so they are turned back into numbers here
// (uptime_seconds, pid, counts; all fit a JSON number exactly).
nlohmann::json StatusJson(const v1::StatusResponse& r) {
  nlohmann::json j = nlohmann::json::parse(ToJson(r), nullptr, false);
  if (!j.is_object()) return j;
  j["uptime_seconds"] = r.uptime_seconds();
  j["pid"] = r.pid();
  j["schema_version"] = r.schema_version();
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [k, v] : r.counts()) counts[k] = v;
  j["counts"] = counts;
  return j;
}

absl::StatusOr<Reply> Status(CommandContext& ctx) {
  v1::GetStatusRequest req;
  req.set_check(ctx.args.Has("check"));
  absl::StatusOr<v1::StatusResponse> resp = ctx.client().Call(&v1::Control::Stub::GetStatus, req);
  if (!resp.ok()) return resp.status();
  Reply reply = JsonReply(StatusJson(*resp), [r = *resp, check = req.check()](std::ostream& o) {
    o << "medperfd " << r.version() << " (pid " << r.pid() << "), up " << r.uptime_seconds()
      << " s\n";
    o << "state dir:      " << r.state_dir() << "\n";
    o << "socket:         " << r.socket_path() << "\n";
    o << "server:         " << (r.server_url().empty() ? "(none configured)" : r.server_url())
      << "\n";
    o << "runner:         " << r.runner();
    if (!r.runner_choice().empty()) o << " -> " << r.runner_choice();
    o << "\n";
    if (!r.gpus().empty()) {
      o << "gpus:           " << r.gpus() << "; for tasks: "
        << (r.gpu_tasks().empty() ? "(none)" : absl::StrJoin(r.gpu_tasks(), ", "))
        << " and those whose container asks\n";
    }
    o << "task user:      " << r.task_user() << "\n";
    o << "task limits:    " << r.limit_enforcement() << "\n";
    o << "schema version: " << r.schema_version() << "\n";
    if (!r.last_poll().empty()) o << "last poll:      " << r.last_poll() << "\n";
    if (!r.last_poll_error().empty()) o << "poll error:     " << r.last_poll_error() << "\n";
    std::string counts;
    for (const char* k : {"datasets", "results", "jobs", "containers", "events"}) {
      auto it = r.counts().find(k);
      absl::StrAppend(&counts, counts.empty() ? "" : ", ", k, " ",
                      it == r.counts().end() ? 0 : it->second);
    }
    o << "counts:         " << counts << "\n";
    if (check) o << "integrity:      " << r.integrity() << "\n";
  });
  reply.exit_code = !req.check() || resp->integrity() == "ok" ? 0 : 1;
  return reply;
}

absl::StatusOr<Reply> Sync(CommandContext& ctx) {
  absl::StatusOr<v1::SyncResponse> resp =
      ctx.client().Call(&v1::Control::Stub::Sync, v1::SyncRequest());
  if (!resp.ok()) return resp.status();
  return ProtoReply(*resp, [m = resp->message()](std::ostream& o) { o << m << "\n"; });
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

// Streams: one reply per event, emitted as it arrives.
absl::StatusOr<Reply> Watch(CommandContext& ctx) {
  v1::WatchEventsRequest req;
  req.set_follow(ctx.args.Has("follow"));
  if (ctx.args.Has("after")) {
    absl::StatusOr<int64_t> after = ctx.args.GetInt("after");
    if (!after.ok()) return after.status();
    req.set_after_id(*after);
  }
  if (ctx.args.Has("limit")) {
    absl::StatusOr<int64_t> limit = ctx.args.GetId("limit");
    if (!limit.ok()) return limit.status();
    req.set_limit(static_cast<int32_t>(*limit));
  }
  std::vector<std::string> kinds;
  if (ctx.args.Has("kind")) kinds = absl::StrSplit(ctx.args.Get("kind"), ',', absl::SkipEmpty());
  DaemonClient& client = ctx.client();
  auto context = client.Context(/*streaming=*/true);
  auto reader = client.stub().WatchEvents(context.get(), req);
  v1::Event e;
  while (reader->Read(&e)) {
    if (!KindMatches(e.kind(), kinds)) continue;
    nlohmann::json line = {{"id", e.id()},
                           {"time", e.time()},
                           {"kind", e.kind()},
                           {"message", e.message()},
                           {"fields", ParseJsonOrString(e.json())}};
    ctx.out.Emit({line.dump(), [&e](std::ostream& o) {
                    o << e.time() << "  " << e.kind() << "  " << e.message() << "\n";
                  }});
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) return client.Fail(st);
  return Reply{};
}

}  // namespace

std::vector<Command> DaemonCommands() {
  return {
      {{"status"},
       "Show the daemon's version, state, server and counts",
       {"medperfctl status", "medperfctl status --check"},
       {{"check", {}, false, false, "also verify the state database (PRAGMA integrity_check)"}},
       Status},
      {{"watch"},
       "Show daemon events (new models, jobs, results); --follow keeps streaming",
       {"medperfctl watch --follow --kind job"},
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
       {"medperfctl sync"},
       {},
       Sync},
  };
}

}  // namespace medperf::ctl
