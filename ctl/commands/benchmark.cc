// benchmark ls|view|run (data owner), submit (benchmark committee), approve|reject (admin).
#include "absl/strings/str_split.h"
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
using Json = nlohmann::json;

namespace {

absl::StatusOr<Reply> BenchmarkRun(CommandContext& ctx) {
  absl::StatusOr<int64_t> benchmark = ctx.args.GetId("benchmark");
  if (!benchmark.ok()) return benchmark.status();
  absl::StatusOr<int64_t> dataset = ctx.args.GetId("data_uid");
  if (!dataset.ok()) return dataset.status();
  v1::RunBenchmarkRequest req;
  req.set_benchmark(*benchmark);
  req.set_dataset(*dataset);
  req.set_ignore_model_errors(ctx.args.Has("ignore_model_errors"));
  req.set_no_cache(ctx.args.Has("no_cache"));
  if (ctx.args.Has("models")) {
    for (absl::string_view m : absl::StrSplit(ctx.args.Get("models"), ',', absl::SkipEmpty())) {
      absl::StatusOr<int64_t> id = ParseId(std::string(m), "--models");
      if (!id.ok()) return id.status();
      req.add_models(*id);
    }
  }
  return RunJobReply(ctx, &v1::Control::Stub::RunBenchmark, req);
}

}  // namespace

Reply BenchmarkRunReply(const v1::Job& job) {
  Json summary = ParseJsonOrString(job.result_json());
  Reply reply = JsonReply(summary, [s = summary](std::ostream& o) mutable {
    Table t({"model", "local result UID", "partial result", "from cache", "error"});
    for (const auto& row : s["rows"]) {
      t.AddRow({Cell(row["model"]), Cell(row["local_result_uid"]), Bool(row["partial_result"]),
                Bool(row["from_cache"]), Cell(row["error"])});
    }
    t.Print(o);
    o << "Total number of models: " << s.value("total", 0) << "\n"
      << "\t" << s.value("skipped", 0) << " were skipped (already executed), of which "
      << s.value("skipped_partial", 0) << " have partial results\n"
      << "\t" << s.value("failed", 0) << " failed\n"
      << "\t" << s.value("ran", 0) << " ran successfully, of which " << s.value("ran_partial", 0)
      << " have partial results\n";
    // The table shows an error's first line only: the whole of each cut one follows.
    for (const auto& row : s["rows"]) {
      const std::string error = Cell(row["error"]);
      if (OneLineCell(error) != error) {
        o << "model " << Cell(row["model"]) << " (" << Cell(row["local_result_uid"])
          << "): " << error << "\n";
      }
    }
  });
  // Scripts and schedulers need to notice a failed model without parsing the table.
  reply.exit_code = summary.value("failed", 0) > 0 ? 1 : 0;
  return reply;
}

namespace {

absl::StatusOr<Reply> BenchmarkSubmit(CommandContext& ctx) {
  const Args& a = ctx.args;
  v1::SubmitBenchmarkRequest req;
  req.set_name(a.Get("name"));
  req.set_description(a.Get("description"));
  req.set_docs_url(a.Get("docs_url"));
  req.set_demo_url(UrlOrAbsolute(a.Get("demo_url")));
  req.set_demo_hash(a.Get("demo_hash"));
  for (auto [flag, setter] :
       {std::pair<const char*, void (v1::SubmitBenchmarkRequest::*)(int64_t)>{
            "data_preparation_container",
            &v1::SubmitBenchmarkRequest::set_data_preparation_container},
        {"reference_model_container", &v1::SubmitBenchmarkRequest::set_reference_model_container},
        {"reference_model", &v1::SubmitBenchmarkRequest::set_reference_model},
        {"evaluator_container", &v1::SubmitBenchmarkRequest::set_evaluator_container}}) {
    if (!a.Has(flag)) continue;
    absl::StatusOr<int64_t> id = a.GetId(flag);
    if (!id.ok()) return id.status();
    (req.*setter)(*id);
  }
  if (a.Has("reference_model") == a.Has("reference_model_container")) {
    return UsageError(
        "give exactly one of --reference-model-container (a container id) or --reference-model "
        "(a model id)");
  }
  if (!a.Has("data_preparation_container") || !a.Has("evaluator_container")) {
    return UsageError("--data-preparation-container and --evaluator-container are required");
  }
  req.set_operational(a.Has("operational"));
  req.set_skip_compatibility_test(a.Has("skip_compatibility_tests"));
  req.set_skip_demo_data_preparation(a.Has("skip_demo_data_preparation"));
  absl::StatusOr<Json> result = RunJob(ctx, &v1::Control::Stub::SubmitBenchmark, req);
  if (!result.ok()) return result.status();
  return JsonReply(*result, [r = *result](std::ostream& o) mutable {
    Json& b = r["benchmark"];
    if (r.value("reused", false)) {
      o << "Benchmark '" << b.value("name", "")
        << "' with these containers already exists on the server as UID "
        << Cell(b.value("id", Json())) << "; not submitted again. Approval status "
        << b.value("approval_status", "")
        << ".\nCompatibility test results attached to it when it was submitted:\n";
    } else {
      o << "Benchmark '" << b.value("name", "") << "' submitted with server UID "
        << Cell(b.value("id", Json())) << "; approval status " << b.value("approval_status", "")
        << ".\nCompatibility test results (attached to the benchmark):\n";
    }
    PrintMetrics(o, r.value("results", Json::object()));
    if (b.value("approval_status", "") == "PENDING") {
      o << "The benchmark stays inactive until a MedPerf admin approves it:\n"
        << "  medperfctl --token-file <admin token file> benchmark approve --benchmark "
        << Cell(b.value("id", Json())) << "\n";
    }
  });
}

absl::StatusOr<Reply> BenchmarkDecide(CommandContext& ctx, bool approve) {
  absl::StatusOr<int64_t> id = ctx.args.GetId("benchmark");
  if (!id.ok()) return id.status();
  v1::SetBenchmarkApprovalRequest req;
  req.set_benchmark(*id);
  req.set_approve(approve);
  absl::StatusOr<v1::Entity> resp =
      ctx.client().Call(&v1::Control::Stub::SetBenchmarkApproval, req);
  if (!resp.ok()) return resp.status();
  return JsonReply(ParseJsonOrString(resp->json()), [id = *id, e = *resp](std::ostream& o) {
    o << "Benchmark " << id << " (" << e.name() << "): " << e.approval_status() << "\n";
  });
}

}  // namespace

std::vector<Command> BenchmarkCommands() {
  return {
      {{"benchmark", "ls"},
       "List benchmarks on the server",
       {"medperfctl benchmark ls", "medperfctl benchmark ls --mine"},
       ListFlags(),
       [](CommandContext& c) {
         return ListEntities(c, &v1::Control::Stub::ListBenchmarks,
                             {{"UID", "id"},
                              {"Name", "name"},
                              {"Description", "description"},
                              {"Data Preparation Container", "data_preparation_mlcube"},
                              {"Reference Model", "reference_model"},
                              {"State", "state"},
                              {"Approval Status", "approval_status"}});
       }},
      {{"benchmark", "view"},
       "Show a benchmark",
       {"medperfctl benchmark view 1"},
       {},
       [](CommandContext& c) {
         return ViewEntity(c, &v1::Control::Stub::GetBenchmark, "benchmark");
       },
       1,
       "<benchmark id>"},
      {{"benchmark", "run"},
       "Run every approved model of a benchmark on a prepared, operational dataset",
       {"medperfctl benchmark run --benchmark 1 --data_uid 1"},
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
        {"data_uid", {"d", "dataset"}, true, true, "dataset id"},
        {"models", {"m"}, true, false, "only these model ids, comma-separated"},
        {"ignore_model_errors", {}, false, false, "evaluate partial predictions of failing models"},
        {"no_cache", {}, false, false, "run again even where a local result exists"}},
       BenchmarkRun},
      {{"benchmark", "submit"},
       "Test the benchmark's containers on the demo dataset, then submit the benchmark",
       {"medperfctl benchmark submit --name tutorial_bmk --description \"MedPerf demo bmk\" "
        "--demo-url "
        "\"https://storage.googleapis.com/medperf-storage/chestxray_tutorial/demo_data.tar.gz\" "
        "--data-preparation-container 1 --reference-model-container 2 --evaluator-container 3 "
        "--operational"},
       {{"name", {"n"}, true, true, "a unique name"},
        {"description", {"d"}, true, true, "a short description"},
        {"docs_url", {"u"}, true, false, "documentation URL"},
        {"demo_url", {}, true, false, "URL of the demo dataset tarball (demo_data.tar.gz)"},
        {"demo_hash", {}, true, false, "its expected SHA-256 (computed when left out)"},
        {"data_preparation_container",
         {"p", "data_preparation_mlcube"},
         true,
         false,
         "data preparator container id"},
        {"reference_model_container",
         {"reference_model_mlcube"},
         true,
         false,
         "reference model container id"},
        {"reference_model", {}, true, false, "reference model id (instead of the container)"},
        {"evaluator_container", {"e", "evaluator_mlcube"}, true, false, "metrics container id"},
        {"operational", {}, false, false, "submit in OPERATION state"},
        {"skip_demo_data_preparation", {}, false, false, "the demo data is already prepared"},
        {"skip_compatibility_tests",
         {},
         false,
         false,
         "submit without testing (participants then skip their tests too)"}},
       BenchmarkSubmit},
      {{"benchmark", "approve"},
       "Admin: approve a pending benchmark",
       {"medperfctl benchmark approve --benchmark 1"},
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"}},
       [](CommandContext& c) { return BenchmarkDecide(c, true); }},
      {{"benchmark", "reject"},
       "Admin: reject a benchmark",
       {"medperfctl benchmark reject --benchmark 1"},
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"}},
       [](CommandContext& c) { return BenchmarkDecide(c, false); }},
  };
}

}  // namespace medperf::ctl
