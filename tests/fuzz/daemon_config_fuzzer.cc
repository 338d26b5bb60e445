// Fuzzes medperfd's YAML configuration parser (daemon/config.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace medperf::daemon;
  std::string text(medperf::fuzz::AsText(data, size));
  auto config = ParseConfig(text, "medperfd.yaml");
  if (config.ok()) {
    if (config->policy.max_concurrent_jobs < 1) {
      medperf::fuzz::Violation("max_concurrent_jobs < 1 accepted");
    }
    if (config->poll.interval.count() < 0 || config->poll.max_backoff.count() < 0) {
      medperf::fuzz::Violation("negative poll durations accepted");
    }
  }
  return 0;
}
