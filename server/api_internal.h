// Internal to server/api*.cc: the per-request context every handler receives, DRF-style
// error bodies and the response helpers that give each HTTP status its real-server body.
// Not a public interface: the seam is Api::Handle in server/api.h.
//
// Statuses (as mlcommons/medperf server/ answers them through Django REST framework):
//   400 field errors {"field": ["msg"]} or {"non_field_errors": ["msg"]};
//   401 {"detail": ...} without or with an unknown token;
//   403 {"detail": "You do not have permission to perform this action."};
//   404 {"detail": "Not found."}; 405 for a method the route lacks;
//   409 (ours) when a delete would orphan rows; 500/503 for database failures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/api.h"
#include "server/sqlite_db.h"

namespace medperf::server::internal {

// The authenticated caller (users table row).
struct User {
  int64_t id = 0;
  std::string email;
  bool admin = false;  // the real server's is_superuser
};

// Everything one request's handler may use. Handlers run with the Api's mutex held and
// inside the request's transaction (see Api::Handle).
struct Ctx {
  Db* db;
  const ApiOptions& options;
  const ApiRequest& req;
  User user;
  Json body = Json::object();  // the parsed POST/PUT body; {} when empty
  std::vector<int64_t> ids;    // the numeric path segments, in order (all > 0)
};

// A handler's answer; a non-OK status means a database failure and becomes a 500.
using Result = absl::StatusOr<ApiResponse>;

// DRF-style error object {"field": ["msg", ...]}.
class Errors {
 public:
  void Add(const std::string& field, const std::string& msg) { j_[field].push_back(msg); }
  void NonField(const std::string& msg) { Add("non_field_errors", msg); }
  // A nested serializer's errors, e.g. {"container": {"name": [...]}}.
  void Nest(const std::string& field, const Json& errors) { j_[field] = errors; }
  bool empty() const { return j_.empty(); }
  const Json& json() const { return j_; }

 private:
  Json j_ = Json::object();
};

inline ApiResponse Detail(int status, const std::string& detail) {
  return {status, Json{{"detail", detail}}};
}
inline ApiResponse NotFound() { return Detail(404, "Not found."); }
inline ApiResponse Forbidden() {
  return Detail(403, "You do not have permission to perform this action.");
}
inline ApiResponse BadRequest(const Errors& e) { return {400, e.json()}; }
inline ApiResponse BadRequest(const std::string& field, const std::string& msg) {
  Errors e;
  e.Add(field, msg);
  return BadRequest(e);
}
inline ApiResponse NonFieldError(const std::string& msg) {
  return BadRequest("non_field_errors", msg);
}

// The real server's message for an edit of a non-editable field of an OPERATION entity
// (mlcommons/medperf server/*/serializers.py).
inline constexpr char kNotEditableInOperation[] =
    "User cannot update non editable fields in Operation mode";

// The current UTC time as Django renders it: "2026-01-02T03:04:05.123456Z".
std::string Now();

}  // namespace medperf::server::internal
