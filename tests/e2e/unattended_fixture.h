// A whole unattended site for end-to-end tests: the real medperf-server seeded with the
// chest X-ray demo, the real medperfd polling it every second, and helpers to play the
// other MedPerf users (a model owner registering a model, the benchmark owner approving).
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/hashing.h"
#include "core/rest_client.h"
#include "core/yaml_json.h"
#include "tests/e2e/allow_list.h"
#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/server_process.h"
#include "tests/support/test_support.h"

namespace medperf::testing {

inline constexpr char kUaBo[] = "testbo@example.com";
inline constexpr char kUaMo[] = "testmo@example.com";
inline constexpr char kUaDo[] = "testdo@example.com";
// How many models a test may add with AddModel: their ids are allow-listed in advance.
inline constexpr int64_t kMaxAddedModels = 32;

// proto3 JSON prints int64 as a string; accept both.
inline int64_t AsInt(const nlohmann::json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_string()) return std::stoll(j.get<std::string>());
  return 0;
}

class UnattendedSite {
 public:
  explicit UnattendedSite(const std::filesystem::path& root) : root_(root) {}
  ~UnattendedSite() {
    daemon_.reset();
    server_.reset();
  }

  std::filesystem::path assets() const { return BuildDir() / "examples" / "chestxray"; }
  std::string url() const { return server_->url(); }
  const std::filesystem::path& root() const { return root_; }
  DaemonProcess& daemon() { return *daemon_; }
  std::filesystem::path hook_file() const { return root_ / "hook-events.jsonl"; }

  ::testing::AssertionResult SeedAndServe() {
    db_ = root_ / "server.db";
    RunResult seed =
        Run({BinaryPath("server/medperf-server").string(), "seed", "--db", db_.string(), "--demo",
             "data", "--tokens-out", (root_ / "tokens.json").string(), "--assets",
             assets().string(), "--allow-list-out", (root_ / "seed-allow-list.yaml").string()});
    if (seed.exit_code != 0) return ::testing::AssertionFailure() << "seed failed: " << seed.err;
    seeded_ = ReadAllowList(root_ / "seed-allow-list.yaml");
    if (seeded_.empty()) return ::testing::AssertionFailure() << "seed wrote no allow-list";
    tokens_ = nlohmann::json::parse(ReadFile(root_ / "tokens.json"));
    WriteToken(root_ / "do.token", tokens_[kUaDo]);
    WriteToken(root_ / "bo.token", tokens_[kUaBo]);
    server_ = std::make_unique<ServerProcess>(db_, root_ / "server.log");
    return StartServer();
  }

  // `extra_args` go to `medperf-server serve`, e.g. {"--faults", "rate=0.3,kinds=500"}.
  // A restart keeps the port, so the daemon reaches the server again at url().
  ::testing::AssertionResult StartServer(const std::vector<std::string>& extra_args = {}) {
    return server_->Start(extra_args);
  }

  void StopServer() { server_->Stop(SIGKILL); }

  // The server URL the daemon is given from the next StartDaemon() on, e.g. a proxy's
  // in front of url(); empty: url().
  void set_daemon_server_url(std::string url) { daemon_server_url_ = std::move(url); }

  // The site's allow-list: the seeded containers, and the ids the next kMaxAddedModels
  // containers will get with the one executable every AddModel model runs. An unattended
  // site cannot be restarted for each new model, so its admin allow-lists them up front.
  std::vector<AllowedContainer> AllowList() const {
    std::vector<AllowedContainer> out = seeded_;
    int64_t first = 1;
    for (const AllowedContainer& e : seeded_) first = std::max(first, e.id + 1);
    std::string hash = LocalProcessHash(ModelExecutable());
    for (int64_t id = first; id < first + kMaxAddedModels; ++id) {
      out.push_back({id, hash, "a model of AddModel"});
    }
    return out;
  }

  // Writes medperfd.yaml (poll every second, the hook appending to hook_file(), the
  // allow-list) plus `extra_yaml` top-level sections, and starts the daemon.
  ::testing::AssertionResult StartDaemon(const std::string& policy_yaml = "",
                                         const std::string& notify_command = "") {
    std::string hook = notify_command.empty() ? "cat >> '" + hook_file().string() + "'; echo >> '" +
                                                    hook_file().string() + "'"
                                              : notify_command;
    std::string yaml =
        "runner: sandbox\n"
        "server:\n  url: " +
        (daemon_server_url_.empty() ? url() : daemon_server_url_) +
        "\n  token_file: " + (root_ / "do.token").string() +
        "\n  timeout_seconds: 5\n"
        "poll:\n  interval_seconds: 1\n  jitter: 0.1\n  max_backoff_seconds: 2\n"
        "notify:\n  command: \"" +
        hook + "\"\n  timeout_seconds: 2\n" + AllowListYaml(AllowList()) + policy_yaml;
    WriteFile(root_ / "medperfd.yaml", yaml);
    if (!daemon_) {
      daemon_ = std::make_unique<DaemonProcess>(
          root_, std::vector<std::string>{"--config", (root_ / "medperfd.yaml").string()});
    }
    return daemon_->Start();
  }

  // The data owner's tutorial steps up to an approved association with benchmark 1
  // (which also runs the reference model once, as MedPerf's compatibility test).
  ::testing::AssertionResult OnboardDataset() {
    std::string raw = (assets() / "sample_raw_data").string();
    std::vector<std::vector<std::string>> steps = {
        {"dataset", "submit", "--name", "hospital-a", "--data_path", raw + "/images",
         "--labels_path", raw + "/labels", "--benchmark", "1", "-y"},
        {"dataset", "prepare", "--data_uid", "1"},
        {"dataset", "set_operational", "--data_uid", "1", "-y"},
        {"dataset", "associate", "--benchmark_uid", "1", "--data_uid", "1", "-y"},
    };
    for (const auto& step : steps) {
      RunResult r = daemon_->Ctl(step);
      if (r.exit_code != 0) {
        return ::testing::AssertionFailure()
               << step[0] << " " << step[1] << ": " << r.out << r.err << "\n"
               << daemon_->Log();
      }
    }
    absl::Status st = As(kUaBo).SetDatasetAssociationApproval(DatasetId(1), BenchmarkId(1),
                                                              ApprovalStatus::kApproved);
    if (!st.ok()) return ::testing::AssertionFailure() << "approve dataset association: " << st;
    return ::testing::AssertionSuccess();
  }

  RestClient As(const std::string& email) const {
    RestClientOptions o;
    o.server_url = url();
    o.token = tokens_.at(email).get<std::string>();
    o.max_attempts = 1;
    o.timeout = std::chrono::seconds(10);
    return std::move(*RestClient::Create(o));
  }

  // The one executable of every AddModel model: the example faulty model, whose `slow` mode
  // sleeps, writes valid (uniform) predictions and sleeps again. One file, so that the
  // sandbox, which shows a LocalProcess task its executable alone, can run it.
  std::filesystem::path ModelExecutable() const {
    return ExecutableOf(assets() / "model_faulty" / "network");
  }

  // Registers (as the model owner) a model run by ModelExecutable(), which sleeps
  // `sleep_before` seconds before writing its predictions and `sleep_after` seconds after
  // (so a test can kill the daemon mid-infer), associates it with benchmark 1 and, unless
  // `approve` is false, approves it as the benchmark owner. Its id must be one AllowList()
  // allow-lists. `container_fields` replace fields of the registered container (e.g.
  // additional_files_tarball_url). Returns the model id.
  absl::StatusOr<int64_t> AddModel(const std::string& name, int sleep_before = 0,
                                   int sleep_after = 0, bool approve = true,
                                   const nlohmann::json& container_fields = {}) {
    std::filesystem::path src = assets() / "model_faulty" / "network";
    absl::StatusOr<nlohmann::json> config =
        YamlToJson(ReadFile(src / "container_config.yaml"), "container_config.yaml");
    if (!config.ok()) return config.status();
    // The name makes each container unique, as the server requires.
    nlohmann::json params = {{"mode", "slow"},
                             {"sleep_before_seconds", sleep_before},
                             {"sleep_after_seconds", sleep_after},
                             {"model", name}};
    std::string image = ModelExecutable().string();
    (*config)["image"] = image;
    absl::StatusOr<std::string> image_hash = Sha256File(image);
    if (!image_hash.ok()) return image_hash.status();
    nlohmann::json container = {{"name", name},
                                {"container_config", *config},
                                {"parameters_config", params},
                                {"image_hash", "sha256:" + *image_hash},
                                {"state", "OPERATION"},
                                {"additional_files_tarball_url", ""},
                                {"additional_files_tarball_hash", ""}};
    if (container_fields.is_object()) container.update(container_fields);
    nlohmann::json model = {
        {"name", name}, {"type", "CONTAINER"}, {"state", "OPERATION"}, {"container", container}};
    RestClient mo = As(kUaMo);
    absl::StatusOr<nlohmann::json> created = mo.SendJson("POST", "/models/", model);
    if (!created.ok()) return created.status();
    int64_t id = (*created)["id"].get<int64_t>();
    bool listed = false;
    for (const AllowedContainer& e : AllowList()) listed |= e.id == id;
    if (!listed) {
      return absl::OutOfRangeError("model " + std::to_string(id) +
                                   " is beyond the ids AllowList() allow-lists; raise "
                                   "kMaxAddedModels");
    }
    absl::StatusOr<BenchmarkModelAssociation> assoc = mo.CreateModelAssociation(
        ModelId(id), BenchmarkId(1), {{"test_result", nlohmann::json::object()}});
    if (!assoc.ok()) return assoc.status();
    if (approve) {
      absl::Status st = As(kUaBo).SetModelAssociationApproval(ModelId(id), BenchmarkId(1),
                                                              ApprovalStatus::kApproved);
      if (!st.ok()) return st;
    }
    return id;
  }

  // The daemon's jobs (all of them), as medperfctl shows them.
  std::vector<nlohmann::json> Jobs() {
    RunResult r = daemon_->Ctl({"job", "ls", "--all", "--json", "--limit", "1000"});
    std::vector<nlohmann::json> out;
    if (r.exit_code != 0) return out;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_object() || !j.contains("items")) return out;
    for (const auto& item : j["items"]) out.push_back(item);
    return out;
  }

  std::vector<nlohmann::json> RunJobsFor(int64_t model) {
    std::vector<nlohmann::json> out;
    for (const auto& j : Jobs()) {
      if (j.value("kind", "") == "run" && AsInt(j.value("model", nlohmann::json())) == model) {
        out.push_back(j);
      }
    }
    return out;
  }

  // The state of the newest run job of `model`, e.g. "RUNNING", or "".
  std::string JobState(int64_t model) {
    auto jobs = RunJobsFor(model);
    return jobs.empty() ? "" : jobs.front().value("state", "");
  }

  // Events of `kind` in the daemon's store, via `medperfctl watch --json`.
  std::vector<nlohmann::json> Events(const std::string& kind) {
    RunResult r =
        daemon_->Ctl({"watch", "--json", "--after", "0", "--limit", "100000", "--kind", kind});
    std::vector<nlohmann::json> out;
    size_t pos = 0;
    while (pos < r.out.size()) {
      size_t nl = r.out.find('\n', pos);
      if (nl == std::string::npos) nl = r.out.size();
      nlohmann::json j = nlohmann::json::parse(r.out.substr(pos, nl - pos), nullptr, false);
      if (j.is_object()) out.push_back(j);
      pos = nl + 1;
    }
    return out;
  }

  // Lines the hook wrote, parsed.
  std::vector<nlohmann::json> HookEvents(const std::string& kind) {
    std::string text = ReadFile(hook_file());
    std::vector<nlohmann::json> out;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      nlohmann::json j = nlohmann::json::parse(text.substr(pos, nl - pos), nullptr, false);
      if (j.is_object() && j.value("kind", "") == kind) out.push_back(j);
      pos = nl + 1;
    }
    return out;
  }

  // Local results for (1, model, 1), as `medperfctl result ls --json` shows them.
  std::vector<nlohmann::json> LocalResults(int64_t model) {
    RunResult r = daemon_->Ctl({"result", "ls", "--json"});
    std::vector<nlohmann::json> out;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_array()) return out;
    std::string uid = "b1m" + std::to_string(model) + "d1";
    for (const auto& item : j) {
      if (item.value("uid", "") == uid) out.push_back(item);
    }
    return out;
  }

  // Server executions of (1, model, 1) owned by the data owner.
  absl::StatusOr<int> ServerExecutions(int64_t model) {
    absl::StatusOr<std::vector<Result>> mine = As(kUaDo).ListMyResults();
    if (!mine.ok()) return mine.status();
    int n = 0;
    for (const Result& r : *mine) {
      if (r.benchmark == BenchmarkId(1) && r.model == ModelId(model) && r.dataset == DatasetId(1))
        ++n;
    }
    return n;
  }

 private:
  static void WriteToken(const std::filesystem::path& path, const std::string& token) {
    WriteFile(path, token + "\n");
    chmod(path.c_str(), 0600);
  }

  std::filesystem::path root_;
  std::filesystem::path db_;
  std::string daemon_server_url_;
  std::vector<AllowedContainer> seeded_;  // the seed's allow-list
  nlohmann::json tokens_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace medperf::testing
