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

absl::StatusOr<std::string> Sha256File(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot hash '", path.string(), "': is a directory"));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<char[]> buffer(new char[kReadBuffer]);
  Sha256Stream stream;
  while (true) {
    ssize_t n = ::read(fd, buffer.get(), kReadBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "cannot read", path);
    }
    if (n == 0) break;
    stream.Update(buffer.get(), static_cast<size_t>(n));
  }
  ::close(fd);
  return stream.FinalHex();
}

absl::StatusOr<std::string> FoldersHash(const std::vector<std::filesystem::path>& folders) {
  std::vector<std::string> hashes;
  for (const auto& folder : folders) {
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) {
      return absl::NotFoundError(
          absl::StrCat("cannot hash folder '", folder.string(), "': not a directory"));
    }
    // Like the client's os.walk: symlinked directories are not descended into, while a
    // symlink to a file is hashed by its contents (open follows it).
    std::filesystem::recursive_directory_iterator it(folder,
                                                     std::filesystem::directory_options::none, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot list '", folder.string(), "': ", ec.message()));
    }
    for (; it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        return absl::InternalError(
            absl::StrCat("cannot list '", folder.string(), "': ", ec.message()));
      }
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec)) continue;
      auto hash = Sha256File(it->path());
      if (!hash.ok()) return hash.status();
      hashes.push_back(*std::move(hash));
    }
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot list '", folder.string(), "': ", ec.message()));
    }
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
