// The notify hook: JSON on stdin, timeouts that kill the whole process group, failures
// that are only logged, and a Publish that never waits for the hook.
#include "daemon/notifier.h"

#include <signal.h>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace medperf::daemon {
namespace {

using medperf::testing::ReadFile;
using medperf::testing::TempDir;
using medperf::testing::WaitFor;
using std::chrono::milliseconds;

std::string Quote(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(RunHookTest, PassesInputOnStdinAndReportsSuccess) {
  TempDir dir;
  HookRun run =
      RunHook("cat > " + Quote(dir / "got") + "; echo done", "{\"a\":1}\n", milliseconds(5000));
  EXPECT_TRUE(run.ok()) << run.Describe() << run.output;
  EXPECT_EQ(ReadFile(dir / "got"), "{\"a\":1}\n");
  EXPECT_EQ(run.output, "done\n");
}

TEST(RunHookTest, FailureIsReportedWithItsOutput) {
  HookRun run = RunHook("echo boom >&2; exit 3", "{}", milliseconds(5000));
  EXPECT_TRUE(run.started);
  EXPECT_FALSE(run.ok());
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.output, "boom\n");
  EXPECT_EQ(run.Describe(), "exited with code 3");
}

TEST(RunHookTest, HangingHookAndItsChildrenAreKilledAtTheTimeout) {
  TempDir dir;
  auto start = std::chrono::steady_clock::now();
  // The hook starts a grandchild that would outlive it; the group kill must get both.
  HookRun run = RunHook("sleep 30 & echo $! > " + Quote(dir / "child") + "; sleep 30", "{}",
                        milliseconds(300));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(run.timed_out);
  EXPECT_FALSE(run.ok());
  EXPECT_LT(took, std::chrono::seconds(5));
  pid_t child = std::stoi(ReadFile(dir / "child"));
  EXPECT_TRUE(WaitFor([&] { return kill(child, 0) != 0; }, std::chrono::seconds(5)))
      << "the hook's background child survived the timeout";
}

TEST(RunHookTest, HookThatIgnoresItsInputStillRuns) {
  std::string big(1 << 20, 'x');  // far more than a pipe buffer
  HookRun run = RunHook("exit 0", big, milliseconds(5000));
  EXPECT_TRUE(run.ok()) << run.Describe();
}

TEST(RunHookTest, HookGetsDefaultSignalsEvenIfTheDaemonBlocksThem) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  HookRun run = RunHook("kill -TERM $$; sleep 5", "", milliseconds(4000));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(run.signal, SIGTERM);
}

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::Store::Open(dir_ / "state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    bus_ = std::make_unique<EventBus>(*store_);
  }
  TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<EventBus> bus_;
};

TEST_F(NotifierTest, EveryEventReachesTheHookInOrderAsJson) {
  NotifyConfig config;
  config.command = "cat >> " + Quote(dir_ / "events.jsonl");
  Notifier notifier(config);
  notifier.Attach(*bus_);
  ASSERT_TRUE(bus_->Publish("job.started", "job 1 started", {{"job", 1}}).ok());
  ASSERT_TRUE(bus_->Publish("job.finished", "job 1 finished", {{"job", 1}}).ok());
  ASSERT_TRUE(WaitFor([&] {
    std::string t = ReadFile(dir_ / "events.jsonl");
    return std::count(t.begin(), t.end(), '\n') == 2;
  }));
  std::string text = ReadFile(dir_ / "events.jsonl");
  auto nl = text.find('\n');
  nlohmann::json first = nlohmann::json::parse(text.substr(0, nl));
  nlohmann::json second = nlohmann::json::parse(text.substr(nl + 1));
  EXPECT_EQ(first["kind"], "job.started");
  EXPECT_EQ(first["fields"]["job"], 1);
  EXPECT_EQ(first["message"], "job 1 started");
  EXPECT_TRUE(first["time"].is_string());
  EXPECT_EQ(second["kind"], "job.finished");
  EXPECT_LT(first["id"].get<int64_t>(), second["id"].get<int64_t>());
}

TEST_F(NotifierTest, HangingHookNeverBlocksPublish) {
  NotifyConfig config;
  config.command = "sleep 30";
  config.timeout = std::chrono::seconds(30);
  Notifier notifier(config);
  notifier.Attach(*bus_);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(bus_->Publish("x.y", "event").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // Shutdown is bounded by its budget, not by the hook's timeout.
  start = std::chrono::steady_clock::now();
  notifier.Shutdown(milliseconds(200));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(NotifierTest, FailingHookKeepsReceivingLaterEvents) {
  NotifyConfig config;
  config.command = "cat >> " + Quote(dir_ / "seen") + "; exit 1";
  Notifier notifier(config);
  notifier.Attach(*bus_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus_->Publish("a.b", "event").ok());
  EXPECT_TRUE(WaitFor([&] {
    std::string t = ReadFile(dir_ / "seen");
    return std::count(t.begin(), t.end(), '\n') == 3;
  }));
}

TEST_F(NotifierTest, NoCommandMeansNoThreadAndNoWork) {
  Notifier notifier(NotifyConfig{});
  notifier.Attach(*bus_);
  EXPECT_TRUE(bus_->Publish("a.b", "event").ok());
  notifier.Shutdown();
}

}  // namespace
}  // namespace medperf::daemon
