#include "runners/image_unpack.h"

#include "core/absl_view.h"
#include "core/yaml_json.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/hashing.h"
#include "core/status_macros.h"

namespace medperf {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What identifies an unchanged image file for the memos below: absolute path, size and
// modification time (ns). NOT_FOUND when the file does not exist.
using FileStatKey = std::tuple<std::string, uintmax_t, int64_t>;
absl::StatusOr<FileStatKey> StatKey(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("image file '", path.string(), "' not found"));
  }
  std::error_code ec;
  return std::make_tuple(fs::absolute(path, ec).string(), static_cast<uintmax_t>(st.st_size),
                         static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
}

}  // namespace

absl::StatusOr<std::string> CachedFileSha256(const fs::path& path) {
  static std::mutex mu;
  static std::map<FileStatKey, std::string> memo;
  ASSIGN_OR_RETURN(FileStatKey key, StatKey(path));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::string hex, Sha256File(path));
  std::lock_guard<std::mutex> lock(mu);
  memo[key] = hex;
  return hex;
}

namespace {

// A metadata file of the unpacked tarball (manifest, index, config): written by whoever
// built the image, so read without following links and with a size cap.
absl::StatusOr<std::string> ReadSmallFile(const fs::path& path) {
  return ReadFileBounded(path, absl::StrCat("'", path.filename().string(), "'"), 16 << 20);
}

// A path named inside the image tarball (manifest Layers, blobs): relative, no "..",
// and a regular file once resolved.
absl::StatusOr<fs::path> InnerFile(const fs::path& outer, const std::string& rel,
                                   std::string_view what) {
  if (rel.empty() || rel.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(what), " '", rel, "' is not a relative path"));
  }
  for (absl::string_view part : absl::StrSplit(rel, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(AV(what), " '", rel, "' contains '..'"));
    }
  }
  // docker save (v25+) links <id>/layer.tar to ../blobs/sha256/<hex>: follow links,
  // but only to files that stay inside the unpacked tarball.
  std::error_code ec;
  fs::path p = fs::canonical(outer / rel, ec);
  fs::path root = fs::canonical(outer, ec);
  auto [root_end, unused] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  if (ec || root_end != root.end() || !fs::is_regular_file(p, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(what), " '", rel, "' is missing from the image"));
  }
  return p;
}

std::string BlobPath(const std::string& digest) {
  auto colon = digest.find(':');
  if (colon == std::string::npos) return "";
  return absl::StrCat("blobs/", digest.substr(0, colon), "/", digest.substr(colon + 1));
}

// The image's manifest and config come from the container's author: the bounded reader.
absl::StatusOr<json> ParseJson(const std::string& text, std::string_view what) {
  return ParseJsonBounded(text, std::string(what));
}

std::vector<std::string> StringList(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& item : j) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

struct Plan {
  fs::path config;
  std::vector<fs::path> layers;
  std::string repo_tag;
};

absl::StatusOr<Plan> PlanDockerSave(const fs::path& outer) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(outer / "manifest.json"));
  ASSIGN_OR_RETURN(json manifest, ParseJson(text, "manifest.json"));
  if (!manifest.is_array() || manifest.empty() || !manifest[0].is_object()) {
    return absl::InvalidArgumentError("manifest.json must be a non-empty list of images");
  }
  const json& image = manifest[0];
  Plan plan;
  if (!image.contains("Config") || !image["Config"].is_string() || !image.contains("Layers") ||
      !image["Layers"].is_array()) {
    return absl::InvalidArgumentError("manifest.json lacks Config or Layers");
  }
  ASSIGN_OR_RETURN(plan.config, InnerFile(outer, image["Config"].get<std::string>(), "config"));
  for (const auto& layer : image["Layers"]) {
    if (!layer.is_string())
      return absl::InvalidArgumentError("manifest.json: a layer is not a string");
    ASSIGN_OR_RETURN(fs::path p, InnerFile(outer, layer.get<std::string>(), "layer"));
    plan.layers.push_back(p);
  }
  auto tags = StringList(image.value("RepoTags", json::array()));
  if (!tags.empty()) plan.repo_tag = tags[0];
  return plan;
}

absl::StatusOr<Plan> PlanOci(const fs::path& outer) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(outer / "index.json"));
  ASSIGN_OR_RETURN(json index, ParseJson(text, "index.json"));
  // Follow nested indexes to the first linux/amd64 (or only) manifest.
  for (int depth = 0; depth < 4; ++depth) {
    if (!index.contains("manifests") || !index["manifests"].is_array() ||
        index["manifests"].empty()) {
      return absl::InvalidArgumentError("index.json has no manifests");
    }
    const json* chosen = &index["manifests"][0];
    for (const auto& m : index["manifests"]) {
      if (m.contains("platform") && m["platform"].value("os", "") == "linux" &&
          m["platform"].value("architecture", "") == "amd64") {
        chosen = &m;
        break;
      }
    }
    std::string digest = chosen->value("digest", "");
    ASSIGN_OR_RETURN(fs::path blob, InnerFile(outer, BlobPath(digest), "manifest blob"));
    ASSIGN_OR_RETURN(std::string blob_text, ReadSmallFile(blob));
    ASSIGN_OR_RETURN(json doc, ParseJson(blob_text, "image manifest"));
    if (doc.contains("manifests")) {
      index = std::move(doc);
      continue;
    }
    Plan plan;
    if (!doc.contains("config") || !doc["config"].is_object() || !doc.contains("layers") ||
        !doc["layers"].is_array()) {
      return absl::InvalidArgumentError("image manifest lacks config or layers");
    }
    ASSIGN_OR_RETURN(plan.config,
                     InnerFile(outer, BlobPath(doc["config"].value("digest", "")), "config"));
    for (const auto& layer : doc["layers"]) {
      ASSIGN_OR_RETURN(fs::path p, InnerFile(outer, BlobPath(layer.value("digest", "")), "layer"));
      plan.layers.push_back(p);
    }
    return plan;
  }
  return absl::InvalidArgumentError("index.json nests too deeply");
}

absl::Status ReadConfig(const fs::path& config_path, ImageRoot& image) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(config_path));
  ASSIGN_OR_RETURN(json config, ParseJson(text, "image config"));
  json c = config.value("config", json::object());
  if (!c.is_object()) c = json::object();
  image.entrypoint = StringList(c.value("Entrypoint", json::array()));
  image.cmd = StringList(c.value("Cmd", json::array()));
  image.env = StringList(c.value("Env", json::array()));
  if (c.contains("WorkingDir") && c["WorkingDir"].is_string()) {
    image.working_dir = c["WorkingDir"].get<std::string>();
  }
  return absl::OkStatus();
}

json Summary(const ImageRoot& image) {
  return json{{"entrypoint", image.entrypoint},
              {"cmd", image.cmd},
              {"env", image.env},
              {"working_dir", image.working_dir},
              {"repo_tag", image.repo_tag}};
}

absl::StatusOr<ImageRoot> LoadSummary(const fs::path& dir, const std::string& hex) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(dir / "image.json"));
  ASSIGN_OR_RETURN(json j, ParseJson(text, "image.json"));
  ImageRoot image;
  image.rootfs = dir / "rootfs";
  image.sha256 = hex;
  image.entrypoint = StringList(j.value("entrypoint", json::array()));
  image.cmd = StringList(j.value("cmd", json::array()));
  image.env = StringList(j.value("env", json::array()));
  image.working_dir = j.value("working_dir", "");
  image.repo_tag = j.value("repo_tag", "");
  return image;
}

// Stacks stored layers into a new image root by hard links: files are shared with the
// layer store (and so with every other image built on the same layer); directories
// are created per image so that mount points can be added to one image alone.
// Whiteout markers of a layer (kept by ExtractLayer's keep_whiteouts) remove what lower
// layers put there before the layer's own entries are linked.
absl::Status StackLayer(const fs::path& layer, const fs::path& root) {
  std::error_code ec;
  // Pass 1: whiteouts, which apply to lower layers only.
  for (auto it = fs::recursive_directory_iterator(layer, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.starts_with(".wh.")) continue;
    fs::path rel_dir = it->path().parent_path().lexically_relative(layer);
    // The directory in the stacked root must be a real directory all the way down: a
    // lower layer's symlink must never lead a whiteout outside the root.
    fs::path dir = root;
    bool real = true;
    for (const auto& part : rel_dir) {
      if (part == ".") continue;
      dir /= part;
      struct stat st;
      if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        real = false;
        break;
      }
    }
    if (!real) continue;
    if (name == ".wh..wh..opq") {
      for (const auto& child : fs::directory_iterator(dir, ec)) fs::remove_all(child.path(), ec);
    } else {
      std::string victim = name.substr(4);
      if (victim.empty() || victim == "." || victim == ".." ||
          victim.find('/') != std::string::npos) {
        continue;
      }
      fs::remove_all(dir / victim, ec);
    }
    ec.clear();
  }
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot read layer '", layer.string(), "': ", ec.message()));
  // Pass 2: the layer's own entries, parents before children.
  for (auto it = fs::recursive_directory_iterator(layer, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with(".wh.")) continue;
    fs::path rel = it->path().lexically_relative(layer);
    fs::path dest = root / rel;
    struct stat src;
    if (::lstat(it->path().c_str(), &src) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot inspect '", it->path().string(), "': ", std::strerror(errno)));
    }
    struct stat cur;
    bool exists = ::lstat(dest.c_str(), &cur) == 0;
    if (S_ISDIR(src.st_mode)) {
      if (exists && S_ISDIR(cur.st_mode)) {
        ::chmod(dest.c_str(), src.st_mode & 07777);
        continue;
      }
      if (exists) ::unlink(dest.c_str());
      if (::mkdir(dest.c_str(), src.st_mode & 07777) != 0) {
        return absl::InternalError(
            absl::StrCat("cannot create '", dest.string(), "': ", std::strerror(errno)));
      }
      continue;
    }
    if (exists) {
      if (S_ISDIR(cur.st_mode)) {
        fs::remove_all(dest, ec);
        ec.clear();
      } else {
        ::unlink(dest.c_str());
      }
    }
    // linkat without AT_SYMLINK_FOLLOW links a symlink itself, never its target.
    if (::linkat(AT_FDCWD, it->path().c_str(), AT_FDCWD, dest.c_str(), 0) != 0) {
      return absl::InternalError(absl::StrCat("cannot link '", dest.string(),
                                              "' to the layer store: ", std::strerror(errno)));
    }
  }
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot read layer '", layer.string(), "': ", ec.message()));
  return absl::OkStatus();
}

// Unpacks one layer tar into the layer store, once per content hash (ours, never the
// name the image gives the layer: a hostile image cannot plant content under another
// layer's digest). Returns <layer_dir>/<hex>.
absl::StatusOr<fs::path> StoreLayer(const fs::path& layer_tar, const fs::path& layer_dir,
                                    const ExtractLimits& limits) {
  ASSIGN_OR_RETURN(std::string hex, Sha256File(layer_tar));
  fs::path dir = layer_dir / hex;
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(dir, ec))) return dir;
  fs::create_directories(layer_dir, ec);
  std::string tmpl = (layer_dir / (".unpack-" + hex.substr(0, 12) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a temp dir in '", layer_dir.string(),
                                            "': ", std::strerror(errno)));
  }
  fs::path work(tmpl);
  LayerOptions options;
  options.limits = limits;
  options.keep_whiteouts = true;
  absl::StatusOr<ExtractStats> stats = ExtractLayer(layer_tar, work, options);
  if (!stats.ok()) {
    fs::remove_all(work, ec);
    return absl::Status(stats.status().code(),
                        absl::StrCat("layer sha256:", hex, ": ", stats.status().message()));
  }
  ::chmod(work.c_str(), 0755);
  if (::rename(work.c_str(), dir.c_str()) != 0) {
    // Another task stored the same layer first: theirs is the same content.
    fs::remove_all(work, ec);
    if (!fs::is_directory(fs::symlink_status(dir, ec))) {
      return absl::InternalError(absl::StrCat("cannot store layer in '", dir.string(), "'"));
    }
  }
  return dir;
}

}  // namespace

absl::StatusOr<ImageRoot> UnpackImage(const fs::path& image_tar, const fs::path& cache_dir,
                                      const fs::path& layer_dir, const ExtractLimits& limits) {
  ASSIGN_OR_RETURN(std::string hex, CachedFileSha256(image_tar));
  fs::path final_dir = cache_dir / hex;
  std::error_code ec;
  if (fs::exists(final_dir / "image.json", ec)) return LoadSummary(final_dir, hex);

  fs::create_directories(cache_dir, ec);
  std::string tmpl = (cache_dir / (".unpack-" + hex.substr(0, 12) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a temp dir in '", cache_dir.string(),
                                            "': ", std::strerror(errno)));
  }
  fs::path work(tmpl);
  auto fail = [&](const absl::Status& status) {
    fs::remove_all(work, ec);
    return absl::Status(status.code(), absl::StrCat("cannot unpack image '", image_tar.string(),
                                                    "': ", status.message()));
  };
  auto outer_stats = ExtractArchive(image_tar, work / "outer", limits);
  if (!outer_stats.ok()) return fail(outer_stats.status());
  absl::StatusOr<Plan> plan = fs::exists(work / "outer" / "manifest.json", ec)
                                  ? PlanDockerSave(work / "outer")
                                  : PlanOci(work / "outer");
  if (!plan.ok()) return fail(plan.status());
  ImageRoot image;
  image.sha256 = hex;
  image.repo_tag = plan->repo_tag;
  if (auto s = ReadConfig(plan->config, image); !s.ok()) return fail(s);
  fs::create_directories(work / "rootfs", ec);
  for (const auto& layer : plan->layers) {
    absl::StatusOr<fs::path> stored = StoreLayer(layer, layer_dir, limits);
    if (!stored.ok()) return fail(stored.status());
    if (absl::Status s = StackLayer(*stored, work / "rootfs"); !s.ok()) return fail(s);
  }
  fs::remove_all(work / "outer", ec);
  ::chmod((work / "rootfs").c_str(), 0755);
  {
    std::ofstream out(work / "image.json");
    out << Summary(image).dump(2);
    if (!out) return fail(absl::InternalError("cannot write image.json"));
  }
  ::chmod(work.c_str(), 0755);
  if (::rename(work.c_str(), final_dir.c_str()) != 0) {
    // Someone else finished the same image first: use theirs.
    fs::remove_all(work, ec);
    if (fs::exists(final_dir / "image.json", ec)) return LoadSummary(final_dir, hex);
    return absl::InternalError(
        absl::StrCat("cannot store unpacked image in '", final_dir.string(), "'"));
  }
  image.rootfs = final_dir / "rootfs";
  return image;
}

namespace {

// An entry's name without a leading "./".
std::string EntryName(struct archive_entry* entry) {
  const char* raw = archive_entry_pathname(entry);
  std::string name = raw ? raw : "";
  while (name.starts_with("./")) name.erase(0, 2);
  return name;
}

using ArchiveReader = std::unique_ptr<struct archive, int (*)(struct archive*)>;

absl::StatusOr<ArchiveReader> OpenTar(const fs::path& image_tar) {
  ArchiveReader in(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_filename(in.get(), image_tar.c_str(), 1 << 20) != ARCHIVE_OK) {
    return absl::NotFoundError(absl::StrCat("cannot open image '", image_tar.string(),
                                            "': ", archive_error_string(in.get())));
  }
  return in;
}

// What the Docker runner needs of a `docker save` tarball: its first manifest entry and
// the image id computed from the bytes of the config that entry names (an image's id is
// the SHA-256 of its config, which pins every layer by its diff_id).
struct DockerArchiveInfo {
  json manifest;
  std::string image_id;  // "sha256:<64 hex>"
};

// One pass over the tarball: manifest.json (written last by `docker save`) and the
// SHA-256 of every small entry, so the config is hashed whatever its position.
// INVALID_ARGUMENT when the manifest names a config that is missing or whose file name
// is not the hash of its bytes; NOT_FOUND when there is no manifest.
absl::StatusOr<DockerArchiveInfo> ReadDockerArchive(const fs::path& image_tar) {
  ASSIGN_OR_RETURN(ArchiveReader in, OpenTar(image_tar));
  constexpr la_int64_t kSmall = 16 << 20;  // configs and manifests are a few KiB
  std::map<std::string, std::string> small_hashes;
  std::optional<json> manifest;
  struct archive_entry* entry;
  int rc;
  std::string buffer(1 << 16, '\0');
  while ((rc = archive_read_next_header(in.get(), &entry)) == ARCHIVE_OK) {
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_size(entry) > kSmall) continue;
    std::string name = EntryName(entry);
    std::string text;
    la_ssize_t n;
    while ((n = archive_read_data(in.get(), buffer.data(), buffer.size())) > 0) {
      text.append(buffer.data(), static_cast<size_t>(n));
    }
    if (n < 0) break;
    if (name == "manifest.json") {
      ASSIGN_OR_RETURN(json parsed, ParseJson(text, "manifest.json"));
      if (parsed.is_array() && !parsed.empty() && parsed[0].is_object()) manifest = parsed[0];
    }
    small_hashes[name] = Sha256Hex(text);
  }
  if (rc != ARCHIVE_EOF) {
    return absl::InvalidArgumentError(absl::StrCat("image '", image_tar.string(),
                                                   "' is not a complete tar archive (",
                                                   archive_error_string(in.get()), ")"));
  }
  if (!manifest) {
    return absl::NotFoundError(absl::StrCat(
        "image '", image_tar.string(), "' has no manifest.json (not a `docker save` tarball)"));
  }
  std::string config = manifest->value("Config", std::string());
  while (config.starts_with("./")) config.erase(0, 2);
  auto it = small_hashes.find(config);
  if (config.empty() || it == small_hashes.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image '", image_tar.string(),
                     "': manifest.json names no image config in the tarball ('", config, "')"));
  }
  // The name says which id the image claims; the bytes say which it is. A tarball whose
  // config is named after another image would make the engine run that other image.
  std::string named = fs::path(config).filename().string();
  if (named.ends_with(".json")) named.resize(named.size() - 5);
  if (named != it->second) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image '", image_tar.string(), "': its config '", config, "' hashes to sha256:", it->second,
        ", not to the id its name claims; the tarball was altered after "
        "`docker save`"));
  }
  return DockerArchiveInfo{*manifest, absl::StrCat("sha256:", it->second)};
}

// The same, memoized by the file's stat key: reading the manifest means reading the
// whole tarball, and the Docker runner asks for each task.
absl::StatusOr<DockerArchiveInfo> DockerArchive(const fs::path& image_tar) {
  static std::mutex mu;
  static std::map<FileStatKey, DockerArchiveInfo> memo;
  ASSIGN_OR_RETURN(FileStatKey key, StatKey(image_tar));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = memo.find(key); it != memo.end()) return it->second;
  }
  ASSIGN_OR_RETURN(DockerArchiveInfo info, ReadDockerArchive(image_tar));
  std::lock_guard<std::mutex> lock(mu);
  memo[key] = info;
  return info;
}

}  // namespace

absl::StatusOr<std::string> DockerArchiveImageId(const fs::path& image_tar) {
  ASSIGN_OR_RETURN(DockerArchiveInfo info, DockerArchive(image_tar));
  return info.image_id;
}

absl::Status WriteUntaggedDockerArchive(const fs::path& image_tar, const fs::path& out) {
  ASSIGN_OR_RETURN(ArchiveReader in, OpenTar(image_tar));
  std::unique_ptr<struct archive, int (*)(struct archive*)> w(archive_write_new(),
                                                              archive_write_free);
  archive_write_set_format_pax_restricted(w.get());
  if (archive_write_open_filename(w.get(), out.c_str()) != ARCHIVE_OK) {
    return absl::InternalError(
        absl::StrCat("cannot write '", out.string(), "': ", archive_error_string(w.get())));
  }
  auto write_error = [&]() {
    return absl::InternalError(
        absl::StrCat("cannot write '", out.string(), "': ", archive_error_string(w.get())));
  };
  struct archive_entry* entry;
  int rc;
  std::string buffer(1 << 20, '\0');
  while ((rc = archive_read_next_header(in.get(), &entry)) == ARCHIVE_OK) {
    std::string name = EntryName(entry);
    // The legacy tag file names repositories as well: dropped with the tags.
    if (name == "repositories") continue;
    if (name == "manifest.json") {
      std::string text;
      la_ssize_t n;
      while ((n = archive_read_data(in.get(), buffer.data(), buffer.size())) > 0) {
        text.append(buffer.data(), static_cast<size_t>(n));
      }
      ASSIGN_OR_RETURN(json manifest, ParseJson(text, "manifest.json"));
      if (manifest.is_array()) {
        for (json& image : manifest) {
          if (image.is_object()) image["RepoTags"] = nullptr;
        }
      }
      text = manifest.dump();
      archive_entry_set_size(entry, static_cast<la_int64_t>(text.size()));
      if (archive_write_header(w.get(), entry) != ARCHIVE_OK) return write_error();
      if (archive_write_data(w.get(), text.data(), text.size()) < 0) return write_error();
      continue;
    }
    if (archive_write_header(w.get(), entry) != ARCHIVE_OK) return write_error();
    la_ssize_t n;
    while ((n = archive_read_data(in.get(), buffer.data(), buffer.size())) > 0) {
      if (archive_write_data(w.get(), buffer.data(), static_cast<size_t>(n)) < 0) {
        return write_error();
      }
    }
    if (n < 0) break;
  }
  if (rc != ARCHIVE_EOF) {
    return absl::InvalidArgumentError(absl::StrCat("image '", image_tar.string(),
                                                   "' is not a complete tar archive (",
                                                   archive_error_string(in.get()), ")"));
  }
  if (archive_write_close(w.get()) != ARCHIVE_OK) return write_error();
  return absl::OkStatus();
}

}  // namespace medperf
