#include "runners/apptainer_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "runners/docker_runner.h"
#include "runners/image_unpack.h"
#include "runners/runner_factory.h"
#include "runners/subprocess.h"
#include "runners/task_cgroup.h"

extern char** environ;

namespace medperf {
namespace fs = std::filesystem;

absl::StatusOr<ApptainerCommand> BuildApptainerCommand(const ApptainerRunSpec& spec) {
  ApptainerCommand out;
  // The engine is started as run_as by the supervisor (SupervisedCommand::switch_user),
  // so the task's files on the host belong to an unprivileged user.
  if (spec.run_as && (spec.run_as->uid == 0 || spec.run_as->gid == 0)) {
    return absl::InvalidArgumentError("apptainer tasks never run as root (uid or gid 0)");
  }
  // --containall: own PID/IPC namespaces, minimal /dev, no host $HOME, /tmp or cwd;
  // --cleanenv: none of the daemon's environment; --no-privs: no capabilities even for
  // a root engine.
  out.argv.insert(out.argv.end(), {spec.executable, spec.entrypoint ? "exec" : "run",
                                   "--containall", "--cleanenv", "--no-privs"});
  if (!spec.workdir.empty()) out.argv.insert(out.argv.end(), {"--workdir", spec.workdir.string()});
  if (spec.cgroup_limits) {
    const TaskLimits& limits = spec.limits;
    if (limits.memory_bytes > 0) {
      out.argv.insert(out.argv.end(), {"--memory", absl::StrCat(limits.memory_bytes),
                                       "--memory-swap", absl::StrCat(limits.memory_bytes)});
    }
    if (limits.max_processes > 0) {
      out.argv.insert(out.argv.end(), {"--pids-limit", absl::StrCat(limits.max_processes)});
    }
    if (limits.cpus > 0) out.argv.insert(out.argv.end(), {"--cpus", absl::StrCat(limits.cpus)});
  }
  for (const auto& m : spec.mounts) {
    RETURN_IF_ERROR(CheckEngineMount(m, "apptainer"));
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

bool ApptainerCgroupLimitsUsable(bool as_root) {
  std::error_code ec;
  bool v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers", ec);
  if (as_root) return v2 || fs::exists("/sys/fs/cgroup/memory", ec);
  // Unprivileged apptainer asks systemd for a delegated scope of the user's slice.
  return v2 && fs::exists("/run/systemd/system", ec);
}

absl::StatusOr<std::unique_ptr<ApptainerRunner>> ApptainerRunner::Create(ApptainerOptions options) {
  if (options.executable.empty()) options.executable = FindApptainer();
  if (options.executable.empty() || FindExecutable(options.executable).empty()) {
    return absl::FailedPreconditionError("neither apptainer nor singularity was found on PATH");
  }
  if (options.image_dir.empty()) options.image_dir = fs::temp_directory_path() / "medperf-sif";
  if (options.tmp_dir.empty()) options.tmp_dir = fs::temp_directory_path() / "medperf-apptainer";
  options.identity = EngineTaskIdentity(options.identity);
  if (!options.cgroup_limits) {
    options.cgroup_limits =
        DetectLimitEnforcement().cgroup_version.empty() &&
        ApptainerCgroupLimitsUsable(!options.identity.switch_user && ::geteuid() == 0);
  }
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
                                                           const TaskRun& run, const fs::path& sif,
                                                           const fs::path& workdir) {
  ASSIGN_OR_RETURN(std::vector<ResolvedMount> mounts, ResolveMounts(config, run));
  RETURN_IF_ERROR(CheckRunArgsForEngine(config, run.task, run.gpus));
  for (const ResolvedMount& m : mounts) RETURN_IF_ERROR(CheckEngineMount(m, "apptainer"));
  RETURN_IF_ERROR(GiveOutputsTo(mounts, options_.identity));
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
  if (options_.identity.switch_user) spec.run_as = options_.identity;
  spec.workdir = workdir;
  spec.limits = run.limits;
  spec.cgroup_limits = options_.cgroup_limits.value_or(false);
  return spec;
}

namespace {

// Where a root daemon's staged sources appear to the unprivileged engine: a tmpfs the
// child mounts in its own mount namespace (as the sandbox does), so nothing shows on
// the host. The engine's own temporary files go to the staged work dir, not here.
constexpr char kStageRoot[] = "/tmp";

struct FdCloser {
  std::vector<int> fds;
  ~FdCloser() {
    for (int fd : fds) ::close(fd);
  }
};

struct DirRemover {
  fs::path path;
  ~DirRemover() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

absl::Status MakeTaskDir(const fs::path& dir, const TaskIdentity& who) {
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("cannot create apptainer work dir '", dir.string(),
                                            "': ", std::strerror(errno)));
  }
  if (::geteuid() == 0 && ::chown(dir.c_str(), who.uid, who.gid) != 0) {
    return absl::InternalError(absl::StrCat("cannot give apptainer work dir '", dir.string(),
                                            "' to uid ", who.uid, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TaskOutcome> ApptainerRunner::Run(const ContainerConfig& config,
                                                 const TaskRun& run) {
  RETURN_IF_ERROR(Prepare(config, run.image_file));
  ASSIGN_OR_RETURN(fs::path sif, SifPath(config, run.image_file));
  const TaskIdentity& who = options_.identity;
  // A fresh work dir per run, owned by the task user: the task's /tmp, /var/tmp and
  // $HOME (--workdir) and the engine's own scratch space (engine-tmp).
  std::random_device rd;
  std::error_code ec;
  fs::create_directories(options_.tmp_dir, ec);
  fs::path run_dir =
      options_.tmp_dir /
      absl::StrCat("run-", absl::Hex(static_cast<uint64_t>(rd()) << 32 | rd(), absl::kZeroPad16));
  RETURN_IF_ERROR(MakeTaskDir(run_dir, who));
  DirRemover remove_run_dir{run_dir};
  RETURN_IF_ERROR(MakeTaskDir(run_dir / "engine-tmp", who));
  ASSIGN_OR_RETURN(ApptainerRunSpec spec, MakeSpec(config, run, sif, run_dir));
  std::vector<ResolvedMount> host_mounts = spec.mounts;  // for the output cap

  // A root daemon drops to the task user before starting the engine; that user may not
  // be able to traverse to the sources (the state directory is private), so the daemon
  // opens each one and the child binds it under a private staging tmpfs first.
  FdCloser fds;
  std::vector<SupervisedCommand::StageMount> stage;
  if (spec.run_as && ::geteuid() == 0) {
    auto staged = [&](const fs::path& host, bool is_dir, bool no_follow,
                      const std::string& leaf) -> absl::StatusOr<fs::path> {
      int fd = ::open(host.c_str(), O_PATH | O_CLOEXEC | (no_follow ? O_NOFOLLOW : 0));
      if (fd < 0) {
        return absl::NotFoundError(absl::StrCat("cannot open '", host.string(),
                                                "' for apptainer: ", std::strerror(errno)));
      }
      fds.fds.push_back(fd);
      std::string target = absl::StrCat(kStageRoot, "/", leaf);
      stage.push_back({fd, host.string(), no_follow, target, is_dir, false});
      return fs::path(target);
    };
    int i = 0;
    for (ResolvedMount& m : spec.mounts) {
      ASSIGN_OR_RETURN(m.host_path, staged(m.host_path, m.type == VolumeType::kDirectory,
                                           !m.read_only, absl::StrCat(i++)));
    }
    ASSIGN_OR_RETURN(spec.sif, staged(spec.sif, false, false, "image.sif"));
    ASSIGN_OR_RETURN(spec.workdir, staged(spec.workdir, true, true, "work"));
  }
  ASSIGN_OR_RETURN(ApptainerCommand built, BuildApptainerCommand(spec));

  const TaskLimits& limits = run.limits;
  const std::string key = absl::StrCat("limits.", run.task, ".");
  SupervisedCommand command;
  command.argv = std::move(built.argv);
  command.inherit_env = false;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    // The engine's $HOME and scratch space are the run's own, never the daemon's.
    if (kv.starts_with("HOME=") || kv.starts_with("APPTAINER_TMPDIR=") ||
        kv.starts_with("SINGULARITY_TMPDIR=")) {
      continue;
    }
    command.env.emplace_back(kv);
  }
  std::string engine_tmp = (spec.workdir / "engine-tmp").string();
  command.env.push_back(absl::StrCat("HOME=", spec.workdir.string()));
  command.env.push_back(absl::StrCat("APPTAINER_TMPDIR=", engine_tmp));
  command.env.push_back(absl::StrCat("SINGULARITY_TMPDIR=", engine_tmp));
  command.env.insert(command.env.end(), built.env.begin(), built.env.end());
  command.log_file = run.log_file;
  command.on_output = run.on_output;
  command.time_limit = std::chrono::duration_cast<std::chrono::milliseconds>(limits.wall_time);
  command.cancel = run.cancel;
  command.log_limit_bytes = limits.log_bytes;
  command.on_tick = OutputCapTick(host_mounts, limits.output_bytes, run.task);
  command.no_core_dumps = true;
  if (limits.output_bytes > 0) {
    command.rlimit_fsize = std::max(limits.output_bytes, limits.tmp_bytes);
  }
  command.switch_user = spec.run_as.has_value();
  command.uid = who.uid;
  command.gid = who.gid;
  command.stage = stage;
  command.stage_root = kStageRoot;

  // Limits: the daemon's own task cgroup where the host offers one (the engine and the
  // container stay in it), else apptainer's cgroup flags (in spec.cgroup_limits), else
  // rlimits on the engine, which the container inherits.
  std::unique_ptr<TaskCgroup> cgroup;
  if (!spec.cgroup_limits) {
    ASSIGN_OR_RETURN(cgroup, TaskCgroup::Create(limits));
  }
  const LimitEnforcement& enforcement = DetectLimitEnforcement();
  if (cgroup) command.cgroup_procs_fds = cgroup->procs_fds();
  bool memory_enforced = spec.cgroup_limits || (cgroup && enforcement.memory);
  bool pids_enforced = spec.cgroup_limits || (cgroup && enforcement.pids);
  // RLIMIT_AS breaks CUDA (it reserves huge address space), so not with GPUs.
  if (!memory_enforced && spec.gpus.empty()) command.rlimit_as_bytes = limits.memory_bytes;
  // RLIMIT_NPROC counts every process of the uid: only meaningful for a task user of
  // its own, never for a daemon running tasks as itself.
  if (!pids_enforced && command.switch_user) command.rlimit_nproc = limits.max_processes;

  ASSIGN_OR_RETURN(TaskOutcome outcome, RunSupervised(command));
  if (outcome.limit_hit.empty() && !outcome.cancelled && !outcome.timed_out &&
      outcome.exit_code != 0) {
    if (command.rlimit_fsize > 0 &&
        (outcome.signal == SIGXFSZ || outcome.exit_code == 128 + SIGXFSZ)) {
      outcome.limit_hit = "output";
      outcome.limit_detail = absl::StrCat("it wrote a file larger than ", key,
                                          "output = ", DescribeBytes(command.rlimit_fsize));
    } else if (cgroup && cgroup->MemoryLimitHit()) {
      outcome.limit_hit = "memory";
      outcome.limit_detail =
          absl::StrCat("it was killed at ", key, "memory = ", DescribeBytes(limits.memory_bytes));
    } else if (cgroup && cgroup->ProcessLimitHit()) {
      outcome.limit_hit = "processes";
      outcome.limit_detail =
          absl::StrCat("it tried to run more than ", key, "processes = ", limits.max_processes,
                       " processes/threads");
    }
  }
  if (outcome.timed_out) {
    outcome.limit_detail = absl::StrCat(key, "time_seconds = ", limits.wall_time.count());
  }
  return outcome;
}

}  // namespace medperf
