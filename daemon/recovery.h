// What a restart repairs on the MedPerf server after medperfd was stopped or killed in
// the middle of telling it something (docs/operations.md, "After a crash"). The local
// database is always consistent by itself (every write is one transaction); what can be
// left half-done is a server record: a preparation or execution report still saying
// `started`, or a result submission whose request may or may not have reached the server.
//
// Each such piece of unfinished business is written to the store's meta table before
// the risky step (a JSON list per kind), so a kill at any moment leaves a note, and the
// housekeeper (Daemon::Housekeep) settles the notes with the server after the next start.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "core/ids.h"
#include "core/rest_client.h"
#include "daemon/site.h"
#include "storage/store.h"

namespace medperf::daemon {

// --- Preparations ---

// Notes datasets whose interrupted preparation the server has not heard about yet.
// Errors: the store's.
absl::Status AddPendingPreparationReports(storage::Store& store,
                                          const std::vector<DatasetId>& datasets);

// Sends the `interrupted` report for each noted dataset (the report the MedPerf client
// sends when a preparation is interrupted, cli/medperf/commands/dataset/prepare.py);
// those the server could not be reached for stay noted. Returns whether some are left.
bool SendPendingPreparationReports(Site& site);

// --- Result submissions ---

// Notes that the submission of `uid` is about to be sent, before the request leaves.
// Errors: the store's (the submission must then not be sent).
absl::Status NoteSubmissionInFlight(storage::Store& store, const LocalResultUid& uid);
// Ends this process's sending of `uid`. `settled`: the outcome is known and recorded
// locally (submitted, or certainly refused), so the note goes; otherwise (the server
// could not say) it stays for ReconcileSubmissionsInFlight. Errors: the store's.
absl::Status EndSubmissionInFlight(storage::Store& store, const LocalResultUid& uid, bool settled);

// Asks the server whether the execution of `result` (which must have a server_id) is
// already finalized — by an earlier submission whose answer was lost to a kill, a
// reset connection or a timeout. If so, records the submission locally (submitted_at =
// now, when this site learnt of it), publishes `result.submitted` with
// "reconciled": true, updates `result` and returns true; returns false when the server
// does not have it (the result is still to be submitted). The server refuses a second
// update of a finalized execution, so this is how a submission is made exactly once
// (MedPerf: cli/medperf/commands/execution/submit.py checks `finalized` the same way).
// Errors: the server's when it cannot be asked; the store's.
absl::StatusOr<bool> AdoptServerSubmission(Site& site, const MedPerfApi& server,
                                           storage::ResultRecord& result);

// Settles every noted submission with AdoptServerSubmission: finalized on the server
// → recorded as submitted here; not there → still submittable; server unreachable →
// stays noted. Returns whether some are left.
bool ReconcileSubmissionsInFlight(Site& site);

// --- Execution reports ---

// Notes that run job `job` is about to send reports on server execution `execution`,
// before its first one, so that a kill before its last report leaves a note.
// Errors: the store's.
absl::Status NoteExecutionReporting(storage::Store& store, JobId job, ResultId execution);
// Ends the note when the job has sent its last report (or failed before starting one).
// Errors: the store's.
absl::Status EndExecutionReporting(storage::Store& store, JobId job, ResultId execution);

// For each note whose job will not run again (failed — e.g. given up after
// kMaxRunAttempts interruptions —, cancelled while requeued, succeeded, or pruned):
// reads the execution and sends `interrupted` for each of `model_report` and
// `evaluation_report` still `started`, as the MedPerf client does when a step is
// interrupted (cli/medperf/commands/execution/container_execution.py). Notes of jobs
// still queued or running stay: the job sends its own reports when it runs again.
// Notes the server could not be reached for stay. Returns whether some notes are left.
bool SettleExecutionReports(Site& site);

}  // namespace medperf::daemon
