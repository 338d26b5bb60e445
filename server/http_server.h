// `medperf-server serve`: the Api over cpp-httplib, with optional TLS and graceful
// shutdown on SIGTERM/SIGINT.
#pragma once

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
  // --faults / --fault-seed: injected failures on /api/v0 (off by default).
  FaultOptions faults;
};

// Blocks until SIGTERM/SIGINT. Prints "listening on http(s)://HOST:PORT" to stderr once
// the socket is bound. The caller must have blocked SIGTERM and SIGINT in all threads.
absl::Status Serve(const ServeOptions& options);

}  // namespace medperf::server
