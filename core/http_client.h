// A small synchronous HTTP client over libcurl, shared by the MedPerf REST client and
// the asset downloader. http, https and file URLs only; TLS verification is on unless
// explicitly disabled.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace medperf {

struct TlsOptions {
  // PEM bundle of CAs to trust instead of the system's; empty = system default.
  std::string ca_bundle;
  bool verify = true;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
};

struct HttpResponse {
  long status = 0;  // 0 for file:// URLs that were read successfully
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Receives each chunk of a streamed body; a non-OK status aborts the transfer.
using BodySink = std::function<absl::Status(std::string_view chunk)>;

class HttpClient {
 public:
  explicit HttpClient(TlsOptions tls = {});

  // Sends a request and collects the whole body. Transport failures carry an ErrorInfo
  // (core/errors.h) naming the peer's origin: refused, unresolvable or reset connections
  // are UNAVAILABLE and timeouts DEADLINE_EXCEEDED (class kServerUnreachable, retryable);
  // TLS verification or handshake failures are FAILED_PRECONDITION (kConfiguration,
  // object_kind "tls", never retried). Any HTTP status is returned as a response.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) const;

  // Streams a GET of `url` into `sink`, failing with a clear message if the server
  // answers other than 2xx or the body exceeds `max_bytes` (0 = unlimited).
  absl::Status Download(const std::string& url, const BodySink& sink, uint64_t max_bytes = 0,
                        std::chrono::milliseconds timeout = std::chrono::minutes(30)) const;

 private:
  TlsOptions tls_;
};

// True for URLs this client can fetch (http://, https://, file://).
bool IsSupportedUrl(std::string_view url);

}  // namespace medperf
