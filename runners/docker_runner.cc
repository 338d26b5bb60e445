#include "runners/docker_runner.h"

#include <unistd.h>

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "runners/image_unpack.h"
#include "runners/subprocess.h"

namespace medperf {
namespace fs = std::filesystem;
namespace {
inline absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }
}  // namespace

absl::StatusOr<std::vector<std::string>> BuildDockerRunArgs(const DockerRunSpec& spec) {
  std::vector<std::string> argv = {spec.docker, "run", "--name", spec.container_name, "--rm"};
  if (!spec.user.empty()) argv.insert(argv.end(), {"-u", spec.user});
  auto volume = [&](const std::string& host, const std::string& mount, bool ro) -> absl::Status {
    for (const std::string* p : {&host, &mount}) {
      if (p->find_first_of(":,") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "docker cannot mount '", *p, "': paths containing ':' or ',' are not supported"));
      }
    }
    argv.insert(argv.end(), {"--volume", absl::StrCat(host, ":", mount, ro ? ":ro" : ":rw")});
    return absl::OkStatus();
  };
  for (const auto& m : spec.mounts) {
    RETURN_IF_ERROR(volume(m.host_path.string(), m.mount_path, m.read_only));
  }
  if (!spec.tmp_dir.empty()) RETURN_IF_ERROR(volume(spec.tmp_dir.string(), "/tmp", false));
  if (!spec.allow_network) argv.insert(argv.end(), {"--network", "none"});
  if (!spec.gpus.empty()) {
    // docker wants a device list quoted so its CSV parser keeps the commas.
    argv.insert(argv.end(),
                {"--gpus", spec.gpus.starts_with("device=") ? absl::StrCat("\"", spec.gpus, "\"")
                                                            : spec.gpus});
  }
  if (!spec.shm_size.empty()) argv.insert(argv.end(), {"--shm-size", spec.shm_size});
  if (spec.memory_bytes > 0) {
    argv.insert(argv.end(), {"--memory", absl::StrCat(spec.memory_bytes)});
  }
  for (const auto& [k, v] : spec.env) argv.insert(argv.end(), {"--env", absl::StrCat(k, "=", v)});
  if (spec.entrypoint) argv.insert(argv.end(), {"--entrypoint", *spec.entrypoint});
  argv.push_back(spec.image);
  argv.insert(argv.end(), spec.command.begin(), spec.command.end());
  return argv;
}

absl::StatusOr<std::unique_ptr<DockerRunner>> DockerRunner::Create(DockerOptions options) {
  std::string docker = FindExecutable(options.docker.empty() ? "docker" : options.docker);
  if (docker.empty()) {
    return absl::FailedPreconditionError("the docker CLI was not found on PATH");
  }
  options.docker = docker;
  if (options.user.empty()) options.user = absl::StrCat(::getuid(), ":", ::getgid());
  if (options.tmp_dir.empty()) options.tmp_dir = fs::temp_directory_path() / "medperf-docker-tmp";
  return std::unique_ptr<DockerRunner>(new DockerRunner(std::move(options)));
}

absl::StatusOr<std::string> DockerRunner::ImageRef(const ContainerConfig& config,
                                                   const fs::path& image_file) {
  if (config.type == ContainerType::kDockerImage) return config.image;
  if (config.type != ContainerType::kDockerArchive) {
    return absl::FailedPreconditionError(absl::StrCat("container '", config.source, "' is a ",
                                                      AV(ContainerTypeName(config.type)),
                                                      " container, which docker cannot run"));
  }
  fs::path file = image_file.empty() ? fs::path(config.image) : image_file;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = loaded_archives_.find(file.string()); it != loaded_archives_.end())
    return it->second;
  ASSIGN_OR_RETURN(std::string tag, DockerArchiveRepoTag(file));
  ASSIGN_OR_RETURN(CaptureResult load, RunCapture({options_.docker, "load", "-i", file.string()},
                                                  std::chrono::minutes(30)));
  if (load.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("docker load -i ", file.string(), " failed: ", load.output));
  }
  loaded_archives_[file.string()] = tag;
  return tag;
}

absl::Status DockerRunner::Prepare(const ContainerConfig& config, const fs::path& image_file) {
  ASSIGN_OR_RETURN(std::string ref, ImageRef(config, image_file));
  if (config.type != ContainerType::kDockerImage) return absl::OkStatus();
  ASSIGN_OR_RETURN(CaptureResult inspect, RunCapture({options_.docker, "image", "inspect", ref},
                                                     std::chrono::seconds(60)));
  if (inspect.exit_code == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(CaptureResult pull,
                   RunCapture({options_.docker, "pull", ref}, std::chrono::minutes(60)));
  if (pull.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("docker pull ", ref, " failed: ", pull.output));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DockerRunner::ImageHash(const ContainerConfig& config,
                                                    const fs::path& image_file) {
  if (config.type == ContainerType::kDockerArchive) {
    return CachedFileSha256(image_file.empty() ? fs::path(config.image) : image_file);
  }
  RETURN_IF_ERROR(Prepare(config, image_file));
  // The registry digest (what the MedPerf client stores); a locally built image has
  // none, and then its content id is the best identity there is.
  ASSIGN_OR_RETURN(CaptureResult inspect,
                   RunCapture({options_.docker, "image", "inspect", "--format",
                               "{{range .RepoDigests}}{{println .}}{{end}}{{.Id}}", config.image},
                              std::chrono::seconds(60)));
  if (inspect.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("docker image inspect ", config.image, " failed: ", inspect.output));
  }
  std::string id;
  for (absl::string_view line : absl::StrSplit(inspect.output, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (auto at = line.find("@sha256:"); at != absl::string_view::npos) {
      return std::string(line.substr(at + 1));
    }
    if (absl::StartsWith(line, "sha256:")) id = std::string(line);
  }
  if (id.empty()) return absl::UnavailableError("docker reported no image digest");
  return id;
}

absl::StatusOr<DockerRunSpec> DockerRunner::MakeSpec(const ContainerConfig& config,
                                                     const TaskRun& run,
                                                     const std::string& container_name,
                                                     const fs::path& tmp_dir) {
  ASSIGN_OR_RETURN(std::vector<ResolvedMount> mounts, ResolveMounts(config, run));
  const TaskSpec& task = *config.FindTask(run.task);
  DockerRunSpec spec;
  spec.docker = options_.docker;
  spec.container_name = container_name;
  spec.user = options_.user;
  if (config.type == ContainerType::kDockerImage) {
    spec.image = config.image;
  } else {
    ASSIGN_OR_RETURN(spec.image, ImageRef(config, run.image_file));
  }
  spec.mounts = std::move(mounts);
  spec.tmp_dir = tmp_dir;
  spec.allow_network = run.allow_network;
  spec.gpus = run.gpus.empty() ? task.gpus : run.gpus;
  spec.shm_size = task.shm_size;
  spec.env = task.environment;
  for (const auto& [k, v] : run.env) spec.env[k] = v;
  spec.entrypoint = task.entrypoint;
  spec.command = task.command;
  spec.memory_bytes = run.memory_limit_bytes;
  return spec;
}

absl::StatusOr<TaskOutcome> DockerRunner::Run(const ContainerConfig& config, const TaskRun& run) {
  RETURN_IF_ERROR(Prepare(config, run.image_file));
  std::random_device rd;
  std::string name =
      absl::StrCat("medperf-", run.task, "-",
                   absl::Hex(static_cast<uint64_t>(rd()) << 32 | rd(), absl::kZeroPad16));
  std::error_code ec;
  fs::path tmp = options_.tmp_dir / name;
  fs::create_directories(tmp, ec);
  ASSIGN_OR_RETURN(DockerRunSpec spec, MakeSpec(config, run, name, tmp));
  ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildDockerRunArgs(spec));
  SupervisedCommand command;
  command.argv = std::move(argv);
  command.log_file = run.log_file;
  command.on_output = run.on_output;
  command.time_limit = run.time_limit;
  command.cancel = run.cancel;
  std::string docker = options_.docker;
  // Killing the CLI does not stop the container; stop it first, like the client does.
  command.on_kill = [docker, name]() {
    (void)RunCapture({docker, "kill", name}, std::chrono::seconds(30));
  };
  auto outcome = RunSupervised(command);
  fs::remove_all(tmp, ec);
  return outcome;
}

}  // namespace medperf
