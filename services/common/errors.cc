#include "services/common/errors.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace budstikke::common {

absl::Status WithDetails(absl::Status status, const v1::ErrorDetails& details) {
  status.SetPayload(kErrorDetailsTypeUrl, absl::Cord(details.SerializeAsString()));
  return status;
}

absl::Status PolicyRefusal(const std::vector<Violation>& violations,
                           const std::vector<v1::PiiFinding>& findings) {
  v1::ErrorDetails details;
  std::vector<std::string> parts;
  for (const Violation& v : violations) {
    auto* pv = details.add_violations();
    pv->set_rule(v.rule);
    pv->set_description(v.description);
    parts.push_back(absl::StrCat(v.rule, ": ", v.description));
  }
  for (const v1::PiiFinding& f : findings) *details.add_findings() = f;
  std::string message = absl::StrCat("refused by policy: ", absl::StrJoin(parts, "; "));
  return WithDetails(absl::FailedPreconditionError(message), details);
}

absl::Status RuleRefusal(absl::StatusCode code, absl::string_view rule,
                         absl::string_view description) {
  v1::ErrorDetails details;
  v1::PolicyViolation* v = details.add_violations();
  v->set_rule(std::string(rule));
  v->set_description(std::string(description));
  return WithDetails(absl::Status(code, description), details);
}

std::optional<v1::ErrorDetails> GetErrorDetails(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrorDetailsTypeUrl);
  if (!payload) return std::nullopt;
  v1::ErrorDetails details;
  if (!details.ParseFromString(std::string(*payload))) return std::nullopt;
  return details;
}

absl::Status LimitRefusal(absl::string_view rule, absl::string_view description,
                          absl::Duration retry) {
  // Whole milliseconds, at least one: what a client can sleep.
  const int64_t ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(retry, absl::Milliseconds(1))));
  const std::string text =
      absl::StrCat(description, "; retry in ", absl::StrFormat("%.3g", ms / 1000.0), " s");
  v1::ErrorDetails details;
  v1::PolicyViolation* v = details.add_violations();
  v->set_rule(std::string(rule));
  v->set_description(text);
  details.mutable_retry_delay()->set_seconds(ms / 1000);
  details.mutable_retry_delay()->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return WithDetails(absl::ResourceExhaustedError(text), details);
}

}  // namespace budstikke::common
