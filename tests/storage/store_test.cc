#include "storage/store.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/test_support.h"

namespace medperf::storage {
namespace {

using ::medperf::testing::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(dir_ / "state.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  DatasetRecord Dataset(int64_t id) {
    DatasetRecord d;
    d.id = DatasetId(id);
    d.name = "ds" + std::to_string(id);
    d.benchmark = BenchmarkId(1);
    d.prep_container = ContainerId(1);
    d.raw_data_path = "/data/images";
    d.raw_labels_path = "/data/labels";
    d.input_data_hash = "hash" + std::to_string(id);
    return d;
  }

  JobRecord RunJob(int64_t b, int64_t m, int64_t d) {
    JobRecord j;
    j.kind = "run";
    j.benchmark = BenchmarkId(b);
    j.model = ModelId(m);
    j.dataset = DatasetId(d);
    return j;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, DatasetRoundTripAndUpdate) {
  ASSERT_TRUE(store_->PutDataset(Dataset(1)).ok());
  auto d = store_->GetDataset(DatasetId(1));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->name, "ds1");
  EXPECT_EQ(d->benchmark, BenchmarkId(1));
  EXPECT_EQ(d->state, "DEVELOPMENT");
  EXPECT_FALSE(d->created_at.empty());
  d->state = "OPERATION";
  d->generated_uid = "prepared";
  ASSERT_TRUE(store_->PutDataset(*d).ok());
  auto again = store_->GetDataset(DatasetId(1));
  EXPECT_EQ(again->state, "OPERATION");
  EXPECT_EQ(again->generated_uid, "prepared");
  EXPECT_EQ(again->created_at, d->created_at);
  EXPECT_EQ(store_->ListDatasets()->size(), 1u);
}

TEST_F(StoreTest, UnknownDatasetIsNotFoundWithHint) {
  auto d = store_->GetDataset(DatasetId(42));
  ASSERT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("dataset submit"), std::string::npos);
}

TEST_F(StoreTest, InvalidStateIsRejectedByTheSchema) {
  DatasetRecord d = Dataset(1);
  d.state = "SOMETHING";
  EXPECT_FALSE(store_->PutDataset(d).ok());
  EXPECT_EQ(store_->GetDataset(DatasetId(1)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ResultNeedsItsDataset) {
  ResultRecord r(LocalResultUid(BenchmarkId(1), ModelId(4), DatasetId(9)));
  absl::Status st = store_->PutResult(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
}

TEST_F(StoreTest, ResultRoundTripAndFilter) {
  ASSERT_TRUE(store_->PutDataset(Dataset(1)).ok());
  ASSERT_TRUE(store_->PutDataset(Dataset(2)).ok());
  for (int m : {2, 4}) {
    ResultRecord r(LocalResultUid(BenchmarkId(1), ModelId(m), DatasetId(1)));
    r.metrics_json = R"({"AUC": 0.9})";
    r.partial = (m == 4);
    ASSERT_TRUE(store_->PutResult(r).ok());
  }
  ResultRecord other(LocalResultUid(BenchmarkId(1), ModelId(2), DatasetId(2)));
  ASSERT_TRUE(store_->PutResult(other).ok());

  auto r = store_->GetResult(*LocalResultUid::Parse("b1m4d1"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->partial);
  EXPECT_EQ(r->metrics_json, R"({"AUC": 0.9})");
  EXPECT_FALSE(r->submitted_at.has_value());

  EXPECT_EQ(store_->ListResults()->size(), 3u);
  EXPECT_EQ(store_->ListResults({.dataset = DatasetId(1)})->size(), 2u);
  EXPECT_EQ(store_->ListResults({.model = ModelId(2)})->size(), 2u);
  EXPECT_EQ(store_->ListResults({.benchmark = BenchmarkId(5)})->size(), 0u);

  r->server_id = ResultId(17);
  r->submitted_at = NowTimestamp();
  ASSERT_TRUE(store_->PutResult(*r).ok());
  auto again = store_->GetResult(r->uid);
  EXPECT_EQ(again->server_id, ResultId(17));
  EXPECT_TRUE(again->submitted_at.has_value());
  EXPECT_EQ(store_->ListResults()->size(), 3u);
}

TEST_F(StoreTest, OnlyOneUnfinishedRunJobPerTriple) {
  auto first = store_->AddJob(RunJob(1, 4, 1));
  ASSERT_TRUE(first.ok());
  auto dup = store_->AddJob(RunJob(1, 4, 1));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store_->AddJob(RunJob(1, 5, 1)).ok());
  // Once finished, the same triple may be queued again (a retry).
  auto job = *store_->GetJob(*first);
  job.state = JobState::kFailed;
  ASSERT_TRUE(store_->UpdateJob(job).ok());
  EXPECT_TRUE(store_->AddJob(RunJob(1, 4, 1)).ok());
}

// Retention forgets old finished jobs, but never the newest run job of a triple (it
// stops the poller from re-creating failed or cancelled work) nor unfinished jobs.
TEST_F(StoreTest, PruningKeepsUnfinishedJobsAndTheNewestRunJobOfEachTriple) {
  auto finish = [&](JobId id, JobState state) {
    JobRecord j = *store_->GetJob(id);
    j.state = state;
    ASSERT_TRUE(store_->UpdateJob(j).ok());
  };
  JobId old_run = *store_->AddJob(RunJob(1, 4, 1));
  finish(old_run, JobState::kFailed);
  JobId newest_run = *store_->AddJob(RunJob(1, 4, 1));
  finish(newest_run, JobState::kCancelled);
  JobId other_triple = *store_->AddJob(RunJob(1, 5, 1));
  finish(other_triple, JobState::kDone);
  JobId queued = *store_->AddJob(RunJob(1, 6, 1));
  JobRecord prepare;
  prepare.kind = "prepare";
  JobId interactive = *store_->AddJob(prepare);
  finish(interactive, JobState::kDone);

  // Nothing is older than a time in the past.
  auto none = store_->PruneFinishedJobs("2000-01-01T00:00:00.000000Z");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  auto pruned = store_->PruneFinishedJobs("9999-01-01T00:00:00.000000Z");
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  std::set<int64_t> gone;
  for (const JobRecord& j : *pruned) gone.insert(j.id.value());
  EXPECT_EQ(gone, (std::set<int64_t>{old_run.value(), interactive.value()}));
  EXPECT_FALSE(store_->GetJob(old_run).ok());
  EXPECT_TRUE(store_->GetJob(newest_run).ok());
  EXPECT_TRUE(store_->GetJob(other_triple).ok());
  EXPECT_TRUE(store_->GetJob(queued).ok());
  EXPECT_EQ(store_->ListRunJobsFor(BenchmarkId(1), ModelId(4), DatasetId(1))->size(), 1u);
}

TEST_F(StoreTest, PruningEventsRemovesOnlyOlderOnes) {
  ASSERT_TRUE(store_->AppendEvent("a", "first").ok());
  ASSERT_TRUE(store_->AppendEvent("b", "second").ok());
  EXPECT_EQ(*store_->PruneEvents("2000-01-01T00:00:00.000000Z"), 0);
  EXPECT_EQ(store_->ListEvents(0, 10)->size(), 2u);
  EXPECT_EQ(*store_->PruneEvents("9999-01-01T00:00:00.000000Z"), 2);
  EXPECT_TRUE(store_->ListEvents(0, 10)->empty());
  // Ids keep growing: a watcher resuming after the last id it saw misses nothing.
  ASSERT_TRUE(store_->AppendEvent("c", "third").ok());
  EXPECT_EQ(store_->ListEvents(0, 10)->front().id, 3);
}

TEST_F(StoreTest, ClaimCountsAttemptsAndRequeueRecoversInterruptedJobs) {
  ASSERT_TRUE(store_->AddJob(RunJob(1, 4, 1)).ok());
  ASSERT_TRUE(store_->AddJob(RunJob(1, 5, 1)).ok());
  auto claimed = store_->ClaimNextQueuedJob();
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((*claimed)->model, ModelId(4));
  EXPECT_EQ((*claimed)->state, JobState::kFetching);
  EXPECT_EQ((*claimed)->attempts, 1);
  auto running = **claimed;
  running.state = JobState::kRunning;
  ASSERT_TRUE(store_->UpdateJob(running).ok());

  JobRecord interactive;
  interactive.kind = "prepare";
  interactive.state = JobState::kRunning;
  auto interactive_id = store_->AddJob(interactive);
  ASSERT_TRUE(interactive_id.ok());

  // Simulated crash: the running job goes back to the queue, the attempt stays counted;
  // the interactive one fails with a message saying why.
  EXPECT_EQ(*store_->RequeueInterruptedJobs(), 1);
  auto failed = store_->GetJob(*interactive_id);
  EXPECT_EQ(failed->state, JobState::kFailed);
  EXPECT_NE(failed->error.find("interrupted"), std::string::npos);
  auto again = store_->ClaimNextQueuedJob();
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->id, running.id);
  EXPECT_EQ((*again)->attempts, 2);
  EXPECT_EQ(store_->ListJobs(false)->size(), 2u);
  EXPECT_FALSE(store_->ClaimNextQueuedJob("prepare")->has_value());
}

// A preparation killed before its dataset was `preparing` (while the preparator was
// being fetched) also names the command to run next; a dataset caught `preparing` fails.
TEST_F(StoreTest, InterruptedPreparationsNameTheCommandToRunNext) {
  DatasetRecord fetching = Dataset(1);
  DatasetRecord preparing = Dataset(2);
  preparing.prep_status = "preparing";
  ASSERT_TRUE(store_->PutDataset(fetching).ok());
  ASSERT_TRUE(store_->PutDataset(preparing).ok());
  std::vector<JobId> jobs;
  for (int64_t d : {1, 2}) {
    JobRecord j;
    j.kind = "prepare";
    j.state = JobState::kRunning;
    j.dataset = DatasetId(d);
    auto id = store_->AddJob(j);
    ASSERT_TRUE(id.ok()) << id.status();
    jobs.push_back(*id);
  }
  ASSERT_TRUE(store_->RequeueInterruptedJobs(5).ok());
  auto interrupted = store_->FailInterruptedPreparations();
  ASSERT_TRUE(interrupted.ok()) << interrupted.status();
  EXPECT_EQ(*interrupted, std::vector<DatasetId>{DatasetId(2)});
  for (int i = 0; i < 2; ++i) {
    auto job = store_->GetJob(jobs[i]);
    EXPECT_EQ(job->state, JobState::kFailed);
    EXPECT_NE(job->error.find("run `medperfctl dataset prepare --data_uid " +
                              std::to_string(i + 1) + "` again"),
              std::string::npos)
        << job->error;
  }
  EXPECT_EQ(store_->GetDataset(DatasetId(1))->prep_status, "registered");
  EXPECT_EQ(store_->GetDataset(DatasetId(2))->prep_status, "failed");
}

TEST_F(StoreTest, ClaimIsExclusiveAcrossThreads) {
  for (int m = 1; m <= 20; ++m) ASSERT_TRUE(store_->AddJob(RunJob(1, m, 1)).ok());
  std::atomic<int> claimed{0};
  std::vector<std::thread> threads;
  std::mutex seen_mu;
  std::set<int64_t> seen;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (true) {
        auto j = store_->ClaimNextQueuedJob();
        if (!j.ok() || !j->has_value()) break;
        std::lock_guard<std::mutex> lock(seen_mu);
        EXPECT_TRUE(seen.insert((*j)->id.value()).second);
        ++claimed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.load(), 20);
}

TEST_F(StoreTest, EventsAreOrderedAndPaged) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->AppendEvent("job.started", "job " + std::to_string(i)).ok());
  }
  auto all = store_->ListEvents(0, 100);
  ASSERT_EQ(all->size(), 5u);
  auto tail = store_->ListEvents((*all)[2].id, 100);
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].message, "job 3");
  EXPECT_EQ(*store_->LastEventId(), (*all)[4].id);
}

TEST_F(StoreTest, MetaAndServerDigest) {
  EXPECT_FALSE(store_->GetMeta("last_poll")->has_value());
  ASSERT_TRUE(store_->SetMeta("last_poll", "t1").ok());
  ASSERT_TRUE(store_->SetMeta("last_poll", "t2").ok());
  EXPECT_EQ(**store_->GetMeta("last_poll"), "t2");
  EXPECT_TRUE(*store_->UpdateServerDigest("benchmark_models", 1, "d1"));
  EXPECT_FALSE(*store_->UpdateServerDigest("benchmark_models", 1, "d1"));
  EXPECT_TRUE(*store_->UpdateServerDigest("benchmark_models", 1, "d2"));
}

TEST_F(StoreTest, CountsAndIntegrity) {
  ASSERT_TRUE(store_->PutDataset(Dataset(1)).ok());
  auto counts = store_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["datasets"], 1);
  EXPECT_EQ((*counts)["results"], 0);
  EXPECT_EQ(*store_->IntegrityCheck(), "ok");
}

TEST_F(StoreTest, ContainerCache) {
  ContainerRecord c;
  c.id = ContainerId(3);
  c.name = "metrics";
  c.image_hash = "sha256:abc";
  ASSERT_TRUE(store_->PutContainer(c).ok());
  auto got = store_->GetContainer(ContainerId(3));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->image_hash, "sha256:abc");
  EXPECT_EQ(store_->GetContainer(ContainerId(4)).status().code(), absl::StatusCode::kNotFound);
}

TEST(JobStateTest, NamesRoundTrip) {
  for (JobState s :
       {JobState::kQueued, JobState::kFetching, JobState::kRunning, JobState::kEvaluating,
        JobState::kDone, JobState::kFailed, JobState::kCancelled}) {
    EXPECT_EQ(*ParseJobState(JobStateName(s)), s);
  }
  EXPECT_FALSE(ParseJobState("bogus").ok());
}

}  // namespace
}  // namespace medperf::storage
