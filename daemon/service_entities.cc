// Server entities as medperfctl lists and views them: benchmarks, datasets, containers,
// associations.
#include <map>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/associations.h"
#include "daemon/control_service.h"

namespace medperf::daemon {
namespace v1 = medperf::v1;

namespace {

template <typename T>
v1::Entity ToEntity(const T& e, int64_t id, const std::string& approval = "") {
  v1::Entity out;
  out.set_id(id);
  out.set_name(e.name);
  out.set_state(std::string(ToString(e.state)));
  out.set_approval_status(approval);
  out.set_owner(e.owner.value());
  out.set_json(ToFullJson(e).dump());
  return out;
}

v1::Entity BenchmarkEntity(const Benchmark& b) {
  return ToEntity(b, b.id.value(), std::string(ToString(b.approval_status)));
}

template <typename Row>
v1::Association AssociationProto(const Row& row, const char* kind, int64_t entity,
                                 int64_t priority) {
  v1::Association a;
  a.set_kind(kind);
  a.set_benchmark(row.benchmark.value());
  a.set_entity(entity);
  a.set_initiated_by(row.initiated_by.value());
  a.set_approval_status(std::string(ToString(row.approval_status)));
  a.set_priority(static_cast<int32_t>(priority));
  a.set_created_at(row.created_at);
  a.set_json(ToFullJson(row).dump());
  return a;
}

// The associations in force (associations.h), listed by (entity, benchmark).
template <typename Row, typename KeyOf>
auto InForceByKey(const std::vector<Row>& rows, KeyOf key_of) {
  auto in_force = LatestPerKey(rows, key_of);
  std::sort(in_force.begin(), in_force.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return in_force;
}

absl::StatusOr<ApprovalStatus> Decision(bool approve) {
  return approve ? ApprovalStatus::kApproved : ApprovalStatus::kRejected;
}

}  // namespace

grpc::Status ControlService::ListBenchmarks(grpc::ServerContext* context,
                                            const v1::ListRequest* req, v1::EntityList* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  QueryParams filters(req->filters().begin(), req->filters().end());
  auto list = req->mine() ? server->ListMyBenchmarks() : server->ListBenchmarks(filters);
  if (!list.ok()) return ToGrpc(list.status());
  for (const Benchmark& b : *list) *resp->add_items() = BenchmarkEntity(b);
  return grpc::Status::OK;
}

grpc::Status ControlService::GetBenchmark(grpc::ServerContext* context, const v1::GetRequest* req,
                                          v1::Entity* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  auto b = server->GetBenchmark(BenchmarkId(req->id()));
  if (!b.ok()) return ToGrpc(b.status());
  *resp = BenchmarkEntity(*b);
  return grpc::Status::OK;
}

grpc::Status ControlService::SetBenchmarkApproval(grpc::ServerContext* context,
                                                  const v1::SetBenchmarkApprovalRequest* req,
                                                  v1::Entity* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  auto b = server->SetBenchmarkApproval(BenchmarkId(req->benchmark()), *Decision(req->approve()));
  if (!b.ok()) return ToGrpc(b.status());
  *resp = BenchmarkEntity(*b);
  return grpc::Status::OK;
}

grpc::Status ControlService::ListDatasets(grpc::ServerContext* context, const v1::ListRequest* req,
                                          v1::EntityList* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  QueryParams filters(req->filters().begin(), req->filters().end());
  auto list = req->mine() ? server->ListMyDatasets() : server->ListDatasets(filters);
  if (!list.ok()) return ToGrpc(list.status());
  for (const Dataset& d : *list) {
    v1::Entity e = ToEntity(d, d.id.value());
    if (auto local = ctx_.store.GetDataset(d.id); local.ok())
      e.set_local_status(local->prep_status);
    *resp->add_items() = std::move(e);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::GetDataset(grpc::ServerContext* context, const v1::GetRequest* req,
                                        v1::Entity* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  auto d = server->GetDataset(DatasetId(req->id()));
  if (!d.ok()) return ToGrpc(d.status());
  *resp = ToEntity(*d, d->id.value());
  if (auto local = ctx_.store.GetDataset(d->id); local.ok()) {
    resp->set_local_status(local->prep_status);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::ListContainers(grpc::ServerContext* context,
                                            const v1::ListRequest* req, v1::EntityList* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  QueryParams filters(req->filters().begin(), req->filters().end());
  auto list = req->mine() ? server->ListMyContainers() : server->ListContainers(filters);
  if (!list.ok()) return ToGrpc(list.status());
  for (const Container& c : *list) *resp->add_items() = ToEntity(c, c.id.value());
  return grpc::Status::OK;
}

grpc::Status ControlService::GetContainer(grpc::ServerContext* context, const v1::GetRequest* req,
                                          v1::Entity* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  auto c = server->GetContainer(ContainerId(req->id()));
  if (!c.ok()) return ToGrpc(c.status());
  *resp = ToEntity(*c, c->id.value());
  return grpc::Status::OK;
}

grpc::Status ControlService::ListAssociations(grpc::ServerContext* context,
                                              const v1::ListAssociationsRequest* req,
                                              v1::AssociationList* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  bool both = !req->datasets() && !req->models();
  auto keep = [&](int64_t benchmark, ApprovalStatus status) {
    if (req->benchmark() && benchmark != req->benchmark()) return false;
    if (!req->approval_status().empty()) {
      std::string want = req->approval_status();
      for (char& c : want) c = static_cast<char>(std::toupper(c));
      if (want != ToString(status)) return false;
    }
    return true;
  };
  if (both || req->datasets()) {
    auto rows = server->ListMyDatasetAssociations();
    if (!rows.ok()) return ToGrpc(rows.status());
    for (const auto& [key, r] : InForceByKey(*rows, [](const auto& r) {
           return std::make_pair(r.dataset.value(), r.benchmark.value());
         })) {
      if (keep(r->benchmark.value(), r->approval_status)) {
        *resp->add_items() = AssociationProto(*r, "dataset", r->dataset.value(), 0);
      }
    }
  }
  if (both || req->models()) {
    auto rows = server->ListMyModelAssociations();
    if (!rows.ok()) return ToGrpc(rows.status());
    for (const auto& [key, r] : InForceByKey(*rows, [](const auto& r) {
           return std::make_pair(r.model.value(), r.benchmark.value());
         })) {
      if (keep(r->benchmark.value(), r->approval_status)) {
        *resp->add_items() = AssociationProto(*r, "model", r->model.value(), r->priority);
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::SetAssociationApproval(grpc::ServerContext* context,
                                                    const v1::SetAssociationApprovalRequest* req,
                                                    v1::Association* resp) {
  if ((req->dataset() > 0) == (req->model() > 0)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "give exactly one of a dataset or a model");
  }
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  BenchmarkId benchmark(req->benchmark());
  ApprovalStatus decision = *Decision(req->approve());
  if (req->dataset()) {
    DatasetId dataset(req->dataset());
    if (auto st = server->SetDatasetAssociationApproval(dataset, benchmark, decision); !st.ok()) {
      return ToGrpc(st);
    }
    auto rows = server->GetDatasetAssociations(dataset, benchmark);
    if (!rows.ok()) return ToGrpc(rows.status());
    if (!rows->empty()) *resp = AssociationProto(rows->back(), "dataset", dataset.value(), 0);
  } else {
    ModelId model(req->model());
    if (auto st = server->SetModelAssociationApproval(model, benchmark, decision); !st.ok()) {
      return ToGrpc(st);
    }
    auto rows = server->GetModelAssociations(model, benchmark);
    if (!rows.ok()) return ToGrpc(rows.status());
    if (!rows->empty()) {
      *resp = AssociationProto(rows->back(), "model", model.value(), rows->back().priority);
    }
  }
  resp->set_benchmark(benchmark.value());
  resp->set_approval_status(std::string(ToString(decision)));
  return grpc::Status::OK;
}

grpc::Status ControlService::SetAssociationPriority(grpc::ServerContext* context,
                                                    const v1::SetAssociationPriorityRequest* req,
                                                    v1::Association* resp) {
  auto server = ServerFor(context);
  if (!server.ok()) return ToGrpc(server.status());
  ModelId model(req->model());
  BenchmarkId benchmark(req->benchmark());
  if (auto st = server->SetModelAssociationPriority(model, benchmark, req->priority()); !st.ok()) {
    return ToGrpc(st);
  }
  auto rows = server->GetModelAssociations(model, benchmark);
  if (!rows.ok()) return ToGrpc(rows.status());
  if (!rows->empty()) {
    *resp = AssociationProto(rows->back(), "model", model.value(), rows->back().priority);
  }
  resp->set_priority(req->priority());
  return grpc::Status::OK;
}

}  // namespace medperf::daemon
