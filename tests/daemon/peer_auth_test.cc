#include "daemon/peer_auth.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace medperf::daemon {
namespace {

const SocketOwner kOwner{1000, 998};  // owner uid 1000, group "medperf" 998

TEST(PeerAuthTest, RootOwnerAndGroupMembersAreAllowed) {
  EXPECT_TRUE(IsPeerAllowed({1, 0, 0, {}}, kOwner));              // root
  EXPECT_TRUE(IsPeerAllowed({1, 1000, 1000, {}}, kOwner));        // the owner
  EXPECT_TRUE(IsPeerAllowed({1, 1001, 998, {}}, kOwner));         // primary group
  EXPECT_TRUE(IsPeerAllowed({1, 1002, 100, {27, 998}}, kOwner));  // supplementary group
}

TEST(PeerAuthTest, OthersAreRefused) {
  EXPECT_FALSE(IsPeerAllowed({1, 1003, 100, {}}, kOwner));
  EXPECT_FALSE(IsPeerAllowed({1, 1003, 100, {27, 999}}, kOwner));
  EXPECT_FALSE(IsPeerAllowed({1, 65534, 65534, {}}, kOwner));  // nobody
  std::string msg = PeerDeniedMessage({1, 1003, 100, {}}, kOwner);
  EXPECT_NE(msg.find("uid 1003"), std::string::npos);
  EXPECT_NE(msg.find("group 998"), std::string::npos);
}

TEST(PeerAuthTest, ParsesProcStatusGroups) {
  EXPECT_EQ(ParseProcStatusGroups("Name:\tbash\nGroups:\t4 24 27 998 \nNgid:\t0\n"),
            (std::vector<gid_t>{4, 24, 27, 998}));
  EXPECT_TRUE(ParseProcStatusGroups("Name:\tbash\nGroups:\t\n").empty());
  EXPECT_TRUE(ParseProcStatusGroups("garbage").empty());
}

TEST(PeerAuthTest, ReadsRealCredentialsOfASocketPair) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  auto peer = ReadPeerCredentials(fds[0]);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_EQ(peer->pid, getpid());
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace medperf::daemon
