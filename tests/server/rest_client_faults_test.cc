// The REST client against a misbehaving server (a tiny cpp-httplib server in the test):
// garbage and truncated JSON, 5xx with retries, 4xx without, hostile pagination.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "core/rest_client.h"
#include "tests/support/test_support.h"

namespace medperf::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class FakeServer {
 public:
  FakeServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

RestClient Client(const std::string& url, int attempts = 3) {
  RestClientOptions o;
  o.server_url = url;
  o.token = "t0k3n";
  o.max_attempts = attempts;
  o.initial_backoff = std::chrono::milliseconds(1);
  o.timeout = std::chrono::seconds(5);
  auto c = RestClient::Create(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

TEST(RestClientFaults, GarbageAndTruncatedJsonAreClearErrors) {
  FakeServer fake;
  fake.server().Get("/api/v0/benchmarks/1/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>proxy error</html>", "text/html");
  });
  fake.server().Get("/api/v0/benchmarks/2/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"id": 2, "name": "trunc)", "application/json");
  });
  fake.server().Get("/api/v0/benchmarks/3/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"id": 3, "reference_model": "two"})", "application/json");
  });
  fake.server().Get("/api/v0/benchmarks/4/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"([1, 2])", "application/json");
  });
  fake.server().Get("/api/v0/benchmarks/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"count": 1, "next": null, "results": "nope"})", "application/json");
  });
  RestClient c = Client(fake.url());
  auto b = c.GetBenchmark(BenchmarkId(1));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(b.status().message(), HasSubstr("invalid or truncated JSON"));
  b = c.GetBenchmark(BenchmarkId(2));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kDataLoss);
  b = c.GetBenchmark(BenchmarkId(3));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().message(),
              HasSubstr("benchmark 3: field 'reference_model': expected integer, got string"));
  b = c.GetBenchmark(BenchmarkId(4));
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  auto list = c.ListBenchmarks();
  EXPECT_EQ(list.status().code(), absl::StatusCode::kDataLoss);
}

TEST(RestClientFaults, GetsRetry5xxThenSucceed) {
  FakeServer fake;
  std::atomic<int> calls{0};
  fake.server().Get("/api/v0/me/", [&](const httplib::Request& req, httplib::Response& res) {
    EXPECT_EQ(req.get_header_value("Authorization"), "Bearer t0k3n");
    if (++calls < 3) {
      res.status = 503;
      res.set_content(R"({"detail": "warming up"})", "application/json");
      return;
    }
    res.set_content(R"({"id": 7, "email": "a@b.org"})", "application/json");
  });
  RestClient c = Client(fake.url(), 3);
  std::vector<std::chrono::milliseconds> sleeps;
  c.set_sleep_for_testing([&](std::chrono::milliseconds d) { sleeps.push_back(d); });
  auto me = c.GetMe();
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->id, UserId(7));
  EXPECT_EQ(calls.load(), 3);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_EQ(sleeps[1], 2 * sleeps[0]);  // exponential
}

TEST(RestClientFaults, GivesUpAfterMaxAttemptsWithTheServersMessage) {
  FakeServer fake;
  std::atomic<int> calls{0};
  fake.server().Get("/api/v0/me/", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 500;
    res.set_content(R"({"detail": "database on fire"})", "application/json");
  });
  RestClient c = Client(fake.url(), 4);
  c.set_sleep_for_testing([](std::chrono::milliseconds) {});
  auto me = c.GetMe();
  EXPECT_EQ(me.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(me.status().message(), HasSubstr("database on fire"));
  EXPECT_THAT(me.status().message(), HasSubstr("after 4 attempts"));
  EXPECT_EQ(calls.load(), 4);
}

TEST(RestClientFaults, NoRetryOn4xxOrForPosts) {
  FakeServer fake;
  std::atomic<int> gets{0}, posts{0};
  fake.server().Get("/api/v0/datasets/5/", [&](const httplib::Request&, httplib::Response& res) {
    ++gets;
    res.status = 404;
    res.set_content(R"({"detail": "Not found."})", "application/json");
  });
  fake.server().Post("/api/v0/results/", [&](const httplib::Request& req, httplib::Response& res) {
    ++posts;
    Json body = Json::parse(req.body);
    EXPECT_EQ(body["name"], "");  // empty strings are sent as "", never null
    res.status = 502;
  });
  fake.server().Post("/api/v0/datasets/", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content(R"({"name": ["This field is required."], "non_field_errors": ["bad"]})",
                    "application/json");
  });
  RestClient c = Client(fake.url(), 5);
  c.set_sleep_for_testing([](std::chrono::milliseconds) {});
  auto d = c.GetDataset(DatasetId(5));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gets.load(), 1);
  Result r;
  r.benchmark = BenchmarkId(1);
  r.model = ModelId(2);
  r.dataset = DatasetId(3);
  auto created = c.CreateResult(r);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(posts.load(), 1);
  auto bad = c.CreateDataset(Dataset{});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("name: This field is required."));
  EXPECT_THAT(bad.status().message(), HasSubstr("bad"));
}

TEST(RestClientFaults, TransportErrorsAreRetriedThenUnavailable) {
  int port = FreePort();  // nothing listens here
  RestClient c = Client("http://127.0.0.1:" + std::to_string(port), 3);
  int sleeps = 0;
  c.set_sleep_for_testing([&](std::chrono::milliseconds) { ++sleeps; });
  auto me = c.GetMe();
  EXPECT_EQ(me.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sleeps, 2);
}

TEST(RestClientFaults, PaginationIsFollowedButNeverLeavesTheServer) {
  FakeServer fake;
  std::atomic<int> calls{0};
  fake.server().Get("/api/v0/me/models/", [&](const httplib::Request& req, httplib::Response& res) {
    ++calls;
    int offset = req.has_param("offset") ? std::stoi(req.get_param_value("offset")) : 0;
    Json page{{"count", 3}, {"previous", nullptr}, {"results", Json::array()}};
    page["results"].push_back({{"id", offset + 1},
                               {"name", "m" + std::to_string(offset)},
                               {"type", "CONTAINER"},
                               {"container", nullptr}});
    // A hostile `next` pointing at another host: the client keeps its own origin.
    page["next"] = offset < 2 ? Json("http://evil.example:1/api/v0/me/models/?limit=1&offset=" +
                                     std::to_string(offset + 1))
                              : Json(nullptr);
    res.set_content(page.dump(), "application/json");
  });
  fake.server().Get("/api/v0/me/results/", [&](const httplib::Request&, httplib::Response& res) {
    // A server that points `next` at the same page forever.
    res.set_content(R"({"count": 9, "next": "/api/v0/me/results/?offset=1", "results": []})",
                    "application/json");
  });
  RestClient c = Client(fake.url());
  auto models = c.ListMyModels();
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[2].name, "m2");
  EXPECT_EQ(calls.load(), 3);
  auto results = c.ListMyResults();
  EXPECT_EQ(results.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(results.status().message(), HasSubstr("loops"));
}

TEST(RestClientFaults, NonFiniteNumbersAreSanitisedOnTheWire) {
  FakeServer fake;
  std::string seen;
  fake.server().Put("/api/v0/results/9/", [&](const httplib::Request& req, httplib::Response& res) {
    seen = req.body;
    res.set_content(R"({"id": 9, "finalized": true})", "application/json");
  });
  RestClient c = Client(fake.url());
  auto r = c.SubmitResult(
      ResultId(9), Json{{"a", std::nan("")}, {"b", HUGE_VAL}, {"c", -HUGE_VAL}, {"d", 1.5}}, true);
  ASSERT_TRUE(r.ok()) << r.status();
  Json body = Json::parse(seen);
  EXPECT_EQ(body["results"]["a"], "nan");
  EXPECT_EQ(body["results"]["b"], "Infinity");
  EXPECT_EQ(body["results"]["c"], "-Infinity");
  EXPECT_EQ(body["results"]["d"], 1.5);
  EXPECT_EQ(body["metadata"]["partial"], true);
}

// Every failure says what it is about (core/errors.h): the class from the HTTP status,
// the object from the path, the server's message as the reason, the server named by its
// origin; a 4xx is asked once, a refused connection is retried as an outage.
TEST(RestClientFaults, ErrorsAreClassifiedWithTheirObject) {
  FakeServer fake;
  std::atomic<int> calls{0};
  auto answer = [&](int status, const char* body) {
    return [&calls, status, body](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.status = status;
      res.set_content(body, "application/json");
    };
  };
  fake.server().Get("/api/v0/datasets/99/", answer(404, R"({"detail": "Not found."})"));
  fake.server().Put("/api/v0/benchmarks/1/",
                    answer(403, R"({"detail": "You do not have permission."})"));
  fake.server().Get("/api/v0/me/", answer(401, R"({"detail": "Invalid token."})"));
  fake.server().Get("/api/v0/mlcubes/", answer(400, R"({"state": ["Select a valid choice."]})"));
  RestClient c = Client(fake.url(), 4);
  c.set_sleep_for_testing([](std::chrono::milliseconds) {});

  auto d = c.GetDataset(DatasetId(99));
  std::optional<ErrorInfo> info = GetErrorInfo(d.status());
  ASSERT_TRUE(info.has_value()) << d.status();
  EXPECT_EQ(info->error_class, ErrorClass::kNotFound);
  EXPECT_EQ(info->object, "dataset 99");
  EXPECT_EQ(info->object_kind, "dataset");
  EXPECT_EQ(info->server_url, fake.url());
  EXPECT_EQ(info->reason, "Not found.");
  EXPECT_EQ(calls.exchange(0), 1) << "a 404 is not retried";
  EXPECT_EQ(DescribeStatus(d.status()), "dataset 99 does not exist on the MedPerf server at " +
                                            fake.url() +
                                            "; list them with `medperfctl dataset ls`");

  auto b = c.UpdateBenchmark(BenchmarkId(1), Json{{"is_active", false}});
  info = GetErrorInfo(b.status());
  ASSERT_TRUE(info.has_value()) << b.status();
  EXPECT_EQ(info->error_class, ErrorClass::kForbidden);
  EXPECT_EQ(info->action, "change");
  EXPECT_EQ(info->object, "benchmark 1");

  auto me = c.GetMe();
  EXPECT_EQ(ClassifyError(me.status()), ErrorClass::kUnauthenticated);
  EXPECT_EQ(calls.exchange(0), 2) << "the 403 and the 401 were each asked once";

  auto list = c.ListContainers({{"state", "operation"}});
  info = GetErrorInfo(list.status());
  ASSERT_TRUE(info.has_value()) << list.status();
  EXPECT_EQ(info->error_class, ErrorClass::kInvalidInput);
  EXPECT_EQ(info->reason, "state: Select a valid choice.");
  EXPECT_EQ(info->object_kind, "container");
  EXPECT_FALSE(IsRetryable(list.status()));
}

TEST(RestClientFaults, ARefusedConnectionIsAnOutageAndRetried) {
  int port;
  {
    FakeServer gone;  // a port that was just free, now closed
    port = gone.port();
  }
  RestClient c = Client("http://127.0.0.1:" + std::to_string(port), 3);
  int sleeps = 0;
  c.set_sleep_for_testing([&](std::chrono::milliseconds) { ++sleeps; });
  auto b = c.GetBenchmark(BenchmarkId(1));
  std::optional<ErrorInfo> info = GetErrorInfo(b.status());
  ASSERT_TRUE(info.has_value()) << b.status();
  EXPECT_EQ(info->error_class, ErrorClass::kServerUnreachable);
  EXPECT_TRUE(IsRetryable(b.status()));
  EXPECT_EQ(sleeps, 2);
  std::string sentence = DescribeStatus(b.status());
  EXPECT_THAT(sentence, HasSubstr("cannot reach the MedPerf server at http://127.0.0.1:"));
  EXPECT_THAT(sentence, ::testing::Not(HasSubstr("/api/v0"))) << "no request line in the sentence";
}

}  // namespace
}  // namespace medperf::testing
