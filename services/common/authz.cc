#include "services/common/authz.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "services/common/errors.h"
#include "services/common/policy/rules.h"

namespace budstikke::common {
namespace {

constexpr uint32_t Bit(Role r) { return 1u << static_cast<int>(r); }

constexpr uint32_t kStaff = Bit(v1::ROLE_STAFF);
constexpr uint32_t kPhysician = Bit(v1::ROLE_PHYSICIAN);
constexpr uint32_t kPsychologist = Bit(v1::ROLE_PSYCHOLOGIST);
constexpr uint32_t kCwLeader = Bit(v1::ROLE_CHILD_WELFARE_LEADER);
constexpr uint32_t kClinician = Bit(v1::ROLE_CLINICIAN);
constexpr uint32_t kAuditor = Bit(v1::ROLE_AUDITOR);
constexpr uint32_t kAdmin = Bit(v1::ROLE_ADMIN);
constexpr uint32_t kLeader = Bit(v1::ROLE_LEADER);

// People who work with children's cases.
constexpr uint32_t kProfessional =
    kStaff | kPhysician | kPsychologist | kCwLeader | kClinician | kLeader;
// Professionals who may take and answer a consultation (the policy's table).
constexpr uint32_t AnswererBits() {
  uint32_t bits = 0;
  for (v1::Role r : policy::kAnswererRoles) bits |= Bit(r);
  return bits;
}
constexpr uint32_t kAnswerer = AnswererBits();
constexpr uint32_t kEveryone = kProfessional | kAuditor | kAdmin;

struct Rule {
  absl::string_view method;
  uint32_t roles;
  // The audit action of the method; "" if it touches no child's data (a
  // refusal is then not audited).
  absl::string_view action;
};

// clang-format off
constexpr Rule kTable[] = {
  {"budstikke.v1.DirectoryService/WhoAmI",            kEveryone,         ""},
  {"budstikke.v1.DirectoryService/GetAgency",         kEveryone,         ""},
  {"budstikke.v1.DirectoryService/ListAgencies",      kEveryone,         ""},
  {"budstikke.v1.DirectoryService/CreateAgency",      kAdmin,            "agency.create"},
  {"budstikke.v1.DirectoryService/UpdateAgency",      kAdmin,            "agency.update"},

  {"budstikke.v1.ConsultationService/CheckText",      kProfessional,     ""},
  {"budstikke.v1.ConsultationService/Ask",            kProfessional,     "consultation.create"},
  {"budstikke.v1.ConsultationService/Claim",          kAnswerer,         "consultation.claim"},
  {"budstikke.v1.ConsultationService/Answer",         kAnswerer,         "consultation.answer"},
  {"budstikke.v1.ConsultationService/AddMessage",     kProfessional,     "consultation.message"},
  {"budstikke.v1.ConsultationService/Close",          kProfessional,     "consultation.close"},
  {"budstikke.v1.ConsultationService/Get",            kProfessional,     "consultation.read"},
  {"budstikke.v1.ConsultationService/List",           kProfessional,     "consultation.list"},

  {"budstikke.v1.ConsentService/Record",              kProfessional,     "consent.record"},
  {"budstikke.v1.ConsentService/Revoke",              kProfessional,     "consent.revoke"},
  {"budstikke.v1.ConsentService/Get",                 kProfessional,     "consent.read"},
  {"budstikke.v1.ConsentService/List",                kProfessional,     "consent.list"},

  {"budstikke.v1.ReferralService/Send",               kProfessional,     "referral.send"},
  {"budstikke.v1.ReferralService/Draft",              kProfessional,     "referral.draft"},
  {"budstikke.v1.ReferralService/Cosign",             kProfessional,     "referral.cosign"},
  {"budstikke.v1.ReferralService/Return",             kProfessional,     "referral.return"},
  {"budstikke.v1.ReferralService/Get",                kProfessional,     "referral.read"},
  {"budstikke.v1.ReferralService/PostMessage",        kProfessional,     "referral.message"},
  {"budstikke.v1.ReferralService/GetThread",          kProfessional,     "referral.thread.read"},
  {"budstikke.v1.ReferralService/Invite",             kProfessional,     "referral.invite"},
  {"budstikke.v1.ReferralService/Supplement",         kProfessional,     "referral.supplement"},
  {"budstikke.v1.ReferralService/List",               kProfessional,     "referral.list"},
  {"budstikke.v1.ReferralService/Acknowledge",        kProfessional,     "referral.acknowledge"},
  {"budstikke.v1.ReferralService/Decide",             kProfessional,     "referral.decide"},
  {"budstikke.v1.ReferralService/Withdraw",           kProfessional,     "referral.withdraw"},
  {"budstikke.v1.ReferralService/UploadAttachment",   kProfessional,     "attachment.upload"},
  {"budstikke.v1.ReferralService/DownloadAttachment", kProfessional,     "attachment.download"},

  {"budstikke.v1.InboxService/Subscribe",             kProfessional,     ""},
  {"budstikke.v1.InboxService/Ack",                   kProfessional,     ""},

  // Anyone may verify the log; reading events is for auditors, and for an
  // agency's admin limited to its own agency's actors (a domain rule).
  {"budstikke.v1.AuditService/GetPublicKey",          kEveryone,         ""},
  {"budstikke.v1.AuditService/GetCheckpoint",         kEveryone,         ""},
  {"budstikke.v1.AuditService/GetInclusionProof",     kEveryone,         ""},
  {"budstikke.v1.AuditService/GetConsistencyProof",   kEveryone,         ""},
  {"budstikke.v1.AuditService/GetEvent",              kAuditor | kAdmin, "audit.get_event"},
  {"budstikke.v1.AuditService/Query",                 kAuditor | kAdmin, "audit.query"},
  {"budstikke.v1.AuditService/SubjectAccessReport",   kAuditor,
   "audit.subject_access_report"},

  {"budstikke.v1.AdminService/GetKeyStatus",          kAdmin,            ""},
  {"budstikke.v1.AdminService/RotateAgencyKey",       kAdmin,            "agency_key.rotate"},
  {"budstikke.v1.AdminService/ShredAgencyKeyVersion", kAdmin,            "agency_key.shred"},
  {"budstikke.v1.AdminService/GetRewrapProgress",     kAdmin,            ""},
  {"budstikke.v1.AdminService/CreateBackup",          kAdmin,            "backup.create"},
  {"budstikke.v1.AdminService/GetServerInfo",         kEveryone,         ""},
};
// clang-format on

const Rule* Find(absl::string_view method) {
  for (const Rule& r : kTable) {
    if (r.method == method) return &r;
  }
  return nullptr;
}

}  // namespace

bool IsAllowed(absl::string_view method, Role role) {
  const Rule* rule = Find(method);
  return rule != nullptr && role > 0 && role < 32 && (rule->roles & Bit(role)) != 0;
}

absl::Status Authorize(absl::string_view method, Role role) {
  if (IsAllowed(method, role)) return absl::OkStatus();
  const absl::string_view rule_id = Find(method) != nullptr ? kRuleAuthzRole : kRuleUnknownMethod;
  const std::string description =
      absl::StrCat("permission denied: role '", RoleName(role), "' may not call ", method);
  return RuleRefusal(absl::StatusCode::kPermissionDenied, rule_id,
                     absl::StrCat(description, " (", rule_id, ")"));
}

absl::string_view AuditActionFor(absl::string_view method) {
  const Rule* rule = Find(method);
  return rule == nullptr ? absl::string_view() : rule->action;
}

std::vector<absl::string_view> AuthorizedMethods() {
  std::vector<absl::string_view> out;
  for (const Rule& r : kTable) out.push_back(r.method);
  return out;
}

}  // namespace budstikke::common
