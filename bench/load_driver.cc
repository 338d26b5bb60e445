// Load driver for medperfd's control socket: N concurrent clients, each with its own
// gRPC connection like separate medperfctl processes, issue a mix of the read-only calls
// medperfctl makes (status, job ls, result ls, watch without --follow, dataset ls
// --mine) for a fixed time, then print per-call latency percentiles and every error.
//
//   load_driver --socket PATH [--clients 32] [--seconds 60] [--reconnect]
//
// --reconnect opens a fresh connection for every call (the cost a medperfctl process
// pays). Exit status: 0 with no errors, 1 with errors, 2 on usage errors. The last line
// is machine-readable: "LOAD clients=.. calls=.. errors=.. rps=.. p50_ms=.. p99_ms=..".
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "medperf/v1/control.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = medperf::v1;

enum Op { kStatus, kJobLs, kResultLs, kWatch, kDatasetLs, kOpCount };
const char* const kOpNames[] = {"status", "job ls", "result ls", "watch", "dataset ls --mine"};

struct Options {
  std::string socket;
  int clients = 32;
  int seconds = 60;
  bool reconnect = false;
};

std::shared_ptr<grpc::Channel> Connect(const std::string& socket) {
  grpc::ChannelArguments args;
  // Like medperfctl: fail fast, no long reconnect backoff; and one connection per
  // client (gRPC would otherwise share one subchannel between all of them).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

grpc::Status Call(v1::Control::Stub& stub, Op op) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  switch (op) {
    case kStatus: {
      v1::StatusResponse resp;
      return stub.GetStatus(&ctx, v1::GetStatusRequest(), &resp);
    }
    case kJobLs: {
      v1::ListJobsRequest req;
      req.set_all(true);
      v1::JobList resp;
      return stub.ListJobs(&ctx, req, &resp);
    }
    case kResultLs: {
      v1::ResultList resp;
      return stub.ListResults(&ctx, v1::ListResultsRequest(), &resp);
    }
    case kWatch: {
      v1::WatchEventsRequest req;
      req.set_follow(false);
      req.set_limit(50);
      auto reader = stub.WatchEvents(&ctx, req);
      v1::Event event;
      while (reader->Read(&event)) {
      }
      return reader->Finish();
    }
    case kDatasetLs: {
      v1::ListRequest req;
      req.set_mine(true);
      v1::EntityList resp;
      return stub.ListDatasets(&ctx, req, &resp);
    }
    default:
      return grpc::Status(grpc::StatusCode::INTERNAL, "bad op");
  }
}

struct ClientStats {
  std::vector<std::vector<double>> latency_ms = std::vector<std::vector<double>>(kOpCount);
  std::map<std::string, int> errors;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int Usage(const char* msg) {
  std::fprintf(stderr,
               "load_driver: %s\nusage: load_driver --socket PATH [--clients N] [--seconds S] "
               "[--reconnect]\n",
               msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--socket") {
      const char* v = value();
      if (!v) return Usage("--socket needs a value");
      o.socket = v;
    } else if (a == "--clients") {
      const char* v = value();
      if (!v || (o.clients = std::atoi(v)) < 1) return Usage("--clients: expected a number >= 1");
    } else if (a == "--seconds") {
      const char* v = value();
      if (!v || (o.seconds = std::atoi(v)) < 1) return Usage("--seconds: expected a number >= 1");
    } else if (a == "--reconnect") {
      o.reconnect = true;
    } else {
      return Usage(("unknown argument " + a).c_str());
    }
  }
  if (o.socket.empty()) return Usage("--socket is required");

  std::vector<ClientStats> stats(static_cast<size_t>(o.clients));
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::seconds(o.seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      ClientStats& s = stats[static_cast<size_t>(c)];
      std::unique_ptr<v1::Control::Stub> stub;
      // Clients start at different ops so every call kind is in flight at once.
      for (int n = c; Clock::now() < end; ++n) {
        if (!stub || o.reconnect) stub = v1::Control::NewStub(Connect(o.socket));
        Op op = static_cast<Op>(n % kOpCount);
        Clock::time_point t0 = Clock::now();
        grpc::Status st = Call(*stub, op);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        s.latency_ms[op].push_back(ms);
        if (!st.ok()) {
          ++s.errors[std::string(kOpNames[op]) + ": " + std::to_string(st.error_code()) + " " +
                     st.error_message()];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> all;
  int errors = 0;
  std::map<std::string, int> error_kinds;
  std::printf("%-18s %8s %9s %9s %9s\n", "call", "count", "p50 ms", "p99 ms", "max ms");
  for (int op = 0; op < kOpCount; ++op) {
    std::vector<double> v;
    for (auto& s : stats) v.insert(v.end(), s.latency_ms[op].begin(), s.latency_ms[op].end());
    all.insert(all.end(), v.begin(), v.end());
    double p50 = Percentile(v, 0.5), p99 = Percentile(v, 0.99);
    std::printf("%-18s %8zu %9.2f %9.2f %9.2f\n", kOpNames[op], v.size(), p50, p99,
                v.empty() ? 0.0 : v.back());
  }
  for (auto& s : stats) {
    for (auto& [msg, n] : s.errors) {
      error_kinds[msg] += n;
      errors += n;
    }
  }
  double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99);
  std::printf("%-18s %8zu %9.2f %9.2f %9.2f\n", "all", all.size(), p50, p99,
              all.empty() ? 0.0 : all.back());
  for (auto& [msg, n] : error_kinds) std::printf("ERROR x%d: %s\n", n, msg.c_str());
  std::printf("LOAD clients=%d calls=%zu errors=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n", o.clients,
              all.size(), errors, static_cast<double>(all.size()) / elapsed, p50, p99);
  return errors == 0 ? 0 : 1;
}
