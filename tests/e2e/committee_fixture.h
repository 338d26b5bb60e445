// A whole MedPerf world on loopback for the committee and model-owner scenarios: the
// real medperf-server (seeded), the real medperfd acting as one tutorial user, the real
// medperfctl, and a static file server hosting copies of the example containers.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/allow_list.h"
#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/static_file_server.h"
#include "tests/support/test_support.h"

namespace medperf::testing {

inline constexpr char kAdminEmail[] = "testadmin@example.com";
inline constexpr char kBoEmail[] = "testbo@example.com";
inline constexpr char kMoEmail[] = "testmo@example.com";

class CommitteeWorld : public ::testing::Test {
 protected:
  static std::filesystem::path Examples() { return BuildDir() / "examples" / "chestxray"; }
  std::filesystem::path Example(const std::string& rel) const { return Examples() / rel; }

  // Seeds the server with `demo` ("benchmark": users only; "model": the committee's
  // containers and approved benchmark 1), starts it, the file server and medperfd
  // acting as `identity`.
  void StartWorld(const std::string& demo, const std::string& identity) {
    namespace fs = std::filesystem;
    std::string db = (dir_ / "db.sqlite").string();
    std::vector<std::string> seed = {BinaryPath("server/medperf-server").string(),
                                     "seed",
                                     "--db",
                                     db,
                                     "--demo",
                                     demo,
                                     "--tokens-out",
                                     (dir_ / "tokens.json").string()};
    if (demo != "benchmark") {
      seed.insert(seed.end(), {"--assets", Examples().string(), "--allow-list-out",
                               (dir_ / "seed-allow-list.yaml").string()});
    }
    RunResult s = RunProcess(seed);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    // The seeded example containers run host executables: the site allow-lists them.
    if (demo != "benchmark") allowed_ = ReadAllowList(dir_ / "seed-allow-list.yaml");
    tokens_ = nlohmann::json::parse(ReadFile(dir_ / "tokens.json"));
    server_ = std::make_unique<ServerProcess>(db, dir_ / "server.log");
    ASSERT_TRUE(server_->Start());
    server_url_ = server_->url();

    // The "hosted" files: copies, so the URLs serve what a committee would upload.
    fs::create_directories(www());
    for (const char* d : {"data_preparator", "model_threshold", "model_linear", "metrics"}) {
      fs::copy(Example(d), www() / d, fs::copy_options::recursive);
    }
    fs::copy(Example("model_faulty/bad_output"), www() / "model_bad_output",
             fs::copy_options::recursive);
    files_ = std::make_unique<StaticFileServer>(www());
    ASSERT_TRUE(files_->ok());

    fs::create_directories(dir_ / "site");
    WriteFile(config_file(), AllowListYaml(allowed_));
    daemon_ = std::make_unique<DaemonProcess>(
        dir_ / "site",
        std::vector<std::string>{"--config", config_file().string(), "--server-url", server_url_,
                                 "--token-file", TokenFile(identity), "--poll-interval", "3600"});
    ASSERT_TRUE(daemon_->Start());
  }

  std::filesystem::path config_file() const { return dir_ / "medperfd.yaml"; }

  // Allow-lists a LocalProcess container (server id, its executable) in medperfd's config
  // and restarts the daemon, as a site admin applies a config change.
  void AllowLocalProcess(int64_t id, const std::filesystem::path& executable) {
    allowed_.push_back({id, LocalProcessHash(executable), executable.string()});
    WriteFile(config_file(), AllowListYaml(allowed_));
    ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
    ASSERT_TRUE(daemon_->Start());
  }

  // A 0600 file with the user's token, for medperfd or `medperfctl --token-file`.
  std::string TokenFile(const std::string& email) {
    auto path = dir_ / (email.substr(0, email.find('@')) + ".token");
    if (!std::filesystem::exists(path)) {
      WriteFile(path, tokens_.at(email).get<std::string>() + "\n");
      chmod(path.c_str(), 0600);
    }
    return path.string();
  }

  RunResult Ctl(const std::vector<std::string>& args, const std::string& input = "") const {
    return daemon_->Ctl(args, input);
  }
  // The same command as another MedPerf user (the ctl's --token-file).
  RunResult CtlAs(const std::string& email, std::vector<std::string> args) {
    args.insert(args.begin(), {"--token-file", TokenFile(email)});
    return daemon_->Ctl(args);
  }
  nlohmann::json CtlJson(const std::vector<std::string>& args) const {
    std::vector<std::string> a = args;
    a.push_back("--json");
    RunResult r = daemon_->Ctl(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  // `container submit` of a hosted example folder, the tutorial's way (URLs). The site then
  // allow-lists the new container (the examples run host executables) and restarts medperfd.
  RunResult SubmitContainer(const std::string& name, const std::string& folder,
                            bool with_additional, bool operational = true) {
    std::vector<std::string> args = {"container",
                                     "submit",
                                     "--name",
                                     name,
                                     "--container-config-file",
                                     files_->Url(folder + "/container_config.yaml"),
                                     "--parameters-file",
                                     files_->Url(folder + "/parameters.yaml")};
    if (with_additional) {
      args.push_back("--additional-file");
      args.push_back(files_->Url(folder + "/additional_files.tar.gz"));
    }
    if (operational) args.push_back("--operational");
    RunResult r = Ctl(args);
    std::smatch id;
    if (r.exit_code == 0 && std::regex_search(r.out, id, std::regex("server UID ([0-9]+)"))) {
      AllowLocalProcess(std::stoll(id[1]), ExecutableOf(www() / folder));
    }
    return r;
  }

  std::filesystem::path www() const { return dir_ / "www"; }

  TempDir dir_;
  std::vector<AllowedContainer> allowed_;  // the daemon's sandbox.allow_local_process
  nlohmann::json tokens_;
  std::string server_url_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<StaticFileServer> files_;
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace medperf::testing
