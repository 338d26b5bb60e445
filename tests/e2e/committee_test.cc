// Acceptance scenario S1 (benchmark committee tutorial) with the real binaries, the
// example containers and a loopback file server; plus the incompatible model.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/hashing.h"
#include "tests/e2e/committee_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class CommitteeTest : public CommitteeWorld {};

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST_F(CommitteeTest, S1BenchmarkCommittee) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("benchmark", kBoEmail));

  // 1. The workflow tested locally, as in the tutorial.
  std::vector<std::string> local_test = {
      "test",
      "run",
      "--data_preparator",
      Example("data_preparator/container_config.yaml").string(),
      "--model",
      Example("model_threshold").string(),  // a folder is accepted too
      "--evaluator",
      Example("metrics/container_config.yaml").string(),
      "--data_path",
      Example("demo_data/images").string(),
      "--labels_path",
      Example("demo_data/labels").string()};
  RunResult test = Ctl(local_test);
  ASSERT_EQ(test.exit_code, 0) << test.err << test.out;
  EXPECT_TRUE(Has(test.out, "Compatibility test passed")) << test.out;
  EXPECT_TRUE(Has(test.out, "AUC")) << test.out;
  for (const char* step :
       {"[prepare]", "[sanity_check]", "[statistics]", "[infer]", "[evaluate]"}) {
    EXPECT_TRUE(Has(test.err, step)) << step << "\n" << test.err;
  }
  std::string logs = test.out.substr(test.out.find("Logs: ") + 6);
  logs = logs.substr(0, logs.find('\n'));
  EXPECT_TRUE(fs::exists(fs::path(logs) / "model.log")) << logs;
  EXPECT_TRUE(fs::exists(fs::path(logs) / "prepare.log")) << logs;
  // The same inputs again: the stored report is reused; --no-cache runs it again.
  RunResult cached = Ctl(local_test);
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_TRUE(Has(cached.out, "(cached report)")) << cached.out;
  EXPECT_FALSE(Has(cached.err, "[infer]")) << cached.err;
  // The data preparation --data_preparation spelling is accepted too.
  local_test[2] = "--data_preparation";
  local_test.push_back("--no-cache");
  RunResult fresh = Ctl(local_test);
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_FALSE(Has(fresh.out, "(cached report)"));

  // 2. Pack and host the demo dataset.
  fs::path workspace = dir_ / "medperf_tutorial";
  fs::create_directories(workspace);
  fs::copy(Example("demo_data"), workspace / "demo_data", fs::copy_options::recursive);
  RunResult pack =
      Ctl({"demo", "pack", workspace.string(), "--data_path", "demo_data/images", "--labels_path",
           "demo_data/labels", "--output", (www() / "demo_data.tar.gz").string()});
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  auto demo_hash = Sha256File(www() / "demo_data.tar.gz");
  ASSERT_TRUE(demo_hash.ok());
  EXPECT_TRUE(Has(pack.out, *demo_hash)) << pack.out;
  EXPECT_EQ(ReadFile(workspace / "paths.yaml"),
            "data_path: demo_data/images\nlabels_path: demo_data/labels\n");
  // A folder outside the workspace is refused.
  RunResult outside =
      Ctl({"demo", "pack", workspace.string(), "--data_path", Example("demo_data/images").string(),
           "--labels_path", "demo_data/labels"});
  EXPECT_EQ(outside.exit_code, 2);
  EXPECT_TRUE(Has(outside.err, "must be a folder inside")) << outside.err;

  // 3. Submit the three containers by URL (plus a faulty model for the negative case).
  RunResult prep = SubmitContainer("my-prep", "data_preparator", false);
  ASSERT_EQ(prep.exit_code, 0) << prep.err;
  EXPECT_TRUE(Has(prep.out, "server UID 1")) << prep.out;
  RunResult model = SubmitContainer("my-refmodel", "model_threshold", true);
  ASSERT_EQ(model.exit_code, 0) << model.err;
  EXPECT_TRUE(Has(model.out, "server UID 2")) << model.out;
  EXPECT_TRUE(Has(model.out, "it is model 2")) << model.out;
  RunResult metrics = SubmitContainer("my-metrics", "metrics", false);
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  RunResult bad = SubmitContainer("bad-model", "model_bad_output", false);
  ASSERT_EQ(bad.exit_code, 0) << bad.err;

  Json mine = CtlJson({"container", "ls", "--mine"});
  std::vector<int> ids;
  for (const auto& c : mine) ids.push_back(c["id"].get<int>());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int>{1, 2, 3, 4}));
  RunResult table = Ctl({"mlcube", "ls", "--mine"});
  EXPECT_TRUE(Has(table.out, "my-refmodel")) << table.out;
  // The server holds what the real client sends: config, parameters, hashes.
  Json ref = CtlJson({"container", "view", "2"});
  EXPECT_EQ(ref["container_config"]["container_type"], "LocalProcess");
  EXPECT_TRUE(ref["parameters_config"].contains("labels_list")) << ref.dump();
  EXPECT_EQ(ref["additional_files_tarball_url"],
            files_->Url("model_threshold/additional_files.tar.gz"));
  EXPECT_EQ(ref["additional_files_tarball_hash"],
            *Sha256File(www() / "model_threshold/additional_files.tar.gz"));
  EXPECT_EQ(ref["image_hash"].get<std::string>().rfind("sha256:", 0), 0u);
  EXPECT_EQ(ref["state"], "OPERATION");

  std::vector<std::string> submit = {"benchmark",
                                     "submit",
                                     "--name",
                                     "tutorial_bmk",
                                     "--description",
                                     "MedPerf demo bmk",
                                     "--demo-url",
                                     files_->Url("demo_data.tar.gz"),
                                     "--data-preparation-container",
                                     "1",
                                     "--reference-model-container",
                                     "4",
                                     "--evaluator-container",
                                     "3",
                                     "--operational"};

  // 4a. An incompatible reference model (wrong output format): clear error, nothing sent.
  RunResult rejected = Ctl(submit);
  EXPECT_EQ(rejected.exit_code, 1) << rejected.out;
  EXPECT_TRUE(Has(rejected.err, "compatibility test failed")) << rejected.err;
  EXPECT_TRUE(Has(rejected.err, "could not evaluate the predictions of the model bad-model"))
      << rejected.err;
  EXPECT_TRUE(Has(rejected.err, "predictions")) << rejected.err;
  EXPECT_TRUE(CtlJson({"benchmark", "ls", "--mine"}).empty());

  // 4b. The real submission: tested, then submitted, pending until an admin approves.
  submit[11] = "2";
  RunResult submitted = Ctl(submit);
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  EXPECT_TRUE(Has(submitted.out, "server UID 1; approval status PENDING")) << submitted.out;
  EXPECT_TRUE(Has(submitted.err, "[infer]")) << submitted.err;
  Json b = CtlJson({"benchmark", "view", "1"});
  EXPECT_EQ(b["demo_dataset_tarball_url"], files_->Url("demo_data.tar.gz"));
  EXPECT_EQ(b["demo_dataset_tarball_hash"], *demo_hash);
  EXPECT_TRUE(IsSha256Hex(b["demo_dataset_generated_uid"].get<std::string>())) << b.dump();
  EXPECT_EQ(b["data_preparation_mlcube"], 1);
  EXPECT_EQ(b["reference_model"], 2);
  EXPECT_EQ(b["data_evaluator_mlcube"], 3);
  EXPECT_EQ(b["state"], "OPERATION");
  EXPECT_EQ(b["approval_status"], "PENDING");
  EXPECT_TRUE(b["metadata"]["results"].contains("AUC")) << b.dump();
  EXPECT_EQ(b["metadata"]["demo_dataset_already_prepared"], false);

  // 5. Approval is the admin's: the owner is refused, the admin approves.
  RunResult self = Ctl({"benchmark", "approve", "--benchmark", "1"});
  EXPECT_EQ(self.exit_code, 1);
  RunResult approved = CtlAs(kAdminEmail, {"benchmark", "approve", "-b", "1"});
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_TRUE(Has(approved.out, "APPROVED")) << approved.out;
  EXPECT_EQ(CtlJson({"benchmark", "view", "1"})["approval_status"], "APPROVED");
}

// The same container or benchmark submitted again (issue 13, item 1) is found on the
// server and named; nothing is registered twice and the command succeeds.
TEST_F(CommitteeTest, ResubmittingTheSameContainerOrBenchmarkReusesIt) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("benchmark", kBoEmail));
  ASSERT_EQ(SubmitContainer("my-prep", "data_preparator", false).exit_code, 0);
  ASSERT_EQ(SubmitContainer("my-refmodel", "model_threshold", true).exit_code, 0);
  ASSERT_EQ(SubmitContainer("my-metrics", "metrics", false).exit_code, 0);

  RunResult metrics = SubmitContainer("my-metrics", "metrics", false);
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_TRUE(Has(metrics.out,
                  "Container 'my-metrics' with these hashes already exists on the "
                  "server as UID 3 (OPERATION); not registered again"))
      << metrics.out;
  RunResult model = SubmitContainer("my-refmodel", "model_threshold", true);
  ASSERT_EQ(model.exit_code, 0) << model.err;
  EXPECT_TRUE(Has(model.out, "as UID 2")) << model.out;
  EXPECT_TRUE(Has(model.out, "it is model 2")) << model.out;
  EXPECT_EQ(CtlJson({"container", "ls", "--mine"}).size(), 3u) << "a container registered twice";

  // The same hashes under a new name: still that container, and --json says so.
  Json renamed =
      CtlJson({"container", "submit", "--name", "metrics-again", "--container-config-file",
               files_->Url("metrics/container_config.yaml"), "--parameters-file",
               files_->Url("metrics/parameters.yaml"), "--operational"});
  EXPECT_EQ(renamed["reused"], true) << renamed.dump();
  EXPECT_EQ(renamed["container"]["id"], 3) << renamed.dump();
  EXPECT_EQ(renamed["container"]["name"], "my-metrics") << renamed.dump();

  // A taken name with other files: the server refuses, and the message names the field
  // and the container holding the name.
  RunResult taken = Ctl({"container", "submit", "--name", "my-metrics", "--container-config-file",
                         files_->Url("model_linear/container_config.yaml"), "--parameters-file",
                         files_->Url("model_linear/parameters.yaml")});
  EXPECT_EQ(taken.exit_code, 1) << taken.out;
  EXPECT_TRUE(Has(taken.err, "field 'name'")) << taken.err;
  EXPECT_TRUE(Has(taken.err, "already taken on the server by container 3 (yours)")) << taken.err;
  // Another user submitting it under that name: the name is taken by another's container.
  RunResult theirs =
      CtlAs(kMoEmail, {"container", "submit", "--name", "my-metrics", "--container-config-file",
                       files_->Url("metrics/container_config.yaml"), "--parameters-file",
                       files_->Url("metrics/parameters.yaml"), "--operational"});
  EXPECT_EQ(theirs.exit_code, 1) << theirs.out;
  EXPECT_TRUE(Has(theirs.err, "already taken on the server by container 3 (owned by user"))
      << theirs.err;

  std::vector<std::string> submit = {"benchmark",
                                     "submit",
                                     "--name",
                                     "tutorial_bmk",
                                     "--description",
                                     "MedPerf demo bmk",
                                     "--data-preparation-container",
                                     "1",
                                     "--reference-model-container",
                                     "2",
                                     "--evaluator-container",
                                     "3",
                                     "--skip-compatibility-tests"};
  RunResult first = Ctl(submit);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(Has(first.out, "submitted with server UID 1")) << first.out;
  RunResult again = Ctl(submit);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(Has(again.out,
                  "Benchmark 'tutorial_bmk' with these containers already exists on "
                  "the server as UID 1; not submitted again"))
      << again.out;
  submit.push_back("--json");
  RunResult json = Ctl(submit);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  Json j = Json::parse(json.out, nullptr, false);
  EXPECT_EQ(j["reused"], true) << json.out;
  EXPECT_EQ(j["benchmark"]["id"], 1) << json.out;
  EXPECT_EQ(CtlJson({"benchmark", "ls", "--mine"}).size(), 1u) << "a benchmark submitted twice";

  // The same name with another evaluator is refused before any test, naming what differs.
  submit.pop_back();
  submit[11] = "1";
  RunResult other = Ctl(submit);
  EXPECT_EQ(other.exit_code, 1) << other.out;
  EXPECT_TRUE(Has(other.err, "field 'name'")) << other.err;
  EXPECT_TRUE(Has(other.err,
                  "your benchmark 1, which differs in data_evaluator_mlcube (3 there, "
                  "1 here)"))
      << other.err;
  // Another user's submission of that name: refused naming the holder, before any test.
  submit[11] = "3";
  RunResult theirs_b = CtlAs(kMoEmail, submit);
  EXPECT_EQ(theirs_b.exit_code, 1) << theirs_b.out;
  EXPECT_TRUE(Has(theirs_b.err, "already taken by benchmark 1 (owned by user")) << theirs_b.err;
}

// Views show what the server sent (issue 13, item 7): the owner is sent the benchmark's
// allow lists (empty here) and sees them empty; another user is not sent them and sees
// no such field, rather than an empty list.
TEST_F(CommitteeTest, ViewsShowOnlyTheFieldsTheServerSent) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("benchmark", kBoEmail));
  ASSERT_EQ(SubmitContainer("my-prep", "data_preparator", false).exit_code, 0);
  ASSERT_EQ(SubmitContainer("my-refmodel", "model_threshold", true).exit_code, 0);
  ASSERT_EQ(SubmitContainer("my-metrics", "metrics", false).exit_code, 0);
  RunResult submitted = Ctl({"benchmark", "submit", "--name", "b", "--description", "d",
                             "--data-preparation-container", "1", "--reference-model-container",
                             "2", "--evaluator-container", "3", "--skip-compatibility-tests"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;

  Json owner = CtlJson({"benchmark", "view", "1"});
  EXPECT_EQ(owner["dataset_auto_approval_allow_list"], Json::array()) << owner.dump();
  EXPECT_EQ(owner["model_auto_approval_allow_list"], Json::array()) << owner.dump();
  RunResult owner_text = Ctl({"benchmark", "view", "1"});
  EXPECT_TRUE(Has(owner_text.out, "dataset_auto_approval_allow_list: []")) << owner_text.out;

  RunResult other_json = CtlAs(kMoEmail, {"benchmark", "view", "1", "--json"});
  ASSERT_EQ(other_json.exit_code, 0) << other_json.err;
  Json other = Json::parse(other_json.out, nullptr, false);
  EXPECT_EQ(other["name"], "b") << other_json.out;
  EXPECT_FALSE(other.contains("dataset_auto_approval_allow_list")) << other_json.out;
  EXPECT_FALSE(other.contains("model_auto_approval_allow_list")) << other_json.out;
  RunResult other_text = CtlAs(kMoEmail, {"benchmark", "view", "1"});
  ASSERT_EQ(other_text.exit_code, 0) << other_text.err;
  EXPECT_TRUE(Has(other_text.out, "dataset_auto_approval_mode: NEVER")) << other_text.out;
  EXPECT_FALSE(Has(other_text.out, "allow_list")) << other_text.out;
  // The list gives nobody the allow lists (the real server's public serializer).
  for (const Json& b : CtlJson({"benchmark", "ls"})) {
    EXPECT_FALSE(b.contains("dataset_auto_approval_allow_list")) << b.dump();
  }
}

TEST_F(CommitteeTest, UsageErrorsNameTheFlag) {
  ASSERT_NO_FATAL_FAILURE(StartWorld("benchmark", kBoEmail));
  RunResult no_data = Ctl({"test", "run", "--model", Example("model_linear").string()});
  EXPECT_EQ(no_data.exit_code, 1);
  EXPECT_TRUE(Has(no_data.err, "without --benchmark")) << no_data.err;
  RunResult both = Ctl({"container", "submit", "--name", "x"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_TRUE(Has(both.err, "--container-config-file")) << both.err;
  RunResult no_demo =
      Ctl({"benchmark", "submit", "--name", "b", "--description", "d", "--data-preparation-mlcube",
           "1", "--reference-model-mlcube", "2", "--evaluator-mlcube", "3"});
  EXPECT_EQ(no_demo.exit_code, 1);
  EXPECT_TRUE(Has(no_demo.err, "--demo-url is required")) << no_demo.err;
  // A container config that is not valid is refused before anything is sent.
  WriteFile(www() / "broken.yaml", "container_type: LocalProcess\ntasks: {}\n");
  RunResult broken = Ctl({"container", "submit", "--name", "broken", "--container-config-file",
                          files_->Url("broken.yaml")});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_TRUE(Has(broken.err, "image")) << broken.err;
  EXPECT_TRUE(CtlJson({"container", "ls", "--mine"}).empty());
}

}  // namespace
}  // namespace medperf::testing
