// medperfd and medperfctl as a user meets them: started for real, driven over the socket.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/daemon_fixture.h"

namespace medperf::testing {
namespace {

TEST(DaemonCtlTest, StatusShowsTheDaemon) {
  TempDir dir;
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start());

  RunResult r = daemon.Ctl({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("medperfd "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(daemon.state_dir().string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("schema version: 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(none configured)"), std::string::npos) << r.out;

  RunResult j = daemon.Ctl({"status", "--check", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto status = nlohmann::json::parse(j.out);
  EXPECT_EQ(status["integrity"], "ok");
  EXPECT_EQ(status["state_dir"], daemon.state_dir().string());
  // Numbers are JSON numbers (proto3's JSON mapping would make the int64s strings).
  ASSERT_TRUE(status["counts"]["events"].is_number_integer()) << j.out;
  EXPECT_GE(status["counts"]["events"].get<int64_t>(), 1);
  EXPECT_TRUE(status["pid"].is_number_integer()) << j.out;
  EXPECT_TRUE(status["uptime_seconds"].is_number_integer()) << j.out;
  EXPECT_EQ(status["schema_version"], 3);
}

// runner.docker.binary /bin/false stands for a docker CLI whose engine never answers, so
// the test does not depend on whether this machine has an engine.
TEST(DaemonCtlTest, StatusSaysWhichRunnerIsUsedAndNamesAnUnreachableEngine) {
  TempDir dir;
  std::string socket = "unix://" + (dir.path() / "no-engine.sock").string();
  WriteFile(dir.path() / "medperfd.yaml",
            "runner:\n  engine: docker\n  docker: {host: \"" + socket +
                "\", binary: /bin/false}\npolicy:\n  max_concurrent_jobs: 2\n"
                "  gpus: device=0,1\n  gpu_tasks: [infer, evaluate]\n");
  DaemonProcess daemon(dir.path(), {"--config", (dir.path() / "medperfd.yaml").string()});
  ASSERT_TRUE(daemon.Start());
  RunResult r = daemon.Ctl({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("runner:         docker -> docker: configured (runner: docker), but the "
                       "docker engine at " +
                       socket + " is unreachable"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("gpus:           device=0,1: 1 per task, 2 GPU tasks at once; busy: "
                       "none; for tasks: evaluate, infer"),
            std::string::npos)
      << r.out;
  RunResult j = daemon.Ctl({"status", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto status = nlohmann::json::parse(j.out);
  EXPECT_NE(status["runner_choice"].get<std::string>().find(socket), std::string::npos) << j.out;
  EXPECT_EQ(status["gpu_tasks"], (nlohmann::json{"evaluate", "infer"})) << j.out;
}

TEST(DaemonCtlTest, StatusExplainsWhatRunnerAutoPicked) {
  TempDir dir;
  std::string socket = "unix://" + (dir.path() / "no-engine.sock").string();
  WriteFile(dir.path() / "medperfd.yaml",
            "runner:\n  engine: auto\n  docker: {host: \"" + socket + "\", binary: /bin/false}\n");
  DaemonProcess daemon(dir.path(), {"--config", (dir.path() / "medperfd.yaml").string()});
  ASSERT_TRUE(daemon.Start());
  RunResult j = daemon.Ctl({"status", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  std::string choice = nlohmann::json::parse(j.out)["runner_choice"];
  // sandbox, or apptainer on a machine that has it; either way the reason names the
  // engine that did not answer.
  EXPECT_NE(choice.find(": runner auto, the docker engine at " + socket + " is unreachable"),
            std::string::npos)
      << choice;
}

TEST(DaemonCtlTest, SocketIsPrivateToOwnerAndGroup) {
  TempDir dir;
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start());
  struct stat st {};
  ASSERT_EQ(lstat(daemon.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_uid, geteuid());
}

TEST(DaemonCtlTest, OnlyOneDaemonPerStateDir) {
  TempDir dir;
  DaemonProcess first(dir.path());
  ASSERT_TRUE(first.Start());
  RunResult second =
      RunProcess({BinaryPath("daemon/medperfd").string(), "--state-dir", first.state_dir().string(),
                  "--socket", (dir / "other.sock").string()},
                 std::chrono::seconds(20));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("another medperfd (pid "), std::string::npos) << second.err;
  // The first one is unharmed.
  EXPECT_EQ(first.Ctl({"status"}).exit_code, 0);
}

TEST(DaemonCtlTest, SigtermShutsDownCleanly) {
  TempDir dir;
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start());
  int status = daemon.Stop(SIGTERM);
  ASSERT_NE(status, -1) << "medperfd did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << daemon.Log();
  EXPECT_FALSE(std::filesystem::exists(daemon.socket()));
  EXPECT_NE(daemon.Log().find("stopped"), std::string::npos);
  // State survives and the next daemon starts on it, schema intact.
  DaemonProcess again(dir.path());
  ASSERT_TRUE(again.Start());
  RunResult r = again.Ctl({"status", "--check"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("integrity:      ok"), std::string::npos) << r.out;
}

TEST(DaemonCtlTest, ClearMessageWhenDaemonIsNotRunning) {
  TempDir dir;
  RunResult r = RunProcess({BinaryPath("ctl/medperfctl").string(), "--socket",
                            (dir / "absent.sock").string(), "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot reach medperfd at " + (dir / "absent.sock").string()),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("is the service running?"), std::string::npos) << r.err;
}

TEST(DaemonCtlTest, UsageErrorsExitWithTwo) {
  std::string ctl = BinaryPath("ctl/medperfctl").string();
  RunResult unknown = RunProcess({ctl, "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
  RunResult bad_flag = RunProcess({ctl, "status", "--bogus"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_NE(bad_flag.err.find("unknown option --bogus for 'status'"), std::string::npos);
  RunResult bad_value = RunProcess({ctl, "job", "view", "abc"});
  EXPECT_EQ(bad_value.exit_code, 2);
  RunResult help = RunProcess({ctl, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("status"), std::string::npos);
  RunResult version = RunProcess({ctl, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  RunResult daemon_usage = RunProcess({BinaryPath("daemon/medperfd").string(), "--bogus"});
  EXPECT_EQ(daemon_usage.exit_code, 2);
}

TEST(DaemonCtlTest, WatchShowsStoredEvents) {
  TempDir dir;
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start());
  RunResult r = daemon.Ctl({"watch", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto first_line = r.out.substr(0, r.out.find('\n'));
  auto event = nlohmann::json::parse(first_line);
  EXPECT_EQ(event["kind"], "daemon.started");
  EXPECT_EQ(event["fields"]["state_dir"], daemon.state_dir().string());
}

TEST(DaemonCtlTest, JobListingWorksOnAnEmptyQueue) {
  TempDir dir;
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start());
  RunResult r = daemon.Ctl({"job", "ls", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ID"), std::string::npos);
  RunResult missing = daemon.Ctl({"job", "view", "99"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no job 99"), std::string::npos) << missing.err;
}

// A client that is neither root, the owner nor in the socket's group is refused with a
// clear PERMISSION_DENIED, even when file permissions would let it connect.
TEST(DaemonCtlTest, ForeignPeerIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client under another uid";
  if (access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "setpriv (util-linux) not installed";
  TempDir dir;
  chmod(dir.path().c_str(), 0755);
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start());
  chmod((dir.path() / "run").c_str(), 0755);
  ASSERT_EQ(chmod(daemon.socket().c_str(), 0666), 0);  // defeat the file-mode barrier
  std::string ctl = BinaryPath("ctl/medperfctl").string();
  RunResult r = RunProcess({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            ctl, "--socket", daemon.socket().string(), "status"});
  if (r.err.find("Permission denied") != std::string::npos &&
      r.err.find("medperfd refuses") == std::string::npos) {
    GTEST_SKIP() << "uid 65534 cannot execute the build tree here: " << r.err;
  }
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("medperfd refuses this client"), std::string::npos) << r.err;
  EXPECT_NE(daemon.Log().find("refused a control client"), std::string::npos);
}

}  // namespace
}  // namespace medperf::testing

namespace medperf::testing {
namespace {

// A token others can read is a leaked credential: the daemon does not start with it.
TEST(DaemonCtlTest, RefusesToStartWithAWorldReadableTokenFile) {
  TempDir dir;
  WriteFile(dir / "token", "secret-token-value\n");
  chmod((dir / "token").c_str(), 0644);
  std::vector<std::string> argv = {BinaryPath("daemon/medperfd").string(),
                                   "--state-dir",
                                   (dir / "state").string(),
                                   "--socket",
                                   (dir / "d.sock").string(),
                                   "--server-url",
                                   "http://127.0.0.1:9",
                                   "--token-file",
                                   (dir / "token").string()};
  RunResult r = RunProcess(argv, std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has mode 0644"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("secret-token-value"), std::string::npos)
      << "the token itself is never shown";
  EXPECT_FALSE(std::filesystem::exists(dir / "d.sock"));

  chmod((dir / "token").c_str(), 0600);
  DaemonProcess daemon(
      dir.path(), {"--server-url", "http://127.0.0.1:9", "--token-file", (dir / "token").string()});
  EXPECT_TRUE(daemon.Start());
}

// A zero-length or missing state.db next to prepared data is a lost database, not a new
// site: starting would forget every dataset and unsubmitted result still on disk.
TEST(DaemonCtlTest, RefusesToReplaceAnEmptiedStateDatabase) {
  TempDir dir;
  {
    DaemonProcess daemon(dir.path());
    ASSERT_TRUE(daemon.Start());
    ASSERT_EQ(daemon.Stop(SIGTERM), 0) << daemon.Log();
  }
  const std::filesystem::path state = dir / "state";
  auto start = [&] {
    return RunProcess({BinaryPath("daemon/medperfd").string(), "--state-dir", state.string(),
                       "--socket", (dir / "d.sock").string()},
                      std::chrono::seconds(20));
  };
  // A new state directory (nothing prepared yet) may start from an empty file.
  std::filesystem::resize_file(state / "state.db", 0);
  {
    DaemonProcess daemon(dir.path());
    ASSERT_TRUE(daemon.Start());
    ASSERT_EQ(daemon.Stop(SIGTERM), 0) << daemon.Log();
  }
  std::filesystem::create_directories(state / "datasets" / "1" / "data");
  WriteFile(state / "results" / "b1m4d1.yaml", "AUC: 0.5\n");
  std::filesystem::resize_file(state / "state.db", 0);
  std::filesystem::remove(state / "state.db-wal");
  std::filesystem::remove(state / "state.db-shm");

  RunResult r = start();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("state.db is empty (0 bytes)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 entry in datasets/ and 1 entry in results/"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Backup and restore"), std::string::npos) << r.err;
  EXPECT_EQ(std::filesystem::file_size(state / "state.db"), 0u) << "nothing written over it";
  EXPECT_FALSE(std::filesystem::exists(dir / "d.sock"));

  std::filesystem::remove(state / "state.db");
  r = start();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("state.db is missing"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(state / "state.db"));
}

// A state.db that is there but damaged (not SQLite at all, or corrupt pages) is refused
// with one message naming the file, what is wrong and the recovery section; the file is
// left exactly as it was.
TEST(DaemonCtlTest, RefusesADamagedStateDatabaseOnceWithTheRecoverySection) {
  TempDir dir;
  {
    DaemonProcess daemon(dir.path());
    ASSERT_TRUE(daemon.Start());
    ASSERT_EQ(daemon.Stop(SIGTERM), 0) << daemon.Log();
  }
  const std::filesystem::path state = dir / "state";
  const std::filesystem::path db = state / "state.db";
  const std::string good = ReadFile(db);
  ASSERT_GT(good.size(), 4096u);
  auto start = [&] {
    std::filesystem::remove(state / "state.db-wal");
    std::filesystem::remove(state / "state.db-shm");
    return RunProcess({BinaryPath("daemon/medperfd").string(), "--state-dir", state.string(),
                       "--socket", (dir / "d.sock").string()},
                      std::chrono::seconds(20));
  };
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };

  // Not a database at all (e.g. a file restored from the wrong place).
  const std::string garbage = "this is not a database\n" + std::string(5000, 'x');
  WriteFile(db, garbage);
  RunResult r = start();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count(r.err, "is damaged: it is not a SQLite database"), 1u) << r.err;
  EXPECT_NE(r.err.find(db.string()), std::string::npos) << r.err;
  EXPECT_LE(count(r.err, "not a database"), 1u) << "a detail said twice:\n" << r.err;
  EXPECT_EQ(count(r.err, "docs/operations.md, \"A damaged state database\""), 1u) << r.err;
  EXPECT_EQ(ReadFile(db), garbage) << "the damaged file was changed";
  EXPECT_FALSE(std::filesystem::exists(dir / "d.sock"));

  // A real database whose first page (the schema) was overwritten.
  std::string corrupt = good;
  for (size_t i = 100; i < 4096; ++i) corrupt[i] = static_cast<char>(i * 7);
  WriteFile(db, corrupt);
  r = start();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count(r.err, "is damaged"), 1u) << r.err;
  EXPECT_NE(r.err.find("A damaged state database"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(db), corrupt) << "the damaged file was changed";
}

}  // namespace
}  // namespace medperf::testing
