// Api::Handle: the HTTP-independent seam. Matches the route, authenticates, parses the
// body and runs the handler in one transaction. The pieces live in server/api_*.{h,cc}:
// schema/serializers (api_schema), rows (api_store), pages and filters (api_pagination),
// tokens and permissions (api_auth), one handler file per resource (api_handlers.h) and
// the route table (api_router).
#include "server/api.h"

#include <openssl/rand.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "server/api_auth.h"
#include "server/api_internal.h"
#include "server/api_router.h"
#include "server/api_schema.h"

namespace medperf::server {

using internal::Authenticate;
using internal::Ctx;
using internal::Detail;
using internal::MatchRoute;
using internal::NonFieldError;
using internal::NotFound;
using internal::Now;
using internal::Result;
using internal::Route;
using internal::TypeName;

namespace {

// Rendering and storing JSON recurse; bound the nesting a client may send so a hostile
// body cannot exhaust a worker's stack.
constexpr int kMaxJsonDepth = 256;

int Depth(const Json& root) {
  int max_depth = 0;
  std::vector<std::pair<const Json*, int>> stack = {{&root, 1}};
  while (!stack.empty()) {
    auto [j, d] = stack.back();
    stack.pop_back();
    max_depth = std::max(max_depth, d);
    if (d > kMaxJsonDepth) break;
    if (j->is_structured()) {
      for (const Json& child : *j) stack.emplace_back(&child, d + 1);
    }
  }
  return max_depth;
}

}  // namespace

absl::StatusOr<NewUser> Api::AddUser(const std::string& email, bool admin) {
  if (!internal::IsEmail(email)) {
    return absl::InvalidArgumentError(absl::StrCat("'", email, "' is not a valid email address"));
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return absl::InternalError("RAND_bytes failed");
  std::string token;
  for (unsigned char b : raw) absl::StrAppendFormat(&token, "%02x", b);
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto existing, db_->Query("SELECT 1 FROM users WHERE email=?", {email}));
  if (!existing.empty()) {
    return absl::AlreadyExistsError(absl::StrCat("a user with email ", email, " already exists"));
  }
  // The username is the email's local part (the tutorials' "testbo"), made unique.
  std::string base = email.substr(0, email.find('@'));
  std::string username = base;
  for (int n = 2;; ++n) {
    ASSIGN_OR_RETURN(auto taken, db_->Query("SELECT 1 FROM users WHERE username=?", {username}));
    if (taken.empty()) break;
    username = absl::StrCat(base, n);
  }
  RETURN_IF_ERROR(db_->Query("INSERT INTO users (username, email, is_admin, token_hash, metadata, "
                             "created_at) VALUES (?,?,?,?,'{}',?)",
                             {username, email, admin, TokenHash(token), Now()})
                      .status());
  return NewUser{db_->LastInsertId(), token};
}

ApiResponse Api::Handle(const ApiRequest& req) {
  std::string path = req.path;
  if ((path == "/version" || path == "/version/") && req.method == "GET") {
    return {200, Json{{"version", "v0"}}};
  }
  constexpr absl::string_view kPrefix = "/api/v0/";
  if (!absl::StartsWith(path, kPrefix) && path != "/api/v0") return NotFound();
  // Trailing slashes are optional: the real client omits them on some GETs.
  std::vector<std::string> segs =
      absl::StrSplit(absl::string_view(path).substr(std::min(path.size(), kPrefix.size())), '/',
                     absl::SkipEmpty());
  std::vector<int64_t> ids;
  const Route* route = MatchRoute(segs, &ids);
  if (!route) return NotFound();

  std::lock_guard<std::mutex> lock(mu_);
  auto user = Authenticate(*db_, req.authorization);
  if (!user.ok()) {
    std::cerr << "medperf-server: " << user.status() << "\n";
    return Detail(500, "Internal server error.");
  }
  if (!*user) {
    return Detail(401, req.authorization.empty() ? "Authentication credentials were not provided."
                                                 : "Invalid token.");
  }
  Ctx ctx{db_, options_, req, **user, Json::object(), std::move(ids)};
  auto handler = route->methods.find(req.method);
  if (handler == route->methods.end()) {
    return Detail(405, absl::StrCat("Method \"", req.method, "\" not allowed."));
  }
  if (req.method == "POST" || req.method == "PUT") {
    if (!absl::StripAsciiWhitespace(req.body).empty()) {
      Json body;
      try {
        body = Json::parse(req.body);
      } catch (const Json::exception& e) {
        auto* pe = dynamic_cast<const Json::parse_error*>(&e);
        return Detail(400, absl::StrCat("JSON parse error - the request body is not valid JSON",
                                        pe ? absl::StrCat(" (byte ", pe->byte, ")") : ""));
      }
      if (Depth(body) > kMaxJsonDepth) {
        return Detail(
            400, absl::StrCat("JSON parse error - nested deeper than ", kMaxJsonDepth, " levels"));
      }
      if (!body.is_object()) {
        return NonFieldError(
            absl::StrCat("Invalid data. Expected a dictionary, but got ", TypeName(body), "."));
      }
      ctx.body = std::move(body);
    }
  }

  bool write = req.method != "GET";
  absl::Status begin = db_->Exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!begin.ok()) {
    std::cerr << "medperf-server: " << begin << "\n";
    return Detail(503, "Database busy, try again.");
  }
  Result result = handler->second(ctx);
  if (!result.ok() || result->status >= 400) {
    (void)db_->Exec("ROLLBACK");
    if (!result.ok()) {
      std::cerr << "medperf-server: " << req.method << " " << req.path << ": " << result.status()
                << "\n";
      return Detail(500, "Internal server error.");
    }
    return *result;
  }
  if (absl::Status s = db_->Exec("COMMIT"); !s.ok()) {
    (void)db_->Exec("ROLLBACK");
    std::cerr << "medperf-server: commit failed: " << s << "\n";
    return Detail(500, "Internal server error.");
  }
  return *result;
}

}  // namespace medperf::server
