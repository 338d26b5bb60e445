// medperfd configuration: a YAML file, overridden by command-line flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/archive.h"
#include "runners/runner.h"

namespace medperf::daemon {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text);
std::string_view LogLevelName(LogLevel level);

enum class SubmissionPolicy { kManual, kAuto };

struct ServerConfig {
  std::string url;  // e.g. https://api.medperf.org; empty = no server configured
  std::filesystem::path token_file;
  std::string token;  // inline token (discouraged; token_file preferred)
  std::filesystem::path ca_bundle;
  bool tls_verify = true;
  std::chrono::seconds timeout{60};
};

struct PollConfig {
  std::chrono::seconds interval{60};
  double jitter = 0.1;  // fraction of the interval
  std::chrono::seconds max_backoff{900};
  bool enabled = true;
};

struct PolicyConfig {
  std::set<int64_t> benchmarks;    // followed benchmarks; empty = every associated one
  std::set<int64_t> allow_models;  // empty = all
  std::set<int64_t> deny_models;
  int max_concurrent_jobs = 1;
  // GPUs the site hands out (daemon/gpu_pool.h): "", "all", "device=0,1", or a count.
  std::string gpus;
  // Task kinds (kTaskKinds) that get the site's GPUs; a task of another kind gets GPUs
  // only when its container's run_args.gpus asks. Default: the model's inference only,
  // so data preparation and metrics run on hosts without a GPU runtime.
  std::set<std::string> gpu_tasks = {"infer"};
  SubmissionPolicy submission = SubmissionPolicy::kManual;
  std::set<int64_t> auto_submit_benchmarks;  // per-benchmark `auto` overrides
};

// The MedPerf task kinds a site limits separately (cli/medperf/entities/cube.py tasks).
inline constexpr const char* kTaskKinds[] = {"prepare", "sanity_check", "statistics", "infer",
                                             "evaluate"};

// A LocalProcess container from the server runs a host executable, so it runs only
// when the site lists it: its server id and the image hash the server holds for it
// ("sha256:<hex>" form).
struct AllowedLocalProcess {
  int64_t container = 0;
  std::string image_hash;
};

struct SandboxConfig {
  // Host user tasks run as when medperfd runs as root or holds CAP_SETUID: a name or
  // "uid:gid". Default "medperf-task" (created by the package); a root daemon on a
  // host without that user uses kFallbackTaskUid (runners/task_identity.h).
  std::string task_user;
  std::vector<AllowedLocalProcess> allow_local_process;
};

struct NotifyConfig {
  std::string command;  // run with /bin/sh -c, event JSON on stdin
  std::chrono::seconds timeout{10};
};

// Disk space in the state directory (docs/operations.md, "Disk space").
struct StorageConfig {
  // A long task (prepare, infer, evaluate, ...) starts only with this much free space
  // on the state directory's filesystem (bytes; 0 = no check).
  uint64_t min_free_bytes = uint64_t{1} << 30;
  // Size of `<state_dir>/.space-reserve`, given back when the disk fills so the state
  // database can still record what happened (bytes; 0 = no reserve).
  uint64_t reserve_bytes = uint64_t{64} << 20;
  // Retention, in days (0 = keep forever). Prepared data and results are never pruned.
  int keep_events_days = 90;
  int keep_jobs_days = 90;  // finished jobs and their logs
  int keep_tests_days = 7;  // compatibility-test outputs (state_dir/tests/)
};

struct DaemonConfig {
  std::filesystem::path state_dir;
  std::filesystem::path socket_path;
  std::string socket_group;  // group allowed to use the socket besides the owner
  LogLevel log_level = LogLevel::kInfo;
  std::string runner = "auto";  // auto, sandbox, docker, apptainer
  // runner as a mapping: {engine: <the above>, docker: {host: H, binary: B}}. The docker
  // engine in DOCKER_HOST form (passed as --host to every docker command; empty = the
  // CLI's default, DOCKER_HOST of medperfd's environment, else /var/run/docker.sock) and
  // the docker CLI (empty = "docker" on PATH).
  std::string docker_host;
  std::string docker_binary;
  ServerConfig server;
  PollConfig poll;
  PolicyConfig policy;
  NotifyConfig notify;
  std::map<std::string, TaskLimits> limits;  // every kTaskKinds entry, defaults filled in
  SandboxConfig sandbox;
  StorageConfig storage;
  // `archives:`: caps on extracting additional files and demo datasets (core/archive.h).
  ExtractLimits archives;
};

// Parses a YAML config. Unknown keys and wrong types are errors naming `source`
// and the key path, so a typo never silently falls back to a default.
absl::StatusOr<DaemonConfig> ParseConfig(const std::string& yaml_text, const std::string& source,
                                         DaemonConfig base = {});
absl::StatusOr<DaemonConfig> LoadConfigFile(const std::filesystem::path& path,
                                            DaemonConfig base = {});

// Where state, socket and config live when nothing says otherwise.
struct DefaultPaths {
  std::filesystem::path state_dir;
  std::filesystem::path socket_path;
  std::filesystem::path config_file;
};
// System mode: /var/lib/medperfd, /run/medperfd/medperfd.sock, /etc/medperfd/medperfd.yaml,
// honouring systemd's STATE_DIRECTORY / RUNTIME_DIRECTORY / CONFIGURATION_DIRECTORY.
// User mode: $XDG_STATE_HOME/medperfd, $XDG_RUNTIME_DIR/medperfd.sock,
// $XDG_CONFIG_HOME/medperfd/medperfd.yaml.
DefaultPaths SystemPaths();
DefaultPaths UserPaths();

struct CommandLine {
  DaemonConfig config;
  bool show_help = false;
  bool show_version = false;
};

// Parses medperfd's flags; reads the config file they name (or the default one,
// if it exists), then applies flag overrides. Errors are usage errors (exit 2).
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);
std::string UsageText();

}  // namespace medperf::daemon
