// Over 600 lines on purpose: the YAML event pass (limits, duplicate keys), the tree
// conversion, the bounded JSON parser and the emitter share one set of limits, messages
// and scalar rules, which would otherwise have to become a public internal header.
#include "core/yaml_json.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <regex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/absl_view.h"

namespace medperf {
namespace {

using Json = nlohmann::json;

Json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  // Both patterns start with a sign, a digit or a dot; skip the (slow) regexes otherwise.
  const char c0 = s[0];
  const bool may_be_number = (c0 >= '0' && c0 <= '9') || c0 == '+' || c0 == '-' || c0 == '.';
  if (may_be_number && std::regex_match(s, kInt)) {
    int64_t v;
    if (absl::SimpleAtoi(s, &v)) return v;
  }
  if (may_be_number && std::regex_match(s, kFloat)) {
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

// "16 MiB" for whole mebibytes, else "N bytes".
std::string Bytes(size_t n) {
  if (n >= (size_t{1} << 20) && n % (size_t{1} << 20) == 0) return absl::StrCat(n >> 20, " MiB");
  if (n >= 1024 && n % 1024 == 0) return absl::StrCat(n >> 10, " KiB");
  return absl::StrCat(n, " bytes");
}

absl::Status TooLarge(std::string_view source, size_t size, const DocumentLimits& limits) {
  return absl::ResourceExhaustedError(absl::StrCat(
      AV(source), " is ", size, " bytes, more than the limit of ", Bytes(limits.max_bytes)));
}

absl::Status TooDeep(std::string_view source, const DocumentLimits& limits) {
  return absl::ResourceExhaustedError(
      absl::StrCat(AV(source), " is nested deeper than ", limits.max_depth, " levels"));
}

absl::Status TooManyNodes(std::string_view source, const DocumentLimits& limits) {
  return absl::ResourceExhaustedError(absl::StrCat(AV(source), " expands to more than ",
                                                   limits.max_nodes, " nodes (YAML aliases?)"));
}

// The conversion of a yaml-cpp tree. yaml-cpp keeps an alias as a second reference to the
// anchored node, so the tree itself stays small; the expansion happens here, and every
// visit is counted, so even a document that got past CountingHandler could not make the
// conversion run past max_nodes visits.
class Walk {
 public:
  Walk(const std::string& source, const DocumentLimits& limits)
      : source_(source), limits_(limits) {}

  // Counts one visit of `node` at `depth`; scalar bytes count against max_bytes. The
  // same levels and counts as CountingHandler.
  absl::Status Enter(const YAML::Node& node, int depth) {
    if (depth > limits_.max_depth) return TooDeep(source_, limits_);
    if (++nodes_ > limits_.max_nodes) return TooManyNodes(source_, limits_);
    if (node.IsScalar()) {
      bytes_ += node.Scalar().size();
      if (bytes_ > limits_.max_bytes) {
        return absl::ResourceExhaustedError(absl::StrCat(source_, " expands to more than ",
                                                         Bytes(limits_.max_bytes),
                                                         " of text (YAML aliases?)"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Json> Convert(const YAML::Node& node, int depth) {
    if (absl::Status s = Enter(node, depth); !s.ok()) return s;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return Json(nullptr);
      case YAML::NodeType::Scalar:
        if (absl::Status s = CheckUtf8(node, source_); !s.ok()) return s;
        // yaml-cpp tags quoted scalars "!" and plain ones "?".
        if (node.Tag() == "!") return Json(node.Scalar());
        return PlainScalar(node.Scalar());
      case YAML::NodeType::Sequence: {
        Json arr = Json::array();
        for (const auto& item : node) {
          auto v = Convert(item, depth + 1);
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
                source_, ": line ", kv.first.Mark().line + 1, ": mapping keys must be scalars"));
          }
          if (absl::Status s = Enter(kv.first, depth + 1); !s.ok()) return s;
          if (absl::Status s = CheckUtf8(kv.first, source_); !s.ok()) return s;
          auto v = Convert(kv.second, depth + 1);
          if (!v.ok()) return v;
          obj[kv.first.Scalar()] = std::move(*v);
        }
        return obj;
      }
    }
    return Json(nullptr);
  }

 private:
  const std::string& source_;
  const DocumentLimits& limits_;
  size_t nodes_ = 0;
  size_t bytes_ = 0;
};

// Thrown by CountingHandler to stop the parser at the first limit hit or duplicate key.
struct LimitHit {
  absl::Status status;
};

// Measures a document from yaml-cpp's event stream before any tree is built: the size,
// depth and scalar bytes of every anchored node are remembered, and an alias adds those
// of its anchor, so the fully expanded size is known exactly in one pass over the text.
// An alias bomb is refused in microseconds, whatever it would expand to.
class CountingHandler : public YAML::EventHandler {
 public:
  CountingHandler(const std::string& source, const DocumentLimits& limits)
      : source_(source), limits_(limits) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node(mark, nullptr);
    Leaf(anchor, 0);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    Node(mark, &value);
    Leaf(anchor, value.size());
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node(mark, nullptr);
    if (anchor == 0 || anchor > anchors_.size() || !anchors_[anchor - 1].done) {
      // yaml-cpp would build a cyclic node here (an alias inside its own anchor).
      throw LimitHit{absl::InvalidArgumentError(
          absl::StrCat(source_, ": an alias refers to the node that contains it"))};
    }
    Size size = anchors_[anchor - 1].size;
    CheckDepth(Depth() + size.height);
    Count(size.nodes, size.bytes);
    Add(size);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Node(mark, nullptr);
    Open(anchor, /*map=*/false);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Node(mark, nullptr);
    Open(anchor, /*map=*/true);
  }
  void OnMapEnd() override { Close(); }

 private:
  // A subtree as expanded: node visits, scalar bytes (both saturating just past their
  // limits) and height (0 for a leaf).
  struct Size {
    size_t nodes = 0;
    size_t bytes = 0;
    int height = 0;
  };
  struct Open_ {
    Size size;
    YAML::anchor_t anchor;
    bool map = false;
    bool expect_key = true;                     // in a map: the next node is a key (else its value)
    std::unordered_map<std::string, int> keys;  // scalar keys met so far -> line (1-based)
  };
  struct Anchor {
    Size size;
    bool done = false;
  };

  int Depth() const { return static_cast<int>(open_.size()); }

  void CheckDepth(int depth) const {
    if (depth > limits_.max_depth) throw LimitHit{TooDeep(source_, limits_)};
  }

  void Define(YAML::anchor_t anchor, const Size& size, bool done) {
    if (anchor == 0) return;
    if (anchors_.size() < anchor) anchors_.resize(anchor);
    anchors_[anchor - 1] = Anchor{size, done};
  }

  // Adds a finished subtree to the size of its parent (or of the document).
  void Add(const Size& child) {
    Size& parent = open_.empty() ? document_ : open_.back().size;
    parent.nodes = SaturatingAdd(parent.nodes, child.nodes, limits_.max_nodes);
    parent.bytes = SaturatingAdd(parent.bytes, child.bytes, limits_.max_bytes);
    if (!open_.empty()) parent.height = std::max(parent.height, child.height + 1);
  }

  // Counts nodes and scalar bytes of the expanded document as they are met.
  void Count(size_t nodes, size_t bytes) {
    total_.nodes = SaturatingAdd(total_.nodes, nodes, limits_.max_nodes);
    total_.bytes = SaturatingAdd(total_.bytes, bytes, limits_.max_bytes);
    if (total_.nodes > limits_.max_nodes) throw LimitHit{TooManyNodes(source_, limits_)};
    if (total_.bytes > limits_.max_bytes) {
      throw LimitHit{absl::ResourceExhaustedError(absl::StrCat(source_, " expands to more than ",
                                                               Bytes(limits_.max_bytes),
                                                               " of text (YAML aliases?)"))};
    }
  }

  void Leaf(YAML::anchor_t anchor, size_t bytes) {
    CheckDepth(Depth());
    Size size{1, std::min(bytes, SaturatingAdd(0, limits_.max_bytes, limits_.max_bytes)), 0};
    Count(size.nodes, size.bytes);
    Define(anchor, size, true);
    Add(size);
  }

  // Called for every node before it is counted. In a mapping, nodes alternate between key
  // and value; a scalar key met twice is an error naming both lines: yaml-cpp would keep
  // one of the two values silently (a second `tasks:` replacing the first).
  void Node(const YAML::Mark& mark, const std::string* scalar) {
    if (open_.empty() || !open_.back().map) return;
    Open_& parent = open_.back();
    const bool is_key = parent.expect_key;
    parent.expect_key = !parent.expect_key;
    if (!is_key || scalar == nullptr) return;  // complex and alias keys are not compared
    const int line = mark.line + 1;
    auto [it, inserted] = parent.keys.emplace(*scalar, line);
    if (!inserted) {
      throw LimitHit{absl::InvalidArgumentError(absl::StrCat(source_, ": duplicate key \"", *scalar,
                                                             "\" at line ", line,
                                                             " (first at line ", it->second, ")"))};
    }
  }

  void Open(YAML::anchor_t anchor, bool map) {
    CheckDepth(Depth());
    Count(1, 0);
    Define(anchor, Size{}, false);
    open_.push_back(Open_{Size{1, 0, 0}, anchor, map, true, {}});
  }

  void Close() {
    Open_ done = std::move(open_.back());
    open_.pop_back();
    Define(done.anchor, done.size, true);
    Add(done.size);
  }

  static size_t SaturatingAdd(size_t a, size_t b, size_t limit) {
    const size_t cap = limit == SIZE_MAX ? SIZE_MAX : limit + 1;
    return (a >= cap || b >= cap || a + b >= cap) ? cap : a + b;
  }

  const std::string& source_;
  const DocumentLimits& limits_;
  std::vector<Open_> open_;
  std::vector<Anchor> anchors_;  // by anchor id - 1
  Size document_;
  Size total_;  // of everything met so far (height unused)
};

// YAML::Load within the limits, with yaml-cpp's exceptions turned into statuses. The text
// is measured from the parser's events first (CountingHandler), so the tree that Load
// builds, and any walk over it with aliases expanded, is known to be within the limits.
absl::StatusOr<YAML::Node> ParseYaml(std::string_view text, const std::string& source,
                                     const DocumentLimits& limits) {
  if (text.size() > limits.max_bytes) return TooLarge(source, text.size(), limits);
  try {
    {
      std::istringstream in{std::string(text)};
      YAML::Parser parser(in);
      CountingHandler counter(source, limits);
      parser.HandleNextDocument(counter);
    }
    return YAML::Load(std::string(text));
  } catch (const LimitHit& hit) {
    return hit.status;
  } catch (const YAML::DeepRecursion&) {
    // yaml-cpp's own guard (2000 levels) fired first: the document is far deeper than
    // any limit we accept.
    return TooDeep(source, limits);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": invalid YAML: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(source, ": out of memory reading YAML"));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": cannot read YAML: ", e.what()));
  }
}

// A SAX handler that builds the DOM like nlohmann's own parser, but stops as soon as the
// depth or node limit is hit (returning false ends sax_parse early).
class BoundedJsonSax {
 public:
  using Dom = nlohmann::detail::json_sax_dom_parser<Json>;

  BoundedJsonSax(Json& root, const DocumentLimits& limits)
      : dom_(root, /*allow_exceptions=*/false), limits_(limits) {}

  bool null() { return Value() && dom_.null(); }
  bool boolean(bool v) { return Value() && dom_.boolean(v); }
  bool number_integer(Json::number_integer_t v) { return Value() && dom_.number_integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return Value() && dom_.number_unsigned(v); }
  bool number_float(Json::number_float_t v, const Json::string_t& s) {
    return Value() && dom_.number_float(v, s);
  }
  bool string(Json::string_t& v) { return Value() && dom_.string(v); }
  bool binary(Json::binary_t& v) { return Value() && dom_.binary(v); }
  bool start_object(std::size_t n) { return Open() && dom_.start_object(n); }
  bool key(Json::string_t& v) { return dom_.key(v); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return Open() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error_ = e.what();
    return false;
  }

  bool too_deep() const { return too_deep_; }
  bool too_many() const { return too_many_; }
  const std::string& error() const { return error_; }

 private:
  // Every value counts; it sits at level depth_ (the top-level value is level 0), the
  // same levels the YAML walk counts.
  bool Value() {
    if (depth_ > limits_.max_depth) {
      too_deep_ = true;
      return false;
    }
    if (++nodes_ > limits_.max_nodes) {
      too_many_ = true;
      return false;
    }
    return true;
  }
  bool Open() {
    if (!Value()) return false;
    ++depth_;
    return true;
  }

  Dom dom_;
  const DocumentLimits& limits_;
  int depth_ = 0;
  size_t nodes_ = 0;
  bool too_deep_ = false;
  bool too_many_ = false;
  std::string error_;
};

}  // namespace

absl::StatusOr<nlohmann::json> YamlToJson(const std::string& text, const std::string& source,
                                          const DocumentLimits& limits) {
  absl::StatusOr<YAML::Node> root = ParseYaml(text, source, limits);
  if (!root.ok()) return root.status();
  try {
    // ParseYaml measured the expanded document already; the conversion counts again as
    // it goes, the same way, so it can never run past the limits either.
    return Walk(source, limits).Convert(*root, 0);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": invalid YAML: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(source, ": out of memory reading YAML"));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": cannot read YAML: ", e.what()));
  }
}

absl::StatusOr<YAML::Node> LoadYamlBounded(std::string_view text, const std::string& source,
                                           const DocumentLimits& limits) {
  return ParseYaml(text, source, limits);
}

absl::StatusOr<nlohmann::json> ParseJsonBounded(std::string_view text, const std::string& source,
                                                const DocumentLimits& limits) {
  if (text.size() > limits.max_bytes) return TooLarge(source, text.size(), limits);
  Json root;
  BoundedJsonSax sax(root, limits);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(source, ": out of memory reading JSON"));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": invalid JSON: ", e.what()));
  }
  if (sax.too_deep()) return TooDeep(source, limits);
  if (sax.too_many()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(source, " has more than ", limits.max_nodes, " values"));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON", sax.error().empty() ? "" : ": ", sax.error()));
  }
  return root;
}

absl::StatusOr<std::string> ReadFileBounded(const std::filesystem::path& path,
                                            std::string_view what, size_t max_bytes) {
  const std::string name = absl::StrCat(AV(what), " ", path.string());
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " is a symbolic link; refusing to follow it"));
    }
    std::string message = absl::StrCat("cannot open ", name, ": ", std::strerror(err));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("cannot stat ", name, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        name, " is ", st.st_size, " bytes, more than the limit of ", Bytes(max_bytes)));
  }
  // Regular files ignore O_NONBLOCK, but clear it so reads behave normally everywhere.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::string text;
  text.resize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  // Read until EOF or max_bytes + 1: a file that grew after fstat is still refused.
  while (got <= max_bytes) {
    if (got == text.size()) text.resize(std::min(max_bytes + 1, text.size() * 2 + 4096));
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("cannot read ", name, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(name, " is more than the limit of ", Bytes(max_bytes)));
  }
  text.resize(got);
  return text;
}

absl::StatusOr<nlohmann::json> ReadYamlFileBounded(const std::filesystem::path& path,
                                                   std::string_view what,
                                                   const DocumentLimits& limits) {
  absl::StatusOr<std::string> text = ReadFileBounded(path, what, limits.max_bytes);
  if (!text.ok()) return text.status();
  return YamlToJson(*text, path.string(), limits);
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
