#include "services/common/identity.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/status_matchers.h"

namespace budstikke::common {
namespace {

using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kTd[] = "budstikke.test";

TEST(ParseSpiffeIdTest, PersonIdentity) {
  auto id = ParseSpiffeId("spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari", kTd);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->agency, "bhg-solsikken");
  EXPECT_EQ(id->role, v1::ROLE_STAFF);
  EXPECT_EQ(id->user, "kari");
  EXPECT_FALSE(id->is_service());
}

TEST(ParseSpiffeIdTest, ServiceIdentity) {
  auto id = ParseSpiffeId("spiffe://budstikke.test/service/referral", kTd);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->service, "referral");
  EXPECT_TRUE(id->is_service());
  EXPECT_EQ(id->agency, "");
}

TEST(ParseSpiffeIdTest, EveryRoleName) {
  for (const char* name : {"staff", "physician", "psychologist", "child_welfare_leader",
                           "clinician", "auditor", "admin"}) {
    auto id = ParseSpiffeId(
        std::string("spiffe://budstikke.test/agency/a/role/") + name + "/user/u", kTd);
    ASSERT_TRUE(id.ok()) << name;
    EXPECT_EQ(RoleName(id->role), name);
  }
}

TEST(ParseSpiffeIdTest, Refusals) {
  struct Case {
    const char* uri;
    const char* message;
  } cases[] = {
      {"https://budstikke.test/agency/a/role/staff/user/u", "not a spiffe:// ID"},
      {"spiffe://other.test/agency/a/role/staff/user/u", "trust domain 'other.test'"},
      {"spiffe://budstikke.test", "no path"},
      {"spiffe://budstikke.test/agency/a/role/staff", "SPIFFE path must be"},
      {"spiffe://budstikke.test/agency/a/role/staff/user/u/extra", "SPIFFE path must be"},
      {"spiffe://budstikke.test/agency/a/role/janitor/user/u", "unknown role 'janitor'"},
      {"spiffe://budstikke.test/agency/A!/role/staff/user/u", "malformed agency id"},
      {"spiffe://budstikke.test/agency/a/role/staff/user/", "malformed user id"},
      {"spiffe://budstikke.test/service/", "malformed service name"},
      {"spiffe://budstikke.test/team/a/role/staff/user/u", "SPIFFE path must be"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseSpiffeId(c.uri, kTd),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr(c.message)))
        << c.uri;
  }
}

TEST(RoleTest, ProfessionalRoles) {
  EXPECT_TRUE(IsProfessionalRole(v1::ROLE_STAFF));
  EXPECT_TRUE(IsProfessionalRole(v1::ROLE_CLINICIAN));
  EXPECT_TRUE(IsProfessionalRole(v1::ROLE_CHILD_WELFARE_LEADER));
  EXPECT_FALSE(IsProfessionalRole(v1::ROLE_AUDITOR));
  EXPECT_FALSE(IsProfessionalRole(v1::ROLE_ADMIN));
  EXPECT_FALSE(IsProfessionalRole(v1::ROLE_UNSPECIFIED));
}

TEST(IdentityFromCertificatePemTest, GarbageIsUnauthenticated) {
  EXPECT_THAT(IdentityFromCertificatePem("not a certificate", kTd),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("could not be parsed")));
}

}  // namespace
}  // namespace budstikke::common
