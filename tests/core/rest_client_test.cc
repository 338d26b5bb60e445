#include "core/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_support.h"

namespace medperf {
namespace {

using ::testing::HasSubstr;

TEST(RestClientTest, ApiBaseUrl) {
  struct Case {
    const char* in;
    const char* base;
    const char* origin;
  } cases[] = {
      {"http://127.0.0.1:8000", "http://127.0.0.1:8000/api/v0", "http://127.0.0.1:8000"},
      {"http://127.0.0.1:8000/", "http://127.0.0.1:8000/api/v0", "http://127.0.0.1:8000"},
      {"https://api.medperf.org/api/v0/", "https://api.medperf.org/api/v0",
       "https://api.medperf.org"},
      {"localhost:8000", "https://localhost:8000/api/v0", "https://localhost:8000"},
      {"http://h/prefix", "http://h/prefix/api/v0", "http://h"},
  };
  for (const Case& c : cases) {
    auto r = ApiBaseUrl(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.status();
    EXPECT_EQ(r->first, c.base) << c.in;
    EXPECT_EQ(r->second, c.origin) << c.in;
  }
  EXPECT_FALSE(ApiBaseUrl("").ok());
  EXPECT_FALSE(ApiBaseUrl("ftp://x").ok());
  EXPECT_FALSE(ApiBaseUrl("http://").ok());
  EXPECT_FALSE(ApiBaseUrl("http://h/?q=1").ok());
}

TEST(RestClientTest, CreateValidatesOptions) {
  testing::TempDir dir;
  auto path = dir / "token";
  testing::WriteFile(path, "secret");
  chmod(path.c_str(), 0666);
  RestClientOptions o;
  o.server_url = "http://127.0.0.1:1";
  o.token_file = path;
  auto c = RestClient::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("0666"));
  chmod(path.c_str(), 0600);
  c = RestClient::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->base_url(), "http://127.0.0.1:1/api/v0");
  o.token = "also";
  EXPECT_FALSE(RestClient::Create(o).ok());
  o.token_file.clear();
  o.token = "bad\ntoken";
  EXPECT_FALSE(RestClient::Create(o).ok());
  o.token = "";
  o.server_url = "gopher://x";
  EXPECT_FALSE(RestClient::Create(o).ok());
}

TEST(RestClientTest, StatusFromHttpMapsCodesAndFlattensDrfErrors) {
  auto s = StatusFromHttp(400, R"({"name": ["This field is required."],
      "container": {"image_hash": ["may not be blank"]}, "non_field_errors": ["dup"]})",
                          "POST x");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("POST x: HTTP 400"));
  EXPECT_THAT(s.message(), HasSubstr("name: This field is required."));
  EXPECT_THAT(s.message(), HasSubstr("container.image_hash: may not be blank"));
  EXPECT_THAT(s.message(), HasSubstr("dup"));
  EXPECT_EQ(StatusFromHttp(401, R"({"detail": "Invalid token."})", "x").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(StatusFromHttp(401, R"({"detail": "Invalid token."})", "x").message(),
              HasSubstr("Invalid token."));
  EXPECT_EQ(StatusFromHttp(403, "{}", "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromHttp(404, "", "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromHttp(500, "<html>oops</html>", "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(StatusFromHttp(502, "<html>oops</html>", "x").message(), HasSubstr("oops"));
  EXPECT_EQ(StatusFromHttp(418, "", "x").code(), absl::StatusCode::kUnknown);
}

TEST(RestClientTest, ModelCreationNeedsAContainer) {
  RestClientOptions o;
  o.server_url = "http://127.0.0.1:1";
  auto c = RestClient::Create(o);
  ASSERT_TRUE(c.ok());
  Model m;
  m.name = "m";
  EXPECT_EQ(c->CreateModel(m).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medperf
