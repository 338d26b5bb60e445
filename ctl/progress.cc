#include "ctl/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace medperf::ctl {
namespace v1 = medperf::v1;

namespace {

// Plain output repeats a silent or counting stage at most this often.
constexpr int64_t kPlainRepeatMs = 10'000;

std::string Bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f %s", b, units[u]) : absl::StrFormat("%.1f %s", b, units[u]);
}

}  // namespace

std::string FormatElapsed(int64_t ms) {
  int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

std::string FormatAmount(int64_t done, int64_t total, const std::string& unit) {
  if (unit == "bytes") {
    if (total <= 0) return Bytes(static_cast<double>(done));
    // One unit for both numbers, the total's: "0.5 of 4.0 GiB".
    std::string t = Bytes(static_cast<double>(total));
    std::string suffix = t.substr(t.find(' ') + 1);
    double scale = 1;
    for (const char* u : {"KiB", "MiB", "GiB", "TiB"}) {
      scale *= 1024;
      if (suffix == u) break;
    }
    if (suffix == "B") scale = 1;
    return absl::StrFormat(suffix == "B" ? "%.0f of %s" : "%.1f of %s", done / scale, t);
  }
  if (total <= 0) return absl::StrCat(done, " ", unit);
  return absl::StrCat(done, " of ", total, " ", unit);
}

std::string Bar(int64_t done, int64_t total, int width) {
  done = std::clamp<int64_t>(done, 0, total);
  int filled = static_cast<int>(done * width / total);
  int percent = static_cast<int>(done * 100 / total);
  return absl::StrFormat("[%s%s] %3d%%", std::string(filled, '#'), std::string(width - filled, '-'),
                         percent);
}

ProgressView::ProgressView(std::ostream& err, bool terminal, bool follow_logs, int width)
    : err_(err), terminal_(terminal), follow_logs_(follow_logs), width_(std::max(width, 20)) {}

ProgressView::~ProgressView() { Finish(); }

std::string ProgressView::Line(const v1::JobProgress& p, bool with_bar) const {
  std::string line = absl::StrCat("  [", p.step(), "] ", p.message());
  if (p.elapsed_ms() >= 1000) absl::StrAppend(&line, "  ", FormatElapsed(p.elapsed_ms()));
  if (p.total() > 0) {
    absl::StrAppend(
        &line, "  ",
        with_bar ? Bar(p.done(), p.total())
                 : absl::StrCat(std::clamp<int64_t>(p.done(), 0, p.total()) * 100 / p.total(), "%"),
        " (", FormatAmount(p.done(), p.total(), p.unit()), ")");
  } else if (p.done() > 0) {
    absl::StrAppend(&line, "  (", FormatAmount(p.done(), 0, p.unit()), ")");
  }
  return line;
}

void ProgressView::Draw(const std::string& line) {
  // Cut by bytes: a cut inside a UTF-8 character only costs that character's look.
  std::string shown = line.substr(0, static_cast<size_t>(width_ - 1));
  err_ << "\r\033[K" << shown << std::flush;
  live_ = true;
}

void ProgressView::EndStage() {
  if (!has_stage_) return;
  if (terminal_) {
    if (live_) {
      // The stage's line as it ended, whole (it may wrap now: it is not redrawn).
      err_ << "\r\033[K" << Line(current_, current_.total() > 0) << "\n";
      live_ = false;
    }
  } else if (current_.elapsed_ms() >= kPlainRepeatMs && current_.elapsed_ms() > last_plain_ms_) {
    err_ << "  [" << current_.step() << "] ended after " << FormatElapsed(current_.elapsed_ms())
         << "\n";
  }
  has_stage_ = false;
}

void ProgressView::Show(const v1::JobProgress& p) {
  if (p.output()) {
    if (!follow_logs_) return;
    if (live_) err_ << "\r\033[K";
    err_ << "  [" << p.step() << "] | " << p.message() << "\n";
    live_ = false;
    if (terminal_ && has_stage_) Draw(Line(current_, current_.total() > 0));
    return;
  }
  bool same_stage = has_stage_ && p.step() == current_.step();
  bool news = !same_stage || p.message() != current_.message();
  if (!same_stage) {
    EndStage();
  } else if (news && terminal_ && live_) {
    // A new sentence of the same stage: the previous one stays on screen.
    err_ << "\r\033[K" << Line(current_, current_.total() > 0) << "\n";
    live_ = false;
  }
  has_stage_ = true;
  current_ = p;
  if (terminal_) {
    Draw(Line(p, p.total() > 0));
    return;
  }
  if (news || p.elapsed_ms() - last_plain_ms_ >= kPlainRepeatMs) {
    err_ << Line(p, false) << "\n";
    last_plain_ms_ = p.elapsed_ms();
  }
}

void ProgressView::Finish() {
  if (terminal_ && live_) {
    err_ << "\n" << std::flush;
    live_ = false;
  }
  has_stage_ = false;
}

}  // namespace medperf::ctl
