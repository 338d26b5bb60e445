#include "runners/sandbox_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "runners/image_unpack.h"
#include "runners/subprocess.h"

namespace medperf {
namespace fs = std::filesystem;
namespace {

inline absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Host top-level directories a LocalProcess task sees (read-only). Deliberately not
// /home, /root, /var, /srv, /mnt, /run (sockets such as docker.sock), /tmp.
const std::vector<std::string>& HostSystemDirs() {
  static const std::vector<std::string> dirs = {"usr",   "bin",    "sbin", "lib", "lib32",
                                                "lib64", "libx32", "etc",  "opt"};
  return dirs;
}

std::string FirstComponent(const std::string& absolute) {
  std::vector<std::string> parts = absl::StrSplit(absolute, '/', absl::SkipEmpty());
  return parts.empty() ? "" : parts[0];
}

// Creates a mount point inside an unpacked image root without following any symlink
// the image may contain (a hostile image could point /mlcommons at the host's /etc,
// and bwrap creates mount points before it pivots into the new root).
absl::Status EnsureMountPoint(const fs::path& root, const std::string& mount_path, bool is_dir) {
  std::vector<std::string> parts = absl::StrSplit(mount_path, '/', absl::SkipEmpty());
  int fd = ::open(root.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("cannot open image root '", root.string(), "'"));
  for (size_t i = 0; i < parts.size(); ++i) {
    const char* name = parts[i].c_str();
    bool last = i + 1 == parts.size();
    if (!last || is_dir) {
      if (::mkdirat(fd, name, 0755) != 0 && errno != EEXIST) {
        ::close(fd);
        return absl::InternalError(absl::StrCat("cannot create mount point ", mount_path,
                                                " in the image: ", std::strerror(errno)));
      }
      int next = ::openat(fd, name, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      ::close(fd);
      if (next < 0) {
        return absl::InvalidArgumentError(absl::StrCat("mount path ", mount_path,
                                                       " crosses a symlink or a non-directory ('",
                                                       parts[i], "') in the image"));
      }
      fd = next;
    } else {
      int file = ::openat(fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (file < 0) {
        struct stat st;
        bool ok = ::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
        ::close(fd);
        if (!ok) {
          return absl::InvalidArgumentError(
              absl::StrCat("mount path ", mount_path, " is a symlink or a directory in the image"));
        }
        return absl::OkStatus();
      }
      ::close(file);
    }
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::StatusOr<fs::path> ImageFile(const ContainerConfig& config, const fs::path& image_file) {
  if (!image_file.empty()) return image_file;
  if (!config.image.empty() && config.image.front() == '/') return fs::path(config.image);
  return absl::FailedPreconditionError(
      absl::StrCat("container '", config.source, "': image '", config.image,
                   "' must be fetched to a local file first (TaskRun::image_file)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SandboxRunner>> SandboxRunner::Create(SandboxOptions options) {
  std::string bwrap = FindExecutable(options.bwrap.empty() ? "bwrap" : options.bwrap);
  if (bwrap.empty()) {
    return absl::FailedPreconditionError(
        "bubblewrap ('bwrap') was not found on PATH; install the 'bubblewrap' package to run "
        "containers without a container engine");
  }
  if (options.image_cache_dir.empty()) {
    options.image_cache_dir = fs::temp_directory_path() / "medperf-images";
  }
  return std::unique_ptr<SandboxRunner>(new SandboxRunner(std::move(options), std::move(bwrap)));
}

absl::Status SandboxRunner::Prepare(const ContainerConfig& config, const fs::path& image_file) {
  switch (config.type) {
    case ContainerType::kLocalProcess: {
      struct stat st;
      if (::stat(config.image.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
          ::access(config.image.c_str(), X_OK) != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("container '", config.source, "': LocalProcess image '", config.image,
                         "' is not an executable file on this host"));
      }
      return absl::OkStatus();
    }
    case ContainerType::kDockerArchive: {
      ASSIGN_OR_RETURN(fs::path file, ImageFile(config, image_file));
      return UnpackImage(file, options_.image_cache_dir, options_.image_limits).status();
    }
    case ContainerType::kDockerImage:
    case ContainerType::kSingularityFile:
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("container '", config.source, "' is a ", AV(ContainerTypeName(config.type)),
                   " container, which needs docker or apptainer; the bubblewrap sandbox runs only "
                   "LocalProcess and DockerArchive containers"));
}

absl::StatusOr<std::string> SandboxRunner::ImageHash(const ContainerConfig& config,
                                                     const fs::path& image_file) {
  if (config.type == ContainerType::kLocalProcess) {
    ASSIGN_OR_RETURN(std::string hex, Sha256File(config.image));
    return absl::StrCat("sha256:", hex);
  }
  if (config.type == ContainerType::kDockerArchive) {
    ASSIGN_OR_RETURN(fs::path file, ImageFile(config, image_file));
    return CachedFileSha256(file);
  }
  return Prepare(config, image_file);  // the same explanation
}

absl::StatusOr<std::vector<std::string>> SandboxRunner::BuildCommand(const ContainerConfig& config,
                                                                     const TaskRun& run) {
  RETURN_IF_ERROR(Prepare(config, run.image_file));
  ASSIGN_OR_RETURN(std::vector<ResolvedMount> mounts, ResolveMounts(config, run));
  const TaskSpec& task = *config.FindTask(run.task);

  std::vector<std::string> argv = {bwrap_,
                                   "--die-with-parent",
                                   "--new-session",
                                   "--unshare-pid",
                                   "--unshare-ipc",
                                   "--unshare-uts",
                                   "--unshare-cgroup-try",
                                   "--hostname",
                                   "medperf",
                                   "--cap-drop",
                                   "ALL"};
  if (!run.allow_network) argv.push_back("--unshare-net");

  std::vector<std::string> program;
  std::vector<std::string> env = {absl::StrCat("PATH=", kDefaultPath), "HOME=/tmp", "TMPDIR=/tmp",
                                  "LANG=C.UTF-8"};
  std::string workdir = "/";
  if (config.type == ContainerType::kLocalProcess) {
    fs::path image(config.image);
    std::set<std::string> system_dirs;
    for (const auto& dir : HostSystemDirs()) {
      fs::path host = fs::path("/") / dir;
      std::error_code ec;
      auto st = fs::symlink_status(host, ec);
      if (fs::is_symlink(st)) {
        argv.insert(argv.end(), {"--symlink", fs::read_symlink(host, ec).string(), host.string()});
      } else if (fs::is_directory(st)) {
        argv.insert(argv.end(), {"--ro-bind", host.string(), host.string()});
      } else {
        continue;
      }
      system_dirs.insert(dir);
    }
    for (const char* secret : {"/etc/shadow", "/etc/gshadow"}) {
      if (::access(secret, F_OK) == 0) argv.insert(argv.end(), {"--ro-bind", "/dev/null", secret});
    }
    argv.insert(argv.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
    // The executable's own directory (scripts next to it), unless already visible.
    fs::path image_dir = image.parent_path();
    if (!system_dirs.contains(FirstComponent(image_dir.string()))) {
      if (image_dir == "/") {
        argv.insert(argv.end(), {"--ro-bind", image.string(), image.string()});
      } else {
        argv.insert(argv.end(), {"--ro-bind", image_dir.string(), image_dir.string()});
      }
    }
    for (const auto& m : mounts) {
      if (system_dirs.contains(FirstComponent(m.mount_path))) {
        std::error_code ec;
        if (!fs::exists(m.mount_path, ec)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "container '", config.source, "': task '", run.task, "': volume '", m.name,
              "' is mounted at ", m.mount_path, ", inside the host's read-only /",
              FirstComponent(m.mount_path),
              " where no mount point can be created; use a path such as /mlcommons/volumes/..."));
        }
      }
    }
    workdir = image_dir.string();
    program.push_back(task.entrypoint ? *task.entrypoint : image.string());
    if (task.has_command) program.insert(program.end(), task.command.begin(), task.command.end());
  } else {
    ASSIGN_OR_RETURN(fs::path file, ImageFile(config, run.image_file));
    ASSIGN_OR_RETURN(ImageRoot image,
                     UnpackImage(file, options_.image_cache_dir, options_.image_limits));
    for (const auto& m : mounts) {
      RETURN_IF_ERROR(
          EnsureMountPoint(image.rootfs, m.mount_path, m.type == VolumeType::kDirectory));
    }
    for (const char* dir : {"proc", "dev", "tmp"}) {
      RETURN_IF_ERROR(EnsureMountPoint(image.rootfs, absl::StrCat("/", dir), true));
    }
    argv.insert(argv.end(), {"--ro-bind", image.rootfs.string(), "/", "--proc", "/proc", "--dev",
                             "/dev", "--tmpfs", "/tmp"});
    for (const auto& e : image.env) env.push_back(e);
    if (!image.working_dir.empty()) {
      workdir = image.working_dir;
      // The working dir must exist in the read-only root.
      RETURN_IF_ERROR(EnsureMountPoint(image.rootfs, workdir, true));
    }
    if (task.entrypoint) {
      program.push_back(*task.entrypoint);
    } else {
      program = image.entrypoint;
    }
    if (task.has_command) {
      program.insert(program.end(), task.command.begin(), task.command.end());
    } else if (!task.entrypoint) {
      program.insert(program.end(), image.cmd.begin(), image.cmd.end());
    }
    if (program.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "container '", config.source, "': task '", run.task,
          "' has no command: the image declares no Entrypoint/Cmd and run_args has none"));
    }
  }
  for (const auto& m : mounts) {
    argv.insert(argv.end(),
                {m.read_only ? "--ro-bind" : "--bind", m.host_path.string(), m.mount_path});
  }
  for (const auto& [k, v] : task.environment) env.push_back(absl::StrCat(k, "=", v));
  for (const auto& [k, v] : run.env) env.push_back(absl::StrCat(k, "=", v));
  // bwrap's tmpfs root only needed to be writable for creating mount points.
  if (config.type == ContainerType::kLocalProcess) argv.insert(argv.end(), {"--remount-ro", "/"});
  argv.push_back("--clearenv");
  for (const auto& e : env) {
    auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    argv.insert(argv.end(), {"--setenv", e.substr(0, eq), e.substr(eq + 1)});
  }
  argv.insert(argv.end(), {"--chdir", workdir, "--"});
  argv.insert(argv.end(), program.begin(), program.end());
  return argv;
}

absl::StatusOr<TaskOutcome> SandboxRunner::Run(const ContainerConfig& config, const TaskRun& run) {
  ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildCommand(config, run));
  SupervisedCommand command;
  command.argv = std::move(argv);
  command.log_file = run.log_file;
  command.on_output = run.on_output;
  command.time_limit = run.time_limit;
  command.cancel = run.cancel;
  command.rlimit_as_bytes = run.memory_limit_bytes;
  command.rlimit_cpu_seconds = static_cast<uint64_t>(run.cpu_time_limit.count());
  const TaskSpec& task = *config.FindTask(run.task);
  std::string gpus = run.gpus.empty() ? task.gpus : run.gpus;
  if (!gpus.empty() && run.on_output) {
    run.on_output(absl::StrCat("[medperf] note: the sandbox has no GPU support; gpus='", gpus,
                               "' ignored, running on CPU"));
  }
  return RunSupervised(command);
}

}  // namespace medperf
