// Issue 13 (2): an evaluator's `.nan`, `.inf` and `-.inf` (and the same in a preparator's
// statistics) reach `result view`, `dataset view` and the server faithfully, in the
// encoding the MedPerf client uses ("nan", "Infinity", "-Infinity"; docs/server.md), and
// medperfctl shows them as nan, inf and -inf. Before the fix all three became null on the
// server and blanks in medperfctl.
#include <gtest/gtest.h>

#include <fstream>

#include "core/http_client.h"
#include "tests/e2e/site_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class NonFiniteTest : public SiteFixture {
 protected:
  // The example containers, with parameters that make the metrics and the preparator's
  // statistics report non-finite values (their `extra_results` / `extra_statistics`
  // hooks, docs/examples.md).
  fs::path SeedAssets() override {
    fs::path assets = dir_ / "assets";
    fs::copy(examples_, assets, fs::copy_options::recursive);
    std::ofstream(assets / "metrics/parameters.yaml", std::ios::app)
        << "extra_results: {AUC_rare: \".nan\", ratio: \".inf\", delta: \"-.inf\"}\n";
    std::ofstream(assets / "data_preparator/parameters.yaml", std::ios::app)
        << "extra_statistics: {mean_intensity_rare: \".nan\", max_ratio: \".inf\"}\n";
    return assets;
  }
};

TEST_F(NonFiniteTest, NanAndInfinityStayDistinctFromEvaluatorToServer) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  RunResult run = Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  // medperfctl: nan, inf, -inf; finite metrics unchanged.
  RunResult view = Ctl({"result", "view", "b1m4d1"});
  ASSERT_EQ(view.exit_code, 0) << view.err;
  EXPECT_NE(view.out.find("AUC_rare: nan\n"), std::string::npos) << view.out;
  EXPECT_NE(view.out.find("ratio: inf\n"), std::string::npos) << view.out;
  EXPECT_NE(view.out.find("delta: -inf\n"), std::string::npos) << view.out;
  RunResult json_view = Ctl({"result", "view", "b1m4d1", "--json"});
  ASSERT_EQ(json_view.exit_code, 0) << json_view.err;
  Json local = Json::parse(json_view.out);
  EXPECT_EQ(local["results"]["AUC_rare"], "nan");
  EXPECT_EQ(local["results"]["ratio"], "Infinity");
  EXPECT_EQ(local["results"]["delta"], "-Infinity");
  EXPECT_TRUE(local["results"]["AUC"].is_number_float());

  // The server holds what the MedPerf client would have sent.
  RunResult submit = Ctl({"result", "submit", "--result", "b1m4d1", "-y"});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  auto on_server = As("testdo").GetResult(ResultId(local["execution_id"].get<int64_t>()));
  ASSERT_TRUE(on_server.ok()) << on_server.status();
  EXPECT_EQ(on_server->results["AUC_rare"], "nan") << on_server->results.dump();
  EXPECT_EQ(on_server->results["ratio"], "Infinity");
  EXPECT_EQ(on_server->results["delta"], "-Infinity");
  EXPECT_EQ(on_server->results["AUC"], local["results"]["AUC"]);

  // statistics.yaml → the dataset's generated_metadata.
  auto dataset = As("testdo").GetDataset(DatasetId(1));
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->generated_metadata["mean_intensity_rare"], "nan")
      << dataset->generated_metadata.dump();
  EXPECT_EQ(dataset->generated_metadata["max_ratio"], "Infinity");
  EXPECT_EQ(dataset->generated_metadata["num_cases"], 48);
  RunResult dataset_view = Ctl({"dataset", "view", "1"});
  ASSERT_EQ(dataset_view.exit_code, 0) << dataset_view.err;
  EXPECT_NE(dataset_view.out.find("mean_intensity_rare: nan\n"), std::string::npos)
      << dataset_view.out;
  EXPECT_NE(dataset_view.out.find("max_ratio: inf\n"), std::string::npos) << dataset_view.out;

  // Like DRF with STRICT_JSON, the server refuses bare NaN/Infinity literals.
  HttpRequest bare;
  bare.method = "PUT";
  bare.url = server_->url() + "/api/v0/datasets/1/";
  bare.headers = {{"Authorization", "Bearer " + tokens_["testdo"]},
                  {"Content-Type", "application/json"}};
  bare.body = R"({"generated_metadata": {"x": NaN, "y": Infinity}})";
  auto refused = HttpClient().Send(bare);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 400) << refused->body;
  EXPECT_NE(refused->body.find("JSON parse error"), std::string::npos) << refused->body;
}

}  // namespace
}  // namespace medperf::testing
