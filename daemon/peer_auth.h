// Who may talk to medperfd: the socket's owner, members of its group, and root.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace medperf::daemon {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> supplementary_groups;
};

struct SocketOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Pure decision, so it can be tested with crafted credentials.
bool IsPeerAllowed(const PeerCredentials& peer, const SocketOwner& owner);

// The message a refused peer receives.
std::string PeerDeniedMessage(const PeerCredentials& peer, const SocketOwner& owner);

// SO_PEERCRED of a connected Unix socket, plus the peer's supplementary groups from
// /proc/<pid>/status (empty if the process is gone or unreadable).
absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd);

// Parses the "Groups:" line of a /proc/<pid>/status text.
std::vector<gid_t> ParseProcStatusGroups(const std::string& status_text);

}  // namespace medperf::daemon
