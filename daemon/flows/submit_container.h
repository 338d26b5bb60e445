// `container submit` (the legacy `mlcube submit`): registers a container on the MedPerf
// server after fetching and checking everything other sites will download: its config
// (a legacy mlcube.yaml is converted to the current form), parameters, additional files
// tarball and image, whose hash is computed here. A container with an `infer` task is
// registered as a Model, like the real client (MedPerf:
// cli/medperf/commands/mlcube/submit.py, SubmitCube; the conversion rules: docs/committee.md).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "daemon/flows/flow_context.h"
#include "storage/store.h"

namespace medperf::daemon::flows {

struct SubmitContainerInput {
  std::string name;
  // Each file is a URL the asset cache downloads (http(s)://, file://, direct:,
  // synapse:) or an absolute path on the daemon's machine.
  std::string container_config_file;  // container_config.yaml or legacy mlcube.yaml
  bool legacy_mlcube = false;         // treat it as mlcube.yaml even if it does not look so
  std::string parameters_file;        // optional YAML mapping
  std::string additional_file;        // optional tarball of additional files
  std::string additional_hash;        // its SHA-256 hex, optional
  std::string image_file;             // DockerArchive / SingularityFile only; default: image
  std::string image_hash;             // optional; registered as is when not computable here
  bool operational = false;           // state OPERATION instead of DEVELOPMENT
};

struct SubmitContainerResult {
  // The caller already had this container on the server (the same unique set, see
  // SubmitContainer): nothing was registered, `container` (and `model`) are that one.
  bool reused = false;
  Container container;         // as the server created it (or holds it, when reused)
  std::optional<Model> model;  // set when it was registered as a model
};

// Before any job: INVALID_ARGUMENT when the name or the config file is missing, a file
// is neither a URL nor an absolute path, or additional_hash is not a SHA-256 digest.
absl::Status CheckSubmitContainer(const SubmitContainerInput& in);
storage::JobRecord SubmitContainerJob(const SubmitContainerInput& in);  // "submit-container"

// Fetches and hashes everything, then looks at the caller's own containers
// (GET /me/mlcubes/): one with the same image_hash, additional_files_tarball_hash,
// container_config and parameters_config (the real server's unique set,
// mlcommons/medperf server/mlcube/models.py) is returned with result.reused set, its
// model too when it is one, and a "container.reused" event; nothing is POSTed, whatever
// its name. Otherwise POST /mlcubes/ (or /models/) and a "container.submitted" event.
// Errors: INVALID_ARGUMENT for a config, legacy mlcube or parameters file that does not
// parse (naming the file and field), or an image_file for another container type;
// FAILED_PRECONDITION when the image hashes differently from image_hash; the asset
// cache's (download, hash mismatch of the additional files); the image hash error with
// a hint to pass image_hash; the server's, where a 400 for a taken name names the
// container holding it and the fields in which it differs, and one for the unique set
// says another user's container has it; DATA_LOSS when POST /models/ answers without a
// container.
absl::StatusOr<SubmitContainerResult> SubmitContainer(FlowContext& ctx,
                                                      const SubmitContainerInput& in);

// {"container": {...}, "reused": bool} plus {"model": {...}} when it is a model.
nlohmann::json SummaryJson(const SubmitContainerResult& result);

// The legacy mlcube.yaml `text` (from `source`) as a current-form container_config with
// the same image, tasks, volumes and command line; parameters whose defaults lie in the
// workspace's additional_files/ become paths in the `additional_files` volume.
// INVALID_ARGUMENT when it does not parse or the result is not a valid config.
absl::StatusOr<nlohmann::json> LegacyToContainerConfig(const std::string& text,
                                                       const std::string& source);

}  // namespace medperf::daemon::flows
