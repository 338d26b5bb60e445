// How medperfctl shows a running job on stderr (docs/cli.md, "Progress"). On a terminal
// each stage of the job gets one live line, redrawn in place (\r) with the stage's
// elapsed time and, when the stage knows its total (bytes hashed or downloaded, archive
// entries, models run), a bar; the line is left as it ended when the next stage starts.
// Anywhere else (a pipe, a file, a CI log) only plain lines: one when a stage starts or
// says something new, repeats of a silent or counting stage at most every 10 s, and
// one when a stage that lasted 10 s or more ends; no \r, no bars.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "medperf/v1/control.pb.h"

namespace medperf::ctl {

// "0s", "59s", "1m05s", "2h03m": a stage's elapsed time.
std::string FormatElapsed(int64_t ms);
// `done` of `total` `unit`s for people: "1.5 of 4.0 MiB" for bytes, "3 of 10 entries".
// Without a total (0): "1.5 MiB", "3 entries".
std::string FormatAmount(int64_t done, int64_t total, const std::string& unit);
// "[#####---------------]  25%": `width` cells for the bar (done is clamped to total;
// total must be > 0).
std::string Bar(int64_t done, int64_t total, int width = 20);

class ProgressView {
 public:
  // `terminal`: stderr is a terminal (live lines, bars). `follow_logs`: show the
  // container lines the stream carries (--follow-logs); otherwise they are not shown.
  // `width`: the terminal's columns; a live line is cut to fit, as a wrapped line
  // cannot be redrawn in place.
  ProgressView(std::ostream& err, bool terminal, bool follow_logs, int width = 100);
  ~ProgressView();
  ProgressView(const ProgressView&) = delete;
  ProgressView& operator=(const ProgressView&) = delete;

  // Shows one update of the job's stream (not the final one).
  void Show(const medperf::v1::JobProgress& p);
  // Leaves the current stage's line as it is (the job ended): before the command's
  // answer or error is printed.
  void Finish();

 private:
  // The stage's line: "  [step] message  12s  [####----]  45% (1.5 of 3.3 MiB)".
  std::string Line(const medperf::v1::JobProgress& p, bool with_bar) const;
  void Draw(const std::string& line);  // the live line, in place
  void EndStage();

  std::ostream& err_;
  bool terminal_;
  bool follow_logs_;
  int width_;
  bool has_stage_ = false;
  medperf::v1::JobProgress current_;  // the stage's latest update
  bool live_ = false;                 // a live line is on screen (terminal)
  int64_t last_plain_ms_ = 0;         // elapsed at the stage's last plain line
};

}  // namespace medperf::ctl
