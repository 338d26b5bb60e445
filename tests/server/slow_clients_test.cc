// medperf-server under slow clients (issue 13): connections that trickle their headers
// must neither starve the worker pool nor live forever. Runs the real binary on loopback
// with its default limits (server/guarded_server.h): 16 connections per client address,
// 10 s to receive a request.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/server_fixture.h"

namespace medperf::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A TCP connection to 127.0.0.1:port from `source` (any 127.x.y.z address: Linux routes
// all of 127/8 to the loopback device, so a test can play several clients).
int ConnectFrom(const char* source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& s) {
  return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// Whatever the server sent so far (without waiting), or "<closed>" once it closed.
std::string Drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return out;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out + "<closed>";
    out.append(buf, static_cast<size_t>(n));
  }
}

// Sends one header byte on every connection every 200 ms until destroyed.
class Trickle {
 public:
  explicit Trickle(const std::vector<int>& fds)
      : thread_([this, fds] {
          while (!stop_) {
            for (int fd : fds) (void)::send(fd, "a", 1, MSG_NOSIGNAL);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
          }
        }) {}
  ~Trickle() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class SlowClientsTest : public ServerFixture {
 public:
  std::string Demo() const override { return "benchmark"; }

 protected:
  // A legitimate GET /me/ from 127.0.0.1 that gives up after `timeout`.
  absl::StatusOr<HttpResponse> LegitimateRequest(std::chrono::seconds timeout) {
    HttpClient http;
    HttpRequest req;
    req.method = "GET";
    req.url = url() + "/api/v0/me/";
    req.timeout = timeout;
    req.headers.emplace_back("Authorization", "Bearer " + tokens_.at(kDo));
    return http.Send(req);
  }
};

TEST_F(SlowClientsTest, FortyHeaderTricklersDoNotStarveALegitimateRequest) {
  // 40 connections from 127.0.0.2, each sending a request line and then one header byte
  // every 200 ms: without limits they hold 32 of 32 workers.
  std::vector<int> slow;
  for (int i = 0; i < 40; ++i) {
    int fd = ConnectFrom("127.0.0.2", port_);
    ASSERT_GE(fd, 0) << "connect from 127.0.0.2: " << std::strerror(errno);
    ASSERT_TRUE(SendAll(fd, "GET /api/v0/me/ HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    slow.push_back(fd);
  }
  auto trickle = std::make_unique<Trickle>(slow);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // A legitimate request from 127.0.0.1 answers, well before any trickler gives up.
  const auto start = Clock::now();
  auto res = LegitimateRequest(std::chrono::seconds(5));
  const auto took = Clock::now() - start;
  ASSERT_TRUE(res.ok()) << res.status() << "\n" << ServerLog();
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_LT(took, std::chrono::seconds(5));

  // The connections over the per-client cap were answered 503 and closed at once.
  int refused = 0;
  for (int fd : slow) {
    std::string got = Drain(fd);
    if (got.rfind("HTTP/1.1 503", 0) == 0) ++refused;
  }
  EXPECT_GE(refused, 20) << ServerLog();
  EXPECT_NE(ServerLog().find("refusing connections from 127.0.0.2"), std::string::npos);
  trickle.reset();
  for (int fd : slow) ::close(fd);
}

TEST_F(SlowClientsTest, TricklersFromSeveralAddressesDoNotStarveALegitimateRequest) {
  // 16 connections (the per-address cap) from each of three addresses: 48 tricklers for
  // 32 workers, none refused. Under pressure their read budget shrinks to a second, so a
  // legitimate request is served long before the full 10 s budget would free a worker.
  std::vector<int> slow;
  for (const char* source : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    for (int i = 0; i < 16; ++i) {
      int fd = ConnectFrom(source, port_);
      ASSERT_GE(fd, 0) << "connect from " << source << ": " << std::strerror(errno);
      ASSERT_TRUE(SendAll(fd, "GET /api/v0/me/ HTTP/1.1\r\nHost: x\r\nX-Slow: "));
      slow.push_back(fd);
    }
  }
  auto trickle = std::make_unique<Trickle>(slow);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // Well under the 10 s read budget the tricklers would otherwise each hold.
  auto res = LegitimateRequest(std::chrono::seconds(6));
  trickle.reset();
  for (int fd : slow) ::close(fd);
  ASSERT_TRUE(res.ok()) << res.status() << "\n" << ServerLog();
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(SlowClientsTest, ATricklingRequestIsCutAtItsReadDeadline) {
  // One header byte every 500 ms never trips the 30 s per-read timeout; the 10 s
  // request budget must end it.
  int fd = ConnectFrom("127.0.0.1", port_);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_TRUE(SendAll(fd, "GET /api/v0/me/ HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  const auto start = Clock::now();
  std::string got;
  while (Clock::now() - start < std::chrono::seconds(25)) {
    got += Drain(fd);
    if (got.find("<closed>") != std::string::npos) break;
    (void)::send(fd, "a", 1, MSG_NOSIGNAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const auto took = Clock::now() - start;
  ::close(fd);
  EXPECT_NE(got.find("<closed>"), std::string::npos) << "still open after 25 s";
  EXPECT_GE(took, std::chrono::seconds(8)) << "cut before its budget: " << got;
  EXPECT_LT(took, std::chrono::seconds(18)) << "not cut at its budget: " << got;
  EXPECT_NE(ServerLog().find("request not received within its read deadline"), std::string::npos)
      << ServerLog();
  // The server still answers.
  EXPECT_TRUE(As(kDo).GetMe().ok());
}

}  // namespace
}  // namespace medperf::testing
