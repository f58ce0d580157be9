// Corruption (issue 20, build point 3): a flipped byte in an SST, in the WAL,
// in a value or in a stored Merkle tree node is detected -- DATA_LOSS on the
// read, or Store::Open refusing with a message that names the file -- and is
// never served as data. Real RocksDB files on disk; the bytes are flipped in
// the files themselves (SST, WAL) or written with a raw Put (value, tree node:
// what RocksDB's own checksums cannot see).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/merkle_log.h"
#include "storage/secret_bytes.h"
#include "storage/status_matchers.h"
#include "storage/store.h"
#include "storage/test_util.h"
#include "storage/testing/power_loss_fs.h"
#include "tlog/tree.h"

namespace budstikke::storage {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::AllOf;
using ::testing::EndsWith;
using testing::FileSize;
using testing::FlipByte;
using ::testing::HasSubstr;
using testing::PowerLossFileSystem;
using testing::ReadWholeFile;
using ::testing::StartsWith;
using testing::TempDir;

constexpr char kCf[] = "records";
constexpr int kRecords = 200;

std::string Key(int i) { return absl::StrFormat("k%04d", i); }
// Distinct, incompressible enough that every data block holds real bytes.
std::string Value(int i) {
  return absl::StrFormat("value-%04d-%s", i, std::string(180, 'a' + i % 26));
}

// Files of `dir` (not recursive) whose name ends with `suffix`, sorted.
std::vector<std::string> FilesEndingWith(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Store::Options StoreOptions() {
  Store::Options o;
  o.column_families = {kCf};
  o.sync_writes = true;
  return o;
}

void WriteRecords(Store* store) {
  for (int i = 0; i < kRecords; ++i) ASSERT_THAT(store->Put(kCf, Key(i), Value(i)), IsOk());
}

// Each of the first `count` records either reads back exactly or is
// DATA_LOSS; never other bytes, never missing. Returns how many were DATA_LOSS.
int CheckNothingWrongIsServed(const Store& store, int count = kRecords) {
  int data_loss = 0;
  for (int i = 0; i < count; ++i) {
    auto got = store.Get(kCf, Key(i));
    if (got.ok()) {
      EXPECT_EQ(*got, Value(i)) << Key(i);
    } else {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
      ++data_loss;
    }
  }
  return data_loss;
}

// ---- SST files ----

// A data dir whose records are all in one SST (flushed, WAL empty).
class SstCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(dir_.path(), StoreOptions());
    ASSERT_THAT(s, IsOk());
    WriteRecords(s->get());
    ASSERT_THAT((*s)->Flush(), IsOk());
    s->reset();
    std::vector<std::string> ssts = FilesEndingWith(dir_.path(), ".sst");
    ASSERT_EQ(ssts.size(), 1u);
    sst_ = ssts[0];
  }

  TempDir dir_;
  std::string sst_;
};

TEST_F(SstCorruptionTest, FlipInADataBlockIsDataLossNamingTheFile) {
  // The first data block starts at offset 0 and holds the first keys.
  FlipByte(sst_, 100);
  auto s = Store::Open(dir_.path(), StoreOptions());
  ASSERT_THAT(s, IsOk());  // data blocks are read on demand
  EXPECT_THAT((*s)->Get(kCf, Key(0)),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("block checksum mismatch"), HasSubstr(sst_))));
  // What the server prints when such a read stops its start.
  EXPECT_THAT(WithCorruptionAdvice((*s)->Get(kCf, Key(0)).status()),
              AllOf(StartsWith("get: Corruption: block checksum mismatch: "),
                    EndsWith("; the data dir is damaged: restore the data dir from a backup "
                             "(docs/OPERATIONS.md, \"Corruption\")")));
  auto multi = (*s)->MultiGet(kCf, {Key(0), Key(1)});
  for (const auto& m : multi)
    EXPECT_THAT(m, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(sst_)));
  std::unique_ptr<Iterator> it = (*s)->Scan(kCf, "");
  int served = 0;
  for (; it->Valid(); it->Next()) ++served;
  EXPECT_EQ(served, 0);
  EXPECT_THAT(it->status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(sst_)));
  // Keys in the other data blocks still read back exactly; none reads wrong.
  const int lost = CheckNothingWrongIsServed(**s);
  EXPECT_GT(lost, 0);
  EXPECT_LT(lost, kRecords);
}

TEST(CorruptionAdviceTest, OnlyDamagedFilesGetIt) {
  EXPECT_EQ(WithCorruptionAdvice(absl::DataLossError("get: Corruption: bad block")),
            "get: Corruption: bad block; the data dir is damaged: restore the data dir from a "
            "backup (docs/OPERATIONS.md, \"Corruption\")");
  const std::string once = WithCorruptionAdvice(absl::DataLossError("x: Corruption: y"));
  EXPECT_EQ(WithCorruptionAdvice(absl::DataLossError(once)), once);
  EXPECT_EQ(WithCorruptionAdvice(absl::DataLossError("stored audit checkpoint does not verify")),
            "stored audit checkpoint does not verify");
  EXPECT_EQ(WithCorruptionAdvice(absl::UnavailableError("x: Corruption: y")), "x: Corruption: y");
}

TEST_F(SstCorruptionTest, FlipInTheFooterRefusesToOpenNamingTheFile) {
  // The last bytes are the footer (magic number); then the index and filter
  // blocks, read when the table is opened.
  FlipByte(sst_, FileSize(sst_) - 1);
  auto s = Store::Open(dir_.path(), StoreOptions());
  EXPECT_THAT(
      s, StatusIs(absl::StatusCode::kDataLoss,
                  AllOf(StartsWith(absl::StrCat("open database ", dir_.path(),
                                                ": Corruption: Bad table magic number: expected ")),
                        HasSubstr(absl::StrCat(" in ", sst_, " in file ")),
                        EndsWith("; the data dir is damaged: restore the data dir from a "
                                 "backup (docs/OPERATIONS.md, \"Corruption\")"))));
}

TEST_F(SstCorruptionTest, EveryFlipIsDetectedOrHarmless) {
  // One flip at a time over a spread of offsets in the whole file: the store
  // either refuses to open naming the file or serves each record exactly or
  // as DATA_LOSS. (One offset lands in the properties block, which RocksDB
  // reports against the MANIFEST; Store::Open then names the table itself.)
  const std::string pristine = ReadWholeFile(sst_);
  const uint64_t size = pristine.size();
  int refused = 0, data_loss = 0;
  for (uint64_t offset = 7; offset < size; offset += size / 37) {
    {
      std::ofstream out(sst_, std::ios::binary | std::ios::trunc);
      out << pristine;
    }
    FlipByte(sst_, offset);
    auto s = Store::Open(dir_.path(), StoreOptions());
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << offset << ": " << s.status();
      EXPECT_THAT(std::string(s.status().message()), HasSubstr(sst_)) << offset;
      ++refused;
      continue;
    }
    if (CheckNothingWrongIsServed(**s) > 0) ++data_loss;
  }
  EXPECT_GT(refused + data_loss, 0);
}

// ---- WAL ----

// A data dir as a crash leaves it: every record acknowledged (synced) and only
// in the WAL, never flushed.
class WalCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PowerLossFileSystem plfs;
    Store::Options o = StoreOptions();
    o.file_system = plfs.file_system();
    {
      auto s = Store::Open(path_, o);
      ASSERT_THAT(s, IsOk());
      WriteRecords(s->get());
      plfs.CutPower();  // the close (and its flush) never reaches the disk
    }
    ASSERT_THAT(plfs.SimulatePowerLoss(), IsOk());
    ASSERT_TRUE(FilesEndingWith(path_, ".sst").empty());
    std::vector<std::string> wals = FilesEndingWith(path_, ".log");
    ASSERT_EQ(wals.size(), 1u);
    wal_ = wals[0];
    ASSERT_GT(FileSize(wal_), 200u * kRecords);
  }

  TempDir dir_;
  const std::string path_ = dir_.Sub("data dir");  // a space: the message names it whole
  std::string wal_;
};

TEST_F(WalCorruptionTest, IntactWalRecoversEveryRecord) {
  auto s = Store::Open(path_, StoreOptions());
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(CheckNothingWrongIsServed(**s), 0);
}

TEST_F(WalCorruptionTest, FlipInTheMiddleRefusesToOpenNamingTheFile) {
  // RocksDB's default recovery (kPointInTimeRecovery) would stop at the
  // damaged record and open without it and everything after it: acknowledged
  // writes gone without a word.
  FlipByte(wal_, FileSize(wal_) / 2);
  auto s = Store::Open(path_, StoreOptions());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                          absl::StrCat("open database ", path_, ": write-ahead log ", wal_,
                                       ": Corruption: checksum mismatch; the data dir is damaged: "
                                       "restore the data dir from a backup (docs/OPERATIONS.md, "
                                       "\"Corruption\")")));
  if (s.ok()) CheckNothingWrongIsServed(**s);
  // It stays refused: the failed open changed nothing.
  EXPECT_THAT(Store::Open(path_, StoreOptions()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(wal_)));
}

TEST_F(WalCorruptionTest, FlipInTheLastRecordRefusesToOpen) {
  FlipByte(wal_, FileSize(wal_) - 20);
  auto s = Store::Open(path_, StoreOptions());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(wal_)));
}

TEST_F(WalCorruptionTest, TornTailIsTolerated) {
  // A record cut short at the end of the file is a write that never
  // completed (power lost mid-append; it was not acknowledged): recovery
  // keeps everything before it.
  std::filesystem::resize_file(wal_, FileSize(wal_) - 30);
  auto s = Store::Open(path_, StoreOptions());
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(CheckNothingWrongIsServed(**s, kRecords - 1), 0);
  EXPECT_THAT((*s)->Get(kCf, Key(kRecords - 1)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));
}

TEST_F(WalCorruptionTest, ZeroedTailIsTolerated) {
  // Preallocated or never-written space at the end reads as zeros.
  {
    std::ofstream out(wal_, std::ios::binary | std::ios::app);
    out << std::string(4096, '\0');
  }
  auto s = Store::Open(path_, StoreOptions());
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(CheckNothingWrongIsServed(**s), 0);
  EXPECT_THAT((*s)->Get(kCf, Key(kRecords - 1)), IsOk());
}

// ---- Values ----

TEST(ValueCorruptionTest, FlippedEnvelopeIsDataLossNeverPlaintext) {
  // A value RocksDB stored intact but whose bytes are wrong (written wrong, or
  // flipped before its checksum was computed): RocksDB cannot see it; the
  // envelope's AEAD does. (envelope_test flips every byte of an envelope.)
  TempDir dir;
  Store::Options o = StoreOptions();
  for (const std::string& cf : Keyring::ColumnFamilies()) o.column_families.push_back(cf);
  auto store = Store::Open(dir.path(), o);
  ASSERT_THAT(store, IsOk());
  auto keyring = Keyring::Create(SecretBytes(std::string(32, '\x07')), store->get());
  ASSERT_THAT(keyring, IsOk());
  ASSERT_THAT((*keyring)->EnsureAgencyKey("agency-a"), IsOk());
  auto envelope = Envelope::Create(keyring->get());
  ASSERT_THAT(envelope, IsOk());
  auto sealed = (*envelope)->Seal(kCf, "r1", "the plaintext", {"agency-a"});
  ASSERT_THAT(sealed, IsOk());
  std::string flipped = *sealed;
  flipped[flipped.size() - 3] ^= 0x01;
  ASSERT_THAT((*store)->Put(kCf, "r1", flipped), IsOk());
  auto stored = (*store)->Get(kCf, "r1");
  ASSERT_THAT(stored, IsOk());
  EXPECT_THAT((*envelope)->Open(kCf, "r1", *stored, "agency-a"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not authenticate")));
}

// ---- Stored Merkle tree nodes and leaves ----

class TreeCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Store::Options o;
    o.column_families = MerkleLog::ColumnFamilies();
    o.sync_writes = true;
    auto s = Store::Open(dir_.path(), o);
    ASSERT_THAT(s, IsOk());
    store_ = *std::move(s);
    Reopen();
    std::vector<std::string> leaves;
    for (int i = 0; i < 8; ++i) leaves.push_back(absl::StrCat("leaf-", i));
    WriteBatch batch;
    ASSERT_THAT(log_->PrepareAppend(leaves, &batch), IsOk());
    ASSERT_THAT(store_->Write(std::move(batch)), IsOk());
    log_->Commit();
  }

  void Reopen() {
    log_.reset();
    MerkleLog::Options lo;
    lo.cache_min_level = 2;  // levels 0 and 1 are read from the store
    auto l = MerkleLog::Open(store_.get(), lo);
    ASSERT_THAT(l, IsOk());
    log_ = *std::move(l);
  }

  // Flips one bit of the stored value of `key` in `cf` with a raw Put.
  void FlipStored(const std::string& cf, const std::string& key) {
    auto v = store_->Get(cf, key);
    ASSERT_THAT(v, IsOk());
    std::string flipped = *v;
    flipped[0] ^= 0x01;
    ASSERT_THAT(store_->Put(cf, key, flipped), IsOk());
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<MerkleLog> log_;
};

TEST_F(TreeCorruptionTest, FlippedLeafDataIsDataLoss) {
  FlipStored("audit_leaves", MerkleLog::LeafKey(3));
  EXPECT_THAT(log_->LeafData(3),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit event 3: does not match its stored leaf hash (corrupt data dir: "
                       "restore it from a backup)"));
  EXPECT_THAT(log_->LeafData(std::vector<uint64_t>{2, 3}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("audit event 3: does not match")));
  EXPECT_THAT(log_->LeafData(2), IsOk());
}

TEST_F(TreeCorruptionTest, FlippedLeafHashIsDataLoss) {
  FlipStored("audit_tree", MerkleLog::NodeKey(0, 5));
  EXPECT_THAT(log_->LeafData(5),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("audit event 5: does not match")));
  // The proofs that carry it no longer lead to the root.
  EXPECT_THAT(log_->InclusionProof(4, 8),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("inclusion proof does not lead to the checkpoint root")));
  EXPECT_THAT(log_->InclusionProofs({4}, 8),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("inclusion proof does not lead to the checkpoint root")));
}

TEST_F(TreeCorruptionTest, FlippedInnerNodeIsDataLossWhereARootIsBuiltFromIt) {
  auto before = log_->InclusionProof(2, 8);
  ASSERT_THAT(before, IsOk());
  FlipStored("audit_tree", MerkleLog::NodeKey(1, 0));  // hash of leaves 0 and 1
  // Proofs rebuild the tile of leaves 0..3 from its leaf hashes: not served.
  auto after = log_->InclusionProof(2, 8);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(*after, *before);
  // The root of a tree of 3 is built from it: proofs at that size fail.
  EXPECT_THAT(log_->InclusionProof(2, 3),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("inclusion proof does not lead to the checkpoint root")));
}

}  // namespace
}  // namespace budstikke::storage
