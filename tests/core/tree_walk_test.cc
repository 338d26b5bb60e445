#include "core/tree_walk.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;

// Issue 13 (13): an empty data folder was registered on the server by `dataset submit`.
TEST(CheckFolderHoldsAFileTest, EmptyFoldersAreRefusedWithTheirName) {
  TempDir dir;
  fs::create_directories(dir / "empty");
  absl::Status empty = CheckFolderHoldsAFile(dir / "empty", "--data_path");
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.message(), "--data_path '" + (dir / "empty").string() +
                                 "' is empty: no data file in it or its subfolders (hidden "
                                 "files and broken links do not count)");
  // Only empty subfolders is no data either.
  fs::create_directories(dir / "nested/a/b");
  fs::create_directories(dir / "nested/c");
  EXPECT_EQ(CheckFolderHoldsAFile(dir / "nested", "--data_path").code(),
            absl::StatusCode::kInvalidArgument);
  // A symlink to an empty folder is the empty folder.
  fs::create_directory_symlink(dir / "empty", dir / "link");
  EXPECT_EQ(CheckFolderHoldsAFile(dir / "link", "--data_path").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckFolderHoldsAFile(dir / "missing", "--data_path").code(),
            absl::StatusCode::kNotFound);
  // A broken link and hidden files are no data either (found by a newcomer's review).
  fs::create_directories(dir / "no_data/sub");
  fs::create_symlink(dir / "nonexistent-target", dir / "no_data/dangling");
  WriteFile(dir / "no_data/.DS_Store", "");
  WriteFile(dir / "no_data/sub/.gitkeep", "");
  fs::create_directory_symlink(dir / "empty", dir / "no_data/link_to_dir");
  EXPECT_EQ(CheckFolderHoldsAFile(dir / "no_data", "--data_path").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CheckFolderHoldsAFileTest, OneFileAnywhereIsEnough) {
  TempDir dir;
  WriteFile(dir / "data/deep/er/case_001.dcm", "x");
  fs::create_directories(dir / "data/other");
  EXPECT_TRUE(CheckFolderHoldsAFile(dir / "data", "--data_path").ok());
  fs::create_directories(dir / "links");
  fs::create_symlink(dir / "data/deep/er/case_001.dcm", dir / "links/case_001.dcm");
  EXPECT_TRUE(CheckFolderHoldsAFile(dir / "links", "--data_path").ok());
  fs::create_directory_symlink(dir / "data", dir / "via_link");
  EXPECT_TRUE(CheckFolderHoldsAFile(dir / "via_link", "--data_path").ok());
}

}  // namespace
}  // namespace medperf
