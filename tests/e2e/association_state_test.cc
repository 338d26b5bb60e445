// The association a dataset already has, as every data-owner command meets it through
// medperfctl → medperfd → medperf-server: `dataset associate` on an association in force
// does nothing and says so, `benchmark run` without an approved one is refused before
// any job, and a dataset tracked again after a lost state directory is told it is
// reused (newcomer review of issue 13).
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "tests/e2e/site_fixture.h"

namespace medperf::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class AssociationStateTest : public SiteFixture {
 protected:
  // Association requests the site sent (POST /datasets/benchmarks/).
  size_t AssociationRequests() {
    size_t n = 0;
    for (const auto& r : proxy_->requests()) {
      n += r.method == "POST" && absl::StartsWith(r.target, "/api/v0/datasets/benchmarks");
    }
    return n;
  }
  // Jobs of `kind` medperfd holds (any state).
  size_t Jobs(const std::string& kind) {
    RunResult ls = Ctl({"job", "ls", "--all", "--json"});
    EXPECT_EQ(ls.exit_code, 0) << ls.err;
    Json list = Json::parse(ls.out, nullptr, false);
    size_t n = 0;
    for (const Json& j : list.value("items", Json::array())) n += j.value("kind", "") == kind;
    return n;
  }
  RunResult Associate() {
    return Ctl({"dataset", "associate", "--benchmark_uid", "1", "--data_uid", "1", "-y"});
  }
  RunResult Run() { return Ctl({"benchmark", "run", "--benchmark", "1", "--data_uid", "1"}); }
};

TEST_F(AssociationStateTest, EachStateOfTheAssociationIsSaidBeforeAnythingRuns) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels(), /*approve=*/false));
  ASSERT_EQ(AssociationRequests(), 1u);
  const size_t runs = Jobs("run");

  // PENDING: associating again runs nothing, sends nothing, and is not an error.
  RunResult again = Associate();
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("Dataset 1 has already asked to join benchmark 1 (PENDING since"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(again.err.find("HTTP 400"), std::string::npos) << again.err;
  EXPECT_EQ(again.out.find("Compatibility test"), std::string::npos) << again.out;
  EXPECT_EQ(AssociationRequests(), 1u);
  EXPECT_EQ(Jobs("run"), runs);

  // ... and `benchmark run` is refused with the state, before any job exists.
  RunResult pending = Run();
  EXPECT_EQ(pending.exit_code, 1);
  EXPECT_NE(pending.err.find("dataset 1 is not associated with benchmark 1 yet"), std::string::npos)
      << pending.err;
  EXPECT_NE(pending.err.find("PENDING until the benchmark owner approves it"), std::string::npos)
      << pending.err;
  EXPECT_EQ(pending.err.find("HTTP 400"), std::string::npos) << pending.err;
  EXPECT_EQ(Jobs("benchmark-run"), 0u);
  EXPECT_EQ(Jobs("run"), runs);

  // REJECTED: `benchmark run` says so and names the command that asks again ...
  RunResult reject =
      CtlAs("testbo", {"association", "reject", "--benchmark", "1", "--dataset_uid", "1"});
  ASSERT_EQ(reject.exit_code, 0) << reject.err;
  RunResult rejected = Run();
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_NE(rejected.err.find("the benchmark owner rejected its association request); to ask "
                              "again, run: medperfctl dataset associate -b 1 -d 1"),
            std::string::npos)
      << rejected.err;
  EXPECT_EQ(Jobs("benchmark-run"), 0u);

  // ... which sends a new request (the server allows one after a rejection) that says so.
  RunResult ask_again = Associate();
  ASSERT_EQ(ask_again.exit_code, 0) << ask_again.out << ask_again.err;
  EXPECT_NE(ask_again.out.find("status PENDING (the previous request had been rejected)"),
            std::string::npos)
      << ask_again.out;
  EXPECT_EQ(AssociationRequests(), 2u);

  // APPROVED: nothing to do, and the next step is named.
  RunResult approve =
      CtlAs("testbo", {"association", "approve", "--benchmark", "1", "--dataset_uid", "1"});
  ASSERT_EQ(approve.exit_code, 0) << approve.err;
  RunResult approved = Associate();
  EXPECT_EQ(approved.exit_code, 0) << approved.out << approved.err;
  EXPECT_NE(approved.out.find("Dataset 1 is already associated with benchmark 1 (APPROVED"),
            std::string::npos)
      << approved.out;
  EXPECT_NE(approved.out.find("Next: medperfctl benchmark run -b 1 -d 1"), std::string::npos)
      << approved.out;
  EXPECT_EQ(AssociationRequests(), 2u);
  RunResult run = Run();
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
}

// A dataset tracked again after the state directory was lost: the submit preview says
// the existing dataset is reused, and `associate` finds its association in force
// without testing a dataset that is not even prepared here yet.
TEST_F(AssociationStateTest, ADatasetReusedAfterALostStateDirectoryKeepsItsAssociation) {
  ASSERT_NO_FATAL_FAILURE(RegisterPrepareAssociate(RawData(), RawLabels()));
  ASSERT_EQ(daemon_->Stop(), 0) << daemon_->Log();
  fs::remove_all(daemon_->state_dir());
  ASSERT_TRUE(daemon_->Start());

  std::vector<std::string> submit = {"dataset",       "submit",
                                     "--name",        "mytestdata",
                                     "--data_path",   RawData().string(),
                                     "--labels_path", RawLabels().string(),
                                     "--benchmark",   "1"};
  RunResult declined = Ctl(submit, "n\n");
  EXPECT_EQ(declined.exit_code, 1);
  EXPECT_NE(declined.out.find("the existing dataset 1 will be reused and nothing new is "
                              "registered"),
            std::string::npos)
      << declined.out;
  EXPECT_EQ(declined.out.find("will be sent"), std::string::npos) << declined.out;
  EXPECT_NE(declined.err.find("Track the existing dataset 1 here?"), std::string::npos)
      << declined.err;
  RunResult reused = Ctl(submit, "y\n");
  ASSERT_EQ(reused.exit_code, 0) << reused.out << reused.err;

  RunResult associate = Associate();
  EXPECT_EQ(associate.exit_code, 0) << associate.out << associate.err;
  EXPECT_NE(associate.out.find("Dataset 1 is already associated with benchmark 1 (APPROVED"),
            std::string::npos)
      << associate.out;
  EXPECT_EQ(AssociationRequests(), 1u);
  EXPECT_EQ(Jobs("run"), 0u) << "the compatibility test ran again";
}

}  // namespace
}  // namespace medperf::testing
