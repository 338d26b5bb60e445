// YAML <-> JSON: container configs, parameters, statistics and results files are YAML
// on disk and JSON on the MedPerf wire.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace medperf {

// Converts a YAML document to JSON with YAML 1.2 core-schema scalars: quoted scalars are
// strings; plain ones become null, booleans, integers or floats when they look like one.
// An empty document is null. Parse errors name `source` and the line.
absl::StatusOr<nlohmann::json> YamlToJson(const std::string& text, const std::string& source);

// Renders JSON as a block-style YAML document (strings that would read back as another
// type are quoted), so YamlToJson(JsonToYaml(j)) == j for finite numbers.
std::string JsonToYaml(const nlohmann::json& value);

}  // namespace medperf
