#include "daemon/control_socket.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace medperf::daemon {
namespace fs = std::filesystem;

namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool SomeoneListens(const fs::path& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return live;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlSocket>> ControlSocket::Listen(const fs::path& path,
                                                                     const std::string& group) {
  sockaddr_un addr{};
  if (path.string().size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket path ", path.string(), " is longer than ", sizeof addr.sun_path - 1, " bytes"));
  }
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create socket directory ", path.parent_path().string(), ": ", ec.message()));
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path.string(), " exists and is not a socket; refusing to replace it"));
    }
    if (SomeoneListens(path)) {
      return absl::FailedPreconditionError(
          absl::StrCat("another process is serving on ", path.string()));
    }
    unlink(path.c_str());
  }

  SocketOwner owner{geteuid(), getegid()};
  if (!group.empty()) {
    struct group* gr = getgrnam(group.c_str());
    if (!gr) {
      return absl::InvalidArgumentError(
          absl::StrCat("socket_group '", group, "' does not exist on this machine"));
    }
    owner.gid = gr->gr_gid;
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  // Create the file with 0660 from the start, so it is never reachable by others.
  mode_t old_umask = umask(0117);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old_umask);
  if (rc != 0) {
    absl::Status st = Errno(absl::StrCat("cannot bind ", path.string()));
    close(fd);
    return st;
  }
  if (chmod(path.c_str(), 0660) != 0 ||
      (owner.gid != getegid() && chown(path.c_str(), static_cast<uid_t>(-1), owner.gid) != 0)) {
    absl::Status st = Errno(absl::StrCat("cannot set owner/mode of ", path.string()));
    close(fd);
    unlink(path.c_str());
    return st;
  }
  if (listen(fd, 64) != 0) {
    absl::Status st = Errno("listen");
    close(fd);
    unlink(path.c_str());
    return st;
  }
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    close(fd);
    unlink(path.c_str());
    return Errno("eventfd");
  }
  return std::unique_ptr<ControlSocket>(new ControlSocket(fd, wake, path, owner));
}

ControlSocket::~ControlSocket() {
  Stop();
  close(wake_fd_);
}

void ControlSocket::Serve(grpc::Server* allowed, grpc::Server* denied) {
  thread_ = std::thread([this, allowed, denied] { AcceptLoop(allowed, denied); });
}

void ControlSocket::AcceptLoop(grpc::Server* allowed, grpc::Server* denied) {
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (!stopped_) {
    int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      LogError(absl::StrCat("control socket poll failed: ", std::strerror(errno)));
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno != EINTR && errno != EAGAIN) {
        LogWarning(absl::StrCat("accept failed: ", std::strerror(errno)));
      }
      continue;
    }
    absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(conn);
    if (peer.ok() && IsPeerAllowed(*peer, owner_)) {
      grpc::AddInsecureChannelFromFd(allowed, conn);
    } else {
      if (peer.ok()) {
        LogWarning("refused a control client", {{"peer_uid", std::to_string(peer->uid)},
                                                {"peer_gid", std::to_string(peer->gid)},
                                                {"peer_pid", std::to_string(peer->pid)}});
      }
      grpc::AddInsecureChannelFromFd(denied, conn);
    }
  }
}

void ControlSocket::Stop() {
  if (stopped_.exchange(true)) return;
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  close(fd_);
  unlink(path_.c_str());
}

namespace {

class DenyAllService : public grpc::CallbackGenericService {
 public:
  explicit DenyAllService(std::string message) : message_(std::move(message)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(const std::string& message) {
        Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message));
      }
      void OnDone() override { delete this; }
    };
    return new Reactor(message_);
  }

 private:
  std::string message_;
};

// Owns the service for as long as the server lives.
class DenyingServerHolder {
 public:
  static DenyAllService* Service(const std::string& message) {
    static auto* services = new std::vector<std::unique_ptr<DenyAllService>>();
    services->push_back(std::make_unique<DenyAllService>(message));
    return services->back().get();
  }
};

}  // namespace

std::unique_ptr<grpc::Server> BuildDenyingServer(const std::string& message) {
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(DenyingServerHolder::Service(message));
  return builder.BuildAndStart();
}

}  // namespace medperf::daemon
