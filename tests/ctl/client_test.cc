// medperfctl's reading of a failed call: medperfd unreachable (system or user socket)
// versus a classified error the daemon attached (medperf.v1.ErrorInfo).
#include "ctl/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "core/errors.h"
#include "tests/support/test_support.h"

namespace medperf::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ScopedRuntimeDir {
 public:
  explicit ScopedRuntimeDir(const std::string& dir) {
    if (const char* old = std::getenv("XDG_RUNTIME_DIR")) old_ = old;
    setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  }
  ~ScopedRuntimeDir() {
    if (old_) {
      setenv("XDG_RUNTIME_DIR", old_->c_str(), 1);
    } else {
      unsetenv("XDG_RUNTIME_DIR");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(DaemonUnreachableTest, TheUserSocketGetsTheUserDaemonsCommands) {
  testing::TempDir dir;
  ScopedRuntimeDir runtime(dir.path().string());
  std::string user = (dir / "medperfd.sock").string();
  std::string m = DescribeDaemonUnreachable(user, "No such file or directory");
  EXPECT_THAT(m, HasSubstr("cannot reach medperfd at " + user + " (No such file or directory)"));
  EXPECT_THAT(m, HasSubstr("medperfd --user"));
  EXPECT_THAT(m, HasSubstr("systemctl --user"));
  EXPECT_THAT(m, Not(HasSubstr("/run/medperfd")));
}

TEST(DaemonUnreachableTest, WithNeitherSocketBothAreNamed) {
  if (std::filesystem::exists("/run/medperfd/medperfd.sock")) {
    GTEST_SKIP() << "a system medperfd socket exists on this host";
  }
  testing::TempDir dir;
  ScopedRuntimeDir runtime(dir.path().string());
  std::string m = DescribeDaemonUnreachable("/run/medperfd/medperfd.sock", "x");
  EXPECT_THAT(m, HasSubstr("/run/medperfd/medperfd.sock"));
  EXPECT_THAT(m, HasSubstr((dir / "medperfd.sock").string()));
  EXPECT_THAT(m, HasSubstr("systemctl status medperfd"));
  EXPECT_THAT(m, HasSubstr("systemctl --user"));
}

TEST(DaemonUnreachableTest, AnyOtherSocketNamesTheSystemService) {
  std::string m = DescribeDaemonUnreachable("/tmp/x/d.sock", "Connection refused");
  EXPECT_THAT(m, HasSubstr("cannot reach medperfd at /tmp/x/d.sock (Connection refused)"));
  EXPECT_THAT(m, HasSubstr("systemctl status medperfd"));
}

// A classified error is worded from its ErrorInfo, never as "medperfd is down", even
// under UNAVAILABLE; the raw message stays behind for --verbose.
TEST(RpcErrorTest, AClassifiedUnavailableNamesTheServerNotTheSocket) {
  medperf::v1::ErrorInfo info;
  info.set_error_class(medperf::v1::ERROR_CLASS_SERVER_UNREACHABLE);
  info.set_server_url("http://127.0.0.1:8000");
  info.set_reason("Couldn't connect to server");
  grpc::Status st(
      grpc::StatusCode::UNAVAILABLE,
      "GET http://127.0.0.1:8000/api/v0/benchmarks/: http://127.0.0.1:8000/...: refused",
      info.SerializeAsString());
  std::string m = DescribeRpcError(st, "/run/medperfd/medperfd.sock");
  EXPECT_THAT(m, HasSubstr("cannot reach the MedPerf server at http://127.0.0.1:8000"));
  EXPECT_THAT(m, Not(HasSubstr("medperfd.sock")));
  EXPECT_THAT(m, Not(HasSubstr("/api/v0")));

  DaemonClient client("/run/medperfd/medperfd.sock", "", "/home/a/bo.token");
  info.set_error_class(medperf::v1::ERROR_CLASS_UNAUTHENTICATED);
  absl::Status failed = client.Fail(
      grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "raw 401", info.SerializeAsString()));
  EXPECT_THAT(failed.message(), HasSubstr("did not accept the API token in /home/a/bo.token"));
  EXPECT_EQ(RawDetail(failed), "raw 401");
  EXPECT_EQ(ClassifyError(failed), ErrorClass::kUnauthenticated);
}

}  // namespace
}  // namespace medperf::ctl
