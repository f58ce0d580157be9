#include "storage/envelope.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"

namespace budstikke::storage {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

constexpr char kCf[] = "messages";
constexpr char kOtherCf[] = "referrals";
constexpr char kA[] = "agency-a";
constexpr char kB[] = "agency-bb";
const std::vector<std::string> kReaders = {kA, kB};

class EnvelopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> cfs = Keyring::ColumnFamilies();
    cfs.push_back(kCf);
    cfs.push_back(kOtherCf);
    auto s = Store::Open(dir_.Sub("db"), Store::Options{cfs});
    ASSERT_THAT(s, IsOk());
    store_ = *std::move(s);
    auto k = Keyring::Create(SecretBytes(std::string(32, '\x07')), store_.get());
    ASSERT_THAT(k, IsOk());
    keyring_ = *std::move(k);
    ASSERT_THAT(keyring_->EnsureAgencyKey(kA), IsOk());
    ASSERT_THAT(keyring_->EnsureAgencyKey(kB), IsOk());
    auto e = Envelope::Create(keyring_.get());
    ASSERT_THAT(e, IsOk());
    envelope_ = *std::move(e);
  }

  std::string Seal(std::string_view key, std::string_view pt,
                   const std::vector<std::string>& readers = kReaders) {
    auto sealed = envelope_->Seal(kCf, key, pt, readers);
    EXPECT_THAT(sealed, IsOk());
    return sealed.ok() ? *sealed : std::string();
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Keyring> keyring_;
  std::unique_ptr<Envelope> envelope_;
};

TEST_F(EnvelopeTest, RoundTripForEveryReader) {
  for (std::string pt : {std::string(), std::string("hei"), std::string(5000, 'x')}) {
    std::string sealed = Seal("rec-1", pt);
    EXPECT_EQ(sealed[0], '\x01');
    EXPECT_EQ(*envelope_->Open(kCf, "rec-1", sealed, kA), pt);
    EXPECT_EQ(*envelope_->Open(kCf, "rec-1", sealed, kB), pt);
  }
  EXPECT_THAT(*Envelope::Readers(Seal("rec-1", "x")),
              ElementsAre(Envelope::Reader{kA, 1}, Envelope::Reader{kB, 1}));
}

TEST_F(EnvelopeTest, NonReaderIsPermissionDenied) {
  ASSERT_THAT(keyring_->EnsureAgencyKey("agency-c"), IsOk());
  std::string sealed = Seal("rec-1", "secret", {kA});
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", sealed, "agency-c"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "agency agency-c is not a reader of this record"));
}

TEST_F(EnvelopeTest, SealErrors) {
  EXPECT_THAT(envelope_->Seal(kCf, "k", "x", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a reader")));
  EXPECT_THAT(envelope_->Seal(kCf, "k", "x", {kA, "no-key-agency"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("agency no-key-agency has no key")));
  EXPECT_THAT(envelope_->Seal(kCf, "k", "x", {"bad/agency"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency id")));
  // Duplicates are sealed once.
  EXPECT_THAT(*Envelope::Readers(Seal("k", "x", {kA, kA})),
              ElementsAre(Envelope::Reader{kA, 1}));
}

TEST_F(EnvelopeTest, MovedToAnotherRecordOrColumnFamilyIsDataLoss) {
  std::string sealed = Seal("rec-1", "secret");
  for (const char* agency : {kA, kB}) {
    EXPECT_THAT(envelope_->Open(kCf, "rec-2", sealed, agency),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
    EXPECT_THAT(envelope_->Open(kOtherCf, "rec-1", sealed, agency),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
  }
}

// Offsets of the fields of a 2-reader envelope (see the format in envelope.h).
struct Layout {
  size_t a_name_begin, a_name_end, b_len, b_name_begin, b_name_end, content;
};
Layout LayoutOf() {
  Layout l;
  l.a_name_begin = 3;
  l.a_name_end = 3 + 8;  // "agency-a"
  l.b_len = l.a_name_end + 4 + 60;
  l.b_name_begin = l.b_len + 1;
  l.b_name_end = l.b_name_begin + 9;  // "agency-bb"
  l.content = l.b_name_end + 4 + 60;
  return l;
}

TEST_F(EnvelopeTest, EveryTamperedByteIsRefused) {
  const std::string sealed = Seal("rec-1", "small value");
  const Layout l = LayoutOf();
  ASSERT_EQ(sealed.size(), l.content + 12 + 11 + 16);
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    // Bytes that change how the header parses (reader count, name lengths,
    // names) may make an agency look like a non-reader; every other byte is
    // DATA_LOSS for both readers. No byte ever yields plaintext.
    const bool structural = i == 1 || i == 2 || i == l.b_len ||
                            (i >= l.a_name_begin && i < l.a_name_end) ||
                            (i >= l.b_name_begin && i < l.b_name_end);
    for (const char* agency : {kA, kB}) {
      auto opened = envelope_->Open(kCf, "rec-1", bad, agency);
      if (structural) {
        EXPECT_THAT(opened.status().code(), AnyOf(absl::StatusCode::kDataLoss,
                                                  absl::StatusCode::kPermissionDenied))
            << "byte " << i << " agency " << agency << ": " << opened.status();
      } else {
        EXPECT_THAT(opened, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("")))
            << "byte " << i << " agency " << agency;
      }
    }
  }
  // Truncations are DATA_LOSS too.
  for (size_t n : {size_t{0}, size_t{1}, size_t{40}, l.content, sealed.size() - 1}) {
    EXPECT_THAT(envelope_->Open(kCf, "rec-1", sealed.substr(0, n), kA),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(""))) << n;
  }
  std::string future = sealed;
  future[0] = 2;
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", future, kA),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown format version 2")));
}

TEST_F(EnvelopeTest, WrappedKeySwappedBetweenRecordsIsDataLoss) {
  const std::string r1 = Seal("rec-1", "first");
  const std::string r2 = Seal("rec-2", "second");
  const Layout l = LayoutOf();
  // Agency A's wrapped content key sits at [a_name_end + 4, a_name_end + 64).
  std::string swapped = r1;
  swapped.replace(l.a_name_end + 4, 60, r2.substr(l.a_name_end + 4, 60));
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", swapped, kA),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("envelope key of agency agency-a does not authenticate")));
  // The whole header of rec-2 with the content of rec-1.
  std::string spliced = r2.substr(0, l.content) + r1.substr(l.content);
  EXPECT_THAT(envelope_->Open(kCf, "rec-2", spliced, kB),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("envelope content does not authenticate")));
}

TEST_F(EnvelopeTest, RotationKeepsOldValuesReadableAndUsesTheNewVersion) {
  const std::string old_value = Seal("rec-1", "written under v1");
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  const std::string new_value = Seal("rec-2", "written under v2");
  EXPECT_THAT(*Envelope::Readers(new_value),
              ElementsAre(Envelope::Reader{kA, 2}, Envelope::Reader{kB, 1}));
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", old_value, kA), "written under v1");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-2", new_value, kA), "written under v2");
}

TEST_F(EnvelopeTest, ShreddedVersionMakesOnlyItsValuesUnreadable) {
  const std::string old_value = Seal("rec-1", "written under v1");
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  const std::string new_value = Seal("rec-2", "written under v2");
  ASSERT_THAT(keyring_->Shred(kA, 1), IsOk());
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", old_value, kA),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "key version 1 of agency agency-a was shredded"));
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", old_value, kB), "written under v1");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-2", new_value, kA), "written under v2");
}

TEST_F(EnvelopeTest, UnknownKeyVersionIsDataLoss) {
  std::string sealed = Seal("rec-1", "x");
  const Layout l = LayoutOf();
  sealed[l.a_name_end + 3] = 9;  // version 1 -> 9, which does not exist
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", sealed, kA),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("key version 9 of agency agency-a, which does not exist")));
}

TEST_F(EnvelopeTest, PlaintextCanaryNeverReachesTheDataDirectory) {
  std::string canary;
  for (int i = 0; i < 64; ++i) canary += "CANARY-budstikke-7f3a9c ";
  const std::string control = "CONTROL-plaintext-b81e44";
  for (int i = 0; i < 20; ++i) {
    const std::string key = "rec-" + std::to_string(i);
    auto sealed = envelope_->Seal(kCf, key, canary, kReaders);
    ASSERT_THAT(sealed, IsOk());
    ASSERT_THAT(store_->Put(kCf, key, *sealed), IsOk());
  }
  // Control: a value written in the clear IS found by the same search.
  ASSERT_THAT(store_->Put(kOtherCf, "control", control), IsOk());

  // With the WAL only.
  EXPECT_FALSE(testing::FilesContaining(store_->path(), control).empty());
  EXPECT_THAT(testing::FilesContaining(store_->path(), "CANARY-budstikke"), ElementsAre());

  // After a flush (SST files, MANIFEST, OPTIONS), and with a new WAL written.
  ASSERT_THAT(store_->Flush(), IsOk());
  auto sealed = envelope_->Seal(kCf, "after-flush", canary, kReaders);
  ASSERT_THAT(sealed, IsOk());
  ASSERT_THAT(store_->Put(kCf, "after-flush", *sealed), IsOk());
  bool has_sst = false, has_log = false;
  for (const auto& name : testing::FileNames(store_->path())) {
    if (name.find(".sst") != std::string::npos) has_sst = true;
    if (name.find(".log") != std::string::npos) has_log = true;
  }
  EXPECT_TRUE(has_sst);
  EXPECT_TRUE(has_log);
  EXPECT_FALSE(testing::FilesContaining(store_->path(), control).empty());
  EXPECT_THAT(testing::FilesContaining(store_->path(), "CANARY-budstikke"), ElementsAre());

  // And the data is still readable.
  auto stored = store_->Get(kCf, "rec-3");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(*envelope_->Open(kCf, "rec-3", *stored, kB), canary);
}

}  // namespace
}  // namespace budstikke::storage
