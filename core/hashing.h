// SHA-256 helpers shared by the asset cache, the dataset hash and the image hashes.
// MedPerf identifies files by lowercase hex SHA-256 without a prefix; docker image
// digests carry a "sha256:" prefix. Both forms are handled here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
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

// How Sha256File and FoldersHash treat what they read.
struct HashOptions {
  // The file or tree is untrusted (a task's outputs): symbolic links (the given path
  // included), devices, FIFOs and sockets are refused with INVALID_ARGUMENT naming the
  // entry. Otherwise (data the site itself supplies) the MedPerf client's os.walk
  // behaviour is kept: a symlink to a regular file is hashed by its contents, symlinked
  // directories and special files are skipped.
  bool untrusted = false;
  // Checked between files and every 8 MiB read; when it becomes true hashing stops with
  // CANCELLED (so a cancel or SIGTERM interrupts a huge hash).
  const std::atomic<bool>* cancel = nullptr;
  // Called with the bytes read since its last call, every 8 MiB and at the end of each
  // file (the caller sums them): a progress report of a long hash.
  std::function<void(uint64_t bytes)> on_read{};
};

// Lowercase hex SHA-256 (no prefix) of a file's contents, read with large buffers.
// The file is opened with O_CLOEXEC and O_NONBLOCK (a FIFO never blocks the caller) and
// must be a regular file; with options.untrusted also with O_NOFOLLOW.
// Errors: NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT (a directory, a special file, or
// a symlink when untrusted), CANCELLED, INTERNAL (read error). Messages name the path.
absl::StatusOr<std::string> Sha256File(const std::filesystem::path& path,
                                       const HashOptions& options = {});

// The MedPerf client's dataset hash (utils.py: get_folders_hash): the SHA-256 hex of
// every regular file under each folder (recursively; names, paths and empty dirs do
// not matter; symlinked directories are not descended into), sorted, then SHA-256 over
// the concatenated hex strings. Folders are walked with openat/fstatat without following
// links (core/tree_walk.h) and every file is opened with O_NOFOLLOW; see HashOptions for
// symlinks to files and special files.
// Errors: NOT_FOUND when a folder is missing or not a directory; INVALID_ARGUMENT for a
// refused entry (untrusted) or a tree that changes while being hashed; RESOURCE_EXHAUSTED
// for a tree nested deeper than 512 directories; CANCELLED; INTERNAL for I/O errors.
absl::StatusOr<std::string> FoldersHash(const std::vector<std::filesystem::path>& folders,
                                        const HashOptions& options = {});

// True for exactly 64 lowercase hex characters.
bool IsSha256Hex(std::string_view text);

// Accepts "<hex>" or "sha256:<hex>" in any case; returns the lowercase hex.
absl::StatusOr<std::string> NormalizeSha256(std::string_view text);

// The form two hashes are compared in: lowercase, without a "sha256:" prefix. Unlike
// NormalizeSha256 it accepts anything (a server may hold a malformed or legacy hash,
// which then simply compares unequal).
std::string ComparableSha256(std::string_view hash);

}  // namespace medperf
