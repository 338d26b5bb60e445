#include "examples/chestxray/common/cxr_common.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace cxr {

Args::Args(int argc, char** argv, const std::vector<std::string>& tasks,
           const std::map<std::string, std::string>& defaults)
    : values_(defaults) {
  auto usage = [&] {
    std::string text = "usage: " + std::string(argc > 0 ? argv[0] : "program") + " <";
    for (size_t i = 0; i < tasks.size(); ++i) text += (i ? "|" : "") + tasks[i];
    text += ">";
    for (const auto& [key, value] : defaults) text += " [--" + key + "=PATH]";
    return text;
  };
  if (argc < 2) throw Error("missing task\n" + usage());
  task_ = argv[1];
  if (std::find(tasks.begin(), tasks.end(), task_) == tasks.end()) {
    throw Error("unknown task '" + task_ + "'\n" + usage());
  }
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      throw Error("bad argument '" + arg + "': expected --key=value\n" + usage());
    }
    std::string key = arg.substr(2, eq - 2);
    if (!defaults.contains(key)) throw Error("unknown option '--" + key + "'\n" + usage());
    std::string value = arg.substr(eq + 1);
    if (value.empty()) throw Error("option '--" + key + "' needs a non-empty path");
    values_[key] = value;
  }
}

fs::path Args::Path(const std::string& key) const { return values_.at(key); }

int RunMain(const char* program, const std::function<void()>& body) {
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open for reading: " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path.string() + ": cannot open for writing: " + std::strerror(errno));
  out << text;
  out.flush();
  if (!out) throw Error(path.string() + ": write failed");
}

void RequireDirectory(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(what + " " + dir.string() + " is not an existing directory");
  }
}

namespace {

// PGM headers allow comments and arbitrary whitespace between the fields.
int ReadPgmHeaderInt(const std::string& bytes, size_t& pos, const fs::path& path) {
  while (pos < bytes.size()) {
    if (std::isspace(static_cast<unsigned char>(bytes[pos]))) {
      ++pos;
    } else if (bytes[pos] == '#') {
      while (pos < bytes.size() && bytes[pos] != '\n') ++pos;
    } else {
      break;
    }
  }
  size_t start = pos;
  while (pos < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[pos]))) ++pos;
  if (start == pos || pos - start > 6) {
    throw Error(path.string() + ": malformed PGM header: expected a positive integer");
  }
  return std::stoi(bytes.substr(start, pos - start));
}

}  // namespace

Image ReadPgm(const fs::path& path) {
  std::string bytes = ReadText(path);
  if (bytes.size() < 2 || bytes[0] != 'P' || bytes[1] != '5') {
    throw Error(path.string() + ": not a binary PGM image (expected magic 'P5')");
  }
  size_t pos = 2;
  Image image;
  image.width = ReadPgmHeaderInt(bytes, pos, path);
  image.height = ReadPgmHeaderInt(bytes, pos, path);
  int maxval = ReadPgmHeaderInt(bytes, pos, path);
  if (image.width < 1 || image.height < 1 || image.width > 8192 || image.height > 8192) {
    throw Error(path.string() + ": PGM size " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " out of range (expected 1..8192)");
  }
  if (maxval < 1 || maxval > 65535) {
    throw Error(path.string() + ": PGM maxval " + std::to_string(maxval) +
                " out of range (expected 1..65535)");
  }
  if (pos >= bytes.size() || !std::isspace(static_cast<unsigned char>(bytes[pos]))) {
    throw Error(path.string() + ": malformed PGM header: expected whitespace before pixels");
  }
  ++pos;
  size_t bytes_per_pixel = maxval > 255 ? 2 : 1;
  size_t count = static_cast<size_t>(image.width) * image.height;
  if (bytes.size() - pos != count * bytes_per_pixel) {
    throw Error(path.string() + ": PGM pixel data has " + std::to_string(bytes.size() - pos) +
                " bytes, expected " + std::to_string(count * bytes_per_pixel));
  }
  image.pixels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    unsigned value = bytes_per_pixel == 1 ? static_cast<unsigned char>(bytes[pos + i])
                                          : (static_cast<unsigned char>(bytes[pos + 2 * i]) << 8) |
                                                static_cast<unsigned char>(bytes[pos + 2 * i + 1]);
    if (value > static_cast<unsigned>(maxval)) {
      throw Error(path.string() + ": PGM pixel value " + std::to_string(value) +
                  " exceeds maxval " + std::to_string(maxval));
    }
    image.pixels[i] = static_cast<float>(value) / static_cast<float>(maxval);
  }
  return image;
}

void WritePgm(const fs::path& path, const Image& image) {
  std::string bytes =
      "P5\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
  for (float value : image.pixels) {
    bytes.push_back(static_cast<char>(std::lround(std::clamp(value, 0.0f, 255.0f))));
  }
  WriteText(path, bytes);
}

Image ReadPrepared(const fs::path& path) {
  std::string text = ReadText(path);
  const char* p = text.c_str();
  const char* end = p + text.size();
  auto expected = [&](const std::string& what) {
    return Error(path.string() + ": not a prepared image: expected " + what +
                 " (format: 'CXR1 <width> <height>' then width*height values in [0,1])");
  };
  while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
  if (end - p < 4 || std::strncmp(p, "CXR1", 4) != 0) throw expected("header 'CXR1'");
  p += 4;
  auto read_int = [&](const char* what) {
    char* next = nullptr;
    errno = 0;
    long value = std::strtol(p, &next, 10);
    if (next == p || errno != 0 || value < 1 || value > 8192) throw expected(what);
    p = next;
    return static_cast<int>(value);
  };
  Image image;
  image.width = read_int("a width in 1..8192");
  image.height = read_int("a height in 1..8192");
  size_t count = static_cast<size_t>(image.width) * image.height;
  image.pixels.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    char* next = nullptr;
    float value = std::strtof(p, &next);
    if (next == p) {
      throw expected(std::to_string(count) + " pixel values, found only " + std::to_string(i));
    }
    if (!std::isfinite(value) || value < 0.0f || value > 1.0f) {
      throw expected("pixel values in [0,1], value " + std::to_string(i) + " is " +
                     std::string(p, static_cast<const char*>(next)));
    }
    image.pixels.push_back(value);
    p = next;
  }
  while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
  if (p != end) throw expected("exactly " + std::to_string(count) + " pixel values");
  return image;
}

void WritePrepared(const fs::path& path, const Image& image) {
  std::string text =
      "CXR1 " + std::to_string(image.width) + " " + std::to_string(image.height) + "\n";
  char buffer[16];
  for (int r = 0; r < image.height; ++r) {
    for (int c = 0; c < image.width; ++c) {
      std::snprintf(buffer, sizeof buffer, "%s%.4f", c ? " " : "", image.at(r, c));
      text += buffer;
    }
    text += "\n";
  }
  WriteText(path, text);
}

std::vector<int> ReadLabel(const fs::path& path, size_t num_labels) {
  std::istringstream in(ReadText(path));
  std::vector<int> values;
  std::string token;
  while (in >> token) {
    if (token != "0" && token != "1") {
      throw Error(path.string() + ": expected one-hot values 0 or 1, found '" + token + "'");
    }
    values.push_back(token == "1");
  }
  if (values.size() != num_labels) {
    throw Error(path.string() + ": expected " + std::to_string(num_labels) +
                " one-hot values (one per label), found " + std::to_string(values.size()));
  }
  if (std::count(values.begin(), values.end(), 1) != 1) {
    throw Error(path.string() + ": expected exactly one value 1 (one label per case)");
  }
  return values;
}

void WriteLabel(const fs::path& path, const std::vector<int>& one_hot) {
  std::string text;
  for (size_t i = 0; i < one_hot.size(); ++i) text += (i ? " " : "") + std::to_string(one_hot[i]);
  WriteText(path, text + "\n");
}

bool ValidCaseId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.' || id[0] == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
  });
}

std::vector<std::string> ListCases(const fs::path& dir, const std::string& ext) {
  RequireDirectory(dir, "directory");
  std::vector<std::string> ids;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file()) {
      throw Error((dir / name).string() + ": unexpected entry (expected only regular *" + ext +
                  " files in " + dir.string() + ")");
    }
    if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext)) {
      throw Error((dir / name).string() + ": unexpected file (expected only *" + ext +
                  " files in " + dir.string() + ")");
    }
    std::string id = name.substr(0, name.size() - ext.size());
    if (!ValidCaseId(id)) throw Error((dir / name).string() + ": invalid case id '" + id + "'");
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

YAML::Node LoadYaml(const fs::path& path) {
  std::string text = ReadText(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(path.string() + ": invalid YAML: " + e.what());
  }
  if (!root.IsMap()) throw Error(path.string() + ": expected a YAML mapping at the top level");
  return root;
}

namespace {

YAML::Node Field(const YAML::Node& root, const std::string& key, const fs::path& file,
                 bool required) {
  YAML::Node node = root[key];
  if (!node && required) throw Error(file.string() + ": missing required key '" + key + "'");
  return node;
}

template <typename T>
T Scalar(const YAML::Node& node, const std::string& key, const fs::path& file, const char* what) {
  if (!node.IsScalar()) throw Error(file.string() + ": key '" + key + "' must be " + what);
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw Error(file.string() + ": key '" + key + "' must be " + what + ", got '" + node.Scalar() +
                "'");
  }
}

}  // namespace

std::vector<std::string> GetStringList(const YAML::Node& root, const std::string& key,
                                       const fs::path& file) {
  YAML::Node node = Field(root, key, file, true);
  if (!node.IsSequence() || node.size() == 0) {
    throw Error(file.string() + ": key '" + key + "' must be a non-empty list of strings");
  }
  std::vector<std::string> values;
  std::set<std::string> seen;
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      throw Error(file.string() + ": key '" + key + "' must be a non-empty list of strings");
    }
    if (!seen.insert(item.Scalar()).second) {
      throw Error(file.string() + ": key '" + key + "' lists '" + item.Scalar() + "' twice");
    }
    values.push_back(item.Scalar());
  }
  return values;
}

std::string ExtraLines(const YAML::Node& root, const std::string& key, const fs::path& file) {
  YAML::Node node = Field(root, key, file, false);
  if (!node) return "";
  if (!node.IsMap()) throw Error(file.string() + ": key '" + key + "' must be a mapping");
  std::string lines;
  for (const auto& kv : node) {
    const std::string name = kv.first.Scalar();
    const bool plain_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!kv.first.IsScalar() || !plain_name || !kv.second.IsScalar() ||
        kv.second.Scalar().find_first_of("\n\r") != std::string::npos) {
      throw Error(file.string() + ": key '" + key + "' must map plain names to scalars");
    }
    lines += name + ": " + kv.second.Scalar() + "\n";
  }
  return lines;
}

std::string GetString(const YAML::Node& root, const std::string& key, const fs::path& file,
                      const std::string* fallback) {
  YAML::Node node = Field(root, key, file, fallback == nullptr);
  if (!node) return *fallback;
  return Scalar<std::string>(node, key, file, "a string");
}

double GetDouble(const YAML::Node& root, const std::string& key, const fs::path& file,
                 const double* fallback) {
  YAML::Node node = Field(root, key, file, fallback == nullptr);
  if (!node) return *fallback;
  double value = Scalar<double>(node, key, file, "a number");
  if (!std::isfinite(value)) throw Error(file.string() + ": key '" + key + "' must be finite");
  return value;
}

int GetInt(const YAML::Node& root, const std::string& key, const fs::path& file,
           const int* fallback) {
  YAML::Node node = Field(root, key, file, fallback == nullptr);
  if (!node) return *fallback;
  return Scalar<int>(node, key, file, "an integer");
}

void WritePredictions(const fs::path& dir,
                      const std::map<std::string, std::vector<double>>& predictions) {
  RequireDirectory(dir, "output directory");
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [id, scores] : predictions) out[id] = scores;
  WriteText(dir / kPredictionsFile, out.dump(2) + "\n");
}

namespace {

struct Box {
  int r0, r1, c0, c1;
};

Box ToBox(const Image& image, double r0, double r1, double c0, double c1) {
  auto edge = [](double fraction, int size) {
    return std::clamp(static_cast<int>(std::lround(fraction * size)), 0, size);
  };
  Box box{edge(r0, image.height), edge(r1, image.height), edge(c0, image.width),
          edge(c1, image.width)};
  // A box that rounds to nothing on a tiny image still samples its nearest pixel.
  if (box.r1 <= box.r0) box.r1 = std::min(box.r0 + 1, image.height), box.r0 = box.r1 - 1;
  if (box.c1 <= box.c0) box.c1 = std::min(box.c0 + 1, image.width), box.c0 = box.c1 - 1;
  return box;
}

}  // namespace

double RegionMean(const Image& image, double r0, double r1, double c0, double c1) {
  Box box = ToBox(image, r0, r1, c0, c1);
  double sum = 0;
  for (int r = box.r0; r < box.r1; ++r) {
    for (int c = box.c0; c < box.c1; ++c) sum += image.at(r, c);
  }
  return sum / ((box.r1 - box.r0) * (box.c1 - box.c0));
}

double RegionFraction(const Image& image, double r0, double r1, double c0, double c1,
                      double threshold) {
  Box box = ToBox(image, r0, r1, c0, c1);
  int bright = 0;
  for (int r = box.r0; r < box.r1; ++r) {
    for (int c = box.c0; c < box.c1; ++c) bright += image.at(r, c) > threshold;
  }
  return static_cast<double>(bright) / ((box.r1 - box.r0) * (box.c1 - box.c0));
}

std::map<std::string, Image> LoadPreparedImages(const fs::path& data_dir) {
  RequireDirectory(data_dir, "data_path");
  std::map<std::string, Image> images;
  for (const std::string& id : ListCases(data_dir, kImageExt)) {
    images[id] = ReadPrepared(data_dir / (id + kImageExt));
  }
  if (images.empty()) {
    throw Error("data_path " + data_dir.string() + " holds no prepared images (*" +
                std::string(kImageExt) + ")");
  }
  return images;
}

}  // namespace cxr
