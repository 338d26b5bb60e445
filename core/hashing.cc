#include "core/hashing.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/absl_view.h"
#include "core/tree_walk.h"

namespace medperf {
namespace {

// 1 MiB reads keep syscall overhead negligible next to SHA-256 itself.
constexpr size_t kReadBuffer = 1 << 20;

std::string ToHex(const unsigned char* digest, unsigned int size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (unsigned int i = 0; i < size; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

absl::Status ErrnoStatus(int err, absl::string_view what, const std::filesystem::path& path) {
  std::string message = absl::StrCat(what, " '", path.string(), "': ", std::strerror(err));
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

}  // namespace

struct Sha256Stream::Ctx {
  EVP_MD_CTX* md = nullptr;
  Ctx() : md(EVP_MD_CTX_new()) { EVP_DigestInit_ex(md, EVP_sha256(), nullptr); }
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256Stream::Sha256Stream() : ctx_(std::make_unique<Ctx>()) {}
Sha256Stream::~Sha256Stream() = default;
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;

void Sha256Stream::Update(const void* data, size_t size) {
  if (size == 0) return;
  EVP_DigestUpdate(ctx_->md, data, size);
  bytes_ += size;
}

void Sha256Stream::Update(std::string_view data) { Update(data.data(), data.size()); }

std::string Sha256Stream::FinalHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx_->md, digest, &size);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  bytes_ = 0;
  return ToHex(digest, size);
}

std::string Sha256Hex(std::string_view data) {
  Sha256Stream stream;
  stream.Update(data);
  return stream.FinalHex();
}

namespace {

// Check the cancel flag every this many bytes within one file.
constexpr uint64_t kCancelCheckBytes = uint64_t{8} << 20;
// Directory levels FoldersHash descends (each holds one file descriptor while walked).
constexpr int kMaxFolderDepth = 512;

bool Cancelled(const HashOptions& options) {
  return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed);
}

absl::Status CancelledHashing(const std::filesystem::path& path) {
  return absl::CancelledError(absl::StrCat("hashing '", path.string(), "' was cancelled"));
}

// Hashes an open regular file to its end; `path` only names it in messages.
absl::StatusOr<std::string> HashOpenFile(int fd, const std::filesystem::path& path,
                                         const HashOptions& options) {
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<char[]> buffer(new char[kReadBuffer]);
  Sha256Stream stream;
  uint64_t since_check = 0;
  while (true) {
    if (since_check >= kCancelCheckBytes) {
      if (Cancelled(options)) return CancelledHashing(path);
      if (options.on_read) options.on_read(since_check);
      since_check = 0;
    }
    ssize_t n = ::read(fd, buffer.get(), kReadBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read", path);
    }
    if (n == 0) break;
    stream.Update(buffer.get(), static_cast<size_t>(n));
    since_check += static_cast<uint64_t>(n);
  }
  if (options.on_read && since_check > 0) options.on_read(since_check);
  return stream.FinalHex();
}

// An openat() for hashing: O_NONBLOCK so that opening a FIFO (or a device that waits for
// a carrier) returns at once; the caller checks the type in `st` before reading.
// fd < 0 with `err` set when the open or the fstat failed.
struct Opened {
  int fd = -1;
  int err = 0;
  struct stat st {};
};

Opened OpenForHashing(int dir_fd, const char* name, bool follow) {
  Opened o;
  o.fd = ::openat(dir_fd, name,
                  O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW));
  if (o.fd < 0) {
    o.err = errno;
    return o;
  }
  if (::fstat(o.fd, &o.st) != 0) {
    o.err = errno;
    ::close(o.fd);
    o.fd = -1;
    return o;
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so reads are plain blocking reads.
  if (S_ISREG(o.st.st_mode)) ::fcntl(o.fd, F_SETFL, ::fcntl(o.fd, F_GETFL) & ~O_NONBLOCK);
  return o;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

absl::StatusOr<std::string> Sha256File(const std::filesystem::path& path,
                                       const HashOptions& options) {
  if (Cancelled(options)) return CancelledHashing(path);
  Opened o = OpenForHashing(AT_FDCWD, path.c_str(), /*follow=*/!options.untrusted);
  if (o.fd < 0) {
    if (o.err == ELOOP && options.untrusted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot hash '", path.string(), "': it is a symbolic link, which is not followed"));
    }
    return ErrnoStatus(o.err, "cannot open", path);
  }
  FdCloser closer{o.fd};
  if (S_ISDIR(o.st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot hash '", path.string(), "': is a directory"));
  }
  if (!S_ISREG(o.st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot hash '", path.string(), "': is a ",
                                                   AV(FileTypeName(o.st.st_mode)),
                                                   ", not a regular file"));
  }
  return HashOpenFile(o.fd, path, options);
}

absl::StatusOr<std::string> FoldersHash(const std::vector<std::filesystem::path>& folders,
                                        const HashOptions& options) {
  std::vector<std::string> hashes;
  for (const auto& folder : folders) {
    TreeWalkOptions walk;
    // The folder itself is named by the caller; only an untrusted one must not be a link.
    walk.follow_root_symlink = !options.untrusted;
    walk.max_depth = kMaxFolderDepth;
    walk.cancel = options.cancel;
    auto refuse = [&](const TreeEntry& e, std::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot hash folder '", folder.string(), "': '", AV(e.relative), "' is a ",
                       AV(what), "; only regular files and directories are allowed here"));
    };
    absl::Status walked = WalkTree(folder, walk, [&](const TreeEntry& e) -> absl::Status {
      if (e.depth == 0) {
        if (S_ISDIR(e.st.st_mode)) return absl::OkStatus();
        if (S_ISLNK(e.st.st_mode)) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot hash folder '", folder.string(), "': it is a symbolic link"));
        }
        return absl::NotFoundError(
            absl::StrCat("cannot hash folder '", folder.string(), "': not a directory"));
      }
      if (S_ISDIR(e.st.st_mode)) return absl::OkStatus();
      if (Cancelled(options)) return CancelledHashing(folder);
      const std::filesystem::path shown = folder / std::string(e.relative);
      bool follow = false;
      if (S_ISLNK(e.st.st_mode)) {
        if (options.untrusted) return refuse(e, "symbolic link");
        // Like the client's os.walk + open(): a link to a regular file is hashed by its
        // contents; links to directories (not descended into), to special files and
        // dangling links are skipped.
        struct stat target;
        if (::fstatat(e.dir_fd, e.name, &target, 0) != 0 || !S_ISREG(target.st_mode)) {
          return absl::OkStatus();
        }
        follow = true;
      } else if (!S_ISREG(e.st.st_mode)) {
        if (options.untrusted) return refuse(e, FileTypeName(e.st.st_mode));
        return absl::OkStatus();  // the client's os.walk would list it; we never block on it
      }
      Opened o = OpenForHashing(e.dir_fd, e.name, follow);
      if (o.fd < 0) {
        if (o.err == ELOOP) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot hash '", shown.string(), "': it changed into a symbolic link"));
        }
        return ErrnoStatus(o.err, "cannot open", shown);
      }
      FdCloser closer{o.fd};
      if (!S_ISREG(o.st.st_mode) ||
          (!follow && (o.st.st_dev != e.st.st_dev || o.st.st_ino != e.st.st_ino))) {
        if (!options.untrusted && follow) return absl::OkStatus();
        return absl::InvalidArgumentError(absl::StrCat(
            "cannot hash '", shown.string(), "': it changed while the folder was hashed"));
      }
      absl::StatusOr<std::string> hash = HashOpenFile(o.fd, shown, options);
      if (!hash.ok()) return hash.status();
      hashes.push_back(*std::move(hash));
      return absl::OkStatus();
    });
    if (absl::IsCancelled(walked)) return CancelledHashing(folder);
    if (!walked.ok()) return walked;
  }
  std::sort(hashes.begin(), hashes.end());
  Sha256Stream stream;
  for (const auto& h : hashes) stream.Update(h);
  return stream.FinalHex();
}

bool IsSha256Hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string ComparableSha256(std::string_view hash) {
  std::string h(hash);
  std::transform(h.begin(), h.end(), h.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (h.compare(0, 7, "sha256:") == 0) h.erase(0, 7);
  return h;
}

absl::StatusOr<std::string> NormalizeSha256(std::string_view text) {
  std::string hex(text);
  if (hex.size() > 7 && (hex.compare(0, 7, "sha256:") == 0 || hex.compare(0, 7, "SHA256:") == 0)) {
    hex = hex.substr(7);
  }
  std::transform(hex.begin(), hex.end(), hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!IsSha256Hex(hex)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::string_view(text.data(), text.size()),
                     "' is not a SHA-256 hash (expected 64 hex digits, optionally "
                     "prefixed with 'sha256:')"));
  }
  return hex;
}

}  // namespace medperf
