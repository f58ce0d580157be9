#include "services/directory/directory.h"

#include <functional>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/fake_audit_outbox.h"
#include "services/common/fake_clock.h"
#include "services/common/national_id_testing.h"
#include "services/common/store_audit_outbox.h"
#include "storage/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace budstikke::directory {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

common::Identity Person(const std::string& agency, v1::Role role) {
  common::Identity id;
  id.agency = agency;
  id.role = role;
  id.user = "u1";
  return id;
}

v1::Agency MakeAgency(const std::string& id, v1::AgencyType type = v1::AGENCY_TYPE_BUP) {
  v1::Agency a;
  a.set_id(id);
  a.set_name("Agency " + id);
  a.set_type(type);
  a.set_municipality("0301");
  return a;
}

class DirectoryTest : public ::testing::Test {
 public:
  void SetUp() override {
    storage::Store::Options options;
    options.column_families = {kColumnFamily};
    auto store = storage::Store::Open(dir_.Sub("db"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto directory = Directory::Create(store_.get(), &clock_, &audit_, "budstikke-drift");
    ASSERT_TRUE(directory.ok());
    directory_ = *std::move(directory);
  }

  budstikke::testing::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  common::FakeAuditOutbox audit_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Directory> directory_;
  const common::Identity operator_admin_ = Person("budstikke-drift", v1::ROLE_ADMIN);
};

TEST_F(DirectoryTest, CreateThenGet) {
  auto created = directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->create_time().seconds(), 1795000000);
  auto got = directory_->GetAgency("bup-oslo");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name(), "Agency bup-oslo");
  EXPECT_EQ(got->type(), v1::AGENCY_TYPE_BUP);
}

// Found by tests/fuzz (rpc_requests): GetAgency("17851653074") answered
// "agency '17851653074' not found", a national id in an error message (the
// caller sent it, but errors reach logs). A number that is one is masked.
TEST_F(DirectoryTest, NotFoundNeverEchoesANationalId) {
  const std::string id = common::testing::MakeSyntheticNationalId(2016, 5, 17, 530);
  EXPECT_THAT(directory_->GetAgency(id), StatusIs(absl::StatusCode::kNotFound, "agency not found"));
  EXPECT_THAT(directory_->GetAgency("12345678901"),
              StatusIs(absl::StatusCode::kNotFound, "agency not found"));
}

// GetAgency answers from memory after the first read: each change must show at
// once, an unknown id must not stay unknown, and the copy is not the truth
// (a new Directory over the same store reads the store).
TEST_F(DirectoryTest, LookupsSeeEveryChangeAtOnce) {
  EXPECT_THAT(directory_->GetAgency("bup-oslo"),
              StatusIs(absl::StatusCode::kNotFound, Eq("agency not found")));
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1").ok());
  ASSERT_TRUE(directory_->GetAgency("bup-oslo").ok());  // found although missed before
  EXPECT_EQ(directory_->GetAgency("bup-oslo")->name(), "Agency bup-oslo");

  v1::Agency renamed = MakeAgency("bup-oslo");
  renamed.set_name("BUP Oslo sentrum");
  ASSERT_TRUE(directory_->UpdateAgency(operator_admin_, renamed).ok());
  EXPECT_EQ(directory_->GetAgency("bup-oslo")->name(), "BUP Oslo sentrum");
  v1::Agency retyped = MakeAgency("bup-oslo", v1::AGENCY_TYPE_PPT);
  retyped.set_name("PPT Oslo");
  ASSERT_TRUE(directory_->UpdateAgency(operator_admin_, retyped).ok());
  EXPECT_EQ(directory_->GetAgency("bup-oslo")->type(), v1::AGENCY_TYPE_PPT);

  auto fresh = Directory::Create(store_.get(), &clock_, &audit_, "budstikke-drift");
  ASSERT_TRUE(fresh.ok());
  auto got = (*fresh)->GetAgency("bup-oslo");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name(), "PPT Oslo");
  EXPECT_EQ(got->type(), v1::AGENCY_TYPE_PPT);
}

TEST_F(DirectoryTest, RetryWithSameRequestIdReturnsFirstResult) {
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1").ok());
  clock_.Advance(absl::Minutes(1));
  auto again = directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->create_time().seconds(), 1795000000);
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r2"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already exists")));
}

TEST_F(DirectoryTest, RequestIdReusedForAnotherAgencyIsAlreadyExists) {
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1").ok());
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, MakeAgency("ppt-oslo"), "r1"),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("request_id 'r1' was already used for a different request")));
  EXPECT_THAT(directory_->GetAgency("ppt-oslo"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_F(DirectoryTest, OnlyOperatorAdminCreates) {
  EXPECT_THAT(directory_->CreateAgency(Person("bup-oslo", v1::ROLE_ADMIN), MakeAgency("x-y"), "r1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("operator agency")));
}

TEST_F(DirectoryTest, AgencyAdminUpdatesOnlyItsOwn) {
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1").ok());
  ASSERT_TRUE(
      directory_->CreateAgency(operator_admin_, MakeAgency("ppt-oslo", v1::AGENCY_TYPE_PPT), "r2")
          .ok());
  v1::Agency renamed = MakeAgency("bup-oslo");
  renamed.set_name("BUP Oslo sentrum");
  auto updated = directory_->UpdateAgency(Person("bup-oslo", v1::ROLE_ADMIN), renamed);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "BUP Oslo sentrum");
  EXPECT_THAT(directory_->UpdateAgency(Person("bup-oslo", v1::ROLE_ADMIN),
                                       MakeAgency("ppt-oslo", v1::AGENCY_TYPE_PPT)),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only its own")));
  EXPECT_THAT(directory_->UpdateAgency(operator_admin_, MakeAgency("nope-nope")),
              StatusIs(absl::StatusCode::kNotFound, Eq("agency not found")));
}

TEST_F(DirectoryTest, AgencyAdminCannotChangeRoutingFields) {
  ASSERT_TRUE(
      directory_
          ->CreateAgency(operator_admin_, MakeAgency("bhg-a", v1::AGENCY_TYPE_KINDERGARTEN), "r1")
          .ok());
  // A kindergarten retyping itself as BUP would receive BUP's consultations.
  v1::Agency retyped = MakeAgency("bhg-a", v1::AGENCY_TYPE_BUP);
  EXPECT_THAT(directory_->UpdateAgency(Person("bhg-a", v1::ROLE_ADMIN), retyped),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only its agency's name")));
  v1::Agency moved = MakeAgency("bhg-a", v1::AGENCY_TYPE_KINDERGARTEN);
  moved.set_municipality("4601");
  EXPECT_THAT(directory_->UpdateAgency(Person("bhg-a", v1::ROLE_ADMIN), moved),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("routing")));
  EXPECT_EQ(directory_->GetAgency("bhg-a")->type(), v1::AGENCY_TYPE_KINDERGARTEN);
  EXPECT_TRUE(directory_->UpdateAgency(operator_admin_, retyped).ok());
}

TEST_F(DirectoryTest, ValidationNamesTheField) {
  v1::Agency bad = MakeAgency("Bad Id");
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, bad, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency.id")));
  bad = MakeAgency("ok-id");
  bad.set_municipality("301");
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, bad, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency.municipality")));
  bad = MakeAgency("ok-id", v1::AGENCY_TYPE_UNSPECIFIED);
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, bad, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency.type")));
  bad = MakeAgency("ok-id");
  bad.set_name("");
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, bad, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency.name")));
}

TEST_F(DirectoryTest, ListPagesAndFilters) {
  for (int i = 0; i < 7; ++i) {
    auto type = i % 2 == 0 ? v1::AGENCY_TYPE_BUP : v1::AGENCY_TYPE_SCHOOL;
    ASSERT_TRUE(directory_
                    ->CreateAgency(operator_admin_, MakeAgency("a" + std::to_string(i), type),
                                   "r" + std::to_string(i))
                    .ok());
  }
  auto p1 = directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 3, "");
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->agencies.size(), 3u);
  EXPECT_EQ(p1->agencies[0].id(), "a0");
  ASSERT_FALSE(p1->next_page_token.empty());
  auto p2 = directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 3, p1->next_page_token);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->agencies.size(), 3u);
  EXPECT_EQ(p2->agencies[0].id(), "a3");
  auto p3 = directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 3, p2->next_page_token);
  ASSERT_TRUE(p3.ok());
  ASSERT_EQ(p3->agencies.size(), 1u);
  EXPECT_EQ(p3->next_page_token, "");
  auto bups = directory_->ListAgencies(v1::AGENCY_TYPE_BUP, "0301", 0, "");
  ASSERT_TRUE(bups.ok());
  EXPECT_EQ(bups->agencies.size(), 4u);
  auto found = directory_->FindAgencies(v1::AGENCY_TYPE_SCHOOL, "0301");
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 3u);
  EXPECT_EQ((*found)[0].id(), "a1");
  EXPECT_EQ(directory_->FindAgencies(v1::AGENCY_TYPE_SCHOOL, "4601")->size(), 0u);
  EXPECT_THAT(directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 3, "!!"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_F(DirectoryTest, SeedLoadsOnlyWhenEmpty) {
  const char* seed = R"({"agencies":[
    {"id":"bup-oslo","name":"BUP Oslo","type":"bup","municipality":"0301"},
    {"id":"bhg-solsikken","name":"Solsikken barnehage","type":"kindergarten","municipality":"0301"}]})";
  auto n = directory_->LoadSeedIfEmpty(seed);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(directory_->GetAgency("bhg-solsikken")->type(), v1::AGENCY_TYPE_KINDERGARTEN);
  auto again = directory_->LoadSeedIfEmpty(seed);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_F(DirectoryTest, BadSeedIsRefusedWithEntryNumber) {
  EXPECT_THAT(directory_->LoadSeedIfEmpty("{"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seed directory must be")));
  EXPECT_THAT(
      directory_->LoadSeedIfEmpty(
          R"({"agencies":[{"id":"x1","name":"X","type":"zoo","municipality":"0301"}]})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entry 1 has an unknown type 'zoo'")));
  EXPECT_EQ(directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 0, "")->agencies.size(), 0u);
}

TEST_F(DirectoryTest, CreateNeedsAnAuditOutbox) {
  EXPECT_THAT(Directory::Create(store_.get(), &clock_, nullptr, "budstikke-drift").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audit outbox")));
}

// The audit table (same shape as services/audit/audit_test.cc): every
// directory RPC and the events it must emit.
struct Row {
  std::string name;
  std::function<absl::Status(DirectoryTest*)> call;
  std::vector<std::pair<std::string, std::string>> want;  // action, resource id
  std::string want_request_id;
};

TEST_F(DirectoryTest, EveryChangeEmitsExactlyTheExpectedEvents) {
  const common::Identity bup_admin = Person("bup-oslo", v1::ROLE_ADMIN);
  const std::vector<Row> rows = {
      {"CreateAgency",
       [](DirectoryTest* t) {
         return t->directory_->CreateAgency(t->operator_admin_, MakeAgency("bup-oslo"), "req-1")
             .status();
       },
       {{"agency.create", "bup-oslo"}},
       "req-1"},
      {"retried CreateAgency returns the first result and records nothing",
       [](DirectoryTest* t) {
         return t->directory_->CreateAgency(t->operator_admin_, MakeAgency("bup-oslo"), "req-1")
             .status();
       },
       {},
       ""},
      {"UpdateAgency by the operator",
       [](DirectoryTest* t) {
         return t->directory_->UpdateAgency(t->operator_admin_, MakeAgency("bup-oslo")).status();
       },
       {{"agency.update", "bup-oslo"}},
       ""},
      {"UpdateAgency by the agency's own admin",
       [bup_admin](DirectoryTest* t) {
         return t->directory_->UpdateAgency(bup_admin, MakeAgency("bup-oslo")).status();
       },
       {{"agency.update", "bup-oslo"}},
       ""},
      {"GetAgency reads public data only",
       [](DirectoryTest* t) { return t->directory_->GetAgency("bup-oslo").status(); },
       {},
       ""},
      {"ListAgencies reads public data only",
       [](DirectoryTest* t) {
         return t->directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 0, "").status();
       },
       {},
       ""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    audit_.Clear();
    ASSERT_THAT(row.call(this), IsOk());
    std::vector<v1::AuditEvent> got = audit_.events();
    ASSERT_EQ(got.size(), row.want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].action(), row.want[i].first);
      EXPECT_EQ(got[i].resource().kind(), v1::RESOURCE_KIND_AGENCY);
      EXPECT_EQ(got[i].resource().id(), row.want[i].second);
      EXPECT_EQ(got[i].outcome(), v1::AUDIT_OUTCOME_ALLOWED);
      EXPECT_EQ(got[i].legal_basis(), v1::LEGAL_BASIS_NONE);
      EXPECT_EQ(got[i].request_id(), row.want_request_id);
      EXPECT_TRUE(got[i].subject().empty());
      EXPECT_FALSE(got[i].actor().agency().empty());
      EXPECT_EQ(got[i].actor().role(), v1::ROLE_ADMIN);
    }
  }
}

TEST_F(DirectoryTest, NoAuditNoChange) {
  audit_.SetFailing(true);
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1"),
              StatusIs(absl::StatusCode::kUnavailable, "audit log unavailable: injected failure"));
  EXPECT_THAT(directory_->GetAgency("bup-oslo"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found")));
}

// With the real outbox the change and its event are one WriteBatch: a failed
// write leaves neither; after the fault clears both commit together.
TEST(DirectoryAtomicityTest, ChangeAndEventCommitTogether) {
  budstikke::testing::TempDir dir;
  common::FakeClock clock{absl::FromUnixSeconds(1795000000)};
  storage::Store::Options options;
  options.column_families = {kColumnFamily, common::kAuditOutboxColumnFamily};
  options.fault_injector = std::make_shared<storage::FaultInjector>();
  auto store = storage::Store::Open(dir.Sub("db"), options);
  ASSERT_THAT(store.status(), IsOk());
  auto outbox = common::StoreAuditOutbox::Create(store->get(), &clock);
  ASSERT_THAT(outbox.status(), IsOk());
  auto directory = Directory::Create(store->get(), &clock, outbox->get(), "budstikke-drift");
  ASSERT_THAT(directory.status(), IsOk());
  auto outbox_entries = [&] {
    int n = 0;
    auto it = (*store)->Scan(common::kAuditOutboxColumnFamily, "");
    for (; it->Valid(); it->Next()) ++n;
    return n;
  };
  const common::Identity op = Person("budstikke-drift", v1::ROLE_ADMIN);

  options.fault_injector->SetFailWrites(true);
  EXPECT_THAT((*directory)->CreateAgency(op, MakeAgency("bup-oslo"), "r1"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected write fault")));
  EXPECT_THAT((*directory)->GetAgency("bup-oslo"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found")));
  EXPECT_EQ(outbox_entries(), 0);

  options.fault_injector->SetFailWrites(false);
  ASSERT_THAT((*directory)->CreateAgency(op, MakeAgency("bup-oslo"), "r1").status(), IsOk());
  EXPECT_THAT((*directory)->GetAgency("bup-oslo").status(), IsOk());
  EXPECT_EQ(outbox_entries(), 1);
}

TEST_F(DirectoryTest, TheOperatorSetsTheAcuteUnitAndOtherFieldsStay) {
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1").ok());
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-akutt"), "r2").ok());
  ASSERT_TRUE(
      directory_->CreateAgency(operator_admin_, MakeAgency("ppt-oslo", v1::AGENCY_TYPE_PPT), "r3")
          .ok());
  const std::string name_before = directory_->GetAgency("bup-oslo")->name();
  v1::Agency only_unit;
  only_unit.set_id("bup-oslo");
  only_unit.set_acute_unit("bup-akutt");
  auto updated = directory_->UpdateAgency(operator_admin_, only_unit, {"acute_unit"});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->acute_unit(), "bup-akutt");
  EXPECT_EQ(updated->name(), name_before);  // not given: stays
  EXPECT_EQ(updated->type(), v1::AGENCY_TYPE_BUP);
  EXPECT_EQ(directory_->GetAgency("bup-oslo")->acute_unit(), "bup-akutt");
  // Only a BUP names another BUP.
  only_unit.set_acute_unit("ppt-oslo");
  EXPECT_THAT(directory_->UpdateAgency(operator_admin_, only_unit, {"acute_unit"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "agency.acute_unit: must name a BUP agency in the directory"));
  only_unit.set_acute_unit("bup-oslo");
  EXPECT_THAT(directory_->UpdateAgency(operator_admin_, only_unit, {"acute_unit"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "agency.acute_unit: another agency than itself"));
  v1::Agency ppt;
  ppt.set_id("ppt-oslo");
  ppt.set_acute_unit("bup-akutt");
  EXPECT_THAT(directory_->UpdateAgency(operator_admin_, ppt, {"acute_unit"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "agency.acute_unit: only a BUP agency has an acute unit"));
  // The agency's own admin may not set it (routing).
  only_unit.set_acute_unit("");
  EXPECT_THAT(
      directory_->UpdateAgency(Person("bup-oslo", v1::ROLE_ADMIN), only_unit, {"acute_unit"}),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("acute unit")));
  EXPECT_THAT(directory_->UpdateAgency(operator_admin_, only_unit, {"colour"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown field 'colour'")));
  // Cleared by the operator.
  EXPECT_EQ(directory_->UpdateAgency(operator_admin_, only_unit, {"acute_unit"})->acute_unit(), "");
}

}  // namespace
}  // namespace budstikke::directory
