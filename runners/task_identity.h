// The host user a task runs as (docs/security.md, "Who runs a task").
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runners/runner.h"

namespace medperf {

// The task uid (and gid) of a root daemon on a host without a "medperf-task" user: a
// high id no Debian package allocates, which owns no files.
inline constexpr uint32_t kFallbackTaskUid = 64999;

// Resolves the task identity for this process:
// - root, or holding CAP_SETUID and CAP_SETGID: `task_user` ("name" or "uid:gid"), with
//   switch_user = true. An empty `task_user` means the user "medperf-task" if it exists,
//   else `fallback_uid` (same gid), an id that owns no files.
// - otherwise: this process's own uid/gid, switch_user = false (the sandbox's user
//   namespace still hides every daemon file from the task).
// Errors: InvalidArgumentError naming `task_user` when it is unknown, malformed, or
// resolves to uid or gid 0.
absl::StatusOr<TaskIdentity> ResolveTaskIdentity(const std::string& task_user,
                                                 uint32_t fallback_uid = kFallbackTaskUid);

// Checks that `identity` can read each input: the folder (or file) itself and up to
// `max_entries` entries below it (folders need read+search). Inputs belong to whoever
// put them there (e.g. a hospital's data folder, mode 0750), and a task user that cannot
// read them would only fail later with a confusing error inside the container.
// Does nothing when identity.switch_user is false (the daemon's own user reads them).
// Errors: PermissionDeniedError naming the first unreadable path, the task user and
// the commands that grant access.
absl::Status CheckReadableBy(const TaskIdentity& identity,
                             const std::vector<std::filesystem::path>& inputs,
                             size_t max_entries = 200);

// One line for status output: "uid 64999 (medperf-task), switched from root".
std::string DescribeTaskIdentity(const TaskIdentity& identity);

}  // namespace medperf
