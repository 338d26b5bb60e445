// The site: what every flow of the daemon works with — configuration, state, events,
// the MedPerf server, the asset cache and the container runners.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/hashing.h"
#include "core/rest_client.h"
#include "daemon/config.h"
#include "daemon/disk_space.h"
#include "daemon/events.h"
#include "daemon/gpu_pool.h"
#include "runners/assets.h"
#include "runners/container_config.h"
#include "runners/runner.h"
#include "runners/runner_factory.h"
#include "storage/store.h"

namespace medperf::daemon {

// A container ready to run here: its parsed config plus the local files it needs.
struct LocalContainer {
  std::string name;
  std::optional<ContainerId> id;  // empty for a local (unregistered) container
  ContainerConfig config;
  std::filesystem::path parameters_file;   // empty when the container has no parameters
  std::filesystem::path additional_files;  // empty when none
  std::filesystem::path image_file;        // for DockerArchive / SingularityFile
  std::string image_hash;                  // as computed here
  // Where the additional files came from or were looked for, for the warning about an
  // empty folder ("looked in /c/additional_files, /c/workspace/additional_files, ...").
  std::string additional_files_origin;
};

class Site {
 public:
  Site(const DaemonConfig& config, storage::Store& store, EventBus& events);

  const DaemonConfig& config() const { return config_; }
  storage::Store& store() { return store_; }
  EventBus& events() { return events_; }
  AssetCache& assets() { return assets_; }
  // The site's GPUs (policy.gpus), handed out per task by RunContainerTask.
  GpuPool& gpus() { return gpus_; }
  const std::filesystem::path& state_dir() const { return config_.state_dir; }

  // A client for the configured server; `token` (from a ctl call's x-medperf-token)
  // acts as another user for that call instead of the site's own identity.
  absl::StatusOr<RestClient> Server(const std::string& token = "") const;

  // Downloads, verifies and prepares a registered container: config, parameters,
  // additional files (checked against the server's hash) and image (checked against
  // the server's image_hash when it has one).
  absl::StatusOr<LocalContainer> FetchContainer(const Container& container);
  // A container from local files, as `medperfctl test run` takes them: a
  // container_config.yaml, a legacy mlcube.yaml, or a folder holding either. Its
  // parameters (parameters.yaml / workspace/parameters.yaml) and additional files
  // (additional_files/ or additional_files.tar.gz) are picked up beside it.
  absl::StatusOr<LocalContainer> LoadLocalContainer(const std::filesystem::path& path);

  // The runner for a container, following the `runner` setting.
  absl::StatusOr<std::unique_ptr<Runner>> RunnerFor(const LocalContainer& container) const;
  // Which runner `runner` picks for an ordinary (DockerImage) container and why, for
  // `medperfctl status`; names the engine's socket when a configured docker is
  // unreachable.
  std::string DefaultRunnerChoice() const;
  // Which runner RunnerFor picks for `container` and why, for the task's progress line
  // ("docker: runner auto, and the docker engine at unix:///... answers").
  std::string RunnerChoice(const LocalContainer& container) const;
  // Replaces how RunnerFor makes runners: the flows' unit tests run a fake runner.
  using RunnerFactory =
      std::function<absl::StatusOr<std::unique_ptr<Runner>>(const LocalContainer&)>;
  void set_runner_factory_for_testing(RunnerFactory factory) {
    runner_factory_ = std::move(factory);
  }

  // The MedPerf folders hash, remembered while no file under the folders changed
  // (same paths, sizes and modification times), so a preview followed by the real
  // call hashes a large dataset once.
  // `options.untrusted` for folders a task wrote (prepared data): links and special
  // files are refused rather than followed.
  // `progress` (optional) hears the bytes hashed so far and the folders' total size
  // (known from the walk that checks for changes), when hashing is needed at all.
  absl::StatusOr<std::string> FoldersHashCached(
      const std::vector<std::filesystem::path>& folders, const HashOptions& options = {},
      const std::function<void(uint64_t done, uint64_t total)>& progress = {});

  // The host user tasks run as (sandbox.task_user resolved at start), or why not.
  const absl::StatusOr<TaskIdentity>& task_identity() const { return identity_; }

  // Per-dataset and per-result folders in the state directory.
  std::filesystem::path DatasetDir(DatasetId id) const;
  std::filesystem::path ResultDir(const LocalResultUid& uid) const;
  // An empty folder for inputs a container declares but has nothing for.
  std::filesystem::path EmptyDir() const { return config_.state_dir / "empty"; }

  // The room kept for the state database (storage.reserve).
  DiskReserve& reserve() { return reserve_; }
  // Before a long task: RESOURCE_EXHAUSTED naming the state directory, its free space
  // and storage.min_free when less is free; re-creates the reserve when there is room.
  absl::Status CheckFreeSpace(const std::string& what);

 private:
  const DaemonConfig& config_;
  storage::Store& store_;
  EventBus& events_;
  AssetCache assets_;
  DiskReserve reserve_;
  GpuPool gpus_;
  RunnerOptions runner_options_;
  absl::StatusOr<TaskIdentity> identity_;
  RunnerFactory runner_factory_;  // empty: CreateRunner with runner_options_
  absl::Mutex hash_mu_;
  std::map<std::string, std::pair<std::string, std::string>>
      hash_cache_  // key → (fingerprint, hash)
          ABSL_GUARDED_BY(hash_mu_);
};

}  // namespace medperf::daemon
