// medperf-server's database (server/sqlite_db.h): files written by earlier servers open,
// and the JSON-valued queries keep their types.
#include "server/sqlite_db.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/support/test_support.h"

namespace medperf::server {
namespace {

using ::medperf::testing::TempDir;

constexpr char kInsertUser[] =
    "INSERT INTO users (id, username, email, token_hash, created_at) "
    "VALUES (3, 'kept', 'kept@example.com', 'h', 't')";

// Until the shared runner, medperf-server applied each step as one Exec of
// "BEGIN IMMEDIATE; <step>; PRAGMA user_version = N; COMMIT;" (server/sqlite_db.cc at the
// time); its schema version was 1. A database rebuilt exactly that way, holding a user,
// opens with its data, at the latest version.
TEST(ServerDbTest, ADatabaseOfTheCurrentSchemaVersionWrittenByThePreviousServerOpens) {
  TempDir dir;
  {
    auto conn = storage::Connection::Open(dir / "server.db");
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE((*conn)
                    ->Exec(absl::StrCat("BEGIN IMMEDIATE;", ServerMigrations()[0].sql,
                                        "; PRAGMA user_version = 1; COMMIT;"))
                    .ok());
    ASSERT_TRUE((*conn)->Exec(kInsertUser).ok());
  }
  auto db = Db::Open(dir / "server.db");
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*(*db)->Scalar("PRAGMA user_version"), ServerMigrations().size());
  EXPECT_EQ(*(*db)->Scalar("SELECT email FROM users WHERE id = 3"), "kept@example.com");
  EXPECT_EQ(*(*db)->Scalar("PRAGMA integrity_check"), "ok");
}

TEST(ServerDbTest, ANewerDatabaseIsRefusedUntouchedNamingTheFile) {
  TempDir dir;
  const int newer = static_cast<int>(ServerMigrations().size()) + 1;
  {
    auto conn = storage::Connection::Open(dir / "server.db");
    ASSERT_TRUE((*conn)->Exec(absl::StrCat("PRAGMA user_version = ", newer)).ok());
  }
  auto db = Db::Open(dir / "server.db");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(db.status().message().find(absl::StrCat("server.db: database schema version ", newer,
                                                    " is newer than this medperf-server")),
            std::string::npos)
      << db.status();
  auto conn = storage::Connection::Open(dir / "server.db");
  EXPECT_EQ(*storage::SchemaVersion(**conn), newer);
}

TEST(ServerDbTest, QueryBindsAndReturnsJsonValues) {
  TempDir dir;
  auto db = Db::Open(dir / "server.db");
  ASSERT_TRUE(db.ok()) << db.status();
  auto rows =
      (*db)->Query("SELECT ? AS n, ? AS b, ? AS f, ? AS s, ? AS o, ? AS z",
                   {Json(42), Json(true), Json(0.5), Json("text"), Json{{"k", 1}}, Json(nullptr)});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(
      (*rows)[0],
      (Json{{"n", 42}, {"b", 1}, {"f", 0.5}, {"s", "text"}, {"o", "{\"k\":1}"}, {"z", nullptr}}));
  auto none = (*db)->Scalar("SELECT id FROM users");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
}

TEST(ServerDbTest, ConstraintViolationsAreToldApartAndWipeKeepsTheSchema) {
  TempDir dir;
  auto db = Db::Open(dir / "server.db");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Exec(kInsertUser).ok());
  auto dup = (*db)->Query(kInsertUser);
  EXPECT_TRUE(IsConstraintError(dup.status())) << dup.status();
  auto bad = (*db)->Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(IsConstraintError(bad.status()));

  ASSERT_TRUE((*db)->WipeData().ok());
  EXPECT_EQ(*(*db)->Scalar("SELECT COUNT(*) FROM users"), 0);
  ASSERT_TRUE((*db)
                  ->Exec("INSERT INTO users (username, email, token_hash, created_at) "
                         "VALUES ('a', 'a@example.com', 'h', 't')")
                  .ok());
  EXPECT_EQ((*db)->LastInsertId(), 1) << "ids restart after a wipe";
}

}  // namespace
}  // namespace medperf::server
