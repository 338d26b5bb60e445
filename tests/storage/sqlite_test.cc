// The shared SQLite layer (storage/sqlite.h): the settings both programs rely on and the
// errors they read.
#include "storage/sqlite.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace medperf::storage {
namespace {

using ::medperf::testing::TempDir;

absl::StatusOr<int64_t> IntPragma(Connection& conn, const char* sql) {
  auto q = conn.Prepare(sql);
  if (!q.ok()) return q.status();
  auto row = q->Step();
  if (!row.ok()) return row.status();
  return q->Int(0);
}

TEST(SqliteTest, OpenSetsWalForeignKeysAndBusyTimeout) {
  TempDir dir;
  auto conn = Connection::Open(dir / "a.db");
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto mode = (*conn)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok() && *mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  EXPECT_EQ(*IntPragma(**conn, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(*IntPragma(**conn, "PRAGMA busy_timeout"), 5000);
  EXPECT_EQ(*IntPragma(**conn, "PRAGMA synchronous"), 1);  // NORMAL
}

class SqliteConstraintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto conn = Connection::Open(dir_ / "a.db");
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = std::move(*conn);
    ASSERT_TRUE(conn_
                    ->Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE);"
                           "CREATE TABLE posts (id INTEGER PRIMARY KEY, "
                           "  owner INTEGER NOT NULL REFERENCES users (id));"
                           "INSERT INTO users VALUES (1, 'a'); INSERT INTO posts VALUES (1, 1);")
                    .ok());
  }
  absl::Status Run(const char* sql) {
    auto s = conn_->Prepare(sql);
    if (!s.ok()) return s.status();
    return s->Run();
  }
  TempDir dir_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(SqliteConstraintTest, UniqueAndForeignKeyViolationsAreConstraintErrors) {
  absl::Status unique = Run("INSERT INTO users VALUES (2, 'a')");
  EXPECT_TRUE(IsConstraintError(unique)) << unique;
  EXPECT_NE(unique.message().find("INSERT INTO users VALUES (2, 'a')"), std::string::npos)
      << unique;
  absl::Status referenced = Run("DELETE FROM users WHERE id = 1");
  EXPECT_TRUE(IsConstraintError(referenced)) << referenced;
  EXPECT_TRUE(IsConstraintError(conn_->Exec("INSERT INTO posts VALUES (2, 99)")));
}

TEST_F(SqliteConstraintTest, OtherErrorsAreNotConstraintErrors) {
  absl::Status syntax = Run("SELEC 1");
  ASSERT_FALSE(syntax.ok());
  EXPECT_FALSE(IsConstraintError(syntax));
  EXPECT_NE(syntax.message().find("SELEC 1"), std::string::npos) << syntax;
  // Only SQLite's own code counts, not a message or a status code that looks alike.
  EXPECT_FALSE(IsConstraintError(absl::AlreadyExistsError("UNIQUE constraint failed")));
  EXPECT_FALSE(IsConstraintError(absl::OkStatus()));
}

TEST_F(SqliteConstraintTest, ABindToAMissingParameterFailsTheStep) {
  auto s = conn_->Prepare("SELECT name FROM users WHERE id = ?");
  ASSERT_TRUE(s.ok());
  s->Bind(1, int64_t{1}).Bind(2, "extra");
  auto row = s->Step();
  ASSERT_FALSE(row.ok());
  EXPECT_NE(row.status().message().find("binding parameter 2"), std::string::npos) << row.status();
}

TEST_F(SqliteConstraintTest, AnUncommittedTransactionRollsBack) {
  {
    Transaction tx(*conn_);
    ASSERT_TRUE(tx.status().ok());
    ASSERT_TRUE(conn_->Exec("INSERT INTO users VALUES (5, 'e')").ok());
  }
  EXPECT_EQ(*IntPragma(*conn_, "SELECT count(*) FROM users"), 1);
  Transaction tx(*conn_);
  ASSERT_TRUE(conn_->Exec("INSERT INTO users VALUES (5, 'e')").ok());
  ASSERT_TRUE(tx.Commit().ok());
  EXPECT_EQ(*IntPragma(*conn_, "SELECT count(*) FROM users"), 2);
}

TEST(SqliteTest, ANonDatabaseFileIsDataLossNamingThePath) {
  TempDir dir;
  medperf::testing::WriteFile(dir / "a.db", std::string(8192, 'x'));
  auto conn = Connection::Open(dir / "a.db");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kDataLoss) << conn.status();
  EXPECT_NE(conn.status().message().find((dir / "a.db").string()), std::string::npos);
}

// A file whose first page (the header is intact, the schema after it is not) was
// overwritten: the damage must show at Open, before a program trusts the file, even though
// the schema version in the header still reads fine.
TEST(SqliteTest, AnOverwrittenSchemaPageIsDataLossAtOpen) {
  TempDir dir;
  {
    auto conn = Connection::Open(dir / "a.db");
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE((*conn)->Exec("CREATE TABLE t (x); PRAGMA user_version = 3;").ok());
    ASSERT_TRUE((*conn)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  std::string bytes = medperf::testing::ReadFile(dir / "a.db");
  ASSERT_GE(bytes.size(), 4096u);
  for (size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(i * 7);
  medperf::testing::WriteFile(dir / "a.db", bytes);
  auto conn = Connection::Open(dir / "a.db");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kDataLoss) << conn.status();
  EXPECT_NE(conn.status().message().find((dir / "a.db").string()), std::string::npos)
      << conn.status();
}

}  // namespace
}  // namespace medperf::storage
