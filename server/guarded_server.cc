#include "server/guarded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>

namespace medperf::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Waits until `fd` is ready for `events` or `until` passes; false on timeout or error.
bool WaitFor(int fd, short events, Clock::time_point until) {
  for (;;) {
    // Rounded up: a wait must not end before `until`.
    auto left = std::chrono::ceil<milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1'000'000)));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Three quarters of the workers serving connections: from then on a request still being
// received, and an idle keep-alive connection, get the short pressure budget.
bool UnderPressure(const ConnectionLimits& limits, int busy) {
  return limits.workers > 0 && busy * 4 >= limits.workers * 3;
}

void AddressOf(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  char host[NI_MAXHOST] = "";
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) == 0) {
    ip = host;
  }
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  }
}

// One connection as cpp-httplib's Stream: buffered reads that fail once the current
// request's read deadline passes, writes bounded by the I/O timeout, optional TLS. The
// socket is non-blocking; every wait is a poll() with a deadline.
class GuardedStream final : public httplib::Stream {
 public:
  // `busy` (may be null): how many connections the server is serving now.
  GuardedStream(int fd, SSL* ssl, const ConnectionLimits& limits,
                const std::atomic<int>* busy = nullptr)
      : fd_(fd), ssl_(ssl), limits_(limits), busy_(busy) {}

  // Starts the read budget of a new request (its first byte is available now).
  void StartRequest() {
    start_ = Clock::now();
    request_bytes_ = 0;
    expired_ = false;
  }
  bool expired() const { return expired_; }
  bool HasBuffered() const { return pos_ < len_ || (ssl_ && SSL_pending(ssl_) > 0); }

  bool is_readable() const override {
    if (HasBuffered()) return true;
    return WaitWithinDeadline(POLLIN);
  }
  bool is_writable() const override {
    return WaitFor(fd_, POLLOUT, Clock::now() + limits_.io_timeout);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ >= len_) {
      ssize_t n = Fill();
      if (n <= 0) return n;
    }
    size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    for (;;) {
      short wait_for = 0;
      if (ssl_) {
        int n = SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 30)));
        if (n > 0) return n;
        int e = SSL_get_error(ssl_, n);
        wait_for = e == SSL_ERROR_WANT_WRITE ? POLLOUT : e == SSL_ERROR_WANT_READ ? POLLIN : 0;
      } else {
        ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) wait_for = POLLOUT;
      }
      if (wait_for == 0 || !WaitFor(fd_, wait_for, Clock::now() + limits_.io_timeout)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      AddressOf(addr, len, ip, port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      AddressOf(addr, len, ip, port);
    }
  }
  socket_t socket() const override { return fd_; }

 private:
  // When the current request must have been received (max() without a budget).
  Clock::time_point RequestDeadline() const {
    if (limits_.request_read_timeout.count() <= 0) return Clock::time_point::max();
    milliseconds budget = limits_.request_read_timeout;
    // Under pressure (three quarters of the workers serving connections), every request
    // still being received gets the short budget: slow clients spread over several
    // addresses, each under its connection cap, would otherwise hold every worker for
    // the full budget while legitimate requests queue behind them.
    if (busy_ != nullptr && UnderPressure(limits_, busy_->load())) {
      budget = std::min(budget, limits_.pressure_read_timeout);
    }
    return start_ + budget + milliseconds(request_bytes_ * 1000 / kMinRequestBytesPerSecond);
  }

  // Waits for `events` until the I/O timeout or the request's deadline, whichever comes
  // first, looking at the deadline again every 200 ms (it shrinks when the server comes
  // under pressure). False when the wait ran out; the request is then marked expired if
  // its deadline, not the I/O timeout, ended it.
  bool WaitWithinDeadline(short events) const {
    const Clock::time_point io_until = Clock::now() + limits_.io_timeout;
    for (;;) {
      const Clock::time_point deadline = RequestDeadline();
      const Clock::time_point until = std::min(io_until, deadline);
      const Clock::time_point now = Clock::now();
      if (now >= until) {
        expired_ = expired_ || deadline <= io_until;
        return false;
      }
      if (WaitFor(fd_, events, std::min(until, now + milliseconds(200)))) return true;
    }
  }

  // Refills the buffer: bytes read, 0 at end of stream, -1 on error or timeout.
  ssize_t Fill() {
    pos_ = len_ = 0;
    for (;;) {
      short wait_for = 0;
      if (ssl_) {
        int n = SSL_read(ssl_, buf_, sizeof buf_);
        if (n > 0) return Got(n);
        int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        wait_for = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      } else {
        ssize_t n = ::recv(fd_, buf_, sizeof buf_, 0);
        if (n >= 0) return Got(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) wait_for = POLLIN;
      }
      if (wait_for == 0 || !WaitWithinDeadline(wait_for)) return -1;
    }
  }
  ssize_t Got(ssize_t n) {
    len_ = static_cast<size_t>(n);
    request_bytes_ += n;
    return n;
  }

  int fd_;
  SSL* ssl_;
  const ConnectionLimits& limits_;
  const std::atomic<int>* busy_;
  char buf_[16 * 1024];
  size_t pos_ = 0, len_ = 0;
  Clock::time_point start_ = Clock::now();
  int64_t request_bytes_ = 0;
  mutable bool expired_ = false;  // set by reads that waited up to the deadline
};

constexpr char kTooManyConnections[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "Content-Length: 53\r\n"
    "\r\n"
    R"({"detail": "Too many connections from your address."})";

}  // namespace

GuardedServer::GuardedServer(ConnectionLimits limits) : limits_(limits) {}

GuardedServer::GuardedServer(ConnectionLimits limits, const std::string& cert_pem,
                             const std::string& key_pem)
    : limits_(limits), tls_wanted_(true) {
  tls_ = SSL_CTX_new(TLS_server_method());
  if (tls_ == nullptr) return;
  SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
  SSL_CTX_set_mode(tls_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(tls_, cert_pem.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(tls_, key_pem.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(tls_) != 1) {
    SSL_CTX_free(tls_);
    tls_ = nullptr;
  }
  ERR_clear_error();
}

GuardedServer::~GuardedServer() {
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

bool GuardedServer::is_valid() const { return !tls_wanted_ || tls_ != nullptr; }

bool GuardedServer::Admit(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  int& n = open_[client];
  if (limits_.max_connections_per_client > 0 && n >= limits_.max_connections_per_client) {
    // One line per burst, not per connection: an attacker must not flood the log.
    auto now = Clock::now();
    if (now - last_refusal_log_ > std::chrono::seconds(10)) {
      last_refusal_log_ = now;
      std::cerr << "medperf-server: refusing connections from " << client << ": " << n
                << " open (limit " << limits_.max_connections_per_client << ")\n";
    }
    return false;
  }
  ++n;
  return true;
}

void GuardedServer::Release(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(client);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  // As cpp-httplib's set_tcp_nodelay would (issue 19: no 40 ms delayed-ACK stalls).
  const int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string client;
  {
    GuardedStream peer(sock, nullptr, limits_);
    int port = 0;
    peer.get_remote_ip_and_port(client, port);
  }
  bool ret = false;
  if (!Admit(client)) {
    if (tls_ == nullptr) {
      // Best effort, without reading the request: the socket buffer takes it at once.
      (void)::send(sock, kTooManyConnections, sizeof kTooManyConnections - 1, MSG_NOSIGNAL);
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return false;
  }

  ++busy_;
  SSL* ssl = nullptr;
  bool ready = true;
  if (tls_ != nullptr) {
    ssl = SSL_new(tls_);
    ready = ssl != nullptr && SSL_set_fd(ssl, sock) == 1;
    // The handshake gets the same budget as reading a request.
    const Clock::time_point until =
        Clock::now() + (limits_.request_read_timeout.count() > 0
                            ? std::min(limits_.request_read_timeout, limits_.io_timeout)
                            : limits_.io_timeout);
    while (ready) {
      int r = SSL_accept(ssl);
      if (r == 1) break;
      int e = SSL_get_error(ssl, r);
      short wait_for = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      ready = wait_for != 0 && WaitFor(sock, wait_for, until);
    }
    ERR_clear_error();
  }

  if (ready) {
    GuardedStream strm(sock, ssl, limits_, &busy_);
    size_t count = keep_alive_max_count_;
    const auto keep_alive = std::chrono::seconds(keep_alive_timeout_sec_);
    while (svr_sock_ != INVALID_SOCKET && count > 0) {
      // Wait for the next request in short slices, so that stop() is noticed.
      const Clock::time_point idle_since = Clock::now();
      bool arrived = strm.HasBuffered();
      // Under pressure an idle connection gives its worker back after the short budget.
      auto idle_until = [&] {
        return idle_since +
               (UnderPressure(limits_, busy_.load())
                    ? std::min<Clock::duration>(keep_alive, limits_.pressure_read_timeout)
                    : Clock::duration(keep_alive));
      };
      while (!arrived && svr_sock_ != INVALID_SOCKET && Clock::now() < idle_until()) {
        arrived = WaitFor(sock, POLLIN, std::min(idle_until(), Clock::now() + milliseconds(100)));
      }
      if (!arrived || svr_sock_ == INVALID_SOCKET) break;
      strm.StartRequest();
      bool connection_closed = false;
      ret = process_request(strm, count == 1, connection_closed, nullptr);
      // Past its deadline a request gets no second chance on the same connection.
      if (strm.expired()) {
        auto now = Clock::now();
        std::lock_guard<std::mutex> lock(mu_);
        if (now - last_expiry_log_ > std::chrono::seconds(10)) {
          last_expiry_log_ = now;
          std::cerr << "medperf-server: closed a connection from " << client
                    << ": request not received within its read deadline\n";
        }
        break;
      }
      if (!ret || connection_closed) break;
      --count;
    }
  }

  if (ssl != nullptr) {
    if (ready) SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  --busy_;
  Release(client);
  return ret;
}

}  // namespace medperf::server
