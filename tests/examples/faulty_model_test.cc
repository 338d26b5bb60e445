// The deliberately faulty model, run directly (no sandbox): each mode must misbehave exactly
// as documented so runner and compatibility tests can rely on it.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "tests/examples/example_helpers.h"

namespace medperf::examples_test {
namespace {

using ::testing::HasSubstr;

class ExampleFaultyModel : public ::testing::Test {
 protected:
  void SetUp() override { PrepareInto(p_, Cxr() / "demo_data"); }
  fs::path Mode(const std::string& mode) { return Cxr() / "model_faulty" / mode; }
  fs::path out() const { return p_.dir / "predictions"; }
  RunResult Run(const std::string& mode, const fs::path& params = {},
                std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::map<std::string, fs::path> volumes = {{"data_path", p_.data()}, {"output_path", out()}};
    if (!params.empty()) volumes["parameters_file"] = params;
    return RunTask(Mode(mode), "infer", volumes, timeout);
  }
  RunResult EvaluateOutput() { return Evaluate(out(), p_.labels(), p_.dir / "results.yaml"); }
  Prepared p_;
};

TEST_F(ExampleFaultyModel, BadOutputFailsEvaluationClearly) {
  RunResult r = Run("bad_output");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out() / "predictions.json"));
  RunResult eval = EvaluateOutput();
  EXPECT_EQ(eval.exit_code, 1);
  EXPECT_THAT(eval.err, HasSubstr("predictions.json: case 'demo_0001': expected a list of 3 "
                                  "scores, got \"effusion\""));
}

TEST_F(ExampleFaultyModel, FailExitsNonZero) {
  RunResult r = Run("fail");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("failing on purpose"));
  EXPECT_FALSE(fs::exists(out() / "predictions.json"));
}

TEST_F(ExampleFaultyModel, HangNeverFinishes) {
  auto start = std::chrono::steady_clock::now();
  RunResult r = Run("hang", {}, std::chrono::milliseconds(700));
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT(r.out, HasSubstr("hanging on purpose"));
}

TEST_F(ExampleFaultyModel, NetworkReportsAReachableListener) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);

  WriteFile(p_.dir / "params.yaml",
            "mode: network\nhost: 127.0.0.1\nport: " + std::to_string(port) + "\n");
  RunResult r = Run("network", p_.dir / "params.yaml");
  close(fd);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the network is NOT isolated"));
  YAML::Node report = YAML::LoadFile((out() / "network_report.yaml").string());
  EXPECT_TRUE(report["connected"].as<bool>());
  EXPECT_EQ(report["target"].as<std::string>(), "127.0.0.1:" + std::to_string(port));
}

TEST_F(ExampleFaultyModel, NetworkPassesWhenUnreachable) {
  int port = medperf::testing::FreePort();
  WriteFile(p_.dir / "params.yaml",
            "mode: network\nhost: 127.0.0.1\nport: " + std::to_string(port) + "\n");
  RunResult r = Run("network", p_.dir / "params.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  YAML::Node report = YAML::LoadFile((out() / "network_report.yaml").string());
  EXPECT_FALSE(report["connected"].as<bool>());
  EXPECT_THAT(report["error"].as<std::string>(), HasSubstr("refused"));
  // Contained, it behaves like a (useless) valid model.
  RunResult eval = EvaluateOutput();
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

TEST_F(ExampleFaultyModel, WriteOutsideReportsEscapesAndCleansUp) {
  auto before = FileNames(p_.data());
  RunResult r = Run("write_outside");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("outside the output volume"));
  YAML::Node report = YAML::LoadFile((out() / "write_report.yaml").string());
  ASSERT_EQ(report["targets"].size(), 3u);
  bool data_probe_written = false;
  for (const auto& t : report["targets"]) {
    std::string path = t["path"].as<std::string>();
    if (path.rfind(p_.data().string(), 0) == 0) data_probe_written = t["written"].as<bool>();
    EXPECT_FALSE(fs::exists(path)) << path << " left behind";
  }
  // Without a sandbox the input volume is writable: the escape must be reported.
  EXPECT_TRUE(data_probe_written);
  EXPECT_EQ(FileNames(p_.data()), before);
}

TEST_F(ExampleFaultyModel, WriteOutsidePassesWhenContained) {
  // Only unwritable targets: what a correct sandbox leaves the model.
  WriteFile(p_.dir / "params.yaml",
            "mode: write_outside\ntargets: [/nonexistent_dir/probe, /proc/medperf_probe]\n");
  RunResult r = Run("write_outside", p_.dir / "params.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(EvaluateOutput().exit_code, 0);
}

TEST_F(ExampleFaultyModel, UnknownOrMissingMode) {
  WriteFile(p_.dir / "params.yaml", "mode: explode\n");
  RunResult r = Run("fail", p_.dir / "params.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("params.yaml: unknown mode 'explode'"));
  WriteFile(p_.dir / "params.yaml", "host: x\n");
  r = Run("fail", p_.dir / "params.yaml");
  EXPECT_THAT(r.err, HasSubstr("params.yaml: missing required key 'mode'"));
  WriteFile(p_.dir / "params.yaml", "mode: network\nhost: 127.0.0.1\nport: http\n");
  r = Run("network", p_.dir / "params.yaml");
  EXPECT_THAT(r.err, HasSubstr("key 'port' must be an integer"));
}

}  // namespace
}  // namespace medperf::examples_test
