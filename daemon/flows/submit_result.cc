#include "daemon/flows/submit_result.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

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
  RETURN_IF_ERROR(server->SubmitResult(*result.server_id, metrics, result.partial).status());
  result.submitted_at = storage::NowTimestamp();
  RETURN_IF_ERROR(site.store().PutResult(result));
  site.events()
      .Publish("result.submitted",
               absl::StrCat("result ", uid.str(), " submitted to the server as execution ",
                            result.server_id->value()),
               {{"uid", uid.str()}, {"execution", result.server_id->value()}})
      .IgnoreError();
  return result;
}

}  // namespace medperf::daemon::flows
