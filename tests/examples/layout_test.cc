// The build output layout of the chest X-ray example, which the server seed and the demo use.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>
#include <tuple>

#include "tests/examples/example_helpers.h"

namespace medperf::examples_test {
namespace {

std::set<std::string> Keys(const YAML::Node& node) {
  std::set<std::string> keys;
  for (const auto& e : node) keys.insert(e.first.as<std::string>());
  return keys;
}

struct TaskVolumes {
  std::string task;
  std::set<std::string> inputs;
  std::set<std::string> outputs;
};

void ExpectContainer(const fs::path& dir, const std::vector<TaskVolumes>& tasks) {
  SCOPED_TRACE(dir.string());
  ASSERT_TRUE(fs::exists(dir / "container_config.yaml"));
  ASSERT_TRUE(fs::exists(dir / "parameters.yaml"));
  YAML::Node params = YAML::LoadFile((dir / "parameters.yaml").string());
  EXPECT_TRUE(params.IsMap());
  YAML::Node config = YAML::LoadFile((dir / "container_config.yaml").string());
  EXPECT_EQ(config["container_type"].as<std::string>(), "LocalProcess");
  fs::path image = config["image"].as<std::string>();
  EXPECT_TRUE(image.is_absolute()) << image;
  EXPECT_TRUE(fs::is_regular_file(image)) << image;
  EXPECT_EQ(access(image.c_str(), X_OK), 0) << image;
  std::set<std::string> names;
  for (const auto& t : tasks) names.insert(t.task);
  EXPECT_EQ(Keys(config["tasks"]), names);
  for (const auto& t : tasks) {
    SCOPED_TRACE(t.task);
    YAML::Node spec = config["tasks"][t.task];
    EXPECT_EQ(Keys(spec["input_volumes"]), t.inputs);
    EXPECT_EQ(Keys(spec["output_volumes"]), t.outputs);
    for (const char* kind : {"input_volumes", "output_volumes"}) {
      for (const auto& v : spec[kind]) {
        std::string type = v.second["type"].as<std::string>();
        EXPECT_TRUE(type == "file" || type == "directory");
        EXPECT_EQ(v.second["mount_path"].as<std::string>().rfind("/mlcommons/volumes/", 0), 0u);
      }
    }
    ASSERT_TRUE(spec["run_args"]["command"].IsSequence());
    EXPECT_EQ(spec["run_args"]["command"][0].as<std::string>(), t.task);
  }
}

TEST(ExampleLayout, DataPreparator) {
  ExpectContainer(
      Cxr() / "data_preparator",
      {{"prepare",
        {"data_path", "labels_path", "parameters_file"},
        {"output_path", "output_labels_path"}},
       {"sanity_check", {"data_path", "labels_path", "parameters_file"}, {}},
       {"statistics", {"data_path", "labels_path", "parameters_file"}, {"output_path"}}});
  YAML::Node config =
      YAML::LoadFile((Cxr() / "data_preparator" / "container_config.yaml").string());
  EXPECT_EQ(config["tasks"]["statistics"]["output_volumes"]["output_path"]["mount_path"]
                .as<std::string>(),
            "/mlcommons/volumes/statistics/statistics.yaml");
}

TEST(ExampleLayout, Models) {
  for (const char* model : {"model_threshold", "model_linear"}) {
    ExpectContainer(
        Cxr() / model,
        {{"infer", {"data_path", "parameters_file", "additional_files"}, {"output_path"}}});
    EXPECT_TRUE(fs::is_regular_file(Cxr() / model / "additional_files.tar.gz"));
  }
  for (const char* mode : {"bad_output", "fail", "hang", "network", "write_outside"}) {
    fs::path dir = Cxr() / "model_faulty" / mode;
    ExpectContainer(dir, {{"infer", {"data_path", "parameters_file"}, {"output_path"}}});
    EXPECT_EQ(YAML::LoadFile((dir / "parameters.yaml").string())["mode"].as<std::string>(), mode);
  }
}

TEST(ExampleLayout, Metrics) {
  ExpectContainer(Cxr() / "metrics",
                  {{"evaluate", {"predictions", "labels", "parameters_file"}, {"output_path"}}});
}

TEST(ExampleLayout, AdditionalFilesHoldTheWeightsAtTheRoot) {
  TempDir tmp;
  for (auto [model, file] : {std::pair{"model_threshold", "thresholds.yaml"},
                             std::pair{"model_linear", "weights.yaml"}}) {
    Unpack(Cxr() / model / "additional_files.tar.gz", tmp / model);
    EXPECT_EQ(FileNames(tmp / model), std::vector<std::string>{file});
    YAML::Node params = YAML::LoadFile((Cxr() / model / "parameters.yaml").string());
    EXPECT_EQ(params["weights_file"].as<std::string>(), file);
  }
}

TEST(ExampleLayout, RawDatasetsUseTheTutorialShape) {
  for (auto [name, count, prefix] :
       {std::tuple{"sample_raw_data", 48, "sample_"}, std::tuple{"demo_data", 6, "demo_"}}) {
    SCOPED_TRACE(name);
    fs::path raw = Cxr() / name;
    std::string csv = ReadFile(raw / "labels" / "labels.csv");
    EXPECT_EQ(csv.rfind("Image ID,Label\n", 0), 0u);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), count + 1);
    auto images = FileNames(raw / "images");
    ASSERT_EQ(images.size(), static_cast<size_t>(count));
    for (const auto& image : images) {
      EXPECT_EQ(image.rfind(prefix, 0), 0u) << image;
      EXPECT_EQ(ReadFile(raw / "images" / image).rfind("P5\n28 28\n255\n", 0), 0u) << image;
      EXPECT_NE(csv.find(fs::path(image).stem().string() + ","), std::string::npos) << image;
    }
    for (const char* label : {",normal\n", ",effusion\n", ",cardiomegaly\n"}) {
      EXPECT_NE(csv.find(label), std::string::npos) << label;
    }
  }
}

TEST(ExampleLayout, DemoTarballHasTheTutorialShape) {
  fs::path tarball = Cxr() / "demo_data.tar.gz";
  RunResult list = medperf::testing::Run({"/usr/bin/tar", "-tzf", tarball.string()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::set<std::string> entries;
  std::istringstream lines(list.out);
  for (std::string line; std::getline(lines, line);) entries.insert(line);
  EXPECT_TRUE(entries.contains("paths.yaml"));
  EXPECT_TRUE(entries.contains("demo_data/labels/labels.csv"));
  EXPECT_TRUE(entries.contains("demo_data/images/demo_0001.pgm"));
  for (const auto& e : entries) {
    EXPECT_TRUE(e == "paths.yaml" || e.rfind("demo_data/", 0) == 0) << e;
  }

  TempDir tmp;
  ASSERT_EQ(
      medperf::testing::Run({"/usr/bin/tar", "-xzf", tarball.string(), "-C", tmp.path().string()})
          .exit_code,
      0);
  YAML::Node paths = YAML::LoadFile((tmp / "paths.yaml").string());
  EXPECT_EQ(paths["data_path"].as<std::string>(), "demo_data/images");
  EXPECT_EQ(paths["labels_path"].as<std::string>(), "demo_data/labels");
  EXPECT_EQ(FileNames(tmp.path() / paths["data_path"].as<std::string>()),
            FileNames(Cxr() / "demo_data" / "images"));
}

TEST(ExampleLayout, DataGeneratorIsDeterministic) {
  TempDir tmp;
  auto gen = [&](const std::string& out, const std::string& seed) {
    RunResult r = medperf::testing::Run({Exe("chestxray_datagen"), "--out=" + (tmp / out).string(),
                                         "--seed=" + seed, "--count=5", "--prefix=x"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  gen("a", "42");
  gen("b", "42");
  gen("c", "43");
  EXPECT_EQ(ReadFile(tmp / "a/images/x_0003.pgm"), ReadFile(tmp / "b/images/x_0003.pgm"));
  EXPECT_EQ(ReadFile(tmp / "a/labels/labels.csv"), ReadFile(tmp / "b/labels/labels.csv"));
  EXPECT_NE(ReadFile(tmp / "a/images/x_0003.pgm"), ReadFile(tmp / "c/images/x_0003.pgm"));
  // The build's sample data is exactly what the generator makes from its fixed seed.
  RunResult r = medperf::testing::Run({Exe("chestxray_datagen"), "--out=" + (tmp / "s").string(),
                                       "--seed=7", "--count=48", "--prefix=sample"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(tmp / "s/labels/labels.csv"),
            ReadFile(Cxr() / "sample_raw_data/labels/labels.csv"));
  EXPECT_EQ(ReadFile(tmp / "s/images/sample_0017.pgm"),
            ReadFile(Cxr() / "sample_raw_data/images/sample_0017.pgm"));

  RunResult bad = medperf::testing::Run({Exe("chestxray_datagen"), "--count=3"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--out"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace medperf::examples_test
