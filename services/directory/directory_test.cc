#include "services/directory/directory.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/fake_clock.h"
#include "storage/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace budstikke::directory {
namespace {

using ::budstikke::testing::StatusIs;
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
 protected:
  void SetUp() override {
    storage::Store::Options options;
    options.column_families = {kColumnFamily};
    auto store = storage::Store::Open(dir_.Sub("db"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto directory = Directory::Create(store_.get(), &clock_, "budstikke-drift");
    ASSERT_TRUE(directory.ok());
    directory_ = *std::move(directory);
  }

  budstikke::testing::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(1795000000)};
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

TEST_F(DirectoryTest, RetryWithSameRequestIdReturnsFirstResult) {
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1").ok());
  clock_.Advance(absl::Minutes(1));
  auto again = directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->create_time().seconds(), 1795000000);
  EXPECT_THAT(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r2"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already exists")));
}

TEST_F(DirectoryTest, OnlyOperatorAdminCreates) {
  EXPECT_THAT(directory_->CreateAgency(Person("bup-oslo", v1::ROLE_ADMIN),
                                       MakeAgency("x-y"), "r1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("operator agency")));
}

TEST_F(DirectoryTest, AgencyAdminUpdatesOnlyItsOwn) {
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("bup-oslo"), "r1").ok());
  ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("ppt-oslo", v1::AGENCY_TYPE_PPT), "r2").ok());
  v1::Agency renamed = MakeAgency("bup-oslo");
  renamed.set_name("BUP Oslo sentrum");
  auto updated = directory_->UpdateAgency(Person("bup-oslo", v1::ROLE_ADMIN), renamed);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "BUP Oslo sentrum");
  EXPECT_THAT(directory_->UpdateAgency(Person("bup-oslo", v1::ROLE_ADMIN),
                                       MakeAgency("ppt-oslo", v1::AGENCY_TYPE_PPT)),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only its own")));
  EXPECT_THAT(directory_->UpdateAgency(operator_admin_, MakeAgency("nope-nope")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("'nope-nope' not found")));
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
    ASSERT_TRUE(directory_->CreateAgency(operator_admin_, MakeAgency("a" + std::to_string(i), type),
                                         "r" + std::to_string(i)).ok());
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
  EXPECT_THAT(directory_->LoadSeedIfEmpty(
                  R"({"agencies":[{"id":"x1","name":"X","type":"zoo","municipality":"0301"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entry 1 has an unknown type 'zoo'")));
  EXPECT_EQ(directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 0, "")->agencies.size(), 0u);
}

}  // namespace
}  // namespace budstikke::directory
