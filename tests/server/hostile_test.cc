// Hostile and malformed input against the server, plus its command line: seeding (with
// and without assets), user add, reset, TLS-less serve and graceful shutdown.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>

#include "core/hashing.h"
#include "tests/server/server_fixture.h"

namespace medperf::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;
namespace fs = std::filesystem;

class HostileTest : public ServerFixture {};

TEST_F(HostileTest, MalformedJsonBodyIs400WithAClearMessage) {
  HttpResponse r = Raw("POST", "/api/v0/datasets/", "{\"name\": \"x\", ");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("JSON parse error"));
  r = Raw("PUT", "/api/v0/benchmarks/1/", "\xff\xfe garbage", kBo);
  EXPECT_EQ(r.status, 400);
  r = Raw("POST", "/api/v0/datasets/", "[1, 2, 3]");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("Expected a dictionary"));
  r = Raw("POST", "/api/v0/datasets/", "\"just a string\"");
  EXPECT_EQ(r.status, 400);
}

TEST_F(HostileTest, WrongTypesNameTheField) {
  Json body{
      {"name", 12},           {"input_data_hash", "h"},         {"generated_uid", "u"},
      {"split_seed", "zero"}, {"data_preparation_mlcube", "1"}, {"submitted_as_prepared", "no"}};
  HttpResponse r = Raw("POST", "/api/v0/datasets/", body.dump());
  ASSERT_EQ(r.status, 400) << r.body;
  Json errors = Json::parse(r.body);
  EXPECT_EQ(errors["name"][0], "Not a valid string.");
  EXPECT_EQ(errors["split_seed"][0], "A valid integer is required.");
  EXPECT_THAT(errors["data_preparation_mlcube"][0].get<std::string>(),
              HasSubstr("Expected pk value"));
  EXPECT_EQ(errors["submitted_as_prepared"][0], "Must be a valid boolean.");
  // null for a non-nullable string (the real client's old bug) is refused.
  body = ToJson(MakeDataset("n", "u"));
  body["description"] = nullptr;
  r = Raw("POST", "/api/v0/datasets/", body.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("may not be null"));
  // Over-long strings.
  body = ToJson(MakeDataset(std::string(129, 'n'), "u"));
  r = Raw("POST", "/api/v0/datasets/", body.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("no more than 128 characters"));
  // Huge integers and enum garbage.
  r = Raw("PUT", "/api/v0/benchmarks/1/", R"({"state": "PRODUCTION"})", kBo);
  EXPECT_EQ(r.status, 400);
  r = Raw("POST", "/api/v0/datasets/",
          R"({"name":"a","input_data_hash":"h","generated_uid":"u","split_seed":1e400,)"
          R"("data_preparation_mlcube":1,"submitted_as_prepared":false})");
  EXPECT_EQ(r.status, 400);
}

TEST_F(HostileTest, HugeBodyIsRefusedAndTheServerStaysUp) {
  std::string huge = "{\"name\": \"" + std::string(9 << 20, 'x') + "\"}";
  HttpClient http;
  HttpRequest req;
  req.method = "POST";
  req.url = url() + "/api/v0/datasets/";
  req.body = huge;
  req.headers.emplace_back("Authorization", "Bearer " + tokens_.at(kDo));
  auto r = http.Send(req);
  // Either a 413 answer or a connection the server cut: never a crash.
  if (r.ok()) {
    EXPECT_EQ(r->status, 413);
  }
  EXPECT_TRUE(server_->Alive());
  ASSERT_TRUE(As(kDo).GetMe().ok());
}

TEST_F(HostileTest, UnknownIdsPathsAndMethods) {
  EXPECT_EQ(Raw("GET", "/api/v0/datasets/999999999999999999999/", "").status, 404);
  EXPECT_EQ(Raw("GET", "/api/v0/datasets/-1/", "").status, 404);
  EXPECT_EQ(Raw("GET", "/api/v0/datasets/0/", "").status, 404);
  EXPECT_EQ(Raw("GET", "/api/v0/nothing/", "").status, 404);
  EXPECT_EQ(Raw("GET", "/etc/passwd", "").status, 404);
  EXPECT_EQ(Raw("GET", "/api/v0/benchmarks/1/../../../", "").status, 404);
  EXPECT_EQ(Raw("PATCH", "/api/v0/benchmarks/1/", "{}").status, 405);
  EXPECT_EQ(Raw("POST", "/api/v0/benchmarks/1/", "{}").status, 405);
  // An unknown route 404s before authentication; a known one needs a token.
  EXPECT_EQ(Raw("GET", "/api/v0/benchmarks/", "", "").status, 401);
  HttpResponse r = Raw("GET", "/api/v0/benchmarks/", "", "");
  EXPECT_THAT(r.body, HasSubstr("Authentication credentials were not provided"));
  // SQL-looking filter values are plain data.
  auto list = As(kDo).ListBenchmarks({{"name", "x' OR '1'='1"}});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->empty());
  // Unknown JSON keys are ignored, deep nesting in a JSON field is stored verbatim.
  Json deep = Json::object();
  for (int i = 0; i < 200; ++i) deep = Json{{"d", deep}};
  Dataset d = MakeDataset("deep", "deep-uid");
  d.user_metadata = deep;
  Json body = ToJson(d);
  body["surprise"] = {1, 2, 3};
  r = Raw("POST", "/api/v0/datasets/", body.dump());
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(HostileTest, AbsurdlyNestedJsonIsRefused) {
  std::string bomb = "{\"name\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  HttpResponse r = Raw("POST", "/api/v0/datasets/", bomb);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("nested deeper"));
  EXPECT_TRUE(server_->Alive());
}

TEST_F(HostileTest, ConcurrentWritersKeepInvariants) {
  // Eight threads race to create an association for the same dataset: exactly one
  // PENDING row may result.
  Dataset d = OperationalDataset("race");
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (As(kDo).CreateDatasetAssociation(d.id, BenchmarkId(1), Json::object()).ok()) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  auto rows = As(kDo).GetDatasetAssociations(d.id, BenchmarkId(1));
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
}

TEST_F(HostileTest, SigtermShutsDownGracefully) {
  int status = server_->Stop(SIGTERM, std::chrono::seconds(10));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_THAT(ServerLog(), HasSubstr("shutting down"));
  // The data survives a restart.
  StartServer();
  auto b = As(kDo).GetBenchmark(BenchmarkId(1));
  ASSERT_TRUE(b.ok()) << b.status();
}

class CliTest : public ::testing::Test {
 public:
  TempDir dir_;
  std::string db() const { return (dir_ / "db.sqlite").string(); }
};

TEST_F(CliTest, SeedWritesPrivateTokensAndRefusesANonEmptyDb) {
  std::string tokens = (dir_ / "tokens.json").string();
  RunResult r = ::medperf::testing::Run(
      {ServerBinary(), "seed", "--db", db(), "--demo", "benchmark", "--tokens-out", tokens});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat(tokens.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Json t = Json::parse(ReadFile(tokens));
  EXPECT_EQ(t.size(), 4u);
  for (const char* e : {kAdmin, kBo, kMo, kDo}) EXPECT_TRUE(t.contains(e)) << e;
  // The DB stores hashes only.
  EXPECT_EQ(ReadFile(db()).find(t[kBo].get<std::string>()), std::string::npos);
  r = ::medperf::testing::Run(
      {ServerBinary(), "seed", "--db", db(), "--demo", "benchmark", "--tokens-out", tokens});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("reset"));
  r = ::medperf::testing::Run({ServerBinary(), "reset", "--db", db()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = ::medperf::testing::Run(
      {ServerBinary(), "seed", "--db", db(), "--demo", "model", "--tokens-out", tokens});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("placeholder"));
}

TEST_F(CliTest, UserAddAndBadArguments) {
  RunResult r = ::medperf::testing::Run(
      {ServerBinary(), "user", "add", "--db", db(), "--email", "a@b.org", "--role", "admin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), 65u);  // 64 hex + newline
  r = ::medperf::testing::Run(
      {ServerBinary(), "user", "add", "--db", db(), "--email", "a@b.org", "--role", "user"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  r = ::medperf::testing::Run(
      {ServerBinary(), "user", "add", "--db", db(), "--email", "c@d.org", "--role", "root"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--role"));
  r = ::medperf::testing::Run({ServerBinary(), "serve", "--db", db(), "--port", "99999"});
  EXPECT_NE(r.exit_code, 0);
  r = ::medperf::testing::Run({ServerBinary(), "serve", "--db", db(), "--bogus", "1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));
  r = ::medperf::testing::Run({ServerBinary(), "seed", "--db", db(), "--demo", "everything",
                               "--tokens-out", (dir_ / "t.json").string()});
  EXPECT_NE(r.exit_code, 0);
  r = ::medperf::testing::Run({ServerBinary(), "frobnicate"});
  EXPECT_NE(r.exit_code, 0);
}

TEST_F(CliTest, SeedFromAssetsHashesFilesAndConvertsYaml) {
  fs::path assets = dir_ / "assets";
  fs::path exe = dir_ / "bin" / "run.sh";
  WriteFile(exe, "#!/bin/sh\nexit 0\n");
  auto config = [&](const std::string& task) {
    return "container_type: LocalProcess\nimage: " + exe.string() + "\ntasks:\n  " + task +
           ":\n    run_args: {command: \"run " + task +
           "\"}\n    input_volumes:\n"
           "      data_path: {mount_path: /mlcommons/volumes/data, type: directory}\n";
  };
  WriteFile(assets / "data_preparator" / "container_config.yaml", config("prepare"));
  WriteFile(assets / "data_preparator" / "parameters.yaml", "labels: [a, b]\nsize: 28\n");
  WriteFile(assets / "model_threshold" / "container_config.yaml", config("infer"));
  WriteFile(assets / "model_threshold" / "parameters.yaml", "threshold: 0.5\nname: '0.5'\n");
  WriteFile(assets / "model_threshold" / "additional_files.tar.gz", "weights-1");
  WriteFile(assets / "model_linear" / "container_config.yaml", config("infer") + "# linear\n");
  WriteFile(assets / "model_linear" / "parameters.yaml", "slope: 2\n");
  WriteFile(assets / "model_linear" / "additional_files.tar.gz", "weights-2");
  WriteFile(assets / "metrics" / "container_config.yaml", config("evaluate"));
  WriteFile(assets / "metrics" / "parameters.yaml", "");
  WriteFile(assets / "demo_data.tar.gz", "demo");
  std::string tokens = (dir_ / "tokens.json").string();
  RunResult r = ::medperf::testing::Run({ServerBinary(), "seed", "--db", db(), "--demo", "data",
                                         "--tokens-out", tokens, "--assets", assets.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  int port = FreePort();
  Process server({ServerBinary(), "serve", "--db", db(), "--port", std::to_string(port)},
                 dir_ / "server.log");
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(dir_ / "server.log").find("listening") != std::string::npos; }));
  RestClientOptions o;
  o.server_url = "127.0.0.1:" + std::to_string(port);
  o.server_url = "http://" + o.server_url;
  o.token = Json::parse(ReadFile(tokens))[kDo];
  auto client = RestClient::Create(o);
  ASSERT_TRUE(client.ok());
  auto m2 = client->GetModel(ModelId(2));
  ASSERT_TRUE(m2.ok()) << m2.status();
  ASSERT_TRUE(m2->container.has_value());
  const Container& c = *m2->container;
  EXPECT_EQ(c.image_hash, "sha256:" + *Sha256File(exe));
  EXPECT_EQ(c.additional_files_tarball_hash, Sha256Hex("weights-1"));
  EXPECT_EQ(c.additional_files_tarball_url,
            "file://" + (assets / "model_threshold" / "additional_files.tar.gz").string());
  EXPECT_EQ(c.parameters_config["threshold"], 0.5);
  EXPECT_EQ(c.parameters_config["name"], "0.5");  // quoted stays a string
  EXPECT_EQ(c.container_config["tasks"]["infer"]["run_args"]["command"], "run infer");
  auto metrics = client->GetContainer(ContainerId(3));
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->parameters_config, Json::object());
  auto prep = client->GetContainer(ContainerId(1));
  ASSERT_TRUE(prep.ok());
  EXPECT_EQ(prep->parameters_config["labels"], Json({"a", "b"}));
  EXPECT_EQ(prep->parameters_config["size"], 28);
  auto b = client->GetBenchmark(BenchmarkId(1));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->demo_dataset_tarball_hash, Sha256Hex("demo"));
  EXPECT_EQ(b->state, EntityState::kOperation);
  EXPECT_EQ(b->approval_status, ApprovalStatus::kApproved);
  auto m4 = client->GetModel(ModelId(4));
  ASSERT_TRUE(m4.ok());
  EXPECT_EQ(m4->container->additional_files_tarball_hash, Sha256Hex("weights-2"));
}

TEST_F(CliTest, ServesTlsAndTheClientVerifiesWithACaBundle) {
  std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
  RunResult gen = ::medperf::testing::Run(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
       cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  if (gen.exit_code != 0) GTEST_SKIP() << "openssl cannot make a certificate: " << gen.err;
  std::string tokens = (dir_ / "tokens.json").string();
  ASSERT_EQ(::medperf::testing::Run(
                {ServerBinary(), "seed", "--db", db(), "--demo", "model", "--tokens-out", tokens})
                .exit_code,
            0);
  Process server(
      {ServerBinary(), "serve", "--db", db(), "--port", "0", "--tls-cert", cert, "--tls-key", key},
      dir_ / "server.log");
  // The whole line, port included: the log may be read while it is being written.
  const std::string prefix = "listening on https://127.0.0.1:";
  std::string port;
  ASSERT_TRUE(WaitFor([&] {
    std::string log = ReadFile(dir_ / "server.log");
    size_t at = log.find(prefix);
    if (at == std::string::npos) return false;
    size_t end = log.find('\n', at);
    if (end == std::string::npos) return false;
    port = log.substr(at + prefix.size(), end - at - prefix.size());
    return true;
  })) << ReadFile(dir_ / "server.log");
  RestClientOptions o;
  o.server_url = "https://127.0.0.1:" + port;
  o.token = Json::parse(ReadFile(tokens))[kDo];
  o.max_attempts = 1;
  auto untrusted = RestClient::Create(o);
  ASSERT_TRUE(untrusted.ok());
  EXPECT_FALSE(untrusted->GetMe().ok());  // self-signed: refused without the bundle
  o.tls.ca_bundle = cert;
  auto trusted = RestClient::Create(o);
  ASSERT_TRUE(trusted.ok());
  auto me = trusted->GetMe();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->email, kDo);
  auto b = trusted->GetBenchmark(BenchmarkId(1));
  ASSERT_TRUE(b.ok()) << b.status();
  // Pagination links keep the https scheme.
  auto page = trusted->GetJson("/mlcubes/?limit=1");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ((*page)["next"], o.server_url + "/api/v0/mlcubes/?limit=1&offset=1");
}

TEST_F(CliTest, SeedWithBrokenAssetsFailsClearly) {
  fs::path assets = dir_ / "assets";
  WriteFile(assets / "data_preparator" / "container_config.yaml", "tasks: [unclosed\n");
  RunResult r = ::medperf::testing::Run({ServerBinary(), "seed", "--db", db(), "--demo", "model",
                                         "--tokens-out", (dir_ / "t.json").string(), "--assets",
                                         assets.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("container_config.yaml"));
}

}  // namespace
}  // namespace medperf::testing
