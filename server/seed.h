// `medperf-server seed`: the users and entities each MedPerf tutorial assumes.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace medperf::server {

struct SeedOptions {
  std::filesystem::path db;
  std::string demo;  // "benchmark" | "model" | "data"
  std::filesystem::path tokens_out;
  std::filesystem::path assets;  // optional; placeholders when empty
  // Optional: where to write the medperfd.yaml section that allow-lists the seeded
  // LocalProcess containers (`sandbox.allow_local_process`, by server id and image hash).
  // Written only with `assets` (placeholder containers are not runnable).
  std::filesystem::path allow_list_out;
};

// Fails on a database that already has users (run `reset` first) so ids stay those of
// the tutorials. Progress and the assets note go to stderr.
absl::Status Seed(const SeedOptions& options);

// Writes `content` to `path` with mode 0600 (also when the file already existed).
absl::Status WritePrivateFile(const std::filesystem::path& path, const std::string& content);

}  // namespace medperf::server
