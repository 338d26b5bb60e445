// Over 600 lines on purpose: one small parser per config section, all sharing the
// ConfigReader helpers (typed values, key paths in errors) defined here.
#include "daemon/config.h"

#include <yaml-cpp/yaml.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/files.h"
#include "core/status_macros.h"
#include "core/yaml_json.h"
#include "daemon/gpu_pool.h"

namespace medperf::daemon {
namespace fs = std::filesystem;

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warning" || text == "warn") return LogLevel::kWarning;
  if (text == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat("invalid log level '",
                                                 absl::string_view(text.data(), text.size()),
                                                 "': expected debug, info, warning or error"));
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

namespace {

// Walks a YAML document with the file name and key path at hand for every error.
class ConfigReader {
 public:
  explicit ConfigReader(std::string source) : source_(std::move(source)) {}

  absl::Status Error(const std::string& path, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", what));
  }

  absl::Status ExpectMap(const YAML::Node& node, const std::string& path) const {
    if (!node.IsMap()) return Error(path, "expected a mapping of keys to values");
    return absl::OkStatus();
  }

  // Calls `handler(key, value, path)` for each entry; unknown keys are errors.
  absl::Status ForEach(const YAML::Node& node, const std::string& path,
                       const std::vector<std::string>& known,
                       const std::function<absl::Status(const std::string&, const YAML::Node&,
                                                        const std::string&)>& handler) const {
    RETURN_IF_ERROR(ExpectMap(node, path.empty() ? "(top level)" : path));
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return Error(path, "keys must be plain strings");
      std::string key = kv.first.Scalar();
      std::string child = path.empty() ? key : path + "." + key;
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return Error(child,
                     absl::StrCat("unknown key; expected one of: ", absl::StrJoin(known, ", ")));
      }
      RETURN_IF_ERROR(handler(key, kv.second, child));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const YAML::Node& n, const std::string& path) const {
    if (n.IsNull()) return std::string();
    if (!n.IsScalar()) return Error(path, "expected a string");
    return n.Scalar();
  }

  absl::StatusOr<int64_t> Int(const YAML::Node& n, const std::string& path, int64_t min,
                              int64_t max) const {
    int64_t v = 0;
    if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
      return Error(path, "expected an integer");
    }
    if (v < min || v > max)
      return Error(path, absl::StrCat("expected a value from ", min, " to ", max));
    return v;
  }

  absl::StatusOr<double> Fraction(const YAML::Node& n, const std::string& path) const {
    double v = 0;
    if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || v < 0 || v > 1) {
      return Error(path, "expected a number from 0 to 1");
    }
    return v;
  }

  absl::StatusOr<bool> Bool(const YAML::Node& n, const std::string& path) const {
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (s == "true" || s == "yes" || s == "on") return true;
      if (s == "false" || s == "no" || s == "off") return false;
    }
    return Error(path, "expected true or false");
  }

  absl::StatusOr<std::chrono::seconds> Seconds(const YAML::Node& n, const std::string& path,
                                               int64_t min = 0) const {
    ASSIGN_OR_RETURN(int64_t v, Int(n, path, min, int64_t{10} * 365 * 24 * 3600));
    return std::chrono::seconds(v);
  }

  // Bytes: an integer, or a number with a K/M/G/T (powers of 1024, optional "iB"/"B").
  absl::StatusOr<uint64_t> Bytes(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) return Error(path, "expected a size in bytes, e.g. 4096, 512MiB or 16GiB");
    std::string text = n.Scalar();
    uint64_t scale = 1;
    for (const char* suffix : {"iB", "B"}) {
      if (absl::EndsWith(text, suffix) && text.size() > strlen(suffix)) {
        text.resize(text.size() - strlen(suffix));
        break;
      }
    }
    if (!text.empty()) {
      switch (text.back()) {
        case 'K':
        case 'k':
          scale = uint64_t{1} << 10;
          break;
        case 'M':
          scale = uint64_t{1} << 20;
          break;
        case 'G':
          scale = uint64_t{1} << 30;
          break;
        case 'T':
          scale = uint64_t{1} << 40;
          break;
        default:
          break;
      }
      if (scale != 1) text.pop_back();
    }
    uint64_t v = 0;
    if (!absl::SimpleAtoi(text, &v) || v > (UINT64_MAX / scale)) {
      return Error(path, "expected a size in bytes, e.g. 4096, 512MiB or 16GiB");
    }
    return v * scale;
  }

  absl::StatusOr<std::set<int64_t>> IdSet(const YAML::Node& n, const std::string& path) const {
    std::set<int64_t> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) return Error(path, "expected a list of ids, e.g. [1, 2]");
    for (size_t i = 0; i < n.size(); ++i) {
      ASSIGN_OR_RETURN(int64_t id, Int(n[i], absl::StrCat(path, "[", i, "]"), 1, INT64_MAX));
      out.insert(id);
    }
    return out;
  }

 private:
  std::string source_;
};

absl::Status ParseServer(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                         ServerConfig& s) {
  return r.ForEach(
      node, path, {"url", "token_file", "token", "ca_bundle", "tls_verify", "timeout_seconds"},
      [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
        if (key == "url") {
          ASSIGN_OR_RETURN(s.url, r.String(v, p));
          if (!s.url.empty() && !absl::StartsWith(s.url, "http://") &&
              !absl::StartsWith(s.url, "https://")) {
            return r.Error(p, "expected an http:// or https:// URL");
          }
        } else if (key == "token_file") {
          ASSIGN_OR_RETURN(std::string f, r.String(v, p));
          s.token_file = f;
        } else if (key == "token") {
          ASSIGN_OR_RETURN(s.token, r.String(v, p));
        } else if (key == "ca_bundle") {
          ASSIGN_OR_RETURN(std::string f, r.String(v, p));
          s.ca_bundle = f;
        } else if (key == "tls_verify") {
          ASSIGN_OR_RETURN(s.tls_verify, r.Bool(v, p));
        } else if (key == "timeout_seconds") {
          ASSIGN_OR_RETURN(s.timeout, r.Seconds(v, p, 1));
        }
        return absl::OkStatus();
      });
}

absl::Status ParsePoll(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                       PollConfig& poll) {
  return r.ForEach(
      node, path, {"interval_seconds", "jitter", "max_backoff_seconds", "enabled"},
      [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
        if (key == "interval_seconds") {
          ASSIGN_OR_RETURN(poll.interval, r.Seconds(v, p, 1));
        } else if (key == "jitter") {
          ASSIGN_OR_RETURN(poll.jitter, r.Fraction(v, p));
        } else if (key == "max_backoff_seconds") {
          ASSIGN_OR_RETURN(poll.max_backoff, r.Seconds(v, p, 1));
        } else if (key == "enabled") {
          ASSIGN_OR_RETURN(poll.enabled, r.Bool(v, p));
        }
        return absl::OkStatus();
      });
}

absl::Status ParsePolicy(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                         PolicyConfig& policy) {
  return r.ForEach(
      node, path,
      {"benchmarks", "models", "max_concurrent_jobs", "gpus", "gpu_tasks", "time_limits",
       "submission"},
      [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
        if (key == "benchmarks") {
          ASSIGN_OR_RETURN(policy.benchmarks, r.IdSet(v, p));
        } else if (key == "models") {
          return r.ForEach(v, p, {"allow", "deny"},
                           [&](const std::string& k, const YAML::Node& list,
                               const std::string& lp) -> absl::Status {
                             ASSIGN_OR_RETURN(auto ids, r.IdSet(list, lp));
                             (k == "allow" ? policy.allow_models : policy.deny_models) = ids;
                             return absl::OkStatus();
                           });
        } else if (key == "max_concurrent_jobs") {
          ASSIGN_OR_RETURN(int64_t n, r.Int(v, p, 1, 64));
          policy.max_concurrent_jobs = static_cast<int>(n);
        } else if (key == "gpus") {
          ASSIGN_OR_RETURN(policy.gpus, r.String(v, p));
          if (auto spec = ParseGpuSpec(policy.gpus); !spec.ok()) {
            return r.Error(p, std::string(spec.status().message()));
          }
        } else if (key == "gpu_tasks") {
          policy.gpu_tasks.clear();
          if (v.IsNull()) return absl::OkStatus();
          if (!v.IsSequence()) return r.Error(p, "expected a list of task kinds, e.g. [infer]");
          for (size_t i = 0; i < v.size(); ++i) {
            std::string ip = absl::StrCat(p, "[", i, "]");
            ASSIGN_OR_RETURN(std::string kind, r.String(v[i], ip));
            if (std::find(std::begin(kTaskKinds), std::end(kTaskKinds), kind) ==
                std::end(kTaskKinds)) {
              return r.Error(ip, absl::StrCat("unknown task kind '", kind, "'; expected one of: ",
                                              absl::StrJoin(kTaskKinds, ", ")));
            }
            policy.gpu_tasks.insert(kind);
          }
        } else if (key == "time_limits") {
          return r.Error(p, "moved: set limits.<task>.time_seconds instead (docs/security.md)");
        } else if (key == "submission") {
          return r.ForEach(v, p, {"default", "auto_benchmarks"},
                           [&](const std::string& k, const YAML::Node& sv,
                               const std::string& sp) -> absl::Status {
                             if (k == "default") {
                               ASSIGN_OR_RETURN(std::string mode, r.String(sv, sp));
                               if (mode == "manual") {
                                 policy.submission = SubmissionPolicy::kManual;
                               } else if (mode == "auto") {
                                 policy.submission = SubmissionPolicy::kAuto;
                               } else {
                                 return r.Error(sp, "expected manual or auto");
                               }
                             } else {
                               ASSIGN_OR_RETURN(policy.auto_submit_benchmarks, r.IdSet(sv, sp));
                             }
                             return absl::OkStatus();
                           });
        }
        return absl::OkStatus();
      });
}

absl::Status ParseArchives(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                           ExtractLimits& a) {
  return r.ForEach(
      node, path, {"max_size", "max_entries", "max_expansion_ratio", "expansion_check_above"},
      [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
        if (key == "max_size") {
          ASSIGN_OR_RETURN(a.max_total_bytes, r.Bytes(v, p));
        } else if (key == "max_entries") {
          ASSIGN_OR_RETURN(int64_t n, r.Int(v, p, 1, INT64_MAX));
          a.max_entries = static_cast<uint64_t>(n);
        } else if (key == "max_expansion_ratio") {
          ASSIGN_OR_RETURN(int64_t n, r.Int(v, p, 0, 1'000'000));
          a.max_expansion_ratio = static_cast<uint64_t>(n);
        } else if (key == "expansion_check_above") {
          ASSIGN_OR_RETURN(a.expansion_check_above_bytes, r.Bytes(v, p));
        }
        return absl::OkStatus();
      });
}

absl::Status ParseLimits(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                         std::map<std::string, TaskLimits>& limits) {
  std::vector<std::string> kinds(std::begin(kTaskKinds), std::end(kTaskKinds));
  return r.ForEach(
      node, path, kinds,
      [&](const std::string& kind, const YAML::Node& v, const std::string& p) -> absl::Status {
        TaskLimits& l = limits[kind];
        return r.ForEach(
            v, p, {"time_seconds", "memory", "processes", "cpus", "output", "log", "tmp"},
            [&](const std::string& key, const YAML::Node& lv,
                const std::string& lp) -> absl::Status {
              if (key == "time_seconds") {
                ASSIGN_OR_RETURN(l.wall_time, r.Seconds(lv, lp));
              } else if (key == "memory") {
                ASSIGN_OR_RETURN(l.memory_bytes, r.Bytes(lv, lp));
              } else if (key == "processes") {
                ASSIGN_OR_RETURN(int64_t n, r.Int(lv, lp, 0, 4194304));
                l.max_processes = static_cast<uint64_t>(n);
              } else if (key == "cpus") {
                double c = 0;
                if (!lv.IsScalar() || !absl::SimpleAtod(lv.Scalar(), &c) || c < 0 || c > 4096) {
                  return r.Error(lp, "expected a number of CPU cores, e.g. 2 or 0.5 (0 = all)");
                }
                l.cpus = c;
              } else if (key == "output") {
                ASSIGN_OR_RETURN(l.output_bytes, r.Bytes(lv, lp));
              } else if (key == "log") {
                ASSIGN_OR_RETURN(l.log_bytes, r.Bytes(lv, lp));
              } else if (key == "tmp") {
                ASSIGN_OR_RETURN(l.tmp_bytes, r.Bytes(lv, lp));
              }
              return absl::OkStatus();
            });
      });
}

absl::Status ParseSandbox(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                          SandboxConfig& sandbox) {
  return r.ForEach(
      node, path, {"task_user", "allow_local_process"},
      [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
        if (key == "task_user") {
          ASSIGN_OR_RETURN(sandbox.task_user, r.String(v, p));
          return absl::OkStatus();
        }
        sandbox.allow_local_process.clear();
        if (v.IsNull()) return absl::OkStatus();
        if (!v.IsSequence()) {
          return r.Error(p, "expected a list of {container: <id>, image_hash: sha256:<hex>}");
        }
        for (size_t i = 0; i < v.size(); ++i) {
          AllowedLocalProcess entry;
          std::string ep = absl::StrCat(p, "[", i, "]");
          RETURN_IF_ERROR(r.ForEach(v[i], ep, {"container", "image_hash"},
                                    [&](const std::string& k, const YAML::Node& ev,
                                        const std::string& kp) -> absl::Status {
                                      if (k == "container") {
                                        ASSIGN_OR_RETURN(entry.container,
                                                         r.Int(ev, kp, 1, INT64_MAX));
                                      } else {
                                        ASSIGN_OR_RETURN(entry.image_hash, r.String(ev, kp));
                                        if (!absl::StartsWith(entry.image_hash, "sha256:") ||
                                            entry.image_hash.size() != 7 + 64) {
                                          return r.Error(kp, "expected sha256:<64 hex digits>");
                                        }
                                      }
                                      return absl::OkStatus();
                                    }));
          if (entry.container == 0 || entry.image_hash.empty()) {
            return r.Error(ep, "needs both container (server id) and image_hash");
          }
          sandbox.allow_local_process.push_back(entry);
        }
        return absl::OkStatus();
      });
}

absl::Status ParseNotify(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                         NotifyConfig& notify) {
  return r.ForEach(
      node, path, {"command", "timeout_seconds"},
      [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
        if (key == "command") {
          ASSIGN_OR_RETURN(notify.command, r.String(v, p));
        } else {
          ASSIGN_OR_RETURN(notify.timeout, r.Seconds(v, p, 1));
        }
        return absl::OkStatus();
      });
}

absl::Status ParseStorage(const ConfigReader& r, const YAML::Node& node, const std::string& path,
                          StorageConfig& storage) {
  return r.ForEach(
      node, path, {"min_free", "reserve", "keep_events_days", "keep_jobs_days", "keep_tests_days"},
      [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
        if (key == "min_free" || key == "reserve") {
          ASSIGN_OR_RETURN(uint64_t bytes, r.Bytes(v, p));
          (key == "min_free" ? storage.min_free_bytes : storage.reserve_bytes) = bytes;
          return absl::OkStatus();
        }
        ASSIGN_OR_RETURN(int64_t days, r.Int(v, p, 0, 36500));
        (key == "keep_events_days" ? storage.keep_events_days
         : key == "keep_jobs_days" ? storage.keep_jobs_days
                                   : storage.keep_tests_days) = static_cast<int>(days);
        return absl::OkStatus();
      });
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseConfig(const std::string& yaml_text, const std::string& source,
                                         DaemonConfig config) {
  for (const char* kind : kTaskKinds) {
    if (!config.limits.count(kind)) config.limits[kind] = DefaultTaskLimits(kind);
  }
  // The one YAML loader (core/yaml_json.h): bounded, and duplicate keys are errors.
  absl::StatusOr<YAML::Node> loaded = LoadYamlBounded(yaml_text, source);
  if (!loaded.ok()) {
    std::string message(loaded.status().message());
    const std::string prefix = source + ": invalid YAML: ";
    if (message.starts_with(prefix))
      message = source + ": not valid YAML: " + message.substr(prefix.size());
    return absl::InvalidArgumentError(message);
  }
  YAML::Node root = *loaded;
  if (root.IsNull()) return config;  // an empty file keeps every default
  ConfigReader r(source);
  absl::Status st;
  try {
    st = r.ForEach(
        root, "",
        {"state_dir", "socket", "socket_group", "log_level", "runner", "server", "poll", "policy",
         "notify", "limits", "sandbox", "storage", "archives"},
        [&](const std::string& key, const YAML::Node& v, const std::string& p) -> absl::Status {
          if (key == "state_dir") {
            ASSIGN_OR_RETURN(std::string s, r.String(v, p));
            config.state_dir = s;
          } else if (key == "socket") {
            ASSIGN_OR_RETURN(std::string s, r.String(v, p));
            config.socket_path = s;
          } else if (key == "socket_group") {
            ASSIGN_OR_RETURN(config.socket_group, r.String(v, p));
          } else if (key == "log_level") {
            ASSIGN_OR_RETURN(std::string s, r.String(v, p));
            auto level = ParseLogLevel(s);
            if (!level.ok()) return r.Error(p, std::string(level.status().message()));
            config.log_level = *level;
          } else if (key == "runner") {
            auto engine = [&](const YAML::Node& e, const std::string& ep) -> absl::Status {
              ASSIGN_OR_RETURN(config.runner, r.String(e, ep));
              if (config.runner != "auto" && config.runner != "sandbox" &&
                  config.runner != "docker" && config.runner != "apptainer") {
                return r.Error(ep, "expected auto, sandbox, docker or apptainer");
              }
              return absl::OkStatus();
            };
            if (!v.IsMap()) return engine(v, p);
            return r.ForEach(
                v, p, {"engine", "docker"},
                [&](const std::string& k, const YAML::Node& rv,
                    const std::string& rp) -> absl::Status {
                  if (k == "engine") return engine(rv, rp);
                  return r.ForEach(
                      rv, rp, {"host", "binary"},
                      [&](const std::string& dk, const YAML::Node& dv,
                          const std::string& dp) -> absl::Status {
                        ASSIGN_OR_RETURN(std::string s, r.String(dv, dp));
                        // The docker CLI reads a bare path as a TCP host
                        // name and fails much later, at the first task.
                        if (dk == "host" && !s.empty() && s.find("://") == std::string::npos) {
                          return absl::InvalidArgumentError(
                              absl::StrCat(dp, ": '", s,
                                           "' is not a docker host address; expected e.g. "
                                           "unix:///run/docker.sock, tcp://host:2376 or "
                                           "ssh://user@host"));
                        }
                        (dk == "host" ? config.docker_host : config.docker_binary) = s;
                        return absl::OkStatus();
                      });
                });
          } else if (key == "server") {
            return ParseServer(r, v, p, config.server);
          } else if (key == "poll") {
            return ParsePoll(r, v, p, config.poll);
          } else if (key == "policy") {
            return ParsePolicy(r, v, p, config.policy);
          } else if (key == "notify") {
            return ParseNotify(r, v, p, config.notify);
          } else if (key == "limits") {
            return ParseLimits(r, v, p, config.limits);
          } else if (key == "sandbox") {
            return ParseSandbox(r, v, p, config.sandbox);
          } else if (key == "storage") {
            return ParseStorage(r, v, p, config.storage);
          } else if (key == "archives") {
            return ParseArchives(r, v, p, config.archives);
          }
          return absl::OkStatus();
        });
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  if (!st.ok()) return st;
  for (const auto& path : {config.state_dir, config.socket_path}) {
    if (!path.empty() && path.is_relative()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": paths must be absolute, got '", path.string(), "'"));
    }
  }
  return config;
}

absl::StatusOr<DaemonConfig> LoadConfigFile(const fs::path& path, DaemonConfig base) {
  ASSIGN_OR_RETURN(std::string text,
                   ReadSmallFile(path, 1 << 20, absl::StrCat("config file ", path.string())));
  return ParseConfig(text, path.string(), std::move(base));
}

namespace {

fs::path EnvPath(const char* name) {
  const char* v = std::getenv(name);
  // systemd may list several directories separated by ':'; the first is ours.
  if (!v || !*v) return {};
  std::string s(v);
  return fs::path(s.substr(0, s.find(':')));
}

}  // namespace

DefaultPaths SystemPaths() {
  DefaultPaths p{"/var/lib/medperfd", "/run/medperfd/medperfd.sock", "/etc/medperfd/medperfd.yaml"};
  if (auto d = EnvPath("STATE_DIRECTORY"); !d.empty()) p.state_dir = d;
  if (auto d = EnvPath("RUNTIME_DIRECTORY"); !d.empty()) p.socket_path = d / "medperfd.sock";
  if (auto d = EnvPath("CONFIGURATION_DIRECTORY"); !d.empty()) p.config_file = d / "medperfd.yaml";
  return p;
}

DefaultPaths UserPaths() {
  fs::path home = EnvPath("HOME");
  if (home.empty()) home = "/tmp";
  fs::path state = EnvPath("XDG_STATE_HOME");
  if (state.empty()) state = home / ".local/state";
  fs::path runtime = EnvPath("XDG_RUNTIME_DIR");
  if (runtime.empty()) runtime = state / "medperfd";
  fs::path config = EnvPath("XDG_CONFIG_HOME");
  if (config.empty()) config = home / ".config";
  return {state / "medperfd", runtime / "medperfd.sock", config / "medperfd/medperfd.yaml"};
}

std::string UsageText() {
  return R"(usage: medperfd [flags]

Runs the MedPerf site daemon: keeps the local state, polls the MedPerf server,
runs benchmark containers and serves medperfctl on a Unix socket.

flags:
  --config=PATH        YAML config (default: /etc/medperfd/medperfd.yaml in system
                       mode, $XDG_CONFIG_HOME/medperfd/medperfd.yaml with --user;
                       read only if it exists)
  --user               user mode: state, socket and config under the XDG directories
  --state-dir=PATH     state directory (database, datasets, results, caches)
  --socket=PATH        control socket for medperfctl
  --server-url=URL     MedPerf server, e.g. https://api.medperf.org
  --token-file=PATH    file holding the MedPerf API token (mode 0600)
  --log-level=LEVEL    debug, info, warning or error
  --runner=NAME        auto, sandbox, docker or apptainer
  --poll-interval=SEC  seconds between polls of the server
  --version            print the version and exit
  --help               print this help and exit
)";
}

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine cl;
  std::map<std::string, std::string> values;
  bool user_mode = false;
  // CLI11, as medperfctl and medperf-server: one way to spell flags (`--x v`, `--x=v`)
  // and one family of usage errors. Its own --help is off: medperfd prints its usage.
  CLI::App app("medperfd");
  app.set_help_flag();
  app.add_flag("-h,--help", cl.show_help);
  app.add_flag("--version", cl.show_version);
  app.add_flag("--user", user_mode);
  std::map<std::string, CLI::Option*> options;
  for (const char* name : {"config", "state-dir", "socket", "server-url", "token-file", "log-level",
                           "poll-interval", "runner"}) {
    options[name] = app.add_option(absl::StrCat("--", name), values[name])
                        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  try {
    // CLI11 consumes its arguments from the back.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (cl.show_help || cl.show_version) return cl;
    return absl::InvalidArgumentError(e.what());
  }
  if (cl.show_help || cl.show_version) return cl;
  for (auto it = values.begin(); it != values.end();) {
    it = options[it->first]->count() > 0 ? std::next(it) : values.erase(it);
  }

  DefaultPaths defaults = user_mode ? UserPaths() : SystemPaths();
  DaemonConfig config;
  config.state_dir = defaults.state_dir;
  config.socket_path = defaults.socket_path;
  if (values.count("config")) {
    ASSIGN_OR_RETURN(config, LoadConfigFile(values["config"], config));
  } else if (fs::exists(defaults.config_file)) {
    ASSIGN_OR_RETURN(config, LoadConfigFile(defaults.config_file, config));
  }
  auto path_flag = [&](const char* name, fs::path& out) -> absl::Status {
    if (!values.count(name)) return absl::OkStatus();
    fs::path p = values[name];
    if (p.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " is empty"));
    out = fs::absolute(p);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(path_flag("state-dir", config.state_dir));
  RETURN_IF_ERROR(path_flag("socket", config.socket_path));
  RETURN_IF_ERROR(path_flag("token-file", config.server.token_file));
  if (values.count("server-url")) {
    const std::string& url = values["server-url"];
    if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--server-url '", url, "': expected an http:// or https:// URL"));
    }
    config.server.url = url;
  }
  if (values.count("log-level")) {
    ASSIGN_OR_RETURN(config.log_level, ParseLogLevel(values["log-level"]));
  }
  if (values.count("runner")) {
    // Reuse the config parser's validation of runner names.
    ASSIGN_OR_RETURN(DaemonConfig r,
                     ParseConfig("runner: " + values["runner"], "--runner", config));
    config.runner = r.runner;
  }
  if (values.count("poll-interval")) {
    int64_t secs = 0;
    if (!absl::SimpleAtoi(values["poll-interval"], &secs) || secs < 1) {
      return absl::InvalidArgumentError(absl::StrCat("--poll-interval '", values["poll-interval"],
                                                     "': expected a positive number of seconds"));
    }
    config.poll.interval = std::chrono::seconds(secs);
  }
  cl.config = std::move(config);
  return cl;
}

}  // namespace medperf::daemon
