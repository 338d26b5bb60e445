#include "core/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace medperf {
namespace {

using Json = nlohmann::json;

constexpr int kMaxDepth = 64;

Json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, kInt)) {
    int64_t v;
    if (absl::SimpleAtoi(s, &v)) return v;
  }
  if (std::regex_match(s, kFloat)) {
    double d;
    if (absl::SimpleAtod(s, &d)) return d;
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf") {
    return std::numeric_limits<double>::infinity();
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return s;
}

// RFC 3629 UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): what
// nlohmann::json's dump() insists on. yaml-cpp passes invalid bytes through, and a JSON
// value holding them would throw later, wherever it is serialized.
bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
    }
    i += n + 1;
  }
  return true;
}

absl::Status CheckUtf8(const YAML::Node& node, const std::string& source) {
  if (IsValidUtf8(node.Scalar())) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": line ", node.Mark().line + 1, ": text is not valid UTF-8"));
}

absl::StatusOr<Json> Convert(const YAML::Node& node, int depth, const std::string& source) {
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": YAML nested deeper than ", kMaxDepth, " levels"));
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Json(nullptr);
    case YAML::NodeType::Scalar:
      if (absl::Status s = CheckUtf8(node, source); !s.ok()) return s;
      // yaml-cpp tags quoted scalars "!" and plain ones "?".
      if (node.Tag() == "!") return Json(node.Scalar());
      return PlainScalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : node) {
        auto v = Convert(item, depth + 1, source);
        if (!v.ok()) return v;
        arr.push_back(std::move(*v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(
              source, ": line ", kv.first.Mark().line + 1, ": mapping keys must be scalars"));
        }
        if (absl::Status s = CheckUtf8(kv.first, source); !s.ok()) return s;
        auto v = Convert(kv.second, depth + 1, source);
        if (!v.ok()) return v;
        obj[kv.first.Scalar()] = std::move(*v);
      }
      return obj;
    }
  }
  return Json(nullptr);
}

}  // namespace

absl::StatusOr<nlohmann::json> YamlToJson(const std::string& text, const std::string& source) {
  try {
    YAML::Node root = YAML::Load(text);
    return Convert(root, 0, source);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": invalid YAML: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": cannot read YAML: ", e.what()));
  }
}

}  // namespace medperf

namespace medperf {
namespace {

// Strings (values and keys) are written plainly unless that would change them.
void EmitString(YAML::Emitter& out, const std::string& s) {
  // A string that a YAML reader would take for null/bool/number must stay a string;
  // control characters (yaml-cpp would write a trailing "\r" plainly, and it would be
  // lost) and edge spaces only survive double-quoted.
  const bool needs_quotes =
      std::any_of(s.begin(), s.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }) ||
      (!s.empty() && (s.front() == ' ' || s.back() == ' '));
  if (needs_quotes || !PlainScalar(s).is_string()) {
    out << YAML::DoubleQuoted << s;
  } else {
    out << s;
  }
}

void Emit(YAML::Emitter& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, child] : v.items()) {
        // YAML caps implicit keys at 1024 characters (escapes included): long ones are
        // written as explicit "? key" entries, or the output would not parse.
        if (k.size() > 128) out << YAML::LongKey;
        out << YAML::Key;
        EmitString(out, k);
        out << YAML::Value;
        Emit(out, child);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& child : v) Emit(out, child);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string:
      EmitString(out, v.get_ref<const std::string&>());
      break;
    case nlohmann::json::value_t::boolean:
      out << v.get<bool>();
      break;
    case nlohmann::json::value_t::number_integer:
      out << v.get<int64_t>();
      break;
    case nlohmann::json::value_t::number_unsigned:
      out << v.get<uint64_t>();
      break;
    case nlohmann::json::value_t::number_float: {
      double d = v.get<double>();
      if (std::isnan(d)) {
        out << YAML::Value << ".nan";
      } else if (std::isinf(d)) {
        out << (d > 0 ? ".inf" : "-.inf");
      } else {
        out << YAML::Precision(17) << d;
      }
      break;
    }
    default:
      out << YAML::Null;
  }
}

}  // namespace

std::string JsonToYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  Emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace medperf
