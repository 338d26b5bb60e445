// Safe extraction of untrusted archives (tar, tar.gz, ...; anything libarchive reads)
// and tar.gz packing. Every entry name is checked here before libarchive writes
// anything: no absolute paths, no "..", no links leaving the target, no devices,
// fifos or sockets, no setuid/setgid bits, and caps on the total size and the number
// of entries against decompression bombs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace medperf {

struct ExtractLimits {
  // Total uncompressed bytes of all entries (declared and actually written).
  uint64_t max_total_bytes = uint64_t{32} << 30;  // 32 GiB
  uint64_t max_entries = 1'000'000;
};

struct ExtractStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// Extracts `archive_path` into `target_dir`, which must not exist yet (or be an empty
// directory). Extraction happens in a temporary directory beside the target that is
// renamed onto it on success; on any failure nothing is left behind. Errors name the
// archive, the offending entry and the limit or rule that was broken.
// Symlinks are allowed only with relative targets that stay inside the target;
// hardlinks only to earlier entries of the same archive.
absl::StatusOr<ExtractStats> ExtractArchive(const std::filesystem::path& archive_path,
                                            const std::filesystem::path& target_dir,
                                            const ExtractLimits& limits = {});

// How ExtractLayer treats an OCI/Docker image layer.
struct LayerOptions {
  ExtractLimits limits;
  // Symlink targets are kept verbatim (absolute ones included): they are resolved
  // inside the image root at run time, never followed while extracting.
  // Devices, fifos and sockets are skipped rather than rejected.
  // ".wh.<name>" deletes <name> from lower layers; ".wh..wh..opq" empties the
  // directory of lower-layer content.
  bool whiteouts = true;
};

// Applies one image layer in place onto an existing root directory (no temp dir: the
// caller unpacks a whole image into its own temp dir and renames it). Never writes
// through a symlink and never outside `root_dir`.
absl::StatusOr<ExtractStats> ExtractLayer(const std::filesystem::path& layer_path,
                                          const std::filesystem::path& root_dir,
                                          const LayerOptions& options = {});

// Writes a gzip-compressed tar of `entries` (paths relative to `source_dir`;
// directories are added recursively; empty = the whole directory's contents) to
// `output`, atomically (temp file + rename). Symlinks are stored as symlinks;
// ownership is normalized to 0:0 and names are relative.
absl::Status CreateTarGz(const std::filesystem::path& source_dir,
                         const std::vector<std::string>& entries,
                         const std::filesystem::path& output);

}  // namespace medperf
