#include "server/faults.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace medperf::server {

std::string_view FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kServerError:
      return "500";
    case FaultKind::kReset:
      return "reset";
    case FaultKind::kSlow:
      return "slow";
    case FaultKind::kTruncated:
      return "truncated";
  }
  return "none";
}

absl::StatusOr<FaultOptions> ParseFaultSpec(std::string_view spec) {
  FaultOptions o;
  bool in_kinds = false;
  bool kinds_given = false;
  auto add_kind = [&](absl::string_view word) -> absl::Status {
    for (FaultKind k :
         {FaultKind::kServerError, FaultKind::kReset, FaultKind::kSlow, FaultKind::kTruncated}) {
      if (std::string_view(word.data(), word.size()) == FaultKindName(k)) {
        o.kinds.push_back(k);
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("--faults: unknown kind '", word,
                                                   "': expected 500, reset, slow or truncated"));
  };
  for (absl::string_view item :
       absl::StrSplit(absl::string_view(spec.data(), spec.size()), ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    auto eq = item.find('=');
    if (eq == absl::string_view::npos) {
      if (!in_kinds) {
        return absl::InvalidArgumentError(
            absl::StrCat("--faults: expected key=value, got '", item, "'"));
      }
      if (absl::Status s = add_kind(item); !s.ok()) return s;
      continue;
    }
    absl::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    in_kinds = false;
    if (key == "rate") {
      if (!absl::SimpleAtod(value, &o.rate) || !(o.rate >= 0 && o.rate <= 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--faults: rate must be a number from 0 to 1, got '", value, "'"));
      }
    } else if (key == "kinds") {
      in_kinds = kinds_given = true;
      if (absl::Status s = add_kind(value); !s.ok()) return s;
    } else if (key == "slow_ms") {
      int64_t ms = 0;
      if (!absl::SimpleAtoi(value, &ms) || ms < 0 || ms > 600000) {
        return absl::InvalidArgumentError(
            absl::StrCat("--faults: slow_ms must be 0..600000, got '", value, "'"));
      }
      o.slow = std::chrono::milliseconds(ms);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--faults: unknown key '", key, "': expected rate, kinds or slow_ms"));
    }
  }
  if (!kinds_given) {
    o.kinds = {FaultKind::kServerError, FaultKind::kReset, FaultKind::kSlow, FaultKind::kTruncated};
  }
  return o;
}

FaultInjector::FaultInjector(FaultOptions options)
    : options_(std::move(options)), rng_(options_.seed) {}

FaultKind FaultInjector::Next(std::string_view path) {
  if (!options_.enabled() || path.substr(0, 8) != "/api/v0/") return FaultKind::kNone;
  std::lock_guard<std::mutex> lock(mu_);
  // Two draws per request whatever the outcome, so one request's fault does not shift
  // the decisions of the following ones.
  double p = std::uniform_real_distribution<double>(0, 1)(rng_);
  size_t k = std::uniform_int_distribution<size_t>(0, options_.kinds.size() - 1)(rng_);
  return p < options_.rate ? options_.kinds[k] : FaultKind::kNone;
}

std::string TruncatedResponse(int status, const std::string& content_type,
                              const std::string& body) {
  return absl::StrCat("HTTP/1.1 ", status, " Truncated\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n",
                      body.substr(0, body.size() / 2));
}

namespace {

int PortOf(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  }
  return -1;
}

}  // namespace

bool CutConnection(int local_port, int remote_port, const std::string& send_first, bool reset) {
  // Find the socket among our descriptors by its two ports (unique on one host).
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return false;
  int found = -1;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t len = sizeof(local);
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      continue;
    }
    len = sizeof(peer);
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
      continue;
    }
    if (PortOf(local) == local_port && PortOf(peer) == remote_port) {
      found = static_cast<int>(fd);
      break;
    }
  }
  ::closedir(dir);
  if (found < 0) return false;
  for (size_t off = 0; off < send_first.size();) {
    ssize_t n = ::send(found, send_first.data() + off, send_first.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (reset) {
    linger lg{1, 0};
    ::setsockopt(found, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return false;
  // dup2 closes the socket (RST with linger 0, else FIN) and keeps the number valid.
  bool ok = ::dup2(devnull, found) == found;
  ::close(devnull);
  return ok;
}

}  // namespace medperf::server
