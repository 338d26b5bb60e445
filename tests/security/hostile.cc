// hostile: the attacker of the security suite (tests/security/, docs/security.md). One
// program plays every MedPerf task (prepare, sanity_check, statistics, infer, evaluate);
// besides doing the task's job (so a contained attack still lets the pipeline pass), it
// tries the attacks named by --mode (comma-separated) and records the outcome of every
// attempt as plain `key=value` lines in <out>/report.txt (directory outputs) or as JSON
// fields of the output file (statistics.yaml / results.yaml). "OK" means the attempt
// worked; anything else is the errno name (EPERM, EROFS, ...). Everything is bounded in
// time and size, so a broken sandbox makes a test fail, not hang.
//
//   hostile <task> [--mode=m1,m2] [--out=PATH] [--out_labels=PATH] [--data=PATH]
//           [--labels=PATH] [--params=PATH] [--extra=PATH] [--predictions=PATH]
//           [--token=HOST_PATH] [--state=HOST_PATH] [--nonce=TEXT]
//
// Modes: procsys secrets privs wait_host write_inputs link_environ link_mem link_token
// link_hostname link_root hardlink fifo socket forkbomb memhog flood_file flood_files
// flood_files_fast flood_hidden flood_deep tmp_flood log_flood hang bomb deep huge trigger:<mode>.
// An evaluator also applies the modes named in <predictions>/trigger (so a model can
// make the benchmark's evaluator misbehave only for its own run).
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "E" + std::to_string(err);
}

// "OK" when the call returned `rc` >= 0, else the errno name.
std::string Outcome(long rc) { return rc >= 0 ? "OK" : ErrnoName(errno); }

struct Args {
  std::string task;
  std::set<std::string> modes;
  std::map<std::string, std::string> flags;
  std::string Flag(const std::string& name) const {
    auto it = flags.find(name);
    return it == flags.end() ? "" : it->second;
  }
  bool Has(const std::string& mode) const { return modes.count(mode) != 0; }
};

void AddModes(Args& args, const std::string& list) {
  std::stringstream ss(list);
  std::string mode;
  while (std::getline(ss, mode, ',')) {
    mode.erase(std::remove_if(mode.begin(), mode.end(), ::isspace), mode.end());
    if (!mode.empty() && mode != "none") args.modes.insert(mode);
  }
}

// Ordered key=value pairs: what each attempt achieved.
class Report {
 public:
  void Add(const std::string& key, const std::string& value) {
    entries_.emplace_back(key, value);
    std::cout << "[hostile] " << key << "=" << value << "\n";
  }
  std::string Text() const {
    std::string out;
    for (const auto& [k, v] : entries_) out += k + "=" + v + "\n";
    return out;
  }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t w = ::write(fd, data, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    size -= static_cast<size_t>(w);
  }
  return true;
}

// Writes `content` to `path` (truncating); returns "OK" or the errno name.
std::string WriteFileAt(const fs::path& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoName(errno);
  bool ok = WriteAll(fd, content.data(), content.size());
  int err = errno;
  ::close(fd);
  return ok ? "OK" : ErrnoName(err);
}

// Up to `max` bytes of a file; the errno name in `error` when it cannot be read.
std::string ReadUpTo(const fs::path& path, size_t max, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = ErrnoName(errno);
    return "";
  }
  std::string out(max, '\0');
  size_t got = 0;
  while (got < max) {
    ssize_t r = ::read(fd, out.data() + got, max - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      *error = ErrnoName(errno);
      break;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// --- 1. /proc/sys and sysrq ----------------------------------------------------------

void AttackProcSys(Report& report) {
  // Values that would matter on the host if written (the test restores any that change).
  const std::vector<std::pair<std::string, std::string>> targets = {
      {"/proc/sys/kernel/core_pattern", "|/bin/false medperf-hostile %p\n"},
      {"/proc/sys/kernel/modprobe", "/tmp/medperf-hostile-modprobe\n"},
      {"/proc/sys/kernel/hostname", "medperf-hostile\n"},
      {"/proc/sys/kernel/panic", "77\n"},
      {"/proc/sys/vm/drop_caches", "1\n"},
      {"/proc/sys/fs/suid_dumpable", "2\n"},
      // 'h' only prints the help text to the kernel log, should this write ever work.
      {"/proc/sysrq-trigger", "h"},
  };
  for (const auto& [path, value] : targets) {
    std::string error;
    std::string before = ReadUpTo(path, 4096, &error);
    report.Add("read." + path, error.empty() ? "OK" : error);
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    report.Add("open." + path, Outcome(fd));
    if (fd >= 0) {
      bool ok = WriteAll(fd, value.data(), value.size());
      report.Add("write." + path, ok ? "OK" : ErrnoName(errno));
      ::close(fd);
    }
  }
  // Making /proc/sys writable again, or mounting a fresh proc.
  report.Add("remount./proc/sys",
             Outcome(::mount(nullptr, "/proc/sys", nullptr, MS_REMOUNT | MS_BIND, nullptr)));
  ::mkdir("/tmp/newproc", 0755);
  report.Add("mount.proc", Outcome(::mount("proc", "/tmp/newproc", "proc", 0, nullptr)));
}

// --- 2. host secrets -----------------------------------------------------------------

// Tries to read `path` (a file, or every file of a directory tree, bounded); records the
// outcome and writes anything read to `leaks` and to stdout (the task log).
void TrySecret(Report& report, const std::string& label, const fs::path& path, std::string& leaks) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    report.Add("secret." + label, ErrnoName(errno));
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      report.Add("secret." + label, ErrnoName(ec.value()));
      return;
    }
    int listed = 0;
    int read = 0;
    for (; !ec && it != fs::end(it) && listed < 200; it.increment(ec), ++listed) {
      std::error_code fec;
      if (!it->is_regular_file(fec)) continue;
      std::string error;
      std::string content = ReadUpTo(it->path(), 65536, &error);
      if (!error.empty()) continue;
      ++read;
      leaks += "== " + it->path().string() + "\n" + content + "\n";
      std::cout << "[hostile] leaked " << it->path() << ": " << content << "\n";
    }
    report.Add("secret." + label, "LISTED " + std::to_string(listed) + " entries, READ " +
                                      std::to_string(read) + " files");
    return;
  }
  std::string error;
  std::string content = ReadUpTo(path, 65536, &error);
  if (!error.empty()) {
    report.Add("secret." + label, error);
    return;
  }
  report.Add("secret." + label, "READ " + std::to_string(content.size()) + " bytes");
  leaks += "== " + path.string() + "\n" + content + "\n";
  std::cout << "[hostile] leaked " << path << ": " << content << "\n";
}

std::string ListDir(const fs::path& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) return ErrnoName(ec.value());
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

std::string AttackSecrets(const Args& args, Report& report) {
  std::string leaks;
  const std::vector<std::pair<std::string, std::string>> fixed = {
      {"shadow", "/etc/shadow"},
      {"shadow-", "/etc/shadow-"},
      {"gshadow", "/etc/gshadow"},
      {"gshadow-", "/etc/gshadow-"},
      {"sudoers", "/etc/sudoers"},
      {"ssh", "/etc/ssh"},
      {"root", "/root"},
      {"home", "/home"},
      {"packaged_token", "/etc/medperfd/token"},
      {"packaged_state", "/var/lib/medperfd"},
      {"pid1_environ", "/proc/1/environ"},
      {"pid1_root_shadow", "/proc/1/root/etc/shadow"},
      {"parent_environ", "/proc/" + std::to_string(::getppid()) + "/environ"},
  };
  for (const auto& [label, path] : fixed) TrySecret(report, label, path, leaks);
  if (!args.Flag("token").empty()) TrySecret(report, "token", args.Flag("token"), leaks);
  if (!args.Flag("state").empty()) {
    TrySecret(report, "state_dir", args.Flag("state"), leaks);
    TrySecret(report, "state_db", fs::path(args.Flag("state")) / "state.db", leaks);
  }
  // What the task can see at all, for the test's failure messages.
  report.Add("ls./", ListDir("/"));
  report.Add("ls./etc", ListDir("/etc"));
  std::string error;
  std::string passwd = ReadUpTo("/etc/passwd", 4096, &error);
  report.Add(
      "etc_passwd_lines",
      error.empty() ? std::to_string(std::count(passwd.begin(), passwd.end(), '\n')) : error);
  return leaks;
}

// --- 3. privileges -------------------------------------------------------------------

void AttackPrivileges(Report& report) {
  std::string error;
  std::string status = ReadUpTo("/proc/self/status", 65536, &error);
  std::stringstream lines(status);
  std::string line;
  const std::set<std::string> keys = {"Uid",    "Gid",    "Groups", "CapInh",     "CapPrm",
                                      "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"};
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    if (keys.count(key)) report.Add("status." + key, Trim(line.substr(colon + 1)));
  }
  report.Add("call.setuid0", Outcome(::setuid(0)));
  report.Add("call.setgid0", Outcome(::setgid(0)));
  report.Add("call.setgroups", Outcome(::setgroups(0, nullptr)));
  report.Add("call.unshare_user", Outcome(::unshare(CLONE_NEWUSER)));
  report.Add("call.unshare_mount", Outcome(::unshare(CLONE_NEWNS)));
  {
    long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) ::_exit(0);
    report.Add("call.clone_newuser", Outcome(pid));
    if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
  report.Add("call.mount", Outcome(::mount("none", "/tmp", "tmpfs", 0, nullptr)));
  report.Add("call.chroot", Outcome(::chroot("/tmp")));
  report.Add("call.sethostname", Outcome(::sethostname("pwned", 5)));
  report.Add("call.mknod", Outcome(::mknod("/tmp/hostile-null", S_IFCHR | 0666, ::makedev(1, 3))));
  // A child to trace: tracing is how a task would read another process's memory.
  pid_t child = ::fork();
  if (child == 0) {
    ::sleep(5);
    ::_exit(0);
  }
  if (child > 0) {
    long attach = ::ptrace(PTRACE_ATTACH, child, nullptr, nullptr);
    report.Add("call.ptrace_attach", Outcome(attach));
    char buf[16];
    iovec local{buf, sizeof buf};
    iovec remote{reinterpret_cast<void*>(0x400000), sizeof buf};
    report.Add("call.process_vm_readv",
               Outcome(::process_vm_readv(child, &local, 1, &remote, 1, 0)));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  report.Add("call.ptrace_attach_parent",
             Outcome(::ptrace(PTRACE_ATTACH, ::getppid(), nullptr, nullptr)));
  {
    // PTRACE_TRACEME in a child, so a success cannot leave this process traced.
    int pipefd[2];
    if (::pipe(pipefd) == 0) {
      pid_t p = ::fork();
      if (p == 0) {
        long rc = ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
        int err = rc < 0 ? errno : 0;
        (void)!::write(pipefd[1], &err, sizeof err);
        ::_exit(0);
      }
      int err = -1;
      (void)!::read(pipefd[0], &err, sizeof err);
      if (p > 0) ::waitpid(p, nullptr, 0);
      ::close(pipefd[0]);
      ::close(pipefd[1]);
      report.Add("call.ptrace_traceme", err == 0 ? "OK" : ErrnoName(err));
    }
  }
  report.Add("call.keyctl",
             Outcome(::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)));
  report.Add("call.add_key", Outcome(::syscall(SYS_add_key, "user", "medperf-hostile", "x", 1,
                                               KEY_SPEC_PROCESS_KEYRING)));
  {
    bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    long fd = ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
    report.Add("call.bpf", Outcome(fd));
    if (fd >= 0) ::close(static_cast<int>(fd));
  }
  {
    perf_event_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    long fd = ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    report.Add("call.perf_event_open", Outcome(fd));
    if (fd >= 0) ::close(static_cast<int>(fd));
  }
  {
    long fd = ::syscall(SYS_userfaultfd, 0);
    report.Add("call.userfaultfd", Outcome(fd));
    if (fd >= 0) ::close(static_cast<int>(fd));
  }
  report.Add("call.init_module", Outcome(::syscall(SYS_init_module, nullptr, 0, "")));
  report.Add("call.kexec_load", Outcome(::syscall(SYS_kexec_load, 0, 0, nullptr, 0)));
}

// Waits (bounded) until the test, from the host, has looked at this process and left
// <out>/host_checked, so the host-side check never races the task's exit.
void WaitForHost(const Args& args, Report& report) {
  fs::path marker = fs::path(args.Flag("out")) / "host_checked";
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (::access(marker.c_str(), F_OK) == 0) {
      report.Add("host_checked", "yes");
      ::unlink(marker.c_str());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  report.Add("host_checked", "no");
}

// --- 4. writing into inputs ----------------------------------------------------------

void AttackInputs(const Args& args, Report& report) {
  for (const char* flag : {"data", "labels", "params", "extra"}) {
    std::string value = args.Flag(flag);
    if (value.empty()) continue;
    fs::path path(value);
    std::string prefix = std::string("write.") + flag + ".";
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      report.Add(prefix + "stat", ErrnoName(errno));
      continue;
    }
    fs::path victim = path;
    if (S_ISDIR(st.st_mode)) {
      report.Add(prefix + "create", WriteFileAt(path / "PWNED", "pwned\n"));
      report.Add(prefix + "mkdir", Outcome(::mkdir((path / "PWNED_DIR").c_str(), 0755)));
      report.Add(prefix + "symlink",
                 Outcome(::symlink("/etc/passwd", (path / "PWNED_LINK").c_str())));
      victim.clear();
      std::error_code ec;
      for (fs::directory_iterator it(path, ec); !ec && it != fs::end(it); it.increment(ec)) {
        std::error_code fec;
        if (it->is_regular_file(fec) && it->path().filename() != "PWNED") {
          victim = it->path();
          break;
        }
      }
    }
    if (victim.empty()) {
      report.Add(prefix + "victim", "none");
      continue;
    }
    int fd = ::open(victim.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    report.Add(prefix + "append", Outcome(fd));
    if (fd >= 0) {
      (void)!::write(fd, "pwned\n", 6);
      ::close(fd);
    }
    report.Add(prefix + "truncate", Outcome(::truncate(victim.c_str(), 0)));
    report.Add(prefix + "chmod", Outcome(::chmod(victim.c_str(), 0777)));
    report.Add(prefix + "utimes", Outcome(::utimensat(AT_FDCWD, victim.c_str(), nullptr, 0)));
    std::string moved = victim.string() + ".moved";
    int renamed = ::rename(victim.c_str(), moved.c_str());
    report.Add(prefix + "rename", Outcome(renamed));
    if (renamed == 0) (void)!::rename(moved.c_str(), victim.c_str());
    report.Add(prefix + "unlink", Outcome(::unlink(victim.c_str())));
  }
}

// --- 5. links and special files in outputs --------------------------------------------

void PlantLinks(const Args& args, Report& report) {
  fs::path out(args.Flag("out"));
  auto link = [&](const char* mode, const std::string& target, const char* name) {
    if (args.Has(mode)) report.Add(mode, Outcome(::symlink(target.c_str(), (out / name).c_str())));
  };
  link("link_environ", "/proc/self/environ", "environ");
  link("link_mem", "/proc/1/mem", "mem");
  link("link_token", args.Flag("token"), "token");
  link("link_hostname", "/etc/hostname", "hostname");
  link("link_root", "/", "rootdir");
  if (args.Has("hardlink")) {
    WriteFileAt(out / "original.txt", "one inode, two names\n");
    report.Add("hardlink",
               Outcome(::link((out / "original.txt").c_str(), (out / "second.txt").c_str())));
  }
  if (args.Has("fifo")) report.Add("fifo", Outcome(::mkfifo((out / "pipe").c_str(), 0644)));
  if (args.Has("socket")) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string p = (out / "sock").string();
    std::strncpy(addr.sun_path, p.c_str(), sizeof addr.sun_path - 1);
    report.Add("socket", Outcome(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr)));
    // Left open: the socket file stays while the task exits.
  }
}

// --- 7. resource exhaustion ----------------------------------------------------------

// A tree of forks (every child forks too: 5 levels of 5, about 4000 processes at most, so
// a broken limit still cannot take the host down) for at most 3 s; then each process
// lingers 2 s holding its slot and leaves. A contained bomb gives up and fails.
int ForkBomb(Report& report) {
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  const pid_t leader = ::getpid();
  long forks = 0;
  int first_error = 0;
  int depth = 0;
  int spawned = 0;
  while (Clock::now() < deadline && depth < 5 && spawned < 5) {
    pid_t p = ::fork();
    if (p == 0) {
      ++depth;  // the child starts its own round of forks
      spawned = 0;
      continue;
    }
    if (p < 0) {
      if (first_error == 0) first_error = errno;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    ++spawned;
    ++forks;
  }
  if (::getpid() != leader) {
    std::this_thread::sleep_until(deadline);
    ::sleep(2);
    ::_exit(0);
  }
  // Keep trying until the deadline, as a real bomb would.
  while (Clock::now() < deadline) {
    pid_t p = ::fork();
    if (p == 0) {
      ::sleep(2);
      ::_exit(0);
    }
    if (p < 0) {
      if (first_error == 0) first_error = errno;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else {
      ++forks;
      ::waitpid(p, nullptr, WNOHANG);
      if (forks > 2000) break;
    }
  }
  report.Add("forks", std::to_string(forks));
  report.Add("fork_error", first_error ? ErrnoName(first_error) : "none");
  return 1;
}

int MemoryHog(Report& report) {
  constexpr size_t kChunk = size_t{16} << 20;
  std::vector<char*> chunks;
  for (int i = 0; i < 48; ++i) {  // 768 MiB at most
    char* p = static_cast<char*>(std::malloc(kChunk));
    if (!p) {
      report.Add("memhog", "malloc failed after " + std::to_string(i * 16) + " MiB");
      return 1;
    }
    std::memset(p, i + 1, kChunk);
    chunks.push_back(p);
  }
  report.Add("memhog", "allocated 768 MiB");
  return 0;
}

// One file growing past any output cap (64 MiB at most).
void FloodFile(const Args& args, Report& report) {
  std::string chunk(size_t{1} << 20, 'f');
  int fd = ::open((fs::path(args.Flag("out")) / "flood.bin").c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int written = 0;
  for (; fd >= 0 && written < 64; ++written) {
    if (!WriteAll(fd, chunk.data(), chunk.size())) break;
  }
  report.Add("flood_file", std::to_string(written) + " MiB");
  if (fd >= 0) ::close(fd);
}

// Many 1 MiB files (each under any per-file cap) in `dir`; `pause` between them.
void FloodFiles(const fs::path& dir, Report& report, int count, std::chrono::milliseconds pause) {
  std::string chunk(size_t{1} << 20, 'g');
  int written = 0;
  for (; written < count; ++written) {
    fs::path file = dir / ("flood_" + std::to_string(written) + ".bin");
    if (WriteFileAt(file, chunk) != "OK") break;
    std::this_thread::sleep_for(pause);
  }
  report.Add("flood_files", std::to_string(written) + " MiB");
}

// Fills the private /tmp until it is full (64 MiB at most).
void TmpFlood(Report& report) {
  std::string chunk(size_t{1} << 20, 't');
  int fd = ::open("/tmp/flood.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    report.Add("tmp_flood", ErrnoName(errno));
    return;
  }
  size_t total = 0;
  std::string stop = "limit of this program";
  for (int i = 0; i < 64 * 1024; ++i) {
    ssize_t w = ::write(fd, chunk.data(), 1024);
    if (w < 0) {
      stop = ErrnoName(errno);
      break;
    }
    total += static_cast<size_t>(w);
    if (total >= size_t{64} << 20) break;
  }
  ::close(fd);
  ::unlink("/tmp/flood.bin");
  report.Add("tmp_flood_bytes", std::to_string(total));
  report.Add("tmp_flood_stop", stop);
}

// 16 MiB of log between two marker lines.
void LogFlood(const Args& args) {
  std::cout << "FIRST-LOG-LINE " << args.Flag("nonce") << std::endl;
  std::string line(1023, 'L');
  line += '\n';
  for (int i = 0; i < 16 * 1024; ++i) std::cout << line;
  std::cout << "LAST-LOG-LINE " << args.Flag("nonce") << std::endl;
}

// Ignores SIGTERM, leaves a detached grandchild behind, and sleeps 60 s (bounded).
void Hang() {
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  pid_t p = ::fork();
  if (p == 0) {
    ::setsid();
    if (::fork() == 0) {
      for (int i = 0; i < 60; ++i) ::sleep(1);
      ::_exit(0);
    }
    ::_exit(0);
  }
  if (p > 0) ::waitpid(p, nullptr, 0);
  for (int i = 0; i < 60; ++i) ::sleep(1);
}

// --- 6. hostile YAML -----------------------------------------------------------------

std::string BillionLaughs() {
  std::string y =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  const std::string names = "abcdefghij";
  for (size_t i = 1; i < names.size(); ++i) {
    std::string prev(1, names[i - 1]);
    y += std::string(1, names[i]) + ": &" + names[i] + " [";
    for (int k = 0; k < 9; ++k) y += (k ? ",*" : "*") + prev;
    y += "]\n";
  }
  return y;  // j expands to 9^10 scalars
}

std::string DeepYaml() {
  constexpr int kDepth = 100000;
  return "deep: " + std::string(kDepth, '[') + std::string(kDepth, ']') + "\n";
}

std::string HugeYaml() {
  // 17 MiB, over the reader's 16 MiB limit; a valid document otherwise.
  return "huge: \"" + std::string((size_t{17} << 20), 'h') + "\"\n";
}

// --- the tasks' honest work ----------------------------------------------------------

void CopyFiles(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (from.empty() || to.empty()) return;
  for (fs::directory_iterator it(from, ec); !ec && it != fs::end(it); it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    std::string error;
    std::string content = ReadUpTo(it->path(), size_t{1} << 20, &error);
    WriteFileAt(to / it->path().filename(), content);
  }
}

int CountFiles(const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::end(it); it.increment(ec)) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: hostile <task> [--mode=...] [--flag=value ...]\n";
    return 2;
  }
  Args args;
  args.task = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a.find('=') == std::string::npos) {
      std::cerr << "hostile: unexpected argument " << a << "\n";
      return 2;
    }
    std::string key = a.substr(2, a.find('=') - 2);
    std::string value = a.substr(a.find('=') + 1);
    if (key == "mode") {
      AddModes(args, value);
    } else {
      args.flags[key] = value;
    }
  }
  if (args.task == "evaluate" && !args.Flag("predictions").empty()) {
    std::string error;
    std::string trigger = ReadUpTo(fs::path(args.Flag("predictions")) / "trigger", 4096, &error);
    if (error.empty()) AddModes(args, Trim(trigger));
  }
  std::cout << "[hostile] task " << args.task << " nonce " << args.Flag("nonce") << std::endl;

  Report report;
  std::string leaks;
  int exit_code = 0;
  const fs::path out(args.Flag("out"));
  const bool out_is_dir = !out.empty() && fs::is_directory(out);

  // Attacks that do not depend on the task.
  if (args.Has("procsys")) AttackProcSys(report);
  if (args.Has("secrets")) leaks = AttackSecrets(args, report);
  if (args.Has("privs")) AttackPrivileges(report);
  if (args.Has("write_inputs")) AttackInputs(args, report);
  if (args.Has("tmp_flood")) TmpFlood(report);
  if (args.Has("log_flood")) LogFlood(args);
  if (args.Has("hang")) Hang();
  if (args.Has("forkbomb")) exit_code = ForkBomb(report);
  if (args.Has("memhog")) exit_code = MemoryHog(report);

  // The task's own output, honest unless a mode replaces it.
  if (args.task == "prepare") {
    CopyFiles(args.Flag("data"), out);
    CopyFiles(args.Flag("labels"), args.Flag("out_labels"));
  } else if (args.task == "infer" && out_is_dir) {
    WriteFileAt(out / "predictions.txt",
                "cases: " + std::to_string(CountFiles(args.Flag("data"))) + "\n");
    for (const std::string& m : args.modes) {
      if (m.rfind("trigger:", 0) == 0) WriteFileAt(out / "trigger", m.substr(8) + "\n");
    }
  } else if ((args.task == "statistics" || args.task == "evaluate") && !out.empty()) {
    std::string doc;
    if (args.Has("bomb")) {
      doc = BillionLaughs();
    } else if (args.Has("deep")) {
      doc = DeepYaml();
    } else if (args.Has("huge")) {
      doc = HugeYaml();
    } else {
      // JSON is YAML: the report travels inside the document the daemon reads.
      doc = args.task == "statistics" ? "{\"num_cases\": " : "{\"score\": ";
      doc += args.task == "statistics" ? std::to_string(CountFiles(args.Flag("data"))) : "1";
      for (const auto& [k, v] : report.entries())
        doc += ", " + JsonString(k) + ": " + JsonString(v);
      if (!leaks.empty()) doc += ", \"leaks\": " + JsonString(leaks);
      doc += "}\n";
    }
    std::string written = WriteFileAt(out, doc);
    if (written != "OK") {
      std::cerr << "hostile: cannot write " << out << ": " << written << "\n";
      return 1;
    }
  }
  if (out_is_dir) {
    if (args.Has("flood_file")) FloodFile(args, report);
    const fs::path out_dir = args.Flag("out");
    if (args.Has("flood_files")) FloodFiles(out_dir, report, 200, std::chrono::milliseconds(50));
    if (args.Has("flood_files_fast")) FloodFiles(out_dir, report, 64, std::chrono::milliseconds(0));
    // The same flood where the daemon's measuring walk is kept out: a folder only the
    // task may read (mode 0700), and one nested deeper than the walk goes.
    if (args.Has("flood_hidden")) {
      fs::path hidden = out_dir / "private";
      ::mkdir(hidden.c_str(), 0700);
      ::chmod(hidden.c_str(), 0700);
      FloodFiles(hidden, report, 200, std::chrono::milliseconds(50));
    }
    if (args.Has("flood_deep")) {
      fs::path deep = out_dir;
      for (int i = 0; i < 300; ++i) {
        deep /= "d";
        ::mkdir(deep.c_str(), 0755);
      }
      FloodFiles(deep, report, 200, std::chrono::milliseconds(50));
    }
    PlantLinks(args, report);
    if (!leaks.empty()) WriteFileAt(out / "leaks.txt", leaks);
    WriteFileAt(out / "report.txt", report.Text());
    // Last: the report is in place when the host looks.
    if (args.Has("wait_host")) {
      WaitForHost(args, report);
      WriteFileAt(out / "report.txt", report.Text());
    }
  }
  std::cout << "[hostile] done, exit " << exit_code << std::endl;
  return exit_code;
}
