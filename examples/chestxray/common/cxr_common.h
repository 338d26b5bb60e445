// Shared helpers for the chest X-ray example containers: argument parsing, PGM and
// prepared-data IO, YAML parameter access. Every failure is a cxr::Error whose message
// names the file and what was expected; RunMain turns it into "error: ..." and exit 1.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxr {

namespace fs = std::filesystem;

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `<program> <task> --key=value ...`. Volumes default to the MedPerf mount paths so a
// config without run_args still works inside a sandbox.
class Args {
 public:
  // `tasks` lists the accepted task names; the keys of `defaults` are the accepted options.
  Args(int argc, char** argv, const std::vector<std::string>& tasks,
       const std::map<std::string, std::string>& defaults);
  const std::string& task() const { return task_; }
  fs::path Path(const std::string& key) const;

 private:
  std::string task_;
  std::map<std::string, std::string> values_;
};

// Runs `body` and maps exceptions to a message on stderr and exit code 1.
int RunMain(const char* program, const std::function<void()>& body);

// Default mount paths (medperf-reference.md §3.1).
inline constexpr const char* kRawData = "/mlcommons/volumes/raw_data";
inline constexpr const char* kRawLabels = "/mlcommons/volumes/raw_labels";
inline constexpr const char* kData = "/mlcommons/volumes/data";
inline constexpr const char* kLabels = "/mlcommons/volumes/labels";
inline constexpr const char* kParameters = "/mlcommons/volumes/parameters/parameters_file.yaml";
inline constexpr const char* kStatistics = "/mlcommons/volumes/statistics/statistics.yaml";
inline constexpr const char* kPredictions = "/mlcommons/volumes/predictions";
inline constexpr const char* kAdditionalFiles = "/mlcommons/volumes/additional_files";
inline constexpr const char* kResults = "/mlcommons/volumes/results/results.yaml";

// Prepared data layout: data/<id>.cxr, labels/<id>.label, predictions/predictions.json.
inline constexpr const char* kImageExt = ".cxr";
inline constexpr const char* kLabelExt = ".label";
inline constexpr const char* kPredictionsFile = "predictions.json";

// Grayscale image with values in [0, 1] (prepared) or [0, 255] (generator), row-major.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<float> pixels;
  float at(int row, int col) const { return pixels[static_cast<size_t>(row) * width + col]; }
};

// Binary PGM (P5), 8 or 16 bit; values are scaled to [0, 1].
Image ReadPgm(const fs::path& path);
// Writes `image` (values in [0, 255]) as an 8-bit P5 file.
void WritePgm(const fs::path& path, const Image& image);

// The prepared image format: "CXR1 <width> <height>" then height lines of width values
// in [0, 1]. Text keeps prepared data inspectable and diffable by the data owner.
Image ReadPrepared(const fs::path& path);
void WritePrepared(const fs::path& path, const Image& image);

// A label file: one line of space-separated 0/1 values, exactly one 1 (one-hot).
std::vector<int> ReadLabel(const fs::path& path, size_t num_labels);
void WriteLabel(const fs::path& path, const std::vector<int>& one_hot);

// Case ids become file names, so they must not be able to escape a directory.
bool ValidCaseId(const std::string& id);

// Sorted case ids of `dir`, which must hold only regular files ending in `ext`.
std::vector<std::string> ListCases(const fs::path& dir, const std::string& ext);

void RequireDirectory(const fs::path& dir, const std::string& what);
std::string ReadText(const fs::path& path);
void WriteText(const fs::path& path, const std::string& text);

// YAML access with errors naming the file and key.
YAML::Node LoadYaml(const fs::path& path);
std::vector<std::string> GetStringList(const YAML::Node& root, const std::string& key,
                                       const fs::path& file);
std::string GetString(const YAML::Node& root, const std::string& key, const fs::path& file,
                      const std::string* fallback = nullptr);
double GetDouble(const YAML::Node& root, const std::string& key, const fs::path& file,
                 const double* fallback = nullptr);
int GetInt(const YAML::Node& root, const std::string& key, const fs::path& file,
           const int* fallback = nullptr);
// Optional `key`: a mapping of names (letters, digits, `_`) to scalars, returned as
// "name: value" lines to append verbatim to a flat YAML output (results, statistics). A
// test hook for values the synthetic data never produces (`.nan`, `.inf`, `-.inf`);
// empty when the key is absent.
std::string ExtraLines(const YAML::Node& root, const std::string& key, const fs::path& file);

// Model output: {"<case id>": [score per label, ...], ...}.
void WritePredictions(const fs::path& dir, const std::map<std::string, std::vector<double>>& p);

// Mean of the pixels in the fractional box [r0, r1) x [c0, c1) of the image, so features
// do not depend on the prepared image size.
double RegionMean(const Image& image, double r0, double r1, double c0, double c1);
// Fraction of pixels in the box brighter than `threshold`.
double RegionFraction(const Image& image, double r0, double r1, double c0, double c1,
                      double threshold);

// Checks the model's prepared input is what this benchmark's preparator writes.
std::map<std::string, Image> LoadPreparedImages(const fs::path& data_dir);

}  // namespace cxr
