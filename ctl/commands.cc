#include "ctl/commands.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"
#include "ctl/progress.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
using Json = nlohmann::json;

const std::vector<Command>& AllCommands() {
  // Built on first use (not a static initialiser): `medperfctl --version` never pays.
  static const auto* commands = [] {
    auto* all = new std::vector<Command>();
    for (auto group :
         {DaemonCommands, JobCommands, BenchmarkCommands, DatasetCommands, AssociationCommands,
          ResultCommands, TestCommands, ContainerCommands, StorageCommands, HelpCommands}) {
      auto cmds = group();
      all->insert(all->end(), cmds.begin(), cmds.end());
    }
    return all;
  }();
  return *commands;
}

namespace {

// Live lines only where a person watches: stderr itself (not a stream a test or a
// caller gave) on a terminal that can redraw.
bool ErrIsTerminal(CommandContext& ctx) {
  if (&ctx.out.err() != &std::cerr || !isatty(STDERR_FILENO)) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::string_view(term) != "dumb";
}

int TerminalWidth() {
  struct winsize ws {};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 100;
}

}  // namespace

absl::StatusOr<v1::Job> FollowJob(CommandContext& ctx,
                                  grpc::ClientReaderInterface<v1::JobProgress>& reader) {
  v1::JobProgress p;
  bool announced = false;
  std::optional<v1::Job> final;
  ProgressView view(ctx.out.err(), ErrIsTerminal(ctx), ctx.global.follow_logs, TerminalWidth());
  while (reader.Read(&p)) {
    if (!announced) {
      ctx.out.err() << "job " << p.job_id() << " started (if interrupted, it goes on: "
                    << "medperfctl job watch " << p.job_id() << ")\n";
      announced = true;
    }
    if (p.final()) {
      final = p.job();
      continue;
    }
    view.Show(p);
  }
  view.Finish();
  grpc::Status st = reader.Finish();
  if (!st.ok()) return ctx.client().Fail(st);
  if (!final) return absl::UnknownError("the job stream ended without an outcome");
  if (final->state() != v1::DONE) {
    std::string why = absl::StrCat("job ", final->id(), " ",
                                   final->state() == v1::CANCELLED ? "was cancelled" : "failed",
                                   ": ", final->error());
    if (!final->log_path().empty()) absl::StrAppend(&why, "\njob log: ", final->log_path());
    // A classified failure's error is already the one sentence; its raw detail waits in
    // result_json for --verbose.
    Json detail = ParseJsonOrString(final->result_json());
    if (detail.is_object() && detail.contains("error_detail") &&
        detail["error_detail"].is_string()) {
      return WithRawDetail(absl::UnknownError(why), detail["error_detail"].get<std::string>());
    }
    return absl::UnknownError(why);
  }
  return *final;
}

Reply JobReply(const v1::Job& job) {
  static const auto* by_kind = new std::map<std::string, Reply (*)(const v1::Job&)>{
      {"benchmark-run", BenchmarkRunReply},
      {"prepare", DatasetPrepareReply},
      {"test", TestRunReply},
  };
  auto it = by_kind->find(job.kind());
  if (it != by_kind->end()) return it->second(job);
  // Scripts re-attaching to such a job read its result JSON, in both modes.
  return TextReply(ParseJsonOrString(job.result_json()).dump(2) + "\n");
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

Reply AssociationRequested(const Json& result) {
  return JsonReply(result, [result](std::ostream& o) mutable {
    o << "Association requested: status " << Cell(result["association"]["approval_status"]);
    if (result.contains("previous")) o << " (the previous request had been rejected)";
    o << ". Check it with: medperfctl association ls\n";
  });
}

bool IsUrl(const std::string& s) {
  return absl::StrContains(s, "://") || absl::StartsWith(s, "direct:") ||
         absl::StartsWith(s, "synapse:");
}

std::string UrlOrAbsolute(const std::string& s) { return IsUrl(s) ? s : AbsolutePath(s); }

void PrintMetrics(std::ostream& out, const Json& metrics) {
  PrintKeyValues(out, metrics.is_object() ? metrics : Json::object(), 2);
}

bool Confirm(CommandContext& ctx, const std::string& question) {
  if (ctx.global.yes) return true;
  ctx.out.err() << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(ctx.in, answer)) {
    ctx.out.err() << "\nno answer (pass -y to confirm non-interactively)\n";
    return false;
  }
  answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
  return answer == "y" || answer == "yes";
}

v1::ListRequest ListFilters(const Args& args) {
  v1::ListRequest req;
  req.set_mine(args.Has("mine"));
  for (const char* filter : {"name", "owner", "state"}) {
    if (args.Has(filter)) (*req.mutable_filters())[filter] = args.Get(filter);
  }
  return req;
}

absl::StatusOr<Reply> ListEntities(CommandContext& ctx, ListRpc rpc,
                                   const std::vector<Column>& columns) {
  absl::StatusOr<v1::EntityList> list = ctx.client().Call(rpc, ListFilters(ctx.args));
  if (!list.ok()) return list.status();
  Json json = Json::array();
  std::vector<std::string> headers;
  for (const auto& [h, f] : columns) headers.push_back(h);
  Table t(headers);
  for (const auto& e : list->items()) {
    Json j = ParseJsonOrString(e.json());
    // The site's own state of the entity (e.g. a dataset "prepared") belongs in --json too.
    if (!e.local_status().empty() && j.is_object()) j["local_status"] = e.local_status();
    json.push_back(j);
    std::vector<std::string> row;
    for (const auto& [h, f] : columns) {
      if (f == "local_status") {
        row.push_back(e.local_status());
      } else {
        row.push_back(j.contains(f) ? Cell(j[f]) : "");
      }
    }
    t.AddRow(row);
  }
  return TableReply(json.dump(2), std::move(t));
}

absl::StatusOr<Reply> ViewEntity(CommandContext& ctx, GetRpc rpc, const std::string& what) {
  absl::StatusOr<int64_t> id = ctx.args.PositionalId(0, what + " id");
  if (!id.ok()) return id.status();
  v1::GetRequest req;
  req.set_id(*id);
  absl::StatusOr<v1::Entity> e = ctx.client().Call(rpc, req);
  if (!e.ok()) return e.status();
  Json j = ParseJsonOrString(e->json());
  if (!e->local_status().empty()) j["local_status"] = e->local_status();
  return KeyValueReply(j);
}

std::vector<FlagSpec> ListFlags() {
  return {{"mine", {}, false, false, "only your own"},
          {"name", {}, true, false, "exact name"},
          {"owner", {}, true, false, "owner's user id"},
          {"state", {}, true, false, "DEVELOPMENT or OPERATION"}};
}

}  // namespace medperf::ctl
