#include "runners/output_check.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;

bool Contains(const absl::Status& s, std::string_view what) {
  return absl::string_view(s.message()).find(absl::string_view(what.data(), what.size())) !=
         absl::string_view::npos;
}

OutputLimits Cap(uint64_t bytes) {
  OutputLimits limits;
  limits.max_total_bytes = bytes;
  return limits;
}

// A prepared dataset as a preparation task leaves it: nested folders, an empty one.
void NormalTree(const fs::path& root) {
  WriteFile(root / "data/case1/image.npy", std::string(1000, 'a'));
  WriteFile(root / "data/case2/image.npy", std::string(500, 'b'));
  WriteFile(root / "data/index.csv", "id\n1\n2\n");
  fs::create_directories(root / "data/empty");
  WriteFile(root / "labels/labels.csv", "id,label\n1,0\n2,1\n");
}

TEST(OutputCheckTest, AcceptsANormalTreeAndSingleFiles) {
  TempDir dir;
  NormalTree(dir.path());
  WriteFile(dir / "predictions.json", "{}");
  const std::vector<fs::path> outputs = {dir / "data", dir / "labels", dir / "predictions.json"};
  EXPECT_TRUE(ValidateTaskOutputs(outputs, Cap(0)).ok());
  EXPECT_TRUE(ValidateTaskOutputs(outputs, Cap(1000 + 500 + 7 + 17 + 2)).ok());
  auto bytes = OutputBytes(outputs);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, 1000u + 500 + 7 + 17 + 2);
  fs::create_directories(dir / "empty_output");
  EXPECT_TRUE(ValidateTaskOutputs({dir / "empty_output"}, Cap(1)).ok());
}

TEST(OutputCheckTest, RefusesSymlinksAnywhere) {
  TempDir dir;
  NormalTree(dir / "out");
  fs::create_symlink("/proc/self/environ", dir / "out/data/case1/leak");
  absl::Status s = ValidateTaskOutputs({dir / "out/data", dir / "out/labels"}, Cap(0));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "task output 'data'")) << s;
  EXPECT_TRUE(Contains(s, "entry 'case1/leak' is a symbolic link")) << s;
  fs::remove(dir / "out/data/case1/leak");

  // Links to directories (never descended into) and relative links inside the output.
  fs::create_symlink("/etc", dir / "out/labels/etc");
  s = ValidateTaskOutputs({dir / "out/labels"}, Cap(0));
  EXPECT_TRUE(Contains(s, "entry 'etc' is a symbolic link")) << s;
  fs::remove(dir / "out/labels/etc");
  fs::create_symlink("labels.csv", dir / "out/labels/alias.csv");
  EXPECT_EQ(ValidateTaskOutputs({dir / "out/labels"}, Cap(0)).code(),
            absl::StatusCode::kInvalidArgument);
  fs::remove(dir / "out/labels/alias.csv");

  // The output itself replaced by a link.
  fs::create_symlink("/etc/passwd", dir / "results.yaml");
  s = ValidateTaskOutputs({dir / "results.yaml"}, Cap(0));
  EXPECT_TRUE(Contains(s, "task output 'results.yaml'")) << s;
  EXPECT_TRUE(Contains(s, "the output itself is a symbolic link")) << s;
  EXPECT_TRUE(ValidateTaskOutputs({dir / "out/data", dir / "out/labels"}, Cap(0)).ok());
}

TEST(OutputCheckTest, RefusesHardLinks) {
  TempDir dir;
  WriteFile(dir / "daemon_file", "state");
  fs::create_directories(dir / "out");
  fs::create_hard_link(dir / "daemon_file", dir / "out/innocent.txt");
  absl::Status s = ValidateTaskOutputs({dir / "out"}, Cap(0));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "entry 'innocent.txt' is a regular file with 2 hard links")) << s;
  // A single-file output with a second name.
  s = ValidateTaskOutputs({dir / "daemon_file"}, Cap(0));
  EXPECT_TRUE(Contains(s, "the output itself is a regular file with 2 hard links")) << s;
}

TEST(OutputCheckTest, RefusesSpecialFiles) {
  TempDir dir;
  fs::create_directories(dir / "out/sub");
  ASSERT_EQ(::mkfifo((dir / "out/sub/pipe").c_str(), 0600), 0);
  absl::Status s = ValidateTaskOutputs({dir / "out"}, Cap(0));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "entry 'sub/pipe' is a FIFO")) << s;
  fs::remove(dir / "out/sub/pipe");

  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = (dir / "out/sock").string();
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(sock);
  s = ValidateTaskOutputs({dir / "out"}, Cap(0));
  EXPECT_TRUE(Contains(s, "entry 'sock' is a socket")) << s;
  fs::remove(dir / "out/sock");

  // Devices need CAP_MKNOD; the check is the same for block devices.
  if (::mknod((dir / "out/mem").c_str(), S_IFCHR | 0600, ::makedev(1, 1)) == 0) {
    s = ValidateTaskOutputs({dir / "out"}, Cap(0));
    EXPECT_TRUE(Contains(s, "entry 'mem' is a character device")) << s;
    fs::remove(dir / "out/mem");
  }
  if (::mknod((dir / "out/disk").c_str(), S_IFBLK | 0600, ::makedev(7, 0)) == 0) {
    s = ValidateTaskOutputs({dir / "out"}, Cap(0));
    EXPECT_TRUE(Contains(s, "entry 'disk' is a block device")) << s;
    fs::remove(dir / "out/disk");
  }
  EXPECT_TRUE(ValidateTaskOutputs({dir / "out"}, Cap(0)).ok());
}

TEST(OutputCheckTest, SizeCapCountsAllOutputsTogether) {
  TempDir dir;
  WriteFile(dir / "a/one", std::string(600, 'x'));
  WriteFile(dir / "b/two", std::string(600, 'y'));
  EXPECT_TRUE(ValidateTaskOutputs({dir / "a"}, Cap(1000)).ok());
  absl::Status s = ValidateTaskOutputs({dir / "a", dir / "b"}, Cap(1000));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(
      Contains(s, "task outputs hold at least 1200 bytes, more than the limit of 1000 bytes"))
      << s;
  EXPECT_TRUE(Contains(s, "task output 'b'")) << s;
  // Sparse files count at their full size (hashing would read every byte).
  {
    int fd = ::open((dir / "a/sparse").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{1} << 40), 0);
    ::close(fd);
  }
  s = ValidateTaskOutputs({dir / "a"}, Cap(uint64_t{1} << 30));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
}

TEST(OutputCheckTest, EntryAndDepthCaps) {
  TempDir dir;
  for (int i = 0; i < 20; ++i) WriteFile(dir / "out" / ("f" + std::to_string(i)), "");
  OutputLimits limits;
  limits.max_entries = 21;  // the output itself and 20 files
  EXPECT_TRUE(ValidateTaskOutputs({dir / "out"}, limits).ok());
  limits.max_entries = 20;
  absl::Status s = ValidateTaskOutputs({dir / "out"}, limits);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(s, "more than 20 entries")) << s;

  fs::path deep = dir / "deep";
  for (int i = 0; i < 300; ++i) deep /= "d";
  fs::create_directories(deep);
  s = ValidateTaskOutputs({dir / "deep"}, OutputLimits{});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(s, "nested more than 256 directories deep")) << s;
  EXPECT_EQ(OutputBytes({dir / "deep"}).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(OutputCheckTest, MissingOutputAndCancel) {
  TempDir dir;
  absl::Status s = ValidateTaskOutputs({dir / "never_written"}, Cap(0));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(s, "task output 'never_written'")) << s;
  EXPECT_EQ(*OutputBytes({dir / "never_written"}), 0u);

  NormalTree(dir.path());
  std::atomic<bool> cancel{true};
  EXPECT_EQ(ValidateTaskOutputs({dir / "data"}, Cap(0), &cancel).code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(OutputBytes({dir / "data"}, &cancel).status().code(), absl::StatusCode::kCancelled);
}

TEST(OutputCheckTest, OutputBytesIgnoresLinksAndToleratesChurn) {
  TempDir dir;
  WriteFile(dir / "out/real", std::string(100, 'r'));
  WriteFile(dir / "big_host_file", std::string(100000, 'h'));
  fs::create_symlink(dir / "big_host_file", dir / "out/link");
  fs::create_symlink(dir.path(), dir / "out/up");
  EXPECT_EQ(*OutputBytes({dir / "out"}), 100u);

  // A running task creating and deleting files and folders while the cap is measured.
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    std::error_code ec;
    for (int i = 0; !stop; ++i) {
      fs::path d = dir / "out" / ("d" + std::to_string(i % 7));
      fs::create_directories(d / "x", ec);
      WriteFile(d / "x/f", "12345");
      fs::remove_all(d, ec);
    }
  });
  for (int i = 0; i < 300; ++i) {
    auto bytes = OutputBytes({dir / "out"});
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_GE(*bytes, 100u);
    EXPECT_LT(*bytes, 100u + 7 * 5 + 1);
  }
  stop = true;
  churn.join();
}

}  // namespace
}  // namespace medperf
