// Walks every cell of the authorization table: each RPC of the public API
// against each role, compared with the expectation written out here.
#include "services/common/authz.h"

#include <optional>

#include <map>
#include <set>
#include <string>

#include "budstikke/v1/admin.pb.h"
#include "budstikke/v1/audit.pb.h"
#include "budstikke/v1/consent.pb.h"
#include "budstikke/v1/consultation.pb.h"
#include "budstikke/v1/directory.pb.h"
#include "budstikke/v1/inbox.pb.h"
#include "budstikke/v1/referral.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "services/common/errors.h"
#include "storage/status_matchers.h"

namespace budstikke::common {
namespace {

using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;

const Role kAllRoles[] = {
    v1::ROLE_STAFF,     v1::ROLE_PHYSICIAN, v1::ROLE_PSYCHOLOGIST, v1::ROLE_CHILD_WELFARE_LEADER,
    v1::ROLE_CLINICIAN, v1::ROLE_AUDITOR,   v1::ROLE_ADMIN,        v1::ROLE_LEADER};

using RoleSet = std::set<Role>;
const RoleSet kEveryone(std::begin(kAllRoles), std::end(kAllRoles));
const RoleSet kAdminOnly = {v1::ROLE_ADMIN};
const RoleSet kProfessionals = {v1::ROLE_STAFF,        v1::ROLE_PHYSICIAN,
                                v1::ROLE_PSYCHOLOGIST, v1::ROLE_CHILD_WELFARE_LEADER,
                                v1::ROLE_CLINICIAN,    v1::ROLE_LEADER};
const RoleSet kAnswerers = {v1::ROLE_PHYSICIAN, v1::ROLE_PSYCHOLOGIST,
                            v1::ROLE_CHILD_WELFARE_LEADER, v1::ROLE_CLINICIAN};
const RoleSet kAuditReaders = {v1::ROLE_AUDITOR, v1::ROLE_ADMIN};
const RoleSet kAuditorOnly = {v1::ROLE_AUDITOR};

// The expected table, written independently of authz.cc.
const std::map<std::string, RoleSet>& Expected() {
  static const auto* table = new std::map<std::string, RoleSet>{
      {"budstikke.v1.DirectoryService/WhoAmI", kEveryone},
      {"budstikke.v1.DirectoryService/GetAgency", kEveryone},
      {"budstikke.v1.DirectoryService/ListAgencies", kEveryone},
      {"budstikke.v1.DirectoryService/CreateAgency", kAdminOnly},
      {"budstikke.v1.DirectoryService/UpdateAgency", kAdminOnly},
      {"budstikke.v1.ConsultationService/CheckText", kProfessionals},
      {"budstikke.v1.ConsultationService/Ask", kProfessionals},
      {"budstikke.v1.ConsultationService/Claim", kAnswerers},
      {"budstikke.v1.ConsultationService/Answer", kAnswerers},
      {"budstikke.v1.ConsultationService/AddMessage", kProfessionals},
      {"budstikke.v1.ConsultationService/Close", kProfessionals},
      {"budstikke.v1.ConsultationService/Get", kProfessionals},
      {"budstikke.v1.ConsultationService/List", kProfessionals},
      {"budstikke.v1.ConsentService/Record", kProfessionals},
      {"budstikke.v1.ConsentService/Revoke", kProfessionals},
      {"budstikke.v1.ConsentService/Get", kProfessionals},
      {"budstikke.v1.ConsentService/List", kProfessionals},
      {"budstikke.v1.ReferralService/Send", kProfessionals},
      {"budstikke.v1.ReferralService/Draft", kProfessionals},
      {"budstikke.v1.ReferralService/Cosign", kProfessionals},
      {"budstikke.v1.ReferralService/Return", kProfessionals},
      {"budstikke.v1.ReferralService/Get", kProfessionals},
      {"budstikke.v1.ReferralService/PostMessage", kProfessionals},
      {"budstikke.v1.ReferralService/GetThread", kProfessionals},
      {"budstikke.v1.ReferralService/Invite", kProfessionals},
      {"budstikke.v1.ReferralService/Supplement", kProfessionals},
      {"budstikke.v1.ReferralService/List", kProfessionals},
      {"budstikke.v1.ReferralService/Acknowledge", kProfessionals},
      {"budstikke.v1.ReferralService/Decide", kProfessionals},
      {"budstikke.v1.ReferralService/Withdraw", kProfessionals},
      {"budstikke.v1.ReferralService/UploadAttachment", kProfessionals},
      {"budstikke.v1.ReferralService/DownloadAttachment", kProfessionals},
      {"budstikke.v1.InboxService/Subscribe", kProfessionals},
      {"budstikke.v1.InboxService/Ack", kProfessionals},
      {"budstikke.v1.AuditService/GetPublicKey", kEveryone},
      {"budstikke.v1.AuditService/GetCheckpoint", kEveryone},
      {"budstikke.v1.AuditService/GetInclusionProof", kEveryone},
      {"budstikke.v1.AuditService/GetConsistencyProof", kEveryone},
      {"budstikke.v1.AuditService/GetEvent", kAuditReaders},
      {"budstikke.v1.AuditService/Query", kAuditReaders},
      {"budstikke.v1.AuditService/SubjectAccessReport", kAuditorOnly},
      {"budstikke.v1.AdminService/GetKeyStatus", kAdminOnly},
      {"budstikke.v1.AdminService/RotateAgencyKey", kAdminOnly},
      {"budstikke.v1.AdminService/ShredAgencyKeyVersion", kAdminOnly},
      {"budstikke.v1.AdminService/GetRewrapProgress", kAdminOnly},
      {"budstikke.v1.AdminService/CreateBackup", kAdminOnly},
      {"budstikke.v1.AdminService/GetServerInfo", kEveryone},
  };
  return *table;
}

std::vector<std::string> ApiMethods() {
  // Referencing a message of each file links its descriptor into this binary.
  std::vector<const google::protobuf::FileDescriptor*> files = {
      v1::Agency::descriptor()->file(),          v1::Consultation::descriptor()->file(),
      v1::Consent::descriptor()->file(),         v1::Referral::descriptor()->file(),
      v1::InboxEvent::descriptor()->file(),      v1::AuditEvent::descriptor()->file(),
      v1::AgencyKeyStatus::descriptor()->file(),
  };
  std::vector<std::string> methods;
  for (const auto* file : files) {
    for (int s = 0; s < file->service_count(); ++s) {
      const auto* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        methods.push_back(service->full_name() + "/" + service->method(m)->name());
      }
    }
  }
  return methods;
}

TEST(AuthzTest, EveryCellMatchesExpectation) {
  std::vector<std::string> methods = ApiMethods();
  ASSERT_EQ(methods.size(), 47u);
  for (const std::string& method : methods) {
    auto it = Expected().find(method);
    ASSERT_NE(it, Expected().end()) << "test has no expectation for " << method;
    for (Role role : kAllRoles) {
      bool want = it->second.count(role) > 0;
      EXPECT_EQ(IsAllowed(method, role), want) << method << " as " << RoleName(role);
      if (want) {
        EXPECT_TRUE(Authorize(method, role).ok()) << method << " as " << RoleName(role);
      } else {
        EXPECT_THAT(Authorize(method, role), StatusIs(absl::StatusCode::kPermissionDenied,
                                                      HasSubstr(std::string(RoleName(role)))))
            << method;
      }
    }
  }
}

TEST(AuthzTest, TableCoversExactlyTheApi) {
  std::vector<std::string> methods = ApiMethods();
  std::set<std::string> api(methods.begin(), methods.end());
  for (absl::string_view m : AuthorizedMethods()) {
    EXPECT_EQ(api.count(std::string(m)), 1u) << "table names a method not in the API: " << m;
  }
  EXPECT_EQ(AuthorizedMethods().size(), api.size());
}

TEST(AuthzTest, UnknownMethodAndUnspecifiedRoleAreDenied) {
  EXPECT_THAT(Authorize("budstikke.v1.Nope/Nothing", v1::ROLE_ADMIN),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("authz.unknown_method")));
  EXPECT_FALSE(IsAllowed("budstikke.v1.DirectoryService/WhoAmI", v1::ROLE_UNSPECIFIED));
}

TEST(AuthzTest, DenialNamesTheRpcTheRoleAndTheRule) {
  const absl::Status denied =
      Authorize("budstikke.v1.DirectoryService/CreateAgency", v1::ROLE_STAFF);
  EXPECT_THAT(denied,
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("role 'staff' may not call "
                                 "budstikke.v1.DirectoryService/CreateAgency (authz.role)")));
  std::optional<v1::ErrorDetails> details = GetErrorDetails(denied);
  ASSERT_TRUE(details.has_value());
  ASSERT_EQ(details->violations_size(), 1);
  EXPECT_EQ(details->violations(0).rule(), "authz.role");
}

}  // namespace
}  // namespace budstikke::common
