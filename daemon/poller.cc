#include "daemon/poller.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/errors.h"
#include "core/hashing.h"
#include "core/status_macros.h"
#include "daemon/container_policy.h"
#include "daemon/log.h"

namespace medperf::daemon {

using Json = nlohmann::json;

namespace {

// Fetches one entity with `get` and stores the site policy's `judge`ment of it in
// `*verdict`. A server error is returned: it fails the poll, which is retried like any
// other. An entity the server no longer has is a verdict of its own, so that one deleted
// model does not stop every other run.
template <typename T, typename Get, typename Judge>
absl::Status Verdict(Get get, Judge judge, absl::Status* verdict) {
  absl::StatusOr<T> entity = get();
  if (absl::IsNotFound(entity.status())) {
    *verdict = entity.status();
    return absl::OkStatus();
  }
  if (!entity.ok()) return entity.status();
  *verdict = judge(*entity);
  return absl::OkStatus();
}

}  // namespace

std::chrono::milliseconds NextPollDelay(const PollConfig& poll, int consecutive_failures,
                                        double u) {
  using std::chrono::milliseconds;
  double interval =
      static_cast<double>(std::chrono::duration_cast<milliseconds>(poll.interval).count());
  double cap =
      static_cast<double>(std::chrono::duration_cast<milliseconds>(poll.max_backoff).count());
  cap = std::max(cap, interval);  // a cap below the interval would poll faster when failing
  double base = interval;
  if (consecutive_failures > 0) {
    base = std::min(cap, interval * std::pow(2.0, std::min(consecutive_failures, 30)));
  }
  double jitter = std::clamp(poll.jitter, 0.0, 1.0);
  double delay = base * (1.0 + jitter * (2.0 * std::clamp(u, 0.0, 1.0) - 1.0));
  if (consecutive_failures > 0) delay = std::min(delay, cap);
  return milliseconds(std::max<int64_t>(1, std::llround(delay)));
}

bool IsServerUnreachable(const absl::Status& status) {
  // The classification, not the code: a TLS certificate nobody trusts is a configuration
  // error (reported once as poll.failed), never an outage to back off from.
  return IsRetryable(status);
}

std::string PollOutcome::Summary() const {
  if (!status.ok()) return absl::StrCat("poll failed: ", status.message());
  return absl::StrCat("polled ", benchmarks, " benchmark(s): ", new_models, " new model(s), ",
                      new_jobs, " new job(s)");
}

Poller::Poller(Site& site, JobManager& jobs) : site_(site), jobs_(jobs), config_(site.config()) {}

Poller::~Poller() { Shutdown(); }

void Poller::Start() {
  if (!config_.poll.enabled) {
    LogInfo("polling is disabled (poll.enabled: false); `medperfctl sync` still polls");
    return;
  }
  if (config_.server.url.empty()) {
    LogInfo("no MedPerf server configured: not polling");
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Poller::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Poller::Loop() {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // The first poll comes right after start (a restarted daemon catches up at once).
  std::chrono::milliseconds delay(0);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      int64_t seen = syncs_;
      auto wake = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || syncs_ != seen; };
      if (delay.count() > 0) mu_.AwaitWithTimeout(absl::Condition(&wake), absl::FromChrono(delay));
      if (stopping_) return;
      if (syncs_ != seen) {
        // `sync` just polled: start a fresh interval from now.
        delay = NextPollDelay(config_.poll, 0, unit(rng));
        continue;
      }
    }
    PollOnce();
    int failures;
    {
      absl::MutexLock lock(&poll_mu_);
      failures = failures_;
    }
    delay = NextPollDelay(config_.poll, failures, unit(rng));
    LogDebug("next poll",
             {{"in_ms", std::to_string(delay.count())}, {"failures", std::to_string(failures)}});
  }
}

PollOutcome Poller::SyncNow() {
  PollOutcome outcome = PollOnce();
  absl::MutexLock lock(&mu_);
  ++syncs_;
  return outcome;
}

absl::StatusOr<RestClient> Poller::Client() const {
  if (config_.server.url.empty()) {
    return absl::FailedPreconditionError(
        "no MedPerf server configured: set server.url in medperfd.yaml or pass --server-url");
  }
  // Same identity and TLS settings as Site::Server, but no retries inside one poll: the
  // poller has its own capped backoff, and the client's retries would only delay
  // noticing (and reporting) an outage.
  RestClientOptions options;
  options.server_url = config_.server.url;
  if (!config_.server.token_file.empty()) {
    options.token_file = config_.server.token_file;
  } else {
    options.token = config_.server.token;
  }
  options.tls = TlsOptions{config_.server.ca_bundle.string(), config_.server.tls_verify};
  options.timeout =
      std::min<std::chrono::milliseconds>(config_.server.timeout, std::chrono::seconds(30));
  options.connect_timeout = std::chrono::seconds(5);
  options.max_attempts = 1;
  return RestClient::Create(std::move(options));
}

PollOutcome Poller::PollOnce() {
  absl::MutexLock lock(&poll_mu_);
  PollOutcome outcome;
  outcome.status = Reconcile(&outcome);
  Record(outcome);
  return outcome;
}

void Poller::Record(const PollOutcome& outcome) {
  storage::Store& store = site_.store();
  EventBus& events = site_.events();
  store.SetMeta("last_poll", storage::NowTimestamp()).IgnoreError();
  if (outcome.status.ok()) {
    store.SetMeta("last_poll_error", "").IgnoreError();
    if (unreachable_) {
      auto down = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - down_since_)
                      .count();
      events
          .Publish(
              "server.recovered",
              absl::StrCat("the MedPerf server answers again after ", down, " s"),
              {{"url", config_.server.url}, {"down_seconds", down}, {"failed_polls", failures_}})
          .IgnoreError();
    }
    unreachable_ = false;
    failures_ = 0;
    last_error_.clear();
    LogDebug(outcome.Summary());
    return;
  }
  std::string error(outcome.status.message());
  store.SetMeta("last_poll_error", error).IgnoreError();
  if (IsServerUnreachable(outcome.status)) {
    ++failures_;
    if (!unreachable_) {
      unreachable_ = true;
      down_since_ = std::chrono::steady_clock::now();
      events
          .Publish(
              "server.unreachable",
              absl::StrCat("the MedPerf server is unreachable: ", error, "; retrying with backoff"),
              {{"url", config_.server.url}, {"error", error}})
          .IgnoreError();
    }
  } else if (error != last_error_) {
    // A refusal (bad token, permissions) will not fix itself: say it once per change.
    events
        .Publish("poll.failed", absl::StrCat("polling the MedPerf server failed: ", error),
                 {{"url", config_.server.url}, {"error", error}})
        .IgnoreError();
  }
  last_error_ = error;
}

absl::Status Poller::Reconcile(PollOutcome* outcome) {
  storage::Store& store = site_.store();
  // Only datasets that can run a model are worth asking the server about.
  ASSIGN_OR_RETURN(std::vector<storage::DatasetRecord> datasets, store.ListDatasets());
  std::set<DatasetId> ready;
  for (const auto& d : datasets) {
    if (d.state == "OPERATION" && d.prep_status == "prepared") ready.insert(d.id);
  }
  // A site with nothing that could run a model has nothing to ask: an idle poll sends no
  // request at all (docs/daemon.md promises it, and a hospital's proxy log shows it).
  if (ready.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(RestClient server, Client());
  // One request tells which benchmarks accepted which of our datasets. (The MedPerf API
  // has no ETag / If-Modified-Since, so an idle poll is 1 + one small GET per followed
  // benchmark; digests below keep the work after it proportional to what changed.)
  ASSIGN_OR_RETURN(std::vector<BenchmarkDatasetAssociation> rows,
                   server.ListMyDatasetAssociations());
  std::map<BenchmarkId, std::vector<DatasetId>> by_benchmark = ApprovedDatasetsByBenchmark(rows);

  for (const auto& [benchmark, assoc_datasets] : by_benchmark) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("medperfd is stopping");
    }
    if (!FollowsBenchmark(config_.policy, benchmark)) continue;
    std::vector<DatasetId> local;
    for (DatasetId d : assoc_datasets) {
      if (ready.count(d)) local.push_back(d);
    }
    if (local.empty()) continue;
    ++outcome->benchmarks;

    ASSIGN_OR_RETURN(std::vector<BenchmarkModelAssociation> model_rows,
                     server.ListBenchmarkModels(benchmark));
    std::vector<ModelId> models = ApprovedModels(model_rows);
    auto ref = reference_models_.find(benchmark.value());
    if (ref == reference_models_.end()) {
      ASSIGN_OR_RETURN(Benchmark b, server.GetBenchmark(benchmark));
      ref = reference_models_.emplace(benchmark.value(), b.reference_model).first;
    }
    // The reference model runs too, as in `medperf benchmark run` (it needs no association).
    if (std::find(models.begin(), models.end(), ref->second) == models.end()) {
      models.insert(models.begin(), ref->second);
    }

    // New-model detection only when the approved set changed since the last poll.
    std::vector<std::string> ids;
    for (ModelId m : models) ids.push_back(m.str());
    std::string digest = Sha256Hex(absl::StrJoin(ids, ","));
    ASSIGN_OR_RETURN(bool changed,
                     store.UpdateServerDigest("benchmark_models", benchmark.value(), digest));
    if (changed) {
      std::string key = absl::StrCat("poller.seen_models.", benchmark.value());
      ASSIGN_OR_RETURN(std::optional<std::string> seen_text, store.GetMeta(key));
      bool first_sync = !seen_text.has_value() || seen_text->empty();
      Json seen = first_sync ? Json::array() : Json::parse(*seen_text, nullptr, false);
      if (!seen.is_array()) seen = Json::array();
      for (ModelId m : models) {
        if (std::find(seen.begin(), seen.end(), Json(m.value())) != seen.end()) continue;
        seen.push_back(m.value());
        ++outcome->new_models;
        bool allowed = AllowsModel(config_.policy, m);
        site_.events()
            .Publish(
                "model.associated",
                absl::StrCat("model ", m.value(), " is approved for benchmark ", benchmark.value(),
                             allowed ? "; it will run on the associated datasets"
                                     : "; the site policy does not allow it to run"),
                {{"benchmark", benchmark.value()},
                 {"model", m.value()},
                 {"reference", m == ref->second},
                 {"allowed", allowed},
                 {"first_sync", first_sync}})
            .IgnoreError();
      }
      RETURN_IF_ERROR(store.SetMeta(key, seen.dump()));
    }

    // The site's container policy (container_policy.h), asked only about triples that
    // would get a new job, once per poll per entity: nothing the server marks invalid and
    // no LocalProcess container missing from the allow-list gets a job. The reason is
    // published once as `model.refused`; the triple is looked at again on every poll, so
    // it runs once the server or the site's config allows it.
    std::optional<absl::Status> benchmark_verdict;
    std::map<int64_t, absl::Status> model_verdicts;
    std::map<int64_t, absl::Status> dataset_verdicts;
    for (ModelId m : models) {
      if (!AllowsModel(config_.policy, m)) continue;
      for (DatasetId d : local) {
        // A local result (executed or failed) or any earlier job for the triple means the
        // site already did or decided something about it: never run it twice unasked.
        LocalResultUid uid(benchmark, m, d);
        if (store.GetResult(uid).ok()) continue;
        ASSIGN_OR_RETURN(std::vector<storage::JobRecord> earlier,
                         store.ListRunJobsFor(benchmark, m, d));
        if (!earlier.empty()) continue;

        if (!benchmark_verdict) {
          // The benchmark, and its evaluator, which every run job fetches.
          absl::Status verdict;
          std::optional<ContainerId> evaluator;
          auto judge_benchmark = [&](const Benchmark& b) {
            evaluator = b.data_evaluator_mlcube;
            return CheckValid(b);
          };
          RETURN_IF_ERROR(Verdict<Benchmark>([&] { return server.GetBenchmark(benchmark); },
                                             judge_benchmark, &verdict));
          if (verdict.ok() && evaluator) {
            RETURN_IF_ERROR(Verdict<Container>(
                [&] { return server.GetContainer(*evaluator); },
                [&](const Container& c) { return CheckServerContainer(c, config_.sandbox); },
                &verdict));
          }
          benchmark_verdict = verdict;
        }
        if (!model_verdicts.count(m.value())) {
          absl::Status verdict;
          auto judge_model = [&](const Model& model) -> absl::Status {
            RETURN_IF_ERROR(CheckValid(model));
            if (!model.container) return absl::OkStatus();  // the run job explains
            return CheckServerContainer(*model.container, config_.sandbox);
          };
          RETURN_IF_ERROR(
              Verdict<Model>([&] { return server.GetModel(m); }, judge_model, &verdict));
          model_verdicts[m.value()] = verdict;
        }
        absl::Status verdict = *benchmark_verdict;
        if (verdict.ok()) verdict = model_verdicts[m.value()];
        if (verdict.ok()) {
          if (!dataset_verdicts.count(d.value())) {
            RETURN_IF_ERROR(Verdict<Dataset>([&] { return server.GetDataset(d); },
                                             [](const Dataset& ds) { return CheckValid(ds); },
                                             &dataset_verdicts[d.value()]));
          }
          verdict = dataset_verdicts[d.value()];
        }
        std::string refused_key = absl::StrCat("poller.refused.", uid.str());
        ASSIGN_OR_RETURN(std::optional<std::string> refused_before, store.GetMeta(refused_key));
        std::string reason(verdict.message());
        if (!verdict.ok()) {
          if (refused_before.value_or("") != reason) {
            RETURN_IF_ERROR(store.SetMeta(refused_key, reason));
            site_.events()
                .Publish("model.refused",
                         absl::StrCat("model ", m.value(), " will not run on dataset ", d.value(),
                                      " for benchmark ", benchmark.value(), ": ", reason),
                         {{"benchmark", benchmark.value()},
                          {"model", m.value()},
                          {"dataset", d.value()},
                          {"reason", reason}})
                .IgnoreError();
          }
          continue;
        }
        if (refused_before.has_value() && !refused_before->empty()) {
          RETURN_IF_ERROR(store.SetMeta(refused_key, ""));
        }
        bool created = false;
        absl::StatusOr<JobId> id =
            jobs_.EnqueueRun(benchmark, m, d, Json{{"origin", "poller"}}, &created);
        if (!id.ok()) return id.status();
        if (created) ++outcome->new_jobs;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace medperf::daemon
