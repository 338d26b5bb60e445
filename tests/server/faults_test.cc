// medperf-server's fault-injection mode (--faults / --fault-seed, server/faults.h): the
// spec parser, the seeded draw, each fault kind as a client sees it on the wire, and the
// REST client (core/rest_client.h) against a faulty server: it never crashes, retries
// GETs until they succeed, and never sends a POST twice.
#include "server/faults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <regex>
#include <set>

#include "tests/server/server_fixture.h"

namespace medperf::testing {
namespace {

using server::FaultInjector;
using server::FaultKind;
using server::FaultOptions;
using server::ParseFaultSpec;
using ::testing::HasSubstr;

TEST(FaultSpecTest, ParsesKindsRateAndSlow) {
  auto o = ParseFaultSpec("rate=0.3,kinds=500,reset,slow,truncated,slow_ms=250");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_DOUBLE_EQ(o->rate, 0.3);
  EXPECT_EQ(o->kinds, (std::vector<FaultKind>{FaultKind::kServerError, FaultKind::kReset,
                                              FaultKind::kSlow, FaultKind::kTruncated}));
  EXPECT_EQ(o->slow, std::chrono::milliseconds(250));
  auto defaults = ParseFaultSpec("rate=1");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->kinds.size(), 4u);  // all kinds when none are named
  EXPECT_TRUE(defaults->enabled());
  EXPECT_FALSE(ParseFaultSpec("rate=0")->enabled());

  EXPECT_THAT(ParseFaultSpec("rate=1.5").status().message(), HasSubstr("rate"));
  EXPECT_THAT(ParseFaultSpec("rate=x").status().message(), HasSubstr("rate"));
  EXPECT_THAT(ParseFaultSpec("rate=0.5,kinds=boom").status().message(), HasSubstr("boom"));
  EXPECT_THAT(ParseFaultSpec("reset").status().message(), HasSubstr("key=value"));
  EXPECT_THAT(ParseFaultSpec("rate=0.5,when=now").status().message(), HasSubstr("when"));
  EXPECT_FALSE(ParseFaultSpec("slow_ms=-1").ok());
}

std::vector<FaultKind> Draw(uint64_t seed, int n, double rate = 0.3) {
  FaultOptions o = *ParseFaultSpec("rate=" + std::to_string(rate));
  o.seed = seed;
  FaultInjector f(o);
  std::vector<FaultKind> out;
  for (int i = 0; i < n; ++i) out.push_back(f.Next("/api/v0/benchmarks/"));
  return out;
}

TEST(FaultInjectorTest, SeededRateAndApiOnly) {
  EXPECT_EQ(Draw(7, 500), Draw(7, 500));
  EXPECT_NE(Draw(7, 500), Draw(8, 500));
  std::vector<FaultKind> d = Draw(7, 2000);
  int faults = 0;
  std::set<FaultKind> kinds;
  for (FaultKind k : d) {
    if (k != FaultKind::kNone) ++faults, kinds.insert(k);
  }
  EXPECT_GT(faults, 2000 * 0.25);
  EXPECT_LT(faults, 2000 * 0.35);
  EXPECT_EQ(kinds.size(), 4u);
  for (FaultKind k : Draw(1, 100, 0.0)) EXPECT_EQ(k, FaultKind::kNone);

  FaultInjector always(*ParseFaultSpec("rate=1,kinds=500"));
  EXPECT_EQ(always.Next("/version"), FaultKind::kNone);
  EXPECT_EQ(always.Next("/api/v0/me/"), FaultKind::kServerError);
}

TEST(FaultInjectorTest, BadFlagsAreUsageErrors) {
  TempDir dir;
  std::string db = (dir / "db.sqlite").string();
  for (const auto& extra :
       std::vector<std::vector<std::string>>{{"--faults", "rate=2"},
                                             {"--faults", "rate=0.1,kinds=meteor"},
                                             {"--fault-seed", "3"},
                                             {"--faults", "rate=0.1", "--fault-seed", "x"}}) {
    std::vector<std::string> argv = {ServerBinary(), "serve", "--db", db, "--port", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult r = RunProcess(argv, std::chrono::seconds(10));
    EXPECT_EQ(r.exit_code, 2) << extra[1] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("--fault")) << r.err;
  }
}

// A seeded server whose serve arguments each test chooses (and may change, then restart).
class FaultyServerTest : public ServerFixture {
 public:
  std::vector<std::string> ExtraServeArgs() const override { return serve_args_; }
  void SetUp() override {}  // each test sets serve_args_ first, then calls Begin()

  void Begin(std::vector<std::string> args) {
    serve_args_ = std::move(args);
    ServerFixture::SetUp();
  }
  void Restart(std::vector<std::string> args) {
    server_->Stop(SIGTERM);
    serve_args_ = std::move(args);
    StartServer();
    // server.log still holds the previous run's "listening on": wait for real answers.
    ASSERT_TRUE(WaitFor([&] {
      HttpRequest req;
      req.url = url() + "/version";
      auto r = HttpClient().Send(req);
      return r.ok() && r->status == 200;
    }));
  }
  HttpRequest Get(const std::string& path) const {
    HttpRequest req;
    req.url = url() + path;
    req.timeout = std::chrono::seconds(10);
    req.headers.emplace_back("Authorization", "Bearer " + tokens_.at(kDo));
    return req;
  }
  // How many requests of `method` to `path_prefix` reached the server (with faults on,
  // the server logs each API request and its fate).
  int Arrivals(const std::string& method, const std::string& path_prefix,
               const std::string& kind = "") const {
    std::string log = ServerLog();
    std::regex line("medperf-server: fault (\\S+) (\\S+) (\\S+)");
    int n = 0;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
         ++it) {
      if ((*it)[2] == method && (*it)[3].str().rfind(path_prefix, 0) == 0 &&
          (kind.empty() || (*it)[1] == kind)) {
        ++n;
      }
    }
    return n;
  }

  std::vector<std::string> serve_args_;
};

TEST_F(FaultyServerTest, ServerErrorKindAnswers500OnApiPathsOnly) {
  Begin({"--faults", "rate=1,kinds=500"});
  HttpClient http;
  auto r = http.Send(Get("/api/v0/benchmarks/1/"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 500);
  EXPECT_TRUE(nlohmann::json::accept(r->body)) << r->body;
  auto v = http.Send(Get("/version"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->status, 200);
  EXPECT_THAT(ServerLog(), HasSubstr("FAULT INJECTION on"));
}

TEST_F(FaultyServerTest, ResetKindDropsTheConnectionWithoutAnAnswer) {
  Begin({"--faults", "rate=1,kinds=reset"});
  HttpClient http;
  auto r = http.Send(Get("/api/v0/benchmarks/1/"));
  ASSERT_FALSE(r.ok()) << "got HTTP " << r->status << ": " << r->body;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(ServerLog(), ::testing::Not(HasSubstr("connection not found")));
  // The server itself keeps serving.
  EXPECT_TRUE(http.Send(Get("/version")).ok());
}

TEST_F(FaultyServerTest, TruncatedKindCutsTheJsonBodyMidway) {
  Begin({"--faults", "rate=1,kinds=truncated"});
  HttpClient http;
  auto r = http.Send(Get("/api/v0/benchmarks/1/"));
  // curl sees fewer bytes than Content-Length announced: a transport error.
  ASSERT_FALSE(r.ok()) << "got HTTP " << r->status << ": " << r->body;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();

  // On the raw socket: a 200 head announcing the whole body, then half of it.
  httplib::Client raw("127.0.0.1", port_);
  raw.set_read_timeout(5, 0);
  auto res = raw.Get("/api/v0/benchmarks/1/", {{"Authorization", "Bearer " + tokens_.at(kDo)}});
  EXPECT_FALSE(res) << "cpp-httplib accepted a short body";
}

TEST_F(FaultyServerTest, SlowKindDelaysButAnswers) {
  Begin({"--faults", "rate=1,kinds=slow,slow_ms=300"});
  HttpClient http;
  auto start = std::chrono::steady_clock::now();
  auto r = http.Send(Get("/api/v0/benchmarks/1/"));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(nlohmann::json::accept(r->body));
  EXPECT_GE(took, std::chrono::milliseconds(300));
}

// The outcome of each of `n` sequential GETs: "ok", "500" or "error".
std::vector<std::string> Outcomes(const FaultyServerTest& t, int n) {
  HttpClient http;
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    auto r = http.Send(t.Get("/api/v0/benchmarks/1/"));
    out.push_back(!r.ok() ? "error" : r->status == 200 ? "ok" : std::to_string(r->status));
  }
  return out;
}

TEST_F(FaultyServerTest, SameSeedSameFaults) {
  Begin({"--faults", "rate=0.5,kinds=500,reset,truncated", "--fault-seed", "42"});
  std::vector<std::string> first = Outcomes(*this, 40);
  Restart({"--faults", "rate=0.5,kinds=500,reset,truncated", "--fault-seed", "42"});
  EXPECT_EQ(Outcomes(*this, 40), first);
  Restart({"--faults", "rate=0.5,kinds=500,reset,truncated", "--fault-seed", "43"});
  EXPECT_NE(Outcomes(*this, 40), first);
  std::set<std::string> seen(first.begin(), first.end());
  EXPECT_EQ(seen, (std::set<std::string>{"ok", "500", "error"}));
}

constexpr char kAllFaults[] = "rate=0.3,kinds=500,reset,slow,truncated,slow_ms=20";

TEST_F(FaultyServerTest, RestClientRetriesGetsUntilTheySucceed) {
  Begin({"--faults", kAllFaults, "--fault-seed", "5"});
  RestClientOptions o;
  o.server_url = url();
  o.token = tokens_.at(kDo);
  o.max_attempts = 12;  // 0.3^12: a GET failing every attempt would take ~2M tries
  o.initial_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(4);
  o.timeout = std::chrono::seconds(10);
  auto client = RestClient::Create(o);
  ASSERT_TRUE(client.ok()) << client.status();
  const int kCalls = 40;
  for (int i = 0; i < kCalls; ++i) {
    auto b = client->GetBenchmark(BenchmarkId(1));
    ASSERT_TRUE(b.ok()) << "call " << i << ": " << b.status();
    EXPECT_EQ(b->name, "tutorial_bmk");
    auto all = client->ListBenchmarks();
    ASSERT_TRUE(all.ok()) << "call " << i << ": " << all.status();
    EXPECT_EQ(all->size(), 1u);
  }
  // Faults happened and were absorbed by retries.
  int gets = Arrivals("GET", "/api/v0/benchmarks/");
  EXPECT_GT(gets, 2 * kCalls);
  EXPECT_GT(Arrivals("GET", "/api/v0/benchmarks/", "reset"), 0);
  EXPECT_GT(Arrivals("GET", "/api/v0/benchmarks/", "truncated"), 0);
  EXPECT_GT(Arrivals("GET", "/api/v0/benchmarks/", "500"), 0);
}

TEST_F(FaultyServerTest, RestClientNeverSendsAPostTwice) {
  Begin({"--faults", kAllFaults, "--fault-seed", "11"});
  RestClientOptions o;
  o.server_url = url();
  o.token = tokens_.at(kDo);
  o.max_attempts = 6;
  o.initial_backoff = std::chrono::milliseconds(1);
  o.timeout = std::chrono::seconds(10);
  auto client = RestClient::Create(o);
  ASSERT_TRUE(client.ok()) << client.status();
  const int kPosts = 30;
  std::set<std::string> reported_ok, reported_failed;
  for (int i = 0; i < kPosts; ++i) {
    std::string uid = "uid" + std::to_string(i);
    auto d = client->CreateDataset(MakeDatasetFor(uid, 1));
    (d.ok() ? reported_ok : reported_failed).insert(uid);
    if (!d.ok()) {
      EXPECT_THAT(d.status().code(),
                  ::testing::AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kInternal))
          << d.status();
    }
  }
  // Exactly one request per call reached the server, whatever happened to it.
  EXPECT_EQ(Arrivals("POST", "/api/v0/datasets/"), kPosts);
  EXPECT_FALSE(reported_failed.empty()) << "the seed produced no failed POST; pick another";

  // The log is replaced on restart: count the answers lost after commit now.
  const int lost_answers = Arrivals("POST", "/api/v0/datasets/", "reset") +
                           Arrivals("POST", "/api/v0/datasets/", "truncated");
  // Look at what was stored, through a server without faults.
  Restart({});
  auto mine = As(kDo).ListMyDatasets();
  ASSERT_TRUE(mine.ok()) << mine.status();
  std::multiset<std::string> stored;
  for (const Dataset& d : *mine) stored.insert(d.generated_uid);
  for (const std::string& uid : stored) EXPECT_EQ(stored.count(uid), 1u) << uid << " stored twice";
  // Every POST the client saw succeed is stored; a failed one may or may not be (reset
  // and truncated answers are lost after the request committed), but never twice.
  for (const std::string& uid : reported_ok) EXPECT_EQ(stored.count(uid), 1u) << uid;
  EXPECT_EQ(stored.size(), reported_ok.size() + lost_answers);
}

}  // namespace
}  // namespace medperf::testing
