#include "core/errors.h"

#include <nlohmann/json.hpp>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/absl_view.h"

namespace medperf {
namespace {

constexpr char kInfoUrl[] = "type.medperf.org/medperf.v1.ErrorInfo";
constexpr char kDetailUrl[] = "type.medperf.org/medperf.raw-detail";

struct ClassName {
  ErrorClass c;
  std::string_view name;
};
constexpr ClassName kNames[] = {
    {ErrorClass::kUnknown, "unknown"},
    {ErrorClass::kDaemonUnreachable, "daemon_unreachable"},
    {ErrorClass::kServerUnreachable, "server_unreachable"},
    {ErrorClass::kConfiguration, "configuration"},
    {ErrorClass::kNotFound, "not_found"},
    {ErrorClass::kForbidden, "forbidden"},
    {ErrorClass::kUnauthenticated, "unauthenticated"},
    {ErrorClass::kInvalidInput, "invalid_input"},
    {ErrorClass::kContainerFailed, "container_failed"},
};

std::string Server(const ErrorInfo& info) {
  return info.server_url.empty() ? "the MedPerf server"
                                 : absl::StrCat("the MedPerf server at ", info.server_url);
}

// The `medperfctl <kind> ls` that lists objects of this kind, or "".
std::string ListCommand(const std::string& kind) {
  if (kind == "benchmark" || kind == "dataset" || kind == "container" || kind == "result" ||
      kind == "association") {
    return absl::StrCat("medperfctl ", kind, " ls");
  }
  if (kind == "model") return "medperfctl container ls";  // models are containers here
  return "";
}

std::string Parenthesized(std::string_view reason) {
  return reason.empty() ? "" : absl::StrCat(" (", AV(reason), ")");
}

}  // namespace

std::string ErrorClassName(ErrorClass c) {
  for (const auto& n : kNames) {
    if (n.c == c) return std::string(n.name);
  }
  return "unknown";
}

ErrorClass ErrorClassFromName(std::string_view name) {
  for (const auto& n : kNames) {
    if (n.name == name) return n.c;
  }
  return ErrorClass::kUnknown;
}

absl::Status WithErrorInfo(absl::Status status, const ErrorInfo& info) {
  if (status.ok()) return status;
  nlohmann::json j{{"class", ErrorClassName(info.error_class)},
                   {"server_url", info.server_url},
                   {"object", info.object},
                   {"object_kind", info.object_kind},
                   {"action", info.action},
                   {"reason", info.reason},
                   {"token_file", info.token_file},
                   {"log_path", info.log_path}};
  status.SetPayload(kInfoUrl,
                    absl::Cord(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  return status;
}

std::optional<ErrorInfo> GetErrorInfo(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kInfoUrl);
  if (!payload) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(std::string(*payload), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto text = [&](const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  ErrorInfo info;
  info.error_class = ErrorClassFromName(text("class"));
  info.server_url = text("server_url");
  info.object = text("object");
  info.object_kind = text("object_kind");
  info.action = text("action");
  info.reason = text("reason");
  info.token_file = text("token_file");
  info.log_path = text("log_path");
  return info;
}

ErrorClass ClassifyError(const absl::Status& status) {
  if (status.ok()) return ErrorClass::kUnknown;
  if (std::optional<ErrorInfo> info = GetErrorInfo(status)) return info->error_class;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return ErrorClass::kServerUnreachable;
    case absl::StatusCode::kFailedPrecondition:
      return ErrorClass::kConfiguration;
    case absl::StatusCode::kNotFound:
      return ErrorClass::kNotFound;
    case absl::StatusCode::kPermissionDenied:
      return ErrorClass::kForbidden;
    case absl::StatusCode::kUnauthenticated:
      return ErrorClass::kUnauthenticated;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
      return ErrorClass::kInvalidInput;
    default:
      return ErrorClass::kUnknown;
  }
}

bool IsRetryable(const absl::Status& status) {
  return !status.ok() && ClassifyError(status) == ErrorClass::kServerUnreachable;
}

std::string DescribeError(const ErrorInfo& info, std::string_view fallback) {
  const std::string reason(info.reason.empty() ? fallback : std::string_view(info.reason));
  const std::string server = Server(info);
  const std::string list = ListCommand(info.object_kind);
  switch (info.error_class) {
    case ErrorClass::kServerUnreachable:
      return absl::StrCat("cannot reach ", server, Parenthesized(reason),
                          "; medperfd itself is running: check the network, any proxy and "
                          "server.url in medperfd.yaml, then try again (`medperfctl status` "
                          "shows the last poll)");
    case ErrorClass::kConfiguration:
      if (info.object_kind == "tls") {
        return absl::StrCat(
            "medperfd cannot verify the TLS certificate of ", server, Parenthesized(reason),
            "; this is a configuration problem, not an outage, and is not retried: set "
            "server.ca_bundle in medperfd.yaml to the CA that signed the server's certificate "
            "(or correct server.url), then restart medperfd");
      }
      return absl::StrCat("configuration problem", info.object.empty() ? "" : " with ", info.object,
                          ": ", reason,
                          "; fix medperfd.yaml (or the command's flags) and try again");
    case ErrorClass::kNotFound:
      if (info.object.empty()) {
        return absl::StrCat(server, " has no such object", Parenthesized(reason));
      }
      return absl::StrCat(info.object, " does not exist on ", server,
                          list.empty() ? "" : absl::StrCat("; list them with `", list, "`"));
    case ErrorClass::kForbidden:
      return absl::StrCat(server, " does not allow this user to ",
                          info.action.empty() ? "access" : info.action, " ",
                          info.object.empty() ? "that" : info.object, Parenthesized(reason),
                          "; only the owner (or an admin) may: act as them with `medperfctl "
                          "--token-file FILE ...`, "
                          "or check whose token medperfd uses (server.token_file)");
    case ErrorClass::kUnauthenticated: {
      std::string where = info.token_file.empty()
                              ? "the token file (server.token_file, or --token-file)"
                              : info.token_file;
      return absl::StrCat(server, " did not accept the API token",
                          info.token_file.empty() ? "" : " in " + info.token_file,
                          Parenthesized(reason),
                          "; log in again (`medperf auth login`, or `medperf-server user add` on "
                          "a test server), write the new token to ",
                          where, " with mode 0600, and restart medperfd if it is medperfd's own");
    }
    case ErrorClass::kInvalidInput:
      return absl::StrCat(server, " refused the request",
                          info.object.empty() ? "" : " for " + info.object, ": ",
                          reason.empty() ? "invalid input" : reason,
                          "; check the values given (`medperfctl <command> --help`)");
    case ErrorClass::kContainerFailed:
      // "infer of chexnet exited with code 3 (inside the container, not in medperfd)".
      return absl::StrCat(info.object.empty() ? "the container" : info.object, " ",
                          reason.empty() ? "failed" : reason,
                          " (inside the container, not in medperfd)",
                          info.log_path.empty() ? "" : "; its log: " + info.log_path);
    case ErrorClass::kDaemonUnreachable:
    case ErrorClass::kUnknown:
      break;
  }
  return reason;
}

std::string DescribeStatus(const absl::Status& status) {
  if (std::optional<ErrorInfo> info = GetErrorInfo(status)) {
    return DescribeError(*info, std::string(status.message()));
  }
  return std::string(status.message());
}

absl::Status Humanized(const absl::Status& status) {
  std::optional<ErrorInfo> info = GetErrorInfo(status);
  if (!info) return status;
  absl::Status out(status.code(), DescribeError(*info, std::string(status.message())));
  out = WithErrorInfo(std::move(out), *info);
  return WithRawDetail(std::move(out), RawDetail(status).value_or(std::string(status.message())));
}

absl::Status WithMessage(const absl::Status& status, std::string_view message) {
  if (status.ok()) return status;
  absl::Status out(status.code(), AV(message));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::Status WithRawDetail(absl::Status status, std::string_view detail) {
  if (status.ok() || detail.empty()) return status;
  status.SetPayload(kDetailUrl, absl::Cord(AV(detail)));
  return status;
}

std::optional<std::string> RawDetail(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kDetailUrl);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

}  // namespace medperf
