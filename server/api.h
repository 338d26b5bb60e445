// The MedPerf REST API v0 (evaluation part), independent of the HTTP library: the
// HTTP front end turns each request into an ApiRequest and writes back the ApiResponse.
// Behaviour follows the real Django server (docs/server.md lists the differences).
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/sqlite_db.h"

namespace medperf::server {

struct ApiRequest {
  std::string method;                                      // GET, POST, PUT, DELETE
  std::string path;                                        // "/api/v0/benchmarks/1/"
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string authorization;                               // the header's value
  std::string body;
  // "http://127.0.0.1:8000": where absolute `next`/`previous` links point.
  std::string base_url;
};

struct ApiResponse {
  int status = 200;
  Json body;  // null → empty body (204)
};

struct ApiOptions {
  // Benchmarks submitted by these users are created APPROVED (the real server's
  // AUTO_APPROVE_BENCHMARKS_FROM).
  std::vector<std::string> auto_approve_benchmarks_from;
};

struct NewUser {
  int64_t id = 0;
  std::string token;
};

class Api {
 public:
  Api(Db* db, ApiOptions options) : db_(db), options_(std::move(options)) {}

  // Thread-safe: requests are serialized, each in one transaction that rolls back
  // unless the answer is a success.
  ApiResponse Handle(const ApiRequest& request);

  // Creates a user with a fresh random token (only its SHA-256 is stored).
  absl::StatusOr<NewUser> AddUser(const std::string& email, bool admin);

 private:
  Db* db_;
  ApiOptions options_;
  std::mutex mu_;
};

// Lowercase hex SHA-256 of a token, as stored in the users table.
std::string TokenHash(const std::string& token);

}  // namespace medperf::server
