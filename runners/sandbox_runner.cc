// Over 600 lines on purpose: the bubblewrap command line, the synthetic /etc, the
// staged mounts and the limits are one security boundary, reviewed as a whole; the
// pieces that stand alone live beside it (task_identity, task_cgroup, subprocess).
#include "runners/sandbox_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/absl_view.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "runners/docker_runner.h"
#include "runners/image_unpack.h"
#include "runners/output_check.h"
#include "runners/seccomp_policy.h"
#include "runners/subprocess.h"
#include "runners/task_cgroup.h"
#include "runners/task_identity.h"

namespace medperf {
namespace fs = std::filesystem;
namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Host top-level directories a LocalProcess task sees (read-only): only what executing
// programs needs. Deliberately not /etc (a synthetic one is built), /opt, /home, /root,
// /var, /srv, /mnt, /run (sockets such as docker.sock), /tmp, the state directory.
const std::vector<std::string>& HostSystemDirs() {
  static const std::vector<std::string> dirs = {"usr",   "bin",   "sbin",  "lib",
                                                "lib32", "lib64", "libx32"};
  return dirs;
}

// Host files of /etc that programs need and that hold no secret: the dynamic linker's
// cache and config, Debian's alternatives symlinks (/usr/bin/python3 may resolve
// through them), CA certificates and OpenSSL's config, and the time zone.
const std::vector<std::string>& HostEtcEntries() {
  static const std::vector<std::string> entries = {
      "/etc/ld.so.cache", "/etc/ld.so.conf",      "/etc/ld.so.conf.d",    "/etc/alternatives",
      "/etc/ssl/certs",   "/etc/ssl/openssl.cnf", "/etc/ca-certificates", "/etc/localtime",
      "/etc/timezone",    "/etc/mime.types"};
  return entries;
}

// The host pid of bwrap's sandbox process, from bwrap's --info-fd JSON ("child-pid");
// 0 when bwrap closed the pipe first (it failed; its output says why).
// Errors: DeadlineExceededError after 30 s without an answer.
absl::StatusOr<int64_t> ReadSandboxPid(int fd) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  constexpr char kKey[] = "\"child-pid\":";
  while (true) {
    size_t at = text.find(kKey);
    if (at != std::string::npos) {
      size_t begin = text.find_first_of("0123456789", at);
      size_t end = begin == std::string::npos ? begin : text.find_first_not_of("0123456789", begin);
      int64_t pid = 0;
      if (end != std::string::npos && absl::SimpleAtoi(text.substr(begin, end - begin), &pid)) {
        return pid;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || text.size() > 4096) break;
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buffer[512];
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    text.append(buffer, static_cast<size_t>(n));
  }
  return absl::DeadlineExceededError("bwrap did not report its sandbox process within 30 s");
}

// Where staged sources appear to bwrap (a tmpfs mounted in the child's own mount
// namespace, so nothing shows on the host).
constexpr char kStageRoot[] = "/tmp";

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
  return absl::FailedPreconditionError(absl::StrCat(
      "container '", config.source, "': the image archive '", config.image,
      "' was not fetched to a local file; register it with an http(s) URL or an absolute "
      "path the daemon can read"));
}

// UnpackImage's errors name the cached copy; the reader knows the image by what the
// container config says, and needs to know what to do.
absl::Status NameTheImage(const absl::Status& status, const ContainerConfig& config,
                          const fs::path& file) {
  if (status.ok() || !absl::IsInvalidArgument(status)) return status;
  return absl::InvalidArgumentError(
      absl::StrCat("container '", config.source, "': image '", config.image, "' (cached as ",
                   file.string(), ") cannot be run: ", status.message(),
                   "; rebuild it with `docker save -o <file> <image>` and register it again"));
}

}  // namespace

namespace {

// Copies a host /etc entry as a task saw it through a read-only bind (the task user is
// "other" to it): links as links; files and folders others may read, with their modes
// (never more); anything else, such as a private key, left out.
absl::Status CopyWorldReadable(const fs::path& from, const fs::path& to) {
  struct stat st;
  if (::lstat(from.c_str(), &st) != 0) return absl::OkStatus();  // not on this host
  std::error_code ec;
  if (S_ISLNK(st.st_mode)) {
    fs::copy_symlink(from, to, ec);
  } else if (S_ISDIR(st.st_mode)) {
    if ((st.st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH)) return absl::OkStatus();
    if (::mkdir(to.c_str(), 0755) != 0) ec.assign(errno, std::generic_category());
    for (auto it = fs::directory_iterator(from, ec); !ec && it != fs::end(it); it.increment(ec)) {
      RETURN_IF_ERROR(CopyWorldReadable(it->path(), to / it->path().filename()));
    }
    if (!ec) ::chmod(to.c_str(), st.st_mode & 0755);
  } else if (S_ISREG(st.st_mode)) {
    if ((st.st_mode & S_IROTH) == 0) return absl::OkStatus();
    fs::copy_file(from, to, ec);
    if (!ec) ::chmod(to.c_str(), st.st_mode & 0755);
  }
  if (ec) return absl::InternalError(absl::StrCat(from.string(), ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

namespace {

absl::StatusOr<fs::path> BuildSyntheticEtc(const fs::path& cache_dir, const TaskIdentity& who) {
  std::string passwd =
      absl::StrCat("root:x:0:0:root:/root:/usr/sbin/nologin\nmedperf:x:", who.uid, ":", who.gid,
                   ":MedPerf task:/tmp:/usr/sbin/nologin\n"
                   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
  std::string group = absl::StrCat("root:x:0:\nmedperf:x:", who.gid, ":\nnogroup:x:65534:\n");
  const std::vector<std::pair<std::string, std::string>> files = {
      {"passwd", passwd},
      {"group", group},
      {"nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"},
      {"hosts", "127.0.0.1 localhost medperf\n::1 localhost\n"},
      {"hostname", "medperf\n"},
      {"resolv.conf", ""}};
  // Every entry below the host ones counts, so an edit in place (a CA bundle rewritten,
  // a changed mode) is seen too; a few hundred lstat() calls.
  std::string key = passwd + group;
  auto add_to_key = [&key](const fs::path& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) return;
    absl::StrAppend(&key, p.string(), ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                    st.st_mtim.tv_nsec, ":", st.st_mode, ";");
  };
  std::error_code ec;
  for (const auto& entry : HostEtcEntries()) {
    add_to_key(entry);
    if (!fs::is_directory(fs::symlink_status(entry, ec))) continue;
    for (auto it = fs::recursive_directory_iterator(
             entry, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::end(it); it.increment(ec)) {
      add_to_key(it->path());
    }
  }
  const fs::path base = cache_dir / "sandbox-etc";
  const fs::path dir = base / Sha256Hex(key).substr(0, 16);
  if (fs::is_directory(dir, ec)) return dir;
  // Built aside and renamed into place: concurrent tasks never see half a folder.
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp = base / absl::StrCat(".build-", ::getpid(), "-", counter.fetch_add(1));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create the sandbox's /etc under '",
                                            base.string(), "': ", ec.message()));
  }
  auto fail = [&](const fs::path& what) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return absl::InternalError(absl::StrCat("cannot build the sandbox's /etc: ", what.string()));
  };
  for (const auto& [name, content] : files) {
    std::ofstream out(tmp / name, std::ios::binary);
    out << content;
    if (!out.good()) return fail(tmp / name);
  }
  for (const auto& [name, content] : files) ::chmod((tmp / name).c_str(), 0644);
  ::chmod(tmp.c_str(), 0755);
  for (const auto& entry : HostEtcEntries()) {
    fs::path target = tmp / fs::path(entry).lexically_relative("/etc");
    if (target.parent_path() != tmp && !fs::exists(target.parent_path(), ec)) {
      if (::mkdir(target.parent_path().c_str(), 0755) != 0) return fail(target.parent_path());
      ::chmod(target.parent_path().c_str(), 0755);
    }
    absl::Status copied = CopyWorldReadable(entry, target);
    if (!copied.ok()) return fail(std::string(copied.message()));
  }
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    fs::remove_all(tmp, ec);  // another task built it meanwhile
    if (!fs::is_directory(dir, ec)) return fail(dir);
  }
  auto now = fs::file_time_type::clock::now();
  for (auto it = fs::directory_iterator(base, ec); !ec && it != fs::end(it); it.increment(ec)) {
    std::error_code e2;
    // A week after it was built: a task started before the host changed may still use it.
    if (it->path() != dir &&
        now - fs::last_write_time(it->path(), e2) > std::chrono::hours(24 * 7)) {
      fs::remove_all(it->path(), e2);
    }
  }
  return dir;
}

}  // namespace

absl::StatusOr<fs::path> SyntheticEtc(const fs::path& cache_dir, const TaskIdentity& who) {
  // Walking the host entries for the folder's name costs a few milliseconds of CPU, too
  // much for every task start: the folder found is reused for a minute, so a changed CA
  // bundle reaches the tasks started a minute later at the latest.
  static std::mutex mu;
  static std::map<std::string, std::pair<fs::path, std::chrono::steady_clock::time_point>> found;
  const std::string key = absl::StrCat(cache_dir.string(), "|", who.uid, ":", who.gid);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = found.find(key);
    std::error_code ec;
    if (it != found.end() && now - it->second.second < std::chrono::minutes(1) &&
        fs::is_directory(it->second.first, ec)) {
      return it->second.first;
    }
  }
  ASSIGN_OR_RETURN(fs::path dir, BuildSyntheticEtc(cache_dir, who));
  std::lock_guard<std::mutex> lock(mu);
  found[key] = {dir, now};
  return dir;
}

absl::StatusOr<std::unique_ptr<SandboxRunner>> SandboxRunner::Create(SandboxOptions options) {
  std::string bwrap = FindExecutable(options.bwrap.empty() ? "bwrap" : options.bwrap);
  if (bwrap.empty()) {
    return absl::FailedPreconditionError(
        "bubblewrap ('bwrap') was not found on PATH; install the 'bubblewrap' package to run "
        "containers without a container engine");
  }
  // Never a privileged task: a root caller that named no identity gets the task user.
  if (!options.identity.switch_user && (options.identity.uid == 0 || ::geteuid() == 0)) {
    ASSIGN_OR_RETURN(options.identity, ResolveTaskIdentity(""));
  }
  if (options.image_cache_dir.empty()) {
    options.image_cache_dir = fs::temp_directory_path() / "medperf-images";
  }
  if (options.layer_store_dir.empty()) {
    options.layer_store_dir = options.image_cache_dir.string() + "-layers";
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
      return NameTheImage(UnpackImage(file, options_.image_cache_dir, options_.layer_store_dir,
                                      options_.image_limits)
                              .status(),
                          config, file);
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

// Owns the file descriptors a bwrap invocation hands over. Outside the anonymous
// namespace because SandboxRunner::Invocation (a member of a class with linkage) holds one.
struct SandboxFdList {
  std::vector<int> fds;
  SandboxFdList() = default;
  SandboxFdList(const SandboxFdList&) = delete;
  SandboxFdList& operator=(const SandboxFdList&) = delete;
  ~SandboxFdList() {
    for (int fd : fds) ::close(fd);
  }
};

// Everything one bwrap run needs besides its argv: the descriptors it inherits and the
// staged mounts of a root daemon.
struct SandboxRunner::Invocation {
  std::vector<std::string> argv;
  SandboxFdList fds;  // closed when the invocation is done
  std::vector<SupervisedCommand::StageMount> stage;
  std::vector<std::filesystem::path> outputs;  // host paths of the writable mounts
};

absl::StatusOr<std::unique_ptr<SandboxRunner::Invocation>> SandboxRunner::Plan(
    const ContainerConfig& config, const TaskRun& run) {
  RETURN_IF_ERROR(Prepare(config, run.image_file));
  ASSIGN_OR_RETURN(std::vector<ResolvedMount> mounts, ResolveMounts(config, run));
  const TaskSpec& task = *config.FindTask(run.task);
  auto inv = std::make_unique<Invocation>();
  const TaskIdentity& who = options_.identity;
  // A daemon that switches to the task user before starting bwrap (as root, or holding
  // CAP_SETUID/CAP_SETGID in its own user namespace) stages every source: that user may
  // not be able to traverse to them (the state directory is private), so the daemon
  // opens each one and the child binds it under a private staging tmpfs first.
  const bool stage = who.switch_user;
  int stage_count = 0;
  auto source = [&](const fs::path& host, bool is_dir, bool no_follow,
                    bool output = false) -> absl::StatusOr<std::string> {
    if (!stage) return host.string();
    int fd = ::open(host.c_str(), O_PATH | O_CLOEXEC | (no_follow ? O_NOFOLLOW : 0));
    if (fd < 0) {
      return absl::NotFoundError(absl::StrCat("cannot open '", host.string(),
                                              "' for the sandbox: ", std::strerror(errno)));
    }
    inv->fds.fds.push_back(fd);
    std::string target = absl::StrCat(kStageRoot, "/", stage_count++);
    inv->stage.push_back({fd, host.string(), no_follow, target, is_dir, output});
    return target;
  };

  std::vector<std::string>& argv = inv->argv;
  argv = {bwrap_,
          "--die-with-parent",
          "--new-session",
          "--unshare-user",
          "--unshare-pid",
          "--unshare-ipc",
          "--unshare-uts",
          "--unshare-cgroup-try",
          "--hostname",
          "medperf",
          "--disable-userns",
          "--cap-drop",
          "ALL"};
  if (!run.allow_network) argv.push_back("--unshare-net");
  ASSIGN_OR_RETURN(int seccomp_fd, SeccompProgramFd());
  inv->fds.fds.push_back(seccomp_fd);
  argv.insert(argv.end(), {"--seccomp", std::to_string(seccomp_fd)});

  std::vector<std::string> program;
  std::vector<std::string> env = {absl::StrCat("PATH=", kDefaultPath), "HOME=/tmp", "TMPDIR=/tmp",
                                  "LANG=C.UTF-8", absl::StrCat("USER=medperf")};
  std::string workdir = "/";
  auto proc_and_tmp = [&] {
    // Sysctls are global: /proc/sys (and sysrq, where the kernel has it) stay read-only
    // even for a task that would otherwise own its user namespace's proc.
    argv.insert(argv.end(), {"--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"});
    if (::access("/proc/sysrq-trigger", F_OK) == 0) {
      argv.insert(argv.end(), {"--ro-bind", "/proc/sysrq-trigger", "/proc/sysrq-trigger"});
    }
    argv.insert(argv.end(), {"--dev", "/dev"});
    if (run.limits.tmp_bytes > 0) {
      argv.insert(argv.end(), {"--size", std::to_string(run.limits.tmp_bytes)});
    }
    argv.insert(argv.end(), {"--tmpfs", "/tmp"});
  };
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
    // The synthetic /etc: the task's own user and group, name resolution from files
    // only, and the harmless host files programs expect.
    ASSIGN_OR_RETURN(fs::path etc, SyntheticEtc(options_.image_cache_dir, who));
    ASSIGN_OR_RETURN(std::string etc_src, source(etc, true, true));
    argv.insert(argv.end(), {"--ro-bind", etc_src, "/etc"});
    proc_and_tmp();
    // Only the registered executable itself: its hash covers everything the task can
    // run from the container (files beside it are not visible).
    if (!system_dirs.contains(FirstComponent(image.string()))) {
      ASSIGN_OR_RETURN(std::string src, source(image, false, false));
      argv.insert(argv.end(), {"--ro-bind", src, image.string()});
    }
    for (const auto& m : mounts) {
      if (system_dirs.contains(FirstComponent(m.mount_path)) ||
          FirstComponent(m.mount_path) == "etc" || FirstComponent(m.mount_path) == "proc") {
        return absl::InvalidArgumentError(absl::StrCat(
            "container '", config.source, "': task '", run.task, "': volume '", m.name,
            "' is mounted at ", m.mount_path, ", inside the sandbox's read-only /",
            FirstComponent(m.mount_path), "; use a path such as /mlcommons/volumes/..."));
      }
    }
    workdir = "/tmp";
    program.push_back(task.entrypoint ? *task.entrypoint : image.string());
    if (task.has_command) program.insert(program.end(), task.command.begin(), task.command.end());
  } else {
    ASSIGN_OR_RETURN(fs::path file, ImageFile(config, run.image_file));
    absl::StatusOr<ImageRoot> unpacked = UnpackImage(
        file, options_.image_cache_dir, options_.layer_store_dir, options_.image_limits);
    RETURN_IF_ERROR(NameTheImage(unpacked.status(), config, file));
    ImageRoot image = *std::move(unpacked);
    for (const auto& m : mounts) {
      RETURN_IF_ERROR(
          EnsureMountPoint(image.rootfs, m.mount_path, m.type == VolumeType::kDirectory));
    }
    for (const char* dir : {"proc", "proc/sys", "dev", "tmp"}) {
      RETURN_IF_ERROR(EnsureMountPoint(image.rootfs, absl::StrCat("/", dir), true));
    }
    ASSIGN_OR_RETURN(std::string root_src, source(image.rootfs, true, true));
    argv.insert(argv.end(), {"--ro-bind", root_src, "/"});
    proc_and_tmp();
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
    bool is_dir = m.type == VolumeType::kDirectory;
    // Outputs are given to the task user by the child, as it stages them.
    if (!m.read_only) inv->outputs.push_back(m.host_path);
    ASSIGN_OR_RETURN(std::string src, source(m.host_path, is_dir, !m.read_only, !m.read_only));
    argv.insert(argv.end(), {m.read_only ? "--ro-bind" : "--bind", src, m.mount_path});
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
  // Last, so a config error is reported before a permission problem of the site's.
  std::vector<fs::path> inputs;
  for (const auto& m : mounts) {
    if (m.read_only) inputs.push_back(m.host_path);
  }
  RETURN_IF_ERROR(CheckReadableBy(who, inputs));
  return inv;
}

absl::StatusOr<std::vector<std::string>> SandboxRunner::BuildCommand(const ContainerConfig& config,
                                                                     const TaskRun& run) {
  ASSIGN_OR_RETURN(std::unique_ptr<Invocation> inv, Plan(config, run));
  return inv->argv;
}

absl::StatusOr<TaskOutcome> SandboxRunner::Run(const ContainerConfig& config, const TaskRun& run) {
  ASSIGN_OR_RETURN(std::unique_ptr<Invocation> inv, Plan(config, run));
  const TaskLimits& limits = run.limits;
  const std::string key = absl::StrCat("limits.", run.task, ".");
  SupervisedCommand command;
  command.argv = inv->argv;
  // bwrap stays in the sandbox as its pid 1, running as the task user: its own
  // environment would be readable there (/proc/1/environ), so it gets none of ours.
  command.inherit_env = false;
  command.env = {absl::StrCat("PATH=", kDefaultPath)};
  command.log_file = run.log_file;
  command.on_output = run.on_output;
  command.time_limit = limits.wall_time;
  command.cancel = run.cancel;
  command.keep_fds = inv->fds.fds;
  command.stage = inv->stage;
  command.stage_root = kStageRoot;
  command.switch_user = options_.identity.switch_user;
  command.private_user_namespace = options_.identity.switch_user && ::geteuid() != 0;
  command.uid = options_.identity.uid;
  command.gid = options_.identity.gid;
  command.no_core_dumps = true;
  command.log_limit_bytes = limits.log_bytes;
  // A per-file cap: no single file may outgrow what the task may write in all (its
  // outputs, or /tmp when that is larger); the totals are checked while it runs.
  uint64_t largest_file = std::max(limits.output_bytes, limits.tmp_bytes);
  if (limits.output_bytes > 0 && limits.tmp_bytes > 0) command.rlimit_fsize = largest_file;
  ASSIGN_OR_RETURN(std::unique_ptr<TaskCgroup> cgroup, TaskCgroup::Create(limits));
  const LimitEnforcement& enforcement = DetectLimitEnforcement();
  // A root daemon moves bwrap's sandbox process into the task's cgroup while bwrap sets
  // the sandbox up (--block-fd holds it there, before seccomp and the task): joining a
  // v1 cgroup waits for an RCU grace period (~10 ms), which then overlaps bwrap's own
  // mounts instead of adding to them (docs/performance.md). A non-root daemon may not
  // move another user's process (v1), so there the child joins before exec.
  SandboxFdList handover;
  if (cgroup && ::geteuid() == 0) {
    int info[2], block[2];
    if (::pipe2(info, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
    handover.fds = {info[0], info[1]};
    if (::pipe2(block, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
    handover.fds.insert(handover.fds.end(), {block[0], block[1]});
    command.argv.insert(command.argv.begin() + 1, {"--info-fd", std::to_string(info[1]),
                                                   "--block-fd", std::to_string(block[0])});
    command.keep_fds.insert(command.keep_fds.end(), {info[1], block[0]});
    command.on_started = [&handover, &cgroup](int) -> absl::Status {
      // Only bwrap may hold the write end of the info pipe and the read end of the block
      // pipe, so that a bwrap that fails early shows as EOF here.
      for (int i : {1, 2}) {
        ::close(handover.fds[i]);
        handover.fds[i] = -1;
      }
      ASSIGN_OR_RETURN(int64_t pid, ReadSandboxPid(handover.fds[0]));
      if (pid <= 0) return absl::OkStatus();  // bwrap failed; its output says why
      std::string text = std::to_string(pid);
      for (int fd : cgroup->procs_fds()) {
        if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
          return absl::InternalError(absl::StrCat(
              "cannot move the sandbox into the task's cgroup: ", std::strerror(errno)));
        }
      }
      // A bwrap that died meanwhile must not take this process down with SIGPIPE.
      sigset_t pipe_set, old_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
      ssize_t w = ::write(handover.fds[3], "g", 1);
      if (w < 0 && errno == EPIPE) {
        struct timespec zero = {0, 0};
        ::sigtimedwait(&pipe_set, nullptr, &zero);
      }
      ::pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
      return absl::OkStatus();  // if bwrap is gone, its output says why
    };
  } else if (cgroup) {
    command.cgroup_procs_fds = cgroup->procs_fds();
  }
  if (!cgroup || !enforcement.memory) command.rlimit_as_bytes = limits.memory_bytes;
  if ((!cgroup || !enforcement.pids) && command.uid != 0)
    command.rlimit_nproc = limits.max_processes;
  if ((!cgroup || !enforcement.cpu) && limits.wall_time.count() > 0 && limits.cpus > 0) {
    command.rlimit_cpu_seconds =
        static_cast<uint64_t>(double(limits.wall_time.count()) * limits.cpus) + 1;
  }
  // A service-user daemon cannot read folders the task made private (mkdtemp does that);
  // it measures those in a user namespace where it may.
  OutputMeasure unreadable;
  if (command.private_user_namespace) {
    unreadable = [who = options_.identity](const std::vector<fs::path>& outputs) {
      return MeasureOutputs(who, outputs);
    };
  }
  command.on_tick = OutputCapTick(inv->outputs, limits.output_bytes, run.task, unreadable);
  const TaskSpec& task = *config.FindTask(run.task);
  std::string gpus = run.gpus.empty() ? task.gpus : run.gpus;
  if (!gpus.empty()) {
    std::string note = absl::StrCat("[medperf] note: the sandbox has no GPU support; gpus='", gpus,
                                    "' ignored, running on CPU");
    if (run.on_output) run.on_output(note);
  }
  absl::StatusOr<TaskOutcome> ran = RunSupervised(command);
  // Whatever happened, the daemon must be able to read and remove the outputs again.
  RETURN_IF_ERROR(TakeBackOutputs(options_.identity, inv->outputs));
  ASSIGN_OR_RETURN(TaskOutcome outcome, std::move(ran));
  if (outcome.limit_hit.empty() && !outcome.ok() && !outcome.cancelled && !outcome.timed_out) {
    // bwrap, as the sandbox's init, reports a task killed by signal N as exit 128+N.
    int signal = outcome.signal != 0                                  ? outcome.signal
                 : outcome.exit_code > 128 && outcome.exit_code < 160 ? outcome.exit_code - 128
                                                                      : 0;
    if (signal == SIGXFSZ) {
      outcome.limit_hit = "output";
      outcome.limit_detail =
          absl::StrCat("it wrote a file of more than ", DescribeBytes(largest_file),
                       ", the larger of ", key, "output = ", DescribeBytes(limits.output_bytes),
                       " and ", key, "tmp = ", DescribeBytes(limits.tmp_bytes));
    } else if (signal == SIGXCPU) {
      // RLIMIT_CPU (the fallback without a cpu cgroup) sends SIGXCPU.
      outcome.limit_hit = "cpu";
      outcome.limit_detail =
          absl::StrCat("it used more CPU time than ", key, "time_seconds x ", key, "cpus allow");
    }
    if (outcome.limit_hit.empty() && cgroup && cgroup->MemoryLimitHit() && signal == SIGKILL) {
      outcome.limit_hit = "memory";
      outcome.limit_detail =
          absl::StrCat("it was killed at ", key, "memory = ", DescribeBytes(limits.memory_bytes));
    }
    if (outcome.limit_hit.empty() && cgroup && cgroup->ProcessLimitHit()) {
      outcome.limit_hit = "processes";
      outcome.limit_detail =
          absl::StrCat("it tried to run more than ", key, "processes = ", limits.max_processes,
                       " processes/threads");
    }
  }
  if (outcome.limit_hit.empty() && !outcome.ok() && !outcome.cancelled && !outcome.timed_out &&
      run.on_output) {
    // An rlimit fails the call (malloc, fork) instead of killing the task, so only the
    // task's own errors can tell; say which limits those would be.
    std::vector<std::string> soft;
    if (command.rlimit_as_bytes > 0) {
      soft.push_back(absl::StrCat(key, "memory = ", DescribeBytes(limits.memory_bytes),
                                  " (ENOMEM, MemoryError, bad_alloc)"));
    }
    if (command.rlimit_nproc > 0) {
      soft.push_back(absl::StrCat(key, "processes = ", limits.max_processes,
                                  " (EAGAIN from fork or thread creation)"));
    }
    if (!soft.empty()) {
      run.on_output(absl::StrCat(
          "[medperf] note: this host enforces ", absl::StrJoin(soft, " and "),
          " with rlimits (no cgroup is delegated to medperfd): a task that failed with those "
          "errors hit the limit"));
    }
  }
  if (outcome.timed_out) {
    outcome.limit_detail = absl::StrCat(key, "time_seconds = ", limits.wall_time.count());
  }
  return outcome;
}

}  // namespace medperf
