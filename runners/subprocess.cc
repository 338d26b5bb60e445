#include "runners/subprocess.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace medperf {
namespace fs = std::filesystem;

std::string FindExecutable(std::string_view name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string_view::npos) {
    std::string p(name);
    return ::access(p.c_str(), X_OK) == 0 ? p : "";
  }
  const char* path = std::getenv("PATH");
  std::string search = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(search, ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", absl::string_view(name.data(), name.size()));
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

namespace {

struct Child {
  pid_t pid = -1;
  int out_fd = -1;
};

// What a child reports when confinement fails: the errno and the step (a string
// literal, so its address means the same in the parent, a copy of the same image).
struct ChildError {
  int err = 0;
  const char* step = nullptr;
};

// Reports a failed step and exits; async-signal-safe, for failures in the child.
[[noreturn]] void ChildFail(int err_fd, int err, const char* step) {
  ChildError e{err, step};
  ssize_t ignored = ::write(err_fd, &e, sizeof(e));
  (void)ignored;
  ::_exit(127);
}

absl::Status WriteIdMap(pid_t pid, const char* file, uint32_t own, uint32_t task) {
  std::string path = absl::StrCat("/proc/", pid, "/", file);
  std::string map = absl::StrCat("0 ", own, " 1\n", task, " ", task, " 1\n");
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, map.data(), map.size()) != static_cast<ssize_t>(map.size())) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot map the task user into the task's user namespace (writing ", path,
        " needs CAP_SETUID and CAP_SETGID; see docs/security.md, \"Who runs a task\"): ",
        std::strerror(e)));
  }
  ::close(fd);
  return absl::OkStatus();
}

// Forks and execs with the output pipe; only async-signal-safe calls after fork.
// Everything the child needs (strings, fd numbers) is prepared before the fork.
absl::StatusOr<Child> Spawn(const SupervisedCommand& command) {
  const std::vector<std::string>& argv = command.argv;
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  std::string program = FindExecutable(argv[0]);
  if (program.empty()) {
    return absl::NotFoundError(absl::StrCat("executable '", argv[0], "' not found on PATH"));
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  if (!command.inherit_env) {
    for (const auto& e : command.env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
  }
  char** envp = command.inherit_env ? environ : cenv.data();
  const bool stage = !command.stage.empty();
  const bool userns = command.private_user_namespace;
  const char* stage_root = command.stage_root.c_str();
  // Each source as the caller opened it: the child re-opens the path inside its own
  // mount namespace (a mount of another namespace cannot be cloned) and must find the
  // same file there.
  std::vector<struct stat> sources(command.stage.size());
  for (size_t i = 0; i < command.stage.size(); ++i) {
    if (::fstat(command.stage[i].source_fd, &sources[i]) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot stat '", command.stage[i].source_path, "': ", std::strerror(errno)));
    }
  }
  const uid_t own_uid = ::geteuid();
  const gid_t own_gid = ::getegid();

  int out[2], err_pipe[2], ready[2] = {-1, -1}, go[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {out[0], out[1], err_pipe[0], err_pipe[1], ready[0], ready[1], go[0], go[1]}) {
      if (fd >= 0) ::close(fd);
    }
  };
  out[0] = out[1] = err_pipe[0] = err_pipe[1] = -1;
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      (userns && (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0))) {
    close_all();
    return absl::InternalError("pipe failed");
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    close_all();
    if (devnull >= 0) ::close(devnull);
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(e)));
  }
  if (pid == 0) {
    const int ef = err_pipe[1];
    ::setpgid(0, 0);
    // If the supervising thread dies, take the task down with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    // Join the task's cgroups first, so everything after (the engine included) counts.
    for (int fd : command.cgroup_procs_fds) {
      if (::write(fd, "0", 1) != 1) ChildFail(ef, errno, "joining the task's cgroup");
    }
    if (userns) {
      if (::unshare(CLONE_NEWUSER) != 0) ChildFail(ef, errno, "creating a user namespace");
      char c = 'u';
      if (::write(ready[1], &c, 1) != 1) ::_exit(127);
      if (::read(go[0], &c, 1) != 1) ::_exit(127);  // the parent failed and said why
    }
    if (stage) {
      // Bind each source under a private tmpfs, in a mount namespace of our own: clone
      // it as a detached mount, then attach the clones once the tmpfs is there.
      if (::unshare(CLONE_NEWNS) != 0) ChildFail(ef, errno, "creating a mount namespace");
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        ChildFail(ef, errno, "making mounts private");
      }
      int tree_fds[256];
      if (command.stage.size() > 256) ChildFail(ef, E2BIG, "staging more than 256 mounts");
      for (size_t i = 0; i < command.stage.size(); ++i) {
        const auto& m = command.stage[i];
        int fd = ::open(m.source_path.c_str(), O_PATH | O_CLOEXEC | (m.no_follow ? O_NOFOLLOW : 0));
        struct stat st;
        if (fd < 0 || ::fstat(fd, &st) != 0) ChildFail(ef, errno, "re-opening a mount source");
        if (st.st_dev != sources[i].st_dev || st.st_ino != sources[i].st_ino) {
          ChildFail(ef, ESTALE, "re-opening a mount source (it was replaced meanwhile)");
        }
        tree_fds[i] =
            ::open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree_fds[i] < 0) ChildFail(ef, errno, "cloning a mount source");
        // Outputs belong to the task user, so it can write them and nothing else.
        if (m.give_to_task && ::fchownat(fd, "", command.uid, command.gid,
                                         AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
          ChildFail(ef, errno, "giving an output to the task user");
        }
        ::close(fd);
      }
      if (::mount("tmpfs", stage_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0) {
        ChildFail(ef, errno, "mounting the staging tmpfs");
      }
      for (size_t i = 0; i < command.stage.size(); ++i) {
        const auto& m = command.stage[i];
        if (m.is_dir) {
          if (::mkdir(m.target.c_str(), 0755) != 0) ChildFail(ef, errno, "staging a folder");
        } else {
          int fd = ::open(m.target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
          if (fd < 0) ChildFail(ef, errno, "staging a file");
          ::close(fd);
        }
        if (::move_mount(tree_fds[i], "", AT_FDCWD, m.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) !=
            0) {
          ChildFail(ef, errno, "attaching a staged mount");
        }
        ::close(tree_fds[i]);
        ::close(m.source_fd);
      }
    }
    if (command.rlimit_as_bytes > 0) {
      struct rlimit rl = {command.rlimit_as_bytes, command.rlimit_as_bytes};
      ::setrlimit(RLIMIT_AS, &rl);
    }
    if (command.rlimit_cpu_seconds > 0) {
      struct rlimit rl = {command.rlimit_cpu_seconds, command.rlimit_cpu_seconds + 1};
      ::setrlimit(RLIMIT_CPU, &rl);
    }
    if (command.rlimit_nproc > 0) {
      struct rlimit rl = {command.rlimit_nproc, command.rlimit_nproc};
      ::setrlimit(RLIMIT_NPROC, &rl);
    }
    if (command.rlimit_fsize > 0) {
      struct rlimit rl = {command.rlimit_fsize, command.rlimit_fsize};
      ::setrlimit(RLIMIT_FSIZE, &rl);
    }
    if (command.no_core_dumps) {
      struct rlimit rl = {0, 0};
      ::setrlimit(RLIMIT_CORE, &rl);
    }
    if (command.switch_user) {
      if (::setgroups(0, nullptr) != 0) ChildFail(ef, errno, "clearing supplementary groups");
      if (::setresgid(command.gid, command.gid, command.gid) != 0) {
        ChildFail(ef, errno, "switching to the task group");
      }
      if (::setresuid(command.uid, command.uid, command.uid) != 0) {
        ChildFail(ef, errno, "switching to the task user");
      }
      // A non-root daemon holding CAP_SETUID keeps its capabilities across setresuid();
      // the engine and the task must get none (bwrap also refuses to run with them).
      ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
      struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
      struct __user_cap_data_struct data[2] = {};
      if (::syscall(SYS_capset, &header, data) != 0) ChildFail(ef, errno, "dropping capabilities");
      // Changing credentials clears the parent-death signal; set it again.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    }
    // Only the descriptors meant for it reach the command: anything the daemon itself
    // inherited without close-on-exec (from a shell, a service manager) stays behind.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    for (int fd : command.keep_fds) ::fcntl(fd, F_SETFD, 0);
    ::execve(program.c_str(), cargv.data(), envp);
    ChildFail(ef, errno, "exec");
  }
  ::setpgid(pid, pid);  // both sides, so killpg works whichever runs first
  for (int* fd : {&out[1], &err_pipe[1], &ready[1], &go[0]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (devnull >= 0) ::close(devnull);
  absl::Status mapped = absl::OkStatus();
  if (userns) {
    char c;
    ssize_t r;
    do {
      r = ::read(ready[0], &c, 1);
    } while (r < 0 && errno == EINTR);
    if (r == 1) {
      mapped = WriteIdMap(pid, "uid_map", own_uid, command.uid);
      if (mapped.ok()) mapped = WriteIdMap(pid, "gid_map", own_gid, command.gid);
      if (mapped.ok() && ::write(go[1], &c, 1) != 1) mapped = absl::InternalError("pipe failed");
    }
    ::close(ready[0]);
    ::close(go[1]);  // the child reads EOF and exits if we did not say go
  }
  ChildError child_error;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &child_error, sizeof(child_error));
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (!mapped.ok() || n == sizeof(child_error)) {
    ::close(out[0]);
    ::waitpid(pid, nullptr, 0);
    if (!mapped.ok()) return mapped;
    return absl::InternalError(absl::StrCat("cannot start '", program, "': ", child_error.step,
                                            " failed: ", std::strerror(child_error.err)));
  }
  return Child{pid, out[0]};
}

// Keeps the first and last `limit / 2` bytes of a log: the head goes to the file as it
// comes, the tail is held in a ring and written with a marker at the end.
class CappedLog {
 public:
  CappedLog(int fd, uint64_t limit) : fd_(fd), limit_(limit) {}

  void Write(const char* data, size_t n) {
    if (fd_ < 0) return;
    if (limit_ == 0) {
      WriteAll(data, n);
      return;
    }
    uint64_t head_room = limit_ / 2 > head_ ? limit_ / 2 - head_ : 0;
    size_t to_head = static_cast<size_t>(std::min<uint64_t>(head_room, n));
    WriteAll(data, to_head);
    head_ += to_head;
    data += to_head;
    n -= to_head;
    if (n == 0) return;
    tail_.append(data, n);
    dropped_ += n;
    size_t keep = static_cast<size_t>(limit_ - limit_ / 2);
    if (tail_.size() > 2 * keep + (1 << 20)) tail_.erase(0, tail_.size() - keep);
  }

  void Finish() {
    if (fd_ < 0 || tail_.empty()) return;
    size_t keep = static_cast<size_t>(limit_ - limit_ / 2);
    if (tail_.size() > keep) tail_.erase(0, tail_.size() - keep);
    if (dropped_ > tail_.size()) {
      std::string marker =
          absl::StrCat("\n[medperf] log capped at ", limit_, " bytes: ", dropped_ - tail_.size(),
                       " bytes omitted here\n");
      WriteAll(marker.data(), marker.size());
    }
    WriteAll(tail_.data(), tail_.size());
  }

 private:
  void WriteAll(const char* data, size_t n) {
    size_t off = 0;
    while (off < n) {
      ssize_t w = ::write(fd_, data + off, n - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
  }

  int fd_;
  uint64_t limit_;
  uint64_t head_ = 0;
  uint64_t dropped_ = 0;
  std::string tail_;
};

}  // namespace

absl::StatusOr<TaskOutcome> RunSupervised(const SupervisedCommand& command) {
  int log_fd = -1;
  if (!command.log_file.empty()) {
    std::error_code ec;
    if (command.log_file.has_parent_path())
      fs::create_directories(command.log_file.parent_path(), ec);
    log_fd = ::open(command.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return absl::InternalError(absl::StrCat("cannot open log file '", command.log_file.string(),
                                              "': ", std::strerror(errno)));
    }
  }
  auto start = std::chrono::steady_clock::now();
  auto child = Spawn(command);
  if (!child.ok()) {
    if (log_fd >= 0) ::close(log_fd);
    return child.status();
  }
  if (command.on_started) {
    absl::Status started = command.on_started(child->pid);
    if (!started.ok()) {
      ::kill(-child->pid, SIGKILL);
      ::kill(child->pid, SIGKILL);
      ::close(child->out_fd);
      ::waitpid(child->pid, nullptr, 0);
      if (log_fd >= 0) ::close(log_fd);
      return started;
    }
  }
  TaskOutcome outcome;
  outcome.log_file = command.log_file;
  CappedLog log(log_fd, command.log_limit_bytes);
  auto next_tick = start + std::chrono::seconds(1);
  std::string partial;
  auto emit_lines = [&](bool flush) {
    if (!command.on_output) {
      partial.clear();
      return;
    }
    size_t start_pos = 0;
    while (true) {
      size_t nl = partial.find('\n', start_pos);
      if (nl == std::string::npos) break;
      command.on_output(std::string_view(partial).substr(start_pos, nl - start_pos));
      start_pos = nl + 1;
    }
    partial.erase(0, start_pos);
    // Very long lines are delivered in pieces rather than buffered without bound.
    if ((flush && !partial.empty()) || partial.size() > (64 << 10)) {
      command.on_output(partial);
      partial.clear();
    }
  };

  bool killed = false;
  auto kill_deadline = std::chrono::steady_clock::time_point::max();
  auto kill_all = [&]() {
    if (killed) return;
    killed = true;
    if (command.on_kill) command.on_kill();
    ::kill(-child->pid, SIGKILL);
    ::kill(child->pid, SIGKILL);
    // Orphans outside the group could keep the pipe open; stop waiting for EOF soon.
    kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  };
  char buffer[65536];
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (!killed && command.time_limit.count() > 0 && now - start >= command.time_limit) {
      outcome.timed_out = true;
      kill_all();
    }
    if (!killed && command.cancel && command.cancel->load()) {
      outcome.cancelled = true;
      kill_all();
    }
    if (!killed && command.on_tick && now >= next_tick) {
      next_tick = now + std::chrono::seconds(1);
      auto [limit, detail] = command.on_tick();
      if (!limit.empty()) {
        outcome.limit_hit = limit;
        outcome.limit_detail = detail;
        kill_all();
      }
    }
    if (now >= kill_deadline) break;
    struct pollfd pfd = {child->out_fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, 100);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    ssize_t n = ::read(child->out_fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    if (n == 0) break;
    log.Write(buffer, static_cast<size_t>(n));
    partial.append(buffer, static_cast<size_t>(n));
    emit_lines(false);
  }
  emit_lines(true);
  ::close(child->out_fd);
  int status = 0;
  useconds_t backoff = 500;  // the task usually exits right after closing its output
  while (true) {
    pid_t w = ::waitpid(child->pid, &status, killed ? 0 : WNOHANG);
    if (w == child->pid) break;
    if (w < 0 && errno != EINTR) break;
    if (w == 0) {
      // Output closed but the process lingers (e.g. it closed stdout): keep enforcing
      // the limits while waiting.
      auto now = std::chrono::steady_clock::now();
      if (command.time_limit.count() > 0 && now - start >= command.time_limit) {
        outcome.timed_out = true;
        kill_all();
      } else if (command.cancel && command.cancel->load()) {
        outcome.cancelled = true;
        kill_all();
      } else {
        ::usleep(backoff);
        backoff = std::min<useconds_t>(backoff * 2, 20000);
      }
    }
  }
  log.Finish();
  if (log_fd >= 0) ::close(log_fd);
  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  if (WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.exit_code = -1;
    outcome.signal = WTERMSIG(status);
  }
  return outcome;
}

absl::StatusOr<CaptureResult> RunCapture(const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout, size_t max_output) {
  CaptureResult result;
  SupervisedCommand command;
  command.argv = argv;
  command.time_limit = timeout;
  command.on_output = [&](std::string_view line) {
    if (result.output.size() < max_output) {
      result.output.append(line.data(), line.size());
      result.output += '\n';
    }
  };
  auto outcome = RunSupervised(command);
  if (!outcome.ok()) return outcome.status();
  result.exit_code = outcome->exit_code;
  result.timed_out = outcome->timed_out;
  return result;
}

}  // namespace medperf
