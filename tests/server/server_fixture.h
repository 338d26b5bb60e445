// Starts the real medperf-server binary on loopback with a seeded database and hands
// out REST clients (core/rest_client) logged in as the tutorial users.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/http_client.h"
#include "core/rest_client.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_support.h"

namespace medperf::testing {

inline constexpr char kAdmin[] = "testadmin@example.com";
inline constexpr char kBo[] = "testbo@example.com";
inline constexpr char kMo[] = "testmo@example.com";
inline constexpr char kDo[] = "testdo@example.com";

inline std::string ServerBinary() { return BinaryPath("server/medperf-server").string(); }

class ServerFixture : public ::testing::Test {
 public:
  // "benchmark" (users only), "model" (containers 1-3, model 2, benchmark 1) or "data"
  // (plus model 4 approved for benchmark 1).
  virtual std::string Demo() const { return "data"; }
  virtual std::vector<std::string> ExtraServeArgs() const { return {}; }

  void SetUp() override {
    db_ = (dir_ / "db.sqlite").string();
    RunResult seed = ::medperf::testing::Run({ServerBinary(), "seed", "--db", db_, "--demo", Demo(),
                                              "--tokens-out", (dir_ / "tokens.json").string()});
    ASSERT_EQ(seed.exit_code, 0) << seed.err;
    nlohmann::json tokens = nlohmann::json::parse(ReadFile(dir_ / "tokens.json"));
    for (auto it = tokens.begin(); it != tokens.end(); ++it) tokens_[it.key()] = it.value();
    StartServer();
  }

  void StartServer() {
    port_ = FreePort();
    std::vector<std::string> argv = {ServerBinary(),       "serve", "--db", db_, "--port",
                                     std::to_string(port_)};
    for (const auto& a : ExtraServeArgs()) argv.push_back(a);
    // A restarted server appends to the same log: only lines written after this start
    // can say that it listens.
    size_t offset = ReadFile(dir_ / "server.log").size();
    server_ = std::make_unique<Process>(argv, dir_ / "server.log");
    ASSERT_TRUE(WaitFor(
        [&] {
          return ReadFile(dir_ / "server.log").find("listening on", offset) != std::string::npos;
        },
        std::chrono::seconds(10)))
        << ReadFile(dir_ / "server.log");
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  RestClient ClientWithToken(const std::string& token) const {
    RestClientOptions o;
    o.server_url = url();
    o.token = token;
    o.max_attempts = 2;
    o.initial_backoff = std::chrono::milliseconds(10);
    o.timeout = std::chrono::seconds(10);
    auto c = RestClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }
  RestClient As(const std::string& email) const { return ClientWithToken(tokens_.at(email)); }

  // Creates one more user through the CLI (while the server runs) and returns its token.
  std::string AddUser(const std::string& email, const std::string& role = "user") {
    RunResult r = ::medperf::testing::Run(
        {ServerBinary(), "user", "add", "--db", db_, "--email", email, "--role", role});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string token = r.out;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    tokens_[email] = token;
    return token;
  }

  // A raw request with the given user's token (or none), for hostile inputs.
  HttpResponse Raw(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& email = kDo) const {
    HttpClient http;
    HttpRequest req;
    req.method = method;
    req.url = url() + path;
    req.body = body;
    req.timeout = std::chrono::seconds(10);
    if (!email.empty()) req.headers.emplace_back("Authorization", "Bearer " + tokens_.at(email));
    req.headers.emplace_back("Content-Type", "application/json");
    auto r = http.Send(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpResponse{};
  }

  // A dataset prepared with container `prep`, moved to OPERATION.
  Dataset OperationalDataset(const std::string& uid, const std::string& email = kDo,
                             int64_t prep = 1) {
    auto d = As(email).CreateDataset(MakeDatasetFor(uid, prep));
    EXPECT_TRUE(d.ok()) << d.status();
    if (!d.ok()) return {};
    auto op = As(email).UpdateDataset(d->id, nlohmann::json{{"state", "OPERATION"}});
    EXPECT_TRUE(op.ok()) << op.status();
    return op.ok() ? *op : *d;
  }
  // ...and associated with benchmark 1, approved by its owner (testbo).
  Dataset AssociatedDataset(const std::string& uid, const std::string& email = kDo) {
    Dataset d = OperationalDataset(uid, email);
    auto a = As(email).CreateDatasetAssociation(d.id, BenchmarkId(1), nlohmann::json::object());
    EXPECT_TRUE(a.ok()) << a.status();
    if (a.ok() && a->approval_status == ApprovalStatus::kPending) {
      EXPECT_TRUE(
          As(kBo)
              .SetDatasetAssociationApproval(d.id, BenchmarkId(1), ApprovalStatus::kApproved)
              .ok());
    }
    return d;
  }
  static Dataset MakeDatasetFor(const std::string& uid, int64_t prep) {
    Dataset d;
    d.name = "ds-" + uid;
    d.input_data_hash = uid;
    d.generated_uid = uid;
    d.data_preparation_mlcube = ContainerId(prep);
    return d;
  }

  std::string ServerLog() const { return ReadFile(dir_ / "server.log"); }

  TempDir dir_;
  std::string db_;
  int port_ = 0;
  std::unique_ptr<Process> server_;
  std::map<std::string, std::string> tokens_;
};

// --- entity builders ---

inline Container MakeContainer(const std::string& name, bool model,
                               EntityState state = EntityState::kOperation) {
  Container c;
  c.name = name;
  nlohmann::json tasks =
      model ? nlohmann::json{{"infer", {{"input_volumes", nlohmann::json::object()}}}}
            : nlohmann::json{{"evaluate", nlohmann::json::object()}};
  c.container_config = {
      {"container_type", "LocalProcess"}, {"image", "/bin/" + name}, {"tasks", tasks}};
  c.parameters_config = {{"threshold", 0.5}};
  c.image_hash = "sha256:" + std::string(64, 'a');
  c.state = state;
  return c;
}

inline Model MakeModel(const std::string& name, EntityState state = EntityState::kOperation) {
  Model m;
  m.name = name;
  m.state = state;
  m.type = ModelType::kContainer;
  m.container = MakeContainer(name, true, state);
  return m;
}

inline Benchmark MakeBenchmark(const std::string& name, int64_t prep = 1, int64_t ref = 2,
                               int64_t eval = 3, EntityState state = EntityState::kOperation) {
  Benchmark b;
  b.name = name;
  b.description = "a benchmark";
  b.demo_dataset_tarball_url = "file:///tmp/demo.tar.gz";
  b.demo_dataset_tarball_hash = std::string(64, 'b');
  b.demo_dataset_generated_uid = std::string(64, 'c');
  b.data_preparation_mlcube = ContainerId(prep);
  b.reference_model = ModelId(ref);
  b.data_evaluator_mlcube = ContainerId(eval);
  b.state = state;
  return b;
}

inline Dataset MakeDataset(const std::string& name, const std::string& uid, int64_t prep = 1) {
  Dataset d;
  d.name = name;
  d.input_data_hash = uid;
  d.generated_uid = uid;
  d.data_preparation_mlcube = ContainerId(prep);
  return d;
}

}  // namespace medperf::testing
