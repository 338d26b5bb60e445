// Micro-benchmarks for the runners layer, driven by bench/runners_bench.sh:
//   runners_bench hash <file>                 our Sha256File throughput
//   runners_bench extract <archive> <target>  ExtractArchive throughput
//   runners_bench sandbox <runs>              no-op task in the sandbox vs direct exec
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/archive.h"
#include "core/hashing.h"
#include "runners/container_config.h"
#include "runners/sandbox_runner.h"
#include "runners/subprocess.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int Hash(const char* file) {
  auto start = Clock::now();
  auto hex = medperf::Sha256File(file);
  double s = Seconds(start);
  if (!hex.ok()) {
    std::fprintf(stderr, "%s\n", std::string(hex.status().message()).c_str());
    return 1;
  }
  double mib = std::filesystem::file_size(file) / 1048576.0;
  std::printf("%s %.3f s %.0f MiB/s\n", hex->c_str(), s, mib / s);
  return 0;
}

int Extract(const char* archive, const char* target) {
  auto start = Clock::now();
  auto stats = medperf::ExtractArchive(archive, target);
  double s = Seconds(start);
  if (!stats.ok()) {
    std::fprintf(stderr, "%s\n", std::string(stats.status().message()).c_str());
    return 1;
  }
  std::printf("%llu entries %.0f MiB %.3f s %.0f MiB/s\n",
              static_cast<unsigned long long>(stats->entries), stats->bytes / 1048576.0, s,
              stats->bytes / 1048576.0 / s);
  return 0;
}

int Sandbox(int runs) {
  auto runner = medperf::SandboxRunner::Create();
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", std::string(runner.status().message()).c_str());
    return 1;
  }
  auto config = medperf::ParseContainerConfig(
      "container_type: LocalProcess\nimage: /bin/true\ntasks: {infer: {}}", "bench");
  double sandbox = 0, direct = 0;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    auto outcome = (*runner)->Run(*config, medperf::TaskRun{.task = "infer"});
    sandbox += Seconds(start);
    if (!outcome.ok() || outcome->exit_code != 0) {
      std::fprintf(stderr, "sandbox run failed\n");
      return 1;
    }
    start = Clock::now();
    medperf::SupervisedCommand command;
    command.argv = {"/bin/true"};
    auto plain = medperf::RunSupervised(command);
    direct += Seconds(start);
    if (!plain.ok()) return 1;
  }
  std::printf("sandbox %.1f ms  direct %.1f ms  overhead %.1f ms per task (%d runs)\n",
              sandbox * 1000 / runs, direct * 1000 / runs, (sandbox - direct) * 1000 / runs, runs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "hash" && argc == 3) return Hash(argv[2]);
  if (mode == "extract" && argc == 4) return Extract(argv[2], argv[3]);
  if (mode == "sandbox") return Sandbox(argc > 2 ? std::atoi(argv[2]) : 20);
  std::fprintf(stderr,
               "usage: runners_bench hash <file> | extract <archive> <target> | sandbox [runs]\n");
  return 2;
}
