#include "core/ids.h"

#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace medperf {
namespace {

// Reads a positive decimal after `prefix` at `pos`; advances `pos`.
bool ReadPart(std::string_view text, size_t& pos, char prefix, int64_t& out) {
  if (pos >= text.size() || text[pos] != prefix) return false;
  ++pos;
  size_t start = pos;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
  if (pos == start || pos - start > 18) return false;
  auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + pos, out);
  return ec == std::errc() && out > 0;
}

}  // namespace

absl::StatusOr<LocalResultUid> LocalResultUid::Parse(std::string_view text) {
  size_t pos = 0;
  int64_t b = 0, m = 0, d = 0;
  if (!ReadPart(text, pos, 'b', b) || !ReadPart(text, pos, 'm', m) ||
      !ReadPart(text, pos, 'd', d) || pos != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid result uid '", absl::string_view(text.data(), text.size()),
                     "': expected b<benchmark>m<model>d<dataset>, e.g. b1m4d1"));
  }
  return LocalResultUid(BenchmarkId(b), ModelId(m), DatasetId(d));
}

std::string LocalResultUid::str() const {
  return absl::StrCat("b", benchmark_.value(), "m", model_.value(), "d", dataset_.value());
}

}  // namespace medperf
