#include "core/rest_client.h"

#include <algorithm>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/absl_view.h"
#include "core/errors.h"
#include "core/files.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"

namespace medperf {
namespace {

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

std::string WithQuery(const std::string& url, const QueryParams& query) {
  if (query.empty()) return url;
  std::vector<std::string> parts;
  for (const auto& [k, v] : query) parts.push_back(PercentEncode(k) + "=" + PercentEncode(v));
  return absl::StrCat(url, url.find('?') == std::string::npos ? "?" : "&",
                      absl::StrJoin(parts, "&"));
}

// DRF error bodies are {"detail": "..."}, {"field": ["msg", ...]}, {"field": {nested}}
// or a list of messages; flatten any of them into one readable line.
void Flatten(const Json& j, const std::string& prefix, std::vector<std::string>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string key = it.key();
      std::string p = (key == "detail" || key == "non_field_errors")
                          ? prefix
                          : (prefix.empty() ? key : absl::StrCat(prefix, ".", key));
      Flatten(it.value(), p, out);
    }
  } else if (j.is_array()) {
    for (const Json& e : j) Flatten(e, prefix, out);
  } else {
    std::string text = j.is_string() ? j.get<std::string>() : j.dump();
    out->push_back(prefix.empty() ? text : absl::StrCat(prefix, ": ", text));
  }
}

// Server bodies go through the one bounded reader (core/yaml_json.h): a hostile or broken
// server cannot make the client nest or allocate without bound.
absl::StatusOr<Json> ParseBody(std::string_view body, std::string_view what) {
  absl::StatusOr<Json> j = ParseJsonBounded(body, std::string(what) + ": the server's answer");
  if (absl::IsResourceExhausted(j.status())) return absl::DataLossError(j.status().message());
  if (!j.ok()) {
    std::string snippet(body.substr(0, 120));
    for (char& c : snippet) {
      if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '?';
    }
    return absl::DataLossError(absl::StrCat(AV(what),
                                            ": the server sent invalid or truncated JSON (",
                                            body.size(), " bytes, starting '", snippet, "')"));
  }
  return j;
}

template <typename T>
absl::StatusOr<T> Decode(absl::StatusOr<Json> j, absl::StatusOr<T> (*decode)(const Json&)) {
  if (!j.ok()) return j.status();
  return decode(*j);
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> ApiBaseUrl(std::string_view server_url) {
  std::string url(absl::StripAsciiWhitespace(AV(server_url)));
  if (url.empty()) return absl::InvalidArgumentError("server URL is empty");
  if (url.find("://") == std::string::npos) {
    url = "https://" + url;  // the real client always talks https to a bare host
  } else if (!absl::StartsWithIgnoreCase(url, "http://") &&
             !absl::StartsWithIgnoreCase(url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("server URL '", url, "': expected an http:// or https:// URL"));
  }
  size_t scheme_end = url.find("://") + 3;
  if (scheme_end >= url.size() || url[scheme_end] == '/') {
    return absl::InvalidArgumentError(absl::StrCat("server URL '", url, "' has no host"));
  }
  while (absl::EndsWith(url, "/")) url.pop_back();
  if (absl::EndsWith(url, "/api/v0")) url.resize(url.size() - 7);
  size_t path_start = url.find('/', scheme_end);
  std::string origin = path_start == std::string::npos ? url : url.substr(0, path_start);
  if (url.find_first_of("?#") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("server URL '", url, "' must not carry a query or fragment"));
  }
  return std::make_pair(url + "/api/v0", origin);
}

namespace {

// The server's own words from an error body: DRF's messages flattened, or a short
// printable excerpt of an HTML page from a proxy.
std::string ServerMessage(std::string_view body, std::string_view what) {
  absl::StatusOr<Json> j = ParseJsonBounded(body, std::string(what));
  if (j.ok()) {
    std::vector<std::string> parts;
    Flatten(*j, "", &parts);
    return absl::StrJoin(parts, "; ");
  }
  std::string text(absl::StripAsciiWhitespace(AV(body.substr(0, 200))));
  for (char& c : text) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = ' ';
  }
  return text;
}

// MedPerf's name for the collection a path starts with ("mlcubes" are containers).
std::string KindOf(std::string_view segment) {
  if (segment == "benchmarks") return "benchmark";
  if (segment == "mlcubes") return "container";
  if (segment == "models") return "model";
  if (segment == "datasets") return "dataset";
  if (segment == "results") return "result";
  if (segment == "users") return "user";
  return "";
}

bool IsNumber(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// What a request is about, from its path relative to the API base: "/datasets/99/" →
// {object "dataset 99", kind "dataset"}; "/models/3/benchmarks/1/" → the association;
// "/me/datasets/" → your datasets. The action follows the method.
void DescribeRequest(const std::string& method, std::string_view path, ErrorInfo* info) {
  path = path.substr(0, path.find('?'));
  std::vector<std::string> seg = absl::StrSplit(AV(path), '/', absl::SkipEmpty());
  info->action = method == "GET"      ? "read"
                 : method == "POST"   ? "create"
                 : method == "DELETE" ? "delete"
                                      : "change";
  if (seg.empty()) return;
  if (seg[0] == "me" && seg.size() >= 2) {
    info->object_kind = KindOf(seg[1]);
    if (!info->object_kind.empty()) info->object = absl::StrCat("your ", seg[1]);
    return;
  }
  std::string kind = KindOf(seg[0]);
  if (kind.empty()) return;
  info->object_kind = kind;
  if (seg.size() >= 2 && IsNumber(seg[1])) {
    info->object = absl::StrCat(kind, " ", seg[1]);
    if (seg.size() >= 4 && seg[2] == "benchmarks" && IsNumber(seg[3])) {
      info->object =
          absl::StrCat("the association of ", kind, " ", seg[1], " with benchmark ", seg[3]);
      info->object_kind = "association";
    }
  } else if (seg.size() >= 2 && seg[1] == "benchmarks") {
    info->object = absl::StrCat("a ", kind, " association");
    info->object_kind = "association";
  } else {
    info->object = method == "POST" ? absl::StrCat("a new ", kind) : absl::StrCat(kind, "s");
  }
}

ErrorClass ClassOfHttp(long status) {
  switch (status) {
    case 400:
    case 409:
    case 413:
      return ErrorClass::kInvalidInput;
    case 401:
      return ErrorClass::kUnauthenticated;
    case 403:
      return ErrorClass::kForbidden;
    case 404:
      return ErrorClass::kNotFound;
    default:
      return status >= 500 ? ErrorClass::kServerUnreachable : ErrorClass::kUnknown;
  }
}

}  // namespace

absl::Status StatusFromHttp(long status, std::string_view body, std::string_view what) {
  std::string message = ServerMessage(body, what);
  std::string text =
      absl::StrCat(AV(what), ": HTTP ", status, message.empty() ? "" : ": ", message);
  switch (status) {
    case 400:
      return absl::InvalidArgumentError(text);
    case 401:
      return absl::UnauthenticatedError(text);
    case 403:
      return absl::PermissionDeniedError(text);
    case 404:
      return absl::NotFoundError(text);
    case 409:
      return absl::AlreadyExistsError(text);
    case 413:
      return absl::ResourceExhaustedError(text);
    default:
      if (status >= 500) return absl::UnavailableError(text);
      return absl::UnknownError(text);
  }
}

RestClient::RestClient(RestClientOptions options, std::string base_url, std::string origin,
                       std::string token)
    : options_(std::move(options)),
      base_url_(std::move(base_url)),
      origin_(std::move(origin)),
      token_(std::move(token)),
      http_(options_.tls),
      sleep_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }) {}

absl::StatusOr<RestClient> RestClient::Create(RestClientOptions options) {
  ASSIGN_OR_RETURN(auto urls, ApiBaseUrl(options.server_url));
  std::string token = options.token;
  if (!options.token.empty() && !options.token_file.empty()) {
    return absl::InvalidArgumentError("give either a token or a token file, not both");
  }
  if (!options.token_file.empty()) {
    ASSIGN_OR_RETURN(token, ReadTokenFile(options.token_file));
  }
  if (token.find_first_of("\r\n") != std::string::npos) {
    return absl::InvalidArgumentError("token contains a line break");
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  if (options.max_pages < 1) options.max_pages = 1;
  return RestClient(std::move(options), std::move(urls.first), std::move(urls.second),
                    std::move(token));
}

absl::StatusOr<Json> RestClient::Request(const std::string& method, const std::string& url,
                                         const std::string* body) const {
  HttpRequest req;
  req.method = method;
  req.url = url;
  req.timeout = options_.timeout;
  req.connect_timeout = options_.connect_timeout;
  req.headers.emplace_back("Accept", "application/json");
  if (!token_.empty()) req.headers.emplace_back("Authorization", "Bearer " + token_);
  if (body) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = *body;
  }
  std::string what = absl::StrCat(method, " ", url);
  // Only GETs are idempotent for this API: a retried POST could create a second
  // association row or execution.
  const int attempts = method == "GET" ? options_.max_attempts : 1;
  std::chrono::milliseconds backoff = options_.initial_backoff;
  absl::Status last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      sleep_(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    absl::StatusOr<HttpResponse> resp = http_.Send(req);
    if (!resp.ok()) {
      last = WithMessage(resp.status(), absl::StrCat(what, ": ", resp.status().message()));
      last = WithErrorInfo(last, Classified(method, url, resp.status(), ErrorClass::kUnknown, ""));
      if (IsRetryable(last)) continue;
      return last;
    }
    if (resp->status >= 200 && resp->status < 300) {
      if (resp->status == 204 || resp->body.empty()) return Json(nullptr);
      return ParseBody(resp->body, what);
    }
    std::string message = ServerMessage(resp->body, what);
    if (resp->status >= 500 || message.empty()) {
      message = absl::StrCat("HTTP ", resp->status, message.empty() ? "" : ": ", message);
    }
    last = WithErrorInfo(
        StatusFromHttp(resp->status, resp->body, what),
        Classified(method, url, absl::OkStatus(), ClassOfHttp(resp->status), message));
    if (IsRetryable(last)) continue;  // 5xx only: a 4xx will not change by asking again
    return last;
  }
  if (attempts > 1) {
    return WithMessage(last, absl::StrCat(last.message(), " (after ", attempts, " attempts)"));
  }
  return last;
}

ErrorInfo RestClient::Classified(const std::string& method, const std::string& url,
                                 const absl::Status& transport, ErrorClass http_class,
                                 std::string reason) const {
  ErrorInfo info = GetErrorInfo(transport).value_or(ErrorInfo{});
  if (transport.ok()) {
    info.error_class = http_class;
    info.reason = std::move(reason);
  } else if (info.error_class == ErrorClass::kUnknown) {
    info.error_class = ClassifyError(transport);
    if (info.reason.empty()) info.reason = std::string(transport.message());
  }
  info.server_url = origin_;
  if (info.error_class == ErrorClass::kUnauthenticated)
    info.token_file = options_.token_file.string();
  std::string_view path(url);
  if (absl::StartsWith(AV(path), base_url_)) path.remove_prefix(base_url_.size());
  // A TLS failure is about the server as a whole, not the object asked for.
  if (info.error_class != ErrorClass::kConfiguration) DescribeRequest(method, path, &info);
  return info;
}

absl::StatusOr<Json> RestClient::GetJson(const std::string& path) const {
  return Request("GET", base_url_ + path, nullptr);
}

absl::StatusOr<Json> RestClient::SendJson(const std::string& method, const std::string& path,
                                          const Json& body) const {
  std::string text;
  try {
    text = SanitizeJson(body).dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode request body: ", e.what()));
  }
  return Request(method, base_url_ + path, &text);
}

absl::StatusOr<std::vector<Json>> RestClient::GetAllPages(const std::string& path,
                                                          const QueryParams& query) const {
  std::vector<Json> items;
  std::string url = WithQuery(base_url_ + path, query);
  std::vector<std::string> seen;
  for (int page = 0; !url.empty(); ++page) {
    if (page >= options_.max_pages) {
      return absl::ResourceExhaustedError(absl::StrCat("GET ", base_url_, path, ": more than ",
                                                       options_.max_pages, " pages; giving up"));
    }
    ASSIGN_OR_RETURN(Json body, Request("GET", url, nullptr));
    std::string what = absl::StrCat("GET ", url);
    if (!body.is_object() || !body.contains("results") || !body["results"].is_array()) {
      return absl::DataLossError(
          absl::StrCat(what, ": expected a paginated object with a 'results' list"));
    }
    for (Json& e : body["results"]) items.push_back(std::move(e));
    const Json& next = body.contains("next") ? body["next"] : Json(nullptr);
    if (next.is_null()) break;
    if (!next.is_string()) {
      return absl::DataLossError(absl::StrCat(what, ": 'next' is not a string"));
    }
    // Never send the token to another host: keep our origin, take the server's path
    // and query (a server behind a proxy may also report the wrong scheme or port).
    std::string n = next.get<std::string>();
    size_t scheme = n.find("://");
    size_t path_start = scheme == std::string::npos ? 0 : n.find('/', scheme + 3);
    if (path_start == std::string::npos || n.empty() || n[path_start] != '/') {
      return absl::DataLossError(absl::StrCat(what, ": malformed 'next' URL '", n, "'"));
    }
    url = origin_ + n.substr(path_start);
    if (std::find(seen.begin(), seen.end(), url) != seen.end()) {
      return absl::DataLossError(absl::StrCat(what, ": pagination loops back to ", url));
    }
    seen.push_back(url);
  }
  return items;
}

template <typename T>
absl::StatusOr<std::vector<T>> RestClient::ListOf(const std::string& path, const QueryParams& query,
                                                  absl::StatusOr<T> (*decode)(const Json&)) const {
  ASSIGN_OR_RETURN(std::vector<Json> items, GetAllPages(path, query));
  std::vector<T> out;
  out.reserve(items.size());
  for (const Json& j : items) {
    ASSIGN_OR_RETURN(T t, decode(j));
    out.push_back(std::move(t));
  }
  return out;
}

// --- users ---
absl::StatusOr<User> RestClient::GetMe() const { return Decode(GetJson("/me/"), &UserFromJson); }
absl::StatusOr<User> RestClient::GetUser(UserId id) const {
  return Decode(GetJson(absl::StrCat("/users/", id.value(), "/")), &UserFromJson);
}

// --- benchmarks ---
absl::StatusOr<std::vector<Benchmark>> RestClient::ListBenchmarks(
    const QueryParams& filters) const {
  return ListOf<Benchmark>("/benchmarks/", filters, &BenchmarkFromJson);
}
absl::StatusOr<std::vector<Benchmark>> RestClient::ListMyBenchmarks() const {
  return ListOf<Benchmark>("/me/benchmarks/", {}, &BenchmarkFromJson);
}
absl::StatusOr<Benchmark> RestClient::GetBenchmark(BenchmarkId id) const {
  return Decode(GetJson(absl::StrCat("/benchmarks/", id.value(), "/")), &BenchmarkFromJson);
}
absl::StatusOr<Benchmark> RestClient::CreateBenchmark(const Benchmark& benchmark) const {
  return Decode(SendJson("POST", "/benchmarks/", ToJson(benchmark)), &BenchmarkFromJson);
}
absl::StatusOr<Benchmark> RestClient::UpdateBenchmark(BenchmarkId id, const Json& fields) const {
  return Decode(SendJson("PUT", absl::StrCat("/benchmarks/", id.value(), "/"), fields),
                &BenchmarkFromJson);
}
absl::StatusOr<Benchmark> RestClient::SetBenchmarkApproval(BenchmarkId id,
                                                           ApprovalStatus status) const {
  return UpdateBenchmark(id, Json{{"approval_status", ToString(status)}});
}
absl::StatusOr<std::vector<BenchmarkModelAssociation>> RestClient::ListBenchmarkModels(
    BenchmarkId id) const {
  return ListOf<BenchmarkModelAssociation>(absl::StrCat("/benchmarks/", id.value(), "/models/"), {},
                                           &ModelAssociationFromJson);
}
absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> RestClient::ListBenchmarkDatasets(
    BenchmarkId id) const {
  return ListOf<BenchmarkDatasetAssociation>(absl::StrCat("/benchmarks/", id.value(), "/datasets/"),
                                             {}, &DatasetAssociationFromJson);
}
absl::StatusOr<std::vector<Result>> RestClient::ListBenchmarkResults(BenchmarkId id) const {
  return ListOf<Result>(absl::StrCat("/benchmarks/", id.value(), "/results/"), {}, &ResultFromJson);
}

// --- containers ---
absl::StatusOr<std::vector<Container>> RestClient::ListContainers(
    const QueryParams& filters) const {
  return ListOf<Container>("/mlcubes/", filters, &ContainerFromJson);
}
absl::StatusOr<std::vector<Container>> RestClient::ListMyContainers() const {
  return ListOf<Container>("/me/mlcubes/", {}, &ContainerFromJson);
}
absl::StatusOr<Container> RestClient::GetContainer(ContainerId id) const {
  return Decode(GetJson(absl::StrCat("/mlcubes/", id.value(), "/")), &ContainerFromJson);
}
absl::StatusOr<Container> RestClient::CreateContainer(const Container& container) const {
  return Decode(SendJson("POST", "/mlcubes/", ToJson(container)), &ContainerFromJson);
}
absl::StatusOr<Container> RestClient::UpdateContainer(ContainerId id, const Json& fields) const {
  return Decode(SendJson("PUT", absl::StrCat("/mlcubes/", id.value(), "/"), fields),
                &ContainerFromJson);
}
absl::StatusOr<Model> RestClient::GetContainerModel(ContainerId id) const {
  return Decode(GetJson(absl::StrCat("/mlcubes/", id.value(), "/model/")), &ModelFromJson);
}
absl::StatusOr<std::vector<Dataset>> RestClient::ListContainerDatasets(ContainerId id) const {
  return ListOf<Dataset>(absl::StrCat("/mlcubes/", id.value(), "/datasets/"), {}, &DatasetFromJson);
}

// --- models ---
absl::StatusOr<std::vector<Model>> RestClient::ListModels(const QueryParams& filters) const {
  return ListOf<Model>("/models/", filters, &ModelFromJson);
}
absl::StatusOr<std::vector<Model>> RestClient::ListMyModels() const {
  return ListOf<Model>("/me/models/", {}, &ModelFromJson);
}
absl::StatusOr<Model> RestClient::GetModel(ModelId id) const {
  return Decode(GetJson(absl::StrCat("/models/", id.value(), "/")), &ModelFromJson);
}
absl::StatusOr<Model> RestClient::CreateModel(const Model& model) const {
  if (model.type == ModelType::kContainer && !model.container) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", model.name, "': a CONTAINER model needs its container"));
  }
  return Decode(SendJson("POST", "/models/", ToJson(model)), &ModelFromJson);
}
absl::StatusOr<Model> RestClient::UpdateModel(ModelId id, const Json& fields) const {
  return Decode(SendJson("PUT", absl::StrCat("/models/", id.value(), "/"), fields), &ModelFromJson);
}

// --- datasets ---
absl::StatusOr<std::vector<Dataset>> RestClient::ListDatasets(const QueryParams& filters) const {
  return ListOf<Dataset>("/datasets/", filters, &DatasetFromJson);
}
absl::StatusOr<std::vector<Dataset>> RestClient::ListMyDatasets() const {
  return ListOf<Dataset>("/me/datasets/", {}, &DatasetFromJson);
}
absl::StatusOr<Dataset> RestClient::GetDataset(DatasetId id) const {
  return Decode(GetJson(absl::StrCat("/datasets/", id.value(), "/")), &DatasetFromJson);
}
absl::StatusOr<Dataset> RestClient::CreateDataset(const Dataset& dataset) const {
  return Decode(SendJson("POST", "/datasets/", ToJson(dataset)), &DatasetFromJson);
}
absl::StatusOr<Dataset> RestClient::UpdateDataset(DatasetId id, const Json& fields) const {
  return Decode(SendJson("PUT", absl::StrCat("/datasets/", id.value(), "/"), fields),
                &DatasetFromJson);
}

// --- dataset associations ---
absl::StatusOr<BenchmarkDatasetAssociation> RestClient::CreateDatasetAssociation(
    DatasetId dataset, BenchmarkId benchmark, const Json& metadata, ApprovalStatus status) const {
  Json body{{"dataset", dataset.value()},
            {"benchmark", benchmark.value()},
            {"approval_status", ToString(status)},
            {"metadata", metadata}};
  return Decode(SendJson("POST", "/datasets/benchmarks/", body), &DatasetAssociationFromJson);
}
absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> RestClient::ListMyDatasetAssociations()
    const {
  return ListOf<BenchmarkDatasetAssociation>("/me/datasets/associations/", {},
                                             &DatasetAssociationFromJson);
}
absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> RestClient::GetDatasetAssociations(
    DatasetId dataset, BenchmarkId benchmark) const {
  ASSIGN_OR_RETURN(Json j, GetJson(absl::StrCat("/datasets/", dataset.value(), "/benchmarks/",
                                                benchmark.value(), "/")));
  if (!j.is_array()) {
    return absl::DataLossError("dataset association: expected a JSON list from the server");
  }
  std::vector<BenchmarkDatasetAssociation> out;
  for (const Json& e : j) {
    ASSIGN_OR_RETURN(BenchmarkDatasetAssociation a, DatasetAssociationFromJson(e));
    // The pair endpoint omits the ids it was addressed by.
    a.dataset = dataset;
    a.benchmark = benchmark;
    out.push_back(std::move(a));
  }
  return out;
}
absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> RestClient::ListDatasetBenchmarks(
    DatasetId dataset) const {
  return ListOf<BenchmarkDatasetAssociation>(
      absl::StrCat("/datasets/", dataset.value(), "/benchmarks/"), {}, &DatasetAssociationFromJson);
}
absl::Status RestClient::SetDatasetAssociationApproval(DatasetId dataset, BenchmarkId benchmark,
                                                       ApprovalStatus status) const {
  return SendJson(
             "PUT",
             absl::StrCat("/datasets/", dataset.value(), "/benchmarks/", benchmark.value(), "/"),
             Json{{"approval_status", ToString(status)}})
      .status();
}

// --- model associations ---
absl::StatusOr<BenchmarkModelAssociation> RestClient::CreateModelAssociation(
    ModelId model, BenchmarkId benchmark, const Json& metadata, ApprovalStatus status) const {
  Json body{{"model", model.value()},
            {"benchmark", benchmark.value()},
            {"approval_status", ToString(status)},
            {"metadata", metadata}};
  return Decode(SendJson("POST", "/models/benchmarks/", body), &ModelAssociationFromJson);
}
absl::StatusOr<std::vector<BenchmarkModelAssociation>> RestClient::ListMyModelAssociations() const {
  return ListOf<BenchmarkModelAssociation>("/me/models/associations/", {},
                                           &ModelAssociationFromJson);
}
absl::StatusOr<std::vector<BenchmarkModelAssociation>> RestClient::GetModelAssociations(
    ModelId model, BenchmarkId benchmark) const {
  ASSIGN_OR_RETURN(Json j, GetJson(absl::StrCat("/models/", model.value(), "/benchmarks/",
                                                benchmark.value(), "/")));
  if (!j.is_array()) {
    return absl::DataLossError("model association: expected a JSON list from the server");
  }
  std::vector<BenchmarkModelAssociation> out;
  for (const Json& e : j) {
    ASSIGN_OR_RETURN(BenchmarkModelAssociation a, ModelAssociationFromJson(e));
    a.model = model;
    a.benchmark = benchmark;
    out.push_back(std::move(a));
  }
  return out;
}
absl::StatusOr<std::vector<BenchmarkModelAssociation>> RestClient::ListModelBenchmarks(
    ModelId model) const {
  return ListOf<BenchmarkModelAssociation>(absl::StrCat("/models/", model.value(), "/benchmarks/"),
                                           {}, &ModelAssociationFromJson);
}
absl::Status RestClient::SetModelAssociationApproval(ModelId model, BenchmarkId benchmark,
                                                     ApprovalStatus status) const {
  return SendJson("PUT",
                  absl::StrCat("/models/", model.value(), "/benchmarks/", benchmark.value(), "/"),
                  Json{{"approval_status", ToString(status)}})
      .status();
}
absl::Status RestClient::SetModelAssociationPriority(ModelId model, BenchmarkId benchmark,
                                                     int64_t priority) const {
  return SendJson("PUT",
                  absl::StrCat("/models/", model.value(), "/benchmarks/", benchmark.value(), "/"),
                  Json{{"priority", priority}})
      .status();
}

// --- results ---
absl::StatusOr<Result> RestClient::CreateResult(const Result& result) const {
  return Decode(SendJson("POST", "/results/", ToJson(result)), &ResultFromJson);
}
absl::StatusOr<Result> RestClient::GetResult(ResultId id) const {
  return Decode(GetJson(absl::StrCat("/results/", id.value(), "/")), &ResultFromJson);
}
absl::StatusOr<Result> RestClient::UpdateResult(ResultId id, const Json& fields) const {
  return Decode(SendJson("PUT", absl::StrCat("/results/", id.value(), "/"), fields),
                &ResultFromJson);
}
absl::StatusOr<Result> RestClient::SubmitResult(ResultId id, const Json& results, bool partial,
                                                const Json& existing_metadata) const {
  Json metadata = existing_metadata.is_object() ? existing_metadata : Json::object();
  metadata["partial"] = partial;
  return UpdateResult(id, Json{{"results", results}, {"metadata", metadata}});
}
absl::StatusOr<std::vector<Result>> RestClient::ListMyResults() const {
  return ListOf<Result>("/me/results/", {}, &ResultFromJson);
}
absl::StatusOr<std::vector<Result>> RestClient::ListResults() const {
  return ListOf<Result>("/results/", {}, &ResultFromJson);
}

absl::StatusOr<std::string> RestClient::GetVersion() const {
  // /version lives beside the API root, not under it.
  std::string url = base_url_.substr(0, base_url_.size() - 7) + "/version";
  ASSIGN_OR_RETURN(Json j, Request("GET", url, nullptr));
  if (!j.is_object() || !j.contains("version") || !j["version"].is_string()) {
    return absl::DataLossError(absl::StrCat("GET ", url, ": expected {\"version\": \"...\"}"));
  }
  return j["version"].get<std::string>();
}

}  // namespace medperf
