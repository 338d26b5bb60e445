// Acceptance scenario S2 (model owner tutorial) with the real binaries, the example
// containers and a loopback file server; plus an incompatible model and a legacy
// mlcube.yaml submission.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/rest_client.h"
#include "tests/e2e/committee_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class ModelOwnerTest : public CommitteeWorld {};

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// The latest association rows of the caller, as `association ls --json` shows them.
Json ModelRow(const Json& rows, int model) {
  for (const auto& r : rows) {
    if (r.value("kind", "") == "model" && r.value("model", 0) == model) return r;
  }
  return Json();
}

TEST_F(ModelOwnerTest, S2ModelOwner) {
  // Benchmark 1 exists and is approved (containers 1-3, reference model 2).
  ASSERT_NO_FATAL_FAILURE(StartWorld("model", kMoEmail));

  // 1. Test the model against the benchmark: its demo data is downloaded and verified.
  RunResult test = Ctl({"test", "run", "--benchmark", "1", "--model",
                        Example("model_linear/container_config.yaml").string()});
  ASSERT_EQ(test.exit_code, 0) << test.err << test.out;
  EXPECT_TRUE(Has(test.out, "AUC")) << test.out;
  EXPECT_TRUE(Has(test.err, "fetching the demo dataset")) << test.err;
  EXPECT_TRUE(Has(test.err, "verifying its hash")) << test.err;
  EXPECT_TRUE(Has(test.out, "Logs: ")) << test.out;

  // 2. Submit the model by URL (a container with `infer` becomes model 4).
  RunResult submitted = SubmitContainer("my-modelref-cube", "model_linear", true);
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  EXPECT_TRUE(Has(submitted.out, "server UID 4")) << submitted.out;
  Json mine = CtlJson({"mlcube", "ls", "--mine"});
  ASSERT_EQ(mine.size(), 1u) << mine.dump();
  EXPECT_EQ(mine[0]["id"], 4);

  // 3. Request association: the test runs, the summary is shown, nothing is sent
  // until the owner confirms.
  RunResult declined = Ctl({"model", "associate", "--benchmark", "1", "--model_uid", "4"}, "n\n");
  EXPECT_EQ(declined.exit_code, 1);
  EXPECT_TRUE(Has(declined.out, "AUC")) << declined.out;
  EXPECT_TRUE(Has(declined.err, "Association not requested")) << declined.err;
  EXPECT_TRUE(ModelRow(CtlJson({"association", "ls"}), 4).is_null());

  RunResult associated = Ctl({"mlcube", "associate", "--benchmark", "1", "--model_uid", "4", "-y"});
  ASSERT_EQ(associated.exit_code, 0) << associated.err;
  EXPECT_TRUE(Has(associated.out, "status PENDING")) << associated.out;
  RunResult ls = Ctl({"association", "ls"});
  EXPECT_TRUE(Has(ls.out, "PENDING")) << ls.out;
  Json row = ModelRow(CtlJson({"association", "ls", "--pending"}), 4);
  ASSERT_FALSE(row.is_null());
  EXPECT_TRUE(row["metadata"]["test_result"].contains("AUC")) << row.dump();

  // 4. The benchmark owner approves.
  RunResult approve =
      CtlAs(kBoEmail, {"association", "approve", "--benchmark", "1", "--model_uid", "4"});
  ASSERT_EQ(approve.exit_code, 0) << approve.err;
  EXPECT_EQ(ModelRow(CtlJson({"association", "ls"}), 4)["approval_status"], "APPROVED");
  // Priorities are the benchmark owner's to set.
  EXPECT_EQ(Ctl({"association", "set_priority", "-b", "1", "-m", "4", "-p", "5"}).exit_code, 1);
  RunResult priority =
      CtlAs(kBoEmail, {"association", "set_priority", "-b", "1", "-m", "4", "-p", "5"});
  ASSERT_EQ(priority.exit_code, 0) << priority.err;
  EXPECT_EQ(ModelRow(CtlJson({"association", "ls"}), 4)["priority"], 5);

  // 5. An incompatible model (wrong output format) fails the test; nothing is requested.
  RunResult bad = SubmitContainer("bad-model", "model_bad_output", false);
  ASSERT_EQ(bad.exit_code, 0) << bad.err;
  RunResult refused = Ctl({"model", "associate", "-b", "1", "-m", "5", "-y"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Has(refused.err, "compatibility test failed")) << refused.err;
  EXPECT_TRUE(Has(refused.err, "is the model's output in the format")) << refused.err;
  EXPECT_TRUE(ModelRow(CtlJson({"association", "ls"}), 5).is_null());
}

// The benchmark's demo dataset is checked against its registered hash before use.
TEST_F(ModelOwnerTest, TamperedDemoDatasetIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("model", kMoEmail));
  // The admin points benchmark 1 at a different tarball (the hash stays registered).
  RestClientOptions o;
  o.server_url = server_url_;
  o.token = tokens_.at(kAdminEmail).get<std::string>();
  auto admin = RestClient::Create(o);
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE(
      admin
          ->UpdateBenchmark(BenchmarkId(1), {{"demo_dataset_tarball_url",
                                              files_->Url("model_linear/additional_files.tar.gz")}})
          .ok());
  RunResult r = Ctl({"test", "run", "-b", "1", "-m", Example("model_linear").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(Has(r.err, "demo dataset")) << r.err;
  EXPECT_TRUE(Has(r.err, "hash")) << r.err;
  EXPECT_FALSE(Has(r.err, "[infer]")) << r.err;
}

TEST_F(ModelOwnerTest, LegacyMlcubeIsStoredAsRunnableContainerConfig) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("model", kMoEmail));
  fs::create_directories(www() / "legacy");
  WriteFile(www() / "legacy/mlcube.yaml",
            "name: xrv\n"
            "docker:\n  image: mlcommons/xrv-densenet:0.0.1\n"
            "tasks:\n  infer:\n    parameters:\n      inputs:\n"
            "        data_path: data/\n"
            "        parameters_file: parameters.yaml\n"
            "        weights: additional_files/weights.pth\n"
            "      outputs:\n        output_path: {type: directory, default: predictions}\n");
  WriteFile(www() / "legacy/parameters.yaml", "threshold: 0.5\n");
  std::string digest = "sha256:" + std::string(64, 'a');
  RunResult r = Ctl({"mlcube", "submit", "--name", "legacy-cube", "--mlcube-file",
                     files_->Url("legacy/mlcube.yaml"), "--parameters-file",
                     files_->Url("legacy/parameters.yaml"), "--image-hash", digest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json c = CtlJson({"container", "view", "4"});
  const Json& config = c["container_config"];
  EXPECT_EQ(config["container_type"], "DockerImage");
  EXPECT_EQ(config["image"], "mlcommons/xrv-densenet:0.0.1");
  const Json& infer = config["tasks"]["infer"];
  EXPECT_TRUE(infer["input_volumes"].contains("additional_files")) << infer.dump();
  EXPECT_FALSE(infer["input_volumes"].contains("weights")) << infer.dump();
  std::string command = infer["run_args"]["command"].dump();
  EXPECT_TRUE(Has(command, "--weights=/mlcube_io/inputs/additional_files/weights.pth")) << command;
  EXPECT_EQ(c["parameters_config"]["threshold"], 0.5);
  EXPECT_EQ(c["image_hash"], digest);
  EXPECT_EQ(c["metadata"]["converted_from_mlcube_yaml"], true);
}

}  // namespace
}  // namespace medperf::testing
