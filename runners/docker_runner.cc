#include "runners/docker_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/absl_view.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "runners/image_unpack.h"
#include "runners/output_check.h"
#include "runners/subprocess.h"

namespace medperf {
namespace fs = std::filesystem;
namespace {

bool AllDigits(absl::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// "all", a positive count, or device=<ids>; ids are indexes or UUIDs ("GPU-…", "MIG-…").
bool ValidGpus(absl::string_view gpus) {
  if (gpus.empty() || gpus == "all") return true;
  if (AllDigits(gpus)) return true;
  if (!absl::ConsumePrefix(&gpus, "device=")) return false;
  for (absl::string_view id : absl::StrSplit(gpus, ',')) {
    if (id.empty()) return false;
    for (char c : id) {
      if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != ':' && c != '/' && c != '.') {
        return false;
      }
    }
  }
  return true;
}

// docker's RAMInBytes form: a number, optional fraction, optional unit (b k m g t p),
// optional "i" and "b" ("512m", "1.5g", "2GiB", "1073741824").
bool ValidSize(absl::string_view s) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
    return i > start;
  };
  if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  absl::string_view unit = s.substr(i);
  if (unit.empty()) return true;
  std::string u = absl::AsciiStrToLower(unit);
  static const char* kUnits[] = {"b",  "k",  "m",  "g",   "t",   "p",   "kb",  "mb",
                                 "gb", "tb", "pb", "kib", "mib", "gib", "tib", "pib"};
  return std::any_of(std::begin(kUnits), std::end(kUnits), [&](const char* k) { return u == k; });
}

// Container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; task names come from the config.
std::string SafeNamePart(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) {
    out += (absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-') ? c : '_';
  }
  return out.empty() ? "task" : out;
}

}  // namespace

TaskIdentity EngineTaskIdentity(const TaskIdentity& identity) {
  TaskIdentity out = identity;
  if (out.uid == 0) {
    if (::geteuid() != 0) {
      out.uid = ::geteuid();
      out.gid = ::getegid();
    } else {
      out.uid = kNobodyId;
      out.gid = kNobodyId;
    }
  }
  // The root group can read files that are root:root 0640; a task never gets it.
  if (out.gid == 0) out.gid = kNobodyId;
  out.switch_user = out.uid != ::geteuid() || out.gid != ::getegid();
  return out;
}

absl::Status CheckRunArgsForEngine(const ContainerConfig& config, const std::string& task_name,
                                   const std::string& run_gpus) {
  const TaskSpec* task = config.FindTask(task_name);
  if (task == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("container '", config.source, "' has no task '", task_name, "'"));
  }
  std::string where =
      absl::StrCat("container '", config.source, "': tasks.", task_name, ".run_args.");
  if (!ValidGpus(task->gpus)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "gpus: '", task->gpus, "' is not a count, 'all' or 'device=<ids>'"));
  }
  if (!ValidGpus(run_gpus)) {
    return absl::InvalidArgumentError(absl::StrCat("the site's GPU setting '", run_gpus,
                                                   "' is not a count, 'all' or 'device=<ids>'"));
  }
  if (!task->shm_size.empty() && !ValidSize(task->shm_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "shm_size: '", task->shm_size,
                     "' is not a size (expected e.g. 512m, 1g or a byte count)"));
  }
  for (const auto& [name, value] : task->environment) {
    if (name.empty() || name.find_first_of(std::string_view("\0\n=", 3)) != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "environment: variable '", absl::CEscape(name),
                       "' is not allowed (names must be non-empty, without '=', NUL or newline)"));
    }
    if (absl::StartsWith(absl::AsciiStrToUpper(name), "NVIDIA_")) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "environment.", name,
          " is not allowed: NVIDIA_* variables make the NVIDIA container runtime expose GPUs "
          "and driver capabilities; GPUs are granted only through run_args.gpus and the "
          "site's policy"));
    }
  }
  // A registry reference lands in docker's argv; one starting with '-' would be parsed
  // as a flag. (Archive and .sif images are local files the runner resolves itself.)
  if (config.type == ContainerType::kDockerImage &&
      (config.image.empty() || config.image.front() == '-' ||
       std::any_of(config.image.begin(), config.image.end(),
                   [](char c) { return absl::ascii_iscntrl(c) || c == ' '; }))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "container '", config.source, "': image '", absl::CEscape(config.image),
        "' is not an image reference (it must not be empty, start with '-' or contain spaces)"));
  }
  return absl::OkStatus();
}

absl::Status CheckEngineMount(const ResolvedMount& mount, std::string_view engine) {
  const std::string host = mount.host_path.string();
  for (const std::string* p : {&host, &mount.mount_path}) {
    if (p->find_first_of(":,") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(AV(engine), " cannot mount '", *p,
                                                     "' (volume '", mount.name,
                                                     "'): paths containing ':' or ',' are not "
                                                     "supported"));
    }
  }
  fs::path inside = fs::path(mount.mount_path).lexically_normal();
  std::string normal = inside.string();
  bool kernel = false;
  for (const char* dir : {"/proc", "/sys", "/dev"}) {
    if (normal == dir || absl::StartsWith(normal, absl::StrCat(dir, "/"))) kernel = true;
  }
  if (!inside.is_absolute() || normal == "/" || kernel) {
    return absl::InvalidArgumentError(
        absl::StrCat("volume '", mount.name, "' has mount path '", mount.mount_path,
                     "': it must be an absolute path other than '/' and outside /proc, /sys "
                     "and /dev"));
  }
  return absl::OkStatus();
}

absl::Status GiveOutputsTo(const std::vector<ResolvedMount>& mounts, const TaskIdentity& owner) {
  if (::geteuid() != 0) return absl::OkStatus();
  for (const ResolvedMount& m : mounts) {
    if (m.read_only) continue;
    struct stat st;
    if (::lstat(m.host_path.c_str(), &st) != 0) {
      return absl::InternalError(absl::StrCat("output volume '", m.name, "': cannot stat '",
                                              m.host_path.string(), "': ", std::strerror(errno)));
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::InternalError(absl::StrCat("output volume '", m.name, "': host path '",
                                              m.host_path.string(),
                                              "' is a symbolic link; outputs must be fresh "
                                              "directories or files"));
    }
    if (st.st_uid == owner.uid && st.st_gid == owner.gid) continue;
    if (::fchownat(AT_FDCWD, m.host_path.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return absl::InternalError(absl::StrCat("output volume '", m.name, "': cannot give '",
                                              m.host_path.string(), "' to uid ", owner.uid, ": ",
                                              std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

std::function<std::pair<std::string, std::string>()> OutputCapTick(std::vector<fs::path> outputs,
                                                                   uint64_t output_bytes,
                                                                   const std::string& task,
                                                                   OutputMeasure unreadable) {
  if (output_bytes == 0 || outputs.empty()) return {};
  return [outputs = std::move(outputs), output_bytes, task, unreadable = std::move(unreadable),
          ticks = 0]() mutable -> std::pair<std::string, std::string> {
    // Every other tick: walking a large output tree costs more than the check is worth.
    if (++ticks % 2 != 0) return {};
    absl::StatusOr<uint64_t> used = OutputBytes(outputs);
    if (!used.ok() && absl::IsPermissionDenied(used.status()) && unreadable) {
      used = unreadable(outputs);
    }
    if (!used.ok()) {
      // An output the daemon cannot measure (nested past the walk's depth, made
      // unreadable) cannot be held to its cap: it counts as over it.
      return {"output", absl::StrCat("its outputs could not be measured against limits.", task,
                                     ".output = ", DescribeBytes(output_bytes), ": ",
                                     used.status().message())};
    }
    // Reaching the cap counts: the largest-file rlimit equals it, and a task whose
    // writes are refused there does not always die of SIGXFSZ (through docker's bind
    // mounts the write fails with an error the task may ignore and retry forever).
    if (*used >= output_bytes) {
      return {"output", absl::StrCat("its outputs reached ", DescribeBytes(*used), ", over limits.",
                                     task, ".output = ", DescribeBytes(output_bytes))};
    }
    return {};
  };
}

std::function<std::pair<std::string, std::string>()> OutputCapTick(
    const std::vector<ResolvedMount>& mounts, uint64_t output_bytes, const std::string& task) {
  std::vector<fs::path> outputs;
  for (const ResolvedMount& m : mounts) {
    if (!m.read_only) outputs.push_back(m.host_path);
  }
  return OutputCapTick(std::move(outputs), output_bytes, task);
}

absl::StatusOr<std::vector<std::string>> BuildDockerRunArgs(const DockerRunSpec& spec) {
  // A task never runs as root inside the container: root there is root on the host's
  // kernel, one bug away from the host.
  std::vector<std::string> ids = absl::StrSplit(spec.user, ':');
  if (ids.size() != 2 || !AllDigits(ids[0]) || !AllDigits(ids[1])) {
    return absl::InvalidArgumentError(
        absl::StrCat("docker task user '", spec.user, "' is not a numeric uid:gid"));
  }
  uint64_t uid = 0, gid = 0;
  if (!absl::SimpleAtoi(ids[0], &uid) || !absl::SimpleAtoi(ids[1], &gid) || uid == 0 || gid == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "docker task user '", spec.user, "' is root (uid or gid 0); tasks never run as root"));
  }
  if (spec.image.empty() || spec.image.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("'", spec.image, "' is not a docker image reference"));
  }
  if (!ValidGpus(spec.gpus)) {
    return absl::InvalidArgumentError(absl::StrCat("bad gpus value '", spec.gpus, "'"));
  }
  if (!spec.shm_size.empty() && !ValidSize(spec.shm_size)) {
    return absl::InvalidArgumentError(absl::StrCat("bad shm_size value '", spec.shm_size, "'"));
  }
  const TaskLimits& limits = spec.limits;
  std::vector<std::string> argv = {spec.docker};
  if (!spec.host.empty()) argv.insert(argv.end(), {"--host", spec.host});
  argv.insert(argv.end(),
              {"run", "--name", spec.container_name,
               // The image was pulled (and hashed) by Prepare; never
               // let `run` fetch another one.
               "--pull", "never", "--user", spec.user,
               // No capabilities, no setuid gains, nothing written
               // outside the outputs and a private /tmp.
               "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only"});
  bool tmp_claimed = std::any_of(spec.mounts.begin(), spec.mounts.end(), [](const auto& m) {
    return fs::path(m.mount_path).lexically_normal() == "/tmp";
  });
  if (!tmp_claimed) {
    // docker's tmpfs defaults include noexec; models (JIT compilers, triton) run code
    // they write to /tmp, and noexec adds nothing against an image that is itself
    // untrusted code.
    std::string tmpfs = "/tmp:rw,exec,nosuid,nodev";
    if (limits.tmp_bytes > 0) absl::StrAppend(&tmpfs, ",size=", limits.tmp_bytes);
    argv.insert(argv.end(), {"--tmpfs", tmpfs});
  }
  // A private IPC namespace nobody can join; the daemon keeps the log (capped), so
  // docker must not keep its own unbounded copy under /var/lib/docker.
  argv.insert(argv.end(), {"--ipc", "private", "--log-driver", "none", "--ulimit", "core=0"});
  uint64_t largest_file =
      limits.output_bytes == 0 ? 0 : std::max(limits.output_bytes, limits.tmp_bytes);
  if (largest_file > 0) {
    argv.insert(argv.end(), {"--ulimit", absl::StrCat("fsize=", largest_file)});
  }
  if (!spec.allow_network) argv.insert(argv.end(), {"--network", "none"});
  if (limits.memory_bytes > 0) {
    // --memory-swap is memory plus swap: equal means no swap beyond the memory limit.
    argv.insert(argv.end(), {"--memory", absl::StrCat(limits.memory_bytes), "--memory-swap",
                             absl::StrCat(limits.memory_bytes)});
  }
  if (limits.max_processes > 0) {
    argv.insert(argv.end(), {"--pids-limit", absl::StrCat(limits.max_processes)});
  }
  if (limits.cpus > 0) argv.insert(argv.end(), {"--cpus", absl::StrCat(limits.cpus)});
  for (const auto& m : spec.mounts) {
    RETURN_IF_ERROR(CheckEngineMount(m, "docker"));
    argv.insert(argv.end(), {"--volume", absl::StrCat(m.host_path.string(), ":", m.mount_path,
                                                      m.read_only ? ":ro" : ":rw")});
  }
  if (!spec.gpus.empty()) {
    // docker wants a device list quoted so its CSV parser keeps the commas.
    argv.insert(argv.end(),
                {"--gpus", spec.gpus.starts_with("device=") ? absl::StrCat("\"", spec.gpus, "\"")
                                                            : spec.gpus});
  }
  if (!spec.shm_size.empty()) argv.insert(argv.end(), {"--shm-size", spec.shm_size});
  for (const auto& [k, v] : spec.env) argv.insert(argv.end(), {"--env", absl::StrCat(k, "=", v)});
  // Where the NVIDIA runtime is docker's default, an image's own ENV could still ask
  // for GPUs; "void" makes the runtime behave like runc.
  if (spec.gpus.empty()) argv.insert(argv.end(), {"--env", "NVIDIA_VISIBLE_DEVICES=void"});
  if (spec.entrypoint) argv.insert(argv.end(), {"--entrypoint", *spec.entrypoint});
  argv.push_back(spec.image);
  argv.insert(argv.end(), spec.command.begin(), spec.command.end());
  return argv;
}

std::vector<std::string> DockerRunner::Cli(std::vector<std::string> args) const {
  std::vector<std::string> argv = {options_.docker};
  if (!options_.host.empty()) argv.insert(argv.end(), {"--host", options_.host});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

absl::StatusOr<std::unique_ptr<DockerRunner>> DockerRunner::Create(DockerOptions options) {
  std::string docker = FindExecutable(options.docker.empty() ? "docker" : options.docker);
  if (docker.empty()) {
    return absl::FailedPreconditionError("the docker CLI was not found on PATH");
  }
  options.docker = docker;
  options.identity = EngineTaskIdentity(options.identity);
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
  // The daemon fetches and hash-checks the archive and passes that copy; the config's
  // own `image` is only usable as it is when it already names a local file.
  fs::path file = image_file.empty() ? fs::path(config.image) : image_file;
  if (file.is_relative()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container '", config.source, "': the image archive '", config.image,
        "' was not fetched to a local file; register it with an http(s) URL or an absolute "
        "path the daemon can read"));
  }
  auto what = [&]() {
    return absl::StrCat("container '", config.source, "': image archive ", file.string());
  };
  absl::StatusOr<std::string> id = DockerArchiveImageId(file);
  if (!id.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what(), " cannot be run: ", id.status().message(),
                     "; rebuild it with `docker save -o <file> <image>` and register it again"));
  }
  // The id is the hash of the image's config, computed here: an engine that has an image
  // of that id has exactly this image. Asked every time (one `docker image inspect`), so
  // an image an operator removed (`docker image prune`) is loaded again; loads are
  // serialised so two tasks never load the same tarball at once.
  static std::mutex load_mu;
  std::lock_guard<std::mutex> lock(load_mu);
  auto present = [&]() -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(CaptureResult inspect,
                     RunCapture(Cli({"image", "inspect", "--format", "{{.Id}}", *id}),
                                std::chrono::seconds(60)));
    return inspect.exit_code == 0;
  };
  ASSIGN_OR_RETURN(bool have, present());
  if (have) return *id;
  // Loaded without its tags: the tarball's manifest may name any tag (`ubuntu:22.04`,
  // another container's image), and `docker load` would move it to this image.
  fs::path untagged;
  for (const fs::path& dir : {file.parent_path(), fs::temp_directory_path()}) {
    std::string tmpl = (dir / ".untagged-XXXXXX").string();
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) continue;
    ::close(fd);
    untagged = tmpl;
    break;
  }
  if (untagged.empty()) {
    return absl::InternalError(absl::StrCat(what(), ": no room for an untagged copy to load in ",
                                            file.parent_path().string(), " or ",
                                            fs::temp_directory_path().string()));
  }
  absl::Status copied = WriteUntaggedDockerArchive(file, untagged);
  absl::StatusOr<CaptureResult> load =
      copied.ok()
          ? RunCapture(Cli({"load", "-q", "-i", untagged.string()}), std::chrono::minutes(30))
          : absl::StatusOr<CaptureResult>(copied);
  std::error_code ec;
  fs::remove(untagged, ec);
  if (!load.ok()) {
    return absl::Status(load.status().code(), absl::StrCat(what(), ": ", load.status().message()));
  }
  if (load->exit_code != 0) {
    std::string output(absl::StripAsciiWhitespace(load->output));
    bool engine_down = absl::StrContains(output, "Cannot connect") ||
                       absl::StrContains(output, "connection refused") ||
                       absl::StrContains(output, "no space left");
    return absl::FailedPreconditionError(absl::StrCat(
        what(), ": `docker load` refused it: ", output,
        engine_down ? "; check that the docker engine is reachable and has space for the image"
                    : "; the tarball's layers do not match its config: rebuild it with "
                      "`docker save -o <file> <image>` and register it again"));
  }
  ASSIGN_OR_RETURN(have, present());
  if (!have) {
    return absl::FailedPreconditionError(
        absl::StrCat(what(), ": `docker load` did not produce image ", *id,
                     " (the SHA-256 of its config); the archive is inconsistent, rebuild it "
                     "with `docker save`"));
  }
  return *id;
}

absl::Status DockerRunner::Prepare(const ContainerConfig& config, const fs::path& image_file) {
  ASSIGN_OR_RETURN(std::string ref, ImageRef(config, image_file));
  if (config.type != ContainerType::kDockerImage) return absl::OkStatus();
  if (ref.empty() || ref.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("container '", config.source, "': '", ref, "' is not an image reference"));
  }
  ASSIGN_OR_RETURN(CaptureResult inspect,
                   RunCapture(Cli({"image", "inspect", ref}), std::chrono::seconds(60)));
  if (inspect.exit_code == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(CaptureResult pull, RunCapture(Cli({"pull", ref}), std::chrono::minutes(60)));
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
  ASSIGN_OR_RETURN(
      CaptureResult inspect,
      RunCapture(Cli({"image", "inspect", "--format",
                      "{{range .RepoDigests}}{{println .}}{{end}}{{.Id}}", config.image}),
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
                                                     const std::string& container_name) {
  ASSIGN_OR_RETURN(std::vector<ResolvedMount> mounts, ResolveMounts(config, run));
  RETURN_IF_ERROR(CheckRunArgsForEngine(config, run.task, run.gpus));
  for (const ResolvedMount& m : mounts) RETURN_IF_ERROR(CheckEngineMount(m, "docker"));
  const TaskSpec& task = *config.FindTask(run.task);
  DockerRunSpec spec;
  spec.docker = options_.docker;
  spec.host = options_.host;
  spec.container_name = container_name;
  spec.user = absl::StrCat(options_.identity.uid, ":", options_.identity.gid);
  if (config.type == ContainerType::kDockerImage) {
    spec.image = config.image;
  } else {
    ASSIGN_OR_RETURN(spec.image, ImageRef(config, run.image_file));
  }
  RETURN_IF_ERROR(GiveOutputsTo(mounts, options_.identity));
  spec.mounts = std::move(mounts);
  spec.allow_network = run.allow_network;
  spec.gpus = run.gpus.empty() ? task.gpus : run.gpus;
  spec.shm_size = task.shm_size;
  spec.env = task.environment;
  for (const auto& [k, v] : run.env) spec.env[k] = v;
  spec.entrypoint = task.entrypoint;
  spec.command = task.command;
  spec.limits = run.limits;
  // docker refuses --cpus above the cores it sees; a site default of "every core" on a
  // different machine must not make every task fail.
  unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && spec.limits.cpus > cores) spec.limits.cpus = cores;
  return spec;
}

absl::StatusOr<TaskOutcome> DockerRunner::Run(const ContainerConfig& config, const TaskRun& run) {
  RETURN_IF_ERROR(Prepare(config, run.image_file));
  std::random_device rd;
  std::string name =
      absl::StrCat("medperf-", SafeNamePart(run.task), "-",
                   absl::Hex(static_cast<uint64_t>(rd()) << 32 | rd(), absl::kZeroPad16));
  ASSIGN_OR_RETURN(DockerRunSpec spec, MakeSpec(config, run, name));
  ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildDockerRunArgs(spec));
  const TaskLimits& limits = run.limits;
  const std::string key = absl::StrCat("limits.", run.task, ".");
  SupervisedCommand command;
  command.argv = std::move(argv);
  command.log_file = run.log_file;
  // docker's own refusal to start, before any task code: no GPU runtime for --gpus.
  auto no_gpu_runtime = std::make_shared<std::atomic<bool>>(false);
  command.on_output = [no_gpu_runtime, forward = run.on_output](std::string_view line) {
    if (absl::StrContains(AV(line), "could not select device driver")) *no_gpu_runtime = true;
    if (forward) forward(line);
  };
  command.time_limit = std::chrono::duration_cast<std::chrono::milliseconds>(limits.wall_time);
  command.log_limit_bytes = limits.log_bytes;
  command.on_tick = OutputCapTick(spec.mounts, limits.output_bytes, run.task);
  command.cancel = run.cancel;
  // Killing the CLI does not stop the container; stop it first, like the client does.
  command.on_kill = [kill = Cli({"kill", name})]() {
    (void)RunCapture(kill, std::chrono::seconds(30));
  };
  auto outcome = RunSupervised(command);
  if (outcome.ok() && outcome->limit_hit.empty()) {
    // Not started with --rm, so the container's state is still there to ask about.
    auto inspect = RunCapture(Cli({"inspect", "--format", "{{.State.OOMKilled}}", name}),
                              std::chrono::seconds(60));
    if (inspect.ok() && inspect->exit_code == 0 &&
        absl::StripAsciiWhitespace(inspect->output) == "true") {
      outcome->limit_hit = "memory";
      outcome->limit_detail =
          absl::StrCat("it was killed at ", key, "memory = ", DescribeBytes(limits.memory_bytes));
    } else if (outcome->exit_code == 128 + SIGXFSZ && limits.output_bytes > 0 &&
               !outcome->timed_out && !outcome->cancelled) {
      // docker reports a container killed by signal N as exit code 128+N.
      outcome->limit_hit = "output";
      outcome->limit_detail =
          absl::StrCat("it wrote a file larger than ", key,
                       "output = ", DescribeBytes(std::max(limits.output_bytes, limits.tmp_bytes)));
    }
  }
  if (outcome.ok() && outcome->timed_out) {
    outcome->limit_detail = absl::StrCat(key, "time_seconds = ", limits.wall_time.count());
  }
  if (outcome.ok() && outcome->exit_code == 125 && *no_gpu_runtime && !spec.gpus.empty()) {
    (void)RunCapture(Cli({"rm", "--force", name}), std::chrono::seconds(60));
    return absl::FailedPreconditionError(absl::StrCat(
        "the docker engine", options_.host.empty() ? "" : absl::StrCat(" at ", options_.host),
        " has no GPU runtime, so it cannot start ", run.task, " with --gpus ", spec.gpus,
        " (the task gets GPUs from medperfd's policy.gpus and policy.gpu_tasks, or from the "
        "container's run_args.gpus); install the NVIDIA Container Toolkit on this host, or "
        "unset policy.gpus in medperfd's config; the container itself did not run"));
  }
  if (outcome.ok() && !outcome->ok() && outcome->limit_hit.empty() && !outcome->cancelled &&
      !outcome->timed_out && limits.max_processes > 0) {
    // --pids-limit fails fork/clone with EAGAIN instead of killing the task, and docker
    // does not report it (the container's pids cgroup is gone once it exits): only the
    // task's own errors can tell, so say which limit those would be.
    std::string note =
        absl::StrCat("[medperf] note: docker enforces ", key, "processes = ", limits.max_processes,
                     " with --pids-limit: a task that failed with EAGAIN from "
                     "fork or thread creation hit that limit");
    if (run.on_output) run.on_output(note);
    if (!run.log_file.empty()) {
      // The task's log is what the user reads (the daemon shows its last lines).
      if (FILE* log = std::fopen(run.log_file.c_str(), "a"); log != nullptr) {
        std::fprintf(log, "%s\n", note.c_str());
        std::fclose(log);
      }
    }
  }
  (void)RunCapture(Cli({"rm", "--force", name}), std::chrono::seconds(60));
  return outcome;
}

}  // namespace medperf
