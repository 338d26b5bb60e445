// Gates for the crash tests: loopback servers that stop one exchange half-way and hold
// it until the test says how it ends, so a test can kill medperfd at an exact moment
// (a request in flight, a download half-received) instead of racing a sleep.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace medperf::testing {

// An HTTP proxy in front of the MedPerf server that can hold one request.
class GatedProxy {
 public:
  using Match = std::function<bool(const httplib::Request&)>;

  GatedProxy(std::string upstream_host, int upstream_port)
      : host_(std::move(upstream_host)), port_(upstream_port) {
    auto forward = [this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
    };
    server_.Get(".*", forward);
    server_.Post(".*", forward);
    server_.Put(".*", forward);
    server_.Patch(".*", forward);
    server_.Delete(".*", forward);
    listen_port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~GatedProxy() {
    Release(false);
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  GatedProxy(const GatedProxy&) = delete;
  GatedProxy& operator=(const GatedProxy&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(listen_port_); }

  // The next request `match` accepts is held (not forwarded) until Release().
  void HoldNext(Match match) {
    std::lock_guard<std::mutex> lock(mu_);
    match_ = std::move(match);
    held_ = released_ = done_ = false;
  }
  // Waits until the request is held.
  bool WaitHeld(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return held_; });
  }
  // Lets the held request go on to the server (`forward`) or answers it 502 without the
  // server ever seeing it; either way once its sender may be dead.
  void Release(bool forward) {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    forward_ = forward;
    cv_.notify_all();
  }
  // Waits until the released request is over (forwarded and answered, or dropped).
  bool WaitDone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  // How many requests `match` accepts have reached the proxy so far.
  int Count(const Match& match) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const httplib::Request& r : seen_) n += match(r) ? 1 : 0;
    return n;
  }

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    bool hold = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      seen_.push_back(req);
      if (match_ && match_(req)) {
        match_ = nullptr;
        hold = held_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
        if (!forward_) {
          done_ = true;
          cv_.notify_all();
          res.status = 502;
          return;
        }
      }
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
    if (result) {
      res.status = result->status;
      res.body = result->body;
      auto type = result->get_header_value("Content-Type");
      if (!type.empty()) res.set_header("Content-Type", type);
    } else {
      res.status = 502;
    }
    if (hold) {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cv_.notify_all();
    }
  }

  std::string host_;
  int port_;
  int listen_port_ = 0;
  httplib::Server server_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  Match match_;
  bool held_ = false, released_ = false, forward_ = false, done_ = false;
  std::vector<httplib::Request> seen_;
};

// Serves one file at /<name>; while closed, every download stops after `hold_after`
// bytes and waits for Open() (a download whose client died then fails to write).
class GatedFileServer {
 public:
  GatedFileServer(std::string name, std::string content, size_t hold_after)
      : name_(std::move(name)), content_(std::move(content)), hold_after_(hold_after) {
    server_.Get("/" + name_, [this](const httplib::Request&, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++requests_;
      }
      res.set_content_provider(content_.size(), "application/octet-stream",
                               [this](size_t offset, size_t length, httplib::DataSink& sink) {
                                 size_t end = std::min(offset + std::min<size_t>(length, 64 << 10),
                                                       content_.size());
                                 if (offset < hold_after_ && end > hold_after_) end = hold_after_;
                                 if (offset == hold_after_) {
                                   std::unique_lock<std::mutex> lock(mu_);
                                   ++holds_;
                                   cv_.notify_all();
                                   cv_.wait(lock, [&] { return open_ || stopping_; });
                                   if (stopping_) return false;
                                 }
                                 return sink.write(content_.data() + offset, end - offset);
                               });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (port_ > 0 && !server_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~GatedFileServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  GatedFileServer(const GatedFileServer&) = delete;
  GatedFileServer& operator=(const GatedFileServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + name_; }
  // Downloads may finish from now on.
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until `n` downloads in all have been stopped at the gate.
  bool WaitHolds(int n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return holds_ >= n; });
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  std::string name_;
  std::string content_;
  size_t hold_after_;
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false, stopping_ = false;
  int holds_ = 0;
  int requests_ = 0;
};

}  // namespace medperf::testing
