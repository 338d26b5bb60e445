// dataset ls|view|submit|prepare|set_operational|associate (MedPerf data-owner tutorial).
#include "absl/strings/str_cat.h"
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
using Json = nlohmann::json;

namespace {

absl::StatusOr<Reply> DatasetSubmit(CommandContext& ctx) {
  v1::SubmitDatasetRequest req;
  req.set_name(ctx.args.Get("name"));
  req.set_description(ctx.args.Get("description"));
  req.set_location(ctx.args.Get("location"));
  req.set_data_path(AbsolutePath(ctx.args.Get("data_path")));
  req.set_labels_path(AbsolutePath(ctx.args.Get("labels_path")));
  if (ctx.args.Has("benchmark")) {
    absl::StatusOr<int64_t> b = ctx.args.GetId("benchmark");
    if (!b.ok()) return b.status();
    req.set_benchmark(*b);
  }
  if (ctx.args.Has("data_preparation_container")) {
    absl::StatusOr<int64_t> p = ctx.args.GetId("data_preparation_container");
    if (!p.ok()) return p.status();
    req.set_data_preparation_container(*p);
  }
  req.set_dry_run(true);
  absl::StatusOr<Json> preview = RunJob(ctx, &v1::Control::Stub::SubmitDataset, req);
  if (!preview.ok()) return preview.status();
  // Reusing the dataset this user registered before with the same data sends nothing:
  // the preview must not say it will be sent.
  const bool reuse = preview->value("reused", false);
  const std::string reused_id = Cell(preview->value("dataset", Json::object()).value("id", Json()));
  ctx.out.Emit({"", [&p = *preview, reuse, &reused_id](std::ostream& o) {
                  if (reuse) {
                    o << "This data is already registered on the MedPerf server: the existing "
                         "dataset "
                      << reused_id
                      << " will be reused and nothing new is registered. Its server record:\n";
                  } else {
                    o << "The following will be sent to the MedPerf server (the data itself "
                         "never leaves this machine):\n";
                  }
                  PrintKeyValues(o, p.value("dataset", Json::object()), 2);
                  o << "Note: " << p.value("note", "") << "\n";
                }});
  if (!Confirm(ctx, reuse ? absl::StrCat("Track the existing dataset ", reused_id, " here?")
                          : std::string("Submit this dataset?"))) {
    return Declined("Dataset not submitted.");
  }
  req.set_dry_run(false);
  absl::StatusOr<Json> result = RunJob(ctx, &v1::Control::Stub::SubmitDataset, req);
  if (!result.ok()) return result.status();
  return JsonReply(*result, [r = *result](std::ostream& o) mutable {
    if (r.value("reused", false)) {
      o << "Dataset already registered on the server with this data as UID "
        << Cell(r["dataset"]["id"]) << "; it is tracked here again (no twin registered)";
    } else {
      o << "Dataset registered with server UID " << Cell(r["dataset"]["id"]);
    }
    o << ". Next: medperfctl dataset prepare --data_uid " << Cell(r["dataset"]["id"]) << "\n";
  });
}

absl::StatusOr<Reply> DatasetPrepare(CommandContext& ctx) {
  absl::StatusOr<int64_t> id = ctx.args.GetId("data_uid");
  if (!id.ok()) return id.status();
  v1::PrepareDatasetRequest req;
  req.set_dataset(*id);
  return RunJobReply(ctx, &v1::Control::Stub::PrepareDataset, req);
}

}  // namespace

Reply DatasetPrepareReply(const v1::Job& job) {
  Json result = ParseJsonOrString(job.result_json());
  return JsonReply(result, [id = job.dataset(), r = result](std::ostream& o) {
    if (r.value("operational_again", false)) {
      o << "Dataset " << id << " prepared; it is operational again: its prepared data "
        << "matches the server's. Statistics:\n";
      PrintKeyValues(o, r.value("statistics", Json::object()), 2);
      return;
    }
    o << "Dataset " << id << " prepared. Statistics (sent to the server only when "
      << "you run dataset set_operational):\n";
    PrintKeyValues(o, r.value("statistics", Json::object()), 2);
  });
}

namespace {

absl::StatusOr<Reply> DatasetSetOperational(CommandContext& ctx) {
  absl::StatusOr<int64_t> id = ctx.args.GetId("data_uid");
  if (!id.ok()) return id.status();
  v1::SetDatasetOperationalRequest req;
  req.set_dataset(*id);
  req.set_dry_run(true);
  absl::StatusOr<Json> preview = RunJob(ctx, &v1::Control::Stub::SetDatasetOperational, req);
  if (!preview.ok()) return preview.status();
  ctx.out.Emit({"", [&](std::ostream& o) {
                  o << "Dataset " << *id << " will be updated on the server with:\n";
                  PrintKeyValues(o, preview->value("update", Json::object()), 2);
                  o << "Once operational, a dataset can never go back to development.\n";
                }});
  if (!Confirm(ctx, "Mark this dataset as operational?")) return Declined("Dataset not changed.");
  req.set_dry_run(false);
  absl::StatusOr<Json> result = RunJob(ctx, &v1::Control::Stub::SetDatasetOperational, req);
  if (!result.ok()) return result.status();
  return JsonReply(*result,
                   [id = *id](std::ostream& o) { o << "Dataset " << id << " is operational.\n"; });
}

// An association in force (APPROVED or PENDING) leaves nothing to do: one sentence with
// its state and the next step, exit code 0 (a script may run `associate` every time).
Reply AlreadyAssociated(const Json& summary, int64_t dataset, int64_t benchmark) {
  return JsonReply(summary, [summary, dataset, benchmark](std::ostream& o) {
    const Json& a = summary.value("association", Json::object());
    if (a.value("approval_status", "") == "APPROVED") {
      o << "Dataset " << dataset << " is already associated with benchmark " << benchmark
        << " (APPROVED " << Cell(a.value("approved_at", Json())) << "); nothing to do. Next: "
        << "medperfctl benchmark run -b " << benchmark << " -d " << dataset << "\n";
    } else {
      o << "Dataset " << dataset << " has already asked to join benchmark " << benchmark
        << " (PENDING since " << Cell(a.value("created_at", Json()))
        << "); nothing to do until the benchmark owner approves it (medperfctl association ls "
           "shows its state).\n";
    }
  });
}

absl::StatusOr<Reply> DatasetAssociate(CommandContext& ctx) {
  absl::StatusOr<int64_t> dataset = ctx.args.GetId("data_uid");
  if (!dataset.ok()) return dataset.status();
  absl::StatusOr<int64_t> benchmark = ctx.args.GetId("benchmark_uid");
  if (!benchmark.ok()) return benchmark.status();
  v1::AssociateDatasetRequest req;
  req.set_dataset(*dataset);
  req.set_benchmark(*benchmark);
  req.set_no_cache(ctx.args.Has("no_cache"));
  req.set_dry_run(true);
  absl::StatusOr<Json> preview = RunJob(ctx, &v1::Control::Stub::AssociateDataset, req);
  if (!preview.ok()) return preview.status();
  if (preview->value("already_associated", false)) {
    return AlreadyAssociated(*preview, *dataset, *benchmark);
  }
  ctx.out.Emit({"", [&](std::ostream& o) {
                  if (preview->contains("previous")) {
                    o << "The benchmark owner rejected the previous association request of "
                         "this dataset; confirming sends a new one, which they must approve.\n";
                  }
                  o << "Compatibility test of the reference model on your dataset (sent with "
                       "the association request; not part of the benchmark's results):\n";
                  PrintKeyValues(o, preview->value("test_result", Json::object()), 2);
                }});
  if (!Confirm(ctx, absl::StrCat("Request association of dataset ", *dataset, " with benchmark ",
                                 *benchmark, "?"))) {
    return Declined("Association not requested.");
  }
  req.set_dry_run(false);
  absl::StatusOr<Json> result = RunJob(ctx, &v1::Control::Stub::AssociateDataset, req);
  if (!result.ok()) return result.status();
  if (result->value("already_associated", false)) {
    return AlreadyAssociated(*result, *dataset, *benchmark);
  }
  return AssociationRequested(*result);
}

}  // namespace

std::vector<Command> DatasetCommands() {
  return {
      {{"dataset", "ls"},
       "List datasets on the server (--mine: yours, with their local preparation status)",
       {"medperfctl dataset ls --mine"},
       ListFlags(),
       [](CommandContext& c) {
         return ListEntities(c, &v1::Control::Stub::ListDatasets,
                             {{"UID", "id"},
                              {"Name", "name"},
                              {"Data Preparation Container UID", "data_preparation_mlcube"},
                              {"State", "state"},
                              {"Local", "local_status"},
                              {"Owner", "owner"}});
       }},
      {{"dataset", "view"},
       "Show a dataset",
       {"medperfctl dataset view 1"},
       {},
       [](CommandContext& c) { return ViewEntity(c, &v1::Control::Stub::GetDataset, "dataset"); },
       1,
       "<dataset id>"},
      {{"dataset", "submit"},
       "Register a dataset: only its hash and description go to the server",
       {"medperfctl dataset submit --name \"mytestdata\" --description \"A tutorial dataset\" "
        "--location \"My machine\" --data_path \"medperf_tutorial/sample_raw_data/images\" "
        "--labels_path \"medperf_tutorial/sample_raw_data/labels\" --benchmark 1"},
       {{"name", {"n"}, true, true, "a name for the dataset"},
        {"description", {}, true, false, "a short description"},
        {"location", {}, true, false, "where the data comes from, e.g. the hospital"},
        {"data_path", {"d"}, true, true, "folder of the raw data records"},
        {"labels_path", {"l"}, true, true, "folder of the raw labels"},
        {"benchmark", {"b"}, true, false, "benchmark whose preparator will prepare the data"},
        {"data_preparation_container",
         {"p", "data_preparation_mlcube"},
         true,
         false,
         "data preparation container id, instead of --benchmark"}},
       DatasetSubmit},
      {{"dataset", "prepare"},
       "Prepare a registered dataset with its benchmark's data preparator",
       {"medperfctl dataset prepare --data_uid 1"},
       {{"data_uid", {"d"}, true, true, "dataset id"}},
       DatasetPrepare},
      {{"dataset", "set_operational"},
       "Send the prepared data's hash and statistics and mark the dataset operational",
       {"medperfctl dataset set_operational --data_uid 1"},
       {{"data_uid", {"d"}, true, true, "dataset id"}},
       DatasetSetOperational},
      {{"dataset", "associate"},
       "Test the benchmark's reference model on the dataset, then request association",
       {"medperfctl dataset associate --benchmark_uid 1 --data_uid 1"},
       {{"data_uid", {"d"}, true, true, "dataset id"},
        {"benchmark_uid", {"b", "benchmark"}, true, true, "benchmark id"},
        {"no_cache", {}, false, false, "run the compatibility test again"}},
       DatasetAssociate},
  };
}

}  // namespace medperf::ctl
