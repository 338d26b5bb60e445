#include "core/hashing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;

TEST(HashingTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashingTest, StreamMatchesOneShotAndResets) {
  std::string data(3'000'001, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  Sha256Stream stream;
  for (size_t off = 0; off < data.size(); off += 4099) {
    stream.Update(std::string_view(data).substr(off, 4099));
  }
  EXPECT_EQ(stream.bytes(), data.size());
  EXPECT_EQ(stream.FinalHex(), Sha256Hex(data));
  stream.Update("abc");
  EXPECT_EQ(stream.FinalHex(), Sha256Hex("abc"));
}

TEST(HashingTest, FileHashMatchesContent) {
  TempDir dir;
  std::string data(5 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 251);
  WriteFile(dir / "f.bin", data);
  auto hash = Sha256File(dir / "f.bin");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash, Sha256Hex(data));
  WriteFile(dir / "empty", "");
  EXPECT_EQ(*Sha256File(dir / "empty"), Sha256Hex(""));
}

TEST(HashingTest, FileErrors) {
  TempDir dir;
  auto missing = Sha256File(dir / "nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string_view::npos);
  EXPECT_FALSE(Sha256File(dir.path()).ok());
}

// The MedPerf client's get_folders_hash, restated independently for the test.
std::string ReferenceFoldersHash(std::vector<std::string> file_contents) {
  std::vector<std::string> hashes;
  for (const auto& c : file_contents) hashes.push_back(Sha256Hex(c));
  std::sort(hashes.begin(), hashes.end());
  std::string concat;
  for (const auto& h : hashes) concat += h;
  return Sha256Hex(concat);
}

TEST(HashingTest, FoldersHashFollowsTheClientRecipe) {
  TempDir dir;
  WriteFile(dir / "data/a.npy", "alpha");
  WriteFile(dir / "data/sub/deeper/b.npy", "beta");
  fs::create_directories(dir / "data/empty_dir");
  WriteFile(dir / "labels/c.npy", "gamma");
  auto hash = FoldersHash({dir / "data", dir / "labels"});
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash, ReferenceFoldersHash({"alpha", "beta", "gamma"}));
  // Folder order, file names and locations do not matter.
  TempDir other;
  WriteFile(other / "x/renamed1", "gamma");
  WriteFile(other / "y/z/renamed2", "alpha");
  WriteFile(other / "y/renamed3", "beta");
  EXPECT_EQ(*FoldersHash({other / "y", other / "x"}), *hash);
  // Contents do.
  WriteFile(other / "x/renamed1", "gamma!");
  EXPECT_NE(*FoldersHash({other / "y", other / "x"}), *hash);
  // No files at all: the hash of the empty concatenation.
  fs::create_directories(dir / "nothing");
  EXPECT_EQ(*FoldersHash({dir / "nothing"}), Sha256Hex(""));
}

TEST(HashingTest, FoldersHashCrossCheckedWithPython) {
  if (::system("/usr/bin/python3 -c 'import hashlib' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no /usr/bin/python3 to cross-check against";
  }
  TempDir dir;
  WriteFile(dir / "d/one", "1");
  WriteFile(dir / "d/two/three", std::string(100000, 'q'));
  WriteFile(dir / "l/four", "");
  // get_folders_hash and get_file_hash from the client, restated in Python.
  std::string script =
      "import hashlib,os,sys\n"
      "h=[]\n"
      "for p in sys.argv[1:]:\n"
      "  for root,_,files in os.walk(p,topdown=False):\n"
      "    for f in files:\n"
      "      s=hashlib.sha256()\n"
      "      s.update(open(os.path.join(root,f),'rb').read())\n"
      "      h.append(s.hexdigest())\n"
      "h=sorted(h)\n"
      "s=hashlib.sha256()\n"
      "[s.update(x.encode('utf-8')) for x in h]\n"
      "print(s.hexdigest())\n";
  WriteFile(dir / "ref.py", script);
  auto r = testing::Run(
      {"/usr/bin/python3", (dir / "ref.py").string(), (dir / "d").string(), (dir / "l").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*FoldersHash({dir / "d", dir / "l"}) + "\n", r.out);
}

TEST(HashingTest, FoldersHashMissingFolderIsAnError) {
  TempDir dir;
  auto hash = FoldersHash({dir / "missing"});
  EXPECT_EQ(hash.status().code(), absl::StatusCode::kNotFound);
}

TEST(HashingTest, NormalizeSha256) {
  std::string hex(64, 'a');
  EXPECT_EQ(*NormalizeSha256(hex), hex);
  EXPECT_EQ(*NormalizeSha256("sha256:" + std::string(64, 'A')), hex);
  EXPECT_FALSE(NormalizeSha256("abc").ok());
  EXPECT_FALSE(NormalizeSha256(std::string(64, 'g')).ok());
  EXPECT_FALSE(NormalizeSha256("md5:" + hex).ok());
  EXPECT_TRUE(IsSha256Hex(hex));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
}

}  // namespace
}  // namespace medperf
