#include "tests/support/docker_engine.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace medperf::testing {
namespace fs = std::filesystem;
namespace {

std::string FindProgram(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  // dockerd lives in /usr/sbin, which a test's PATH may lack.
  path += ":/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

std::string Tail(const fs::path& file, size_t bytes) {
  std::string text = ReadFile(file);
  if (text.size() > bytes) text = "..." + text.substr(text.size() - bytes);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

struct Engine {
  DockerEngine info;
  pid_t pid = -1;
  std::string why;
  bool tried = false;
};

Engine& TheEngine() {
  static Engine* engine = new Engine;  // never destroyed: atexit stops it
  return *engine;
}

// Unmounts whatever dockerd left under `root` (deepest first), so it can be removed.
void UnmountUnder(const fs::path& root) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> points;
  for (std::string line; std::getline(in, line);) {
    std::stringstream fields(line);
    std::string id, parent, dev, source, point;
    fields >> id >> parent >> dev >> source >> point;
    if (point.rfind(root.string() + "/", 0) == 0 || point == root.string()) points.push_back(point);
  }
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& p : points) ::umount2(p.c_str(), MNT_DETACH);
}

void StopEngine() {
  Engine& e = TheEngine();
  if (e.pid <= 0) return;
  ::kill(e.pid, SIGTERM);
  // dockerd stops its managed containerd before exiting; give it a few seconds.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int status = 0;
  while (::waitpid(e.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-e.pid, SIGKILL);
      ::waitpid(e.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // containerd (same session, started by dockerd) may outlive it briefly.
  ::kill(-e.pid, SIGKILL);
  e.pid = -1;
  UnmountUnder(e.info.root);
  std::error_code ec;
  fs::remove_all(e.info.root, ec);
}

bool Start(Engine& e) {
  std::string dockerd = FindProgram("dockerd");
  if (dockerd.empty()) {
    e.why = "docker.io is not installed: no dockerd (`packaging/deps.sh --tests` installs it)";
    return false;
  }
  std::string docker = FindProgram("docker");
  if (docker.empty()) {
    e.why = "no docker CLI on PATH";
    return false;
  }
  if (::geteuid() != 0) {
    e.why = "dockerd needs root and this test runs as uid " + std::to_string(::geteuid());
    return false;
  }
  char tmpl[] = "/tmp/mpdk-XXXXXX";  // short: unix socket paths are limited to 107 bytes
  if (::mkdtemp(tmpl) == nullptr) {
    e.why = "cannot create a folder under /tmp";
    return false;
  }
  fs::path root = tmpl;
  e.info.root = root;
  e.info.host = "unix://" + (root / "docker.sock").string();
  WriteFile(root / "daemon.json", "{}\n");  // the host's /etc/docker/daemon.json is not ours
  std::string ns = "medperf-test-" + root.filename().string();
  std::vector<std::string> argv = {dockerd,
                                   "--host",
                                   e.info.host,
                                   "--data-root",
                                   (root / "data").string(),
                                   "--exec-root",
                                   (root / "exec").string(),
                                   "--pidfile",
                                   (root / "dockerd.pid").string(),
                                   "--config-file",
                                   (root / "daemon.json").string(),
                                   "--containerd-namespace",
                                   ns,
                                   "--containerd-plugins-namespace",
                                   ns + "-plugins",
                                   "--iptables=false",
                                   "--ip-masq=false",
                                   "--bridge=none",
                                   "--userland-proxy=false"};
  fs::path log = root / "dockerd.log";
  pid_t pid = ::fork();
  if (pid < 0) {
    e.why = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::setsid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (null >= 0) ::dup2(null, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  e.pid = pid;
  std::atexit(StopEngine);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      e.pid = -1;
      e.why = "dockerd exited at start: " + Tail(log, 600);
      return false;
    }
    RunResult info = Run({docker, "--host", e.info.host, "info", "--format", "{{.Driver}}"},
                         std::chrono::seconds(10));
    if (info.exit_code == 0) {
      e.info.driver = info.out.substr(0, info.out.find('\n'));
      ::setenv("DOCKER_HOST", e.info.host.c_str(), 1);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  e.why = "dockerd did not answer `docker info` within 30 s: " + Tail(log, 600);
  StopEngine();
  return false;
}

}  // namespace

const DockerEngine* PrivateDockerEngine(std::string* why) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  Engine& e = TheEngine();
  if (!e.tried) {
    e.tried = true;
    if (!Start(e)) e.info = {};
  }
  if (e.pid <= 0) {
    if (why != nullptr) *why = e.why;
    return nullptr;
  }
  return &e.info;
}

::testing::AssertionResult CopyWithLibraries(const fs::path& exe, const fs::path& rootfs,
                                             const fs::path& inside) {
  auto copy_in = [&](const fs::path& host, const fs::path& at) {
    fs::path dest = rootfs / at.relative_path();
    fs::create_directories(dest.parent_path());
    fs::copy_file(host, dest, fs::copy_options::overwrite_existing);
  };
  if (!fs::exists(exe)) return ::testing::AssertionFailure() << exe << " does not exist";
  copy_in(exe, inside.empty() ? exe : inside);
  RunResult ldd = Run({"/usr/bin/ldd", exe.string()});
  std::istringstream lines(ldd.out);
  for (std::string line; std::getline(lines, line);) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    fs::path lib = line.substr(slash, line.find(' ', slash) - slash);
    copy_in(lib, lib);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ImportImage(const fs::path& rootfs, const std::string& tag,
                                       const std::vector<std::string>& changes) {
  fs::path tarball = rootfs.parent_path() / (rootfs.filename().string() + ".tar");
  RunResult tar = Run({"/usr/bin/tar", "-C", rootfs.string(), "-cf", tarball.string(), "."},
                      std::chrono::seconds(60));
  if (tar.exit_code != 0) return ::testing::AssertionFailure() << "tar failed: " << tar.err;
  std::vector<std::string> argv = {FindProgram("docker"), "import"};
  for (const std::string& c : changes) argv.insert(argv.end(), {"--change", c});
  argv.insert(argv.end(), {tarball.string(), tag});
  RunResult import = Run(argv, std::chrono::seconds(120));
  fs::remove(tarball);
  if (import.exit_code != 0) {
    return ::testing::AssertionFailure() << "docker import " << tag << " failed: " << import.err;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace medperf::testing
