// The bound on the container output a job streams (daemon/jobs.h OutputLimiter).
#include "daemon/jobs.h"

#include <gtest/gtest.h>

namespace medperf::daemon {
namespace {

TEST(OutputLimiterTest, AFloodIsCutPerWindowAndNotedWhenLinesFlowAgain) {
  OutputLimiter limiter({.lines_per_window = 3, .window = absl::Seconds(10), .max_lines = 100});
  absl::Time t0 = absl::FromUnixSeconds(1000);
  int64_t skipped = -1;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Admit(t0, &skipped));
    EXPECT_EQ(skipped, 0);
  }
  // The flood within the window is dropped and counted...
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(limiter.Admit(t0 + absl::Seconds(5), &skipped));
  // ... and noted before the next line streamed in a new window.
  EXPECT_TRUE(limiter.Admit(t0 + absl::Seconds(10), &skipped));
  EXPECT_EQ(skipped, 50);
  EXPECT_TRUE(limiter.Admit(t0 + absl::Seconds(10), &skipped));
  EXPECT_EQ(skipped, 0);
}

TEST(OutputLimiterTest, AJobStreamsAtMostMaxLinesAndTheRestIsNotedAtTheEnd) {
  OutputLimiter limiter({.lines_per_window = 1000, .window = absl::Seconds(10), .max_lines = 5});
  absl::Time t = absl::FromUnixSeconds(1000);
  int64_t skipped = 0;
  int streamed = 0;
  for (int i = 0; i < 20; ++i) {
    // One line a minute: never a flood, but the job's total is bounded all the same.
    streamed += limiter.Admit(t + absl::Minutes(i), &skipped);
  }
  EXPECT_EQ(streamed, 5);
  EXPECT_EQ(limiter.TakeSkipped(), 15);
  EXPECT_EQ(limiter.TakeSkipped(), 0);
}

TEST(OutputLimiterTest, LongLinesAreCut) {
  OutputLimiter limiter({.max_line_bytes = 4});
  EXPECT_EQ(limiter.Cut("abc"), "abc");
  EXPECT_EQ(limiter.Cut("abcdefgh"), "abcd…");
  EXPECT_EQ(SkippedLinesNote(1, "/logs/infer.log"),
            "… 1 line skipped, see the log /logs/infer.log");
  EXPECT_EQ(SkippedLinesNote(7, "/l"), "… 7 lines skipped, see the log /l");
}

}  // namespace
}  // namespace medperf::daemon
