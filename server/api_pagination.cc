#include "server/api_pagination.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"

namespace medperf::server::internal {

namespace {

std::string PageUrl(const Ctx& c, std::optional<int64_t> limit, std::optional<int64_t> offset) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : c.req.query) {
    if (k == "limit" || k == "offset") continue;
    parts.push_back(absl::StrCat(UrlEncode(k), "=", UrlEncode(v)));
  }
  if (limit) parts.push_back(absl::StrCat("limit=", *limit));
  if (offset) parts.push_back(absl::StrCat("offset=", *offset));
  return absl::StrCat(c.req.base_url, c.req.path, parts.empty() ? "" : "?",
                      absl::StrJoin(parts, "&"));
}

// A `limit`/`offset` value: DRF takes any non-negative integer (Python ints do not
// overflow); digit strings beyond int64 saturate at INT64_MAX, which past the last row
// gives the same empty page. nullopt for anything else (the caller's default applies).
std::optional<int64_t> NonNegativeParam(const std::string& s) {
  int64_t v;
  if (absl::SimpleAtoi(s, &v)) return v >= 0 ? std::optional<int64_t>(v) : std::nullopt;
  if (!s.empty() && std::all_of(s.begin(), s.end(), absl::ascii_isdigit)) {
    return std::numeric_limits<int64_t>::max();
  }
  return std::nullopt;
}

}  // namespace

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (absl::ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", ch);
    }
  }
  return out;
}

std::optional<std::string> QueryParam(const Ctx& c, const std::string& name) {
  for (const auto& [k, v] : c.req.query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// LimitOffsetPagination with PAGE_SIZE 32: bad or non-positive limits fall back to the
// default, bad offsets to 0, as in DRF.
Result Page(Ctx& c, const std::string& from_where, const std::vector<Json>& params,
            const std::string& order, const std::string& columns,
            const std::function<Json(const Json&)>& render) {
  int64_t limit = 32, offset = 0;
  if (auto l = QueryParam(c, "limit")) {
    if (auto v = NonNegativeParam(*l); v && *v > 0) limit = *v;
  }
  if (auto o = QueryParam(c, "offset")) {
    if (auto v = NonNegativeParam(*o)) offset = *v;
  }
  ASSIGN_OR_RETURN(Json count, c.db->Scalar(absl::StrCat("SELECT COUNT(*) ", from_where), params));
  std::vector<Json> p = params;
  p.push_back(limit);
  p.push_back(offset);
  ASSIGN_OR_RETURN(auto rows, c.db->Query(absl::StrCat("SELECT ", columns, " ", from_where,
                                                       " ORDER BY ", order, " LIMIT ? OFFSET ?"),
                                          p));
  Json results = Json::array();
  for (const Json& r : rows) results.push_back(render(r));
  int64_t n = count.get<int64_t>();
  Json next = nullptr, previous = nullptr;
  // offset + limit may overflow (issue 13); n - offset cannot, both being >= 0. Past
  // this test offset + limit < n, so it fits.
  if (n - offset > limit) next = PageUrl(c, limit, offset + limit);
  if (offset > 0) {
    previous =
        offset - limit <= 0 ? PageUrl(c, limit, std::nullopt) : PageUrl(c, limit, offset - limit);
  }
  return ApiResponse{
      200, Json{{"count", n}, {"next", next}, {"previous", previous}, {"results", results}}};
}

// Exact-match filters from the query string (django-filter's filterset_fields).
// Returns a 400 response for a malformed value.
std::optional<ApiResponse> Filters(const Ctx& c, const Table& t,
                                   const std::vector<std::string>& names, std::string* where,
                                   std::vector<Json>* params) {
  Errors errors;
  for (const std::string& name : names) {
    auto value = QueryParam(c, name);
    if (!value || value->empty()) continue;
    const Field* f = FindField(t, name);
    if (!f) continue;
    switch (f->kind) {
      case Kind::kBool: {
        std::string v = absl::AsciiStrToLower(*value);
        if (v == "true" || v == "1") {
          absl::StrAppend(where, " AND ", name, "=1");
        } else if (v == "false" || v == "0") {
          absl::StrAppend(where, " AND ", name, "=0");
        }  // anything else is ignored, like django-filter's BooleanFilter
        break;
      }
      case Kind::kInt:
      case Kind::kFk: {
        int64_t v;
        if (!absl::SimpleAtoi(*value, &v)) {
          errors.Add(name, "Enter a number.");
        } else {
          absl::StrAppend(where, " AND ", name, "=?");
          params->push_back(v);
        }
        break;
      }
      case Kind::kEnum:
        if (std::find(f->choices.begin(), f->choices.end(), *value) == f->choices.end()) {
          errors.Add(name, absl::StrCat("Select a valid choice. ", *value,
                                        " is not one of the available choices."));
        } else {
          absl::StrAppend(where, " AND ", name, "=?");
          params->push_back(*value);
        }
        break;
      default:
        absl::StrAppend(where, " AND ", name, "=?");
        params->push_back(*value);
    }
  }
  if (!errors.empty()) return BadRequest(errors);
  return std::nullopt;
}

}  // namespace medperf::server::internal
