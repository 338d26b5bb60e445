// The rules that decide which associations are in force and which models may run on
// this site, in one place for the poller, the run jobs, `benchmark run` and the
// association listings (issue 12). MedPerf keeps every association row (a dataset or
// model re-associated, approved, rejected); the client treats the latest row per pair,
// by created_at, as the one in force (medperf/cli/medperf/entities/benchmark.py,
// get_models_uids).
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/rest_client.h"
#include "daemon/config.h"

namespace medperf::daemon {

// The latest row per key (by created_at; ties: the later row in `rows` wins), the keys
// in the order of their first row. `key(row)` is any ordered value, e.g. a model id or
// a (benchmark, dataset) pair. The pointers point into `rows`.
template <typename Row, typename KeyOf>
auto LatestPerKey(const std::vector<Row>& rows, KeyOf key_of)
    -> std::vector<std::pair<decltype(key_of(rows.front())), const Row*>> {
  using Key = decltype(key_of(rows.front()));
  std::vector<Key> order;
  std::map<Key, const Row*> latest;
  std::map<Key, std::string> first_seen;
  for (const Row& r : rows) {
    Key k = key_of(r);
    auto it = latest.find(k);
    if (it == latest.end()) {
      latest[k] = &r;
      first_seen[k] = r.created_at;
      order.push_back(k);
    } else {
      if (r.created_at >= it->second->created_at) it->second = &r;
      if (r.created_at < first_seen[k]) first_seen[k] = r.created_at;
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](const Key& a, const Key& b) { return first_seen[a] < first_seen[b]; });
  std::vector<std::pair<Key, const Row*>> out;
  for (const Key& k : order) out.emplace_back(k, latest[k]);
  return out;
}

// The models approved for a benchmark, as the MedPerf client computes them: the latest
// association row per model must be APPROVED; models in the order of their first
// association.
std::vector<ModelId> ApprovedModels(const std::vector<BenchmarkModelAssociation>& rows);
// The same for datasets: benchmark -> datasets whose latest association is APPROVED.
std::map<BenchmarkId, std::vector<DatasetId>> ApprovedDatasetsByBenchmark(
    const std::vector<BenchmarkDatasetAssociation>& rows);

// --- A dataset's association with a benchmark, as the server has it ---
// Every command that needs or makes a dataset's association asks these two, so that they
// all see the same state and say the same thing (`dataset associate`, `benchmark run`,
// a model's `run` job).

// The latest association row of (dataset, benchmark) on `server` (GET
// /datasets/{D}/benchmarks/{B}/, the rule of LatestPerKey), or nullopt when the dataset
// never asked to join. Errors: the server's (e.g. PERMISSION_DENIED for a dataset of
// another user, NOT_FOUND for an unknown dataset).
absl::StatusOr<std::optional<BenchmarkDatasetAssociation>> LatestDatasetAssociation(
    const MedPerfApi& server, DatasetId dataset, BenchmarkId benchmark);

// OK when the latest association of (dataset, benchmark) is APPROVED, the condition the
// server puts on an execution of a model other than the reference
// (server/benchmarkdataset + server/result in mlcommons/medperf). Else
// FAILED_PRECONDITION "dataset D is not associated with benchmark B (<its state>); <what
// to run next>", the next step being `medperfctl dataset associate -b B -d D` (none or
// rejected) or waiting for the benchmark owner (pending). The server's errors as
// LatestDatasetAssociation.
absl::Status RequireApprovedDatasetAssociation(const MedPerfApi& server, DatasetId dataset,
                                               BenchmarkId benchmark);

// --- The site's policy (medperfd.yaml `policy:`) ---

// Whether the site follows `benchmark` (policy.benchmarks empty = every associated one).
bool FollowsBenchmark(const PolicyConfig& policy, BenchmarkId benchmark);
// Whether `model` may run here: not denied, and allowed when an allow list exists.
bool AllowsModel(const PolicyConfig& policy, ModelId model);
// Whether results of `benchmark` are submitted without review (`auto`).
bool AutoSubmits(const PolicyConfig& policy, BenchmarkId benchmark);

}  // namespace medperf::daemon
