#include "core/yaml_json.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/support/test_support.h"

namespace medperf {
namespace {

TEST(YamlJsonTest, ScalarsFollowTheCoreSchema) {
  auto j = YamlToJson("a: 1\nb: 2.5\nc: true\nd: null\ne: '1'\nf: text\ng: [1, x]\n", "t.yaml");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["a"], 1);
  EXPECT_DOUBLE_EQ((*j)["b"].get<double>(), 2.5);
  EXPECT_EQ((*j)["c"], true);
  EXPECT_TRUE((*j)["d"].is_null());
  EXPECT_EQ((*j)["e"], "1");
  EXPECT_EQ((*j)["f"], "text");
  EXPECT_EQ((*j)["g"][1], "x");
}

TEST(YamlJsonTest, RoundTripKeepsTypes) {
  nlohmann::json original = {{"threshold", 0.5},
                             {"labels", {"normal", "effusion"}},
                             {"size", {28, 28, 1}},
                             {"quoted_number", "42"},
                             {"quoted_bool", "true"},
                             {"empty", ""},
                             {"nested", {{"on", false}, {"none", nullptr}}}};
  auto back = YamlToJson(JsonToYaml(original), "round trip");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, original) << JsonToYaml(original);
}

TEST(YamlJsonTest, MalformedInputNamesTheSource) {
  auto bad = YamlToJson("a: [unclosed", "params.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("params.yaml"), std::string::npos);
  auto deep = YamlToJson(std::string(100, '[') + std::string(100, ']'), "deep.yaml");
  EXPECT_FALSE(deep.ok());
  auto key = YamlToJson("? [a]\n: b\n", "key.yaml");
  EXPECT_FALSE(key.ok());
}

}  // namespace
}  // namespace medperf

namespace medperf {
namespace {

// Inputs the fuzzer found (tests/fuzz/corpus/yaml_json/regression_*).
// Issue 13 (5): yaml-cpp silently keeps one of two values for a repeated key.
TEST(YamlJsonTest, DuplicateKeysAreErrorsNamingTheKeyAndBothLines) {
  auto top = YamlToJson("tasks:\n  infer: {}\nimage: x\ntasks: {}\n", "container_config.yaml");
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(top.status().message(),
            "container_config.yaml: duplicate key \"tasks\" at line 4 (first at line 1)");
  // Nested, flow style, quoted against plain: all the same key.
  auto nested = YamlToJson("a:\n  b: 1\n  c: 2\n  'b': 3\n", "results.yaml");
  EXPECT_EQ(nested.status().message(),
            "results.yaml: duplicate key \"b\" at line 4 (first at line 2)");
  EXPECT_FALSE(YamlToJson("{x: 1, \"x\": 2}", "flow.yaml").ok());
  EXPECT_FALSE(YamlToJson("- {k: 1}\n- {k: 1, k: 2}\n", "seq.yaml").ok());
  // JSON documents are YAML too.
  EXPECT_FALSE(YamlToJson("{\"AUC\": 0.5, \"AUC\": 0.9}", "results.json").ok());
  EXPECT_FALSE(LoadYamlBounded("a: 1\na: 1\n", "parameters.yaml").ok());
  // The same key in different mappings, and equal values, are fine.
  auto fine = YamlToJson("x: {k: 1, v: k}\ny: {k: 2}\nz: [k, k]\n", "ok.yaml");
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ((*fine)["y"]["k"], 2);
  EXPECT_TRUE(LoadYamlBounded("k: &a {k: 1}\nj: *a\n", "alias.yaml").ok());
}

TEST(YamlJsonTest, InvalidUtf8IsRejectedInsteadOfBreakingSerializationLater) {
  auto bad_value = YamlToJson("key: \"\xff\xfe\"\n", "metrics.yaml");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("not valid UTF-8"), std::string::npos);
  EXPECT_FALSE(YamlToJson("\xc3\x28: 1\n", "k.yaml").ok());              // bad key
  EXPECT_FALSE(YamlToJson("a: \xed\xa0\x80\n", "surrogate.yaml").ok());  // UTF-16 surrogate
  EXPECT_TRUE(YamlToJson("a: \xc3\xa9t\xc3\xa9\n", "utf8.yaml").ok());   // "été"
}

TEST(YamlJsonTest, RoundTripKeepsControlCharactersEdgeSpacesAndLongKeys) {
  nlohmann::json original = {{"trailing_cr", "value\r"},
                             {" spaced ", " both "},
                             {"tab", "a\tb"},
                             {std::string(2000, 'k'), 1}};
  auto back = YamlToJson(JsonToYaml(original), "round trip");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, original);
}

}  // namespace
}  // namespace medperf

// The bounded reader (issue 11: task outputs and server answers are untrusted).
namespace medperf {
namespace {

// Peak resident set of this process in KiB (monotonic).
long MaxRssKib() {
  struct rusage usage;
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// 10 levels, each a list of 10 references to the level below: 10^10 leaves expanded.
std::string AliasBomb() {
  std::string text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = absl::StrCat("*l", i - 1);
    text += absl::StrCat("l", i, ": &l", i, " [");
    for (int k = 0; k < 10; ++k) text += absl::StrCat(k ? ", " : "", prev);
    text += "]\n";
  }
  return text;
}

bool Contains(const absl::Status& s, std::string_view what) {
  return absl::string_view(s.message()).find(absl::string_view(what.data(), what.size())) !=
         absl::string_view::npos;
}

TEST(BoundedReaderTest, AliasBombFailsFastWithSmallMemory) {
  const std::string bomb = AliasBomb();
  const long rss_before = MaxRssKib();
  const auto start = std::chrono::steady_clock::now();
  auto j = YamlToJson(bomb, "results.yaml");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(
      Contains(j.status(), "results.yaml expands to more than 1000000 nodes (YAML aliases?)"))
      << j.status();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  // The million nodes visited before giving up are built as JSON (a few hundred bytes
  // each at most); the full expansion would need terabytes.
  EXPECT_LT(MaxRssKib() - rss_before, 512 * 1024) << "KiB of extra peak RSS";

  auto loaded = LoadYamlBounded(bomb, "container_config.yaml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(Contains(loaded.status(), "container_config.yaml expands to more than"))
      << loaded.status();

  // Deeper bombs saturate the count instead of overflowing it.
  std::string huge = "l0: &l0 [lol, lol]\n";
  for (int i = 1; i < 200; ++i) {
    huge += absl::StrCat("l", i, ": &l", i, " [*l", i - 1, ", *l", i - 1, ", *l", i - 1, "]\n");
  }
  EXPECT_EQ(YamlToJson(huge, "huge.yaml").status().code(), absl::StatusCode::kResourceExhausted);

  // An alias inside its own anchor would make a cycle.
  auto cycle = YamlToJson("a: &a [1, *a]\n", "cycle.yaml");
  ASSERT_FALSE(cycle.ok());
  EXPECT_TRUE(Contains(cycle.status(), "alias refers to the node that contains it"))
      << cycle.status();

  // A few aliases are legal YAML and still read.
  auto small = YamlToJson("a: &x [1, 2]\nb: *x\n", "ok.yaml");
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ((*small)["b"], nlohmann::json({1, 2}));
}

TEST(BoundedReaderTest, AliasedLongStringsCountTheirExpandedBytes) {
  std::string text = "a: &a \"" + std::string(1 << 20, 'x') + "\"\nb: [";
  for (int i = 0; i < 20; ++i) text += i ? ", *a" : "*a";
  text += "]\n";
  auto j = YamlToJson(text, "stats.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_TRUE(Contains(j.status(), "stats.yaml expands to more than 16 MiB of text")) << j.status();
}

TEST(BoundedReaderTest, DeepNestingFailsCleanly) {
  // Far past yaml-cpp's own recursion guard: must not overflow the stack.
  const std::string flow = std::string(100000, '[') + std::string(100000, ']');
  auto j = YamlToJson(flow, "deep.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(j.status(), "deep.yaml is nested deeper than 64 levels")) << j.status();
  EXPECT_FALSE(LoadYamlBounded(flow, "deep.yaml").ok());
  // Unclosed, too.
  EXPECT_FALSE(YamlToJson(std::string(100000, '['), "open.yaml").ok());
  // Flow mappings.
  std::string maps;
  for (int i = 0; i < 5000; ++i) maps += "{a: ";
  maps += "1" + std::string(5000, '}');
  EXPECT_FALSE(YamlToJson(maps, "maps.yaml").ok());
  // Block nesting past the limit, within yaml-cpp's guard.
  std::string block;
  for (int i = 0; i < 100; ++i) block += std::string(i * 2, ' ') + "k:\n";
  block += std::string(200, ' ') + "k: 1\n";
  auto b = YamlToJson(block, "block.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(Contains(b.status(), "nested deeper than 64 levels")) << b.status();
}

TEST(BoundedReaderTest, DepthLimitIsExact) {
  // The top-level value is level 0: 65 nested lists reach level 64 with their items.
  auto nested = [](int n) { return std::string(n, '[') + "1" + std::string(n, ']'); };
  EXPECT_TRUE(YamlToJson(nested(64), "ok.yaml").ok());
  EXPECT_FALSE(YamlToJson(nested(65), "deep.yaml").ok());
  EXPECT_TRUE(ParseJsonBounded(nested(64), "ok.json").ok());
  EXPECT_FALSE(ParseJsonBounded(nested(65), "deep.json").ok());
  DocumentLimits shallow;
  shallow.max_depth = 2;
  EXPECT_TRUE(YamlToJson("a: {b: 1}", "two.yaml", shallow).ok());
  EXPECT_FALSE(YamlToJson("a: {b: [1]}", "three.yaml", shallow).ok());
  EXPECT_TRUE(ParseJsonBounded(R"({"a": {"b": 1}})", "two.json", shallow).ok());
  EXPECT_FALSE(ParseJsonBounded(R"({"a": {"b": [1]}})", "three.json", shallow).ok());
}

TEST(BoundedReaderTest, SizeCap) {
  const std::string big = "a: \"" + std::string((16 << 20) + 10, 'x') + "\"\n";
  auto j = YamlToJson(big, "metrics.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(j.status(), absl::StrCat("metrics.yaml is ", big.size(),
                                                " bytes, more than the limit of 16 MiB")))
      << j.status();
  DocumentLimits small;
  small.max_bytes = 10;
  EXPECT_FALSE(YamlToJson("a: 123456789", "s.yaml", small).ok());
  EXPECT_TRUE(YamlToJson("a: 1234567", "s.yaml", small).ok());
  EXPECT_FALSE(ParseJsonBounded("[1,2,3,4,5,6]", "s.json", small).ok());
}

TEST(BoundedReaderTest, AliasesCountEveryUse) {
  // The mapping, keys a and b, the list and its two items, and the list again via *x.
  const std::string text = "a: &x [1, 2]\nb: *x\n";
  DocumentLimits limits;
  limits.max_nodes = 9;
  EXPECT_TRUE(YamlToJson(text, "n.yaml", limits).ok());
  EXPECT_TRUE(LoadYamlBounded(text, "n.yaml", limits).ok());
  limits.max_nodes = 8;
  EXPECT_FALSE(YamlToJson(text, "n.yaml", limits).ok());
  EXPECT_FALSE(LoadYamlBounded(text, "n.yaml", limits).ok());
  // Depth through an alias: *x puts the list's items at level 2.
  limits = DocumentLimits{};
  limits.max_depth = 1;
  EXPECT_FALSE(YamlToJson("a: &x [1]\n", "d.yaml", limits).ok());
  limits.max_depth = 2;
  EXPECT_TRUE(YamlToJson("a: &x [1]\n", "d.yaml", limits).ok());
  EXPECT_TRUE(YamlToJson("a: &x [1]\nb: [*x]\n", "d.yaml", limits).status().code() ==
              absl::StatusCode::kResourceExhausted);
}

TEST(BoundedReaderTest, NodeCap) {
  DocumentLimits limits;
  limits.max_nodes = 5;
  EXPECT_TRUE(YamlToJson("[1, 2, 3, 4]", "n.yaml", limits).ok());  // the list and 4 items
  auto yaml = YamlToJson("[1, 2, 3, 4, 5]", "n.yaml", limits);
  EXPECT_EQ(yaml.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ParseJsonBounded("[1, 2, 3, 4]", "n.json", limits).ok());
  auto json = ParseJsonBounded("[1, 2, 3, 4, 5]", "n.json", limits);
  EXPECT_EQ(json.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(json.status(), "n.json has more than 5 values")) << json.status();
}

TEST(BoundedReaderTest, JsonParsesLikeNlohmann) {
  const std::string text =
      R"({"id": 3, "name": "m", "x": [1.5, -2, 18446744073709551615, true, null, "s"],
          "nested": {"k": {"v": []}}, "e": {}})";
  auto j = ParseJsonBounded(text, "answer");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(*j, nlohmann::json::parse(text));
  auto bad = ParseJsonBounded("{\"a\": ", "GET /benchmarks/");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(bad.status(), "GET /benchmarks/: invalid JSON")) << bad.status();
  EXPECT_FALSE(ParseJsonBounded("[1] x", "trailing").ok());
  EXPECT_FALSE(ParseJsonBounded("", "empty").ok());
  EXPECT_FALSE(ParseJsonBounded("// c\n1", "comment").ok());
}

TEST(BoundedReaderTest, JsonDepthBombFailsFast) {
  const std::string bomb(8 << 20, '[');
  const auto start = std::chrono::steady_clock::now();
  auto j = ParseJsonBounded(bomb, "GET /results/");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(j.status(), "GET /results/ is nested deeper than 64 levels")) << j.status();
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_FALSE(ParseJsonBounded(objects, "objects").ok());
}

TEST(BoundedReaderTest, ReadFileBoundedRefusesLinksSpecialFilesAndBigFiles) {
  testing::TempDir dir;
  testing::WriteFile(dir / "results.yaml", "accuracy: 0.5\n");
  auto ok = ReadYamlFileBounded(dir / "results.yaml", "results file");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)["accuracy"], 0.5);

  auto missing = ReadYamlFileBounded(dir / "nope.yaml", "results file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status(), (dir / "nope.yaml").string())) << missing.status();

  std::filesystem::create_symlink("/etc/passwd", dir / "link.yaml");
  auto link = ReadYamlFileBounded(dir / "link.yaml", "results file");
  EXPECT_EQ(link.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(link.status(),
                       "results file " + (dir / "link.yaml").string() + " is a symbolic link"))
      << link.status();

  EXPECT_EQ(ReadFileBounded(dir.path(), "results file", 100).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A FIFO: refused at once instead of waiting for a writer.
  ASSERT_EQ(::mkfifo((dir / "fifo.yaml").c_str(), 0600), 0);
  auto pending = std::async(std::launch::async, [&] {
    return ReadFileBounded(dir / "fifo.yaml", "statistics file", 100).status();
  });
  if (pending.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    int fd = ::open((dir / "fifo.yaml").c_str(), O_WRONLY | O_NONBLOCK);  // unblock it
    pending.wait();
    if (fd >= 0) ::close(fd);
    FAIL() << "opening a FIFO blocked";
  }
  absl::Status fifo = pending.get();
  EXPECT_EQ(fifo.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(fifo, "is not a regular file")) << fifo;

  // Size is checked before reading: a 1 TiB sparse file is refused at once.
  {
    int fd = ::open((dir / "huge.yaml").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{1} << 40), 0);
    ::close(fd);
  }
  const auto start = std::chrono::steady_clock::now();
  auto huge = ReadYamlFileBounded(dir / "huge.yaml", "results file");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(huge.status(), "more than the limit of 16 MiB")) << huge.status();

  testing::WriteFile(dir / "eleven", "01234567890");
  EXPECT_EQ(ReadFileBounded(dir / "eleven", "f", 10).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*ReadFileBounded(dir / "eleven", "f", 11), "01234567890");
  testing::WriteFile(dir / "empty", "");
  EXPECT_EQ(*ReadFileBounded(dir / "empty", "f", 0), "");
}

}  // namespace
}  // namespace medperf
