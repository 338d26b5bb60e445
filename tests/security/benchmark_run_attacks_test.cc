// Attack classes that come from the MedPerf server (issue 11, docs/security.md), tried
// with `medperfctl benchmark run` / `dataset prepare` against the real, seeded
// medperf-server: a model planting links in its outputs, a model making the benchmark's
// evaluator answer with hostile YAML, a preparator answering with hostile statistics, an
// evaluator collecting host secrets into the metrics that are shown and submitted, a
// container the server marks invalid, and server-supplied LocalProcess containers the
// site did not allow-list (or whose executable changed since).
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/hashing.h"
#include "core/rest_client.h"
#include "core/yaml_json.h"
#include "tests/e2e/allow_list.h"
#include "tests/e2e/recording_proxy.h"
#include "tests/e2e/server_process.h"
#include "tests/security/security_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using sec::Has;
using Clock = std::chrono::steady_clock;

class ServerSecurityTest : public HostileBase, public ::testing::Test {
 protected:
  fs::path StateDir() const override { return dir_ / "site" / "state"; }

  void TearDown() override {
    if (daemon_) {
      ExpectNothingLeftRunning();
      daemon_->Stop(SIGKILL);
    }
  }

  // Seeds the server with the tutorial's entities, the benchmark's evaluator (container 3)
  // being the hostile `evaluator` folder and its preparator (container 1) the hostile
  // `preparator` folder or, when empty, the example one; starts it behind a recording
  // proxy, and medperfd as the data owner.
  void StartWorld(const std::string& evaluator, const std::string& preparator = "") {
    examples_ = BuildDir() / "examples" / "chestxray";
    ASSERT_TRUE(fs::exists(examples_ / "demo_data.tar.gz")) << "examples not built";
    fs::path assets = dir_ / "assets";
    fs::create_directories(assets);
    for (const char* d : {"model_threshold", "model_linear"}) {
      fs::copy(examples_ / d, assets / d, fs::copy_options::recursive);
    }
    fs::copy_file(examples_ / "demo_data.tar.gz", assets / "demo_data.tar.gz");
    fs::copy(Instantiate(evaluator, "seeded_evaluator"), assets / "metrics",
             fs::copy_options::recursive);
    fs::copy(preparator.empty() ? examples_ / "data_preparator"
                                : Instantiate(preparator, "seeded_preparator"),
             assets / "data_preparator", fs::copy_options::recursive);

    std::string server = BinaryPath("server/medperf-server").string();
    db_ = dir_ / "server.db";
    RunResult seed =
        RunProcess({server, "seed", "--db", db_.string(), "--demo", "data", "--tokens-out",
                    (dir_ / "tokens.json").string(), "--assets", assets.string(),
                    "--allow-list-out", (dir_ / "seed-allow-list.yaml").string()});
    ASSERT_EQ(seed.exit_code, 0) << seed.err;
    allowed_ = ReadAllowList(dir_ / "seed-allow-list.yaml");
    ASSERT_FALSE(allowed_.empty());
    tokens_ = Json::parse(ReadFile(dir_ / "tokens.json"));
    // The daemon's token is the data owner's real one (the file the hostile containers
    // are told about).
    token_ = tokens_.at("testdo@example.com").get<std::string>();
    WriteFile(token_file_, token_ + "\n");
    ::chmod(token_file_.c_str(), 0600);
    for (const char* who : {"testbo", "testmo", "testadmin"}) {
      fs::path f = dir_ / "secrets" / (std::string(who) + ".token");
      WriteFile(f, tokens_.at(std::string(who) + "@example.com").get<std::string>() + "\n");
      ::chmod(f.c_str(), 0600);
    }
    server_ = std::make_unique<ServerProcess>(db_, dir_ / "server.log");
    ASSERT_TRUE(server_->Start());
    proxy_ = std::make_unique<RecordingProxy>("127.0.0.1", server_->port());
    WriteDaemonConfig();
    daemon_ = std::make_unique<SiteDaemon>(
        dir_ / "site",
        std::vector<std::string>{"--config", (dir_ / "medperfd.yaml").string(), "--server-url",
                                 proxy_->url(), "--token-file", token_file_.string()},
        std::vector<std::string>{"MEDPERF_SECURITY_CANARY=" + canary_});
    ASSERT_TRUE(daemon_->Start());
  }

  void WriteDaemonConfig() {
    WriteFile(dir_ / "medperfd.yaml", "poll:\n  enabled: false\nrunner: sandbox\n" +
                                          AllowListYaml(allowed_) + sec::LimitsYaml({}));
  }
  void Restart() {
    WriteDaemonConfig();
    ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
    ASSERT_TRUE(daemon_->Start());
  }

  RunResult Ctl(std::vector<std::string> args) {
    RunResult r = daemon_->Ctl(args);
    outputs_ += r.out + r.err;
    if (std::getenv("MEDPERF_SECURITY_VERBOSE")) {
      std::cerr << "--- medperfctl " << args[0] << " " << args[1] << " (exit " << r.exit_code
                << ")\n"
                << r.out.substr(0, 3000) << r.err.substr(0, 3000);
    }
    return r;
  }

  RestClient As(const std::string& who) const {
    RestClientOptions o;
    o.server_url = server_->url();
    o.token = tokens_.at(who + "@example.com").get<std::string>();
    o.max_attempts = 1;
    auto c = RestClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  // The data owner's tutorial up to an approved association (dataset 1, benchmark 1).
  void RegisterPrepareAssociate() {
    fs::path raw = examples_ / "sample_raw_data";
    RunResult submit =
        Ctl({"dataset", "submit", "--name", "secdata", "--data_path", (raw / "images").string(),
             "--labels_path", (raw / "labels").string(), "--benchmark", "1", "-y"});
    ASSERT_EQ(submit.exit_code, 0) << submit.err;
    RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
    ASSERT_EQ(prepare.exit_code, 0) << prepare.err;
    RunResult operational = Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"});
    ASSERT_EQ(operational.exit_code, 0) << operational.err;
    RunResult associate =
        Ctl({"dataset", "associate", "--benchmark_uid", "1", "--data_uid", "1", "-y"});
    ASSERT_EQ(associate.exit_code, 0) << associate.err << associate.out;
    ASSERT_TRUE(
        As("testbo")
            .SetDatasetAssociationApproval(DatasetId(1), BenchmarkId(1), ApprovalStatus::kApproved)
            .ok());
  }

  // Registers `config` as a model of the model owner, associated with benchmark 1 and
  // approved by its owner; allow-lists it (and restarts medperfd) when `allow`. Returns the
  // model id (on this server also its container's).
  int64_t RegisterModel(const std::string& name, const Json& config, bool allow) {
    Container c;
    c.name = name;
    c.container_config = config;
    // The server refuses two containers with the same config, parameters and hashes.
    c.parameters_config = Json{{"hostile", true}, {"name", name}};
    std::string image = config.value("image", "");
    absl::StatusOr<std::string> hex = Sha256File(image);
    EXPECT_TRUE(hex.ok()) << image;
    c.image_hash = "sha256:" + hex.value_or("");
    c.state = EntityState::kOperation;
    Model m;
    m.name = name;
    m.state = EntityState::kOperation;
    m.container = c;
    auto created = As("testmo").CreateModel(m);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return -1;
    auto assoc = As("testmo").CreateModelAssociation(created->id, BenchmarkId(1), Json::object());
    EXPECT_TRUE(assoc.ok()) << assoc.status();
    EXPECT_TRUE(
        As("testbo")
            .SetModelAssociationApproval(created->id, BenchmarkId(1), ApprovalStatus::kApproved)
            .ok());
    if (allow) {
      allowed_.push_back({created->id.value(), LocalProcessHash(image), image});
      Restart();
    }
    return created->id.value();
  }

  // A hostile model folder registered as above; `image` replaces its executable.
  int64_t AddHostileModel(const std::string& folder, const std::string& name, bool allow = true,
                          const fs::path& image = {}) {
    fs::path dir = Instantiate(folder, name);
    absl::StatusOr<Json> config =
        YamlToJson(ReadFile(dir / "container_config.yaml"), "container_config.yaml");
    EXPECT_TRUE(config.ok()) << config.status();
    if (!image.empty()) (*config)["image"] = image.string();
    return RegisterModel(name, *config, allow);
  }

  RunResult RunModels(const std::vector<int64_t>& ids) {
    std::string list;
    for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    return Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1", "--models", list});
  }

  static std::string Uid(int64_t model) { return "b1m" + std::to_string(model) + "d1"; }

  // The model's execution on the server was never given metrics.
  void ExpectNothingSubmitted(int64_t model) {
    auto mine = As("testdo").ListMyResults();
    ASSERT_TRUE(mine.ok()) << mine.status();
    for (const Result& r : *mine) {
      if (r.model.value() != model) continue;
      EXPECT_FALSE(r.finalized) << "execution " << r.id.value() << " of model " << model;
      EXPECT_TRUE(r.results.empty()) << r.results.dump();
    }
    RunResult submit = Ctl({"result", "submit", "--result", Uid(model), "-y"});
    EXPECT_NE(submit.exit_code, 0) << submit.out;
  }

  // Nothing the site sent to the server carries the token or the canary.
  void ExpectNothingSentLeaks() {
    for (const RecordedRequest& req : proxy_->requests()) {
      EXPECT_FALSE(Has(req.body, token_)) << req.method << " " << req.target;
      EXPECT_FALSE(Has(req.body, canary_)) << req.method << " " << req.target;
      EXPECT_FALSE(Has(req.target, token_) || Has(req.target, canary_)) << req.target;
    }
    for (const char* suffix : {"", "-wal"}) {
      EXPECT_FALSE(Has(sec::Slurp(db_.string() + suffix), canary_))
          << "the canary reached the server's database";
    }
  }

  void ExpectStopsPromptly() {
    auto start = Clock::now();
    int status = daemon_->Stop(SIGTERM, std::chrono::seconds(15));
    EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "medperfd did not stop cleanly on SIGTERM (wait status " << status << ")";
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  }

  fs::path examples_;
  fs::path db_;
  Json tokens_;
  std::vector<AllowedContainer> allowed_;
  std::string outputs_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<RecordingProxy> proxy_;
  std::unique_ptr<SiteDaemon> daemon_;
};

// 5 through `benchmark run`: links to a /proc file and to the daemon's token file in a
// model's predictions. The run fails naming the entries; no metrics reach the server;
// the daemon answers and SIGTERM still stops it promptly.
TEST_F(ServerSecurityTest, OutputLinksFailTheBenchmarkRunAndNothingIsSent) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("eval"));
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate());
  int64_t environ_model = AddHostileModel("model_link_environ", "link-environ");
  int64_t token_model = AddHostileModel("model_link_token", "link-token");
  RunResult run = RunModels({environ_model, token_model});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  std::string all = run.out + run.err;
  EXPECT_TRUE(Has(all, "'environ'")) << all;
  EXPECT_TRUE(Has(all, "'token'")) << all;
  EXPECT_TRUE(Has(all, "symbolic link")) << all;
  for (int64_t model : {environ_model, token_model}) {
    RunResult view = Ctl({"result", "view", Uid(model), "--json"});
    ASSERT_EQ(view.exit_code, 0) << view.err;
    Json result = Json::parse(view.out, nullptr, false);
    EXPECT_TRUE(Has(result.value("error", ""), "symbolic link")) << view.out;
    ExpectNothingSubmitted(model);
  }
  EXPECT_EQ(daemon_->Ctl({"status"}).exit_code, 0);
  ExpectNothingSentLeaks();
  ExpectNoSecretIn(dir_ / "site", outputs_ + daemon_->Log());
  ExpectStopsPromptly();
}

// 6 through `benchmark run`: each model makes the benchmark's evaluator write a billion
// laughs, 100000-deep nesting or 17 MiB as results.yaml. Each run fails naming the file
// and the limit, nothing is submitted, and the daemon's peak memory stays small.
TEST_F(ServerSecurityTest, HostileResultsYamlFailsTheBenchmarkRunCleanly) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("eval"));
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate());
  int64_t bomb = AddHostileModel("model_trigger_bomb", "trigger-bomb");
  int64_t deep = AddHostileModel("model_trigger_deep", "trigger-deep");
  int64_t huge = AddHostileModel("model_trigger_huge", "trigger-huge");
  RunResult run = RunModels({bomb, deep, huge});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  const std::map<int64_t, std::string> limit = {{bomb, "expands to more than"},
                                                {deep, "nested deeper than"},
                                                {huge, "more than the limit of 16 MiB"}};
  for (const auto& [model, words] : limit) {
    RunResult view = Ctl({"result", "view", Uid(model), "--json"});
    ASSERT_EQ(view.exit_code, 0) << view.err;
    std::string error = Json::parse(view.out, nullptr, false).value("error", "");
    EXPECT_TRUE(Has(error, "results")) << error;
    EXPECT_TRUE(Has(error, words)) << error;
    ExpectNothingSubmitted(model);
  }
  uint64_t peak = sec::PeakRssMiB(daemon_->pid());
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, sec::kDaemonPeakRssMiB) << "medperfd's peak RSS (VmHWM) in MiB";
  EXPECT_EQ(daemon_->Ctl({"status"}).exit_code, 0);
}

// 6 through `dataset prepare`: the benchmark's preparator answers with a billion-laughs
// statistics.yaml. Preparation fails naming the file and the limit; the dataset cannot go
// operational, so no statistics reach the server.
TEST_F(ServerSecurityTest, HostileStatisticsYamlFailsDatasetPrepare) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("eval", "prep_stats_bomb"));
  fs::path raw = examples_ / "sample_raw_data";
  RunResult submit =
      Ctl({"dataset", "submit", "--name", "secdata", "--data_path", (raw / "images").string(),
           "--labels_path", (raw / "labels").string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(prepare.exit_code, 1) << prepare.out;
  EXPECT_TRUE(Has(prepare.err, "statistics")) << prepare.err;
  EXPECT_TRUE(Has(prepare.err, "expands to more than")) << prepare.err;
  RunResult operational = Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"});
  EXPECT_NE(operational.exit_code, 0);
  auto dataset = As("testdo").GetDataset(DatasetId(1));
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_NE(dataset->state, EntityState::kOperation);
  EXPECT_LT(sec::PeakRssMiB(daemon_->pid()), sec::kDaemonPeakRssMiB);
}

// 2 through `benchmark run` + `result view` + `result submit`: the benchmark's evaluator
// tries every host secret (the token file, the state dir, shadow files, /proc of its
// parents) and reports what it read in its metrics, which medperfctl shows and the site
// submits. None was readable, and neither the token nor the canary from medperfd's
// environment appears in what was shown, stored or sent.
TEST_F(ServerSecurityTest, SecretsReachNeitherResultsNorServer) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("eval_secrets"));
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate());
  RunResult run = RunModels({4});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  RunResult view = Ctl({"result", "view", Uid(4), "--json"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  Json metrics = Json::parse(view.out, nullptr, false).value("results", Json::object());
  int checked = 0;
  for (const auto& [key, value] : metrics.items()) {
    if (key.rfind("secret.", 0) != 0) continue;
    ++checked;
    std::string v = value.is_string() ? value.get<std::string>() : value.dump();
    if (Has(key, "environ")) continue;  // own processes; the canary check covers them
    EXPECT_TRUE(v.rfind("READ", 0) != 0 && v.rfind("LISTED", 0) != 0) << key << ": " << v;
  }
  EXPECT_GE(checked, 14) << view.out;
  EXPECT_EQ(metrics.value("secret.token", ""), "ENOENT") << view.out;
  RunResult submit = Ctl({"result", "submit", "--result", Uid(4), "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  auto mine = As("testdo").ListMyResults();
  ASSERT_TRUE(mine.ok());
  bool found = false;
  for (const Result& r : *mine) {
    if (r.model.value() != 4 || !r.finalized) continue;
    found = true;
    EXPECT_TRUE(r.results.contains("secret.shadow")) << r.results.dump();
    EXPECT_FALSE(Has(r.results.dump(), token_));
    EXPECT_FALSE(Has(r.results.dump(), canary_));
  }
  EXPECT_TRUE(found) << "the submitted result is not on the server";
  ExpectNothingSentLeaks();
  ExpectNoSecretIn(dir_ / "site", outputs_ + daemon_->Log());
}

// 8. Containers and models an admin marked `is_valid: false` on the server are never
// fetched or run, whether the model's container, the model, or the benchmark's evaluator.
TEST_F(ServerSecurityTest, InvalidContainersAreNeverRun) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("eval"));
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate());
  int64_t bad_container = AddHostileModel("model_ok", "invalid-container");
  int64_t bad_model = AddHostileModel("model_ok", "invalid-model");
  RestClient admin = As("testadmin");
  auto c = admin.UpdateContainer(ContainerId(bad_container), Json{{"is_valid", false}});
  ASSERT_TRUE(c.ok()) << c.status();
  auto m = admin.UpdateModel(ModelId(bad_model), Json{{"is_valid", false}});
  ASSERT_TRUE(m.ok()) << m.status();

  for (int64_t model : {bad_container, bad_model}) {
    RunResult run = RunModels({model});
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_TRUE(Has(run.out + run.err, "is_valid: false")) << run.out << run.err;
    EXPECT_TRUE(Has(run.out + run.err, "invalid-")) << "the refusal names the entity";
  }
  EXPECT_EQ(sec::FilesContaining(StateDir(), "[hostile] task infer"), "")
      << "an invalid container ran";

  // The benchmark's evaluator marked invalid: even a valid model's run stops before it.
  ASSERT_TRUE(admin.UpdateContainer(ContainerId(3), Json{{"is_valid", false}}).ok());
  RunResult run = RunModels({4});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_TRUE(Has(run.out + run.err, "is_valid: false")) << run.out << run.err;
  EXPECT_EQ(sec::FilesContaining(StateDir() / "results" / Uid(4), "[hostile] task evaluate"), "")
      << "the invalid evaluator ran on the model's predictions";
}

// 9. A LocalProcess container from the server runs a host executable: refused unless the
// site allow-lists it (by id and image hash), with a message saying how; `/bin/sh -c` from
// the server is refused the same way; and an allow-listed executable that changed since is
// refused too.
TEST_F(ServerSecurityTest, ServerLocalProcessNeedsTheAllowList) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("eval"));
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate());
  int64_t unlisted = AddHostileModel("model_ok", "not-allow-listed", /*allow=*/false);
  RunResult run = RunModels({unlisted});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  std::string all = run.out + run.err;
  EXPECT_TRUE(Has(all, "allow_local_process")) << all;
  EXPECT_TRUE(Has(all, "container: " + std::to_string(unlisted))) << all;

  Json shell = {
      {"container_type", "LocalProcess"},
      {"image", "/bin/sh"},
      {"tasks",
       {{"infer",
         {{"run_args",
           {{"command", {"-c", "echo pwned-" + nonce_ + " > /mlcommons/volumes/predictions/x"}}}},
          {"input_volumes",
           {{"data_path", {{"mount_path", "/mlcommons/volumes/data"}, {"type", "directory"}}}}},
          {"output_volumes",
           {{"output_path",
             {{"mount_path", "/mlcommons/volumes/predictions"}, {"type", "directory"}}}}}}}}}};
  int64_t sh = RegisterModel("shell-script", shell, /*allow=*/false);
  RunResult sh_run = RunModels({sh});
  EXPECT_EQ(sh_run.exit_code, 1) << sh_run.out << sh_run.err;
  EXPECT_TRUE(Has(sh_run.out + sh_run.err, "allow_local_process")) << sh_run.out << sh_run.err;
  EXPECT_EQ(sec::FilesContaining(StateDir(), "pwned-" + nonce_), "");

  // Allow-listed, then the executable on disk changes (a file beside it replaced it).
  fs::path copy = dir_ / "exe-changed" / "hostile";
  fs::create_directories(copy.parent_path());
  fs::copy_file(BuildDir() / "tests/security/bin/hostile", copy);
  ::chmod(copy.c_str(), 0755);
  int64_t changed = AddHostileModel("model_ok", "changed-executable", /*allow=*/true, copy);
  {
    std::ofstream append(copy, std::ios::binary | std::ios::app);
    append << "tampered";
  }
  RunResult changed_run = RunModels({changed});
  EXPECT_EQ(changed_run.exit_code, 1) << changed_run.out << changed_run.err;
  EXPECT_TRUE(Has(changed_run.out + changed_run.err, "changed"))
      << changed_run.out << changed_run.err;
  EXPECT_EQ(sec::FilesContaining(StateDir(), "[hostile] task infer"), "")
      << "a refused LocalProcess container ran";
}

}  // namespace
}  // namespace medperf::testing
