#include "core/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_support.h"

namespace medperf {
namespace {

using ::testing::HasSubstr;

TEST(FilesTest, ReadSmallFileReadsExactBytesUpToTheBound) {
  testing::TempDir dir;
  auto path = dir / "f";
  testing::WriteFile(path, std::string("a\0b\r\n", 5));
  auto text = ReadSmallFile(path, 5, "test file");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, std::string("a\0b\r\n", 5));

  auto big = ReadSmallFile(path, 4, "test file f");
  ASSERT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.status().message(), HasSubstr("test file f is larger than 4 bytes"));

  auto missing = ReadSmallFile(dir / "missing", 10, "config file /x/missing");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot read config file /x/missing: "));

  auto folder = ReadSmallFile(dir.path(), 10, "the folder");
  ASSERT_EQ(folder.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(folder.status().message(), HasSubstr("the folder is not a regular file"));
}

TEST(FilesTest, TokenFileMustBePrivateAndHoldOneLine) {
  testing::TempDir dir;
  auto path = dir / "token";
  testing::WriteFile(path, "  abc123\n");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto t = ReadTokenFile(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(t.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(t.status().message(), HasSubstr("0644"));
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  EXPECT_FALSE(ReadTokenFile(path).ok());
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  t = ReadTokenFile(path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "abc123");
  ASSERT_EQ(chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(ReadTokenFile(path).ok());

  EXPECT_EQ(ReadTokenFile(dir / "missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ReadTokenFile(dir.path()).ok());  // a directory
  auto empty = dir / "empty";
  testing::WriteFile(empty, "\n");
  chmod(empty.c_str(), 0600);
  EXPECT_THAT(ReadTokenFile(empty).status().message(), HasSubstr("empty"));
  auto two = dir / "two";
  testing::WriteFile(two, "a\nb\n");
  chmod(two.c_str(), 0600);
  EXPECT_FALSE(ReadTokenFile(two).ok());
}

}  // namespace
}  // namespace medperf
