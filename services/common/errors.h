// Domain errors with machine-readable details.
//
// Policy refusals are FAILED_PRECONDITION listing every violated rule; PII
// refusals also list findings. The details travel as an absl::Status payload
// holding a serialized budstikke.v1.ErrorDetails under kErrorDetailsTypeUrl;
// grpc_status.h turns that into google.rpc.Status details on the wire.
#ifndef BUDSTIKKE_SERVICES_COMMON_ERRORS_H_
#define BUDSTIKKE_SERVICES_COMMON_ERRORS_H_

#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "budstikke/v1/types.pb.h"

namespace budstikke::common {

inline constexpr absl::string_view kErrorDetailsTypeUrl =
    "type.googleapis.com/budstikke.v1.ErrorDetails";

struct Violation {
  std::string rule;         // stable dotted id, e.g. "referral.bup.sender_role"
  std::string description;  // what to fix, in plain words
};

// FAILED_PRECONDITION whose message lists the rule ids and whose details carry
// every violation (and optional findings).
absl::Status PolicyRefusal(const std::vector<Violation>& violations,
                           const std::vector<v1::PiiFinding>& findings = {});

// A refusal by one rule with another code than FAILED_PRECONDITION (e.g.
// PERMISSION_DENIED "only the operator's admin may create agencies"): the
// message is `description`, the details carry {rule, description}, so the
// audit event (audit_event.h) and the client see the same rule id.
absl::Status RuleRefusal(absl::StatusCode code, absl::string_view rule,
                         absl::string_view description);

// RESOURCE_EXHAUSTED "<description>; retry in N s" (N whole milliseconds, at
// least 0.001), with {rule, that message} and retry_delay in its details: the
// shape of every limit's refusal (rate limit, streams, uploads).
absl::Status LimitRefusal(absl::string_view rule, absl::string_view description,
                          absl::Duration retry);

// Any status with the given details attached.
absl::Status WithDetails(absl::Status status, const v1::ErrorDetails& details);

// The details attached to `status`, if any.
std::optional<v1::ErrorDetails> GetErrorDetails(const absl::Status& status);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_ERRORS_H_
