#include "daemon/flows/benchmark_run.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "daemon/associations.h"
#include "daemon/container_policy.h"

namespace medperf::daemon::flows {

namespace {

// One model of a benchmark run, as planned before any run job is followed.
struct Planned {
  ModelId model;
  bool from_cache = false;
  std::optional<JobId> job;
  std::string refused;  // why the site's policy keeps the model from running
};

nlohmann::json PlanJson(const std::vector<Planned>& plan) {
  nlohmann::json out = nlohmann::json::array();
  for (const Planned& p : plan) {
    out.push_back({{"model", p.model.value()},
                   {"from_cache", p.from_cache},
                   {"job", p.job ? p.job->value() : 0},
                   {"refused", p.refused}});
  }
  return out;
}

// Waits for the planned run jobs and summarizes what each model did.
absl::StatusOr<BenchmarkRunResult> FollowPlan(FlowContext& ctx, BenchmarkId bid, DatasetId dataset,
                                              const std::vector<Planned>& plan);

}  // namespace

absl::Status CheckBenchmarkRun(storage::Store& store, const ServerConnector& connect,
                               const BenchmarkRunInput& in) {
  RETURN_IF_ERROR(store.GetDataset(in.dataset).status());
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, connect());
  // The benchmark first: one that does not exist (or that this user may not read, or a
  // server that cannot be reached) is answered with its own sentence, before any
  // association question and without leaving a failed job behind.
  ASSIGN_OR_RETURN(Benchmark benchmark, server->GetBenchmark(in.benchmark));
  if (!in.models.empty()) {
    if (std::all_of(in.models.begin(), in.models.end(),
                    [&](ModelId m) { return m == benchmark.reference_model; })) {
      return absl::OkStatus();
    }
  }
  return RequireApprovedDatasetAssociation(*server, in.dataset, in.benchmark);
}

storage::JobRecord BenchmarkRunJob(const BenchmarkRunInput& in) {
  storage::JobRecord record = InteractiveJob("benchmark-run");
  record.benchmark = in.benchmark;
  record.dataset = in.dataset;
  return record;
}

absl::StatusOr<BenchmarkRunResult> BenchmarkRun(FlowContext& ctx, const BenchmarkRunInput& in) {
  Site& site = ctx.site;
  JobManager& jobs = *ctx.jobs;
  JobContext& job = ctx.job;
  DatasetId dataset = in.dataset;
  BenchmarkId bid = in.benchmark;
  ASSIGN_OR_RETURN(storage::DatasetRecord local, site.store().GetDataset(dataset));
  if (local.state != "OPERATION") {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", dataset.value(), " is not operational yet"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const MedPerfApi> server, ctx.connect());
  ASSIGN_OR_RETURN(Benchmark benchmark, server->GetBenchmark(bid));
  RETURN_IF_ERROR(CheckValid(benchmark));
  ASSIGN_OR_RETURN(Dataset remote, server->GetDataset(dataset));
  RETURN_IF_ERROR(CheckValid(remote));
  absl::StatusOr<std::vector<BenchmarkModelAssociation>> rows = server->ListBenchmarkModels(bid);
  if (absl::IsPermissionDenied(rows.status())) {
    return absl::PermissionDeniedError(
        absl::StrCat("the server does not show benchmark ", bid.value(),
                     "'s models to this site: dataset ", dataset.value(),
                     " has no approved association with it yet (see `medperfctl "
                     "association ls`); server said: ",
                     rows.status().message()));
  }
  if (!rows.ok()) return rows.status();
  // The reference model first (as the tutorial's summary shows it), then the
  // approved models in the order they joined the benchmark.
  std::vector<ModelId> models = {benchmark.reference_model};
  for (ModelId m : ApprovedModels(*rows)) {
    if (m != benchmark.reference_model) models.push_back(m);
  }
  if (!in.models.empty()) {
    for (ModelId m : in.models) {
      if (std::find(models.begin(), models.end(), m) == models.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "model ", m.value(), " is not an approved model of benchmark ", bid.value()));
      }
    }
    models = in.models;
  }

  // The site's container policy before anything is queued: without a runnable
  // evaluator no model can be evaluated.
  ASSIGN_OR_RETURN(Container evaluator, server->GetContainer(benchmark.data_evaluator_mlcube));
  RETURN_IF_ERROR(CheckServerContainer(evaluator, site.config().sandbox));

  std::vector<Planned> plan;
  for (ModelId m : models) {
    // A model the site's container policy refuses (marked invalid on the server, a
    // LocalProcess container not allow-listed) is neither run nor reported from
    // cache; the refusal is its row's error, and the other models go on.
    ASSIGN_OR_RETURN(Model model, server->GetModel(m));
    absl::Status runnable = CheckValid(model);
    if (runnable.ok() && model.container) {
      runnable = CheckServerContainer(*model.container, site.config().sandbox);
    }
    if (!runnable.ok()) {
      job.Progress("plan",
                   absl::StrCat("model ", m.value(), " will not run: ", runnable.message()));
      plan.push_back({m, false, std::nullopt, std::string(runnable.message())});
      continue;
    }
    LocalResultUid uid(bid, m, dataset);
    auto cached = site.store().GetResult(uid);
    if (!in.no_cache && cached.ok() && cached->status == "executed") {
      plan.push_back({m, true, std::nullopt, ""});
      continue;
    }
    ASSIGN_OR_RETURN(JobId id, jobs.EnqueueRun(bid, m, dataset,
                                               {{"ignore_model_errors", in.ignore_model_errors}}));
    plan.push_back({m, false, id, ""});
  }
  auto count = [&](auto pred) { return std::count_if(plan.begin(), plan.end(), pred); };
  job.Progress("plan",
               absl::StrCat(models.size(),
                            " model(s): ", count([](const Planned& p) { return p.from_cache; }),
                            " cached, ", count([](const Planned& p) { return p.job.has_value(); }),
                            " queued, ", count([](const Planned& p) { return !p.refused.empty(); }),
                            " refused by the site's policy"));
  // A restarted medperfd finishes this job from the plan: the run jobs resume by
  // themselves, and this job then reports what they did (ResumeBenchmarkRun).
  job.SaveParam("plan", PlanJson(plan));
  return FollowPlan(ctx, bid, dataset, plan);
}

namespace {

absl::StatusOr<BenchmarkRunResult> FollowPlan(FlowContext& ctx, BenchmarkId bid, DatasetId dataset,
                                              const std::vector<Planned>& plan) {
  Site& site = ctx.site;
  JobManager& jobs = *ctx.jobs;
  JobContext& job = ctx.job;
  BenchmarkRunResult out;
  out.benchmark = bid;
  out.dataset = dataset;
  for (const Planned& p : plan) {
    LocalResultUid uid(bid, p.model, dataset);
    std::string error = p.refused;
    bool from_cache = p.from_cache;
    if (p.job) {
      ASSIGN_OR_RETURN(storage::JobRecord done,
                       FollowRunJob(jobs, job, *p.job, absl::StrCat("model ", p.model.value())));
      if (done.state != storage::JobState::kDone) error = done.error;
      // The run job found the result already made (here, or on the server as the user's
      // own finalized execution, adopted): nothing ran, so it counts as skipped.
      nlohmann::json answer = nlohmann::json::parse(done.result_json, nullptr, false);
      if (error.empty() && answer.is_object() &&
          (answer.value("from_cache", false) || answer.value("from_server", false))) {
        from_cache = true;
      }
    }
    job.Count("models", absl::StrCat(out.rows.size() + 1, " of ", plan.size(), " model(s) done"),
              static_cast<int64_t>(out.rows.size() + 1), static_cast<int64_t>(plan.size()),
              "models");
    auto result = site.store().GetResult(uid);
    if (!p.refused.empty()) result = absl::NotFoundError("refused");
    bool partial = result.ok() && result->partial;
    if (error.empty() && result.ok() && result->status == "failed") error = result->error;
    if (from_cache) {
      ++out.skipped;
      out.skipped_partial += partial;
    } else if (!error.empty()) {
      ++out.failed;
    } else {
      ++out.ran;
      out.ran_partial += partial;
    }
    out.rows.push_back({.model = p.model,
                        .local_result_uid = uid.str(),
                        .partial_result = partial,
                        .from_cache = from_cache,
                        .error = error});
  }
  return out;
}

}  // namespace

absl::StatusOr<BenchmarkRunResult> ResumeBenchmarkRun(FlowContext& ctx) {
  const storage::JobRecord& record = ctx.job.record();
  nlohmann::json saved = ctx.job.params().value("plan", nlohmann::json());
  if (!saved.is_array() || !record.benchmark || !record.dataset) {
    return absl::FailedPreconditionError(
        "interrupted: medperfd stopped while this job ran; run the command again");
  }
  std::vector<Planned> plan;
  for (const nlohmann::json& p : saved) {
    Planned planned{ModelId(p.value("model", int64_t{0})), p.value("from_cache", false),
                    std::nullopt, p.value("refused", "")};
    if (int64_t id = p.value("job", int64_t{0}); id > 0) planned.job = JobId(id);
    plan.push_back(std::move(planned));
  }
  ctx.job.Progress("plan", absl::StrCat("medperfd restarted; waiting for the ", plan.size(),
                                        " model run(s) of this benchmark run"));
  return FollowPlan(ctx, *record.benchmark, *record.dataset, plan);
}

nlohmann::json SummaryJson(const BenchmarkRunResult& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const BenchmarkRunRow& r : result.rows) {
    rows.push_back({{"model", r.model.value()},
                    {"local_result_uid", r.local_result_uid},
                    {"partial_result", r.partial_result},
                    {"from_cache", r.from_cache},
                    {"error", r.error}});
  }
  return {{"benchmark", result.benchmark.value()},
          {"dataset", result.dataset.value()},
          {"rows", rows},
          {"total", result.rows.size()},
          {"skipped", result.skipped},
          {"skipped_partial", result.skipped_partial},
          {"failed", result.failed},
          {"ran", result.ran},
          {"ran_partial", result.ran_partial}};
}

}  // namespace medperf::daemon::flows
