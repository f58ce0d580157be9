#include "services/admin/admin.h"

#include <map>
#include <utility>

#include "absl/strings/str_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/fake_audit_outbox.h"
#include "services/common/fake_clock.h"
#include "services/common/sealed_records.h"
#include "services/directory/directory.h"
#include "storage/envelope.h"
#include "storage/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace budstikke::admin {
namespace {

using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;

common::Caller Admin_(const std::string& agency) {
  common::Caller c;
  c.identity.agency = agency;
  c.identity.role = v1::ROLE_ADMIN;
  c.identity.user = "drift1";
  return c;
}

// A store with what a service with data opens: keys, directory, admin, and
// one column family of records.
storage::Store::Options ServiceStoreOptions() {
  storage::Store::Options options;
  options.column_families = storage::Keyring::ColumnFamilies();
  options.column_families.push_back(directory::kColumnFamily);
  options.column_families.push_back(kAdminColumnFamily);
  options.column_families.push_back("records");
  options.column_families.push_back("more-records");
  return options;
}

// No rewrap thread: the tests run the batches themselves.
Rewrapper::Options ManualRewrap(size_t batch_size = 256) {
  Rewrapper::Options options;
  options.background = false;
  options.batch_size = batch_size;
  return options;
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const storage::Store::Options options = ServiceStoreOptions();
    store_ = *storage::Store::Open(dir_.Sub("db"), options);
    keyring_ = *storage::Keyring::Create(storage::SecretBytes(std::string(32, 'm')), store_.get());
    directory_ = *directory::Directory::Create(store_.get(), &clock_, &audit_, "budstikke-drift");
    ASSERT_TRUE(directory_
                    ->LoadSeedIfEmpty(R"({"agencies":[
      {"id":"bup-oslo","name":"BUP Oslo","type":"bup","municipality":"0301"},
      {"id":"ppt-oslo","name":"PPT Oslo","type":"ppt","municipality":"0301"}]})")
                    .ok());
    target_ = std::make_unique<LocalKeyTarget>("directory", store_.get(), keyring_.get(), &clock_,
                                               ManualRewrap());
    AdminDeps deps{{target_.get()},  directory_.get(),       &audit_, &clock_, "budstikke-drift",
                   "budstikke.test", {"admin", "directory"}, "0.1.0"};
    admin_ = *Admin::Create(deps);
    ASSERT_TRUE(keyring_->EnsureAgencyKey("bup-oslo").ok());
  }

  budstikke::testing::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  common::FakeAuditOutbox audit_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::Keyring> keyring_;
  std::unique_ptr<directory::Directory> directory_;
  std::unique_ptr<LocalKeyTarget> target_;
  std::unique_ptr<Admin> admin_;
};

// Issue 20, defect 4: shredding a version that still protects records would
// make them unreadable for the agency (and lists skip them silently): it is
// refused with the rule and the count.
TEST_F(AdminTest, ShredRefusesAVersionThatStillProtectsRecords) {
  auto envelope = *storage::Envelope::Create(keyring_.get());
  for (const char* key : {"r-1", "r-2"}) {
    ASSERT_TRUE(
        store_->Put("records", key, *envelope->Seal("records", key, "content", {"bup-oslo"})).ok());
  }
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-1").ok());
  auto refused =
      admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1, "bup-oslo/1");
  EXPECT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("key.shred.in_use")));
  EXPECT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("key version 1 of 'bup-oslo' still protects 2 records in the "
                                 "directory service")));
  EXPECT_FALSE(keyring_->ListVersions("bup-oslo")->front().shredded);
  auto opened = envelope->Open("records", "r-1", *store_->Get("records", "r-1"), "bup-oslo");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "content");
  ASSERT_FALSE(audit_.events().empty());
  EXPECT_EQ(audit_.events().back().action(), "agency_key.shred");
  EXPECT_EQ(audit_.events().back().rule(), "key.shred.in_use");
  EXPECT_EQ(audit_.events().back().outcome(), v1::AUDIT_OUTCOME_DENIED);

  // With force the operator accepts it: the records become unreadable.
  auto forced = admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1,
                                              "bup-oslo/1", /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->versions(0).state(), v1::KEY_VERSION_STATE_SHREDDED);
  EXPECT_THAT(envelope->Open("records", "r-1", *store_->Get("records", "r-1"), "bup-oslo"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was shredded")));
  EXPECT_EQ(audit_.events().back().outcome(), v1::AUDIT_OUTCOME_ALLOWED);
  // Records sealed under the new version do not hold up a later shred of the old one.
  ASSERT_TRUE(
      store_->Put("records", "r-3", *envelope->Seal("records", "r-3", "new", {"bup-oslo"})).ok());
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-2").ok());
  EXPECT_THAT(
      admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 2, "bup-oslo/2")
          .status(),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("key version 2 of 'bup-oslo' still protects 1 record in the directory")));
}

// Seals `n` records "r-0000".. for BUP (every third also for PPT), half of
// them framed as common::SealedRecords stores them.
void SealRecords(storage::Store* store, storage::Keyring* keyring, int n) {
  ASSERT_TRUE(keyring->EnsureAgencyKey("ppt-oslo").ok());
  auto envelope = *storage::Envelope::Create(keyring);
  auto sealed = *common::SealedRecords::Create(keyring);
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrFormat("r-%04d", i);
    std::vector<std::string> readers = {"bup-oslo"};
    if (i % 3 == 0) readers.push_back("ppt-oslo");
    const std::string content = absl::StrCat("content ", i);
    auto value = i % 2 == 0 ? envelope->Seal("records", key, content, readers)
                            : sealed->Seal("records", key, "pseudonym", content, readers);
    ASSERT_TRUE(value.ok()) << value.status();
    ASSERT_TRUE(store->Put("records", key, *value).ok());
  }
}

// What record `i` holds for BUP, and the key version of BUP's entry.
std::pair<std::string, uint32_t> ReadRecord(const storage::Store& store,
                                            const storage::Keyring* keyring, int i) {
  auto envelope = *storage::Envelope::Create(keyring);
  auto sealed = *common::SealedRecords::Create(keyring);
  const std::string key = absl::StrFormat("r-%04d", i);
  const std::string value = *store.Get("records", key);
  uint32_t version = 0;
  for (const auto& r : SealedReaders(value)) {
    if (r.agency == "bup-oslo") version = r.key_version;
  }
  if (i % 2 == 0) {
    auto opened = envelope->Open("records", key, value, "bup-oslo");
    return {opened.ok() ? *opened : opened.status().ToString(), version};
  }
  auto opened = sealed->Open("records", key, value, "bup-oslo");
  return {opened.ok() ? opened->plaintext : opened.status().ToString(), version};
}

// Runs the rewrap to the end; the number of batches it took.
int RunRewrap(LocalKeyTarget* target) {
  for (int batches = 1; batches < 1000; ++batches) {
    absl::StatusOr<bool> more = target->rewrapper().RunBatch();
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) return batches;
  }
  ADD_FAILURE() << "the rewrap does not end";
  return 0;
}

// Issue 20, defect 4: the rotation starts a rewrap that moves every record
// to the new version (in batches, with progress); then the old version
// shreds without force and every record stays readable.
TEST_F(AdminTest, RewrapMovesEveryRecordThenTheOldVersionShredsWithoutForce) {
  SealRecords(store_.get(), keyring_.get(), 600);
  auto idle = admin_->GetRewrapProgress(Admin_("budstikke-drift"), "bup-oslo");
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->state(), v1::REWRAP_STATE_IDLE);
  EXPECT_EQ(idle->target_version(), 1u);

  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("bup-oslo"), "bup-oslo", "rot-1").ok());
  auto running = admin_->GetRewrapProgress(Admin_("bup-oslo"), "bup-oslo");
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->state(), v1::REWRAP_STATE_RUNNING);
  EXPECT_EQ(running->target_version(), 2u);
  EXPECT_EQ(running->start_time().seconds(), 1795000000);
  // One batch counts, three move 256 + 256 + 88 records.
  EXPECT_EQ(RunRewrap(target_.get()), 4);
  auto done = admin_->GetRewrapProgress(Admin_("bup-oslo"), "bup-oslo");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::REWRAP_STATE_DONE);
  EXPECT_EQ(done->records_total(), 600u);
  EXPECT_EQ(done->records_done(), 600u);
  EXPECT_EQ(done->error(), "");
  EXPECT_EQ(target_->rewrapper().records_rewrapped(), 600u);
  EXPECT_EQ(target_->rewrapper().records_remaining(), 0u);

  auto shredded = admin_->ShredAgencyKeyVersion(Admin_("bup-oslo"), "bup-oslo", 1, "bup-oslo/1");
  ASSERT_TRUE(shredded.ok()) << shredded.status();
  EXPECT_EQ(shredded->versions(0).state(), v1::KEY_VERSION_STATE_SHREDDED);
  for (int i = 0; i < 600; ++i) {
    EXPECT_EQ(ReadRecord(*store_, keyring_.get(), i),
              std::make_pair(absl::StrCat("content ", i), 2u))
        << i;
  }
  // PPT's entries were not touched: still its version 1, still readable.
  auto envelope = *storage::Envelope::Create(keyring_.get());
  EXPECT_EQ(*envelope->Open("records", "r-0000", *store_->Get("records", "r-0000"), "ppt-oslo"),
            "content 0");
}

// Stopped after one batch (a restart), the rewrap continues where it stood.
TEST_F(AdminTest, RewrapResumesAfterARestart) {
  SealRecords(store_.get(), keyring_.get(), 600);
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("bup-oslo"), "bup-oslo", "rot-1").ok());
  ASSERT_TRUE(*target_->rewrapper().RunBatch());  // counts
  ASSERT_TRUE(*target_->rewrapper().RunBatch());  // moves 256
  auto part = target_->RewrapProgress("bup-oslo");
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->state(), v1::REWRAP_STATE_RUNNING);
  EXPECT_EQ(part->records_total(), 600u);
  EXPECT_EQ(part->records_done(), 256u);

  // The process stops and starts again.
  admin_.reset();
  target_.reset();
  directory_.reset();
  keyring_.reset();
  store_.reset();
  store_ = *storage::Store::Open(dir_.Sub("db"), ServiceStoreOptions());
  keyring_ = *storage::Keyring::Create(storage::SecretBytes(std::string(32, 'm')), store_.get());
  target_ = std::make_unique<LocalKeyTarget>("directory", store_.get(), keyring_.get(), &clock_,
                                             ManualRewrap());
  auto resumed = target_->RewrapProgress("bup-oslo");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->state(), v1::REWRAP_STATE_RUNNING);
  EXPECT_EQ(resumed->records_done(), 256u);
  EXPECT_EQ(RunRewrap(target_.get()), 2);  // 256 + 88
  auto done = target_->RewrapProgress("bup-oslo");
  EXPECT_EQ(done->state(), v1::REWRAP_STATE_DONE);
  EXPECT_EQ(done->records_total(), 600u);
  EXPECT_EQ(done->records_done(), 600u);
  EXPECT_EQ(target_->rewrapper().records_rewrapped(), 344u);  // nothing moved twice
  EXPECT_TRUE(target_->CheckUnused("bup-oslo", 1).ok());
  for (int i = 0; i < 600; ++i) {
    EXPECT_EQ(ReadRecord(*store_, keyring_.get(), i).second, 2u) << i;
  }
}

// A batch that fills up exactly at the end of a column family resumes at
// the start of the next one (and moves each record once).
TEST_F(AdminTest, RewrapBatchesCrossColumnFamilies) {
  auto envelope = *storage::Envelope::Create(keyring_.get());
  for (const char* cf : {"more-records", "records"}) {
    for (const char* key : {"a-1", "a-2", "a-3"}) {
      ASSERT_TRUE(store_->Put(cf, key, *envelope->Seal(cf, key, key, {"bup-oslo"})).ok());
    }
  }
  target_ = std::make_unique<LocalKeyTarget>("directory", store_.get(), keyring_.get(), &clock_,
                                             ManualRewrap(/*batch_size=*/3));
  ASSERT_TRUE(target_->Rotate("bup-oslo", "rot-1").ok());
  EXPECT_EQ(RunRewrap(target_.get()), 3);  // count, more-records, records
  auto done = target_->RewrapProgress("bup-oslo");
  EXPECT_EQ(done->state(), v1::REWRAP_STATE_DONE);
  EXPECT_EQ(done->records_done(), 6u);
  EXPECT_EQ(target_->rewrapper().records_rewrapped(), 6u);
  for (const char* cf : {"more-records", "records"}) {
    for (const char* key : {"a-1", "a-2", "a-3"}) {
      auto opened = envelope->Open(cf, key, *store_->Get(cf, key), "bup-oslo");
      EXPECT_EQ(opened.ok() ? *opened : opened.status().ToString(), key);
    }
  }
}

// A record a service rewrites between the rewrap's read and its write keeps
// the service's new content (the stale replacement is dropped).
TEST_F(AdminTest, RecordRewrittenDuringTheRewrapKeepsItsNewContent) {
  SealRecords(store_.get(), keyring_.get(), 10);
  int calls = 0;
  Rewrapper::Options options = ManualRewrap();
  options.before_write = [&] {
    if (calls++ != 0) return;
    auto envelope = *storage::Envelope::Create(keyring_.get());
    ASSERT_TRUE(store_
                    ->Put("records", "r-0004",
                          *envelope->Seal("records", "r-0004", "rewritten", {"bup-oslo"}))
                    .ok());
  };
  target_ =
      std::make_unique<LocalKeyTarget>("directory", store_.get(), keyring_.get(), &clock_, options);
  AdminDeps deps{{target_.get()},  directory_.get(),       &audit_, &clock_, "budstikke-drift",
                 "budstikke.test", {"admin", "directory"}, "0.1.0"};
  admin_ = *Admin::Create(deps);
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("bup-oslo"), "bup-oslo", "rot-1").ok());
  EXPECT_EQ(RunRewrap(target_.get()), 2);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ReadRecord(*store_, keyring_.get(), 4), std::make_pair(std::string("rewritten"), 2u));
  for (int i : {0, 1, 2, 3, 5, 6, 7, 8, 9}) {
    EXPECT_EQ(ReadRecord(*store_, keyring_.get(), i),
              std::make_pair(absl::StrCat("content ", i), 2u))
        << i;
  }
  auto done = admin_->GetRewrapProgress(Admin_("bup-oslo"), "bup-oslo");
  EXPECT_EQ(done->state(), v1::REWRAP_STATE_DONE);
  EXPECT_EQ(done->records_done(), 9u);
  EXPECT_EQ(done->records_total(), 9u);
  EXPECT_TRUE(admin_->ShredAgencyKeyVersion(Admin_("bup-oslo"), "bup-oslo", 1, "bup-oslo/1").ok());
}

TEST_F(AdminTest, RotateThenShredOldVersion) {
  auto status = admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-1");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->current_version(), 2u);
  ASSERT_EQ(status->versions_size(), 2);
  EXPECT_EQ(status->versions(0).state(), v1::KEY_VERSION_STATE_RETIRED);
  EXPECT_EQ(status->versions(1).state(), v1::KEY_VERSION_STATE_CURRENT);

  // A retried rotation does not rotate again.
  auto again = admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->current_version(), 2u);

  EXPECT_THAT(admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1, "yes"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"bup-oslo/1\"")));
  EXPECT_THAT(
      admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 2, "bup-oslo/2"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("key.shred.current_version")));
  auto shredded =
      admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1, "bup-oslo/1");
  ASSERT_TRUE(shredded.ok()) << shredded.status();
  EXPECT_EQ(shredded->versions(0).state(), v1::KEY_VERSION_STATE_SHREDDED);
  EXPECT_THAT(
      admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1, "bup-oslo/1"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("key.shred.already_shredded")));
  EXPECT_THAT(admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 9, "bup-oslo/9"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no key version 9")));

  // Refusals by a rule are audited as DENIED with the rule; bad input is not.
  // Each rotation attempt is audited, the retry too.
  std::vector<v1::AuditEvent> events = audit_.events();
  ASSERT_EQ(events.size(), 5u);
  for (int i : {0, 1}) {
    EXPECT_EQ(events[i].action(), "agency_key.rotate");
    EXPECT_EQ(events[i].resource().kind(), v1::RESOURCE_KIND_AGENCY_KEY);
    EXPECT_EQ(events[i].request_id(), "rot-1");
  }
  EXPECT_EQ(events[2].action(), "agency_key.shred");
  EXPECT_EQ(events[2].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(events[2].rule(), "key.shred.current_version");
  EXPECT_EQ(events[2].resource().id(), "bup-oslo/2");
  EXPECT_EQ(events[3].action(), "agency_key.shred");
  EXPECT_EQ(events[3].outcome(), v1::AUDIT_OUTCOME_ALLOWED);
  EXPECT_EQ(events[3].resource().id(), "bup-oslo/1");
  EXPECT_EQ(events[4].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(events[4].rule(), "key.shred.already_shredded");
}

// Issue 20, defect 1: a refused call recorded the caller's request id and
// agency raw in the DENIED event before checking them, so an agency admin
// could plant a leaf of any size. Input is now checked first.
TEST_F(AdminTest, BadInputIsRefusedBeforeAnythingIsRecorded) {
  const std::string huge(3 << 20, 'x');
  EXPECT_THAT(admin_->RotateAgencyKey(Admin_("bup-oslo"), "ppt-oslo", huge),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request_id must be")));
  EXPECT_THAT(admin_->RotateAgencyKey(Admin_("bup-oslo"), huge, "r-1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("agency must be 2-64 characters of a-z, 0-9 and '-'")));
  EXPECT_THAT(admin_->ShredAgencyKeyVersion(Admin_("bup-oslo"), huge, 1, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency must be")));
  EXPECT_THAT(admin_->CreateBackup(Admin_("bup-oslo"), dir_.Sub("b"), huge),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request_id must be")));
  EXPECT_THAT(admin_->CreateBackup(Admin_("bup-oslo"), "/" + huge, "b-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 1024 bytes")));
  EXPECT_THAT(admin_->CreateBackup(Admin_("bup-oslo"), "/tmp/a\nb", "b-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("control characters")));
  EXPECT_TRUE(audit_.events().empty());
  // A valid but refused request is recorded with what it named.
  EXPECT_THAT(admin_->CreateBackup(Admin_("bup-oslo"), dir_.Sub("b"), "b-1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("operator agency")));
  ASSERT_EQ(audit_.events().size(), 1u);
  EXPECT_EQ(audit_.events()[0].resource().id(), dir_.Sub("b"));
  EXPECT_EQ(audit_.events()[0].rule(), "admin.operator_only");
}

TEST_F(AdminTest, SameRequestIdForAnotherAgencyStillRotates) {
  ASSERT_TRUE(keyring_->EnsureAgencyKey("ppt-oslo").ok());
  ASSERT_EQ(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "r1")->current_version(),
            2u);
  auto ppt = admin_->RotateAgencyKey(Admin_("budstikke-drift"), "ppt-oslo", "r1");
  ASSERT_TRUE(ppt.ok()) << ppt.status();
  EXPECT_EQ(ppt->current_version(), 2u);
}

TEST_F(AdminTest, AgencyAdminManagesOnlyItsOwnAgency) {
  EXPECT_TRUE(admin_->GetKeyStatus(Admin_("bup-oslo"), "bup-oslo").ok());
  EXPECT_THAT(admin_->RotateAgencyKey(Admin_("bup-oslo"), "ppt-oslo", "r"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("only its own")));
  EXPECT_THAT(admin_->GetKeyStatus(Admin_("budstikke-drift"), "no-such"),
              StatusIs(absl::StatusCode::kNotFound, "agency not found"));
  // Only the refused change is audited (DENIED, with the rule).
  std::vector<v1::AuditEvent> events = audit_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action(), "agency_key.rotate");
  EXPECT_EQ(events[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(events[0].rule(), "admin.own_agency");
  EXPECT_EQ(events[0].resource().id(), "ppt-oslo");
}

TEST_F(AdminTest, RotationFailsClosedWhenAuditFails) {
  audit_.SetFailing(true);
  EXPECT_THAT(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-x"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("audit")));
  EXPECT_EQ(*keyring_->CurrentVersion("bup-oslo"), 1u);
}

TEST_F(AdminTest, BackupIsOperatorOnlyAndRestorable) {
  EXPECT_THAT(admin_->CreateBackup(Admin_("bup-oslo"), dir_.Sub("b1"), "b-1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("operator agency")));
  EXPECT_THAT(admin_->CreateBackup(Admin_("budstikke-drift"), "relative/dir", "b-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));
  auto backup = admin_->CreateBackup(Admin_("budstikke-drift"), dir_.Sub("b1"), "b-1");
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_GT(backup->size_bytes(), 0u);
  EXPECT_THAT(admin_->CreateBackup(Admin_("budstikke-drift"), dir_.Sub("b1"), "b-2"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("not empty")));
  ASSERT_TRUE(storage::Store::Restore(dir_.Sub("b1"), dir_.Sub("restored")).ok());
  storage::Store::Options options;
  options.column_families = {directory::kColumnFamily};
  auto restored = storage::Store::Open(dir_.Sub("restored"), options);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE((*restored)->Get(directory::kColumnFamily, "agency/bup-oslo").ok());
}

TEST_F(AdminTest, ServerInfo) {
  clock_.Advance(absl::Seconds(42));
  v1::ServerInfo info = admin_->GetServerInfo();
  EXPECT_EQ(info.version(), "0.1.0");
  EXPECT_EQ(info.uptime().seconds(), 42);
  EXPECT_EQ(info.operator_agency(), "budstikke-drift");
  EXPECT_THAT(info.targets(), ::testing::ElementsAre("admin", "directory"));
}

// The microservices mode's fan-out: one keyring per service with data.
class AdminFanOutTest : public ::testing::Test {
 protected:
  struct Service {
    std::unique_ptr<storage::Store> store;
    std::unique_ptr<storage::Keyring> keyring;
    std::unique_ptr<LocalKeyTarget> target;
  };

  void SetUp() override {
    const storage::Store::Options options = ServiceStoreOptions();
    AdminDeps deps;
    for (const char* name : {"directory", "consent", "referral"}) {
      Service& s = services_[name];
      s.store = *storage::Store::Open(dir_.Sub(name), options);
      s.keyring =
          *storage::Keyring::Create(storage::SecretBytes(std::string(32, 'm')), s.store.get());
      s.target = std::make_unique<LocalKeyTarget>(name, s.store.get(), s.keyring.get(), &clock_,
                                                  ManualRewrap());
      deps.key_targets.push_back(s.target.get());
    }
    directory_ = *directory::Directory::Create(services_["directory"].store.get(), &clock_, &audit_,
                                               "budstikke-drift");
    ASSERT_TRUE(directory_
                    ->LoadSeedIfEmpty(R"({"agencies":[
      {"id":"bup-oslo","name":"BUP Oslo","type":"bup","municipality":"0301"}]})")
                    .ok());
    deps.agencies = directory_.get();
    deps.audit = &audit_;
    deps.clock = &clock_;
    deps.operator_agency = "budstikke-drift";
    admin_ = *Admin::Create(std::move(deps));
    // Consents and referrals were stored for BUP; the directory never
    // sealed anything for it.
    ASSERT_TRUE(services_["consent"].keyring->EnsureAgencyKey("bup-oslo").ok());
    ASSERT_TRUE(services_["referral"].keyring->EnsureAgencyKey("bup-oslo").ok());
  }

  uint32_t Current(const char* service) {
    return *services_[service].keyring->CurrentVersion("bup-oslo");
  }

  budstikke::testing::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  common::FakeAuditOutbox audit_;
  std::map<std::string, Service> services_;
  std::unique_ptr<directory::Directory> directory_;
  std::unique_ptr<Admin> admin_;
};

TEST_F(AdminFanOutTest, StatusMergesEveryService) {
  auto status = admin_->GetKeyStatus(Admin_("budstikke-drift"), "bup-oslo");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->current_version(), 1u);
  ASSERT_EQ(status->versions_size(), 1);
  EXPECT_EQ(status->versions(0).state(), v1::KEY_VERSION_STATE_CURRENT);
  ASSERT_EQ(status->services_size(), 3);
  EXPECT_EQ(status->services(0).service(), "directory");
  EXPECT_EQ(status->services(0).versions_size(), 0);
  EXPECT_EQ(status->services(1).service(), "consent");
  EXPECT_EQ(status->services(1).current_version(), 1u);
}

TEST_F(AdminFanOutTest, RotationReachesEveryServiceAndShredWaitsUntilNoneUsesTheVersion) {
  auto rotated = admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-1");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(Current("consent"), 2u);
  EXPECT_EQ(Current("referral"), 2u);
  EXPECT_EQ(Current("directory"), 1u);  // its first key, made by the rotation
  // A retry (e.g. after one service was unreachable) rotates nothing twice.
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-1").ok());
  EXPECT_EQ(Current("consent"), 2u);
  EXPECT_EQ(Current("directory"), 1u);
  EXPECT_EQ(rotated->current_version(), 2u);
  EXPECT_EQ(rotated->versions(0).state(), v1::KEY_VERSION_STATE_RETIRED);

  // Version 1 still protects the directory's new writes.
  EXPECT_THAT(admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1, "bup-oslo/1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("key version 1 is the current one of the directory service")));
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-2").ok());
  auto shredded =
      admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1, "bup-oslo/1");
  ASSERT_TRUE(shredded.ok()) << shredded.status();
  EXPECT_EQ(shredded->current_version(), 3u);
  ASSERT_EQ(shredded->versions_size(), 3);
  EXPECT_EQ(shredded->versions(0).state(), v1::KEY_VERSION_STATE_SHREDDED);
  EXPECT_EQ(shredded->versions(1).state(), v1::KEY_VERSION_STATE_RETIRED);
  EXPECT_EQ(shredded->versions(2).state(), v1::KEY_VERSION_STATE_CURRENT);
  for (const char* name : {"directory", "consent", "referral"}) {
    auto versions = *services_[name].keyring->ListVersions("bup-oslo");
    EXPECT_TRUE(versions.front().shredded) << name;
  }
  // One event per call, not per service.
  EXPECT_EQ(audit_.events().size(), 5u);
}

// Issue 20, defect 4: a version that still protects records in any service
// is not shredded (its records would become unreadable), and no service
// shreds it while another refuses.
TEST_F(AdminFanOutTest, ShredRefusesAVersionThatStillProtectsRecordsInAnyService) {
  Service& consent = services_["consent"];
  auto envelope = *storage::Envelope::Create(consent.keyring.get());
  ASSERT_TRUE(
      consent.store
          ->Put("records", "c-1", *envelope->Seal("records", "c-1", "consent", {"bup-oslo"}))
          .ok());
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-1").ok());
  ASSERT_TRUE(admin_->RotateAgencyKey(Admin_("budstikke-drift"), "bup-oslo", "rot-2").ok());
  EXPECT_THAT(admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1, "bup-oslo/1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("key version 1 of 'bup-oslo' still protects 1 record in the "
                                 "consent service")));
  for (const char* name : {"directory", "consent", "referral"}) {
    auto versions = *services_[name].keyring->ListVersions("bup-oslo");
    EXPECT_FALSE(versions.front().shredded) << name;
  }
  auto opened = envelope->Open("records", "c-1", *consent.store->Get("records", "c-1"), "bup-oslo");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "consent");
  auto forced = admin_->ShredAgencyKeyVersion(Admin_("budstikke-drift"), "bup-oslo", 1,
                                              "bup-oslo/1", /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  for (const char* name : {"directory", "consent", "referral"}) {
    auto versions = *services_[name].keyring->ListVersions("bup-oslo");
    EXPECT_TRUE(versions.front().shredded) << name;
  }
}

TEST_F(AdminFanOutTest, BackupPutsEveryServiceInItsOwnDirectory) {
  const std::string dest = dir_.Sub("backup");
  auto backup = admin_->CreateBackup(Admin_("budstikke-drift"), dest, "b-1");
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(backup->dest_dir(), dest);
  ASSERT_EQ(backup->services_size(), 3);
  uint64_t sum = 0;
  for (const v1::Backup& one : backup->services()) {
    EXPECT_EQ(one.dest_dir(), dest + "/" + one.service());
    EXPECT_GT(one.size_bytes(), 0u);
    sum += one.size_bytes();
  }
  EXPECT_EQ(backup->size_bytes(), sum);
  EXPECT_EQ(backup->services(1).service(), "consent");
  // Each restores on its own.
  ASSERT_TRUE(storage::Store::Restore(dest + "/directory", dir_.Sub("restored")).ok());
  storage::Store::Options options;
  options.column_families = {directory::kColumnFamily};
  auto restored = storage::Store::Open(dir_.Sub("restored"), options);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE((*restored)->Get(directory::kColumnFamily, "agency/bup-oslo").ok());
  // A retry returns the same backups.
  auto again = admin_->CreateBackup(Admin_("budstikke-drift"), dest, "b-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->size_bytes(), sum);
}

}  // namespace
}  // namespace budstikke::admin
