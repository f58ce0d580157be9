// Offline verification of the Budstikke audit log (client side; needs only
// proto and tlog, never server code).
//
//   auto cp = VerifyCheckpoint(verifier_key, signed_note);      // signature
//   VerifyRecords(*cp, query_response.records());               // each proof
//   VerifyConsistency(saved_cp, *cp, consistency_proof.path()); // no rollback
//
// All failures are DATA_LOSS (evidence of tampering or a misbehaving server)
// with a message that says what failed; record failures name the FIRST bad
// log index ("audit event 17: ..."), and a rolled-back log says so. Malformed
// inputs (bad key text) are INVALID_ARGUMENT. Thread-safe (pure functions).
#ifndef BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_AUDIT_VERIFY_H_
#define BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_AUDIT_VERIFY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "budstikke/v1/audit.pb.h"
#include "google/protobuf/repeated_field.h"
#include "tlog/checkpoint.h"

namespace budstikke {

// Opens the C2SP signed checkpoint with the note verifier key.
absl::StatusOr<tlog::Checkpoint> VerifyCheckpoint(const std::string& verifier_key,
                                                  const std::string& signed_note);

// Checks one leaf against `cp`: SHA-256(0x00||leaf_data) equals the proof's
// leaf hash, the "index" inside the leaf equals the proof's leaf index, the
// proof's tree size equals cp.size and the RFC 9162 path leads to cp.root.
absl::Status VerifyLeaf(const tlog::Checkpoint& cp, const std::string& leaf_data,
                        const v1::InclusionProof& proof);

// VerifyLeaf for every record (which must carry leaf_data and a proof);
// with `first_index`, also that indexes are consecutive from it (no gap).
absl::Status VerifyRecords(const tlog::Checkpoint& cp,
                           const google::protobuf::RepeatedPtrField<v1::AuditRecord>& records,
                           std::optional<uint64_t> first_index = std::nullopt);

// `older` was seen before `newer`: newer.size < older.size is a rollback;
// equal sizes need equal roots; otherwise `path` must prove consistency.
absl::Status VerifyConsistency(const tlog::Checkpoint& older, const tlog::Checkpoint& newer,
                               const google::protobuf::RepeatedPtrField<std::string>& path);

}  // namespace budstikke

#endif  // BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_AUDIT_VERIFY_H_
