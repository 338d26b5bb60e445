#include "core/hashing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"

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

// The progress of a long hash: every byte is reported once, in 8 MiB steps and the rest.
TEST(HashingTest, ReadsAreReportedForProgress) {
  TempDir dir;
  WriteFile(dir / "a" / "big.bin", std::string((17 << 20) + 5, 'x'));
  WriteFile(dir / "a" / "small.txt", "abc");
  std::vector<uint64_t> reads;
  HashOptions options;
  options.on_read = [&](uint64_t bytes) { reads.push_back(bytes); };
  ASSERT_TRUE(FoldersHash({dir / "a"}, options).ok());
  uint64_t sum = 0;
  for (uint64_t r : reads) sum += r;
  EXPECT_EQ(sum, (uint64_t{17} << 20) + 5 + 3);
  EXPECT_GE(reads.size(), 3u);  // at least two 8 MiB steps and the ends of the files
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

// Hashing trees a task wrote (issue 11): no link is followed, nothing blocks, and a cancel
// interrupts a huge hash.
namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;

bool Contains(const absl::Status& s, std::string_view what) {
  return absl::string_view(s.message()).find(absl::string_view(what.data(), what.size())) !=
         absl::string_view::npos;
}

// Runs `f` on another thread; fails the test (after unblocking `fifo`) if it takes over 5 s.
template <typename F>
auto WithinSeconds(F f, const fs::path& fifo) {
  auto pending = std::async(std::launch::async, f);
  if (pending.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    pending.wait();
    if (fd >= 0) ::close(fd);
    ADD_FAILURE() << "hashing blocked on " << fifo;
  }
  return pending.get();
}

TEST(HashingTest, FifoNeverBlocks) {
  TempDir dir;
  WriteFile(dir / "d/a", "alpha");
  ASSERT_EQ(::mkfifo((dir / "d/pipe").c_str(), 0600), 0);
  // A site's own folder: special files are skipped, as before.
  auto trusted = WithinSeconds([&] { return FoldersHash({dir / "d"}); }, dir / "d/pipe");
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_EQ(*trusted, ReferenceFoldersHash({"alpha"}));
  // A task's output: refused, naming the entry.
  HashOptions untrusted;
  untrusted.untrusted = true;
  auto refused = WithinSeconds([&] { return FoldersHash({dir / "d"}, untrusted); }, dir / "d/pipe");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(refused.status(), "'pipe' is a FIFO")) << refused.status();
  // Hashing the FIFO itself, even following links, does not wait for a writer.
  auto file = WithinSeconds([&] { return Sha256File(dir / "d/pipe"); }, dir / "d/pipe");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(file.status(), "is a FIFO, not a regular file")) << file.status();
  fs::create_symlink(dir / "d/pipe", dir / "pipe_link");
  auto via_link = WithinSeconds([&] { return Sha256File(dir / "pipe_link"); }, dir / "d/pipe");
  EXPECT_EQ(via_link.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HashingTest, UntrustedTreesRefuseLinksAndSpecialFiles) {
  TempDir dir;
  HashOptions untrusted;
  untrusted.untrusted = true;
  WriteFile(dir / "out/ok.txt", "fine");
  WriteFile(dir / "secret", "host secret");
  ASSERT_TRUE(FoldersHash({dir / "out"}, untrusted).ok());

  fs::create_symlink(dir / "secret", dir / "out/leak");
  auto file_link = FoldersHash({dir / "out"}, untrusted);
  EXPECT_EQ(file_link.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(file_link.status(), "'leak' is a symbolic link")) << file_link.status();
  EXPECT_TRUE(Contains(file_link.status(), (dir / "out").string())) << file_link.status();
  fs::remove(dir / "out/leak");

  fs::create_directories(dir / "out/sub");
  fs::create_symlink("/proc/self", dir / "out/sub/proc");
  auto dir_link = FoldersHash({dir / "out"}, untrusted);
  EXPECT_TRUE(Contains(dir_link.status(), "'sub/proc' is a symbolic link")) << dir_link.status();
  fs::remove(dir / "out/sub/proc");

  // The folder itself.
  fs::create_symlink(dir / "out", dir / "out_link");
  auto root_link = FoldersHash({dir / "out_link"}, untrusted);
  EXPECT_EQ(root_link.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(FoldersHash({dir / "out_link"}).ok()) << "a trusted folder may be a link";

  // A socket.
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock_path = (dir / "out/sub/sock").string();
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(sock);
  auto socket = FoldersHash({dir / "out"}, untrusted);
  EXPECT_TRUE(Contains(socket.status(), "'sub/sock' is a socket")) << socket.status();
  fs::remove(dir / "out/sub/sock");

  // A device (needs CAP_MKNOD).
  if (::mknod((dir / "out/null").c_str(), S_IFCHR | 0600, ::makedev(1, 3)) == 0) {
    auto device = FoldersHash({dir / "out"}, untrusted);
    EXPECT_TRUE(Contains(device.status(), "'null' is a character device")) << device.status();
    EXPECT_TRUE(FoldersHash({dir / "out"}).ok()) << "skipped in a trusted folder";
    fs::remove(dir / "out/null");
  }

  // Sha256File on a link.
  fs::create_symlink(dir / "secret", dir / "link");
  auto file = Sha256File(dir / "link", untrusted);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(file.status(), "symbolic link")) << file.status();
  EXPECT_EQ(*Sha256File(dir / "link"), Sha256Hex("host secret")) << "followed when trusted";
}

TEST(HashingTest, TrustedFoldersKeepTheClientsSymlinkBehaviour) {
  if (::system("/usr/bin/python3 -c 'import hashlib' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no /usr/bin/python3 to cross-check against";
  }
  TempDir dir;
  WriteFile(dir / "d/one", "1");
  WriteFile(dir / "elsewhere/two", "2");
  WriteFile(dir / "elsewhere/sub/three", "3");
  fs::create_symlink(dir / "elsewhere/two", dir / "d/link_to_file");
  fs::create_symlink(dir / "elsewhere/sub", dir / "d/link_to_dir");
  // os.walk lists a link to a file among files (open() follows it) and does not descend
  // into a link to a directory.
  std::string script =
      "import hashlib,os,sys\n"
      "h=[]\n"
      "for root,_,files in os.walk(sys.argv[1],topdown=False):\n"
      "  for f in files:\n"
      "    h.append(hashlib.sha256(open(os.path.join(root,f),'rb').read()).hexdigest())\n"
      "s=hashlib.sha256()\n"
      "[s.update(x.encode('utf-8')) for x in sorted(h)]\n"
      "print(s.hexdigest())\n";
  WriteFile(dir / "ref.py", script);
  auto r = testing::Run({"/usr/bin/python3", (dir / "ref.py").string(), (dir / "d").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto hash = FoldersHash({dir / "d"});
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash + "\n", r.out);
  EXPECT_EQ(*hash, ReferenceFoldersHash({"1", "2"}));
  // A dangling link is skipped.
  fs::create_symlink(dir / "nowhere", dir / "d/dangling");
  EXPECT_EQ(*FoldersHash({dir / "d"}), *hash);
}

TEST(HashingTest, CancelInterruptsAHugeHash) {
  TempDir dir;
  fs::create_directories(dir / "d");
  WriteFile(dir / "d/small", "x");
  {
    // 1 TiB of holes: hashing it all would take many minutes.
    int fd = ::open((dir / "d/huge").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{1} << 40), 0);
    ::close(fd);
  }
  std::atomic<bool> cancel{true};
  HashOptions options;
  options.cancel = &cancel;
  EXPECT_EQ(FoldersHash({dir / "d"}, options).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Sha256File(dir / "d/small", options).status().code(), absl::StatusCode::kCancelled);

  for (bool folder : {false, true}) {
    cancel = false;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      cancel = true;
    });
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = folder ? FoldersHash({dir / "d"}, options).status()
                            : Sha256File(dir / "d/huge", options).status();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    canceller.join();
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
    EXPECT_TRUE(Contains(s, "cancelled")) << s;
    EXPECT_LT(elapsed, std::chrono::seconds(5));
  }
}

TEST(HashingTest, FilesChangedIntoLinksAreNotFollowed) {
  // Many files and a racer that keeps swapping one of them for a link to a secret: every
  // hash either refuses (untrusted) or is a hash of tree contents, never of the secret.
  TempDir dir;
  for (int i = 0; i < 50; ++i) WriteFile(dir / "out" / ("f" + std::to_string(i)), "data");
  WriteFile(dir / "secret", "host secret");
  std::atomic<bool> stop{false};
  std::thread racer([&] {
    std::error_code ec;
    while (!stop) {
      fs::remove(dir / "out/f7", ec);
      fs::create_symlink(dir / "secret", dir / "out/f7", ec);
      fs::remove(dir / "out/f7", ec);
      WriteFile(dir / "out/f7", "data");
    }
  });
  HashOptions untrusted;
  untrusted.untrusted = true;
  std::vector<std::string> with_secret(49, "data");
  with_secret.push_back("host secret");
  const std::string leaked = ReferenceFoldersHash(with_secret);
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    auto hash = FoldersHash({dir / "out"}, untrusted);
    if (hash.ok()) {
      EXPECT_NE(*hash, leaked);
    } else {
      ++refused;
    }
  }
  stop = true;
  racer.join();
  RecordProperty("refused", refused);
}

}  // namespace
}  // namespace medperf
