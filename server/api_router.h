// Internal to server/api*.cc: the table of /api/v0/ routes (path pattern + method ->
// handler of server/api_handlers.h). The paths are mlcommons/medperf server/*/urls.py's
// (server/medperf/urls.py mounts them under /api/v0/).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/api_internal.h"

namespace medperf::server::internal {

using Handler = std::function<Result(Ctx&)>;

struct Route {
  std::vector<std::string> pattern;        // path segments; "#" matches a positive integer id
  std::map<std::string, Handler> methods;  // "GET", "POST", "PUT", "DELETE"
};

// The route whose pattern matches `segs` (the path after "/api/v0/" split on '/', empty
// segments dropped, so trailing slashes are optional), with its "#" segments' values in
// `*ids`; nullptr if none (404). An id must be all digits, fit int64 and be > 0. The caller
// answers 405 when the route lacks the request's method.
const Route* MatchRoute(const std::vector<std::string>& segs, std::vector<int64_t>* ids);

}  // namespace medperf::server::internal
