#include "runners/apptainer_runner.h"

#include "absl/strings/str_cat.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "runners/image_unpack.h"
#include "runners/runner_factory.h"
#include "runners/subprocess.h"

extern char** environ;

namespace medperf {
namespace fs = std::filesystem;

absl::StatusOr<ApptainerCommand> BuildApptainerCommand(const ApptainerRunSpec& spec) {
  ApptainerCommand out;
  out.argv = {spec.executable, spec.entrypoint ? "exec" : "run", "-eC"};
  for (const auto& m : spec.mounts) {
    for (const std::string& p : {m.host_path.string(), m.mount_path}) {
      if (p.find_first_of(":,") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "apptainer cannot bind '", p, "': paths containing ':' or ',' are not supported"));
      }
    }
    out.argv.insert(out.argv.end(), {"--bind", absl::StrCat(m.host_path.string(), ":", m.mount_path,
                                                            m.read_only ? ":ro" : ":rw")});
  }
  if (!spec.gpus.empty()) {
    if (spec.gpus != "all" && !spec.gpus.starts_with("device=")) {
      return absl::InvalidArgumentError(
          absl::StrCat("a GPU count ('", spec.gpus,
                       "') is not supported by apptainer; use 'all' or 'device=<ids>'"));
    }
    out.argv.push_back("--nv");
    if (spec.gpus.starts_with("device=")) {
      out.env.push_back(absl::StrCat("APPTAINERENV_CUDA_VISIBLE_DEVICES=", spec.gpus.substr(7)));
      out.env.push_back(absl::StrCat("SINGULARITYENV_CUDA_VISIBLE_DEVICES=", spec.gpus.substr(7)));
    }
  }
  if (!spec.allow_network) out.argv.insert(out.argv.end(), {"--net", "--network", "none"});
  out.argv.push_back(spec.sif.string());
  if (spec.entrypoint) out.argv.push_back(*spec.entrypoint);
  out.argv.insert(out.argv.end(), spec.command.begin(), spec.command.end());
  for (const auto& [k, v] : spec.env) {
    out.env.push_back(absl::StrCat("APPTAINERENV_", k, "=", v));
    out.env.push_back(absl::StrCat("SINGULARITYENV_", k, "=", v));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ApptainerRunner>> ApptainerRunner::Create(ApptainerOptions options) {
  if (options.executable.empty()) options.executable = FindApptainer();
  if (options.executable.empty() || FindExecutable(options.executable).empty()) {
    return absl::FailedPreconditionError("neither apptainer nor singularity was found on PATH");
  }
  if (options.image_dir.empty()) options.image_dir = fs::temp_directory_path() / "medperf-sif";
  return std::unique_ptr<ApptainerRunner>(new ApptainerRunner(std::move(options)));
}

absl::StatusOr<fs::path> ApptainerRunner::SifPath(const ContainerConfig& config,
                                                  const fs::path& image_file) {
  switch (config.type) {
    case ContainerType::kSingularityFile:
      return image_file.empty() ? fs::path(config.image) : image_file;
    case ContainerType::kDockerImage:
      return options_.image_dir / absl::StrCat(Sha256Hex(config.image), ".sif");
    case ContainerType::kDockerArchive: {
      ASSIGN_OR_RETURN(std::string hex,
                       CachedFileSha256(image_file.empty() ? fs::path(config.image) : image_file));
      return options_.image_dir / absl::StrCat(hex, ".sif");
    }
    case ContainerType::kLocalProcess:
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("container '", config.source,
                   "' is a LocalProcess container, which runs only in the sandbox"));
}

absl::Status ApptainerRunner::Prepare(const ContainerConfig& config, const fs::path& image_file) {
  ASSIGN_OR_RETURN(fs::path sif, SifPath(config, image_file));
  std::error_code ec;
  if (fs::exists(sif, ec)) return absl::OkStatus();
  if (config.type == ContainerType::kSingularityFile) {
    return absl::NotFoundError(absl::StrCat("image file '", sif.string(), "' not found"));
  }
  fs::create_directories(options_.image_dir, ec);
  std::string source =
      config.type == ContainerType::kDockerImage
          ? absl::StrCat("docker://", config.image)
          : absl::StrCat("docker-archive://",
                         (image_file.empty() ? fs::path(config.image) : image_file).string());
  fs::path tmp = sif;
  tmp += ".tmp";
  ASSIGN_OR_RETURN(CaptureResult build,
                   RunCapture({options_.executable, "build", "--force", tmp.string(), source},
                              std::chrono::minutes(60)));
  if (build.exit_code != 0) {
    fs::remove(tmp, ec);
    return absl::UnavailableError(
        absl::StrCat(options_.executable, " build ", source, " failed: ", build.output));
  }
  fs::rename(tmp, sif, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot store ", sif.string(), ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ApptainerRunner::ImageHash(const ContainerConfig& config,
                                                       const fs::path& image_file) {
  if (config.type == ContainerType::kDockerImage) {
    return absl::UnimplementedError(
        "the registry digest of a DockerImage cannot be computed without docker here");
  }
  return CachedFileSha256(image_file.empty() ? fs::path(config.image) : image_file);
}

absl::StatusOr<ApptainerRunSpec> ApptainerRunner::MakeSpec(const ContainerConfig& config,
                                                           const TaskRun& run,
                                                           const fs::path& sif) {
  ASSIGN_OR_RETURN(std::vector<ResolvedMount> mounts, ResolveMounts(config, run));
  const TaskSpec& task = *config.FindTask(run.task);
  ApptainerRunSpec spec;
  spec.executable = options_.executable;
  spec.sif = sif;
  spec.mounts = std::move(mounts);
  spec.allow_network = run.allow_network;
  spec.gpus = run.gpus.empty() ? task.gpus : run.gpus;
  spec.env = task.environment;
  for (const auto& [k, v] : run.env) spec.env[k] = v;
  spec.entrypoint = task.entrypoint;
  spec.command = task.command;
  return spec;
}

absl::StatusOr<TaskOutcome> ApptainerRunner::Run(const ContainerConfig& config,
                                                 const TaskRun& run) {
  RETURN_IF_ERROR(Prepare(config, run.image_file));
  ASSIGN_OR_RETURN(fs::path sif, SifPath(config, run.image_file));
  ASSIGN_OR_RETURN(ApptainerRunSpec spec, MakeSpec(config, run, sif));
  ASSIGN_OR_RETURN(ApptainerCommand built, BuildApptainerCommand(spec));
  SupervisedCommand command;
  command.argv = std::move(built.argv);
  command.inherit_env = false;
  for (char** e = environ; *e; ++e) command.env.emplace_back(*e);
  command.env.insert(command.env.end(), built.env.begin(), built.env.end());
  command.log_file = run.log_file;
  command.on_output = run.on_output;
  command.time_limit = run.time_limit;
  command.cancel = run.cancel;
  return RunSupervised(command);
}

}  // namespace medperf
