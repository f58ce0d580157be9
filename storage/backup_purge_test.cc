#include "storage/backup_purge.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/status_matchers.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace budstikke::storage {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

constexpr char kCf[] = "records";
const SecretBytes& Master() {
  static const SecretBytes* master = new SecretBytes(std::string(32, '\x2a'));
  return *master;
}

Store::Options Options() {
  Store::Options o;
  o.column_families = Keyring::ColumnFamilies();
  o.column_families.push_back(kCf);
  return o;
}

// A data dir with its keyring and envelope.
struct Open {
  std::unique_ptr<Store> store;
  std::unique_ptr<Keyring> keyring;
  std::unique_ptr<Envelope> envelope;
  static Open At(const std::string& dir) {
    Open o;
    o.store = *Store::Open(dir, Options());
    o.keyring = *Keyring::Create(Master(), o.store.get());
    o.envelope = *Envelope::Create(o.keyring.get());
    return o;
  }
};

class BackupPurgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_ = Open::At(dir_.Sub("live"));
    ASSERT_THAT(live_.keyring->EnsureAgencyKey("bup-oslo"), IsOk());
    ASSERT_THAT(live_.keyring->EnsureAgencyKey("ppt-oslo"), IsOk());
    Seal("r-bup", "bup-oslo", "Gutten sover dårlig.");
    Seal("r-ppt", "ppt-oslo", "Vurdering av språk.");
    wrapped_ = *live_.store->Get("keys", "agency/bup-oslo/v/00000001");
    ASSERT_THAT(live_.store->Backup(dir_.Sub("backup")), IsOk());
  }
  void Seal(const std::string& key, const std::string& agency, const std::string& text) {
    auto sealed = live_.envelope->Seal(kCf, key, text, {agency});
    ASSERT_THAT(sealed, IsOk());
    ASSERT_THAT(live_.store->Put(kCf, key, *sealed), IsOk());
  }
  // Restores the backup into a new dir and opens record `key` as `agency`.
  absl::StatusOr<std::string> ReadRestored(const std::string& name, const std::string& key,
                                           const std::string& agency) {
    absl::Status s = Store::Restore(dir_.Sub("backup"), dir_.Sub(name));
    if (!s.ok()) return s;
    Open restored = Open::At(dir_.Sub(name));
    absl::StatusOr<std::string> value = restored.store->Get(kCf, key);
    if (!value.ok()) return value.status();
    return restored.envelope->Open(kCf, key, *value, agency);
  }

  TempDir dir_;
  Open live_;
  std::string wrapped_;
};

TEST_F(BackupPurgeTest, ShreddedVersionsComeFromTheLiveDataDirWhileItIsOpen) {
  ASSERT_THAT(live_.keyring->Rotate("bup-oslo"), IsOk());
  ASSERT_THAT(live_.keyring->Rotate("ppt-oslo"), IsOk());
  ASSERT_THAT(live_.keyring->Shred("bup-oslo", 1), IsOk());
  ASSERT_THAT(live_.keyring->Shred("ppt-oslo", 1), IsOk());
  EXPECT_THAT(*ShreddedKeyVersions(dir_.Sub("live"), ""),
              ElementsAre(KeyVersionRef{"bup-oslo", 1}, KeyVersionRef{"ppt-oslo", 1}));
  EXPECT_THAT(*ShreddedKeyVersions(dir_.Sub("live"), "ppt-oslo"),
              ElementsAre(KeyVersionRef{"ppt-oslo", 1}));
  EXPECT_THAT(*ShreddedKeyVersions(dir_.Sub("live"), "health-oslo"), ElementsAre());
  EXPECT_THAT(ShreddedKeyVersions(dir_.Sub("live"), "a/b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency id")));
  EXPECT_THAT(
      ShreddedKeyVersions(dir_.Sub("nowhere"), ""),
      StatusIs(absl::StatusCode::kNotFound, "data dir " + dir_.Sub("nowhere") + " does not exist"));
}

TEST_F(BackupPurgeTest, PurgeRemovesTheShreddedWrappedKeyFromTheBackup) {
  ASSERT_THAT(live_.keyring->Rotate("bup-oslo"), IsOk());
  ASSERT_THAT(live_.keyring->Shred("bup-oslo", 1), IsOk());
  // Control: the backup made before the shred still holds the wrapped key,
  // and a restore of it reads the record.
  EXPECT_FALSE(testing::FilesContaining(dir_.Sub("backup"), wrapped_).empty());
  EXPECT_THAT(ReadRestored("before", "r-bup", "bup-oslo"), IsOk());

  auto shredded = ShreddedKeyVersions(dir_.Sub("live"), "");
  ASSERT_THAT(shredded, IsOk());
  auto purged = PurgeKeyVersionsFromBackups(dir_.Sub("backup"), *shredded);
  ASSERT_THAT(purged, IsOk());
  EXPECT_THAT(purged->purged, ElementsAre(KeyVersionRef{"bup-oslo", 1}));
  ASSERT_EQ(purged->backups.size(), 1u);
  EXPECT_EQ(purged->backups[0].id, 2u);

  EXPECT_THAT(testing::FilesContaining(dir_.Sub("backup"), wrapped_), ElementsAre());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("backup.purge-scratch")));
  EXPECT_THAT(ReadRestored("after", "r-bup", "bup-oslo"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "key version 1 of agency bup-oslo was shredded"));
  auto other = ReadRestored("after-ppt", "r-ppt", "ppt-oslo");
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(*other, "Vurdering av språk.");

  // Again: nothing left to purge, the backup stays verified.
  auto again = PurgeKeyVersionsFromBackups(dir_.Sub("backup"), *shredded);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->purged, ElementsAre());
  EXPECT_EQ(again->backups.size(), 1u);
}

TEST_F(BackupPurgeTest, NoVersionsOnlyVerifies) {
  auto purged = PurgeKeyVersionsFromBackups(dir_.Sub("backup"), {});
  ASSERT_THAT(purged, IsOk());
  EXPECT_THAT(purged->purged, ElementsAre());
  ASSERT_EQ(purged->backups.size(), 1u);
  EXPECT_EQ(purged->backups[0].id, 1u);  // not rewritten
  EXPECT_THAT(PurgeKeyVersionsFromBackups(dir_.Sub("no-backup"), {{"bup-oslo", 1}}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does not exist")));
}

}  // namespace
}  // namespace budstikke::storage
