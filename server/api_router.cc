#include "server/api_router.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/numbers.h"
#include "core/status_macros.h"
#include "server/api_handlers.h"
#include "server/api_store.h"

namespace medperf::server::internal {

Result AdminDelete(Ctx& c, const char* table) {
  if (!c.user.admin) return Forbidden();
  if (std::string(table) == "containers") {
    // The model sharing this id goes with its container.
    ASSIGN_OR_RETURN(auto refs, c.db->Query("SELECT 1 FROM models WHERE id=?", {c.ids[0]}));
    if (!refs.empty()) {
      Result r = DeleteRow(*c.db, "models", c.ids[0]);
      if (!r.ok() || r->status != 204) return r;
    }
  }
  return DeleteRow(*c.db, table, c.ids[0]);
}

namespace {

std::vector<Route> BuildRoutes() {
  auto m = [](Result (*fn)(Ctx&)) -> Handler { return fn; };
  auto dk = [](Result (*fn)(Ctx&, const AssocKind&)) -> Handler {
    return [fn](Ctx& c) { return fn(c, DatasetKind()); };
  };
  auto mk = [](Result (*fn)(Ctx&, const AssocKind&)) -> Handler {
    return [fn](Ctx& c) { return fn(c, ModelKind()); };
  };
  auto del = [](const char* table) -> Handler {
    return [table](Ctx& c) { return AdminDelete(c, table); };
  };
  return {
      {{"me"}, {{"GET", m(&Me)}}},
      {{"me", "benchmarks"}, {{"GET", m(&MyBenchmarks)}}},
      {{"me", "mlcubes"}, {{"GET", m(&MyContainers)}}},
      {{"me", "models"}, {{"GET", m(&MyModels)}}},
      {{"me", "datasets"}, {{"GET", m(&MyDatasets)}}},
      {{"me", "results"}, {{"GET", m(&MyResults)}}},
      {{"me", "datasets", "associations"}, {{"GET", dk(&MyAssocs)}}},
      {{"me", "models", "associations"}, {{"GET", mk(&MyAssocs)}}},
      {{"users"}, {{"GET", m(&ListUsers)}}},
      {{"users", "#"}, {{"GET", m(&GetUser)}, {"PUT", m(&PutUser)}, {"DELETE", del("users")}}},
      {{"users", "#", "metadata"}, {{"GET", m(&GetUserMetadata)}}},
      {{"benchmarks"}, {{"GET", m(&ListBenchmarks)}, {"POST", m(&CreateBenchmark)}}},
      {{"benchmarks", "#"},
       {{"GET", m(&GetBenchmark)}, {"PUT", m(&PutBenchmark)}, {"DELETE", del("benchmarks")}}},
      {{"benchmarks", "#", "models"}, {{"GET", m(&BenchmarkModels)}}},
      {{"benchmarks", "#", "datasets"}, {{"GET", m(&BenchmarkDatasets)}}},
      {{"benchmarks", "#", "results"}, {{"GET", m(&BenchmarkResults)}}},
      {{"benchmarks", "#", "participants_info"}, {{"GET", m(&ParticipantsInfo)}}},
      {{"mlcubes"}, {{"GET", m(&ListContainers)}, {"POST", m(&CreateContainer)}}},
      {{"mlcubes", "#"},
       {{"GET", m(&GetContainer)}, {"PUT", m(&PutContainer)}, {"DELETE", del("containers")}}},
      {{"mlcubes", "#", "datasets"}, {{"GET", m(&ContainerDatasets)}}},
      {{"mlcubes", "#", "model"}, {{"GET", m(&ContainerModel)}}},
      {{"models"}, {{"GET", m(&ListModels)}, {"POST", m(&CreateModel)}}},
      {{"models", "benchmarks"}, {{"POST", mk(&CreateAssoc)}}},
      {{"models", "#"},
       {{"GET", m(&GetModel)}, {"PUT", m(&PutModel)}, {"DELETE", m(&DeleteModel)}}},
      {{"models", "#", "benchmarks"}, {{"GET", mk(&EntityAssocs)}}},
      {{"models", "#", "benchmarks", "#"},
       {{"GET", mk(&GetPair)}, {"PUT", mk(&PutPair)}, {"DELETE", mk(&DeletePair)}}},
      {{"datasets"}, {{"GET", m(&ListDatasets)}, {"POST", m(&CreateDataset)}}},
      {{"datasets", "benchmarks"}, {{"POST", dk(&CreateAssoc)}}},
      {{"datasets", "#"},
       {{"GET", m(&GetDataset)}, {"PUT", m(&PutDataset)}, {"DELETE", del("datasets")}}},
      {{"datasets", "#", "benchmarks"}, {{"GET", dk(&EntityAssocs)}}},
      {{"datasets", "#", "benchmarks", "#"},
       {{"GET", dk(&GetPair)}, {"PUT", dk(&PutPair)}, {"DELETE", dk(&DeletePair)}}},
      {{"results"}, {{"GET", m(&ListResults)}, {"POST", m(&CreateResult)}}},
      {{"results", "#"},
       {{"GET", m(&GetResult)}, {"PUT", m(&PutResult)}, {"DELETE", del("results")}}},
  };
}

}  // namespace

const Route* MatchRoute(const std::vector<std::string>& segs, std::vector<int64_t>* ids) {
  static const std::vector<Route> routes = BuildRoutes();
  for (const Route& r : routes) {
    if (r.pattern.size() != segs.size()) continue;
    std::vector<int64_t> found;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      if (r.pattern[i] == "#") {
        int64_t v;
        ok = !segs[i].empty() && std::all_of(segs[i].begin(), segs[i].end(), ::isdigit) &&
             absl::SimpleAtoi(segs[i], &v) && v > 0;
        if (ok) found.push_back(v);
      } else {
        ok = r.pattern[i] == segs[i];
      }
    }
    if (ok) {
      *ids = std::move(found);
      return &r;
    }
  }
  return nullptr;
}

}  // namespace medperf::server::internal
