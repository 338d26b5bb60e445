// The seccomp filter every sandboxed task runs under: a deny list at least as strict
// as Docker's default profile (moby profiles/seccomp/default.json) for the calls that
// reach kernel attack surface or let a task escape its namespaces. Denied calls fail
// with EPERM (so programs that probe, e.g. for io_uring, fall back cleanly); calls of
// a foreign architecture (32-bit x86 on x86_64) kill the task.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace medperf {

// The system call names the filter denies (those unknown to this kernel's libseccomp
// are skipped). Shown by docs/security.md and checked by tests/security.
const std::vector<std::string>& DeniedSyscalls();

// A memfd holding the compiled BPF program (as `bwrap --seccomp FD` reads it), positioned
// at offset 0, opened O_CLOEXEC; the caller owns and closes it. The program also refuses
// clone() with namespace flags and makes clone3() fail with ENOSYS (so libc falls back
// to clone(), whose flags the filter can see), as Docker does.
// Errors: InternalError when libseccomp cannot build or export the filter.
absl::StatusOr<int> SeccompProgramFd();

}  // namespace medperf
