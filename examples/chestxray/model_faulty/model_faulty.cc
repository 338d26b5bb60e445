// A deliberately misbehaving model for testing runners and compatibility checks: task infer,
// behaviour chosen by the parameters file's `mode`:
//   bad_output     writes predictions.json in the wrong shape (labels as strings), exits 0
//   fail           exits 1 without output
//   hang           never finishes (time-limit tests)
//   network        connects to `host`:`port`; exits 1 if that succeeded (isolation broken)
//   write_outside  writes probe files outside its output volume; exits 1 if any succeeded
//   slow           sleeps `sleep_before_seconds`, writes valid uniform predictions, then
//                  sleeps `sleep_after_seconds` (tests that stop the daemon mid-task)
// network and write_outside write a report into the output volume and, when contained,
// valid uniform predictions, so a sandboxed run of them passes the whole pipeline.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <thread>

#include "examples/chestxray/common/cxr_common.h"

namespace {

using cxr::Error;
namespace fs = cxr::fs;

std::vector<std::string> CaseIds(const fs::path& data) {
  cxr::RequireDirectory(data, "data_path");
  return cxr::ListCases(data, cxr::kImageExt);
}

void WriteUniform(const fs::path& out, const std::vector<std::string>& ids) {
  std::map<std::string, std::vector<double>> predictions;
  for (const auto& id : ids) predictions[id] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
  cxr::WritePredictions(out, predictions);
}

std::string YamlQuote(const std::string& s) {
  YAML::Emitter e;
  e << YAML::DoubleQuoted << s;
  return e.c_str();
}

// Returns "" on success, else why the connection failed.
std::string TryConnect(const std::string& host, int port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) return std::string("cannot resolve host: ") + gai_strerror(rc);
  std::string error = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, timeout_ms);
      if (rc == 0) {
        error = "timed out";
        close(fd);
        continue;
      }
      int so_error = 0;
      socklen_t len = sizeof so_error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error ? -1 : 0;
      errno = so_error;
    }
    if (rc == 0) {
      close(fd);
      freeaddrinfo(found);
      return "";
    }
    error = std::string("connect: ") + std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  return error;
}

void Network(const YAML::Node& params, const fs::path& params_file, const fs::path& data,
             const fs::path& out) {
  std::string host = cxr::GetString(params, "host", params_file);
  int port = cxr::GetInt(params, "port", params_file);
  if (port < 1 || port > 65535) throw Error(params_file.string() + ": port must be 1..65535");
  const double default_timeout = 3;
  double timeout = cxr::GetDouble(params, "timeout_seconds", params_file, &default_timeout);
  auto ids = CaseIds(data);
  std::string error = TryConnect(host, port, static_cast<int>(timeout * 1000));
  bool connected = error.empty();
  cxr::WriteText(out / "network_report.yaml",
                 "target: " + YamlQuote(host + ":" + std::to_string(port)) + "\nconnected: " +
                     (connected ? "true" : "false") + "\nerror: " + YamlQuote(error) + "\n");
  if (connected) {
    throw Error("connected to " + host + ":" + std::to_string(port) +
                ": the network is NOT isolated");
  }
  std::cout << "connection to " << host << ":" << port << " failed (" << error
            << "): network isolated\n";
  WriteUniform(out, ids);
}

void WriteOutside(const YAML::Node& params, const fs::path& params_file, const fs::path& data,
                  const fs::path& out) {
  std::vector<std::string> targets = {"/tmp/../etc/medperf_write_probe",
                                      "{data_path}/medperf_write_probe",
                                      "{output_path}/../medperf_write_probe"};
  if (params["targets"]) targets = cxr::GetStringList(params, "targets", params_file);
  auto ids = CaseIds(data);
  std::string report = "targets:\n";
  int escaped = 0;
  for (std::string target : targets) {
    for (auto [key, value] : {std::pair{"{data_path}", data}, std::pair{"{output_path}", out}}) {
      for (size_t at; (at = target.find(key)) != std::string::npos;) {
        target.replace(at, std::strlen(key), value.string());
      }
    }
    // The pid keeps parallel test runs from sharing (and deleting) each other's probes.
    target += "." + std::to_string(getpid());
    int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    std::string error = fd < 0 ? std::strerror(errno) : "";
    if (fd >= 0) {
      escaped++;
      close(fd);
      // Unsandboxed runs really do write; leave no trace behind.
      unlink(target.c_str());
    }
    report += "  - path: " + YamlQuote(target) + "\n    written: " + (fd >= 0 ? "true" : "false") +
              "\n    error: " + YamlQuote(error) + "\n";
    std::cout << (fd >= 0 ? "WROTE " : "blocked ") << target << (fd >= 0 ? "" : ": " + error)
              << "\n";
  }
  cxr::WriteText(out / "write_report.yaml", report);
  if (escaped) {
    throw Error("wrote " + std::to_string(escaped) + " file(s) outside the output volume");
  }
  WriteUniform(out, ids);
}

void Infer(const cxr::Args& args) {
  fs::path params_file = args.Path("parameters_file");
  YAML::Node params = cxr::LoadYaml(params_file);
  std::string mode = cxr::GetString(params, "mode", params_file);
  fs::path data = args.Path("data_path"), out = args.Path("output_path");
  if (mode == "fail") throw Error("failing on purpose (mode: fail)");
  if (mode == "hang") {
    std::cout << "hanging on purpose (mode: hang)" << std::endl;
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  cxr::RequireDirectory(out, "output_path");
  if (mode == "bad_output") {
    std::string json = "{\n";
    auto ids = CaseIds(data);
    for (size_t i = 0; i < ids.size(); ++i) {
      json += "  \"" + ids[i] + "\": \"effusion\"" + (i + 1 < ids.size() ? ",\n" : "\n");
    }
    cxr::WriteText(out / cxr::kPredictionsFile, json + "}\n");
    std::cout << "wrote malformed predictions on purpose (mode: bad_output)\n";
  } else if (mode == "network") {
    Network(params, params_file, data, out);
  } else if (mode == "write_outside") {
    WriteOutside(params, params_file, data, out);
  } else if (mode == "slow") {
    const int none = 0;
    int before = cxr::GetInt(params, "sleep_before_seconds", params_file, &none);
    int after = cxr::GetInt(params, "sleep_after_seconds", params_file, &none);
    std::this_thread::sleep_for(std::chrono::seconds(before));
    WriteUniform(out, CaseIds(data));
    std::cout << "wrote uniform predictions (mode: slow)" << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds(after));
  } else {
    throw Error(params_file.string() + ": unknown mode '" + mode +
                "' (expected bad_output, fail, hang, network, write_outside or slow)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  return cxr::RunMain("chestxray_model_faulty", [&] {
    cxr::Args args(argc, argv, {"infer"},
                   {{"data_path", cxr::kData},
                    {"parameters_file", cxr::kParameters},
                    {"additional_files", cxr::kAdditionalFiles},
                    {"output_path", cxr::kPredictions}});
    Infer(args);
  });
}
