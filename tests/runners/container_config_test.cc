#include "runners/container_config.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;

constexpr char kModelConfig[] = R"(
container_type: DockerImage
image: mlcommons/chestxray-tutorial-cnn:0.0.1
tasks:
  infer:
    run_args:
      command: python3 /project/infer.py --flag "two words"
      environment: {OMP_NUM_THREADS: 2, MODE: eval}
      gpus: "device=0,2"
      shm_size: 2gb
    input_volumes:
      data_path: {mount_path: /mlcommons/volumes/data, type: directory}
      parameters_file: {mount_path: /mlcommons/volumes/parameters/parameters_file.yaml, type: file}
      additional_files: {mount_path: /mlcommons/volumes/additional_files/, type: directory}
    output_volumes:
      output_path: {mount_path: /mlcommons/volumes/predictions, type: directory}
)";

std::string ErrorOf(std::string_view text) {
  auto config = ParseContainerConfig(text, "container_config.yaml");
  EXPECT_FALSE(config.ok()) << "expected a parse error for:\n" << text;
  return config.ok() ? "" : std::string(config.status().message());
}

TEST(ContainerConfigTest, ParsesTheCurrentForm) {
  auto config = ParseContainerConfig(kModelConfig, "model.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->type, ContainerType::kDockerImage);
  EXPECT_EQ(config->image, "mlcommons/chestxray-tutorial-cnn:0.0.1");
  EXPECT_TRUE(config->IsModelContainer());
  const TaskSpec* infer = config->FindTask("infer");
  ASSERT_NE(infer, nullptr);
  EXPECT_TRUE(infer->has_command);
  EXPECT_EQ(infer->command,
            (std::vector<std::string>{"python3", "/project/infer.py", "--flag", "two words"}));
  EXPECT_EQ(infer->environment.at("OMP_NUM_THREADS"), "2");
  EXPECT_EQ(infer->gpus, "device=0,2");
  EXPECT_EQ(infer->shm_size, "2gb");
  ASSERT_EQ(infer->input_volumes.size(), 3u);
  EXPECT_EQ(infer->input_volumes[0].name, "additional_files");
  EXPECT_EQ(infer->input_volumes[0].mount_path, "/mlcommons/volumes/additional_files");
  EXPECT_EQ(infer->FindVolume("parameters_file")->type, VolumeType::kFile);
  EXPECT_EQ(infer->FindVolume("output_path")->mount_path, "/mlcommons/volumes/predictions");
  EXPECT_EQ(config->FindTask("evaluate"), nullptr);
}

TEST(ContainerConfigTest, ParsesTheServersJsonForm) {
  auto config = ParseContainerConfig(
      R"({"container_type": "DockerArchive", "image": "https://example.org/img.tar",
          "tasks": {"evaluate": {"input_volumes": {"predictions": {"mount_path": "/p", "type": "directory"}},
                                 "output_volumes": {"output_path": {"mount_path": "/r/results.yaml", "type": "file"}}}}})",
      "server container 3");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->type, ContainerType::kDockerArchive);
  EXPECT_FALSE(config->IsModelContainer());
  EXPECT_FALSE(config->FindTask("evaluate")->has_command);
}

TEST(ContainerConfigTest, CommandListGpusAndLocalProcess) {
  auto config = ParseContainerConfig(R"(
container_type: LocalProcess
image: /bin/sh
tasks:
  prepare:
    run_args: {command: ["-c", "echo hi"], gpus: 2, entrypoint: /bin/bash}
  statistics:
    run_args: {gpus: 0}
  sanity_check:
)",
                                     "local.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->type, ContainerType::kLocalProcess);
  EXPECT_EQ(config->tasks.at("prepare").command, (std::vector<std::string>{"-c", "echo hi"}));
  EXPECT_EQ(config->tasks.at("prepare").gpus, "2");
  EXPECT_EQ(*config->tasks.at("prepare").entrypoint, "/bin/bash");
  EXPECT_EQ(config->tasks.at("statistics").gpus, "");
  EXPECT_TRUE(config->tasks.contains("sanity_check"));
}

TEST(ContainerConfigTest, MissingKeysNameTheKey) {
  EXPECT_NE(ErrorOf("image: x\ntasks: {t: {}}").find("container_type: is required"),
            std::string::npos);
  EXPECT_NE(ErrorOf("container_type: DockerImage\ntasks: {t: {}}").find("image: is required"),
            std::string::npos);
  EXPECT_NE(ErrorOf("container_type: DockerImage\nimage: x").find("tasks: is required"),
            std::string::npos);
  EXPECT_NE(ErrorOf("container_type: DockerImage\nimage: x\ntasks: {}").find("at least one task"),
            std::string::npos);
  std::string e = ErrorOf(R"(
container_type: DockerImage
image: x
tasks:
  infer:
    input_volumes:
      data_path: {type: directory}
)");
  EXPECT_NE(e.find("container_config.yaml: tasks.infer.input_volumes.data_path.mount_path: is "
                   "required"),
            std::string::npos)
      << e;
}

TEST(ContainerConfigTest, WrongTypesAndBadValues) {
  EXPECT_NE(ErrorOf("container_type: DockerImage\nimage: [a, b]\ntasks: {t: {}}")
                .find("image: expected a string, got a list"),
            std::string::npos);
  EXPECT_NE(ErrorOf("container_type: DockerImage\nimage: x\ntasks: [infer]")
                .find("tasks: expected a mapping, got a list"),
            std::string::npos);
  EXPECT_NE(ErrorOf("container_type: Podman\nimage: x\ntasks: {t: {}}").find("container_type"),
            std::string::npos);
  EXPECT_NE(ErrorOf("container_type: EncryptedDockerArchive\nimage: x\ntasks: {t: {}}")
                .find("not supported"),
            std::string::npos);
  std::string base = "container_type: DockerImage\nimage: x\ntasks:\n  infer:\n";
  EXPECT_NE(ErrorOf(base + "    input_volumes:\n      d: {mount_path: data, type: directory}\n")
                .find("tasks.infer.input_volumes.d.mount_path: expected an absolute path"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(base + "    input_volumes:\n      d: {mount_path: /a/../etc, type: directory}\n")
          .find("'..'"),
      std::string::npos);
  EXPECT_NE(ErrorOf(base + "    input_volumes:\n      d: {mount_path: /, type: directory}\n")
                .find("root"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "    input_volumes:\n      d: {mount_path: /proc/x, type: file}\n")
                .find("/proc"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "    input_volumes:\n      d: {mount_path: /d, type: socket}\n")
                .find("tasks.infer.input_volumes.d.type: expected 'file' or 'directory'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "    input_volumes:\n      d: {mount_path: 5, type: file}\n")
                .find("expected an absolute path"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "    input_volumes: [a]\n")
                .find("tasks.infer.input_volumes: expected a mapping"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "    input_volumes:\n      a: {mount_path: /x, type: file}\n"
                           "    output_volumes:\n      b: {mount_path: /x, type: file}\n")
                .find("share the mount path /x"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "    run_args: {gpus: many}\n").find("tasks.infer.run_args.gpus"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(base + "    run_args: {command: {a: b}}\n").find("tasks.infer.run_args.command"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf(base + "    run_args: {command: 'unterminated \"quote'}\n").find("unterminated"),
      std::string::npos);
  EXPECT_NE(ErrorOf(base + "    bogus: 1\n").find("tasks.infer.bogus: unknown task key"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf("container_type: LocalProcess\nimage: sh\ntasks: {t: {}}").find("absolute path"),
      std::string::npos);
}

TEST(ContainerConfigTest, UnknownRunArgsAreRejectedLikeTheClient) {
  std::string e = ErrorOf(R"(
container_type: DockerImage
image: x
tasks:
  infer:
    run_args: {command: [a], privileged: true}
)");
  EXPECT_NE(e.find("tasks.infer.run_args: run_args key 'privileged' is not allowed"),
            std::string::npos)
      << e;
}

TEST(ContainerConfigTest, NonMappingAndBrokenDocuments) {
  EXPECT_NE(ErrorOf("- a\n- b\n").find("expected a mapping at the top level, got a list"),
            std::string::npos);
  EXPECT_NE(ErrorOf("just a string").find("expected a mapping at the top level"),
            std::string::npos);
  EXPECT_NE(ErrorOf("").find("expected a mapping at the top level"), std::string::npos);
  EXPECT_NE(ErrorOf("a: [1, 2").find("not valid YAML"), std::string::npos);
  EXPECT_NE(ErrorOf("{\"container_type\": ").find("not valid YAML"), std::string::npos);
  EXPECT_NE(ErrorOf("a: *unknown_alias").find("not valid YAML"), std::string::npos);
}

// Issue 13 (5): yaml-cpp kept one of two `tasks:` mappings, so a config that wrote the
// key twice registered an empty `infer` task.
TEST(ContainerConfigTest, DuplicateKeysAreRefusedNamingBothLines) {
  EXPECT_EQ(ErrorOf("container_type: DockerImage\n"  // line 1
                    "tasks:\n"                       // line 2
                    "  infer:\n"
                    "    run_args: {command: [infer]}\n"
                    "image: x\n"
                    "# the same key again\n"
                    "tasks:\n"  // line 7
                    "  infer: {}\n"),
            "container_config.yaml: duplicate key \"tasks\" at line 7 (first at line 2)");
  EXPECT_NE(ErrorOf("container_type: DockerImage\nimage: x\ntasks:\n  infer:\n    run_args: {}\n"
                    "    run_args: {}\n")
                .find("duplicate key \"run_args\" at line 6 (first at line 5)"),
            std::string::npos);
}

TEST(ContainerConfigTest, HugeAndDeepDocuments) {
  std::string deep_flow(100000, '[');
  EXPECT_NE(ErrorOf(deep_flow).find("nested deeper"), std::string::npos);
  std::string deep_block;
  for (int i = 0; i < 200; ++i) deep_block += std::string(i * 2, ' ') + "k:\n";
  EXPECT_FALSE(ParseContainerConfig(deep_block, "deep.yaml").ok());
  std::string huge = "container_type: DockerImage\nimage: x\ntasks: {t: {}}\npad: \"" +
                     std::string(2 << 20, 'x') + "\"\n";
  EXPECT_NE(ErrorOf(huge).find("more than the limit"), std::string::npos);
  // Billion laughs: aliases share nodes in yaml-cpp, so this stays small, but the
  // depth walk must terminate.
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'z'; ++c) {
    const std::string name(1, c), previous(1, static_cast<char>(c - 1));
    laughs +=
        absl::StrCat(name, ": &", name, " [*", previous, ", *", previous, ", *", previous, "]\n");
  }
  EXPECT_NE(ErrorOf(laughs).find("alias"), std::string::npos) << ErrorOf(laughs);
}

constexpr char kLegacyModel[] = R"(
name: Custom CNN Classification Model
description: MedPerf Tutorial - Model MLCube.
authors:
  - { name: MLCommons Medical Working Group }
platform:
  accelerator_count: 0
docker:
  image: mlcommons/chestxray-tutorial-cnn:0.0.0
  build_context: "../project"
  build_file: "Dockerfile"
tasks:
  infer:
    parameters:
      inputs:
        {
          data_path: data/,
          parameters_file: parameters.yaml,
          weights: additional_files/cnn_weights.pth,
        }
      outputs: { output_path: { type: directory, default: predictions } }
)";

TEST(ContainerConfigTest, LegacyMlcubeMapping) {
  EXPECT_TRUE(LooksLikeLegacyMlcube(kLegacyModel));
  EXPECT_FALSE(LooksLikeLegacyMlcube(kModelConfig));
  auto config = ParseLegacyMlcube(kLegacyModel, "mlcube.yaml", "/ws");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->format, ContainerConfig::Format::kLegacyMlcube);
  EXPECT_EQ(config->type, ContainerType::kDockerImage);
  EXPECT_EQ(config->image, "mlcommons/chestxray-tutorial-cnn:0.0.0");
  EXPECT_EQ(config->name, "Custom CNN Classification Model");
  const TaskSpec& infer = config->tasks.at("infer");
  const Volume* data = infer.FindVolume("data_path");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->type, VolumeType::kDirectory);
  EXPECT_EQ(data->mount_path, "/mlcube_io/inputs/data_path");
  EXPECT_EQ(data->default_host_path, "/ws/data/");
  const Volume* weights = infer.FindVolume("weights");
  EXPECT_EQ(weights->type, VolumeType::kFile);
  EXPECT_EQ(weights->mount_path, "/mlcube_io/inputs/weights/cnn_weights.pth");
  EXPECT_EQ(weights->default_host_path, "/ws/additional_files/cnn_weights.pth");
  EXPECT_EQ(infer.FindVolume("parameters_file")->mount_path,
            "/mlcube_io/inputs/parameters_file/parameters.yaml");
  const Volume* out = infer.FindVolume("output_path");
  EXPECT_EQ(out->mount_path, "/mlcube_io/outputs/output_path");
  EXPECT_FALSE(out->type_guessed);
  EXPECT_EQ(infer.command,
            (std::vector<std::string>{
                "infer", "--data_path=/mlcube_io/inputs/data_path",
                "--parameters_file=/mlcube_io/inputs/parameters_file/parameters.yaml",
                "--weights=/mlcube_io/inputs/weights/cnn_weights.pth",
                "--output_path=/mlcube_io/outputs/output_path"}));
}

TEST(ContainerConfigTest, LegacyPreparatorAndErrors) {
  auto config = ParseLegacyMlcube(R"(
docker: {image: prep:1}
platform: {accelerator_count: 1}
tasks:
  prepare:
    parameters:
      inputs: {data_path: input_data, labels_path: input_labels, parameters_file: parameters.yaml}
      outputs: {output_path: data/, output_labels_path: labels/}
  statistics:
    parameters:
      inputs: {data_path: data/, labels_path: labels/, parameters_file: parameters.yaml}
      outputs: {output_path: {type: file, default: statistics.yaml}}
)",
                                  "mlcube.yaml", "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tasks.at("prepare").FindVolume("data_path")->type, VolumeType::kDirectory);
  EXPECT_TRUE(config->tasks.at("prepare").FindVolume("data_path")->type_guessed);
  EXPECT_EQ(config->tasks.at("statistics").FindVolume("output_path")->mount_path,
            "/mlcube_io/outputs/output_path/statistics.yaml");
  EXPECT_EQ(config->tasks.at("prepare").gpus, "1");

  auto bad = ParseLegacyMlcube("tasks: {infer: {}}", "mlcube.yaml", "");
  EXPECT_NE(bad.status().message().find("docker: is required"), std::string_view::npos);
  bad = ParseLegacyMlcube(
      "docker: {image: x}\ntasks:\n  infer:\n    parameters:\n      inputs: {d: {type: blob, "
      "default: x}}\n",
      "mlcube.yaml", "");
  EXPECT_NE(bad.status().message().find("tasks.infer.parameters.inputs.d.type"),
            std::string_view::npos)
      << bad.status();
  bad = ParseLegacyMlcube("docker: {image: x}\nplatform: {accelerator_count: lots}\ntasks: {t: {}}",
                          "mlcube.yaml", "");
  EXPECT_NE(bad.status().message().find("platform.accelerator_count"), std::string_view::npos);
}

TEST(ContainerConfigTest, LoadFileDetectsTheForm) {
  TempDir dir;
  WriteFile(dir / "mlcube/mlcube.yaml", kLegacyModel);
  WriteFile(dir / "mlcube/workspace/parameters.yaml", "batch_size: 5\n");
  auto legacy = LoadContainerConfigFile(dir / "mlcube/mlcube.yaml");
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_EQ(legacy->format, ContainerConfig::Format::kLegacyMlcube);
  EXPECT_EQ(legacy->legacy_parameters_file, dir / "mlcube/workspace/parameters.yaml");
  EXPECT_EQ(legacy->tasks.at("infer").FindVolume("parameters_file")->default_host_path,
            dir / "mlcube/workspace/parameters.yaml");
  WriteFile(dir / "container_config.yaml", kModelConfig);
  auto current = LoadContainerConfigFile(dir / "container_config.yaml");
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->format, ContainerConfig::Format::kContainerConfig);
  EXPECT_EQ(current->source, (dir / "container_config.yaml").string());
  auto missing = LoadContainerConfigFile(dir / "nope.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(ContainerConfigTest, ShlexSplit) {
  EXPECT_EQ(*ShlexSplit("a  b\tc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*ShlexSplit(R"(x 'a b' "c \"d\"" e\ f '')"),
            (std::vector<std::string>{"x", "a b", "c \"d\"", "e f", ""}));
  EXPECT_EQ(*ShlexSplit(R"('it''s' "a\nb")"), (std::vector<std::string>{"its", "a\\nb"}));
  EXPECT_TRUE(ShlexSplit("")->empty());
  EXPECT_FALSE(ShlexSplit("'open").ok());
  EXPECT_FALSE(ShlexSplit("trailing\\").ok());
}

}  // namespace
}  // namespace medperf
