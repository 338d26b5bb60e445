// medperfd: the MedPerf site daemon.
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

using namespace medperf::daemon;

int main(int argc, char** argv) {
  absl::StatusOr<CommandLine> cl =
      ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  if (!cl.ok()) {
    std::cerr << "medperfd: " << cl.status().message() << "\n(see medperfd --help)\n";
    return 2;
  }
  if (cl->show_help) {
    std::cout << UsageText();
    return 0;
  }
  if (cl->show_version) {
    std::cout << "medperfd " << MEDPERF_VERSION << "\n";
    return 0;
  }
  SetLogLevel(cl->config.log_level);

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(cl->config);
  if (!daemon.ok()) {
    LogError(absl::StrCat("cannot start: ", daemon.status().message()));
    sd_notifyf(0, "STATUS=failed to start: %s", std::string(daemon.status().message()).c_str());
    return 1;
  }
  LogInfo((*daemon)->StatusLine());
  sd_notifyf(0, "READY=1\nSTATUS=%s", (*daemon)->StatusLine().c_str());

  // Ping the systemd watchdog at half its interval while the main loop is healthy.
  uint64_t watchdog_usec = 0;
  bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  timespec wait{};
  if (watchdog) {
    wait.tv_sec = static_cast<time_t>(watchdog_usec / 2 / 1000000);
    wait.tv_nsec = static_cast<long>((watchdog_usec / 2 % 1000000) * 1000);
  } else {
    wait.tv_sec = 3600;
  }
  while (true) {
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      LogInfo(absl::StrCat("received ", sig == SIGTERM ? "SIGTERM" : "SIGINT", ", stopping"));
      break;
    }
    if (sig == SIGHUP) {
      LogInfo("SIGHUP: configuration is read at start; restart medperfd to apply changes");
    }
    if (watchdog) sd_notify(0, "WATCHDOG=1");
  }
  sd_notify(0, "STOPPING=1");
  (*daemon)->Shutdown();
  daemon->reset();
  LogInfo("stopped");
  return 0;
}
