// Debian 12's Abseil has its own absl::string_view type (not an alias of
// std::string_view), so absl::StrCat, StrSplit and friends need this bridge for
// std::string_view arguments.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace medperf {

// The same characters as an absl::string_view (no copy).
inline absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace medperf
