// The one SQLite layer of the project (medperfd's state database and medperf-server's
// database): a thin RAII wrapper over the SQLite C API that reports every error as an
// absl::Status naming the SQL or the database file it concerns.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace medperf::storage {

// A prepared statement. Bind parameters, then Step() through its rows (or Run() it), reading
// columns by 0-based index while Step() has just returned true.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Binds are 1-based, as in SQLite. A failed bind (an index the SQL has no parameter for)
  // is remembered and returned by the next Step() or Run(), so chains need no checks.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Statement& Bind(int index, const std::string& value) {
    return Bind(index, std::string_view(value));
  }
  // Not an overload of Bind: Bind(i, 5) would be ambiguous between int64_t and double.
  Statement& BindDouble(int index, double value);
  Statement& BindNull(int index);
  Statement& BindOptional(int index, const std::optional<int64_t>& value);
  Statement& BindOptional(int index, const std::optional<std::string>& value);

  // Returns true when a row is available, false when done. Errors: a failed bind, or
  // SqliteError (below) for the statement's SQL.
  absl::StatusOr<bool> Step();
  // Runs a statement whose rows, if any, are not needed. Errors as Step().
  absl::Status Run();

  // Columns of the current row. A NULL reads as 0 / "" / 0.0 (IsNull tells them apart).
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;
  std::optional<std::string> OptionalText(int column) const;
  // The result's shape: number of columns, a column's name (its alias if the SQL gives
  // one), and the current row's storage class there (SQLITE_INTEGER, SQLITE_FLOAT,
  // SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL).
  int ColumnCount() const;
  std::string ColumnName(int column) const;
  int ColumnType(int column) const;

 private:
  // Records the first failed bind for Step() to return.
  Statement& Checked(int rc, int index);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  absl::Status bind_status_;
};

class Connection {
 public:
  // Opens the database file at `path`, creating it if absent, with the settings both
  // programs rely on: WAL journal, synchronous=NORMAL, foreign keys on, a 5 s busy timeout.
  // Errors (each message names the path): PermissionDenied if the file cannot be
  // opened or created, DataLoss if it is not a SQLite database, others per SqliteError.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::filesystem::path& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more ';'-separated statements, discarding rows. Errors: SqliteError
  // naming (the start of) `sql`.
  absl::Status Exec(std::string_view sql);
  // Compiles one statement. Errors: SqliteError naming `sql` (syntax, unknown table...).
  absl::StatusOr<Statement> Prepare(std::string_view sql);
  int64_t LastInsertId() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int Changes() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  Connection(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::filesystem::path path_;
};

// Begins a write transaction (BEGIN IMMEDIATE) on construction; rolls back on destruction
// unless committed. status() is the BEGIN's outcome (Unavailable while another writer holds
// the database past the busy timeout); Commit() returns COMMIT's.
class Transaction {
 public:
  explicit Transaction(Connection& conn);
  ~Transaction();
  absl::Status status() const { return begin_status_; }
  absl::Status Commit();

 private:
  Connection& conn_;
  absl::Status begin_status_;
  bool done_ = false;
};

// The status for SQLite result code `rc`: "<what>: <SQLite's message>" with a code by
// cause — Unavailable (busy, locked), AlreadyExists (a constraint failed), DataLoss
// (corrupt, not a database), PermissionDenied (cannot open, read-only), Internal (others).
// `db` may be null (the message then is SQLite's text for `rc`).
absl::Status SqliteError(sqlite3* db, int rc, std::string_view what);

// True if `s` is SqliteError's status for a violated UNIQUE, FOREIGN KEY, CHECK or NOT NULL
// constraint (the server answers 409 for a delete that a foreign key forbids).
bool IsConstraintError(const absl::Status& s);

}  // namespace medperf::storage
