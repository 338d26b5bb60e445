// Data preparator of the chest X-ray example benchmark: tasks prepare, sanity_check and
// statistics (see docs/examples.md for the formats).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <set>
#include <sstream>

#include "examples/chestxray/common/cxr_common.h"

namespace {

using cxr::Error;
namespace fs = cxr::fs;

struct Parameters {
  std::vector<std::string> labels;
  std::string image_column;
  std::string label_column;
  std::string image_extension;
  int height = 0;
  int width = 0;
};

Parameters LoadParameters(const fs::path& file) {
  YAML::Node root = cxr::LoadYaml(file);
  Parameters p;
  p.labels = cxr::GetStringList(root, "labels_list", file);
  p.image_column = cxr::GetString(root, "image_column_id", file);
  p.label_column = cxr::GetString(root, "label_column_id", file);
  const std::string pgm = ".pgm";
  p.image_extension = cxr::GetString(root, "image_extension", file, &pgm);
  YAML::Node size = root["image_output_size"];
  if (!size || !size.IsSequence() || size.size() != 2 || !size[0].IsScalar() ||
      !size[1].IsScalar()) {
    throw Error(file.string() + ": key 'image_output_size' must be [height, width]");
  }
  try {
    p.height = size[0].as<int>();
    p.width = size[1].as<int>();
  } catch (const YAML::Exception&) {
    p.height = p.width = 0;
  }
  if (p.height < 1 || p.width < 1 || p.height > 1024 || p.width > 1024) {
    throw Error(file.string() + ": key 'image_output_size' must be two integers in 1..1024");
  }
  return p;
}

// Minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF line ends.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text, const fs::path& file) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch == '"' && !field_started) {
      quoted = field_started = true;
    } else if (ch == ',') {
      row.push_back(field);
      field.clear();
      field_started = false;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(field);
      if (!(row.size() == 1 && row[0].empty())) rows.push_back(row);
      row.clear();
      field.clear();
      field_started = false;
    } else {
      field += ch;
      field_started = true;
    }
  }
  if (quoted) throw Error(file.string() + ": unterminated quoted field");
  if (field_started || !row.empty()) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Bilinear resampling so raw images of any size map onto the benchmark's input size.
cxr::Image Resize(const cxr::Image& in, int height, int width) {
  if (in.height == height && in.width == width) return in;
  cxr::Image out{width, height, std::vector<float>(static_cast<size_t>(width) * height)};
  for (int r = 0; r < height; ++r) {
    double y = std::clamp((r + 0.5) * in.height / height - 0.5, 0.0, in.height - 1.0);
    int y0 = static_cast<int>(y), y1 = std::min(y0 + 1, in.height - 1);
    for (int c = 0; c < width; ++c) {
      double x = std::clamp((c + 0.5) * in.width / width - 0.5, 0.0, in.width - 1.0);
      int x0 = static_cast<int>(x), x1 = std::min(x0 + 1, in.width - 1);
      double fy = y - y0, fx = x - x0;
      double top = in.at(y0, x0) * (1 - fx) + in.at(y0, x1) * fx;
      double bottom = in.at(y1, x0) * (1 - fx) + in.at(y1, x1) * fx;
      out.pixels[static_cast<size_t>(r) * width + c] =
          static_cast<float>(top * (1 - fy) + bottom * fy);
    }
  }
  return out;
}

// Output volumes may be reused by a retried preparation; stale cases must not survive.
void ClearDirectory(const fs::path& dir, const std::string& what) {
  cxr::RequireDirectory(dir, what);
  for (const auto& entry : fs::directory_iterator(dir)) fs::remove_all(entry.path());
}

void Prepare(const cxr::Args& args) {
  fs::path params_file = args.Path("parameters_file");
  Parameters p = LoadParameters(params_file);
  fs::path data = args.Path("data_path"), labels = args.Path("labels_path");
  fs::path out_data = args.Path("output_path"), out_labels = args.Path("output_labels_path");
  cxr::RequireDirectory(data, "data_path");
  cxr::RequireDirectory(labels, "labels_path");
  fs::path csv_file = labels / "labels.csv";
  auto rows = ParseCsv(cxr::ReadText(csv_file), csv_file);
  if (rows.empty()) throw Error(csv_file.string() + ": empty, expected a header row");
  const auto& header = rows[0];
  auto column = [&](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (Trim(header[i]) == name) return i;
    }
    throw Error(csv_file.string() + ": header has no column '" + name +
                "' (set image_column_id/label_column_id in " + params_file.string() + ")");
  };
  size_t id_col = column(p.image_column), label_col = column(p.label_column);
  ClearDirectory(out_data, "output_path");
  ClearDirectory(out_labels, "output_labels_path");
  std::set<std::string> seen;
  for (size_t i = 1; i < rows.size(); ++i) {
    std::string where = csv_file.string() + " row " + std::to_string(i + 1);
    if (rows[i].size() != header.size()) {
      throw Error(where + ": expected " + std::to_string(header.size()) + " fields, found " +
                  std::to_string(rows[i].size()));
    }
    std::string id = Trim(rows[i][id_col]), label = Trim(rows[i][label_col]);
    if (!cxr::ValidCaseId(id)) {
      throw Error(where + ": invalid image id '" + id + "' (letters, digits, '_', '-', '.')");
    }
    if (!seen.insert(id).second) throw Error(where + ": image id '" + id + "' listed twice");
    auto it = std::find(p.labels.begin(), p.labels.end(), label);
    if (it == p.labels.end()) {
      std::string known;
      for (const auto& l : p.labels) known += (known.empty() ? "" : ", ") + l;
      throw Error(where + ": unknown label '" + label + "' (expected one of: " + known + ")");
    }
    fs::path image_file = data / (id + p.image_extension);
    if (!fs::exists(image_file)) {
      throw Error(where + ": image " + image_file.string() + " does not exist");
    }
    cxr::WritePrepared(out_data / (id + cxr::kImageExt),
                       Resize(cxr::ReadPgm(image_file), p.height, p.width));
    std::vector<int> one_hot(p.labels.size(), 0);
    one_hot[it - p.labels.begin()] = 1;
    cxr::WriteLabel(out_labels / (id + cxr::kLabelExt), one_hot);
  }
  if (seen.empty()) throw Error(csv_file.string() + ": no cases listed after the header");
  for (const auto& entry : fs::directory_iterator(data)) {
    std::string stem = entry.path().stem().string();
    if (entry.path().extension() == p.image_extension && !seen.contains(stem)) {
      std::cerr << "warning: " << entry.path().string() << " has no row in " << csv_file.string()
                << "; skipped\n";
    }
  }
  std::cout << "Prepared " << seen.size() << " cases into " << out_data.string() << "\n";
}

// Returns the per-label counts after checking every prepared file.
std::vector<int> CheckPrepared(const cxr::Args& args, const Parameters& p) {
  fs::path data = args.Path("data_path"), labels = args.Path("labels_path");
  cxr::RequireDirectory(data, "data_path");
  cxr::RequireDirectory(labels, "labels_path");
  auto data_ids = cxr::ListCases(data, cxr::kImageExt);
  auto label_ids = cxr::ListCases(labels, cxr::kLabelExt);
  if (data_ids.empty()) throw Error("data_path " + data.string() + " holds no prepared cases");
  std::vector<std::string> only_data, only_labels;
  std::set_difference(data_ids.begin(), data_ids.end(), label_ids.begin(), label_ids.end(),
                      std::back_inserter(only_data));
  std::set_difference(label_ids.begin(), label_ids.end(), data_ids.begin(), data_ids.end(),
                      std::back_inserter(only_labels));
  if (!only_data.empty()) {
    throw Error((data / (only_data[0] + cxr::kImageExt)).string() + " has no label file " +
                (labels / (only_data[0] + cxr::kLabelExt)).string() + " (" +
                std::to_string(only_data.size()) + " case(s) without labels)");
  }
  if (!only_labels.empty()) {
    throw Error((labels / (only_labels[0] + cxr::kLabelExt)).string() + " has no image " +
                (data / (only_labels[0] + cxr::kImageExt)).string() + " (" +
                std::to_string(only_labels.size()) + " label(s) without images)");
  }
  std::vector<int> counts(p.labels.size(), 0);
  for (const auto& id : data_ids) {
    fs::path image_file = data / (id + cxr::kImageExt);
    cxr::Image image = cxr::ReadPrepared(image_file);
    if (image.height != p.height || image.width != p.width) {
      throw Error(image_file.string() + ": image is " + std::to_string(image.height) + "x" +
                  std::to_string(image.width) + ", expected " + std::to_string(p.height) + "x" +
                  std::to_string(p.width) + " (image_output_size)");
    }
    auto one_hot = cxr::ReadLabel(labels / (id + cxr::kLabelExt), p.labels.size());
    counts[std::find(one_hot.begin(), one_hot.end(), 1) - one_hot.begin()]++;
  }
  return counts;
}

void SanityCheck(const cxr::Args& args) {
  Parameters p = LoadParameters(args.Path("parameters_file"));
  auto counts = CheckPrepared(args, p);
  int total = 0;
  for (int c : counts) total += c;
  std::cout << "Sanity checks ran successfully: " << total << " cases\n";
}

void Statistics(const cxr::Args& args) {
  const fs::path params_file = args.Path("parameters_file");
  Parameters p = LoadParameters(params_file);
  auto counts = CheckPrepared(args, p);
  YAML::Emitter out;
  out << YAML::BeginMap;
  int total = 0;
  for (int c : counts) total += c;
  out << YAML::Key << "num_cases" << YAML::Value << total;
  out << YAML::Key << "labels_count" << YAML::Value << YAML::BeginMap;
  for (size_t i = 0; i < p.labels.size(); ++i) {
    out << YAML::Key << p.labels[i] << YAML::Value << counts[i];
  }
  out << YAML::EndMap << YAML::EndMap;
  const std::string text =
      std::string(out.c_str()) + "\n" +
      cxr::ExtraLines(cxr::LoadYaml(params_file), "extra_statistics", params_file);
  cxr::WriteText(args.Path("output_path"), text);
  std::cout << text;
}

}  // namespace

int main(int argc, char** argv) {
  return cxr::RunMain("chestxray_prep", [&] {
    std::string task = argc > 1 ? argv[1] : "";
    // The same option names mean raw inputs for prepare and prepared data afterwards,
    // matching the MedPerf volume keys of each task.
    bool prepare = task == "prepare";
    std::map<std::string, std::string> defaults = {
        {"data_path", prepare ? cxr::kRawData : cxr::kData},
        {"labels_path", prepare ? cxr::kRawLabels : cxr::kLabels},
        {"parameters_file", cxr::kParameters}};
    if (prepare) {
      defaults["output_path"] = cxr::kData;
      defaults["output_labels_path"] = cxr::kLabels;
    } else if (task == "statistics") {
      defaults["output_path"] = cxr::kStatistics;
    }
    cxr::Args args(argc, argv, {"prepare", "sanity_check", "statistics"}, defaults);
    if (prepare) {
      Prepare(args);
    } else if (task == "sanity_check") {
      SanityCheck(args);
    } else {
      Statistics(args);
    }
  });
}
