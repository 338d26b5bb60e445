// Every state change of the daemon is an event: stored, logged, streamed to watchers.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace medperf::daemon {

class EventBus {
 public:
  explicit EventBus(storage::Store& store) : store_(store) {}

  // Stores the event and wakes every watcher; returns its id.
  absl::StatusOr<int64_t> Publish(const std::string& kind, const std::string& message,
                                  const nlohmann::json& fields = nlohmann::json::object());

  // Waits until an event newer than `after_id` exists, the timeout passes or the bus
  // shuts down. Returns true if there may be new events.
  bool WaitForNewerThan(int64_t after_id, absl::Duration timeout);

  void Shutdown();
  bool shutting_down();

  // Called with each published event (after it is stored), outside the bus's lock.
  using Listener = std::function<void(const storage::EventRecord&)>;
  void AddListener(Listener listener);

 private:
  storage::Store& store_;
  absl::Mutex mu_;
  int64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Listener> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medperf::daemon
