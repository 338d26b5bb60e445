// Over 600 lines on purpose: both MedPerf container formats (container_config.yaml and
// the legacy mlcube.yaml + parameters.yaml) are read, validated and normalised here into
// one ContainerConfig, and the per-field checks share helpers that splitting would
// scatter across files read only together.
#include "runners/container_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/absl_view.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"

namespace medperf {
namespace fs = std::filesystem;

std::string_view ContainerTypeName(ContainerType type) {
  switch (type) {
    case ContainerType::kDockerImage:
      return "DockerImage";
    case ContainerType::kDockerArchive:
      return "DockerArchive";
    case ContainerType::kSingularityFile:
      return "SingularityFile";
    case ContainerType::kLocalProcess:
      return "LocalProcess";
  }
  return "?";
}

std::string_view VolumeTypeName(VolumeType type) {
  return type == VolumeType::kFile ? "file" : "directory";
}

const Volume* TaskSpec::FindVolume(std::string_view volume_name) const {
  for (const auto* list : {&input_volumes, &output_volumes}) {
    for (const auto& v : *list) {
      if (v.name == volume_name) return &v;
    }
  }
  return nullptr;
}

const TaskSpec* ContainerConfig::FindTask(std::string_view task) const {
  auto it = tasks.find(std::string(task));
  return it == tasks.end() ? nullptr : &it->second;
}

namespace {

// Mount root of the legacy mlcube.yaml mapping (docs/runners.md).
constexpr char kLegacyMountRoot[] = "/mlcube_io";

class Parser {
 public:
  Parser(std::string_view source, const ParseOptions& options)
      : source_(source), options_(options) {}

  absl::Status Error(std::string_view path, std::string_view what) const {
    if (path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(AV(source_), ": ", AV(what)));
    }
    return absl::InvalidArgumentError(absl::StrCat(AV(source_), ": ", AV(path), ": ", AV(what)));
  }

  static std::string Join(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(AV(path), ".", AV(key));
  }

  static std::string Kind(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "a mapping";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Null:
        return "nothing (null)";
      case YAML::NodeType::Scalar:
        return absl::StrCat("'", Clip(node.Scalar()), "'");
      default:
        return "an undefined value";
    }
  }

  static std::string Clip(const std::string& s) {
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
  }

  // The one bounded reader (core/yaml_json.h): size, depth and node count with aliases
  // expanded, the same as for task outputs and server documents. Its errors already name
  // the source; they are INVALID_ARGUMENT here, as documented for this parser.
  absl::StatusOr<YAML::Node> Load(std::string_view text) const {
    absl::StatusOr<YAML::Node> root = LoadYamlBounded(text, source_, Limits(options_));
    if (!root.ok()) {
      std::string message(root.status().message());
      // "<source>: invalid YAML: ..." reads better here as "not valid YAML/JSON".
      const std::string prefix = source_ + ": invalid YAML: ";
      if (message.rfind(prefix, 0) == 0) {
        return Error("", absl::StrCat("not valid YAML/JSON: ", message.substr(prefix.size())));
      }
      return absl::InvalidArgumentError(message);
    }
    if (!root->IsMap()) {
      return Error("", absl::StrCat("expected a mapping at the top level, got ", Kind(*root)));
    }
    return root;
  }

  // A container config is small; aliases (legal YAML) may still repeat parts of it.
  static constexpr size_t kMaxNodes = 200'000;

  static DocumentLimits Limits(const ParseOptions& options) {
    DocumentLimits limits;
    limits.max_bytes = options.max_bytes;
    limits.max_depth = options.max_depth;
    limits.max_nodes = kMaxNodes;
    return limits;
  }

  absl::StatusOr<std::string> String(const YAML::Node& node, std::string_view path,
                                     bool allow_empty = false) const {
    if (!node.IsDefined() || node.IsNull()) return Error(path, "is required (expected a string)");
    if (!node.IsScalar()) return Error(path, absl::StrCat("expected a string, got ", Kind(node)));
    if (!allow_empty && node.Scalar().empty()) return Error(path, "must not be empty");
    return node.Scalar();
  }

  absl::Status RequireMap(const YAML::Node& node, std::string_view path) const {
    if (!node.IsMap()) return Error(path, absl::StrCat("expected a mapping, got ", Kind(node)));
    return absl::OkStatus();
  }

  // Keys as strings; a non-scalar key is an error.
  absl::StatusOr<std::vector<std::pair<std::string, YAML::Node>>> Entries(
      const YAML::Node& map, std::string_view path) const {
    std::vector<std::pair<std::string, YAML::Node>> out;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar() || kv.first.Scalar().empty()) {
        return Error(path, absl::StrCat("keys must be non-empty strings, got ", Kind(kv.first)));
      }
      out.emplace_back(kv.first.Scalar(), kv.second);
    }
    return out;
  }

  absl::StatusOr<std::string> MountPath(const YAML::Node& node, std::string_view path) const {
    ASSIGN_OR_RETURN(std::string raw, String(node, path));
    if (raw.front() != '/') {
      return Error(path, absl::StrCat("expected an absolute path inside the container, got '",
                                      Clip(raw), "'"));
    }
    std::vector<std::string> parts;
    for (absl::string_view part : absl::StrSplit(raw, '/')) {
      if (part.empty() || part == ".") continue;
      if (part == "..")
        return Error(path, absl::StrCat("must not contain '..': '", Clip(raw), "'"));
      parts.emplace_back(part);
    }
    if (parts.empty()) return Error(path, "must not be the container's root '/'");
    std::string normalized = absl::StrCat("/", absl::StrJoin(parts, "/"));
    for (const char* reserved : {"/proc", "/dev", "/sys"}) {
      if (normalized == reserved || normalized.starts_with(absl::StrCat(reserved, "/"))) {
        return Error(path, absl::StrCat("must not be under ", reserved, ": '", Clip(raw), "'"));
      }
    }
    return normalized;
  }

  absl::StatusOr<std::vector<Volume>> Volumes(const YAML::Node& node, std::string_view path) const {
    std::vector<Volume> out;
    if (!node.IsDefined() || node.IsNull()) return out;
    RETURN_IF_ERROR(RequireMap(node, path));
    ASSIGN_OR_RETURN(auto entries, Entries(node, path));
    for (const auto& [name, spec] : entries) {
      std::string vpath = Join(path, name);
      RETURN_IF_ERROR(RequireMap(spec, vpath));
      ASSIGN_OR_RETURN(auto keys, Entries(spec, vpath));
      for (const auto& [key, unused] : keys) {
        if (key != "mount_path" && key != "type") {
          return Error(Join(vpath, key), "unknown volume key (expected 'mount_path' and 'type')");
        }
      }
      Volume v;
      v.name = name;
      ASSIGN_OR_RETURN(v.mount_path, MountPath(spec["mount_path"], Join(vpath, "mount_path")));
      ASSIGN_OR_RETURN(std::string type, String(spec["type"], Join(vpath, "type")));
      if (type == "file") {
        v.type = VolumeType::kFile;
      } else if (type == "directory") {
        v.type = VolumeType::kDirectory;
      } else {
        return Error(Join(vpath, "type"),
                     absl::StrCat("expected 'file' or 'directory', got '", Clip(type), "'"));
      }
      out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(),
              [](const Volume& a, const Volume& b) { return a.name < b.name; });
    return out;
  }

  absl::StatusOr<std::string> Gpus(const YAML::Node& node, std::string_view path) const {
    if (!node.IsDefined() || node.IsNull()) return std::string();
    if (!node.IsScalar()) {
      return Error(path,
                   absl::StrCat("expected a count, 'all' or 'device=<ids>', got ", Kind(node)));
    }
    std::string value = node.Scalar();
    if (value.empty() || value == "0") return std::string();
    if (value == "all") return value;
    int count = 0;
    if (absl::SimpleAtoi(value, &count) && count > 0) return absl::StrCat(count);
    if (value.starts_with("device=") && value.size() > 7) {
      for (absl::string_view id : absl::StrSplit(AV(value).substr(7), ',')) {
        int unused;
        if (id.empty() || !absl::SimpleAtoi(id, &unused) || unused < 0) {
          return Error(path, absl::StrCat("bad device list in '", Clip(value), "'"));
        }
      }
      return value;
    }
    return Error(
        path, absl::StrCat("expected a count, 'all' or 'device=<ids>', got '", Clip(value), "'"));
  }

  absl::Status RunArgs(const YAML::Node& node, std::string_view path, TaskSpec& task) const {
    if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
    RETURN_IF_ERROR(RequireMap(node, path));
    ASSIGN_OR_RETURN(auto entries, Entries(node, path));
    static const std::set<std::string> kAllowed = {"command", "entrypoint", "environment", "gpus",
                                                   "shm_size"};
    for (const auto& [key, value] : entries) {
      std::string kpath = Join(path, key);
      if (!kAllowed.contains(key)) {
        return Error(path, absl::StrCat("run_args key '", Clip(key),
                                        "' is not allowed (allowed: command, entrypoint, "
                                        "environment, gpus, shm_size)"));
      }
      if (key == "command") {
        if (value.IsNull()) continue;
        if (value.IsScalar()) {
          auto split = ShlexSplit(value.Scalar());
          if (!split.ok()) return Error(kpath, std::string(split.status().message()));
          task.command = *std::move(split);
        } else if (value.IsSequence()) {
          size_t i = 0;
          for (const auto& item : value) {
            ASSIGN_OR_RETURN(std::string arg,
                             String(item, absl::StrCat(kpath, "[", i++, "]"), true));
            task.command.push_back(std::move(arg));
          }
        } else {
          return Error(kpath,
                       absl::StrCat("expected a string or a list of strings, got ", Kind(value)));
        }
        task.has_command = true;
      } else if (key == "entrypoint") {
        if (value.IsNull()) continue;
        ASSIGN_OR_RETURN(std::string entrypoint, String(value, kpath));
        task.entrypoint = std::move(entrypoint);
      } else if (key == "environment") {
        if (value.IsNull()) continue;
        RETURN_IF_ERROR(RequireMap(value, kpath));
        ASSIGN_OR_RETURN(auto env, Entries(value, kpath));
        for (const auto& [name, v] : env) {
          if (name.find('=') != std::string::npos) {
            return Error(Join(kpath, name), "environment names must not contain '='");
          }
          ASSIGN_OR_RETURN(std::string text, String(v, Join(kpath, name), true));
          task.environment[name] = std::move(text);
        }
      } else if (key == "gpus") {
        ASSIGN_OR_RETURN(task.gpus, Gpus(value, kpath));
      } else if (key == "shm_size") {
        if (value.IsNull()) continue;
        ASSIGN_OR_RETURN(task.shm_size, String(value, kpath));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckMountConflicts(const TaskSpec& task, std::string_view path) const {
    std::map<std::string, std::string> by_mount;
    std::set<std::string> names;
    for (const auto* list : {&task.input_volumes, &task.output_volumes}) {
      for (const auto& v : *list) {
        if (!names.insert(v.name).second) {
          return Error(path, absl::StrCat("volume '", v.name,
                                          "' is declared as both an input and an output"));
        }
        auto [it, inserted] = by_mount.emplace(v.mount_path, v.name);
        if (!inserted) {
          return Error(path, absl::StrCat("volumes '", it->second, "' and '", v.name,
                                          "' share the mount path ", v.mount_path));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ContainerConfig> ParseCurrent(const YAML::Node& root) const {
    ContainerConfig config;
    config.format = ContainerConfig::Format::kContainerConfig;
    config.source = source_;
    // Extra top-level keys are ignored, as by the MedPerf client; keys must be strings.
    RETURN_IF_ERROR(Entries(root, "").status());
    ASSIGN_OR_RETURN(std::string type, String(root["container_type"], "container_type"));
    if (type == "DockerImage") {
      config.type = ContainerType::kDockerImage;
    } else if (type == "DockerArchive") {
      config.type = ContainerType::kDockerArchive;
    } else if (type == "SingularityFile") {
      config.type = ContainerType::kSingularityFile;
    } else if (type == "LocalProcess") {
      config.type = ContainerType::kLocalProcess;
    } else if (type.starts_with("Encrypted")) {
      return Error("container_type",
                   absl::StrCat("encrypted containers ('", Clip(type), "') are not supported"));
    } else {
      return Error("container_type",
                   absl::StrCat("expected DockerImage, DockerArchive, SingularityFile or "
                                "LocalProcess, got '",
                                Clip(type), "'"));
    }
    ASSIGN_OR_RETURN(config.image, String(root["image"], "image"));
    if (config.type == ContainerType::kLocalProcess && config.image.front() != '/') {
      return Error("image", absl::StrCat("a LocalProcess image must be the absolute path of a "
                                         "host executable, got '",
                                         Clip(config.image), "'"));
    }
    const YAML::Node tasks = root["tasks"];
    if (!tasks.IsDefined() || tasks.IsNull())
      return Error("tasks", "is required (expected a mapping)");
    RETURN_IF_ERROR(RequireMap(tasks, "tasks"));
    ASSIGN_OR_RETURN(auto task_entries, Entries(tasks, "tasks"));
    if (task_entries.empty()) return Error("tasks", "must declare at least one task");
    for (const auto& [name, spec] : task_entries) {
      std::string tpath = Join("tasks", name);
      TaskSpec task;
      task.name = name;
      if (!spec.IsNull()) {
        RETURN_IF_ERROR(RequireMap(spec, tpath));
        ASSIGN_OR_RETURN(auto keys, Entries(spec, tpath));
        for (const auto& [key, unused] : keys) {
          if (key != "run_args" && key != "input_volumes" && key != "output_volumes") {
            return Error(Join(tpath, key),
                         "unknown task key (expected run_args, input_volumes, output_volumes)");
          }
        }
        RETURN_IF_ERROR(RunArgs(spec["run_args"], Join(tpath, "run_args"), task));
        ASSIGN_OR_RETURN(task.input_volumes,
                         Volumes(spec["input_volumes"], Join(tpath, "input_volumes")));
        ASSIGN_OR_RETURN(task.output_volumes,
                         Volumes(spec["output_volumes"], Join(tpath, "output_volumes")));
        RETURN_IF_ERROR(CheckMountConflicts(task, tpath));
      }
      config.tasks.emplace(name, std::move(task));
    }
    return config;
  }

  // Guesses the kind of a legacy parameter from its default path (see docs/runners.md).
  static VolumeType GuessType(const std::string& default_path) {
    if (default_path.ends_with('/')) return VolumeType::kDirectory;
    std::string base = fs::path(default_path).filename().string();
    size_t dot = base.rfind('.');
    return (dot != std::string::npos && dot > 0 && dot + 1 < base.size()) ? VolumeType::kFile
                                                                          : VolumeType::kDirectory;
  }

  absl::StatusOr<std::vector<Volume>> LegacyParams(const YAML::Node& node, std::string_view path,
                                                   std::string_view direction,
                                                   const fs::path& workspace) const {
    std::vector<Volume> out;
    if (!node.IsDefined() || node.IsNull()) return out;
    RETURN_IF_ERROR(RequireMap(node, path));
    ASSIGN_OR_RETURN(auto entries, Entries(node, path));
    for (const auto& [name, spec] : entries) {
      std::string ppath = Join(path, name);
      if (name.find('/') != std::string::npos)
        return Error(ppath, "parameter names must not contain '/'");
      Volume v;
      v.name = name;
      std::string default_path;
      if (spec.IsScalar()) {
        default_path = spec.Scalar();
        v.type = GuessType(default_path);
        v.type_guessed = true;
      } else if (spec.IsMap()) {
        ASSIGN_OR_RETURN(default_path, String(spec["default"], Join(ppath, "default")));
        const YAML::Node type = spec["type"];
        if (!type.IsDefined() || type.IsNull()) {
          v.type = GuessType(default_path);
          v.type_guessed = true;
        } else {
          ASSIGN_OR_RETURN(std::string t, String(type, Join(ppath, "type")));
          if (t == "file") {
            v.type = VolumeType::kFile;
          } else if (t == "directory") {
            v.type = VolumeType::kDirectory;
          } else {
            return Error(Join(ppath, "type"),
                         absl::StrCat("expected 'file' or 'directory', got '", Clip(t), "'"));
          }
        }
      } else {
        return Error(ppath, absl::StrCat("expected a path or {type, default}, got ", Kind(spec)));
      }
      if (default_path.empty()) return Error(ppath, "the default path must not be empty");
      std::string base_dir = absl::StrCat(kLegacyMountRoot, "/", AV(direction), "/", name);
      if (v.type == VolumeType::kFile) {
        std::string base = fs::path(default_path).filename().string();
        if (base.empty() || base == "." || base == "..") base = name;
        v.mount_path = absl::StrCat(base_dir, "/", base);
      } else {
        v.mount_path = base_dir;
      }
      if (!workspace.empty()) {
        fs::path p(default_path);
        v.default_host_path = (p.is_absolute() ? p : workspace / p).lexically_normal();
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  absl::StatusOr<ContainerConfig> ParseLegacy(const YAML::Node& root,
                                              const fs::path& workspace) const {
    ContainerConfig config;
    config.format = ContainerConfig::Format::kLegacyMlcube;
    config.type = ContainerType::kDockerImage;
    config.source = source_;
    if (root["name"].IsDefined() && !root["name"].IsNull()) {
      ASSIGN_OR_RETURN(config.name, String(root["name"], "name", true));
    }
    const YAML::Node docker = root["docker"];
    if (!docker.IsDefined() || docker.IsNull()) {
      return Error("docker",
                   "is required (a legacy mlcube.yaml must name a docker image; "
                   "other mlcube platforms are not supported)");
    }
    RETURN_IF_ERROR(RequireMap(docker, "docker"));
    ASSIGN_OR_RETURN(config.image, String(docker["image"], "docker.image"));
    const YAML::Node platform = root["platform"];
    if (platform.IsDefined() && !platform.IsNull()) {
      RETURN_IF_ERROR(RequireMap(platform, "platform"));
      const YAML::Node count = platform["accelerator_count"];
      if (count.IsDefined() && !count.IsNull()) {
        if (!count.IsScalar() || !absl::SimpleAtoi(count.Scalar(), &config.accelerator_count) ||
            config.accelerator_count < 0) {
          return Error("platform.accelerator_count",
                       absl::StrCat("expected a non-negative integer, got ", Kind(count)));
        }
      }
    }
    const YAML::Node tasks = root["tasks"];
    if (!tasks.IsDefined() || tasks.IsNull())
      return Error("tasks", "is required (expected a mapping)");
    RETURN_IF_ERROR(RequireMap(tasks, "tasks"));
    ASSIGN_OR_RETURN(auto task_entries, Entries(tasks, "tasks"));
    if (task_entries.empty()) return Error("tasks", "must declare at least one task");
    for (const auto& [name, spec] : task_entries) {
      std::string tpath = Join("tasks", name);
      TaskSpec task;
      task.name = name;
      // The mlcube image's entrypoint is `python3 /mlcube_project/mlcube.py`; mlcube
      // appended the task name and one --<param>=<container path> per parameter.
      task.has_command = true;
      task.command.push_back(name);
      if (!spec.IsNull()) {
        RETURN_IF_ERROR(RequireMap(spec, tpath));
        const YAML::Node params = spec["parameters"];
        if (params.IsDefined() && !params.IsNull()) {
          std::string ppath = Join(tpath, "parameters");
          RETURN_IF_ERROR(RequireMap(params, ppath));
          ASSIGN_OR_RETURN(task.input_volumes, LegacyParams(params["inputs"], Join(ppath, "inputs"),
                                                            "inputs", workspace));
          ASSIGN_OR_RETURN(
              task.output_volumes,
              LegacyParams(params["outputs"], Join(ppath, "outputs"), "outputs", workspace));
        }
      }
      for (const auto* list : {&task.input_volumes, &task.output_volumes}) {
        for (const auto& v : *list) {
          task.command.push_back(absl::StrCat("--", v.name, "=", v.mount_path));
        }
      }
      auto by_name = [](const Volume& a, const Volume& b) { return a.name < b.name; };
      std::sort(task.input_volumes.begin(), task.input_volumes.end(), by_name);
      std::sort(task.output_volumes.begin(), task.output_volumes.end(), by_name);
      RETURN_IF_ERROR(CheckMountConflicts(task, tpath));
      if (config.accelerator_count > 0) task.gpus = absl::StrCat(config.accelerator_count);
      config.tasks.emplace(name, std::move(task));
    }
    return config;
  }

 private:
  std::string source_;
  ParseOptions options_;
};

}  // namespace

absl::StatusOr<ContainerConfig> ParseContainerConfig(std::string_view text, std::string_view source,
                                                     const ParseOptions& options) {
  Parser parser(source, options);
  ASSIGN_OR_RETURN(YAML::Node root, parser.Load(text));
  try {
    return parser.ParseCurrent(root);
  } catch (const std::exception& e) {
    return parser.Error("", absl::StrCat("cannot parse: ", e.what()));
  }
}

absl::StatusOr<ContainerConfig> ParseLegacyMlcube(std::string_view text, std::string_view source,
                                                  const fs::path& workspace_dir,
                                                  const ParseOptions& options) {
  Parser parser(source, options);
  ASSIGN_OR_RETURN(YAML::Node root, parser.Load(text));
  try {
    return parser.ParseLegacy(root, workspace_dir);
  } catch (const std::exception& e) {
    return parser.Error("", absl::StrCat("cannot parse: ", e.what()));
  }
}

bool LooksLikeLegacyMlcube(std::string_view text) {
  try {
    absl::StatusOr<YAML::Node> loaded = LoadYamlBounded(text, "container config");
    if (!loaded.ok()) return false;
    const YAML::Node& root = *loaded;
    if (!root.IsMap() || root["container_type"].IsDefined()) return false;
    if (root["docker"].IsDefined() || root["platform"].IsDefined()) return true;
    const YAML::Node tasks = root["tasks"];
    if (!tasks.IsMap()) return false;
    for (const auto& kv : tasks) {
      if (kv.second.IsMap() && kv.second["parameters"].IsDefined()) return true;
    }
  } catch (const std::exception&) {
  }
  return false;
}

absl::StatusOr<ContainerConfig> LoadContainerConfigFile(const fs::path& path,
                                                        const ParseOptions& options) {
  // The admin names the config file, and may do so through a symlink; the bounded reader
  // refuses links, so it is given the resolved path (messages keep the given one).
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);
  if (ec) real = path;
  absl::StatusOr<std::string> read = ReadFileBounded(real, "container config", options.max_bytes);
  if (!read.ok()) {
    // Too large is a property of the document: INVALID_ARGUMENT, as for the text parsers.
    absl::StatusCode code = absl::IsResourceExhausted(read.status())
                                ? absl::StatusCode::kInvalidArgument
                                : read.status().code();
    if (real == path) return absl::Status(code, read.status().message());
    return absl::Status(code, absl::StrCat(path.string(), ": ", read.status().message()));
  }
  std::string text = *std::move(read);
  if (!LooksLikeLegacyMlcube(text)) return ParseContainerConfig(text, path.string(), options);
  fs::path workspace = fs::absolute(path, ec).parent_path() / "workspace";
  ASSIGN_OR_RETURN(ContainerConfig config,
                   ParseLegacyMlcube(text, path.string(), workspace, options));
  if (fs::is_regular_file(workspace / "parameters.yaml", ec)) {
    config.legacy_parameters_file = workspace / "parameters.yaml";
  }
  return config;
}

absl::StatusOr<std::vector<std::string>> ShlexSplit(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool in_word = false;
  enum { kNone, kSingle, kDouble } quote = kNone;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == kSingle) {
      if (c == '\'') {
        quote = kNone;
      } else {
        current += c;
      }
    } else if (quote == kDouble) {
      if (c == '"') {
        quote = kNone;
      } else if (c == '\\' && i + 1 < text.size() &&
                 (text[i + 1] == '"' || text[i + 1] == '\\' || text[i + 1] == '$' ||
                  text[i + 1] == '`' || text[i + 1] == '\n')) {
        current += text[++i];
      } else {
        current += c;
      }
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) out.push_back(std::move(current));
      current.clear();
      in_word = false;
    } else {
      in_word = true;
      if (c == '\'') {
        quote = kSingle;
      } else if (c == '"') {
        quote = kDouble;
      } else if (c == '\\') {
        if (i + 1 >= text.size())
          return absl::InvalidArgumentError("command ends with a backslash");
        current += text[++i];
      } else {
        current += c;
      }
    }
  }
  if (quote != kNone) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unterminated quote in command '", absl::string_view(text.data(), text.size()), "'"));
  }
  if (in_word) out.push_back(std::move(current));
  return out;
}

}  // namespace medperf
