// `medperf-server serve`: the Api over cpp-httplib, with optional TLS and graceful
// shutdown on SIGTERM/SIGINT.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/faults.h"

namespace medperf::server {

struct ServeOptions {
  std::filesystem::path db;
  std::string host = "127.0.0.1";
  int port = 8000;  // 0 = any free port (printed)
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  std::vector<std::string> auto_approve_benchmarks_from;
  size_t max_body_bytes = 8 << 20;
  int threads = 32;
  // Time to receive one request (request line, headers, body) from its first byte, plus
  // 1 s per 64 KiB received; past it the connection is closed. 0 = no bound (only the
  // 30 s per-read timeout). --request-read-timeout-ms.
  std::chrono::milliseconds request_read_timeout{10'000};
  // Connections one client IP address may hold at once, open or idle (keep-alive); over
  // it a connection gets 503 + Retry-After and is closed. Keep it well below `threads`
  // so one client cannot take the whole pool. 0 = no cap. --max-connections-per-client.
  int max_connections_per_client = 16;
  // --faults / --fault-seed: injected failures on /api/v0 (off by default).
  FaultOptions faults;
};

// Blocks until SIGTERM/SIGINT. Prints "listening on http(s)://HOST:PORT" to stderr once
// the socket is bound. The caller must have blocked SIGTERM and SIGINT in all threads.
absl::Status Serve(const ServeOptions& options);

}  // namespace medperf::server
