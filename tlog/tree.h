// Storage-agnostic RFC 9162 Merkle tree algorithms, in the style of Go's
// golang.org/x/mod/sumdb/tlog.
//
// A log stores "stored hashes": the hashes of complete subtrees, addressed by
// HashIndex{level, index}. Level 0 holds the leaf hashes; the level-L hash at
// index k covers leaves [k*2^L, (k+1)*2^L). Appending leaf n stores its leaf
// hash and the hash of every subtree it completes (StoredHashesForAppend), so
// a log of n leaves holds fewer than 2n hashes. Every tree hash and proof is
// then computed from O(log n) stored hashes, read in ONE batched
// HashReader::ReadHashes call (a RocksDB reader implements it with MultiGet).
//
// Proof formats are exactly RFC 9162: inclusion path per §2.1.3.1 (leaf-side
// sibling first), consistency path per §2.1.4.1. The verifiers follow the
// RFC's algorithms (§2.1.3.2, §2.1.4.2) step by step and need no reader.
//
// Errors (see tlog/result.h): kInvalidArgument for out-of-range sizes or
// indexes and malformed proofs (wrong length), kDataLoss when a proof does not
// lead to the given root, and whatever the HashReader returns.
//
// Thread safety: the free functions are thread-safe if the reader is.
// MemoryTree is thread-compatible: concurrent const calls are safe, Append
// needs exclusive access.
#ifndef BUDSTIKKE_TLOG_TREE_H_
#define BUDSTIKKE_TLOG_TREE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "tlog/hash.h"
#include "tlog/result.h"

namespace budstikke::tlog {

// Address of a stored hash: the complete subtree of 2^level leaves starting
// at leaf index << level.
struct HashIndex {
  int level = 0;
  uint64_t index = 0;
  bool operator==(const HashIndex& o) const { return level == o.level && index == o.index; }
  bool operator!=(const HashIndex& o) const { return !(*this == o); }
};

struct StoredHash {
  HashIndex at;
  Hash hash;
};

// Reads stored hashes. ReadHashes returns one hash per requested index, in
// request order, or an error if any is missing (kNotFound) or unreadable.
// Implementations must be safe for concurrent calls if the tree functions
// are called concurrently on them.
class HashReader {
 public:
  virtual ~HashReader() = default;
  virtual Result<std::vector<Hash>> ReadHashes(const std::vector<HashIndex>& indexes) const = 0;
};

// Given a tree of n leaves whose stored hashes `reader` serves, returns the
// entries to store when appending leaf n with `leaf_hash`: the leaf hash at
// (0, n) followed by each parent the append completes, lowest level first.
// Reads the left siblings (one batch, trailing-ones-of-n many).
Result<std::vector<StoredHash>> StoredHashesForAppend(uint64_t n, const Hash& leaf_hash,
                                                      const HashReader& reader);

// Root hash of the first n leaves (EmptyHash() for n == 0).
Result<Hash> TreeHash(uint64_t n, const HashReader& reader);

// Audit path for leaf `leaf_index` in the tree of the first `tree_size`
// leaves (RFC 9162 §2.1.3.1). kInvalidArgument unless leaf_index < tree_size.
Result<std::vector<Hash>> ProveInclusion(uint64_t leaf_index, uint64_t tree_size,
                                         const HashReader& reader);

// Consistency proof from the tree of size m to the tree of size n (RFC 9162
// §2.1.4.1). kInvalidArgument unless m <= n. For m == 0 or m == n the proof
// is empty (RFC 9162 defines proofs only for 0 < m < n; see
// VerifyConsistency for how these trivial cases are checked).
Result<std::vector<Hash>> ProveConsistency(uint64_t m, uint64_t n, const HashReader& reader);

// RFC 9162 §2.1.3.2. OK iff `path` proves that `leaf_hash` is the leaf at
// `leaf_index` of the tree of size `tree_size` with root `root`.
Result<void> VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                             const std::vector<Hash>& path, const Hash& root);

// RFC 9162 §2.1.4.2. OK iff `path` proves that the tree of size m with root
// `root_m` is a prefix of the tree of size n with root `root_n`.
// Trivial cases, outside the RFC algorithm: m == n needs an empty path and
// root_m == root_n; m == 0 needs an empty path and root_m == EmptyHash().
Result<void> VerifyConsistency(uint64_t m, uint64_t n, const Hash& root_m, const Hash& root_n,
                               const std::vector<Hash>& path);

// RFC 9162 §2.1.3.2 steps 1-5 without the final comparison: the root that
// `path` implies (used by VerifyInclusion; useful to report mismatches).
Result<Hash> RootFromInclusionProof(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                                    const std::vector<Hash>& path);

// An in-memory log: stored hashes in vectors. For tests, benchmarks and
// clients that mirror a small log.
class MemoryTree : public HashReader {
 public:
  MemoryTree() = default;

  // Appends LeafHash(data) / a precomputed leaf hash; returns the leaf index.
  uint64_t Append(std::string_view data);
  uint64_t AppendLeafHash(const Hash& leaf_hash);

  uint64_t size() const { return size_; }
  // Root of the whole tree (EmptyHash() when empty).
  Hash Root() const;

  Result<std::vector<Hash>> ReadHashes(const std::vector<HashIndex>& indexes) const override;

 private:
  std::vector<std::vector<Hash>> levels_;  // levels_[L][k] = hash (L, k)
  uint64_t size_ = 0;
};

}  // namespace budstikke::tlog

#endif  // BUDSTIKKE_TLOG_TREE_H_
