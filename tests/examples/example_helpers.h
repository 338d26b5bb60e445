// Helpers for the chest X-ray example tests: run a task the way a runner would (volumes
// from the container config, mount paths in run_args.command replaced by host paths), but
// without a sandbox.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace medperf::examples_test {

namespace fs = std::filesystem;
using medperf::testing::ReadFile;
using medperf::testing::RunResult;
using medperf::testing::TempDir;
using medperf::testing::WriteFile;

inline fs::path Cxr() { return medperf::testing::BuildDir() / "examples" / "chestxray"; }
inline fs::path Exe(const std::string& name) {
  return medperf::testing::BinaryPath("examples/bin/" + name);
}

// Runs `task` of the container in `container_dir`. `volumes` maps volume keys to host paths;
// parameters_file defaults to the container's parameters.yaml. Every declared volume must be
// supplied; output directories are created and output files touched, as MedPerf does.
inline RunResult RunTask(const fs::path& container_dir, const std::string& task,
                         std::map<std::string, fs::path> volumes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  YAML::Node config = YAML::LoadFile((container_dir / "container_config.yaml").string());
  EXPECT_EQ(config["container_type"].as<std::string>(), "LocalProcess");
  YAML::Node spec = config["tasks"][task];
  if (!spec) {
    ADD_FAILURE() << container_dir << " has no task " << task;
    return {};
  }
  if (!volumes.contains("parameters_file")) {
    volumes["parameters_file"] = container_dir / "parameters.yaml";
  }
  std::vector<std::pair<std::string, std::string>> mounts;  // mount path -> host path
  for (const char* kind : {"input_volumes", "output_volumes"}) {
    for (const auto& entry : spec[kind]) {
      std::string key = entry.first.as<std::string>();
      std::string type = entry.second["type"].as<std::string>();
      auto it = volumes.find(key);
      if (it == volumes.end()) {
        ADD_FAILURE() << "test supplies no host path for volume " << key << " of " << task;
        return {};
      }
      if (std::string(kind) == "output_volumes") {
        if (type == "directory") {
          fs::create_directories(it->second);
        } else if (!fs::exists(it->second)) {
          WriteFile(it->second, "");
        }
      }
      mounts.emplace_back(entry.second["mount_path"].as<std::string>(), it->second.string());
    }
  }
  // Longest mount path first so /a/b is not rewritten through its parent /a.
  std::sort(mounts.begin(), mounts.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::vector<std::string> argv = {config["image"].as<std::string>()};
  for (const auto& arg_node : spec["run_args"]["command"]) {
    std::string arg = arg_node.as<std::string>();
    for (const auto& [mount, host] : mounts) {
      size_t at = arg.find(mount);
      size_t end = at + mount.size();
      if (at != std::string::npos && (end == arg.size() || arg[end] == '/')) {
        arg.replace(at, mount.size(), host);
        break;
      }
    }
    argv.push_back(arg);
  }
  return medperf::testing::Run(argv, timeout);
}

// A prepared copy of a raw dataset, laid out like a MedPerf dataset folder.
struct Prepared {
  TempDir dir;
  fs::path data() const { return dir / "data"; }
  fs::path labels() const { return dir / "labels"; }
};

inline void PrepareInto(const Prepared& p, const fs::path& raw) {
  RunResult r = RunTask(Cxr() / "data_preparator", "prepare",
                        {{"data_path", raw / "images"},
                         {"labels_path", raw / "labels"},
                         {"output_path", p.data()},
                         {"output_labels_path", p.labels()}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Unpacks a model's additional_files.tar.gz into `dest`.
inline void Unpack(const fs::path& tarball, const fs::path& dest) {
  fs::create_directories(dest);
  RunResult r = medperf::testing::Run(
      {"/usr/bin/tar", "-xzf", tarball.string(), "-C", dest.string()}, std::chrono::seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

inline RunResult Infer(const std::string& model, const Prepared& p, const fs::path& out,
                       const fs::path& work) {
  fs::path additional = work / (model + "_additional_files");
  Unpack(Cxr() / model / "additional_files.tar.gz", additional);
  return RunTask(Cxr() / model, "infer",
                 {{"data_path", p.data()}, {"additional_files", additional}, {"output_path", out}});
}

inline RunResult Evaluate(const fs::path& predictions, const fs::path& labels,
                          const fs::path& results) {
  return RunTask(Cxr() / "metrics", "evaluate",
                 {{"predictions", predictions}, {"labels", labels}, {"output_path", results}});
}

inline std::vector<std::string> FileNames(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace medperf::examples_test
