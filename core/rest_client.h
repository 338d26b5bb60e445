// Client of the MedPerf REST API v0 (evaluation part), used against both the real
// MedPerf server and our medperf-server. Paths, field names, pagination and status
// codes follow the real server (reference §1); see docs/server.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/errors.h"
#include "core/http_client.h"
#include "core/ids.h"

namespace medperf {

struct RestClientOptions {
  // "http://127.0.0.1:8000", "https://api.medperf.org" or a bare "host:port" (then
  // https, like the real client). "/api/v0" is appended unless the URL already ends so.
  std::string server_url;
  // Bearer token; or a file holding it (mode 0600 or stricter). At most one of them.
  std::string token;
  std::filesystem::path token_file;
  TlsOptions tls;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // GETs are retried on retryable errors only (IsRetryable: connection failures,
  // timeouts, 5xx; never TLS verification or a 4xx): `max_attempts` in total, sleeping
  // `initial_backoff`, doubled each time up to `max_backoff`.
  int max_attempts = 4;
  std::chrono::milliseconds initial_backoff{std::chrono::milliseconds(500)};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(8)};
  // A runaway `next` chain (a buggy or hostile server) stops here with an error.
  int max_pages = 100000;
};

// Extra query parameters for list endpoints, e.g. {{"owner", "3"}, {"state", "OPERATION"}}.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// The MedPerf server calls the daemon's workflows (daemon/flows/) and the compatibility
// test make, as an interface so that their unit tests can answer with a fake server.
// RestClient is the implementation; each method behaves as documented there.
class MedPerfApi {
 public:
  virtual ~MedPerfApi() = default;

  virtual absl::StatusOr<Benchmark> GetBenchmark(BenchmarkId id) const = 0;
  virtual absl::StatusOr<std::vector<Benchmark>> ListBenchmarks(
      const QueryParams& filters) const = 0;
  virtual absl::StatusOr<std::vector<Benchmark>> ListMyBenchmarks() const = 0;
  virtual absl::StatusOr<Benchmark> CreateBenchmark(const Benchmark& benchmark) const = 0;
  virtual absl::StatusOr<std::vector<BenchmarkModelAssociation>> ListBenchmarkModels(
      BenchmarkId id) const = 0;
  virtual absl::StatusOr<Container> GetContainer(ContainerId id) const = 0;
  virtual absl::StatusOr<std::vector<Container>> ListContainers(
      const QueryParams& filters) const = 0;
  virtual absl::StatusOr<std::vector<Container>> ListMyContainers() const = 0;
  virtual absl::StatusOr<Container> CreateContainer(const Container& container) const = 0;
  virtual absl::StatusOr<Model> GetContainerModel(ContainerId id) const = 0;
  virtual absl::StatusOr<Model> GetModel(ModelId id) const = 0;
  virtual absl::StatusOr<Model> CreateModel(const Model& model) const = 0;
  virtual absl::StatusOr<Dataset> GetDataset(DatasetId id) const = 0;
  virtual absl::StatusOr<std::vector<Dataset>> ListMyDatasets() const = 0;
  virtual absl::StatusOr<Dataset> CreateDataset(const Dataset& dataset) const = 0;
  virtual absl::StatusOr<Dataset> UpdateDataset(DatasetId id, const Json& fields) const = 0;
  virtual absl::StatusOr<BenchmarkDatasetAssociation> CreateDatasetAssociation(
      DatasetId dataset, BenchmarkId benchmark, const Json& metadata,
      ApprovalStatus status = ApprovalStatus::kPending) const = 0;
  virtual absl::StatusOr<BenchmarkModelAssociation> CreateModelAssociation(
      ModelId model, BenchmarkId benchmark, const Json& metadata,
      ApprovalStatus status = ApprovalStatus::kPending) const = 0;
  virtual absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> GetDatasetAssociations(
      DatasetId dataset, BenchmarkId benchmark) const = 0;
  virtual absl::StatusOr<Result> SubmitResult(
      ResultId id, const Json& results, bool partial,
      const Json& existing_metadata = Json::object()) const = 0;
  virtual absl::StatusOr<Result> GetResult(ResultId id) const = 0;
};

class RestClient final : public MedPerfApi {
 public:
  // Validates the options and reads the token file. Errors name the offending option.
  static absl::StatusOr<RestClient> Create(RestClientOptions options);

  const std::string& base_url() const { return base_url_; }

  // --- users ---
  absl::StatusOr<User> GetMe() const;
  absl::StatusOr<User> GetUser(UserId id) const;

  // --- benchmarks ---
  absl::StatusOr<std::vector<Benchmark>> ListBenchmarks(
      const QueryParams& filters = {}) const override;
  absl::StatusOr<std::vector<Benchmark>> ListMyBenchmarks() const override;
  absl::StatusOr<Benchmark> GetBenchmark(BenchmarkId id) const override;
  absl::StatusOr<Benchmark> CreateBenchmark(const Benchmark& benchmark) const override;
  // Partial update with the given fields, e.g. {"is_active": false}.
  absl::StatusOr<Benchmark> UpdateBenchmark(BenchmarkId id, const Json& fields) const;
  // Admin only.
  absl::StatusOr<Benchmark> SetBenchmarkApproval(BenchmarkId id, ApprovalStatus status) const;
  // The rows {model, approval_status, created_at} of every association of the benchmark.
  absl::StatusOr<std::vector<BenchmarkModelAssociation>> ListBenchmarkModels(
      BenchmarkId id) const override;
  // The rows {dataset, approval_status, created_at}.
  absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> ListBenchmarkDatasets(
      BenchmarkId id) const;
  absl::StatusOr<std::vector<Result>> ListBenchmarkResults(BenchmarkId id) const;

  // --- containers ("mlcubes") ---
  absl::StatusOr<std::vector<Container>> ListContainers(
      const QueryParams& filters = {}) const override;
  absl::StatusOr<std::vector<Container>> ListMyContainers() const override;
  absl::StatusOr<Container> GetContainer(ContainerId id) const override;
  absl::StatusOr<Container> CreateContainer(const Container& container) const override;
  absl::StatusOr<Container> UpdateContainer(ContainerId id, const Json& fields) const;
  // The Model wrapping the container (NotFound if none).
  absl::StatusOr<Model> GetContainerModel(ContainerId id) const override;
  // Datasets prepared with this container (admin or the container's owner).
  absl::StatusOr<std::vector<Dataset>> ListContainerDatasets(ContainerId id) const;

  // --- models ---
  absl::StatusOr<std::vector<Model>> ListModels(const QueryParams& filters = {}) const;
  absl::StatusOr<std::vector<Model>> ListMyModels() const;
  absl::StatusOr<Model> GetModel(ModelId id) const override;
  // POST /models/ with the nested container (the model's `container` must be set).
  absl::StatusOr<Model> CreateModel(const Model& model) const override;
  absl::StatusOr<Model> UpdateModel(ModelId id, const Json& fields) const;

  // --- datasets ---
  absl::StatusOr<std::vector<Dataset>> ListDatasets(const QueryParams& filters = {}) const;
  absl::StatusOr<std::vector<Dataset>> ListMyDatasets() const override;
  absl::StatusOr<Dataset> GetDataset(DatasetId id) const override;
  absl::StatusOr<Dataset> CreateDataset(const Dataset& dataset) const override;
  absl::StatusOr<Dataset> UpdateDataset(DatasetId id, const Json& fields) const override;

  // --- benchmark <-> dataset associations ---
  absl::StatusOr<BenchmarkDatasetAssociation> CreateDatasetAssociation(
      DatasetId dataset, BenchmarkId benchmark, const Json& metadata,
      ApprovalStatus status = ApprovalStatus::kPending) const override;
  absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> ListMyDatasetAssociations() const;
  // Every row for the pair, oldest first (the server's plain list).
  absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> GetDatasetAssociations(
      DatasetId dataset, BenchmarkId benchmark) const override;
  absl::StatusOr<std::vector<BenchmarkDatasetAssociation>> ListDatasetBenchmarks(
      DatasetId dataset) const;
  // Approves or rejects the latest (PENDING) row of the pair.
  absl::Status SetDatasetAssociationApproval(DatasetId dataset, BenchmarkId benchmark,
                                             ApprovalStatus status) const;

  // --- benchmark <-> model associations ---
  absl::StatusOr<BenchmarkModelAssociation> CreateModelAssociation(
      ModelId model, BenchmarkId benchmark, const Json& metadata,
      ApprovalStatus status = ApprovalStatus::kPending) const override;
  absl::StatusOr<std::vector<BenchmarkModelAssociation>> ListMyModelAssociations() const;
  absl::StatusOr<std::vector<BenchmarkModelAssociation>> GetModelAssociations(
      ModelId model, BenchmarkId benchmark) const;
  absl::StatusOr<std::vector<BenchmarkModelAssociation>> ListModelBenchmarks(ModelId model) const;
  absl::Status SetModelAssociationApproval(ModelId model, BenchmarkId benchmark,
                                           ApprovalStatus status) const;
  absl::Status SetModelAssociationPriority(ModelId model, BenchmarkId benchmark,
                                           int64_t priority) const;

  // --- results ("executions") ---
  // Creates the execution before running (finalized=false).
  absl::StatusOr<Result> CreateResult(const Result& result) const;
  absl::StatusOr<Result> GetResult(ResultId id) const override;
  // Partial update, e.g. {"model_report": {"execution_status": "started"}}.
  absl::StatusOr<Result> UpdateResult(ResultId id, const Json& fields) const;
  // PUTs the metrics with metadata.partial set, which finalizes the execution.
  absl::StatusOr<Result> SubmitResult(
      ResultId id, const Json& results, bool partial,
      const Json& existing_metadata = Json::object()) const override;
  absl::StatusOr<std::vector<Result>> ListMyResults() const;
  absl::StatusOr<std::vector<Result>> ListResults() const;  // admin only

  // GET /version (outside /api/v0), e.g. "v0".
  absl::StatusOr<std::string> GetVersion() const;

  // Raw access for callers that need an endpoint without a typed method. `path` is
  // relative to the API base ("/benchmarks/1/"). GET is retried; others are not.
  absl::StatusOr<Json> GetJson(const std::string& path) const;
  absl::StatusOr<std::vector<Json>> GetAllPages(const std::string& path,
                                                const QueryParams& query = {}) const;
  absl::StatusOr<Json> SendJson(const std::string& method, const std::string& path,
                                const Json& body) const;

  // Replaces the sleep between retries (tests).
  void set_sleep_for_testing(std::function<void(std::chrono::milliseconds)> sleep) {
    sleep_ = std::move(sleep);
  }

 private:
  RestClient(RestClientOptions options, std::string base_url, std::string origin,
             std::string token);

  // Failures carry an ErrorInfo (core/errors.h): the class (transport's, or from the
  // HTTP status), this server's origin, the object and action read from the path, the
  // server's message as the reason, and the token file on a 401.
  absl::StatusOr<Json> Request(const std::string& method, const std::string& url,
                               const std::string* body) const;
  ErrorInfo Classified(const std::string& method, const std::string& url,
                       const absl::Status& transport, ErrorClass http_class,
                       std::string reason) const;
  template <typename T>
  absl::StatusOr<std::vector<T>> ListOf(const std::string& path, const QueryParams& query,
                                        absl::StatusOr<T> (*decode)(const Json&)) const;

  RestClientOptions options_;
  std::string base_url_;  // ".../api/v0"
  std::string origin_;    // "scheme://host[:port]"
  std::string token_;
  HttpClient http_;
  std::function<void(std::chrono::milliseconds)> sleep_;
};

// --- helpers exposed for tests and other modules ---

// "http://h:8000" → {"http://h:8000/api/v0", "http://h:8000"}; bare hosts get https.
absl::StatusOr<std::pair<std::string, std::string>> ApiBaseUrl(std::string_view server_url);

// Every error of RestClient carries an ErrorInfo (core/errors.h): transport failures
// keep HttpClient's class (unreachable, or TLS configuration); HTTP answers are classed
// 400/409/413 → invalid input, 401 → unauthenticated (naming the token file), 403 →
// forbidden, 404 → not found, 5xx → server unreachable. Only the last is retried (GETs).
//
// Maps an HTTP error answer to a status carrying the server's message: 400 →
// InvalidArgument (DRF field errors flattened "field: msg; ..."), 401 → Unauthenticated,
// 403 → PermissionDenied, 404 → NotFound, 409 → AlreadyExists, 5xx → Unavailable.
absl::Status StatusFromHttp(long status, std::string_view body, std::string_view what);

}  // namespace medperf
