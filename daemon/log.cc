#include "daemon/log.h"

#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace medperf::daemon {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

bool DetectJournal() {
  // systemd sets JOURNAL_STREAM to "dev:inode" of the stream it connected to stderr.
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return absl::StrCat(st.st_dev, ":", st.st_ino) == js;
}

int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return LOG_DEBUG;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool LoggingToJournal() {
  static const bool journal = DetectJournal();
  return journal;
}

void Log(LogLevel level, std::string_view message, const LogFields& fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  absl::string_view msg(message.data(), message.size());
  if (LoggingToJournal()) {
    std::vector<std::string> entries;
    entries.push_back(absl::StrCat("MESSAGE=", msg));
    entries.push_back(absl::StrCat("PRIORITY=", Priority(level)));
    entries.push_back("SYSLOG_IDENTIFIER=medperfd");
    for (const auto& [k, v] : fields) {
      entries.push_back(absl::StrCat("MEDPERF_", absl::AsciiStrToUpper(k), "=", v));
    }
    std::vector<iovec> iov;
    for (auto& e : entries) iov.push_back({e.data(), e.size()});
    sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
    return;
  }
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   absl::AsciiStrToUpper(
                       absl::string_view(LogLevelName(level).data(), LogLevelName(level).size())),
                   " ", msg);
  for (const auto& [k, v] : fields) absl::StrAppend(&line, " ", k, "=", v);
  line += "\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
}

}  // namespace medperf::daemon
