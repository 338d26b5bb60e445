// Drives apptainer/singularity with the MedPerf client's semantics (reference §3.2):
//   <exe> run -eC --bind host:mount:ro|rw ... [--nv] --net --network none <sif> <cmd...>
// (`exec` plus the entrypoint when run_args.entrypoint is set), environment passed
// as APPTAINERENV_K / SINGULARITYENV_K. Docker images are converted once to .sif.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runners/runner.h"

namespace medperf {

struct ApptainerRunSpec {
  std::string executable = "apptainer";  // or "singularity"
  std::filesystem::path sif;
  std::vector<ResolvedMount> mounts;
  bool allow_network = false;
  std::string gpus;  // "", "all", "device=<ids>" (a bare count is rejected, as upstream)
  std::map<std::string, std::string> env;
  std::optional<std::string> entrypoint;
  std::vector<std::string> command;
};

struct ApptainerCommand {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // extra "K=V" for the engine's own environment
};

absl::StatusOr<ApptainerCommand> BuildApptainerCommand(const ApptainerRunSpec& spec);

struct ApptainerOptions {
  std::string executable;           // empty = FindApptainer()
  std::filesystem::path image_dir;  // converted .sif files
};

class ApptainerRunner : public Runner {
 public:
  static absl::StatusOr<std::unique_ptr<ApptainerRunner>> Create(ApptainerOptions options = {});

  std::string name() const override { return "apptainer"; }
  absl::Status Prepare(const ContainerConfig& config,
                       const std::filesystem::path& image_file) override;
  absl::StatusOr<std::string> ImageHash(const ContainerConfig& config,
                                        const std::filesystem::path& image_file) override;
  absl::StatusOr<TaskOutcome> Run(const ContainerConfig& config, const TaskRun& run) override;

  absl::StatusOr<ApptainerRunSpec> MakeSpec(const ContainerConfig& config, const TaskRun& run,
                                            const std::filesystem::path& sif);
  // Where Prepare puts (or finds) the .sif for a config.
  absl::StatusOr<std::filesystem::path> SifPath(const ContainerConfig& config,
                                                const std::filesystem::path& image_file);

 private:
  explicit ApptainerRunner(ApptainerOptions options) : options_(std::move(options)) {}
  ApptainerOptions options_;
};

}  // namespace medperf
