// Consent gating of referral reads, and the consent service's revocation
// notice (common::ConsentObserver). The rule itself is policy::ConsentUsable.
#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/time_util.h"
#include "services/referral/internal/records.h"
#include "services/referral/referral.h"
#include "storage/status_macros.h"

namespace budstikke::referral {

using common::Caller;
using referral_internal::IsAcknowledged;
using referral_internal::RecordKey;

absl::StatusOr<ReferralDesk::ConsentOfReferral> ReferralDesk::ConsentOf(
    const v1::Referral& r) const {
  if (r.legal_basis() != v1::LEGAL_BASIS_CONSENT) return std::nullopt;
  auto facts = consents_->GetConsentFacts(r.consent_id());
  if (absl::IsNotFound(facts.status()) || absl::IsFailedPrecondition(facts.status())) {
    // Gone, or unreadable for good (the recording agency's key version was
    // shredded): it discloses nothing more.
    common::ConsentFacts gone;
    gone.id = r.consent_id();
    gone.revoked = true;
    gone.valid_until = policy::ToProto(policy::CivilDate(9999, 12, 31));
    return gone;
  }
  if (!facts.ok()) return facts.status();
  return *std::move(facts);
}

v1::ReferralStatus ReferralDesk::EffectiveStatus(const v1::Referral& r,
                                                 const ConsentOfReferral& consent) {
  if ((r.status() == v1::REFERRAL_STATUS_SENT || r.status() == v1::REFERRAL_STATUS_DRAFT) &&
      consent.has_value() && consent->revoked) {
    return v1::REFERRAL_STATUS_WITHDRAWN;
  }
  return r.status();
}

absl::Status ReferralDesk::RecipientGate(const v1::Referral& r, const ConsentOfReferral& consent,
                                         bool further) const {
  if (consent.has_value()) {
    policy::Disclosure d;
    d.already_received = IsAcknowledged(r.status()) && !further;
    std::vector<common::Violation> v = policy::ConsentUsable(options_.rules, *consent, d, Today());
    if (!v.empty()) return common::PolicyRefusal(v);
  }
  if (r.status() == v1::REFERRAL_STATUS_WITHDRAWN) {
    return common::PolicyRefusal({{kRuleWithdrawn, "the referral was withdrawn by the sender"}});
  }
  return absl::OkStatus();
}

absl::Status ReferralDesk::GateRead(const Caller& caller, const v1::Referral& r,
                                    const ConsentOfReferral& consent, bool further,
                                    v1::AuditEvent event) {
  // The recipient of a sent referral, and the co-signer of a draft, read
  // under the consent; its authors (initiator, sender) do not.
  const bool signed_ = !r.sender_agency().empty();
  const bool holder =
      signed_ ? r.recipient_agency() == caller.agency() : r.cosigner_agency() == caller.agency();
  if (!holder || r.sender_agency() == caller.agency() || r.initiating_agency() == caller.agency()) {
    return absl::OkStatus();
  }
  absl::Status gate = RecipientGate(r, consent, further);
  if (gate.ok() || !absl::IsFailedPrecondition(gate)) return gate;
  return common::RecordRefusal(*deps_.audit, caller, std::move(event), gate);
}

absl::StatusOr<bool> ReferralDesk::ReceivedUnderConsent(absl::string_view consent_id,
                                                        absl::string_view agency) const {
  if (consent_id.empty() || agency.empty()) return false;
  auto it = deps_.store->Scan(kColumnFamily, absl::StrCat("k/", consent_id, "/", agency, "/"));
  const bool any = it->Valid();
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return any;
}

absl::Status ReferralDesk::OnConsentRevoked(const Caller& caller,
                                            const common::ConsentFacts& consent) {
  absl::MutexLock lock(&mu_);
  const std::string prefix = absl::StrCat("k/", consent.id, "/");
  const absl::Time now = deps_.clock->Now();
  // Each referral is withdrawn in its own batch: a failure on one is kept
  // (the first is returned at the end) and the others are still withdrawn.
  // Idempotent, so a repeated Revoke finishes a fan-out that failed part-way.
  absl::Status first_error;
  auto it = deps_.store->Scan(kColumnFamily, prefix);
  for (; it->Valid(); it->Next()) {
    std::string_view rest = it->key().substr(prefix.size());
    const std::string id(rest.substr(rest.rfind('/') + 1));
    absl::Status s = WithdrawUnderRevokedConsent(caller, consent, id, now);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return first_error;
}

absl::Status ReferralDesk::WithdrawUnderRevokedConsent(const Caller& caller,
                                                       const common::ConsentFacts& consent,
                                                       const std::string& id, absl::Time now) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(id, consent.recording_agency));
  v1::Referral& r = stored.referral;
  storage::WriteBatch batch;
  std::vector<common::InboxDelivery> events;
  // Who holds it under the consent: the recipient (or a draft's co-signer)
  // and the agencies invited to its thread.
  const std::string holder = r.sender_agency().empty() ? r.cosigner_agency() : r.recipient_agency();
  std::vector<std::string> holders = {holder};
  for (const std::string& invited : r.invited_agencies()) holders.push_back(invited);
  for (const std::string& agency : holders) {
    // The consent service notified the recording and the named agencies (an
    // agency named, not a type: ConsentCovers with no type); any other
    // holder is notified once (marker in the same batch).
    if (agency == consent.recording_agency ||
        policy::ConsentCovers(consent, agency, v1::AGENCY_TYPE_UNSPECIFIED)) {
      continue;
    }
    const std::string marker = absl::StrCat("n/", consent.id, "/", agency);
    auto seen = deps_.store->Get(kColumnFamily, marker);
    if (!seen.ok() && !absl::IsNotFound(seen.status())) return seen.status();
    if (absl::IsNotFound(seen.status())) {
      batch.Put(kColumnFamily, marker, "");
      events.push_back({agency, v1::INBOX_EVENT_TYPE_CONSENT_REVOKED,
                        common::Ref(v1::RESOURCE_KIND_CONSENT, consent.id)});
    }
  }
  if (r.status() == v1::REFERRAL_STATUS_SENT || r.status() == v1::REFERRAL_STATUS_DRAFT) {
    r.set_status(v1::REFERRAL_STATUS_WITHDRAWN);
    *r.mutable_withdraw_time() = common::ToProtoTime(now);
    *r.mutable_update_time() = common::ToProtoTime(now);
    v1::ReferralHistoryEntry* h = r.add_history();
    *h->mutable_time() = common::ToProtoTime(now);
    h->set_status(v1::REFERRAL_STATUS_WITHDRAWN);
    *h->mutable_by() = common::ActorOf(caller);
    h->set_note("consent revoked");
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
    batch.Put(kColumnFamily, RecordKey(r.id()), value);
    BUDSTIKKE_RETURN_IF_ERROR(
        deps_.audit->Add(&batch, caller, Event("referral.withdraw", stored, "")));
    events.push_back({holder, v1::INBOX_EVENT_TYPE_REFERRAL_WITHDRAWN,
                      common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), r.priority()});
  }
  if (batch.Count() == 0 && events.empty()) return absl::OkStatus();
  return deps_.Commit(std::move(batch), std::move(events));
}

}  // namespace budstikke::referral
