// The running daemon: owns the state directory, the store, the control socket and
// the background workers, and shuts them down in order.
#pragma once

#include <chrono>
#include <memory>
#include <thread>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "daemon/config.h"
#include "daemon/control_service.h"
#include "daemon/control_socket.h"
#include "daemon/events.h"
#include "daemon/jobs.h"
#include "daemon/notifier.h"
#include "daemon/poller.h"
#include "daemon/site.h"
#include "daemon/state_lock.h"
#include "storage/store.h"

namespace medperf::daemon {

class Daemon {
 public:
  // Prepares the state directory, takes its lock, opens and migrates the store, and
  // starts serving on the control socket.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(DaemonConfig config);
  ~Daemon();

  // Stops accepting clients, lets in-flight calls finish (up to `grace`), stops the
  // workers and closes the store.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  const DaemonConfig& config() const { return config_; }
  // A one-line summary for sd_notify STATUS=.
  std::string StatusLine() const;

 private:
  explicit Daemon(DaemonConfig config) : config_(std::move(config)) {}
  void Housekeep();

  DaemonConfig config_;
  std::unique_ptr<StateDirLock> lock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<Site> site_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<Poller> poller_;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> denying_server_;
  std::unique_ptr<ControlSocket> socket_;
  // Applies retention (daemon/retention.h) at start and every few hours.
  std::thread housekeeper_;
  absl::Notification stop_housekeeping_;
  bool stopped_ = false;
};

}  // namespace medperf::daemon
