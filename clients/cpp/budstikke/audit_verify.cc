#include "budstikke/audit_verify.h"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "tlog/tree.h"

namespace budstikke {
namespace {

absl::Status Fail(const std::string& msg) { return absl::DataLossError(msg); }

bool ToHash(const std::string& bytes, tlog::Hash* out) {
  if (bytes.size() != tlog::kHashSize) return false;
  std::memcpy(out->data(), bytes.data(), tlog::kHashSize);
  return true;
}

bool ToPath(const google::protobuf::RepeatedPtrField<std::string>& in,
            std::vector<tlog::Hash>* out) {
  for (const std::string& b : in) {
    if (!ToHash(b, &out->emplace_back())) return false;
  }
  return true;
}

// True if the event encoded in `leaf` names `index` as its own. Version-1
// leaves begin with exactly `{"v":1,"index":N,` (services/audit/event_codec.h),
// so a prefix match decides without parsing the JSON; anything else is parsed.
bool CarriesIndex(std::string_view leaf, uint64_t index) {
  constexpr std::string_view kV1 = "{\"v\":1,\"index\":";
  if (leaf.substr(0, kV1.size()) == kV1) {
    const std::string digits = std::to_string(index);
    const std::string_view rest = leaf.substr(kV1.size());
    return rest.size() > digits.size() && rest.substr(0, digits.size()) == digits &&
           rest[digits.size()] == ',';
  }
  auto j = nlohmann::json::parse(leaf, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("index") &&
         j["index"].is_number_unsigned() && j["index"].get<uint64_t>() == index;
}

}  // namespace

absl::StatusOr<tlog::Checkpoint> VerifyCheckpoint(const std::string& verifier_key,
                                                  const std::string& signed_note) {
  auto verifier = tlog::Verifier::FromVerifierKey(verifier_key);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad audit public key: ", verifier.error().message));
  }
  auto cp = tlog::OpenCheckpoint(signed_note, *verifier);
  if (!cp.ok()) {
    return Fail(absl::StrCat("checkpoint signature or format check failed: ", cp.error().message));
  }
  return *cp;
}

absl::Status VerifyLeaf(const tlog::Checkpoint& cp, const std::string& leaf_data,
                        const v1::InclusionProof& proof) {
  const uint64_t index = proof.leaf_index();
  const std::string where = absl::StrCat("audit event ", index, ": ");
  if (proof.tree_size() != cp.size) {
    return Fail(absl::StrCat(where, "proof is for tree size ", proof.tree_size(),
                             ", checkpoint has ", cp.size));
  }
  const tlog::Hash leaf_hash = tlog::LeafHash(leaf_data);
  tlog::Hash claimed;
  if (!ToHash(proof.leaf_hash(), &claimed) || claimed != leaf_hash) {
    return Fail(absl::StrCat(where, "event bytes do not match the leaf hash (event altered)"));
  }
  if (!CarriesIndex(leaf_data, index)) {
    return Fail(absl::StrCat(where, "event does not carry its own index"));
  }
  std::vector<tlog::Hash> path;
  if (!ToPath(proof.inclusion_path(), &path)) {
    return Fail(absl::StrCat(where, "inclusion path holds a hash that is not 32 bytes"));
  }
  auto r = tlog::VerifyInclusion(index, cp.size, leaf_hash, path, cp.root);
  if (!r.ok()) {
    return Fail(absl::StrCat(where, "inclusion proof does not lead to the checkpoint root (",
                             r.error().message, ")"));
  }
  return absl::OkStatus();
}

absl::Status VerifyRecords(const tlog::Checkpoint& cp,
                           const google::protobuf::RepeatedPtrField<v1::AuditRecord>& records,
                           std::optional<uint64_t> first_index) {
  uint64_t expect = first_index.value_or(0);
  for (const v1::AuditRecord& r : records) {
    if (!r.has_inclusion_proof()) {
      return Fail(absl::StrCat("audit event ", r.event().index(), ": no inclusion proof"));
    }
    if (first_index && r.inclusion_proof().leaf_index() != expect) {
      return Fail(absl::StrCat("audit event ", expect, ": missing (next event returned is ",
                               r.inclusion_proof().leaf_index(), ")"));
    }
    absl::Status s = VerifyLeaf(cp, r.leaf_data(), r.inclusion_proof());
    if (!s.ok()) return s;
    expect = r.inclusion_proof().leaf_index() + 1;
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(const tlog::Checkpoint& older, const tlog::Checkpoint& newer,
                               const google::protobuf::RepeatedPtrField<std::string>& path) {
  if (newer.size < older.size) {
    return Fail(absl::StrCat("log rolled back: a checkpoint of size ", older.size,
                             " was seen before, the server now serves size ", newer.size));
  }
  std::vector<tlog::Hash> p;
  if (!ToPath(path, &p)) return Fail("consistency path holds a hash that is not 32 bytes");
  if (older.size == 0) {
    if (older.root != tlog::EmptyHash()) return Fail("saved empty checkpoint has a wrong root");
    return absl::OkStatus();
  }
  auto r = tlog::VerifyConsistency(older.size, newer.size, older.root, newer.root, p);
  if (!r.ok()) {
    return Fail(absl::StrCat("log is not consistent with the checkpoint of size ", older.size,
                             " seen before (history rewritten): ", r.error().message));
  }
  return absl::OkStatus();
}

}  // namespace budstikke
