// The connection loop of medperf-server's HTTP front end, in place of cpp-httplib's own:
// cpp-httplib 0.11 bounds each recv() but not a request, so a client trickling one header
// byte every few seconds holds a worker thread forever, and 40 such connections starve
// the pool (issue 13). GuardedServer keeps cpp-httplib's request parsing and routing
// (Server::process_request) and adds, per connection:
//   * a read deadline per request: the request line, headers and body must arrive within
//     `request_read_timeout` of the request's first byte, plus one second per
//     kMinRequestBytesPerSecond bytes received (so large bodies on slow links still fit);
//     past it the connection is closed without an answer;
//   * a cap on the connections one client address holds at once (open and idle
//     keep-alive ones alike); over it the connection is answered 503 with Retry-After
//     and closed (for TLS: closed), before any of its bytes are read;
//   * under pressure (three quarters of `workers` serving connections, e.g. slow
//     clients spread over several addresses, each under its cap), every request still
//     being received gets `pressure_read_timeout` instead, and idle keep-alive
//     connections are closed after it, so workers come free within about a second;
//   * TLS done here with OpenSSL (cpp-httplib's SSLServer runs its own loop).
#pragma once

#include <openssl/ssl.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace medperf::server {

struct ConnectionLimits {
  // Budget for reading one request (line, headers, body) from its first byte; 0 = none.
  std::chrono::milliseconds request_read_timeout{10'000};
  // Connections one client IP address may hold at once; 0 = no cap.
  int max_connections_per_client = 16;
  // Longest wait for one read or write to make progress (cpp-httplib's read/write timeout).
  std::chrono::milliseconds io_timeout{30'000};
  // The worker pool's size (0: unknown, no pressure rule) and the read budget of a request,
  // and the idle time of a keep-alive connection, once three quarters of it are busy.
  int workers = 0;
  std::chrono::milliseconds pressure_read_timeout{1'000};
};

// Bytes per second a request must keep up to earn time beyond request_read_timeout.
inline constexpr int64_t kMinRequestBytesPerSecond = 64 * 1024;

class GuardedServer : public httplib::Server {
 public:
  // Plain HTTP.
  explicit GuardedServer(ConnectionLimits limits);
  // HTTPS with a PEM certificate chain and key; is_valid() is false if they do not load.
  GuardedServer(ConnectionLimits limits, const std::string& cert_pem, const std::string& key_pem);
  ~GuardedServer() override;
  GuardedServer(const GuardedServer&) = delete;
  GuardedServer& operator=(const GuardedServer&) = delete;

  bool is_valid() const override;

 private:
  // Called by cpp-httplib's listener on a worker thread for each accepted socket; owns
  // and closes it.
  bool process_and_close_socket(socket_t sock) override;
  // Counts the connection against its client; false if that would exceed the cap.
  bool Admit(const std::string& client);
  void Release(const std::string& client);

  ConnectionLimits limits_;
  SSL_CTX* tls_ = nullptr;
  bool tls_wanted_ = false;
  std::mutex mu_;
  std::atomic<int> busy_{0};         // connections admitted and not yet closed
  std::map<std::string, int> open_;  // client address -> open connections
  // Log lines about refusals and expiries are rate-limited (one per 10 s each).
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::chrono::steady_clock::time_point last_expiry_log_{};
};

}  // namespace medperf::server
