#include "server/seed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/files.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"
#include "server/api.h"
#include "server/sqlite_db.h"

namespace medperf::server {
namespace {

namespace fs = std::filesystem;

// The seed's YAML files are the demo's own; 1 MiB is far above any of them.
absl::StatusOr<std::string> ReadText(const fs::path& path) {
  return ReadSmallFile(path, 1 << 20, path.string());
}

std::string FileUrl(const fs::path& path) {
  return absl::StrCat("file://", fs::absolute(path).lexically_normal().string());
}

// The container fields of one asset folder (layout in docs/server.md).
absl::StatusOr<Json> ContainerFromAssets(const fs::path& dir, const std::string& name) {
  ASSIGN_OR_RETURN(std::string config_text, ReadText(dir / "container_config.yaml"));
  ASSIGN_OR_RETURN(Json config, YamlToJson(config_text, (dir / "container_config.yaml").string()));
  if (!config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat((dir / "container_config.yaml").string(), ": expected a mapping"));
  }
  Json params = Json::object();
  if (fs::exists(dir / "parameters.yaml")) {
    ASSIGN_OR_RETURN(std::string text, ReadText(dir / "parameters.yaml"));
    ASSIGN_OR_RETURN(params, YamlToJson(text, (dir / "parameters.yaml").string()));
    if (params.is_null()) params = Json::object();  // an empty file, as the real client does
  }
  std::string image = config.value("image", "");
  std::string image_hash;
  if (config.value("container_type", "") == "LocalProcess") {
    if (!fs::path(image).is_absolute()) {
      return absl::InvalidArgumentError(
          absl::StrCat((dir / "container_config.yaml").string(),
                       ": a LocalProcess image must be an absolute path, got '", image, "'"));
    }
    ASSIGN_OR_RETURN(std::string hex, Sha256File(image));
    image_hash = "sha256:" + hex;
  } else {
    // Registry digests need the engine; a stand-in keeps the record valid.
    image_hash = "sha256:" + Sha256Hex(image);
    std::cerr << "seed: note: " << name << " is not a LocalProcess container; its image_hash "
              << "is a placeholder, not the registry digest\n";
  }
  Json c{{"name", name},
         {"container_config", config},
         {"parameters_config", params},
         {"image_hash", image_hash},
         {"state", "OPERATION"},
         {"additional_files_tarball_url", ""},
         {"additional_files_tarball_hash", ""}};
  fs::path tarball = dir / "additional_files.tar.gz";
  if (fs::exists(tarball)) {
    ASSIGN_OR_RETURN(std::string hex, Sha256File(tarball));
    c["additional_files_tarball_url"] = FileUrl(tarball);
    c["additional_files_tarball_hash"] = hex;
  }
  return c;
}

Json Volume(const char* path, const char* type) {
  return Json{{"mount_path", path}, {"type", type}};
}

// Well-formed but not runnable: used when no --assets folder is given.
Json PlaceholderContainer(const std::string& name, const std::string& role) {
  Json tasks = Json::object();
  Json params = Volume("/mlcommons/volumes/parameters/parameters_file.yaml", "file");
  if (role == "prep") {
    Json in{{"data_path", Volume("/mlcommons/volumes/raw_data", "directory")},
            {"labels_path", Volume("/mlcommons/volumes/raw_labels", "directory")},
            {"parameters_file", params}};
    tasks["prepare"] = {
        {"input_volumes", in},
        {"output_volumes",
         {{"output_path", Volume("/mlcommons/volumes/data", "directory")},
          {"output_labels_path", Volume("/mlcommons/volumes/labels", "directory")}}}};
    Json checked{{"data_path", Volume("/mlcommons/volumes/data", "directory")},
                 {"labels_path", Volume("/mlcommons/volumes/labels", "directory")},
                 {"parameters_file", params}};
    tasks["sanity_check"] = {{"input_volumes", checked}};
    tasks["statistics"] = {
        {"input_volumes", checked},
        {"output_volumes",
         {{"output_path", Volume("/mlcommons/volumes/statistics/statistics.yaml", "file")}}}};
  } else if (role == "model") {
    tasks["infer"] = {{"input_volumes",
                       {{"data_path", Volume("/mlcommons/volumes/data", "directory")},
                        {"parameters_file", params}}},
                      {"output_volumes",
                       {{"output_path", Volume("/mlcommons/volumes/predictions", "directory")}}}};
  } else {
    tasks["evaluate"] = {
        {"input_volumes",
         {{"predictions", Volume("/mlcommons/volumes/predictions", "directory")},
          {"labels", Volume("/mlcommons/volumes/labels", "directory")},
          {"parameters_file", params}}},
        {"output_volumes",
         {{"output_path", Volume("/mlcommons/volumes/results/results.yaml", "file")}}}};
  }
  return Json{{"name", name},
              {"container_config",
               {{"container_type", "LocalProcess"}, {"image", "/bin/false"}, {"tasks", tasks}}},
              {"parameters_config", Json::object()},
              {"image_hash", "sha256:" + Sha256Hex("placeholder:" + name)},
              {"state", "OPERATION"},
              {"additional_files_tarball_url", ""},
              {"additional_files_tarball_hash", ""}};
}

class Seeder {
 public:
  Seeder(Api* api) : api_(api) {}

  absl::Status AddUser(const std::string& email, bool admin) {
    ASSIGN_OR_RETURN(NewUser u, api_->AddUser(email, admin));
    tokens_[email] = u.token;
    return absl::OkStatus();
  }

  // Sends one request as `email` and insists on `expect`ed status.
  absl::StatusOr<Json> Call(const std::string& email, const std::string& method,
                            const std::string& path, const Json& body, int expect) {
    ApiRequest req;
    req.method = method;
    req.path = "/api/v0" + path;
    req.authorization = "Bearer " + tokens_[email];
    req.body = body.dump();
    req.base_url = "http://seed";
    ApiResponse resp = api_->Handle(req);
    if (resp.status != expect) {
      return absl::InternalError(absl::StrCat("seed: ", method, " ", path, " as ", email,
                                              " answered ", resp.status, ": ", resp.body.dump()));
    }
    return resp.body;
  }

  const std::map<std::string, std::string>& tokens() const { return tokens_; }

 private:
  Api* api_;
  std::map<std::string, std::string> tokens_;
};

constexpr char kAdmin[] = "testadmin@example.com";
constexpr char kBo[] = "testbo@example.com";
constexpr char kMo[] = "testmo@example.com";
constexpr char kDo[] = "testdo@example.com";

absl::StatusOr<Json> LoadContainer(const fs::path& assets, const std::string& sub,
                                   const std::string& name, const std::string& role) {
  if (assets.empty()) return PlaceholderContainer(name, role);
  return ContainerFromAssets(assets / sub, name);
}

// The medperfd.yaml section allow-listing the seeded LocalProcess containers, one entry
// per (server id, image hash), each with the executable it pins as a comment.
class AllowList {
 public:
  // `created` is the server's answer (a container, or a model holding one).
  void Add(const Json& created) {
    const Json& c = created.contains("container") ? created["container"] : created;
    if (!c.is_object() ||
        c.value("container_config", Json::object()).value("container_type", "") != "LocalProcess") {
      return;
    }
    absl::StrAppend(&entries_, "    - container: ", c.value("id", int64_t{0}), "  # ",
                    c.value("name", ""), ": ", c["container_config"].value("image", ""),
                    "\n      image_hash: ", c.value("image_hash", ""), "\n");
  }
  std::string Yaml() const {
    return absl::StrCat(
        "# Written by `medperf-server seed`: the seeded LocalProcess containers, which run host\n"
        "# executables, allow-listed for medperfd by server id and image hash (docs/security.md).\n"
        "sandbox:\n  allow_local_process:\n",
        entries_.empty() ? "    []\n" : entries_);
  }

 private:
  std::string entries_;
};

absl::Status ExpectId(const Json& j, int64_t id, const std::string& what) {
  if (j.value("id", int64_t{0}) != id) {
    return absl::InternalError(absl::StrCat("seed: ", what, " got id ", j.value("id", 0),
                                            " instead of ", id, " (is the database fresh?)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WritePrivateFile(const fs::path& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  // An existing file keeps its old mode under O_CREAT; tighten it explicitly.
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t done = 0;
  while (ok && done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n <= 0)
      ok = false;
    else
      done += static_cast<size_t>(n);
  }
  ok = (::close(fd) == 0) && ok;
  if (!ok) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::Status Seed(const SeedOptions& options) {
  if (options.demo != "benchmark" && options.demo != "model" && options.demo != "data") {
    return absl::InvalidArgumentError(
        absl::StrCat("--demo '", options.demo, "': expected benchmark, model or data"));
  }
  if (options.tokens_out.empty()) return absl::InvalidArgumentError("--tokens-out is required");
  if (!options.assets.empty() && !fs::is_directory(options.assets)) {
    return absl::NotFoundError(
        absl::StrCat("--assets ", options.assets.string(), " is not a directory"));
  }
  ASSIGN_OR_RETURN(auto db, Db::Open(options.db));
  ASSIGN_OR_RETURN(Json users, db->Scalar("SELECT COUNT(*) FROM users"));
  if (users.get<int64_t>() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", options.db.string(),
        " already has users; run `medperf-server reset --db ...` first so the tutorial ids match"));
  }
  Api api(db.get(), ApiOptions{});
  Seeder s(&api);
  AllowList allow_list;
  RETURN_IF_ERROR(s.AddUser(kAdmin, true));
  for (const char* email : {kBo, kMo, kDo}) RETURN_IF_ERROR(s.AddUser(email, false));

  if (options.demo != "benchmark") {
    if (options.assets.empty()) {
      std::cerr << "seed: no --assets given: containers get placeholder configs (not runnable)\n";
    }
    const fs::path& a = options.assets;
    ASSIGN_OR_RETURN(Json prep, LoadContainer(a, "data_preparator", "my-prep", "prep"));
    ASSIGN_OR_RETURN(Json ref, LoadContainer(a, "model_threshold", "my-refmodel", "model"));
    ASSIGN_OR_RETURN(Json metrics, LoadContainer(a, "metrics", "my-metrics", "metrics"));
    ASSIGN_OR_RETURN(Json c1, s.Call(kBo, "POST", "/mlcubes/", prep, 201));
    RETURN_IF_ERROR(ExpectId(c1, 1, "data preparator"));
    allow_list.Add(c1);
    Json model{
        {"name", "my-refmodel"}, {"type", "CONTAINER"}, {"state", "OPERATION"}, {"container", ref}};
    ASSIGN_OR_RETURN(Json m2, s.Call(kBo, "POST", "/models/", model, 201));
    RETURN_IF_ERROR(ExpectId(m2, 2, "reference model"));
    allow_list.Add(m2);
    ASSIGN_OR_RETURN(Json c3, s.Call(kBo, "POST", "/mlcubes/", metrics, 201));
    RETURN_IF_ERROR(ExpectId(c3, 3, "metrics container"));
    allow_list.Add(c3);

    std::string demo_url = "https://example.invalid/demo_data.tar.gz";
    std::string demo_hash = Sha256Hex("placeholder demo dataset");
    if (!a.empty()) {
      fs::path demo = a / "demo_data.tar.gz";
      ASSIGN_OR_RETURN(demo_hash, Sha256File(demo));
      demo_url = FileUrl(demo);
    }
    Json bench{{"name", "tutorial_bmk"},
               {"description", "MedPerf demo bmk"},
               {"docs_url", ""},
               {"demo_dataset_tarball_url", demo_url},
               {"demo_dataset_tarball_hash", demo_hash},
               // Nothing reads it before a compatibility test sets the real value.
               {"demo_dataset_generated_uid", demo_hash},
               {"data_preparation_mlcube", 1},
               {"reference_model", 2},
               {"data_evaluator_mlcube", 3},
               {"metadata", {{"demo_dataset_already_prepared", false}}},
               {"state", "OPERATION"}};
    ASSIGN_OR_RETURN(Json b1, s.Call(kBo, "POST", "/benchmarks/", bench, 201));
    RETURN_IF_ERROR(ExpectId(b1, 1, "benchmark"));
    RETURN_IF_ERROR(
        s.Call(kAdmin, "PUT", "/benchmarks/1/", Json{{"approval_status", "APPROVED"}}, 200)
            .status());
  }
  if (options.demo == "data") {
    ASSIGN_OR_RETURN(Json linear,
                     LoadContainer(options.assets, "model_linear", "my-modelref-cube", "model"));
    Json model{{"name", "my-modelref-cube"},
               {"type", "CONTAINER"},
               {"state", "OPERATION"},
               {"container", linear}};
    ASSIGN_OR_RETURN(Json m4, s.Call(kMo, "POST", "/models/", model, 201));
    RETURN_IF_ERROR(ExpectId(m4, 4, "second model"));
    allow_list.Add(m4);
    Json assoc{{"model", 4},
               {"benchmark", 1},
               {"approval_status", "PENDING"},
               {"metadata", {{"test_result", Json::object()}}}};
    RETURN_IF_ERROR(s.Call(kMo, "POST", "/models/benchmarks/", assoc, 201).status());
    RETURN_IF_ERROR(
        s.Call(kBo, "PUT", "/models/4/benchmarks/1/", Json{{"approval_status", "APPROVED"}}, 200)
            .status());
  }
  Json tokens = Json::object();
  for (const auto& [email, token] : s.tokens()) tokens[email] = token;
  RETURN_IF_ERROR(WritePrivateFile(options.tokens_out, tokens.dump(2) + "\n"));
  if (!options.allow_list_out.empty()) {
    if (options.assets.empty()) {
      return absl::InvalidArgumentError(
          "--allow-list-out needs --assets: placeholder containers are not runnable");
    }
    std::ofstream out(options.allow_list_out, std::ios::binary | std::ios::trunc);
    out << allow_list.Yaml();
    if (!out.flush()) {
      return absl::UnavailableError(absl::StrCat("cannot write ", options.allow_list_out.string()));
    }
    std::cerr << "seed: medperfd allow-list of the seeded LocalProcess containers in "
              << options.allow_list_out.string() << "\n";
  }
  std::cerr << "seed: demo '" << options.demo << "' ready; tokens in "
            << options.tokens_out.string() << "\n";
  return absl::OkStatus();
}

}  // namespace medperf::server
