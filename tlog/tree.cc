#include "tlog/tree.h"

#include <cstdlib>
#include <string>

namespace budstikke::tlog {
namespace {

int Log2Floor(uint64_t x) { return 63 - __builtin_clzll(x); }

// Largest power of two strictly below n (n >= 2): RFC 9162's k.
uint64_t SplitPoint(uint64_t n) { return uint64_t{1} << Log2Floor(n - 1); }

// The stored hashes a proof or tree hash needs, grouped by the proof element
// (or root) each group folds into, in output order.
struct Plan {
  std::vector<HashIndex> indexes;
  std::vector<size_t> group_sizes;

  // Adds MTH(D[lo:hi]) as one group: [lo, hi) split into maximal complete
  // subtrees, left to right. Callers pass ranges of the RFC recursion, whose
  // lo is a multiple of every power of two <= hi - lo, so each subtree is
  // aligned and stored.
  void AddRange(uint64_t lo, uint64_t hi) {
    size_t before = indexes.size();
    while (lo < hi) {
      int level = Log2Floor(hi - lo);
      indexes.push_back(HashIndex{level, lo >> level});
      lo += uint64_t{1} << level;
    }
    group_sizes.push_back(indexes.size() - before);
  }

  // Reads the hashes and folds each group right to left into one hash.
  Result<std::vector<Hash>> Execute(const HashReader& reader) const {
    std::vector<Hash> out;
    if (indexes.empty()) return out;
    Result<std::vector<Hash>> read = reader.ReadHashes(indexes);
    if (!read.ok()) return read.error();
    const std::vector<Hash>& hashes = read.value();
    if (hashes.size() != indexes.size()) {
      return MakeError(ErrorCode::kInternal, "hash reader returned " +
                                                 std::to_string(hashes.size()) + " hashes for " +
                                                 std::to_string(indexes.size()) + " indexes");
    }
    out.reserve(group_sizes.size());
    size_t pos = 0;
    for (size_t count : group_sizes) {
      size_t last = pos + count - 1;
      Hash h = hashes[last];
      for (size_t i = last; i > pos; --i) h = NodeHash(hashes[i - 1], h);
      out.push_back(h);
      pos += count;
    }
    return out;
  }
};

// RFC 9162 §2.1.3.1 PATH(m, D[lo:hi]) with absolute leaf index m.
void PlanInclusion(uint64_t lo, uint64_t hi, uint64_t m, Plan* plan) {
  if (hi - lo == 1) return;
  uint64_t k = SplitPoint(hi - lo);
  if (m < lo + k) {
    PlanInclusion(lo, lo + k, m, plan);
    plan->AddRange(lo + k, hi);
  } else {
    PlanInclusion(lo + k, hi, m, plan);
    plan->AddRange(lo, lo + k);
  }
}

// RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b) with absolute old size m.
void PlanConsistency(uint64_t lo, uint64_t hi, uint64_t m, bool b, Plan* plan) {
  if (m == hi) {
    if (!b) plan->AddRange(lo, hi);
    return;
  }
  uint64_t k = SplitPoint(hi - lo);
  if (m <= lo + k) {
    PlanConsistency(lo, lo + k, m, b, plan);
    plan->AddRange(lo + k, hi);
  } else {
    PlanConsistency(lo + k, hi, m, false, plan);
    plan->AddRange(lo, lo + k);
  }
}

std::string Str(uint64_t v) { return std::to_string(v); }

}  // namespace

Result<std::vector<StoredHash>> StoredHashesForAppend(uint64_t n, const Hash& leaf_hash,
                                                      const HashReader& reader) {
  if (n == UINT64_MAX) {
    return MakeError(ErrorCode::kInvalidArgument, "tree is full");
  }
  // Leaf n is a right child at every level where bit `level` of n is set;
  // each such level completes a parent with the stored left sibling.
  std::vector<HashIndex> siblings;
  for (int level = 0; (n >> level) & 1; ++level) {
    siblings.push_back(HashIndex{level, (n >> level) - 1});
  }
  std::vector<StoredHash> out;
  out.reserve(siblings.size() + 1);
  out.push_back(StoredHash{HashIndex{0, n}, leaf_hash});
  if (siblings.empty()) return out;
  Result<std::vector<Hash>> read = reader.ReadHashes(siblings);
  if (!read.ok()) return read.error();
  if (read->size() != siblings.size()) {
    return MakeError(ErrorCode::kInternal, "hash reader returned a wrong number of hashes");
  }
  Hash h = leaf_hash;
  for (size_t i = 0; i < siblings.size(); ++i) {
    h = NodeHash((*read)[i], h);
    int level = static_cast<int>(i) + 1;
    out.push_back(StoredHash{HashIndex{level, n >> level}, h});
  }
  return out;
}

Result<Hash> TreeHash(uint64_t n, const HashReader& reader) {
  if (n == 0) return EmptyHash();
  Plan plan;
  plan.AddRange(0, n);
  Result<std::vector<Hash>> folded = plan.Execute(reader);
  if (!folded.ok()) return folded.error();
  return folded->front();
}

Result<std::vector<Hash>> ProveInclusion(uint64_t leaf_index, uint64_t tree_size,
                                         const HashReader& reader) {
  if (leaf_index >= tree_size) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "leaf index " + Str(leaf_index) + " is not below tree size " + Str(tree_size));
  }
  Plan plan;
  PlanInclusion(0, tree_size, leaf_index, &plan);
  return plan.Execute(reader);
}

Result<std::vector<Hash>> ProveConsistency(uint64_t m, uint64_t n, const HashReader& reader) {
  if (m > n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "consistency proof from size " + Str(m) + " to smaller size " + Str(n));
  }
  if (m == 0 || m == n) return std::vector<Hash>{};
  Plan plan;
  PlanConsistency(0, n, m, true, &plan);
  return plan.Execute(reader);
}

Result<Hash> RootFromInclusionProof(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                                    const std::vector<Hash>& path) {
  // 1. leaf_index must be below tree_size.
  if (leaf_index >= tree_size) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "leaf index " + Str(leaf_index) + " is not below tree size " + Str(tree_size));
  }
  // 2-3.
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  // 4.
  for (const Hash& p : path) {
    if (sn == 0) {  // a.
      return MakeError(ErrorCode::kInvalidArgument,
                       "inclusion path of " + Str(path.size()) + " hashes is too long for leaf " +
                           Str(leaf_index) + " in tree size " + Str(tree_size));
    }
    if ((fn & 1) == 1 || fn == sn) {  // b.
      r = NodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;  // c.
    sn >>= 1;
  }
  // 5. (first half)
  if (sn != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "inclusion path of " + Str(path.size()) + " hashes is too short for leaf " +
                         Str(leaf_index) + " in tree size " + Str(tree_size));
  }
  return r;
}

Result<void> VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                             const std::vector<Hash>& path, const Hash& root) {
  Result<Hash> computed = RootFromInclusionProof(leaf_index, tree_size, leaf_hash, path);
  if (!computed.ok()) return computed.error();
  // 5. (second half)
  if (*computed != root) {
    return MakeError(ErrorCode::kDataLoss, "inclusion proof for leaf " + Str(leaf_index) +
                                               " in tree size " + Str(tree_size) +
                                               " does not match the root hash");
  }
  return {};
}

Result<void> VerifyConsistency(uint64_t m, uint64_t n, const Hash& root_m, const Hash& root_n,
                               const std::vector<Hash>& path) {
  if (m > n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "consistency proof from size " + Str(m) + " to smaller size " + Str(n));
  }
  if (m == n || m == 0) {
    if (!path.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "consistency path from size " + Str(m) + " to " + Str(n) + " must be empty");
    }
    const Hash& expected = m == 0 ? EmptyHash() : root_n;
    if (root_m != expected) {
      return MakeError(ErrorCode::kDataLoss,
                       m == 0 ? "root of size 0 is not the empty tree hash"
                              : "roots of equal tree size " + Str(n) + " differ");
    }
    return {};
  }
  // 1.
  if (path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "empty consistency path from size " + Str(m) + " to " + Str(n));
  }
  // 2. Prepend root_m if m is a power of two (without copying the path).
  const bool prepend = (m & (m - 1)) == 0;
  auto at = [&](size_t i) -> const Hash& {
    return prepend ? (i == 0 ? root_m : path[i - 1]) : path[i];
  };
  const size_t count = path.size() + (prepend ? 1 : 0);
  // 3.
  uint64_t fn = m - 1;
  uint64_t sn = n - 1;
  // 4.
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  // 5.
  Hash fr = at(0);
  Hash sr = at(0);
  // 6.
  for (size_t i = 1; i < count; ++i) {
    const Hash& c = at(i);
    if (sn == 0) {  // a.
      return MakeError(ErrorCode::kInvalidArgument, "consistency path of " + Str(path.size()) +
                                                        " hashes is too long from size " + Str(m) +
                                                        " to " + Str(n));
    }
    if ((fn & 1) == 1 || fn == sn) {  // b.
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;  // c.
    sn >>= 1;
  }
  // 7.
  if (sn != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "consistency path of " + Str(path.size()) +
                                                      " hashes is too short from size " + Str(m) +
                                                      " to " + Str(n));
  }
  if (fr != root_m) {
    return MakeError(ErrorCode::kDataLoss,
                     "consistency proof does not match the root of size " + Str(m));
  }
  if (sr != root_n) {
    return MakeError(ErrorCode::kDataLoss,
                     "consistency proof does not match the root of size " + Str(n));
  }
  return {};
}

uint64_t MemoryTree::Append(std::string_view data) { return AppendLeafHash(LeafHash(data)); }

uint64_t MemoryTree::AppendLeafHash(const Hash& leaf_hash) {
  // Reads only hashes this tree holds, so it cannot fail.
  Result<std::vector<StoredHash>> entries = StoredHashesForAppend(size_, leaf_hash, *this);
  if (!entries.ok()) std::abort();
  for (const StoredHash& e : *entries) {
    if (levels_.size() <= static_cast<size_t>(e.at.level)) {
      levels_.resize(e.at.level + 1);
    }
    levels_[e.at.level].push_back(e.hash);
  }
  return size_++;
}

Hash MemoryTree::Root() const {
  Result<Hash> root = TreeHash(size_, *this);
  if (!root.ok()) std::abort();
  return *root;
}

Result<std::vector<Hash>> MemoryTree::ReadHashes(const std::vector<HashIndex>& indexes) const {
  std::vector<Hash> out;
  out.reserve(indexes.size());
  for (const HashIndex& i : indexes) {
    if (i.level < 0 || static_cast<size_t>(i.level) >= levels_.size() ||
        i.index >= levels_[i.level].size()) {
      return MakeError(ErrorCode::kNotFound, "no stored hash at level " + std::to_string(i.level) +
                                                 " index " + Str(i.index));
    }
    out.push_back(levels_[i.level][i.index]);
  }
  return out;
}

}  // namespace budstikke::tlog
