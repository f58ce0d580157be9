#include "storage/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pseudonymizer.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"

namespace budstikke::storage {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

constexpr char kAgency[] = "bup-oslo";

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(HkdfTest, Rfc5869TestCase3) {
  auto okm = keyring_internal::HkdfSha256(SecretBytes(std::string(22, '\x0b')), "", 42);
  ASSERT_THAT(okm, IsOk());
  EXPECT_EQ(absl::BytesToHexString(std::string(okm->secret_bytes_for_crypto())),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8");
}

TEST(MasterKeyFileTest, RefusesOtherBitsAndGroupWriteWithTheMode) {
  TempDir dir;
  const std::string path = dir.Sub("master.key");
  WriteFile(path, std::string(32, 'k'), 0644);
  EXPECT_THAT(Keyring::ReadMasterKeyFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "master key file " + path + " has mode 0644; it must be 0600 (chmod 600 " +
                           path + ")"));
  WriteFile(path, std::string(32, 'k'), 0660);
  EXPECT_THAT(Keyring::ReadMasterKeyFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has mode 0660")));
  // Group read by the process's own group is the Kubernetes fsGroup case
  // (storage/private_file.h): accepted.
  WriteFile(path, std::string(32, 'k'), 0440);
  ASSERT_EQ(::chown(path.c_str(), static_cast<uid_t>(-1), ::getegid()), 0);
  EXPECT_TRUE(Keyring::ReadMasterKeyFile(path).ok());
  WriteFile(path, std::string(32, 'k'), 0604);
  EXPECT_THAT(Keyring::ReadMasterKeyFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has mode 0604")));
}

TEST(MasterKeyFileTest, RefusesWrongLength) {
  TempDir dir;
  const std::string path = dir.Sub("master.key");
  WriteFile(path, std::string(32, 'k') + "\n", 0600);  // the classic trailing newline
  EXPECT_THAT(
      Keyring::ReadMasterKeyFile(path),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("master key file " + path + " must hold exactly 32 raw bytes, found 33")));
  WriteFile(path, std::string(16, 'k'), 0600);
  EXPECT_THAT(Keyring::ReadMasterKeyFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("found 16")));
}

TEST(MasterKeyFileTest, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_THAT(Keyring::ReadMasterKeyFile(dir.Sub("absent.key")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot open master key file")));
}

TEST(MasterKeyFileTest, AcceptsOwnerOnly32Bytes) {
  TempDir dir;
  const std::string path = dir.Sub("master.key");
  WriteFile(path, std::string(32, '\x07'), 0600);
  auto key = Keyring::ReadMasterKeyFile(path);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->secret_bytes_for_crypto(), std::string(32, '\x07'));
  WriteFile(path, std::string(32, '\x07'), 0400);
  EXPECT_THAT(Keyring::ReadMasterKeyFile(path), IsOk());
}

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Store::Options options;
    options.column_families = Keyring::ColumnFamilies();
    auto s = Store::Open(dir_.Sub("db"), options);
    ASSERT_THAT(s, IsOk());
    store_ = *std::move(s);
    auto k = Keyring::Create(SecretBytes(std::string(32, '\x07')), store_.get());
    ASSERT_THAT(k, IsOk());
    keyring_ = *std::move(k);
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Keyring> keyring_;
};

TEST_F(KeyringTest, DerivesThePseudonymSecretWithHkdf) {
  // HKDF-SHA256(0x07 * 32, salt "", info "budstikke pseudonym v1"), computed independently.
  EXPECT_EQ(
      absl::BytesToHexString(std::string(keyring_->pseudonym_secret().secret_bytes_for_crypto())),
      "b5ce9b200f00d6a1b34c7f94ad6e6f0ad8bf02bcfae76814cf537b0c83adfdc2");
  auto p = Pseudonymizer::Create(*keyring_);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(*(*p)->Pseudonymize("15831012345"),
            "cb3a5bb5a98cb34942afbb9efa55b0e4327a8ef5bab54c7d791a40b9d3b72596");
}

TEST_F(KeyringTest, CreateNeedsTheKeysColumnFamilyAndA32ByteKey) {
  auto other = Store::Open(dir_.Sub("db2"), Store::Options{});
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT(Keyring::Create(SecretBytes(std::string(32, 'k')), other->get()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'keys'")));
  EXPECT_THAT(Keyring::Create(SecretBytes(std::string(31, 'k')), store_.get()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("found 31")));
}

TEST_F(KeyringTest, EnsureRotateListAndCurrent) {
  EXPECT_THAT(keyring_->CurrentVersion(kAgency),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("agency bup-oslo has no key")));
  EXPECT_EQ(*keyring_->EnsureAgencyKey(kAgency), 1u);
  EXPECT_EQ(*keyring_->EnsureAgencyKey(kAgency), 1u);  // idempotent
  EXPECT_EQ(*keyring_->Rotate(kAgency), 2u);
  EXPECT_EQ(*keyring_->CurrentVersion(kAgency), 2u);
  EXPECT_THAT(*keyring_->ListVersions(kAgency),
              ElementsAre(KeyVersionInfo{1, false}, KeyVersionInfo{2, false}));
  EXPECT_EQ(*keyring_->Rotate("other-agency"), 1u);            // Rotate creates v1 too
  EXPECT_THAT(*keyring_->ListVersions("bup"), ElementsAre());  // no prefix bleed
}

TEST_F(KeyringTest, RejectsMalformedAgencyIds) {
  for (std::string bad :
       {std::string(), std::string("a/b"), std::string("a\nb"), std::string(256, 'a')}) {
    EXPECT_THAT(keyring_->EnsureAgencyKey(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency id")));
  }
}

TEST_F(KeyringTest, VersionsSurviveAFreshKeyringAndOldVersionsDecrypt) {
  ASSERT_THAT(keyring_->EnsureAgencyKey(kAgency), IsOk());
  auto v1 = keyring_->AgencyAead(kAgency, 1);
  ASSERT_THAT(v1, IsOk());
  auto ct = (*v1)->Encrypt("hello", "ad");
  ASSERT_THAT(keyring_->Rotate(kAgency), IsOk());

  auto fresh = Keyring::Create(SecretBytes(std::string(32, '\x07')), store_.get());
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(*(*fresh)->CurrentVersion(kAgency), 2u);
  auto again = (*fresh)->AgencyAead(kAgency, 1);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*(*again)->Decrypt(*ct, "ad"), "hello");
  auto v2 = (*fresh)->AgencyAead(kAgency, 2);
  ASSERT_THAT(v2, IsOk());
  EXPECT_THAT((*v2)->Decrypt(*ct, "ad"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("authentication failed")));
  EXPECT_THAT((*fresh)->AgencyAead(kAgency, 3),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("key version 3 of agency bup-oslo does not exist")));
}

TEST_F(KeyringTest, AnotherMasterKeyCannotUnwrap) {
  ASSERT_THAT(keyring_->EnsureAgencyKey(kAgency), IsOk());
  auto other = Keyring::Create(SecretBytes(std::string(32, '\x08')), store_.get());
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT((*other)->AgencyAead(kAgency, 1),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("key version 1 of agency bup-oslo does not unwrap")));
}

TEST_F(KeyringTest, WrappedKeyCopiedToAnotherAgencyDoesNotUnwrap) {
  ASSERT_THAT(keyring_->EnsureAgencyKey("agency-a"), IsOk());
  ASSERT_THAT(keyring_->EnsureAgencyKey("agency-b"), IsOk());
  auto a = store_->Get("keys", "agency/agency-a/v/00000001");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(store_->Put("keys", "agency/agency-b/v/00000001", *a), IsOk());
  auto fresh = Keyring::Create(SecretBytes(std::string(32, '\x07')), store_.get());
  ASSERT_THAT(fresh, IsOk());
  EXPECT_THAT((*fresh)->AgencyAead("agency-b", 1),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not unwrap")));
}

// Found by tests/fuzz (keyring): a version key " 0000003" or "+0000003" was
// read as version 3 and sorted before "00000001", so the keyring took version
// 1 for the current one. Only the 8 digits it writes are a version.
TEST_F(KeyringTest, VersionKeyOtherThanEightDigitsIsDataLoss) {
  ASSERT_THAT(keyring_->EnsureAgencyKey("agency-a"), IsOk());
  for (const std::string suffix : {" 0000003", "+0000003", "0000003 ", "0x000003"}) {
    const std::string key = "agency/agency-a/v/" + suffix;
    ASSERT_THAT(store_->Put("keys", key, "\x01"), IsOk());
    auto fresh = Keyring::Create(SecretBytes(std::string(32, '\x07')), store_.get());
    ASSERT_THAT(fresh, IsOk());
    EXPECT_THAT((*fresh)->ListVersions("agency-a"),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("malformed key record for agency agency-a")))
        << suffix;
    EXPECT_THAT((*fresh)->CurrentVersion("agency-a"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("malformed")))
        << suffix;
    ASSERT_THAT(store_->Delete("keys", key), IsOk());
  }
}

TEST_F(KeyringTest, ShredDestroysOneVersionEverywhere) {
  ASSERT_THAT(keyring_->EnsureAgencyKey(kAgency), IsOk());
  ASSERT_THAT(keyring_->Rotate(kAgency), IsOk());
  auto wrapped = store_->Get("keys", "agency/bup-oslo/v/00000001");
  ASSERT_THAT(wrapped, IsOk());
  ASSERT_THAT(store_->Flush(), IsOk());
  // Control: before the shred the wrapped key is in the files.
  EXPECT_FALSE(testing::FilesContaining(store_->path(), *wrapped).empty());

  ASSERT_THAT(keyring_->Shred(kAgency, 1), IsOk());
  EXPECT_THAT(keyring_->Shred(kAgency, 1), IsOk());  // idempotent
  EXPECT_THAT(keyring_->AgencyAead(kAgency, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "key version 1 of agency bup-oslo was shredded"));
  EXPECT_THAT(keyring_->AgencyAead(kAgency, 2), IsOk());
  EXPECT_THAT(*keyring_->ListVersions(kAgency),
              ElementsAre(KeyVersionInfo{1, true}, KeyVersionInfo{2, false}));
  EXPECT_THAT(testing::FilesContaining(store_->path(), *wrapped), ElementsAre());

  // A fresh keyring (no cache) says the same.
  auto fresh = Keyring::Create(SecretBytes(std::string(32, '\x07')), store_.get());
  ASSERT_THAT(fresh, IsOk());
  EXPECT_THAT((*fresh)->AgencyAead(kAgency, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "key version 1 of agency bup-oslo was shredded"));
  EXPECT_THAT(keyring_->Shred(kAgency, 7),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does not exist")));
}

TEST_F(KeyringTest, ShreddingTheCurrentVersionBlocksWritesUntilRotation) {
  ASSERT_THAT(keyring_->EnsureAgencyKey(kAgency), IsOk());
  ASSERT_THAT(keyring_->Shred(kAgency, 1), IsOk());
  EXPECT_THAT(keyring_->CurrentAgencyAead(kAgency),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("current key version 1 of agency bup-oslo was shredded")));
  EXPECT_EQ(*keyring_->EnsureAgencyKey(kAgency), 1u);  // does not silently replace it
  EXPECT_EQ(*keyring_->Rotate(kAgency), 2u);
  auto current = keyring_->CurrentAgencyAead(kAgency);
  ASSERT_THAT(current, IsOk());
  EXPECT_EQ(current->first, 2u);
}

}  // namespace
}  // namespace budstikke::storage
