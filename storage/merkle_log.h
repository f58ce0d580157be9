// MerkleLog: an append-only RFC 9162 Merkle tree log kept in a Store.
//
// Three column families, named from a prefix P (default "audit"):
//   P_leaves  key = 8-byte big-endian leaf index        value = leaf data
//   P_tree    key = 1-byte level || 8-byte BE index     value = 32-byte hash
//             (the tlog "stored hashes": leaf hashes at level 0 and the hash
//             of every complete subtree, see tlog/tree.h)
//   P_meta    "size" = 8-byte BE tree size; "checkpoint" = latest signed note
//
// Appends are group commits in the caller's WriteBatch: PrepareAppend() adds
// the leaves, their stored hashes and the new size to the batch (together
// with whatever else the caller puts there, e.g. outbox deletes and query
// indexes), the caller writes the batch, then calls Commit() (or Abort()
// if the write failed). So a crash leaves either all of an append or none.
//
// Reads (ReadHashes, TreeHash, proofs, LeafData) serve any size up to the
// committed size. Stored hashes at levels >= Options::cache_min_level are
// also kept in memory. Below them, proofs (inclusion and consistency) are
// built from tiles of 2^cache_min_level leaves: one range read of a tile's
// leaf hashes, the inner hashes of the tile recomputed from them; the stored
// inner hashes below the cache serve appends and the roots of sizes that end
// inside a tile. Every proof is checked against the roots before it is
// returned.
//
// Thread safety: reads are safe concurrently with each other and with one
// appender; PrepareAppend/Commit/Abort must be serialized by the caller (one
// appender), and at most one append may be pending.
//
// Errors: INVALID_ARGUMENT for indexes/sizes beyond the committed size;
// NOT_FOUND / DATA_LOSS / UNAVAILABLE from the store (a stored hash of the
// wrong length is DATA_LOSS, and so is a leaf hash missing from a tile a
// proof reads, or a proof that does not lead to the root it is checked
// against).
#ifndef BUDSTIKKE_STORAGE_MERKLE_LOG_H_
#define BUDSTIKKE_STORAGE_MERKLE_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/store.h"
#include "tlog/tree.h"

namespace budstikke::storage {

class MerkleLog final : public tlog::HashReader {
 public:
  // Proofs read the levels below the cache as tiles of 2^cache_min_level
  // leaf hashes and recompute the rest: at most 64 hashes read and 62
  // computed per tile.
  static constexpr int kMaxCacheMinLevel = 6;
  struct Options {
    std::string prefix = "audit";
    // Levels at or above this are cached in memory (2^-level of the leaves);
    // at most kMaxCacheMinLevel.
    int cache_min_level = 4;
  };

  // The column families Open() needs; add them to Store::Options.
  static std::vector<std::string> ColumnFamilies(const std::string& prefix = "audit");

  // Loads the committed size and the cached levels. `store` must outlive it.
  static absl::StatusOr<std::unique_ptr<MerkleLog>> Open(Store* store, Options options);
  static absl::StatusOr<std::unique_ptr<MerkleLog>> Open(Store* store) {
    return Open(store, Options());
  }

  // Committed tree size.
  uint64_t size() const { return size_.load(std::memory_order_acquire); }

  // Adds the append of `leaves` (leaf data, in order) to `batch`; the first
  // gets index size(). Returns the new size. FAILED_PRECONDITION if an append
  // is already pending.
  absl::StatusOr<uint64_t> PrepareAppend(const std::vector<std::string>& leaves, WriteBatch* batch);
  // After the batch was written: makes the pending append visible.
  void Commit();
  // After the batch failed: forgets the pending append.
  void Abort();

  // Leaf data of `index` (< size()).
  absl::StatusOr<std::string> LeafData(uint64_t index) const;
  // Leaf data of many indexes (each < size()) in one batched read, in order.
  absl::StatusOr<std::vector<std::string>> LeafData(const std::vector<uint64_t>& indexes) const;
  absl::StatusOr<tlog::Hash> Root(uint64_t tree_size) const;
  absl::StatusOr<std::vector<tlog::Hash>> InclusionProof(uint64_t index, uint64_t tree_size) const;
  // Inclusion proofs of many leaves in the same tree, each checked against
  // the root (DATA_LOSS if a stored hash on its path changed). Every tile
  // they need is read once (a point read per hash is what makes a large
  // tree slow: docs/PERFORMANCE.md, At scale).
  absl::StatusOr<std::vector<std::vector<tlog::Hash>>> InclusionProofs(
      const std::vector<uint64_t>& indexes, uint64_t tree_size) const;
  absl::StatusOr<std::vector<tlog::Hash>> ConsistencyProof(uint64_t first, uint64_t second) const;

  // The latest signed checkpoint note ("" if none yet), and replacing it.
  absl::StatusOr<std::string> LatestCheckpoint() const;
  absl::Status PutCheckpoint(std::string_view note);

  // tlog::HashReader over committed hashes (and, during PrepareAppend, the
  // pending ones).
  tlog::Result<std::vector<tlog::Hash>> ReadHashes(
      const std::vector<tlog::HashIndex>& indexes) const override;

  static std::string LeafKey(uint64_t index);
  static std::string NodeKey(int level, uint64_t index);
  const std::string& leaves_cf() const { return leaves_cf_; }
  const std::string& tree_cf() const { return tree_cf_; }
  const std::string& meta_cf() const { return meta_cf_; }

 private:
  MerkleLog(Store* store, Options options);
  absl::Status CheckSize(uint64_t tree_size) const;

  Store* store_;
  Options options_;
  std::string leaves_cf_, tree_cf_, meta_cf_;
  std::atomic<uint64_t> size_{0};

  mutable absl::Mutex mu_;
  // cache_[L - cache_min_level][k] = stored hash (L, k).
  std::vector<std::vector<tlog::Hash>> cache_ ABSL_GUARDED_BY(mu_);
  // The pending append's stored hashes (level, index, hash), empty if none.
  std::vector<tlog::StoredHash> pending_ ABSL_GUARDED_BY(mu_);
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t pending_size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_MERKLE_LOG_H_
