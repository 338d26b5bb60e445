#include "server/api.h"

#include <openssl/rand.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/hashing.h"
#include "core/status_macros.h"

namespace medperf::server {

std::string TokenHash(const std::string& token) { return medperf::Sha256Hex(token); }

namespace {

// ---------------------------------------------------------------------------------
// Field specifications: a small stand-in for the Django serializers. Each table's
// columns are named like the API fields, so one spec drives validation, storage and
// rendering.

enum class Kind { kInt, kFk, kStr, kBool, kJson, kEnum, kTime, kEmailList };

struct Field {
  const char* name;
  Kind kind;
  int max_len = 0;
  bool writable = true;
  bool required = false;
  bool blank_ok = true;
  bool nullable = false;
  Json def = nullptr;  // value on create when absent (writable, not required)
  std::vector<std::string> choices = {};
  const char* fk_table = nullptr;
};

struct Table {
  const char* name;     // SQL table
  const char* verbose;  // as in the real server's messages ("benchmark with this name...")
  std::vector<Field> fields;
};

const std::vector<std::string> kStates = {"DEVELOPMENT", "OPERATION"};
const std::vector<std::string> kApproval = {"PENDING", "APPROVED", "REJECTED"};
const std::vector<std::string> kModes = {"NEVER", "ALWAYS", "ALLOWLIST"};

Field Id() { return {.name = "id", .kind = Kind::kInt, .writable = false}; }
Field Owner() { return {.name = "owner", .kind = Kind::kInt, .writable = false}; }
Field Time(const char* name) {
  return {.name = name, .kind = Kind::kTime, .writable = false, .nullable = true};
}
Field JsonF(const char* name, Json def = Json::object()) {
  return {.name = name, .kind = Kind::kJson, .def = std::move(def)};
}
Field Bool(const char* name, bool def) { return {.name = name, .kind = Kind::kBool, .def = def}; }
Field Enum(const char* name, const std::vector<std::string>& choices, const char* def) {
  return {.name = name, .kind = Kind::kEnum, .def = def, .choices = choices};
}
Field Str(const char* name, int max_len, bool required = false, bool blank_ok = true) {
  return {.name = name,
          .kind = Kind::kStr,
          .max_len = max_len,
          .required = required,
          .blank_ok = blank_ok,
          .def = ""};
}
Field Fk(const char* name, const char* table) {
  return {.name = name, .kind = Kind::kFk, .required = true, .fk_table = table};
}

const Table kContainers = {
    "containers",
    "mlcube",
    {Id(),
     Str("name", 128, true, false),
     {.name = "container_config", .kind = Kind::kJson, .required = true},
     {.name = "parameters_config", .kind = Kind::kJson, .nullable = true, .def = nullptr},
     Str("image_hash", 100, true, false),
     Str("additional_files_tarball_url", 256),
     Str("additional_files_tarball_hash", 100),
     Owner(),
     Enum("state", kStates, "DEVELOPMENT"),
     Bool("is_valid", true),
     JsonF("metadata"),
     JsonF("user_metadata"),
     Time("created_at"),
     Time("modified_at")}};

const Table kModels = {
    "models",
    "model",
    {Id(),
     Str("name", 128, true, false),
     Owner(),
     Enum("state", kStates, "DEVELOPMENT"),
     Bool("is_valid", true),
     JsonF("metadata"),
     JsonF("user_metadata"),
     {.name = "type", .kind = Kind::kEnum, .required = true, .choices = {"CONTAINER", "ASSET"}},
     Time("created_at"),
     Time("modified_at")}};

const Table kBenchmarks = {
    "benchmarks",
    "benchmark",
    {Id(),
     Str("name", 128, true, false),
     Str("description", 256),
     Str("docs_url", 100),
     Owner(),
     Str("demo_dataset_tarball_url", 256, true, false),
     Str("demo_dataset_tarball_hash", 100, true, false),
     Str("demo_dataset_generated_uid", 128, true, false),
     Fk("data_preparation_mlcube", "containers"),
     Fk("reference_model", "models"),
     Fk("data_evaluator_mlcube", "containers"),
     JsonF("metadata"),
     Enum("state", kStates, "DEVELOPMENT"),
     Bool("is_valid", true),
     Bool("is_active", true),
     Enum("approval_status", kApproval, "PENDING"),
     {.name = "dataset_auto_approval_allow_list", .kind = Kind::kEmailList, .def = Json::array()},
     {.name = "model_auto_approval_allow_list", .kind = Kind::kEmailList, .def = Json::array()},
     Enum("dataset_auto_approval_mode", kModes, "NEVER"),
     Enum("model_auto_approval_mode", kModes, "NEVER"),
     JsonF("user_metadata"),
     Time("approved_at"),
     Time("created_at"),
     Time("modified_at")}};

const Table kDatasets = {"datasets",
                         "dataset",
                         {Id(),
                          Str("name", 128, true, false),
                          Str("description", 256),
                          Str("location", 128),
                          Owner(),
                          Str("input_data_hash", 128, true, false),
                          Str("generated_uid", 128, true, false),
                          {.name = "split_seed", .kind = Kind::kInt, .required = true},
                          Fk("data_preparation_mlcube", "containers"),
                          Bool("is_valid", true),
                          {.name = "submitted_as_prepared", .kind = Kind::kBool, .required = true},
                          Enum("state", kStates, "DEVELOPMENT"),
                          JsonF("generated_metadata"),
                          JsonF("user_metadata"),
                          JsonF("report"),
                          Time("created_at"),
                          Time("modified_at")}};

const Table kDatasetAssocs = {"benchmark_datasets",
                              "benchmark dataset association",
                              {Id(),
                               Fk("dataset", "datasets"),
                               Fk("benchmark", "benchmarks"),
                               {.name = "initiated_by", .kind = Kind::kInt, .writable = false},
                               {.name = "metadata", .kind = Kind::kJson, .required = true},
                               Enum("approval_status", kApproval, "PENDING"),
                               Time("approved_at"),
                               Time("created_at"),
                               Time("modified_at")}};

const Table kModelAssocs = {"benchmark_models",
                            "benchmark model association",
                            {Id(),
                             Fk("model", "models"),
                             Fk("benchmark", "benchmarks"),
                             {.name = "initiated_by", .kind = Kind::kInt, .writable = false},
                             {.name = "metadata", .kind = Kind::kJson, .required = true},
                             Enum("approval_status", kApproval, "PENDING"),
                             Time("approved_at"),
                             Time("created_at"),
                             Time("modified_at"),
                             {.name = "priority", .kind = Kind::kInt, .def = 0}}};

const Table kResults = {"results",
                        "result",
                        {Id(),
                         Str("name", 128),
                         Owner(),
                         Fk("benchmark", "benchmarks"),
                         Fk("model", "models"),
                         Fk("dataset", "datasets"),
                         JsonF("results"),
                         {.name = "finalized", .kind = Kind::kBool, .writable = false},
                         Time("finalized_at"),
                         JsonF("metadata"),
                         JsonF("user_metadata"),
                         Enum("approval_status", kApproval, "PENDING"),
                         Bool("is_valid", true),
                         JsonF("model_report"),
                         JsonF("evaluation_report"),
                         Time("approved_at"),
                         Time("created_at"),
                         Time("modified_at")}};

const char* const kNotEditableInOperation =
    "User cannot update non editable fields in Operation mode";

std::string Now() {
  auto now = std::chrono::system_clock::now();
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         static_cast<int>(micros % 1000000));
}

const char* TypeName(const Json& j) {
  if (j.is_string()) return "str";
  if (j.is_boolean()) return "bool";
  if (j.is_number_integer() || j.is_number_unsigned()) return "int";
  if (j.is_number_float()) return "float";
  if (j.is_array()) return "list";
  if (j.is_object()) return "dict";
  return "NoneType";
}

// DRF-style error object {"field": ["msg", ...]}.
class Errors {
 public:
  void Add(const std::string& field, const std::string& msg) { j_[field].push_back(msg); }
  void NonField(const std::string& msg) { Add("non_field_errors", msg); }
  void Nest(const std::string& field, const Json& errors) { j_[field] = errors; }
  bool empty() const { return j_.empty(); }
  const Json& json() const { return j_; }

 private:
  Json j_ = Json::object();
};

ApiResponse Detail(int status, const std::string& detail) {
  return {status, Json{{"detail", detail}}};
}
ApiResponse NotFound() { return Detail(404, "Not found."); }
ApiResponse Forbidden() {
  return Detail(403, "You do not have permission to perform this action.");
}
ApiResponse BadRequest(const Errors& e) { return {400, e.json()}; }
ApiResponse BadRequest(const std::string& field, const std::string& msg) {
  Errors e;
  e.Add(field, msg);
  return BadRequest(e);
}
ApiResponse NonFieldError(const std::string& msg) { return BadRequest("non_field_errors", msg); }

struct User {
  int64_t id = 0;
  std::string email;
  bool admin = false;
};

struct Ctx {
  const ApiRequest& req;
  User user;
  Json body = Json::object();
  std::vector<int64_t> ids;  // the numeric path segments, in order
};

using Result = absl::StatusOr<ApiResponse>;

class Handlers {
 public:
  Handlers(Db* db, const ApiOptions& options) : db_(db), options_(options) {}

  // --- rows --------------------------------------------------------------------

  Json Decode(const Table& t, const Json& row) const {
    Json out = Json::object();
    for (const Field& f : t.fields) {
      auto it = row.find(f.name);
      if (it == row.end()) continue;
      const Json& v = *it;
      switch (f.kind) {
        case Kind::kBool:
          out[f.name] = v.is_number() ? Json(v.get<int64_t>() != 0) : Json(nullptr);
          break;
        case Kind::kJson:
        case Kind::kEmailList:
          if (v.is_string()) {
            out[f.name] = Json::parse(v.get<std::string>(), nullptr, false);
          } else {
            out[f.name] = nullptr;
          }
          break;
        default:
          out[f.name] = v;
      }
    }
    return out;
  }

  absl::StatusOr<std::optional<Json>> Load(const Table& t, int64_t id) {
    ASSIGN_OR_RETURN(auto rows,
                     db_->Query(absl::StrCat("SELECT * FROM ", t.name, " WHERE id=?"), {id}));
    if (rows.empty()) return std::optional<Json>();
    return std::optional<Json>(Decode(t, rows.front()));
  }

  absl::StatusOr<bool> Exists(const char* table, int64_t id) {
    ASSIGN_OR_RETURN(auto rows,
                     db_->Query(absl::StrCat("SELECT 1 FROM ", table, " WHERE id=?"), {id}));
    return !rows.empty();
  }

  absl::StatusOr<int64_t> Insert(const Table& t, const Json& values, int64_t explicit_id = 0) {
    std::vector<std::string> cols;
    std::vector<Json> params;
    if (explicit_id) {
      cols.push_back("id");
      params.push_back(explicit_id);
    }
    for (auto it = values.begin(); it != values.end(); ++it) {
      if (it.key() == "id") continue;
      cols.push_back(it.key());
      params.push_back(Encode(it.value()));
    }
    std::vector<std::string> marks(cols.size(), "?");
    std::string sql = absl::StrCat("INSERT INTO ", t.name, " (", absl::StrJoin(cols, ","),
                                   ") VALUES (", absl::StrJoin(marks, ","), ")");
    RETURN_IF_ERROR(db_->Query(sql, params).status());
    return explicit_id ? explicit_id : db_->LastInsertId();
  }

  absl::Status Update(const Table& t, int64_t id, Json changes, bool touch = true) {
    if (touch) changes["modified_at"] = Now();
    if (changes.empty()) return absl::OkStatus();
    std::vector<std::string> sets;
    std::vector<Json> params;
    for (auto it = changes.begin(); it != changes.end(); ++it) {
      sets.push_back(absl::StrCat(it.key(), "=?"));
      params.push_back(Encode(it.value()));
    }
    params.push_back(id);
    return db_
        ->Query(absl::StrCat("UPDATE ", t.name, " SET ", absl::StrJoin(sets, ","), " WHERE id=?"),
                params)
        .status();
  }

  // JSON-typed columns hold JSON text, even for string values (e.g. a JSON field set to
  // "abc"), so decoding is unambiguous.
  static Json Encode(const Json& v) {
    if (v.is_object() || v.is_array()) return v.dump();
    return v;
  }

  // Converts the values of JSON-kind fields to their stored text.
  static Json ForStorage(const Table& t, const Json& values) {
    Json out = values;
    for (const Field& f : t.fields) {
      if ((f.kind == Kind::kJson || f.kind == Kind::kEmailList) && out.contains(f.name)) {
        const Json& v = out[f.name];
        out[f.name] = v.is_null() && f.nullable ? Json(nullptr) : Json(v.dump());
      }
    }
    return out;
  }

  // --- validation ------------------------------------------------------------------

  // Checks the writable fields present in `body` (all required ones on create) and
  // returns them typed; read-only and `ignore`d fields are dropped silently, like DRF.
  absl::StatusOr<Json> Validate(const Table& t, const Json& body, bool create,
                                const std::set<std::string>& ignore, Errors* errors) {
    Json out = Json::object();
    for (const Field& f : t.fields) {
      if (!f.writable || ignore.count(f.name)) continue;
      auto it = body.find(f.name);
      if (it == body.end()) {
        if (!create) continue;
        if (f.required) {
          errors->Add(f.name, "This field is required.");
        } else {
          out[f.name] = f.def;
        }
        continue;
      }
      const Json& v = *it;
      if (v.is_null()) {
        if (f.nullable) {
          out[f.name] = nullptr;
        } else {
          errors->Add(f.name, "This field may not be null.");
        }
        continue;
      }
      switch (f.kind) {
        case Kind::kStr:
          if (!v.is_string()) {
            errors->Add(f.name, "Not a valid string.");
          } else if (!f.blank_ok && absl::StripAsciiWhitespace(v.get<std::string>()).empty()) {
            errors->Add(f.name, "This field may not be blank.");
          } else if (f.max_len && v.get<std::string>().size() > static_cast<size_t>(f.max_len)) {
            errors->Add(f.name, absl::StrCat("Ensure this field has no more than ", f.max_len,
                                             " characters."));
          } else {
            out[f.name] = v;
          }
          break;
        case Kind::kInt:
          if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX)) {
            errors->Add(f.name, "A valid integer is required.");
          } else {
            out[f.name] = v;
          }
          break;
        case Kind::kFk: {
          if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX)) {
            errors->Add(f.name, absl::StrCat("Incorrect type. Expected pk value, received ",
                                             TypeName(v), "."));
            break;
          }
          ASSIGN_OR_RETURN(bool exists, Exists(f.fk_table, v.get<int64_t>()));
          if (!exists) {
            errors->Add(f.name, absl::StrCat("Invalid pk \"", v.get<int64_t>(),
                                             "\" - object does not exist."));
          } else {
            out[f.name] = v;
          }
          break;
        }
        case Kind::kBool:
          if (!v.is_boolean()) {
            errors->Add(f.name, "Must be a valid boolean.");
          } else {
            out[f.name] = v;
          }
          break;
        case Kind::kEnum:
          if (!v.is_string() || std::find(f.choices.begin(), f.choices.end(),
                                          v.get<std::string>()) == f.choices.end()) {
            errors->Add(f.name, absl::StrCat(v.dump(), " is not a valid choice."));
          } else {
            out[f.name] = v;
          }
          break;
        case Kind::kEmailList: {
          if (!v.is_array()) {
            errors->Add(f.name, absl::StrCat("Expected a list of items but got type \"",
                                             TypeName(v), "\"."));
            break;
          }
          bool ok = true;
          for (const Json& e : v) {
            if (!e.is_string() || !IsEmail(e.get<std::string>())) ok = false;
          }
          if (!ok) {
            errors->Add(f.name, "Enter a valid email address.");
          } else {
            out[f.name] = v;
          }
          break;
        }
        case Kind::kJson:
          out[f.name] = v;
          break;
        case Kind::kTime:
          break;
      }
    }
    return out;
  }

  static bool IsEmail(const std::string& s) {
    auto at = s.find('@');
    return at != std::string::npos && at > 0 && at + 1 < s.size() &&
           s.find('@', at + 1) == std::string::npos &&
           s.find_first_of(" \t\r\n,") == std::string::npos;
  }

  // True if `changes` sets any field outside `allowed` to a different value.
  static bool ChangesOtherThan(const Json& current, const Json& changes,
                               const std::set<std::string>& allowed) {
    for (auto it = changes.begin(); it != changes.end(); ++it) {
      if (allowed.count(it.key())) continue;
      auto cur = current.find(it.key());
      if (cur == current.end() || *cur != it.value()) return true;
    }
    return false;
  }

  absl::StatusOr<bool> NameTaken(const Table& t, const std::string& name, int64_t except_id) {
    ASSIGN_OR_RETURN(auto rows,
                     db_->Query(absl::StrCat("SELECT 1 FROM ", t.name, " WHERE name=? AND id<>?"),
                                {name, except_id}));
    return !rows.empty();
  }

  absl::Status CheckName(const Table& t, const Json& values, int64_t except_id, Errors* errors) {
    if (!values.contains("name") || !values["name"].is_string()) return absl::OkStatus();
    ASSIGN_OR_RETURN(bool taken, NameTaken(t, values["name"].get<std::string>(), except_id));
    if (taken) errors->Add("name", absl::StrCat(t.verbose, " with this name already exists."));
    return absl::OkStatus();
  }

  // --- users -------------------------------------------------------------------------

  absl::StatusOr<std::optional<User>> Authenticate(const std::string& header) {
    std::string token;
    if (absl::StartsWith(header, "Bearer ")) {
      token = std::string(absl::StripAsciiWhitespace(header.substr(7)));
    }
    if (token.empty()) return std::optional<User>();
    ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT id, email, is_admin FROM users WHERE "
                                           "token_hash=?",
                                           {TokenHash(token)}));
    if (rows.empty()) return std::optional<User>();
    User u;
    u.id = rows[0]["id"].get<int64_t>();
    u.email = rows[0]["email"].get<std::string>();
    u.admin = rows[0]["is_admin"].get<int64_t>() != 0;
    return std::optional<User>(u);
  }

  static Json RenderUser(const Json& row) {
    return Json{{"id", row["id"]},
                {"username", row["username"]},
                {"email", row["email"]},
                {"first_name", ""},
                {"last_name", ""},
                {"metadata", Json::parse(row["metadata"].get<std::string>(), nullptr, false)}};
  }

  absl::StatusOr<std::optional<Json>> LoadUser(int64_t id) {
    ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT * FROM users WHERE id=?", {id}));
    if (rows.empty()) return std::optional<Json>();
    return std::optional<Json>(rows[0]);
  }

  Result Me(Ctx& c) {
    ASSIGN_OR_RETURN(auto row, LoadUser(c.user.id));
    if (!row) return NotFound();
    return ApiResponse{200, RenderUser(*row)};
  }

  Result ListUsers(Ctx& c) {
    if (!c.user.admin) return Forbidden();
    return Page(c, "FROM users", {}, "id", "*", [](const Json& row) { return RenderUser(row); });
  }

  Result GetUser(Ctx& c) {
    int64_t id = c.ids[0];
    ASSIGN_OR_RETURN(auto row, LoadUser(id));
    if (!c.user.admin && c.user.id != id) {
      // The owner of a preparation container may look up the users whose datasets it
      // prepares (the real IsOwnerOfUsedMLCube).
      ASSIGN_OR_RETURN(auto rows,
                       db_->Query("SELECT 1 FROM datasets d JOIN containers m ON "
                                  "d.data_preparation_mlcube=m.id WHERE d.owner=? AND m.owner=?",
                                  {id, c.user.id}));
      if (rows.empty()) return Forbidden();
    }
    if (!row) return NotFound();
    return ApiResponse{200, RenderUser(*row)};
  }

  Result PutUser(Ctx& c) {
    int64_t id = c.ids[0];
    if (!c.user.admin && c.user.id != id) return Forbidden();
    ASSIGN_OR_RETURN(auto row, LoadUser(id));
    if (!row) return NotFound();
    if (c.body.contains("metadata")) {
      if (!c.body["metadata"].is_object()) return BadRequest("metadata", "Expected a dictionary.");
      RETURN_IF_ERROR(
          db_->Query("UPDATE users SET metadata=? WHERE id=?", {c.body["metadata"].dump(), id})
              .status());
    }
    ASSIGN_OR_RETURN(row, LoadUser(id));
    return ApiResponse{200, RenderUser(*row)};
  }

  Result GetUserMetadata(Ctx& c) {
    ASSIGN_OR_RETURN(auto row, LoadUser(c.ids[0]));
    if (!row) return NotFound();
    return ApiResponse{200, Json{{"metadata", RenderUser(*row)["metadata"]}}};
  }

  // --- pagination --------------------------------------------------------------------

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

  static std::string UrlEncode(const std::string& s) {
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
      int64_t v;
      if (absl::SimpleAtoi(*l, &v) && v > 0) limit = v;
    }
    if (auto o = QueryParam(c, "offset")) {
      int64_t v;
      if (absl::SimpleAtoi(*o, &v) && v >= 0) offset = v;
    }
    ASSIGN_OR_RETURN(Json count, db_->Scalar(absl::StrCat("SELECT COUNT(*) ", from_where), params));
    std::vector<Json> p = params;
    p.push_back(limit);
    p.push_back(offset);
    ASSIGN_OR_RETURN(auto rows, db_->Query(absl::StrCat("SELECT ", columns, " ", from_where,
                                                        " ORDER BY ", order, " LIMIT ? OFFSET ?"),
                                           p));
    Json results = Json::array();
    for (const Json& r : rows) results.push_back(render(r));
    int64_t n = count.get<int64_t>();
    Json next = nullptr, previous = nullptr;
    if (offset + limit < n) next = PageUrl(c, limit, offset + limit);
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
      const Field* f = nullptr;
      for (const Field& x : t.fields) {
        if (name == x.name) f = &x;
      }
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

  // --- renderers -----------------------------------------------------------------------

  Json RenderContainer(const Json& row) { return Decode(kContainers, row); }

  absl::StatusOr<Json> RenderModel(const Json& row) {
    Json m = Decode(kModels, row);
    m["container"] = nullptr;
    m["asset"] = nullptr;
    if (m["type"] == "CONTAINER") {
      ASSIGN_OR_RETURN(auto container, Load(kContainers, m["id"].get<int64_t>()));
      if (container) m["container"] = *container;
    }
    return m;
  }

  static Json RenderBenchmark(Json b, bool full) {
    if (!full) {
      b.erase("dataset_auto_approval_allow_list");
      b.erase("model_auto_approval_allow_list");
    }
    return b;
  }

  static Json RenderDataset(Json d, bool full) {
    if (!full) d.erase("report");
    return d;
  }

  // A list renderer that cannot fail; model rows need a second query, done eagerly.
  std::function<Json(const Json&)> ModelRenderer(absl::Status* status) {
    return [this, status](const Json& row) {
      auto m = RenderModel(row);
      if (!m.ok()) {
        *status = m.status();
        return Json(nullptr);
      }
      return *m;
    };
  }

  // --- benchmarks ----------------------------------------------------------------------

  Result ListBenchmarks(Ctx& c) {
    std::string where = "FROM benchmarks WHERE 1=1";
    std::vector<Json> params;
    if (auto bad = Filters(c, kBenchmarks,
                           {"name", "owner", "state", "is_valid", "is_active", "approval_status",
                            "data_preparation_mlcube"},
                           &where, &params)) {
      return *bad;
    }
    return Page(c, where, params, "modified_at, id", "*", [this](const Json& row) {
      return RenderBenchmark(Decode(kBenchmarks, row), false);
    });
  }

  Result MyBenchmarks(Ctx& c) {
    return Page(
        c, "FROM benchmarks WHERE owner=?", {c.user.id}, "modified_at, id", "*",
        [this](const Json& row) { return RenderBenchmark(Decode(kBenchmarks, row), true); });
  }

  // The three components must be OPERATION for an OPERATION benchmark.
  absl::Status CheckComponentsOperational(const Json& b, Errors* errors) {
    struct C {
      const char* field;
      const Table* table;
      const char* label;
    };
    for (const C& comp : {C{"data_preparation_mlcube", &kContainers, "data preparation container"},
                          C{"reference_model", &kModels, "reference model"},
                          C{"data_evaluator_mlcube", &kContainers, "evaluator container"}}) {
      if (!b.contains(comp.field) || !b[comp.field].is_number_integer()) continue;
      ASSIGN_OR_RETURN(auto row, Load(*comp.table, b[comp.field].get<int64_t>()));
      if (row && (*row)["state"] != "OPERATION") {
        errors->NonField(absl::StrCat("Could not mark benchmark as operational: its ", comp.label,
                                      " is in DEVELOPMENT"));
      }
    }
    return absl::OkStatus();
  }

  Result CreateBenchmark(Ctx& c) {
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(kBenchmarks, c.body, true, {"approval_status"}, &errors));
    RETURN_IF_ERROR(CheckName(kBenchmarks, v, 0, &errors));
    if (!errors.empty()) return BadRequest(errors);
    ASSIGN_OR_RETURN(auto pending, db_->Query("SELECT 1 FROM benchmarks WHERE owner=? AND "
                                              "approval_status='PENDING'",
                                              {c.user.id}));
    if (!pending.empty()) return NonFieldError("User can own at most one pending benchmark");
    if (v["state"] == "OPERATION") {
      RETURN_IF_ERROR(CheckComponentsOperational(v, &errors));
      if (!errors.empty()) return BadRequest(errors);
    }
    const auto& auto_list = options_.auto_approve_benchmarks_from;
    bool auto_approve =
        std::find(auto_list.begin(), auto_list.end(), c.user.email) != auto_list.end();
    v["approval_status"] = auto_approve ? "APPROVED" : "PENDING";
    std::string now = Now();
    v["owner"] = c.user.id;
    v["created_at"] = now;
    v["modified_at"] = now;
    ASSIGN_OR_RETURN(int64_t id, Insert(kBenchmarks, ForStorage(kBenchmarks, v)));
    ASSIGN_OR_RETURN(auto row, Load(kBenchmarks, id));
    return ApiResponse{201, RenderBenchmark(*row, true)};
  }

  Result GetBenchmark(Ctx& c) {
    ASSIGN_OR_RETURN(auto b, Load(kBenchmarks, c.ids[0]));
    if (!b) return NotFound();
    bool full = c.user.admin || (*b)["owner"] == c.user.id;
    return ApiResponse{200, RenderBenchmark(*b, full)};
  }

  Result PutBenchmark(Ctx& c) {
    ASSIGN_OR_RETURN(auto b, Load(kBenchmarks, c.ids[0]));
    if (!c.user.admin && !(b && (*b)["owner"] == c.user.id)) return Forbidden();
    // Approval is the admin's alone, even for the benchmark's owner.
    if (c.body.contains("approval_status") && !c.user.admin) return Forbidden();
    if (!b) return NotFound();
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(kBenchmarks, c.body, false, {}, &errors));
    RETURN_IF_ERROR(CheckName(kBenchmarks, v, c.ids[0], &errors));
    if (!errors.empty()) return BadRequest(errors);
    const Json& cur = *b;
    if (cur["state"] == "OPERATION" &&
        ChangesOtherThan(cur, v,
                         {"is_valid", "is_active", "user_metadata", "approval_status",
                          "demo_dataset_tarball_url", "dataset_auto_approval_allow_list",
                          "model_auto_approval_allow_list", "dataset_auto_approval_mode",
                          "model_auto_approval_mode"})) {
      return NonFieldError(kNotEditableInOperation);
    }
    if (v.contains("approval_status")) {
      const std::string to = v["approval_status"];
      const std::string from = cur["approval_status"];
      if (to == "PENDING") return NonFieldError("User can only approve or reject a benchmark");
      if (from == "REJECTED" && to == "APPROVED") {
        return NonFieldError("User can approve only a pending request");
      }
      if (from == "PENDING" && to != from) v["approved_at"] = Now();
    }
    Json merged = cur;
    merged.update(v);
    if (merged["state"] == "OPERATION" && cur["state"] != "OPERATION") {
      RETURN_IF_ERROR(CheckComponentsOperational(merged, &errors));
      if (!errors.empty()) return BadRequest(errors);
    }
    RETURN_IF_ERROR(Update(kBenchmarks, c.ids[0], ForStorage(kBenchmarks, v)));
    ASSIGN_OR_RETURN(b, Load(kBenchmarks, c.ids[0]));
    return ApiResponse{200, RenderBenchmark(*b, true)};
  }

  // For benchmark sub-resources: the real permission classes return False for a
  // missing benchmark, so non-admins get 403 there; admins get 404.
  absl::StatusOr<std::optional<ApiResponse>> BenchmarkGate(Ctx& c, std::optional<Json>* b,
                                                           const std::string& extra_sql) {
    ASSIGN_OR_RETURN(*b, Load(kBenchmarks, c.ids[0]));
    if (c.user.admin) {
      if (!*b) return std::optional<ApiResponse>(NotFound());
      return std::optional<ApiResponse>();
    }
    if (!*b) return std::optional<ApiResponse>(Forbidden());
    if ((**b)["owner"] == c.user.id) return std::optional<ApiResponse>();
    if (!extra_sql.empty()) {
      ASSIGN_OR_RETURN(auto rows, db_->Query(extra_sql, {c.ids[0], c.user.id}));
      if (!rows.empty()) return std::optional<ApiResponse>();
    }
    return std::optional<ApiResponse>(Forbidden());
  }

  // SQL selecting rows of `assoc_table` that are the latest for their (entity,
  // benchmark) pair.
  static std::string LatestAssocSql(const std::string& assoc_table, const std::string& entity) {
    return absl::StrCat("SELECT a.* FROM ", assoc_table, " a WHERE NOT EXISTS (SELECT 1 FROM ",
                        assoc_table, " b WHERE b.", entity, "=a.", entity,
                        " AND b.benchmark=a.benchmark AND (b.created_at>a.created_at OR "
                        "(b.created_at=a.created_at AND b.id>a.id)))");
  }

  Result BenchmarkModels(Ctx& c) {
    std::optional<Json> b;
    ASSIGN_OR_RETURN(auto gate,
                     BenchmarkGate(c, &b,
                                   absl::StrCat("SELECT 1 FROM (",
                                                LatestAssocSql("benchmark_datasets", "dataset"),
                                                ") l JOIN datasets d ON d.id=l.dataset WHERE "
                                                "l.benchmark=? AND d.owner=? AND "
                                                "l.approval_status='APPROVED'")));
    if (gate) return *gate;
    return Page(c, "FROM benchmark_models WHERE benchmark=?", {c.ids[0]}, "priority DESC, id",
                "model, approval_status, created_at", [](const Json& r) { return r; });
  }

  Result BenchmarkDatasets(Ctx& c) {
    std::optional<Json> b;
    ASSIGN_OR_RETURN(
        auto gate,
        BenchmarkGate(c, &b,
                      absl::StrCat("SELECT 1 FROM (", LatestAssocSql("benchmark_models", "model"),
                                   ") l JOIN models m ON m.id=l.model WHERE "
                                   "l.benchmark=? AND m.owner=? AND "
                                   "l.approval_status='APPROVED'")));
    if (gate) return *gate;
    return Page(c, "FROM benchmark_datasets WHERE benchmark=?", {c.ids[0]}, "modified_at, id",
                "dataset, approval_status, created_at", [](const Json& r) { return r; });
  }

  Result BenchmarkResults(Ctx& c) {
    std::optional<Json> b;
    ASSIGN_OR_RETURN(auto gate, BenchmarkGate(c, &b, ""));
    if (gate) return *gate;
    return Page(c, "FROM results WHERE benchmark=?", {c.ids[0]}, "modified_at, id", "*",
                [this](const Json& r) { return Decode(kResults, r); });
  }

  Result ParticipantsInfo(Ctx& c) {
    std::optional<Json> b;
    ASSIGN_OR_RETURN(auto gate, BenchmarkGate(c, &b, ""));
    if (gate) return *gate;
    std::string from =
        absl::StrCat("FROM (", LatestAssocSql("benchmark_datasets", "dataset"),
                     ") l JOIN datasets d ON d.id=l.dataset JOIN users u ON u.id=d.owner "
                     "WHERE l.benchmark=? AND l.approval_status='APPROVED'");
    return Page(c, from, {c.ids[0]}, "d.id",
                "d.id AS id, u.id AS uid, u.username AS username, u.email AS email, u.metadata "
                "AS metadata",
                [](const Json& r) {
                  Json user{{"id", r["uid"]},
                            {"username", r["username"]},
                            {"email", r["email"]},
                            {"metadata", r["metadata"]}};
                  return Json{{"id", r["id"]}, {"owner", RenderUser(user)}};
                });
  }

  // --- containers ----------------------------------------------------------------------

  // Rules shared by POST and PUT on the merged record: an image hash, a hash for any
  // additional files and no identical twin (the real unique_together).
  absl::Status CheckContainer(const Json& merged, int64_t except_id, Errors* errors,
                              const std::string& prefix = "") {
    std::string url = merged.value("additional_files_tarball_url", "");
    std::string hash = merged.value("additional_files_tarball_hash", "");
    if (!url.empty() && hash.empty()) {
      errors->Add(prefix + "additional_files_tarball_hash", "Additional files require file hash");
    }
    if (url.empty() && !hash.empty()) {
      errors->Add(prefix + "additional_files_tarball_url",
                  "Additional files hash was given without a URL");
    }
    if (!merged.contains("container_config")) return absl::OkStatus();
    Json params = merged.value("parameters_config", Json(nullptr));
    ASSIGN_OR_RETURN(
        auto rows,
        db_->Query("SELECT 1 FROM containers WHERE image_hash=? AND "
                   "additional_files_tarball_hash=? AND container_config=? AND "
                   "parameters_config IS ? AND id<>?",
                   {merged.value("image_hash", ""), hash, merged["container_config"].dump(),
                    params.is_null() ? Json(nullptr) : Json(params.dump()), except_id}));
    if (!rows.empty()) {
      errors->NonField(
          "The fields image_hash, additional_files_tarball_hash, container_config, "
          "parameters_config must make a unique set.");
    }
    return absl::OkStatus();
  }

  static bool IsModelConfig(const Json& config) {
    return config.is_object() && config.contains("tasks") && config["tasks"].is_object() &&
           config["tasks"].contains("infer");
  }

  // Inserts a validated container and, for model containers (or when asked), the Model
  // that wraps it under the same id.
  absl::StatusOr<int64_t> InsertContainer(Ctx& c, Json v, const Json* model_fields) {
    std::string now = Now();
    v["owner"] = c.user.id;
    v["created_at"] = now;
    v["modified_at"] = now;
    ASSIGN_OR_RETURN(int64_t id, Insert(kContainers, ForStorage(kContainers, v)));
    if (model_fields || IsModelConfig(v["container_config"])) {
      Json m = model_fields ? *model_fields
                            : Json{{"name", v["name"]},
                                   {"state", v["state"]},
                                   {"is_valid", v["is_valid"]},
                                   {"metadata", Json::object()},
                                   {"user_metadata", Json::object()},
                                   {"type", "CONTAINER"}};
      m["owner"] = c.user.id;
      m["created_at"] = now;
      m["modified_at"] = now;
      RETURN_IF_ERROR(Insert(kModels, ForStorage(kModels, m), id).status());
    }
    return id;
  }

  Result ListContainers(Ctx& c) {
    std::string where = "FROM containers WHERE 1=1";
    std::vector<Json> params;
    if (auto bad =
            Filters(c, kContainers, {"name", "owner", "state", "is_valid"}, &where, &params)) {
      return *bad;
    }
    return Page(c, where, params, "modified_at, id", "*",
                [this](const Json& r) { return RenderContainer(r); });
  }

  Result MyContainers(Ctx& c) {
    return Page(c, "FROM containers WHERE owner=?", {c.user.id}, "modified_at, id", "*",
                [this](const Json& r) { return RenderContainer(r); });
  }

  Result CreateContainer(Ctx& c) {
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(kContainers, c.body, true, {}, &errors));
    RETURN_IF_ERROR(CheckName(kContainers, v, 0, &errors));
    if (errors.empty()) RETURN_IF_ERROR(CheckContainer(v, 0, &errors));
    if (errors.empty() && IsModelConfig(v["container_config"])) {
      // The wrapping model takes the container's name; it must be free too.
      RETURN_IF_ERROR(CheckName(kModels, v, 0, &errors));
    }
    if (!errors.empty()) return BadRequest(errors);
    ASSIGN_OR_RETURN(int64_t id, InsertContainer(c, v, nullptr));
    ASSIGN_OR_RETURN(auto row, Load(kContainers, id));
    return ApiResponse{201, *row};
  }

  Result GetContainer(Ctx& c) {
    ASSIGN_OR_RETURN(auto row, Load(kContainers, c.ids[0]));
    if (!row) return NotFound();
    return ApiResponse{200, *row};
  }

  Result PutContainer(Ctx& c) {
    ASSIGN_OR_RETURN(auto cur, Load(kContainers, c.ids[0]));
    if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
    if (!cur) return NotFound();
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(kContainers, c.body, false, {}, &errors));
    RETURN_IF_ERROR(CheckName(kContainers, v, c.ids[0], &errors));
    if (!errors.empty()) return BadRequest(errors);
    if ((*cur)["state"] == "OPERATION" &&
        ChangesOtherThan(*cur, v, {"is_valid", "user_metadata", "additional_files_tarball_url"})) {
      return NonFieldError(kNotEditableInOperation);
    }
    Json merged = *cur;
    merged.update(v);
    RETURN_IF_ERROR(CheckContainer(merged, c.ids[0], &errors));
    if (!errors.empty()) return BadRequest(errors);
    RETURN_IF_ERROR(Update(kContainers, c.ids[0], ForStorage(kContainers, v)));
    // Container and model share an id here; keep their lifecycle flags in step.
    Json model_changes = Json::object();
    for (const char* f : {"state", "is_valid"}) {
      if (v.contains(f)) model_changes[f] = v[f];
    }
    if (!model_changes.empty()) {
      ASSIGN_OR_RETURN(bool has_model, Exists("models", c.ids[0]));
      if (has_model) RETURN_IF_ERROR(Update(kModels, c.ids[0], model_changes));
    }
    ASSIGN_OR_RETURN(cur, Load(kContainers, c.ids[0]));
    return ApiResponse{200, *cur};
  }

  Result ContainerDatasets(Ctx& c) {
    ASSIGN_OR_RETURN(auto cur, Load(kContainers, c.ids[0]));
    if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
    if (!cur) return NotFound();
    return Page(c, "FROM datasets WHERE data_preparation_mlcube=?", {c.ids[0]}, "modified_at, id",
                "*", [this](const Json& r) { return RenderDataset(Decode(kDatasets, r), true); });
  }

  Result ContainerModel(Ctx& c) {
    ASSIGN_OR_RETURN(
        auto rows, db_->Query("SELECT * FROM models WHERE id=? AND type='CONTAINER'", {c.ids[0]}));
    if (rows.empty()) return NotFound();
    ASSIGN_OR_RETURN(Json m, RenderModel(rows[0]));
    return ApiResponse{200, m};
  }

  // --- models --------------------------------------------------------------------------

  Result ListModels(Ctx& c) {
    std::string where = "FROM models WHERE 1=1";
    std::vector<Json> params;
    if (auto bad = Filters(c, kModels, {"type"}, &where, &params)) return *bad;
    absl::Status status;
    Result r = Page(c, where, params, "modified_at, id", "*", ModelRenderer(&status));
    if (!status.ok()) return status;
    return r;
  }

  Result MyModels(Ctx& c) {
    absl::Status status;
    Result r = Page(c, "FROM models WHERE owner=?", {c.user.id}, "modified_at, id", "*",
                    ModelRenderer(&status));
    if (!status.ok()) return status;
    return r;
  }

  Result CreateModel(Ctx& c) {
    Errors errors;
    ASSIGN_OR_RETURN(Json m, Validate(kModels, c.body, true, {}, &errors));
    RETURN_IF_ERROR(CheckName(kModels, m, 0, &errors));
    if (!errors.empty()) return BadRequest(errors);
    if (m["type"] == "ASSET") {
      return BadRequest("type", "ASSET models are not supported by this server");
    }
    const Json container = c.body.value("container", Json(nullptr));
    if (!container.is_object()) {
      return BadRequest("container", container.is_null() ? "A CONTAINER model requires a container"
                                                         : "Invalid data. Expected a dictionary.");
    }
    Errors cerr;
    ASSIGN_OR_RETURN(Json v, Validate(kContainers, container, true, {}, &cerr));
    RETURN_IF_ERROR(CheckName(kContainers, v, 0, &cerr));
    if (cerr.empty()) RETURN_IF_ERROR(CheckContainer(v, 0, &cerr));
    if (!cerr.empty()) {
      errors.Nest("container", cerr.json());
      return BadRequest(errors);
    }
    if (m["state"] != v["state"]) {
      return NonFieldError("Model state must match the state of its container");
    }
    if (m["is_valid"] != v["is_valid"]) {
      return NonFieldError("Model is_valid must match is_valid of its container");
    }
    ASSIGN_OR_RETURN(int64_t id, InsertContainer(c, v, &m));
    ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT * FROM models WHERE id=?", {id}));
    ASSIGN_OR_RETURN(Json out, RenderModel(rows[0]));
    return ApiResponse{201, out};
  }

  Result GetModel(Ctx& c) {
    ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT * FROM models WHERE id=?", {c.ids[0]}));
    if (rows.empty()) return NotFound();
    ASSIGN_OR_RETURN(Json m, RenderModel(rows[0]));
    return ApiResponse{200, m};
  }

  Result PutModel(Ctx& c) {
    ASSIGN_OR_RETURN(auto cur, Load(kModels, c.ids[0]));
    if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
    if (!cur) return NotFound();
    Errors errors;
    // The type and the wrapped container are fixed once created.
    ASSIGN_OR_RETURN(Json v, Validate(kModels, c.body, false, {"type"}, &errors));
    RETURN_IF_ERROR(CheckName(kModels, v, c.ids[0], &errors));
    if (!errors.empty()) return BadRequest(errors);
    if ((*cur)["state"] == "OPERATION" &&
        ChangesOtherThan(*cur, v, {"is_valid", "user_metadata"})) {
      return NonFieldError(kNotEditableInOperation);
    }
    RETURN_IF_ERROR(Update(kModels, c.ids[0], ForStorage(kModels, v)));
    Json container_changes = Json::object();
    for (const char* f : {"state", "is_valid"}) {
      if (v.contains(f)) container_changes[f] = v[f];
    }
    if (!container_changes.empty()) {
      RETURN_IF_ERROR(Update(kContainers, c.ids[0], container_changes));
    }
    return GetModel(c);
  }

  Result DeleteModel(Ctx& c) {
    if (!c.user.admin) return Forbidden();
    ASSIGN_OR_RETURN(bool exists, Exists("models", c.ids[0]));
    if (!exists) return NotFound();
    return DeleteRow("models", c.ids[0]);
  }

  // --- datasets ------------------------------------------------------------------------

  bool SeesDatasetReport(const Ctx& c, const Json& d) {
    if (c.user.admin || d["owner"] == c.user.id) return true;
    auto prep = Load(kContainers, d["data_preparation_mlcube"].get<int64_t>());
    return prep.ok() && prep->has_value() && (**prep)["owner"] == c.user.id;
  }

  Result ListDatasets(Ctx& c) {
    // The real view declares no filters: query parameters are ignored.
    return Page(c, "FROM datasets", {}, "modified_at, id", "*",
                [this](const Json& r) { return RenderDataset(Decode(kDatasets, r), false); });
  }

  Result MyDatasets(Ctx& c) {
    return Page(c, "FROM datasets WHERE owner=?", {c.user.id}, "modified_at, id", "*",
                [this](const Json& r) { return RenderDataset(Decode(kDatasets, r), true); });
  }

  Result CreateDataset(Ctx& c) {
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(kDatasets, c.body, true, {"state"}, &errors));
    if (!errors.empty()) return BadRequest(errors);
    std::string now = Now();
    v["state"] = "DEVELOPMENT";
    v["owner"] = c.user.id;
    v["created_at"] = now;
    v["modified_at"] = now;
    ASSIGN_OR_RETURN(int64_t id, Insert(kDatasets, ForStorage(kDatasets, v)));
    ASSIGN_OR_RETURN(auto row, Load(kDatasets, id));
    return ApiResponse{201, *row};
  }

  Result GetDataset(Ctx& c) {
    ASSIGN_OR_RETURN(auto d, Load(kDatasets, c.ids[0]));
    if (!d) return NotFound();
    return ApiResponse{200, RenderDataset(*d, SeesDatasetReport(c, *d))};
  }

  Result PutDataset(Ctx& c) {
    ASSIGN_OR_RETURN(auto cur, Load(kDatasets, c.ids[0]));
    if (!c.user.admin && !(cur && (*cur)["owner"] == c.user.id)) return Forbidden();
    if (!cur) return NotFound();
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(kDatasets, c.body, false, {}, &errors));
    if (!errors.empty()) return BadRequest(errors);
    if ((*cur)["state"] == "OPERATION" &&
        ChangesOtherThan(*cur, v, {"is_valid", "user_metadata"})) {
      return NonFieldError(kNotEditableInOperation);
    }
    Json merged = *cur;
    merged.update(v);
    if (merged["state"] == "OPERATION" && (*cur)["state"] != "OPERATION") {
      ASSIGN_OR_RETURN(auto twins, db_->Query("SELECT 1 FROM datasets WHERE generated_uid=? AND "
                                              "state='OPERATION' AND id<>?",
                                              {merged["generated_uid"], c.ids[0]}));
      if (!twins.empty()) {
        return NonFieldError(
            "A dataset with the same generated_uid is already in operation; a dataset can be "
            "registered only once");
      }
    }
    RETURN_IF_ERROR(Update(kDatasets, c.ids[0], ForStorage(kDatasets, v)));
    ASSIGN_OR_RETURN(cur, Load(kDatasets, c.ids[0]));
    return ApiResponse{200, *cur};
  }

  // --- associations --------------------------------------------------------------------

  struct AssocKind {
    const Table* table;
    const char* entity;  // "dataset" | "model"
    const Table* entity_table;
    const char* mode_field;
    const char* list_field;
  };
  static const AssocKind& DatasetKind() {
    static const AssocKind k{&kDatasetAssocs, "dataset", &kDatasets, "dataset_auto_approval_mode",
                             "dataset_auto_approval_allow_list"};
    return k;
  }
  static const AssocKind& ModelKind() {
    static const AssocKind k{&kModelAssocs, "model", &kModels, "model_auto_approval_mode",
                             "model_auto_approval_allow_list"};
    return k;
  }

  absl::StatusOr<std::optional<Json>> LatestAssoc(const AssocKind& k, int64_t entity,
                                                  int64_t benchmark) {
    ASSIGN_OR_RETURN(auto rows,
                     db_->Query(absl::StrCat("SELECT * FROM ", k.table->name, " WHERE ", k.entity,
                                             "=? AND benchmark=? ORDER BY created_at DESC, id "
                                             "DESC LIMIT 1"),
                                {entity, benchmark}));
    if (rows.empty()) return std::optional<Json>();
    return std::optional<Json>(Decode(*k.table, rows[0]));
  }

  absl::StatusOr<std::optional<int64_t>> OwnerOf(const Table& t, const Json& id) {
    if (!id.is_number_integer()) return std::optional<int64_t>();
    ASSIGN_OR_RETURN(auto row, Load(t, id.get<int64_t>()));
    if (!row) return std::optional<int64_t>();
    return std::optional<int64_t>((*row)["owner"].get<int64_t>());
  }

  Result CreateAssoc(Ctx& c, const AssocKind& k) {
    // Permission first (admin, benchmark owner or the entity's owner, read from the
    // body), as the real permission classes run before validation.
    ASSIGN_OR_RETURN(auto bench_owner, OwnerOf(kBenchmarks, c.body.value("benchmark", Json())));
    ASSIGN_OR_RETURN(auto entity_owner, OwnerOf(*k.entity_table, c.body.value(k.entity, Json())));
    if (!c.user.admin && bench_owner != c.user.id && entity_owner != c.user.id) {
      return Forbidden();
    }
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(*k.table, c.body, true, {"priority"}, &errors));
    if (!errors.empty()) return BadRequest(errors);
    int64_t entity_id = v[k.entity].get<int64_t>();
    int64_t bench_id = v["benchmark"].get<int64_t>();
    ASSIGN_OR_RETURN(auto b, Load(kBenchmarks, bench_id));
    ASSIGN_OR_RETURN(auto e, Load(*k.entity_table, entity_id));
    if ((*b)["approval_status"] != "APPROVED") {
      errors.NonField("Association requests can be made only on an approved benchmark");
    }
    if ((*e)["state"] != "OPERATION") {
      errors.NonField(
          absl::StrCat("Association requests can be made only on an operational ", k.entity));
    }
    if (&k == &DatasetKind() &&
        (*e)["data_preparation_mlcube"] != (*b)["data_preparation_mlcube"]) {
      errors.NonField("The specified dataset wasn't prepared for this benchmark");
    }
    if (!errors.empty()) return BadRequest(errors);

    std::string status = v["approval_status"];
    ASSIGN_OR_RETURN(auto last, LatestAssoc(k, entity_id, bench_id));
    std::string now = Now();
    v["approved_at"] = nullptr;
    if (!last) {
      if (status != "PENDING") {
        return NonFieldError("User can only create a PENDING association request first");
      }
    } else {
      std::string prev = (*last)["approval_status"];
      if (status == "APPROVED") return NonFieldError("User cannot create an approved association");
      if (status == "PENDING" && prev != "REJECTED") {
        return NonFieldError(absl::StrCat(
            "User can create a new PENDING request only if the previous one was rejected "
            "(it is ",
            prev, ")"));
      }
      if (status == "REJECTED") {
        if (prev != "APPROVED") {
          return NonFieldError(
              "User can create a REJECTED association only if the previous one was approved");
        }
        v["approved_at"] = now;
      }
    }
    if (status == "PENDING") {
      // Auto-approval: same owner on both sides, or the benchmark's policy for requests
      // coming from the other party.
      int64_t owner = (*e)["owner"].get<int64_t>();
      const Json& bj = *b;
      bool approve = false;
      if (owner == bj["owner"].get<int64_t>()) {
        approve = true;
      } else if (c.user.id != bj["owner"].get<int64_t>()) {
        std::string mode = bj[k.mode_field];
        if (mode == "ALWAYS") {
          approve = true;
        } else if (mode == "ALLOWLIST") {
          ASSIGN_OR_RETURN(auto u, LoadUser(owner));
          for (const Json& email : bj[k.list_field]) {
            if (u && email.is_string() &&
                absl::EqualsIgnoreCase(email.get<std::string>(),
                                       (*u)["email"].get<std::string>())) {
              approve = true;
            }
          }
        }
      }
      if (approve) {
        v["approval_status"] = "APPROVED";
        v["approved_at"] = now;
      }
    }
    v["initiated_by"] = c.user.id;
    v["created_at"] = now;
    v["modified_at"] = now;
    if (&k == &ModelKind()) v["priority"] = 0;
    ASSIGN_OR_RETURN(int64_t id, Insert(*k.table, ForStorage(*k.table, v)));
    ASSIGN_OR_RETURN(auto row, Load(*k.table, id));
    return ApiResponse{201, *row};
  }

  // Admin, benchmark owner or entity owner; missing objects fail the permission for
  // non-admins (403) and give 404 to admins.
  absl::StatusOr<std::optional<ApiResponse>> PairGate(Ctx& c, const AssocKind& k) {
    ASSIGN_OR_RETURN(auto e, Load(*k.entity_table, c.ids[0]));
    ASSIGN_OR_RETURN(auto b, Load(kBenchmarks, c.ids[1]));
    if (c.user.admin) {
      if (!e || !b) return std::optional<ApiResponse>(NotFound());
      return std::optional<ApiResponse>();
    }
    if (!(e && (*e)["owner"] == c.user.id) && !(b && (*b)["owner"] == c.user.id)) {
      return std::optional<ApiResponse>(Forbidden());
    }
    if (!e || !b) return std::optional<ApiResponse>(NotFound());
    return std::optional<ApiResponse>();
  }

  Result GetPair(Ctx& c, const AssocKind& k) {
    ASSIGN_OR_RETURN(auto gate, PairGate(c, k));
    if (gate) return *gate;
    ASSIGN_OR_RETURN(auto rows,
                     db_->Query(absl::StrCat("SELECT approval_status, initiated_by, approved_at, "
                                             "created_at, modified_at FROM ",
                                             k.table->name, " WHERE ", k.entity,
                                             "=? AND benchmark=? ORDER BY created_at, id"),
                                {c.ids[0], c.ids[1]}));
    return ApiResponse{200, Json(rows)};
  }

  Result PutPair(Ctx& c, const AssocKind& k) {
    ASSIGN_OR_RETURN(auto gate, PairGate(c, k));
    if (gate) return *gate;
    ASSIGN_OR_RETURN(auto b, Load(kBenchmarks, c.ids[1]));
    bool is_model = &k == &ModelKind();
    if (is_model && c.body.contains("priority") && !c.user.admin && (*b)["owner"] != c.user.id) {
      return Forbidden();
    }
    ASSIGN_OR_RETURN(auto last, LatestAssoc(k, c.ids[0], c.ids[1]));
    if (!last) return NotFound();
    Errors errors;
    Json v = Json::object();
    if (c.body.contains("approval_status")) {
      const Json& s = c.body["approval_status"];
      if (!s.is_string() ||
          std::find(kApproval.begin(), kApproval.end(), s.get<std::string>()) == kApproval.end()) {
        errors.Add("approval_status", absl::StrCat(s.dump(), " is not a valid choice."));
      } else {
        v["approval_status"] = s;
      }
    }
    if (is_model && c.body.contains("priority")) {
      const Json& p = c.body["priority"];
      if (!p.is_number_integer()) {
        errors.Add("priority", "A valid integer is required.");
      } else {
        v["priority"] = p;
      }
    }
    if (!errors.empty()) return BadRequest(errors);
    if (v.contains("approval_status")) {
      std::string to = v["approval_status"];
      if (to == "PENDING")
        return NonFieldError("User can only approve or reject association requests");
      if ((*last)["approval_status"] != "PENDING") {
        return NonFieldError("User can approve or reject only a pending request");
      }
      if (to == "APPROVED" && (*last)["initiated_by"] == c.user.id) {
        return NonFieldError("Same user cannot approve the association request");
      }
      v["approved_at"] = Now();
    }
    RETURN_IF_ERROR(Update(*k.table, (*last)["id"].get<int64_t>(), v));
    ASSIGN_OR_RETURN(auto row, Load(*k.table, (*last)["id"].get<int64_t>()));
    return ApiResponse{200, *row};
  }

  Result DeletePair(Ctx& c, const AssocKind& k) {
    if (!c.user.admin) return Forbidden();
    RETURN_IF_ERROR(db_->Query(absl::StrCat("DELETE FROM ", k.table->name, " WHERE ", k.entity,
                                            "=? AND benchmark=?"),
                               {c.ids[0], c.ids[1]})
                        .status());
    return ApiResponse{204, nullptr};
  }

  Result EntityAssocs(Ctx& c, const AssocKind& k) {
    ASSIGN_OR_RETURN(auto e, Load(*k.entity_table, c.ids[0]));
    if (!c.user.admin && !(e && (*e)["owner"] == c.user.id)) return Forbidden();
    if (!e) return NotFound();
    return Page(c, absl::StrCat("FROM ", k.table->name, " WHERE ", k.entity, "=?"), {c.ids[0]},
                "modified_at, id", "*", [this, &k](const Json& r) { return Decode(*k.table, r); });
  }

  Result MyAssocs(Ctx& c, const AssocKind& k) {
    std::string from =
        absl::StrCat("FROM ", k.table->name, " a WHERE a.", k.entity, " IN (SELECT id FROM ",
                     k.entity_table->name,
                     " WHERE owner=?) OR a.benchmark IN (SELECT id FROM benchmarks WHERE "
                     "owner=?)");
    return Page(c, from, {c.user.id, c.user.id}, "a.modified_at, a.id", "a.*",
                [this, &k](const Json& r) { return Decode(*k.table, r); });
  }

  // --- results -------------------------------------------------------------------------

  Result ListResults(Ctx& c) {
    if (!c.user.admin) return Forbidden();
    std::string where = "FROM results WHERE 1=1";
    std::vector<Json> params;
    if (auto bad = Filters(
            c, kResults,
            {"name", "owner", "benchmark", "model", "dataset", "is_valid", "approval_status"},
            &where, &params)) {
      return *bad;
    }
    return Page(c, where, params, "modified_at, id", "*",
                [this](const Json& r) { return Decode(kResults, r); });
  }

  Result MyResults(Ctx& c) {
    return Page(c, "FROM results WHERE owner=?", {c.user.id}, "modified_at, id", "*",
                [this](const Json& r) { return Decode(kResults, r); });
  }

  Result CreateResult(Ctx& c) {
    ASSIGN_OR_RETURN(auto dataset_owner, OwnerOf(kDatasets, c.body.value("dataset", Json())));
    if (!c.user.admin && dataset_owner != c.user.id) return Forbidden();
    Errors errors;
    ASSIGN_OR_RETURN(Json v, Validate(kResults, c.body, true, {"approval_status"}, &errors));
    if (!errors.empty()) return BadRequest(errors);
    ASSIGN_OR_RETURN(auto b, Load(kBenchmarks, v["benchmark"].get<int64_t>()));
    int64_t model = v["model"].get<int64_t>();
    int64_t dataset = v["dataset"].get<int64_t>();
    // The reference model needs no association: data owners run it before asking to
    // join (the compatibility test of `dataset associate`).
    if ((*b)["reference_model"] != model) {
      ASSIGN_OR_RETURN(auto ma, LatestAssoc(ModelKind(), model, (*b)["id"].get<int64_t>()));
      ASSIGN_OR_RETURN(auto da, LatestAssoc(DatasetKind(), dataset, (*b)["id"].get<int64_t>()));
      if (!ma) {
        errors.NonField("Model must be associated to the benchmark");
      } else if ((*ma)["approval_status"] != "APPROVED") {
        errors.NonField("Model-Benchmark association must be approved");
      }
      if (!da) {
        errors.NonField("Dataset must be associated to the benchmark");
      } else if ((*da)["approval_status"] != "APPROVED") {
        errors.NonField("Dataset-Benchmark association must be approved");
      }
      if (!errors.empty()) return BadRequest(errors);
    }
    std::string now = Now();
    v["owner"] = c.user.id;
    v["approval_status"] = "PENDING";
    v["finalized"] = false;
    v["created_at"] = now;
    v["modified_at"] = now;
    ASSIGN_OR_RETURN(int64_t id, Insert(kResults, ForStorage(kResults, v)));
    ASSIGN_OR_RETURN(auto row, Load(kResults, id));
    return ApiResponse{201, *row};
  }

  absl::StatusOr<std::optional<int64_t>> DatasetOwnerOfResult(const Json& r) {
    return OwnerOf(kDatasets, r["dataset"]);
  }

  Result GetResult(Ctx& c) {
    ASSIGN_OR_RETURN(auto r, Load(kResults, c.ids[0]));
    if (!c.user.admin) {
      // An unknown id is a 403 here, as on the real server.
      if (!r) return Forbidden();
      ASSIGN_OR_RETURN(auto dataset_owner, DatasetOwnerOfResult(*r));
      ASSIGN_OR_RETURN(auto bench_owner, OwnerOf(kBenchmarks, (*r)["benchmark"]));
      if (dataset_owner != c.user.id && bench_owner != c.user.id) return Forbidden();
    }
    if (!r) return NotFound();
    return ApiResponse{200, *r};
  }

  Result PutResult(Ctx& c) {
    ASSIGN_OR_RETURN(auto r, Load(kResults, c.ids[0]));
    if (!c.user.admin) {
      if (!r) return Forbidden();
      ASSIGN_OR_RETURN(auto dataset_owner, DatasetOwnerOfResult(*r));
      if (dataset_owner != c.user.id) return Forbidden();
    }
    if (!r) return NotFound();
    if ((*r)["finalized"] == true) {
      return NonFieldError("User cannot update a result object after it's been finalized.");
    }
    Errors errors;
    ASSIGN_OR_RETURN(Json v,
                     Validate(kResults, c.body, false, {"benchmark", "model", "dataset"}, &errors));
    if (!errors.empty()) return BadRequest(errors);
    std::string now = Now();
    if (v.contains("results")) {
      v["finalized"] = true;
      v["finalized_at"] = now;
    }
    if (v.contains("approval_status") && v["approval_status"] != (*r)["approval_status"]) {
      v["approved_at"] = v["approval_status"] == "PENDING" ? Json(nullptr) : Json(now);
    }
    RETURN_IF_ERROR(Update(kResults, c.ids[0], ForStorage(kResults, v)));
    ASSIGN_OR_RETURN(r, Load(kResults, c.ids[0]));
    return ApiResponse{200, *r};
  }

  // --- deletion (admin) ----------------------------------------------------------------

  Result DeleteRow(const char* table, int64_t id) {
    auto s = db_->Query(absl::StrCat("DELETE FROM ", table, " WHERE id=?"), {id});
    if (!s.ok()) {
      if (IsConstraintError(s.status())) {
        return Detail(409, absl::StrCat("Cannot delete: other records still refer to this ", table,
                                        " entry; delete them first."));
      }
      return s.status();
    }
    if (db_->Changes() == 0) return NotFound();
    return ApiResponse{204, nullptr};
  }

  Result AdminDelete(Ctx& c, const char* table) {
    if (!c.user.admin) return Forbidden();
    if (std::string(table) == "containers") {
      // The model sharing this id goes with its container.
      ASSIGN_OR_RETURN(auto refs, db_->Query("SELECT 1 FROM models WHERE id=?", {c.ids[0]}));
      if (!refs.empty()) {
        Result r = DeleteRow("models", c.ids[0]);
        if (!r.ok() || r->status != 204) return r;
      }
    }
    return DeleteRow(table, c.ids[0]);
  }

 private:
  Db* db_;
  const ApiOptions& options_;
};

// ---------------------------------------------------------------------------------
// Routing

using Handler = std::function<Result(Handlers&, Ctx&)>;

struct Route {
  std::vector<std::string> pattern;  // "#" matches a positive integer id
  std::map<std::string, Handler> methods;
};

std::vector<Route> BuildRoutes() {
  using H = Handlers;
  auto m = [](auto fn) -> Handler { return [fn](H& h, Ctx& c) { return (h.*fn)(c); }; };
  auto dk = [](auto fn) -> Handler {
    return [fn](H& h, Ctx& c) { return (h.*fn)(c, H::DatasetKind()); };
  };
  auto mk = [](auto fn) -> Handler {
    return [fn](H& h, Ctx& c) { return (h.*fn)(c, H::ModelKind()); };
  };
  auto del = [](const char* table) -> Handler {
    return [table](H& h, Ctx& c) { return h.AdminDelete(c, table); };
  };
  return {
      {{"me"}, {{"GET", m(&H::Me)}}},
      {{"me", "benchmarks"}, {{"GET", m(&H::MyBenchmarks)}}},
      {{"me", "mlcubes"}, {{"GET", m(&H::MyContainers)}}},
      {{"me", "models"}, {{"GET", m(&H::MyModels)}}},
      {{"me", "datasets"}, {{"GET", m(&H::MyDatasets)}}},
      {{"me", "results"}, {{"GET", m(&H::MyResults)}}},
      {{"me", "datasets", "associations"}, {{"GET", dk(&H::MyAssocs)}}},
      {{"me", "models", "associations"}, {{"GET", mk(&H::MyAssocs)}}},
      {{"users"}, {{"GET", m(&H::ListUsers)}}},
      {{"users", "#"},
       {{"GET", m(&H::GetUser)}, {"PUT", m(&H::PutUser)}, {"DELETE", del("users")}}},
      {{"users", "#", "metadata"}, {{"GET", m(&H::GetUserMetadata)}}},
      {{"benchmarks"}, {{"GET", m(&H::ListBenchmarks)}, {"POST", m(&H::CreateBenchmark)}}},
      {{"benchmarks", "#"},
       {{"GET", m(&H::GetBenchmark)}, {"PUT", m(&H::PutBenchmark)}, {"DELETE", del("benchmarks")}}},
      {{"benchmarks", "#", "models"}, {{"GET", m(&H::BenchmarkModels)}}},
      {{"benchmarks", "#", "datasets"}, {{"GET", m(&H::BenchmarkDatasets)}}},
      {{"benchmarks", "#", "results"}, {{"GET", m(&H::BenchmarkResults)}}},
      {{"benchmarks", "#", "participants_info"}, {{"GET", m(&H::ParticipantsInfo)}}},
      {{"mlcubes"}, {{"GET", m(&H::ListContainers)}, {"POST", m(&H::CreateContainer)}}},
      {{"mlcubes", "#"},
       {{"GET", m(&H::GetContainer)}, {"PUT", m(&H::PutContainer)}, {"DELETE", del("containers")}}},
      {{"mlcubes", "#", "datasets"}, {{"GET", m(&H::ContainerDatasets)}}},
      {{"mlcubes", "#", "model"}, {{"GET", m(&H::ContainerModel)}}},
      {{"models"}, {{"GET", m(&H::ListModels)}, {"POST", m(&H::CreateModel)}}},
      {{"models", "benchmarks"}, {{"POST", mk(&H::CreateAssoc)}}},
      {{"models", "#"},
       {{"GET", m(&H::GetModel)}, {"PUT", m(&H::PutModel)}, {"DELETE", m(&H::DeleteModel)}}},
      {{"models", "#", "benchmarks"}, {{"GET", mk(&H::EntityAssocs)}}},
      {{"models", "#", "benchmarks", "#"},
       {{"GET", mk(&H::GetPair)}, {"PUT", mk(&H::PutPair)}, {"DELETE", mk(&H::DeletePair)}}},
      {{"datasets"}, {{"GET", m(&H::ListDatasets)}, {"POST", m(&H::CreateDataset)}}},
      {{"datasets", "benchmarks"}, {{"POST", dk(&H::CreateAssoc)}}},
      {{"datasets", "#"},
       {{"GET", m(&H::GetDataset)}, {"PUT", m(&H::PutDataset)}, {"DELETE", del("datasets")}}},
      {{"datasets", "#", "benchmarks"}, {{"GET", dk(&H::EntityAssocs)}}},
      {{"datasets", "#", "benchmarks", "#"},
       {{"GET", dk(&H::GetPair)}, {"PUT", dk(&H::PutPair)}, {"DELETE", dk(&H::DeletePair)}}},
      {{"results"}, {{"GET", m(&H::ListResults)}, {"POST", m(&H::CreateResult)}}},
      {{"results", "#"},
       {{"GET", m(&H::GetResult)}, {"PUT", m(&H::PutResult)}, {"DELETE", del("results")}}},
  };
}

const Route* Match(const std::vector<Route>& routes, const std::vector<std::string>& segs,
                   std::vector<int64_t>* ids) {
  for (const Route& r : routes) {
    if (r.pattern.size() != segs.size()) continue;
    std::vector<int64_t> found;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      if (r.pattern[i] == "#") {
        int64_t v;
        ok = !segs[i].empty() && std::all_of(segs[i].begin(), segs[i].end(), ::isdigit) &&
             absl::SimpleAtoi(segs[i], &v) && v > 0;
        if (ok) found.push_back(v);
      } else {
        ok = r.pattern[i] == segs[i];
      }
    }
    if (ok) {
      *ids = std::move(found);
      return &r;
    }
  }
  return nullptr;
}

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
  if (!Handlers::IsEmail(email)) {
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
  static const std::vector<Route> routes = BuildRoutes();
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
  Ctx ctx{req, User{}, Json::object(), {}};
  const Route* route = Match(routes, segs, &ctx.ids);
  if (!route) return NotFound();

  std::lock_guard<std::mutex> lock(mu_);
  Handlers h(db_, options_);
  auto user = h.Authenticate(req.authorization);
  if (!user.ok()) {
    std::cerr << "medperf-server: " << user.status() << "\n";
    return Detail(500, "Internal server error.");
  }
  if (!*user) {
    return Detail(401, req.authorization.empty() ? "Authentication credentials were not provided."
                                                 : "Invalid token.");
  }
  ctx.user = **user;
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
  Result result = handler->second(h, ctx);
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
