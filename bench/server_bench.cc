// Load test of medperf-server over loopback with the real REST client: GET
// /api/v0/benchmarks/ (first page of 32) with 1,000 benchmarks in the DB, then
// association creation (POST /datasets/benchmarks/), each from 16 concurrent clients.
// Prints requests/s and p50/p99 latency. Not a ctest.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "core/rest_client.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using medperf::Json;
using Clock = std::chrono::steady_clock;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunWait(const std::vector<std::string>& argv) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, a[0], nullptr, nullptr, a.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t Spawn(const std::vector<std::string>& argv, const fs::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, a[0], &fa, nullptr, a.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

struct Stats {
  std::vector<double> ms;
  int errors = 0;
  double seconds = 0;
};

void Report(const std::string& what, Stats s) {
  std::sort(s.ms.begin(), s.ms.end());
  auto pct = [&](double p) {
    return s.ms.empty() ? 0.0 : s.ms[std::min(s.ms.size() - 1, size_t(p * s.ms.size()))];
  };
  std::cout << absl::StrFormat(
      "%-48s %7zu req  %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", what, s.ms.size(),
      s.ms.size() / s.seconds, pct(0.50), pct(0.99), s.errors);
}

// Runs `op(client_index, request_index)` from `clients` threads, `per_client` times each.
template <typename Op>
Stats Load(int clients, int per_client, Op op) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<int> errors{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < per_client; ++i) {
        auto t0 = Clock::now();
        absl::Status s = op(c, i);
        lat[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!s.ok()) {
          if (errors++ == 0) std::cerr << "first error: " << s << "\n";
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  Stats out;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& v : lat) out.ms.insert(out.ms.end(), v.begin(), v.end());
  out.errors = errors;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server_bin;
  int benchmarks = 1000, clients = 16, gets_per_client = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--server")
      server_bin = v;
    else if (f == "--benchmarks")
      (void)absl::SimpleAtoi(v, &benchmarks);
    else if (f == "--clients")
      (void)absl::SimpleAtoi(v, &clients);
    else if (f == "--gets-per-client")
      (void)absl::SimpleAtoi(v, &gets_per_client);
    else {
      std::cerr << "unknown option " << f << "\n";
      return 2;
    }
  }
  if (server_bin.empty()) {
    std::cerr << "usage: server_bench --server PATH [--benchmarks N] [--clients N] "
                 "[--gets-per-client N]\n";
    return 2;
  }
  std::string tmpl = (fs::temp_directory_path() / "medperf-server-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  fs::path dir = tmpl;
  std::string db = (dir / "db.sqlite").string();
  if (RunWait({server_bin, "seed", "--db", db, "--demo", "model", "--tokens-out",
               (dir / "tokens.json").string()}) != 0) {
    std::cerr << "seed failed\n";
    return 1;
  }
  Json tokens = Json::parse(Slurp(dir / "tokens.json"));
  pid_t server = Spawn({server_bin, "serve", "--db", db, "--port", "0",
                        "--auto-approve-benchmarks-from", "testbo@example.com"},
                       dir / "server.log");
  int port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {
    std::string log = Slurp(dir / "server.log");
    auto at = log.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) {
      (void)absl::SimpleAtoi(log.substr(at + 30, log.find('\n', at) - at - 30), &port);
    }
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (port == 0) {
    std::cerr << "server did not start: " << Slurp(dir / "server.log");
    return 1;
  }
  auto client = [&](const char* email) {
    medperf::RestClientOptions o;
    o.server_url = "http://127.0.0.1:" + std::to_string(port);
    o.token = tokens[email].get<std::string>();
    return *medperf::RestClient::Create(o);
  };
  medperf::RestClient bo = client("testbo@example.com");
  medperf::RestClient dataowner = client("testdo@example.com");

  // Fill the DB: benchmark 1 exists; add the rest (auto-approved for testbo).
  int to_create = benchmarks - 1;
  Stats fill = Load(clients, (to_create + clients - 1) / clients, [&](int c, int i) {
    int n = c * ((to_create + clients - 1) / clients) + i;
    if (n >= to_create) return absl::OkStatus();
    medperf::Benchmark b;
    b.name = "bench-" + std::to_string(n);
    b.demo_dataset_tarball_url = "file:///demo.tar.gz";
    b.demo_dataset_tarball_hash = "h";
    b.demo_dataset_generated_uid = "u";
    b.data_preparation_mlcube = medperf::ContainerId(1);
    b.reference_model = medperf::ModelId(2);
    b.data_evaluator_mlcube = medperf::ContainerId(3);
    return bo.CreateBenchmark(b).status();
  });
  Report("POST /benchmarks/ (filling)", fill);

  Stats gets = Load(clients, gets_per_client,
                    [&](int, int) { return dataowner.GetJson("/benchmarks/").status(); });
  Report(absl::StrFormat("GET /benchmarks/ (%d benchmarks, %d clients)", benchmarks, clients),
         gets);

  // One OPERATION dataset per client; each client then asks to join every benchmark.
  std::vector<medperf::DatasetId> datasets;
  for (int c = 0; c < clients; ++c) {
    medperf::Dataset d;
    d.name = "ds" + std::to_string(c);
    d.input_data_hash = d.generated_uid = "uid" + std::to_string(c);
    d.data_preparation_mlcube = medperf::ContainerId(1);
    auto created = dataowner.CreateDataset(d);
    if (!created.ok()) {
      std::cerr << created.status() << "\n";
      return 1;
    }
    if (!dataowner.UpdateDataset(created->id, Json{{"state", "OPERATION"}}).ok()) return 1;
    datasets.push_back(created->id);
  }
  int per_client = std::min(benchmarks, 200);
  Stats assoc = Load(clients, per_client, [&](int c, int i) {
    return dataowner
        .CreateDatasetAssociation(datasets[c], medperf::BenchmarkId(i + 1), Json::object())
        .status();
  });
  Report(absl::StrFormat("POST /datasets/benchmarks/ (%d clients)", clients), assoc);

  kill(server, SIGTERM);
  int status = 0;
  waitpid(server, &status, 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return (gets.errors || assoc.errors || fill.errors) ? 1 : 0;
}
