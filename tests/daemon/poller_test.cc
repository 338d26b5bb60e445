// The poller's pure parts: backoff and jitter, discovery of approved models and
// datasets (latest association row wins), and the site policy.
#include "daemon/poller.h"

#include "core/errors.h"
#include "daemon/jobs.h"

#include <gtest/gtest.h>

namespace medperf::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

PollConfig Poll(int interval_s, double jitter, int max_backoff_s) {
  PollConfig p;
  p.interval = seconds(interval_s);
  p.jitter = jitter;
  p.max_backoff = seconds(max_backoff_s);
  return p;
}

TEST(PollDelayTest, SuccessWaitsOneIntervalWithinJitter) {
  PollConfig p = Poll(60, 0.1, 900);
  EXPECT_EQ(NextPollDelay(p, 0, 0.5), milliseconds(60000));
  EXPECT_EQ(NextPollDelay(p, 0, 0.0), milliseconds(54000));
  EXPECT_GE(NextPollDelay(p, 0, 0.999999), milliseconds(65999));
  EXPECT_LE(NextPollDelay(p, 0, 0.999999), milliseconds(66000));
}

TEST(PollDelayTest, FailuresDoubleUpToTheCap) {
  PollConfig p = Poll(60, 0.0, 900);
  EXPECT_EQ(NextPollDelay(p, 1, 0.5), milliseconds(120000));
  EXPECT_EQ(NextPollDelay(p, 2, 0.5), milliseconds(240000));
  EXPECT_EQ(NextPollDelay(p, 3, 0.5), milliseconds(480000));
  EXPECT_EQ(NextPollDelay(p, 4, 0.5), milliseconds(900000));
  EXPECT_EQ(NextPollDelay(p, 1000, 0.5), milliseconds(900000));
}

TEST(PollDelayTest, JitterNeverExceedsTheCapAndSuccessResets) {
  PollConfig p = Poll(1, 0.5, 4);
  for (double u : {0.0, 0.3, 0.7, 0.99}) {
    EXPECT_LE(NextPollDelay(p, 10, u), milliseconds(4000));
    EXPECT_GE(NextPollDelay(p, 10, u), milliseconds(2000));
  }
  EXPECT_LE(NextPollDelay(p, 0, 0.99), milliseconds(1500));
}

TEST(PollDelayTest, CapBelowIntervalNeverPollsFasterWhenFailing) {
  PollConfig p = Poll(60, 0.0, 10);
  EXPECT_EQ(NextPollDelay(p, 3, 0.5), milliseconds(60000));
}

TEST(PollDelayTest, OutOfRangeInputsAreClamped) {
  PollConfig p = Poll(10, 5.0, 100);  // jitter > 1 is treated as 1
  EXPECT_GE(NextPollDelay(p, 0, 0.0), milliseconds(1));
  EXPECT_LE(NextPollDelay(p, 0, 7.0), milliseconds(20000));
}

BenchmarkModelAssociation M(int64_t model, ApprovalStatus s, const std::string& created) {
  BenchmarkModelAssociation a;
  a.model = ModelId(model);
  a.benchmark = BenchmarkId(1);
  a.approval_status = s;
  a.created_at = created;
  return a;
}

TEST(DiscoveryTest, LatestRowPerModelMustBeApproved) {
  using enum ApprovalStatus;
  std::vector<BenchmarkModelAssociation> rows = {
      M(7, kApproved, "2025-01-03T00:00:00Z"),  // server order is by priority, not time
      M(4, kApproved, "2025-01-01T00:00:00Z"),
      M(5, kPending, "2025-01-02T00:00:00Z"),
      M(6, kApproved, "2025-01-01T00:00:00Z"),
      M(6, kRejected, "2025-01-05T00:00:00Z"),  // later rejection wins
      M(8, kRejected, "2025-01-01T00:00:00Z"),
      M(8, kApproved, "2025-01-06T00:00:00Z"),  // later approval wins
  };
  std::vector<ModelId> got = ApprovedModels(rows);
  // In order of each model's first association, not the server's order.
  std::vector<ModelId> want = {ModelId(4), ModelId(8), ModelId(7)};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(ApprovedModels({}).empty());
}

TEST(DiscoveryTest, DatasetsGroupedByBenchmarkWithLatestRow) {
  auto D = [](int64_t b, int64_t d, ApprovalStatus s, const std::string& created) {
    BenchmarkDatasetAssociation a;
    a.benchmark = BenchmarkId(b);
    a.dataset = DatasetId(d);
    a.approval_status = s;
    a.created_at = created;
    return a;
  };
  using enum ApprovalStatus;
  auto got = ApprovedDatasetsByBenchmark(
      {D(1, 1, kApproved, "2025-01-01"), D(2, 1, kPending, "2025-01-01"),
       D(1, 2, kApproved, "2025-01-01"), D(1, 2, kRejected, "2025-01-02"),
       D(3, 1, kApproved, "2025-01-02")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[BenchmarkId(1)], std::vector<DatasetId>{DatasetId(1)});
  EXPECT_EQ(got[BenchmarkId(3)], std::vector<DatasetId>{DatasetId(1)});
}

TEST(PolicyTest, BenchmarksModelsAndSubmission) {
  PolicyConfig p;
  EXPECT_TRUE(FollowsBenchmark(p, BenchmarkId(9)));
  EXPECT_TRUE(AllowsModel(p, ModelId(9)));
  EXPECT_FALSE(AutoSubmits(p, BenchmarkId(9)));  // manual by default

  p.benchmarks = {1, 2};
  EXPECT_TRUE(FollowsBenchmark(p, BenchmarkId(2)));
  EXPECT_FALSE(FollowsBenchmark(p, BenchmarkId(3)));

  p.deny_models = {5};
  EXPECT_FALSE(AllowsModel(p, ModelId(5)));
  EXPECT_TRUE(AllowsModel(p, ModelId(6)));
  p.allow_models = {5, 6};
  EXPECT_FALSE(AllowsModel(p, ModelId(5)));  // deny beats allow
  EXPECT_TRUE(AllowsModel(p, ModelId(6)));
  EXPECT_FALSE(AllowsModel(p, ModelId(7)));

  p.auto_submit_benchmarks = {2};
  EXPECT_TRUE(AutoSubmits(p, BenchmarkId(2)));
  EXPECT_FALSE(AutoSubmits(p, BenchmarkId(1)));
  p.submission = SubmissionPolicy::kAuto;
  EXPECT_TRUE(AutoSubmits(p, BenchmarkId(1)));
}

TEST(UnreachableTest, OnlyTransportAndServerErrorsBackOff) {
  EXPECT_TRUE(IsServerUnreachable(absl::UnavailableError("connection refused")));
  EXPECT_TRUE(IsServerUnreachable(absl::DeadlineExceededError("timeout")));
  EXPECT_FALSE(IsServerUnreachable(absl::PermissionDeniedError("403")));
  EXPECT_FALSE(IsServerUnreachable(absl::UnauthenticatedError("401")));
  EXPECT_FALSE(IsServerUnreachable(absl::OkStatus()));
}

// The classification decides, not the status code: a TLS certificate that cannot be
// verified is a configuration error (no backoff, no server.unreachable); a 4xx never is
// an outage; run jobs are re-queued only for outages.
TEST(PollerTest, ConfigurationErrorsAndRefusalsAreNeverOutages) {
  auto info = [](ErrorClass c) {
    ErrorInfo i;
    i.error_class = c;
    if (c == ErrorClass::kConfiguration) i.object_kind = "tls";
    return i;
  };
  ErrorInfo tls = info(ErrorClass::kConfiguration);
  for (const absl::Status& st :
       {WithErrorInfo(absl::FailedPreconditionError("SSL certificate problem"), tls),
        WithErrorInfo(absl::UnavailableError("same, under an old code"), tls),
        WithErrorInfo(absl::NotFoundError("404"), info(ErrorClass::kNotFound)),
        WithErrorInfo(absl::InvalidArgumentError("400"), info(ErrorClass::kInvalidInput))}) {
    EXPECT_FALSE(IsServerUnreachable(st)) << st;
    EXPECT_FALSE(IsTransient(st)) << st;
  }
  absl::Status down =
      WithErrorInfo(absl::UnavailableError("refused"), info(ErrorClass::kServerUnreachable));
  EXPECT_TRUE(IsServerUnreachable(down));
  EXPECT_TRUE(IsTransient(down));
}

}  // namespace
}  // namespace medperf::daemon
