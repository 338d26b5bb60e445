#include "daemon/config.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/support/test_support.h"

namespace medperf::daemon {
namespace {

using ::medperf::testing::TempDir;
using ::medperf::testing::WriteFile;

TEST(ConfigTest, RunnerAsAMappingNamesTheDockerEngine) {
  auto c = ParseConfig(
      "runner:\n  engine: docker\n  docker:\n    host: unix:///srv/docker.sock\n"
      "    binary: /opt/docker/bin/docker\n",
      "medperfd.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->runner, "docker");
  EXPECT_EQ(c->docker_host, "unix:///srv/docker.sock");
  EXPECT_EQ(c->docker_binary, "/opt/docker/bin/docker");
}

// A bare socket path would be read by the docker CLI as a TCP host name: refused at
// start, naming the key and the expected forms.
TEST(ConfigTest, DockerHostWithoutAScheme) {
  auto c = ParseConfig("runner:\n  docker:\n    host: /run/docker.sock\n", "medperfd.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("runner.docker.host"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("unix:///run/docker.sock"), std::string::npos) << c.status();
}

TEST(ConfigTest, GpuTasksDefaultToInferAndTakeKnownKinds) {
  auto d = ParseConfig("", "medperfd.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->policy.gpu_tasks, (std::set<std::string>{"infer"}));
  auto c =
      ParseConfig("policy:\n  gpus: device=0,1\n  gpu_tasks: [infer, evaluate]\n", "medperfd.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->policy.gpus, "device=0,1");
  EXPECT_EQ(c->policy.gpu_tasks, (std::set<std::string>{"infer", "evaluate"}));
  auto none = ParseConfig("policy: {gpu_tasks: []}\n", "medperfd.yaml");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->policy.gpu_tasks.empty());
}

TEST(ConfigTest, UnknownGpuTaskKindAndBadGpusAreNamed) {
  auto c = ParseConfig("policy:\n  gpu_tasks: [infer, training]\n", "medperfd.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("policy.gpu_tasks[1]: unknown task kind 'training'"),
            std::string::npos)
      << c.status();
  EXPECT_NE(c.status().message().find("prepare, sanity_check, statistics, infer, evaluate"),
            std::string::npos)
      << c.status();
  auto g = ParseConfig("policy:\n  gpus: device=0,,1\n", "medperfd.yaml");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("medperfd.yaml: policy.gpus: gpus 'device=0,,1'"),
            std::string::npos)
      << g.status();
}

TEST(ConfigTest, EmptyDocumentKeepsDefaults) {
  auto c = ParseConfig("", "medperfd.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->poll.interval, std::chrono::seconds(60));
  EXPECT_EQ(c->policy.max_concurrent_jobs, 1);
  EXPECT_EQ(c->policy.submission, SubmissionPolicy::kManual);
  EXPECT_EQ(c->runner, "auto");
  EXPECT_EQ(c->storage.min_free_bytes, uint64_t{1} << 30);
  EXPECT_EQ(c->storage.reserve_bytes, uint64_t{64} << 20);
}

TEST(ConfigTest, StorageSizesAreRead) {
  auto c = ParseConfig("storage:\n  min_free: 10GiB\n  reserve: 0\n", "medperfd.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->storage.min_free_bytes, uint64_t{10} << 30);
  EXPECT_EQ(c->storage.reserve_bytes, 0u);
}

// Issue 13 (12): the caps against decompression bombs are site configuration.
TEST(ConfigTest, ArchiveLimitsHaveDefaultsAndAreConfigurable) {
  auto defaults = ParseConfig("", "medperfd.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->archives.max_total_bytes, uint64_t{64} << 30);
  EXPECT_EQ(defaults->archives.max_expansion_ratio, 200u);
  EXPECT_EQ(defaults->archives.expansion_check_above_bytes, uint64_t{256} << 20);
  auto c = ParseConfig(
      "archives:\n  max_size: 2GiB\n  max_entries: 5000\n  max_expansion_ratio: 50\n"
      "  expansion_check_above: 16MiB\n",
      "medperfd.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->archives.max_total_bytes, uint64_t{2} << 30);
  EXPECT_EQ(c->archives.max_entries, 5000u);
  EXPECT_EQ(c->archives.max_expansion_ratio, 50u);
  EXPECT_EQ(c->archives.expansion_check_above_bytes, uint64_t{16} << 20);
  auto bad = ParseConfig("archives: {max_expansion_ratio: lots}\n", "medperfd.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("archives.max_expansion_ratio: expected an integer"),
            std::string_view::npos)
      << bad.status();
}

TEST(ConfigTest, FullConfigIsRead) {
  auto c = ParseConfig(R"(
state_dir: /var/lib/medperfd
socket: /run/medperfd/medperfd.sock
socket_group: medperf
log_level: debug
runner: sandbox
server:
  url: https://api.medperf.org
  token_file: /etc/medperfd/token
  ca_bundle: /etc/ssl/certs/ca.pem
  tls_verify: true
  timeout_seconds: 30
poll:
  interval_seconds: 5
  jitter: 0.2
  max_backoff_seconds: 120
policy:
  benchmarks: [1, 3]
  models: {allow: [4, 5], deny: [6]}
  max_concurrent_jobs: 2
  gpus: all
  submission: {default: manual, auto_benchmarks: [3]}
notify:
  command: /usr/local/bin/page-oncall
  timeout_seconds: 5
limits:
  infer: {time_seconds: 3600, memory: 16GiB, processes: 512, cpus: 1.5, output: 10GiB, log: 1MiB,
          tmp: 512MiB}
  evaluate: {time_seconds: 600}
sandbox:
  task_user: "1234:1234"
  allow_local_process:
    - {container: 7, image_hash: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
)",
                       "medperfd.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state_dir, "/var/lib/medperfd");
  EXPECT_EQ(c->socket_group, "medperf");
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
  EXPECT_EQ(c->server.url, "https://api.medperf.org");
  EXPECT_EQ(c->server.timeout, std::chrono::seconds(30));
  EXPECT_EQ(c->poll.interval, std::chrono::seconds(5));
  EXPECT_DOUBLE_EQ(c->poll.jitter, 0.2);
  EXPECT_EQ(c->policy.benchmarks, (std::set<int64_t>{1, 3}));
  EXPECT_EQ(c->policy.allow_models, (std::set<int64_t>{4, 5}));
  EXPECT_EQ(c->policy.deny_models, (std::set<int64_t>{6}));
  const TaskLimits& infer = c->limits.at("infer");
  EXPECT_EQ(infer.wall_time, std::chrono::seconds(3600));
  EXPECT_EQ(infer.memory_bytes, uint64_t{16} << 30);
  EXPECT_EQ(infer.max_processes, 512u);
  EXPECT_DOUBLE_EQ(infer.cpus, 1.5);
  EXPECT_EQ(infer.output_bytes, uint64_t{10} << 30);
  EXPECT_EQ(infer.log_bytes, uint64_t{1} << 20);
  EXPECT_EQ(infer.tmp_bytes, uint64_t{512} << 20);
  // A key left out keeps its default; a kind left out gets every default.
  EXPECT_EQ(c->limits.at("evaluate").wall_time, std::chrono::seconds(600));
  EXPECT_EQ(c->limits.at("evaluate").memory_bytes, DefaultTaskLimits("evaluate").memory_bytes);
  EXPECT_EQ(c->limits.at("prepare").wall_time, DefaultTaskLimits("prepare").wall_time);
  EXPECT_EQ(c->sandbox.task_user, "1234:1234");
  ASSERT_EQ(c->sandbox.allow_local_process.size(), 1u);
  EXPECT_EQ(c->sandbox.allow_local_process[0].container, 7);
  EXPECT_EQ(c->policy.auto_submit_benchmarks, (std::set<int64_t>{3}));
  EXPECT_EQ(c->notify.command, "/usr/local/bin/page-oncall");
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expected;  // substring of the error
};

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, ErrorNamesFileAndKey) {
  auto c = ParseConfig(GetParam().yaml, "/etc/medperfd/medperfd.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  std::string msg(c.status().message());
  EXPECT_NE(msg.find("/etc/medperfd/medperfd.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().expected), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, BadConfigTest,
    ::testing::Values(
        BadCase{"not_yaml", "server: [unclosed", "not valid YAML"},
        BadCase{"duplicate_key", "poll:\n  enabled: true\npoll:\n  enabled: false\n",
                "duplicate key \"poll\" at line 3 (first at line 1)"},
        BadCase{"top_level_list", "- a\n- b\n", "expected a mapping"},
        BadCase{"top_level_scalar", "hello", "expected a mapping"},
        BadCase{"unknown_key", "state_dri: /x\n", "state_dri: unknown key"},
        BadCase{"unknown_nested_key", "poll: {interval: 5}\n", "poll.interval: unknown key"},
        BadCase{"interval_not_int", "poll: {interval_seconds: soon}\n",
                "poll.interval_seconds: expected an integer"},
        BadCase{"interval_zero", "poll: {interval_seconds: 0}\n", "expected a value from 1"},
        BadCase{"jitter_range", "poll: {jitter: 3}\n",
                "poll.jitter: expected a number from 0 to 1"},
        BadCase{"bad_url", "server: {url: ftp://x}\n", "server.url: expected an http"},
        BadCase{"bad_log_level", "log_level: loud\n", "log_level: invalid log level"},
        BadCase{"bad_runner", "runner: podman\n", "runner: expected auto"},
        BadCase{"bad_runner_engine", "runner: {engine: podman}\n", "runner.engine: expected auto"},
        BadCase{"bad_docker_key", "runner: {docker: {socket: /x}}\n", "runner.docker.socket"},
        BadCase{"bad_bool", "server: {tls_verify: maybe}\n", "expected true or false"},
        BadCase{"ids_not_list", "policy: {benchmarks: 1}\n", "policy.benchmarks: expected a list"},
        BadCase{"negative_id", "policy: {benchmarks: [-1]}\n", "policy.benchmarks[0]"},
        BadCase{"bad_task_limit", "limits: {train: {time_seconds: 5}}\n",
                "limits.train: unknown key"},
        BadCase{"old_time_limits", "policy: {time_limits: {infer: 5}}\n",
                "moved: set limits.<task>.time_seconds"},
        BadCase{"bad_size", "limits: {infer: {memory: lots}}\n",
                "limits.infer.memory: expected a size in bytes"},
        BadCase{"bad_cpus", "limits: {infer: {cpus: -1}}\n", "limits.infer.cpus: expected"},
        BadCase{"unknown_limit", "limits: {infer: {gpu_memory: 1}}\n",
                "limits.infer.gpu_memory: unknown key"},
        BadCase{"allow_without_hash", "sandbox: {allow_local_process: [{container: 3}]}\n",
                "needs both container"},
        BadCase{"allow_bad_hash",
                "sandbox: {allow_local_process: [{container: 3, image_hash: abc}]}\n",
                "expected sha256:<64 hex digits>"},
        BadCase{"bad_submission", "policy: {submission: {default: sometimes}}\n",
                "expected manual or auto"},
        BadCase{"too_many_jobs", "policy: {max_concurrent_jobs: 1000}\n", "from 1 to 64"},
        BadCase{"relative_state_dir", "state_dir: var/lib\n", "paths must be absolute"},
        BadCase{"mapping_as_string", "socket: {a: b}\n", "socket: expected a string"},
        BadCase{"bad_storage_size", "storage: {min_free: plenty}\n",
                "storage.min_free: expected a size in bytes"},
        BadCase{"unknown_storage_key", "storage: {reserve_bytes: 1}\n",
                "storage.reserve_bytes: unknown key"},
        BadCase{"non_scalar_key", "? [a, b]\n: c\n", "keys must be plain strings"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigTest, FileErrors) {
  TempDir dir;
  auto missing = LoadConfigFile(dir / "nope.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.yaml"), std::string::npos);
  WriteFile(dir / "big.yaml", std::string(2 << 20, '#'));
  EXPECT_FALSE(LoadConfigFile(dir / "big.yaml").ok());
  WriteFile(dir / "deep.yaml", std::string(5000, '[') + std::string(5000, ']'));
  auto deep = LoadConfigFile(dir / "deep.yaml");  // must not crash
  EXPECT_FALSE(deep.ok());
}

TEST(CommandLineTest, FlagsOverrideConfigFile) {
  TempDir dir;
  WriteFile(dir / "c.yaml", "state_dir: /from/config\nlog_level: error\nserver: {url: http://a}\n");
  auto cl = ParseCommandLine({"--config", (dir / "c.yaml").string(), "--state-dir=/from/flag",
                              "--server-url", "http://b:8000", "--poll-interval=7"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.state_dir, "/from/flag");
  EXPECT_EQ(cl->config.log_level, LogLevel::kError);
  EXPECT_EQ(cl->config.server.url, "http://b:8000");
  EXPECT_EQ(cl->config.poll.interval, std::chrono::seconds(7));
}

TEST(CommandLineTest, UsageErrors) {
  EXPECT_FALSE(ParseCommandLine({"--bogus"}).ok());
  EXPECT_FALSE(ParseCommandLine({"stray"}).ok());
  EXPECT_FALSE(ParseCommandLine({"--socket"}).ok());
  EXPECT_FALSE(ParseCommandLine({"--server-url=ftp://x"}).ok());
  EXPECT_FALSE(ParseCommandLine({"--log-level=loud"}).ok());
  EXPECT_FALSE(ParseCommandLine({"--poll-interval=-3"}).ok());
  EXPECT_FALSE(ParseCommandLine({"--runner=podman"}).ok());
  EXPECT_FALSE(ParseCommandLine({"--config=/nonexistent/medperfd.yaml"}).ok());
  EXPECT_TRUE(ParseCommandLine({"--help"})->show_help);
}

TEST(CommandLineTest, UserModeUsesXdgDirectories) {
  setenv("XDG_STATE_HOME", "/tmp/xdg-state", 1);
  setenv("XDG_RUNTIME_DIR", "/tmp/xdg-run", 1);
  setenv("XDG_CONFIG_HOME", "/tmp/xdg-config-absent", 1);
  auto cl = ParseCommandLine({"--user"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.state_dir, "/tmp/xdg-state/medperfd");
  EXPECT_EQ(cl->config.socket_path, "/tmp/xdg-run/medperfd.sock");
}

}  // namespace
}  // namespace medperf::daemon
