// A loopback static file server for tests: serves a folder over HTTP the way the
// tutorials host container configs, parameters, weights and the demo dataset.
#pragma once

#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

namespace medperf::testing {

class StaticFileServer {
 public:
  explicit StaticFileServer(const std::filesystem::path& root) {
    server_.set_mount_point("/", root.string());
    server_.set_logger([this](const httplib::Request&, const httplib::Response&) { ++requests_; });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~StaticFileServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  StaticFileServer(const StaticFileServer&) = delete;
  StaticFileServer& operator=(const StaticFileServer&) = delete;

  bool ok() const { return port_ > 0; }
  // The URL of a file relative to the root, e.g. Url("model/container_config.yaml").
  std::string Url(const std::string& relative) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + relative;
  }
  int requests() const { return requests_.load(); }

 private:
  httplib::Server server_;
  int port_ = -1;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace medperf::testing
