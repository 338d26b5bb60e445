// Internal to server/api*.cc: one function per (route, method), grouped by resource; the
// router (server/api_router.cc) maps method + path to them. Each takes the request
// context (authenticated user, parsed body, path ids in order) and returns the response;
// a non-OK status is a database failure (500). Unless said otherwise:
//   list endpoints answer 200 with a page (server/api_pagination.h), `/me/...` lists only
//   the caller's rows; GET of an unknown id is 404;
//   POST answers 201 with the created object, 400 with DRF field errors;
//   PUT answers 200 with the updated object: 403 unless admin or owner (checked before
//   the lookup, so also for unknown ids), then 404, then 400 for field errors or a rule;
//   DELETE is admin-only (403), 204, 404, or 409 while other rows refer to the object.
// The MedPerf source of each rule is named at its function (mlcommons/medperf server/).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/api_internal.h"
#include "server/api_schema.h"

namespace medperf::server::internal {

// --- users and /me/ (server/user/views.py, permissions.py) -----------------------------

// GET /me/: the caller.
Result Me(Ctx& c);
// GET /users/: admin only (403).
Result ListUsers(Ctx& c);
// GET /users/{id}/: admin, self, or the owner of a preparation container used by one of
// the user's datasets (IsOwnerOfUsedMLCube); else 403 (also for unknown ids).
Result GetUser(Ctx& c);
// PUT /users/{id}/: admin or self (403); only `metadata` (an object, else 400) changes.
Result PutUser(Ctx& c);
// GET /users/{id}/metadata/: {"metadata": {...}}.
Result GetUserMetadata(Ctx& c);

// --- benchmarks (server/benchmark/) ------------------------------------------------------

// GET /benchmarks/ with filters name, owner, state, is_valid, is_active, approval_status,
// data_preparation_mlcube; allow lists hidden.
Result ListBenchmarks(Ctx& c);
Result MyBenchmarks(Ctx& c);
// POST /benchmarks/: approval_status is read-only (APPROVED when the caller is in
// ApiOptions::auto_approve_benchmarks_from, else PENDING); at most one PENDING benchmark
// per user; an OPERATION benchmark needs OPERATION components (400 otherwise).
Result CreateBenchmark(Ctx& c);
// GET /benchmarks/{id}/: allow lists only for the owner and admins.
Result GetBenchmark(Ctx& c);
// PUT /benchmarks/{id}/: owner or admin; approval_status by admins only (403), never back
// to PENDING, not REJECTED -> APPROVED; OPERATION restricts the editable fields.
Result PutBenchmark(Ctx& c);
// GET /benchmarks/{id}/models/: owner, admin, or owner of an approved dataset of it.
Result BenchmarkModels(Ctx& c);
// GET /benchmarks/{id}/datasets/: owner, admin, or owner of an approved model of it.
Result BenchmarkDatasets(Ctx& c);
// GET /benchmarks/{id}/results/: owner or admin.
Result BenchmarkResults(Ctx& c);
// GET /benchmarks/{id}/participants_info/: owner or admin; the owners of approved datasets.
Result ParticipantsInfo(Ctx& c);

// --- containers, /mlcubes/ (server/mlcube/) ----------------------------------------------

// GET /mlcubes/ with filters name, owner, state, is_valid.
Result ListContainers(Ctx& c);
Result MyContainers(Ctx& c);
// POST /mlcubes/: unique name; image hash required; additional files URL and hash go
// together; no identical twin (unique_together). A container with an `infer` task also
// gets its Model under the same id (our difference, docs/server.md).
Result CreateContainer(Ctx& c);
Result GetContainer(Ctx& c);
// PUT /mlcubes/{id}/: OPERATION allows only is_valid, user_metadata and the additional
// files URL; state/is_valid are mirrored to the Model sharing the id.
Result PutContainer(Ctx& c);
// GET /mlcubes/{id}/datasets/: owner or admin (403), the datasets it prepared.
Result ContainerDatasets(Ctx& c);
// GET /mlcubes/{id}/model/: the CONTAINER model sharing the id, or 404.
Result ContainerModel(Ctx& c);

// Rules shared by POST /mlcubes/, PUT /mlcubes/{id}/ and POST /models/, on the merged
// record: the additional files URL and hash go together, and no other container (id !=
// except_id) has the same image_hash, additional_files_tarball_hash, container_config and
// parameters_config (server/mlcube/models.py unique_together). Field errors go to
// `errors`, prefixed by `prefix`; a non-OK status is a database failure.
absl::Status CheckContainer(Db& db, const Json& merged, int64_t except_id, Errors* errors,
                            const std::string& prefix = "");
// Inserts a validated container `v` owned by the caller and returns its id. A container
// whose config has an `infer` task, or any container when `model_fields` is given (POST
// /models/), also gets the Model wrapping it under the same id (our difference).
absl::StatusOr<int64_t> InsertContainer(Ctx& c, Json v, const Json* model_fields);

// --- models (server/model/) -----------------------------------------------------------

// GET /models/ with filter type.
Result ListModels(Ctx& c);
Result MyModels(Ctx& c);
// POST /models/: type CONTAINER with a nested `container` (errors nested under it);
// ASSET is 400 here; model and container state/is_valid must match.
Result CreateModel(Ctx& c);
Result GetModel(Ctx& c);
// PUT /models/{id}/: type fixed; OPERATION allows only is_valid and user_metadata;
// state/is_valid are mirrored to the container.
Result PutModel(Ctx& c);
// DELETE /models/{id}/: admin only.
Result DeleteModel(Ctx& c);

// --- datasets (server/dataset/) --------------------------------------------------------

// GET /datasets/: no filters (the real view declares none); reports hidden.
Result ListDatasets(Ctx& c);
Result MyDatasets(Ctx& c);
// POST /datasets/: state is forced to DEVELOPMENT.
Result CreateDataset(Ctx& c);
// GET /datasets/{id}/: the report only for SeesDatasetReport callers.
Result GetDataset(Ctx& c);
// PUT /datasets/{id}/: OPERATION allows only is_valid and user_metadata; one OPERATION
// dataset per generated_uid (400).
Result PutDataset(Ctx& c);

// --- associations (server/benchmarkdataset/, server/benchmarkmodel/) --------------------

// What differs between dataset and model associations.
struct AssocKind {
  const Table* table;
  const char* entity;  // "dataset" | "model"
  const Table* entity_table;
  const char* mode_field;  // the benchmark's auto-approval mode field
  const char* list_field;  // the benchmark's auto-approval allow list field
};
const AssocKind& DatasetKind();
const AssocKind& ModelKind();

// The latest (created_at, id) association row of (entity, benchmark), decoded, or nullopt:
// "latest row wins" on the real server.
absl::StatusOr<std::optional<Json>> LatestAssoc(Db& db, const AssocKind& k, int64_t entity,
                                                int64_t benchmark);
// SQL selecting the rows of `assoc_table` that are the latest for their (entity,
// benchmark) pair.
std::string LatestAssocSql(const std::string& assoc_table, const std::string& entity);

// POST /{datasets,models}/benchmarks/: admin, benchmark owner or entity owner (403,
// checked on the body before validation); approved benchmark, OPERATION entity, a
// dataset prepared by the benchmark's preparator; status history rules; auto-approval
// for the same owner on both sides or by the benchmark's mode/allow list (never when the
// benchmark owner initiates).
Result CreateAssoc(Ctx& c, const AssocKind& k);
// GET /{datasets,models}/{id}/benchmarks/{bid}/: the pair's history (PairGate).
Result GetPair(Ctx& c, const AssocKind& k);
// PUT /{datasets,models}/{id}/benchmarks/{bid}/: approve or reject the latest PENDING row
// (not by its initiator); model priority only by the benchmark owner or admin (403).
Result PutPair(Ctx& c, const AssocKind& k);
// DELETE /{datasets,models}/{id}/benchmarks/{bid}/: admin only; the whole history.
Result DeletePair(Ctx& c, const AssocKind& k);
// GET /{datasets,models}/{id}/benchmarks/: entity owner or admin (403).
Result EntityAssocs(Ctx& c, const AssocKind& k);
// GET /me/{datasets,models}/associations/: rows of the caller's entities or benchmarks.
Result MyAssocs(Ctx& c, const AssocKind& k);

// --- executions, /results/ (server/result/) ---------------------------------------------

// GET /results/: admin only (403); filters name, owner, benchmark, model, dataset,
// is_valid, approval_status.
Result ListResults(Ctx& c);
Result MyResults(Ctx& c);
// POST /results/: the dataset's owner or admin (403); for a model other than the
// benchmark's reference model, both latest associations must be APPROVED (400).
Result CreateResult(Ctx& c);
// GET /results/{id}/: admin, dataset owner or benchmark owner; 403 for unknown ids.
Result GetResult(Ctx& c);
// PUT /results/{id}/: admin or dataset owner; `results` finalizes; no PUT afterwards.
Result PutResult(Ctx& c);

// --- deletion ------------------------------------------------------------------------

// DELETE of row ids[0] of `table` (admin only, 403); a container takes its Model along.
Result AdminDelete(Ctx& c, const char* table);

}  // namespace medperf::server::internal
