// Tests tlog/tree.h against an INDEPENDENT reference written here straight
// from RFC 9162 §2.1: recursive MTH(D[n]), PATH(m, D[n]) and
// PROOF/SUBPROOF(m, D[n], b), with k the largest power of two below n and
// its own SHA-256 calls. The library's prover is never used as an oracle.
#include "tlog/tree.h"

#include <openssl/evp.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tlog/internal/result_matchers.h"

namespace budstikke::tlog {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using testing::IsError;
using testing::IsOk;

// ------------------------------------------------ RFC 9162 §2.1 reference

Hash RefSha256(const std::string& bytes) {
  Hash out;
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  return out;
}

std::string Bytes(const Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

// MTH({d(0)}) = HASH(0x00 || d(0)).
Hash RefLeaf(const std::string& d) { return RefSha256(std::string(1, '\x00') + d); }
// HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
Hash RefNode(const Hash& l, const Hash& r) {
  return RefSha256(std::string(1, '\x01') + Bytes(l) + Bytes(r));
}

// The largest power of two smaller than n (n > 1).
uint64_t RefK(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// The reference works on D[lo:hi] given the leaf hashes MTH({d(i)}) of D.
struct Reference {
  std::vector<Hash> leaves;  // leaves[i] = RefLeaf(d(i))

  Hash MTH(uint64_t lo, uint64_t hi) const {
    uint64_t n = hi - lo;
    if (n == 0) return RefSha256("");
    if (n == 1) return leaves[lo];
    // A plain memo of this function's own results for big ranges, so the
    // 100k-leaf test stays fast.
    if (n >= 256) {
      auto it = memo.find({lo, hi});
      if (it != memo.end()) return it->second;
    }
    uint64_t k = RefK(n);
    Hash h = RefNode(MTH(lo, lo + k), MTH(lo + k, hi));
    if (n >= 256) memo[{lo, hi}] = h;
    return h;
  }
  mutable std::map<std::pair<uint64_t, uint64_t>, Hash> memo;

  // PATH(m, D[lo:hi]), m relative to lo.
  std::vector<Hash> PATH(uint64_t m, uint64_t lo, uint64_t hi) const {
    uint64_t n = hi - lo;
    if (n == 1) return {};
    uint64_t k = RefK(n);
    std::vector<Hash> p;
    if (m < k) {
      p = PATH(m, lo, lo + k);
      p.push_back(MTH(lo + k, hi));
    } else {
      p = PATH(m - k, lo + k, hi);
      p.push_back(MTH(lo, lo + k));
    }
    return p;
  }

  // SUBPROOF(m, D[lo:hi], b), m relative to lo.
  std::vector<Hash> SUBPROOF(uint64_t m, uint64_t lo, uint64_t hi, bool b) const {
    uint64_t n = hi - lo;
    if (m == n) {
      if (b) return {};
      return {MTH(lo, hi)};
    }
    uint64_t k = RefK(n);
    std::vector<Hash> p;
    if (m <= k) {
      p = SUBPROOF(m, lo, lo + k, b);
      p.push_back(MTH(lo + k, hi));
    } else {
      p = SUBPROOF(m - k, lo + k, hi, false);
      p.push_back(MTH(lo, lo + k));
    }
    return p;
  }

  // PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
  std::vector<Hash> PROOF(uint64_t m, uint64_t n) const { return SUBPROOF(m, 0, n, true); }
};

std::string LeafData(uint64_t i) { return "leaf-" + std::to_string(i); }

// A tree of `n` leaves both in the library's MemoryTree and the reference.
struct Fixture {
  MemoryTree tree;
  Reference ref;
  explicit Fixture(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      tree.Append(LeafData(i));
      ref.leaves.push_back(RefLeaf(LeafData(i)));
    }
  }
};

Hash Flip(Hash h, int byte = 0) {
  h[byte] ^= 0x01;
  return h;
}

// Counts batches and hashes read, to check O(log n) reads in one batch.
class CountingReader : public HashReader {
 public:
  explicit CountingReader(const HashReader& inner) : inner_(inner) {}
  Result<std::vector<Hash>> ReadHashes(const std::vector<HashIndex>& indexes) const override {
    ++calls;
    hashes += indexes.size();
    return inner_.ReadHashes(indexes);
  }
  mutable int calls = 0;
  mutable size_t hashes = 0;

 private:
  const HashReader& inner_;
};

// ------------------------------------------------------------- hashing

TEST(HashTest, KnownAnswers) {
  EXPECT_EQ(HashToHex(EmptyHash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashToHex(LeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(LeafHash("abc"), RefLeaf("abc"));
  Hash l = RefLeaf("l"), r = RefLeaf("r");
  EXPECT_EQ(NodeHash(l, r), RefNode(l, r));
  EXPECT_NE(NodeHash(l, r), NodeHash(r, l));
}

// Roots of the RFC 6962 / certificate-transparency test tree, sizes 1-8.
TEST(TreeHashTest, CertificateTransparencyVectors) {
  const std::vector<std::string> leaves = {
      "",
      std::string(1, '\x00'),
      "\x10",
      "\x20\x21",
      "\x30\x31",
      "\x40\x41\x42\x43",
      "\x50\x51\x52\x53\x54\x55\x56\x57",
      "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
  const std::vector<std::string> roots = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  MemoryTree tree;
  EXPECT_EQ(tree.Root(), EmptyHash());
  for (size_t i = 0; i < leaves.size(); ++i) {
    EXPECT_EQ(tree.Append(leaves[i]), i);
    EXPECT_EQ(HashToHex(tree.Root()), roots[i]) << "size " << i + 1;
  }
}

TEST(TreeHashTest, EveryPrefixMatchesReference) {
  Fixture f(70);
  for (uint64_t n = 0; n <= 70; ++n) {
    Result<Hash> h = TreeHash(n, f.tree);
    ASSERT_TRUE(h.ok()) << h.error().message;
    EXPECT_EQ(*h, f.ref.MTH(0, n)) << "n=" << n;
  }
}

TEST(TreeHashTest, MissingHashIsNotFound) {
  Fixture f(3);
  Result<Hash> h = TreeHash(4, f.tree);
  EXPECT_THAT(h, IsError(ErrorCode::kNotFound, HasSubstr("no stored hash at level")));
}

// ---------------------------------------------------------- stored hashes

TEST(StoredHashesForAppendTest, StoresLeafAndEveryCompletedSubtree) {
  Fixture f(70);
  for (uint64_t n = 0; n < 70; ++n) {
    Result<std::vector<StoredHash>> entries = StoredHashesForAppend(n, f.ref.leaves[n], f.tree);
    ASSERT_TRUE(entries.ok()) << entries.error().message;
    // One entry per level 0..t, t = trailing ones of n.
    size_t expected = 1;
    while ((n >> (expected - 1)) & 1) ++expected;
    ASSERT_EQ(entries->size(), expected) << "n=" << n;
    for (size_t i = 0; i < entries->size(); ++i) {
      const StoredHash& e = (*entries)[i];
      EXPECT_EQ(e.at.level, static_cast<int>(i));
      EXPECT_EQ(e.at.index, n >> i);
      uint64_t lo = e.at.index << e.at.level;
      EXPECT_EQ(e.hash, f.ref.MTH(lo, lo + (uint64_t{1} << e.at.level)))
          << "n=" << n << " level=" << i;
    }
  }
}

TEST(StoredHashesForAppendTest, ExampleForSeven) {
  Fixture f(7);
  Hash leaf = RefLeaf(LeafData(7));
  Result<std::vector<StoredHash>> entries = StoredHashesForAppend(7, leaf, f.tree);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[0].at, (HashIndex{0, 7}));
  EXPECT_EQ((*entries)[1].at, (HashIndex{1, 3}));
  EXPECT_EQ((*entries)[2].at, (HashIndex{2, 1}));
  EXPECT_EQ((*entries)[3].at, (HashIndex{3, 0}));
  f.ref.leaves.push_back(leaf);
  EXPECT_EQ((*entries)[3].hash, f.ref.MTH(0, 8));
}

// -------------------------------------------------------------- inclusion

std::string Str(uint64_t v) { return std::to_string(v); }

// The error of a well-formed inclusion proof that does not lead to the root.
::testing::Matcher<const Result<void>&> InclusionMismatch(uint64_t i, uint64_t n) {
  return IsError(ErrorCode::kDataLoss, "inclusion proof for leaf " + Str(i) + " in tree size " +
                                           Str(n) + " does not match the root hash");
}

// The errors a proof of `path_size` hashes can get for leaf i of size n when
// it was made for another leaf: the index is out of range, the path has the
// wrong length for this index, or it does not lead to the root.
::testing::Matcher<const Result<void>&> InclusionRefused(uint64_t i, uint64_t n, size_t path_size) {
  const std::string path = "inclusion path of " + Str(path_size) + " hashes is too ";
  const std::string leaf = " for leaf " + Str(i) + " in tree size " + Str(n);
  return AnyOf(InclusionMismatch(i, n),
               IsError(ErrorCode::kInvalidArgument,
                       "leaf index " + Str(i) + " is not below tree size " + Str(n)),
               IsError(ErrorCode::kInvalidArgument, path + "long" + leaf),
               IsError(ErrorCode::kInvalidArgument, path + "short" + leaf));
}

TEST(InclusionTest, AllLeavesOfTreesUpTo70MatchReferenceAndTamperingFails) {
  Fixture f(70);
  size_t proofs = 0;
  for (uint64_t n = 1; n <= 70; ++n) {
    const Hash root = f.ref.MTH(0, n);
    for (uint64_t i = 0; i < n; ++i) {
      SCOPED_TRACE("leaf " + std::to_string(i) + " of " + std::to_string(n));
      Result<std::vector<Hash>> path = ProveInclusion(i, n, f.tree);
      ASSERT_TRUE(path.ok()) << path.error().message;
      ASSERT_EQ(*path, f.ref.PATH(i, 0, n));
      const Hash& leaf = f.ref.leaves[i];
      Result<void> ok = VerifyInclusion(i, n, leaf, *path, root);
      ASSERT_TRUE(ok.ok()) << ok.error().message;
      ++proofs;

      for (size_t j = 0; j < path->size(); ++j) {
        std::vector<Hash> bad = *path;
        bad[j] = Flip(bad[j], static_cast<int>(j % kHashSize));
        Result<void> r = VerifyInclusion(i, n, leaf, bad, root);
        EXPECT_THAT(r, InclusionMismatch(i, n)) << "element " << j;
      }
      Result<void> r = VerifyInclusion(i, n, Flip(leaf), *path, root);
      EXPECT_THAT(r, InclusionMismatch(i, n));

      r = VerifyInclusion(i, n, leaf, *path, Flip(root, 31));
      EXPECT_THAT(r, InclusionMismatch(i, n));

      for (uint64_t other : {i ^ 1, i + 1, i + 2, i == 0 ? n : i - 1}) {
        if (other == i) continue;
        EXPECT_THAT(VerifyInclusion(other, n, leaf, *path, root),
                    InclusionRefused(other, n, path->size()))
            << "index " << other;
      }
      // Another leaf's hash at this index fails too.
      if (n > 1) {
        EXPECT_THAT(VerifyInclusion(i, n, f.ref.leaves[(i + 1) % n], *path, root),
                    InclusionMismatch(i, n));
      }

      std::vector<Hash> longer = *path;
      longer.push_back(root);
      r = VerifyInclusion(i, n, leaf, longer, root);
      EXPECT_THAT(r, IsError(ErrorCode::kInvalidArgument, HasSubstr("too long")));
      if (!path->empty()) {
        std::vector<Hash> shorter(path->begin(), path->end() - 1);
        r = VerifyInclusion(i, n, leaf, shorter, root);
        EXPECT_THAT(r, IsError(ErrorCode::kInvalidArgument, HasSubstr("too short")));
      }
    }
  }
  EXPECT_EQ(proofs, 70u * 71u / 2u);
}

TEST(InclusionTest, IndexNotBelowSizeIsInvalid) {
  Fixture f(5);
  Result<std::vector<Hash>> p = ProveInclusion(5, 5, f.tree);
  EXPECT_THAT(p, IsError(ErrorCode::kInvalidArgument, "leaf index 5 is not below tree size 5"));
  Result<void> v = VerifyInclusion(0, 0, f.ref.leaves[0], {}, EmptyHash());
  EXPECT_THAT(v, IsError(ErrorCode::kInvalidArgument, "leaf index 0 is not below tree size 0"));
}

// ------------------------------------------------------------ consistency

// The message when the first root (size m) does not match the proof.
std::string FirstRootMismatch(uint64_t m, uint64_t n) {
  if (m == n) return "roots of equal tree size " + Str(n) + " differ";
  return "consistency proof does not match the root of size " + Str(m);
}

// The message when the second root (size n) does not match the proof.
std::string SecondRootMismatch(uint64_t m, uint64_t n) {
  if (m == n) return "roots of equal tree size " + Str(n) + " differ";
  return "consistency proof does not match the root of size " + Str(n);
}

// The error of a well-formed consistency proof that does not lead to one of
// the roots (which one depends on where the proof was changed).
::testing::Matcher<const Result<void>&> ConsistencyMismatch(uint64_t m, uint64_t n) {
  return AnyOf(IsError(ErrorCode::kDataLoss, FirstRootMismatch(m, n)),
               IsError(ErrorCode::kDataLoss, SecondRootMismatch(m, n)));
}

// The errors a consistency proof of `path_size` hashes can get from size m to
// n when it was made for other sizes or tampered with.
::testing::Matcher<const Result<void>&> ConsistencyRefused(uint64_t m, uint64_t n,
                                                           size_t path_size) {
  const std::string path = "consistency path of " + Str(path_size) + " hashes is too ";
  const std::string sizes = " from size " + Str(m) + " to " + Str(n);
  return AnyOf(IsError(ErrorCode::kDataLoss, FirstRootMismatch(m, n)),
               IsError(ErrorCode::kDataLoss, SecondRootMismatch(m, n)),
               IsError(ErrorCode::kInvalidArgument, path + "long" + sizes),
               IsError(ErrorCode::kInvalidArgument, path + "short" + sizes),
               IsError(ErrorCode::kInvalidArgument,
                       "consistency proof from size " + Str(m) + " to smaller size " + Str(n)),
               IsError(ErrorCode::kInvalidArgument,
                       "consistency path from size " + Str(m) + " to " + Str(n) + " must be empty"),
               IsError(ErrorCode::kInvalidArgument,
                       "empty consistency path from size " + Str(m) + " to " + Str(n)));
}

TEST(ConsistencyTest, AllPairsUpTo70MatchReferenceAndTamperingFails) {
  Fixture f(70);
  std::vector<Hash> roots(71);
  for (uint64_t n = 0; n <= 70; ++n) roots[n] = f.ref.MTH(0, n);
  size_t pairs = 0;
  for (uint64_t n = 1; n <= 70; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n));
      Result<std::vector<Hash>> path = ProveConsistency(m, n, f.tree);
      ASSERT_TRUE(path.ok()) << path.error().message;
      ASSERT_EQ(*path, f.ref.PROOF(m, n));
      Result<void> ok = VerifyConsistency(m, n, roots[m], roots[n], *path);
      ASSERT_TRUE(ok.ok()) << ok.error().message;
      ++pairs;

      for (size_t j = 0; j < path->size(); ++j) {
        std::vector<Hash> bad = *path;
        bad[j] = Flip(bad[j], static_cast<int>(j % kHashSize));
        Result<void> r = VerifyConsistency(m, n, roots[m], roots[n], bad);
        EXPECT_THAT(r, ConsistencyMismatch(m, n)) << "element " << j;
      }
      Result<void> r = VerifyConsistency(m, n, Flip(roots[m]), roots[n], *path);
      EXPECT_THAT(r, ConsistencyMismatch(m, n));
      r = VerifyConsistency(m, n, roots[m], Flip(roots[n], 7), *path);
      EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, SecondRootMismatch(m, n)));
      // The proof does not carry over to other sizes.
      if (m > 1) {
        EXPECT_THAT(VerifyConsistency(m - 1, n, roots[m - 1], roots[n], *path),
                    ConsistencyRefused(m - 1, n, path->size()));
      }
      if (m < n) {
        EXPECT_THAT(VerifyConsistency(m + 1, n, roots[m + 1], roots[n], *path),
                    ConsistencyRefused(m + 1, n, path->size()));
        EXPECT_THAT(VerifyConsistency(m, n - 1, roots[m], roots[n - 1], *path),
                    ConsistencyRefused(m, n - 1, path->size()));
      }
      if (n < 70) {
        EXPECT_THAT(VerifyConsistency(m, n + 1, roots[m], roots[n + 1], *path),
                    ConsistencyRefused(m, n + 1, path->size()));
      }
      std::vector<Hash> longer = *path;
      longer.push_back(roots[n]);
      EXPECT_THAT(VerifyConsistency(m, n, roots[m], roots[n], longer),
                  ConsistencyRefused(m, n, longer.size()));
      if (!path->empty()) {
        std::vector<Hash> shorter(path->begin(), path->end() - 1);
        EXPECT_THAT(VerifyConsistency(m, n, roots[m], roots[n], shorter),
                    ConsistencyRefused(m, n, shorter.size()));
      }
    }
  }
  EXPECT_EQ(pairs, 70u * 71u / 2u);
}

TEST(ConsistencyTest, TrivialAndInvalidCases) {
  Fixture f(10);
  const Hash root10 = f.ref.MTH(0, 10);
  // From the empty tree: empty proof, first root must be the empty hash.
  Result<std::vector<Hash>> p = ProveConsistency(0, 10, f.tree);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->empty());
  EXPECT_TRUE(VerifyConsistency(0, 10, EmptyHash(), root10, {}).ok());
  Result<void> r = VerifyConsistency(0, 10, root10, root10, {});
  EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, "root of size 0 is not the empty tree hash"));
  // Equal sizes: equal roots, empty path.
  r = VerifyConsistency(10, 10, root10, Flip(root10), {});
  EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, HasSubstr("roots of equal tree size 10 differ")));
  r = VerifyConsistency(10, 10, root10, root10, {root10});
  EXPECT_THAT(
      r, IsError(ErrorCode::kInvalidArgument, "consistency path from size 10 to 10 must be empty"));
  // RFC 9162 §2.1.4.2 step 1: an empty path for 0 < m < n fails.
  r = VerifyConsistency(4, 10, f.ref.MTH(0, 4), root10, {});
  EXPECT_THAT(r, IsError(ErrorCode::kInvalidArgument, HasSubstr("empty consistency path")));
  // m > n.
  p = ProveConsistency(11, 10, f.tree);
  EXPECT_THAT(
      p, IsError(ErrorCode::kInvalidArgument, "consistency proof from size 11 to smaller size 10"));
  r = VerifyConsistency(11, 10, root10, root10, {root10});
  EXPECT_THAT(
      r, IsError(ErrorCode::kInvalidArgument, "consistency proof from size 11 to smaller size 10"));
}

// ----------------------------------------------------- large random trees

TEST(LargeTreeTest, RandomSizesUpTo100000) {
  constexpr uint64_t kMax = 100000;
  Fixture f(kMax);
  std::mt19937_64 rng(20240611);
  std::vector<uint64_t> sizes = {kMax, 65536, 65537};
  for (int i = 0; i < 3; ++i) sizes.push_back(1 + rng() % kMax);
  for (uint64_t n : sizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const Hash root = f.ref.MTH(0, n);
    ASSERT_EQ(*TreeHash(n, f.tree), root);
    for (uint64_t i : {uint64_t{0}, n - 1, rng() % n, rng() % n}) {
      CountingReader counting(f.tree);
      Result<std::vector<Hash>> path = ProveInclusion(i, n, counting);
      ASSERT_TRUE(path.ok());
      EXPECT_EQ(counting.calls, 1);
      EXPECT_LE(counting.hashes, 2u * 17u);  // O(log n): 17 = ceil(log2 1e5)
      EXPECT_EQ(*path, f.ref.PATH(i, 0, n)) << "leaf " << i;
      EXPECT_TRUE(VerifyInclusion(i, n, f.ref.leaves[i], *path, root).ok());
      EXPECT_THAT(VerifyInclusion(i, n, f.ref.leaves[i], *path, Flip(root)),
                  InclusionMismatch(i, n));
    }
    uint64_t m = 1 + rng() % n;
    CountingReader counting(f.tree);
    Result<std::vector<Hash>> proof = ProveConsistency(m, n, counting);
    ASSERT_TRUE(proof.ok());
    EXPECT_LE(counting.calls, 1);
    EXPECT_LE(counting.hashes, 2u * 17u);
    EXPECT_EQ(*proof, f.ref.PROOF(m, n)) << "m=" << m;
    EXPECT_TRUE(VerifyConsistency(m, n, f.ref.MTH(0, m), root, *proof).ok());
  }
}

}  // namespace
}  // namespace budstikke::tlog
