// The shared numbered-migration runner (storage/migrations.h), on a small schema of its own
// so that each property is shown apart from the daemon's and the server's schemas.
#include "storage/migrations.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/test_support.h"

namespace medperf::storage {
namespace {

using ::medperf::testing::TempDir;

const std::vector<Migration> kSteps = {
    {1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"},
    {2, "note authors", "ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT '';"},
    {3, "tags", "CREATE TABLE tags (note INTEGER NOT NULL REFERENCES notes (id), tag TEXT);"},
};

std::unique_ptr<Connection> OpenAt(const std::filesystem::path& path) {
  auto conn = Connection::Open(path);
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(*conn) : nullptr;
}

bool HasTable(Connection& conn, const std::string& name) {
  auto q = conn.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
  EXPECT_TRUE(q.ok()) << q.status();
  q->Bind(1, name);
  EXPECT_TRUE(*q->Step());
  return q->Int(0) == 1;
}

TEST(MigrateTest, NewDatabaseIsAtVersionZeroAndReachesTheLastStep) {
  TempDir dir;
  auto conn = OpenAt(dir / "a.db");
  EXPECT_EQ(*SchemaVersion(*conn), 0);
  ASSERT_TRUE(Migrate(*conn, kSteps, "test-program").ok());
  EXPECT_EQ(*SchemaVersion(*conn), 3);
  // Running again is a no-op.
  ASSERT_TRUE(Migrate(*conn, kSteps, "test-program").ok());
  EXPECT_EQ(*SchemaVersion(*conn), 3);
}

// A database left at any earlier version, holding data, reaches the last version with the
// data in place, and the version survives closing and reopening the file.
TEST(MigrateTest, EveryEarlierVersionReachesTheLastWithDataKept) {
  for (int from = 1; from < 3; ++from) {
    SCOPED_TRACE(from);
    TempDir dir;
    {
      auto conn = OpenAt(dir / "a.db");
      ASSERT_TRUE(Migrate(*conn, kSteps, "test-program", from).ok());
      ASSERT_EQ(*SchemaVersion(*conn), from);
      EXPECT_FALSE(HasTable(*conn, "tags"));
      ASSERT_TRUE(conn->Exec("INSERT INTO notes (id, text) VALUES (7, 'kept')").ok());
    }
    auto conn = OpenAt(dir / "a.db");
    EXPECT_EQ(*SchemaVersion(*conn), from);
    ASSERT_TRUE(Migrate(*conn, kSteps, "test-program").ok());
    EXPECT_EQ(*SchemaVersion(*conn), 3);
    auto q = conn->Prepare("SELECT text, author FROM notes WHERE id = 7");
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE(*q->Step());
    EXPECT_EQ(q->Text(0), "kept");
    EXPECT_EQ(q->Text(1), "");
    EXPECT_TRUE(conn->Exec("INSERT INTO tags (note, tag) VALUES (7, 'x')").ok());
  }
}

// A step that fails half-way is rolled back whole (its first statement too), the version
// stays at the step before, and a corrected step list then applies on the same file.
TEST(MigrateTest, AFailingStepRollsBackAndLeavesTheVersion) {
  TempDir dir;
  std::vector<Migration> broken = kSteps;
  broken[1].sql = "CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1);";
  auto conn = OpenAt(dir / "a.db");
  absl::Status s = Migrate(*conn, broken, "test-program");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find((dir / "a.db").string()), std::string::npos) << s;
  EXPECT_NE(s.message().find("migration 2 (note authors)"), std::string::npos) << s;
  EXPECT_NE(s.message().find("no_such_table"), std::string::npos) << s;
  EXPECT_EQ(*SchemaVersion(*conn), 1);
  EXPECT_FALSE(HasTable(*conn, "half"));
  EXPECT_TRUE(HasTable(*conn, "notes"));

  ASSERT_TRUE(Migrate(*conn, kSteps, "test-program").ok());
  EXPECT_EQ(*SchemaVersion(*conn), 3);
}

TEST(MigrateTest, ANewerDatabaseIsRefusedUntouchedNamingTheFile) {
  TempDir dir;
  auto conn = OpenAt(dir / "a.db");
  ASSERT_TRUE(conn->Exec("PRAGMA user_version = 4").ok());
  absl::Status s = Migrate(*conn, kSteps, "test-program");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find((dir / "a.db").string()), std::string::npos) << s;
  EXPECT_NE(s.message().find("version 4 is newer than this test-program supports (3)"),
            std::string::npos)
      << s;
  EXPECT_EQ(*SchemaVersion(*conn), 4);
  EXPECT_FALSE(HasTable(*conn, "notes"));
}

TEST(MigrateTest, MisnumberedStepsApplyNothing) {
  TempDir dir;
  std::vector<Migration> gap = {kSteps[0], kSteps[2]};
  auto conn = OpenAt(dir / "a.db");
  absl::Status s = Migrate(*conn, gap, "test-program");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_NE(s.message().find("'tags' is numbered 3, expected 2"), std::string::npos) << s;
  EXPECT_EQ(*SchemaVersion(*conn), 0);
  EXPECT_FALSE(HasTable(*conn, "notes"));
}

}  // namespace
}  // namespace medperf::storage
