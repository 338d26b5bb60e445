#include "daemon/recovery.h"

#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"
#include "daemon/log.h"
#include "daemon/poller.h"

namespace medperf::daemon {
namespace {

constexpr char kPendingPreparationReports[] = "pending_preparation_reports";
constexpr char kSubmissionsInFlight[] = "submissions_in_flight";
constexpr char kExecutionsReporting[] = "executions_reporting";  // "<job id>:<execution id>"

std::string ExecutionNote(JobId job, ResultId execution) {
  return absl::StrCat(job.value(), ":", execution.value());
}

// The notes are read, changed and written back; one daemon process owns the store, so
// a process-wide lock keeps two changes from losing one another.
absl::Mutex notes_mu;
// Submissions this process is sending right now: their notes are theirs to clear, not
// the reconciler's (only a note a dead process left is settled with the server).
std::set<std::string>* sending ABSL_GUARDED_BY(notes_mu) = new std::set<std::string>();

// A note list: a JSON array of ids (datasets) or uids (results) under `key`.
template <typename T>
std::set<T> ReadNotes(storage::Store& store, const char* key) {
  std::set<T> out;
  absl::StatusOr<std::optional<std::string>> text = store.GetMeta(key);
  if (!text.ok() || !text->has_value()) return out;
  nlohmann::json list = nlohmann::json::parse(**text, nullptr, false);
  if (!list.is_array()) return out;
  for (const auto& v : list) {
    if constexpr (std::is_same_v<T, int64_t>) {
      if (v.is_number_integer()) out.insert(v.get<int64_t>());
    } else {
      if (v.is_string()) out.insert(v.get<std::string>());
    }
  }
  return out;
}

template <typename T>
absl::Status WriteNotes(storage::Store& store, const char* key, const std::set<T>& notes) {
  return store.SetMeta(key, nlohmann::json(notes).dump());
}

}  // namespace

absl::Status AddPendingPreparationReports(storage::Store& store,
                                          const std::vector<DatasetId>& datasets) {
  absl::MutexLock lock(&notes_mu);
  std::set<int64_t> ids = ReadNotes<int64_t>(store, kPendingPreparationReports);
  for (DatasetId id : datasets) ids.insert(id.value());
  return WriteNotes(store, kPendingPreparationReports, ids);
}

bool SendPendingPreparationReports(Site& site) {
  std::set<int64_t> pending;
  {
    absl::MutexLock lock(&notes_mu);
    pending = ReadNotes<int64_t>(site.store(), kPendingPreparationReports);
  }
  if (pending.empty()) return false;
  absl::StatusOr<RestClient> server = site.Server();
  if (!server.ok()) return true;
  std::set<int64_t> sent;
  for (int64_t id : pending) {
    absl::StatusOr<Dataset> answer = server->UpdateDataset(
        DatasetId(id),
        {{"report",
          {{"progress", nlohmann::json::object()}, {"execution_status", "interrupted"}}}});
    // A dataset the server no longer has (or refuses us) cannot take the report either.
    if (answer.ok() || !IsServerUnreachable(answer.status())) sent.insert(id);
  }
  absl::MutexLock lock(&notes_mu);
  std::set<int64_t> left = ReadNotes<int64_t>(site.store(), kPendingPreparationReports);
  for (int64_t id : sent) left.erase(id);
  WriteNotes(site.store(), kPendingPreparationReports, left).IgnoreError();
  return !left.empty();
}

absl::Status NoteSubmissionInFlight(storage::Store& store, const LocalResultUid& uid) {
  absl::MutexLock lock(&notes_mu);
  std::set<std::string> uids = ReadNotes<std::string>(store, kSubmissionsInFlight);
  uids.insert(uid.str());
  sending->insert(uid.str());
  return WriteNotes(store, kSubmissionsInFlight, uids);
}

absl::Status EndSubmissionInFlight(storage::Store& store, const LocalResultUid& uid, bool settled) {
  absl::MutexLock lock(&notes_mu);
  sending->erase(uid.str());
  if (!settled) return absl::OkStatus();
  std::set<std::string> uids = ReadNotes<std::string>(store, kSubmissionsInFlight);
  if (uids.erase(uid.str()) == 0) return absl::OkStatus();
  return WriteNotes(store, kSubmissionsInFlight, uids);
}

absl::StatusOr<bool> AdoptServerSubmission(Site& site, const MedPerfApi& server,
                                           storage::ResultRecord& result) {
  if (!result.server_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("result ", result.uid.str(), " has no server execution"));
  }
  ASSIGN_OR_RETURN(Result remote, server.GetResult(*result.server_id));
  if (!remote.finalized) return false;
  result.submitted_at = storage::NowTimestamp();
  RETURN_IF_ERROR(site.store().PutResult(result));
  site.events()
      .Publish("result.submitted",
               absl::StrCat("result ", result.uid.str(),
                            " was already submitted to the server "
                            "as execution ",
                            result.server_id->value(),
                            " by an attempt whose answer was lost; recorded as submitted"),
               {{"uid", result.uid.str()},
                {"execution", result.server_id->value()},
                {"reconciled", true}})
      .IgnoreError();
  return true;
}

bool ReconcileSubmissionsInFlight(Site& site) {
  std::set<std::string> noted;
  {
    absl::MutexLock lock(&notes_mu);
    noted = ReadNotes<std::string>(site.store(), kSubmissionsInFlight);
    for (const std::string& uid : *sending) noted.erase(uid);
  }
  if (noted.empty()) return false;
  absl::StatusOr<RestClient> server = site.Server();
  if (!server.ok()) return true;
  bool left = false;
  for (const std::string& text : noted) {
    absl::StatusOr<LocalResultUid> uid = LocalResultUid::Parse(text);
    absl::StatusOr<storage::ResultRecord> result =
        uid.ok() ? site.store().GetResult(*uid)
                 : absl::StatusOr<storage::ResultRecord>(uid.status());
    // A result gone, already recorded or never sent has nothing left to settle.
    bool settled = !result.ok() || result->submitted_at || !result->server_id;
    if (!settled) {
      absl::StatusOr<bool> adopted = AdoptServerSubmission(site, *server, *result);
      settled = adopted.ok() || !IsServerUnreachable(adopted.status());
      if (!adopted.ok()) {
        LogWarning("cannot settle an interrupted result submission",
                   {{"uid", text}, {"error", std::string(adopted.status().message())}});
      } else if (!*adopted) {
        LogInfo(absl::StrCat("the interrupted submission of result ", text,
                             " did not reach the server; submit it again with `medperfctl "
                             "result submit ",
                             text, "`"));
      }
    }
    if (!settled) {
      left = true;
      continue;
    }
    absl::MutexLock lock(&notes_mu);
    std::set<std::string> now = ReadNotes<std::string>(site.store(), kSubmissionsInFlight);
    now.erase(text);
    WriteNotes(site.store(), kSubmissionsInFlight, now).IgnoreError();
  }
  return left;
}

absl::Status NoteExecutionReporting(storage::Store& store, JobId job, ResultId execution) {
  absl::MutexLock lock(&notes_mu);
  std::set<std::string> notes = ReadNotes<std::string>(store, kExecutionsReporting);
  notes.insert(ExecutionNote(job, execution));
  return WriteNotes(store, kExecutionsReporting, notes);
}

absl::Status EndExecutionReporting(storage::Store& store, JobId job, ResultId execution) {
  absl::MutexLock lock(&notes_mu);
  std::set<std::string> notes = ReadNotes<std::string>(store, kExecutionsReporting);
  if (notes.erase(ExecutionNote(job, execution)) == 0) return absl::OkStatus();
  return WriteNotes(store, kExecutionsReporting, notes);
}

bool SettleExecutionReports(Site& site) {
  std::set<std::string> notes;
  {
    absl::MutexLock lock(&notes_mu);
    notes = ReadNotes<std::string>(site.store(), kExecutionsReporting);
  }
  if (notes.empty()) return false;
  std::set<std::string> settled;
  std::optional<RestClient> server;
  for (const std::string& note : notes) {
    int64_t job_id = 0, execution_id = 0;
    size_t colon = note.find(':');
    if (colon == std::string::npos || !absl::SimpleAtoi(note.substr(0, colon), &job_id) ||
        !absl::SimpleAtoi(note.substr(colon + 1), &execution_id)) {
      settled.insert(note);  // not ours: nothing can be done with it
      continue;
    }
    absl::StatusOr<storage::JobRecord> job = site.store().GetJob(JobId(job_id));
    if (job.ok() && !storage::IsFinished(job->state)) continue;  // it will report itself
    if (!server) {
      absl::StatusOr<RestClient> client = site.Server();
      if (!client.ok()) return true;
      server.emplace(*std::move(client));
    }
    absl::StatusOr<Result> execution = server->GetResult(ResultId(execution_id));
    if (!execution.ok()) {
      // An execution the server no longer has (or refuses us) cannot take the report.
      if (!IsServerUnreachable(execution.status())) settled.insert(note);
      continue;
    }
    bool sent_all = true;
    for (const auto& [field, report] :
         {std::pair<const char*, const nlohmann::json&>{"model_report", execution->model_report},
          {"evaluation_report", execution->evaluation_report}}) {
      if (!report.is_object() || report.value("execution_status", "") != "started") continue;
      absl::StatusOr<Result> answer = server->UpdateResult(
          ResultId(execution_id), {{field, {{"execution_status", "interrupted"}}}});
      if (!answer.ok() && IsServerUnreachable(answer.status())) sent_all = false;
    }
    if (sent_all) settled.insert(note);
  }
  absl::MutexLock lock(&notes_mu);
  std::set<std::string> left = ReadNotes<std::string>(site.store(), kExecutionsReporting);
  for (const std::string& note : settled) left.erase(note);
  WriteNotes(site.store(), kExecutionsReporting, left).IgnoreError();
  return !left.empty();
}

}  // namespace medperf::daemon
