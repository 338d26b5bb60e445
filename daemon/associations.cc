#include "daemon/associations.h"

namespace medperf::daemon {
namespace {

ModelId ModelOf(const BenchmarkModelAssociation& r) { return r.model; }
std::pair<BenchmarkId, DatasetId> PairOf(const BenchmarkDatasetAssociation& r) {
  return {r.benchmark, r.dataset};
}

}  // namespace

std::vector<ModelId> ApprovedModels(const std::vector<BenchmarkModelAssociation>& rows) {
  std::vector<ModelId> out;
  for (const auto& [model, row] : LatestPerKey(rows, &ModelOf)) {
    if (row->approval_status == ApprovalStatus::kApproved) out.push_back(model);
  }
  return out;
}

std::map<BenchmarkId, std::vector<DatasetId>> ApprovedDatasetsByBenchmark(
    const std::vector<BenchmarkDatasetAssociation>& rows) {
  std::map<BenchmarkId, std::vector<DatasetId>> out;
  for (const auto& [pair, row] : LatestPerKey(rows, &PairOf)) {
    if (row->approval_status == ApprovalStatus::kApproved) out[pair.first].push_back(pair.second);
  }
  return out;
}

bool FollowsBenchmark(const PolicyConfig& policy, BenchmarkId benchmark) {
  return policy.benchmarks.empty() || policy.benchmarks.count(benchmark.value()) > 0;
}

bool AllowsModel(const PolicyConfig& policy, ModelId model) {
  if (policy.deny_models.count(model.value())) return false;
  return policy.allow_models.empty() || policy.allow_models.count(model.value()) > 0;
}

bool AutoSubmits(const PolicyConfig& policy, BenchmarkId benchmark) {
  return policy.submission == SubmissionPolicy::kAuto ||
         policy.auto_submit_benchmarks.count(benchmark.value()) > 0;
}

}  // namespace medperf::daemon
