// Fuzzes YAML -> JSON conversion (core/yaml_json.h) and checks the documented round
// trip YamlToJson(JsonToYaml(j)) == j for documents without non-finite numbers.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/yaml_json.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

bool AllFinite(const nlohmann::json& j) {
  if (j.is_number_float()) return std::isfinite(j.get<double>());
  if (j.is_structured()) {
    for (const auto& item : j) {
      if (!AllFinite(item)) return false;
    }
  }
  return true;
}

// `utf8` is valid UTF-8 (YamlToJson guarantees it).
bool HasNoncharacter(const std::string& utf8) {
  for (size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    const size_t n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (size_t k = 1; k <= n && i + k < utf8.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    if ((cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF)) return true;
    i += n + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(medperf::fuzz::AsText(data, size));
  auto j = medperf::YamlToJson(text, "fuzz.yaml");
  if (!j.ok() || !AllFinite(*j)) return 0;
  // Known and accepted: yaml-cpp's emitter writes Unicode noncharacters (U+FDD0..U+FDEF,
  // U+xFFFE, U+xFFFF; not printable in YAML) as U+FFFD, so they do not round-trip.
  if (HasNoncharacter(j->dump())) return 0;
  std::string yaml = medperf::JsonToYaml(*j);
  // Aliases let a small input expand to many nodes; written out without aliases (and
  // indented) the same document can be longer than the text limit, so the round trip only
  // keeps the depth and node caps.
  medperf::DocumentLimits round_trip;
  round_trip.max_bytes = SIZE_MAX;
  auto back = medperf::YamlToJson(yaml, "round trip", round_trip);
  if (!back.ok()) {
    medperf::fuzz::Violation(
        "JsonToYaml output does not parse: " + std::string(back.status().message()) + "\n" + yaml);
  }
  if (*back != *j) {
    // dump() throws on invalid UTF-8 unless told to replace it.
    const auto replace = nlohmann::json::error_handler_t::replace;
    medperf::fuzz::Violation("round trip changed the document:\n" +
                             j->dump(-1, ' ', false, replace) + "\n" +
                             back->dump(-1, ' ', false, replace) + "\nYAML:\n" + yaml);
  }
  return 0;
}
