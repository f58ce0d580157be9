// Local stand-ins for absl/status/status_macros.h, which Debian's Abseil
// (20220623) lacks.
//
//   BUDSTIKKE_RETURN_IF_ERROR(DoThing());
//   BUDSTIKKE_ASSIGN_OR_RETURN(auto value, ComputeValue());
#ifndef BUDSTIKKE_STORAGE_STATUS_MACROS_H_
#define BUDSTIKKE_STORAGE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BUDSTIKKE_RETURN_IF_ERROR(expr)                    \
  do {                                                     \
    ::absl::Status budstikke_status_ = (expr);             \
    if (!budstikke_status_.ok()) return budstikke_status_; \
  } while (0)

#define BUDSTIKKE_STATUS_CONCAT_INNER_(a, b) a##b
#define BUDSTIKKE_STATUS_CONCAT_(a, b) BUDSTIKKE_STATUS_CONCAT_INNER_(a, b)

#define BUDSTIKKE_ASSIGN_OR_RETURN(lhs, rexpr)                                                   \
  BUDSTIKKE_ASSIGN_OR_RETURN_IMPL_(BUDSTIKKE_STATUS_CONCAT_(budstikke_statusor_, __LINE__), lhs, \
                                   rexpr)

#define BUDSTIKKE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (!statusor.ok()) return std::move(statusor).status();     \
  lhs = std::move(statusor).value()

#endif  // BUDSTIKKE_STORAGE_STATUS_MACROS_H_
