// Metrics container of the chest X-ray example benchmark: task evaluate.
// Input predictions/predictions.json ({"<case id>": [score per label]}) and labels/<id>.label;
// output a flat YAML mapping: AUC, Accuracy, Top1_Accuracy (macro averages) and
// AUC_<label>, Accuracy_<label> per label.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "examples/chestxray/common/cxr_common.h"

namespace {

using cxr::Error;
namespace fs = cxr::fs;

// ROC AUC as the Mann-Whitney statistic with average ranks for ties; NaN when only one
// class is present, because the AUC is then undefined rather than 0 or 1.
double RocAuc(const std::vector<double>& scores, const std::vector<int>& truth) {
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::vector<double> rank(scores.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && scores[order[j + 1]] == scores[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = (i + j) / 2.0 + 1.0;
    i = j + 1;
  }
  double positives = 0, rank_sum = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i]) positives++, rank_sum += rank[i];
  }
  double negatives = truth.size() - positives;
  if (positives == 0 || negatives == 0) return std::nan("");
  return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

std::map<std::string, std::vector<double>> ReadPredictions(const fs::path& dir, size_t n) {
  fs::path file = dir / cxr::kPredictionsFile;
  std::string expected = "expected a JSON object {\"<case id>\": [" + std::to_string(n) +
                         " scores in [0,1], one per label], ...}";
  if (!fs::exists(file)) {
    throw Error(file.string() + ": missing; the model must write its predictions there (" +
                expected + ")");
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(cxr::ReadText(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(file.string() + ": invalid JSON (" + e.what() + "); " + expected);
  }
  if (!json.is_object()) throw Error(file.string() + ": " + expected);
  std::map<std::string, std::vector<double>> predictions;
  for (const auto& [id, value] : json.items()) {
    std::string where = file.string() + ": case '" + id + "': ";
    if (!value.is_array() || value.size() != n) {
      throw Error(where + "expected a list of " + std::to_string(n) + " scores, got " +
                  value.dump());
    }
    std::vector<double> scores;
    for (const auto& score : value) {
      if (!score.is_number() || !std::isfinite(score.get<double>()) || score.get<double>() < 0 ||
          score.get<double>() > 1) {
        throw Error(where + "expected scores in [0,1], got " + value.dump());
      }
      scores.push_back(score.get<double>());
    }
    predictions[id] = scores;
  }
  if (predictions.empty()) throw Error(file.string() + ": no predictions; " + expected);
  return predictions;
}

void Evaluate(const cxr::Args& args) {
  fs::path params_file = args.Path("parameters_file");
  YAML::Node params = cxr::LoadYaml(params_file);
  auto label_names = cxr::GetStringList(params, "labels_list", params_file);
  const double half = 0.5;
  double threshold = cxr::GetDouble(params, "threshold", params_file, &half);
  size_t n = label_names.size();

  fs::path labels_dir = args.Path("labels");
  fs::path predictions_dir = args.Path("predictions");
  cxr::RequireDirectory(predictions_dir, "predictions");
  auto ids = cxr::ListCases(labels_dir, cxr::kLabelExt);
  if (ids.empty()) throw Error("labels " + labels_dir.string() + " holds no label files");
  auto predictions = ReadPredictions(predictions_dir, n);
  fs::path predictions_file = predictions_dir / cxr::kPredictionsFile;
  for (const auto& id : ids) {
    if (!predictions.contains(id)) {
      throw Error(predictions_file.string() + ": no prediction for case '" + id + "' (" +
                  (labels_dir / (id + cxr::kLabelExt)).string() + " exists)");
    }
  }
  for (const auto& [id, scores] : predictions) {
    if (!std::binary_search(ids.begin(), ids.end(), id)) {
      throw Error(predictions_file.string() + ": prediction for case '" + id +
                  "' has no label file " + (labels_dir / (id + cxr::kLabelExt)).string());
    }
  }

  std::vector<std::vector<double>> scores(n);
  std::vector<std::vector<int>> truth(n);
  int top1_correct = 0;
  for (const auto& id : ids) {
    auto one_hot = cxr::ReadLabel(labels_dir / (id + cxr::kLabelExt), n);
    const auto& p = predictions[id];
    for (size_t l = 0; l < n; ++l) {
      scores[l].push_back(p[l]);
      truth[l].push_back(one_hot[l]);
    }
    top1_correct += one_hot[std::max_element(p.begin(), p.end()) - p.begin()] == 1;
  }
  std::vector<double> auc(n), accuracy(n);
  double auc_sum = 0, accuracy_sum = 0;
  int auc_defined = 0;
  for (size_t l = 0; l < n; ++l) {
    auc[l] = RocAuc(scores[l], truth[l]);
    if (std::isnan(auc[l])) {
      std::cerr << "warning: label '" << label_names[l]
                << "' has only one class among the cases; its AUC is undefined and left out\n";
    } else {
      auc_sum += auc[l];
      auc_defined++;
    }
    int correct = 0;
    for (size_t i = 0; i < ids.size(); ++i) correct += (scores[l][i] > threshold) == truth[l][i];
    accuracy[l] = static_cast<double>(correct) / ids.size();
    accuracy_sum += accuracy[l];
  }

  YAML::Emitter out;
  out.SetDoublePrecision(6);
  out << YAML::BeginMap;
  if (auc_defined > 0) out << YAML::Key << "AUC" << YAML::Value << auc_sum / auc_defined;
  out << YAML::Key << "Accuracy" << YAML::Value << accuracy_sum / n;
  out << YAML::Key << "Top1_Accuracy" << YAML::Value
      << static_cast<double>(top1_correct) / ids.size();
  for (size_t l = 0; l < n; ++l) {
    if (!std::isnan(auc[l])) {
      out << YAML::Key << "AUC_" + label_names[l] << YAML::Value << auc[l];
    }
  }
  for (size_t l = 0; l < n; ++l) {
    out << YAML::Key << "Accuracy_" + label_names[l] << YAML::Value << accuracy[l];
  }
  out << YAML::EndMap;
  const std::string text =
      std::string(out.c_str()) + "\n" + cxr::ExtraLines(params, "extra_results", params_file);
  cxr::WriteText(args.Path("output_path"), text);
  std::cout << text;
}

}  // namespace

int main(int argc, char** argv) {
  return cxr::RunMain("chestxray_metrics", [&] {
    cxr::Args args(argc, argv, {"evaluate"},
                   {{"predictions", cxr::kPredictions},
                    {"labels", cxr::kLabels},
                    {"parameters_file", cxr::kParameters},
                    {"output_path", cxr::kResults}});
    Evaluate(args);
  });
}
