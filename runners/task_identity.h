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

// Takes a finished task's outputs (folders or files the daemon created and the task
// filled) back from the task user. A daemon without root (the packaged unit's `medperf`
// holding only CAP_SETUID and CAP_SETGID) could otherwise neither read what the task
// left unreadable nor delete it. Runs `chown -R` (never following a link) to the
// daemon's uid/gid and `chmod -R u+rwX,go+rX` (later tasks, as the task user, read
// prepared data and predictions) in a user namespace that maps the daemon to 0 and the
// task user to itself, so it has power over these two users' files only.
// Does nothing when identity.switch_user is false or this process is root (root reads
// and deletes anything).
// Errors: InternalError with chown's or chmod's message (the outputs stay the task
// user's; the task's result is then not used).
absl::Status TakeBackOutputs(const TaskIdentity& identity,
                             const std::vector<std::filesystem::path>& outputs);

// Bytes in `outputs` (du's apparent size: files and folders), measured like
// TakeBackOutputs works: in a user namespace mapping the daemon to 0 and the task user
// to itself, so folders the task made private count too. For a daemon that is neither
// root nor switching users, nothing needs this: OutputBytes reads everything.
// Errors: FailedPreconditionError when this process does not switch users as a
// non-root daemon; InternalError with du's message.
absl::StatusOr<uint64_t> MeasureOutputs(const TaskIdentity& identity,
                                        const std::vector<std::filesystem::path>& outputs);

// One line for status output: "uid 64999 (medperf-task), switched from root".
std::string DescribeTaskIdentity(const TaskIdentity& identity);

}  // namespace medperf
