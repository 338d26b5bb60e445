// Internal to server/api*.cc: the per-entity field lists (a small stand-in for the Django
// serializers of mlcommons/medperf server/{mlcube,model,benchmark,dataset,
// benchmarkdataset,benchmarkmodel,result}/serializers.py and their models.py), request
// validation, the JSON <-> SQLite row conversion and the JSON shaping of each entity.
//
// Each table's columns are named like the API fields, so one spec drives validation,
// storage and rendering. Rows come from Db::Query (integers, floats, strings, null);
// JSON-kind fields are stored as JSON text and booleans as 0/1.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/api_internal.h"
#include "server/sqlite_db.h"

namespace medperf::server::internal {

enum class Kind { kInt, kFk, kStr, kBool, kJson, kEnum, kTime, kEmailList };

struct Field {
  const char* name;
  Kind kind;
  int max_len = 0;  // kStr: Django's max_length (0 = unbounded)
  bool writable = true;
  bool required = false;
  bool blank_ok = true;  // kStr: false = "This field may not be blank."
  bool nullable = false;
  Json def = nullptr;  // value on create when absent (writable, not required)
  std::vector<std::string> choices = {};
  const char* fk_table = nullptr;  // kFk: the SQL table the id must exist in
};

struct Table {
  const char* name;     // SQL table
  const char* verbose;  // as in the real server's messages ("benchmark with this name...")
  std::vector<Field> fields;
};

// Choices of the real server's enums (each app's models.py).
extern const std::vector<std::string> kStates;    // DEVELOPMENT, OPERATION
extern const std::vector<std::string> kApproval;  // PENDING, APPROVED, REJECTED
extern const std::vector<std::string> kModes;     // NEVER, ALWAYS, ALLOWLIST (auto-approval)

extern const Table kContainers;     // /mlcubes/ (server/mlcube/)
extern const Table kModels;         // /models/ (server/model/)
extern const Table kBenchmarks;     // /benchmarks/ (server/benchmark/)
extern const Table kDatasets;       // /datasets/ (server/dataset/)
extern const Table kDatasetAssocs;  // /datasets/benchmarks/ (server/benchmarkdataset/)
extern const Table kModelAssocs;    // /models/benchmarks/ (server/benchmarkmodel/)
extern const Table kResults;        // /results/, the "executions" (server/result/)

// The field named `name` of `t`, or nullptr.
const Field* FindField(const Table& t, const std::string& name);

// Python's type name of a JSON value ("str", "int", "dict", "NoneType", ...), as DRF puts
// it in type errors.
const char* TypeName(const Json& j);

// Loose email check (one '@' with text on both sides, no spaces or commas).
bool IsEmail(const std::string& s);

// A stored row -> API JSON: booleans from 0/1, JSON-kind fields parsed; columns that are
// not fields of `t` are dropped.
Json Decode(const Table& t, const Json& row);
// One value -> SQL parameter: objects/arrays as JSON text, scalars as they are.
Json Encode(const Json& v);
// Converts the values of JSON-kind fields in `values` to their stored text (a nullable
// field's null stays SQL NULL), so that a JSON field set to "abc" decodes unambiguously.
Json ForStorage(const Table& t, const Json& values);

// Checks the writable fields present in `body` (all required ones, and defaults for the
// rest, when `create`) and returns them typed. Read-only and `ignore`d fields are dropped
// silently, like DRF. Field errors go to `errors` (the result then holds what was
// valid); foreign keys are looked up in `db`, and only a failed query is a non-OK status.
absl::StatusOr<Json> Validate(Db& db, const Table& t, const Json& body, bool create,
                              const std::set<std::string>& ignore, Errors* errors);

// True if `changes` sets any field outside `allowed` to a value different from `current`
// (the real serializers' OPERATION-mode edit restriction).
bool ChangesOtherThan(const Json& current, const Json& changes,
                      const std::set<std::string>& allowed);

// --- rendering (the real serializers' output shapes) ---

// A users row -> {id, username, email, first_name, last_name, metadata}.
Json RenderUser(const Json& row);
// Benchmarks: the auto-approval allow lists only for the owner and admins (`full`).
Json RenderBenchmark(Json b, bool full);
// Datasets: the `report` only for the owner, the prep container's owner and admins.
Json RenderDataset(Json d, bool full);
// A models row -> the model with its nested `container` (type CONTAINER; containers and
// models share ids here) and `asset` (always null). Fails only if the query fails.
absl::StatusOr<Json> RenderModel(Db& db, const Json& row);
// RenderModel for Page(), which takes renderers that cannot fail: the first failure is
// stored in `*status` (checked by the caller after the page is built).
std::function<Json(const Json&)> ModelRenderer(Db& db, absl::Status* status);

}  // namespace medperf::server::internal
