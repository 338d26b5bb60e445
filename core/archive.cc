#include "core/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/absl_view.h"
#include "core/status_macros.h"

namespace medperf {
namespace fs = std::filesystem;
namespace {

constexpr size_t kBlockSize = 1 << 20;

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<struct archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<struct archive, WriteDeleter>;

std::string Quote(std::string_view s) { return absl::StrCat("'", AV(s), "'"); }

// Splits an entry name into safe components: relative, no "..", "." and empty parts
// dropped. Returns an error message (empty on success).
std::string SplitEntryName(std::string_view raw, std::vector<std::string>* parts) {
  parts->clear();
  if (raw.empty()) return "empty entry name";
  if (raw.front() == '/') return "absolute path";
  for (absl::string_view part : absl::StrSplit(absl::string_view(raw.data(), raw.size()), '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return "path contains '..'";
    parts->emplace_back(part);
  }
  return "";
}

// Lexically resolves a relative symlink target against the link's directory; false
// when it climbs above the root.
bool SymlinkStaysInside(const std::vector<std::string>& link_parts, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  std::vector<std::string> stack(link_parts.begin(), link_parts.end() - 1);
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(target.data(), target.size()), '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (stack.empty()) return false;
      stack.pop_back();
    } else {
      stack.emplace_back(part);
    }
  }
  return true;
}

enum class Mode { kGeneric, kLayer };

class Extractor {
 public:
  Extractor(fs::path archive_path, fs::path root, Mode mode, ExtractLimits limits)
      : archive_path_(std::move(archive_path)),
        root_(std::move(root)),
        mode_(mode),
        limits_(limits) {}

  void keep_whiteouts(bool keep) { keep_whiteouts_ = keep; }

  absl::StatusOr<ExtractStats> Run() {
    struct stat archive_st;
    if (::stat(archive_path_.c_str(), &archive_st) == 0 && S_ISREG(archive_st.st_mode)) {
      archive_bytes_ = static_cast<uint64_t>(archive_st.st_size);
    }
    ReadArchive in(archive_read_new());
    archive_read_support_filter_all(in.get());
    archive_read_support_format_tar(in.get());
    if (archive_read_open_filename(in.get(), archive_path_.c_str(), kBlockSize) != ARCHIVE_OK) {
      return Fail("", absl::StrCat("cannot open: ", archive_error_string(in.get())));
    }
    WriteArchive out(archive_write_disk_new());
    // No SECURE_NOABSOLUTEPATHS: we rewrite every name to an absolute path under the
    // (canonical) root ourselves, after checking it. No OWNER/XATTR/ACL/FFLAGS: file
    // capabilities, ownership and immutable flags from an archive are never applied.
    archive_write_disk_set_options(
        out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                       ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
    struct archive_entry* entry = nullptr;
    while (true) {
      int r = archive_read_next_header(in.get(), &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        return Fail(
            "", absl::StrCat("corrupt or unreadable archive: ", archive_error_string(in.get())));
      }
      RETURN_IF_ERROR(HandleEntry(in.get(), out.get(), entry));
    }
    if (archive_write_close(out.get()) != ARCHIVE_OK) {
      return Fail("", absl::StrCat("cannot finish extraction: ", archive_error_string(out.get())));
    }
    return stats_;
  }

 private:
  absl::Status Fail(std::string_view entry, std::string_view why) const {
    if (entry.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("archive ", Quote(archive_path_.string()), ": ", AV(why)));
    }
    return absl::InvalidArgumentError(absl::StrCat("archive ", Quote(archive_path_.string()),
                                                   ": entry ", Quote(entry), ": ", AV(why)));
  }

  // Checks `done` bytes of earlier entries plus `more` of this one against the total cap
  // and the expansion ratio; `how` is "declared" or "written" for the message.
  absl::Status CheckSize(std::string_view name, uint64_t done, uint64_t more,
                         std::string_view how) const {
    const uint64_t total = more > UINT64_MAX - done ? UINT64_MAX : done + more;
    if (total > limits_.max_total_bytes) {
      return Fail(name, absl::StrCat(total, " bytes ", AV(how), " exceed the total size limit of ",
                                     limits_.max_total_bytes, " bytes per archive"));
    }
    if (limits_.max_expansion_ratio == 0 || total <= limits_.expansion_check_above_bytes) {
      return absl::OkStatus();
    }
    const uint64_t allowed = archive_bytes_ > UINT64_MAX / limits_.max_expansion_ratio
                                 ? UINT64_MAX
                                 : archive_bytes_ * limits_.max_expansion_ratio;
    if (total > allowed) {
      return Fail(name, absl::StrCat(total, " bytes ", AV(how), " from a ", archive_bytes_,
                                     "-byte archive exceed the expansion limit of ",
                                     limits_.max_expansion_ratio, ":1 (enforced above ",
                                     limits_.expansion_check_above_bytes,
                                     " bytes): refusing a likely decompression bomb"));
    }
    return absl::OkStatus();
  }

  // Every existing ancestor of `parts` (inside the root) must be a real directory, so
  // that nothing is ever written through a symlink planted earlier.
  absl::Status CheckParents(std::string_view name, const std::vector<std::string>& parts,
                            size_t count) {
    std::string rel;
    for (size_t i = 0; i < count; ++i) {
      if (!rel.empty()) rel += '/';
      rel += parts[i];
      if (verified_dirs_.contains(rel)) continue;
      struct stat st;
      fs::path p = root_ / rel;
      if (::lstat(p.c_str(), &st) != 0) {
        if (errno == ENOENT) return absl::OkStatus();  // created by libarchive below
        return Fail(name, absl::StrCat("cannot inspect ", Quote(rel), ": ", std::strerror(errno)));
      }
      if (S_ISLNK(st.st_mode))
        return Fail(name, absl::StrCat("path goes through symlink ", Quote(rel)));
      if (!S_ISDIR(st.st_mode)) return Fail(name, absl::StrCat(Quote(rel), " is not a directory"));
      verified_dirs_.insert(rel);
    }
    return absl::OkStatus();
  }

  absl::Status ApplyWhiteout(std::string_view name, const std::vector<std::string>& parts) {
    const std::string& base = parts.back();
    RETURN_IF_ERROR(CheckParents(name, parts, parts.size() - 1));
    std::string dir_rel = absl::StrJoin(parts.begin(), parts.end() - 1, "/");
    fs::path dir = dir_rel.empty() ? root_ : root_ / dir_rel;
    std::error_code ec;
    verified_dirs_.clear();
    if (base == ".wh..wh..opq") {
      // Opaque directory: hide everything lower layers put here, keep this layer's.
      if (!fs::is_directory(fs::symlink_status(dir, ec))) return absl::OkStatus();
      for (const auto& child : fs::directory_iterator(dir, ec)) {
        std::string child_rel = dir_rel.empty() ? child.path().filename().string()
                                                : dir_rel + "/" + child.path().filename().string();
        if (layer_paths_.contains(child_rel)) continue;
        fs::remove_all(child.path(), ec);
      }
      return absl::OkStatus();
    }
    std::string victim = base.substr(4);
    if (victim.empty() || victim == "." || victim == "..") return Fail(name, "bad whiteout");
    fs::remove_all(dir / victim, ec);
    if (ec) return Fail(name, absl::StrCat("cannot apply whiteout: ", ec.message()));
    return absl::OkStatus();
  }

  // An empty regular file of the whiteout's name, whatever the tar says it is.
  absl::Status WriteWhiteoutMarker(std::string_view name, const std::vector<std::string>& parts) {
    RETURN_IF_ERROR(CheckParents(name, parts, parts.size() - 1));
    fs::path dest = root_ / absl::StrJoin(parts, "/");
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    ::unlink(dest.c_str());
    int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      return Fail(name, absl::StrCat("cannot write whiteout marker: ", std::strerror(errno)));
    }
    ::close(fd);
    return absl::OkStatus();
  }

  absl::Status HandleEntry(struct archive* in, struct archive* out, struct archive_entry* entry) {
    const char* raw_name = archive_entry_pathname(entry);
    std::string name = raw_name ? raw_name : "";
    if (++stats_.entries > limits_.max_entries) {
      return Fail(name, absl::StrCat("too many entries (limit ", limits_.max_entries, ")"));
    }
    std::vector<std::string> parts;
    if (std::string why = SplitEntryName(name, &parts); !why.empty()) return Fail(name, why);
    if (parts.empty()) return absl::OkStatus();  // "./": the root itself
    std::string rel = absl::StrJoin(parts, "/");

    if (mode_ == Mode::kLayer && parts.back().starts_with(".wh.")) {
      return keep_whiteouts_ ? WriteWhiteoutMarker(name, parts) : ApplyWhiteout(name, parts);
    }

    const char* hardlink = archive_entry_hardlink(entry);
    mode_t type = archive_entry_filetype(entry);
    bool is_link = hardlink != nullptr;
    if (!is_link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      const char* kind = type == AE_IFCHR    ? "character device"
                         : type == AE_IFBLK  ? "block device"
                         : type == AE_IFIFO  ? "fifo"
                         : type == AE_IFSOCK ? "socket"
                                             : "unsupported file type";
      if (mode_ == Mode::kLayer) return absl::OkStatus();  // images may carry /dev nodes
      return Fail(name, absl::StrCat(kind, " entries are not allowed"));
    }

    int64_t declared = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
    if (declared < 0) return Fail(name, absl::StrCat("negative declared size ", declared));
    // A bomb that declares its sizes honestly is refused before anything is written.
    RETURN_IF_ERROR(CheckSize(name, stats_.bytes, static_cast<uint64_t>(declared), "declared"));

    RETURN_IF_ERROR(CheckParents(name, parts, parts.size() - 1));

    fs::path dest = root_ / rel;
    // An existing final component that is a symlink, or a directory about to be
    // replaced by a non-directory, is removed first so nothing is written through it.
    struct stat st;
    if (::lstat(dest.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode) && type != AE_IFDIR) {
        if (mode_ == Mode::kGeneric) return Fail(name, "replaces a directory");
        std::error_code ec;
        fs::remove_all(dest, ec);
      } else if (S_ISLNK(st.st_mode) || (!S_ISDIR(st.st_mode) && type == AE_IFDIR)) {
        ::unlink(dest.c_str());
      }
    }

    if (is_link) {
      std::vector<std::string> target_parts;
      if (std::string why = SplitEntryName(hardlink, &target_parts); !why.empty()) {
        return Fail(name, absl::StrCat("hardlink target ", Quote(hardlink), ": ", why));
      }
      std::string target_rel = absl::StrJoin(target_parts, "/");
      if (mode_ == Mode::kGeneric && !regular_files_.contains(target_rel)) {
        return Fail(name, absl::StrCat("hardlink target ", Quote(hardlink),
                                       " is not an earlier regular file of the archive"));
      }
      RETURN_IF_ERROR(CheckParents(name, target_parts, target_parts.size() - 1));
      fs::path target = root_ / target_rel;
      if (::lstat(target.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) {
        return Fail(name, absl::StrCat("hardlink target ", Quote(hardlink), " does not exist"));
      }
      archive_entry_set_hardlink(entry, target.c_str());
    } else if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      std::string target_str = target ? target : "";
      if (mode_ == Mode::kGeneric && !SymlinkStaysInside(parts, target_str)) {
        return Fail(name, absl::StrCat("symlink target ", Quote(target_str),
                                       " points outside the target directory"));
      }
      verified_dirs_.clear();
    }

    archive_entry_set_pathname(entry, dest.c_str());
    // Strip setuid/setgid/sticky; keep directories traversable for the extractor.
    mode_t perm = archive_entry_perm(entry) & 0777;
    if (type == AE_IFDIR) perm |= 0700;
    archive_entry_set_perm(entry, perm);

    int r = archive_write_header(out, entry);
    if (r < ARCHIVE_WARN) {
      return Fail(name, absl::StrCat("cannot extract: ", archive_error_string(out)));
    }
    uint64_t entry_bytes = 0;
    if (!is_link && type == AE_IFREG) {
      const void* buffer;
      size_t size;
      la_int64_t offset;
      while (true) {
        r = archive_read_data_block(in, &buffer, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
          return Fail(name, absl::StrCat("cannot read data: ", archive_error_string(in)));
        }
        // Sparse holes count too: the size a file would take once copied elsewhere.
        entry_bytes = std::max<uint64_t>(entry_bytes, static_cast<uint64_t>(offset) + size);
        RETURN_IF_ERROR(CheckSize(name, stats_.bytes, entry_bytes, "written"));
        if (archive_write_data_block(out, buffer, size, offset) < ARCHIVE_WARN) {
          return Fail(name, absl::StrCat("cannot write: ", archive_error_string(out)));
        }
      }
      regular_files_.insert(rel);
    }
    if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
      return Fail(name, absl::StrCat("cannot finish: ", archive_error_string(out)));
    }
    stats_.bytes += entry_bytes;
    if (mode_ == Mode::kLayer) layer_paths_.insert(rel);
    if (type == AE_IFDIR && !is_link) verified_dirs_.insert(rel);
    return absl::OkStatus();
  }

  fs::path archive_path_;
  fs::path root_;
  Mode mode_;
  bool keep_whiteouts_ = false;
  ExtractLimits limits_;
  uint64_t archive_bytes_ = 0;  // size of the archive file, for the expansion ratio
  ExtractStats stats_;
  std::unordered_set<std::string> verified_dirs_;
  std::unordered_set<std::string> regular_files_;
  std::unordered_set<std::string> layer_paths_;
};

}  // namespace

absl::StatusOr<ExtractStats> ExtractArchive(const fs::path& archive_path,
                                            const fs::path& target_dir,
                                            const ExtractLimits& limits) {
  std::error_code ec;
  fs::path target = fs::absolute(target_dir, ec);
  if (ec || target.filename().empty()) target = fs::absolute(target_dir.parent_path(), ec);
  if (!fs::exists(archive_path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("archive ", Quote(archive_path.string()), " not found"));
  }
  if (fs::exists(fs::symlink_status(target, ec))) {
    if (!fs::is_directory(fs::symlink_status(target, ec)) || !fs::is_empty(target, ec)) {
      return absl::AlreadyExistsError(
          absl::StrCat("cannot extract archive ", Quote(archive_path.string()), ": target ",
                       Quote(target.string()), " already exists and is not an empty directory"));
    }
  }
  fs::path parent = target.parent_path();
  fs::create_directories(parent, ec);
  // Canonical parent so that libarchive's symlink checks on the absolute names we
  // hand it never trip over a symlink in the host's own path.
  parent = fs::canonical(parent, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", Quote(target.parent_path().string()), ": ", ec.message()));
  }
  std::string tmpl = (parent / (".extract-" + target.filename().string() + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a temp dir in ", Quote(parent.string()),
                                            ": ", std::strerror(errno)));
  }
  fs::path tmp(tmpl);
  auto stats = Extractor(archive_path, tmp, Mode::kGeneric, limits).Run();
  if (stats.ok()) {
    ::chmod(tmp.c_str(), 0755);
    if (::rename(tmp.c_str(), (parent / target.filename()).c_str()) != 0) {
      stats = absl::InternalError(absl::StrCat("cannot move extracted archive ",
                                               Quote(archive_path.string()), " to ",
                                               Quote(target.string()), ": ", std::strerror(errno)));
    }
  }
  if (!stats.ok()) fs::remove_all(tmp, ec);
  return stats;
}

absl::StatusOr<ExtractStats> ExtractLayer(const fs::path& layer_path, const fs::path& root_dir,
                                          const LayerOptions& options) {
  std::error_code ec;
  fs::path root = fs::canonical(root_dir, ec);
  if (ec || !fs::is_directory(root)) {
    return absl::NotFoundError(
        absl::StrCat("image root ", Quote(root_dir.string()), " is not a directory"));
  }
  Extractor extractor(layer_path, root, Mode::kLayer, options.limits);
  extractor.keep_whiteouts(options.keep_whiteouts);
  return extractor.Run();
}

namespace {

absl::Status AddToArchive(struct archive* out, const fs::path& source_dir, const std::string& rel,
                          std::vector<char>& buffer) {
  fs::path full = source_dir / rel;
  struct stat st;
  if (::lstat(full.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot pack ", Quote(full.string()), ": ", std::strerror(errno)));
  }
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> entry(archive_entry_new(),
                                                                               archive_entry_free);
  archive_entry_copy_stat(entry.get(), &st);
  archive_entry_set_pathname(entry.get(), rel.c_str());
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  archive_entry_set_nlink(entry.get(), 1);
  archive_entry_set_ino64(entry.get(), 0);
  archive_entry_set_dev(entry.get(), 0);
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    fs::path target = fs::read_symlink(full, ec);
    archive_entry_set_symlink(entry.get(), target.c_str());
    archive_entry_set_size(entry.get(), 0);
  } else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot pack ", Quote(full.string()), ": not a file, directory or symlink"));
  }
  if (S_ISDIR(st.st_mode)) archive_entry_set_size(entry.get(), 0);
  if (archive_write_header(out, entry.get()) != ARCHIVE_OK) {
    return absl::InternalError(
        absl::StrCat("cannot pack ", Quote(rel), ": ", archive_error_string(out)));
  }
  if (S_ISREG(st.st_mode)) {
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("cannot read ", Quote(full.string()), ": ", std::strerror(errno)));
    }
    ssize_t n;
    while ((n = ::read(fd, buffer.data(), buffer.size())) > 0) {
      if (archive_write_data(out, buffer.data(), static_cast<size_t>(n)) < 0) {
        ::close(fd);
        return absl::InternalError(
            absl::StrCat("cannot pack ", Quote(rel), ": ", archive_error_string(out)));
      }
    }
    ::close(fd);
    if (n < 0) return absl::InternalError(absl::StrCat("cannot read ", Quote(full.string())));
  }
  if (S_ISDIR(st.st_mode)) {
    std::vector<std::string> children;
    std::error_code ec;
    for (const auto& child : fs::directory_iterator(full, ec)) {
      children.push_back(child.path().filename().string());
    }
    if (ec)
      return absl::InternalError(
          absl::StrCat("cannot list ", Quote(full.string()), ": ", ec.message()));
    std::sort(children.begin(), children.end());
    for (const auto& child : children) {
      RETURN_IF_ERROR(
          AddToArchive(out, source_dir, rel == "." ? child : rel + "/" + child, buffer));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CreateTarGz(const fs::path& source_dir, const std::vector<std::string>& entries,
                         const fs::path& output) {
  std::error_code ec;
  if (!fs::is_directory(source_dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("cannot pack ", Quote(source_dir.string()), ": not a directory"));
  }
  std::vector<std::string> names;
  for (const auto& e : entries) {
    std::vector<std::string> parts;
    if (std::string why = SplitEntryName(e, &parts); !why.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot pack entry ", Quote(e), ": ", why));
    }
    names.push_back(parts.empty() ? "." : absl::StrJoin(parts, "/"));
  }
  if (names.empty()) names.push_back(".");
  fs::path tmp = output;
  tmp += absl::StrCat(".tmp-", ::getpid(), "-", reinterpret_cast<uintptr_t>(&names));
  WriteArchive out(archive_write_new());
  archive_write_add_filter_gzip(out.get());
  archive_write_set_format_pax_restricted(out.get());
  if (archive_write_open_filename(out.get(), tmp.c_str()) != ARCHIVE_OK) {
    return absl::InternalError(absl::StrCat("cannot create ", Quote(output.string()), ": ",
                                            archive_error_string(out.get())));
  }
  std::vector<char> buffer(kBlockSize);
  absl::Status status;
  for (const auto& name : names) {
    if (name == ".") {
      std::vector<std::string> children;
      for (const auto& child : fs::directory_iterator(source_dir, ec)) {
        children.push_back(child.path().filename().string());
      }
      std::sort(children.begin(), children.end());
      for (const auto& child : children) {
        status = AddToArchive(out.get(), source_dir, child, buffer);
        if (!status.ok()) break;
      }
    } else {
      status = AddToArchive(out.get(), source_dir, name, buffer);
    }
    if (!status.ok()) break;
  }
  if (status.ok() && archive_write_close(out.get()) != ARCHIVE_OK) {
    status = absl::InternalError(absl::StrCat("cannot write ", Quote(output.string()), ": ",
                                              archive_error_string(out.get())));
  }
  out.reset();
  if (status.ok() && ::rename(tmp.c_str(), output.c_str()) != 0) {
    status = absl::InternalError(
        absl::StrCat("cannot write ", Quote(output.string()), ": ", std::strerror(errno)));
  }
  if (!status.ok()) fs::remove(tmp, ec);
  return status;
}

}  // namespace medperf
