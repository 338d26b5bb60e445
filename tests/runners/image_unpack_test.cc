// The sandbox's image store (issue 14): each layer is unpacked once per content hash
// and image roots share the files of common layers by hard links, with whiteouts
// applied as Docker applies them and never through a lower layer's symlink.
#include "runners/image_unpack.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/archive.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

class ImageStoreTest : public ::testing::Test {
 protected:
  // A layer tar made from the files under `dir` (relative path -> content; a content
  // starting with "->" makes a symlink to the rest).
  fs::path Layer(const std::string& name, const std::map<std::string, std::string>& files) {
    fs::path src = dir_.path() / "src" / name;
    fs::create_directories(src);
    for (const auto& [rel, content] : files) {
      fs::create_directories((src / rel).parent_path());
      if (content.starts_with("->")) {
        fs::create_symlink(content.substr(2), src / rel);
      } else {
        WriteFile(src / rel, content);
      }
    }
    fs::path tar = dir_.path() / "layers-src" / (name + ".tar");
    fs::create_directories(tar.parent_path());
    EXPECT_TRUE(CreateTarGz(src, {}, tar).ok());
    return tar;
  }

  // A `docker save` tarball of the given layer tars, bottom first.
  fs::path Image(const std::string& name, const std::vector<fs::path>& layers) {
    fs::path image = dir_.path() / "img-src" / name;
    fs::create_directories(image);
    std::string list;
    for (size_t i = 0; i < layers.size(); ++i) {
      std::string rel = "l" + std::to_string(i) + "/layer.tar";
      fs::create_directories((image / rel).parent_path());
      fs::copy_file(layers[i], image / rel);
      list += (i ? ", \"" : "\"") + rel + "\"";
    }
    WriteFile(image / "config.json", R"({"config": {"Cmd": ["/bin/sh"]}})");
    WriteFile(image / "manifest.json", "[{\"Config\": \"config.json\", \"RepoTags\": [\"t/" + name +
                                           ":1\"], \"Layers\": [" + list + "]}]");
    fs::path tar = dir_.path() / (name + ".tar");
    EXPECT_TRUE(CreateTarGz(image, {}, tar).ok());
    return tar;
  }

  absl::StatusOr<ImageRoot> Unpack(const fs::path& tar) {
    return UnpackImage(tar, dir_.path() / "images", dir_.path() / "layers");
  }

  int LayersStored() {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_.path() / "layers")) {
      if (!e.path().filename().string().starts_with(".")) ++n;
    }
    return n;
  }

  TempDir dir_;
};

ino_t Inode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

TEST_F(ImageStoreTest, ImagesOnACommonBaseShareItsFilesAndUnpackItOnce) {
  fs::path base = Layer("base", {{"bin/tool", std::string(1 << 20, 'x')}, {"etc/os", "base\n"}});
  fs::path a = Image("a", {base, Layer("a", {{"app/a.txt", "a\n"}})});
  fs::path b = Image("b", {base, Layer("b", {{"app/b.txt", "b\n"}})});
  absl::StatusOr<ImageRoot> ra = Unpack(a);
  ASSERT_TRUE(ra.ok()) << ra.status();
  EXPECT_EQ(LayersStored(), 2);
  absl::StatusOr<ImageRoot> rb = Unpack(b);
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_EQ(LayersStored(), 3) << "the base layer is stored once";
  EXPECT_NE(ra->rootfs, rb->rootfs);
  EXPECT_EQ(Inode(ra->rootfs / "bin/tool"), Inode(rb->rootfs / "bin/tool"))
      << "the base layer's files are shared, not copied";
  EXPECT_EQ(ReadFile(rb->rootfs / "etc/os"), "base\n");
  EXPECT_TRUE(fs::exists(ra->rootfs / "app/a.txt"));
  EXPECT_FALSE(fs::exists(ra->rootfs / "app/b.txt"));
  EXPECT_FALSE(fs::exists(rb->rootfs / "app/a.txt"));
  // Directories are the image's own: a mount point made in one image is not in the other.
  fs::create_directories(ra->rootfs / "mlcommons/volumes");
  EXPECT_FALSE(fs::exists(rb->rootfs / "mlcommons"));
}

TEST_F(ImageStoreTest, WhiteoutsAndOpaqueDirectoriesHideLowerLayersOnly) {
  fs::path l1 = Layer("l1", {{"etc/removed", "1"},
                             {"etc/kept", "1"},
                             {"opaque/old", "1"},
                             {"dir/sub/deep", "1"},
                             {"link", "->etc/kept"}});
  fs::path l2 = Layer("l2", {{"etc/.wh.removed", ""},
                             {"opaque/.wh..wh..opq", ""},
                             {"opaque/new", "2"},
                             {"dir/.wh.sub", ""},
                             {".wh.link", ""}});
  absl::StatusOr<ImageRoot> root = Unpack(Image("w", {l1, l2}));
  ASSERT_TRUE(root.ok()) << root.status();
  fs::path r = root->rootfs;
  EXPECT_FALSE(fs::exists(fs::symlink_status(r / "etc/removed")));
  EXPECT_EQ(ReadFile(r / "etc/kept"), "1");
  EXPECT_FALSE(fs::exists(r / "opaque/old"));
  EXPECT_EQ(ReadFile(r / "opaque/new"), "2");
  EXPECT_FALSE(fs::exists(r / "dir/sub"));
  EXPECT_TRUE(fs::is_directory(r / "dir"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(r / "link")));
  for (const auto& e : fs::recursive_directory_iterator(r)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".wh.")) << e.path();
  }
  // The stored lower layer is untouched by the upper layer's whiteouts.
  absl::StatusOr<ImageRoot> alone = Unpack(Image("l1-only", {l1}));
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_EQ(ReadFile(alone->rootfs / "etc/removed"), "1");
  EXPECT_EQ(ReadFile(alone->rootfs / "opaque/old"), "1");
}

TEST_F(ImageStoreTest, AWhiteoutNeverReachesThroughALowerLayersSymlink) {
  fs::path victim = dir_.path() / "host";
  WriteFile(victim / "important", "keep me");
  fs::path l1 = Layer("l1", {{"escape", "->" + victim.string()}});
  fs::path l2 = Layer("l2", {{"escape/.wh.important", ""}, {"escape/.wh..wh..opq", ""}});
  absl::StatusOr<ImageRoot> root = Unpack(Image("evil", {l1, l2}));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(ReadFile(victim / "important"), "keep me");
  // The layer's directory replaces the lower symlink, as in Docker.
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(root->rootfs / "escape")));
}

TEST_F(ImageStoreTest, ALayerIsKeyedByItsContentNotByItsNameInTheImage) {
  fs::path good = Layer("good", {{"bin/tool", "good"}});
  fs::path evil = Layer("evil", {{"bin/tool", "evil"}});
  ASSERT_TRUE(Unpack(Image("good", {good})).ok());
  // The second image stores its layer under the same path inside its tarball.
  absl::StatusOr<ImageRoot> root = Unpack(Image("evil", {evil}));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(ReadFile(root->rootfs / "bin/tool"), "evil");
  EXPECT_EQ(LayersStored(), 2);
}

}  // namespace
}  // namespace medperf
