#include "server/api_schema.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "server/api_store.h"

namespace medperf::server::internal {

const std::vector<std::string> kStates = {"DEVELOPMENT", "OPERATION"};
const std::vector<std::string> kApproval = {"PENDING", "APPROVED", "REJECTED"};
const std::vector<std::string> kModes = {"NEVER", "ALWAYS", "ALLOWLIST"};

namespace {

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

}  // namespace

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

bool IsEmail(const std::string& s) {
  auto at = s.find('@');
  return at != std::string::npos && at > 0 && at + 1 < s.size() &&
         s.find('@', at + 1) == std::string::npos &&
         s.find_first_of(" \t\r\n,") == std::string::npos;
}

const Field* FindField(const Table& t, const std::string& name) {
  for (const Field& f : t.fields) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

Json Decode(const Table& t, const Json& row) {
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

// JSON-typed columns hold JSON text, even for string values (e.g. a JSON field set to
// "abc"), so decoding is unambiguous.
Json Encode(const Json& v) {
  if (v.is_object() || v.is_array()) return v.dump();
  return v;
}

// Converts the values of JSON-kind fields to their stored text.
Json ForStorage(const Table& t, const Json& values) {
  Json out = values;
  for (const Field& f : t.fields) {
    if ((f.kind == Kind::kJson || f.kind == Kind::kEmailList) && out.contains(f.name)) {
      const Json& v = out[f.name];
      out[f.name] = v.is_null() && f.nullable ? Json(nullptr) : Json(v.dump());
    }
  }
  return out;
}

// Checks the writable fields present in `body` (all required ones on create) and
// returns them typed; read-only and `ignore`d fields are dropped silently, like DRF.
absl::StatusOr<Json> Validate(Db& db, const Table& t, const Json& body, bool create,
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
        ASSIGN_OR_RETURN(bool exists, Exists(db, f.fk_table, v.get<int64_t>()));
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
        if (!v.is_string() || std::find(f.choices.begin(), f.choices.end(), v.get<std::string>()) ==
                                  f.choices.end()) {
          errors->Add(f.name, absl::StrCat(v.dump(), " is not a valid choice."));
        } else {
          out[f.name] = v;
        }
        break;
      case Kind::kEmailList: {
        if (!v.is_array()) {
          errors->Add(f.name,
                      absl::StrCat("Expected a list of items but got type \"", TypeName(v), "\"."));
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

// True if `changes` sets any field outside `allowed` to a different value.
bool ChangesOtherThan(const Json& current, const Json& changes,
                      const std::set<std::string>& allowed) {
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    if (allowed.count(it.key())) continue;
    auto cur = current.find(it.key());
    if (cur == current.end() || *cur != it.value()) return true;
  }
  return false;
}

Json RenderUser(const Json& row) {
  return Json{{"id", row["id"]},
              {"username", row["username"]},
              {"email", row["email"]},
              {"first_name", ""},
              {"last_name", ""},
              {"metadata", Json::parse(row["metadata"].get<std::string>(), nullptr, false)}};
}

absl::StatusOr<Json> RenderModel(Db& db, const Json& row) {
  Json m = Decode(kModels, row);
  m["container"] = nullptr;
  m["asset"] = nullptr;
  if (m["type"] == "CONTAINER") {
    ASSIGN_OR_RETURN(auto container, Load(db, kContainers, m["id"].get<int64_t>()));
    if (container) m["container"] = *container;
  }
  return m;
}

Json RenderBenchmark(Json b, bool full) {
  if (!full) {
    b.erase("dataset_auto_approval_allow_list");
    b.erase("model_auto_approval_allow_list");
  }
  return b;
}

Json RenderDataset(Json d, bool full) {
  if (!full) d.erase("report");
  return d;
}

// A list renderer that cannot fail; model rows need a second query, done eagerly.
std::function<Json(const Json&)> ModelRenderer(Db& db, absl::Status* status) {
  return [&db, status](const Json& row) {
    auto m = RenderModel(db, row);
    if (!m.ok()) {
      *status = m.status();
      return Json(nullptr);
    }
    return *m;
  };
}

}  // namespace medperf::server::internal
