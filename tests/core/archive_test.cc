#include "core/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

struct Entry {
  std::string name;
  mode_t type = AE_IFREG;
  std::string data;
  std::string link;  // symlink target, or hardlink target when hardlink is set
  bool hardlink = false;
  mode_t perm = 0644;
};

Entry File(std::string name, std::string data, mode_t perm = 0644) {
  Entry e;
  e.name = std::move(name);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}
Entry Dir(std::string name, mode_t perm = 0755) {
  Entry e;
  e.name = std::move(name);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}
Entry Symlink(std::string name, std::string target) {
  Entry e;
  e.name = std::move(name);
  e.type = AE_IFLNK;
  e.link = std::move(target);
  return e;
}
Entry Hardlink(std::string name, std::string target) {
  Entry e;
  e.name = std::move(name);
  e.link = std::move(target);
  e.hardlink = true;
  return e;
}
Entry Special(std::string name, mode_t type) {
  Entry e;
  e.name = std::move(name);
  e.type = type;
  return e;
}
ExtractLimits Limits(uint64_t bytes, uint64_t entries = 1'000'000) {
  ExtractLimits l;
  l.max_total_bytes = bytes;
  l.max_entries = entries;
  return l;
}

// Writes arbitrary (also hostile) entries with libarchive's writer.
void WriteTar(const fs::path& out, const std::vector<Entry>& entries, bool gzip = true) {
  struct archive* a = archive_write_new();
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, out.c_str()), ARCHIVE_OK);
  for (const auto& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_perm(entry, e.perm);
    if (e.hardlink) {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_hardlink(entry, e.link.c_str());
      archive_entry_set_size(entry, 0);
    } else {
      archive_entry_set_filetype(entry, e.type);
      if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.link.c_str());
      if (e.type == AE_IFCHR || e.type == AE_IFBLK) archive_entry_set_rdev(entry, makedev(1, 3));
      archive_entry_set_size(entry, e.type == AE_IFREG ? static_cast<int64_t>(e.data.size()) : 0);
    }
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// A raw ustar header that declares `size` bytes of data but carries none.
void WriteHugeDeclaredTar(const fs::path& out, const std::string& name, uint64_t size) {
  char header[512] = {};
  std::snprintf(header, 100, "%s", name.c_str());
  std::snprintf(header + 100, 8, "%07o", 0644);
  std::snprintf(header + 108, 8, "%07o", 0);
  std::snprintf(header + 116, 8, "%07o", 0);
  std::snprintf(header + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(header + 136, 12, "%011o", 0);
  header[156] = '0';
  std::memcpy(header + 257, "ustar", 6);
  std::memcpy(header + 263, "00", 2);
  std::memset(header + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  std::snprintf(header + 148, 8, "%06o", sum);
  header[155] = ' ';
  std::ofstream f(out, std::ios::binary);
  f.write(header, 512);
  std::string zeros(4096, '\0');
  f.write(zeros.data(), zeros.size());
}

// Every path under `root` (not following symlinks), for "nothing changed" checks.
std::set<std::string> Snapshot(const fs::path& root) {
  std::set<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    out.insert(fs::relative(it->path(), root).string());
  }
  return out;
}

class HostileArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(base_ / "outside");
    WriteFile(base_ / "outside/sentinel", "keep");
    fs::create_directories(base_ / "a/b");
    target_ = base_ / "a/b/target";
    archive_ = archives_ / "evil.tar.gz";
    absolute_victim_ =
        fs::temp_directory_path() / ("medperf-archive-victim-" + std::to_string(::getpid()));
    fs::remove_all(absolute_victim_);
  }
  void TearDown() override { fs::remove_all(absolute_victim_); }

  // Extracts and expects a rejection mentioning `needle`, with nothing left behind.
  void ExpectRejected(const std::string& needle, ExtractLimits limits = {}) {
    auto before = Snapshot(base_.path());
    auto result = ExtractArchive(archive_, target_, limits);
    ASSERT_FALSE(result.ok()) << "extraction should have failed";
    std::string message(result.status().message());
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_NE(message.find(archive_.string()), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(target_));
    EXPECT_EQ(Snapshot(base_.path()), before) << "files appeared or vanished next to the target";
    EXPECT_EQ(ReadFile(base_ / "outside/sentinel"), "keep");
    EXPECT_FALSE(fs::exists(absolute_victim_));
  }

  TempDir base_;
  TempDir archives_;
  fs::path target_;
  fs::path archive_;
  fs::path absolute_victim_;
};

TEST_F(HostileArchiveTest, AbsolutePath) {
  WriteTar(archive_, {File("ok.txt", "x"), File(absolute_victim_.string(), "evil")});
  ExpectRejected("absolute path");
}

TEST_F(HostileArchiveTest, DotDotPath) {
  WriteTar(archive_, {File("../../../outside/evil", "evil")});
  ExpectRejected("'..'");
}

TEST_F(HostileArchiveTest, DotDotInTheMiddle) {
  WriteTar(archive_, {Dir("dir/", 0755), File("dir/../../evil", "evil")});
  ExpectRejected("'..'");
}

TEST_F(HostileArchiveTest, SymlinkEscapingRelative) {
  WriteTar(archive_, {Symlink("link", "../../../outside")});
  ExpectRejected("points outside");
}

TEST_F(HostileArchiveTest, SymlinkAbsolute) {
  WriteTar(archive_, {Symlink("sub/link", "/etc/passwd")});
  ExpectRejected("points outside");
}

TEST_F(HostileArchiveTest, HardlinkEscaping) {
  WriteTar(archive_, {Hardlink("hl", "../../../outside/sentinel")});
  ExpectRejected("hardlink");
}

TEST_F(HostileArchiveTest, HardlinkAbsolute) {
  WriteTar(archive_, {Hardlink("hl", "/etc/passwd")});
  ExpectRejected("hardlink");
}

TEST_F(HostileArchiveTest, HardlinkToALaterOrMissingEntry) {
  WriteTar(archive_, {Hardlink("hl", "not-yet"), File("not-yet", "x")});
  ExpectRejected("not an earlier regular file");
}

TEST_F(HostileArchiveTest, SymlinkThenWriteThrough) {
  // The link itself stays inside, but writing "through" it must still be refused.
  WriteTar(archive_, {Dir("inner/", 0755), Symlink("sub", "inner"), File("sub/file", "through")});
  ExpectRejected("symlink 'sub'");
}

TEST_F(HostileArchiveTest, SymlinkReplacedThenWriteThrough) {
  WriteTar(archive_,
           {Dir("d/", 0755), File("d/x", "1"), Symlink("e", "d"), File("e/x", "overwrite")});
  ExpectRejected("symlink");
}

TEST_F(HostileArchiveTest, CharacterDevice) {
  WriteTar(archive_, {Special("null", AE_IFCHR)});
  ExpectRejected("character device");
}

TEST_F(HostileArchiveTest, BlockDevice) {
  WriteTar(archive_, {Special("sda", AE_IFBLK)});
  ExpectRejected("block device");
}

TEST_F(HostileArchiveTest, Fifo) {
  WriteTar(archive_, {Special("pipe", AE_IFIFO)});
  ExpectRejected("fifo");
}

TEST_F(HostileArchiveTest, HugeDeclaredSize) {
  archive_ = archives_ / "huge.tar";
  WriteHugeDeclaredTar(archive_, "huge.bin", (uint64_t{8} << 30) - 1);  // 11 octal digits
  ExpectRejected("huge.bin", Limits(1 << 20));
  auto result = ExtractArchive(archive_, target_, Limits(1 << 20));
  EXPECT_NE(result.status().message().find("1048576"), std::string_view::npos)
      << "the message names the limit: " << result.status().message();
}

TEST_F(HostileArchiveTest, DecompressionBomb) {
  // 48 MiB of zeros compress to a few dozen KiB.
  WriteTar(archive_,
           {File("a.bin", std::string(16 << 20, '\0')), File("b.bin", std::string(16 << 20, '\0')),
            File("c.bin", std::string(16 << 20, '\0'))});
  ASSERT_LT(fs::file_size(archive_), 1u << 20);
  ExpectRejected("'c.bin'", Limits(40 << 20));
}

// Issue 13 (12): past `expansion_check_above_bytes`, an archive may not expand to more
// than `max_expansion_ratio` times its size; small archives are never held to the ratio.
TEST_F(HostileArchiveTest, ExpansionRatioIsCappedAboveAMinimumSize) {
  WriteTar(archive_, {File("small.bin", std::string(512 << 10, '\0')),
                      File("big.bin", std::string(4 << 20, '\0'))});
  const uint64_t size = fs::file_size(archive_);
  ASSERT_LT(size, 32u << 10);  // far beyond 100:1
  ExtractLimits limits;
  limits.max_expansion_ratio = 100;
  limits.expansion_check_above_bytes = 1 << 20;
  // small.bin (512 KiB) is below the minimum; big.bin takes the total past it.
  ExpectRejected(
      absl::StrCat("entry 'big.bin': ", (512 << 10) + (4 << 20), " bytes declared from a ", size,
                   "-byte archive exceed the expansion limit of 100:1"),
      limits);
  limits.expansion_check_above_bytes = 8 << 20;
  EXPECT_TRUE(ExtractArchive(archive_, target_, limits).ok());
  fs::remove_all(target_);
  limits.expansion_check_above_bytes = 1 << 20;
  limits.max_expansion_ratio = 0;  // no ratio cap
  EXPECT_TRUE(ExtractArchive(archive_, target_, limits).ok());
}

TEST_F(HostileArchiveTest, TooManyEntries) {
  std::vector<Entry> entries;
  for (int i = 0; i < 150; ++i) entries.push_back(File("f" + std::to_string(i), "x"));
  WriteTar(archive_, entries);
  ExpectRejected("too many entries (limit 100)", Limits(uint64_t{32} << 30, 100));
}

TEST_F(HostileArchiveTest, CorruptArchive) {
  WriteFile(archive_, std::string(10000, 'z'));
  ExpectRejected("archive");
}

TEST_F(HostileArchiveTest, SetuidBitsAreStripped) {
  WriteTar(archive_, {Dir("bin/", 03777), File("bin/tool", "#!/bin/sh\n", 06755)});
  auto result = ExtractArchive(archive_, target_);
  ASSERT_TRUE(result.ok()) << result.status();
  struct stat st;
  ASSERT_EQ(::stat((target_ / "bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((target_ / "bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07000, 0u);
}

TEST(ArchiveTest, RoundTripWithCreateTarGz) {
  TempDir dir;
  WriteFile(dir / "src/demo_data/images/a.png", "png-bytes");
  WriteFile(dir / "src/demo_data/labels/labels.csv", "Image ID,Label\n");
  WriteFile(dir / "src/paths.yaml", "data_path: demo_data/images\n");
  fs::create_directories(dir / "src/demo_data/empty");
  fs::create_symlink("images/a.png", dir / "src/demo_data/alias.png");
  ASSERT_TRUE(CreateTarGz(dir / "src", {"demo_data", "paths.yaml"}, dir / "out.tar.gz").ok());
  auto stats = ExtractArchive(dir / "out.tar.gz", dir / "x");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(ReadFile(dir / "x/demo_data/images/a.png"), "png-bytes");
  EXPECT_EQ(ReadFile(dir / "x/paths.yaml"), "data_path: demo_data/images\n");
  EXPECT_TRUE(fs::is_directory(dir / "x/demo_data/empty"));
  EXPECT_TRUE(fs::is_symlink(dir / "x/demo_data/alias.png"));
  EXPECT_EQ(ReadFile(dir / "x/demo_data/alias.png"), "png-bytes");
  EXPECT_EQ(stats->bytes, 9u + 15u + 28u);
  // Whole-directory form, and `tar` can read what we write.
  ASSERT_TRUE(CreateTarGz(dir / "src", {}, dir / "all.tar.gz").ok());
  auto r = testing::Run({"/usr/bin/tar", "-tzf", (dir / "all.tar.gz").string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("demo_data/labels/labels.csv"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("./"), std::string::npos) << "names are relative without ./";
}

TEST(ArchiveTest, ReadsTarballsMadeByTar) {
  TempDir dir;
  WriteFile(dir / "w/additional_files/cnn_weights.pth", "weights");
  auto r = testing::Run(
      {"/usr/bin/tar", "-czf", (dir / "w.tar.gz").string(), "-C", (dir / "w").string(), "."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(ExtractArchive(dir / "w.tar.gz", dir / "out").ok());
  EXPECT_EQ(ReadFile(dir / "out/additional_files/cnn_weights.pth"), "weights");
}

TEST(ArchiveTest, TargetMustNotExistWithContent) {
  TempDir dir;
  WriteFile(dir / "src/f", "1");
  ASSERT_TRUE(CreateTarGz(dir / "src", {}, dir / "a.tar.gz").ok());
  WriteFile(dir / "t/existing", "mine");
  auto result = ExtractArchive(dir / "a.tar.gz", dir / "t");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(dir / "t/existing"), "mine");
  // An empty directory is fine.
  fs::create_directories(dir / "empty");
  EXPECT_TRUE(ExtractArchive(dir / "a.tar.gz", dir / "empty").ok());
  EXPECT_EQ(ReadFile(dir / "empty/f"), "1");
}

TEST(ArchiveTest, MissingArchive) {
  TempDir dir;
  auto result = ExtractArchive(dir / "nope.tar.gz", dir / "t");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir / "t"));
}

TEST(ArchiveTest, LayersApplyWhiteoutsAndOpaqueDirs) {
  TempDir dir;
  WriteTar(dir / "l1.tar",
           {Dir("a/", 0755), File("a/x", "x1"), File("a/y", "y1"), Dir("b/", 0755),
            File("b/z", "z1"), Special("dev/null", AE_IFCHR), Symlink("bin", "/usr/bin")},
           false);
  WriteTar(dir / "l2.tar",
           {File("a/.wh.x", ""), Dir("b/", 0755), File("b/.wh..wh..opq", ""), File("b/new", "n2"),
            File("a/y", "y2")},
           false);
  fs::create_directories(dir / "root");
  ASSERT_TRUE(ExtractLayer(dir / "l1.tar", dir / "root").ok());
  ASSERT_TRUE(ExtractLayer(dir / "l2.tar", dir / "root").ok());
  EXPECT_FALSE(fs::exists(dir / "root/a/x"));
  EXPECT_EQ(ReadFile(dir / "root/a/y"), "y2");
  EXPECT_FALSE(fs::exists(dir / "root/b/z"));
  EXPECT_EQ(ReadFile(dir / "root/b/new"), "n2");
  EXPECT_FALSE(fs::exists(dir / "root/dev/null")) << "device nodes are skipped in layers";
  EXPECT_EQ(fs::read_symlink(dir / "root/bin"), "/usr/bin") << "image symlinks kept verbatim";
}

TEST(ArchiveTest, LayerCannotWriteThroughAbsoluteSymlink) {
  TempDir dir;
  fs::create_directories(dir / "host_etc");
  WriteTar(
      dir / "evil.tar",
      {Symlink("etc", (dir / "host_etc").string()), File("etc/passwd", "root::0:0::/:/bin/sh\n")},
      false);
  fs::create_directories(dir / "root");
  auto result = ExtractLayer(dir / "evil.tar", dir / "root");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("symlink 'etc'"), std::string_view::npos)
      << result.status();
  EXPECT_TRUE(fs::is_empty(dir / "host_etc"));
}

}  // namespace
}  // namespace medperf
