// A whole local MedPerf deployment for end-to-end tests: the real medperf-server seeded
// with the tutorial's entities (built from the example containers), a recording proxy
// in front of it, and the real medperfd acting as the data owner's site.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/hashing.h"
#include "core/rest_client.h"
#include "core/yaml_json.h"
#include "tests/e2e/allow_list.h"
#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/recording_proxy.h"
#include "tests/e2e/server_process.h"
#include "tests/support/test_support.h"

namespace medperf::testing {

class SiteFixture : public ::testing::Test {
 protected:
  virtual std::string Demo() const { return "data"; }
  // Extra YAML for medperfd's config file.
  virtual std::string ExtraDaemonConfig() const { return ""; }
  // The folder the server is seeded from (the built example containers by default).
  virtual std::filesystem::path SeedAssets() { return examples_; }

  void SetUp() override {
    examples_ = BuildDir() / "examples" / "chestxray";
    ASSERT_TRUE(std::filesystem::exists(examples_ / "demo_data.tar.gz"))
        << "example containers not built in " << examples_;
    std::string server = BinaryPath("server/medperf-server").string();
    db_ = (dir_ / "server.db").string();
    RunResult seed = RunProcess({server, "seed", "--db", db_, "--demo", Demo(), "--tokens-out",
                                 (dir_ / "tokens.json").string(), "--assets", SeedAssets().string(),
                                 "--allow-list-out", (dir_ / "seed-allow-list.yaml").string()});
    ASSERT_EQ(seed.exit_code, 0) << seed.err;
    // The seeded example containers run host executables: the site allow-lists them.
    allowed_ = ReadAllowList(dir_ / "seed-allow-list.yaml");
    ASSERT_FALSE(allowed_.empty()) << ReadFile(dir_ / "seed-allow-list.yaml");
    auto tokens = nlohmann::json::parse(ReadFile(dir_ / "tokens.json"));
    for (const char* who : {"testadmin", "testbo", "testmo", "testdo"}) {
      std::string token = tokens.at(std::string(who) + "@example.com");
      tokens_[who] = token;
      std::filesystem::path file = dir_ / (std::string(who) + ".token");
      WriteFile(file, token + "\n");
      chmod(file.c_str(), 0600);
    }
    server_ = std::make_unique<ServerProcess>(db_, dir_ / "server.log");
    ASSERT_TRUE(server_->Start());
    proxy_ = std::make_unique<RecordingProxy>("127.0.0.1", server_->port());

    WriteDaemonConfig();
    daemon_ = std::make_unique<DaemonProcess>(
        dir_.path(),
        std::vector<std::string>{"--config", (dir_ / "medperfd.yaml").string(), "--server-url",
                                 proxy_->url(), "--token-file", TokenFile("testdo")});
    ASSERT_TRUE(daemon_->Start());
  }

  std::string TokenFile(const std::string& who) const { return (dir_ / (who + ".token")).string(); }

  void WriteDaemonConfig() {
    // Interactive tests drive every step themselves: no unattended polling.
    WriteFile(dir_ / "medperfd.yaml",
              "poll:\n  enabled: false\n" + AllowListYaml(allowed_) + ExtraDaemonConfig());
  }

  // Replaces the daemon's allow-list and restarts it, as a site admin applies a config change.
  void SetAllowList(std::vector<AllowedContainer> entries) {
    allowed_ = std::move(entries);
    WriteDaemonConfig();
    ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
    ASSERT_TRUE(daemon_->Start());
  }
  // Allow-lists one more LocalProcess container (server id, its executable) and restarts.
  void AllowLocalProcess(int64_t id, const std::filesystem::path& executable) {
    std::vector<AllowedContainer> entries = allowed_;
    entries.push_back({id, LocalProcessHash(executable), executable.string()});
    SetAllowList(std::move(entries));
  }

  RunResult Ctl(std::vector<std::string> args, const std::string& input = "") {
    return daemon_->Ctl(std::move(args), input);
  }
  // The same command as another MedPerf user (e.g. the benchmark owner approving).
  RunResult CtlAs(const std::string& who, std::vector<std::string> args) {
    args.insert(args.begin(), {"--token-file", TokenFile(who)});
    return daemon_->Ctl(std::move(args));
  }

  RestClient As(const std::string& who) const {
    RestClientOptions o;
    o.server_url = server_->url();
    o.token = tokens_.at(who);
    o.max_attempts = 1;
    auto c = RestClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  std::filesystem::path RawData() const { return examples_ / "sample_raw_data" / "images"; }
  std::filesystem::path RawLabels() const { return examples_ / "sample_raw_data" / "labels"; }

  // The data owner's tutorial up to an approved association, asserting each step.
  void RegisterPrepareAssociate(const std::filesystem::path& data,
                                const std::filesystem::path& labels, bool approve = true) {
    RunResult submit =
        Ctl({"dataset", "submit", "--name", "mytestdata", "--description", "A tutorial dataset",
             "--location", "My machine", "--data_path", data.string(), "--labels_path",
             labels.string(), "--benchmark", "1", "-y"});
    ASSERT_EQ(submit.exit_code, 0) << submit.err;
    RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
    ASSERT_EQ(prepare.exit_code, 0) << prepare.err;
    RunResult operational = Ctl({"dataset", "set_operational", "--data_uid", "1", "-y"});
    ASSERT_EQ(operational.exit_code, 0) << operational.err;
    RunResult associate =
        Ctl({"dataset", "associate", "--benchmark_uid", "1", "--data_uid", "1", "-y"});
    ASSERT_EQ(associate.exit_code, 0) << associate.err;
    if (approve) {
      RunResult approval =
          CtlAs("testbo", {"association", "approve", "--benchmark", "1", "--dataset_uid", "1"});
      ASSERT_EQ(approval.exit_code, 0) << approval.err;
    }
  }

  // Registers one of the example containers as a model of `owner` (OPERATION), and
  // requests + approves its association with benchmark 1. Unless `allow` is false, the
  // site then allow-lists it (its executable is a host program) and restarts medperfd.
  // A non-empty `image` replaces the executable the example names. Returns the model id.
  int64_t AddApprovedModel(const std::string& example_subdir, const std::string& name,
                           bool allow = true, const std::filesystem::path& image = {}) {
    std::filesystem::path dir = examples_ / example_subdir;
    auto config = YamlToJson(ReadFile(dir / "container_config.yaml"), "config");
    EXPECT_TRUE(config.ok()) << config.status();
    if (!image.empty()) (*config)["image"] = image.string();
    Container c;
    c.name = name;
    c.container_config = *config;
    if (std::filesystem::exists(dir / "parameters.yaml")) {
      c.parameters_config = *YamlToJson(ReadFile(dir / "parameters.yaml"), "parameters");
    }
    c.image_hash = "sha256:" + *Sha256File((*config)["image"].get<std::string>());
    if (std::filesystem::exists(dir / "additional_files.tar.gz")) {
      c.additional_files_tarball_url = "file://" + (dir / "additional_files.tar.gz").string();
      c.additional_files_tarball_hash = *Sha256File(dir / "additional_files.tar.gz");
    }
    c.state = EntityState::kOperation;
    Model m;
    m.name = name;
    m.state = EntityState::kOperation;
    m.container = c;
    auto created = As("testmo").CreateModel(m);
    EXPECT_TRUE(created.ok()) << created.status();
    auto assoc =
        As("testmo").CreateModelAssociation(created->id, BenchmarkId(1), nlohmann::json::object());
    EXPECT_TRUE(assoc.ok()) << assoc.status();
    auto approved = As("testbo").SetModelAssociationApproval(created->id, BenchmarkId(1),
                                                             ApprovalStatus::kApproved);
    EXPECT_TRUE(approved.ok()) << approved;
    // On this server a model and its container share the id.
    if (allow) AllowLocalProcess(created->id.value(), (*config)["image"].get<std::string>());
    return created->id.value();
  }

  TempDir dir_;
  std::filesystem::path examples_;
  std::string db_;
  std::map<std::string, std::string> tokens_;
  std::vector<AllowedContainer> allowed_;  // the daemon's sandbox.allow_local_process
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<RecordingProxy> proxy_;
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace medperf::testing
