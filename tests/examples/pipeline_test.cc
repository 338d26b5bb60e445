// Every task of the chest X-ray example, run directly on the generated data:
// prepare -> sanity_check -> statistics -> infer (both models) -> evaluate, and their errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/examples/example_helpers.h"

namespace medperf::examples_test {
namespace {

using ::testing::HasSubstr;

fs::path Prep() { return Cxr() / "data_preparator"; }

RunResult SanityCheck(const Prepared& p) {
  return RunTask(Prep(), "sanity_check", {{"data_path", p.data()}, {"labels_path", p.labels()}});
}

std::map<std::string, int> CountCsvLabels(const fs::path& csv) {
  std::map<std::string, int> counts;
  std::istringstream in(ReadFile(csv));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) counts[line.substr(line.find(',') + 1)]++;
  return counts;
}

TEST(ExamplePipeline, SampleDataEndToEnd) {
  Prepared p;
  PrepareInto(p, Cxr() / "sample_raw_data");
  EXPECT_EQ(FileNames(p.data()).size(), 48u);
  EXPECT_EQ(FileNames(p.labels()).size(), 48u);
  EXPECT_EQ(ReadFile(p.data() / "sample_0001.cxr").rfind("CXR1 28 28\n", 0), 0u);

  RunResult sanity = SanityCheck(p);
  ASSERT_EQ(sanity.exit_code, 0) << sanity.err;
  EXPECT_THAT(sanity.out, HasSubstr("48 cases"));

  fs::path stats_file = p.dir / "statistics.yaml";
  RunResult stats =
      RunTask(Prep(), "statistics",
              {{"data_path", p.data()}, {"labels_path", p.labels()}, {"output_path", stats_file}});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  YAML::Node statistics = YAML::LoadFile(stats_file.string());
  EXPECT_EQ(statistics["num_cases"].as<int>(), 48);
  auto expected = CountCsvLabels(Cxr() / "sample_raw_data/labels/labels.csv");
  ASSERT_EQ(statistics["labels_count"].size(), 3u);
  for (const char* label : {"normal", "effusion", "cardiomegaly"}) {
    EXPECT_EQ(statistics["labels_count"][label].as<int>(), expected[label]) << label;
  }

  std::map<std::string, nlohmann::json> predictions;
  std::map<std::string, YAML::Node> results;
  for (const std::string model : {"model_threshold", "model_linear"}) {
    SCOPED_TRACE(model);
    fs::path out = p.dir / (model + "_predictions");
    RunResult infer = Infer(model, p, out, p.dir.path());
    ASSERT_EQ(infer.exit_code, 0) << infer.err;
    EXPECT_EQ(FileNames(out), std::vector<std::string>{"predictions.json"});
    nlohmann::json json = nlohmann::json::parse(ReadFile(out / "predictions.json"));
    ASSERT_EQ(json.size(), 48u);
    for (const auto& name : FileNames(p.data())) {
      std::string id = fs::path(name).stem();
      ASSERT_TRUE(json.contains(id)) << id;
      ASSERT_EQ(json[id].size(), 3u);
      for (double score : json[id]) {
        EXPECT_GE(score, 0.0);
        EXPECT_LE(score, 1.0);
      }
    }
    predictions[model] = json;

    fs::path results_file = p.dir / (model + "_results.yaml");
    RunResult eval = Evaluate(out, p.labels(), results_file);
    ASSERT_EQ(eval.exit_code, 0) << eval.err;
    YAML::Node r = YAML::LoadFile(results_file.string());
    ASSERT_TRUE(r.IsMap());
    for (const char* key :
         {"AUC", "Accuracy", "Top1_Accuracy", "AUC_normal", "AUC_effusion", "AUC_cardiomegaly",
          "Accuracy_normal", "Accuracy_effusion", "Accuracy_cardiomegaly"}) {
      ASSERT_TRUE(r[key]) << key;
    }
    for (const auto& kv : r) {
      double v = kv.second.as<double>();
      EXPECT_GE(v, 0.0) << kv.first;
      EXPECT_LE(v, 1.0) << kv.first;
    }
    // Better than chance (AUC 0.5, top-1 1/3).
    EXPECT_GT(r["AUC"].as<double>(), 0.7);
    EXPECT_GT(r["Top1_Accuracy"].as<double>(), 0.5);
    results[model] = r;
  }
  EXPECT_NE(predictions["model_threshold"], predictions["model_linear"]);
  EXPECT_GT(std::abs(results["model_threshold"]["AUC"].as<double>() -
                     results["model_linear"]["AUC"].as<double>()),
            0.01);
}

TEST(ExamplePipeline, DemoDataRunsThroughEveryTask) {
  Prepared p;
  PrepareInto(p, Cxr() / "demo_data");
  ASSERT_EQ(SanityCheck(p).exit_code, 0);
  fs::path stats_file = p.dir / "statistics.yaml";
  ASSERT_EQ(
      RunTask(Prep(), "statistics",
              {{"data_path", p.data()}, {"labels_path", p.labels()}, {"output_path", stats_file}})
          .exit_code,
      0);
  EXPECT_EQ(YAML::LoadFile(stats_file.string())["num_cases"].as<int>(), 6);
  fs::path out = p.dir / "predictions";
  ASSERT_EQ(Infer("model_threshold", p, out, p.dir.path()).exit_code, 0);
  RunResult eval = Evaluate(out, p.labels(), p.dir / "results.yaml");
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_TRUE(YAML::LoadFile((p.dir / "results.yaml").string())["AUC"]);
}

TEST(ExamplePipeline, MetricsMatchHandComputedValues) {
  TempDir tmp;
  // Effusion ranks 3 of its 4 positive/negative pairs right; d (0.6 normal) is a false positive.
  WriteFile(tmp / "labels/a.label", "1 0 0\n");
  WriteFile(tmp / "labels/b.label", "0 1 0\n");
  WriteFile(tmp / "labels/c.label", "0 0 1\n");
  WriteFile(tmp / "labels/d.label", "0 1 0\n");
  WriteFile(tmp / "pred/predictions.json",
            R"({"a": [0.9, 0.2, 0.1], "b": [0.1, 0.8, 0.1], "c": [0.1, 0.6, 0.7],
                "d": [0.6, 0.4, 0.2]})");
  RunResult eval = Evaluate(tmp / "pred", tmp / "labels", tmp / "results.yaml");
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  YAML::Node r = YAML::LoadFile((tmp / "results.yaml").string());
  EXPECT_NEAR(r["AUC_effusion"].as<double>(), 0.75, 1e-6);
  EXPECT_NEAR(r["AUC_normal"].as<double>(), 1.0, 1e-6);
  EXPECT_NEAR(r["AUC_cardiomegaly"].as<double>(), 1.0, 1e-6);
  EXPECT_NEAR(r["AUC"].as<double>(), (0.75 + 1 + 1) / 3, 1e-6);
  EXPECT_NEAR(r["Accuracy_normal"].as<double>(), 0.75, 1e-6);
  EXPECT_NEAR(r["Accuracy_effusion"].as<double>(), 0.5, 1e-6);
  EXPECT_NEAR(r["Top1_Accuracy"].as<double>(), 0.75, 1e-6);
}

// --- preparator errors -------------------------------------------------------------------

struct RawCopy {
  TempDir dir;
  RawCopy() { fs::copy(Cxr() / "demo_data", dir.path(), fs::copy_options::recursive); }
  fs::path images() const { return dir / "images"; }
  fs::path csv() const { return dir / "labels/labels.csv"; }
};

RunResult PrepareRaw(const RawCopy& raw, const fs::path& out,
                     const fs::path& params = Prep() / "parameters.yaml") {
  return RunTask(Prep(), "prepare",
                 {{"data_path", raw.images()},
                  {"labels_path", raw.dir / "labels"},
                  {"parameters_file", params},
                  {"output_path", out / "data"},
                  {"output_labels_path", out / "labels"}});
}

TEST(ExamplePrepare, UnknownLabelNamesTheRow) {
  RawCopy raw;
  WriteFile(raw.csv(), "Image ID,Label\ndemo_0001,pneumonia\n");
  TempDir out;
  RunResult r = PrepareRaw(raw, out.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("labels.csv row 2: unknown label 'pneumonia'"));
  EXPECT_THAT(r.err, HasSubstr("normal, effusion, cardiomegaly"));
}

TEST(ExamplePrepare, MissingImageAndCorruptImage) {
  RawCopy raw;
  TempDir out;
  fs::remove(raw.images() / "demo_0002.pgm");
  RunResult r = PrepareRaw(raw, out.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("demo_0002.pgm does not exist"));

  WriteFile(raw.images() / "demo_0002.pgm", "P5\n28 28\n255\nshort");
  r = PrepareRaw(raw, out.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("demo_0002.pgm: PGM pixel data has 5 bytes, expected 784"));

  WriteFile(raw.images() / "demo_0002.pgm", "GIF89a");
  r = PrepareRaw(raw, out.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("demo_0002.pgm: not a binary PGM image"));
}

TEST(ExamplePrepare, CsvProblems) {
  RawCopy raw;
  TempDir out;
  WriteFile(raw.csv(), "Image,Label\ndemo_0001,normal\n");
  RunResult r = PrepareRaw(raw, out.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("header has no column 'Image ID'"));

  WriteFile(raw.csv(), "Image ID,Label\ndemo_0001,normal\ndemo_0001,normal\n");
  r = PrepareRaw(raw, out.path());
  EXPECT_THAT(r.err, HasSubstr("row 3: image id 'demo_0001' listed twice"));

  WriteFile(raw.csv(), "Image ID,Label\n../etc/passwd,normal\n");
  r = PrepareRaw(raw, out.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("invalid image id '../etc/passwd'"));

  WriteFile(raw.csv(), "Image ID,Label\n");
  r = PrepareRaw(raw, out.path());
  EXPECT_THAT(r.err, HasSubstr("no cases listed"));

  // Quoted fields, CRLF and an unlisted image (warned about, skipped) are fine.
  WriteFile(raw.csv(), "\"Image ID\",Label\r\n\"demo_0001\",\"effusion\"\r\n");
  r = PrepareRaw(raw, out.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("demo_0002.pgm has no row"));
  EXPECT_EQ(FileNames(out / "data"), std::vector<std::string>{"demo_0001.cxr"});
  EXPECT_EQ(ReadFile(out / "labels/demo_0001.label"), "0 1 0\n");
}

TEST(ExamplePrepare, ResizesOtherImageSizes) {
  RawCopy raw;
  WriteFile(raw.images() / "demo_0001.pgm", "P5\n# comment\n4 2\n255\n" + std::string(8, '\x80'));
  TempDir out;
  RunResult r = PrepareRaw(raw, out.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string prepared = ReadFile(out / "data/demo_0001.cxr");
  EXPECT_EQ(prepared.rfind("CXR1 28 28\n0.5020 0.5020", 0), 0u) << prepared.substr(0, 40);
}

TEST(ExamplePrepare, MalformedParametersAndArguments) {
  RawCopy raw;
  TempDir out;
  WriteFile(out / "p1.yaml",
            "image_column_id: Image ID\nlabel_column_id: Label\n"
            "image_output_size: [28, 28]\n");
  RunResult r = PrepareRaw(raw, out.path(), out / "p1.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("p1.yaml: missing required key 'labels_list'"));

  WriteFile(out / "p2.yaml", "labels_list: [a, b\n");
  r = PrepareRaw(raw, out.path(), out / "p2.yaml");
  EXPECT_THAT(r.err, HasSubstr("p2.yaml: invalid YAML"));

  WriteFile(out / "p3.yaml",
            "labels_list: [normal]\nimage_column_id: Image ID\n"
            "label_column_id: Label\nimage_output_size: [28, big]\n");
  r = PrepareRaw(raw, out.path(), out / "p3.yaml");
  EXPECT_THAT(r.err, HasSubstr("'image_output_size' must be two integers"));

  r = PrepareRaw(raw, out.path(), out / "missing.yaml");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("missing.yaml: cannot open for reading"));

  r = medperf::testing::Run({Exe("chestxray_prep"), "prepare", "--data_path=" + out.path().string(),
                             "--labels_path=/nonexistent/labels",
                             "--parameters_file=" + (Prep() / "parameters.yaml").string(),
                             "--output_path=/x", "--output_labels_path=/y"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("labels_path /nonexistent/labels is not an existing directory"));

  r = medperf::testing::Run({Exe("chestxray_prep"), "train"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown task 'train'"));
  EXPECT_THAT(r.err, HasSubstr("usage:"));

  r = medperf::testing::Run({Exe("chestxray_prep"), "sanity_check", "--bogus=1"});
  EXPECT_THAT(r.err, HasSubstr("unknown option '--bogus'"));
  r = medperf::testing::Run({Exe("chestxray_prep"), "sanity_check", "data"});
  EXPECT_THAT(r.err, HasSubstr("expected --key=value"));
  r = medperf::testing::Run({Exe("chestxray_prep")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("missing task"));
}

// --- sanity_check on corrupted prepared data ------------------------------------------------

class ExampleSanityCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    PrepareInto(p_, Cxr() / "demo_data");
    ASSERT_EQ(SanityCheck(p_).exit_code, 0);
  }
  void ExpectFailure(const std::string& message) {
    RunResult r = SanityCheck(p_);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr(message));
    // statistics must refuse the same data rather than count it.
    RunResult s = RunTask(Prep(), "statistics",
                          {{"data_path", p_.data()},
                           {"labels_path", p_.labels()},
                           {"output_path", p_.dir / "statistics.yaml"}});
    EXPECT_EQ(s.exit_code, 1);
  }
  Prepared p_;
};

TEST_F(ExampleSanityCheck, MissingLabel) {
  fs::remove(p_.labels() / "demo_0003.label");
  ExpectFailure("demo_0003.cxr has no label file");
}

TEST_F(ExampleSanityCheck, MissingImage) {
  fs::remove(p_.data() / "demo_0004.cxr");
  ExpectFailure("demo_0004.label has no image");
}

TEST_F(ExampleSanityCheck, GarbageImage) {
  WriteFile(p_.data() / "demo_0002.cxr", "\x89PNG....");
  ExpectFailure("demo_0002.cxr: not a prepared image: expected header 'CXR1'");
}

TEST_F(ExampleSanityCheck, TruncatedImage) {
  std::string text = ReadFile(p_.data() / "demo_0002.cxr");
  WriteFile(p_.data() / "demo_0002.cxr", text.substr(0, text.size() / 2));
  ExpectFailure("demo_0002.cxr: not a prepared image: expected 784 pixel values");
}

TEST_F(ExampleSanityCheck, PixelOutOfRange) {
  WriteFile(p_.data() / "demo_0002.cxr", "CXR1 1 1\n7.5\n");
  ExpectFailure("demo_0002.cxr: not a prepared image: expected pixel values in [0,1]");
}

TEST_F(ExampleSanityCheck, WrongSize) {
  WriteFile(p_.data() / "demo_0002.cxr", "CXR1 2 1\n0.1 0.2\n");
  ExpectFailure("demo_0002.cxr: image is 1x2, expected 28x28");
}

TEST_F(ExampleSanityCheck, BadLabel) {
  WriteFile(p_.labels() / "demo_0005.label", "1 1 0\n");
  ExpectFailure("demo_0005.label: expected exactly one value 1");
  WriteFile(p_.labels() / "demo_0005.label", "0 1\n");
  ExpectFailure("demo_0005.label: expected 3 one-hot values");
}

TEST_F(ExampleSanityCheck, StrayFile) {
  WriteFile(p_.data() / "notes.txt", "hello");
  ExpectFailure("notes.txt: unexpected file (expected only *.cxr files");
}

// --- metrics on malformed predictions -------------------------------------------------------

class ExampleMetricsErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    PrepareInto(p_, Cxr() / "demo_data");
    ASSERT_EQ(Infer("model_linear", p_, pred(), p_.dir.path()).exit_code, 0);
    good_ = nlohmann::json::parse(ReadFile(pred() / "predictions.json"));
  }
  fs::path pred() const { return p_.dir / "predictions"; }
  void ExpectFailure(const std::string& message) {
    RunResult r = Evaluate(pred(), p_.labels(), p_.dir / "results.yaml");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr((pred() / "predictions.json").string()));
    EXPECT_THAT(r.err, HasSubstr(message));
  }
  void Write(const nlohmann::json& json) { WriteFile(pred() / "predictions.json", json.dump()); }
  Prepared p_;
  nlohmann::json good_;
};

TEST_F(ExampleMetricsErrors, MissingFile) {
  fs::remove(pred() / "predictions.json");
  ExpectFailure("missing; the model must write its predictions there");
}

TEST_F(ExampleMetricsErrors, NotJson) {
  WriteFile(pred() / "predictions.json", "demo_0001: [0.1, 0.2]");
  ExpectFailure("invalid JSON");
  WriteFile(pred() / "predictions.json", "[1, 2, 3]");
  ExpectFailure("expected a JSON object");
}

TEST_F(ExampleMetricsErrors, WrongScores) {
  nlohmann::json bad = good_;
  bad["demo_0001"] = {0.1, 0.2};
  Write(bad);
  ExpectFailure("case 'demo_0001': expected a list of 3 scores, got [0.1,0.2]");
  bad["demo_0001"] = {0.1, 0.2, 1.5};
  Write(bad);
  ExpectFailure("case 'demo_0001': expected scores in [0,1]");
  bad["demo_0001"] = {0.1, "x", 0.2};
  Write(bad);
  ExpectFailure("case 'demo_0001': expected scores in [0,1]");
}

TEST_F(ExampleMetricsErrors, MissingAndExtraCases) {
  nlohmann::json bad = good_;
  bad.erase("demo_0006");
  Write(bad);
  ExpectFailure("no prediction for case 'demo_0006'");
  bad = good_;
  bad["ghost"] = {0.1, 0.2, 0.3};
  Write(bad);
  ExpectFailure("prediction for case 'ghost' has no label file");
}

// --- model errors -----------------------------------------------------------------------------

TEST(ExampleModels, MissingOrMalformedWeights) {
  Prepared p;
  PrepareInto(p, Cxr() / "demo_data");
  for (auto [model, file] : {std::pair{"model_threshold", "thresholds.yaml"},
                             std::pair{"model_linear", "weights.yaml"}}) {
    SCOPED_TRACE(model);
    fs::path empty = p.dir / "empty_additional_files";
    fs::create_directories(empty);
    RunResult r = RunTask(
        Cxr() / model, "infer",
        {{"data_path", p.data()}, {"additional_files", empty}, {"output_path", p.dir / "out"}});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr((empty / file).string() + ": cannot open for reading"));

    WriteFile(empty / file, "effusion: {feature: x}\nweights: {}\nfeatures: [bias]\n");
    r = RunTask(
        Cxr() / model, "infer",
        {{"data_path", p.data()}, {"additional_files", empty}, {"output_path", p.dir / "out"}});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr((empty / file).string() + ": "));
    fs::remove_all(empty);
  }
}

TEST(ExampleModels, RejectUnpreparedData) {
  Prepared p;
  PrepareInto(p, Cxr() / "demo_data");
  WriteFile(p.data() / "demo_0003.cxr", "P5\n28 28\n255\n");
  RunResult r = Infer("model_threshold", p, p.dir / "out", p.dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("demo_0003.cxr: not a prepared image"));
}

}  // namespace
}  // namespace medperf::examples_test
