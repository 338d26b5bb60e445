// The site's remote code policy (daemon/container_policy.h): invalid entities are refused
// with the reason, and a LocalProcess container from the server runs only when allow-listed
// by server id and image hash, the refusal printing the YAML that would allow it.
#include "daemon/container_policy.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/ascii.h"
#include "core/hashing.h"

namespace medperf::daemon {
namespace {

const std::string kHash = "sha256:" + Sha256Hex("the registered executable");
const std::string kOtherHash = "sha256:" + Sha256Hex("another executable");

ContainerConfig Config(const std::string& type, const std::string& image,
                       const std::string& extra_task_yaml = "") {
  std::string yaml =
      "container_type: " + type + "\nimage: " + image + "\ntasks:\n  infer:\n" + extra_task_yaml +
      "    input_volumes:\n      data_path:\n        mount_path: /mlcommons/volumes/"
      "data\n        type: directory\n    output_volumes:\n      output_path:\n"
      "        mount_path: /mlcommons/volumes/predictions\n        type: directory\n";
  absl::StatusOr<ContainerConfig> config = ParseContainerConfig(yaml, "test config");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : ContainerConfig{};
}

Container ServerContainer(int64_t id = 7, const std::string& hash = kHash) {
  Container c;
  c.id = ContainerId(id);
  c.name = "hospital-model";
  c.image_hash = hash;
  return c;
}

SandboxConfig Allow(std::vector<std::pair<int64_t, std::string>> entries) {
  SandboxConfig s;
  for (auto& [id, hash] : entries) s.allow_local_process.push_back({id, hash});
  return s;
}

bool Has(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST(CheckValidTest, InvalidEntitiesAreRefusedWithTheReason) {
  EXPECT_TRUE(CheckValid(EntityKind::kContainer, 5, "x", true).ok());
  absl::Status s = CheckValid(EntityKind::kContainer, 5, "prep", false);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "container 5 (prep) is marked invalid on the server (is_valid: false); it will not "
            "be fetched or run");

  Model m;
  m.id = ModelId(4);
  m.name = "linear";
  m.is_valid = false;
  EXPECT_TRUE(Has(CheckValid(m), "model 4 (linear) is marked invalid")) << CheckValid(m);
  // A valid model wrapping an invalid container is refused too, naming the container.
  m.is_valid = true;
  m.container = ServerContainer(4);
  m.container->is_valid = false;
  EXPECT_TRUE(Has(CheckValid(m), "container 4 (hospital-model) is marked invalid"));
  m.container->is_valid = true;
  EXPECT_TRUE(CheckValid(m).ok());

  Dataset d;
  d.id = DatasetId(3);
  d.name = "hospital-a";
  d.is_valid = false;
  EXPECT_TRUE(Has(CheckValid(d), "dataset 3 (hospital-a) is marked invalid"));
  Benchmark b;
  b.id = BenchmarkId(1);
  b.name = "tutorial_bmk";
  b.is_valid = false;
  EXPECT_TRUE(Has(CheckValid(b), "benchmark 1 (tutorial_bmk) is marked invalid"));
}

TEST(CheckRunnableTest, ImageContainersNeedNoAllowList) {
  EXPECT_TRUE(CheckRunnable(ServerContainer(), Config("DockerImage", "repo/model:1"), {}).ok());
  EXPECT_TRUE(
      CheckLocalImageHash(ServerContainer(), Config("DockerImage", "repo/model:1"), {}, kOtherHash)
          .ok());
}

TEST(CheckRunnableTest, InvalidIsRefusedEvenWhenAllowListed) {
  Container c = ServerContainer();
  c.is_valid = false;
  absl::Status s = CheckRunnable(c, Config("LocalProcess", "/opt/m/run"), Allow({{7, kHash}}));
  EXPECT_TRUE(Has(s, "is marked invalid on the server (is_valid: false)")) << s;
}

TEST(CheckRunnableTest, LocalProcessWithoutEntryIsRefusedWithTheYamlToAdd) {
  absl::Status s =
      CheckRunnable(ServerContainer(), Config("LocalProcess", "/opt/m/run"), Allow({{8, kHash}}));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(s, "container 7 (hospital-model) is a LocalProcess container")) << s;
  EXPECT_TRUE(Has(s, "/opt/m/run")) << s;
  EXPECT_TRUE(Has(s, "/etc/medperfd/medperfd.yaml")) << s;
  EXPECT_TRUE(Has(s, "restart medperfd")) << s;
  std::string yaml =
      "sandbox:\n  allow_local_process:\n    - container: 7\n      image_hash: " + kHash + "\n";
  EXPECT_TRUE(Has(s, yaml)) << s;
  EXPECT_EQ(AllowListYaml(ServerContainer()), yaml);

  // What the message says to add is what makes the container runnable.
  absl::StatusOr<DaemonConfig> config = ParseConfig(yaml, "medperfd.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(
      CheckRunnable(ServerContainer(), Config("LocalProcess", "/opt/m/run"), config->sandbox).ok());
}

TEST(CheckRunnableTest, EntryMustMatchTheServersHash) {
  ContainerConfig config = Config("LocalProcess", "/opt/m/run");
  absl::Status s = CheckRunnable(ServerContainer(), config, Allow({{7, kOtherHash}}));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(s, "changed after the site allow-listed it")) << s;
  EXPECT_TRUE(Has(s, kOtherHash)) << s;
  EXPECT_TRUE(Has(s, "    - container: 7\n      image_hash: " + kHash)) << s;
  // The same hash under another id does not count.
  EXPECT_FALSE(CheckRunnable(ServerContainer(), config, Allow({{8, kHash}})).ok());
  // Any matching entry among several for the id does; case and prefix do not matter.
  std::string upper = "SHA256:" + absl::AsciiStrToUpper(kHash.substr(7));
  EXPECT_TRUE(
      CheckRunnable(ServerContainer(7, upper), config, Allow({{7, kOtherHash}, {7, kHash}})).ok());
}

TEST(CheckRunnableTest, LocalProcessWithoutARegisteredHashCannotBeAllowListed) {
  for (const std::string& hash : {std::string(), std::string("placeholder"), kHash.substr(7)}) {
    absl::Status s = CheckRunnable(ServerContainer(7, hash), Config("LocalProcess", "/opt/m/run"),
                                   Allow({{7, kHash}}));
    EXPECT_TRUE(Has(s, "registers no sha256 image_hash")) << hash << ": " << s;
  }
}

TEST(CheckRunnableTest, ConfigMayNotRunOtherCodeThanTheHashedExecutable) {
  // e.g. /bin/bash -c '...': the program that runs would not be the hashed one.
  ContainerConfig bash = Config("LocalProcess", "/opt/m/run",
                                "    run_args:\n      entrypoint: /bin/bash\n"
                                "      command: [-c, id]\n");
  absl::Status s = CheckRunnable(ServerContainer(), bash, Allow({{7, kHash}}));
  EXPECT_TRUE(Has(s, "task 'infer' sets entrypoint /bin/bash")) << s;
  ContainerConfig same =
      Config("LocalProcess", "/opt/m/run", "    run_args:\n      entrypoint: /opt/m/run\n");
  EXPECT_TRUE(CheckRunnable(ServerContainer(), same, Allow({{7, kHash}})).ok());
  // BASH_ENV pointing at the server-supplied parameters file would source it as a script.
  ContainerConfig env = Config("LocalProcess", "/opt/m/run",
                               "    run_args:\n      environment:\n        BASH_ENV: "
                               "/mlcommons/volumes/parameters/parameters_file.yaml\n");
  s = CheckRunnable(ServerContainer(), env, Allow({{7, kHash}}));
  EXPECT_TRUE(Has(s, "sets environment variable BASH_ENV")) << s;
  // Image containers keep their environment.
  ContainerConfig image = Config("DockerImage", "repo/m:1",
                                 "    run_args:\n      environment:\n        OMP_THREADS: '2'\n");
  EXPECT_TRUE(CheckRunnable(ServerContainer(), image, {}).ok());
}

TEST(CheckLocalImageHashTest, TheExecutableHereMustStillHashToTheEntry) {
  ContainerConfig config = Config("LocalProcess", "/opt/m/run");
  EXPECT_TRUE(CheckLocalImageHash(ServerContainer(), config, Allow({{7, kHash}}), kHash).ok());
  absl::Status s = CheckLocalImageHash(ServerContainer(), config, Allow({{7, kHash}}), kOtherHash);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(s, "the executable /opt/m/run on this machine hashes to " + kOtherHash)) << s;
  EXPECT_TRUE(Has(s, kHash)) << s;
}

}  // namespace
}  // namespace medperf::daemon
