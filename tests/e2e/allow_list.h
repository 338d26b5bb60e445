// medperfd refuses LocalProcess containers from the server unless its config allow-lists
// them by server id and image hash (`sandbox.allow_local_process`, docs/security.md). The
// example containers are LocalProcess ones, so every end-to-end fixture allow-lists the
// ones it registers, explicitly, with these helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/hashing.h"
#include "core/yaml_json.h"
#include "tests/support/test_support.h"

namespace medperf::testing {

struct AllowedContainer {
  int64_t id = 0;
  std::string image_hash;  // "sha256:<hex>"
  std::string note;        // written as a comment, e.g. the executable
};

// The image hash medperfd computes for a LocalProcess executable (the runner's ImageHash).
inline std::string LocalProcessHash(const std::filesystem::path& executable) {
  absl::StatusOr<std::string> hex = Sha256File(executable);
  return hex.ok() ? "sha256:" + *hex : "sha256:unreadable:" + executable.string();
}

// The executable named by `image` in a container folder's container_config.yaml.
inline std::filesystem::path ExecutableOf(const std::filesystem::path& container_dir) {
  absl::StatusOr<nlohmann::json> config =
      YamlToJson(ReadFile(container_dir / "container_config.yaml"), "container_config.yaml");
  if (!config.ok() || !config->is_object()) return {};
  return config->value("image", "");
}

// The entries of a `medperf-server seed --allow-list-out` file.
inline std::vector<AllowedContainer> ReadAllowList(const std::filesystem::path& file) {
  std::vector<AllowedContainer> out;
  absl::StatusOr<nlohmann::json> doc = YamlToJson(ReadFile(file), file.string());
  if (!doc.ok() || !doc->is_object()) return out;
  nlohmann::json list = doc->value("sandbox", nlohmann::json::object())
                            .value("allow_local_process", nlohmann::json::array());
  for (const auto& e : list) {
    out.push_back({e.value("container", int64_t{0}), e.value("image_hash", ""), "seeded"});
  }
  return out;
}

// The `sandbox:` section of medperfd.yaml allowing `entries`.
inline std::string AllowListYaml(const std::vector<AllowedContainer>& entries) {
  std::string yaml = "sandbox:\n  allow_local_process:\n";
  if (entries.empty()) yaml += "    []\n";
  for (const AllowedContainer& e : entries) {
    yaml += "    - container: " + std::to_string(e.id);
    if (!e.note.empty()) yaml += "  # " + e.note;
    yaml += "\n      image_hash: " + e.image_hash + "\n";
  }
  return yaml;
}

}  // namespace medperf::testing
