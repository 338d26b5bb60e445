// In-process fixture for the REST API: a temporary SQLite database and an Api, called
// through Api::Handle (server/api.h) directly, with no HTTP and no sockets. Fast enough
// for one fresh database per test; use tests/server/server_fixture.h instead for what
// only the HTTP front end does (headers, body limits, TLS, connections).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "server/api.h"
#include "server/seed.h"
#include "server/sqlite_db.h"
#include "tests/support/test_support.h"

namespace medperf::testing {

class ApiFixture : public ::testing::Test {
 public:
  using Json = nlohmann::json;
  static constexpr char kBaseUrl[] = "http://api.test:8000";

  // "" = an empty database (add users with AddUser); "benchmark", "model" or "data" = the
  // tutorial seed of `medperf-server seed --demo` (docs/server.md), whose users are
  // testadmin@, testbo@, testmo@ and testdo@example.com (ids 1-4).
  virtual std::string Demo() const { return ""; }
  virtual server::ApiOptions Options() const { return {}; }

  void SetUp() override {
    const auto db_path = dir_ / "db.sqlite";
    if (!Demo().empty()) {
      server::SeedOptions seed;
      seed.db = db_path;
      seed.demo = Demo();
      seed.tokens_out = dir_ / "tokens.json";
      absl::Status s = server::Seed(seed);
      ASSERT_TRUE(s.ok()) << s;
      Json tokens = Json::parse(ReadFile(seed.tokens_out));
      for (auto it = tokens.begin(); it != tokens.end(); ++it) tokens_[it.key()] = it.value();
    }
    auto db = server::Db::Open(db_path);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    api_ = std::make_unique<server::Api>(db_.get(), Options());
  }

  // Creates a user (Api::AddUser) and returns its token, also kept for `as`.
  std::string AddUser(const std::string& email, bool admin = false) {
    auto u = api_->AddUser(email, admin);
    EXPECT_TRUE(u.ok()) << u.status();
    if (!u.ok()) return "";
    tokens_[email] = u->token;
    return u->token;
  }

  // Calls Api::Handle. `path` is under /api/v0 unless it starts with "/api/" or is
  // "/version", and may carry a query string ("?limit=2&offset=1", not percent-decoded).
  // `as` is the email of a user made by AddUser or the seed ("" = no Authorization); a
  // null `body` sends an empty body, anything else its JSON text.
  server::ApiResponse Call(const std::string& method, const std::string& path,
                           const Json& body = nullptr, const std::string& as = "") {
    return Send(method, path, body.is_null() ? "" : body.dump(),
                as.empty() ? "" : "Bearer " + tokens_.at(as));
  }
  // The same with a raw body and Authorization header value.
  server::ApiResponse Send(const std::string& method, const std::string& path,
                           const std::string& body, const std::string& authorization) {
    server::ApiRequest req;
    req.method = method;
    std::string p = path;
    if (auto q = p.find('?'); q != std::string::npos) {
      for (absl::string_view kv : absl::StrSplit(p.substr(q + 1), '&', absl::SkipEmpty())) {
        std::pair<std::string, std::string> pair = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        req.query.push_back(std::move(pair));
      }
      p = p.substr(0, q);
    }
    req.path = p.rfind("/api/", 0) == 0 || p.rfind("/version", 0) == 0 ? p : "/api/v0" + p;
    req.authorization = authorization;
    req.body = body;
    req.base_url = kBaseUrl;
    return api_->Handle(req);
  }
  server::ApiResponse Get(const std::string& path, const std::string& as) {
    return Call("GET", path, nullptr, as);
  }
  server::ApiResponse Post(const std::string& path, const Json& body, const std::string& as) {
    return Call("POST", path, body, as);
  }
  server::ApiResponse Put(const std::string& path, const Json& body, const std::string& as) {
    return Call("PUT", path, body, as);
  }
  server::ApiResponse Delete(const std::string& path, const std::string& as) {
    return Call("DELETE", path, nullptr, as);
  }

  // Rows of `table` (for checking what a refused request left behind).
  int64_t CountRows(const std::string& table) {
    auto n = db_->Scalar("SELECT COUNT(*) FROM " + table);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? n->get<int64_t>() : -1;
  }

  TempDir dir_;
  std::unique_ptr<server::Db> db_;
  std::unique_ptr<server::Api> api_;
  std::map<std::string, std::string> tokens_;
};

}  // namespace medperf::testing
