#include "runners/task_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace medperf {
namespace {

std::string ReadSmall(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[8192];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

bool WriteSmall(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

// "key value" lines (memory.events, pids.events, memory.oom_control).
uint64_t EventCount(const std::string& path, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(ReadSmall(path), '\n')) {
    std::vector<absl::string_view> kv = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v = 0;
    if (kv.size() == 2 && kv[0] == key && absl::SimpleAtoi(kv[1], &v)) return v;
  }
  return 0;
}

// The daemon's own group per hierarchy, from /proc/self/cgroup: "" key = v2.
std::map<std::string, std::string> OwnGroups() {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(ReadSmall("/proc/self/cgroup"), '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    for (absl::string_view c : absl::StrSplit(parts[1], ',')) out[std::string(c)] = parts[2];
  }
  return out;
}

bool IsCgroup2Root() { return ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0; }

std::atomic<uint64_t> counter{0};

std::string UniqueName() {
  return absl::StrCat("medperf-task-", ::getpid(), "-", counter.fetch_add(1));
}

// v1: the directory where this process may create task groups for `controller`.
std::string V1Base(const std::map<std::string, std::string>& own, const std::string& controller) {
  auto it = own.find(controller);
  if (it == own.end()) return "";
  std::string base = absl::StrCat("/sys/fs/cgroup/", controller, it->second);
  if (base.back() == '/') base.pop_back();
  return ::access(base.c_str(), W_OK) == 0 ? base : "";
}

// v2: the parent of task groups. Processes may not live in a group whose children have
// controllers enabled, so the daemon first moves itself into a "daemon" leaf of its
// own (delegated) group and enables the controllers for its children.
std::string V2Base() {
  static std::once_flag once;
  static std::string base;
  std::call_once(once, [] {
    auto own = OwnGroups();
    auto it = own.find("");
    if (it == own.end()) return;
    std::string group = absl::StrCat("/sys/fs/cgroup", it->second);
    if (group.back() == '/') group.pop_back();
    if (absl::EndsWith(group, "/medperf-daemon")) group.resize(group.size() - 15);
    if (::access((group + "/cgroup.subtree_control").c_str(), W_OK) != 0) return;
    std::string leaf = group + "/medperf-daemon";
    ::mkdir(leaf.c_str(), 0755);
    if (!WriteSmall(leaf + "/cgroup.procs", absl::StrCat(::getpid()))) return;
    std::string available = ReadSmall(group + "/cgroup.controllers");
    for (const char* c : {"memory", "pids", "cpu"}) {
      if (absl::StrContains(available, c))
        WriteSmall(group + "/cgroup.subtree_control", absl::StrCat("+", c));
    }
    base = group;
  });
  return base;
}

}  // namespace

std::string LimitEnforcement::Describe() const {
  std::vector<std::string> by_cgroup, by_rlimit;
  (memory ? by_cgroup : by_rlimit).push_back("memory");
  (pids ? by_cgroup : by_rlimit).push_back("processes");
  (cpu ? by_cgroup : by_rlimit).push_back("cpu");
  std::string out;
  if (!by_cgroup.empty()) {
    out = absl::StrCat("cgroups ", cgroup_version, " (", absl::StrJoin(by_cgroup, ", "), ")");
  }
  if (!by_rlimit.empty()) {
    absl::StrAppend(&out, out.empty() ? "" : "; ", "rlimits (", absl::StrJoin(by_rlimit, ", "),
                    ": memory as address space, processes per task user, cpu as CPU time)");
  }
  absl::StrAppend(&out, "; wall time, output and log size by the daemon");
  return out;
}

const LimitEnforcement& DetectLimitEnforcement() {
  static const LimitEnforcement detected = [] {
    LimitEnforcement e;
    TaskLimits probe;
    probe.memory_bytes = uint64_t{1} << 30;
    probe.max_processes = 64;
    probe.cpus = 1;
    auto group = TaskCgroup::Create(probe);
    if (!group.ok() || *group == nullptr) return e;
    e.cgroup_version = (*group)->v2_ ? "v2" : "v1";
    e.memory = !(*group)->memory_dir_.empty();
    e.pids = !(*group)->pids_dir_.empty();
    for (const auto& d : (*group)->dirs_) {
      if (absl::StrContains(d, "/cpu") || (*group)->v2_) e.cpu = true;
    }
    return e;
  }();
  return detected;
}

absl::StatusOr<std::unique_ptr<TaskCgroup>> TaskCgroup::Create(const TaskLimits& limits) {
  std::unique_ptr<TaskCgroup> g(new TaskCgroup());
  std::string name = UniqueName();
  auto fail = [&](const std::string& file) {
    return absl::InternalError(
        absl::StrCat("cannot set task limit ", file, ": ", std::strerror(errno)));
  };
  if (IsCgroup2Root()) {
    std::string base = V2Base();
    if (base.empty()) return std::unique_ptr<TaskCgroup>();
    std::string dir = absl::StrCat(base, "/", name);
    if (::mkdir(dir.c_str(), 0755) != 0) return std::unique_ptr<TaskCgroup>();
    g->v2_ = true;
    g->dirs_.push_back(dir);
    std::string controllers = ReadSmall(dir + "/cgroup.controllers");
    if (absl::StrContains(controllers, "memory")) {
      g->memory_dir_ = dir;
      if (limits.memory_bytes > 0) {
        if (!WriteSmall(dir + "/memory.max", absl::StrCat(limits.memory_bytes)))
          return fail(dir + "/memory.max");
        WriteSmall(dir + "/memory.swap.max", "0");
      }
    }
    if (absl::StrContains(controllers, "pids")) {
      g->pids_dir_ = dir;
      if (limits.max_processes > 0 &&
          !WriteSmall(dir + "/pids.max", absl::StrCat(limits.max_processes))) {
        return fail(dir + "/pids.max");
      }
    }
    if (absl::StrContains(controllers, "cpu") && limits.cpus > 0) {
      WriteSmall(dir + "/cpu.max",
                 absl::StrCat(static_cast<uint64_t>(std::ceil(limits.cpus * 100000)), " 100000"));
    }
  } else {
    auto own = OwnGroups();
    for (const char* controller : {"memory", "pids", "cpu"}) {
      std::string base = V1Base(own, controller);
      if (base.empty()) continue;
      std::string dir = absl::StrCat(base, "/", name);
      if (::mkdir(dir.c_str(), 0755) != 0) continue;
      g->dirs_.push_back(dir);
      std::string c(controller);
      if (c == "memory") {
        g->memory_dir_ = dir;
        if (limits.memory_bytes > 0) {
          if (!WriteSmall(dir + "/memory.limit_in_bytes", absl::StrCat(limits.memory_bytes)))
            return fail(dir + "/memory.limit_in_bytes");
          // Without swap accounting this file is absent; then swap is not limited.
          WriteSmall(dir + "/memory.memsw.limit_in_bytes", absl::StrCat(limits.memory_bytes));
        }
      } else if (c == "pids") {
        g->pids_dir_ = dir;
        if (limits.max_processes > 0 &&
            !WriteSmall(dir + "/pids.max", absl::StrCat(limits.max_processes))) {
          return fail(dir + "/pids.max");
        }
      } else if (limits.cpus > 0) {
        WriteSmall(dir + "/cpu.cfs_period_us", "100000");
        WriteSmall(dir + "/cpu.cfs_quota_us",
                   absl::StrCat(static_cast<uint64_t>(std::ceil(limits.cpus * 100000))));
      }
    }
    if (g->dirs_.empty()) return std::unique_ptr<TaskCgroup>();
  }
  for (const auto& dir : g->dirs_) {
    int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail(dir + "/cgroup.procs");
    g->procs_fds_.push_back(fd);
  }
  return g;
}

namespace {

// Kills whatever is left in a task group and removes it. The group is normally empty
// already, but the sandbox's init may still be tearing its namespaces down for a moment
// (rmdir says EBUSY), so retry with a short, growing pause: about 1 s in all.
void KillAndRemove(const std::string& dir, bool v2) {
  auto pause = std::chrono::microseconds(500);
  for (int attempt = 0; attempt < 14; ++attempt) {
    if (v2) WriteSmall(dir + "/cgroup.kill", "1");
    std::string procs = ReadSmall(dir + "/cgroup.procs");
    for (absl::string_view p : absl::StrSplit(procs, '\n', absl::SkipEmpty())) {
      int pid = 0;
      if (absl::SimpleAtoi(p, &pid) && pid > 0) ::kill(pid, SIGKILL);
    }
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(200000));
  }
}

}  // namespace

TaskCgroup::~TaskCgroup() {
  for (int fd : procs_fds_) ::close(fd);
  for (const auto& dir : dirs_) KillAndRemove(dir, v2_);
}

int SweepStaleTaskCgroups() {
  std::vector<std::string> bases;
  if (IsCgroup2Root()) {
    if (std::string base = V2Base(); !base.empty()) bases.push_back(base);
  } else {
    auto own = OwnGroups();
    for (const char* controller : {"memory", "pids", "cpu"}) {
      if (std::string base = V1Base(own, controller); !base.empty()) bases.push_back(base);
    }
  }
  int removed = 0;
  for (const std::string& base : bases) {
    DIR* d = ::opendir(base.c_str());
    if (d == nullptr) continue;
    std::vector<std::string> stale;
    while (struct dirent* e = ::readdir(d)) {
      // medperf-task-<daemon pid>-<n>: stale when that daemon is gone (another daemon
      // may share this cgroup, e.g. in tests; its groups are left alone).
      std::vector<std::string> parts = absl::StrSplit(e->d_name, '-');
      int pid = 0;
      if (parts.size() != 4 || parts[0] != "medperf" || parts[1] != "task" ||
          !absl::SimpleAtoi(parts[2], &pid) || pid <= 0) {
        continue;
      }
      if (::kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(base + "/" + e->d_name);
    }
    ::closedir(d);
    for (const std::string& dir : stale) {
      KillAndRemove(dir, IsCgroup2Root());
      ++removed;
    }
  }
  return removed;
}

bool TaskCgroup::MemoryLimitHit() const {
  if (memory_dir_.empty()) return false;
  if (v2_) return EventCount(memory_dir_ + "/memory.events", "oom_kill") > 0;
  return EventCount(memory_dir_ + "/memory.oom_control", "oom_kill") > 0 ||
         std::atoll(ReadSmall(memory_dir_ + "/memory.failcnt").c_str()) > 0;
}

bool TaskCgroup::ProcessLimitHit() const {
  if (pids_dir_.empty()) return false;
  return EventCount(pids_dir_ + "/pids.events", "max") > 0;
}

uint64_t TaskCgroup::PeakMemoryBytes() const {
  if (memory_dir_.empty()) return 0;
  std::string v = ReadSmall(memory_dir_ + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"));
  uint64_t out = 0;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &out) ? out : 0;
}

}  // namespace medperf
