#include "server/api_store.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"

namespace medperf::server::internal {

absl::StatusOr<std::optional<Json>> Load(Db& db, const Table& t, int64_t id) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query(absl::StrCat("SELECT * FROM ", t.name, " WHERE id=?"), {id}));
  if (rows.empty()) return std::optional<Json>();
  return std::optional<Json>(Decode(t, rows.front()));
}

absl::StatusOr<bool> Exists(Db& db, const char* table, int64_t id) {
  ASSIGN_OR_RETURN(auto rows, db.Query(absl::StrCat("SELECT 1 FROM ", table, " WHERE id=?"), {id}));
  return !rows.empty();
}

absl::StatusOr<int64_t> Insert(Db& db, const Table& t, const Json& values, int64_t explicit_id) {
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
  RETURN_IF_ERROR(db.Query(sql, params).status());
  return explicit_id ? explicit_id : db.LastInsertId();
}

absl::Status Update(Db& db, const Table& t, int64_t id, Json changes, bool touch) {
  if (touch) changes["modified_at"] = Now();
  if (changes.empty()) return absl::OkStatus();
  std::vector<std::string> sets;
  std::vector<Json> params;
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    sets.push_back(absl::StrCat(it.key(), "=?"));
    params.push_back(Encode(it.value()));
  }
  params.push_back(id);
  return db
      .Query(absl::StrCat("UPDATE ", t.name, " SET ", absl::StrJoin(sets, ","), " WHERE id=?"),
             params)
      .status();
}

namespace {
absl::StatusOr<bool> NameTaken(Db& db, const Table& t, const std::string& name, int64_t except_id) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query(absl::StrCat("SELECT 1 FROM ", t.name, " WHERE name=? AND id<>?"),
                            {name, except_id}));
  return !rows.empty();
}

}  // namespace

absl::Status CheckName(Db& db, const Table& t, const Json& values, int64_t except_id,
                       Errors* errors) {
  if (!values.contains("name") || !values["name"].is_string()) return absl::OkStatus();
  ASSIGN_OR_RETURN(bool taken, NameTaken(db, t, values["name"].get<std::string>(), except_id));
  if (taken) errors->Add("name", absl::StrCat(t.verbose, " with this name already exists."));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Json>> LoadUser(Db& db, int64_t id) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT * FROM users WHERE id=?", {id}));
  if (rows.empty()) return std::optional<Json>();
  return std::optional<Json>(rows[0]);
}

Result DeleteRow(Db& db, const char* table, int64_t id) {
  auto s = db.Query(absl::StrCat("DELETE FROM ", table, " WHERE id=?"), {id});
  if (!s.ok()) {
    if (IsConstraintError(s.status())) {
      return Detail(409, absl::StrCat("Cannot delete: other records still refer to this ", table,
                                      " entry; delete them first."));
    }
    return s.status();
  }
  if (db.Changes() == 0) return NotFound();
  return ApiResponse{204, nullptr};
}

}  // namespace medperf::server::internal
