#include "runners/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

// Forks and execs with the output pipe; only async-signal-safe calls after fork.
absl::StatusOr<Child> Spawn(const std::vector<std::string>& argv,
                            const std::vector<std::string>* env, uint64_t rlimit_as,
                            uint64_t rlimit_cpu) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  std::string program = FindExecutable(argv[0]);
  if (program.empty()) {
    return absl::NotFoundError(absl::StrCat("executable '", argv[0], "' not found on PATH"));
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  if (env) {
    for (const auto& e : *env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
  }
  char** envp = env ? cenv.data() : environ;

  int out[2], err_pipe[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return absl::InternalError("pipe failed");
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out[0], out[1], err_pipe[0], err_pipe[1], devnull}) ::close(fd);
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(e)));
  }
  if (pid == 0) {
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
    if (rlimit_as > 0) {
      struct rlimit rl = {rlimit_as, rlimit_as};
      ::setrlimit(RLIMIT_AS, &rl);
    }
    if (rlimit_cpu > 0) {
      struct rlimit rl = {rlimit_cpu, rlimit_cpu + 1};
      ::setrlimit(RLIMIT_CPU, &rl);
    }
    ::execve(program.c_str(), cargv.data(), envp);
    int e = errno;
    ssize_t ignored = ::write(err_pipe[1], &e, sizeof(e));
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // both sides, so killpg works whichever runs first
  ::close(out[1]);
  ::close(err_pipe[1]);
  if (devnull >= 0) ::close(devnull);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == sizeof(child_errno)) {
    ::close(out[0]);
    ::waitpid(pid, nullptr, 0);
    return absl::InternalError(
        absl::StrCat("cannot execute '", program, "': ", std::strerror(child_errno)));
  }
  return Child{pid, out[0]};
}

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
  auto child = Spawn(command.argv, command.inherit_env ? nullptr : &command.env,
                     command.rlimit_as_bytes, command.rlimit_cpu_seconds);
  if (!child.ok()) {
    if (log_fd >= 0) ::close(log_fd);
    return child.status();
  }
  TaskOutcome outcome;
  outcome.log_file = command.log_file;
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
    if (log_fd >= 0) {
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = ::write(log_fd, buffer + off, n - off);
        if (w <= 0) break;
        off += w;
      }
    }
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
