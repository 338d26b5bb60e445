// The rules that decide which associations are in force and which models may run on
// this site, in one place for the poller, the run jobs, `benchmark run` and the
// association listings (issue 12). MedPerf keeps every association row (a dataset or
// model re-associated, approved, rejected); the client treats the latest row per pair,
// by created_at, as the one in force (medperf/cli/medperf/entities/benchmark.py,
// get_models_uids).
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/entities.h"
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

// --- The site's policy (medperfd.yaml `policy:`) ---

// Whether the site follows `benchmark` (policy.benchmarks empty = every associated one).
bool FollowsBenchmark(const PolicyConfig& policy, BenchmarkId benchmark);
// Whether `model` may run here: not denied, and allowed when an allow list exists.
bool AllowsModel(const PolicyConfig& policy, ModelId model);
// Whether results of `benchmark` are submitted without review (`auto`).
bool AutoSubmits(const PolicyConfig& policy, BenchmarkId benchmark);

}  // namespace medperf::daemon
