// Over 600 lines on purpose: one decoder and two encoders per MedPerf entity, each a
// plain list of its fields; split up, an entity's fields would be read in one file and
// written in another.
#include "core/entities.h"

#include <cmath>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/absl_view.h"

namespace medperf {
namespace {

const char* TypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    default:
      return "binary";
  }
}

// Reads fields of one JSON object, remembering the first problem so that decoders read
// like a list of fields. The entity label includes the id once it is known, so errors
// point at the offending record in a long list.
class Reader {
 public:
  Reader(const char* entity, const Json& j) : entity_(entity), j_(j) {
    if (!j.is_object()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(entity_, ": expected a JSON object, got ", TypeName(j)));
    }
  }

  const absl::Status& status() const { return status_; }
  void SetLabelId(int64_t id) { label_ = absl::StrCat(entity_, " ", id); }

  template <typename IdT>
  void Id(const char* field, IdT* out) {
    int64_t v = out->value();
    Int(field, &v);
    if (status_.ok()) *out = IdT(v);
  }

  void Int(const char* field, int64_t* out) {
    const Json* v = Find(field);
    if (!v || v->is_null()) return;
    if (v->is_number_integer() || v->is_number_unsigned()) {
      if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX}) {
        Fail(field, "expected integer, got an out-of-range number");
        return;
      }
      *out = v->get<int64_t>();
      return;
    }
    Fail(field, absl::StrCat("expected integer, got ", TypeName(*v)));
  }

  void Str(const char* field, std::string* out) {
    const Json* v = Find(field);
    if (!v || v->is_null()) return;
    if (!v->is_string()) {
      Fail(field, absl::StrCat("expected string, got ", TypeName(*v)));
      return;
    }
    *out = v->get<std::string>();
  }

  void Bool(const char* field, bool* out) {
    const Json* v = Find(field);
    if (!v || v->is_null()) return;
    if (!v->is_boolean()) {
      Fail(field, absl::StrCat("expected boolean, got ", TypeName(*v)));
      return;
    }
    *out = v->get<bool>();
  }

  // Any JSON value; null keeps the default unless `keep_null`.
  void Any(const char* field, Json* out, bool keep_null = false) {
    const Json* v = Find(field);
    if (!v) return;
    if (v->is_null() && !keep_null) return;
    *out = *v;
  }

  void Object(const char* field, Json* out) {
    const Json* v = Find(field);
    if (!v || v->is_null()) return;
    if (!v->is_object()) {
      Fail(field, absl::StrCat("expected object, got ", TypeName(*v)));
      return;
    }
    *out = *v;
  }

  void StrList(const char* field, std::vector<std::string>* out) {
    const Json* v = Find(field);
    if (!v || v->is_null()) return;
    if (!v->is_array()) {
      Fail(field, absl::StrCat("expected list of strings, got ", TypeName(*v)));
      return;
    }
    std::vector<std::string> items;
    for (const Json& e : *v) {
      if (!e.is_string()) {
        Fail(field, absl::StrCat("expected list of strings, got an element of type ", TypeName(e)));
        return;
      }
      items.push_back(e.get<std::string>());
    }
    *out = std::move(items);
  }

  template <typename E>
  void Enum(const char* field, E* out, absl::StatusOr<E> (*parse)(std::string_view)) {
    std::string text;
    Str(field, &text);
    if (!status_.ok() || text.empty()) return;
    auto parsed = parse(text);
    if (!parsed.ok()) {
      Fail(field, std::string(parsed.status().message()));
      return;
    }
    *out = *parsed;
  }

  void Fail(const char* field, const std::string& what) {
    if (!status_.ok()) return;
    status_ = absl::InvalidArgumentError(
        absl::StrCat(label_.empty() ? entity_ : label_, ": field '", field, "': ", what));
  }

  // The fields looked for that the JSON did not carry, in the order read.
  std::vector<std::string> absent() const { return absent_; }

 private:
  const Json* Find(const char* field) {
    if (!status_.ok()) return nullptr;
    auto it = j_.find(field);
    if (it == j_.end()) {
      absent_.push_back(field);
      return nullptr;
    }
    return &*it;
  }

  std::string entity_;
  std::string label_;
  const Json& j_;
  absl::Status status_;
  std::vector<std::string> absent_;
};

template <typename E>
absl::StatusOr<E> ParseEnum(std::string_view text, const char* what,
                            std::initializer_list<std::pair<const char*, E>> values) {
  std::string allowed;
  for (const auto& [name, value] : values) {
    if (text == name) return value;
    absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", what, " '", AV(text), "' (expected one of ", allowed, ")"));
}

// Decoding runs nlohmann accessors that could throw on a type we did not anticipate;
// keep that from escaping the module.
template <typename T, typename F>
absl::StatusOr<T> Guard(const char* entity, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(entity, ": malformed JSON: ", e.what()));
  }
}

Json NullIfEmpty(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

// A full rendering without the fields the server did not send (absent_fields).
Json WithoutAbsent(Json j, const std::vector<std::string>& absent) {
  for (const std::string& field : absent) j.erase(field);
  return j;
}

}  // namespace

std::string_view ToString(EntityState s) {
  return s == EntityState::kOperation ? "OPERATION" : "DEVELOPMENT";
}
std::string_view ToString(ApprovalStatus s) {
  switch (s) {
    case ApprovalStatus::kApproved:
      return "APPROVED";
    case ApprovalStatus::kRejected:
      return "REJECTED";
    default:
      return "PENDING";
  }
}
std::string_view ToString(AutoApprovalMode m) {
  switch (m) {
    case AutoApprovalMode::kAlways:
      return "ALWAYS";
    case AutoApprovalMode::kAllowList:
      return "ALLOWLIST";
    default:
      return "NEVER";
  }
}
std::string_view ToString(ModelType t) { return t == ModelType::kAsset ? "ASSET" : "CONTAINER"; }

absl::StatusOr<EntityState> ParseEntityState(std::string_view text) {
  return ParseEnum<EntityState>(
      text, "state",
      {{"DEVELOPMENT", EntityState::kDevelopment}, {"OPERATION", EntityState::kOperation}});
}
absl::StatusOr<ApprovalStatus> ParseApprovalStatus(std::string_view text) {
  return ParseEnum<ApprovalStatus>(text, "approval status",
                                   {{"PENDING", ApprovalStatus::kPending},
                                    {"APPROVED", ApprovalStatus::kApproved},
                                    {"REJECTED", ApprovalStatus::kRejected}});
}
absl::StatusOr<AutoApprovalMode> ParseAutoApprovalMode(std::string_view text) {
  return ParseEnum<AutoApprovalMode>(text, "auto-approval mode",
                                     {{"NEVER", AutoApprovalMode::kNever},
                                      {"ALWAYS", AutoApprovalMode::kAlways},
                                      {"ALLOWLIST", AutoApprovalMode::kAllowList}});
}
absl::StatusOr<ModelType> ParseModelType(std::string_view text) {
  return ParseEnum<ModelType>(text, "model type",
                              {{"CONTAINER", ModelType::kContainer}, {"ASSET", ModelType::kAsset}});
}

bool Container::IsModelContainer() const {
  if (!container_config.is_object()) return false;
  auto tasks = container_config.find("tasks");
  return tasks != container_config.end() && tasks->is_object() && tasks->contains("infer");
}

absl::StatusOr<User> UserFromJson(const Json& j) {
  return Guard<User>("user", [&]() -> absl::StatusOr<User> {
    Reader r("user", j);
    User u;
    r.Id("id", &u.id);
    if (r.status().ok()) r.SetLabelId(u.id.value());
    r.Str("username", &u.username);
    r.Str("email", &u.email);
    r.Str("first_name", &u.first_name);
    r.Str("last_name", &u.last_name);
    r.Object("metadata", &u.metadata);
    if (!r.status().ok()) return r.status();
    return u;
  });
}

absl::StatusOr<Container> ContainerFromJson(const Json& j) {
  return Guard<Container>("container", [&]() -> absl::StatusOr<Container> {
    Reader r("container", j);
    Container c;
    r.Id("id", &c.id);
    if (r.status().ok()) r.SetLabelId(c.id.value());
    r.Str("name", &c.name);
    r.Any("container_config", &c.container_config);
    r.Any("parameters_config", &c.parameters_config, /*keep_null=*/true);
    r.Str("image_hash", &c.image_hash);
    r.Str("additional_files_tarball_url", &c.additional_files_tarball_url);
    r.Str("additional_files_tarball_hash", &c.additional_files_tarball_hash);
    r.Id("owner", &c.owner);
    r.Enum("state", &c.state, &ParseEntityState);
    r.Bool("is_valid", &c.is_valid);
    r.Object("metadata", &c.metadata);
    r.Object("user_metadata", &c.user_metadata);
    r.Str("created_at", &c.created_at);
    r.Str("modified_at", &c.modified_at);
    if (!r.status().ok()) return r.status();
    c.absent_fields = r.absent();
    return c;
  });
}

absl::StatusOr<Model> ModelFromJson(const Json& j) {
  return Guard<Model>("model", [&]() -> absl::StatusOr<Model> {
    Reader r("model", j);
    Model m;
    r.Id("id", &m.id);
    if (r.status().ok()) r.SetLabelId(m.id.value());
    r.Str("name", &m.name);
    r.Id("owner", &m.owner);
    r.Enum("state", &m.state, &ParseEntityState);
    r.Bool("is_valid", &m.is_valid);
    r.Object("metadata", &m.metadata);
    r.Object("user_metadata", &m.user_metadata);
    r.Enum("type", &m.type, &ParseModelType);
    Json container = nullptr;
    r.Any("container", &container);
    r.Any("asset", &m.asset, /*keep_null=*/true);
    r.Str("created_at", &m.created_at);
    r.Str("modified_at", &m.modified_at);
    if (!r.status().ok()) return r.status();
    m.absent_fields = r.absent();
    if (!container.is_null()) {
      auto c = ContainerFromJson(container);
      if (!c.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("model ", m.id.value(), ": field 'container': ", c.status().message()));
      }
      m.container = std::move(*c);
    }
    return m;
  });
}

absl::StatusOr<Benchmark> BenchmarkFromJson(const Json& j) {
  return Guard<Benchmark>("benchmark", [&]() -> absl::StatusOr<Benchmark> {
    Reader r("benchmark", j);
    Benchmark b;
    r.Id("id", &b.id);
    if (r.status().ok()) r.SetLabelId(b.id.value());
    r.Str("name", &b.name);
    r.Str("description", &b.description);
    r.Str("docs_url", &b.docs_url);
    r.Id("owner", &b.owner);
    r.Str("demo_dataset_tarball_url", &b.demo_dataset_tarball_url);
    r.Str("demo_dataset_tarball_hash", &b.demo_dataset_tarball_hash);
    r.Str("demo_dataset_generated_uid", &b.demo_dataset_generated_uid);
    r.Id("data_preparation_mlcube", &b.data_preparation_mlcube);
    r.Id("reference_model", &b.reference_model);
    r.Id("data_evaluator_mlcube", &b.data_evaluator_mlcube);
    r.Object("metadata", &b.metadata);
    r.Enum("state", &b.state, &ParseEntityState);
    r.Bool("is_valid", &b.is_valid);
    r.Bool("is_active", &b.is_active);
    r.Enum("approval_status", &b.approval_status, &ParseApprovalStatus);
    r.StrList("dataset_auto_approval_allow_list", &b.dataset_auto_approval_allow_list);
    r.StrList("model_auto_approval_allow_list", &b.model_auto_approval_allow_list);
    r.Enum("dataset_auto_approval_mode", &b.dataset_auto_approval_mode, &ParseAutoApprovalMode);
    r.Enum("model_auto_approval_mode", &b.model_auto_approval_mode, &ParseAutoApprovalMode);
    r.Object("user_metadata", &b.user_metadata);
    r.Str("approved_at", &b.approved_at);
    r.Str("created_at", &b.created_at);
    r.Str("modified_at", &b.modified_at);
    if (!r.status().ok()) return r.status();
    b.absent_fields = r.absent();
    return b;
  });
}

absl::StatusOr<Dataset> DatasetFromJson(const Json& j) {
  return Guard<Dataset>("dataset", [&]() -> absl::StatusOr<Dataset> {
    Reader r("dataset", j);
    Dataset d;
    r.Id("id", &d.id);
    if (r.status().ok()) r.SetLabelId(d.id.value());
    r.Str("name", &d.name);
    r.Str("description", &d.description);
    r.Str("location", &d.location);
    r.Id("owner", &d.owner);
    r.Str("input_data_hash", &d.input_data_hash);
    r.Str("generated_uid", &d.generated_uid);
    r.Int("split_seed", &d.split_seed);
    r.Id("data_preparation_mlcube", &d.data_preparation_mlcube);
    r.Bool("is_valid", &d.is_valid);
    r.Bool("submitted_as_prepared", &d.submitted_as_prepared);
    r.Enum("state", &d.state, &ParseEntityState);
    r.Object("generated_metadata", &d.generated_metadata);
    r.Object("user_metadata", &d.user_metadata);
    r.Object("report", &d.report);
    r.Str("created_at", &d.created_at);
    r.Str("modified_at", &d.modified_at);
    if (!r.status().ok()) return r.status();
    d.absent_fields = r.absent();
    return d;
  });
}

absl::StatusOr<Result> ResultFromJson(const Json& j) {
  return Guard<Result>("result", [&]() -> absl::StatusOr<Result> {
    Reader r("result", j);
    Result res;
    r.Id("id", &res.id);
    if (r.status().ok()) r.SetLabelId(res.id.value());
    r.Str("name", &res.name);
    r.Id("owner", &res.owner);
    r.Id("benchmark", &res.benchmark);
    r.Id("model", &res.model);
    r.Id("dataset", &res.dataset);
    r.Object("results", &res.results);
    r.Bool("finalized", &res.finalized);
    r.Str("finalized_at", &res.finalized_at);
    r.Object("metadata", &res.metadata);
    r.Object("user_metadata", &res.user_metadata);
    r.Enum("approval_status", &res.approval_status, &ParseApprovalStatus);
    r.Bool("is_valid", &res.is_valid);
    r.Object("model_report", &res.model_report);
    r.Object("evaluation_report", &res.evaluation_report);
    r.Str("approved_at", &res.approved_at);
    r.Str("created_at", &res.created_at);
    r.Str("modified_at", &res.modified_at);
    if (!r.status().ok()) return r.status();
    res.absent_fields = r.absent();
    return res;
  });
}

absl::StatusOr<BenchmarkDatasetAssociation> DatasetAssociationFromJson(const Json& j) {
  using A = BenchmarkDatasetAssociation;
  return Guard<A>("dataset association", [&]() -> absl::StatusOr<A> {
    Reader r("dataset association", j);
    A a;
    r.Int("id", &a.id);
    r.Id("dataset", &a.dataset);
    r.Id("benchmark", &a.benchmark);
    r.Id("initiated_by", &a.initiated_by);
    r.Object("metadata", &a.metadata);
    r.Enum("approval_status", &a.approval_status, &ParseApprovalStatus);
    r.Str("approved_at", &a.approved_at);
    r.Str("created_at", &a.created_at);
    r.Str("modified_at", &a.modified_at);
    if (!r.status().ok()) return r.status();
    a.absent_fields = r.absent();
    return a;
  });
}

absl::StatusOr<BenchmarkModelAssociation> ModelAssociationFromJson(const Json& j) {
  using A = BenchmarkModelAssociation;
  return Guard<A>("model association", [&]() -> absl::StatusOr<A> {
    Reader r("model association", j);
    A a;
    r.Int("id", &a.id);
    r.Id("model", &a.model);
    r.Id("benchmark", &a.benchmark);
    r.Id("initiated_by", &a.initiated_by);
    r.Object("metadata", &a.metadata);
    r.Enum("approval_status", &a.approval_status, &ParseApprovalStatus);
    r.Str("approved_at", &a.approved_at);
    r.Str("created_at", &a.created_at);
    r.Str("modified_at", &a.modified_at);
    r.Int("priority", &a.priority);
    if (!r.status().ok()) return r.status();
    a.absent_fields = r.absent();
    return a;
  });
}

Json ToJson(const User& u) { return Json{{"metadata", u.metadata}}; }

Json ToJson(const Container& c) {
  return Json{{"name", c.name},
              {"container_config", c.container_config},
              {"parameters_config", c.parameters_config},
              {"image_hash", c.image_hash},
              {"additional_files_tarball_url", c.additional_files_tarball_url},
              {"additional_files_tarball_hash", c.additional_files_tarball_hash},
              {"state", ToString(c.state)},
              {"is_valid", c.is_valid},
              {"metadata", c.metadata},
              {"user_metadata", c.user_metadata}};
}

Json ToJson(const Model& m) {
  Json j{{"name", m.name},
         {"state", ToString(m.state)},
         {"is_valid", m.is_valid},
         {"metadata", m.metadata},
         {"user_metadata", m.user_metadata},
         {"type", ToString(m.type)},
         {"container", nullptr},
         {"asset", m.asset}};
  if (m.container) j["container"] = ToJson(*m.container);
  return j;
}

Json ToJson(const Benchmark& b) {
  return Json{{"name", b.name},
              {"description", b.description},
              {"docs_url", b.docs_url},
              {"demo_dataset_tarball_url", b.demo_dataset_tarball_url},
              {"demo_dataset_tarball_hash", b.demo_dataset_tarball_hash},
              {"demo_dataset_generated_uid", b.demo_dataset_generated_uid},
              {"data_preparation_mlcube", b.data_preparation_mlcube.value()},
              {"reference_model", b.reference_model.value()},
              {"data_evaluator_mlcube", b.data_evaluator_mlcube.value()},
              {"metadata", b.metadata},
              {"state", ToString(b.state)},
              {"is_valid", b.is_valid},
              {"is_active", b.is_active},
              {"dataset_auto_approval_allow_list", b.dataset_auto_approval_allow_list},
              {"model_auto_approval_allow_list", b.model_auto_approval_allow_list},
              {"dataset_auto_approval_mode", ToString(b.dataset_auto_approval_mode)},
              {"model_auto_approval_mode", ToString(b.model_auto_approval_mode)},
              {"user_metadata", b.user_metadata}};
}

Json ToJson(const Dataset& d) {
  return Json{{"name", d.name},
              {"description", d.description},
              {"location", d.location},
              {"input_data_hash", d.input_data_hash},
              {"generated_uid", d.generated_uid},
              {"split_seed", d.split_seed},
              {"data_preparation_mlcube", d.data_preparation_mlcube.value()},
              {"is_valid", d.is_valid},
              {"submitted_as_prepared", d.submitted_as_prepared},
              {"state", ToString(d.state)},
              {"generated_metadata", d.generated_metadata},
              {"user_metadata", d.user_metadata},
              {"report", d.report}};
}

Json ToJson(const Result& r) {
  return Json{{"name", r.name},
              {"benchmark", r.benchmark.value()},
              {"model", r.model.value()},
              {"dataset", r.dataset.value()},
              {"results", r.results},
              {"metadata", r.metadata},
              {"user_metadata", r.user_metadata},
              {"is_valid", r.is_valid},
              {"model_report", r.model_report},
              {"evaluation_report", r.evaluation_report}};
}

Json ToFullJson(const Container& c) {
  Json j = ToJson(c);
  j["id"] = c.id.value();
  j["owner"] = c.owner.value();
  j["created_at"] = NullIfEmpty(c.created_at);
  j["modified_at"] = NullIfEmpty(c.modified_at);
  return WithoutAbsent(std::move(j), c.absent_fields);
}

Json ToFullJson(const Model& m) {
  Json j = ToJson(m);
  j["id"] = m.id.value();
  j["owner"] = m.owner.value();
  if (m.container) j["container"] = ToFullJson(*m.container);
  j["created_at"] = NullIfEmpty(m.created_at);
  j["modified_at"] = NullIfEmpty(m.modified_at);
  return WithoutAbsent(std::move(j), m.absent_fields);
}

Json ToFullJson(const Benchmark& b) {
  Json j = ToJson(b);
  j["id"] = b.id.value();
  j["owner"] = b.owner.value();
  j["approval_status"] = ToString(b.approval_status);
  j["approved_at"] = NullIfEmpty(b.approved_at);
  j["created_at"] = NullIfEmpty(b.created_at);
  j["modified_at"] = NullIfEmpty(b.modified_at);
  return WithoutAbsent(std::move(j), b.absent_fields);
}

Json ToFullJson(const Dataset& d) {
  Json j = ToJson(d);
  j["id"] = d.id.value();
  j["owner"] = d.owner.value();
  j["created_at"] = NullIfEmpty(d.created_at);
  j["modified_at"] = NullIfEmpty(d.modified_at);
  return WithoutAbsent(std::move(j), d.absent_fields);
}

Json ToFullJson(const Result& r) {
  Json j = ToJson(r);
  j["id"] = r.id.value();
  j["owner"] = r.owner.value();
  j["finalized"] = r.finalized;
  j["finalized_at"] = NullIfEmpty(r.finalized_at);
  j["approval_status"] = ToString(r.approval_status);
  j["approved_at"] = NullIfEmpty(r.approved_at);
  j["created_at"] = NullIfEmpty(r.created_at);
  j["modified_at"] = NullIfEmpty(r.modified_at);
  return WithoutAbsent(std::move(j), r.absent_fields);
}

namespace {

// The fields both association kinds share; `entity` names the dataset or model side.
template <typename Association>
Json AssociationFullJson(const char* entity, int64_t entity_id, const Association& a) {
  return Json{{"id", a.id},
              {entity, entity_id},
              {"benchmark", a.benchmark.value()},
              {"initiated_by", a.initiated_by.value()},
              {"metadata", a.metadata},
              {"approval_status", ToString(a.approval_status)},
              {"approved_at", NullIfEmpty(a.approved_at)},
              {"created_at", NullIfEmpty(a.created_at)},
              {"modified_at", NullIfEmpty(a.modified_at)}};
}

}  // namespace

Json ToFullJson(const BenchmarkDatasetAssociation& a) {
  return WithoutAbsent(AssociationFullJson("dataset", a.dataset.value(), a), a.absent_fields);
}

Json ToFullJson(const BenchmarkModelAssociation& a) {
  Json j = AssociationFullJson("model", a.model.value(), a);
  j["priority"] = a.priority;
  return WithoutAbsent(std::move(j), a.absent_fields);
}

Json SanitizeJson(const Json& j) {
  if (j.is_number_float()) {
    double d = j.get<double>();
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return j;
  }
  if (j.is_object()) {
    Json out = Json::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = SanitizeJson(it.value());
    return out;
  }
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& e : j) out.push_back(SanitizeJson(e));
    return out;
  }
  return j;
}

std::optional<std::string> NonFiniteText(const Json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string& s = j.get_ref<const std::string&>();
  if (s == "nan") return "nan";
  if (s == "Infinity") return "inf";
  if (s == "-Infinity") return "-inf";
  return std::nullopt;
}

}  // namespace medperf
