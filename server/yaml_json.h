// YAML → JSON for container configs and parameters files given to `seed --assets`.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace medperf::server {

// Converts a YAML document to JSON with YAML 1.2 core-schema scalars: quoted scalars are
// strings; plain ones become null, booleans, integers or floats when they look like one.
// An empty document is null. Parse errors name `source` and the line.
absl::StatusOr<nlohmann::json> YamlToJson(const std::string& text, const std::string& source);

}  // namespace medperf::server
