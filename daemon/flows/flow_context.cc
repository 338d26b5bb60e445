#include "daemon/flows/flow_context.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace medperf::daemon::flows {

ServerConnector SiteServer(Site& site, std::string token) {
  return [&site, token = std::move(token)]() -> absl::StatusOr<std::shared_ptr<const MedPerfApi>> {
    ASSIGN_OR_RETURN(RestClient client, site.Server(token));
    return std::make_shared<const RestClient>(std::move(client));
  };
}

absl::StatusOr<storage::JobRecord> FollowRunJob(JobManager& jobs, JobContext& parent, JobId run,
                                                const std::string& label) {
  size_t cursor = 0;
  while (true) {
    std::vector<ProgressUpdate> updates;
    bool finished = false;
    auto record = jobs.Poll(run, &cursor, &updates, &finished, absl::Seconds(1));
    if (!record.ok()) return record.status();
    for (const auto& u : updates) {
      if (u.final) continue;
      if (u.output) {
        parent.Output(absl::StrCat(label, " ", u.step), u.message, u.log_path);
      } else if (u.total > 0 || u.done > 0) {
        parent.Count(u.step, absl::StrCat(label, ": ", u.message), u.done, u.total, u.unit);
      } else {
        parent.Progress(u.step, absl::StrCat(label, ": ", u.message), u.log_path);
      }
    }
    if (finished) {
      parent.EndOutput(label, record->log_path);
      return record;
    }
    if (parent.cancelled()) {
      return absl::CancelledError(absl::StrCat("stopped waiting for job ", run.value(),
                                               " (it continues; see medperfctl job ls)"));
    }
  }
}

}  // namespace medperf::daemon::flows
