#include "storage/migrations.h"

#include <gtest/gtest.h>

#include "storage/store.h"
#include "tests/support/test_support.h"

namespace medperf::storage {
namespace {

using ::medperf::testing::TempDir;

TEST(MigrationsTest, VersionsAreNumberedConsecutivelyFromOne) {
  int expected = 1;
  for (const Migration& m : AllMigrations()) {
    EXPECT_EQ(m.version, expected++) << m.description;
  }
  EXPECT_EQ(LatestSchemaVersion(), expected - 1);
}

TEST(MigrationsTest, EmptyDatabaseMigratesToLatest) {
  TempDir dir;
  auto conn = Connection::Open(dir / "state.db");
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(*CurrentSchemaVersion(**conn), 0);
  ASSERT_TRUE(Migrate(**conn).ok());
  EXPECT_EQ(*CurrentSchemaVersion(**conn), LatestSchemaVersion());
  // Running again is a no-op.
  ASSERT_TRUE(Migrate(**conn).ok());
  EXPECT_EQ(*CurrentSchemaVersion(**conn), LatestSchemaVersion());
}

// A database left at every earlier version, holding data, must reach the latest schema
// with its data intact.
TEST(MigrationsTest, EveryEarlierVersionMigratesWithDataKept) {
  for (int from = 1; from < LatestSchemaVersion(); ++from) {
    SCOPED_TRACE(from);
    TempDir dir;
    {
      auto conn = Connection::Open(dir / "state.db");
      ASSERT_TRUE(conn.ok());
      ASSERT_TRUE(Migrate(**conn, from).ok());
      ASSERT_EQ(*CurrentSchemaVersion(**conn), from);
      ASSERT_TRUE((*conn)
                      ->Exec("INSERT INTO datasets (id, name, prep_container_id, raw_data_path, "
                             "raw_labels_path, input_data_hash, created_at, updated_at) VALUES "
                             "(7, 'kept', 1, '/d', '/l', 'abc', 't', 't');"
                             "INSERT INTO events (time, kind, message) VALUES ('t', 'k', 'm');")
                      .ok());
    }
    auto store = Store::Open(dir / "state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ(*(*store)->SchemaVersion(), LatestSchemaVersion());
    auto d = (*store)->GetDataset(DatasetId(7));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->name, "kept");
    EXPECT_EQ(d->input_data_hash, "abc");
    EXPECT_EQ((*store)->ListEvents(0, 10)->size(), 1u);
    EXPECT_EQ(*(*store)->IntegrityCheck(), "ok");
  }
}

TEST(MigrationsTest, NewerDatabaseIsRefusedAndLeftUntouched) {
  TempDir dir;
  {
    auto conn = Connection::Open(dir / "state.db");
    ASSERT_TRUE(Migrate(**conn).ok());
    ASSERT_TRUE((*conn)->Exec("UPDATE schema_version SET version = 999").ok());
  }
  auto store = Store::Open(dir / "state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer than this medperfd"), std::string::npos);
  auto conn = Connection::Open(dir / "state.db");
  EXPECT_EQ(*CurrentSchemaVersion(**conn), 999);
}

TEST(MigrationsTest, NonDatabaseFileGivesClearError) {
  TempDir dir;
  medperf::testing::WriteFile(dir / "state.db", std::string(8192, 'x'));
  auto store = Store::Open(dir / "state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("state.db"), std::string::npos) << store.status();
}

}  // namespace
}  // namespace medperf::storage
