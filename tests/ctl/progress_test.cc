// medperfctl's progress lines (ctl/progress.h): live lines with elapsed time and bars on
// a terminal, plain lines otherwise, container lines only with --follow-logs.
#include "ctl/progress.h"

#include <sstream>

#include <gtest/gtest.h>

namespace medperf::ctl {
namespace {

v1::JobProgress Update(const std::string& step, const std::string& message, int64_t elapsed_ms,
                       int64_t done = 0, int64_t total = 0, const std::string& unit = "") {
  v1::JobProgress p;
  p.set_job_id(7);
  p.set_step(step);
  p.set_message(message);
  p.set_elapsed_ms(elapsed_ms);
  p.set_done(done);
  p.set_total(total);
  p.set_unit(unit);
  return p;
}

v1::JobProgress Heartbeat(v1::JobProgress p, int64_t elapsed_ms) {
  p.set_elapsed_ms(elapsed_ms);
  p.set_heartbeat(true);
  return p;
}

v1::JobProgress OutputLine(const std::string& task, const std::string& line) {
  v1::JobProgress p = Update(task, line, 0);
  p.set_output(true);
  return p;
}

TEST(ProgressFormatTest, ElapsedTimeReadsAsMinutesAndHours) {
  EXPECT_EQ(FormatElapsed(0), "0s");
  EXPECT_EQ(FormatElapsed(59'999), "59s");
  EXPECT_EQ(FormatElapsed(65'000), "1m05s");
  EXPECT_EQ(FormatElapsed((2 * 3600 + 3 * 60 + 9) * 1000), "2h03m");
}

TEST(ProgressFormatTest, BarAndAmounts) {
  EXPECT_EQ(Bar(0, 10, 10), "[----------]   0%");
  EXPECT_EQ(Bar(5, 10, 10), "[#####-----]  50%");
  EXPECT_EQ(Bar(12, 10, 10), "[##########] 100%");  // clamped
  EXPECT_EQ(FormatAmount(3, 10, "entries"), "3 of 10 entries");
  EXPECT_EQ(FormatAmount(3, 0, "models"), "3 models");
  EXPECT_EQ(FormatAmount(512 * 1024, 4 * 1024 * 1024, "bytes"), "0.5 of 4.0 MiB");
  EXPECT_EQ(FormatAmount(100, 200, "bytes"), "100 of 200 B");
  EXPECT_EQ(FormatAmount(3 * 1024 * 1024, 0, "bytes"), "3.0 MiB");
}

// Not a terminal: no \r, no bar; a stage's repeats at most every 10 s; an end line for a
// stage that lasted 10 s or more.
TEST(ProgressViewTest, PlainLinesWithoutCarriageReturnsOrBars) {
  std::ostringstream err;
  {
    ProgressView view(err, /*terminal=*/false, /*follow_logs=*/false);
    view.Show(Update("fetch", "fetching model 3", 0));
    view.Show(Update("hash", "hashing the raw data", 0, 0, 4 << 20, "bytes"));
    view.Show(Update("hash", "hashing the raw data", 2'000, 1 << 20, 4 << 20, "bytes"));
    view.Show(Update("hash", "hashing the raw data", 11'000, 2 << 20, 4 << 20, "bytes"));
    view.Show(Update("hash", "hashing the raw data", 12'000, 3 << 20, 4 << 20, "bytes"));
    v1::JobProgress infer = Update("infer", "running infer of model 3", 0);
    view.Show(infer);
    for (int64_t s = 1; s <= 25; ++s) view.Show(Heartbeat(infer, s * 1000));
    view.Show(Update("evaluate", "running evaluate", 0));
  }
  EXPECT_EQ(err.str(),
            "  [fetch] fetching model 3\n"
            "  [hash] hashing the raw data  0% (0.0 of 4.0 MiB)\n"
            "  [hash] hashing the raw data  11s  50% (2.0 of 4.0 MiB)\n"
            "  [hash] ended after 12s\n"
            "  [infer] running infer of model 3\n"
            "  [infer] running infer of model 3  10s\n"
            "  [infer] running infer of model 3  20s\n"
            "  [infer] ended after 25s\n"
            "  [evaluate] running evaluate\n");
  EXPECT_EQ(err.str().find('\r'), std::string::npos);
}

// A terminal: one line per stage redrawn in place, with the elapsed time and a bar; the
// line stays as it ended when the next stage starts.
TEST(ProgressViewTest, TerminalRedrawsOneLivePerStage) {
  std::ostringstream err;
  {
    ProgressView view(err, /*terminal=*/true, /*follow_logs=*/false);
    view.Show(Update("extract", "unpacking", 0, 1, 4, "entries"));
    view.Show(Update("extract", "unpacking", 1'500, 4, 4, "entries"));
    v1::JobProgress infer = Update("infer", "running infer", 0);
    view.Show(infer);
    view.Show(Heartbeat(infer, 65'000));
  }
  const std::string clear = "\r\033[K";
  EXPECT_EQ(err.str(),
            clear + "  [extract] unpacking  [#####---------------]  25% (1 of 4 entries)" + clear +
                "  [extract] unpacking  1s  [####################] 100% (4 of 4 entries)" + clear +
                "  [extract] unpacking  1s  [####################] 100% (4 of 4 entries)\n" +
                clear + "  [infer] running infer" + clear + "  [infer] running infer  1m05s" +
                "\n");
}

TEST(ProgressViewTest, ALiveLineIsCutToTheTerminalWidth) {
  std::ostringstream err;
  ProgressView view(err, /*terminal=*/true, /*follow_logs=*/false, /*width=*/30);
  view.Show(Update("infer", std::string(100, 'x'), 0));
  std::string shown = err.str().substr(std::string("\r\033[K").size());
  EXPECT_EQ(shown.size(), 29u) << shown;
}

// Container lines only with --follow-logs, marked by task, and never inside a live line.
TEST(ProgressViewTest, ContainerLinesOnlyWhenFollowingLogs) {
  std::ostringstream quiet;
  {
    ProgressView view(quiet, /*terminal=*/false, /*follow_logs=*/false);
    view.Show(OutputLine("infer", "epoch 1"));
  }
  EXPECT_EQ(quiet.str(), "");

  std::ostringstream plain;
  {
    ProgressView view(plain, /*terminal=*/false, /*follow_logs=*/true);
    view.Show(Update("infer", "running infer", 0));
    view.Show(OutputLine("infer", "epoch 1"));
  }
  EXPECT_EQ(plain.str(), "  [infer] running infer\n  [infer] | epoch 1\n");

  std::ostringstream tty;
  {
    ProgressView view(tty, /*terminal=*/true, /*follow_logs=*/true);
    view.Show(Update("infer", "running infer", 0));
    view.Show(OutputLine("infer", "epoch 1"));
  }
  const std::string clear = "\r\033[K";
  EXPECT_EQ(tty.str(), clear + "  [infer] running infer" + clear + "  [infer] | epoch 1\n" + clear +
                           "  [infer] running infer\n");
}

}  // namespace
}  // namespace medperf::ctl
