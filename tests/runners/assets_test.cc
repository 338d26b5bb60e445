#include "runners/assets.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/archive.h"
#include "core/hashing.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

size_t CountFiles(const fs::path& dir) {
  if (!fs::exists(dir)) return 0;
  size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_directory()) ++n;
  }
  return n;
}

TEST(AssetCacheTest, FetchComputesHashAndStoresByContent) {
  TempDir dir;
  WriteFile(dir / "src/parameters.yaml", "threshold: 0.5\n");
  AssetCache cache(dir / "cache");
  for (std::string source :
       {(dir / "src/parameters.yaml").string(), "file://" + (dir / "src/parameters.yaml").string(),
        "direct:file://" + (dir / "src/parameters.yaml").string()}) {
    auto asset = cache.Fetch("parameters", source);
    ASSERT_TRUE(asset.ok()) << asset.status();
    EXPECT_EQ(asset->sha256, Sha256Hex("threshold: 0.5\n"));
    EXPECT_EQ(asset->path, dir / "cache/sha256" / asset->sha256);
    EXPECT_EQ(ReadFile(asset->path), "threshold: 0.5\n");
    EXPECT_EQ(asset->size, 15u);
  }
  EXPECT_EQ(CountFiles(dir / "cache/tmp"), 0u);
  EXPECT_EQ(CountFiles(dir / "cache/sha256"), 1u);
}

// What a killed fetch leaves (a partial download, a partial extraction) is removed at
// the next start; finished assets stay.
TEST(AssetCacheTest, DiscardUnfinishedRemovesOnlyWhatAKilledFetchLeft) {
  TempDir dir;
  WriteFile(dir / "src/parameters.yaml", "threshold: 0.5\n");
  AssetCache cache(dir / "cache");
  auto asset = cache.Fetch("parameters", (dir / "src/parameters.yaml").string());
  ASSERT_TRUE(asset.ok()) << asset.status();
  WriteFile(dir / "cache/tmp/fetch-AbC123", "half a download");
  WriteFile(dir / "cache/extracted/.extract-0123-XyZ987/weights.bin", "half a tarball");
  WriteFile(dir / "cache/extracted/0123/weights.bin", "a whole tarball");
  EXPECT_EQ(cache.DiscardUnfinished(), 2);
  EXPECT_EQ(CountFiles(dir / "cache/tmp"), 0u);
  EXPECT_FALSE(fs::exists(dir / "cache/extracted/.extract-0123-XyZ987"));
  EXPECT_TRUE(fs::exists(dir / "cache/extracted/0123/weights.bin"));
  EXPECT_TRUE(fs::exists(asset->path));
  EXPECT_EQ(cache.DiscardUnfinished(), 0);
}

TEST(AssetCacheTest, MismatchIsRejectedAndNotCached) {
  TempDir dir;
  WriteFile(dir / "weights.tar.gz", "tampered");
  AssetCache cache(dir / "cache");
  std::string expected = Sha256Hex("original");
  auto asset = cache.Fetch("additional files of container 3",
                           "file://" + (dir / "weights.tar.gz").string(), "sha256:" + expected);
  ASSERT_FALSE(asset.ok());
  std::string message(asset.status().message());
  EXPECT_EQ(asset.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(message.find("additional files of container 3"), std::string::npos) << message;
  EXPECT_NE(message.find("weights.tar.gz"), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << message;
  EXPECT_NE(message.find(Sha256Hex("tampered")), std::string::npos) << message;
  EXPECT_EQ(CountFiles(dir / "cache"), 0u) << "nothing half-verified stays in the cache";
  EXPECT_FALSE(cache.Lookup(expected).has_value());
  EXPECT_FALSE(cache.Lookup(Sha256Hex("tampered")).has_value());
}

TEST(AssetCacheTest, SecondFetchReusesTheCache) {
  TempDir dir;
  WriteFile(dir / "src/config.yaml", "container_type: DockerImage\n");
  AssetCache cache(dir / "cache");
  std::string url = "file://" + (dir / "src/config.yaml").string();
  auto first = cache.Fetch("config", url, Sha256Hex("container_type: DockerImage\n"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->downloaded);
  fs::remove_all(dir / "src");  // a second download would now fail
  auto second = cache.Fetch("config", url, first->sha256);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->downloaded);
  EXPECT_EQ(second->path, first->path);
  // Without an expected hash we cannot know it is cached, so it must be fetched.
  EXPECT_FALSE(cache.Fetch("config", url).ok());
}

// Issue 14: a local file fetched without a registered hash (an image tarball being
// submitted, a local test container) is copied and hashed once, then reused while its
// stat fingerprint is unchanged; any edit, even one that restores the mtime, is noticed.
TEST(AssetCacheTest, ALocalFileWithoutAHashIsHashedOnceWhileUnchanged) {
  TempDir dir;
  WriteFile(dir / "src/image.tar", "image v1");
  AssetCache cache(dir / "cache");
  std::string path = (dir / "src/image.tar").string();
  auto first = cache.Fetch("image", path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->downloaded);
  auto second = cache.Fetch("image", path);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->downloaded) << "an unchanged local file was copied and hashed again";
  EXPECT_EQ(second->sha256, first->sha256);
  EXPECT_EQ(second->path, first->path);

  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  WriteFile(path, "image v2");  // same size
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  auto third = cache.Fetch("image", path);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->downloaded);
  EXPECT_EQ(third->sha256, Sha256Hex("image v2"));
}

TEST(AssetCacheTest, SourceErrors) {
  TempDir dir;
  AssetCache cache(dir / "cache");
  auto missing = cache.Fetch("demo", (dir / "nope.tar.gz").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("asset 'demo'"), std::string_view::npos);
  EXPECT_FALSE(cache.Fetch("x", "ftp://example.org/x").ok());
  EXPECT_EQ(cache.Fetch("x", "synapse:syn123").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(cache.Fetch("x", dir.path().string(), "abc").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Refused by size before it is complete; nothing left behind.
  WriteFile(dir / "big", std::string(4096, 'b'));
  FetchOptions small;
  small.max_bytes = 1000;
  EXPECT_FALSE(cache.Fetch("big", (dir / "big").string(), "", small).ok());
  EXPECT_EQ(CountFiles(dir / "cache"), 0u);
  // An unreachable loopback server.
  auto refused = cache.Fetch("x", "http://127.0.0.1:" + std::to_string(testing::FreePort()) + "/x");
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(CountFiles(dir / "cache"), 0u);
}

TEST(AssetCacheTest, AdditionalFilesAreExtractedOnceAndReused) {
  TempDir dir;
  WriteFile(dir / "w/cnn_weights.pth", "weights");
  WriteFile(dir / "w/._cnn_weights.pth", "apple double");
  ASSERT_TRUE(CreateTarGz(dir / "w", {}, dir / "weights.tar.gz").ok());
  std::string hash = *Sha256File(dir / "weights.tar.gz");
  AssetCache cache(dir / "cache");
  auto extracted = cache.FetchExtracted("weights", (dir / "weights.tar.gz").string(), hash);
  ASSERT_TRUE(extracted.ok()) << extracted.status();
  EXPECT_EQ(*extracted, dir / "cache/extracted" / hash);
  EXPECT_EQ(ReadFile(*extracted / "cnn_weights.pth"), "weights");
  EXPECT_FALSE(fs::exists(*extracted / "._cnn_weights.pth"));
  fs::remove(dir / "weights.tar.gz");
  auto again = cache.FetchExtracted("weights", (dir / "weights.tar.gz").string(), hash);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *extracted);
}

// Issue 13 (12): a small tarball that expands to far more than any real asset was
// extracted into the cache and kept. With the cache's limits (here scaled down, so the
// test writes nothing big) it is refused, naming the asset, the bytes and the limit, and
// nothing stays under extracted/.
TEST(AssetCacheTest, DecompressionBombIsRefusedAndNothingIsKept) {
  TempDir dir;
  WriteFile(dir / "w/zeros.bin", std::string(size_t{8} << 20, '\0'));  // 8 MiB -> ~8 KiB
  ASSERT_TRUE(CreateTarGz(dir / "w", {}, dir / "bomb.tar.gz").ok());
  const uint64_t archive_bytes = fs::file_size(dir / "bomb.tar.gz");
  ASSERT_LT(archive_bytes, 64u << 10);
  ExtractLimits limits;
  limits.max_expansion_ratio = 100;
  limits.expansion_check_above_bytes = 1 << 20;
  AssetCache cache(dir / "cache", HttpClient(), limits);
  auto extracted = cache.FetchExtracted("demo dataset", (dir / "bomb.tar.gz").string());
  ASSERT_FALSE(extracted.ok());
  std::string message(extracted.status().message());
  EXPECT_NE(message.find("asset 'demo dataset'"), std::string::npos) << message;
  EXPECT_NE(message.find("archive '" + (dir / "cache/sha256").string()), std::string::npos)
      << message;
  EXPECT_NE(message.find(absl::StrCat(8 << 20, " bytes declared from a ", archive_bytes,
                                      "-byte archive exceed the expansion limit of 100:1")),
            std::string::npos)
      << message;
  EXPECT_TRUE(!fs::exists(dir / "cache/extracted") || fs::is_empty(dir / "cache/extracted"));

  // The same archive within a total-size cap smaller than its content: also refused.
  ExtractLimits small_total;
  small_total.max_total_bytes = 1 << 20;
  AssetCache capped(dir / "cache2", HttpClient(), small_total);
  auto too_big = capped.FetchExtracted("weights", (dir / "bomb.tar.gz").string());
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("exceed the total size limit of 1048576 bytes"),
            std::string_view::npos)
      << too_big.status();
  EXPECT_TRUE(!fs::exists(dir / "cache2/extracted") || fs::is_empty(dir / "cache2/extracted"));

  // Default limits: an 8 MiB file is far below the level where the ratio applies.
  AssetCache normal(dir / "cache3");
  auto ok = normal.FetchExtracted("weights", (dir / "bomb.tar.gz").string());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(fs::file_size(*ok / "zeros.bin"), size_t{8} << 20);
}

TEST(AssetCacheTest, HostileAdditionalFilesLeaveNothingExtracted) {
  TempDir dir;
  fs::create_directories(dir / "w");
  fs::create_symlink("/etc", dir / "w/escape");
  ASSERT_TRUE(CreateTarGz(dir / "w", {}, dir / "evil.tar.gz").ok());
  AssetCache cache(dir / "cache");
  auto extracted = cache.FetchExtracted("weights", (dir / "evil.tar.gz").string());
  ASSERT_FALSE(extracted.ok());
  EXPECT_NE(extracted.status().message().find("asset 'weights'"), std::string_view::npos);
  EXPECT_NE(extracted.status().message().find("points outside"), std::string_view::npos)
      << extracted.status();
  EXPECT_EQ(CountFiles(dir / "cache/extracted"), 0u);
  EXPECT_TRUE(!fs::exists(dir / "cache/extracted") || fs::is_empty(dir / "cache/extracted"));
}

void MakeDemo(const fs::path& dir, const std::string& paths_yaml) {
  WriteFile(dir / "src/demo_data/images/a.png", "png");
  WriteFile(dir / "src/demo_data/labels/labels.csv", "Image ID,Label\n");
  WriteFile(dir / "src/paths.yaml", paths_yaml);
  ASSERT_TRUE(CreateTarGz(dir / "src", {"demo_data", "paths.yaml"}, dir / "demo_data.tar.gz").ok());
}

TEST(AssetCacheTest, DemoDataset) {
  TempDir dir;
  MakeDemo(dir.path(), "data_path: demo_data/images\nlabels_path: demo_data/labels\n");
  std::string hash = *Sha256File(dir / "demo_data.tar.gz");
  AssetCache cache(dir / "cache");
  auto demo = cache.FetchDemoDataset("file://" + (dir / "demo_data.tar.gz").string(), hash);
  ASSERT_TRUE(demo.ok()) << demo.status();
  EXPECT_EQ(demo->sha256, hash);
  EXPECT_EQ(demo->data_path, fs::canonical(dir / "cache/extracted" / hash / "demo_data/images"));
  EXPECT_EQ(ReadFile(demo->labels_path / "labels.csv"), "Image ID,Label\n");
  EXPECT_FALSE(demo->metadata_path.has_value());
}

TEST(AssetCacheTest, DemoPathsErrors) {
  struct Case {
    std::string yaml;
    std::string needle;
  };
  std::vector<Case> cases = {
      {"labels_path: demo_data/labels\n", "data_path is required"},
      {"data_path: /etc\nlabels_path: demo_data/labels\n", "must be relative"},
      {"data_path: ../../..\nlabels_path: demo_data/labels\n", "outside the dataset"},
      {"data_path: demo_data/nope\nlabels_path: demo_data/labels\n", "does not exist"},
      {"data_path: [a]\nlabels_path: demo_data/labels\n", "expected a relative path"},
      {"- a\n", "expected a mapping"},
      {"data_path: [\n", "not valid YAML"},
      {"data_path: demo_data/images\nlabels_path: demo_data/labels\ndata_path: demo_data\n",
       "duplicate key \"data_path\" at line 3 (first at line 1)"},
      {"data_path: demo_data/images\nlabels_path: demo_data/labels\nmetadata_path: /tmp\n",
       "metadata_path"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    MakeDemo(dir.path(), c.yaml);
    AssetCache cache(dir / "cache");
    auto demo = cache.FetchDemoDataset((dir / "demo_data.tar.gz").string());
    ASSERT_FALSE(demo.ok()) << c.yaml;
    EXPECT_NE(demo.status().message().find(c.needle), std::string_view::npos)
        << c.yaml << " -> " << demo.status();
    EXPECT_NE(demo.status().message().find("paths.yaml"), std::string_view::npos);
  }
  TempDir dir;
  WriteFile(dir / "src/x", "1");
  ASSERT_TRUE(CreateTarGz(dir / "src", {}, dir / "nopaths.tar.gz").ok());
  AssetCache cache(dir / "cache");
  auto demo = cache.FetchDemoDataset((dir / "nopaths.tar.gz").string());
  EXPECT_NE(demo.status().message().find("paths.yaml is missing"), std::string_view::npos);
}

}  // namespace
}  // namespace medperf
