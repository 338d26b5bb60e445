#include "server/http_server.h"

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/api.h"
#include "server/guarded_server.h"
#include "server/sqlite_db.h"

namespace medperf::server {

absl::Status Serve(const ServeOptions& options) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  ASSIGN_OR_RETURN(auto db, Db::Open(options.db));
  Api api(db.get(), ApiOptions{options.auto_approve_benchmarks_from});

  const bool tls = !options.tls_cert.empty();
  // Our own connection loop (and TLS) around cpp-httplib's request handling: it bounds
  // the time to receive each request and the connections per client (issue 13).
  ConnectionLimits limits;
  limits.request_read_timeout = options.request_read_timeout;
  limits.max_connections_per_client = options.max_connections_per_client;
  limits.io_timeout = std::chrono::seconds(30);
  limits.workers = options.threads;
  auto server = tls ? std::make_unique<GuardedServer>(limits, options.tls_cert.string(),
                                                      options.tls_key.string())
                    : std::make_unique<GuardedServer>(limits);
  if (!server->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load TLS certificate ",
                                                   options.tls_cert.string(), " / key ",
                                                   options.tls_key.string()));
  }
  const std::string scheme = tls ? "https" : "http";
  // Each connection holds a worker while kept alive; size the pool for many clients.
  const int threads = options.threads;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_payload_max_length(options.max_body_bytes);
  // httplib writes a response's headers and body separately; with Nagle's algorithm on,
  // the body waits for the client's delayed ACK, about 40 ms per request on a kept-alive
  // connection (issue 19; bench/server_bench.sh measures it).
  server->set_tcp_nodelay(true);

  int port = options.port;
  FaultInjector faults(options.faults);
  if (options.faults.enabled()) {
    std::cerr << "medperf-server: FAULT INJECTION on: rate=" << options.faults.rate
              << " seed=" << options.faults.seed << std::endl;
  }
  auto handler = [&](const httplib::Request& req, httplib::Response& res) {
    const FaultKind fault = faults.Next(req.path);
    // With faults on, every API request is logged with its fate, so tests can count how
    // many times a client really sent a request.
    if (options.faults.enabled() && req.path.rfind("/api/v0/", 0) == 0) {
      std::cerr << "medperf-server: fault " << FaultKindName(fault) << " " << req.method << " "
                << req.path << std::endl;
    }
    if (fault == FaultKind::kServerError) {
      res.status = 500;
      res.set_content(R"({"detail": "Internal server error (injected)."})", "application/json");
      return;
    }
    if (fault == FaultKind::kSlow) std::this_thread::sleep_for(options.faults.slow);
    ApiRequest r;
    r.method = req.method;
    r.path = req.path;
    for (const auto& [k, v] : req.params) r.query.emplace_back(k, v);
    r.authorization = req.get_header_value("Authorization");
    r.body = req.body;
    std::string host = req.get_header_value("Host");
    if (host.empty() || host.find_first_of(" /\\\"'<>") != std::string::npos) {
      host = absl::StrCat(options.host, ":", port);
    }
    r.base_url = absl::StrCat(scheme, "://", host);
    ApiResponse out = api.Handle(r);
    res.status = out.status;
    if (out.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"api\"");
    if (!out.body.is_null()) {
      res.set_content(out.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      "application/json");
    }
    if (fault == FaultKind::kReset || fault == FaultKind::kTruncated) {
      std::string partial = fault == FaultKind::kTruncated
                                ? TruncatedResponse(res.status, "application/json", res.body)
                                : "";
      if (!CutConnection(req.local_port, req.remote_port, partial, fault == FaultKind::kReset)) {
        std::cerr << "medperf-server: fault injection: connection not found" << std::endl;
      }
    }
  };
  server->Get(".*", handler);
  server->Post(".*", handler);
  server->Put(".*", handler);
  server->Delete(".*", handler);
  server->Patch(".*", handler);
  // httplib's own refusals (oversized body, bad request line) get DRF-like bodies too.
  server->set_error_handler([&](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string detail = res.status == 413 ? absl::StrCat("Request body larger than ",
                                                          options.max_body_bytes, " bytes.")
                                           : absl::StrCat("HTTP ", res.status);
    res.set_content(nlohmann::json{{"detail", detail}}.dump(), "application/json");
  });
  server->set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        std::cerr << "medperf-server: " << req.method << " " << req.path << ": " << what << "\n";
        res.status = 500;
        res.set_content(R"({"detail": "Internal server error."})", "application/json");
      });

  if (port == 0) {
    port = server->bind_to_any_port(options.host);
    if (port < 0) {
      return absl::UnavailableError(absl::StrCat("cannot bind ", options.host, ":0"));
    }
  } else if (!server->bind_to_port(options.host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot bind ", options.host, ":", port));
  }

  // Signals are blocked in every thread; this one waits for them and stops the server.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    signalled = true;
    if (sig != 0) std::cerr << "medperf-server: signal " << sig << ", shutting down\n";
    server->stop();
  });

  // One write: readers (tests, scripts) must never see the line without its port.
  std::cerr << absl::StrCat("listening on ", scheme, "://", options.host, ":", port, "\n")
            << std::flush;
  bool ok = server->listen_after_bind();
  // If listening ended for another reason, release the waiter.
  if (!signalled) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!ok && !signalled) return absl::InternalError("server loop failed");
  std::cerr << "medperf-server: stopped\n";
  return absl::OkStatus();
}

}  // namespace medperf::server
