// The site's rules for what it fetches from the MedPerf server and runs, kept in one place
// so that every flow applies the same ones: benchmark run and the run jobs it queues, the
// poller's unattended runs, dataset submit/prepare/associate, model associate, benchmark
// submit and `test run` with server containers (docs/security.md, "Remote code policy").
//
// Two rules:
//  1. Nothing the server marks `is_valid: false` (a container, a model, a dataset or a
//     benchmark) is fetched or run; the refusal says so.
//  2. A `LocalProcess` container from the server names a host executable, chosen by whoever
//     registered it, to run outside any image. It runs only when the site's config lists
//     it in `sandbox.allow_local_process` by server id with the image hash the server holds,
//     and only while the executable here still hashes to that value. Containers loaded
//     from local files (`medperfctl test run --model <folder>`) are the caller's own and
//     need no entry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/entities.h"
#include "daemon/config.h"
#include "runners/container_config.h"

namespace medperf::daemon {

enum class EntityKind { kContainer, kModel, kDataset, kBenchmark };
std::string_view EntityKindName(EntityKind kind);  // "container", "model", ...

// OK when `is_valid`. Otherwise FAILED_PRECONDITION with the message
//   "<kind> <id> (<name>) is marked invalid on the server (is_valid: false); it will not
//    be fetched or run".
absl::Status CheckValid(EntityKind kind, int64_t id, std::string_view name, bool is_valid);
absl::Status CheckValid(const Container& container);
// The model, then the container it wraps (when it has one).
absl::Status CheckValid(const Model& model);
absl::Status CheckValid(const Dataset& dataset);
absl::Status CheckValid(const Benchmark& benchmark);

// Whether the server container `container`, whose container_config parsed to `config`,
// may be fetched and run here. Decided from the server's record and the site's config
// alone, before anything is downloaded or hashed (a LocalProcess `image` may name any host
// file, even one that never ends such as /dev/zero). Returns OK, or FAILED_PRECONDITION when:
//  - the container is invalid on the server (CheckValid);
//  - it is LocalProcess and
//    - the server holds no "sha256:<64 hex>" image_hash for it (it could not be pinned);
//    - a task names an `entrypoint` other than the image (that program is not the one the
//      hash covers) or sets `environment` variables (LD_PRELOAD, BASH_ENV, ... would make
//      the executable load or run code the hash does not cover);
//    - `sandbox.allow_local_process` has no entry for its id: the message gives the exact
//      YAML to add (this id and the server's hash) and where the config file is;
//    - the entries for its id name other hashes than the server's: the container changed
//      since it was allow-listed; the message gives the entry that would allow the new one.
absl::Status CheckRunnable(const Container& container, const ContainerConfig& config,
                           const SandboxConfig& sandbox);

// CheckRunnable on `container`'s own container_config, for flows that decide whether to
// queue work before fetching anything (the poller, benchmark run). A config that does not
// parse passes here: Site::FetchContainer reports it in the task's context.
absl::Status CheckServerContainer(const Container& container, const SandboxConfig& sandbox);

// After the executable of a LocalProcess server container was hashed here (`local_hash`,
// "sha256:<hex>", as the runner computes it): OK when an allow-list entry for the
// container has that hash, FAILED_PRECONDITION naming the executable and both hashes when
// not (the file changed on this machine after it was allow-listed). OK for every other
// container type.
absl::Status CheckLocalImageHash(const Container& container, const ContainerConfig& config,
                                 const SandboxConfig& sandbox, std::string_view local_hash);

// The medperfd.yaml lines that allow-list `container` with the server's image hash:
//   sandbox:
//     allow_local_process:
//       - container: <id>
//         image_hash: sha256:<hex>
std::string AllowListYaml(const Container& container);

}  // namespace medperf::daemon
