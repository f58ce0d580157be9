// Small builders and readers the end-to-end tests (and bench/modes_bench.cc)
// share: a synthetic child of a given age, a guardian's consent request, and
// the rule ids of a refusal.
#ifndef BUDSTIKKE_TESTS_SUPPORT_FIXTURES_H_
#define BUDSTIKKE_TESTS_SUPPORT_FIXTURES_H_

#include <grpcpp/support/status.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "budstikke/v1/consent.pb.h"
#include "budstikke/v1/types.pb.h"
#include "google/rpc/status.pb.h"
#include "services/common/national_id_testing.h"

namespace budstikke::testing {

// A synthetic national id of a child of `age` today (the server uses the wall
// clock); the birthday is mid-year away from today so time zones cannot matter.
inline std::string Child(int age, int individual) {
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  const absl::CivilDay birth = today - 180;
  return common::testing::MakeSyntheticNationalId(static_cast<int>(birth.year()) - age,
                                                  birth.month(), birth.day(), individual);
}

// A written consent of the child's mother for `recipient`, purpose "henvisning".
inline v1::RecordConsentRequest GuardianConsentRequest(const std::string& subject,
                                                       const std::string& recipient,
                                                       const std::string& request_id) {
  v1::RecordConsentRequest req;
  req.set_request_id(request_id);
  req.set_subject_national_id(subject);
  req.set_giver(v1::CONSENT_GIVER_GUARDIAN);
  req.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
  req.mutable_recipient()->set_agency(recipient);
  req.set_purpose("henvisning");
  req.set_scope("journalnotat");
  req.set_method(v1::CONSENT_METHOD_WRITTEN);
  return req;
}

// The violated rule ids carried in the google.rpc.Status details.
inline std::vector<std::string> RuleIds(const grpc::Status& s) {
  std::vector<std::string> out;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(s.error_details())) return out;
  for (const auto& any : rpc.details()) {
    v1::ErrorDetails d;
    if (!any.UnpackTo(&d)) continue;
    for (const auto& v : d.violations()) out.push_back(v.rule());
  }
  return out;
}

}  // namespace budstikke::testing

#endif  // BUDSTIKKE_TESTS_SUPPORT_FIXTURES_H_
