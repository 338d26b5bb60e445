// Bearer tokens never leak into what medperfd writes: its log, its events (`watch
// --json`) and every file of its state directory (database, WAL, job logs), after a
// session against the real, seeded medperf-server that includes failing commands, a
// command run with another user's --token-file, and a daemon whose token is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"
#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/server_process.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kDoEmail[] = "testdo@example.com";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WritePrivate(const fs::path& p, const std::string& content) {
  WriteFile(p, content + "\n");
  ASSERT_EQ(::chmod(p.c_str(), 0600), 0);
}

// Every place under `dir` holding `secret`, as "path" lines (binary files included).
std::string FilesContaining(const fs::path& dir, const std::string& secret) {
  std::string hits;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (Slurp(it->path()).find(secret) != std::string::npos) hits += it->path().string() + "\n";
  }
  return hits;
}

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (dir_ / "db.sqlite").string();
    std::vector<std::string> seed = {BinaryPath("server/medperf-server").string(),
                                     "seed",
                                     "--db",
                                     db_,
                                     "--demo",
                                     "data",
                                     "--tokens-out",
                                     (dir_ / "tokens.json").string()};
    fs::path assets = BuildDir() / "examples" / "chestxray";
    if (fs::exists(assets / "data_preparator")) {
      seed.insert(seed.end(), {"--assets", assets.string()});
    }
    RunResult r = RunProcess(seed);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    tokens_ = nlohmann::json::parse(ReadFile(dir_ / "tokens.json"));
    server_ = std::make_unique<ServerProcess>(db_, dir_ / "server.log");
    ASSERT_TRUE(server_->Start());
    // Token files live outside the daemons' roots, as in a real installation.
    fs::create_directories(dir_ / "secrets");
    WritePrivate(dir_ / "secrets" / "do.token", Token("testdo@example.com"));
    WritePrivate(dir_ / "secrets" / "bo.token", Token("testbo@example.com"));
  }

  std::string Token(const std::string& email) const { return tokens_.at(email); }
  std::string url() const { return server_->url(); }

  // Asserts that none of `secrets` appears in the daemon's log, its root (state dir and
  // everything else it wrote) or in `outputs` (what the ctl printed, watch --json included).
  void ExpectNoLeak(const fs::path& root, const std::vector<std::string>& secrets,
                    const std::string& outputs) {
    for (const std::string& secret : secrets) {
      ASSERT_GE(secret.size(), 16u);  // a real token, not something that matches by chance
      EXPECT_EQ(FilesContaining(root, secret), "") << "token found in these files";
      EXPECT_EQ(outputs.find(secret), std::string::npos) << "token in ctl output:\n" << outputs;
    }
  }

  TempDir dir_;
  std::string db_;
  nlohmann::json tokens_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(SecretsTest, TokensNeverReachLogsEventsOrState) {
  const fs::path root = dir_ / "site";
  fs::create_directories(root);
  DaemonProcess daemon(
      root, {"--server-url", url(), "--token-file", (dir_ / "secrets" / "do.token").string()});
  ASSERT_TRUE(daemon.Start());
  const fs::path data = BuildDir() / "examples" / "chestxray" / "sample_raw_data";

  std::string outputs;
  int failures = 0;
  auto ctl = [&](std::vector<std::string> args) {
    RunResult r = daemon.Ctl(args, "", std::chrono::seconds(60));
    outputs += r.out + r.err;
    if (r.exit_code != 0) ++failures;
    return r;
  };
  EXPECT_EQ(ctl({"status"}).exit_code, 0);
  EXPECT_EQ(ctl({"benchmark", "ls"}).exit_code, 0) << outputs;
  EXPECT_EQ(ctl({"dataset", "ls", "--mine"}).exit_code, 0) << outputs;
  if (fs::exists(data / "images")) {
    // A job that talks to the server with the daemon's token (and may fail later on).
    ctl({"-y", "dataset", "submit", "--name", "secret-test", "-d", (data / "images").string(), "-l",
         (data / "labels").string(), "-b", "1"});
    ctl({"-y", "dataset", "prepare", "-d", "1"});
  }
  // Failing commands: unknown objects, and another user's token on the request.
  EXPECT_NE(ctl({"benchmark", "view", "999"}).exit_code, 0);
  EXPECT_NE(ctl({"dataset", "prepare", "--data_uid", "999"}).exit_code, 0);
  EXPECT_NE(ctl({"--token-file", (dir_ / "secrets" / "bo.token").string(), "association", "approve",
                 "-b", "1", "-d", "999"})
                .exit_code,
            0);
  ctl({"--token-file", (dir_ / "secrets" / "bo.token").string(), "benchmark", "ls"});
  ctl({"job", "ls", "--all"});
  ctl({"result", "ls"});
  RunResult watch = ctl({"watch", "--json", "--limit", "1000"});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_FALSE(watch.out.empty());
  EXPECT_GE(failures, 3);

  EXPECT_EQ(daemon.Stop(), 0) << daemon.Log();  // flushes the log and the database
  ASSERT_TRUE(fs::exists(root / "medperfd.log"));
  // The scan itself works: it finds the token in a file planted beside the state.
  WriteFile(dir_ / "planted" / "deep" / "x.bin", std::string("\0pre", 4) + Token(kDoEmail));
  EXPECT_NE(FilesContaining(dir_ / "planted", Token(kDoEmail)), "");
  ASSERT_FALSE(ReadFile(root / "medperfd.log").empty());
  ExpectNoLeak(root, {Token("testdo@example.com"), Token("testbo@example.com")}, outputs);
}

TEST_F(SecretsTest, RefusedTokenIsNotEchoed) {
  const std::string bogus = "bogus-token-0123456789abcdef0123456789abcdef";
  WritePrivate(dir_ / "secrets" / "bogus.token", bogus);
  const fs::path root = dir_ / "refused";
  fs::create_directories(root);
  DaemonProcess daemon(
      root, {"--server-url", url(), "--token-file", (dir_ / "secrets" / "bogus.token").string()});
  ASSERT_TRUE(daemon.Start());
  RunResult ls = daemon.Ctl({"dataset", "ls", "--mine"});
  EXPECT_NE(ls.exit_code, 0) << "the server should refuse the token: " << ls.out;
  RunResult watch = daemon.Ctl({"watch", "--json"});
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Log();
  ExpectNoLeak(root, {bogus}, ls.out + ls.err + watch.out + watch.err);
}

}  // namespace
}  // namespace medperf::testing
