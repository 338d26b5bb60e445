// The unattended loop: every poll interval, ask the MedPerf server which models are
// approved for the benchmarks this site's datasets are associated with, and queue a
// `run` job for every (benchmark, model, dataset) that has neither a local result nor
// a job yet. See docs/daemon.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/entities.h"
#include "core/rest_client.h"
#include "daemon/associations.h"
#include "daemon/config.h"
#include "daemon/events.h"
#include "daemon/jobs.h"
#include "daemon/site.h"

namespace medperf::daemon {

// How long to wait before the next poll: `interval` after a success, doubled per
// consecutive failure up to `max_backoff`, then spread by ±jitter (u in [0, 1)) so a
// fleet of sites does not hit the server in lockstep.
std::chrono::milliseconds NextPollDelay(const PollConfig& poll, int consecutive_failures, double u);

// Errors that mean "the server is not there right now" (transport errors and 5xx,
// classified kServerUnreachable, core/errors.h) as opposed to a refusal (401/403/400) or
// a configuration error (a TLS certificate that cannot be verified): only these count
// as an outage (`server.unreachable`, the poll backoff).
bool IsServerUnreachable(const absl::Status& status);

struct PollOutcome {
  absl::Status status;  // OK, or why the poll failed
  int benchmarks = 0;   // benchmarks followed in this poll
  int new_models = 0;   // models seen approved for the first time
  int new_jobs = 0;     // run jobs queued by this poll
  std::string Summary() const;
};

class Poller {
 public:
  Poller(Site& site, JobManager& jobs);
  ~Poller();

  // Starts the background thread (when polling is enabled and a server is configured).
  void Start();
  // Stops the thread; a poll in flight finishes first (bounded by the server timeout).
  void Shutdown();

  // Polls now on the caller's thread (`medperfctl sync`); the timer restarts after it.
  PollOutcome SyncNow();

 private:
  PollOutcome PollOnce();
  absl::Status Reconcile(PollOutcome* outcome);
  absl::StatusOr<RestClient> Client() const;
  void Record(const PollOutcome& outcome);
  void Loop();

  Site& site_;
  JobManager& jobs_;
  const DaemonConfig& config_;

  absl::Mutex poll_mu_;  // one poll at a time (timer and `sync`)
  std::map<int64_t, ModelId> reference_models_ ABSL_GUARDED_BY(poll_mu_);
  int failures_ ABSL_GUARDED_BY(poll_mu_) = 0;
  bool unreachable_ ABSL_GUARDED_BY(poll_mu_) = false;
  std::chrono::steady_clock::time_point down_since_ ABSL_GUARDED_BY(poll_mu_);
  std::string last_error_ ABSL_GUARDED_BY(poll_mu_);

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by SyncNow to restart the timer
  std::thread thread_;
};

}  // namespace medperf::daemon
