// A thin RAII layer over the SQLite C API that reports errors as absl::Status.
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

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Binds are 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Statement& Bind(int index, const std::string& value) {
    return Bind(index, std::string_view(value));
  }
  Statement& BindNull(int index);
  Statement& BindOptional(int index, const std::optional<int64_t>& value);
  Statement& BindOptional(int index, const std::optional<std::string>& value);

  // Returns true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;
  std::optional<std::string> OptionalText(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating if needed) with WAL, foreign keys and a busy timeout.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::filesystem::path& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  absl::Status Exec(std::string_view sql);
  absl::StatusOr<Statement> Prepare(std::string_view sql);
  int64_t LastInsertId() const;
  int Changes() const;
  const std::filesystem::path& path() const { return path_; }
  sqlite3* raw() { return db_; }

 private:
  Connection(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::filesystem::path path_;
};

// Begins a transaction on construction; rolls back on destruction unless committed.
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

absl::Status SqliteError(sqlite3* db, int rc, std::string_view what);

}  // namespace medperf::storage
