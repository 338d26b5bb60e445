// YAML <-> JSON: container configs, parameters, statistics and results files are YAML
// on disk and JSON on the MedPerf wire.
//
// Everything here that reads a document is the one bounded reader for text that comes
// from task outputs, from the server or from a container config: size, nesting depth and
// node count (YAML aliases expanded) are capped, so a hostile document ("billion laughs",
// [[[[...]]]] nesting, a huge file) fails quickly with a clear error instead of
// exhausting the daemon's memory or stack. It is also the one place where YAML is parsed
// (container configs, mlcube.yaml, parameters, results, statistics, paths.yaml, medperfd's
// own config), so every reader refuses a mapping that repeats a key: yaml-cpp would
// silently keep one of the two values (a second `tasks:` replacing the first).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace medperf {

// Caps on one document. Errors name the document's source and the limit hit.
struct DocumentLimits {
  // Bytes of text; for YAML also the total bytes of scalars after alias expansion.
  size_t max_bytes = size_t{16} << 20;
  // Levels of nested sequences/mappings (the top-level value is level 0).
  int max_depth = 64;
  // Values visited while converting, counted on every visit: an alias that points at a
  // large subtree counts that subtree again each time it is used.
  size_t max_nodes = 1'000'000;
};

// Converts a YAML document to JSON with YAML 1.2 core-schema scalars: quoted scalars are
// strings; plain ones become null, booleans, integers or floats when they look like one.
// An empty document is null.
// Errors: INVALID_ARGUMENT for a syntax error (names `source` and the line), a non-scalar
// mapping key, text that is not UTF-8, or a mapping that repeats a key
// ("<source>: duplicate key \"tasks\" at line 7 (first at line 2)"; keys are compared as
// written, so `a` and `'a'` are the same key, `1` and `01` are not); RESOURCE_EXHAUSTED when a
// limit is hit
// ("<source> is nested deeper than 64 levels", "<source> expands to more than 1000000
// nodes (YAML aliases?)", "<source> is N bytes, more than the limit of 16 MiB").
absl::StatusOr<nlohmann::json> YamlToJson(const std::string& text, const std::string& source,
                                          const DocumentLimits& limits = {});

// Parses YAML into yaml-cpp's tree and checks it against `limits` (depth and node count
// walking aliases as often as they are used, scalar bytes after expansion), for parsers
// that work on YAML nodes directly (the container config parser). Same errors as
// YamlToJson, except that non-UTF-8 text is not checked.
absl::StatusOr<YAML::Node> LoadYamlBounded(std::string_view text, const std::string& source,
                                           const DocumentLimits& limits = {});

// Parses JSON (RFC 8259, no comments, nothing after the value) within `limits`. Depth is
// checked while parsing, so a deeply nested body never reaches a recursive step.
// Errors: INVALID_ARGUMENT "<source>: invalid JSON: ..." for a syntax error,
// RESOURCE_EXHAUSTED when a limit is hit (same wording as YamlToJson).
absl::StatusOr<nlohmann::json> ParseJsonBounded(std::string_view text, const std::string& source,
                                                const DocumentLimits& limits = {});

// Reads a whole file of at most `max_bytes` bytes. The file is opened with O_NOFOLLOW,
// O_CLOEXEC and O_NONBLOCK (so a FIFO never blocks), must be a regular file, and its
// size is checked with fstat() before reading; at most max_bytes + 1 bytes are read, so a
// file that grows meanwhile is still refused. `what` describes the file in errors
// (e.g. "results file").
// Errors: NOT_FOUND (missing), PERMISSION_DENIED, INVALID_ARGUMENT (a symbolic link or
// not a regular file), RESOURCE_EXHAUSTED (larger than max_bytes), INTERNAL (I/O error).
absl::StatusOr<std::string> ReadFileBounded(const std::filesystem::path& path,
                                            std::string_view what, size_t max_bytes);

// ReadFileBounded(path, what, limits.max_bytes) then YamlToJson(text, path, limits).
absl::StatusOr<nlohmann::json> ReadYamlFileBounded(const std::filesystem::path& path,
                                                   std::string_view what,
                                                   const DocumentLimits& limits = {});

// Renders JSON as a block-style YAML document (strings that would read back as another
// type are quoted), so YamlToJson(JsonToYaml(j)) == j for finite numbers.
std::string JsonToYaml(const nlohmann::json& value);

}  // namespace medperf
