#include "daemon/peer_auth.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace medperf::daemon {

bool IsPeerAllowed(const PeerCredentials& peer, const SocketOwner& owner) {
  if (peer.uid == 0 || peer.uid == owner.uid) return true;
  if (peer.gid == owner.gid) return true;
  return std::find(peer.supplementary_groups.begin(), peer.supplementary_groups.end(), owner.gid) !=
         peer.supplementary_groups.end();
}

std::string PeerDeniedMessage(const PeerCredentials& peer, const SocketOwner& owner) {
  return absl::StrCat("medperfd refuses this client (uid ", peer.uid, ", gid ", peer.gid,
                      "): only root, uid ", owner.uid, " and members of group ", owner.gid,
                      " may use the control socket; ask your administrator to add you to "
                      "the medperf group");
}

std::vector<gid_t> ParseProcStatusGroups(const std::string& status_text) {
  std::vector<gid_t> groups;
  for (absl::string_view line : absl::StrSplit(status_text, '\n')) {
    if (!absl::ConsumePrefix(&line, "Groups:")) continue;
    for (absl::string_view tok : absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      uint32_t g;
      if (absl::SimpleAtoi(tok, &g)) groups.push_back(g);
    }
  }
  return groups;
}

absl::StatusOr<PeerCredentials> ReadPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::InternalError(absl::StrCat("SO_PEERCRED failed: ", std::strerror(errno)));
  }
  PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
  std::ifstream in(absl::StrCat("/proc/", cred.pid, "/status"));
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    peer.supplementary_groups = ParseProcStatusGroups(ss.str());
  }
  return peer;
}

}  // namespace medperf::daemon
