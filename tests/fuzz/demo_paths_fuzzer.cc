// Fuzzes paths.yaml of a demo dataset (runners/assets.h ParseDemoPaths). The input is
// written as <root>/paths.yaml of a fixed dataset tree that also holds symlinks leading
// out of it; whatever the YAML says, accepted paths must exist and stay inside the root.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "runners/assets.h"
#include "tests/fuzz/fuzz_util.h"

namespace fs = std::filesystem;

namespace {

struct Tree {
  fs::path root;  // the dataset root handed to ParseDemoPaths
  fs::path canonical_root;
};

const Tree& GetTree() {
  static const Tree tree = [] {
    Tree t;
    fs::path base = medperf::fuzz::ScratchDir();
    t.root = base / "dataset";
    fs::create_directories(t.root / "data" / "images");
    fs::create_directories(t.root / "labels");
    fs::create_directories(base / "outside");
    std::ofstream(t.root / "metadata.json") << "{}";
    std::ofstream(t.root / "data" / "images" / "a.png") << "png";
    std::ofstream(base / "outside" / "secret") << "secret";
    fs::create_symlink("../outside", t.root / "link_out");  // leads out of the root
    fs::create_symlink("/", t.root / "link_abs");
    fs::create_symlink("data", t.root / "link_in");  // stays inside
    t.canonical_root = fs::canonical(t.root);
    return t;
  }();
  return tree;
}

bool Inside(const fs::path& canonical_root, const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  if (ec) return false;
  auto [a, b] = std::mismatch(canonical_root.begin(), canonical_root.end(), c.begin(), c.end());
  return a == canonical_root.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Tree& tree = GetTree();
  {
    std::ofstream out(tree.root / "paths.yaml", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto demo = medperf::ParseDemoPaths(tree.root);
  if (demo.ok()) {
    if (!Inside(tree.canonical_root, demo->data_path)) {
      medperf::fuzz::Violation("data_path outside the dataset: " + demo->data_path.string());
    }
    if (!Inside(tree.canonical_root, demo->labels_path)) {
      medperf::fuzz::Violation("labels_path outside the dataset: " + demo->labels_path.string());
    }
    if (demo->metadata_path && !Inside(tree.canonical_root, *demo->metadata_path)) {
      medperf::fuzz::Violation("metadata_path outside the dataset: " +
                               demo->metadata_path->string());
    }
  }
  return 0;
}
