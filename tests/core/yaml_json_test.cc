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
