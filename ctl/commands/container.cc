// container submit|ls|view (`mlcube` is the tutorials' word for `container`), and
// model|mlcube associate: the model owner's request to join a benchmark.
#include "absl/strings/str_cat.h"
#include "ctl/commands.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;
using Json = nlohmann::json;

namespace {

absl::StatusOr<Reply> ContainerSubmit(CommandContext& ctx) {
  const Args& a = ctx.args;
  if (a.Has("container_config_file") == a.Has("mlcube_file")) {
    return UsageError("give exactly one of --container-config-file or the legacy --mlcube-file");
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
  absl::StatusOr<Json> result = RunJob(ctx, &v1::Control::Stub::SubmitContainer, req);
  if (!result.ok()) return result.status();
  return JsonReply(*result, [r = *result](std::ostream& o) mutable {
    const Json& c = r["container"];
    if (r.value("reused", false)) {
      // The same unique set was registered before by this user; its name may differ.
      o << "Container '" << c.value("name", "")
        << "' with these hashes already exists on the server as UID " << Cell(c.value("id", Json()))
        << " (" << c.value("state", "") << "); not registered again";
    } else {
      o << "Container '" << c.value("name", "") << "' registered with server UID "
        << Cell(c.value("id", Json())) << " (" << c.value("state", "") << ")";
    }
    if (r.contains("model")) o << "; it is model " << Cell(r["model"].value("id", Json()));
    o << "\n  image hash: " << c.value("image_hash", "") << "\n";
    if (!c.value("additional_files_tarball_hash", "").empty()) {
      o << "  additional files hash: " << c.value("additional_files_tarball_hash", "") << "\n";
    }
  });
}

// Whether a container's config has an `infer` task, i.e. the container is a model.
bool IsModel(const Json& j) {
  return j.is_object() && j.contains("container_config") && j["container_config"].is_object() &&
         j["container_config"].contains("tasks") && j["container_config"]["tasks"].is_object() &&
         j["container_config"]["tasks"].contains("infer");
}

absl::StatusOr<Reply> ListContainers(CommandContext& ctx) {
  absl::StatusOr<v1::EntityList> list =
      ctx.client().Call(&v1::Control::Stub::ListContainers, ListFilters(ctx.args));
  if (!list.ok()) return list.status();
  Json json = Json::array();
  Table t({"UID", "Name", "State", "Model", "Owner"});
  for (const auto& e : list->items()) {
    Json j = ParseJsonOrString(e.json());
    json.push_back(j);
    t.AddRow({std::to_string(e.id()), e.name(), e.state(), IsModel(j) ? "yes" : "",
              std::to_string(e.owner())});
  }
  return TableReply(json.dump(2), std::move(t));
}

absl::StatusOr<Reply> ModelAssociate(CommandContext& ctx, bool ids_are_containers) {
  absl::StatusOr<int64_t> benchmark = ctx.args.GetId("benchmark");
  if (!benchmark.ok()) return benchmark.status();
  absl::StatusOr<int64_t> model = ctx.args.GetId("model_uid");
  if (!model.ok()) return model.status();
  v1::AssociateModelRequest req;
  req.set_benchmark(*benchmark);
  req.set_model(*model);
  req.set_model_is_container(ids_are_containers);
  req.set_no_cache(ctx.args.Has("no_cache"));
  req.set_dry_run(true);
  absl::StatusOr<Json> preview = RunJob(ctx, &v1::Control::Stub::AssociateModel, req);
  if (!preview.ok()) return preview.status();
  ctx.out.Emit({"", [&](std::ostream& o) {
                  Json& p = *preview;
                  o << "Compatibility test of model " << Cell(p["model"]) << " with benchmark "
                    << *benchmark << " (" << p.value("benchmark_name", "")
                    << "), sent with the association request:\n";
                  PrintMetrics(o, p.value("test_result", Json::object()));
                  const Json test = p.value("test", Json::object());
                  if (test.contains("logs")) o << "Logs: " << Cell(test["logs"]) << "\n";
                }});
  if (!Confirm(ctx, absl::StrCat("Request association of model ", Cell((*preview)["model"]),
                                 " with benchmark ", *benchmark, "?"))) {
    return Declined("Association not requested.");
  }
  // The confirmed request reuses the report the preview just stored.
  req.set_dry_run(false);
  req.set_no_cache(false);
  absl::StatusOr<Json> result = RunJob(ctx, &v1::Control::Stub::AssociateModel, req);
  if (!result.ok()) return result.status();
  return AssociationRequested(*result);
}

std::vector<FlagSpec> AssociateFlags() {
  return {{"benchmark", {"b", "benchmark_uid"}, true, true, "benchmark id"},
          {"model_uid", {"m"}, true, true, "model id"},
          {"no_cache", {}, false, false, "run the compatibility test again"}};
}

}  // namespace

// Where the MedPerf chest X-ray tutorial's containers are (the examples' URLs).
constexpr char kTutorial[] =
    "https://raw.githubusercontent.com/mlcommons/medperf/main/examples/chestxray_tutorial/";

std::vector<Command> ContainerCommands() {
  const std::vector<FlagSpec> list_flags = {{"mine", {}, false, false, "only your own"},
                                            {"name", {"n"}, true, false, "exact name"},
                                            {"owner", {}, true, false, "owner's user id"},
                                            {"state", {}, true, false, "DEVELOPMENT or OPERATION"}};
  const std::vector<FlagSpec> submit_flags = {
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
  std::vector<Command> out = {{{"model", "associate"},
                               "Test a registered model with a benchmark, then request association",
                               {"medperfctl model associate --benchmark 1 --model_uid 4"},
                               AssociateFlags(),
                               [](CommandContext& c) { return ModelAssociate(c, false); }}};
  for (const char* group : {"container", "mlcube"}) {
    out.push_back(
        {{group, "submit"},
         "Register a container: files are downloaded and hashed, then sent",
         {absl::StrCat("medperfctl ", group, " submit --name my-prep --container-config-file \"",
                       kTutorial, "data_preparator/container_config.yaml\" --parameters-file \"",
                       kTutorial, "data_preparator/workspace/parameters.yaml\" --operational")},
         submit_flags,
         ContainerSubmit});
    out.push_back({{group, "ls"},
                   "List containers on the server",
                   {absl::StrCat("medperfctl ", group, " ls --mine")},
                   list_flags,
                   ListContainers});
    out.push_back({{group, "view"},
                   "Show a container",
                   {absl::StrCat("medperfctl ", group, " view 1")},
                   {},
                   [](CommandContext& c) {
                     return ViewEntity(c, &v1::Control::Stub::GetContainer, "container");
                   },
                   1,
                   "<container id>"});
  }
  out.push_back({{"mlcube", "associate"},
                 "Test a registered model container with a benchmark, then request association "
                 "(--model_uid is the container id, as in the tutorials)",
                 {"medperfctl mlcube associate --benchmark 1 --model_uid 4"},
                 AssociateFlags(),
                 [](CommandContext& c) { return ModelAssociate(c, true); }});
  return out;
}

}  // namespace medperf::ctl
