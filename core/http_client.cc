#include "core/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/errors.h"

namespace medperf {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Transfer {
  CURL* curl = nullptr;
  std::string url;
  const BodySink* sink = nullptr;
  std::string* body = nullptr;
  uint64_t max_bytes = 0;
  uint64_t received = 0;
  absl::Status sink_status;
  std::map<std::string, std::string>* headers = nullptr;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  t->received += n;
  if (t->max_bytes && t->received > t->max_bytes) {
    t->sink_status = absl::ResourceExhaustedError(
        absl::StrCat("response body exceeds the limit of ", t->max_bytes, " bytes"));
    return 0;
  }
  if (t->sink) {
    // Refuse to stream an error page into the caller's file.
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 0 && (status < 200 || status >= 300)) {
      t->sink_status =
          absl::NotFoundError(absl::StrCat("download of ", t->url, " failed: HTTP ", status));
      return 0;
    }
    t->sink_status = (*t->sink)(std::string_view(data, n));
    if (!t->sink_status.ok()) return 0;
  } else {
    t->body->append(data, n);
  }
  return n;
}

size_t OnHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  absl::string_view line(data, n);
  // A redirect starts a new header block: keep only the final response's headers.
  if (absl::StartsWith(line, "HTTP/")) t->headers->clear();
  auto colon = line.find(':');
  if (colon != absl::string_view::npos) {
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    (*t->headers)[name] = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return n;
}

// The scheme://host[:port] part of `url`, which names the peer in messages.
std::string Origin(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t path = url.find('/', scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

// A TLS failure the client cannot get past by retrying: the peer's certificate is not
// trusted, does not match, or the configured CA bundle is unusable.
bool IsTlsConfigurationError(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:  // handshake refused, e.g. https:// to a plain-http port
      return true;
    default:
      return false;
  }
}

// Classified where it arises (core/errors.h): TLS problems are configuration errors
// (FAILED_PRECONDITION, never retried); refused connections, DNS failures and timeouts
// make the server unreachable (UNAVAILABLE / DEADLINE_EXCEEDED, retried).
absl::Status CurlError(CURLcode code, const std::string& url, const char* detail) {
  std::string msg = absl::StrCat(url, ": ", detail[0] ? detail : curl_easy_strerror(code));
  ErrorInfo info;
  info.server_url = Origin(url);
  info.reason = curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      info.error_class = ErrorClass::kServerUnreachable;
      return WithErrorInfo(absl::DeadlineExceededError(msg), info);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return absl::InvalidArgumentError(msg);
    case CURLE_FILE_COULDNT_READ_FILE:
      return absl::NotFoundError(msg);
    default:
      if (IsTlsConfigurationError(code)) {
        info.error_class = ErrorClass::kConfiguration;
        info.object_kind = "tls";
        // curl's detail says which check failed ("self-signed certificate"); it names
        // no URL, so it can stand in the sentence.
        if (detail[0]) info.reason = detail;
        return WithErrorInfo(absl::FailedPreconditionError(msg), info);
      }
      info.error_class = ErrorClass::kServerUnreachable;
      return WithErrorInfo(absl::UnavailableError(msg), info);
  }
}

}  // namespace

bool IsSupportedUrl(std::string_view url) {
  absl::string_view u(url.data(), url.size());
  return absl::StartsWithIgnoreCase(u, "http://") || absl::StartsWithIgnoreCase(u, "https://") ||
         absl::StartsWithIgnoreCase(u, "file://");
}

HttpClient::HttpClient(TlsOptions tls) : tls_(std::move(tls)) { GlobalInitOnce(); }

namespace {

absl::Status Perform(const TlsOptions& tls, const HttpRequest& req, Transfer& t, long& status) {
  if (!IsSupportedUrl(req.url)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported URL '", req.url, "': expected http://, https:// or file://"));
  }
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return absl::InternalError("curl_easy_init failed");
  CURL* c = curl.get();
  t.curl = c;
  t.url = req.url;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
  if (!tls.ca_bundle.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_bundle.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "medperf-site-agent");

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [k, v] : req.headers) {
    std::string line = absl::StrCat(k, ": ", v);
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }
  // Never send "Expect: 100-continue": some servers stall on it.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  if (req.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }

  CURLcode code = curl_easy_perform(c);
  if (!t.sink_status.ok()) return t.sink_status;
  if (code != CURLE_OK) return CurlError(code, req.url, errbuf);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) const {
  HttpResponse response;
  Transfer t;
  t.body = &response.body;
  t.headers = &response.headers;
  absl::Status st = Perform(tls_, request, t, response.status);
  if (!st.ok()) return st;
  return response;
}

absl::Status HttpClient::Download(const std::string& url, const BodySink& sink, uint64_t max_bytes,
                                  std::chrono::milliseconds timeout) const {
  HttpRequest req;
  req.url = url;
  req.timeout = timeout;
  std::map<std::string, std::string> headers;
  Transfer t;
  t.sink = &sink;
  t.max_bytes = max_bytes;
  t.headers = &headers;
  long status = 0;
  absl::Status st = Perform(tls_, req, t, status);
  if (!st.ok()) return st;
  if (status != 0 && (status < 200 || status >= 300)) {
    return absl::NotFoundError(absl::StrCat("download of ", url, " failed: HTTP ", status));
  }
  return absl::OkStatus();
}

}  // namespace medperf
