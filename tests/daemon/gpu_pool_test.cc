#include "daemon/gpu_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace medperf::daemon {
namespace {

GpuSpec Spec(const std::string& text) {
  absl::StatusOr<GpuSpec> spec = ParseGpuSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.value_or(GpuSpec{});
}

TEST(GpuSpecTest, ReadsEveryForm) {
  EXPECT_EQ(Spec("").kind, GpuSpec::Kind::kNone);
  EXPECT_EQ(Spec("0").kind, GpuSpec::Kind::kNone);
  EXPECT_EQ(Spec("all").kind, GpuSpec::Kind::kAll);
  EXPECT_EQ(Spec("3").devices, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(Spec("device=2,GPU-ab12").devices, (std::vector<std::string>{"2", "GPU-ab12"}));
}

TEST(GpuSpecTest, RefusesMalformedValuesNamingThem) {
  for (const char* bad : {"many", "device=", "device=0,,1", "device=0,0", "device=0;rm", "-1"}) {
    absl::StatusOr<GpuSpec> spec = ParseGpuSpec(bad);
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_NE(spec.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << spec.status();
  }
}

TEST(GpuPoolTest, TwoDevicesTwoJobsGiveEachJobItsOwnDevice) {
  GpuPool pool(Spec("device=0,1"), 2);
  auto a = pool.Acquire(nullptr);
  auto b = pool.Acquire(nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->gpus(), "device=0");
  EXPECT_EQ(b->gpus(), "device=1");
  EXPECT_NE(pool.Describe().find("busy: 0,1"), std::string::npos) << pool.Describe();
}

TEST(GpuPoolTest, OneJobGetsEveryDeviceAndACountMeansZeroToNMinusOne) {
  GpuPool pool(Spec("2"), 1);
  auto a = pool.Acquire(nullptr);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->gpus(), "device=0,1");
  GpuPool four(Spec("device=4,5,6,7"), 2);
  auto x = four.Acquire(nullptr);
  auto y = four.Acquire(nullptr);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(x->gpus(), "device=4,5");
  EXPECT_EQ(y->gpus(), "device=6,7");
}

TEST(GpuPoolTest, AllIsSharedAndUnsetGivesNothing) {
  GpuPool all(Spec("all"), 2);
  auto a = all.Acquire(nullptr);
  auto b = all.Acquire(nullptr);
  auto c = all.Acquire(nullptr);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(c->gpus(), "all");
  GpuPool none(Spec(""), 2);
  EXPECT_FALSE(none.enabled());
  auto n = none.Acquire(nullptr);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->gpus(), "");
}

TEST(GpuPoolTest, ExhaustedPoolMakesTheNextTaskWaitUntilOneIsReleased) {
  GpuPool pool(Spec("device=0"), 2);
  auto first = pool.Acquire(nullptr);
  ASSERT_TRUE(first.ok());
  std::atomic<bool> waited{false};
  std::atomic<bool> got{false};
  std::string busy_seen;
  std::thread second([&] {
    auto lease = pool.Acquire(
        nullptr,
        [&](const std::string& busy) {
          busy_seen = busy;
          waited = true;
        },
        absl::Milliseconds(10));
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(lease->gpus(), "device=0");
    got = true;
  });
  while (!waited) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got) << "a device was handed to two tasks at once";
  *first = GpuPool::Lease();  // the first task ends: its device goes back
  second.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(busy_seen, "0");
}

TEST(GpuPoolTest, CancelEndsTheWait) {
  GpuPool pool(Spec("device=0"), 1);
  auto first = pool.Acquire(nullptr);
  ASSERT_TRUE(first.ok());
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    cancel = true;
  });
  auto second = pool.Acquire(&cancel, {}, absl::Milliseconds(5));
  canceller.join();
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsCancelled(second.status())) << second.status();
}

TEST(GpuPoolTest, AFailedTaskGivesItsDevicesBack) {
  GpuPool pool(Spec("device=0,1"), 2);
  auto run_and_fail = [&]() -> absl::Status {
    absl::StatusOr<GpuPool::Lease> lease = pool.Acquire(nullptr);
    if (!lease.ok()) return lease.status();
    return absl::AbortedError("infer exited with code 1");  // the lease ends here
  };
  EXPECT_TRUE(absl::IsAborted(run_and_fail()));
  EXPECT_TRUE(absl::IsAborted(run_and_fail()));
  // Both devices are free again: two leases at once still get distinct devices.
  auto a = pool.Acquire(nullptr);
  auto b = pool.Acquire(nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->gpus(), "device=0");
  EXPECT_EQ(b->gpus(), "device=1");
  EXPECT_NE(pool.Describe().find("1 per task"), std::string::npos) << pool.Describe();
}

TEST(GpuPoolTest, MovedLeaseReleasesOnce) {
  GpuPool pool(Spec("device=0,1"), 2);
  auto a = pool.Acquire(nullptr);
  ASSERT_TRUE(a.ok());
  {
    GpuPool::Lease moved = std::move(*a);
    EXPECT_EQ(moved.gpus(), "device=0");
  }
  auto b = pool.Acquire(nullptr);
  auto c = pool.Acquire(nullptr);
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_EQ(b->gpus(), "device=0");
  EXPECT_EQ(c->gpus(), "device=1");
}

}  // namespace
}  // namespace medperf::daemon
