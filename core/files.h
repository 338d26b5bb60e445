// Reading the small text files the binaries take from users and operators (config files,
// token files, asset manifests), with one size bound and one set of error messages.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace medperf {

// Reads a whole file of at most `max_bytes` bytes (binary-exact, no newline conversion).
// `what` names the file in errors, e.g. "config file /etc/medperf/medperfd.yaml".
// Errors: NotFound when it cannot be opened (the message carries strerror), InvalidArgument
// when it is not a regular file or is larger than `max_bytes`, Unavailable on a read error.
absl::StatusOr<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_bytes,
                                          std::string_view what);

// Reads a bearer token from a file that must be a regular file of mode 0600 or stricter
// (no group/other bits) holding one line; surrounding whitespace is stripped.
// Errors: NotFound (missing or unreadable), InvalidArgument (not a regular file, empty,
// more than one line, over 64 KiB), PermissionDenied (group/other bits set; the message
// says to run chmod 600).
absl::StatusOr<std::string> ReadTokenFile(const std::filesystem::path& path);

}  // namespace medperf
