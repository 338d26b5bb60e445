// medperfd's state-database schema (storage/state_schema.h): every version, including the
// state.db files of medperfd before the shared runner, opens and reaches the latest.
#include "storage/state_schema.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "storage/store.h"
#include "tests/support/test_support.h"

namespace medperf::storage {
namespace {

using ::medperf::testing::TempDir;

constexpr char kInsertData[] =
    "INSERT INTO datasets (id, name, prep_container_id, raw_data_path, raw_labels_path, "
    "input_data_hash, created_at, updated_at) VALUES (7, 'kept', 1, '/d', '/l', 'abc', 't', 't');"
    "INSERT INTO events (time, kind, message) VALUES ('t', 'k', 'm');";

// Opens `path` as medperfd does and checks the data of kInsertData survived.
void ExpectOpensAtLatestWithDataKept(const std::filesystem::path& path) {
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->SchemaVersion(), LatestStateVersion());
  auto d = (*store)->GetDataset(DatasetId(7));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "kept");
  EXPECT_EQ(d->input_data_hash, "abc");
  EXPECT_EQ((*store)->ListEvents(0, 10)->size(), 1u);
  EXPECT_EQ(*(*store)->IntegrityCheck(), "ok");
}

TEST(StateSchemaTest, EmptyDatabaseMigratesToLatest) {
  TempDir dir;
  auto conn = Connection::Open(dir / "state.db");
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(*SchemaVersion(**conn), 0);
  ASSERT_TRUE(MigrateState(**conn).ok());
  EXPECT_EQ(*SchemaVersion(**conn), LatestStateVersion());
  ASSERT_TRUE(MigrateState(**conn).ok());
  EXPECT_EQ(*SchemaVersion(**conn), LatestStateVersion());
}

// A database left at every earlier version, holding data, must reach the latest schema
// with its data intact.
TEST(StateSchemaTest, EveryEarlierVersionMigratesWithDataKept) {
  for (int from = 1; from < LatestStateVersion(); ++from) {
    SCOPED_TRACE(from);
    TempDir dir;
    {
      auto conn = Connection::Open(dir / "state.db");
      ASSERT_TRUE(conn.ok());
      ASSERT_TRUE(MigrateState(**conn, from).ok());
      ASSERT_EQ(*SchemaVersion(**conn), from);
      ASSERT_TRUE((*conn)->Exec(kInsertData).ok());
    }
    ExpectOpensAtLatestWithDataKept(dir / "state.db");
  }
}

// medperfd before schema version 3 applied each step with its own runner, recording the
// version in the table schema_version and leaving PRAGMA user_version at 0. Its state.db
// files, at each version it could write (1 and 2), are rebuilt here exactly that way.
TEST(StateSchemaTest, AStateDbOfTheTableRecordingMedperfdOpens) {
  for (int from = 1; from <= 2; ++from) {
    SCOPED_TRACE(from);
    TempDir dir;
    {
      auto conn = Connection::Open(dir / "state.db");
      ASSERT_TRUE(conn.ok());
      for (int v = 1; v <= from; ++v) {
        ASSERT_TRUE(
            (*conn)
                ->Exec(absl::StrCat("BEGIN IMMEDIATE;", StateMigrations()[v - 1].sql,
                                    "; UPDATE schema_version SET version = ", v, "; COMMIT;"))
                .ok());
      }
      ASSERT_EQ(*SchemaVersion(**conn), 0);
      ASSERT_TRUE((*conn)->Exec(kInsertData).ok());
    }
    ExpectOpensAtLatestWithDataKept(dir / "state.db");
    auto conn = Connection::Open(dir / "state.db");
    auto table =
        (*conn)->Prepare("SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'");
    ASSERT_TRUE(table.ok() && *table->Step());
    EXPECT_EQ(table->Int(0), 0) << "the old version table is dropped by step 3";
  }
}

TEST(StateSchemaTest, AVersionTableHoldingAnUnknownVersionIsRefusedUntouched) {
  TempDir dir;
  {
    auto conn = Connection::Open(dir / "state.db");
    ASSERT_TRUE((*conn)->Exec(StateMigrations()[0].sql).ok());
    ASSERT_TRUE((*conn)->Exec("UPDATE schema_version SET version = 9").ok());
  }
  auto store = Store::Open(dir / "state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_NE(store.status().message().find("state.db: table schema_version holds 9"),
            std::string::npos)
      << store.status();
  auto conn = Connection::Open(dir / "state.db");
  EXPECT_EQ(*SchemaVersion(**conn), 0);
}

TEST(StateSchemaTest, NewerDatabaseIsRefusedAndLeftUntouched) {
  TempDir dir;
  {
    auto conn = Connection::Open(dir / "state.db");
    ASSERT_TRUE(MigrateState(**conn).ok());
    ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 999").ok());
  }
  auto store = Store::Open(dir / "state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("state.db: database schema version 999 is newer than "
                                          "this medperfd"),
            std::string::npos)
      << store.status();
  auto conn = Connection::Open(dir / "state.db");
  EXPECT_EQ(*SchemaVersion(**conn), 999);
}

TEST(StateSchemaTest, NonDatabaseFileGivesClearError) {
  TempDir dir;
  medperf::testing::WriteFile(dir / "state.db", std::string(8192, 'x'));
  auto store = Store::Open(dir / "state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("state.db"), std::string::npos) << store.status();
}

}  // namespace
}  // namespace medperf::storage
