// An HTTP proxy on loopback that forwards every request to the MedPerf server and keeps
// a copy of each request, so tests can check exactly what left the site.
#pragma once

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace medperf::testing {

struct RecordedRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
};

class RecordingProxy {
 public:
  RecordingProxy(std::string upstream_host, int upstream_port)
      : host_(std::move(upstream_host)), port_(upstream_port) {
    auto forward = [this](const httplib::Request& req, httplib::Response& res) {
      Forward(req, res);
    };
    // Method handlers (unlike a pre-routing hook) see the request body.
    server_.Get(".*", forward);
    server_.Post(".*", forward);
    server_.Put(".*", forward);
    server_.Patch(".*", forward);
    server_.Delete(".*", forward);
    listen_port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~RecordingProxy() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(listen_port_); }

  std::vector<RecordedRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Forward(const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back({req.method, req.target, req.body});
    }
    httplib::Client client(host_, port_);
    client.set_read_timeout(60, 0);
    httplib::Headers headers;
    for (const auto& [k, v] : req.headers) {
      if (k == "Authorization" || k == "Content-Type" || k == "Accept") headers.emplace(k, v);
    }
    httplib::Request out;
    out.method = req.method;
    out.path = req.target;
    out.headers = headers;
    out.body = req.body;
    auto result = client.send(out);
    if (!result) {
      res.status = 502;
      return;
    }
    res.status = result->status;
    res.body = result->body;
    auto type = result->get_header_value("Content-Type");
    if (!type.empty()) res.set_header("Content-Type", type);
  }

  std::string host_;
  int port_;
  int listen_port_ = 0;
  httplib::Server server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace medperf::testing
