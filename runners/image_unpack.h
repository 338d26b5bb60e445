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

// Reads only manifest.json of a `docker save` tarball (once per path, size and mtime:
// the entry sits at the end of the tarball) and returns its first RepoTags entry (what
// `docker load` will name the image), or NOT_FOUND.
absl::StatusOr<std::string> DockerArchiveRepoTag(const std::filesystem::path& image_tar);

// The image id ("sha256:<64 hex>", what `docker image inspect` knows the loaded image
// by) of the first image in a `docker save` tarball, from manifest.json's Config entry
// ("<hex>.json" in the classic layout, "blobs/sha256/<hex>" in the OCI one); NOT_FOUND
// when the file has no such entry. manifest.json is read once per path, size and mtime.
absl::StatusOr<std::string> DockerArchiveImageId(const std::filesystem::path& image_tar);

}  // namespace medperf
