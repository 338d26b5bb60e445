// The MedPerf container contract as one typed model, parsed from either form:
//  - container_config.yaml (current; YAML text, or the JSON the server stores), and
//  - the legacy mlcube.yaml (+ workspace/parameters.yaml), mapped onto the same model.
// See docs/runners.md for the mapping and for our LocalProcess extension.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace medperf {

enum class ContainerType {
  kDockerImage,      // image = registry reference
  kDockerArchive,    // image = URL/path of a `docker save` (or OCI layout) tarball
  kSingularityFile,  // image = URL/path of a .sif file
  kLocalProcess,     // ours: image = absolute path of a host executable
};
std::string_view ContainerTypeName(ContainerType type);  // "DockerImage", ...

enum class VolumeType { kFile, kDirectory };
std::string_view VolumeTypeName(VolumeType type);  // "file" | "directory"

struct Volume {
  std::string name;        // mount key, e.g. "data_path"
  std::string mount_path;  // absolute, normalized path inside the container
  VolumeType type = VolumeType::kDirectory;
  // Legacy mlcube.yaml only: the type was guessed from the parameter's default path,
  // so the runner lets an existing host path's real kind win.
  bool type_guessed = false;
  // Legacy mlcube.yaml only: the workspace path used when the caller supplies no
  // host path for this volume (e.g. "weights: additional_files/cnn_weights.pth").
  std::filesystem::path default_host_path;
};

struct TaskSpec {
  std::string name;
  // Arguments appended after the image (docker semantics: replaces the image CMD).
  // Empty with has_command == false means "the image's default".
  std::vector<std::string> command;
  bool has_command = false;
  std::optional<std::string> entrypoint;
  std::map<std::string, std::string> environment;
  // Normalized like the MedPerf client: "" (none), "all", "<count>", or
  // "device=<id>,<id>".
  std::string gpus;
  std::string shm_size;
  std::vector<Volume> input_volumes;  // sorted by name
  std::vector<Volume> output_volumes;

  const Volume* FindVolume(std::string_view volume_name) const;
};

struct ContainerConfig {
  enum class Format { kContainerConfig, kLegacyMlcube };

  Format format = Format::kContainerConfig;
  ContainerType type = ContainerType::kDockerImage;
  std::string image;
  std::map<std::string, TaskSpec> tasks;
  // Where the config came from (file path or a caller-given label), for messages.
  std::string source;
  // Legacy mlcube.yaml: `name`, `platform.accelerator_count` and the resolved
  // workspace/parameters.yaml (empty when absent).
  std::string name;
  int accelerator_count = 0;
  std::filesystem::path legacy_parameters_file;

  bool IsModelContainer() const { return tasks.contains("infer"); }
  const TaskSpec* FindTask(std::string_view task) const;
};

struct ParseOptions {
  // Refuse texts larger than this before handing them to the YAML parser.
  size_t max_bytes = 1 << 20;
  // Refuse documents nested deeper than this (yaml-cpp recurses per level).
  int max_depth = 64;
};

// Parses container_config.yaml (YAML, or JSON) text. `source` names it in errors.
// Errors are INVALID_ARGUMENT and name the source, the key path (e.g.
// "tasks.infer.input_volumes.data_path.mount_path") and what was expected.
absl::StatusOr<ContainerConfig> ParseContainerConfig(std::string_view text, std::string_view source,
                                                     const ParseOptions& options = {});

// Parses a legacy mlcube.yaml. `workspace_dir` (normally <dir of mlcube.yaml>/workspace)
// resolves the parameters' default paths; empty = leave them unresolved.
absl::StatusOr<ContainerConfig> ParseLegacyMlcube(std::string_view text, std::string_view source,
                                                  const std::filesystem::path& workspace_dir,
                                                  const ParseOptions& options = {});

// True when the text looks like a legacy mlcube.yaml (top-level `docker:`/`platform:`
// or tasks with `parameters:` and no `container_type`). Never fails.
bool LooksLikeLegacyMlcube(std::string_view text);

// Reads a file and parses it in whichever form it is written; a legacy mlcube.yaml
// resolves defaults against <dir>/workspace (and picks up workspace/parameters.yaml).
absl::StatusOr<ContainerConfig> LoadContainerConfigFile(const std::filesystem::path& path,
                                                        const ParseOptions& options = {});

// Splits a command string like the Python client's shlex.split (POSIX rules:
// quotes, backslashes, no expansions). An unterminated quote is an error.
absl::StatusOr<std::vector<std::string>> ShlexSplit(std::string_view text);

}  // namespace medperf
