// Attack classes 1-7 of issue 11 (docs/security.md), each tried by a hostile container
// through the real medperfd with `medperfctl test run` on local container folders, on the
// bubblewrap sandbox and on Docker (skipped, and said so, where no Docker engine works).
// Each test asserts the attack failed safely: nothing on the host changed, nothing secret
// came out, the run failed with a message naming the limit or the entry, the daemon stays
// responsive and no process of the task is left.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/security/security_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using sec::Has;
using Clock = std::chrono::steady_clock;

// Relative path -> content and mode of every file and folder under `root`.
std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  struct stat st;
  if (::lstat(root.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    out["."] = std::to_string(st.st_mode) + ":" + sec::Slurp(root);
    return out;
  }
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    std::string rel = fs::relative(it->path(), root).string();
    out[rel] = std::to_string(st.st_mode) + ":" +
               (S_ISREG(st.st_mode) ? sec::Slurp(it->path()) : std::string());
  }
  return out;
}

// Makes every file writable by anyone, so that only the read-only mount can stop a write
// (and the expected errno is EROFS, not EACCES).
// Never through a symlink: chmod() follows links, and a link here could name a host file.
void OpenPermissions(const fs::path& root) {
  std::error_code ec;
  auto open_up = [](const fs::path& p, const fs::file_status& st) {
    if (fs::is_symlink(st)) return;
    ::fchmodat(AT_FDCWD, p.c_str(), fs::is_directory(st) ? 0777 : 0666, 0);
  };
  open_up(root, fs::symlink_status(root, ec));
  if (!fs::is_directory(fs::symlink_status(root, ec))) return;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    open_up(it->path(), it->symlink_status(ec));
  }
}

std::string ReportText(const std::map<std::string, std::string>& report) {
  std::string text;
  for (const auto& [k, v] : report) text += k + "=" + v + "\n";
  return text;
}

class LocalSecurityTest : public HostileBase, public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    runner_ = GetParam();
    if (runner_ == "sandbox_service") {
      runner_ = "sandbox";
      service_user_ = true;
      if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to start medperfd as a service user holding CAP_SETUID and "
                        "CAP_SETGID; the packaged unit's mode is NOT tested on this run";
      }
    }
    if (runner_ == "docker") {
      // A private dockerd of this test process (DOCKER_HOST is set for medperfd too).
      std::string why;
      if (PrivateDockerEngine(&why) == nullptr) {
        GTEST_SKIP() << "no Docker engine can run here (" << why
                     << "); the Docker variant of this attack is NOT tested on this host";
      }
      static bool built = false;
      if (!built) {
        ASSERT_TRUE(sec::BuildHostileImage(dir_ / "image"));
        built = true;
      }
    }
    raw_ = dir_ / "raw";
    fs::create_directories(raw_ / "images");
    fs::create_directories(raw_ / "labels");
    for (int i = 1; i <= 3; ++i) {
      WriteFile(raw_ / "images" / ("case_" + std::to_string(i) + ".txt"),
                "pixels of case " + std::to_string(i) + "\n");
    }
    WriteFile(raw_ / "labels" / "labels.csv", "case,label\ncase_1,0\ncase_2,1\ncase_3,0\n");
    OpenPermissions(raw_);
    // The instantiated containers live here; the sandbox must not need to traverse it.
    fs::create_directories(dir_ / "containers");
  }

  void TearDown() override {
    if (daemon_) {
      ExpectNothingLeftRunning();
      daemon_->Stop(SIGKILL);
    }
    cgroup_.reset();
  }

  fs::path StateDir() const override { return dir_ / "site" / "state"; }

  void StartSite(const std::map<std::string, std::string>& limits = {}) {
    WriteFile(dir_ / "medperfd.yaml", "poll:\n  enabled: false\nrunner: " +
                                          std::string(runner_ == "docker" ? "docker" : "sandbox") +
                                          "\n" + sec::LimitsYaml(limits));
    // A server nobody listens on: `test run` with local folders needs none, and the
    // daemon still holds the token as a real site does.
    daemon_ = std::make_unique<SiteDaemon>(
        dir_ / "site",
        std::vector<std::string>{"--config", (dir_ / "medperfd.yaml").string(), "--server-url",
                                 "http://127.0.0.1:" + std::to_string(FreePort()), "--token-file",
                                 token_file_.string()},
        std::vector<std::string>{"MEDPERF_SECURITY_CANARY=" + canary_});
    if (service_user_) {
      fs::create_directories(dir_ / "site");
      GiveToServiceUser(dir_.path());
      // As the packaged unit's Delegate=yes does: a cgroup of its own, for the limits.
      cgroup_ = std::make_unique<DelegatedCgroup>();
      std::vector<std::string> launcher = cgroup_->Launcher();
      if (launcher.empty()) {
        std::cerr << "note: no cgroup delegated to the service user (" << cgroup_->why()
                  << "); its limits fall back to rlimits\n";
      }
      for (const std::string& a : ServiceUserLauncher()) launcher.push_back(a);
      daemon_->set_launcher(launcher);
    }
    ASSERT_TRUE(daemon_->Start());
  }

  // `medperfctl test run` of the three container folders on the raw data.
  RunResult TestRun(const fs::path& prep, const fs::path& model, const fs::path& eval) {
    RunResult r =
        daemon_->Ctl({"test", "run", "--data_preparator", prep.string(), "--model", model.string(),
                      "--evaluator", eval.string(), "--data_path", (raw_ / "images").string(),
                      "--labels_path", (raw_ / "labels").string(), "--no-cache"});
    outputs_ += r.out + r.err;
    if (std::getenv("MEDPERF_SECURITY_VERBOSE")) {
      std::cerr << "--- test run " << model.filename() << " (exit " << r.exit_code << ")\n"
                << r.out.substr(0, 3000) << r.err.substr(0, 3000);
    }
    return r;
  }
  RunResult TestRunModel(const std::string& model) {
    return TestRun(Instantiate("prep"), Instantiate(model), Instantiate("eval"));
  }

  // The test's working folder (<state>/tests/<key>/), named in its output.
  fs::path WorkDirOf(const RunResult& r) {
    std::string prefix = (StateDir() / "tests").string() + "/";
    std::string text = r.out + r.err;
    auto at = text.find(prefix);
    if (at == std::string::npos) {
      ADD_FAILURE() << "no work dir under " << prefix << " in:\n" << text;
      return {};
    }
    auto end = text.find_first_of("/ \n'\"", at + prefix.size());
    return text.substr(0, end).substr(at);
  }

  std::map<std::string, std::string> ModelReport(const RunResult& r) {
    fs::path file = WorkDirOf(r) / "predictions" / "report.txt";
    EXPECT_TRUE(fs::exists(file)) << "the hostile model wrote no report: " << file << "\n"
                                  << r.out << r.err;
    auto report = sec::ParseReport(sec::Slurp(file));
    if (std::getenv("MEDPERF_SECURITY_VERBOSE")) std::cerr << ReportText(report);
    return report;
  }

  void ExpectDaemonAnswers() {
    RunResult status = daemon_->Ctl({"status"}, std::chrono::seconds(10));
    EXPECT_EQ(status.exit_code, 0) << "medperfd stopped answering: " << status.err;
  }

  void ExpectFailsNaming(const RunResult& r, const std::vector<std::string>& words) {
    EXPECT_NE(r.exit_code, 0) << "the attack's run passed:\n" << r.out << r.err;
    for (const std::string& w : words) {
      EXPECT_TRUE(Has(r.out + r.err, w)) << "expected '" << w << "' in:\n" << r.out << r.err;
    }
  }

  fs::path raw_;
  bool service_user_ = false;                // medperfd runs as the packaged unit runs it
  std::unique_ptr<DelegatedCgroup> cgroup_;  // the service user's, when service_user_
  std::string outputs_;                      // everything medperfctl printed
  std::unique_ptr<SiteDaemon> daemon_;
};

// 1. A task writing kernel parameters (core_pattern is run by the kernel as root) or
// triggering sysrq: every attempt fails, and the host's values are unchanged.
TEST_P(LocalSecurityTest, ProcSysIsReadOnly) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  const std::vector<std::string> targets = {
      "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/kernel/hostname",
      "/proc/sys/kernel/panic", "/proc/sys/fs/suid_dumpable"};
  std::map<std::string, std::string> before;
  for (const auto& t : targets) before[t] = sec::Slurp(t);
  RunResult r = TestRunModel("model_procsys");
  for (const auto& t : targets) {
    std::string now = sec::Slurp(t);
    if (now != before[t]) {
      ADD_FAILURE() << "the task changed the host's " << t << " from '" << before[t] << "' to '"
                    << now << "' (restored)";
      WriteFile(t, before[t]);
    }
  }
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ModelReport(r);
  for (const auto& t : std::vector<std::string>{
           "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
           "/proc/sys/kernel/hostname", "/proc/sys/kernel/panic", "/proc/sys/vm/drop_caches",
           "/proc/sys/fs/suid_dumpable", "/proc/sysrq-trigger"}) {
    ASSERT_TRUE(report.count("open." + t)) << t << "\n" << ReportText(report);
    const std::string& open = report["open." + t];
    EXPECT_TRUE(open == "EROFS" || open == "EACCES" || open == "EPERM" || open == "ENOENT")
        << "the task opened " << t << " for writing: " << open;
    EXPECT_FALSE(report.count("write." + t)) << "the task wrote " << t;
  }
  EXPECT_EQ(report["remount./proc/sys"], "EPERM");
  EXPECT_EQ(report["mount.proc"], "EPERM");
  EXPECT_FALSE(Has(sec::Slurp("/proc/sys/kernel/core_pattern"), "medperf-hostile"));
}

// 2. Host secrets: shadow files and their backups, SSH keys, /root, /home, the packaged
// token and state paths, the daemon's real token file and state dir (the hostile program
// is told their paths), the daemon's environment (through /proc). None is readable, and
// neither the token nor the canary from the daemon's environment shows up in outputs,
// logs, the state dir or what medperfctl printed.
TEST_P(LocalSecurityTest, HostSecretsStayOutOfReach) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  RunResult r =
      TestRun(Instantiate("prep"), Instantiate("model_secrets"), Instantiate("eval_secrets"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ModelReport(r);
  int checked = 0;
  for (const auto& [key, value] : report) {
    if (key.rfind("secret.", 0) != 0) continue;
    ++checked;
    if (Has(key, "environ")) continue;  // own processes; the canary check below covers them
    EXPECT_TRUE(value.rfind("READ", 0) != 0 && value.rfind("LISTED", 0) != 0)
        << "the task could read " << key << ": " << value;
  }
  EXPECT_GE(checked, 14) << ReportText(report);
  EXPECT_EQ(report["secret.token"], "ENOENT") << "the token file is visible to the task";
  EXPECT_EQ(report["secret.state_dir"], "ENOENT") << "the state dir is visible to the task";
  EXPECT_FALSE(Has(report["ls./etc"], "shadow")) << report["ls./etc"];
  EXPECT_FALSE(Has(report["ls./"], "root ")) << report["ls./"];
  // The evaluator's findings are in the metrics medperfctl shows; so are any leaks.
  EXPECT_TRUE(Has(r.out, "secret.shadow")) << r.out;
  ExpectNoSecretIn(dir_ / "site", outputs_ + daemon_->Log());
}

// 3. Uid 0 or any capability inside the task, and the privileged calls a root task would
// use to escape (namespaces, mounts, tracing, keys, BPF, perf, modules). Seen from inside
// (its /proc/self/status) and from the host (/proc/<pid>/status of the running task).
TEST_P(LocalSecurityTest, NeitherRootNorCapabilities) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  std::atomic<bool> done{false};
  std::map<std::string, std::string> host;  // what the host saw of the task
  std::thread watcher([&] {
    auto deadline = Clock::now() + std::chrono::seconds(90);
    while (!done && Clock::now() < deadline) {
      for (const auto& [pid, cmd] : sec::ProcessesWith(nonce_)) {
        std::string argv0 = cmd.substr(0, cmd.find(' '));
        if (fs::path(argv0).filename() != "hostile" || !Has(cmd, " infer ")) continue;
        for (const char* key : {"Uid", "Gid", "CapEff", "CapPrm", "NoNewPrivs", "Seccomp"}) {
          host[key] = sec::StatusField(pid, key);
        }
        host["pid"] = std::to_string(pid);
        fs::path marker = fs::path("/proc") / std::to_string(pid) /
                          "root/mlcommons/volumes/predictions/host_checked";
        std::ofstream(marker) << "checked\n";
        host["marker"] = fs::exists(marker) ? "written" : "not written";
        done = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  RunResult r = TestRunModel("model_privs");
  done = true;
  watcher.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ModelReport(r);
  std::string all = ReportText(report);

  // Inside: no uid 0 in any of real/effective/saved/fs, no capability, no_new_privs, seccomp.
  ASSERT_FALSE(report["status.Uid"].empty()) << all;
  std::stringstream uids(report["status.Uid"]);
  for (std::string id; uids >> id;)
    EXPECT_NE(id, "0") << "task uid inside: " << report["status.Uid"];
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(report[std::string("status.") + cap], "0000000000000000") << cap;
  }
  EXPECT_EQ(report["status.NoNewPrivs"], "1");
  EXPECT_EQ(report["status.Seccomp"], "2");
  std::vector<std::string> denied = {
      "unshare_user",    "unshare_mount", "clone_newuser", "mount",      "chroot",
      "sethostname",     "mknod",         "keyctl",        "add_key",    "bpf",
      "perf_event_open", "userfaultfd",   "init_module",   "kexec_load", "setgroups"};
  if (runner_ == "docker") {
    // Docker's default seccomp profile allows ptrace on kernels >= 4.8: the task may trace
    // its own children (nothing outside its container). Its parent is outside (pid 0).
    EXPECT_NE(report["call.ptrace_attach_parent"], "OK");
  } else {
    denied.insert(denied.end(),
                  {"ptrace_attach", "process_vm_readv", "ptrace_attach_parent", "ptrace_traceme"});
  }
  for (const std::string& call : denied) {
    EXPECT_EQ(report["call." + call], "EPERM") << call << "\n" << all;
  }
  // setuid(0)/setgid(0) fail with EINVAL where id 0 is not even mapped in the namespace.
  for (const char* call : {"setuid0", "setgid0"}) {
    const std::string& v = report[std::string("call.") + call];
    EXPECT_TRUE(v == "EPERM" || v == "EINVAL") << call << ": " << v;
  }

  // Outside: the task's host uid and gid are not root's, and it holds no capability.
  EXPECT_EQ(report["host_checked"], "yes") << "the host never saw the task running\n" << all;
  ASSERT_FALSE(host["Uid"].empty()) << "the host did not find the task's process";
  std::stringstream host_uids(host["Uid"] + " " + host["Gid"]);
  for (std::string id; host_uids >> id;) {
    EXPECT_NE(id, "0") << "task pid " << host["pid"] << " runs as host uid/gid 0: Uid "
                       << host["Uid"] << " Gid " << host["Gid"];
  }
  EXPECT_EQ(host["CapEff"], "0000000000000000");
  EXPECT_EQ(host["CapPrm"], "0000000000000000");
  // ...nor the daemon's own: a task that escaped would not own the daemon's files.
  if (service_user_) {
    EXPECT_EQ(host["Uid"].find(std::to_string(kServiceUid)), std::string::npos)
        << "the task runs as the daemon's user: Uid " << host["Uid"];
  }
}

// 4a. A task writing into what the daemon hands it as inputs: the raw data and labels
// (prepare), the prepared dataset, the parameters file and the additional files (infer),
// even where file permissions would let it. Every write fails with EROFS; nothing changed.
TEST_P(LocalSecurityTest, InputsStayReadOnly) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  fs::path prep = Instantiate("prep_write_inputs");
  fs::path model = Instantiate("model_write_inputs");
  fs::create_directories(model / "additional_files");
  WriteFile(model / "additional_files" / "weights.txt", "weights\n");
  OpenPermissions(prep);
  OpenPermissions(model);
  auto raw_before = Snapshot(raw_);
  auto prep_before = Snapshot(prep);
  auto model_before = Snapshot(model);

  RunResult r = TestRun(prep, model, Instantiate("eval"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Snapshot(raw_), raw_before) << "the raw data changed";
  EXPECT_EQ(Snapshot(prep), prep_before) << "the preparator's parameters changed";
  EXPECT_EQ(Snapshot(model), model_before) << "the model's parameters or additional files changed";
  EXPECT_EQ(sec::FindNamed(StateDir(), "PWNED"), std::vector<fs::path>{});
  EXPECT_EQ(sec::FindNamed(dir_.path(), "PWNED_DIR"), std::vector<fs::path>{});

  auto model_report = ModelReport(r);
  std::vector<fs::path> prep_reports;
  for (const fs::path& p : sec::FindNamed(WorkDirOf(r), "report.txt")) {
    if (p.parent_path().filename() != "predictions") prep_reports.push_back(p);
  }
  ASSERT_EQ(prep_reports.size(), 1u) << "the preparator's report, in the prepared data";
  auto prep_report = sec::ParseReport(sec::Slurp(prep_reports[0]));
  for (const auto* report : {&prep_report, &model_report}) {
    int attempts = 0;
    for (const auto& [key, value] : *report) {
      if (key.rfind("write.", 0) != 0) continue;
      ++attempts;
      // Under a service-user daemon the prepared data ("data" for the model) belongs to
      // the daemon once prepared, so permissions refuse the write before the mount does.
      if (service_user_ && report == &model_report && key.rfind("write.data.", 0) == 0 &&
          value == "EACCES") {
        continue;
      }
      EXPECT_EQ(value, "EROFS") << key << "\n" << ReportText(*report);
    }
    EXPECT_GE(attempts, 20) << ReportText(*report);
  }
  for (const char* key : {"write.data.create", "write.labels.create", "write.params.append"}) {
    EXPECT_TRUE(prep_report.count(key)) << key;
  }
  for (const char* key : {"write.data.create", "write.data.append", "write.extra.create",
                          "write.extra.append", "write.params.append"}) {
    EXPECT_TRUE(model_report.count(key)) << key;
  }

  // A model without additional files gets the daemon's shared empty folder: read-only too.
  RunResult shared = TestRun(Instantiate("prep"), Instantiate("model_write_inputs", "no_extra"),
                             Instantiate("eval"));
  ASSERT_EQ(shared.exit_code, 0) << shared.out << shared.err;
  auto shared_report = ModelReport(shared);
  for (const char* key : {"write.extra.create", "write.extra.mkdir", "write.extra.symlink"}) {
    EXPECT_TRUE(shared_report[key] == "EROFS" || shared_report[key] == "EACCES")
        << key << "=" << shared_report[key];
  }
  EXPECT_EQ(sec::FindNamed(StateDir(), "PWNED"), std::vector<fs::path>{});
}

// 4b. A container declaring a daemon input (data_path, additional_files) under
// output_volumes is refused with a clear error before anything runs.
TEST_P(LocalSecurityTest, RedeclaredInputIsRefusedBeforeRunning) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  RunResult data = TestRunModel("model_redeclare_data");
  ExpectFailsNaming(data, {"'data_path' under output_volumes", "read-only input"});
  RunResult extra = TestRunModel("model_redeclare_extra");
  ExpectFailsNaming(extra, {"'additional_files' under output_volumes"});
  EXPECT_EQ(sec::FilesContaining(StateDir(), "[hostile] task infer"), "")
      << "the refused model ran";
  EXPECT_EQ(sec::FindNamed(StateDir(), "PWNED"), std::vector<fs::path>{});
  ExpectDaemonAnswers();
}

// 5. Links and special files planted in outputs (to /proc files, to host files, a
// directory link, a hard link, a FIFO that would block a reader, a socket): the run fails
// naming the entry before anything reads or hashes it; the daemon keeps answering, and
// SIGTERM still stops it promptly.
TEST_P(LocalSecurityTest, OutputLinksAndSpecialFilesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  struct Case {
    std::string prep, model, entry, kind;
  };
  const std::vector<Case> cases = {
      {"prep", "model_link_environ", "'environ'", "symbolic link"},
      {"prep", "model_link_mem", "'mem'", "symbolic link"},
      {"prep", "model_link_token", "'token'", "symbolic link"},
      {"prep", "model_link_hostname", "'hostname'", "symbolic link"},
      {"prep", "model_link_root", "'rootdir'", "symbolic link"},
      {"prep", "model_hardlink", "txt'", "hard link"},
      {"prep", "model_fifo", "'pipe'", "FIFO"},
      {"prep", "model_socket", "'sock'", "socket"},
      // In prepared data, which the daemon hashes into the dataset's id.
      {"prep_link_environ", "model_ok", "'environ'", "symbolic link"},
      {"prep_link_token", "model_ok", "'token'", "symbolic link"},
      {"prep_fifo", "model_ok", "'pipe'", "FIFO"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.prep + " + " + c.model);
    auto start = Clock::now();
    RunResult r = TestRun(Instantiate(c.prep), Instantiate(c.model), Instantiate("eval"));
    ExpectFailsNaming(r, {c.entry, c.kind});
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(30)) << "the refusal took too long";
    ExpectDaemonAnswers();
  }
  ExpectNoSecretIn(dir_ / "site", outputs_ + daemon_->Log());
  auto start = Clock::now();
  int status = daemon_->Stop(SIGTERM, std::chrono::seconds(15));
  EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "medperfd did not stop cleanly on SIGTERM (wait status " << status << ")";
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

// 6. "Billion laughs", 100000-deep nesting and a 17 MiB document as statistics.yaml
// (preparator) and results.yaml (evaluator): each refused naming the file and the limit,
// and the daemon's peak memory stays small.
TEST_P(LocalSecurityTest, HostileYamlIsRefusedWithinMemory) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  struct Case {
    std::string prep, eval, file, limit;
  };
  const std::vector<Case> cases = {
      {"prep_stats_bomb", "eval", "statistics", "expands to more than"},
      {"prep_stats_deep", "eval", "statistics", "nested deeper than"},
      {"prep_stats_huge", "eval", "statistics", "more than the limit of 16 MiB"},
      {"prep", "eval_bomb", "results", "expands to more than"},
      {"prep", "eval_deep", "results", "nested deeper than"},
      {"prep", "eval_huge", "results", "more than the limit of 16 MiB"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.prep + " + " + c.eval);
    RunResult r = TestRun(Instantiate(c.prep), Instantiate("model_ok"), Instantiate(c.eval));
    ExpectFailsNaming(r, {c.file, c.limit});
    ExpectDaemonAnswers();
  }
  uint64_t peak = sec::PeakRssMiB(daemon_->pid());
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, sec::kDaemonPeakRssMiB) << "medperfd's peak RSS (VmHWM) in MiB";
}

// 7a. A fork bomb stops at limits.infer.processes; the host (this test process) can
// still fork afterwards.
TEST_P(LocalSecurityTest, ForkBombHitsTheProcessLimit) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  RunResult r = TestRunModel("model_forkbomb");
  ExpectFailsNaming(r, {"limits.infer.processes"});
  ExpectNothingLeftRunning();
  for (int i = 0; i < 20; ++i) {
    pid_t p = ::fork();
    ASSERT_GE(p, 0) << "this test cannot fork after the bomb: " << std::strerror(errno);
    if (p == 0) ::_exit(0);
    ::waitpid(p, nullptr, 0);
  }
  EXPECT_EQ(RunProcess({"/bin/true"}).exit_code, 0);
  ExpectDaemonAnswers();
}

// 7b. A memory hog (768 MiB) is stopped at limits.infer.memory (256 MiB here).
TEST_P(LocalSecurityTest, MemoryHogHitsTheMemoryLimit) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  RunResult r = TestRunModel("model_memhog");
  ExpectFailsNaming(r, {"limits.infer.memory"});
  ExpectDaemonAnswers();
}

// 7c. Output floods: one growing file, many files written slowly, many files written at
// once. Each fails naming limits.infer.output (10 MiB here).
TEST_P(LocalSecurityTest, OutputFloodHitsTheOutputLimit) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  for (const char* model : {"model_flood_file", "model_flood_files", "model_flood_files_fast",
                            "model_flood_hidden", "model_flood_deep"}) {
    SCOPED_TRACE(model);
    RunResult r = TestRunModel(model);
    ExpectFailsNaming(r, {"limits.infer.output"});
    if (std::string(model) == "model_flood_hidden" || std::string(model) == "model_flood_deep") {
      // Stopped while it ran (not only refused after 200 MiB): the live measurement saw
      // through a private folder and did not give up on a deep one.
      EXPECT_TRUE(Has(r.out + r.err, "its outputs reached") ||
                  Has(r.out + r.err, "its outputs could not be measured"))
          << r.out << r.err;
    }
    ExpectDaemonAnswers();
  }
}

// 7d. The private /tmp holds at most limits.infer.tmp (4 MiB here, under the output cap,
// whose per-file rlimit applies to /tmp files as well).
TEST_P(LocalSecurityTest, TmpIsCapped) {
  ASSERT_NO_FATAL_FAILURE(StartSite({{"infer.tmp", "4MiB"}}));
  RunResult r = TestRunModel("model_tmp_flood");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ModelReport(r);
  ASSERT_TRUE(report.count("tmp_flood_bytes")) << ReportText(report);
  EXPECT_LE(std::stoull(report["tmp_flood_bytes"]), uint64_t{4} << 20);
  EXPECT_GE(std::stoull(report["tmp_flood_bytes"]), uint64_t{3} << 20);
  EXPECT_EQ(report["tmp_flood_stop"], "ENOSPC");
}

// 7e. 16 MiB of log: the task's log file keeps about limits.infer.log (1 MiB here), with
// its first and its last lines.
TEST_P(LocalSecurityTest, LogFloodIsCappedKeepingBothEnds) {
  ASSERT_NO_FATAL_FAILURE(StartSite());
  auto start = Clock::now();
  RunResult r = TestRunModel("model_log_flood");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(0, 2000) << r.err.substr(0, 2000);
  std::vector<fs::path> logs = sec::FindNamed(StateDir() / "tests", "model.log");
  ASSERT_EQ(logs.size(), 1u);
  uint64_t size = fs::file_size(logs[0]);
  EXPECT_LE(size, (uint64_t{1} << 20) + 16 * 1024) << logs[0];
  EXPECT_GE(size, uint64_t{512} << 10) << logs[0];
  std::string log = sec::Slurp(logs[0]);
  EXPECT_TRUE(Has(log, "FIRST-LOG-LINE " + nonce_)) << "the log lost its beginning";
  EXPECT_TRUE(Has(log, "LAST-LOG-LINE " + nonce_)) << "the log lost its end";
  EXPECT_LT(outputs_.size(), size_t{4} << 20) << "medperfctl got the whole flood";
  ExpectDaemonAnswers();
}

// 7f. A task that ignores SIGTERM, leaves a detached grandchild and sleeps: killed at
// limits.infer.time_seconds (3 s here), with every process gone.
TEST_P(LocalSecurityTest, HangIsKilledAtTheTimeLimit) {
  ASSERT_NO_FATAL_FAILURE(StartSite({{"infer.time_seconds", "3"}}));
  auto start = Clock::now();
  RunResult r = TestRunModel("model_hang");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30));
  ExpectFailsNaming(r, {"timed out", "limits.infer.time_seconds"});
  ExpectNothingLeftRunning();
  ExpectDaemonAnswers();
}

INSTANTIATE_TEST_SUITE_P(Runner, LocalSecurityTest,
                         ::testing::Values("sandbox", "sandbox_service", "docker"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace medperf::testing
