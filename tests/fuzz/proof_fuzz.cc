// Fuzzes Merkle proof checking: tlog's RFC 9162 VerifyInclusion and
// VerifyConsistency (tlog/tree.h) and the SDK's VerifyRecords and
// VerifyConsistency (clients/cpp/budstikke/audit_verify.h), which parse the
// proofs the audit service returns. A real log of 13 audit leaves is built at
// start-up. The first input byte picks a mode:
//   0  inclusion: [u8 index][u8 size][u8 leaf][32-byte hashes...]; a proof
//      that verifies against the real root proves the real leaf (soundness);
//   1  consistency: [u8 m][u8 n][u8 use real old root][32-byte hashes...]; a
//      proof that verifies against the real new root proves the real old root;
//   2  arbitrary u64 indexes and sizes with any root: must not crash;
//   3  a QueryAuditResponse (protobuf) checked with the SDK's VerifyRecords
//      against the real checkpoint: every accepted record is the real leaf;
//   4  a ConsistencyProof (protobuf) checked with the SDK's VerifyConsistency.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "budstikke/audit_verify.h"
#include "budstikke/v1/audit.pb.h"
#include "tests/fuzz/fuzz_support.h"
#include "tlog/checkpoint.h"
#include "tlog/hash.h"
#include "tlog/tree.h"

namespace budstikke::fuzz {
namespace {

constexpr uint64_t kLeaves = 13;

struct Log {
  tlog::MemoryTree tree;
  std::vector<std::string> leaves;
  std::vector<tlog::Hash> roots;  // roots[n]: root of the first n leaves
};

std::string LeafData(uint64_t i) {
  return "{\"v\":1,\"index\":" + std::to_string(i) +
         ",\"time\":\"2026-01-01T00:00:00Z\",\"action\":\"referral.read\"}";
}

const Log& TheLog() {
  static const Log* log = [] {
    auto* l = new Log;
    l->roots.push_back(tlog::EmptyHash());
    for (uint64_t i = 0; i < kLeaves; ++i) {
      l->leaves.push_back(LeafData(i));
      l->tree.Append(l->leaves.back());
      l->roots.push_back(l->tree.Root());
    }
    return l;
  }();
  return *log;
}

std::vector<tlog::Hash> Hashes(std::string_view bytes) {
  std::vector<tlog::Hash> out;
  while (bytes.size() >= tlog::kHashSize && out.size() < 64) {
    tlog::Hash h;
    std::memcpy(h.data(), bytes.data(), h.size());
    out.push_back(h);
    bytes.remove_prefix(h.size());
  }
  return out;
}

uint64_t U64(std::string_view* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && !in->empty(); ++i) {
    v = v << 8 | static_cast<uint8_t>((*in)[0]);
    in->remove_prefix(1);
  }
  return v;
}

tlog::Checkpoint CheckpointOf(uint64_t n) {
  tlog::Checkpoint cp;
  cp.origin = "budstikke.test/audit";
  cp.size = n;
  cp.root = TheLog().roots[n];
  return cp;
}

void Inclusion(std::string_view in) {
  if (in.size() < 3) return;
  const Log& log = TheLog();
  const uint64_t index = static_cast<uint8_t>(in[0]) % (kLeaves + 2);
  const uint64_t size = static_cast<uint8_t>(in[1]) % (kLeaves + 1);
  const uint64_t which = static_cast<uint8_t>(in[2]) % kLeaves;
  const tlog::Hash leaf = tlog::LeafHash(log.leaves[which]);
  const auto path = Hashes(in.substr(3));
  if (tlog::VerifyInclusion(index, size, leaf, path, log.roots[size]).ok()) {
    FUZZ_CHECK(index < size && which == index);
    auto real = tlog::ProveInclusion(index, size, log.tree);
    FUZZ_CHECK(real.ok() && *real == path);
  }
}

void Consistency(std::string_view in) {
  if (in.size() < 3) return;
  const Log& log = TheLog();
  const uint64_t m = static_cast<uint8_t>(in[0]) % (kLeaves + 1);
  const uint64_t n = static_cast<uint8_t>(in[1]) % (kLeaves + 1);
  const bool real_old = in[2] & 1;
  auto path = Hashes(in.substr(3));
  tlog::Hash old_root = real_old || path.empty() ? log.roots[m] : path.back();
  if (!real_old && !path.empty()) path.pop_back();
  if (tlog::VerifyConsistency(m, n, old_root, log.roots[n], path).ok()) {
    FUZZ_CHECK(m <= n && old_root == log.roots[m]);
  }
}

void Arbitrary(std::string_view in) {
  const uint64_t a = U64(&in), b = U64(&in);
  auto hashes = Hashes(in);
  tlog::Hash root = hashes.empty() ? tlog::EmptyHash() : hashes.back();
  tlog::Hash other = hashes.size() < 2 ? tlog::EmptyHash() : hashes[hashes.size() - 2];
  (void)tlog::VerifyInclusion(a, b, other, hashes, root);
  (void)tlog::RootFromInclusionProof(a, b, other, hashes);
  (void)tlog::VerifyConsistency(a, b, other, root, hashes);
}

void SdkRecords(std::string_view in) {
  v1::QueryAuditResponse resp;
  if (!resp.ParseFromArray(in.data(), static_cast<int>(in.size()))) return;
  const tlog::Checkpoint cp = CheckpointOf(kLeaves);
  const bool from_zero = !resp.next_page_token().empty();
  auto s = VerifyRecords(cp, resp.records(), from_zero ? std::optional<uint64_t>(0) : std::nullopt);
  if (s.ok()) {
    for (const auto& r : resp.records()) {
      const uint64_t i = r.inclusion_proof().leaf_index();
      FUZZ_CHECK(i < kLeaves && r.leaf_data() == TheLog().leaves[i]);
    }
  } else {
    FUZZ_CHECK(s.code() == absl::StatusCode::kDataLoss);
  }
}

void SdkConsistency(std::string_view in) {
  v1::ConsistencyProof proof;
  if (!proof.ParseFromArray(in.data(), static_cast<int>(in.size()))) return;
  const uint64_t m = proof.first() % (kLeaves + 1), n = proof.second() % (kLeaves + 1);
  tlog::Checkpoint older = CheckpointOf(m), newer = CheckpointOf(n);
  if (proof.first() > kLeaves) older.root.fill(0);  // a forged old root
  auto s = VerifyConsistency(older, newer, proof.path());
  if (s.ok()) FUZZ_CHECK(m <= n && older.root == TheLog().roots[m]);
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  const Log& log = TheLog();
  auto raw = [](const std::vector<tlog::Hash>& path) {
    std::string s;
    for (const auto& h : path) s.append(reinterpret_cast<const char*>(h.data()), h.size());
    return s;
  };
  std::vector<std::string> seeds;
  seeds.push_back(std::string("\x00\x05\x0b\x05", 4) + raw(*tlog::ProveInclusion(5, 11, log.tree)));
  seeds.push_back(std::string("\x00\x0c\x0d\x0c", 4) +
                  raw(*tlog::ProveInclusion(12, 13, log.tree)));
  seeds.push_back(std::string("\x01\x03\x0d\x01", 4) +
                  raw(*tlog::ProveConsistency(3, 13, log.tree)));
  seeds.push_back(std::string("\x01\x07\x08\x01", 4) +
                  raw(*tlog::ProveConsistency(7, 8, log.tree)));
  seeds.push_back(std::string("\x02") + std::string(16, '\xff') + raw({log.roots[4]}));
  v1::QueryAuditResponse resp;
  for (uint64_t i : {0, 1, 2, 9}) {
    v1::AuditRecord* r = resp.add_records();
    r->set_leaf_data(log.leaves[i]);
    r->mutable_event()->set_index(i);
    v1::InclusionProof* p = r->mutable_inclusion_proof();
    p->set_leaf_index(i);
    p->set_tree_size(kLeaves);
    const tlog::Hash h = tlog::LeafHash(log.leaves[i]);
    p->set_leaf_hash(std::string(reinterpret_cast<const char*>(h.data()), h.size()));
    const auto path = tlog::ProveInclusion(i, kLeaves, log.tree);
    for (const auto& step : *path) {
      p->add_inclusion_path(std::string(reinterpret_cast<const char*>(step.data()), step.size()));
    }
  }
  seeds.push_back("\x03" + resp.SerializeAsString());
  v1::ConsistencyProof cproof;
  cproof.set_first(6);
  cproof.set_second(13);
  const auto cpath = tlog::ProveConsistency(6, 13, log.tree);
  for (const auto& step : *cpath) {
    cproof.add_path(std::string(reinterpret_cast<const char*>(step.data()), step.size()));
  }
  seeds.push_back("\x04" + cproof.SerializeAsString());
  MaybeWriteSeeds(seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke::fuzz;
  if (size == 0) return 0;
  const std::string_view rest = AsView(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      Inclusion(rest);
      break;
    case 1:
      Consistency(rest);
      break;
    case 2:
      Arbitrary(rest);
      break;
    case 3:
      SdkRecords(rest);
      break;
    default:
      SdkConsistency(rest);
      break;
  }
  return 0;
}
