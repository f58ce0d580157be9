#include "storage/merkle_log.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "storage/big_endian.h"
#include "storage/status_macros.h"

namespace budstikke::storage {
namespace {

constexpr char kSizeKey[] = "size";
constexpr char kCheckpointKey[] = "checkpoint";

void PutBigEndian(uint64_t v, char* out) { StoreBigEndian64(v, out); }
uint64_t GetBigEndian(std::string_view s) { return LoadBigEndian64(s); }

absl::Status FromResult(const tlog::Error& e) {
  return absl::Status(static_cast<absl::StatusCode>(e.code), e.message);
}

tlog::Error ToError(const absl::Status& s) {
  return tlog::MakeError(static_cast<tlog::ErrorCode>(s.code()), std::string(s.message()));
}

constexpr char kRestore[] = " (corrupt data dir: restore it from a backup)";

// A proof built from the stored hashes must lead to the root they give:
// otherwise a stored hash on its path changed after it was written.
absl::Status CheckLeadsToRoot(uint64_t index, uint64_t tree_size, const tlog::Hash& leaf_hash,
                              const std::vector<tlog::Hash>& path, const tlog::Hash& root) {
  if (tlog::VerifyInclusion(index, tree_size, leaf_hash, path, root).ok()) {
    return absl::OkStatus();
  }
  // Worded as the clients' verifier words it (`budstikke audit verify`).
  return absl::DataLossError(absl::StrCat("audit event ", index,
                                          ": inclusion proof does not lead to the checkpoint root",
                                          " (a stored hash of tree size ", tree_size,
                                          " changed; corrupt data dir: restore it from a backup)"));
}

// Reads committed hashes, overlaid with an append's pending ones.
class OverlayReader final : public tlog::HashReader {
 public:
  OverlayReader(const tlog::HashReader* base,
                const std::map<std::pair<int, uint64_t>, tlog::Hash>* pending)
      : base_(base), pending_(pending) {}
  tlog::Result<std::vector<tlog::Hash>> ReadHashes(
      const std::vector<tlog::HashIndex>& indexes) const override {
    std::vector<tlog::Hash> out(indexes.size());
    std::vector<tlog::HashIndex> rest;
    std::vector<size_t> rest_pos;
    for (size_t i = 0; i < indexes.size(); ++i) {
      auto it = pending_->find({indexes[i].level, indexes[i].index});
      if (it != pending_->end()) {
        out[i] = it->second;
      } else {
        rest.push_back(indexes[i]);
        rest_pos.push_back(i);
      }
    }
    if (!rest.empty()) {
      auto got = base_->ReadHashes(rest);
      if (!got.ok()) return got.error();
      for (size_t j = 0; j < rest.size(); ++j) out[rest_pos[j]] = (*got)[j];
    }
    return out;
  }

 private:
  const tlog::HashReader* base_;
  const std::map<std::pair<int, uint64_t>, tlog::Hash>* pending_;
};

}  // namespace

std::vector<std::string> MerkleLog::ColumnFamilies(const std::string& prefix) {
  return {prefix + "_leaves", prefix + "_tree", prefix + "_meta"};
}

std::string MerkleLog::LeafKey(uint64_t index) {
  std::string k(8, '\0');
  PutBigEndian(index, k.data());
  return k;
}

std::string MerkleLog::NodeKey(int level, uint64_t index) {
  std::string k(9, '\0');
  k[0] = static_cast<char>(level);
  PutBigEndian(index, k.data() + 1);
  return k;
}

MerkleLog::MerkleLog(Store* store, Options options)
    : store_(store),
      options_(std::move(options)),
      leaves_cf_(options_.prefix + "_leaves"),
      tree_cf_(options_.prefix + "_tree"),
      meta_cf_(options_.prefix + "_meta") {}

absl::StatusOr<std::unique_ptr<MerkleLog>> MerkleLog::Open(Store* store, Options options) {
  // Proofs read the levels below the cache as tiles of 2^cache_min_level
  // leaf hashes (InclusionProofs), so the tiles stay small.
  if (options.cache_min_level < 0 || options.cache_min_level > kMaxCacheMinLevel) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache_min_level must be in [0, ", kMaxCacheMinLevel, "]"));
  }
  std::unique_ptr<MerkleLog> log(new MerkleLog(store, std::move(options)));
  uint64_t size = 0;
  auto got = store->Get(log->meta_cf_, kSizeKey);
  if (got.ok()) {
    if (got->size() != 8) return absl::DataLossError("merkle log: bad stored size");
    size = GetBigEndian(*got);
  } else if (!absl::IsNotFound(got.status())) {
    return got.status();
  }
  absl::MutexLock lock(&log->mu_);
  for (int level = log->options_.cache_min_level; level < 64; ++level) {
    const uint64_t want = size >> level;
    if (want == 0) break;
    std::vector<tlog::Hash>& hashes = log->cache_.emplace_back();
    hashes.reserve(want);
    std::unique_ptr<Iterator> it = store->Scan(log->tree_cf_, std::string(1, char(level)));
    for (; it->Valid() && hashes.size() < want; it->Next()) {
      if (it->key().size() != 9 || GetBigEndian(it->key().substr(1)) != hashes.size() ||
          it->value().size() != tlog::kHashSize) {
        return absl::DataLossError(absl::StrCat("merkle log: stored hash level ", level, " index ",
                                                hashes.size(), " missing or malformed"));
      }
      tlog::Hash h;
      std::memcpy(h.data(), it->value().data(), tlog::kHashSize);
      hashes.push_back(h);
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
    if (hashes.size() != want) {
      return absl::DataLossError(absl::StrCat("merkle log: level ", level, " has ", hashes.size(),
                                              " hashes, want ", want));
    }
  }
  log->size_.store(size, std::memory_order_release);
  return log;
}

tlog::Result<std::vector<tlog::Hash>> MerkleLog::ReadHashes(
    const std::vector<tlog::HashIndex>& indexes) const {
  std::vector<tlog::Hash> out(indexes.size());
  std::vector<size_t> uncached;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (size_t i = 0; i < indexes.size(); ++i) {
      const tlog::HashIndex& at = indexes[i];
      const int slot = at.level - options_.cache_min_level;
      if (slot >= 0) {
        if (static_cast<size_t>(slot) >= cache_.size() || at.index >= cache_[slot].size()) {
          return tlog::MakeError(tlog::ErrorCode::kNotFound,
                                 "merkle log: no stored hash at level " + std::to_string(at.level) +
                                     " index " + std::to_string(at.index));
        }
        out[i] = cache_[slot][at.index];
      } else {
        uncached.push_back(i);
      }
    }
  }
  if (uncached.empty()) return out;
  std::vector<std::string> keys;
  keys.reserve(uncached.size());
  for (size_t i : uncached) keys.push_back(NodeKey(indexes[i].level, indexes[i].index));
  std::vector<absl::StatusOr<std::string>> values = store_->MultiGet(tree_cf_, keys);
  for (size_t j = 0; j < uncached.size(); ++j) {
    const size_t i = uncached[j];
    absl::StatusOr<std::string>& v = values[j];
    if (!v.ok()) return ToError(v.status());
    if (v->size() != tlog::kHashSize) {
      return tlog::MakeError(tlog::ErrorCode::kDataLoss,
                             "merkle log: stored hash of wrong length at level " +
                                 std::to_string(indexes[i].level) + " index " +
                                 std::to_string(indexes[i].index) + kRestore);
    }
    std::memcpy(out[i].data(), v->data(), tlog::kHashSize);
  }
  return out;
}

absl::StatusOr<uint64_t> MerkleLog::PrepareAppend(const std::vector<std::string>& leaves,
                                                  WriteBatch* batch) {
  {
    absl::MutexLock lock(&mu_);
    if (has_pending_) return absl::FailedPreconditionError("merkle log: append pending");
  }
  const uint64_t start = size();
  std::map<std::pair<int, uint64_t>, tlog::Hash> pending;
  OverlayReader reader(this, &pending);
  std::vector<tlog::StoredHash> stored;
  uint64_t n = start;
  for (const std::string& leaf : leaves) {
    auto hashes = tlog::StoredHashesForAppend(n, tlog::LeafHash(leaf), reader);
    if (!hashes.ok()) return FromResult(hashes.error());
    for (const tlog::StoredHash& sh : *hashes) {
      pending[{sh.at.level, sh.at.index}] = sh.hash;
      stored.push_back(sh);
      batch->Put(tree_cf_, NodeKey(sh.at.level, sh.at.index),
                 std::string_view(reinterpret_cast<const char*>(sh.hash.data()), sh.hash.size()));
    }
    batch->Put(leaves_cf_, LeafKey(n), leaf);
    ++n;
  }
  batch->Put(meta_cf_, kSizeKey, LeafKey(n));
  absl::MutexLock lock(&mu_);
  pending_ = std::move(stored);
  pending_size_ = n;
  has_pending_ = true;
  return n;
}

void MerkleLog::Commit() {
  absl::MutexLock lock(&mu_);
  if (!has_pending_) return;
  for (const tlog::StoredHash& sh : pending_) {
    const int slot = sh.at.level - options_.cache_min_level;
    if (slot < 0) continue;
    while (cache_.size() <= static_cast<size_t>(slot)) cache_.emplace_back();
    // Appends complete subtrees in index order, so this is always a push_back.
    cache_[slot].push_back(sh.hash);
  }
  pending_.clear();
  has_pending_ = false;
  size_.store(pending_size_, std::memory_order_release);
}

void MerkleLog::Abort() {
  absl::MutexLock lock(&mu_);
  pending_.clear();
  has_pending_ = false;
}

absl::Status MerkleLog::CheckSize(uint64_t tree_size) const {
  if (tree_size > size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree size ", tree_size, " is beyond the log size ", size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MerkleLog::LeafData(uint64_t index) const {
  if (index >= size()) {
    return absl::NotFoundError(absl::StrCat("no leaf ", index, " (log size ", size(), ")"));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<std::string> leaves,
                             LeafData(std::vector<uint64_t>{index}));
  return std::move(leaves[0]);
}

absl::StatusOr<std::vector<std::string>> MerkleLog::LeafData(
    const std::vector<uint64_t>& indexes) const {
  const uint64_t n = size();
  std::vector<std::string> keys;
  keys.reserve(indexes.size());
  for (uint64_t index : indexes) {
    if (index >= n) {
      return absl::NotFoundError(absl::StrCat("no leaf ", index, " (log size ", n, ")"));
    }
    keys.push_back(LeafKey(index));
  }
  std::vector<absl::StatusOr<std::string>> values = store_->MultiGet(leaves_cf_, keys);
  // Each leaf is checked against its stored leaf hash (level 0, never
  // cached), so leaf data that changed after it was appended is DATA_LOSS
  // rather than an event served as recorded.
  std::vector<tlog::HashIndex> at;
  at.reserve(indexes.size());
  for (uint64_t index : indexes) at.push_back(tlog::HashIndex{0, index});
  auto hashes = ReadHashes(at);
  if (!hashes.ok()) return FromResult(hashes.error());
  std::vector<std::string> out;
  out.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i].ok()) return values[i].status();
    if (tlog::LeafHash(*values[i]) != (*hashes)[i]) {
      return absl::DataLossError(absl::StrCat("audit event ", indexes[i],
                                              ": does not match its stored leaf hash", kRestore));
    }
    out.push_back(*std::move(values[i]));
  }
  return out;
}

namespace {

using HashMap = absl::flat_hash_map<std::pair<int, uint64_t>, tlog::Hash>;

// Pass 1 of InclusionProofs: records which stored hashes a proof needs
// (tlog reads them in one ReadHashes call per proof) and answers with zeros.
class CollectingReader final : public tlog::HashReader {
 public:
  explicit CollectingReader(std::vector<tlog::HashIndex>* wanted) : wanted_(wanted) {}
  tlog::Result<std::vector<tlog::Hash>> ReadHashes(
      const std::vector<tlog::HashIndex>& indexes) const override {
    wanted_->insert(wanted_->end(), indexes.begin(), indexes.end());
    return std::vector<tlog::Hash>(indexes.size());
  }

 private:
  std::vector<tlog::HashIndex>* wanted_;
};

// Pass 2: answers from the hashes read in one batch.
class MapReader final : public tlog::HashReader {
 public:
  explicit MapReader(const HashMap* hashes) : hashes_(hashes) {}
  tlog::Result<std::vector<tlog::Hash>> ReadHashes(
      const std::vector<tlog::HashIndex>& indexes) const override {
    std::vector<tlog::Hash> out;
    out.reserve(indexes.size());
    for (const tlog::HashIndex& at : indexes) {
      auto it = hashes_->find(std::make_pair(at.level, at.index));
      if (it == hashes_->end()) {
        return tlog::MakeError(tlog::ErrorCode::kInternal,
                               "merkle log: proof needs a hash it did not plan for");
      }
      out.push_back(it->second);
    }
    return out;
  }

 private:
  const HashMap* hashes_;
};

// A tile: the 2^h leaves from tile·2^h (fewer at the tree's end) and the
// subtrees inside them, levels[L][j] = the hash of subtree (L, tile·2^(h-L) + j).
struct Tile {
  uint64_t number = ~uint64_t{0};
  std::vector<std::vector<tlog::Hash>> levels;
};

// Reads tile `number`'s leaf hashes (one range read from `it`, positioned at
// or before them) and recomputes the subtrees above them, below level h.
absl::Status LoadTile(Iterator* it, int h, uint64_t number, uint64_t tree_size, Tile* tile) {
  const uint64_t first = number << h;
  const uint64_t end = std::min(first + (uint64_t{1} << h), tree_size);
  tile->number = number;
  tile->levels.resize(h);
  std::vector<tlog::Hash>& leaves = tile->levels[0];
  leaves.clear();
  const std::string first_key = MerkleLog::NodeKey(0, first);
  if (!it->Valid() || it->key() != first_key) it->Seek(first_key);
  for (uint64_t i = first; i < end; ++i) {
    if (i > first) it->Next();
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
    if (!it->Valid() || it->key() != MerkleLog::NodeKey(0, i)) {
      return absl::DataLossError(
          absl::StrCat("merkle log: no stored hash at level 0 index ", i, kRestore));
    }
    if (it->value().size() != tlog::kHashSize) {
      return absl::DataLossError(
          absl::StrCat("merkle log: stored hash of wrong length at level 0 index ", i, kRestore));
    }
    std::memcpy(leaves.emplace_back().data(), it->value().data(), tlog::kHashSize);
  }
  if (end > first) it->Next();  // on the next tile's first leaf, if it follows
  for (int level = 1; level < h; ++level) {
    const std::vector<tlog::Hash>& below = tile->levels[level - 1];
    std::vector<tlog::Hash>& above = tile->levels[level];
    above.clear();
    for (size_t j = 0; 2 * j + 1 < below.size(); ++j) {
      above.push_back(tlog::NodeHash(below[2 * j], below[2 * j + 1]));
    }
  }
  return absl::OkStatus();
}

// Adds the stored hashes `wanted` (all below level h, the first cached one)
// to `out`, from the tiles that hold them: one range read of each tile's leaf
// hashes from `tree_cf`, the inner hashes recomputed.
absl::Status ReadFromTiles(const Store& store, const std::string& tree_cf, int h,
                           std::vector<tlog::HashIndex> wanted, uint64_t tree_size, HashMap* out) {
  if (wanted.empty()) return absl::OkStatus();
  auto tile_of = [h](const tlog::HashIndex& at) { return (at.index << at.level) >> h; };
  std::sort(wanted.begin(), wanted.end(), [&](const tlog::HashIndex& a, const tlog::HashIndex& b) {
    return tile_of(a) < tile_of(b);
  });
  std::unique_ptr<Iterator> it =
      store.ScanFrom(tree_cf, MerkleLog::NodeKey(0, tile_of(wanted[0]) << h));
  Tile tile;
  for (const tlog::HashIndex& at : wanted) {
    if (tile_of(at) != tile.number) {
      BUDSTIKKE_RETURN_IF_ERROR(LoadTile(it.get(), h, tile_of(at), tree_size, &tile));
    }
    const std::vector<tlog::Hash>& level = tile.levels[at.level];
    const uint64_t j = at.index - (tile.number << (h - at.level));
    if (j >= level.size()) {
      return absl::InternalError(absl::StrCat("merkle log: no hash at level ", at.level, " index ",
                                              at.index, " in a tree of size ", tree_size));
    }
    out->emplace(std::make_pair(at.level, at.index), level[j]);
  }
  return absl::OkStatus();
}

// The stored hashes `wanted` (any order, repeats allowed) for proofs in the
// tree of `tree_size`: those at levels >= h from `log`'s memory, those below
// from their tiles in `store`.
absl::StatusOr<HashMap> ReadForProofs(const MerkleLog& log, const Store& store, int h,
                                      std::vector<tlog::HashIndex> wanted, uint64_t tree_size) {
  std::sort(wanted.begin(), wanted.end(), [](const tlog::HashIndex& a, const tlog::HashIndex& b) {
    return std::tie(a.level, a.index) < std::tie(b.level, b.index);
  });
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  // Sorted by level: the cached levels are the tail.
  const auto cached = std::partition_point(wanted.begin(), wanted.end(),
                                           [h](const tlog::HashIndex& at) { return at.level < h; });
  HashMap hashes;
  hashes.reserve(wanted.size());
  BUDSTIKKE_RETURN_IF_ERROR(ReadFromTiles(store, log.tree_cf(), h,
                                          std::vector<tlog::HashIndex>(wanted.begin(), cached),
                                          tree_size, &hashes));
  const std::vector<tlog::HashIndex> from_cache(cached, wanted.end());
  auto read = log.ReadHashes(from_cache);
  if (!read.ok()) return FromResult(read.error());
  for (size_t i = 0; i < from_cache.size(); ++i) {
    hashes.emplace(std::make_pair(from_cache[i].level, from_cache[i].index), (*read)[i]);
  }
  return hashes;
}

}  // namespace

absl::StatusOr<std::vector<std::vector<tlog::Hash>>> MerkleLog::InclusionProofs(
    const std::vector<uint64_t>& indexes, uint64_t tree_size) const {
  BUDSTIKKE_RETURN_IF_ERROR(CheckSize(tree_size));
  std::vector<tlog::HashIndex> wanted;
  CollectingReader collect(&wanted);
  for (uint64_t index : indexes) {
    auto r = tlog::ProveInclusion(index, tree_size, collect);
    if (!r.ok()) return FromResult(r.error());
    wanted.push_back(tlog::HashIndex{0, index});  // the leaf's own hash
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(HashMap hashes, ReadForProofs(*this, *store_, options_.cache_min_level,
                                                           std::move(wanted), tree_size));
  MapReader from_map(&hashes);
  BUDSTIKKE_ASSIGN_OR_RETURN(tlog::Hash root, Root(tree_size));
  std::vector<std::vector<tlog::Hash>> out;
  out.reserve(indexes.size());
  for (uint64_t index : indexes) {
    auto r = tlog::ProveInclusion(index, tree_size, from_map);
    if (!r.ok()) return FromResult(r.error());
    const tlog::Hash& leaf_hash = hashes.at(std::make_pair(0, index));
    BUDSTIKKE_RETURN_IF_ERROR(CheckLeadsToRoot(index, tree_size, leaf_hash, r.value(), root));
    out.push_back(std::move(r).value());
  }
  return out;
}

absl::StatusOr<tlog::Hash> MerkleLog::Root(uint64_t tree_size) const {
  BUDSTIKKE_RETURN_IF_ERROR(CheckSize(tree_size));
  auto r = tlog::TreeHash(tree_size, *this);
  if (!r.ok()) return FromResult(r.error());
  return *r;
}

absl::StatusOr<std::vector<tlog::Hash>> MerkleLog::InclusionProof(uint64_t index,
                                                                  uint64_t tree_size) const {
  // The same reads as a page of proofs, so that every proof served is built
  // from the same stored hashes.
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<std::vector<tlog::Hash>> proofs,
                             InclusionProofs({index}, tree_size));
  return std::move(proofs[0]);
}

absl::StatusOr<std::vector<tlog::Hash>> MerkleLog::ConsistencyProof(uint64_t first,
                                                                    uint64_t second) const {
  BUDSTIKKE_RETURN_IF_ERROR(CheckSize(second));
  // Built from the same reads as the inclusion proofs, and checked the same
  // way: a changed stored hash is DATA_LOSS here, not a proof that makes an
  // auditor's client report a rewritten history.
  std::vector<tlog::HashIndex> wanted;
  auto planned = tlog::ProveConsistency(first, second, CollectingReader(&wanted));
  if (!planned.ok()) return FromResult(planned.error());
  BUDSTIKKE_ASSIGN_OR_RETURN(HashMap hashes, ReadForProofs(*this, *store_, options_.cache_min_level,
                                                           std::move(wanted), second));
  auto r = tlog::ProveConsistency(first, second, MapReader(&hashes));
  if (!r.ok()) return FromResult(r.error());
  BUDSTIKKE_ASSIGN_OR_RETURN(tlog::Hash first_root, Root(first));
  BUDSTIKKE_ASSIGN_OR_RETURN(tlog::Hash second_root, Root(second));
  if (!tlog::VerifyConsistency(first, second, first_root, second_root, r.value()).ok()) {
    return absl::DataLossError(
        absl::StrCat("consistency proof from tree size ", first, " to ", second,
                     " does not lead to their roots (a stored hash",
                     " changed; corrupt data dir: restore it from a backup)"));
  }
  return std::move(r).value();
}

absl::StatusOr<std::string> MerkleLog::LatestCheckpoint() const {
  auto got = store_->Get(meta_cf_, kCheckpointKey);
  if (absl::IsNotFound(got.status())) return std::string();
  return got;
}

absl::Status MerkleLog::PutCheckpoint(std::string_view note) {
  return store_->Put(meta_cf_, kCheckpointKey, note);
}

}  // namespace budstikke::storage
