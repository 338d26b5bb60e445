#include "daemon/container_policy.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/hashing.h"

namespace medperf::daemon {
namespace {

std::string Label(const Container& c) {
  return absl::StrCat("container ", c.id.value(), " (", c.name, ")");
}

// Where the lines go; the same wording in every refusal (docs/operations.md lists the paths).
constexpr char kWhereConfigLives[] =
    "medperfd's config file (the one given with --config; by default "
    "/etc/medperfd/medperfd.yaml, or $XDG_CONFIG_HOME/medperfd/medperfd.yaml for "
    "`medperfd --user`; see docs/security.md)";

std::string EntryYaml(int64_t id, std::string_view hash) {
  return absl::StrCat("    - container: ", id, "\n      image_hash: sha256:", ComparableSha256(hash),
                      "\n");
}

std::vector<const AllowedLocalProcess*> EntriesFor(const SandboxConfig& sandbox, int64_t id) {
  std::vector<const AllowedLocalProcess*> out;
  for (const AllowedLocalProcess& e : sandbox.allow_local_process) {
    if (e.container == id) out.push_back(&e);
  }
  return out;
}

}  // namespace

std::string_view EntityKindName(EntityKind kind) {
  switch (kind) {
    case EntityKind::kContainer:
      return "container";
    case EntityKind::kModel:
      return "model";
    case EntityKind::kDataset:
      return "dataset";
    case EntityKind::kBenchmark:
      return "benchmark";
  }
  return "entity";
}

absl::Status CheckValid(EntityKind kind, int64_t id, std::string_view name, bool is_valid) {
  if (is_valid) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(std::string(EntityKindName(kind)), " ", id, " (", std::string(name),
                   ") is marked invalid on the server (is_valid: false); it will not be fetched "
                   "or run"));
}

absl::Status CheckValid(const Container& container) {
  return CheckValid(EntityKind::kContainer, container.id.value(), container.name,
                    container.is_valid);
}

absl::Status CheckValid(const Model& model) {
  absl::Status own = CheckValid(EntityKind::kModel, model.id.value(), model.name, model.is_valid);
  if (!own.ok() || !model.container) return own;
  return CheckValid(*model.container);
}

absl::Status CheckValid(const Dataset& dataset) {
  return CheckValid(EntityKind::kDataset, dataset.id.value(), dataset.name, dataset.is_valid);
}

absl::Status CheckValid(const Benchmark& benchmark) {
  return CheckValid(EntityKind::kBenchmark, benchmark.id.value(), benchmark.name,
                    benchmark.is_valid);
}

std::string AllowListYaml(const Container& container) {
  return absl::StrCat("sandbox:\n  allow_local_process:\n",
                      EntryYaml(container.id.value(), container.image_hash));
}

absl::Status CheckRunnable(const Container& container, const ContainerConfig& config,
                           const SandboxConfig& sandbox) {
  if (absl::Status valid = CheckValid(container); !valid.ok()) return valid;
  if (config.type != ContainerType::kLocalProcess) return absl::OkStatus();

  const std::string label = Label(container);
  // Nothing to pin the executable to: an entry could not tell this one from a swapped one.
  if (!absl::StartsWith(absl::AsciiStrToLower(container.image_hash), "sha256:") ||
      !IsSha256Hex(ComparableSha256(container.image_hash))) {
    return absl::FailedPreconditionError(absl::StrCat(
        label, " is a LocalProcess container (it runs the host executable ", config.image,
        "), but the server registers no sha256 image_hash for it (image_hash '",
        container.image_hash,
        "'), so it cannot be allow-listed; ask its owner to register it with its hash"));
  }
  // The hash pins the executable, not the config around it, which the owner may still edit
  // while the container is in DEVELOPMENT. So the config may not swap the program, nor set
  // variables that make it load or run other code (LD_PRELOAD, BASH_ENV, PYTHONPATH, ...).
  for (const auto& [name, task] : config.tasks) {
    if (task.entrypoint && *task.entrypoint != config.image) {
      return absl::FailedPreconditionError(absl::StrCat(
          label, ": task '", name, "' sets entrypoint ", *task.entrypoint,
          ", a program other than the registered executable ", config.image,
          "; the image hash does not cover it, so a LocalProcess container from the server may "
          "not name one; refusing it"));
    }
    if (!task.environment.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          label, ": task '", name, "' sets environment variable ", task.environment.begin()->first,
          "; a LocalProcess container from the server may set none, since variables such as "
          "LD_PRELOAD or BASH_ENV make the registered executable load or run code its hash does "
          "not cover; refusing it"));
    }
  }

  std::vector<const AllowedLocalProcess*> entries = EntriesFor(sandbox, container.id.value());
  for (const AllowedLocalProcess* e : entries) {
    if (ComparableSha256(e->image_hash) == ComparableSha256(container.image_hash)) return absl::OkStatus();
  }
  if (entries.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        label, " is a LocalProcess container: it runs the host executable ", config.image,
        " outside any image, chosen by whoever registered it on the server, so this site runs "
        "it only when allow-listed. If you trust that executable, add these lines to ",
        kWhereConfigLives,
        " (to an existing allow_local_process list, only the last two), then restart "
        "medperfd:\n",
        AllowListYaml(container)));
  }
  std::vector<std::string> listed;
  for (const AllowedLocalProcess* e : entries) listed.push_back(e->image_hash);
  return absl::FailedPreconditionError(absl::StrCat(
      label, ": sandbox.allow_local_process allows it with image_hash ",
      absl::StrJoin(listed, ", "), ", but the server now registers ", container.image_hash,
      " for it: the container changed after the site allow-listed it, so it is refused. If you "
      "trust the new executable ",
      config.image, ", change its entry in ", kWhereConfigLives,
      " to the following, then restart medperfd:\n",
      EntryYaml(container.id.value(), container.image_hash)));
}

absl::Status CheckServerContainer(const Container& container, const SandboxConfig& sandbox) {
  if (absl::Status valid = CheckValid(container); !valid.ok()) return valid;
  absl::StatusOr<ContainerConfig> config =
      ParseContainerConfig(container.container_config.dump(), Label(container));
  if (!config.ok()) return absl::OkStatus();
  return CheckRunnable(container, *config, sandbox);
}

absl::Status CheckLocalImageHash(const Container& container, const ContainerConfig& config,
                                 const SandboxConfig& sandbox, std::string_view local_hash) {
  if (config.type != ContainerType::kLocalProcess) return absl::OkStatus();
  std::vector<const AllowedLocalProcess*> entries = EntriesFor(sandbox, container.id.value());
  for (const AllowedLocalProcess* e : entries) {
    if (ComparableSha256(e->image_hash) == ComparableSha256(local_hash)) return absl::OkStatus();
  }
  std::vector<std::string> listed;
  for (const AllowedLocalProcess* e : entries) listed.push_back(e->image_hash);
  return absl::FailedPreconditionError(absl::StrCat(
      Label(container), ": the executable ", config.image, " on this machine hashes to ",
      std::string(local_hash), ", not to the allow-listed ",
      listed.empty() ? std::string("(no entry)") : absl::StrJoin(listed, ", "),
      " (sandbox.allow_local_process); it changed after it was allow-listed, refusing to run it"));
}

}  // namespace medperf::daemon
