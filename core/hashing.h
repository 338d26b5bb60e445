// SHA-256 helpers shared by the asset cache, the dataset hash and the image hashes.
// MedPerf identifies files by lowercase hex SHA-256 without a prefix; docker image
// digests carry a "sha256:" prefix. Both forms are handled here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace medperf {

// Incremental SHA-256 (OpenSSL EVP), e.g. for hashing a download while it streams.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void Update(std::string_view data);
  void Update(const void* data, size_t size);
  // Lowercase hex digest. Finalizes the stream; further Updates start a new hash.
  std::string FinalHex();
  uint64_t bytes() const { return bytes_; }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  uint64_t bytes_ = 0;
};

// Lowercase hex SHA-256 of a byte string.
std::string Sha256Hex(std::string_view data);

// Lowercase hex SHA-256 (no prefix) of a file's contents, read with large buffers.
absl::StatusOr<std::string> Sha256File(const std::filesystem::path& path);

// The MedPerf client's dataset hash (utils.py: get_folders_hash): the SHA-256 hex of
// every regular file under each folder (recursively; names, paths and empty dirs do
// not matter; symlinks are not followed), sorted, then SHA-256 over the concatenated
// hex strings. A missing folder is an error.
absl::StatusOr<std::string> FoldersHash(const std::vector<std::filesystem::path>& folders);

// True for exactly 64 lowercase hex characters.
bool IsSha256Hex(std::string_view text);

// Accepts "<hex>" or "sha256:<hex>" in any case; returns the lowercase hex.
absl::StatusOr<std::string> NormalizeSha256(std::string_view text);

}  // namespace medperf
