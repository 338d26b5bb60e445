// The benchmark committee's, model owner's and admin's commands (MedPerf tutorials):
// test run, container/mlcube submit|ls|view, model/mlcube associate,
// benchmark submit|approve|reject, demo pack.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/archive.h"
#include "core/hashing.h"
#include "core/yaml_json.h"
#include "ctl/commands.h"
#include "ctl/render.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

bool IsUrl(const std::string& s) {
  return absl::StrContains(s, "://") || absl::StartsWith(s, "direct:") ||
         absl::StartsWith(s, "synapse:");
}

std::string UrlOrAbsolute(const std::string& s) { return IsUrl(s) ? s : AbsolutePath(s); }

// A whole positive number names a registered entity; anything else is a local path.
std::optional<int64_t> AsId(const std::string& s) {
  int64_t v = 0;
  if (absl::SimpleAtoi(s, &v) && v > 0) return v;
  return std::nullopt;
}

void PrintMetrics(CommandContext& ctx, const Json& metrics) {
  PrintKeyValues(ctx.out.out(), metrics.is_object() ? metrics : Json::object(), 2);
}

// ---------------------------------------------------------------- test run

int TestRun(CommandContext& ctx) {
  const Args& a = ctx.args;
  v1::RunTestRequest req;
  if (a.Has("benchmark")) {
    auto b = a.GetId("benchmark");
    if (!b.ok()) return UsageError(ctx.out, b.status());
    req.set_benchmark(*b);
  }
  if (a.Has("data_preparator")) {
    std::string p = a.Get("data_preparator");
    if (auto id = AsId(p)) {
      req.set_data_preparator_id(*id);
    } else {
      req.set_data_preparator(AbsolutePath(p));
    }
  }
  if (a.Has("model")) {
    std::string m = a.Get("model");
    if (auto id = AsId(m)) {
      req.set_model_id(*id);
    } else {
      req.set_model(AbsolutePath(m));
    }
  }
  if (a.Has("evaluator")) {
    std::string e = a.Get("evaluator");
    if (auto id = AsId(e)) {
      req.set_evaluator_id(*id);
    } else {
      req.set_evaluator(AbsolutePath(e));
    }
  }
  req.set_data_path(AbsolutePath(a.Get("data_path")));
  req.set_labels_path(AbsolutePath(a.Get("labels_path")));
  req.set_demo_url(UrlOrAbsolute(a.Get("demo_dataset_url")));
  req.set_demo_hash(a.Get("demo_dataset_hash"));
  req.set_no_cache(a.Has("no_cache"));
  req.set_skip_demo_data_preparation(a.Has("skip_demo_data_preparation"));
  DaemonClient client(ctx.global);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::RunTest, req, &result)) return rc;
  if (ctx.global.json) {
    ctx.out.out() << result.dump(2) << "\n";
    return 0;
  }
  auto& o = ctx.out.out();
  o << "Compatibility test passed" << (result.value("from_cache", false) ? " (cached report)" : "")
    << ". Results:\n";
  PrintMetrics(ctx, result.value("results", Json::object()));
  o << "Prepared data hash: " << result.value("prepared_data_hash", "") << "\n";
  if (!result.value("demo_dataset_hash", "").empty()) {
    o << "Demo dataset hash:  " << result.value("demo_dataset_hash", "") << "\n";
  }
  o << "Logs: " << result.value("logs", "") << "\n"
    << "Report: " << result.value("test_dir", "") << "/test_report.json\n";
  return 0;
}

// ---------------------------------------------------------------- containers

int ContainerSubmit(CommandContext& ctx) {
  const Args& a = ctx.args;
  if (a.Has("container_config_file") == a.Has("mlcube_file")) {
    return UsageError(ctx.out, absl::InvalidArgumentError(
                                   "give exactly one of --container-config-file or the legacy "
                                   "--mlcube-file"));
  }
  v1::SubmitContainerRequest req;
  req.set_name(a.Get("name"));
  req.set_legacy_mlcube(a.Has("mlcube_file"));
  req.set_container_config_file(
      UrlOrAbsolute(a.Has("mlcube_file") ? a.Get("mlcube_file") : a.Get("container_config_file")));
  req.set_parameters_file(UrlOrAbsolute(a.Get("parameters_file")));
  req.set_additional_file(UrlOrAbsolute(a.Get("additional_file")));
  req.set_additional_hash(a.Get("additional_hash"));
  req.set_image_file(UrlOrAbsolute(a.Get("image_file")));
  req.set_image_hash(a.Get("image_hash"));
  req.set_operational(a.Has("operational"));
  DaemonClient client(ctx.global);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::SubmitContainer, req, &result)) {
    return rc;
  }
  if (ctx.global.json) {
    ctx.out.out() << result.dump(2) << "\n";
    return 0;
  }
  const Json& c = result["container"];
  auto& o = ctx.out.out();
  o << "Container '" << c.value("name", "") << "' registered with server UID "
    << Cell(c.value("id", Json())) << " (" << c.value("state", "") << ")";
  if (result.contains("model")) o << "; it is model " << Cell(result["model"].value("id", Json()));
  o << "\n  image hash: " << c.value("image_hash", "") << "\n";
  if (!c.value("additional_files_tarball_hash", "").empty()) {
    o << "  additional files hash: " << c.value("additional_files_tarball_hash", "") << "\n";
  }
  return 0;
}

int ListContainers(CommandContext& ctx) {
  DaemonClient client(ctx.global);
  v1::ListRequest req;
  req.set_mine(ctx.args.Has("mine"));
  for (const char* filter : {"name", "owner", "state"}) {
    if (ctx.args.Has(filter)) (*req.mutable_filters())[filter] = ctx.args.Get(filter);
  }
  v1::EntityList resp;
  grpc::Status st = client.stub().ListContainers(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    Json out = Json::array();
    for (const auto& e : resp.items()) out.push_back(ParseJsonOrString(e.json()));
    ctx.out.out() << out.dump(2) << "\n";
    return 0;
  }
  Table t({"UID", "Name", "State", "Model", "Owner"});
  for (const auto& e : resp.items()) {
    Json j = ParseJsonOrString(e.json());
    bool model = j.is_object() && j.contains("container_config") &&
                 j["container_config"].is_object() && j["container_config"].contains("tasks") &&
                 j["container_config"]["tasks"].is_object() &&
                 j["container_config"]["tasks"].contains("infer");
    t.AddRow({std::to_string(e.id()), e.name(), e.state(), model ? "yes" : "",
              std::to_string(e.owner())});
  }
  t.Print(ctx.out.out());
  return 0;
}

int ViewContainer(CommandContext& ctx) {
  if (ctx.args.positional().empty()) {
    return UsageError(ctx.out, absl::InvalidArgumentError("missing <container id>"));
  }
  Args tmp;
  tmp.values_["container id"] = ctx.args.positional()[0];
  auto id = tmp.GetId("container id");
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::GetRequest req;
  req.set_id(*id);
  v1::Entity resp;
  grpc::Status st = client.stub().GetContainer(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  Json j = ParseJsonOrString(resp.json());
  if (ctx.global.json) {
    ctx.out.out() << j.dump(2) << "\n";
  } else {
    PrintKeyValues(ctx.out.out(), j);
  }
  return 0;
}

// ---------------------------------------------------------------- model associate

int ModelAssociate(CommandContext& ctx, bool ids_are_containers) {
  auto benchmark = ctx.args.GetId("benchmark");
  if (!benchmark.ok()) return UsageError(ctx.out, benchmark.status());
  auto model = ctx.args.GetId("model_uid");
  if (!model.ok()) return UsageError(ctx.out, model.status());
  DaemonClient client(ctx.global);
  v1::AssociateModelRequest req;
  req.set_benchmark(*benchmark);
  req.set_model(*model);
  req.set_model_is_container(ids_are_containers);
  req.set_no_cache(ctx.args.Has("no_cache"));
  req.set_dry_run(true);
  Json preview;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::AssociateModel, req, &preview)) {
    return rc;
  }
  if (!ctx.global.json) {
    auto& o = ctx.out.out();
    o << "Compatibility test of model " << Cell(preview["model"]) << " with benchmark "
      << *benchmark << " (" << preview.value("benchmark_name", "")
      << "), sent with the association request:\n";
    PrintMetrics(ctx, preview.value("test_result", Json::object()));
    const Json test = preview.value("test", Json::object());
    if (test.contains("logs")) o << "Logs: " << Cell(test["logs"]) << "\n";
  }
  if (!Confirm(ctx, absl::StrCat("Request association of model ", Cell(preview["model"]),
                                 " with benchmark ", *benchmark, "?"))) {
    ctx.out.err() << "Association not requested.\n";
    return 1;
  }
  // The confirmed request reuses the report the preview just stored.
  req.set_dry_run(false);
  req.set_no_cache(false);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::AssociateModel, req, &result)) {
    return rc;
  }
  return PrintAssociationRequested(ctx, result);
}

// ---------------------------------------------------------------- benchmarks

int BenchmarkSubmit(CommandContext& ctx) {
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
    auto id = a.GetId(flag);
    if (!id.ok()) return UsageError(ctx.out, id.status());
    (req.*setter)(*id);
  }
  if (a.Has("reference_model") == a.Has("reference_model_container")) {
    return UsageError(ctx.out, absl::InvalidArgumentError(
                                   "give exactly one of --reference-model-container (a container "
                                   "id) or --reference-model (a model id)"));
  }
  if (!a.Has("data_preparation_container") || !a.Has("evaluator_container")) {
    return UsageError(ctx.out, absl::InvalidArgumentError(
                                   "--data-preparation-container and --evaluator-container are "
                                   "required"));
  }
  req.set_operational(a.Has("operational"));
  req.set_skip_compatibility_test(a.Has("skip_compatibility_tests"));
  req.set_skip_demo_data_preparation(a.Has("skip_demo_data_preparation"));
  DaemonClient client(ctx.global);
  Json result;
  if (int rc = StreamCall(ctx, client, &v1::Control::Stub::SubmitBenchmark, req, &result)) {
    return rc;
  }
  if (ctx.global.json) {
    ctx.out.out() << result.dump(2) << "\n";
    return 0;
  }
  const Json& b = result["benchmark"];
  auto& o = ctx.out.out();
  o << "Benchmark '" << b.value("name", "") << "' submitted with server UID "
    << Cell(b.value("id", Json())) << "; approval status " << b.value("approval_status", "")
    << ".\nCompatibility test results (attached to the benchmark):\n";
  PrintMetrics(ctx, result.value("results", Json::object()));
  if (b.value("approval_status", "") == "PENDING") {
    o << "The benchmark stays inactive until a MedPerf admin approves it:\n"
      << "  medperfctl --token-file <admin token file> benchmark approve --benchmark "
      << Cell(b.value("id", Json())) << "\n";
  }
  return 0;
}

int BenchmarkDecide(CommandContext& ctx, bool approve) {
  auto id = ctx.args.GetId("benchmark");
  if (!id.ok()) return UsageError(ctx.out, id.status());
  DaemonClient client(ctx.global);
  v1::SetBenchmarkApprovalRequest req;
  req.set_benchmark(*id);
  req.set_approve(approve);
  v1::Entity resp;
  grpc::Status st = client.stub().SetBenchmarkApproval(client.Context().get(), req, &resp);
  if (!st.ok()) return client.Fail(ctx.out, st);
  if (ctx.global.json) {
    ctx.out.out() << ParseJsonOrString(resp.json()).dump(2) << "\n";
  } else {
    ctx.out.out() << "Benchmark " << *id << " (" << resp.name() << "): " << resp.approval_status()
                  << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------- demo pack

// A path given for the demo data, as a path inside `folder` ("demo_data/images").
absl::StatusOr<fs::path> InsideFolder(const fs::path& folder, const std::string& given,
                                      const char* flag) {
  std::error_code ec;
  fs::path p(given);
  if (p.is_relative()) {
    // paths.yaml paths are relative to the folder; a path relative to the current
    // directory is accepted too when it does not exist inside the folder.
    p = fs::exists(folder / p, ec) ? folder / p : fs::absolute(p, ec);
  }
  p = p.lexically_normal();
  if (!fs::is_directory(p, ec)) {
    return absl::NotFoundError(absl::StrCat("--", flag, " '", given, "' is not a directory"));
  }
  fs::path rel = fs::weakly_canonical(p, ec).lexically_relative(fs::weakly_canonical(folder, ec));
  if (rel.empty() || rel == "." || *rel.begin() == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " '", given, "' must be a folder inside ", folder.string()));
  }
  return rel;
}

int DemoPack(CommandContext& ctx) {
  if (ctx.args.positional().empty()) {
    return UsageError(ctx.out, absl::InvalidArgumentError("missing <folder>"));
  }
  std::error_code ec;
  fs::path folder = fs::absolute(ctx.args.positional()[0], ec).lexically_normal();
  if (!fs::is_directory(folder, ec)) {
    ctx.out.err() << "medperfctl: " << folder.string() << " is not a directory\n";
    return 1;
  }
  auto data = InsideFolder(folder, ctx.args.Get("data_path"), "data_path");
  if (!data.ok()) return UsageError(ctx.out, data.status());
  auto labels = InsideFolder(folder, ctx.args.Get("labels_path"), "labels_path");
  if (!labels.ok()) return UsageError(ctx.out, labels.status());
  fs::path output = ctx.args.Has("output") ? fs::absolute(ctx.args.Get("output"), ec)
                                           : folder / "demo_data.tar.gz";
  output = output.lexically_normal();
  // The tarball holds the top folders of the data and labels plus paths.yaml, like the
  // tutorial's `tar -czf demo_data.tar.gz demo_data paths.yaml`.
  std::set<std::string> entries = {data->begin()->string(), labels->begin()->string()};
  for (const std::string& e : entries) {
    fs::path rel = output.lexically_relative(folder / e);
    if (!rel.empty() && *rel.begin() != "..") {
      return UsageError(
          ctx.out, absl::InvalidArgumentError(absl::StrCat(
                       "the output ", output.string(), " would be inside the packed folder ", e)));
    }
  }
  Json paths = {{"data_path", data->generic_string()}, {"labels_path", labels->generic_string()}};
  {
    fs::path file = folder / "paths.yaml";
    std::ofstream out(file, std::ios::trunc);
    out << JsonToYaml(paths);
    if (!out) {
      ctx.out.err() << "medperfctl: cannot write " << file.string() << "\n";
      return 1;
    }
  }
  std::vector<std::string> list(entries.begin(), entries.end());
  list.push_back("paths.yaml");
  if (absl::Status st = CreateTarGz(folder, list, output); !st.ok()) {
    ctx.out.err() << "medperfctl: " << st.message() << "\n";
    return 1;
  }
  absl::StatusOr<std::string> hash = Sha256File(output);
  if (!hash.ok()) {
    ctx.out.err() << "medperfctl: " << hash.status().message() << "\n";
    return 1;
  }
  if (ctx.global.json) {
    ctx.out.out() << Json{{"path", output.string()}, {"hash", *hash}, {"paths", paths}}.dump(2)
                  << "\n";
  } else {
    ctx.out.out() << "Demo dataset: " << output.string() << "\n"
                  << "  paths.yaml: data_path: " << paths["data_path"].get<std::string>()
                  << ", labels_path: " << paths["labels_path"].get<std::string>() << "\n"
                  << "  hash (sha256): " << *hash << "\n"
                  << "Host it and pass its URL to `benchmark submit --demo-url` (and the hash "
                     "to --demo-hash to pin it).\n";
  }
  return 0;
}

// ---------------------------------------------------------------- tables

const std::vector<FlagSpec> kContainerListFlags = {
    {"mine", {}, false, false, "only your own"},
    {"name", {"n"}, true, false, "exact name"},
    {"owner", {}, true, false, "owner's user id"},
    {"state", {}, true, false, "DEVELOPMENT or OPERATION"}};

const std::vector<FlagSpec> kContainerSubmitFlags = {
    {"name", {"n"}, true, true, "a unique name for the container"},
    {"container_config_file", {"m"}, true, false, "URL (or local path) of container_config.yaml"},
    {"mlcube_file", {}, true, false, "legacy: URL (or local path) of mlcube.yaml"},
    {"parameters_file", {"p"}, true, false, "URL (or local path) of parameters.yaml"},
    {"additional_file", {"a"}, true, false, "URL of the additional files tarball (e.g. weights)"},
    {"additional_hash", {}, true, false, "expected SHA-256 of the additional files"},
    {"image_file",
     {"i"},
     true,
     false,
     "URL or path of the image file (DockerArchive / SingularityFile)"},
    {"image_hash", {}, true, false, "expected image hash"},
    {"operational", {}, false, false, "register it in OPERATION state"}};

const std::vector<FlagSpec> kAssociateFlags = {
    {"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
    {"model_uid", {"m"}, true, true, "model id"},
    {"no_cache", {}, false, false, "run the compatibility test again"}};

}  // namespace

std::vector<Command> CommitteeCommands() {
  std::vector<Command> out = {
      {{"test", "run"},
       "Compatibility test: demo data → data preparator → model → evaluator, printing the "
       "metrics",
       {{"benchmark", {"b"}, true, false, "benchmark id: its demo data, preparator, evaluator"},
        {"data_preparator",
         {"p", "data_preparation"},
         true,
         false,
         "local container_config.yaml / mlcube.yaml / folder, or a container id"},
        {"model", {"m"}, true, false, "local config / folder, or a model id"},
        {"evaluator", {"e"}, true, false, "local config / folder, or a container id"},
        {"data_path", {}, true, false, "folder of raw data records"},
        {"labels_path", {}, true, false, "folder of raw labels"},
        {"demo_dataset_url", {"demo_url"}, true, false, "demo dataset tarball URL or path"},
        {"demo_dataset_hash", {"demo_hash"}, true, false, "its expected SHA-256"},
        {"skip_demo_data_preparation", {}, false, false, "the demo data is already prepared"},
        {"no_cache", {}, false, false, "run again even if an identical test passed before"}},
       TestRun},
      {{"benchmark", "submit"},
       "Test the benchmark's containers on the demo dataset, then submit the benchmark",
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
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"}},
       [](CommandContext& c) { return BenchmarkDecide(c, true); }},
      {{"benchmark", "reject"},
       "Admin: reject a benchmark",
       {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"}},
       [](CommandContext& c) { return BenchmarkDecide(c, false); }},
      {{"model", "associate"},
       "Test a registered model with a benchmark, then request association",
       kAssociateFlags,
       [](CommandContext& c) { return ModelAssociate(c, false); }},
      {{"demo", "pack"},
       "Pack a demo dataset: writes paths.yaml and demo_data.tar.gz, prints its hash",
       {{"data_path", {}, true, true, "folder of the data records, inside <folder>"},
        {"labels_path", {}, true, true, "folder of the labels, inside <folder>"},
        {"output", {"o"}, true, false, "tarball to write (default <folder>/demo_data.tar.gz)"}},
       DemoPack,
       1,
       "<folder>"},
  };
  // `mlcube` is the tutorials' word for `container`.
  for (const char* group : {"container", "mlcube"}) {
    out.push_back({{group, "submit"},
                   "Register a container: files are downloaded and hashed, then sent",
                   kContainerSubmitFlags,
                   ContainerSubmit});
    out.push_back(
        {{group, "ls"}, "List containers on the server", kContainerListFlags, ListContainers});
    out.push_back({{group, "view"}, "Show a container", {}, ViewContainer, 1, "<container id>"});
  }
  out.push_back({{"mlcube", "associate"},
                 "Test a registered model container with a benchmark, then request association "
                 "(--model_uid is the container id, as in the tutorials)",
                 kAssociateFlags,
                 [](CommandContext& c) { return ModelAssociate(c, true); }});
  return out;
}

}  // namespace medperf::ctl
