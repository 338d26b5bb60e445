// test run (the compatibility test) and demo pack (the demo dataset a benchmark's test
// runs on): the benchmark committee's preparation steps.
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/archive.h"
#include "core/hashing.h"
#include "core/yaml_json.h"
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// A whole positive number names a registered entity; anything else is a local path.
std::optional<int64_t> AsId(const std::string& s) {
  int64_t v = 0;
  if (absl::SimpleAtoi(s, &v) && v > 0) return v;
  return std::nullopt;
}

absl::StatusOr<Reply> TestRun(CommandContext& ctx) {
  const Args& a = ctx.args;
  v1::RunTestRequest req;
  if (a.Has("benchmark")) {
    absl::StatusOr<int64_t> b = a.GetId("benchmark");
    if (!b.ok()) return b.status();
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
  return RunJobReply(ctx, &v1::Control::Stub::RunTest, req);
}

}  // namespace

Reply TestRunReply(const v1::Job& job) {
  Json result = ParseJsonOrString(job.result_json());
  return JsonReply(result, [r = result](std::ostream& o) {
    o << "Compatibility test passed" << (r.value("from_cache", false) ? " (cached report)" : "")
      << ". Results:\n";
    PrintMetrics(o, r.value("results", Json::object()));
    o << "Prepared data hash: " << r.value("prepared_data_hash", "") << "\n";
    if (!r.value("demo_dataset_hash", "").empty()) {
      o << "Demo dataset hash:  " << r.value("demo_dataset_hash", "") << "\n";
    }
    o << "Logs: " << r.value("logs", "") << "\n"
      << "Report: " << r.value("test_dir", "") << "/test_report.json\n";
  });
}

namespace {

// A path given for the demo data, as a path inside `folder` ("demo_data/images").
// InvalidArgumentError (a usage error) naming `flag` when it is not a folder inside.
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
    return UsageError(absl::StrCat("--", flag, " '", given, "' is not a directory"));
  }
  fs::path rel = fs::weakly_canonical(p, ec).lexically_relative(fs::weakly_canonical(folder, ec));
  if (rel.empty() || rel == "." || *rel.begin() == "..") {
    return UsageError(
        absl::StrCat("--", flag, " '", given, "' must be a folder inside ", folder.string()));
  }
  return rel;
}

absl::StatusOr<Reply> DemoPack(CommandContext& ctx) {
  if (ctx.args.positional().empty()) return UsageError("missing <folder>");
  std::error_code ec;
  fs::path folder = fs::absolute(ctx.args.positional()[0], ec).lexically_normal();
  if (!fs::is_directory(folder, ec)) {
    return absl::NotFoundError(absl::StrCat(folder.string(), " is not a directory"));
  }
  absl::StatusOr<fs::path> data = InsideFolder(folder, ctx.args.Get("data_path"), "data_path");
  if (!data.ok()) return data.status();
  absl::StatusOr<fs::path> labels =
      InsideFolder(folder, ctx.args.Get("labels_path"), "labels_path");
  if (!labels.ok()) return labels.status();
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
          absl::StrCat("the output ", output.string(), " would be inside the packed folder ", e));
    }
  }
  Json paths = {{"data_path", data->generic_string()}, {"labels_path", labels->generic_string()}};
  {
    fs::path file = folder / "paths.yaml";
    std::ofstream out(file, std::ios::trunc);
    out << JsonToYaml(paths);
    if (!out) return absl::UnknownError(absl::StrCat("cannot write ", file.string()));
  }
  std::vector<std::string> list(entries.begin(), entries.end());
  list.push_back("paths.yaml");
  if (absl::Status st = CreateTarGz(folder, list, output); !st.ok()) return Failed(st);
  absl::StatusOr<std::string> hash = Sha256File(output);
  if (!hash.ok()) return Failed(hash.status());
  return JsonReply(Json{{"path", output.string()}, {"hash", *hash}, {"paths", paths}},
                   [output, paths, hash = *hash](std::ostream& o) {
                     o << "Demo dataset: " << output.string() << "\n"
                       << "  paths.yaml: data_path: " << paths["data_path"].get<std::string>()
                       << ", labels_path: " << paths["labels_path"].get<std::string>() << "\n"
                       << "  hash (sha256): " << hash << "\n"
                       << "Host it and pass its URL to `benchmark submit --demo-url` (and the hash "
                          "to --demo-hash to pin it).\n";
                   });
}

}  // namespace

std::vector<Command> TestCommands() {
  return {
      {{"test", "run"},
       "Compatibility test: demo data → data preparator → model → evaluator, printing the "
       "metrics",
       {"medperfctl test run --data_preparator "
        "\"medperf_tutorial/data_preparator/container_config.yaml\" --model "
        "\"medperf_tutorial/model_custom_cnn/container_config.yaml\" --evaluator "
        "\"medperf_tutorial/metrics/container_config.yaml\" --data_path "
        "\"medperf_tutorial/demo_data/images\" --labels_path "
        "\"medperf_tutorial/demo_data/labels\""},
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
      {{"demo", "pack"},
       "Pack a demo dataset: writes paths.yaml and demo_data.tar.gz, prints its hash",
       {"medperfctl demo pack medperf_tutorial/demo --data_path demo_data/images --labels_path "
        "demo_data/labels"},
       {{"data_path", {}, true, true, "folder of the data records, inside <folder>"},
        {"labels_path", {}, true, true, "folder of the labels, inside <folder>"},
        {"output", {"o"}, true, false, "tarball to write (default <folder>/demo_data.tar.gz)"}},
       DemoPack,
       1,
       "<folder>"},
  };
}

}  // namespace medperf::ctl
