// The remote code policy (issue 11, item 6) through the real server, medperfd and
// medperfctl: a LocalProcess container from the server runs only when the site's config
// allow-lists it by server id and image hash, and whatever the server marks
// `is_valid: false` is never fetched or run, at benchmark run, dataset prepare, test run
// and in the unattended poller, with the reason shown. (Local `test run` folders need no
// allow-list: committee_test's local test runs with an empty one.)
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/site_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// proto3 JSON prints int64 as a string; accept both.
int64_t AsId(const Json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_string()) return std::stoll(j.get<std::string>());
  return 0;
}

class RemoteCodePolicyTest : public SiteFixture {
 protected:
  std::string Uid(int64_t model) const { return "b1m" + std::to_string(model) + "d1"; }

  RunResult RunModel(int64_t model) {
    return Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1", "--models",
                std::to_string(model)});
  }

  // Nothing of `model` ran on dataset 1: no local result and no output folder.
  void ExpectNothingRan(int64_t model) {
    EXPECT_NE(Ctl({"result", "view", Uid(model)}).exit_code, 0) << "a result exists";
    EXPECT_FALSE(fs::exists(daemon_->state_dir() / "results" / Uid(model)));
  }

  // The run jobs medperfd has for `model`.
  int RunJobsFor(int64_t model) {
    RunResult r = Ctl({"job", "ls", "--all", "--json", "--limit", "1000"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    int n = 0;
    if (!j.is_object() || !j.contains("items")) return n;
    for (const auto& item : j["items"]) {
      if (item.value("kind", "") == "run" && AsId(item.value("model", Json())) == model) ++n;
    }
    return n;
  }

  std::vector<Json> Events(const std::string& kind) {
    RunResult r = Ctl({"watch", "--json", "--after", "0", "--limit", "100000", "--kind", kind});
    std::vector<Json> out;
    size_t pos = 0;
    while (pos < r.out.size()) {
      size_t nl = r.out.find('\n', pos);
      if (nl == std::string::npos) nl = r.out.size();
      Json j = Json::parse(r.out.substr(pos, nl - pos), nullptr, false);
      if (j.is_object()) out.push_back(j);
      pos = nl + 1;
    }
    return out;
  }

  std::string Invalid(const std::string& kind, int64_t id, const std::string& name) {
    return kind + " " + std::to_string(id) + " (" + name +
           ") is marked invalid on the server (is_valid: false); it will not be fetched or run";
  }
};

TEST_F(RemoteCodePolicyTest, ServerLocalProcessModelRunsOnlyWhenAllowListed) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  const std::vector<AllowedContainer> seeded = allowed_;
  // A model (a host executable) the site has not reviewed.
  int64_t model = AddApprovedModel("model_faulty/network", "unreviewed-model", /*allow=*/false);
  fs::path exe = ExecutableOf(examples_ / "model_faulty/network");
  std::string hash = LocalProcessHash(exe);

  RunResult refused = RunModel(model);
  std::string all = refused.out + refused.err;
  EXPECT_EQ(refused.exit_code, 1) << all;
  EXPECT_TRUE(Has(all, "container " + std::to_string(model) +
                           " (unreviewed-model) is a LocalProcess container"))
      << all;
  EXPECT_TRUE(Has(all, exe.string())) << all;
  // The how-to: the exact YAML to add, with this container's id and hash.
  EXPECT_TRUE(Has(all, "sandbox:\n  allow_local_process:\n    - container: " +
                           std::to_string(model) + "\n      image_hash: " + hash + "\n"))
      << all;
  EXPECT_TRUE(Has(all, "medperfd.yaml")) << all;
  EXPECT_EQ(RunJobsFor(model), 0) << "a refused model gets no job";
  ExpectNothingRan(model);

  // An entry with another hash (e.g. what the model was when the site reviewed it).
  std::vector<AllowedContainer> stale = seeded;
  stale.push_back({model, "sha256:" + std::string(64, '0'), "stale"});
  ASSERT_NO_FATAL_FAILURE(SetAllowList(stale));
  RunResult wrong = RunModel(model);
  all = wrong.out + wrong.err;
  EXPECT_EQ(wrong.exit_code, 1) << all;
  EXPECT_TRUE(Has(all, "changed after the site allow-listed it")) << all;
  EXPECT_TRUE(Has(all, "    - container: " + std::to_string(model) + "\n      image_hash: " + hash))
      << all;
  ExpectNothingRan(model);

  // Allow-listed with the right hash, it runs.
  std::vector<AllowedContainer> reviewed = seeded;
  reviewed.push_back({model, hash, exe.string()});
  ASSERT_NO_FATAL_FAILURE(SetAllowList(reviewed));
  RunResult ran = RunModel(model);
  EXPECT_EQ(ran.exit_code, 0) << ran.out << ran.err << daemon_->Log();
  EXPECT_TRUE(Has(ran.out, "1 ran successfully")) << ran.out;
  RunResult view = Ctl({"result", "view", Uid(model), "--json"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  EXPECT_EQ(Json::parse(view.out).value("error", ""), "") << view.out;
}

TEST_F(RemoteCodePolicyTest, ExecutableChangedAfterAllowListingIsRefused) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  // The site reviewed and allow-listed this copy; then someone replaced it on disk.
  fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  chmod(bin.c_str(), 0755);
  fs::path exe = bin / "model";
  fs::copy_file(ExecutableOf(examples_ / "model_faulty/network"), exe);
  int64_t model = AddApprovedModel("model_faulty/network", "swapped-model", /*allow=*/true, exe);
  std::string reviewed = LocalProcessHash(exe);
  { std::ofstream(exe, std::ios::app) << "tampered"; }
  std::string now = LocalProcessHash(exe);
  ASSERT_NE(now, reviewed);

  RunResult r = RunModel(model);
  std::string all = r.out + r.err;
  EXPECT_EQ(r.exit_code, 1) << all;
  EXPECT_TRUE(Has(all, "the executable " + exe.string() + " on this machine hashes to " + now))
      << all;
  EXPECT_TRUE(Has(all, reviewed)) << all;
  ExpectNothingRan(model);
}

TEST_F(RemoteCodePolicyTest, InvalidModelAndEvaluatorAreRefusedAtBenchmarkRun) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  ASSERT_TRUE(As("testadmin").UpdateModel(ModelId(4), {{"is_valid", false}}).ok());

  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  std::string all = run.out + run.err;
  EXPECT_EQ(run.exit_code, 1) << all;
  EXPECT_TRUE(Has(all, Invalid("model", 4, "my-modelref-cube"))) << all;
  EXPECT_TRUE(Has(run.out, "Total number of models: 2")) << run.out;
  EXPECT_TRUE(Has(run.out, "1 failed")) << run.out;
  EXPECT_EQ(RunJobsFor(4), 0);
  ExpectNothingRan(4);
  EXPECT_FALSE(fs::exists(daemon_->state_dir() / "containers" / "4")) << "it was fetched";

  // Without a valid evaluator nothing is evaluated at all.
  ASSERT_TRUE(As("testadmin").UpdateContainer(ContainerId(3), {{"is_valid", false}}).ok());
  RunResult none = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1", "--no-cache"});
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_TRUE(Has(none.err, Invalid("container", 3, "my-metrics"))) << none.err;
}

TEST_F(RemoteCodePolicyTest, InvalidPreparatorIsRefusedAtPrepareAndTestRun) {
  RunResult submit =
      Ctl({"dataset", "submit", "--name", "mytestdata", "--data_path", RawData().string(),
           "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  ASSERT_TRUE(As("testadmin").UpdateContainer(ContainerId(1), {{"is_valid", false}}).ok());

  RunResult prepare = Ctl({"dataset", "prepare", "--data_uid", "1"});
  EXPECT_EQ(prepare.exit_code, 1) << prepare.out;
  EXPECT_TRUE(Has(prepare.err, Invalid("container", 1, "my-prep"))) << prepare.err;
  EXPECT_FALSE(fs::exists(daemon_->state_dir() / "containers" / "1")) << "it was fetched";
  EXPECT_FALSE(fs::exists(daemon_->state_dir() / "datasets" / "1" / "logs" / "prepare.log"));

  // Nor is it used to register more data, or in a test against the benchmark.
  RunResult again = Ctl({"dataset", "submit", "--name", "other", "--data_path", RawData().string(),
                         "--labels_path", RawLabels().string(), "--benchmark", "1", "-y"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Has(again.err, Invalid("container", 1, "my-prep"))) << again.err;
  RunResult test =
      Ctl({"test", "run", "--benchmark", "1", "--model", (examples_ / "model_linear").string()});
  EXPECT_EQ(test.exit_code, 1) << test.out;
  EXPECT_TRUE(Has(test.err, Invalid("container", 1, "my-prep"))) << test.err;
  EXPECT_FALSE(Has(test.err, "[prepare]")) << test.err;
}

TEST_F(RemoteCodePolicyTest, PollerQueuesNoInvalidOrUnlistedModel) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  int64_t invalid = AddApprovedModel("model_faulty/network", "invalid-model");
  ASSERT_TRUE(As("testadmin").UpdateModel(ModelId(invalid), {{"is_valid", false}}).ok());
  int64_t unlisted =
      AddApprovedModel("model_faulty/write_outside", "unlisted-model", /*allow=*/false);

  // Polling is off in this fixture; `sync` polls once, as the timer would.
  for (int poll = 0; poll < 2; ++poll) {
    RunResult sync = Ctl({"sync"});
    ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  }
  EXPECT_EQ(RunJobsFor(4), 1) << "the valid, allow-listed model is queued";
  EXPECT_EQ(RunJobsFor(invalid), 0);
  EXPECT_EQ(RunJobsFor(unlisted), 0);

  // Each refusal is announced once, with the reason.
  std::map<int64_t, std::vector<std::string>> reasons;
  for (const Json& e : Events("model.refused")) {
    const Json& fields = e.contains("fields") ? e["fields"] : e;
    reasons[AsId(fields.value("model", Json()))].push_back(e.dump());
  }
  ASSERT_EQ(reasons[invalid].size(), 1u) << "announced once";
  EXPECT_TRUE(Has(reasons[invalid][0], "is marked invalid on the server (is_valid: false)"))
      << reasons[invalid][0];
  ASSERT_EQ(reasons[unlisted].size(), 1u);
  EXPECT_TRUE(Has(reasons[unlisted][0], "allow_local_process")) << reasons[unlisted][0];
  EXPECT_EQ(reasons.count(4), 0u);
}

}  // namespace
}  // namespace medperf::testing
