// Named id types for MedPerf entities, so that a dataset id can never be passed where
// a benchmark id is expected.
#pragma once

#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace medperf {

template <typename Tag>
class Id {
 public:
  constexpr Id() = default;
  constexpr explicit Id(int64_t value) : value_(value) {}
  constexpr int64_t value() const { return value_; }
  constexpr bool valid() const { return value_ > 0; }
  auto operator<=>(const Id&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const Id& id) {
    return H::combine(std::move(h), id.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, const Id& id) { return os << id.value_; }
  std::string str() const { return std::to_string(value_); }

 private:
  int64_t value_ = 0;
};

using BenchmarkId = Id<struct BenchmarkIdTag>;
using ModelId = Id<struct ModelIdTag>;
using ContainerId = Id<struct ContainerIdTag>;
using DatasetId = Id<struct DatasetIdTag>;
using ResultId = Id<struct ResultIdTag>;  // the server's execution id
using UserId = Id<struct UserIdTag>;
using JobId = Id<struct JobIdTag>;

// The local result uid "b{benchmark}m{model}d{dataset}" of the MedPerf tutorials.
class LocalResultUid {
 public:
  LocalResultUid(BenchmarkId b, ModelId m, DatasetId d) : benchmark_(b), model_(m), dataset_(d) {}
  // Accepts exactly "b<digits>m<digits>d<digits>" with positive ids.
  static absl::StatusOr<LocalResultUid> Parse(std::string_view text);

  BenchmarkId benchmark() const { return benchmark_; }
  ModelId model() const { return model_; }
  DatasetId dataset() const { return dataset_; }
  std::string str() const;
  auto operator<=>(const LocalResultUid&) const = default;

 private:
  BenchmarkId benchmark_;
  ModelId model_;
  DatasetId dataset_;
};

}  // namespace medperf
