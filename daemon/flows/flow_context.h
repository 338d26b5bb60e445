// What every MedPerf workflow of the daemon works with, free of gRPC so that medperfd's
// control service, a dashboard or a unit test can drive the same flow. The workflows
// (one header each in this folder) take a plain input struct and this context, and
// return absl::StatusOr<typed result>; the control service only turns requests into
// inputs and results into answers.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/rest_client.h"
#include "daemon/jobs.h"
#include "daemon/site.h"

namespace medperf::daemon::flows {

// Opens the MedPerf server as the flow's caller. Flows call it only when a step first
// needs the server, so the steps before it (argument and local checks, a dry run of
// set_operational, a `test run` of local containers) work without one, and fail as
// before when none is configured: FAILED_PRECONDITION "no MedPerf server configured".
using ServerConnector = std::function<absl::StatusOr<std::shared_ptr<const MedPerfApi>>()>;

// The site's own server (Site::Server), acting as `token`'s user when it is not empty
// (a ctl call's --token-file), else as the site's identity.
ServerConnector SiteServer(Site& site, std::string token);

struct FlowContext {
  Site& site;                  // store, events, assets, runners, config
  JobContext& job;             // progress, state, cancellation of the job running the flow
  ServerConnector connect;     // the MedPerf server
  JobManager* jobs = nullptr;  // run jobs: needed by associate dataset and benchmark run
};

// Waits for run job `run`, forwarding its progress into `parent`'s stream as
// "<label>: <message>". Returns the run job's final record (whatever its state), or
// CANCELLED when `parent` is cancelled (the run job goes on), or the JobManager's error.
absl::StatusOr<storage::JobRecord> FollowRunJob(JobManager& jobs, JobContext& parent, JobId run,
                                                const std::string& label);

}  // namespace medperf::daemon::flows
