// Resource limits through cgroups for one task: a child group of the daemon's own
// cgroup per task, with memory, process and CPU limits, joined by the task's process
// before exec. Supports cgroups v2 (a delegated subtree, e.g. systemd Delegate=yes) and
// v1 (the memory, pids and cpu hierarchies, where the daemon may create child groups:
// as root, or when they were delegated to its user). Where neither works the runners
// fall back to rlimits (see LimitEnforcement()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runners/runner.h"

namespace medperf {

// What this host lets the daemon enforce, probed once (creating and removing a test
// group). Cheap to call again.
struct LimitEnforcement {
  std::string cgroup_version;  // "v2", "v1" or "" (none usable)
  bool memory = false;         // memory limit via cgroup (else RLIMIT_AS)
  bool pids = false;           // process limit via cgroup (else RLIMIT_NPROC)
  bool cpu = false;            // CPU quota via cgroup (else RLIMIT_CPU from the time limit)
  // One line for `medperfctl status` and logs, e.g.
  // "cgroups v1 (memory, pids, cpu); rlimits for the rest".
  std::string Describe() const;
};
const LimitEnforcement& DetectLimitEnforcement();

// Kills the processes left in task groups of daemons that are gone (a daemon killed
// with SIGKILL cannot remove its own) and removes those groups. Called at start-up;
// returns how many groups were removed.
int SweepStaleTaskCgroups();

class TaskCgroup {
 public:
  // Creates the group(s) for one task with `limits` applied (0 = unlimited). Returns
  // nullptr (not an error) when the host offers no usable cgroup.
  // Errors: InternalError when a group was created but a limit could not be written.
  static absl::StatusOr<std::unique_ptr<TaskCgroup>> Create(const TaskLimits& limits);
  // Kills whatever is left in the group(s) and removes them.
  ~TaskCgroup();

  // Open (O_CLOEXEC) cgroup.procs files for SupervisedCommand::cgroup_procs_fds; owned here.
  const std::vector<int>& procs_fds() const { return procs_fds_; }
  // Whether the kernel refused memory or process creation because of this group's limit.
  bool MemoryLimitHit() const;
  bool ProcessLimitHit() const;
  uint64_t PeakMemoryBytes() const;

 private:
  friend const LimitEnforcement& DetectLimitEnforcement();
  TaskCgroup() = default;
  std::vector<std::string> dirs_;  // one per hierarchy (v1) or one (v2)
  std::string memory_dir_, pids_dir_;
  bool v2_ = false;
  std::vector<int> procs_fds_;
};

}  // namespace medperf
