// A short load test (the 60-second version with latency figures is bench/load.sh): 32
// concurrent medperfctl clients issue status, job ls, result ls, watch (no follow) and
// dataset ls --mine for 5 seconds against a daemon that is running a job for a seeded
// medperf-server. Asserts only that no call fails and the daemon keeps serving.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/server_process.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;

TEST(LoadTest, ConcurrentCtlClientsSeeNoErrors) {
  TempDir dir;
  const std::string server = BinaryPath("server/medperf-server").string();
  const std::string db = (dir / "db.sqlite").string();
  const fs::path examples = BuildDir() / "examples" / "chestxray";
  std::vector<std::string> seed = {
      server, "seed", "--db", db, "--demo", "data", "--tokens-out", (dir / "tokens.json").string()};
  if (fs::exists(examples / "data_preparator")) {
    seed.insert(seed.end(), {"--assets", examples.string()});
  }
  RunResult seeded = RunProcess(seed);
  ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
  const fs::path token = dir / "do.token";
  WriteFile(token, nlohmann::json::parse(ReadFile(dir / "tokens.json"))
                           .at("testdo@example.com")
                           .get<std::string>() +
                       "\n");
  ASSERT_EQ(::chmod(token.c_str(), 0600), 0);
  ServerProcess srv(db, dir / "server.log");
  ASSERT_TRUE(srv.Start());
  WriteFile(dir / "medperfd.yaml", "poll:\n  enabled: false\n");
  fs::create_directories(dir / "site");
  DaemonProcess daemon(dir / "site", {"--config", (dir / "medperfd.yaml").string(), "--server-url",
                                      srv.url(), "--token-file", token.string()});
  ASSERT_TRUE(daemon.Start());

  // The daemon works while it is queried: register and prepare the sample dataset.
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    const fs::path raw = examples / "sample_raw_data";
    if (!fs::exists(raw / "images")) return;
    daemon.Ctl({"dataset", "submit", "--name", "loaded", "--data_path", (raw / "images").string(),
                "--labels_path", (raw / "labels").string(), "--benchmark", "1", "-y"});
    if (!stop) daemon.Ctl({"dataset", "prepare", "--data_uid", "1"});
  });

  const std::vector<std::vector<std::string>> calls = {{"status"},
                                                       {"job", "ls", "--all"},
                                                       {"result", "ls"},
                                                       {"watch", "--json"},
                                                       {"dataset", "ls", "--mine"}};
  const int kClients = 32;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::mutex mu;
  std::map<std::string, int> errors;
  std::atomic<int> total{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (size_t n = c; std::chrono::steady_clock::now() < end; ++n) {
        const auto& args = calls[n % calls.size()];
        RunResult r = daemon.Ctl(args, "", std::chrono::seconds(30));
        ++total;
        if (r.exit_code != 0) {
          std::lock_guard<std::mutex> lock(mu);
          ++errors[args[0] + (args.size() > 1 ? " " + args[1] : "") + ": exit " +
                   std::to_string(r.exit_code) + ": " + r.err];
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  stop = true;
  busy.join();

  std::string report;
  for (const auto& [what, n] : errors) report += std::to_string(n) + "x " + what + "\n";
  EXPECT_TRUE(errors.empty()) << "failed calls out of " << total << ":\n" << report;
  EXPECT_GE(total, kClients);  // every client got at least one call in
  EXPECT_EQ(daemon.Ctl({"status"}).exit_code, 0);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Log();
}

}  // namespace
}  // namespace medperf::testing
