#include "storage/sqlite.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace medperf::storage {
namespace {

// SqliteError attaches SQLite's result code under this key, so IsConstraintError asks the
// code rather than matching message text.
constexpr char kResultCodePayload[] = "medperf.storage/sqlite-result-code";

// The SQL as an error names it: one line, cut short, so a failed migration step or a long
// query does not flood the log.
std::string SqlForMessage(std::string_view sql) {
  constexpr size_t kMax = 160;
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= kMax) return out + "...";
  }
  return out;
}

}  // namespace

absl::Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = absl::StrCat(absl::string_view(what.data(), what.size()), ": ",
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  absl::Status status;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      status = absl::UnavailableError(msg);
      break;
    case SQLITE_CONSTRAINT:
      status = absl::AlreadyExistsError(msg);
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      status = absl::DataLossError(msg);
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      status = absl::PermissionDeniedError(msg);
      break;
    default:
      status = absl::InternalError(msg);
  }
  status.SetPayload(kResultCodePayload, absl::Cord(absl::StrCat(rc)));
  return status;
}

bool IsConstraintError(const absl::Status& s) {
  auto payload = s.GetPayload(kResultCodePayload);
  int rc = 0;
  return payload && absl::SimpleAtoi(std::string(*payload), &rc) &&
         (rc & 0xff) == SQLITE_CONSTRAINT;
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_status_(std::move(other.bind_status_)) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::Checked(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = SqliteError(
        db_, rc,
        absl::StrCat("binding parameter ", index, " of ", SqlForMessage(sqlite3_sql(stmt_))));
  }
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  return Checked(sqlite3_bind_int64(stmt_, index, value), index);
}

Statement& Statement::Bind(int index, std::string_view value) {
  return Checked(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                   SQLITE_TRANSIENT),
                 index);
}

Statement& Statement::BindDouble(int index, double value) {
  return Checked(sqlite3_bind_double(stmt_, index, value), index);
}

Statement& Statement::BindNull(int index) {
  return Checked(sqlite3_bind_null(stmt_, index), index);
}

Statement& Statement::BindOptional(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Statement& Statement::BindOptional(int index, const std::optional<std::string>& value) {
  return value ? Bind(index, std::string_view(*value)) : BindNull(index);
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, SqlForMessage(sqlite3_sql(stmt_)));
}

absl::Status Statement::Run() {
  absl::StatusOr<bool> r = Step();
  if (!r.ok()) return r.status();
  return absl::OkStatus();
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::Text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<int64_t> Statement::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int(column);
}

std::optional<std::string> Statement::OptionalText(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Text(column);
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

std::string Statement::ColumnName(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name ? name : "";
}

int Statement::ColumnType(int column) const { return sqlite3_column_type(stmt_, column); }

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status st = SqliteError(db, rc, absl::StrCat("cannot open database ", path.string()));
    sqlite3_close(db);
    return st;
  }
  std::unique_ptr<Connection> conn(new Connection(db, path));
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  // WAL keeps readers (status, listings) off the writer's path; NORMAL sync is durable
  // across application crashes, which is what SIGKILL safety needs.
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    absl::Status st = conn->Exec(pragma);
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat(path.string(), ": ", st.message()));
    }
  }
  return conn;
}

// close_v2: a Statement outliving its Connection (a bug, but possible) must not leak the
// handle; SQLite then closes once the last statement is finalized.
Connection::~Connection() { sqlite3_close_v2(db_); }

absl::Status Connection::Exec(std::string_view sql) {
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, SqlForMessage(sql));
  return absl::OkStatus();
}

absl::StatusOr<Statement> Connection::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, SqlForMessage(sql));
  return Statement(db_, stmt);
}

int64_t Connection::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

int Connection::Changes() const { return sqlite3_changes(db_); }

Transaction::Transaction(Connection& conn) : conn_(conn) {
  begin_status_ = conn_.Exec("BEGIN IMMEDIATE");
  if (!begin_status_.ok()) done_ = true;
}

Transaction::~Transaction() {
  if (!done_) conn_.Exec("ROLLBACK").IgnoreError();
}

absl::Status Transaction::Commit() {
  if (done_)
    return begin_status_.ok() ? absl::FailedPreconditionError("already ended") : begin_status_;
  done_ = true;
  absl::Status st = conn_.Exec("COMMIT");
  // A failed COMMIT can leave the transaction open; end it so the connection stays usable.
  if (!st.ok()) conn_.Exec("ROLLBACK").IgnoreError();
  return st;
}

}  // namespace medperf::storage
