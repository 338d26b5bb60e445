#include "core/yaml_json.h"

#include <gtest/gtest.h>

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
