// Writes a deterministic synthetic "chest X-ray" dataset in the data owner's raw layout:
//   <out>/images/<prefix>_NNNN.pgm   28x28 8-bit grayscale (P5)
//   <out>/labels/labels.csv          "Image ID,Label"
// Classes are learnable from simple statistics: effusion brightens the lower lung fields,
// cardiomegaly enlarges the central heart blob; noise, exposure and overlapping sizes keep
// the task from being trivially separable.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <numbers>
#include <random>
#include <string>

#include "examples/chestxray/common/cxr_common.h"

namespace {

constexpr int kSize = 28;
const char* const kLabels[] = {"normal", "effusion", "cardiomegaly"};

// std::*_distribution output differs between standard libraries; these transforms of the
// raw mt19937 stream do not, so every build produces the same bytes.
class Rng {
 public:
  explicit Rng(uint32_t seed) : engine_(seed) {}
  double Uniform(double lo, double hi) {
    return lo + (hi - lo) * (static_cast<double>(engine_()) / 4294967296.0);
  }
  double Normal() {
    double u1 = Uniform(1e-12, 1.0), u2 = Uniform(0.0, 1.0);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  uint32_t Below(uint32_t n) { return engine_() % n; }

 private:
  std::mt19937 engine_;
};

cxr::Image MakeImage(int label, Rng& rng) {
  bool effusion = label == 1, cardiomegaly = label == 2;
  double exposure = rng.Uniform(-20, 20);
  double heart_radius = cardiomegaly ? rng.Uniform(5.0, 8.0) : rng.Uniform(3.0, 5.6);
  double heart_col = 13.5 + rng.Uniform(-1.0, 1.0);
  double fluid_level = effusion ? rng.Uniform(15.0, 20.0) : 20.5;
  // Healthy lungs sometimes show mild basal haze, so effusion is not a pure cut-off.
  double fluid_brightness = effusion ? rng.Uniform(30, 85) : rng.Uniform(0, 30);
  cxr::Image image{kSize, kSize, std::vector<float>(kSize * kSize)};
  for (int r = 0; r < kSize; ++r) {
    for (int c = 0; c < kSize; ++c) {
      double value = 95;  // soft tissue
      double lung_dr = (r - 12.5) / 9.5;
      double left = std::hypot(lung_dr, (c - 7.5) / 5.0);
      double right = std::hypot(lung_dr, (c - 20.5) / 5.0);
      bool lung = left < 1.0 || right < 1.0;
      if (lung) value = 45;
      if (std::abs(c - 13.5) < 1.5) value = 120;  // spine
      if (std::hypot(r - 17.0, c - heart_col) < heart_radius) value = 160;
      if (lung && r >= fluid_level) value += fluid_brightness;
      value += exposure + 14.0 * rng.Normal();
      image.pixels[r * kSize + c] = static_cast<float>(std::clamp(value, 0.0, 255.0));
    }
  }
  return image;
}

}  // namespace

int main(int argc, char** argv) {
  return cxr::RunMain("chestxray_datagen", [&] {
    cxr::fs::path out;
    std::string prefix = "case";
    long seed = 1, count = 48;
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      size_t eq = arg.find('=');
      std::string key = arg.substr(0, eq),
                  value = eq == std::string::npos ? "" : arg.substr(eq + 1);
      if (key == "--out") {
        out = value;
      } else if (key == "--prefix" && cxr::ValidCaseId(value)) {
        prefix = value;
      } else if (key == "--seed" || key == "--count") {
        char* end = nullptr;
        (key == "--seed" ? seed : count) = std::strtol(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0') throw cxr::Error(key + " expects an integer");
      } else {
        throw cxr::Error("bad argument '" + arg +
                         "'\nusage: chestxray_datagen --out=DIR [--seed=N] [--count=N] "
                         "[--prefix=ID_PREFIX]");
      }
    }
    if (out.empty()) throw cxr::Error("--out=DIR is required");
    if (count < 1 || count > 100000) throw cxr::Error("--count must be in 1..100000");
    // Stale images from an earlier, larger run would silently join the dataset.
    cxr::fs::remove_all(out / "images");
    cxr::fs::remove_all(out / "labels");
    cxr::fs::create_directories(out / "images");
    cxr::fs::create_directories(out / "labels");
    Rng rng(static_cast<uint32_t>(seed));
    // Balanced classes in a seeded order, so small demo sets still contain every label.
    std::vector<int> labels(count);
    for (long i = 0; i < count; ++i) labels[i] = static_cast<int>(i % 3);
    for (long i = count - 1; i > 0; --i) std::swap(labels[i], labels[rng.Below(i + 1)]);
    std::string csv = "Image ID,Label\n";
    for (long i = 0; i < count; ++i) {
      char id[160];
      std::snprintf(id, sizeof id, "%s_%04ld", prefix.c_str(), i + 1);
      cxr::WritePgm(out / "images" / (std::string(id) + ".pgm"), MakeImage(labels[i], rng));
      csv += std::string(id) + "," + kLabels[labels[i]] + "\n";
    }
    cxr::WriteText(out / "labels" / "labels.csv", csv);
    std::cout << "wrote " << count << " images to " << (out / "images").string() << "\n";
  });
}
