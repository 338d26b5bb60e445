// The notify hook: every event is handed, as one JSON object on stdin, to the
// configured `notify.command` (run with /bin/sh -c), one at a time, on a thread of its
// own. A hook that fails or hangs is logged and killed after `notify.timeout`; it never
// blocks the daemon (EventBus::Publish only appends to a bounded queue).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "daemon/config.h"
#include "daemon/events.h"
#include "storage/store.h"

namespace medperf::daemon {

// The JSON an event is shown as, both by `medperfctl watch --json` and to the hook:
// {"id", "time", "kind", "message", "fields": {...}}.
nlohmann::json EventToJson(const storage::EventRecord& event);

struct HookRun {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // -1 when killed by a signal or not started
  int signal = 0;
  std::string output;  // the first few KiB of its stdout + stderr, for the log
  std::string error;   // why it could not start
  bool ok() const { return started && !timed_out && exit_code == 0; }
  std::string Describe() const;
};

// Runs `/bin/sh -c command` in its own process group with `input` on stdin; after
// `timeout`, or as soon as `abort` (polled every 50 ms) says so, the whole group is
// killed. Safe to call from any thread.
HookRun RunHook(const std::string& command, const std::string& input,
                std::chrono::milliseconds timeout, const std::function<bool()>& abort = nullptr);

class Notifier {
 public:
  // Events beyond this many waiting are dropped (oldest first) with a warning: a hook
  // slower than the event rate must not grow the daemon without bound.
  static constexpr size_t kMaxQueued = 1000;

  explicit Notifier(NotifyConfig config);
  ~Notifier();

  // Subscribes to the bus and starts the worker (no-op without a command).
  void Attach(EventBus& bus);
  // Queues one event; never blocks on the hook.
  void Enqueue(const storage::EventRecord& event);
  // Delivers what is queued within `budget`, then stops; the rest is dropped and logged.
  void Shutdown(std::chrono::milliseconds budget = std::chrono::seconds(5));

 private:
  void Loop();

  NotifyConfig config_;
  absl::Mutex mu_;
  std::deque<storage::EventRecord> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point deadline_ ABSL_GUARDED_BY(mu_);
  size_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  // Read by the hook runner without the lock: a shutdown cuts a running hook short.
  std::atomic<bool> stop_now_{false};
  bool worker_done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace medperf::daemon
