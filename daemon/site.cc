#include "daemon/site.h"

#include "runners/task_identity.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"
#include "daemon/container_policy.h"
#include "runners/runner.h"  // DescribeBytes

namespace medperf::daemon {
namespace fs = std::filesystem;

namespace {

absl::Status WriteFileAtomically(const fs::path& path, const std::string& content) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot write ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

Site::Site(const DaemonConfig& config, storage::Store& store, EventBus& events)
    : config_(config),
      store_(store),
      events_(events),
      assets_(config.state_dir / "cache",
              HttpClient(TlsOptions{config.server.ca_bundle.string(), config.server.tls_verify}),
              config.archives),
      reserve_(config.state_dir, config.storage.reserve_bytes),
      // The config parser already refused a bad policy.gpus.
      gpus_(ParseGpuSpec(config.policy.gpus).value_or(GpuSpec{}),
            config.policy.max_concurrent_jobs) {
  auto engine = ParseEngineChoice(config.runner);
  runner_options_.engine = engine.ok() ? *engine : EngineChoice::kAuto;
  runner_options_.docker = config.docker_binary;
  runner_options_.docker_host = config.docker_host;
  runner_options_.image_cache_dir = config.state_dir / "images";
  runner_options_.tmp_dir = config.state_dir / "tmp";
  identity_ = ResolveTaskIdentity(config.sandbox.task_user);
  if (identity_.ok()) runner_options_.identity = *identity_;
}

absl::StatusOr<RestClient> Site::Server(const std::string& token) const {
  if (config_.server.url.empty()) {
    return absl::FailedPreconditionError(
        "no MedPerf server configured: set server.url in medperfd.yaml or pass --server-url");
  }
  RestClientOptions options;
  options.server_url = config_.server.url;
  if (!token.empty()) {
    options.token = token;
  } else if (!config_.server.token_file.empty()) {
    options.token_file = config_.server.token_file;
  } else {
    options.token = config_.server.token;
  }
  options.tls = TlsOptions{config_.server.ca_bundle.string(), config_.server.tls_verify};
  options.timeout = config_.server.timeout;
  return RestClient::Create(std::move(options));
}

absl::StatusOr<std::unique_ptr<Runner>> Site::RunnerFor(const LocalContainer& container) const {
  if (runner_factory_) return runner_factory_(container);
  RETURN_IF_ERROR(identity_.status());
  return CreateRunner(container.config, runner_options_);
}

std::string Site::RunnerChoice(const LocalContainer& container) const {
  if (runner_factory_) return "a test's runner";
  return DescribeRunnerChoice(container.config, runner_options_);
}

std::string Site::DefaultRunnerChoice() const {
  ContainerConfig image;
  image.type = ContainerType::kDockerImage;
  return DescribeRunnerChoice(image, runner_options_);
}

fs::path Site::DatasetDir(DatasetId id) const {
  return config_.state_dir / "datasets" / std::to_string(id.value());
}

fs::path Site::ResultDir(const LocalResultUid& uid) const {
  return config_.state_dir / "results" / uid.str();
}

absl::StatusOr<std::string> Site::FoldersHashCached(
    const std::vector<fs::path>& folders, const HashOptions& options,
    const std::function<void(uint64_t done, uint64_t total)>& progress) {
  uint64_t total = 0;
  std::string key;
  for (const auto& f : folders) absl::StrAppend(&key, f.string(), "\n");
  // A walk with stat() is far cheaper than reading every byte.
  Sha256Stream fingerprint;
  for (const auto& folder : folders) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(folder, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      auto mtime = fs::last_write_time(it->path(), ec).time_since_epoch().count();
      uint64_t size = it->file_size(ec);
      total += ec ? 0 : size;
      fingerprint.Update(absl::StrCat(it->path().string(), "|", size, "|", mtime, "\n"));
    }
    if (ec) break;  // FoldersHash below reports the problem precisely
  }
  std::string print = fingerprint.FinalHex();
  {
    absl::MutexLock lock(&hash_mu_);
    auto it = hash_cache_.find(key);
    if (it != hash_cache_.end() && it->second.first == print) return it->second.second;
  }
  HashOptions reporting = options;
  uint64_t done = 0;
  if (progress) {
    progress(0, total);
    reporting.on_read = [&](uint64_t bytes) {
      done += bytes;
      progress(done, total);
    };
  }
  ASSIGN_OR_RETURN(std::string hash, FoldersHash(folders, reporting));
  absl::MutexLock lock(&hash_mu_);
  hash_cache_[key] = {print, hash};
  return hash;
}

absl::StatusOr<LocalContainer> Site::FetchContainer(const Container& container) {
  // The site's policy comes first: an invalid or not allow-listed container is neither
  // downloaded nor hashed (container_policy.h).
  RETURN_IF_ERROR(CheckValid(container));
  std::string label = absl::StrCat("container ", container.id.value(), " (", container.name, ")");
  LocalContainer local;
  local.name = container.name;
  local.id = container.id;
  ASSIGN_OR_RETURN(local.config, ParseContainerConfig(container.container_config.dump(), label));
  RETURN_IF_ERROR(CheckRunnable(container, local.config, config_.sandbox));

  fs::path dir = config_.state_dir / "containers" / std::to_string(container.id.value());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  if (!container.parameters_config.is_null()) {
    local.parameters_file = dir / "parameters.yaml";
    RETURN_IF_ERROR(
        WriteFileAtomically(local.parameters_file, JsonToYaml(container.parameters_config)));
  }
  if (!container.additional_files_tarball_url.empty()) {
    if (container.additional_files_tarball_hash.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(label,
                       ": additional files have no hash on the server; refusing to run "
                       "unverified files"));
    }
    ASSIGN_OR_RETURN(local.additional_files,
                     assets_.FetchExtracted(absl::StrCat("additional files of ", label),
                                            container.additional_files_tarball_url,
                                            container.additional_files_tarball_hash));
    local.additional_files_origin =
        absl::StrCat("extracted from ", container.additional_files_tarball_url, " into ",
                     local.additional_files.string());
  } else {
    local.additional_files_origin =
        absl::StrCat(label, " has no additional files registered on the server");
  }
  if (local.config.type == ContainerType::kDockerArchive ||
      local.config.type == ContainerType::kSingularityFile) {
    ASSIGN_OR_RETURN(Asset image, assets_.Fetch(absl::StrCat("image of ", label),
                                                local.config.image, container.image_hash));
    local.image_file = image.path;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Runner> runner, RunnerFor(local));
  ASSIGN_OR_RETURN(local.image_hash, runner->ImageHash(local.config, local.image_file));
  RETURN_IF_ERROR(CheckLocalImageHash(container, local.config, config_.sandbox, local.image_hash));
  if (!container.image_hash.empty() &&
      ComparableSha256(container.image_hash) != ComparableSha256(local.image_hash)) {
    return absl::FailedPreconditionError(
        absl::StrCat(label, ": image hash mismatch: the server registered ", container.image_hash,
                     " but the image here hashes to ", local.image_hash,
                     "; the container was changed after registration, refusing to run it"));
  }

  storage::ContainerRecord record;
  record.id = container.id;
  record.name = container.name;
  record.server_json = ToFullJson(container).dump();
  record.image_hash = local.image_hash;
  record.additional_files_hash = container.additional_files_tarball_hash;
  record.last_used_at = storage::NowTimestamp();
  RETURN_IF_ERROR(store_.PutContainer(record));
  return local;
}

absl::StatusOr<LocalContainer> Site::LoadLocalContainer(const fs::path& path) {
  fs::path config_file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const char* candidate : {"container_config.yaml", "mlcube.yaml", "mlcube/mlcube.yaml"}) {
      if (fs::exists(path / candidate)) {
        config_file = path / candidate;
        break;
      }
    }
    if (config_file == path) {
      return absl::NotFoundError(
          absl::StrCat(path.string(), ": no container_config.yaml or mlcube.yaml in this folder"));
    }
  } else if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("container config ", path.string(), " does not exist"));
  }
  LocalContainer local;
  ASSIGN_OR_RETURN(local.config, LoadContainerConfigFile(config_file));
  fs::path dir = config_file.parent_path();
  local.name = absl::StrCat("local_", dir.filename().string());

  // MedPerf's layout (mlcommons/medperf examples/chestxray_tutorial/model_custom_cnn):
  // workspace/parameters.yaml and workspace/additional_files/ beside the config, or
  // beside the `mlcube/` folder of a legacy mlcube.yaml; also parameters.yaml and
  // additional_files/ (or additional_files.tar.gz) right beside the config. The first
  // filled folder wins, in the order listed in docs/runners.md.
  std::vector<fs::path> roots = {dir};
  if (local.config.format == ContainerConfig::Format::kLegacyMlcube && dir.filename() == "mlcube") {
    roots.push_back(dir.parent_path());
  }
  std::vector<fs::path> folders;
  for (const fs::path& root : roots) {
    folders.push_back(root / "additional_files");
    folders.push_back(root / "workspace" / "additional_files");
  }
  if (local.config.format == ContainerConfig::Format::kLegacyMlcube) {
    local.parameters_file = local.config.legacy_parameters_file;
  }
  for (const fs::path& root : roots) {
    for (const char* candidate : {"parameters.yaml", "workspace/parameters.yaml"}) {
      if (local.parameters_file.empty() && fs::is_regular_file(root / candidate, ec)) {
        local.parameters_file = root / candidate;
      }
    }
  }
  // The container reads the parameters file, not we; but a repeated key means something
  // different to each YAML reader, so it is refused here as `container submit` refuses
  // it (issue 13 item 5), naming the key and both lines.
  if (!local.parameters_file.empty()) {
    ASSIGN_OR_RETURN(std::string text,
                     ReadFileBounded(local.parameters_file, "the parameters file", 1 << 20));
    RETURN_IF_ERROR(YamlToJson(text, local.parameters_file.string()).status());
  }
  // An empty folder (a placeholder left by a download script) loses to a filled one and
  // to an additional_files.tar.gz beside the config. Dot files (.gitkeep, .DS_Store) are
  // what an empty folder keeps in a repository.
  auto filled = [&](const fs::path& folder) {
    if (!fs::is_directory(folder, ec)) return false;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (!entry.path().filename().string().starts_with(".")) return true;
    }
    return false;
  };
  for (const fs::path& folder : folders) {
    if (filled(folder)) {
      local.additional_files = folder;
      local.additional_files_origin = absl::StrCat("from ", folder.string());
      break;
    }
  }
  if (local.additional_files.empty()) {
    fs::path tarball = dir / "additional_files.tar.gz";
    if (fs::is_regular_file(tarball, ec)) {
      ASSIGN_OR_RETURN(local.additional_files,
                       assets_.FetchExtracted(absl::StrCat("additional files of ", local.name),
                                              tarball.string()));
      local.additional_files_origin = absl::StrCat("extracted from ", tarball.string());
    } else {
      std::vector<std::string> looked;
      for (const fs::path& f : folders) looked.push_back(f.string());
      looked.push_back(tarball.string());
      local.additional_files_origin = absl::StrCat("looked in ", absl::StrJoin(looked, ", "));
    }
  }
  if (local.config.type == ContainerType::kDockerArchive ||
      local.config.type == ContainerType::kSingularityFile) {
    std::string image = local.config.image;
    if (!IsAssetUrl(image) && fs::path(image).is_relative()) image = (dir / image).string();
    ASSIGN_OR_RETURN(Asset asset, assets_.Fetch(absl::StrCat("image of ", local.name), image));
    local.image_file = asset.path;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Runner> runner, RunnerFor(local));
  absl::StatusOr<std::string> hash = runner->ImageHash(local.config, local.image_file);
  if (!hash.ok()) {
    // "needs docker" alone does not say why docker was not used (runner: auto without a
    // reachable engine, or a configured sandbox).
    return absl::Status(hash.status().code(), absl::StrCat(hash.status().message(), " (runner ",
                                                           RunnerChoice(local), ")"));
  }
  local.image_hash = *hash;
  return local;
}

}  // namespace medperf::daemon

namespace medperf::daemon {

absl::Status Site::CheckFreeSpace(const std::string& what) {
  const uint64_t min_free = config_.storage.min_free_bytes;
  reserve_.Ensure(min_free);
  if (min_free == 0) return absl::OkStatus();
  absl::StatusOr<uint64_t> free = FreeBytes(config_.state_dir);
  if (!free.ok() || *free >= min_free) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "not enough free space to run ", what, ": the state directory ", config_.state_dir.string(),
      " has ", DescribeBytes(*free), " free and storage.min_free asks for ",
      DescribeBytes(min_free),
      "; free some space on that filesystem (or lower storage.min_free in medperfd's config) "
      "and run the command again"));
}

}  // namespace medperf::daemon
