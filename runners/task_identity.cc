#include "runners/task_identity.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/absl_view.h"
#include "core/status_macros.h"
#include "runners/subprocess.h"

namespace medperf {
namespace {

bool HasSetIdCapabilities() {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  auto has = [&](int cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
  return has(CAP_SETUID) && has(CAP_SETGID);
}

std::string UserName(uint32_t uid) {
  struct passwd pw, *result = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result) return pw.pw_name;
  return "";
}

}  // namespace

absl::StatusOr<TaskIdentity> ResolveTaskIdentity(const std::string& task_user,
                                                 uint32_t fallback_uid) {
  TaskIdentity id;
  if (::geteuid() != 0 && !HasSetIdCapabilities()) {
    id.uid = ::getuid();
    id.gid = ::getgid();
    return id;
  }
  id.switch_user = true;
  std::string name = task_user.empty() ? "medperf-task" : task_user;
  std::vector<std::string> parts = absl::StrSplit(name, ':');
  if (parts.size() == 2) {
    if (!absl::SimpleAtoi(parts[0], &id.uid) || !absl::SimpleAtoi(parts[1], &id.gid)) {
      return absl::InvalidArgumentError(absl::StrCat("sandbox.task_user '", task_user,
                                                     "': expected a user name or uid:gid numbers"));
    }
  } else {
    struct passwd pw, *result = nullptr;
    std::vector<char> buf(16384);
    if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result) == 0 && result) {
      id.uid = pw.pw_uid;
      id.gid = pw.pw_gid;
    } else if (task_user.empty()) {
      id.uid = id.gid = fallback_uid;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("sandbox.task_user '", task_user,
                       "' is not a user on this host; create it (the medperf-site-agent package "
                       "creates medperf-task) or give uid:gid"));
    }
  }
  if (id.uid == 0 || id.gid == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sandbox.task_user '", name, "' is root (uid or gid 0); tasks never run as root"));
  }
  if (id.uid == ::geteuid()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sandbox.task_user '", name, "' is the daemon's own user; tasks need a user of their own"));
  }
  return id;
}

absl::Status CheckReadableBy(const TaskIdentity& identity,
                             const std::vector<std::filesystem::path>& inputs, size_t max_entries) {
  namespace fs = std::filesystem;
  if (!identity.switch_user || inputs.empty()) return absl::OkStatus();
  // Collect the paths here; the child only calls faccessat() on prepared strings,
  // relative to a descriptor of each input, so the check is what the sandbox sees (it
  // binds the input itself; the folders above it need not be open to the task user).
  std::vector<int> roots;
  std::vector<fs::path> root_paths;
  std::vector<size_t> root_of;
  std::vector<std::string> paths;  // relative to the input; "" = the input itself
  std::vector<char> is_dir;
  auto close_roots = [&] {
    for (int fd : roots) ::close(fd);
  };
  for (const fs::path& input : inputs) {
    std::error_code ec;
    int fd = ::open(input.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) continue;  // mounting reports a missing input precisely
    roots.push_back(fd);
    root_paths.push_back(input);
    root_of.push_back(roots.size() - 1);
    paths.push_back("");
    is_dir.push_back(fs::is_directory(input, ec));
    if (!is_dir.back()) continue;
    for (auto it = fs::recursive_directory_iterator(
             input, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::end(it) && paths.size() < max_entries; it.increment(ec)) {
      auto st = it->symlink_status(ec);
      if (fs::is_symlink(st)) continue;
      root_of.push_back(roots.size() - 1);
      paths.push_back(it->path().lexically_relative(input).string());
      is_dir.push_back(fs::is_directory(st));
    }
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    close_roots();
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    int64_t failed = -1;
    if (::setgroups(0, nullptr) != 0 ||
        ::setresgid(identity.gid, identity.gid, identity.gid) != 0 ||
        ::setresuid(identity.uid, identity.uid, identity.uid) != 0) {
      failed = -2;
    } else {
      for (size_t i = 0; i < paths.size(); ++i) {
        int mode = is_dir[i] ? (R_OK | X_OK) : R_OK;
        int flags = paths[i].empty() ? AT_EMPTY_PATH : 0;
        if (::faccessat(roots[root_of[i]], paths[i].c_str(), mode, flags) != 0) {
          failed = static_cast<int64_t>(i);
          break;
        }
      }
    }
    ssize_t ignored = ::write(pipe_fds[1], &failed, sizeof(failed));
    (void)ignored;
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  int64_t failed = -1;
  ssize_t n;
  do {
    n = ::read(pipe_fds[0], &failed, sizeof(failed));
  } while (n < 0 && errno == EINTR);
  ::close(pipe_fds[0]);
  close_roots();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof(failed) || failed == -2) {
    return absl::InternalError("cannot check input permissions as the task user");
  }
  if (failed < 0) return absl::OkStatus();
  size_t index = static_cast<size_t>(failed);
  const fs::path& root = root_paths[root_of[index]];
  fs::path path = paths[index].empty() ? root : root / paths[index];
  std::string user = UserName(identity.uid);
  std::string who = user.empty() ? absl::StrCat(identity.uid) : user;
  return absl::PermissionDeniedError(absl::StrCat(
      "the task user (", DescribeTaskIdentity(identity), ") cannot read '", path.string(),
      "'; containers run as that user, never as root. Grant it read access, e.g. "
      "`setfacl -R -m u:",
      who, ":rX ", path.string(), "` or `chmod -R o+rX ", path.string(), "`"));
}

namespace {

// Runs `argv` followed by `paths` as root of a user namespace that maps the daemon to 0
// and the task user to itself (SupervisedCommand::private_user_namespace): power over
// those two users' files only. Each output line goes to `on_line`.
absl::StatusOr<TaskOutcome> RunAsNamespaceRoot(const TaskIdentity& identity,
                                               std::vector<std::string> argv,
                                               const std::vector<std::filesystem::path>& paths,
                                               std::chrono::seconds time_limit,
                                               std::function<void(std::string_view)> on_line) {
  SupervisedCommand command;
  command.argv = std::move(argv);
  command.argv.push_back("--");
  for (const auto& p : paths) command.argv.push_back(p.string());
  command.inherit_env = false;
  command.env = {"PATH=/usr/bin:/bin", "LC_ALL=C"};
  command.private_user_namespace = true;
  command.uid = identity.uid;
  command.gid = identity.gid;
  command.time_limit = time_limit;
  command.on_output = std::move(on_line);
  return RunSupervised(command);
}

}  // namespace

absl::Status TakeBackOutputs(const TaskIdentity& identity,
                             const std::vector<std::filesystem::path>& outputs) {
  if (!identity.switch_user || ::geteuid() == 0 || outputs.empty()) return absl::OkStatus();
  std::string said;
  auto keep = [&](std::string_view line) {
    if (said.size() < 2000) said.append(line).append("\n");
  };
  // chown and chmod exec'd directly (no shell between): each gets the parent-death
  // signal, so neither outlives a killed daemon. Then readable by later tasks too
  // (prepared data, predictions): they run as the task user, which is "other" to the
  // daemon's files and reaches them through binds.
  const std::vector<std::vector<std::string>> steps = {{"chown", "-R", "-P", "-h", "0:0"},
                                                       {"chmod", "-R", "u+rwX,go+rX"}};
  for (const auto& step : steps) {
    ASSIGN_OR_RETURN(TaskOutcome outcome,
                     RunAsNamespaceRoot(identity, step, outputs, std::chrono::minutes(5), keep));
    if (!outcome.ok()) {
      return absl::InternalError(absl::StrCat("cannot take the task's outputs back from uid ",
                                              identity.uid, " (", outputs.front().string(),
                                              "...): ", step.front(), " failed: ", said));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MeasureOutputs(const TaskIdentity& identity,
                                        const std::vector<std::filesystem::path>& outputs) {
  if (!identity.switch_user || ::geteuid() == 0) {
    return absl::FailedPreconditionError("only a service-user daemon measures outputs this way");
  }
  uint64_t total = 0;
  std::string said;
  auto add = [&](std::string_view line) {
    uint64_t n = 0;
    std::string_view digits = line.substr(0, line.find('\t'));
    if (!digits.empty() && absl::SimpleAtoi(AV(digits), &n)) {
      total += n;
    } else if (said.size() < 2000) {
      said.append(line).append("\n");
    }
  };
  ASSIGN_OR_RETURN(TaskOutcome outcome, RunAsNamespaceRoot(identity, {"du", "-s", "-b"}, outputs,
                                                           std::chrono::seconds(60), add));
  if (!outcome.ok()) return absl::InternalError(absl::StrCat("du failed: ", said));
  return total;
}

std::string DescribeTaskIdentity(const TaskIdentity& identity) {
  std::string name = UserName(identity.uid);
  return absl::StrCat("uid ", identity.uid, name.empty() ? "" : absl::StrCat(" (", name, ")"),
                      " gid ", identity.gid,
                      identity.switch_user ? ", switched to from the daemon's user"
                                           : ", the daemon's own user in a user namespace");
}

}  // namespace medperf
