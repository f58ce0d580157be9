// ConsentChecker: what the referral service needs from the consent service,
// without depending on its internals (docs/ARCHITECTURE.md "A service never includes
// another service's internals"). The consent service implements it in-process
// (services/consent/consent.h); a gRPC implementation can serve microservices
// mode.
//
// ConsentObserver: the other direction. The referral service implements it so
// the consent service can (a) let an agency that received a referral under a
// consent see and revoke it, and (b) withdraw unacknowledged referrals when a
// consent is revoked.
//
// Neither interface carries a national id: subjects are pseudonyms
// (storage::Pseudonymizer), compared by equality.
//
// Thread safety: implementations are thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_CONSENT_CHECKER_H_
#define BUDSTIKKE_SERVICES_COMMON_CONSENT_CHECKER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "budstikke/v1/consent.pb.h"
#include "services/common/identity.h"
#include "services/common/policy/consent.h"

namespace budstikke::common {

// The facts of one consent that policy decisions need (no national id).
using ConsentFacts = policy::ConsentFacts;

class ConsentChecker {
 public:
  virtual ~ConsentChecker() = default;
  // The consent as stored now (a fresh read: a revocation that has returned
  // is visible). NOT_FOUND for an unknown id.
  virtual absl::StatusOr<ConsentFacts> GetConsentFacts(absl::string_view consent_id) const = 0;
};

class ConsentObserver {
 public:
  virtual ~ConsentObserver() = default;
  // True when `agency` received a referral under `consent_id`.
  virtual absl::StatusOr<bool> ReceivedUnderConsent(absl::string_view consent_id,
                                                    absl::string_view agency) const = 0;
  // Called after a revocation of `consent_id` is durable: withdraws every
  // referral under it that is not yet acknowledged (audited, inbox events).
  virtual absl::Status OnConsentRevoked(const Caller& caller, const ConsentFacts& consent) = 0;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_CONSENT_CHECKER_H_
