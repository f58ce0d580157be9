// The referral desk's storage codec: loading and sealing referral and
// attachment records (layout in referral.h).
#include <algorithm>

#include "services/common/audit_event.h"
#include "services/common/record_codec.h"
#include "services/referral/internal/records.h"
#include "services/referral/referral.h"
#include "storage/status_macros.h"

namespace budstikke::referral {

using common::Unframe;
using referral_internal::AttachmentKey;
using referral_internal::kAttachmentNotFound;
using referral_internal::kMaxIdBytes;
using referral_internal::kNotFound;
using referral_internal::RecordKey;

absl::StatusOr<ReferralDesk::Stored> ReferralDesk::Load(
    absl::string_view id, absl::string_view agency,
    std::optional<std::string>* hidden_subject) const {
  if (id.empty() || id.size() > kMaxIdBytes || agency.empty()) {
    return absl::NotFoundError(kNotFound);
  }
  const std::string key = RecordKey(id);
  auto value = deps_.store->Get(kColumnFamily, key);
  if (absl::IsNotFound(value.status())) return absl::NotFoundError(kNotFound);
  if (!value.ok()) return value.status();
  auto opened = deps_.records->Open(kColumnFamily, key, *value,
                                    std::string_view(agency.data(), agency.size()));
  // Not a reader: the same answer as a made-up id.
  if (absl::IsPermissionDenied(opened.status())) {
    if (hidden_subject != nullptr) {
      BUDSTIKKE_ASSIGN_OR_RETURN(common::SealedRecords::Clear clear,
                                 common::SealedRecords::Peek(*value));
      *hidden_subject = std::move(clear.pseudonym);
    }
    return absl::NotFoundError(kNotFound);
  }
  if (!opened.ok()) return opened.status();
  Stored stored;
  stored.pseudonym = std::move(opened->pseudonym);
  if (!stored.referral.ParseFromString(opened->plaintext)) {
    return absl::DataLossError("referral record does not parse");
  }
  return stored;
}

absl::StatusOr<ReferralDesk::Stored> ReferralDesk::LoadFor(const common::Caller& caller,
                                                           absl::string_view id,
                                                           const std::string& action) {
  std::optional<std::string> hidden_subject;
  auto stored = Load(id, caller.agency(), &hidden_subject);
  if (!hidden_subject.has_value()) return stored;
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_REFERRAL, id);
  e.set_subject(*hidden_subject);
  return common::RecordHiddenProbe(*deps_.audit, caller, std::move(e), kRuleNotVisible,
                                   stored.status());
}

std::vector<std::string> ReferralDesk::Readers(const v1::Referral& r) {
  std::vector<std::string> readers;
  auto add = [&readers](const std::string& agency) {
    if (agency.empty()) return;
    if (std::find(readers.begin(), readers.end(), agency) == readers.end()) {
      readers.push_back(agency);
    }
  };
  add(r.initiating_agency());
  // Not signed yet (a draft, returned, or withdrawn as a draft): the
  // initiator and the co-signer only.
  if (r.sender_agency().empty()) {
    add(r.cosigner_agency());
    return readers;
  }
  add(r.sender_agency());
  add(r.recipient_agency());
  for (const std::string& invited : r.invited_agencies()) add(invited);
  return readers;
}

absl::StatusOr<std::string> ReferralDesk::Encode(const Stored& stored) const {
  const v1::Referral& r = stored.referral;
  return deps_.records->Seal(kColumnFamily, RecordKey(r.id()), stored.pseudonym,
                             common::SerializeLongTextsUnchecked(r), Readers(r));
}

absl::StatusOr<ReferralDesk::StoredAttachment> ReferralDesk::LoadAttachment(
    absl::string_view id, absl::string_view agency) const {
  if (id.empty() || id.size() > kMaxIdBytes) return absl::NotFoundError(kAttachmentNotFound);
  const std::string key = AttachmentKey(id);
  auto value = deps_.store->Get(kAttachmentColumnFamily, key);
  if (absl::IsNotFound(value.status())) return absl::NotFoundError(kAttachmentNotFound);
  if (!value.ok()) return value.status();
  StoredAttachment a;
  std::string rest, sealed;
  if (!Unframe(*value, &a.owner, &rest) || !Unframe(rest, &a.referral_id, &sealed)) {
    return absl::DataLossError("attachment record is malformed");
  }
  auto plain = deps_.records->envelope().Open(kAttachmentColumnFamily, key, sealed,
                                              std::string_view(agency.data(), agency.size()));
  if (absl::IsPermissionDenied(plain.status())) return absl::NotFoundError(kAttachmentNotFound);
  if (!plain.ok()) return plain.status();
  if (!a.info.ParseFromString(*plain)) return absl::DataLossError("attachment does not parse");
  return a;
}

}  // namespace budstikke::referral
