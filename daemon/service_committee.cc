// The benchmark committee's and the model owner's flows (MedPerf tutorials): test run,
// container submit, benchmark submit, model associate. Admin approval of benchmarks is
// SetBenchmarkApproval in service_entities.cc.
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"
#include "daemon/compatibility_check.h"
#include "daemon/container_policy.h"
#include "daemon/control_service.h"

namespace medperf::daemon {
namespace v1 = medperf::v1;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// URLs the asset cache downloads; anything else is a path on the daemon's machine.
bool IsUrl(const std::string& s) {
  return absl::StrContains(s, "://") || absl::StartsWith(s, "direct:") ||
         absl::StartsWith(s, "synapse:");
}

// The summary every compatibility-test answer carries.
Json TestJson(const CompatibilityTestResult& t) {
  return {{"results", t.metrics},
          {"from_cache", t.from_cache},
          {"prepared_data_hash", t.prepared_data_hash},
          {"demo_dataset_hash", t.demo_hash},
          {"test_dir", t.dir.string()},
          {"logs", t.log_dir.string()},
          {"report", t.report}};
}

// A legacy mlcube.yaml as a container_config the current flows can run (docs/committee.md):
// same image, tasks, volumes and MLCube-style command line. A parameter whose default lies
// in the workspace's additional_files/ (e.g. `weights: additional_files/w.pth`) becomes
// a path inside the `additional_files` volume, which is how the current form ships them.
absl::StatusOr<Json> LegacyToContainerConfig(const std::string& text, const std::string& source) {
  // A sentinel workspace, so that defaults under additional_files/ can be recognized.
  const fs::path workspace = "/.mlcube-workspace";
  ASSIGN_OR_RETURN(ContainerConfig legacy, ParseLegacyMlcube(text, source, workspace));
  const fs::path additional = workspace / "additional_files";
  const std::string af_mount = "/mlcube_io/inputs/additional_files";
  Json tasks = Json::object();
  for (const auto& [name, task] : legacy.tasks) {
    std::vector<std::string> command = task.command;
    Json inputs = Json::object();
    Json outputs = Json::object();
    for (const Volume& v : task.input_volumes) {
      fs::path rel = v.default_host_path.lexically_relative(additional);
      bool in_additional =
          !v.default_host_path.empty() && !rel.empty() && *rel.begin() != ".." && rel != ".";
      if (in_additional && v.name != "additional_files") {
        std::string old_arg = absl::StrCat("--", v.name, "=", v.mount_path);
        for (std::string& arg : command) {
          if (arg == old_arg) arg = absl::StrCat("--", v.name, "=", af_mount, "/", rel.string());
        }
        inputs["additional_files"] = {{"mount_path", af_mount}, {"type", "directory"}};
        continue;
      }
      inputs[v.name] = {{"mount_path", v.mount_path},
                        {"type", std::string(VolumeTypeName(v.type))}};
    }
    for (const Volume& v : task.output_volumes) {
      outputs[v.name] = {{"mount_path", v.mount_path},
                         {"type", std::string(VolumeTypeName(v.type))}};
    }
    Json run_args = {{"command", command}};
    if (!task.gpus.empty()) run_args["gpus"] = task.gpus;
    tasks[name] = {{"run_args", run_args}, {"input_volumes", inputs}, {"output_volumes", outputs}};
  }
  Json config = {{"container_type", std::string(ContainerTypeName(legacy.type))},
                 {"image", legacy.image},
                 {"tasks", tasks}};
  // The result must be a valid current-form config.
  RETURN_IF_ERROR(ParseContainerConfig(config.dump(), source + " (converted)").status());
  return config;
}

absl::StatusOr<Json> SubmitContainerBody(Site& site, JobContext& job, const std::string& token,
                                         const v1::SubmitContainerRequest& r) {
  Container c;
  c.name = r.name();
  c.state = r.operational() ? EntityState::kOperation : EntityState::kDevelopment;
  std::string config_what = r.legacy_mlcube() ? "mlcube file" : "container config file";
  job.Progress("fetch", absl::StrCat("fetching the ", config_what, " ", r.container_config_file()));
  ASSIGN_OR_RETURN(Asset config_asset, site.assets().Fetch(config_what, r.container_config_file()));
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(config_asset.path, config_what, 1 << 20));
  bool legacy = r.legacy_mlcube() || LooksLikeLegacyMlcube(text);
  if (legacy) {
    ASSIGN_OR_RETURN(c.container_config, LegacyToContainerConfig(text, r.container_config_file()));
    c.metadata = {{"mlcube_file_url", r.container_config_file()},
                  {"mlcube_file_hash", config_asset.sha256},
                  {"converted_from_mlcube_yaml", true}};
  } else {
    RETURN_IF_ERROR(ParseContainerConfig(text, r.container_config_file()).status());
    ASSIGN_OR_RETURN(c.container_config, YamlToJson(text, r.container_config_file()));
  }
  ASSIGN_OR_RETURN(ContainerConfig config,
                   ParseContainerConfig(c.container_config.dump(), r.container_config_file()));

  if (!r.parameters_file().empty()) {
    job.Progress("fetch", absl::StrCat("fetching the parameters file ", r.parameters_file()));
    ASSIGN_OR_RETURN(Asset params, site.assets().Fetch("parameters file", r.parameters_file()));
    ASSIGN_OR_RETURN(std::string ptext, ReadFileBounded(params.path, "the parameters file", 1 << 20));
    ASSIGN_OR_RETURN(c.parameters_config, YamlToJson(ptext, r.parameters_file()));
    // An empty parameters file is {} for the real client too.
    if (c.parameters_config.is_null()) c.parameters_config = Json::object();
    if (!c.parameters_config.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameters file ", r.parameters_file(), " must hold a YAML mapping"));
    }
  }

  if (!r.additional_file().empty()) {
    std::string url = r.additional_file();
    if (!IsUrl(url)) {
      job.Progress("fetch", absl::StrCat("note: ", url,
                                         " is a local path; other sites cannot "
                                         "download it (host it and pass its URL)"));
      url = absl::StrCat("file://", url);
    }
    job.Progress("fetch", absl::StrCat("fetching and checking the additional files ", url));
    // Extracting proves the tarball is usable before anyone else depends on it.
    ASSIGN_OR_RETURN(fs::path extracted,
                     site.assets().FetchExtracted("additional files", url, r.additional_hash()));
    c.additional_files_tarball_url = url;
    c.additional_files_tarball_hash = extracted.filename().string();
  }

  LocalContainer local;
  local.name = c.name;
  local.config = config;
  if (config.type == ContainerType::kDockerArchive ||
      config.type == ContainerType::kSingularityFile) {
    std::string image = r.image_file().empty() ? config.image : r.image_file();
    job.Progress("fetch", absl::StrCat("fetching the image ", image));
    ASSIGN_OR_RETURN(Asset asset, site.assets().Fetch("image", image, r.image_hash()));
    local.image_file = asset.path;
  } else if (!r.image_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--image-file is only for DockerArchive and SingularityFile containers; this one is ",
        std::string(ContainerTypeName(config.type))));
  }
  absl::StatusOr<std::string> image_hash = [&]() -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::unique_ptr<Runner> runner, site.RunnerFor(local));
    return runner->ImageHash(config, local.image_file);
  }();
  if (image_hash.ok()) {
    if (!r.image_hash().empty() && ComparableSha256(r.image_hash()) != ComparableSha256(*image_hash)) {
      return absl::FailedPreconditionError(absl::StrCat("image hash mismatch: --image-hash is ",
                                                        r.image_hash(), " but the image hashes to ",
                                                        *image_hash));
    }
    c.image_hash = *image_hash;
  } else if (!r.image_hash().empty()) {
    job.Progress("hash", absl::StrCat("cannot hash the image here (", image_hash.status().message(),
                                      "); registering the given --image-hash"));
    c.image_hash = r.image_hash();
  } else {
    return absl::Status(
        image_hash.status().code(),
        absl::StrCat("cannot compute the image hash: ", image_hash.status().message(),
                     " (pass --image-hash to register a known hash)"));
  }

  ASSIGN_OR_RETURN(RestClient server, site.Server(token));
  Json out;
  if (config.IsModelContainer()) {
    // Like the real client: a container with an `infer` task is registered as a Model.
    Model m;
    m.name = c.name;
    m.type = ModelType::kContainer;
    m.state = c.state;
    m.container = c;
    job.Progress("submit", "registering the model container (POST /models/)");
    ASSIGN_OR_RETURN(Model created, server.CreateModel(m));
    if (!created.container) {
      return absl::DataLossError("the server's answer to POST /models/ has no container");
    }
    out["container"] = ToFullJson(*created.container);
    out["model"] = ToFullJson(created);
  } else {
    job.Progress("submit", "registering the container (POST /mlcubes/)");
    ASSIGN_OR_RETURN(Container created, server.CreateContainer(c));
    out["container"] = ToFullJson(created);
  }
  site.events()
      .Publish("container.submitted",
               absl::StrCat("container ", out["container"].value("id", 0), " (", c.name,
                            ") registered on the server"),
               {{"container", out["container"].value("id", 0)}})
      .IgnoreError();
  return out;
}

}  // namespace

grpc::Status ControlService::RunTest(grpc::ServerContext* context, const v1::RunTestRequest* req,
                                     grpc::ServerWriter<v1::JobProgress>* writer) {
  const v1::RunTestRequest& r = *req;
  bool has_prep = !r.data_preparator().empty() || r.data_preparator_id() > 0;
  bool has_model = !r.model().empty() || r.model_id() > 0;
  bool has_eval = !r.evaluator().empty() || r.evaluator_id() > 0;
  bool has_raw = !r.data_path().empty() || !r.labels_path().empty();
  bool has_demo = !r.demo_url().empty();
  if (!r.data_preparator().empty() && r.data_preparator_id() > 0) {
    return Invalid("give the data preparator either as a local config or as a container id");
  }
  if (!r.model().empty() && r.model_id() > 0) {
    return Invalid("give the model either as a local config or as an id");
  }
  if (!r.evaluator().empty() && r.evaluator_id() > 0) {
    return Invalid("give the evaluator either as a local config or as a container id");
  }
  if (has_raw && (r.data_path().empty() || r.labels_path().empty())) {
    return Invalid("--data_path and --labels_path go together");
  }
  if (has_raw && has_demo) {
    return Invalid("give one data source: --data_path/--labels_path or --demo_dataset_url");
  }
  if (r.benchmark() <= 0) {
    if (!has_prep || !has_model || !has_eval || !(has_raw || has_demo)) {
      return Invalid(
          "without --benchmark, a test needs --data_preparator, --model, --evaluator and the "
          "data (--data_path with --labels_path, or --demo_dataset_url)");
    }
  } else if (has_prep && has_eval && (has_raw || has_demo) && has_model) {
    return Invalid("every part of the benchmark is overridden; leave out --benchmark");
  }
  Site& site = ctx_.site;
  std::string token = CallerToken(context);
  storage::JobRecord record = InteractiveJob(
      "test", {{"benchmark", r.benchmark()}, {"model", r.model()}, {"model_id", r.model_id()}});
  if (r.benchmark() > 0) record.benchmark = BenchmarkId(r.benchmark());
  return StartAndStream(
      context, record,
      [&site, token, r](JobContext& job) -> absl::StatusOr<Json> {
        std::optional<RestClient> server;
        bool needs_server = r.benchmark() > 0 || r.data_preparator_id() > 0 || r.model_id() > 0 ||
                            r.evaluator_id() > 0;
        if (needs_server) {
          ASSIGN_OR_RETURN(RestClient s, site.Server(token));
          server.emplace(std::move(s));
        }
        CompatibilityTestSpec spec;
        spec.no_cache = r.no_cache();
        spec.data_already_prepared = r.skip_demo_data_preparation();
        TestContainerSource prep, model, evaluator;
        if (r.benchmark() > 0) {
          ASSIGN_OR_RETURN(Benchmark b, server->GetBenchmark(BenchmarkId(r.benchmark())));
          RETURN_IF_ERROR(CheckValid(b));
          job.Progress("benchmark", absl::StrCat("benchmark ", b.id.value(), " (", b.name, ")"));
          prep.container = b.data_preparation_mlcube;
          model.model = b.reference_model;
          evaluator.container = b.data_evaluator_mlcube;
          if (r.data_path().empty() && r.demo_url().empty()) {
            spec.demo_url = b.demo_dataset_tarball_url;
            spec.demo_hash = b.demo_dataset_tarball_hash;
            spec.data_already_prepared |= b.metadata.value("demo_dataset_already_prepared", false);
          }
        }
        if (!r.data_preparator().empty()) prep = {r.data_preparator(), {}, {}};
        if (r.data_preparator_id() > 0) prep = {{}, ContainerId(r.data_preparator_id()), {}};
        if (!r.model().empty()) model = {r.model(), {}, {}};
        if (r.model_id() > 0) {
          model = r.model_is_container() ? TestContainerSource{{}, ContainerId(r.model_id()), {}}
                                         : TestContainerSource{{}, {}, ModelId(r.model_id())};
        }
        if (!r.evaluator().empty()) evaluator = {r.evaluator(), {}, {}};
        if (r.evaluator_id() > 0) evaluator = {{}, ContainerId(r.evaluator_id()), {}};
        if (!r.data_path().empty()) {
          spec.data_path = r.data_path();
          spec.labels_path = r.labels_path();
        }
        if (!r.demo_url().empty()) {
          spec.demo_url = r.demo_url();
          spec.demo_hash = r.demo_hash();
        }
        const RestClient* s = server ? &*server : nullptr;
        job.SetState(storage::JobState::kFetching);
        ASSIGN_OR_RETURN(spec.prep, ResolveTestContainer(site, s, job, prep, "data preparator"));
        ASSIGN_OR_RETURN(spec.model, ResolveTestContainer(site, s, job, model, "model"));
        ASSIGN_OR_RETURN(spec.evaluator,
                         ResolveTestContainer(site, s, job, evaluator, "evaluator"));
        ASSIGN_OR_RETURN(CompatibilityTestResult t, RunCompatibilityTest(site, job, spec));
        return TestJson(t);
      },
      writer);
}

grpc::Status ControlService::SubmitContainer(grpc::ServerContext* context,
                                             const v1::SubmitContainerRequest* req,
                                             grpc::ServerWriter<v1::JobProgress>* writer) {
  if (req->name().empty()) return Invalid("--name is required");
  if (req->container_config_file().empty()) {
    return Invalid("--container-config-file (or the legacy --mlcube-file) is required");
  }
  for (const std::string* p : {&req->container_config_file(), &req->parameters_file(),
                               &req->additional_file(), &req->image_file()}) {
    if (!p->empty() && !IsUrl(*p) && fs::path(*p).is_relative()) {
      return Invalid(absl::StrCat("'", *p, "' must be a URL or an absolute path"));
    }
  }
  if (!req->additional_hash().empty() && !IsSha256Hex(ComparableSha256(req->additional_hash()))) {
    return Invalid("--additional-hash must be a SHA-256 hex digest");
  }
  Site& site = ctx_.site;
  std::string token = CallerToken(context);
  v1::SubmitContainerRequest r = *req;
  return StartAndStream(
      context, InteractiveJob("submit-container", {{"name", r.name()}}),
      [&site, token, r](JobContext& job) { return SubmitContainerBody(site, job, token, r); },
      writer);
}

grpc::Status ControlService::SubmitBenchmark(grpc::ServerContext* context,
                                             const v1::SubmitBenchmarkRequest* req,
                                             grpc::ServerWriter<v1::JobProgress>* writer) {
  if (req->name().empty()) return Invalid("--name is required");
  if (req->data_preparation_container() <= 0 || req->evaluator_container() <= 0 ||
      (req->reference_model_container() <= 0 && req->reference_model() <= 0)) {
    return Invalid(
        "--data-preparation-container, --reference-model-container and --evaluator-container "
        "are required");
  }
  if (req->demo_url().empty() && !req->skip_compatibility_test()) {
    return Invalid(
        "--demo-url is required: the benchmark's containers are tested on the demo "
        "dataset before it is submitted");
  }
  Site& site = ctx_.site;
  std::string token = CallerToken(context);
  v1::SubmitBenchmarkRequest r = *req;
  return StartAndStream(
      context, InteractiveJob("submit-benchmark", {{"name", r.name()}}),
      [&site, token, r](JobContext& job) -> absl::StatusOr<Json> {
        ASSIGN_OR_RETURN(RestClient server, site.Server(token));
        ModelId reference(r.reference_model());
        if (r.reference_model() <= 0) {
          // Container and Model ids differ on the real server; ours shares them.
          absl::StatusOr<Model> m =
              server.GetContainerModel(ContainerId(r.reference_model_container()));
          if (!m.ok()) {
            return absl::Status(m.status().code(),
                                absl::StrCat("container ", r.reference_model_container(),
                                             " is not a registered model (", m.status().message(),
                                             "); submit it with `medperfctl container submit` "
                                             "(a container with an infer task is a model)"));
          }
          reference = m->id;
        }
        Benchmark b;
        b.name = r.name();
        b.description = r.description();
        b.docs_url = r.docs_url();
        b.data_preparation_mlcube = ContainerId(r.data_preparation_container());
        b.reference_model = reference;
        b.data_evaluator_mlcube = ContainerId(r.evaluator_container());
        b.state = r.operational() ? EntityState::kOperation : EntityState::kDevelopment;
        Json results = Json::object();
        if (r.skip_compatibility_test()) {
          // What the real client sends when the tests are skipped.
          b.demo_dataset_tarball_url = r.demo_url().empty() ? "link" : r.demo_url();
          b.demo_dataset_tarball_hash = r.demo_hash().empty() ? "hash" : r.demo_hash();
          b.demo_dataset_generated_uid = "uid";
        } else {
          CompatibilityTestSpec spec;
          spec.demo_url = r.demo_url();
          spec.demo_hash = r.demo_hash();
          spec.data_already_prepared = r.skip_demo_data_preparation();
          spec.no_cache = true;  // as the real client: a submission is always tested afresh
          job.SetState(storage::JobState::kFetching);
          ASSIGN_OR_RETURN(spec.prep, ResolveTestContainer(site, &server, job,
                                                           {{}, b.data_preparation_mlcube, {}},
                                                           "data preparator"));
          ASSIGN_OR_RETURN(spec.model, ResolveTestContainer(site, &server, job, {{}, {}, reference},
                                                            "reference model"));
          ASSIGN_OR_RETURN(spec.evaluator,
                           ResolveTestContainer(site, &server, job,
                                                {{}, b.data_evaluator_mlcube, {}}, "evaluator"));
          ASSIGN_OR_RETURN(CompatibilityTestResult t, RunCompatibilityTest(site, job, spec));
          results = t.metrics;
          b.demo_dataset_tarball_url = r.demo_url();
          b.demo_dataset_tarball_hash = t.demo_hash;
          b.demo_dataset_generated_uid = t.prepared_data_hash;
        }
        b.metadata = {{"results", results},
                      {"demo_dataset_already_prepared", r.skip_demo_data_preparation()},
                      {"skip_compatibility_tests", r.skip_compatibility_test()}};
        job.Progress("submit", "submitting the benchmark (POST /benchmarks/)");
        ASSIGN_OR_RETURN(Benchmark created, server.CreateBenchmark(b));
        site.events()
            .Publish("benchmark.submitted",
                     absl::StrCat("benchmark ", created.id.value(), " (", created.name,
                                  ") submitted, ", std::string(ToString(created.approval_status))),
                     {{"benchmark", created.id.value()}})
            .IgnoreError();
        return Json{{"benchmark", ToFullJson(created)}, {"results", results}};
      },
      writer);
}

grpc::Status ControlService::AssociateModel(grpc::ServerContext* context,
                                            const v1::AssociateModelRequest* req,
                                            grpc::ServerWriter<v1::JobProgress>* writer) {
  if (req->benchmark() <= 0) return Invalid("--benchmark is required");
  if (req->model() <= 0) return Invalid("--model_uid is required");
  Site& site = ctx_.site;
  std::string token = CallerToken(context);
  v1::AssociateModelRequest r = *req;
  storage::JobRecord record = InteractiveJob("associate-model", {{"dry_run", r.dry_run()}});
  record.benchmark = BenchmarkId(r.benchmark());
  if (!r.model_is_container()) record.model = ModelId(r.model());
  return StartAndStream(
      context, record,
      [&site, token, r](JobContext& job) -> absl::StatusOr<Json> {
        ASSIGN_OR_RETURN(RestClient server, site.Server(token));
        ASSIGN_OR_RETURN(Benchmark benchmark, server.GetBenchmark(BenchmarkId(r.benchmark())));
        RETURN_IF_ERROR(CheckValid(benchmark));
        ModelId model(r.model());
        if (r.model_is_container()) {
          absl::StatusOr<Model> m = server.GetContainerModel(ContainerId(r.model()));
          if (!m.ok()) {
            return absl::Status(m.status().code(),
                                absl::StrCat("container ", r.model(), " is not a model (",
                                             m.status().message(), ")"));
          }
          model = m->id;
        }
        Json test = Json::object();
        Json results = Json::object();
        if (!benchmark.metadata.value("skip_compatibility_tests", false)) {
          CompatibilityTestSpec spec;
          spec.demo_url = benchmark.demo_dataset_tarball_url;
          spec.demo_hash = benchmark.demo_dataset_tarball_hash;
          spec.data_already_prepared =
              benchmark.metadata.value("demo_dataset_already_prepared", false);
          spec.no_cache = r.no_cache();
          job.SetState(storage::JobState::kFetching);
          ASSIGN_OR_RETURN(
              spec.prep,
              ResolveTestContainer(site, &server, job, {{}, benchmark.data_preparation_mlcube, {}},
                                   "data preparator"));
          ASSIGN_OR_RETURN(spec.model,
                           ResolveTestContainer(site, &server, job, {{}, {}, model}, "model"));
          ASSIGN_OR_RETURN(
              spec.evaluator,
              ResolveTestContainer(site, &server, job, {{}, benchmark.data_evaluator_mlcube, {}},
                                   "evaluator"));
          ASSIGN_OR_RETURN(CompatibilityTestResult t, RunCompatibilityTest(site, job, spec));
          test = TestJson(t);
          results = t.metrics;
        } else {
          job.Progress("test", absl::StrCat("benchmark ", benchmark.id.value(),
                                            " skips compatibility tests"));
        }
        Json summary = {{"benchmark", benchmark.id.value()},
                        {"benchmark_name", benchmark.name},
                        {"model", model.value()},
                        {"test_result", results},
                        {"test", test}};
        if (r.dry_run()) return summary;
        job.Progress("submit", "requesting the association (POST /models/benchmarks/)");
        ASSIGN_OR_RETURN(
            BenchmarkModelAssociation assoc,
            server.CreateModelAssociation(model, benchmark.id, {{"test_result", results}}));
        site.events()
            .Publish("association.requested",
                     absl::StrCat("association of model ", model.value(), " with benchmark ",
                                  benchmark.id.value(), " requested (",
                                  std::string(ToString(assoc.approval_status)), ")"),
                     {{"model", model.value()}, {"benchmark", benchmark.id.value()}})
            .IgnoreError();
        summary["association"] = ToFullJson(assoc);
        return summary;
      },
      writer);
}

}  // namespace medperf::daemon
