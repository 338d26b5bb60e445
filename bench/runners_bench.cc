// Micro-benchmarks for the runners layer, driven by bench/runners_bench.sh:
//   runners_bench hash <file>                 our Sha256File throughput
//   runners_bench extract <archive> <target>  ExtractArchive throughput
//   runners_bench sandbox [runs] [--docker-image IMAGE] [--breakdown] [--only VARIANT]
//       per-task start overhead of a no-op task: run directly, through the hardened
//       SandboxRunner, through a plain (pre-hardening) bwrap command line, and through
//       `docker run` where a docker engine answers. --breakdown also times the parts of
//       the hardened start one by one (seccomp program, cgroup, planning, each bwrap
//       option group), to show where the overhead goes; --only runs one variant
//       (direct, hardened, unhardened, docker) alone, for profiling it.
//   runners_bench images <work dir> [base MiB]
//       the sandbox's image store: three `docker save` tarballs sharing a base layer,
//       unpacked with the layer store (shared) and each on its own (the former way):
//       time per image and disk used, against one unpacked image plus the other two
//       images' own layers.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/archive.h"
#include "core/hashing.h"
#include "runners/container_config.h"
#include "runners/image_unpack.h"
#include "runners/sandbox_runner.h"
#include "runners/seccomp_policy.h"
#include "runners/subprocess.h"
#include "runners/task_cgroup.h"
#include "runners/task_identity.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Ms(Clock::time_point start) { return Seconds(start) * 1000; }

int Hash(const char* file) {
  auto start = Clock::now();
  auto hex = medperf::Sha256File(file);
  double s = Seconds(start);
  if (!hex.ok()) {
    std::fprintf(stderr, "%s\n", std::string(hex.status().message()).c_str());
    return 1;
  }
  double mib = std::filesystem::file_size(file) / 1048576.0;
  std::printf("%s %.3f s %.0f MiB/s\n", hex->c_str(), s, mib / s);
  return 0;
}

int Extract(const char* archive, const char* target) {
  auto start = Clock::now();
  auto stats = medperf::ExtractArchive(archive, target);
  double s = Seconds(start);
  if (!stats.ok()) {
    std::fprintf(stderr, "%s\n", std::string(stats.status().message()).c_str());
    return 1;
  }
  std::printf("%llu entries %.0f MiB %.3f s %.0f MiB/s\n",
              static_cast<unsigned long long>(stats->entries), stats->bytes / 1048576.0, s,
              stats->bytes / 1048576.0 / s);
  return 0;
}

// --- image store ------------------------------------------------------------------------

// Bytes on disk under `dirs` (st_blocks), each hard-linked file counted once.
uint64_t DiskBytes(const std::vector<fs::path>& dirs) {
  std::set<std::pair<dev_t, ino_t>> seen;
  uint64_t total = 0;
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      struct stat st;
      if (::lstat(it->path().c_str(), &st) != 0) continue;
      if (!seen.emplace(st.st_dev, st.st_ino).second) continue;
      total += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

// A folder of `mib` MiB of random data in 1 MiB files.
void RandomTree(const fs::path& dir, int mib, unsigned seed) {
  fs::create_directories(dir / "data");
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> block(131072);
  for (int i = 0; i < mib; ++i) {
    for (auto& w : block) w = rng();
    std::ofstream(dir / "data" / ("f" + std::to_string(i)), std::ios::binary)
        .write(reinterpret_cast<const char*>(block.data()), block.size() * 8);
  }
}

bool Tar(const fs::path& src, const fs::path& out) {
  absl::Status s = medperf::CreateTarGz(src, {}, out);
  if (!s.ok()) std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
  return s.ok();
}

int Images(const fs::path& work, int base_mib) {
  fs::remove_all(work);
  fs::create_directories(work);
  int app_mib = std::max(1, base_mib / 10);
  RandomTree(work / "src/base", base_mib, 1);
  if (!Tar(work / "src/base", work / "base.tar")) return 1;
  std::vector<fs::path> images;
  for (int i = 0; i < 3; ++i) {
    std::string app = "app" + std::to_string(i);
    RandomTree(work / "src" / app, app_mib, 100 + i);
    fs::path image = work / "src" / ("image" + std::to_string(i));
    fs::create_directories(image / "l0");
    fs::create_directories(image / "l1");
    fs::copy_file(work / "base.tar", image / "l0/layer.tar");
    if (!Tar(work / "src" / app, image / "l1/layer.tar")) return 1;
    std::ofstream(image / "config.json") << R"({"config": {"Cmd": ["/bin/true"]}})";
    std::ofstream(image / "manifest.json")
        << R"([{"Config": "config.json", "Layers": ["l0/layer.tar", "l1/layer.tar"]}])";
    images.push_back(work / (app + ".tar"));
    if (!Tar(image, images.back())) return 1;
  }
  fs::remove_all(work / "src");
  // One unpacked image (base + its layer) plus the two other images' own layers.
  uint64_t reference = 0;
  std::printf("%-28s %10s %10s %10s\n", "image", "shared s", "separate s", "");
  double shared_total = 0, separate_total = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    auto start = Clock::now();
    auto shared = medperf::UnpackImage(images[i], work / "shared/rootfs", work / "shared/layers");
    double shared_s = Seconds(start);
    start = Clock::now();
    fs::path alone = work / ("separate" + std::to_string(i));
    auto separate = medperf::UnpackImage(images[i], alone / "rootfs", alone / "layers");
    double separate_s = Seconds(start);
    if (!shared.ok() || !separate.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string((shared.ok() ? separate : shared).status().message()).c_str());
      return 1;
    }
    // The former way kept only the root: drop the per-image layer copy it did not have.
    fs::remove_all(alone / "layers");
    shared_total += shared_s;
    separate_total += separate_s;
    std::printf("%-28s %10.3f %10.3f\n", images[i].filename().c_str(), shared_s, separate_s);
    reference += i == 0 ? DiskBytes({alone}) : static_cast<uint64_t>(app_mib) << 20;
  }
  auto start = Clock::now();
  auto warm = medperf::UnpackImage(images[0], work / "shared/rootfs", work / "shared/layers");
  double warm_ms = Seconds(start) * 1000;
  if (!warm.ok()) return 1;
  uint64_t shared_disk = DiskBytes({work / "shared"});
  uint64_t separate_disk = DiskBytes({work / "separate0", work / "separate1", work / "separate2"});
  std::printf("unpack time, 3 images: shared %.3f s, separate %.3f s (ratio %.2f)\n", shared_total,
              separate_total, shared_total / separate_total);
  std::printf("warm (cached image): %.2f ms\n", warm_ms);
  std::printf("disk: shared %.1f MiB, separate %.1f MiB, one image + other layers %.1f MiB\n",
              shared_disk / 1048576.0, separate_disk / 1048576.0, reference / 1048576.0);
  std::printf("disk ratio shared/(one image + other layers): %.2f\n",
              double(shared_disk) / double(reference));
  fs::remove_all(work);
  return 0;
}

// --- sandbox ----------------------------------------------------------------------------

struct Stats {
  double median = 0, p90 = 0, mean = 0, min = 0;
};

Stats Summarize(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  size_t n = ms.size();
  s.median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  s.p90 = ms[static_cast<size_t>(std::ceil(0.9 * double(n))) - 1];
  for (double v : ms) s.mean += v;
  s.mean /= double(n);
  s.min = ms.front();
  return s;
}

// The limits the daemon applies to an `infer` task by default.
medperf::TaskLimits InferLimits() { return medperf::DefaultTaskLimits("infer"); }

constexpr char kNoopConfig[] = R"(container_type: LocalProcess
image: /bin/true
tasks:
  infer:
    input_volumes:
      data_path: {mount_path: /mlcommons/volumes/data, type: directory}
    output_volumes:
      output_path: {mount_path: /mlcommons/volumes/predictions, type: directory}
)";

// The pre-hardening sandbox command line for the same task (runners/sandbox_runner.cc
// before issue 11): namespaces and --cap-drop, host /usr, /bin, /lib*, /etc and /opt
// read-only with only /etc/shadow and /etc/gshadow masked, no user switch, no user
// namespace when root, no seccomp, no synthetic /etc, no cgroup.
std::vector<std::string> UnhardenedArgv(const std::string& bwrap, const fs::path& data,
                                        const fs::path& out) {
  std::vector<std::string> argv = {
      bwrap,           "--die-with-parent",    "--new-session", "--unshare-pid", "--unshare-ipc",
      "--unshare-uts", "--unshare-cgroup-try", "--hostname",    "medperf",       "--cap-drop",
      "ALL",           "--unshare-net"};
  for (const char* dir : {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt"}) {
    fs::path host = fs::path("/") / dir;
    std::error_code ec;
    auto st = fs::symlink_status(host, ec);
    if (fs::is_symlink(st)) {
      argv.insert(argv.end(), {"--symlink", fs::read_symlink(host, ec).string(), host.string()});
    } else if (fs::is_directory(st)) {
      argv.insert(argv.end(), {"--ro-bind", host.string(), host.string()});
    }
  }
  for (const char* secret : {"/etc/shadow", "/etc/gshadow"}) {
    if (::access(secret, F_OK) == 0) argv.insert(argv.end(), {"--ro-bind", "/dev/null", secret});
  }
  argv.insert(argv.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
  argv.insert(argv.end(), {"--ro-bind",
                           data.string(),
                           "/mlcommons/volumes/data",
                           "--bind",
                           out.string(),
                           "/mlcommons/volumes/predictions",
                           "--remount-ro",
                           "/",
                           "--clearenv",
                           "--setenv",
                           "PATH",
                           "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "--setenv",
                           "HOME",
                           "/tmp",
                           "--setenv",
                           "TMPDIR",
                           "/tmp",
                           "--setenv",
                           "LANG",
                           "C.UTF-8",
                           "--chdir",
                           "/bin",
                           "--",
                           "/bin/true"});
  return argv;
}

// A small image already present locally (never pulled: the bench must not download).
std::string PickDockerImage(std::string* why_not) {
  auto info = medperf::RunCapture({"docker", "info", "--format", "{{.ServerVersion}}"},
                                  std::chrono::seconds(15));
  if (!info.ok() || info->exit_code != 0) {
    std::string out = info.ok() ? info->output : std::string(info.status().message());
    std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
    *why_not =
        absl::StrCat("docker info failed", lines.empty() ? "" : absl::StrCat(": ", lines.back()));
    return "";
  }
  auto images = medperf::RunCapture(
      {"docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"},
      std::chrono::seconds(15));
  if (images.ok() && images->exit_code == 0) {
    for (const char* want : {"busybox", "alpine", "debian", "ubuntu"}) {
      for (absl::string_view line : absl::StrSplit(images->output, '\n', absl::SkipEmpty())) {
        std::string name(line.substr(0, line.find(' ')));
        if (absl::StartsWith(name, want) && !absl::EndsWith(name, ":<none>")) return name;
      }
    }
  }
  *why_not = "no busybox/alpine/debian/ubuntu image is loaded (pass --docker-image IMAGE)";
  return "";
}

// CPU time (user + system) of this process and of every reaped descendant, in ms:
// unlike wall time it barely moves when other jobs share the cores.
double CpuMs() {
  auto ms = [](const struct rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 +
           (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
  };
  struct rusage self = {};
  struct rusage children = {};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  return ms(self) + ms(children);
}

struct Variant {
  std::string name;
  std::function<bool()> run;  // one no-op task; false = it failed
  std::vector<double> ms{};
  std::vector<double> cpu_ms{};
};

// Runs every variant `warmup` times, then `runs` times round-robin (so load changes on
// this shared machine hit all of them alike).
bool Measure(std::vector<Variant>& variants, int runs, int warmup) {
  for (auto& v : variants) {
    for (int i = 0; i < warmup; ++i) {
      if (!v.run()) {
        std::fprintf(stderr, "%s: run failed\n", v.name.c_str());
        return false;
      }
    }
  }
  for (int i = 0; i < runs; ++i) {
    for (auto& v : variants) {
      double cpu = CpuMs();
      auto start = Clock::now();
      bool ok = v.run();
      v.ms.push_back(Ms(start));
      v.cpu_ms.push_back(CpuMs() - cpu);
      if (!ok) {
        std::fprintf(stderr, "%s: run failed\n", v.name.c_str());
        return false;
      }
    }
  }
  return true;
}

void PrintRow(const Variant& v, int warmup) {
  Stats s = Summarize(v.ms);
  std::printf(
      "sandbox %-28s median %7.2f ms  p90 %7.2f ms  min %7.2f ms  cpu %6.2f ms  (%zu runs, %d "
      "warm-up)\n",
      v.name.c_str(), s.median, s.p90, s.min, Summarize(v.cpu_ms).median, v.ms.size(), warmup);
}

// What --breakdown shares with the main measurement.
struct BenchContext {
  medperf::SandboxRunner& runner;
  const medperf::ContainerConfig& config;
  const medperf::TaskLimits& limits;
  const fs::path& work;
};

// A world-traversable copy of the task's host paths, so that bwrap command lines run as
// the task user without the runner's staging (a root daemon's state directory is private).
struct OpenPaths {
  fs::path dir, data;
  int outputs = 0;
  fs::path FreshOutput(const medperf::TaskIdentity& who) {
    fs::path out = dir / "outputs" / std::to_string(outputs++);
    fs::create_directories(out);
    if (who.switch_user && ::chown(out.c_str(), who.uid, who.gid) != 0) {
      std::fprintf(stderr, "chown %s: %s\n", out.c_str(), std::strerror(errno));
    }
    return out;
  }
};

// The hardened bwrap command line of one run, runnable outside SandboxRunner::Run. The
// descriptors BuildCommand names are closed when it returns, so an equivalent seccomp
// program is opened here, and staged sources ("/tmp/<n>" when root) are replaced by the
// host paths they stand for.
struct HardenedCommand {
  std::vector<std::string> argv;
  std::vector<int> fds;
  HardenedCommand() = default;
  HardenedCommand(const HardenedCommand&) = delete;
  HardenedCommand& operator=(const HardenedCommand&) = delete;
  ~HardenedCommand() {
    for (int fd : fds) ::close(fd);
  }
};

bool BuildHardened(BenchContext& ctx, const fs::path& data, const fs::path& out,
                   HardenedCommand* h) {
  medperf::TaskRun run{.task = "infer"};
  run.mounts = {{"data_path", data}, {"output_path", out}};
  run.outputs = {"output_path"};
  run.outputs_decided = true;
  run.limits = ctx.limits;
  auto argv = ctx.runner.BuildCommand(ctx.config, run);
  if (!argv.ok()) {
    std::fprintf(stderr, "BuildCommand: %s\n", std::string(argv.status().message()).c_str());
    return false;
  }
  // Staged in the order Plan opens them: the synthetic /etc, then the mounts (ResolveMounts
  // orders inputs before outputs).
  auto etc = medperf::SyntheticEtc(ctx.runner.image_cache_dir(), ctx.runner.identity());
  if (!etc.ok()) return false;
  const std::vector<fs::path> staged = {*etc, data, out};
  std::vector<std::string>& a = h->argv;
  a = *argv;
  for (size_t i = 0; i + 1 < a.size(); ++i) {
    if (a[i] == "--") break;
    if (a[i] == "--seccomp") {
      auto fd = medperf::SeccompProgramFd();
      if (!fd.ok()) return false;
      h->fds.push_back(*fd);
      a[i + 1] = std::to_string(*fd);
    } else if ((a[i] == "--ro-bind" || a[i] == "--bind") && absl::StartsWith(a[i + 1], "/tmp/")) {
      size_t n = 0;
      if (absl::SimpleAtoi(a[i + 1].substr(5), &n) && n < staged.size()) {
        a[i + 1] = staged[n].string();
      }
    }
  }
  return true;
}

// Removes every option group `drop` matches from a bwrap command line: drop(argv, i)
// returns how many arguments starting at i to remove (0 = keep argv[i]).
std::vector<std::string> Without(
    const std::vector<std::string>& argv,
    const std::function<size_t(const std::vector<std::string>&, size_t)>& drop) {
  std::vector<std::string> out;
  size_t i = 0;
  for (; i < argv.size() && argv[i] != "--"; ++i) {
    size_t n = i == 0 ? 0 : drop(argv, i);
    if (n == 0) {
      out.push_back(argv[i]);
    } else {
      i += n - 1;
    }
  }
  out.insert(out.end(), argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end());
  return out;
}

// Times the parts of a hardened start one by one, to show where its overhead goes:
// in-process steps of SandboxRunner::Run alone, then the direct run with each piece of
// confinement SupervisedCommand adds, then bwrap command lines between the plain one
// and the hardened one.
bool Breakdown(BenchContext ctx, int runs, int warmup) {
  const medperf::TaskIdentity& who = ctx.runner.identity();
  const std::string bwrap = ctx.runner.bwrap();
  const bool root = ::geteuid() == 0;
  OpenPaths open;
  std::string templ = (ctx.work / "open-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) return false;
  open.dir = templ;
  ::chmod(ctx.work.c_str(), 0755);
  ::chmod(open.dir.c_str(), 0755);
  open.data = open.dir / "data";
  fs::create_directories(open.data);
  if (std::FILE* f = std::fopen((open.data / "case1.csv").c_str(), "w")) std::fclose(f);
  fs::create_directories(open.dir / "outputs");
  ::chmod((open.dir / "outputs").c_str(), 0755);

  std::printf(
      "sandbox breakdown: wall median / p90, cpu median (this process + children), "
      "%d runs each\n",
      runs);
  auto print = [](const std::string& name, const Stats& wall, double cpu) {
    std::printf("  %-66s %7.2f / %7.2f ms  cpu %6.2f ms\n", name.c_str(), wall.median, wall.p90,
                cpu);
  };
  auto in_process = [&](const char* name, const std::function<void()>& fn) {
    std::vector<double> ms, cpu;
    for (int i = 0; i < warmup; ++i) fn();
    for (int i = 0; i < runs; ++i) {
      double c = CpuMs();
      auto start = Clock::now();
      fn();
      ms.push_back(Ms(start));
      cpu.push_back(CpuMs() - c);
    }
    print(name, Summarize(ms), Summarize(cpu).median);
  };
  std::printf(" in-process parts of SandboxRunner::Run:\n");
  in_process("SeccompProgramFd() (libseccomp build + export to a memfd)", [] {
    auto fd = medperf::SeccompProgramFd();
    if (fd.ok()) ::close(*fd);
  });
  in_process("TaskCgroup::Create(infer limits) + destroy, no process", [&] {
    auto g = medperf::TaskCgroup::Create(ctx.limits);
    (void)g;
  });
  if (who.switch_user) {
    // A dataset-like input: 2000 entries, the most CheckReadableBy looks at.
    fs::path big = open.dir / "dataset";
    for (int d = 0; d < 20; ++d) {
      fs::create_directories(big / std::to_string(d));
      for (int i = 0; i < 99; ++i) {
        std::FILE* f = std::fopen((big / std::to_string(d) / absl::StrCat(i, ".png")).c_str(), "w");
        if (f) std::fclose(f);
      }
    }
    in_process("CheckReadableBy(task user, 1-file input) (forks the caller)",
               [&] { (void)medperf::CheckReadableBy(who, {open.data}); });
    in_process("CheckReadableBy(task user, 2000-entry input)",
               [&] { (void)medperf::CheckReadableBy(who, {big}); });
  }
  in_process("SandboxRunner::BuildCommand (plan incl. CheckReadableBy, seccomp)", [&] {
    medperf::TaskRun run{.task = "infer"};
    run.mounts = {{"data_path", open.data}, {"output_path", open.FreshOutput(who)}};
    run.outputs = {"output_path"};
    run.outputs_decided = true;
    run.limits = ctx.limits;
    (void)ctx.runner.BuildCommand(ctx.config, run);
  });

  auto supervised = [&](std::function<void(medperf::SupervisedCommand&)> setup) {
    return [&, setup] {
      medperf::SupervisedCommand c;
      c.log_file = ctx.work / "logs" / "breakdown.log";
      setup(c);
      auto o = medperf::RunSupervised(c);
      if (!o.ok()) std::fprintf(stderr, "%s\n", std::string(o.status().message()).c_str());
      return o.ok() && o->ok();
    };
  };
  auto as_task_user = [&](medperf::SupervisedCommand& c) {
    if (!who.switch_user) return;
    c.switch_user = true;
    c.uid = who.uid;
    c.gid = who.gid;
  };
  auto rlimits = [&](medperf::SupervisedCommand& c) {
    c.no_core_dumps = true;
    c.rlimit_fsize = ctx.limits.output_bytes;
    c.rlimit_as_bytes = ctx.limits.memory_bytes;
    if (c.uid != 0) c.rlimit_nproc = ctx.limits.max_processes;
  };
  // Staging as the runner does it for a root caller: the sources opened O_PATH, bound
  // under a tmpfs at /tmp in a private mount namespace of the child.
  struct Staged {
    std::vector<int> fds;
    ~Staged() {
      for (int fd : fds) ::close(fd);
    }
  };
  // The runner's synthetic /etc lives under its image cache, which may be under /tmp,
  // where the staging tmpfs goes: staged like the rest.
  auto etc_dir = medperf::SyntheticEtc(ctx.runner.image_cache_dir(), who);
  if (!etc_dir.ok()) return false;
  const fs::path etc = *etc_dir;
  auto stage = [&](medperf::SupervisedCommand& c, Staged& s, const fs::path& data,
                   const fs::path& out) {
    int i = 0;
    for (const fs::path& p : {etc, data, out}) {
      int fd = ::open(p.c_str(), O_PATH | O_CLOEXEC);
      s.fds.push_back(fd);
      c.stage.push_back({fd, p.string(), false, absl::StrCat("/tmp/", i++), true, p == out});
    }
    c.stage_root = "/tmp";
  };
  std::vector<double> cgroup_removal_ms;
  auto hardened = [&](std::function<std::vector<std::string>(const std::vector<std::string>&)> edit,
                      bool cgroup, bool staging, bool limits) {
    return [&, edit, cgroup, staging, limits] {
      HardenedCommand h;
      fs::path out = open.FreshOutput(who);
      if (!BuildHardened(ctx, open.data, out, &h)) return false;
      medperf::SupervisedCommand c;
      c.argv = edit ? edit(h.argv) : h.argv;
      c.keep_fds = h.fds;
      c.log_file = ctx.work / "logs" / "breakdown.log";
      as_task_user(c);
      if (limits) rlimits(c);
      Staged s;
      if (staging) {
        stage(c, s, open.data, out);
        // The command names the staged copies, as the runner's does.
        for (size_t i = 0; i + 1 < c.argv.size(); ++i) {
          if (c.argv[i + 1] == etc.string()) c.argv[i + 1] = "/tmp/0";
          if (c.argv[i + 1] == open.data.string()) c.argv[i + 1] = "/tmp/1";
          if (c.argv[i + 1] == out.string()) c.argv[i + 1] = "/tmp/2";
        }
      }
      absl::StatusOr<std::unique_ptr<medperf::TaskCgroup>> g;
      if (cgroup) {
        g = medperf::TaskCgroup::Create(ctx.limits);
        if (g.ok() && *g) c.cgroup_procs_fds = (*g)->procs_fds();
      }
      auto o = medperf::RunSupervised(c);
      if (!o.ok()) std::fprintf(stderr, "%s\n", std::string(o.status().message()).c_str());
      if (cgroup && g.ok()) {
        // Removing the group right after the task: timed apart, because stragglers
        // (bwrap's PID 1 still exiting) make it wait.
        auto start = Clock::now();
        g->reset();
        cgroup_removal_ms.push_back(Ms(start));
      }
      return o.ok() && o->ok();
    };
  };

  std::vector<Variant> steps;
  steps.push_back({"direct /bin/true", supervised([](auto& c) { c.argv = {"/bin/true"}; })});
  if (who.switch_user) {
    steps.push_back(
        {"direct + switch to the task user (setres[ug]id, capset)", supervised([&](auto& c) {
           c.argv = {"/bin/true"};
           as_task_user(c);
         })});
  }
  steps.push_back({"direct + rlimits (AS, NPROC, FSIZE, CORE)", supervised([&](auto& c) {
                     c.argv = {"/bin/true"};
                     as_task_user(c);
                     rlimits(c);
                   })});
  if (medperf::DetectLimitEnforcement().cgroup_version != "") {
    steps.push_back({"direct + task cgroup (create, join, remove)", [&] {
                       auto g = medperf::TaskCgroup::Create(ctx.limits);
                       return supervised([&](auto& c) {
                         c.argv = {"/bin/true"};
                         if (g.ok() && *g) c.cgroup_procs_fds = (*g)->procs_fds();
                       })();
                     }});
  }
  if (root) {
    steps.push_back({"direct + staging 3 binds in a private mount namespace", [&] {
                       Staged s;
                       fs::path out = open.FreshOutput(who);
                       return supervised([&](auto& c) {
                         c.argv = {"/bin/true"};
                         stage(c, s, open.data, out);
                       })();
                     }});
  }
  steps.push_back({"plain bwrap (unhardened), as caller", [&] {
                     return supervised([&](auto& c) {
                       c.argv = UnhardenedArgv(bwrap, open.data, open.FreshOutput(who));
                     })();
                   }});
  steps.push_back({"plain bwrap + --unshare-user, as task user", [&] {
                     return supervised([&](auto& c) {
                       c.argv = UnhardenedArgv(bwrap, open.data, open.FreshOutput(who));
                       c.argv.insert(c.argv.begin() + 1, "--unshare-user");
                       as_task_user(c);
                     })();
                   }});
  steps.push_back({"hardened argv (planned per run), task user, no cgroup/staging",
                   hardened(nullptr, false, false, false)});
  steps.push_back({"  minus --seccomp", hardened(
                                            [](const std::vector<std::string>& a) {
                                              return Without(a,
                                                             [](const auto& v, size_t i) -> size_t {
                                                               return v[i] == "--seccomp" ? 2 : 0;
                                                             });
                                            },
                                            false, false, false)});
  steps.push_back({"  minus the synthetic /etc (one bind of a prepared folder)",
                   hardened(
                       [](const std::vector<std::string>& a) {
                         return Without(a, [](const auto& v, size_t i) -> size_t {
                           return v[i] == "--ro-bind" && i + 2 < v.size() && v[i + 2] == "/etc" ? 3
                                                                                                : 0;
                         });
                       },
                       false, false, false)});
  steps.push_back({"  minus --size on /tmp", hardened(
                                                 [](const std::vector<std::string>& a) {
                                                   return Without(
                                                       a, [](const auto& v, size_t i) -> size_t {
                                                         return v[i] == "--size" ? 2 : 0;
                                                       });
                                                 },
                                                 false, false, false)});
  steps.push_back({"hardened argv + rlimits", hardened(nullptr, false, false, true)});
  if (medperf::DetectLimitEnforcement().cgroup_version != "") {
    steps.push_back({"hardened argv + rlimits + cgroup joined before exec",
                     hardened(nullptr, true, false, true)});
  }
  if (root) {
    steps.push_back({"hardened argv + rlimits + staging", hardened(nullptr, false, true, true)});
    steps.push_back({"hardened argv + rlimits + staging + cgroup joined before exec",
                     hardened(nullptr, true, true, true)});
  }
  steps.push_back(
      {"SandboxRunner::Run", [&] {
         medperf::TaskRun run{.task = "infer"};
         run.mounts = {{"data_path", open.data}, {"output_path", open.FreshOutput(who)}};
         run.outputs = {"output_path"};
         run.outputs_decided = true;
         run.log_file = ctx.work / "logs" / "breakdown.log";
         run.limits = ctx.limits;
         auto o = ctx.runner.Run(ctx.config, run);
         return o.ok() && o->ok();
       }});
  std::printf(" processes (same supervisor, round-robin):\n");
  if (!Measure(steps, runs, warmup)) return false;
  for (const auto& s : steps) print(s.name, Summarize(s.ms), Summarize(s.cpu_ms).median);
  if (!cgroup_removal_ms.empty()) {
    Stats st = Summarize(cgroup_removal_ms);
    size_t slow = std::count_if(cgroup_removal_ms.begin(), cgroup_removal_ms.end(),
                                [](double ms) { return ms >= 19; });
    std::printf("  %-66s %7.2f / %7.2f ms  mean %.2f ms; >= 19 ms in %zu of %zu\n",
                "of which ~TaskCgroup right after the bwrap task exits", st.median, st.p90, st.mean,
                slow, cgroup_removal_ms.size());
  }
  return true;
}

int Sandbox(int runs, const std::string& docker_image_arg, bool breakdown,
            const std::string& only) {
  if (runs < 1) runs = 1;
  const int warmup = std::max(2, runs / 10);
  auto config = medperf::ParseContainerConfig(kNoopConfig, "bench no-op container");
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  // Host paths like the daemon's: a private state directory (0700, only root may
  // traverse it when root), an input with one file, a fresh output directory per task.
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp && *tmp ? tmp : "/var/tmp", "/medperf-sbench-XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s: %s\n", templ.c_str(), std::strerror(errno));
    return 1;
  }
  const fs::path work = templ;
  // The runner's image cache (and synthetic /etc) in the private work dir, as the
  // daemon's is in its state dir.
  medperf::SandboxOptions options;
  options.image_cache_dir = work / "images";
  auto runner = medperf::SandboxRunner::Create(options);
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", std::string(runner.status().message()).c_str());
    return 1;
  }
  const fs::path data = work / "data";
  fs::create_directories(data);
  std::FILE* f = std::fopen((data / "case1.csv").c_str(), "w");
  if (f) {
    std::fputs("id,label\n1,0\n", f);
    std::fclose(f);
  }
  fs::create_directories(work / "logs");
  int out_counter = 0;
  auto fresh_output = [&] {
    fs::path out = work / "outputs" / std::to_string(out_counter++);
    fs::create_directories(out);
    ::chmod(out.c_str(), 0700);
    return out;
  };
  auto log_file = [&](const char* kind) {
    return work / "logs" / absl::StrCat(kind, "-", out_counter, ".log");
  };
  const medperf::TaskLimits limits = InferLimits();
  const std::string bwrap = (*runner)->bwrap();

  std::printf("sandbox setup: uid %u; tasks run as %s; limits enforced by %s\n", ::geteuid(),
              medperf::DescribeTaskIdentity((*runner)->identity()).c_str(),
              medperf::DetectLimitEnforcement().Describe().c_str());

  std::vector<Variant> variants;
  variants.push_back({"direct (/bin/true)", [&] {
                        medperf::SupervisedCommand c;
                        c.argv = {"/bin/true"};
                        c.log_file = log_file("direct");
                        auto o = medperf::RunSupervised(c);
                        return o.ok() && o->ok();
                      }});
  variants.push_back({"hardened (SandboxRunner)", [&] {
                        medperf::TaskRun run{.task = "infer"};
                        run.mounts = {{"data_path", data}, {"output_path", fresh_output()}};
                        run.outputs = {"output_path"};
                        run.outputs_decided = true;
                        run.log_file = log_file("hardened");
                        run.limits = limits;
                        auto o = (*runner)->Run(*config, run);
                        if (!o.ok()) {
                          std::fprintf(stderr, "hardened: %s\n",
                                       std::string(o.status().message()).c_str());
                        }
                        return o.ok() && o->ok();
                      }});
  variants.push_back({"unhardened (plain bwrap)", [&] {
                        medperf::SupervisedCommand c;
                        c.argv = UnhardenedArgv(bwrap, data, fresh_output());
                        if (::geteuid() != 0 && (*runner)->identity().switch_user) {
                          // A service user's capabilities, which bwrap refuses, dropped.
                          c.switch_user = true;
                          c.uid = ::getuid();
                          c.gid = ::getgid();
                        }
                        c.log_file = log_file("unhardened");
                        auto o = medperf::RunSupervised(c);
                        return o.ok() && o->ok();
                      }});
  std::string why_no_docker;
  std::string docker_image =
      docker_image_arg.empty() ? PickDockerImage(&why_no_docker) : docker_image_arg;
  if (!docker_image.empty()) {
    variants.push_back({"docker run (" + docker_image + ")", [&] {
                          medperf::SupervisedCommand c;
                          c.argv = {"docker", "run",        "--rm", "--network",
                                    "none",   docker_image, "true"};
                          c.log_file = log_file("docker");
                          auto o = medperf::RunSupervised(c);
                          return o.ok() && o->ok();
                        }});
  }
  if (!only.empty()) {
    // One variant alone (for profiling it, e.g. under perf or strace).
    std::erase_if(variants, [&](const Variant& v) { return !absl::StartsWith(v.name, only); });
    bool ok = !variants.empty() && Measure(variants, runs, warmup);
    for (const auto& v : variants) PrintRow(v, warmup);
    std::error_code ec;
    fs::remove_all(work, ec);
    return ok ? 0 : 1;
  }
  bool ok = Measure(variants, runs, warmup);
  if (ok) {
    for (const auto& v : variants) PrintRow(v, warmup);
    if (docker_image.empty())
      std::printf("sandbox docker not available: %s\n", why_no_docker.c_str());
    Stats direct = Summarize(variants[0].ms), hard = Summarize(variants[1].ms),
          plain = Summarize(variants[2].ms);
    std::printf(
        "sandbox overhead hardened-direct median %.2f ms p90 %.2f ms (target < 25 ms: %s)\n",
        hard.median - direct.median, hard.p90 - direct.p90,
        hard.median - direct.median < 25 ? "met" : "NOT MET");
    std::printf("sandbox overhead unhardened-direct median %.2f ms p90 %.2f ms\n",
                plain.median - direct.median, plain.p90 - direct.p90);
    std::printf("sandbox overhead hardened-unhardened median %.2f ms p90 %.2f ms\n",
                hard.median - plain.median, hard.p90 - plain.p90);
    if (variants.size() > 3) {
      Stats docker = Summarize(variants[3].ms);
      std::printf("sandbox overhead docker-direct median %.2f ms p90 %.2f ms\n",
                  docker.median - direct.median, docker.p90 - direct.p90);
    }
  }

  if (ok && breakdown) {
    ok = Breakdown({.runner = **runner, .config = *config, .limits = limits, .work = work}, runs,
                   warmup);
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "hash" && argc == 3) return Hash(argv[2]);
  if (mode == "extract" && argc == 4) return Extract(argv[2], argv[3]);
  if (mode == "images" && (argc == 3 || argc == 4)) {
    return Images(argv[2], argc == 4 ? std::atoi(argv[3]) : 256);
  }
  if (mode == "sandbox") {
    int runs = 20;
    std::string docker_image;
    bool breakdown = false;
    std::string only;
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--docker-image" && i + 1 < argc) {
        docker_image = argv[++i];
      } else if (a == "--only" && i + 1 < argc) {
        only = argv[++i];
      } else if (a == "--breakdown") {
        breakdown = true;
      } else if (!a.empty() && std::isdigit(static_cast<unsigned char>(a[0]))) {
        runs = std::atoi(a.c_str());
      } else {
        std::fprintf(stderr, "sandbox: unknown argument '%s'\n", a.c_str());
        return 2;
      }
    }
    return Sandbox(runs, docker_image, breakdown, only);
  }
  std::fprintf(stderr,
               "usage: runners_bench hash <file> | extract <archive> <target> |\n"
               "       images <work dir> [base MiB] |\n"
               "       sandbox [runs] [--docker-image IMAGE] [--breakdown] [--only VARIANT]\n"
               "       (VARIANT: direct, hardened, unhardened or docker)\n");
  return 2;
}
