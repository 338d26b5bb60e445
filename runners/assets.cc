#include "runners/assets.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/absl_view.h"
#include "core/errors.h"
#include "core/files.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"

namespace medperf {
namespace fs = std::filesystem;
namespace {

// Writes to a temp file in the cache and hashes on the way; removes it unless kept.
class TempWriter {
 public:
  ~TempWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty() && !kept_) ::unlink(path_.c_str());
  }
  absl::Status Open(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string tmpl = (dir / "fetch-XXXXXX").string();
    fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd_ < 0) {
      return absl::InternalError(absl::StrCat("cannot create a temp file in '", dir.string(),
                                              "': ", std::strerror(errno)));
    }
    path_ = tmpl;
    return absl::OkStatus();
  }
  absl::Status Write(std::string_view chunk) {
    hash_.Update(chunk);
    size_t off = 0;
    while (off < chunk.size()) {
      ssize_t n = ::write(fd_, chunk.data() + off, chunk.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::ResourceExhaustedError(
            absl::StrCat("cannot write '", path_.string(), "': ", std::strerror(errno)));
      }
      off += static_cast<size_t>(n);
    }
    size_ += chunk.size();
    return absl::OkStatus();
  }
  absl::Status Close() {
    int fd = fd_;
    fd_ = -1;
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      return absl::InternalError(absl::StrCat("cannot write '", path_.string(), "'"));
    }
    return absl::OkStatus();
  }
  std::string Hex() { return hash_.FinalHex(); }
  uint64_t size() const { return size_; }
  const fs::path& path() const { return path_; }
  void Keep() { kept_ = true; }

 private:
  int fd_ = -1;
  fs::path path_;
  Sha256Stream hash_;
  uint64_t size_ = 0;
  bool kept_ = false;
};

// The name under local/ of what a local file held when it was last hashed: its absolute
// path, device, inode, size, mtime and ctime (nanoseconds). A file whose stat says the
// same is taken to hold the same bytes, as make and rsync assume; ctime cannot be set
// back by users, so an edit in place is always noticed.
std::string LocalFileKey(const fs::path& absolute, const struct stat& st) {
  return Sha256Hex(
      absl::StrCat(absolute.string(), "\n", st.st_dev, ":", st.st_ino, ":", st.st_size, ":",
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, ":",
                   static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec));
}

absl::Status CopyLocal(const fs::path& source, uint64_t max_bytes, TempWriter& writer) {
  int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open '", source.string(), "': ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("'", source.string(), "' is not a regular file"));
  }
  std::unique_ptr<char[]> buffer(new char[1 << 20]);
  absl::Status status;
  while (true) {
    ssize_t n = ::read(fd, buffer.get(), 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = absl::InternalError(absl::StrCat("cannot read '", source.string(), "'"));
      break;
    }
    if (n == 0) break;
    if (max_bytes > 0 && writer.size() + static_cast<uint64_t>(n) > max_bytes) {
      status = absl::ResourceExhaustedError(absl::StrCat("larger than ", max_bytes, " bytes"));
      break;
    }
    status = writer.Write(std::string_view(buffer.get(), static_cast<size_t>(n)));
    if (!status.ok()) break;
  }
  ::close(fd);
  return status;
}

void RemoveAppleDoubles(const fs::path& root) {
  std::error_code ec;
  std::vector<fs::path> victims;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with("._")) victims.push_back(it->path());
  }
  for (const auto& v : victims) fs::remove_all(v, ec);
}

}  // namespace

AssetCache::AssetCache(fs::path root, HttpClient client, ExtractLimits extract_limits)
    : root_(std::move(root)), client_(std::move(client)), extract_limits_(extract_limits) {}

int AssetCache::DiscardUnfinished() {
  std::vector<fs::path> doomed;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ / "tmp", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    doomed.push_back(it->path());
  }
  for (auto it = fs::directory_iterator(root_ / "extracted", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(".extract-")) doomed.push_back(it->path());
  }
  int removed = 0;
  for (const fs::path& p : doomed) removed += fs::remove_all(p, ec) > 0;
  return removed;
}

std::optional<fs::path> AssetCache::Lookup(std::string_view sha256) const {
  auto hex = NormalizeSha256(sha256);
  if (!hex.ok()) return std::nullopt;
  fs::path p = root_ / "sha256" / *hex;
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p;
  return std::nullopt;
}

absl::StatusOr<Asset> AssetCache::Fetch(std::string_view name, std::string_view source,
                                        std::string_view expected_sha256,
                                        const FetchOptions& options) {
  std::string what = absl::StrCat("asset '", AV(name), "' from '", AV(source), "'");
  std::string expected;
  if (!expected_sha256.empty()) {
    auto hex = NormalizeSha256(expected_sha256);
    if (!hex.ok())
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", hex.status().message()));
    expected = *hex;
    if (auto cached = Lookup(expected)) {
      std::error_code ec;
      return Asset{*cached, expected, static_cast<uint64_t>(fs::file_size(*cached, ec)), false};
    }
  }
  std::string location(source);
  if (location.starts_with("direct:")) location = location.substr(7);
  if (location.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty source"));
  if (location.starts_with("synapse:")) {
    return absl::UnimplementedError(absl::StrCat(what, ": Synapse sources are not supported"));
  }
  // A local file with no registered hash (e.g. an image tarball being submitted) is
  // copied and hashed once; later fetches of the unchanged file reuse the cached copy.
  std::optional<fs::path> memo;
  if (expected.empty() && !IsSupportedUrl(location) && location.find("://") == std::string::npos) {
    std::error_code ec;
    fs::path absolute = fs::absolute(location, ec);
    struct stat st;
    if (!ec && ::stat(absolute.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      memo = root_ / "local" / LocalFileKey(absolute, st);
      absl::StatusOr<std::string> hex = ReadSmallFile(*memo, 64, "local file record");
      if (hex.ok() && IsSha256Hex(*hex)) {
        if (auto cached = Lookup(*hex)) {
          return Asset{*cached, *hex, static_cast<uint64_t>(st.st_size), false};
        }
      }
    }
  }
  TempWriter writer;
  RETURN_IF_ERROR(writer.Open(root_ / "tmp"));
  absl::Status status;
  if (IsSupportedUrl(location)) {
    status = client_.Download(
        location, [&](std::string_view chunk) { return writer.Write(chunk); }, options.max_bytes,
        options.timeout);
  } else if (location.find("://") != std::string::npos) {
    status = absl::InvalidArgumentError("unsupported URL scheme (http, https, file only)");
  } else {
    status = CopyLocal(location, options.max_bytes, writer);
  }
  if (status.ok()) status = writer.Close();
  if (!status.ok()) {
    return WithMessage(status, absl::StrCat("cannot fetch ", what, ": ", status.message()));
  }
  std::string actual = writer.Hex();
  if (!expected.empty() && actual != expected) {
    return absl::DataLossError(absl::StrCat("hash mismatch for ", what, ": expected sha256 ",
                                            expected, ", got ", actual,
                                            "; the file was discarded"));
  }
  fs::path final_path = root_ / "sha256" / actual;
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  ::chmod(writer.path().c_str(), 0444);
  if (!fs::exists(final_path, ec)) {
    if (::rename(writer.path().c_str(), final_path.c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot store ", what, " in the cache: ", std::strerror(errno)));
    }
    writer.Keep();
  }
  if (memo) {
    // Best effort: without the record the file is only hashed again next time.
    fs::create_directories(memo->parent_path(), ec);
    fs::path tmp = memo->string() + ".tmp";
    if (std::ofstream(tmp) << actual) ::rename(tmp.c_str(), memo->c_str());
  }
  return Asset{final_path, actual, writer.size(), true};
}

absl::StatusOr<fs::path> AssetCache::FetchExtracted(std::string_view name, std::string_view source,
                                                    std::string_view expected_sha256,
                                                    const FetchOptions& options) {
  std::error_code ec;
  if (!expected_sha256.empty()) {
    if (auto hex = NormalizeSha256(expected_sha256); hex.ok()) {
      fs::path dir = root_ / "extracted" / *hex;
      if (fs::is_directory(dir, ec)) return dir;
    }
  }
  ASSIGN_OR_RETURN(Asset asset, Fetch(name, source, expected_sha256, options));
  fs::path dir = root_ / "extracted" / asset.sha256;
  if (fs::is_directory(dir, ec)) return dir;
  fs::create_directories(dir.parent_path(), ec);
  auto stats = ExtractArchive(asset.path, dir, extract_limits_);
  if (!stats.ok()) {
    if (fs::is_directory(dir, ec)) return dir;  // a concurrent fetch won the race
    return absl::Status(stats.status().code(),
                        absl::StrCat("asset '", AV(name), "': ", stats.status().message()));
  }
  RemoveAppleDoubles(dir);
  return dir;
}

absl::StatusOr<DemoDataset> AssetCache::FetchDemoDataset(std::string_view source,
                                                         std::string_view expected_sha256,
                                                         const FetchOptions& options) {
  ASSIGN_OR_RETURN(fs::path root, FetchExtracted("demo dataset", source, expected_sha256, options));
  ASSIGN_OR_RETURN(DemoDataset demo, ParseDemoPaths(root));
  demo.sha256 = root.filename().string();
  return demo;
}

absl::StatusOr<DemoDataset> ParseDemoPaths(const fs::path& root) {
  fs::path file = root / "paths.yaml";
  std::string where = absl::StrCat("demo dataset '", root.string(), "': paths.yaml");
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(file, ec))) {
    return absl::NotFoundError(
        absl::StrCat(where, " is missing (the tarball must hold paths.yaml at its root)"));
  }
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(file, 64 << 10, where));
  // The one YAML loader (core/yaml_json.h): bounded, and duplicate keys are errors.
  absl::StatusOr<YAML::Node> loaded = LoadYamlBounded(text, where);
  if (!loaded.ok()) {
    std::string message(loaded.status().message());
    const std::string prefix = where + ": invalid YAML: ";
    if (message.starts_with(prefix))
      message = where + ": not valid YAML: " + message.substr(prefix.size());
    return absl::InvalidArgumentError(message);
  }
  YAML::Node doc = *loaded;
  if (!doc.IsMap()) return absl::InvalidArgumentError(absl::StrCat(where, ": expected a mapping"));
  fs::path canonical_root = fs::canonical(root, ec);
  auto resolve = [&](const char* key, bool required) -> absl::StatusOr<std::optional<fs::path>> {
    YAML::Node node;
    try {
      node = doc[key];
    } catch (const std::exception&) {
    }
    if (!node.IsDefined() || node.IsNull()) {
      if (!required) return std::optional<fs::path>();
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, " is required"));
    }
    if (!node.IsScalar() || node.Scalar().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", key, ": expected a relative path string"));
    }
    fs::path rel(node.Scalar());
    if (rel.is_absolute()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, ": '", rel.string(),
                                                     "' must be relative to the dataset root"));
    }
    fs::path full = fs::canonical(root / rel, ec);
    if (ec) {
      return absl::NotFoundError(
          absl::StrCat(where, ": ", key, ": '", rel.string(), "' does not exist in the dataset"));
    }
    auto [root_end, unused] =
        std::mismatch(canonical_root.begin(), canonical_root.end(), full.begin(), full.end());
    if (root_end != canonical_root.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", key, ": '", rel.string(), "' points outside the dataset"));
    }
    return std::optional<fs::path>(full);
  };
  DemoDataset demo;
  demo.root = root;
  ASSIGN_OR_RETURN(auto data, resolve("data_path", true));
  ASSIGN_OR_RETURN(auto labels, resolve("labels_path", true));
  ASSIGN_OR_RETURN(demo.metadata_path, resolve("metadata_path", false));
  demo.data_path = *data;
  demo.labels_path = *labels;
  return demo;
}

bool IsAssetUrl(const std::string& source) {
  return absl::StrContains(source, "://") || absl::StartsWith(source, "direct:") ||
         absl::StartsWith(source, "synapse:");
}

}  // namespace medperf
