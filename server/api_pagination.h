// Internal to server/api*.cc: list pages and query-string filters, as the real server's
// DRF settings make them (mlcommons/medperf server/medperf/settings.py:
// DEFAULT_PAGINATION_CLASS LimitOffsetPagination, PAGE_SIZE 32; filterset_fields in each
// app's views.py).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/api_internal.h"
#include "server/api_schema.h"

namespace medperf::server::internal {

// The first value of query parameter `name`, or nullopt.
std::optional<std::string> QueryParam(const Ctx& c, const std::string& name);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(const std::string& s);

// One page of `SELECT <columns> <from_where> ORDER BY <order>`, each row passed through
// `render`, as 200 {"count": N, "next": url|null, "previous": url|null, "results": [...]}.
// `from_where` starts with "FROM" and its '?' placeholders take `params`. Query
// parameters `limit` (default 32; bad or non-positive -> 32) and `offset` (default 0; bad
// or negative -> 0), as in DRF; digit strings beyond int64 saturate at INT64_MAX (DRF's
// are unbounded), and no sum overflows: `next` is null past the end and `previous` never
// negative. `next`/`previous` are absolute URLs on the request's base_url and path,
// keeping the other query parameters.
Result Page(Ctx& c, const std::string& from_where, const std::vector<Json>& params,
            const std::string& order, const std::string& columns,
            const std::function<Json(const Json&)>& render);

// Exact-match filters (django-filter's filterset_fields) for the query parameters
// `names` that are fields of `t`: appends " AND <name>=?" to `*where` and the typed value
// to `*params`. Empty values are ignored; so are boolean values other than
// true/false/1/0 (any case), like django-filter's BooleanFilter. Returns a 400 response
// for a non-integer id/number ("Enter a number.") or an unknown choice, else nullopt.
std::optional<ApiResponse> Filters(const Ctx& c, const Table& t,
                                   const std::vector<std::string>& names, std::string* where,
                                   std::vector<Json>* params);

}  // namespace medperf::server::internal
