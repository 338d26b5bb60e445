// The site's GPUs, handed out to the tasks that run at the same time so that two jobs
// never share a device unless the site says so (docs/runners.md, "GPUs").
//
// `policy.gpus` in medperfd's config decides what there is to hand out:
//   ""              no GPUs from the site: a task gets only what its container's
//                   run_args.gpus asks for (MedPerf's own rule, cli/medperf/entities/cube.py)
//   "all"           every GPU task sees every GPU: devices are shared between jobs
//   "N"             devices 0..N-1, split between concurrent jobs
//   "device=a,b"    those devices (indexes or UUIDs), split between concurrent jobs
// A split gives each task max(1, devices / policy.max_concurrent_jobs) devices, the
// first free ones in the listed order: "device=0,1" with two jobs gives job A device=0
// and job B device=1; with one job, a task gets both.
//
// When every device is taken, a GPU task waits for one (and says so in its progress)
// rather than running on CPU: a model that silently runs on CPU may take days or run out
// of memory, while a wait is visible in `medperfctl job` and ends when the other task
// does. Cancelling the job ends the wait.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace medperf::daemon {

// policy.gpus parsed.
struct GpuSpec {
  enum class Kind { kNone, kAll, kDevices };
  Kind kind = Kind::kNone;
  std::vector<std::string> devices;  // kDevices: ids in the order given ("0", "GPU-…")
};

// Parses a policy.gpus value: "", "all", a positive count N (devices 0..N-1) or
// "device=<id>[,<id>...]" (ids: letters, digits, '-', '_', ':', '.', '/'; no repeats).
// INVALID_ARGUMENT naming the value and the accepted forms otherwise.
absl::StatusOr<GpuSpec> ParseGpuSpec(std::string_view text);

class GpuPool {
 public:
  // `spec` as ParseGpuSpec returns it; `max_jobs` = policy.max_concurrent_jobs (>= 1).
  GpuPool(GpuSpec spec, int max_jobs);
  GpuPool(const GpuPool&) = delete;
  GpuPool& operator=(const GpuPool&) = delete;

  // The devices one task holds; gives them back when destroyed (also when the task
  // failed, was cancelled or threw). Move-only.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    // The value for docker's --gpus (and TaskRun::gpus): "" (none from the site),
    // "all", or "device=0" / "device=1,2".
    const std::string& gpus() const { return gpus_; }
    const std::vector<std::string>& devices() const { return devices_; }

   private:
    friend class GpuPool;
    void Release();
    GpuPool* pool_ = nullptr;
    std::vector<std::string> devices_;
    std::string gpus_;
  };

  // Takes this task's share. Returns at once for "" (empty lease) and "all"; for a
  // device list waits while fewer than a share are free, calling `on_wait` once (with
  // the busy devices, "0,1") before the first wait, and polling `cancel` every
  // `poll` (nullptr = never cancelled).
  // Errors: CANCELLED when `cancel` becomes true while waiting.
  absl::StatusOr<Lease> Acquire(const std::atomic<bool>* cancel,
                                const std::function<void(const std::string&)>& on_wait = {},
                                absl::Duration poll = absl::Milliseconds(250));

  // Whether the site hands out GPUs at all (policy.gpus is set).
  bool enabled() const { return spec_.kind != GpuSpec::Kind::kNone; }
  // How many devices each task gets from a device list (0 for "" and "all").
  size_t share() const { return share_; }
  // One line for `medperfctl status`: "none (policy.gpus unset)", "all, shared by every
  // job", "device=0,1: 1 per task, 2 tasks at once; busy: 0".
  std::string Describe() const;

 private:
  void Give(const std::vector<std::string>& devices);
  bool EnoughFree() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const GpuSpec spec_;
  const size_t share_;
  mutable absl::Mutex mu_;
  std::vector<bool> busy_ ABSL_GUARDED_BY(mu_);  // parallel to spec_.devices
};

}  // namespace medperf::daemon
