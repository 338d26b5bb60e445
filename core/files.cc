#include "core/files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/absl_view.h"

namespace medperf {

absl::StatusOr<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_bytes,
                                          std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", AV(what), ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(AV(what), " is not a regular file"));
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(what), " is larger than ", max_bytes, " bytes (", st.st_size, " bytes)"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", AV(what), ": ", std::strerror(errno)));
  }
  // Bounded read: the file may have grown since stat().
  std::string text;
  text.resize(max_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return absl::UnavailableError(absl::StrCat(AV(what), ": read error"));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(what), " is larger than ", max_bytes, " bytes"));
  }
  return text;
}

absl::StatusOr<std::string> ReadTokenFile(const std::filesystem::path& path) {
  const std::string what = absl::StrCat("token file ", path.string());
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrFormat("%s has mode %04o; it must not be readable by group or others; "
                        "run: chmod 600 %s",
                        what, st.st_mode & 07777, path.string()));
  }
  absl::StatusOr<std::string> text = ReadSmallFile(path, 64 << 10, what);
  if (!text.ok()) return text.status();
  std::string token(absl::StripAsciiWhitespace(*text));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (std::any_of(token.begin(), token.end(),
                  [](char c) { return c == '\n' || c == '\r' || c == '\0'; })) {
    return absl::InvalidArgumentError(absl::StrCat(what, " holds more than one line"));
  }
  return token;
}

}  // namespace medperf
