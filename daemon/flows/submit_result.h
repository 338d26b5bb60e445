// `result submit`: sends a local result's metrics to its server execution, which
// finalizes it (MedPerf: cli/medperf/commands/execution/submit.py, ResultSubmission).
// Short, so it runs in the caller's request, not as a job.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "daemon/flows/flow_context.h"
#include "daemon/site.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct SubmitResultInput {
  std::string uid;       // the local result uid, "b<B>m<M>d<D>"
  bool dry_run = false;  // check only: send and store nothing
};

// Returns the local result as stored after the submission (submitted_at set), or as it
// is on a dry run. Errors: INVALID_ARGUMENT for a malformed uid; NOT_FOUND when no such
// local result; FAILED_PRECONDITION when the result failed or has no server execution;
// ALREADY_EXISTS when it was submitted before; the server's; the store's. On success a
// "result.submitted" event is published. `connect` is called only when sending.
// Exactly once across crashes: the sending is noted in the store first, and a failed
// request is followed by a look at the server's execution — when an earlier attempt
// finalized it, the result is recorded as submitted and returned (daemon/recovery.h).
absl::StatusOr<storage::ResultRecord> SubmitResult(Site& site, const ServerConnector& connect,
                                                   const SubmitResultInput& in);

}  // namespace medperf::daemon::flows
