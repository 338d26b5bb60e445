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

// Caps against decompression bombs; medperfd sets them from its `archives:` config
// (docs/operations.md). The defaults suit MedPerf's real assets: demo datasets, model
// weights and additional files are at most a few GiB and compress between 1:1 (weights,
// already-compressed .nii.gz/.png/.dcm images) and about 20:1 (CSV, text, DICOM with
// background); all-zero masks reach a few hundred to one, but are a small part of any
// real archive. gzip cannot exceed about 1030:1, bzip2 and xz reach millions to one.
struct ExtractLimits {
  // Total uncompressed bytes of all entries (declared and actually written, sparse holes
  // included). 64 GiB: the largest download the asset cache accepts (runners/assets.h),
  // so an incompressible archive that may be fetched may also be extracted.
  uint64_t max_total_bytes = uint64_t{64} << 30;
  uint64_t max_entries = 1'000'000;
  // Uncompressed bytes per byte of the archive file; 0 = no ratio cap. Enforced only once
  // more than `expansion_check_above_bytes` would be written, so small archives of
  // padding, empty files or masks never trip it; past that, a 200:1 archive stops the
  // extraction at 200 times its size (a 4 MiB bomb at 800 MiB instead of 4 GiB).
  uint64_t max_expansion_ratio = 200;
  uint64_t expansion_check_above_bytes = uint64_t{256} << 20;  // 256 MiB
};

struct ExtractStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// Extracts `archive_path` into `target_dir`, which must not exist yet (or be an empty
// directory). Extraction happens in a temporary directory beside the target that is
// renamed onto it on success; on any failure nothing is left behind. Errors name the
// archive, the offending entry and the limit or rule that was broken; all are
// INVALID_ARGUMENT except NOT_FOUND (no archive), ALREADY_EXISTS (target not empty) and
// INTERNAL (I/O). A limit error says how many bytes had been written (or were declared)
// and the limit: "archive 'x.tar.gz': entry 'a': 838860800 bytes written from a
// 4194304-byte archive exceed the expansion limit of 200:1 (...)".
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
  // directory of lower-layer content. With `keep_whiteouts` they are written as the
  // empty marker files they are in the tar instead: for a layer unpacked on its own into
  // a layer store, whose whiteouts are applied when layers are stacked
  // (runners/image_unpack.cc).
  bool keep_whiteouts = false;
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
