#include "daemon/notifier.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"

extern char** environ;

namespace medperf::daemon {

nlohmann::json EventToJson(const storage::EventRecord& event) {
  nlohmann::json fields = nlohmann::json::parse(event.json, nullptr, false);
  if (fields.is_discarded()) fields = event.json;
  return {{"id", event.id},
          {"time", event.time},
          {"kind", event.kind},
          {"message", event.message},
          {"fields", fields}};
}

std::string HookRun::Describe() const {
  if (!started) return absl::StrCat("could not start: ", error);
  if (timed_out) return "timed out and was killed";
  if (signal) return absl::StrCat("was killed by signal ", signal);
  return absl::StrCat("exited with code ", exit_code);
}

namespace {

constexpr size_t kMaxOutput = 4096;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

HookRun RunHook(const std::string& command, const std::string& input,
                std::chrono::milliseconds timeout, const std::function<bool()>& abort) {
  HookRun run;
  // O_CLOEXEC: jobs fork runners concurrently; they must not inherit our pipe ends
  // (a leaked write end would keep the hook's stdin open forever).
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
    run.error = absl::StrCat("pipe: ", std::strerror(errno));
    return run;
  }
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    run.error = absl::StrCat("pipe: ", std::strerror(errno));
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return run;
  }
  // Everything the child needs is built before fork: after it, only async-signal-safe
  // calls are allowed in a multi-threaded process.
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;

  pid_t pid = ::fork();
  if (pid < 0) {
    run.error = absl::StrCat("fork: ", std::strerror(errno));
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) ::close(fd);
    return run;
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, so a timeout kills whatever it started
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    // The daemon blocks SIGTERM/SIGINT/SIGHUP and ignores SIGPIPE; a hook must get
    // ordinary signal behaviour (both survive exec otherwise).
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::sigaction(SIGPIPE, &dfl, nullptr);
    ::execve("/bin/sh", const_cast<char* const*>(argv), environ);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with an early kill
  run.started = true;
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  int in_fd = in_pipe[1];
  int out_fd = out_pipe[0];
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (input.empty()) CloseFd(in_fd);

  // Writing to a hook that exited raises SIGPIPE on this thread; keep it blocked here
  // (whatever the process's disposition) and discard it below, EPIPE says enough.
  sigset_t pipe_set, old_mask;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

  auto keep_output = [&](const char* buf, ssize_t got) {
    if (run.output.size() < kMaxOutput) {
      run.output.append(buf,
                        std::min<size_t>(static_cast<size_t>(got), kMaxOutput - run.output.size()));
    }
  };
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool exited = false;
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline || (abort && abort())) break;
    int wait_ms = static_cast<int>(std::min<int64_t>(
        50, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1));
    pollfd fds[2];
    nfds_t n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (n == 0) {
      ::usleep(static_cast<useconds_t>(wait_ms) * 1000);
      continue;
    }
    if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].fd == out_fd && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[1024];
        ssize_t got = ::read(out_fd, buf, sizeof(buf));
        if (got > 0) {
          keep_output(buf, got);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          CloseFd(out_fd);
        }
      } else if (fds[i].fd == in_fd && (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t put = ::write(in_fd, input.data() + written, input.size() - written);
        if (put > 0) written += static_cast<size_t>(put);
        // A hook that does not read its stdin is fine: EPIPE just ends the input.
        if (written >= input.size() || (put < 0 && errno != EAGAIN && errno != EINTR)) {
          CloseFd(in_fd);
        }
      }
    }
  }
  if (exited && out_fd >= 0) {
    // What the hook wrote just before exiting is still in the pipe (the loop stops as
    // soon as waitpid sees the exit). Take what is there without waiting for EOF: a
    // child it left in the background may hold the pipe open.
    ::fcntl(out_fd, F_SETFL, O_NONBLOCK);
    char buf[1024];
    ssize_t got;
    while ((got = ::read(out_fd, buf, sizeof(buf))) > 0) keep_output(buf, got);
  }
  if (!exited) {
    run.timed_out = true;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  // Children it left in the background keep running; only a timeout kills the group.
  CloseFd(in_fd);
  CloseFd(out_fd);
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (!run.timed_out) {
    if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  }
  return run;
}

Notifier::Notifier(NotifyConfig config) : config_(std::move(config)) {}

Notifier::~Notifier() { Shutdown(std::chrono::milliseconds(0)); }

void Notifier::Attach(EventBus& bus) {
  if (config_.command.empty()) return;
  thread_ = std::thread([this] { Loop(); });
  bus.AddListener([this](const storage::EventRecord& e) { Enqueue(e); });
  LogInfo("notify hook enabled",
          {{"command", config_.command}, {"timeout_s", std::to_string(config_.timeout.count())}});
}

void Notifier::Enqueue(const storage::EventRecord& event) {
  absl::MutexLock lock(&mu_);
  if (stopping_ && std::chrono::steady_clock::now() >= deadline_) return;
  if (queue_.size() >= kMaxQueued) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(event);
}

void Notifier::Shutdown(std::chrono::milliseconds budget) {
  std::chrono::steady_clock::time_point deadline;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      deadline_ = std::chrono::steady_clock::now() + budget;
    }
    deadline = deadline_;
  }
  if (!thread_.joinable()) return;
  // The worker ends by itself once the queue is empty or the budget is spent; a hook
  // still running at the deadline is killed.
  std::thread killer([this, deadline] {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return worker_done_; };
    auto left = deadline - std::chrono::steady_clock::now();
    if (left.count() > 0) mu_.AwaitWithTimeout(absl::Condition(&done), absl::FromChrono(left));
    stop_now_ = true;
  });
  thread_.join();
  killer.join();
}

void Notifier::Loop() {
  while (true) {
    storage::EventRecord event;
    std::chrono::milliseconds limit = config_.timeout;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (dropped_ > 0) {
        LogWarning("notify hook is too slow: events were dropped",
                   {{"dropped", std::to_string(dropped_)}});
        dropped_ = 0;
      }
      if (stopping_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline_ - std::chrono::steady_clock::now());
        if (queue_.empty() || left.count() <= 0) {
          if (!queue_.empty()) {
            LogWarning("medperfd is stopping: events not handed to the notify hook",
                       {{"count", std::to_string(queue_.size())}});
          }
          worker_done_ = true;
          return;
        }
        limit = std::min(limit, left);
      }
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string input = EventToJson(event).dump() + "\n";
    HookRun run = RunHook(config_.command, input, limit, [this] { return stop_now_.load(); });
    LogFields fields = {{"event", event.kind}, {"event_id", std::to_string(event.id)}};
    if (run.ok()) {
      LogDebug("notify hook delivered the event", fields);
      continue;
    }
    // Logged only: publishing an event here would feed the failing hook again.
    fields.emplace_back("outcome", run.Describe());
    if (!run.output.empty()) fields.emplace_back("output", run.output);
    LogWarning(absl::StrCat("notify command failed for event ", event.id, " (", event.kind,
                            "): ", run.Describe()),
               fields);
  }
}

}  // namespace medperf::daemon
