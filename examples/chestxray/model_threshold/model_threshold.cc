// Threshold model of the chest X-ray example benchmark: task infer.
// Two hand-set rules read from additional_files/<weights_file>: effusion when the lower lung
// fields are bright, cardiomegaly when the bright central (heart) area is large. Each rule is
// a soft threshold, sigmoid((feature - threshold) / softness), so scores rank cases for AUC.
#include <cmath>
#include <iostream>

#include "examples/chestxray/common/cxr_common.h"

namespace {

using cxr::Error;
namespace fs = cxr::fs;

// Mean brightness of the lung bases, where pleural fluid collects.
double LowerLungMean(const cxr::Image& image) {
  return (cxr::RegionMean(image, 16.0 / 28, 22.0 / 28, 2.0 / 28, 7.0 / 28) +
          cxr::RegionMean(image, 16.0 / 28, 22.0 / 28, 21.0 / 28, 26.0 / 28)) /
         2;
}

// Share of bright pixels around the heart; grows with the cardiac silhouette.
double HeartArea(const cxr::Image& image) {
  return cxr::RegionFraction(image, 9.0 / 28, 26.0 / 28, 6.0 / 28, 22.0 / 28, 0.5);
}

struct Rule {
  std::string feature;
  double threshold = 0;
  double softness = 1;
};

Rule LoadRule(const YAML::Node& root, const std::string& label, const fs::path& file) {
  YAML::Node node = root[label];
  if (!node || !node.IsMap()) {
    throw Error(file.string() + ": missing mapping '" + label +
                "' (expected {feature, threshold, softness})");
  }
  Rule rule;
  rule.feature = cxr::GetString(node, "feature", file);
  if (rule.feature != "lower_lung_mean" && rule.feature != "heart_area") {
    throw Error(file.string() + ": " + label + ".feature '" + rule.feature +
                "' unknown (expected lower_lung_mean or heart_area)");
  }
  rule.threshold = cxr::GetDouble(node, "threshold", file);
  rule.softness = cxr::GetDouble(node, "softness", file);
  if (rule.softness <= 0) throw Error(file.string() + ": " + label + ".softness must be > 0");
  return rule;
}

double Apply(const Rule& rule, const cxr::Image& image) {
  double x = rule.feature == "heart_area" ? HeartArea(image) : LowerLungMean(image);
  return 1.0 / (1.0 + std::exp(-(x - rule.threshold) / rule.softness));
}

void Infer(const cxr::Args& args) {
  fs::path params_file = args.Path("parameters_file");
  YAML::Node params = cxr::LoadYaml(params_file);
  auto labels = cxr::GetStringList(params, "labels_list", params_file);
  if (labels != std::vector<std::string>{"normal", "effusion", "cardiomegaly"}) {
    throw Error(params_file.string() +
                ": labels_list must be [normal, effusion, cardiomegaly] for this model");
  }
  fs::path additional = args.Path("additional_files");
  cxr::RequireDirectory(additional, "additional_files");
  fs::path weights_file = additional / cxr::GetString(params, "weights_file", params_file);
  YAML::Node weights = cxr::LoadYaml(weights_file);
  Rule effusion = LoadRule(weights, "effusion", weights_file);
  Rule cardiomegaly = LoadRule(weights, "cardiomegaly", weights_file);

  auto images = cxr::LoadPreparedImages(args.Path("data_path"));
  std::map<std::string, std::vector<double>> predictions;
  for (const auto& [id, image] : images) {
    double e = Apply(effusion, image), c = Apply(cardiomegaly, image);
    predictions[id] = {(1 - e) * (1 - c), e, c};
  }
  cxr::RequireDirectory(args.Path("output_path"), "output_path");
  cxr::WritePredictions(args.Path("output_path"), predictions);
  std::cout << "Wrote predictions for " << predictions.size() << " cases\n";
}

}  // namespace

int main(int argc, char** argv) {
  return cxr::RunMain("chestxray_model_threshold", [&] {
    cxr::Args args(argc, argv, {"infer"},
                   {{"data_path", cxr::kData},
                    {"parameters_file", cxr::kParameters},
                    {"additional_files", cxr::kAdditionalFiles},
                    {"output_path", cxr::kPredictions}});
    Infer(args);
  });
}
