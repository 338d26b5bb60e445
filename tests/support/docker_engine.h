// A private Docker engine for tests: Debian's docker.io `dockerd` started by the test
// process itself, once per process (ctest runs each test in its own process, so "one
// engine per test" there and one per binary when a binary is run by hand), with its own
// socket, data root, exec root, pid file, containerd namespace and an empty daemon.json,
// `--iptables=false --bridge=none` (no host network setup: tasks run with --network none
// anyway). The storage driver is dockerd's own choice (overlay2 where the kernel allows
// it, vfs otherwise). The engine is stopped and its folders removed when the process
// exits; PR_SET_PDEATHSIG stops it too if the test process dies.
//
// Starting it sets DOCKER_HOST in this process's environment, so the docker CLI, the
// runners and any daemon the test starts all talk to the private engine.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace medperf::testing {

struct DockerEngine {
  std::string host;            // "unix:///tmp/mpdk-XXXXXX/docker.sock"
  std::filesystem::path root;  // data root, exec root, log and socket live under it
  std::string driver;          // storage driver dockerd chose ("overlay2", "vfs", ...)
};

// The process's private engine, started on first use (about 0.5-1 s). nullptr when it
// cannot run here, with the reason in *why (docker.io not installed, not root, dockerd
// failed: the end of its log).
const DockerEngine* PrivateDockerEngine(std::string* why);

// Skips the current test, saying why, when no private engine can run here.
#define MEDPERF_REQUIRE_DOCKER_ENGINE()                                                  \
  do {                                                                                   \
    std::string medperf_docker_why;                                                      \
    if (::medperf::testing::PrivateDockerEngine(&medperf_docker_why) == nullptr) {       \
      GTEST_SKIP() << "SKIPPED: no private Docker engine (" << medperf_docker_why        \
                   << "); the real-Docker checks of this test did NOT run on this host"; \
    }                                                                                    \
  } while (0)

// Copies `exe` into `rootfs` at `inside` (default: its host path) and every shared
// library `ldd` lists for it at its host path, so the program runs in an image built
// from `rootfs`. Static executables need no libraries.
::testing::AssertionResult CopyWithLibraries(const std::filesystem::path& exe,
                                             const std::filesystem::path& rootfs,
                                             const std::filesystem::path& inside = {});

// `docker import` of the folder `rootfs` as image `tag`, with Dockerfile instructions
// `changes` (e.g. "ENTRYPOINT [\"/bin/prep\"]"). No registry is involved.
::testing::AssertionResult ImportImage(const std::filesystem::path& rootfs, const std::string& tag,
                                       const std::vector<std::string>& changes = {});

}  // namespace medperf::testing
