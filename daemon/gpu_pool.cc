#include "daemon/gpu_pool.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace medperf::daemon {

absl::StatusOr<GpuSpec> ParseGpuSpec(std::string_view text) {
  absl::string_view value = absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  const absl::string_view whole = value;
  GpuSpec spec;
  if (value.empty()) return spec;
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("gpus '", whole, "': ", why,
                     "; expected all, a number of GPUs (e.g. 2 for devices 0 and 1) or "
                     "device=<ids> (e.g. device=0,1)"));
  };
  if (value == "all") {
    spec.kind = GpuSpec::Kind::kAll;
    return spec;
  }
  int count = 0;
  if (absl::SimpleAtoi(value, &count)) {
    if (count < 0 || count > 1024) return bad("the count must be from 0 to 1024");
    if (count == 0) return spec;  // as docker: no GPUs
    spec.kind = GpuSpec::Kind::kDevices;
    for (int i = 0; i < count; ++i) spec.devices.push_back(absl::StrCat(i));
    return spec;
  }
  if (!absl::ConsumePrefix(&value, "device=")) return bad("not a recognised form");
  std::set<std::string> seen;
  for (absl::string_view id : absl::StrSplit(value, ',')) {
    if (id.empty()) return bad("an empty device id");
    for (char c : id) {
      if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != ':' && c != '/' && c != '.') {
        return bad(
            absl::StrCat("device id '", id, "' has a character other than letters, digits, -_:./"));
      }
    }
    if (!seen.insert(std::string(id)).second) {
      return bad(absl::StrCat("device ", id, " is listed twice"));
    }
    spec.devices.emplace_back(id);
  }
  spec.kind = GpuSpec::Kind::kDevices;
  return spec;
}

GpuPool::GpuPool(GpuSpec spec, int max_jobs)
    : spec_(std::move(spec)),
      share_(spec_.kind == GpuSpec::Kind::kDevices
                 ? std::max<size_t>(1, spec_.devices.size() / std::max(1, max_jobs))
                 : 0),
      busy_(spec_.devices.size(), false) {}

GpuPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), devices_(std::move(other.devices_)), gpus_(std::move(other.gpus_)) {
  other.pool_ = nullptr;
  other.devices_.clear();
}

GpuPool::Lease& GpuPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    devices_ = std::move(other.devices_);
    gpus_ = std::move(other.gpus_);
    other.pool_ = nullptr;
    other.devices_.clear();
  }
  return *this;
}

GpuPool::Lease::~Lease() { Release(); }

void GpuPool::Lease::Release() {
  if (pool_ != nullptr && !devices_.empty()) pool_->Give(devices_);
  pool_ = nullptr;
  devices_.clear();
}

bool GpuPool::EnoughFree() const {
  return static_cast<size_t>(std::count(busy_.begin(), busy_.end(), false)) >= share_;
}

void GpuPool::Give(const std::vector<std::string>& devices) {
  absl::MutexLock lock(&mu_);
  for (const std::string& d : devices) {
    auto it = std::find(spec_.devices.begin(), spec_.devices.end(), d);
    if (it != spec_.devices.end()) busy_[it - spec_.devices.begin()] = false;
  }
}

absl::StatusOr<GpuPool::Lease> GpuPool::Acquire(
    const std::atomic<bool>* cancel, const std::function<void(const std::string&)>& on_wait,
    absl::Duration poll) {
  Lease lease;
  if (spec_.kind == GpuSpec::Kind::kNone) return lease;
  if (spec_.kind == GpuSpec::Kind::kAll) {
    lease.gpus_ = "all";
    return lease;
  }
  bool told = false;
  absl::MutexLock lock(&mu_);
  while (true) {
    std::vector<size_t> free;
    for (size_t i = 0; i < busy_.size() && free.size() < share_; ++i) {
      if (!busy_[i]) free.push_back(i);
    }
    if (free.size() == share_) {
      for (size_t i : free) {
        busy_[i] = true;
        lease.devices_.push_back(spec_.devices[i]);
      }
      lease.pool_ = this;
      lease.gpus_ = absl::StrCat("device=", absl::StrJoin(lease.devices_, ","));
      return lease;
    }
    if (cancel != nullptr && cancel->load()) {
      return absl::CancelledError("cancelled while waiting for a free GPU");
    }
    if (!told && on_wait) {
      told = true;
      std::vector<std::string> busy;
      for (size_t i = 0; i < busy_.size(); ++i) {
        if (busy_[i]) busy.push_back(spec_.devices[i]);
      }
      // Not under the lock: the callback may log or write files.
      mu_.Unlock();
      on_wait(absl::StrJoin(busy, ","));
      mu_.Lock();
      continue;
    }
    // Woken early by Give() through the mutex condition; else re-checks `cancel`.
    mu_.AwaitWithTimeout(absl::Condition(this, &GpuPool::EnoughFree), poll);
  }
}

std::string GpuPool::Describe() const {
  switch (spec_.kind) {
    case GpuSpec::Kind::kNone:
      return "none from the site (policy.gpus unset); a container's run_args.gpus applies";
    case GpuSpec::Kind::kAll:
      return "all, shared by every GPU task (policy.gpus: all)";
    case GpuSpec::Kind::kDevices:
      break;
  }
  absl::MutexLock lock(&mu_);
  std::vector<std::string> busy;
  for (size_t i = 0; i < busy_.size(); ++i) {
    if (busy_[i]) busy.push_back(spec_.devices[i]);
  }
  return absl::StrCat(
      "device=", absl::StrJoin(spec_.devices, ","), ": ", share_, " per task, ",
      std::max<size_t>(1, spec_.devices.size() / share_),
      " GPU tasks at once; busy: ", busy.empty() ? "none" : absl::StrJoin(busy, ","));
}

}  // namespace medperf::daemon
