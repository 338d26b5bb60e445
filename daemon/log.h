// Daemon logging: structured journal entries under systemd, plain lines on stderr
// otherwise.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config.h"

namespace medperf::daemon {

using LogFields = std::vector<std::pair<std::string, std::string>>;

void SetLogLevel(LogLevel level);
// True when stderr is connected to the systemd journal.
bool LoggingToJournal();

// `fields` become journal fields (upper-cased, prefixed MEDPERF_) or key=value
// suffixes on stderr.
void Log(LogLevel level, std::string_view message, const LogFields& fields = {});

inline void LogInfo(std::string_view m, const LogFields& f = {}) { Log(LogLevel::kInfo, m, f); }
inline void LogWarning(std::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kWarning, m, f);
}
inline void LogError(std::string_view m, const LogFields& f = {}) { Log(LogLevel::kError, m, f); }
inline void LogDebug(std::string_view m, const LogFields& f = {}) { Log(LogLevel::kDebug, m, f); }

}  // namespace medperf::daemon
