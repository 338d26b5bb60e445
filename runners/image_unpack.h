// Unpacks container images for the bubblewrap sandbox: a `docker save` tarball
// (manifest.json + layer tars) or an OCI image layout tarball (index.json + blobs),
// layers applied in order with whiteouts, into a content-addressed image cache.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/archive.h"

namespace medperf {

struct ImageRoot {
  std::filesystem::path rootfs;  // <cache>/<sha256 of the tarball>/rootfs
  std::string sha256;            // of the tarball, bare hex
  // From the image config; used when the task does not override them.
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "K=V"
  std::string working_dir;
  std::string repo_tag;  // first RepoTags entry of a docker save manifest, if any
};

// Unpacks once per tarball hash into <cache_dir>/<hex>/rootfs and reuses it afterwards.
// Each layer is unpacked once per layer content hash into <layer_dir>/<layer hex>/ (its
// whiteouts kept as marker files), and an image root is those layers stacked by hard
// links (whiteouts applied, directories per image): images that share a base layer share
// its files on disk, and a second image on the same base unpacks only its own layers.
// Image roots are mounted read-only, so the shared files are never written. `layer_dir`
// must be on the same filesystem as `cache_dir`. The limits apply to the outer tarball
// and to every layer. Errors: INVALID_ARGUMENT for a malformed image (manifest, config,
// a layer outside the tarball) or one over the limits, naming the image and the layer;
// NOT_FOUND for a missing file; INTERNAL when the cache cannot be written.
absl::StatusOr<ImageRoot> UnpackImage(const std::filesystem::path& image_tar,
                                      const std::filesystem::path& cache_dir,
                                      const std::filesystem::path& layer_dir,
                                      const ExtractLimits& limits = {});

// SHA-256 of a file, memoized by (path, size, mtime) so that big image files are not
// re-read on every task.
absl::StatusOr<std::string> CachedFileSha256(const std::filesystem::path& path);

// The image id ("sha256:<64 hex>", what `docker image inspect` knows the loaded image
// by) of the first image in a `docker save` tarball: the SHA-256 of the bytes of the
// config its manifest.json names ("<hex>.json" in the classic layout,
// "blobs/sha256/<hex>" in the OCI one), computed here, never taken from the name. The
// tarball is read once per path, size and mtime (manifest.json is its last entry).
// Errors: NOT_FOUND for a missing file or no manifest.json; INVALID_ARGUMENT for a
// truncated tarball, a config missing from it, or a config whose name is not the hash
// of its bytes (the tarball would make the engine run another image).
absl::StatusOr<std::string> DockerArchiveImageId(const std::filesystem::path& image_tar);

// Copies the `docker save` tarball `image_tar` to `out` with every manifest.json
// RepoTags entry set to null and the legacy `repositories` file left out, so that
// `docker load -i out` adds the image by id only and cannot move a tag the site relies
// on (a tarball is written by a model owner). Errors: NOT_FOUND (cannot open),
// INVALID_ARGUMENT (not a complete tar archive, manifest not JSON), INTERNAL (cannot
// write `out`).
absl::Status WriteUntaggedDockerArchive(const std::filesystem::path& image_tar,
                                        const std::filesystem::path& out);

}  // namespace medperf
