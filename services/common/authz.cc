#include "services/common/authz.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "services/common/errors.h"

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

// People who work with children's cases.
constexpr uint32_t kProfessional = kStaff | kPhysician | kPsychologist | kCwLeader | kClinician;
// Professionals who may take and answer a consultation.
constexpr uint32_t kAnswerer = kPhysician | kPsychologist | kCwLeader | kClinician;
constexpr uint32_t kEveryone = kProfessional | kAuditor | kAdmin;

struct Rule {
  absl::string_view method;
  uint32_t roles;
};

// clang-format off
constexpr Rule kTable[] = {
  {"budstikke.v1.DirectoryService/WhoAmI",       kEveryone},
  {"budstikke.v1.DirectoryService/GetAgency",    kEveryone},
  {"budstikke.v1.DirectoryService/ListAgencies", kEveryone},
  {"budstikke.v1.DirectoryService/CreateAgency", kAdmin},
  {"budstikke.v1.DirectoryService/UpdateAgency", kAdmin},

  {"budstikke.v1.ConsultationService/CheckText",  kProfessional},
  {"budstikke.v1.ConsultationService/Ask",        kProfessional},
  {"budstikke.v1.ConsultationService/Claim",      kAnswerer},
  {"budstikke.v1.ConsultationService/Answer",     kAnswerer},
  {"budstikke.v1.ConsultationService/AddMessage", kProfessional},
  {"budstikke.v1.ConsultationService/Close",      kProfessional},
  {"budstikke.v1.ConsultationService/Get",        kProfessional},
  {"budstikke.v1.ConsultationService/List",       kProfessional},

  {"budstikke.v1.ConsentService/Record", kProfessional},
  {"budstikke.v1.ConsentService/Revoke", kProfessional},
  {"budstikke.v1.ConsentService/Get",    kProfessional},
  {"budstikke.v1.ConsentService/List",   kProfessional},

  {"budstikke.v1.ReferralService/Send",               kProfessional},
  {"budstikke.v1.ReferralService/Get",                kProfessional},
  {"budstikke.v1.ReferralService/List",               kProfessional},
  {"budstikke.v1.ReferralService/Acknowledge",        kProfessional},
  {"budstikke.v1.ReferralService/Decide",             kProfessional},
  {"budstikke.v1.ReferralService/Withdraw",           kProfessional},
  {"budstikke.v1.ReferralService/UploadAttachment",   kProfessional},
  {"budstikke.v1.ReferralService/DownloadAttachment", kProfessional},

  {"budstikke.v1.InboxService/Subscribe", kProfessional},
  {"budstikke.v1.InboxService/Ack",       kProfessional},

  // Anyone may verify the log; reading events is for auditors, and for an
  // agency's admin limited to its own agency's actors (a domain rule).
  {"budstikke.v1.AuditService/GetPublicKey",        kEveryone},
  {"budstikke.v1.AuditService/GetCheckpoint",       kEveryone},
  {"budstikke.v1.AuditService/GetInclusionProof",   kEveryone},
  {"budstikke.v1.AuditService/GetConsistencyProof", kEveryone},
  {"budstikke.v1.AuditService/GetEvent",            kAuditor | kAdmin},
  {"budstikke.v1.AuditService/Query",               kAuditor | kAdmin},
  {"budstikke.v1.AuditService/SubjectAccessReport", kAuditor},

  {"budstikke.v1.AdminService/GetKeyStatus",          kAdmin},
  {"budstikke.v1.AdminService/RotateAgencyKey",       kAdmin},
  {"budstikke.v1.AdminService/ShredAgencyKeyVersion", kAdmin},
  {"budstikke.v1.AdminService/GetRewrapProgress",     kAdmin},
  {"budstikke.v1.AdminService/CreateBackup",          kAdmin},
  {"budstikke.v1.AdminService/GetServerInfo",         kEveryone},
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
  std::string rule_id = "authz.unknown_method";
  if (Find(method) != nullptr) {
    rule_id = absl::StrCat("authz.", method.substr(method.rfind('.') + 1));
    for (char& c : rule_id) {
      if (c == '/') c = '.';
    }
  }
  v1::ErrorDetails details;
  auto* v = details.add_violations();
  v->set_rule(rule_id);
  v->set_description(absl::StrCat("role '", RoleName(role), "' may not call ", method));
  return WithDetails(absl::PermissionDeniedError(absl::StrCat(
                         "permission denied: role '", RoleName(role),
                         "' may not call ", method, " (", rule_id, ")")),
                     details);
}

std::vector<absl::string_view> AuthorizedMethods() {
  std::vector<absl::string_view> out;
  for (const Rule& r : kTable) out.push_back(r.method);
  return out;
}

}  // namespace budstikke::common
