#include "core/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace medperf {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ErrorInfo Info(ErrorClass c) {
  ErrorInfo info;
  info.error_class = c;
  info.server_url = "http://127.0.0.1:8000";
  return info;
}

// How many times `text` contains `part`.
int Count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(ErrorsTest, InfoRoundTripsThroughTheStatusAndSurvivesWithMessage) {
  ErrorInfo info = Info(ErrorClass::kNotFound);
  info.object = "dataset 99";
  info.object_kind = "dataset";
  info.action = "read";
  info.reason = "Not found.";
  absl::Status st = WithErrorInfo(absl::NotFoundError("GET x: HTTP 404"), info);
  st = WithMessage(st, "context: GET x: HTTP 404");
  std::optional<ErrorInfo> back = GetErrorInfo(st);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->error_class, ErrorClass::kNotFound);
  EXPECT_EQ(back->object, "dataset 99");
  EXPECT_EQ(back->reason, "Not found.");
  EXPECT_EQ(st.message(), "context: GET x: HTTP 404");
  EXPECT_FALSE(GetErrorInfo(absl::NotFoundError("plain")).has_value());
  EXPECT_TRUE(WithErrorInfo(absl::OkStatus(), info).ok());
}

TEST(ErrorsTest, ClassNamesAreStable) {
  for (ErrorClass c :
       {ErrorClass::kUnknown, ErrorClass::kDaemonUnreachable, ErrorClass::kServerUnreachable,
        ErrorClass::kConfiguration, ErrorClass::kNotFound, ErrorClass::kForbidden,
        ErrorClass::kUnauthenticated, ErrorClass::kInvalidInput, ErrorClass::kContainerFailed}) {
    EXPECT_EQ(ErrorClassFromName(ErrorClassName(c)), c) << ErrorClassName(c);
  }
  EXPECT_EQ(ErrorClassName(ErrorClass::kServerUnreachable), "server_unreachable");
  EXPECT_EQ(ErrorClassFromName("nonsense"), ErrorClass::kUnknown);
}

// Only an outage may be retried or counted as one: never TLS/configuration or a 4xx,
// whatever status code carries it.
TEST(ErrorsTest, OnlyServerUnreachableIsRetryable) {
  EXPECT_TRUE(IsRetryable(
      WithErrorInfo(absl::UnavailableError("x"), Info(ErrorClass::kServerUnreachable))));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("unclassified timeout")));
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("unclassified 5xx")));
  for (ErrorClass c :
       {ErrorClass::kConfiguration, ErrorClass::kNotFound, ErrorClass::kForbidden,
        ErrorClass::kUnauthenticated, ErrorClass::kInvalidInput, ErrorClass::kContainerFailed}) {
    // Even with the code an old mapping would have retried.
    EXPECT_FALSE(IsRetryable(WithErrorInfo(absl::UnavailableError("x"), Info(c))))
        << ErrorClassName(c);
  }
  EXPECT_FALSE(IsRetryable(absl::OkStatus()));
  EXPECT_FALSE(IsRetryable(absl::NotFoundError("x")));
  EXPECT_FALSE(IsRetryable(absl::FailedPreconditionError("x")));
}

TEST(ErrorsTest, UnclassifiedStatusesAreGuessedFromTheirCode) {
  EXPECT_EQ(ClassifyError(absl::NotFoundError("x")), ErrorClass::kNotFound);
  EXPECT_EQ(ClassifyError(absl::PermissionDeniedError("x")), ErrorClass::kForbidden);
  EXPECT_EQ(ClassifyError(absl::UnauthenticatedError("x")), ErrorClass::kUnauthenticated);
  EXPECT_EQ(ClassifyError(absl::InvalidArgumentError("x")), ErrorClass::kInvalidInput);
  EXPECT_EQ(ClassifyError(absl::FailedPreconditionError("x")), ErrorClass::kConfiguration);
  EXPECT_EQ(ClassifyError(absl::InternalError("x")), ErrorClass::kUnknown);
  EXPECT_EQ(ClassifyError(absl::OkStatus()), ErrorClass::kUnknown);
}

TEST(ErrorsTest, EachSentenceNamesComponentObjectAndNextStepWithTheUrlOnce) {
  struct Case {
    ErrorInfo info;
    std::vector<std::string> expected;
  };
  ErrorInfo unreachable = Info(ErrorClass::kServerUnreachable);
  unreachable.reason = "Couldn't connect to server";
  ErrorInfo tls = Info(ErrorClass::kConfiguration);
  tls.object_kind = "tls";
  tls.reason = "SSL certificate problem: self-signed certificate";
  ErrorInfo missing = Info(ErrorClass::kNotFound);
  missing.object = "dataset 99";
  missing.object_kind = "dataset";
  ErrorInfo forbidden = Info(ErrorClass::kForbidden);
  forbidden.object = "benchmark 1";
  forbidden.object_kind = "benchmark";
  forbidden.action = "change";
  ErrorInfo token = Info(ErrorClass::kUnauthenticated);
  token.token_file = "/etc/medperfd/token";
  token.reason = "Invalid token.";
  ErrorInfo bad = Info(ErrorClass::kInvalidInput);
  bad.object = "containers";
  bad.reason = "state: Select a valid choice.";
  ErrorInfo container = Info(ErrorClass::kContainerFailed);
  container.server_url.clear();
  container.object = "infer of m";
  container.reason = "exited with code 3";
  container.log_path = "/var/lib/medperfd/x.log";
  for (const Case& c : std::vector<Case>{
           {unreachable,
            {"cannot reach the MedPerf server at http://127.0.0.1:8000",
             "Couldn't connect to server", "medperfd itself is running", "medperfctl status"}},
           {tls,
            {"cannot verify the TLS certificate of the MedPerf server at", "self-signed",
             "server.ca_bundle", "not retried"}},
           {missing,
            {"dataset 99 does not exist on the MedPerf server at http://127.0.0.1:8000",
             "`medperfctl dataset ls`"}},
           {forbidden, {"does not allow this user to change benchmark 1", "--token-file"}},
           {token,
            {"did not accept the API token in /etc/medperfd/token", "Invalid token.",
             "medperf auth login"}},
           {bad, {"refused the request for containers: state: Select a valid choice.", "--help"}},
           {container,
            {"infer of m exited with code 3 (inside the container, not in medperfd)",
             "its log: /var/lib/medperfd/x.log"}},
       }) {
    std::string sentence = DescribeError(c.info);
    SCOPED_TRACE(sentence);
    for (const std::string& e : c.expected) EXPECT_THAT(sentence, HasSubstr(e));
    EXPECT_LE(Count(sentence, "http://127.0.0.1:8000"), 1);
    EXPECT_THAT(sentence, Not(HasSubstr("\n")));
    EXPECT_THAT(sentence, Not(HasSubstr("GET ")));
  }
}

TEST(ErrorsTest, HumanizedKeepsTheRawMessageAsDetail) {
  ErrorInfo info = Info(ErrorClass::kNotFound);
  info.object = "benchmark 2";
  info.object_kind = "benchmark";
  absl::Status raw = WithErrorInfo(
      absl::NotFoundError("GET http://127.0.0.1:8000/api/v0/benchmarks/2/: HTTP 404: Not found."),
      info);
  absl::Status human = Humanized(raw);
  EXPECT_EQ(human.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(human.message(), HasSubstr("benchmark 2 does not exist"));
  EXPECT_EQ(RawDetail(human), std::string(raw.message()));
  EXPECT_EQ(DescribeStatus(raw), std::string(human.message()));
  EXPECT_EQ(DescribeStatus(absl::InternalError("as is")), "as is");
  EXPECT_EQ(Humanized(absl::InternalError("as is")).message(), "as is");
}

}  // namespace
}  // namespace medperf
