// What kind of failure an error is, decided where it arises and carried with the
// absl::Status (as a payload) through the daemon and over gRPC (medperf.v1.ErrorInfo),
// so that medperfctl names the right component, the object and the next command
// instead of guessing from a status code, and so that retry and outage logic never
// retries a failure that cannot fix itself (a TLS certificate nobody trusts, a 4xx).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace medperf {

enum class ErrorClass {
  kUnknown = 0,
  kDaemonUnreachable,  // medperfctl cannot talk to medperfd (decided by the ctl only)
  kServerUnreachable,  // the MedPerf server cannot be reached or answers 5xx: transient
  kConfiguration,      // TLS verification failed, server URL or token file unusable
  kNotFound,           // HTTP 404: the named object does not exist on the server
  kForbidden,          // HTTP 403
  kUnauthenticated,    // HTTP 401: the token is missing, wrong or expired
  kInvalidInput,       // HTTP 400/409/413: the server refused the values sent
  kContainerFailed,    // a container's task exited non-zero, was killed or timed out
};

// "server_unreachable", "not_found", ... (stable: used in JSON and docs).
std::string ErrorClassName(ErrorClass c);
ErrorClass ErrorClassFromName(std::string_view name);  // kUnknown if unknown

struct ErrorInfo {
  ErrorClass error_class = ErrorClass::kUnknown;
  // The MedPerf server's URL as configured ("http://127.0.0.1:8000"), or the host a
  // download came from; empty when the error is local.
  std::string server_url;
  // The object concerned, in MedPerf's words: "dataset 99", "benchmark 2", "infer of
  // chexnet" (a container's task); empty when unknown.
  std::string object;
  // The object's kind ("dataset", "benchmark", "container", "result", ...), which picks
  // the `medperfctl <kind> ls` hint; empty when none applies.
  std::string object_kind;
  // What was attempted: "read", "create", "change" (for "not allowed to ..." wording).
  std::string action;
  // The short cause without any URL: the server's own message ("Not found.",
  // "state: invalid choice"), curl's one-line reason ("Couldn't connect to server"),
  // or a task outcome ("exited with code 3").
  std::string reason;
  // The token file the request used (401 messages name it); empty for a literal token.
  std::string token_file;
  // A log worth reading (container failures).
  std::string log_path;
};

// `status` with `info` attached (replacing any earlier one). OK stays OK.
absl::Status WithErrorInfo(absl::Status status, const ErrorInfo& info);
// The attached info, if any.
std::optional<ErrorInfo> GetErrorInfo(const absl::Status& status);

// The class of `status`: the attached info's, else guessed from the code for errors
// made before classification existed (UNAVAILABLE/DEADLINE_EXCEEDED → server
// unreachable, FAILED_PRECONDITION → configuration, NOT_FOUND, PERMISSION_DENIED,
// UNAUTHENTICATED, INVALID_ARGUMENT/ALREADY_EXISTS → the matching class). OK → kUnknown.
ErrorClass ClassifyError(const absl::Status& status);

// True only for failures that may fix themselves: the server unreachable or answering
// 5xx, a timeout. TLS/configuration errors and every 4xx are false; so is a failure
// classified as anything else even if its code is UNAVAILABLE.
bool IsRetryable(const absl::Status& status);

// One sentence a person can act on: the component (medperfd, or the MedPerf server at
// its URL, named once), the object and the next command. `fallback` is used as the
// reason when info.reason is empty. Never contains the raw request line.
std::string DescribeError(const ErrorInfo& info, std::string_view fallback = "");

// The sentence for a status: DescribeError of its info, else its message unchanged.
std::string DescribeStatus(const absl::Status& status);

// A status whose message is DescribeStatus(status) and which keeps the original message
// as its raw detail (RawDetail) and its info; statuses without info are returned as is.
absl::Status Humanized(const absl::Status& status);

// `status` with its code and payloads (info, raw detail) but `message` as its message:
// for adding context ("cannot fetch X: ...") without losing the classification.
absl::Status WithMessage(const absl::Status& status, std::string_view message);

// Raw detail for --verbose and logs: attached with WithRawDetail (by Humanized or by
// medperfctl for a gRPC failure's original message).
absl::Status WithRawDetail(absl::Status status, std::string_view detail);
std::optional<std::string> RawDetail(const absl::Status& status);

}  // namespace medperf
