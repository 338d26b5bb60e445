#include "daemon/associations.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

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

absl::StatusOr<std::optional<BenchmarkDatasetAssociation>> LatestDatasetAssociation(
    const MedPerfApi& server, DatasetId dataset, BenchmarkId benchmark) {
  ASSIGN_OR_RETURN(std::vector<BenchmarkDatasetAssociation> rows,
                   server.GetDatasetAssociations(dataset, benchmark));
  auto latest = LatestPerKey(rows, &PairOf);
  if (latest.empty()) return std::nullopt;
  return *latest.front().second;
}

absl::Status RequireApprovedDatasetAssociation(const MedPerfApi& server, DatasetId dataset,
                                               BenchmarkId benchmark) {
  ASSIGN_OR_RETURN(std::optional<BenchmarkDatasetAssociation> latest,
                   LatestDatasetAssociation(server, dataset, benchmark));
  if (latest && latest->approval_status == ApprovalStatus::kApproved) return absl::OkStatus();
  const std::string head = absl::StrCat("dataset ", dataset.value(),
                                        " is not associated with benchmark ", benchmark.value());
  const std::string associate = absl::StrCat("run: medperfctl dataset associate -b ",
                                             benchmark.value(), " -d ", dataset.value());
  if (!latest) {
    // A dataset made by another data preparator can never join: say so instead of
    // suggesting an association request the server would refuse.
    absl::StatusOr<Benchmark> b = server.GetBenchmark(benchmark);
    absl::StatusOr<Dataset> d = server.GetDataset(dataset);
    if (b.ok() && d.ok() && b->data_preparation_mlcube != d->data_preparation_mlcube) {
      return absl::FailedPreconditionError(absl::StrCat(
          head, " and cannot join it: it was prepared with container ",
          d->data_preparation_mlcube.value(), ", but benchmark ", benchmark.value(),
          " prepares data with container ", b->data_preparation_mlcube.value(),
          "; to take part, register the raw data for that benchmark: medperfctl dataset "
          "submit --benchmark ",
          benchmark.value(), " ..."));
    }
    return absl::FailedPreconditionError(
        absl::StrCat(head, " (it never asked to join); ", associate));
  }
  if (latest->approval_status == ApprovalStatus::kRejected) {
    return absl::FailedPreconditionError(absl::StrCat(
        head, " (the benchmark owner rejected its association request); to ask again, ",
        associate));
  }
  return absl::FailedPreconditionError(
      absl::StrCat(head, " yet (its association request of ", latest->created_at,
                   " is PENDING until the benchmark owner approves it); wait for the approval: "
                   "medperfctl association ls shows it"));
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
