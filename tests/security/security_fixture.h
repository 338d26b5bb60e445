// The security suite's worlds (docs/security.md):
// - LocalSecurityTest (sandbox_attacks_test.cc): the real medperfd (as the CI user, root)
//   on a temp state dir, driven by the real medperfctl `test run` with the hostile
//   container folders built in tests/security/CMakeLists.txt, on the bubblewrap sandbox or
//   on Docker;
// - ServerSecurityTest (benchmark_run_attacks_test.cc): the same daemon as a data owner's
//   site against the real, seeded medperf-server, for `benchmark run`.
// Every world gives the daemon small per-task limits, a token file and a canary secret in
// its environment, so a test can look for either wherever a task's data may travel.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/docker_engine.h"
#include "tests/support/test_support.h"

namespace medperf::testing {

namespace sec {

namespace fs = std::filesystem;

inline bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

inline std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string out;
  static const char* kHex = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 0xf];
  }
  return out;
}

inline std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A report.txt written by the hostile program: key -> value ("OK" = the attempt worked).
inline std::map<std::string, std::string> ParseReport(const std::string& text) {
  std::map<std::string, std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// Every regular file under `dir` whose bytes contain `needle`, one path a line.
inline std::string FilesContaining(const fs::path& dir, const std::string& needle) {
  std::string hits;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec) || it->is_symlink(fec)) continue;
    if (Slurp(it->path()).find(needle) != std::string::npos) hits += it->path().string() + "\n";
  }
  return hits;
}

// Every path under `dir` whose file name is `name`.
inline std::vector<fs::path> FindNamed(const fs::path& dir, const std::string& name) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().filename() == name) out.push_back(it->path());
  }
  return out;
}

// The NUL-separated command line of a process, with spaces between arguments.
inline std::string CmdLine(pid_t pid) {
  std::string raw = Slurp("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  return raw;
}

// Live processes (not zombies) whose command line contains `needle`: pid -> command line.
inline std::map<pid_t, std::string> ProcessesWith(const std::string& needle) {
  std::map<pid_t, std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec); !ec && it != fs::end(it); it.increment(ec)) {
    std::string name = it->path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::string cmd = CmdLine(pid);
    if (cmd.find(needle) == std::string::npos) continue;
    std::string status = Slurp("/proc/" + name + "/status");
    if (status.find("State:\tZ") != std::string::npos) continue;
    out[pid] = cmd;
  }
  return out;
}

// One field of /proc/<pid>/status ("Uid", "CapEff", "VmHWM", ...), trimmed; "" if absent.
inline std::string StatusField(pid_t pid, const std::string& key) {
  std::stringstream ss(Slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(ss, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    size_t b = v.find_first_not_of(" \t");
    return b == std::string::npos ? "" : v.substr(b);
  }
  return "";
}

// Peak resident memory of a process, in MiB.
inline uint64_t PeakRssMiB(pid_t pid) {
  std::string hwm = StatusField(pid, "VmHWM");  // "123456 kB"
  return hwm.empty() ? 0 : std::stoull(hwm) / 1024;
}

// The daemon's peak RSS that a hostile YAML document may not push it past. Sanitizers
// inflate every allocation, so their build gets more room.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr uint64_t kDaemonPeakRssMiB = 1024;
#else
inline constexpr uint64_t kDaemonPeakRssMiB = 300;
#endif

// Per-task limits of every world: small, so each attack hits them within seconds.
// `overrides` maps "<task>.<key>" to a value, e.g. {"infer.time_seconds", "3"}.
inline std::string LimitsYaml(const std::map<std::string, std::string>& overrides) {
  std::string yaml = "limits:\n";
  for (const char* task : {"prepare", "sanity_check", "statistics", "infer", "evaluate"}) {
    std::map<std::string, std::string> l = {
        {"time_seconds", "30"}, {"memory", "256MiB"}, {"processes", "64"}, {"cpus", "1"},
        {"output", "32MiB"},    {"log", "1MiB"},      {"tmp", "16MiB"}};
    if (std::string(task) == "infer") {
      l["time_seconds"] = "20";
      l["output"] = "10MiB";
    }
    for (const auto& [key, value] : overrides) {
      if (key.rfind(std::string(task) + ".", 0) == 0) l[key.substr(key.find('.') + 1)] = value;
    }
    yaml += std::string("  ") + task + ":\n";
    for (const auto& [k, v] : l) yaml += "    " + k + ": " + v + "\n";
  }
  return yaml;
}

// `docker info` answers: a Docker engine can run the Docker variants of the tests.
inline constexpr char kDockerImage[] = "medperf-hostile:security";

// Imports kDockerImage into the private engine (an empty image: the static hostile
// executable alone, as its entrypoint); no registry, no builder.
inline ::testing::AssertionResult BuildHostileImage(const fs::path& work) {
  fs::create_directories(work / "rootfs");
  fs::copy_file(BuildDir() / "tests/security/bin/hostile", work / "rootfs/hostile",
                fs::copy_options::overwrite_existing);
  return ImportImage(work / "rootfs", kDockerImage, {"ENTRYPOINT [\"/hostile\"]"});
}

}  // namespace sec

// medperfd started on `root` (state/, run/medperfd.sock, medperfd.log) with extra
// arguments and environment: like tests/e2e/daemon_fixture.h's DaemonProcess, plus the
// environment, so a canary secret can sit where only the daemon should see it.
class SiteDaemon {
 public:
  SiteDaemon(const std::filesystem::path& root, std::vector<std::string> args,
             std::vector<std::string> env)
      : root_(root), args_(std::move(args)), env_(std::move(env)) {}

  ::testing::AssertionResult Start() {
    std::vector<std::string> argv = {BinaryPath("daemon/medperfd").string(),
                                     "--state-dir",
                                     state_dir().string(),
                                     "--socket",
                                     socket().string(),
                                     "--log-level=debug"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    argv.insert(argv.begin(), launcher_.begin(), launcher_.end());
    std::filesystem::create_directories(root_);
    process_.reset();
    process_ = std::make_unique<Process>(argv, root_ / "medperfd.log", env_);
    bool up = WaitFor([&] { return Ctl({"status"}).exit_code == 0 || !process_->Alive(); },
                      std::chrono::seconds(30));
    if (!up || !process_->Alive()) {
      return ::testing::AssertionFailure() << "medperfd did not come up:\n" << Log();
    }
    return ::testing::AssertionSuccess();
  }

  RunResult Ctl(std::vector<std::string> args,
                std::chrono::milliseconds timeout = std::chrono::seconds(150)) const {
    std::vector<std::string> argv = {BinaryPath("ctl/medperfctl").string(), "--socket",
                                     socket().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv, timeout);
  }

  // SIGTERM (or `sig`); the wait status, or -1 if it did not stop within `timeout`.
  int Stop(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return process_ ? process_->Stop(sig, timeout) : -1;
  }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // A command medperfd is started through (e.g. setpriv, to run it as another user).
  void set_launcher(std::vector<std::string> launcher) { launcher_ = std::move(launcher); }
  std::string Log() const { return sec::Slurp(root_ / "medperfd.log"); }
  std::filesystem::path root() const { return root_; }
  std::filesystem::path state_dir() const { return root_ / "state"; }
  std::filesystem::path socket() const { return root_ / "run" / "medperfd.sock"; }

 private:
  std::filesystem::path root_;
  std::vector<std::string> args_;
  std::vector<std::string> env_;
  std::vector<std::string> launcher_;
  std::unique_ptr<Process> process_;
};

// The packaged unit's way of running medperfd (packaging/medperfd.service): an
// unprivileged service user holding only CAP_SETUID and CAP_SETGID (ambient), with
// no_new_privs. Tests take a uid no package allocates for it.
inline constexpr uint32_t kServiceUid = 64998;

// The UMask= of packaging/medperfd.service ("0022" where the unit sets none).
inline std::string UnitUmask() {
  std::stringstream unit(sec::Slurp(SourceDir() / "packaging" / "medperfd.service"));
  std::string umask = "0022";
  for (std::string line; std::getline(unit, line);) {
    if (line.rfind("UMask=", 0) == 0) umask = line.substr(6);
  }
  return umask;
}

inline std::vector<std::string> ServiceUserLauncher() {
  std::string id = std::to_string(kServiceUid);
  return {"/bin/sh",
          "-c",
          "umask " + UnitUmask() + " && exec \"$@\"",
          "unit-umask",
          "/usr/bin/setpriv",
          "--reuid=" + id,
          "--regid=" + id,
          "--clear-groups",
          "--inh-caps=-all,+setuid,+setgid",
          "--ambient-caps=+setuid,+setgid",
          "--bounding-set=-all,+setuid,+setgid",
          "--no-new-privs",
          "--"};
}

// What systemd's Delegate=yes gives the packaged unit, for the service user: a cgroup of
// its own in each limit hierarchy (v1: memory, pids, cpu; v2: one group), owned by it,
// which medperfd joins through Launcher(). Removed (after killing what is left) on
// destruction. Empty Launcher() and a reason in why() where this host allows none.
class DelegatedCgroup {
 public:
  DelegatedCgroup() {
    std::string name = "medperf-svc-test-" + std::to_string(::getpid()) + "-" + sec::RandomHex(4);
    bool v2 = std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers");
    std::map<std::string, std::string> own;  // controller ("" on v2) -> own group path
    std::stringstream ss(sec::Slurp("/proc/self/cgroup"));
    for (std::string line; std::getline(ss, line);) {
      auto a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::stringstream cs(line.substr(a + 1, b - a - 1));
      for (std::string c; std::getline(cs, c, ',');) own[c] = line.substr(b + 1);
      if (a + 1 == b) own[""] = line.substr(b + 1);
    }
    for (const std::string& c :
         v2 ? std::vector<std::string>{""} : std::vector<std::string>{"memory", "pids", "cpu"}) {
      if (!own.count(c)) {
        why_ = "no " + c + " cgroup hierarchy";
        return;
      }
      std::string base = "/sys/fs/cgroup/" + c + own[c];
      while (base.size() > 1 && base.back() == '/') base.pop_back();
      std::string dir = base + "/" + name;
      if (::mkdir(dir.c_str(), 0755) != 0) {
        why_ = "cannot create " + dir + ": " + std::strerror(errno);
        return;
      }
      dirs_.push_back(dir);
      for (const char* f :
           {"", "/cgroup.procs", "/tasks", "/cgroup.subtree_control", "/cgroup.threads"}) {
        ::chown((dir + f).c_str(), kServiceUid, kServiceUid);  // absent files: no matter
      }
    }
  }
  ~DelegatedCgroup() {
    for (const std::string& dir : dirs_) {
      // Deepest first: the daemon's task groups, then the delegated group itself.
      std::vector<std::filesystem::path> groups;
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
           !ec && it != std::filesystem::end(it); it.increment(ec)) {
        if (it->is_directory(ec)) groups.push_back(it->path());
      }
      groups.push_back(dir);
      std::sort(groups.begin(), groups.end(),
                [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
      for (const auto& g : groups) {
        std::stringstream procs(sec::Slurp(g / "cgroup.procs"));
        for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
        for (int i = 0; i < 100 && ::rmdir(g.c_str()) != 0 && errno == EBUSY; ++i) {
          ::usleep(20000);
        }
      }
    }
  }
  // Prefix for ServiceUserLauncher(): joins every group, then runs the rest.
  std::vector<std::string> Launcher() const {
    if (!why_.empty()) return {};
    std::string script = "for g in";
    for (const std::string& d : dirs_) script += " '" + d + "'";
    script += "; do echo $$ > \"$g/cgroup.procs\" || exit 1; done; exec \"$@\"";
    return {"/bin/sh", "-c", script, "delegate"};
  }
  const std::string& why() const { return why_; }

 private:
  std::vector<std::string> dirs_;
  std::string why_;
};

// Gives `root` and everything under it to the service user (never through a link).
inline void GiveToServiceUser(const std::filesystem::path& root) {
  std::error_code ec;
  ::lchown(root.c_str(), kServiceUid, kServiceUid);
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::end(it); it.increment(ec)) {
    ::lchown(it->path().c_str(), kServiceUid, kServiceUid);
  }
}

// What every world shares: the temp dir, the secrets only the daemon may know, the
// hostile container folders and the checks run after every attack.
class HostileBase {
 protected:
  HostileBase()
      : nonce_("hostile-nonce-" + sec::RandomHex(8)),
        token_("tok" + sec::RandomHex(24)),
        canary_("canary" + sec::RandomHex(24)) {
    std::filesystem::create_directories(dir_ / "secrets");
    token_file_ = dir_ / "secrets" / "site.token";
    WriteFile(token_file_, token_ + "\n");
    ::chmod(token_file_.c_str(), 0600);
  }

  // A generated container folder (tests/security/CMakeLists.txt) of `runner_`.
  std::filesystem::path Template(const std::string& name) const {
    return BuildDir() / "tests/security/containers" / runner_ / name;
  }

  static std::string HostileBuildPath() {
    return (BuildDir() / "tests/security/bin/hostile").string();
  }
  // The hostile program copied into the test's own folder: a service-user daemon cannot
  // reach a build tree under a private parent (a checkout in /root or a mode-0700 temp
  // folder), and a site's LocalProcess programs live where its service user can read them.
  std::string HostileCopy() {
    namespace fs = std::filesystem;
    fs::path copy = dir_ / "exe" / "hostile";
    if (!fs::exists(copy)) {
      fs::create_directories(copy.parent_path());
      fs::permissions(copy.parent_path(), fs::perms::owner_all | fs::perms::group_read |
                                              fs::perms::group_exec | fs::perms::others_read |
                                              fs::perms::others_exec);
      fs::copy_file(HostileBuildPath(), copy);
      fs::permissions(copy, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    }
    return copy.string();
  }

  // Copies container folder `name` to <tmp>/containers/<as>, filling in the token file,
  // state dir and nonce the hostile program is told about, and pointing it at the copy of
  // the hostile program.
  std::filesystem::path Instantiate(const std::string& name, std::string as = "") {
    namespace fs = std::filesystem;
    if (as.empty()) as = name;
    fs::path src = Template(name);
    fs::path dst = dir_ / "containers" / as;
    EXPECT_TRUE(fs::exists(src / "container_config.yaml")) << "not built: " << src;
    fs::create_directories(dst);
    std::string config = sec::Slurp(src / "container_config.yaml");
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{"%TOKEN%", token_file_.string()},
                                                          {"%STATE%", StateDir().string()},
                                                          {"%NONCE%", nonce_},
                                                          {HostileBuildPath(), HostileCopy()}}) {
      for (size_t at = config.find(from); at != std::string::npos; at = config.find(from, at)) {
        config.replace(at, from.size(), to);
        at += to.size();
      }
    }
    WriteFile(dst / "container_config.yaml", config);
    fs::copy_file(src / "parameters.yaml", dst / "parameters.yaml",
                  fs::copy_options::overwrite_existing);
    return dst;
  }

  // No process of any hostile task is left (the nonce is in each one's command line).
  void ExpectNothingLeftRunning() {
    bool gone =
        WaitFor([&] { return sec::ProcessesWith(nonce_).empty(); }, std::chrono::seconds(10));
    if (!gone) {
      std::string list;
      for (const auto& [pid, cmd] : sec::ProcessesWith(nonce_)) {
        list += std::to_string(pid) + " uid " + sec::StatusField(pid, "Uid") + ": " +
                cmd.substr(0, 200) + "\n";
      }
      ADD_FAILURE() << "processes of the hostile task still run after the task ended:\n" << list;
    }
  }

  // The token and the canary appear in no file under `dir` and in none of `texts`.
  void ExpectNoSecretIn(const std::filesystem::path& dir, const std::string& texts) {
    for (const std::string& secret : {token_, canary_}) {
      EXPECT_EQ(sec::FilesContaining(dir, secret), "") << "a daemon secret leaked into these files";
      EXPECT_FALSE(sec::Has(texts, secret)) << "a daemon secret leaked into:\n"
                                            << texts.substr(0, 4000);
    }
  }

  virtual std::filesystem::path StateDir() const = 0;
  virtual ~HostileBase() = default;

  TempDir dir_;
  std::string runner_ = "sandbox";
  std::string nonce_;
  std::string token_;   // the site's MedPerf token (in token_file_, read by medperfd)
  std::string canary_;  // in medperfd's environment only
  std::filesystem::path token_file_;
};

}  // namespace medperf::testing
