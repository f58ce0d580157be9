// Helpers shared by the consultation desk's source files (not a public
// interface): storage keys, limits, validation, the audit event and the
// answerer rule. Layout: consultation.h.
#ifndef BUDSTIKKE_SERVICES_CONSULTATION_INTERNAL_RECORDS_H_
#define BUDSTIKKE_SERVICES_CONSULTATION_INTERNAL_RECORDS_H_

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/consultation.pb.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/policy/rules.h"
#include "services/common/record_codec.h"
#include "services/common/time_util.h"
#include "services/consultation/consultation.h"

namespace budstikke::consultation::consultation_internal {

using common::Caller;

inline constexpr size_t kMaxText = 10000;
inline constexpr int kMaxQuestions = 10;
inline constexpr size_t kMaxQuestion = 1000;

// 16 lowercase hex digits, zero-padded (the byte order of keys is the numeric order).
inline std::string Hex16(uint64_t v) { return absl::StrCat(absl::Hex(v, absl::kZeroPad16)); }

inline std::string RandomId() { return common::RandomHexId("", 12); }

inline std::string MetaKey(absl::string_view id) { return absl::StrCat("m/", id); }
inline std::string ContentKey(absl::string_view id) { return absl::StrCat("t/", id); }
inline std::string IndexKey(char side, absl::string_view agency, const v1::Consultation& meta) {
  return absl::StrCat(std::string(1, side), "/", agency, "/",
                      common::InvertedTimeMicros(common::FromProtoTime(meta.create_time())), "/",
                      meta.id());
}
inline std::string RequestKey(absl::string_view agency, absl::string_view request_id) {
  return absl::StrCat("q/", agency, "/", request_id);
}
inline std::string RetentionKey(absl::Time delete_after, absl::string_view id) {
  return absl::StrCat("x/", Hex16(static_cast<uint64_t>(absl::ToUnixSeconds(delete_after))), "/",
                      id);
}

// PERMISSION_DENIED carrying the rule as a violation, so that Deny() audits it.
inline absl::Status RoleRefusal(const char* rule, absl::string_view description) {
  return common::RuleRefusal(absl::StatusCode::kPermissionDenied, rule,
                             absl::StrCat(rule, ": ", description));
}

// The id is not echoed: a caller may have typed anything (a national id).
inline absl::Status NotFound() { return absl::NotFoundError("consultation not found"); }

inline bool WellFormedId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

inline absl::Status ValidateText(absl::string_view field, absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (text.size() > kMaxText) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", kMaxText, " bytes, got ", text.size()));
  }
  return absl::OkStatus();
}

// Who may claim and answer a consultation: a professional role of the
// recipient agency. `verb` and `gerund` name the action in the message
// ("claim" / "claiming").
inline absl::Status AnswererRefusal(const Caller& caller, const v1::Consultation& meta,
                                    absl::string_view verb, absl::string_view gerund) {
  if (caller.agency() != meta.recipient_agency()) {
    return RoleRefusal(
        kRuleRecipientOnly,
        absl::StrCat("only a professional of the recipient agency may ", verb, " a consultation"));
  }
  if (!policy::IsAnswererRole(caller.role())) {
    return RoleRefusal(kRuleAnswererRole, absl::StrCat(gerund, " needs role ",
                                                       policy::RoleList(policy::kAnswererRoles)));
  }
  return absl::OkStatus();
}

inline bool SameUser(const v1::Actor& a, const Caller& caller) {
  return a.agency() == caller.identity.agency && a.user() == caller.identity.user;
}

inline v1::AuditEvent Event(absl::string_view action, const std::string& id,
                            const std::string& request_id) {
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_CONSULTATION, id);
  e.set_request_id(request_id);
  return e;
}

inline v1::Consultation Merge(const v1::Consultation& meta, const v1::Consultation& content) {
  v1::Consultation out = meta;
  out.set_text(content.text());
  *out.mutable_questions() = content.questions();
  *out.mutable_messages() = content.messages();
  return out;
}

inline const std::string& OtherSide(const v1::Consultation& meta, const Caller& caller) {
  return caller.agency() == meta.sender_agency() ? meta.recipient_agency() : meta.sender_agency();
}

inline Caller RetentionCaller() {
  Caller c;
  c.identity.service = "consultation";
  c.via_service = "consultation";
  return c;
}

}  // namespace budstikke::consultation::consultation_internal

#endif  // BUDSTIKKE_SERVICES_CONSULTATION_INTERNAL_RECORDS_H_
