// Typed MedPerf API v0 entities (current era: separate Model entity, executions created
// before running) with JSON conversion. Decoding never throws: malformed server JSON
// becomes an InvalidArgument status naming the entity and the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/ids.h"
#include "nlohmann/json.hpp"

namespace medperf {

using Json = nlohmann::json;

enum class EntityState { kDevelopment, kOperation };
enum class ApprovalStatus { kPending, kApproved, kRejected };
enum class AutoApprovalMode { kNever, kAlways, kAllowList };
enum class ModelType { kContainer, kAsset };

std::string_view ToString(EntityState s);
std::string_view ToString(ApprovalStatus s);
std::string_view ToString(AutoApprovalMode m);
std::string_view ToString(ModelType t);
absl::StatusOr<EntityState> ParseEntityState(std::string_view text);
absl::StatusOr<ApprovalStatus> ParseApprovalStatus(std::string_view text);
absl::StatusOr<AutoApprovalMode> ParseAutoApprovalMode(std::string_view text);
absl::StatusOr<ModelType> ParseModelType(std::string_view text);

// Fields marked "server" are read-only: the server sets them and ignores them on input.
// Datetimes stay as the server's ISO-8601 strings ("" when null): the client only
// compares and displays them, and ISO-8601 UTC strings sort chronologically.
//
// `absent_fields` of a decoded entity names the fields the server's JSON did not carry
// (hidden from this caller, like a non-owner's benchmark allow lists or dataset report,
// or left out by an endpoint that sends a subset); they keep their defaults in the
// struct, and ToFullJson leaves them out, so that what is shown is what the server sent
// (a hidden list is not shown as an empty one). Empty for entities built here.

struct User {
  UserId id;
  std::string username;
  std::string email;
  std::string first_name;
  std::string last_name;
  Json metadata = Json::object();
};

// A container: the server's "mlcube".
struct Container {
  ContainerId id;  // server
  std::string name;
  Json container_config = Json::object();
  Json parameters_config = nullptr;  // null when the container has no parameters
  std::string image_hash;
  std::string additional_files_tarball_url;
  std::string additional_files_tarball_hash;
  UserId owner;  // server
  EntityState state = EntityState::kDevelopment;
  bool is_valid = true;
  Json metadata = Json::object();
  Json user_metadata = Json::object();
  std::string created_at;                  // server
  std::string modified_at;                 // server
  std::vector<std::string> absent_fields;  // see above

  // A model container is one with an `infer` task (the real client's is_model_container).
  bool IsModelContainer() const;
};

struct Model {
  ModelId id;  // server
  std::string name;
  UserId owner;  // server
  EntityState state = EntityState::kDevelopment;
  bool is_valid = true;
  Json metadata = Json::object();
  Json user_metadata = Json::object();
  ModelType type = ModelType::kContainer;
  std::optional<Container> container;  // set iff type == kContainer
  Json asset = nullptr;                // ASSET models are out of scope; kept verbatim
  std::string created_at;
  std::string modified_at;
  std::vector<std::string> absent_fields;
};

struct Benchmark {
  BenchmarkId id;  // server
  std::string name;
  std::string description;
  std::string docs_url;
  UserId owner;  // server
  std::string demo_dataset_tarball_url;
  std::string demo_dataset_tarball_hash;
  std::string demo_dataset_generated_uid;
  ContainerId data_preparation_mlcube;
  ModelId reference_model;
  ContainerId data_evaluator_mlcube;
  Json metadata = Json::object();
  EntityState state = EntityState::kDevelopment;
  bool is_valid = true;
  bool is_active = true;
  ApprovalStatus approval_status = ApprovalStatus::kPending;  // server on create
  // Only the owner is sent the allow lists; for others they are in absent_fields.
  std::vector<std::string> dataset_auto_approval_allow_list;
  std::vector<std::string> model_auto_approval_allow_list;
  AutoApprovalMode dataset_auto_approval_mode = AutoApprovalMode::kNever;
  AutoApprovalMode model_auto_approval_mode = AutoApprovalMode::kNever;
  Json user_metadata = Json::object();
  std::string approved_at;  // server
  std::string created_at;
  std::string modified_at;
  std::vector<std::string> absent_fields;
};

struct Dataset {
  DatasetId id;  // server
  std::string name;
  std::string description;
  std::string location;
  UserId owner;  // server
  std::string input_data_hash;
  std::string generated_uid;
  int64_t split_seed = 0;
  ContainerId data_preparation_mlcube;
  bool is_valid = true;
  bool submitted_as_prepared = false;
  EntityState state = EntityState::kDevelopment;  // always DEVELOPMENT on create
  Json generated_metadata = Json::object();
  Json user_metadata = Json::object();
  Json report = Json::object();  // sent only to the owner and the prep owner
  std::string created_at;
  std::string modified_at;
  std::vector<std::string> absent_fields;
};

// A server "result", i.e. an execution of one model on one dataset for a benchmark.
struct Result {
  ResultId id;  // server
  std::string name;
  UserId owner;  // server
  BenchmarkId benchmark;
  ModelId model;
  DatasetId dataset;
  Json results = Json::object();
  bool finalized = false;    // server
  std::string finalized_at;  // server
  Json metadata = Json::object();
  Json user_metadata = Json::object();
  ApprovalStatus approval_status = ApprovalStatus::kPending;
  bool is_valid = true;
  Json model_report = Json::object();
  Json evaluation_report = Json::object();
  std::string approved_at;
  std::string created_at;
  std::string modified_at;
  std::vector<std::string> absent_fields;
};

// Association rows. Some endpoints return only a subset of the fields (e.g.
// /benchmarks/{id}/models/ gives model, approval_status, created_at); absent fields keep
// their defaults and are listed in absent_fields.
struct BenchmarkDatasetAssociation {
  int64_t id = 0;
  DatasetId dataset;
  BenchmarkId benchmark;
  UserId initiated_by;
  Json metadata = Json::object();
  ApprovalStatus approval_status = ApprovalStatus::kPending;
  std::string approved_at;
  std::string created_at;
  std::string modified_at;
  std::vector<std::string> absent_fields;
};

struct BenchmarkModelAssociation {
  int64_t id = 0;
  ModelId model;
  BenchmarkId benchmark;
  UserId initiated_by;
  Json metadata = Json::object();
  ApprovalStatus approval_status = ApprovalStatus::kPending;
  std::string approved_at;
  std::string created_at;
  std::string modified_at;
  int64_t priority = 0;
  std::vector<std::string> absent_fields;
};

// Decoders: accept the server's JSON (missing fields keep defaults, null strings become
// ""), reject wrong types with InvalidArgument.
absl::StatusOr<User> UserFromJson(const Json& j);
absl::StatusOr<Container> ContainerFromJson(const Json& j);
absl::StatusOr<Model> ModelFromJson(const Json& j);
absl::StatusOr<Benchmark> BenchmarkFromJson(const Json& j);
absl::StatusOr<Dataset> DatasetFromJson(const Json& j);
absl::StatusOr<Result> ResultFromJson(const Json& j);
absl::StatusOr<BenchmarkDatasetAssociation> DatasetAssociationFromJson(const Json& j);
absl::StatusOr<BenchmarkModelAssociation> ModelAssociationFromJson(const Json& j);

// Encoders produce the writable fields (what a POST sends). Read-only fields are left
// out, except `id` of nested objects where the server needs none either. Empty strings
// are sent as "" (never null): the server's non-nullable fields reject null.
Json ToJson(const User& u);
Json ToJson(const Container& c);
Json ToJson(const Model& m);
Json ToJson(const Benchmark& b);
Json ToJson(const Dataset& d);
Json ToJson(const Result& r);

// Full encoders including read-only fields, as the server renders the entity, without
// the entity's absent_fields (what medperfctl shows is what the server sent). They make
// round-trip tests possible.
Json ToFullJson(const Container& c);
Json ToFullJson(const Model& m);
Json ToFullJson(const Benchmark& b);
Json ToFullJson(const Dataset& d);
Json ToFullJson(const Result& r);
Json ToFullJson(const BenchmarkDatasetAssociation& a);
Json ToFullJson(const BenchmarkModelAssociation& a);

// Replaces non-finite numbers like the real client: NaN → "nan", ±Infinity →
// "Infinity"/"-Infinity" (JSON has no representation for them). This is the encoding
// results and dataset statistics have on the MedPerf server
// (mlcommons/medperf cli/medperf/utils.py sanitize_json, applied to every JSON body by
// cli/medperf/comms/rest.py; docs/server.md "Non-finite numbers").
Json SanitizeJson(const Json& j);

// How a value encoded by SanitizeJson reads to a person: "nan", "inf" or "-inf" for the
// strings "nan", "Infinity" and "-Infinity"; nullopt for anything else.
std::optional<std::string> NonFiniteText(const Json& j);

}  // namespace medperf
