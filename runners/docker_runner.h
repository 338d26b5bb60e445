// Drives the docker CLI with the MedPerf client's semantics (reference §3.2):
//   docker run --name medperf-<task>-<hex> --rm -u uid:gid --volume h:m:ro|rw ...
//     --volume <fresh tmp>:/tmp:rw --network none [--gpus G] [--shm-size S]
//     [--env K=V ...] [--entrypoint E] <image> <command...>
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runners/runner.h"

namespace medperf {

struct DockerRunSpec {
  std::string docker = "docker";
  std::string container_name;
  std::string user;  // "uid:gid"
  std::string image;
  std::vector<ResolvedMount> mounts;
  std::filesystem::path tmp_dir;  // bound to /tmp; empty = none
  bool allow_network = false;
  std::string gpus;  // normalized: "", "all", "<n>", "device=<ids>"
  std::string shm_size;
  std::map<std::string, std::string> env;
  std::optional<std::string> entrypoint;
  std::vector<std::string> command;
  uint64_t memory_bytes = 0;
};

// The argv of `docker run` for a spec. Fails on host/mount paths that the --volume
// syntax cannot express (containing ':' or ',').
absl::StatusOr<std::vector<std::string>> BuildDockerRunArgs(const DockerRunSpec& spec);

struct DockerOptions {
  std::string docker;             // empty = "docker" on PATH
  std::filesystem::path tmp_dir;  // parent of per-run /tmp dirs; empty = system temp
  std::string user;               // empty = our uid:gid
};

class DockerRunner : public Runner {
 public:
  static absl::StatusOr<std::unique_ptr<DockerRunner>> Create(DockerOptions options = {});

  std::string name() const override { return "docker"; }
  absl::Status Prepare(const ContainerConfig& config,
                       const std::filesystem::path& image_file) override;
  absl::StatusOr<std::string> ImageHash(const ContainerConfig& config,
                                        const std::filesystem::path& image_file) override;
  absl::StatusOr<TaskOutcome> Run(const ContainerConfig& config, const TaskRun& run) override;

  // The spec Run() would use (mounts resolved; name and tmp dir as given).
  absl::StatusOr<DockerRunSpec> MakeSpec(const ContainerConfig& config, const TaskRun& run,
                                         const std::string& container_name,
                                         const std::filesystem::path& tmp_dir);

 private:
  explicit DockerRunner(DockerOptions options) : options_(std::move(options)) {}
  // The image reference to run: the config's image, or the tag of a loaded archive.
  absl::StatusOr<std::string> ImageRef(const ContainerConfig& config,
                                       const std::filesystem::path& image_file);

  DockerOptions options_;
  std::mutex mu_;                                       // Run() may be called from several threads
  std::map<std::string, std::string> loaded_archives_;  // file -> repo tag
};

}  // namespace medperf
