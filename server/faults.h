// Fault injection for `medperf-server serve --faults ...`: makes a share of the
// /api/v0 requests fail the way real deployments fail (5xx, dropped connections, slow
// answers, cut-off bodies), so clients' retry and idempotency rules can be tested
// against the real server. Never enabled unless asked for on the command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace medperf::server {

enum class FaultKind {
  kNone,
  kServerError,  // "500": answered 500 without running the request
  kReset,        // "reset": the request runs (and commits), then the TCP connection is reset
  kSlow,         // "slow": the answer is delayed by slow_ms
  kTruncated,    // "truncated": the request runs; the answer announces its full length
                 // but the connection closes after half of the JSON body
};
std::string_view FaultKindName(FaultKind kind);  // "none", "500", "reset", "slow", "truncated"

struct FaultOptions {
  double rate = 0;  // probability that an /api/v0 request gets a fault; 0 = off
  std::vector<FaultKind> kinds;
  std::chrono::milliseconds slow{2000};
  uint64_t seed = 1;

  bool enabled() const { return rate > 0 && !kinds.empty(); }
};

// Parses "rate=0.3,kinds=500,reset,slow,truncated[,slow_ms=N]": a bare word after
// `kinds=` adds one more kind. `rate` is in [0, 1]; kinds default to all four.
absl::StatusOr<FaultOptions> ParseFaultSpec(std::string_view spec);

// Draws the fault of each request from one seeded generator, in arrival order, so a
// sequential client sees the same sequence for the same seed.
class FaultInjector {
 public:
  explicit FaultInjector(FaultOptions options);
  // kNone for paths outside /api/v0 (so /version stays a reliable liveness probe).
  FaultKind Next(std::string_view path);
  const FaultOptions& options() const { return options_; }

 private:
  FaultOptions options_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// The bytes a "truncated" answer puts on the wire: status line and headers with the
// full Content-Length, then only the first half of the body.
std::string TruncatedResponse(int status, const std::string& content_type, const std::string& body);

// Ends this process's TCP connection whose local port is `local_port` and peer port is
// `remote_port`, after writing `send_first` to it: with `reset`, abortively (RST, any
// unsent data dropped), otherwise with a normal FIN. The descriptor's socket is replaced
// by /dev/null, so the HTTP library later writes to and closes a harmless descriptor
// (cpp-httplib does not hand the socket to handlers). False if it was not found.
bool CutConnection(int local_port, int remote_port, const std::string& send_first, bool reset);

}  // namespace medperf::server
