// Issue 17: each class of failure reaches the user of the real medperfctl as one sentence
// naming the component (medperfd, or the MedPerf server at its URL, once), the object and
// the next command; the raw detail only with --verbose and in medperfd's log. Also the
// small error-path defects (status --json numbers, the local status in --json lists,
// `medperf-server seed --help`, the token-file mode in octal).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>

#include "absl/strings/match.h"
#include "tests/e2e/site_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

int Count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// One line on stderr: no request line, no raw HTTP, the URL at most once.
void ExpectOneSentence(const RunResult& r, const std::string& url) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(Count(r.err, "\n"), 1) << r.err;
  EXPECT_EQ(r.err.find("/api/v0/"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("HTTP 4"), std::string::npos) << r.err;
  EXPECT_LE(Count(r.err, url), 1) << r.err;
  EXPECT_EQ(r.err.find("cannot reach medperfd"), std::string::npos) << r.err;
}

class ErrorMessagesTest : public SiteFixture {};

TEST_F(ErrorMessagesTest, AMissingObjectIsNamedWithTheListCommand) {
  RunResult r = Ctl({"dataset", "view", "99"});
  ExpectOneSentence(r, proxy_->url());
  EXPECT_NE(r.err.find("dataset 99 does not exist on the MedPerf server at " + proxy_->url()),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("`medperfctl dataset ls`"), std::string::npos) << r.err;

  // --verbose adds the raw detail; the daemon's log always has it.
  RunResult verbose = Ctl({"--verbose", "dataset", "view", "99"});
  EXPECT_NE(verbose.err.find("detail: GET " + proxy_->url() + "/api/v0/datasets/99/: HTTP 404"),
            std::string::npos)
      << verbose.err;
  EXPECT_NE(daemon_->Log().find("/api/v0/datasets/99/: HTTP 404"), std::string::npos);
}

// `benchmark run` asks the server first: no failed job is left behind.
TEST_F(ErrorMessagesTest, RunningANonexistentBenchmarkCreatesNoJob) {
  RunResult submit = Ctl({"dataset", "submit", "--name", "d", "--data_path", RawData().string(),
                          "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  RunResult jobs_before = Ctl({"--json", "job", "ls", "--all"});
  ASSERT_EQ(jobs_before.exit_code, 0) << jobs_before.err;

  RunResult r = Ctl({"benchmark", "run", "--benchmark", "99", "--data_uid", "1"});
  ExpectOneSentence(r, proxy_->url());
  EXPECT_NE(r.err.find("benchmark 99 does not exist on the MedPerf server"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("`medperfctl benchmark ls`"), std::string::npos) << r.err;
  RunResult jobs_after = Ctl({"--json", "job", "ls", "--all"});
  EXPECT_EQ(Json::parse(jobs_after.out)["items"].size(),
            Json::parse(jobs_before.out)["items"].size())
      << jobs_after.out;

  // The local status is part of `dataset ls --mine --json` too.
  RunResult mine = Ctl({"--json", "dataset", "ls", "--mine"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  Json list = Json::parse(mine.out);
  ASSERT_EQ(list.size(), 1u) << mine.out;
  EXPECT_EQ(list[0]["local_status"], "registered") << mine.out;
}

TEST_F(ErrorMessagesTest, ForbiddenBadInputAndABadTokenEachSayWhatToDo) {
  RunResult forbidden = Ctl({"benchmark", "approve", "--benchmark", "1"});
  ExpectOneSentence(forbidden, proxy_->url());
  EXPECT_NE(forbidden.err.find("does not allow this user to change benchmark 1"), std::string::npos)
      << forbidden.err;
  EXPECT_NE(forbidden.err.find("--token-file"), std::string::npos) << forbidden.err;

  RunResult bad = Ctl({"container", "ls", "--state", "operation"});
  ExpectOneSentence(bad, proxy_->url());
  EXPECT_NE(bad.err.find("refused the request"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("state"), std::string::npos) << bad.err;

  fs::path wrong = dir_ / "wrong.token";
  WriteFile(wrong, "not-a-valid-token\n");
  chmod(wrong.c_str(), 0600);
  RunResult r = daemon_->Ctl({"--token-file", wrong.string(), "benchmark", "ls"});
  ExpectOneSentence(r, proxy_->url());
  EXPECT_NE(r.err.find("did not accept the API token in " + wrong.string()), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("medperf auth login"), std::string::npos) << r.err;
}

TEST_F(ErrorMessagesTest, AFailingContainerIsNamedWithItsLog) {
  fs::path bad = dir_ / "bad_raw";
  fs::create_directories(bad / "images");
  fs::create_directories(bad / "labels");
  for (const auto& e : fs::directory_iterator(RawData())) {
    fs::copy_file(e.path(), bad / "images" / e.path().filename());
  }
  std::string labels = ReadFile(RawLabels() / "labels.csv");
  size_t pos = labels.find("effusion");
  ASSERT_NE(pos, std::string::npos);
  labels.replace(pos, 8, "fracture");  // a class the preparator does not know
  WriteFile(bad / "labels" / "labels.csv", labels);
  RunResult submit =
      Ctl({"dataset", "submit", "--name", "bad", "--data_path", (bad / "images").string(),
           "--labels_path", (bad / "labels").string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  RunResult prepare = Ctl({"--verbose", "dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(prepare.exit_code, 1);
  EXPECT_NE(prepare.err.find("prepare of my-prep exited with code"), std::string::npos)
      << prepare.err;
  EXPECT_NE(prepare.err.find("inside the container, not in medperfd"), std::string::npos)
      << prepare.err;
  EXPECT_NE(prepare.err.find("its log: "), std::string::npos) << prepare.err;
  EXPECT_NE(prepare.err.find("detail: "), std::string::npos) << prepare.err;
}

class SandboxSiteErrorsTest : public SiteFixture {
 protected:
  std::string ExtraDaemonConfig() const override { return "runner: sandbox\n"; }
};

// A DockerImage container on a site whose runner is the sandbox: the refusal says which
// runner was picked and why, so the reader knows what to change.
TEST_F(SandboxSiteErrorsTest, AContainerTheRunnerCannotRunSaysWhichRunnerAndWhy) {
  fs::path model = dir_ / "docker_model";
  fs::create_directories(model);
  std::string config = ReadFile(examples_ / "model_linear" / "container_config.yaml");
  size_t type = config.find("container_type: LocalProcess");
  ASSERT_NE(type, std::string::npos);
  config.replace(type, 28, "container_type: DockerImage");
  size_t image = config.find("\nimage: ");
  ASSERT_NE(image, std::string::npos);
  config.replace(image + 8, config.find('\n', image + 1) - image - 8, "example/model:1");
  WriteFile(model / "container_config.yaml", config);
  RunResult r = Ctl({"test", "run", "--data_preparator", (examples_ / "data_preparator").string(),
                     "--model", model.string(), "--evaluator", (examples_ / "metrics").string(),
                     "--data_path", (examples_ / "demo_data" / "images").string(), "--labels_path",
                     (examples_ / "demo_data" / "labels").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("DockerImage"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(runner sandbox"), std::string::npos) << r.err;
}

// The server stopped while medperfd runs: the server is named, not the daemon's socket.
TEST_F(ErrorMessagesTest, AStoppedServerIsNotADownDaemon) {
  std::string url = proxy_->url();
  proxy_.reset();
  server_->Stop();
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"benchmark", "ls"}, {"dataset", "ls", "--mine"}}) {
    RunResult r = Ctl(args);
    ExpectOneSentence(r, url);
    EXPECT_NE(r.err.find("cannot reach the MedPerf server at " + url), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("medperfd itself is running"), std::string::npos) << r.err;
  }
}

// A certificate the daemon does not trust is a configuration error: said at once (not
// after four attempts), and not an outage.
TEST(ErrorMessagesTlsTest, AnUntrustedCertificateFailsAtOnceAsConfiguration) {
  TempDir dir;
  std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  RunResult gen = RunProcess({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                              "-addext", "subjectAltName=IP:127.0.0.1"});
  if (gen.exit_code != 0) GTEST_SKIP() << "openssl cannot make a certificate: " << gen.err;
  RunResult seed = RunProcess({BinaryPath("server/medperf-server").string(), "seed", "--db",
                               (dir / "server.db").string(), "--demo", "model", "--tokens-out",
                               (dir / "tokens.json").string()});
  ASSERT_EQ(seed.exit_code, 0) << seed.err;
  ServerProcess server(dir / "server.db", dir / "server.log");
  ASSERT_TRUE(server.Start({"--tls-cert", cert, "--tls-key", key}));
  std::string url = "https://127.0.0.1:" + std::to_string(server.port());
  std::string token = Json::parse(ReadFile(dir / "tokens.json"))["testdo@example.com"];
  WriteFile(dir / "do.token", token + "\n");
  chmod((dir / "do.token").c_str(), 0600);
  DaemonProcess daemon(dir.path(),
                       {"--server-url", url, "--token-file", (dir / "do.token").string()});
  ASSERT_TRUE(daemon.Start());

  auto start = std::chrono::steady_clock::now();
  RunResult r = daemon.Ctl({"benchmark", "ls"});
  auto took = std::chrono::steady_clock::now() - start;
  ExpectOneSentence(r, url);
  EXPECT_NE(
      r.err.find("medperfd cannot verify the TLS certificate of the MedPerf server at " + url),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("server.ca_bundle"), std::string::npos) << r.err;
  EXPECT_LT(took, std::chrono::milliseconds(3000)) << "retried like an outage";
  EXPECT_EQ(daemon.Log().find("server.unreachable"), std::string::npos) << daemon.Log();
}

// medperfd not answering is still said as such, with the socket once.
TEST(ErrorMessagesDaemonTest, ADownDaemonIsNamedWithItsSocket) {
  TempDir dir;
  std::string socket = (dir / "absent.sock").string();
  RunResult r = RunProcess({BinaryPath("ctl/medperfctl").string(), "--socket", socket, "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot reach medperfd at " + socket), std::string::npos) << r.err;
  EXPECT_EQ(Count(r.err, socket), 1) << r.err;
  EXPECT_NE(r.err.find("systemctl status medperfd"), std::string::npos) << r.err;

  // The user daemon's socket gets the user daemon's commands.
  std::string user_socket = (dir / "medperfd.sock").string();
  r = RunProcess({BinaryPath("ctl/medperfctl").string(), "--socket", user_socket, "status"},
                 std::chrono::seconds(60), "", {"XDG_RUNTIME_DIR=" + dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot reach medperfd at " + user_socket), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("medperfd --user"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("systemctl --user"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("/run/medperfd"), std::string::npos) << r.err;
}

TEST(ErrorMessagesDaemonTest, SmallDefects) {
  // `medperf-server seed --help` is help, not an unknown option.
  RunResult help = RunProcess({BinaryPath("server/medperf-server").string(), "seed", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("medperf-server seed"), std::string::npos) << help.out;

  // A token file others can read is reported with its mode in octal.
  TempDir dir;
  WriteFile(dir / "token", "t\n");
  chmod((dir / "token").c_str(), 0644);
  RunResult r =
      RunProcess({BinaryPath("ctl/medperfctl").string(), "--socket", (dir / "none.sock").string(),
                  "--token-file", (dir / "token").string(), "status"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has mode 0644"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("1a4"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace medperf::testing
