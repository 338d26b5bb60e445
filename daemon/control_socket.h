// The control socket: medperfd owns the listening Unix socket so it can check each
// client's credentials before handing the connection to gRPC.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "daemon/peer_auth.h"

namespace medperf::daemon {

class ControlSocket {
 public:
  // Creates `path` (mode 0660; group `group` if not empty) and listens on it. A stale
  // socket file is replaced; one that a live process still answers on is an error.
  static absl::StatusOr<std::unique_ptr<ControlSocket>> Listen(const std::filesystem::path& path,
                                                               const std::string& group);
  ~ControlSocket();

  // Accepts connections on a background thread: peers allowed by IsPeerAllowed go to
  // `allowed`, the others to `denied` (whose every method answers PERMISSION_DENIED).
  void Serve(grpc::Server* allowed, grpc::Server* denied);
  // Stops accepting and removes the socket file. Existing connections stay open.
  void Stop();

  const SocketOwner& owner() const { return owner_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  ControlSocket(int fd, int wake_fd, std::filesystem::path path, SocketOwner owner)
      : fd_(fd), wake_fd_(wake_fd), path_(std::move(path)), owner_(owner) {}
  void AcceptLoop(grpc::Server* allowed, grpc::Server* denied);

  int fd_;
  int wake_fd_;  // eventfd that interrupts the accept loop
  std::filesystem::path path_;
  SocketOwner owner_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

// A gRPC server with no service but a catch-all that refuses every call with
// PERMISSION_DENIED and `message`.
std::unique_ptr<grpc::Server> BuildDenyingServer(const std::string& message);

}  // namespace medperf::daemon
