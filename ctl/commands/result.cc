// result ls|view|submit: local benchmark results and their submission to the server
// (where MedPerf calls them executions).
#include "absl/strings/str_cat.h"
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
using Json = nlohmann::json;

namespace {

// A result as shown. What does not exist is left out rather than shown as 0 or empty:
// the server execution id of a result never created on the server, the error of one
// that did not fail, the logs of one adopted from the server.
Json ResultJson(const v1::Result& r) {
  Json j = {{"uid", r.uid()},
            {"benchmark", r.benchmark()},
            {"model", r.model()},
            {"dataset", r.dataset()},
            {"partial", r.partial()},
            {"results", ParseJsonOrString(r.metrics_json())},
            {"submitted", r.submitted()},
            {"created_at", r.created_at()}};
  // A result adopted from the server (not run here) has no local logs.
  if (!r.log_dir().empty()) j["logs"] = r.log_dir();
  if (r.server_id() != 0) j["execution_id"] = r.server_id();
  if (!r.error().empty()) j["error"] = r.error();
  return j;
}

absl::StatusOr<Reply> ResultList(CommandContext& ctx) {
  v1::ListResultsRequest req;
  for (auto [flag, setter] : {std::pair<const char*, void (v1::ListResultsRequest::*)(int64_t)>{
                                  "benchmark", &v1::ListResultsRequest::set_benchmark},
                              {"model", &v1::ListResultsRequest::set_model},
                              {"dataset", &v1::ListResultsRequest::set_dataset}}) {
    if (!ctx.args.Has(flag)) continue;
    absl::StatusOr<int64_t> v = ctx.args.GetId(flag);
    if (!v.ok()) return v.status();
    (req.*setter)(*v);
  }
  absl::StatusOr<v1::ResultList> list = ctx.client().Call(&v1::Control::Stub::ListResults, req);
  if (!list.ok()) return list.status();
  Json json = Json::array();
  Table t({"UID", "Benchmark", "Model", "Dataset", "Partial", "Submitted", "Error"});
  for (const auto& r : list->items()) {
    json.push_back(ResultJson(r));
    t.AddRow({r.uid(), std::to_string(r.benchmark()), std::to_string(r.model()),
              std::to_string(r.dataset()), Bool(r.partial()), Bool(r.submitted()), r.error()});
  }
  return TableReply(json.dump(2), std::move(t));
}

// The result uid: --result, or the first positional argument.
absl::StatusOr<std::string> ResultUid(const Args& args) {
  std::string uid = args.Has("result")          ? args.Get("result")
                    : args.positional().empty() ? ""
                                                : args.positional()[0];
  if (uid.empty()) return UsageError("missing result uid, e.g. b1m4d1");
  return uid;
}

absl::StatusOr<Reply> ResultView(CommandContext& ctx) {
  absl::StatusOr<std::string> uid = ResultUid(ctx.args);
  if (!uid.ok()) return uid.status();
  v1::GetResultRequest req;
  req.set_uid(*uid);
  absl::StatusOr<v1::Result> result = ctx.client().Call(&v1::Control::Stub::GetResult, req);
  if (!result.ok()) return result.status();
  return KeyValueReply(ResultJson(*result));
}

absl::StatusOr<Reply> ResultSubmit(CommandContext& ctx) {
  absl::StatusOr<std::string> uid = ResultUid(ctx.args);
  if (!uid.ok()) return uid.status();
  v1::SubmitResultRequest req;
  req.set_uid(*uid);
  req.set_dry_run(true);
  absl::StatusOr<v1::Result> preview = ctx.client().Call(&v1::Control::Stub::SubmitResult, req);
  if (!preview.ok()) return preview.status();
  ctx.out.Emit({"", [&](std::ostream& o) {
                  o << "These results will be sent to the MedPerf server:\n";
                  PrintKeyValues(o, ParseJsonOrString(preview->metrics_json()), 2);
                  o << "  partial: " << Bool(preview->partial()) << "\n";
                }});
  if (!Confirm(ctx, absl::StrCat("Submit result ", *uid, "?"))) {
    return Declined("Result not submitted.");
  }
  req.set_dry_run(false);
  absl::StatusOr<v1::Result> result = ctx.client().Call(&v1::Control::Stub::SubmitResult, req);
  if (!result.ok()) return result.status();
  return JsonReply(ResultJson(*result), [uid = *uid, id = result->server_id()](std::ostream& o) {
    o << "Result " << uid << " submitted (server execution " << id << ").\n";
  });
}

}  // namespace

std::vector<Command> ResultCommands() {
  return {
      {{"result", "ls"},
       "List local results",
       {"medperfctl result ls --benchmark 1"},
       {{"benchmark", {"b"}, true, false, "only this benchmark"},
        {"model", {"m"}, true, false, "only this model"},
        {"dataset", {"d"}, true, false, "only this dataset"}},
       ResultList},
      {{"result", "view"},
       "Show a local result",
       {"medperfctl result view b1m4d1"},
       {},
       ResultView,
       1,
       "<result uid, e.g. b1m4d1>"},
      {{"result", "submit"},
       "Send a local result's metrics to the server",
       {"medperfctl result submit --result b1m4d1"},
       {{"result", {"r"}, true, false, "result uid, e.g. b1m4d1"}},
       ResultSubmit,
       1,
       "[<result uid>]"},
  };
}

}  // namespace medperf::ctl
