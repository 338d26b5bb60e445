// LimitOffsetPagination edge cases, in process (tests/server/api_fixture.h). DRF parses
// limit/offset as unbounded Python integers; ours saturate at INT64_MAX (issue 13: a huge
// offset used to overflow `offset + limit` into a negative `next` link).
#include <gtest/gtest.h>

#include <string>

#include "tests/server/api_fixture.h"

namespace medperf::testing {
namespace {

constexpr char kUser[] = "pager@example.com";
constexpr char kMax[] = "9223372036854775807";  // INT64_MAX

class ApiPaginationTest : public ApiFixture {
 public:
  void SetUp() override {
    ApiFixture::SetUp();
    AddUser(kUser);
    for (int i = 0; i < 3; ++i) {
      std::string name = "c" + std::to_string(i);
      server::ApiResponse r = Post("/mlcubes/",
                                   Json{{"name", name},
                                        {"container_config", {{"image", name}}},
                                        {"image_hash", "sha256:" + name}},
                                   kUser);
      ASSERT_EQ(r.status, 201) << r.body;
    }
  }
  static std::string Link(const std::string& query) {
    return std::string(kBaseUrl) + "/api/v0/mlcubes/" + query;
  }
};

TEST_F(ApiPaginationTest, Int64MaxOffsetGivesAnEmptyPageAndSaneLinks) {
  server::ApiResponse r = Get(std::string("/mlcubes/?offset=") + kMax, kUser);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["count"], 3);
  EXPECT_TRUE(r.body["results"].empty());
  EXPECT_TRUE(r.body["next"].is_null()) << r.body["next"];
  EXPECT_EQ(r.body["previous"], Link("?limit=32&offset=9223372036854775775"));
}

TEST_F(ApiPaginationTest, OffsetBeyondInt64IsClampedNotWrapped) {
  for (const char* offset : {"9223372036854775808", "99999999999999999999999999"}) {
    server::ApiResponse r = Get(std::string("/mlcubes/?limit=2&offset=") + offset, kUser);
    ASSERT_EQ(r.status, 200) << offset << ": " << r.body;
    EXPECT_TRUE(r.body["results"].empty()) << offset;
    EXPECT_TRUE(r.body["next"].is_null()) << offset << ": " << r.body["next"];
    EXPECT_EQ(r.body["previous"], Link("?limit=2&offset=9223372036854775805")) << offset;
  }
}

TEST_F(ApiPaginationTest, HugeLimitDoesNotOverflowNext) {
  server::ApiResponse r = Get(std::string("/mlcubes/?offset=1&limit=") + kMax, kUser);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["results"].size(), 2u);
  EXPECT_TRUE(r.body["next"].is_null()) << r.body["next"];
  EXPECT_EQ(r.body["previous"], Link(std::string("?limit=") + kMax));
  server::ApiResponse beyond =
      Get(std::string("/mlcubes/?offset=") + kMax + "&limit=" + kMax, kUser);
  ASSERT_EQ(beyond.status, 200) << beyond.body;
  EXPECT_TRUE(beyond.body["next"].is_null());
  EXPECT_EQ(beyond.body["previous"], Link(std::string("?limit=") + kMax));
}

TEST_F(ApiPaginationTest, OrdinaryPagesAreUnchanged) {
  server::ApiResponse r = Get("/mlcubes/?limit=1&offset=1", kUser);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["results"].size(), 1u);
  EXPECT_EQ(r.body["next"], Link("?limit=1&offset=2"));
  EXPECT_EQ(r.body["previous"], Link("?limit=1"));
  // Bad values fall back to the defaults, as in DRF.
  server::ApiResponse bad = Get("/mlcubes/?limit=abc&offset=-4", kUser);
  EXPECT_EQ(bad.body["results"].size(), 3u);
  EXPECT_TRUE(bad.body["previous"].is_null());
}

}  // namespace
}  // namespace medperf::testing
