// association ls|approve|reject|set_priority: requests linking a dataset or model to a
// benchmark (requesting one is `dataset associate` / `model associate`).
#include "absl/strings/str_cat.h"
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
using Json = nlohmann::json;

namespace {

absl::StatusOr<Reply> AssociationList(CommandContext& ctx) {
  v1::ListAssociationsRequest req;
  if (ctx.args.Has("benchmark")) {
    absl::StatusOr<int64_t> b = ctx.args.GetId("benchmark");
    if (!b.ok()) return b.status();
    req.set_benchmark(*b);
  }
  req.set_datasets(ctx.args.Has("datasets"));
  req.set_models(ctx.args.Has("models"));
  if (ctx.args.Has("pending")) req.set_approval_status("PENDING");
  if (ctx.args.Has("approval_status")) req.set_approval_status(ctx.args.Get("approval_status"));
  absl::StatusOr<v1::AssociationList> list =
      ctx.client().Call(&v1::Control::Stub::ListAssociations, req);
  if (!list.ok()) return list.status();
  Json json = Json::array();
  Table t({"Kind", "Entity UID", "Benchmark UID", "Initiated by", "Status", "Priority"});
  for (const auto& a : list->items()) {
    Json j = ParseJsonOrString(a.json());
    j["kind"] = a.kind();
    json.push_back(j);
    t.AddRow({a.kind(), std::to_string(a.entity()), std::to_string(a.benchmark()),
              std::to_string(a.initiated_by()), a.approval_status(),
              a.kind() == "model" ? std::to_string(a.priority()) : ""});
  }
  return TableReply(json.dump(2), std::move(t));
}

absl::StatusOr<Reply> AssociationDecide(CommandContext& ctx, bool approve) {
  absl::StatusOr<int64_t> benchmark = ctx.args.GetId("benchmark");
  if (!benchmark.ok()) return benchmark.status();
  v1::SetAssociationApprovalRequest req;
  req.set_benchmark(*benchmark);
  req.set_approve(approve);
  if (ctx.args.Has("dataset_uid") == ctx.args.Has("model_uid")) {
    return UsageError("give exactly one of --dataset_uid or --model_uid");
  }
  if (ctx.args.Has("dataset_uid")) {
    absl::StatusOr<int64_t> d = ctx.args.GetId("dataset_uid");
    if (!d.ok()) return d.status();
    req.set_dataset(*d);
  } else {
    absl::StatusOr<int64_t> m = ctx.args.GetId("model_uid");
    if (!m.ok()) return m.status();
    req.set_model(*m);
  }
  absl::StatusOr<v1::Association> resp =
      ctx.client().Call(&v1::Control::Stub::SetAssociationApproval, req);
  if (!resp.ok()) return resp.status();
  return ProtoReply(*resp, [req, status = resp->approval_status()](std::ostream& o) {
    o << "Association of " << (req.dataset() ? "dataset " : "model ")
      << (req.dataset() ? req.dataset() : req.model()) << " with benchmark " << req.benchmark()
      << ": " << status << "\n";
  });
}

absl::StatusOr<Reply> AssociationPriority(CommandContext& ctx) {
  absl::StatusOr<int64_t> benchmark = ctx.args.GetId("benchmark");
  absl::StatusOr<int64_t> model = ctx.args.GetId("model_uid");
  absl::StatusOr<int64_t> priority = ctx.args.GetInt("priority");
  for (const auto* s : {&benchmark, &model, &priority}) {
    if (!s->ok()) return s->status();
  }
  v1::SetAssociationPriorityRequest req;
  req.set_benchmark(*benchmark);
  req.set_model(*model);
  req.set_priority(static_cast<int32_t>(*priority));
  absl::StatusOr<v1::Association> resp =
      ctx.client().Call(&v1::Control::Stub::SetAssociationPriority, req);
  if (!resp.ok()) return resp.status();
  return ProtoReply(
      *resp, [text = absl::StrCat("Priority of model ", *model, " in benchmark ", *benchmark,
                                  " set to ", *priority)](std::ostream& o) { o << text << "\n"; });
}

}  // namespace

std::vector<Command> AssociationCommands() {
  return {
      {{"association", "ls"},
       "List your association requests (latest per pair)",
       {"medperfctl association ls"},
       {{"benchmark", {"b"}, true, false, "only this benchmark"},
        {"datasets", {"d"}, false, false, "only dataset associations"},
        {"models", {"m"}, false, false, "only model associations"},
        {"pending", {}, false, false, "only pending requests"},
        {"approval_status", {}, true, false, "pending, approved or rejected"}},
       AssociationList},
      {{"association", "approve"},
       "Approve an association request (as the party that did not initiate it)",
       {"medperfctl association approve --benchmark 1 --model_uid 4",
        "medperfctl association approve --benchmark 1 --dataset_uid 1"},
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
        {"dataset_uid", {"d"}, true, false, "dataset id"},
        {"model_uid", {"m"}, true, false, "model id"}},
       [](CommandContext& c) { return AssociationDecide(c, true); }},
      {{"association", "reject"},
       "Reject an association request",
       {"medperfctl association reject --benchmark 1 --model_uid 4"},
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
        {"dataset_uid", {"d"}, true, false, "dataset id"},
        {"model_uid", {"m"}, true, false, "model id"}},
       [](CommandContext& c) { return AssociationDecide(c, false); }},
      {{"association", "set_priority"},
       "Set a model's priority in a benchmark (benchmark owner)",
       {"medperfctl association set_priority --benchmark 1 --model_uid 4 --priority 2"},
       {{"benchmark", {"b"}, true, true, "benchmark id"},
        {"model_uid", {"m"}, true, true, "model id"},
        {"priority", {"p"}, true, true, "an integer; higher runs first"}},
       AssociationPriority},
  };
}

}  // namespace medperf::ctl
