// Early-return helpers for absl::Status / absl::StatusOr, which Abseil does not ship.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MEDPERF_CONCAT_INNER(a, b) a##b
#define MEDPERF_CONCAT(a, b) MEDPERF_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status _medperf_status = (expr);           \
    if (!_medperf_status.ok()) return _medperf_status; \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(MEDPERF_CONCAT(_medperf_statusor_, __LINE__), lhs, expr)
