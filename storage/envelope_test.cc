#include "storage/envelope.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
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
    Store::Options options;
    options.column_families = cfs;
    auto s = Store::Open(dir_.Sub("db"), options);
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
    EXPECT_EQ(sealed[0], '\x03');
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
  EXPECT_THAT(*Envelope::Readers(Seal("k", "x", {kA, kA})), ElementsAre(Envelope::Reader{kA, 1}));
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
  l.b_name_end = l.b_name_begin + 9;       // "agency-bb"
  l.content = l.b_name_end + 4 + 60 + 28;  // then the header tag
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
        EXPECT_THAT(opened.status().code(),
                    AnyOf(absl::StatusCode::kDataLoss, absl::StatusCode::kPermissionDenied))
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
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("")))
        << n;
  }
  std::string future = sealed;
  future[0] = 4;
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", future, kA),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown format version 4")));
  // An agency id that no agency can have is malformed, not a lookup error.
  std::string bad_name = sealed;
  bad_name[l.a_name_begin] = '/';
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", bad_name, kB),
              StatusIs(absl::StatusCode::kDataLoss, "malformed envelope: bad agency id"));
  // A version-3 envelope relabelled as version 1 or 2 does not authenticate.
  for (char old_format : {'\x01', '\x02'}) {
    std::string relabelled = sealed;
    relabelled[0] = old_format;
    EXPECT_THAT(envelope_->Open(kCf, "rec-1", relabelled, kA),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not authenticate")));
  }
}

TEST_F(EnvelopeTest, WrappedKeySwappedBetweenRecordsIsDataLoss) {
  const std::string r1 = Seal("rec-1", "first");
  envelope_->ForgetDataKeys();  // rec-2 gets another data key
  const std::string r2 = Seal("rec-2", "second");
  const Layout l = LayoutOf();
  // Agency A's wrapped data key sits at [a_name_end + 4, a_name_end + 64).
  ASSERT_NE(r1.substr(l.a_name_end + 4, 60), r2.substr(l.a_name_end + 4, 60));
  std::string swapped = r1;
  swapped.replace(l.a_name_end + 4, 60, r2.substr(l.a_name_end + 4, 60));
  EXPECT_THAT(
      envelope_->Open(kCf, "rec-1", swapped, kA),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("envelope header does not authenticate")));
  // The whole header of rec-2 with the content of rec-1.
  std::string spliced = r2.substr(0, l.content) + r1.substr(l.content);
  EXPECT_THAT(
      envelope_->Open(kCf, "rec-2", spliced, kB),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("envelope content does not authenticate")));
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
  // Opened once, so its data key is cached: the shred must still take effect.
  ASSERT_EQ(*envelope_->Open(kCf, "rec-1", old_value, kA), "written under v1");
  ASSERT_THAT(keyring_->Shred(kA, 1), IsOk());
  EXPECT_THAT(envelope_->Open(kCf, "rec-1", old_value, kA),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "key version 1 of agency agency-a was shredded"));
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", old_value, kB), "written under v1");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-2", new_value, kA), "written under v2");
}

TEST_F(EnvelopeTest, DataKeyIsReusedWithFreshNoncesThenReplaced) {
  const Layout l = LayoutOf();
  const std::string first = Seal("rec-1", "same text");
  const std::string second = Seal("rec-2", "same text");
  // One data key: the same header, but another nonce and ciphertext.
  EXPECT_EQ(first.substr(0, l.content), second.substr(0, l.content));
  EXPECT_NE(first.substr(l.content, 12), second.substr(l.content, 12));
  EXPECT_NE(first.substr(l.content + 12), second.substr(l.content + 12));
  EXPECT_EQ(*envelope_->Open(kCf, "rec-2", second, kB), "same text");
  // Another reader set has its own data key.
  const std::string only_a = Seal("rec-3", "x", {kA});
  EXPECT_NE(only_a.substr(3 + 8 + 4, 60), first.substr(3 + 8 + 4, 60));
  // After kMaxDataKeyUses values (two used above) the next one gets a new
  // key; every value under the key had its own nonce.
  std::set<std::string> nonces = {first.substr(l.content, 12), second.substr(l.content, 12)};
  for (uint32_t i = 2; i < Envelope::kMaxDataKeyUses; ++i) {
    auto sealed = envelope_->Seal(kCf, "rec-n", "y", kReaders);
    ASSERT_THAT(sealed, IsOk());
    ASSERT_EQ(sealed->substr(0, l.content), first.substr(0, l.content)) << i;
    nonces.insert(sealed->substr(l.content, 12));
  }
  EXPECT_EQ(nonces.size(), Envelope::kMaxDataKeyUses);
  const std::string next = Seal("rec-4", "after the limit");
  EXPECT_NE(next.substr(0, l.content), first.substr(0, l.content));
  EXPECT_EQ(*envelope_->Open(kCf, "rec-4", next, kA), "after the limit");
}

// More threads than shards seal concurrently while agency A's key is rotated
// twice: every value opens for both readers, no nonce repeats under a data
// key, and the values sealed after the last rotation use version 3.
TEST_F(EnvelopeTest, ConcurrentSealsAcrossRotations) {
  constexpr int kThreads = 20;
  constexpr int kPerThread = 300;
  std::vector<std::vector<std::string>> sealed(kThreads);
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto s = envelope_->Seal(kCf, "rec-" + std::to_string(t) + "-" + std::to_string(i),
                                 "value " + std::to_string(i), kReaders);
        ASSERT_THAT(s, IsOk());
        sealed[t].push_back(*std::move(s));
      }
      done.fetch_add(1);
    });
  }
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  ASSERT_EQ(*keyring_->Rotate(kA), 3u);
  for (auto& t : threads) t.join();
  ASSERT_EQ(done.load(), kThreads);
  const Layout l = LayoutOf();
  std::set<std::string> header_and_nonce;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string& s = sealed[t][i];
      const std::string key = "rec-" + std::to_string(t) + "-" + std::to_string(i);
      EXPECT_EQ(*envelope_->Open(kCf, key, s, kA), "value " + std::to_string(i));
      EXPECT_EQ(*envelope_->Open(kCf, key, s, kB), "value " + std::to_string(i));
      EXPECT_TRUE(header_and_nonce.insert(s.substr(0, l.content + 12)).second) << key;
    }
  }
  const std::string after = Seal("rec-after", "after");
  EXPECT_THAT(*Envelope::Readers(after),
              ElementsAre(Envelope::Reader{kA, 3}, Envelope::Reader{kB, 1}));
}

TEST_F(EnvelopeTest, ShreddingTheCurrentVersionStopsCachedDataKeys) {
  Seal("rec-1", "cached now");
  ASSERT_THAT(keyring_->Shred(kA, 1), IsOk());
  EXPECT_THAT(envelope_->Seal(kCf, "rec-2", "x", kReaders),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("current key version 1 of agency agency-a was shredded")));
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  const std::string after = Seal("rec-3", "under v2");
  EXPECT_THAT(*Envelope::Readers(after),
              ElementsAre(Envelope::Reader{kA, 2}, Envelope::Reader{kB, 1}));
  EXPECT_EQ(*envelope_->Open(kCf, "rec-3", after, kA), "under v2");
}

// Builds a format-1 envelope (one content key per value, wrapped keys bound
// to the record) by hand, as the old Seal wrote it, for readers A and B.
std::string SealVersion1(const Keyring& keyring, std::string_view record_key,
                         std::string_view plaintext) {
  auto lp = [](std::string_view x, std::string* out) {
    const uint32_t n = static_cast<uint32_t>(x.size());
    const char b[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
    out->append(b, 4);
    out->append(x);
  };
  const std::string content_key(32, '\x5a');
  const std::string nonce(12, '\x01');
  std::string base;
  lp(kCf, &base);
  lp(record_key, &base);
  std::string env("\x01\x02", 2);
  for (const char* agency : {kA, kB}) {
    auto current = keyring.CurrentAgencyAead(agency);
    EXPECT_THAT(current, IsOk());
    if (!current.ok()) return {};
    env.push_back(static_cast<char>(std::string_view(agency).size()));
    env.append(agency);
    env.append(std::string("\0\0\0\x01", 4));
    std::string aad = std::string("budstikke envelope v1 key") + '\0' + base;
    lp(agency, &aad);
    aad.append(std::string("\0\0\0\x01", 4));
    EXPECT_THAT(current->second->EncryptAppend(content_key, aad, &env), IsOk());
  }
  const std::string content_aad = std::string("budstikke envelope v1 content") + '\0' + base;
  const std::string header = env;  // the content's associated data ends with it
  EXPECT_THAT(aead_internal::SealWithKey(content_key, nonce, plaintext, content_aad, &env, header),
              IsOk());
  return env;
}

// Builds a format-2 envelope (a data key wrapped per reader, the content bound
// to the whole header) by hand, as Seal wrote it before format 3.
std::string SealVersion2(const Keyring& keyring, std::string_view record_key,
                         std::string_view plaintext) {
  auto lp = [](std::string_view x, std::string* out) {
    const uint32_t n = static_cast<uint32_t>(x.size());
    const char b[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
    out->append(b, 4);
    out->append(x);
  };
  const std::string data_key(32, '\x3c');
  std::string env("\x02\x02", 2);
  for (const char* agency : {kA, kB}) {
    auto current = keyring.CurrentAgencyAead(agency);
    EXPECT_THAT(current, IsOk());
    if (!current.ok()) return {};
    env.push_back(static_cast<char>(std::string_view(agency).size()));
    env.append(agency);
    env.append(std::string("\0\0\0\x01", 4));
    std::string aad = std::string("budstikke envelope v2 key") + '\0';
    lp(agency, &aad);
    aad.append(std::string("\0\0\0\x01", 4));
    EXPECT_THAT(current->second->EncryptAppend(data_key, aad, &env), IsOk());
  }
  std::string content_aad = std::string("budstikke envelope v2 content") + '\0';
  lp(kCf, &content_aad);
  lp(record_key, &content_aad);
  const std::string header = env;
  EXPECT_THAT(aead_internal::SealWithKey(data_key, std::string(12, '\x02'), plaintext, content_aad,
                                         &env, header),
              IsOk());
  return env;
}

// Format 2 (the values stored before format 3) is read, and the rewrap
// upgrades it: B's entry kept as it is, the content encrypted once more.
TEST_F(EnvelopeTest, ReadsAndRewrapsFormatVersion2) {
  const std::string env = SealVersion2(*keyring_, "rec-1", "written by v2");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", env, kA), "written by v2");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", env, kB), "written by v2");
  EXPECT_THAT(envelope_->Open(kCf, "rec-2", env, kA),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  auto rewrapped = Envelope::Rewrap(*keyring_, kCf, "rec-1", env, kA);
  ASSERT_THAT(rewrapped, IsOk());
  EXPECT_EQ((*rewrapped)[0], '\x03');
  const Layout l = LayoutOf();
  EXPECT_EQ(rewrapped->substr(l.b_len, 1 + 9 + 4 + 60), env.substr(l.b_len, 1 + 9 + 4 + 60));
  EXPECT_THAT(*Envelope::Readers(*rewrapped),
              ElementsAre(Envelope::Reader{kA, 2}, Envelope::Reader{kB, 1}));
  ASSERT_THAT(keyring_->Shred(kA, 1), IsOk());
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", *rewrapped, kA), "written by v2");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", *rewrapped, kB), "written by v2");
  EXPECT_THAT(envelope_->Open(kCf, "rec-2", *rewrapped, kB),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
  // A tampered format-2 value is not upgraded.
  std::string tampered = SealVersion2(*keyring_, "rec-3", "x");
  tampered.back() ^= 0x01;  // the content's tag
  ASSERT_EQ(*keyring_->Rotate(kB), 2u);
  EXPECT_THAT(Envelope::Rewrap(*keyring_, kCf, "rec-3", tampered, kB),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not authenticate")));
}

TEST_F(EnvelopeTest, ReadsFormatVersion1) {
  const std::string env = SealVersion1(*keyring_, "rec-1", "written by v1");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", env, kA), "written by v1");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", env, kB), "written by v1");
  EXPECT_THAT(envelope_->Open(kCf, "rec-2", env, kA),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
}

// Rewrap moves only agency A's entry; the content bytes stay; the value
// still opens for both readers after A's old version is shredded.
TEST_F(EnvelopeTest, RewrapMovesOneEntryAndKeepsTheContent) {
  const std::string old_value = Seal("rec-1", "written under v1");
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  auto rewrapped = Envelope::Rewrap(*keyring_, kCf, "rec-1", old_value, kA);
  ASSERT_THAT(rewrapped, IsOk());
  const Layout l = LayoutOf();
  EXPECT_EQ(rewrapped->size(), old_value.size());
  EXPECT_EQ(rewrapped->substr(l.content), old_value.substr(l.content));
  EXPECT_EQ(rewrapped->substr(l.b_len, 1 + 9 + 4 + 60), old_value.substr(l.b_len, 1 + 9 + 4 + 60));
  EXPECT_NE(rewrapped->substr(0, l.content), old_value.substr(0, l.content));
  EXPECT_THAT(*Envelope::Readers(*rewrapped),
              ElementsAre(Envelope::Reader{kA, 2}, Envelope::Reader{kB, 1}));
  ASSERT_THAT(keyring_->Shred(kA, 1), IsOk());
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", *rewrapped, kA), "written under v1");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", *rewrapped, kB), "written under v1");
  // Still bound to its record and column family.
  EXPECT_THAT(envelope_->Open(kCf, "rec-2", *rewrapped, kA),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
  EXPECT_THAT(envelope_->Open(kOtherCf, "rec-1", *rewrapped, kB),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
  // At the current version already: the same bytes.
  EXPECT_EQ(*Envelope::Rewrap(*keyring_, kCf, "rec-1", *rewrapped, kA), *rewrapped);
}

TEST_F(EnvelopeTest, RewrapRefusesTamperedAndUnmovableValues) {
  const std::string value = Seal("rec-1", "x");
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  const Layout l = LayoutOf();
  std::string tampered = value;
  tampered[l.b_name_end + 10] ^= 0x01;  // inside B's wrapped key
  EXPECT_THAT(Envelope::Rewrap(*keyring_, kCf, "rec-1", tampered, kA),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("header does not authenticate")));
  EXPECT_THAT(Envelope::Rewrap(*keyring_, kCf, "rec-1", value, "agency-c"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "agency agency-c is not a reader of this record"));
  ASSERT_THAT(keyring_->Shred(kA, 1), IsOk());
  EXPECT_THAT(Envelope::Rewrap(*keyring_, kCf, "rec-1", value, kA),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "key version 1 of agency agency-a was shredded"));
}

// A format-1 value becomes a format-3 one (its content encrypted once more),
// readable by both readers and still bound to its record.
TEST_F(EnvelopeTest, RewrapUpgradesFormatVersion1) {
  const std::string env = SealVersion1(*keyring_, "rec-1", "written by v1");
  ASSERT_EQ(*keyring_->Rotate(kA), 2u);
  auto rewrapped = Envelope::Rewrap(*keyring_, kCf, "rec-1", env, kA);
  ASSERT_THAT(rewrapped, IsOk());
  EXPECT_EQ((*rewrapped)[0], '\x03');
  EXPECT_THAT(*Envelope::Readers(*rewrapped),
              ElementsAre(Envelope::Reader{kA, 2}, Envelope::Reader{kB, 1}));
  ASSERT_THAT(keyring_->Shred(kA, 1), IsOk());
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", *rewrapped, kA), "written by v1");
  EXPECT_EQ(*envelope_->Open(kCf, "rec-1", *rewrapped, kB), "written by v1");
  EXPECT_THAT(envelope_->Open(kCf, "rec-2", *rewrapped, kB),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("moved, swapped or tampered")));
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
