#include "daemon/flows/submit_result.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/recovery.h"

namespace medperf::daemon::flows {

absl::StatusOr<storage::ResultRecord> SubmitResult(Site& site, const ServerConnector& connect,
                                                   const SubmitResultInput& in) {
  ASSIGN_OR_RETURN(LocalResultUid uid, LocalResultUid::Parse(in.uid));
  ASSIGN_OR_RETURN(storage::ResultRecord result, site.store().GetResult(uid));
  if (result.status != "executed") {
    return absl::FailedPreconditionError(absl::StrCat(
        "result ", uid.str(), " failed (", result.error, "); there is nothing to submit"));
  }
  if (result.submitted_at) {
    return absl::AlreadyExistsError(
        absl::StrCat("result ", uid.str(), " was already submitted at ", *result.submitted_at));
  }
  if (!result.server_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("result ", uid.str(), " has no server execution"));
  }
  if (in.dry_run) return result;
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, connect());
  nlohmann::json metrics = nlohmann::json::parse(result.metrics_json, nullptr, false);
  // Noted before the request leaves: if medperfd dies before the answer is recorded, the
  // next start asks the server how it ended (daemon/recovery.h).
  RETURN_IF_ERROR(NoteSubmissionInFlight(site.store(), uid));
  absl::Status sent = server->SubmitResult(*result.server_id, metrics, result.partial).status();
  if (!sent.ok()) {
    // The server refuses to update a finalized execution: an earlier attempt whose answer
    // was lost (a kill, a reset, a timeout) may have finalized it. Then it is submitted.
    absl::StatusOr<bool> adopted = AdoptServerSubmission(site, *server, result);
    EndSubmissionInFlight(site.store(), uid, adopted.ok()).IgnoreError();
    if (adopted.ok() && *adopted) return result;
    return sent;
  }
  result.submitted_at = storage::NowTimestamp();
  absl::Status recorded = site.store().PutResult(result);
  EndSubmissionInFlight(site.store(), uid, recorded.ok()).IgnoreError();
  RETURN_IF_ERROR(recorded);
  site.events()
      .Publish("result.submitted",
               absl::StrCat("result ", uid.str(), " submitted to the server as execution ",
                            result.server_id->value()),
               {{"uid", uid.str()}, {"execution", result.server_id->value()}})
      .IgnoreError();
  return result;
}

}  // namespace medperf::daemon::flows
