// Linear (softmax regression) model of the chest X-ray example benchmark: task infer.
// Unlike the threshold model its features are contrasts against the image's own soft tissue,
// so they do not move with exposure; weights come from additional_files/<weights_file>.
#include <algorithm>
#include <cmath>
#include <iostream>

#include "examples/chestxray/common/cxr_common.h"

namespace {

using cxr::Error;
namespace fs = cxr::fs;

const std::vector<std::string> kFeatures = {"bias", "basal_contrast", "heart_area", "mean"};

std::vector<double> Features(const cxr::Image& image) {
  double upper = (cxr::RegionMean(image, 5.0 / 28, 11.0 / 28, 2.0 / 28, 7.0 / 28) +
                  cxr::RegionMean(image, 5.0 / 28, 11.0 / 28, 21.0 / 28, 26.0 / 28)) /
                 2;
  double lower = (cxr::RegionMean(image, 16.0 / 28, 22.0 / 28, 2.0 / 28, 7.0 / 28) +
                  cxr::RegionMean(image, 16.0 / 28, 22.0 / 28, 21.0 / 28, 26.0 / 28)) /
                 2;
  // The top rows are soft tissue in every image: a per-image exposure reference.
  double tissue = cxr::RegionMean(image, 0, 2.0 / 28, 0, 1);
  double heart = cxr::RegionFraction(image, 9.0 / 28, 26.0 / 28, 6.0 / 28, 22.0 / 28,
                                     std::min(tissue + 0.15, 1.0));
  return {1.0, lower - upper, heart, cxr::RegionMean(image, 0, 1, 0, 1)};
}

void Infer(const cxr::Args& args) {
  fs::path params_file = args.Path("parameters_file");
  YAML::Node params = cxr::LoadYaml(params_file);
  auto labels = cxr::GetStringList(params, "labels_list", params_file);
  fs::path additional = args.Path("additional_files");
  cxr::RequireDirectory(additional, "additional_files");
  fs::path weights_file = additional / cxr::GetString(params, "weights_file", params_file);
  YAML::Node weights = cxr::LoadYaml(weights_file);
  if (cxr::GetStringList(weights, "features", weights_file) != kFeatures) {
    throw Error(weights_file.string() +
                ": features must be [bias, basal_contrast, heart_area, mean] for this model");
  }
  YAML::Node rows = weights["weights"];
  if (!rows || !rows.IsMap()) {
    throw Error(weights_file.string() + ": missing mapping 'weights' (label -> coefficients)");
  }
  std::vector<std::vector<double>> matrix;
  for (const auto& label : labels) {
    YAML::Node row = rows[label];
    if (!row || !row.IsSequence() || row.size() != kFeatures.size()) {
      throw Error(weights_file.string() + ": weights." + label + " must be a list of " +
                  std::to_string(kFeatures.size()) + " numbers");
    }
    std::vector<double> coefficients;
    for (const auto& v : row) {
      try {
        coefficients.push_back(v.as<double>());
      } catch (const YAML::Exception&) {
        throw Error(weights_file.string() + ": weights." + label + " must hold numbers");
      }
    }
    matrix.push_back(coefficients);
  }

  auto images = cxr::LoadPreparedImages(args.Path("data_path"));
  std::map<std::string, std::vector<double>> predictions;
  for (const auto& [id, image] : images) {
    auto x = Features(image);
    std::vector<double> logits;
    for (const auto& w : matrix) {
      double z = 0;
      for (size_t i = 0; i < x.size(); ++i) z += w[i] * x[i];
      logits.push_back(z);
    }
    double top = *std::max_element(logits.begin(), logits.end()), sum = 0;
    for (double& z : logits) sum += (z = std::exp(z - top));
    for (double& z : logits) z /= sum;
    predictions[id] = logits;
  }
  cxr::RequireDirectory(args.Path("output_path"), "output_path");
  cxr::WritePredictions(args.Path("output_path"), predictions);
  std::cout << "Wrote predictions for " << predictions.size() << " cases\n";
}

}  // namespace

int main(int argc, char** argv) {
  return cxr::RunMain("chestxray_model_linear", [&] {
    cxr::Args args(argc, argv, {"infer"},
                   {{"data_path", cxr::kData},
                    {"parameters_file", cxr::kParameters},
                    {"additional_files", cxr::kAdditionalFiles},
                    {"output_path", cxr::kPredictions}});
    Infer(args);
  });
}
