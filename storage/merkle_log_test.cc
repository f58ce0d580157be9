#include "storage/merkle_log.h"

#include <openssl/sha.h>

#include <random>
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
using ::testing::HasSubstr;

// ---- An independent RFC 9162 verifier (not tlog's): written from the RFC
// text, hashing with OpenSSL directly. ----
using H = std::string;  // 32 raw bytes

H Sha(const std::string& s) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), out);
  return H(reinterpret_cast<char*>(out), sizeof out);
}
H Leaf(const std::string& d) { return Sha(std::string(1, '\0') + d); }
H Node(const H& l, const H& r) { return Sha(std::string(1, '\1') + l + r); }

// RFC 9162 §2.1.1 MTH over leaf hashes [lo, hi).
H Mth(const std::vector<H>& leaves, size_t lo, size_t hi) {
  if (hi == lo) return Sha("");
  if (hi - lo == 1) return leaves[lo];
  size_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return Node(Mth(leaves, lo, lo + k), Mth(leaves, lo + k, hi));
}

// RFC 9162 §2.1.3.2.
bool RfcVerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const H& hash,
                        const std::vector<H>& path, const H& root) {
  if (leaf_index >= tree_size) return false;
  uint64_t fn = leaf_index, sn = tree_size - 1;
  H r = hash;
  for (const H& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = Node(p, r);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

// RFC 9162 §2.1.4.2 (0 < first < second).
bool RfcVerifyConsistency(uint64_t first, uint64_t second, const H& first_hash,
                          const H& second_hash, std::vector<H> path) {
  if (path.empty()) return false;
  if ((first & (first - 1)) == 0) path.insert(path.begin(), first_hash);
  uint64_t fn = first - 1, sn = second - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  H fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const H& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = Node(c, fr);
      sr = Node(c, sr);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = Node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == first_hash && sr == second_hash && sn == 0;
}

H ToH(const tlog::Hash& h) { return H(reinterpret_cast<const char*>(h.data()), h.size()); }
std::vector<H> ToH(const std::vector<tlog::Hash>& v) {
  std::vector<H> out;
  for (const auto& h : v) out.push_back(ToH(h));
  return out;
}

class MerkleLogTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  void OpenStore(int cache_min_level = 4) {
    log_.reset();
    store_.reset();
    Store::Options o;
    o.column_families = MerkleLog::ColumnFamilies();
    auto s = Store::Open(dir_.Sub("db"), o);
    ASSERT_THAT(s.status(), IsOk());
    store_ = *std::move(s);
    MerkleLog::Options lo;
    lo.cache_min_level = cache_min_level;
    auto l = MerkleLog::Open(store_.get(), lo);
    ASSERT_THAT(l.status(), IsOk());
    log_ = *std::move(l);
  }

  // Appends leaves in batches of the given sizes (cycled) up to `n` leaves.
  void AppendUpTo(uint64_t n, const std::vector<int>& batch_sizes = {1, 3, 2, 7, 1, 16}) {
    size_t b = 0;
    while (log_->size() < n) {
      std::vector<std::string> leaves;
      const uint64_t take =
          std::min<uint64_t>(batch_sizes[b++ % batch_sizes.size()], n - log_->size());
      for (uint64_t i = 0; i < take; ++i) {
        std::string d = "event-" + std::to_string(log_->size() + i);
        leaves.push_back(d);
        leaf_hashes_.push_back(Leaf(d));
      }
      WriteBatch batch;
      ASSERT_THAT(log_->PrepareAppend(leaves, &batch).status(), IsOk());
      ASSERT_THAT(store_->Write(std::move(batch)), IsOk());
      log_->Commit();
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<MerkleLog> log_;
  std::vector<H> leaf_hashes_;
};

TEST_F(MerkleLogTest, EmptyLog) {
  EXPECT_EQ(log_->size(), 0u);
  auto root = log_->Root(0);
  ASSERT_THAT(root.status(), IsOk());
  EXPECT_EQ(ToH(*root), Sha(""));
  EXPECT_THAT(log_->LeafData(0).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no leaf 0")));
  EXPECT_THAT(log_->InclusionProof(0, 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the log size")));
  auto cp = log_->LatestCheckpoint();
  ASSERT_THAT(cp.status(), IsOk());
  EXPECT_EQ(*cp, "");
}

TEST_F(MerkleLogTest, InclusionAllLeavesSizes1To70) {
  AppendUpTo(70);
  for (uint64_t n = 1; n <= 70; ++n) {
    auto root = log_->Root(n);
    ASSERT_THAT(root.status(), IsOk());
    const H want_root = Mth(leaf_hashes_, 0, n);
    ASSERT_EQ(ToH(*root), want_root) << "size " << n;
    for (uint64_t i = 0; i < n; ++i) {
      auto proof = log_->InclusionProof(i, n);
      ASSERT_THAT(proof.status(), IsOk());
      EXPECT_TRUE(RfcVerifyInclusion(i, n, leaf_hashes_[i], ToH(*proof), want_root))
          << "leaf " << i << " size " << n;
      // A proof for the wrong leaf fails.
      if (n > 1) {
        EXPECT_FALSE(RfcVerifyInclusion(i, n, leaf_hashes_[(i + 1) % n], ToH(*proof), want_root));
      }
    }
  }
}

TEST_F(MerkleLogTest, ProofsFromTilesOfEveryHeight) {
  AppendUpTo(70);
  for (int h : {0, 1, 3, 6}) {
    OpenStore(h);
    for (uint64_t n = 1; n <= 70; ++n) {
      std::vector<uint64_t> all(n);
      for (uint64_t i = 0; i < n; ++i) all[i] = i;
      auto proofs = log_->InclusionProofs(all, n);
      ASSERT_THAT(proofs.status(), IsOk()) << "tiles of 2^" << h << ", size " << n;
      const H want_root = Mth(leaf_hashes_, 0, n);
      for (uint64_t i = 0; i < n; ++i) {
        EXPECT_TRUE(RfcVerifyInclusion(i, n, leaf_hashes_[i], ToH((*proofs)[i]), want_root))
            << "tiles of 2^" << h << ", leaf " << i << ", size " << n;
      }
    }
  }
}

TEST_F(MerkleLogTest, TilesLargerThan64LeavesAreRefused) {
  log_.reset();
  MerkleLog::Options lo;
  lo.cache_min_level = 7;
  EXPECT_THAT(MerkleLog::Open(store_.get(), lo).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "cache_min_level must be in [0, 6]"));
}

TEST_F(MerkleLogTest, InnerHashBelowTheCacheIsNeverInAProof) {
  AppendUpTo(40);
  std::vector<uint64_t> all(40);
  for (uint64_t i = 0; i < 40; ++i) all[i] = i;
  auto before = log_->InclusionProofs(all, 40);
  ASSERT_THAT(before.status(), IsOk());
  // (2, 3) is the hash of leaves 12..15: the tile 0..15 is rebuilt from its
  // leaf hashes for every proof, so a changed copy of it changes nothing.
  ASSERT_THAT(store_->Put(log_->tree_cf(), MerkleLog::NodeKey(2, 3), std::string(32, 'x')), IsOk());
  auto after = log_->InclusionProofs(all, 40);
  ASSERT_THAT(after.status(), IsOk());
  EXPECT_EQ(*after, *before);
  auto single = log_->InclusionProof(8, 40);
  ASSERT_THAT(single.status(), IsOk());
  EXPECT_EQ(*single, (*before)[8]);
  // Consistency proofs are built from the tiles too ((2, 3) is in the one
  // from 12 to 40 when it is read from the store).
  auto consistency = log_->ConsistencyProof(12, 40);
  ASSERT_THAT(consistency.status(), IsOk());
  EXPECT_TRUE(RfcVerifyConsistency(12, 40, Mth(leaf_hashes_, 0, 12), Mth(leaf_hashes_, 0, 40),
                                   ToH(*consistency)));
}

TEST_F(MerkleLogTest, ChangedHashUnderARootMakesProofsAtThatSizeDataLoss) {
  AppendUpTo(40);
  // (3, 4) is the hash of leaves 32..39, the last tile's first half: the
  // root of 40 is built from it, the proofs from the leaf hashes.
  ASSERT_THAT(store_->Put(log_->tree_cf(), MerkleLog::NodeKey(3, 4), std::string(32, 'x')), IsOk());
  EXPECT_THAT(log_->InclusionProof(3, 40).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit event 3: inclusion proof does not lead to the checkpoint root (a "
                       "stored hash of tree size 40 changed; corrupt data dir: restore it from a "
                       "backup)"));
  EXPECT_THAT(log_->ConsistencyProof(12, 40).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       "consistency proof from tree size 12 to 40 does not lead to their roots (a "
                       "stored hash changed; corrupt data dir: restore it from a backup)"));
  EXPECT_THAT(log_->InclusionProof(3, 32), IsOk());  // the root of 32 does not use it
  EXPECT_THAT(log_->ConsistencyProof(12, 32), IsOk());
}

TEST_F(MerkleLogTest, MissingLeafHashInATileIsDataLoss) {
  AppendUpTo(20);
  ASSERT_THAT(store_->Delete(log_->tree_cf(), MerkleLog::NodeKey(0, 5)), IsOk());
  const std::string want =
      "merkle log: no stored hash at level 0 index 5 (corrupt data dir: restore it from a backup)";
  EXPECT_THAT(log_->InclusionProof(2, 20).status(), StatusIs(absl::StatusCode::kDataLoss, want));
  EXPECT_THAT(log_->InclusionProofs({17, 2}, 20).status(),
              StatusIs(absl::StatusCode::kDataLoss, want));
  EXPECT_THAT(log_->InclusionProof(17, 20), IsOk());  // tile 16..19 is whole
  // The last leaf hash of the tree: the tile's range read runs off the end.
  ASSERT_THAT(store_->Delete(log_->tree_cf(), MerkleLog::NodeKey(0, 19)), IsOk());
  EXPECT_THAT(log_->InclusionProof(17, 20).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       "merkle log: no stored hash at level 0 index 19 (corrupt data dir: restore "
                       "it from a backup)"));
  EXPECT_THAT(log_->InclusionProof(17, 19), IsOk());  // a tree that ends before it
}

TEST_F(MerkleLogTest, BatchedProofsAndLeavesEqualSingleReads) {
  // Levels 0-1 from tiles, the rest cached; against proofs built from a
  // point read of every stored hash (tlog over the log's ReadHashes).
  OpenStore(/*cache_min_level=*/2);
  AppendUpTo(300);
  const uint64_t n = 297;
  const std::vector<uint64_t> indexes = {0, 1, 5, 5, 64, 128, 200, 296};
  auto proofs = log_->InclusionProofs(indexes, n);
  ASSERT_THAT(proofs.status(), IsOk());
  ASSERT_EQ(proofs->size(), indexes.size());
  const H want_root = Mth(leaf_hashes_, 0, n);
  for (size_t i = 0; i < indexes.size(); ++i) {
    auto single = log_->InclusionProof(indexes[i], n);
    ASSERT_THAT(single.status(), IsOk());
    EXPECT_EQ((*proofs)[i], *single) << "leaf " << indexes[i];
    auto from_stored = tlog::ProveInclusion(indexes[i], n, *log_);
    ASSERT_TRUE(from_stored.ok());
    EXPECT_EQ((*proofs)[i], *from_stored) << "leaf " << indexes[i];
    EXPECT_TRUE(
        RfcVerifyInclusion(indexes[i], n, leaf_hashes_[indexes[i]], ToH((*proofs)[i]), want_root));
  }
  auto leaves = log_->LeafData(indexes);
  ASSERT_THAT(leaves.status(), IsOk());
  ASSERT_EQ(leaves->size(), indexes.size());
  for (size_t i = 0; i < indexes.size(); ++i) {
    EXPECT_EQ((*leaves)[i], "event-" + std::to_string(indexes[i]));
  }
  auto empty = log_->InclusionProofs({}, n);
  ASSERT_THAT(empty.status(), IsOk());
  EXPECT_TRUE(empty->empty());
  EXPECT_THAT(log_->InclusionProofs({296}, 301).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the log size")));
  EXPECT_THAT(log_->InclusionProofs({297}, 297).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not below tree size")));
  EXPECT_THAT(log_->LeafData(std::vector<uint64_t>{3, 300}).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no leaf 300 (log size 300)")));
}

TEST_F(MerkleLogTest, ConsistencyAllPairsUpTo70) {
  AppendUpTo(70);
  std::vector<H> roots(71);
  for (uint64_t n = 1; n <= 70; ++n) roots[n] = Mth(leaf_hashes_, 0, n);
  for (uint64_t m = 1; m <= 70; ++m) {
    for (uint64_t n = m + 1; n <= 70; ++n) {
      auto proof = log_->ConsistencyProof(m, n);
      ASSERT_THAT(proof.status(), IsOk());
      EXPECT_TRUE(RfcVerifyConsistency(m, n, roots[m], roots[n], ToH(*proof))) << m << " -> " << n;
      EXPECT_FALSE(RfcVerifyConsistency(m, n, roots[n], roots[m], ToH(*proof)));
    }
    auto same = log_->ConsistencyProof(m, m);
    ASSERT_THAT(same.status(), IsOk());
    EXPECT_TRUE(same->empty());
  }
}

TEST_F(MerkleLogTest, RandomSizesUpTo100k) {
  AppendUpTo(100000, {1000, 777, 4096, 1});
  std::mt19937_64 rng(42);
  for (int round = 0; round < 12; ++round) {
    const uint64_t n = 1 + rng() % 100000;
    const H want_root = Mth(leaf_hashes_, 0, n);
    auto root = log_->Root(n);
    ASSERT_THAT(root.status(), IsOk());
    ASSERT_EQ(ToH(*root), want_root) << n;
    for (int k = 0; k < 40; ++k) {
      const uint64_t i = rng() % n;
      auto proof = log_->InclusionProof(i, n);
      ASSERT_THAT(proof.status(), IsOk());
      EXPECT_TRUE(RfcVerifyInclusion(i, n, leaf_hashes_[i], ToH(*proof), want_root))
          << i << " / " << n;
    }
    const uint64_t m = 1 + rng() % n;
    if (m < n) {
      auto cproof = log_->ConsistencyProof(m, n);
      ASSERT_THAT(cproof.status(), IsOk());
      EXPECT_TRUE(RfcVerifyConsistency(m, n, Mth(leaf_hashes_, 0, m), want_root, ToH(*cproof)));
    }
  }
}

TEST_F(MerkleLogTest, ReopenKeepsTreeAndCache) {
  AppendUpTo(1000);
  auto before = log_->Root(1000);
  ASSERT_THAT(before.status(), IsOk());
  ASSERT_THAT(log_->PutCheckpoint("note\n"), IsOk());
  OpenStore(/*cache_min_level=*/2);
  EXPECT_EQ(log_->size(), 1000u);
  auto after = log_->Root(1000);
  ASSERT_THAT(after.status(), IsOk());
  EXPECT_EQ(*after, *before);
  EXPECT_EQ(*log_->LatestCheckpoint(), "note\n");
  auto leaf = log_->LeafData(999);
  ASSERT_THAT(leaf.status(), IsOk());
  EXPECT_EQ(*leaf, "event-999");
  AppendUpTo(1500);
  EXPECT_EQ(ToH(*log_->Root(1500)), Mth(leaf_hashes_, 0, 1500));
}

TEST_F(MerkleLogTest, AbortedAppendIsInvisible) {
  AppendUpTo(5);
  WriteBatch batch;
  auto n = log_->PrepareAppend({"x", "y"}, &batch);
  ASSERT_THAT(n.status(), IsOk());
  EXPECT_EQ(*n, 7u);
  EXPECT_EQ(log_->size(), 5u);
  WriteBatch second;
  EXPECT_THAT(log_->PrepareAppend({"z"}, &second).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("append pending")));
  log_->Abort();
  EXPECT_EQ(log_->size(), 5u);
  AppendUpTo(9);
  EXPECT_EQ(ToH(*log_->Root(9)), Mth(leaf_hashes_, 0, 9));
}

TEST_F(MerkleLogTest, MissingStoredHashIsDetectedOnOpen) {
  AppendUpTo(64);
  ASSERT_THAT(store_->Delete(log_->tree_cf(), MerkleLog::NodeKey(4, 1)), IsOk());
  log_.reset();
  auto l = MerkleLog::Open(store_.get());
  EXPECT_THAT(l.status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("level 4")));
}

TEST_F(MerkleLogTest, MalformedStoredHashIsDataLoss) {
  AppendUpTo(8);
  ASSERT_THAT(store_->Put(log_->tree_cf(), MerkleLog::NodeKey(0, 3), "short"), IsOk());
  EXPECT_THAT(log_->InclusionProof(2, 8).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       "merkle log: stored hash of wrong length at level 0 index 3 (corrupt data "
                       "dir: restore it from a backup)"));
}

}  // namespace
}  // namespace budstikke::storage
