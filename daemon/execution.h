// The MedPerf execution steps as the daemon runs them: data preparation
// (prepare → sanity_check → statistics) and model evaluation (infer → evaluate),
// plus the body of a persistent `run` job.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "daemon/jobs.h"
#include "daemon/site.h"

namespace medperf::daemon {

// Runs `task` of `container` with the site's runner. The container's parameters and
// additional files are mounted when the task declares them; `mounts` supplies the rest.
// A task that does not succeed is an error naming the task, how it ended and its log.
absl::Status RunContainerTask(Site& site, JobContext& job, const LocalContainer& container,
                              const std::string& task,
                              std::map<std::string, std::filesystem::path> mounts,
                              const std::filesystem::path& log_file);

struct PreparedData {
  std::filesystem::path data;
  std::filesystem::path labels;
  nlohmann::json statistics;
  std::string generated_uid;  // the MedPerf folders hash of data + labels
};

// Prepares raw data into `out_dir` (data/, labels/, statistics.yaml), skipping
// `prepare` when `out_dir/.ready` exists (like the MedPerf client) but always re-running
// sanity_check and statistics. Logs go to `log_dir`.
absl::StatusOr<PreparedData> PrepareData(Site& site, JobContext& job, const LocalContainer& prep,
                                         const std::filesystem::path& raw_data,
                                         const std::filesystem::path& raw_labels,
                                         const std::filesystem::path& out_dir,
                                         const std::filesystem::path& log_dir);

struct Evaluation {
  nlohmann::json metrics;
  bool partial = false;     // the model failed and --ignore-model-errors was set
  std::string model_error;  // why the model failed, when partial
  std::filesystem::path log_dir;
};

// Tells the MedPerf server how an execution's two steps are going: `field` is
// "model_report" or "evaluation_report", `status` one of "pending", "started",
// "finished", "failed", "interrupted" (sent as {field: {"execution_status": status}}).
using ExecutionReporter = std::function<void(const char* field, const char* status)>;

// Runs the model's `infer` on prepared data and the evaluator's `evaluate` on its
// predictions, in `work_dir` (predictions/, results.yaml, logs/). `report` hears each
// step's status in the order and with the values the MedPerf client sends them
// (mlcommons/medperf cli/medperf/commands/execution/container_execution.py): both
// "pending", then model "started" and "finished"/"failed"/"interrupted", then (unless
// the model failed without --ignore-model-errors) evaluation "started" and
// "finished"/"failed"/"interrupted". A model that fails under `ignore_model_errors`
// is reported "failed" and its partial predictions are still evaluated.
// Errors: the failing task's status (CANCELLED when the job was cancelled);
// INVALID_ARGUMENT when the evaluator's results file is missing or not a mapping.
absl::StatusOr<Evaluation> EvaluateModel(Site& site, JobContext& job, const LocalContainer& model,
                                         const LocalContainer& evaluator,
                                         const std::filesystem::path& data,
                                         const std::filesystem::path& labels,
                                         const std::filesystem::path& work_dir,
                                         bool ignore_model_errors, const ExecutionReporter& report);

// Empties `dir` (creating it if needed).
absl::Status ResetDir(const std::filesystem::path& dir);

// Reads a YAML file that must hold a non-empty mapping (statistics, results).
absl::StatusOr<nlohmann::json> ReadYamlMapping(const std::filesystem::path& path,
                                               const std::string& what);

// The body of a `run` job: one model on one local dataset for a benchmark, with the
// server execution created first and the result stored as b{B}m{M}d{D}.
absl::StatusOr<nlohmann::json> ExecuteRunJob(Site& site, JobContext& job);

}  // namespace medperf::daemon
