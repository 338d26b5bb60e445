// A content-addressed cache of downloaded artefacts (container configs, parameters,
// additional-files tarballs, image tarballs, demo datasets), verified by SHA-256.
//
// Layout under the cache root:
//   sha256/<hex>            verified files, named by their hash (read-only mode)
//   extracted/<hex>/        tarballs extracted once (additional files, demo data)
//   local/<key>             the hash of a local file fetched without one, by its stat
//                           fingerprint (path, inode, size, mtime, ctime): not hashed again
//   tmp/                    in-flight downloads and extractions (cleaned on failure)
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/archive.h"
#include "core/http_client.h"

namespace medperf {

struct Asset {
  std::filesystem::path path;  // <cache>/sha256/<hex>
  std::string sha256;          // lowercase hex
  uint64_t size = 0;
  bool downloaded = false;  // false when served from the cache
};

struct DemoDataset {
  std::filesystem::path root;  // extraction root, <cache>/extracted/<hex>
  std::filesystem::path data_path;
  std::filesystem::path labels_path;
  std::optional<std::filesystem::path> metadata_path;
  std::string sha256;
};

struct FetchOptions {
  uint64_t max_bytes = uint64_t{64} << 30;  // refuse larger downloads
  std::chrono::milliseconds timeout = std::chrono::minutes(60);
};

class AssetCache {
 public:
  // `extract_limits` caps every extraction (FetchExtracted, FetchDemoDataset): medperfd
  // passes its `archives:` config.
  explicit AssetCache(std::filesystem::path root, HttpClient client = HttpClient(),
                      ExtractLimits extract_limits = {});

  // Fetches `source` (http://, https://, file://, "direct:<url>", or a local path)
  // unless an asset with `expected_sha256` ("<hex>" or "sha256:<hex>") is already
  // cached. With an expected hash, a mismatch is an error naming `name`, the source,
  // the expected and actual hash, and nothing is cached. Without one, the computed
  // hash is reported in Asset::sha256; a local file fetched so is copied and hashed once
  // and then served from the cache while its stat fingerprint is unchanged.
  absl::StatusOr<Asset> Fetch(std::string_view name, std::string_view source,
                              std::string_view expected_sha256 = "",
                              const FetchOptions& options = {});

  // Fetches a tarball and extracts it (safely, within the cache's extract limits) into
  // extracted/<hex>/, reusing an existing extraction. macOS "._*" files are dropped like
  // the MedPerf client does. An extraction that breaks a limit leaves nothing under
  // extracted/ and fails with "asset '<name>': archive '<path>': ..." (core/archive.h).
  absl::StatusOr<std::filesystem::path> FetchExtracted(std::string_view name,
                                                       std::string_view source,
                                                       std::string_view expected_sha256 = "",
                                                       const FetchOptions& options = {});

  // Fetches and extracts a demo dataset tarball and parses its paths.yaml.
  absl::StatusOr<DemoDataset> FetchDemoDataset(std::string_view source,
                                               std::string_view expected_sha256 = "",
                                               const FetchOptions& options = {});

  // Removes what an interrupted fetch left: partial downloads in tmp/ and partial
  // extractions (extracted/.extract-*). Neither is ever taken for a cached asset (a file
  // enters sha256/ only once its hash is checked, an extraction is renamed into place
  // only when complete); this frees their space. Call only while no fetch runs, e.g.
  // when the daemon starts. Returns how many entries were removed.
  int DiscardUnfinished();

  // Cached file for a hash, if present.
  std::optional<std::filesystem::path> Lookup(std::string_view sha256) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  HttpClient client_;
  ExtractLimits extract_limits_;
};

// True when `source` is something AssetCache::Fetch downloads ("http(s)://", "file://",
// any other "scheme://", "direct:", "synapse:") rather than a path on the daemon's
// machine; paths are resolved against a folder, URLs never are.
bool IsAssetUrl(const std::string& source);

// Parses <root>/paths.yaml of an extracted demo dataset: data_path and labels_path
// (required) and metadata_path (optional), relative, resolving inside `root`, and
// existing.
absl::StatusOr<DemoDataset> ParseDemoPaths(const std::filesystem::path& root);

}  // namespace medperf
