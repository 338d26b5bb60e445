#include "daemon/events.h"

#include "daemon/log.h"

namespace medperf::daemon {

absl::StatusOr<int64_t> EventBus::Publish(const std::string& kind, const std::string& message,
                                          const nlohmann::json& fields) {
  std::string json = fields.dump();
  absl::StatusOr<int64_t> id = store_.AppendEvent(kind, message, json);
  if (!id.ok()) {
    LogError("cannot store event",
             {{"event", kind}, {"error", std::string(id.status().message())}});
    return id.status();
  }
  LogFields log_fields = {{"event", kind}, {"event_id", std::to_string(*id)}};
  for (const auto& [k, v] : fields.items()) {
    log_fields.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  LogInfo(message, log_fields);
  std::vector<Listener> listeners;
  {
    absl::MutexLock lock(&mu_);
    if (*id > last_id_) last_id_ = *id;
    listeners = listeners_;
  }
  storage::EventRecord record{*id, storage::NowTimestamp(), kind, message, json};
  for (const auto& l : listeners) l(record);
  return id;
}

bool EventBus::WaitForNewerThan(int64_t after_id, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return last_id_ > after_id || shutdown_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return last_id_ > after_id;
}

void EventBus::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

bool EventBus::shutting_down() {
  absl::MutexLock lock(&mu_);
  return shutdown_;
}

void EventBus::AddListener(Listener listener) {
  absl::MutexLock lock(&mu_);
  listeners_.push_back(std::move(listener));
}

}  // namespace medperf::daemon
