#include "daemon/flows/submit_container.h"

#include <filesystem>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"
#include "runners/container_config.h"

namespace medperf::daemon::flows {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// The real server's unique set for containers (mlcommons/medperf
// server/mlcube/models.py, MlCube.Meta.unique_together), compared as it compares them:
// exact hash strings, JSON values by content.
// A NaN or infinity in a config reaches the server as "nan"/"Infinity" (SanitizeJson, as
// the client sends it) and comes back so; compared in that form, a config holding one
// equals its registered copy (and NaN, which equals nothing, equals itself).
bool SameJson(const Json& a, const Json& b) { return SanitizeJson(a) == SanitizeJson(b); }

bool SameIdentity(const Container& a, const Container& b) {
  return a.image_hash == b.image_hash &&
         a.additional_files_tarball_hash == b.additional_files_tarball_hash &&
         SameJson(a.container_config, b.container_config) &&
         SameJson(a.parameters_config, b.parameters_config);
}

// The unique-set fields in which `there` (on the server) differs from `here`, for
// messages: "image_hash (sha256:a there, sha256:b here), container_config".
std::string Differences(const Container& there, const Container& here) {
  std::vector<std::string> out;
  auto hash = [&](const char* field, const std::string& a, const std::string& b) {
    if (a != b) {
      out.push_back(absl::StrCat(field, " (", a.empty() ? "none" : a, " there, ",
                                 b.empty() ? "none" : b, " here)"));
    }
  };
  hash("image_hash", there.image_hash, here.image_hash);
  hash("additional_files_tarball_hash", there.additional_files_tarball_hash,
       here.additional_files_tarball_hash);
  if (!SameJson(there.container_config, here.container_config)) {
    out.push_back("container_config");
  }
  if (!SameJson(there.parameters_config, here.parameters_config)) {
    out.push_back("parameters_config");
  }
  return absl::StrJoin(out, ", ");
}

// The server's 400 for `c`, reworded to name the field and the container already there:
// a taken name (the real server keeps container names unique) or, since the caller's
// own containers were checked first, another user's container with the same unique set.
absl::Status ExplainRefusal(const MedPerfApi& server, const Container& c,
                            const std::vector<Container>& mine, const absl::Status& refused) {
  if (!absl::IsInvalidArgument(refused)) return refused;
  const std::string message(refused.message());
  if (absl::StrContains(message, "with this name already exists")) {
    std::optional<Container> namesake;
    bool own = false;
    for (const Container& m : mine) {
      if (m.name == c.name) {
        namesake = m;
        own = true;
      }
    }
    if (!namesake) {
      // Best effort: the refusal stands even if the lookup fails.
      auto named = server.ListContainers({{"name", c.name}});
      for (const Container& n : named.ok() ? *named : std::vector<Container>{}) {
        if (n.name == c.name) namesake = n;  // not trusting the server's filter
      }
    }
    if (namesake) {
      std::string diff = Differences(*namesake, c);
      return absl::InvalidArgumentError(absl::StrCat(
          "field 'name': container name '", c.name,
          "' is already taken on the server by container ", namesake->id.value(),
          own ? " (yours)" : absl::StrCat(" (owned by user ", namesake->owner.value(), ")"),
          diff.empty() ? "" : absl::StrCat(", which differs in ", diff),
          "; not registered: choose another --name (server: ", message, ")"));
    }
  }
  if (absl::StrContains(message, "must make a unique set")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "another user's container on the server has the same image_hash, "
        "additional_files_tarball_hash, container_config and parameters_config; not registered "
        "(server: ",
        message, ")"));
  }
  return refused;
}

}  // namespace

absl::Status CheckSubmitContainer(const SubmitContainerInput& in) {
  if (in.name.empty()) return absl::InvalidArgumentError("--name is required");
  if (in.container_config_file.empty()) {
    return absl::InvalidArgumentError(
        "--container-config-file (or the legacy --mlcube-file) is required");
  }
  for (const std::string* p :
       {&in.container_config_file, &in.parameters_file, &in.additional_file, &in.image_file}) {
    if (!p->empty() && !IsAssetUrl(*p) && fs::path(*p).is_relative()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", *p, "' must be a URL or an absolute path"));
    }
  }
  if (!in.additional_hash.empty() && !IsSha256Hex(ComparableSha256(in.additional_hash))) {
    return absl::InvalidArgumentError("--additional-hash must be a SHA-256 hex digest");
  }
  return absl::OkStatus();
}

storage::JobRecord SubmitContainerJob(const SubmitContainerInput& in) {
  return InteractiveJob("submit-container", {{"name", in.name}});
}

// A legacy mlcube.yaml as a container_config the current flows can run (docs/committee.md):
// same image, tasks, volumes and MLCube-style command line. A parameter whose default lies
// in the workspace's additional_files/ (e.g. `weights: additional_files/w.pth`) becomes
// a path inside the `additional_files` volume, which is how the current form ships them.
absl::StatusOr<Json> LegacyToContainerConfig(const std::string& text, const std::string& source) {
  // A sentinel workspace, so that defaults under additional_files/ can be recognized.
  const fs::path workspace = "/.mlcube-workspace";
  ASSIGN_OR_RETURN(ContainerConfig legacy, ParseLegacyMlcube(text, source, workspace));
  const fs::path additional = workspace / "additional_files";
  const std::string af_mount = "/mlcube_io/inputs/additional_files";
  Json tasks = Json::object();
  for (const auto& [name, task] : legacy.tasks) {
    std::vector<std::string> command = task.command;
    Json inputs = Json::object();
    Json outputs = Json::object();
    for (const Volume& v : task.input_volumes) {
      fs::path rel = v.default_host_path.lexically_relative(additional);
      bool in_additional =
          !v.default_host_path.empty() && !rel.empty() && *rel.begin() != ".." && rel != ".";
      if (in_additional && v.name != "additional_files") {
        std::string old_arg = absl::StrCat("--", v.name, "=", v.mount_path);
        for (std::string& arg : command) {
          if (arg == old_arg) arg = absl::StrCat("--", v.name, "=", af_mount, "/", rel.string());
        }
        inputs["additional_files"] = {{"mount_path", af_mount}, {"type", "directory"}};
        continue;
      }
      inputs[v.name] = {{"mount_path", v.mount_path},
                        {"type", std::string(VolumeTypeName(v.type))}};
    }
    for (const Volume& v : task.output_volumes) {
      outputs[v.name] = {{"mount_path", v.mount_path},
                         {"type", std::string(VolumeTypeName(v.type))}};
    }
    Json run_args = {{"command", command}};
    if (!task.gpus.empty()) run_args["gpus"] = task.gpus;
    tasks[name] = {{"run_args", run_args}, {"input_volumes", inputs}, {"output_volumes", outputs}};
  }
  Json config = {{"container_type", std::string(ContainerTypeName(legacy.type))},
                 {"image", legacy.image},
                 {"tasks", tasks}};
  // The result must be a valid current-form config.
  RETURN_IF_ERROR(ParseContainerConfig(config.dump(), source + " (converted)").status());
  return config;
}

absl::StatusOr<SubmitContainerResult> SubmitContainer(FlowContext& ctx,
                                                      const SubmitContainerInput& r) {
  Site& site = ctx.site;
  JobContext& job = ctx.job;
  Container c;
  c.name = r.name;
  c.state = r.operational ? EntityState::kOperation : EntityState::kDevelopment;
  std::string config_what = r.legacy_mlcube ? "mlcube file" : "container config file";
  job.Progress("fetch", absl::StrCat("fetching the ", config_what, " ", r.container_config_file));
  ASSIGN_OR_RETURN(Asset config_asset, site.assets().Fetch(config_what, r.container_config_file));
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(config_asset.path, config_what, 1 << 20));
  bool legacy = r.legacy_mlcube || LooksLikeLegacyMlcube(text);
  if (legacy) {
    ASSIGN_OR_RETURN(c.container_config, LegacyToContainerConfig(text, r.container_config_file));
    c.metadata = {{"mlcube_file_url", r.container_config_file},
                  {"mlcube_file_hash", config_asset.sha256},
                  {"converted_from_mlcube_yaml", true}};
  } else {
    RETURN_IF_ERROR(ParseContainerConfig(text, r.container_config_file).status());
    ASSIGN_OR_RETURN(c.container_config, YamlToJson(text, r.container_config_file));
  }
  ASSIGN_OR_RETURN(ContainerConfig config,
                   ParseContainerConfig(c.container_config.dump(), r.container_config_file));

  if (!r.parameters_file.empty()) {
    job.Progress("fetch", absl::StrCat("fetching the parameters file ", r.parameters_file));
    ASSIGN_OR_RETURN(Asset params, site.assets().Fetch("parameters file", r.parameters_file));
    ASSIGN_OR_RETURN(std::string ptext,
                     ReadFileBounded(params.path, "the parameters file", 1 << 20));
    ASSIGN_OR_RETURN(c.parameters_config, YamlToJson(ptext, r.parameters_file));
    // An empty parameters file is {} for the real client too.
    if (c.parameters_config.is_null()) c.parameters_config = Json::object();
    if (!c.parameters_config.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameters file ", r.parameters_file, " must hold a YAML mapping"));
    }
  }

  if (!r.additional_file.empty()) {
    std::string url = r.additional_file;
    if (!IsAssetUrl(url)) {
      job.Progress("fetch", absl::StrCat("note: ", url,
                                         " is a local path; other sites cannot "
                                         "download it (host it and pass its URL)"));
      url = absl::StrCat("file://", url);
    }
    job.Progress("fetch", absl::StrCat("fetching and checking the additional files ", url));
    // Extracting proves the tarball is usable before anyone else depends on it.
    ASSIGN_OR_RETURN(fs::path extracted,
                     site.assets().FetchExtracted("additional files", url, r.additional_hash));
    c.additional_files_tarball_url = url;
    c.additional_files_tarball_hash = extracted.filename().string();
  }

  LocalContainer local;
  local.name = c.name;
  local.config = config;
  if (config.type == ContainerType::kDockerArchive ||
      config.type == ContainerType::kSingularityFile) {
    // What is registered is what every site fetches and hashes: the --image-file URL
    // when given (it replaces the config's `image`), and never a relative path.
    std::string image = r.image_file.empty() ? config.image : r.image_file;
    if (!IsAssetUrl(image)) {
      fs::path path(image);
      if (path.is_relative()) {
        if (IsAssetUrl(r.container_config_file)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "the container config ", r.container_config_file, " names its image as '", image,
              "', a relative path no site can fetch; put the image's URL in `image` or pass "
              "--image-file <URL>"));
        }
        path = fs::path(r.container_config_file).parent_path() / path;
      }
      image = absl::StrCat("file://", path.lexically_normal().string());
      job.Progress("fetch", absl::StrCat("note: the image ", image,
                                         " is a local file; other sites cannot download it "
                                         "(host it and pass its URL with --image-file)"));
    }
    c.container_config["image"] = image;
    config.image = image;
    local.config.image = image;
    job.Progress("fetch", absl::StrCat("fetching the image ", image));
    ASSIGN_OR_RETURN(Asset asset, site.assets().Fetch("image", image, r.image_hash));
    local.image_file = asset.path;
  } else if (!r.image_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--image-file is only for DockerArchive and SingularityFile containers; this one is ",
        std::string(ContainerTypeName(config.type))));
  }
  absl::StatusOr<std::string> image_hash = [&]() -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::unique_ptr<Runner> runner, site.RunnerFor(local));
    return runner->ImageHash(config, local.image_file);
  }();
  if (image_hash.ok()) {
    if (!r.image_hash.empty() && ComparableSha256(r.image_hash) != ComparableSha256(*image_hash)) {
      return absl::FailedPreconditionError(absl::StrCat("image hash mismatch: --image-hash is ",
                                                        r.image_hash, " but the image hashes to ",
                                                        *image_hash));
    }
    c.image_hash = *image_hash;
  } else if (!r.image_hash.empty()) {
    job.Progress("hash", absl::StrCat("cannot hash the image here (", image_hash.status().message(),
                                      "); registering the given --image-hash"));
    c.image_hash = r.image_hash;
  } else {
    return absl::Status(
        image_hash.status().code(),
        absl::StrCat("cannot compute the image hash: ", image_hash.status().message(),
                     " (pass --image-hash to register a known hash)"));
  }

  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  SubmitContainerResult out;
  // The same container registered before by this user (a repeated command, a lost
  // terminal, a second machine): that one is the answer, not a POST the server refuses.
  job.Progress("submit", "looking for this container among yours (GET /me/mlcubes/)");
  ASSIGN_OR_RETURN(std::vector<Container> mine, server->ListMyContainers());
  const Container* twin = nullptr;
  for (const Container& m : mine) {
    if (SameIdentity(m, c) && (!twin || m.id.value() < twin->id.value())) twin = &m;
  }
  if (twin) {
    out.container = *twin;
    out.reused = true;
    if (config.IsModelContainer()) {
      absl::StatusOr<Model> model = server->GetContainerModel(twin->id);
      if (model.ok()) {
        out.model = *model;
      } else if (!absl::IsNotFound(model.status())) {
        return model.status();
      }
    }
    std::string text = absl::StrCat(
        "container '", c.name, "' with these hashes already exists on the server as id ",
        twin->id.value(), twin->name == c.name ? "" : absl::StrCat(" (named '", twin->name, "')"),
        "; not registered again");
    job.Progress("submit", text);
    site.events()
        .Publish("container.reused", text, {{"container", twin->id.value()}})
        .IgnoreError();
    return out;
  }
  if (config.IsModelContainer()) {
    // Like the real client: a container with an `infer` task is registered as a Model.
    Model m;
    m.name = c.name;
    m.type = ModelType::kContainer;
    m.state = c.state;
    m.container = c;
    job.Progress("submit", "registering the model container (POST /models/)");
    absl::StatusOr<Model> registered = server->CreateModel(m);
    if (!registered.ok()) return ExplainRefusal(*server, c, mine, registered.status());
    Model created = *std::move(registered);
    if (!created.container) {
      return absl::DataLossError("the server's answer to POST /models/ has no container");
    }
    out.container = *created.container;
    out.model = created;
  } else {
    job.Progress("submit", "registering the container (POST /mlcubes/)");
    absl::StatusOr<Container> created = server->CreateContainer(c);
    if (!created.ok()) return ExplainRefusal(*server, c, mine, created.status());
    out.container = *std::move(created);
  }
  site.events()
      .Publish("container.submitted",
               absl::StrCat("container ", out.container.id.value(), " (", c.name,
                            ") registered on the server"),
               {{"container", out.container.id.value()}})
      .IgnoreError();
  return out;
}

nlohmann::json SummaryJson(const SubmitContainerResult& result) {
  Json out = {{"container", ToFullJson(result.container)}, {"reused", result.reused}};
  if (result.model) out["model"] = ToFullJson(*result.model);
  return out;
}

}  // namespace medperf::daemon::flows
