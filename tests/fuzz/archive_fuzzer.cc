// Fuzzes safe archive extraction (core/archive.h ExtractArchive). Each input is written
// to <box>/in.tar and extracted into <box>/out. After every run the fuzzer checks that
// nothing was written outside <box>/out: the box holds only in.tar and out, the sibling
// canary file is unchanged and not hard-linked from the output, the fixed absolute
// escape path does not exist, and every symlink in the output resolves inside it.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "core/archive.h"
#include "tests/fuzz/fuzz_util.h"

namespace fs = std::filesystem;

namespace {

// Seeds in tests/fuzz/corpus/archive name this absolute path; it must never appear.
constexpr char kAbsoluteEscape[] = "/tmp/medperf-fuzz-escape";
constexpr char kCanaryText[] = "canary";

struct Paths {
  fs::path base, box, archive, out, canary;
  ino_t canary_inode = 0;
};

const Paths& GetPaths() {
  static const Paths p = [] {
    Paths x;
    x.base = medperf::fuzz::ScratchDir();
    x.box = x.base / "box";
    x.archive = x.box / "in.tar";
    x.out = x.box / "out";
    x.canary = x.base / "canary";  // what "../canary" from the box's entries names
    fs::create_directories(x.box);
    std::ofstream(x.canary) << kCanaryText;
    struct stat st;
    if (::stat(x.canary.c_str(), &st) != 0) std::abort();
    x.canary_inode = st.st_ino;
    return x;
  }();
  return p;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Inside(const fs::path& root, const fs::path& p) {
  auto [a, b] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return a == root.end();
}

void CheckOutput(const Paths& p) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(p.box)) {
    if (entry.path() != p.archive && entry.path() != p.out) {
      medperf::fuzz::Violation("stray entry beside the target: " + entry.path().string());
    }
  }
  for (const auto& entry : fs::directory_iterator(p.base)) {
    if (entry.path() != p.box && entry.path() != p.canary) {
      medperf::fuzz::Violation("entry written outside the target: " + entry.path().string());
    }
  }
  if (fs::exists(fs::symlink_status(kAbsoluteEscape))) {
    medperf::fuzz::Violation(std::string("archive wrote ") + kAbsoluteEscape);
  }
  if (Slurp(p.canary) != kCanaryText) medperf::fuzz::Violation("canary outside was modified");
  if (!fs::exists(p.out)) return;
  const fs::path out = fs::canonical(p.out);
  for (auto it = fs::recursive_directory_iterator(p.out, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path& path = it->path();
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      // Relative targets must stay inside; resolve lexically from the link's folder.
      fs::path target = fs::read_symlink(path, ec);
      if (ec) continue;
      if (target.is_absolute()) medperf::fuzz::Violation("absolute symlink: " + path.string());
      fs::path resolved = fs::weakly_canonical(path.parent_path() / target, ec);
      if (!ec && !Inside(out, resolved)) {
        medperf::fuzz::Violation("symlink leaves the target: " + path.string() + " -> " +
                                 target.string());
      }
    } else if (S_ISREG(st.st_mode)) {
      if (st.st_ino == p.canary_inode) {
        medperf::fuzz::Violation("hard link to a file outside: " + path.string());
      }
      if (st.st_mode & (S_ISUID | S_ISGID)) {
        medperf::fuzz::Violation("setuid/setgid bit kept: " + path.string());
      }
    } else if (!S_ISDIR(st.st_mode)) {
      medperf::fuzz::Violation("special file extracted: " + path.string());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Paths& p = GetPaths();
  std::error_code ec;
  fs::remove_all(p.out, ec);
  fs::remove_all(kAbsoluteEscape, ec);
  {
    std::ofstream out(p.archive, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  // Small caps keep each run fast; bombs must be stopped by them, not by the fuzzer.
  medperf::ExtractLimits limits;
  limits.max_total_bytes = 1 << 20;
  limits.max_entries = 256;
  auto stats = medperf::ExtractArchive(p.archive, p.out, limits);
  if (!stats.ok() && fs::exists(p.out) && !fs::is_empty(p.out, ec)) {
    medperf::fuzz::Violation("failed extraction left files behind: " +
                             std::string(stats.status().message()));
  }
  CheckOutput(p);
  fs::remove_all(p.out, ec);
  return 0;
}
