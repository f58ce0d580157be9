// Request ids and the one idempotency rule of every create call.
//
// Every create (consultation Ask, consent Record, referral Send, attachment
// upload, directory CreateAgency) takes a client request id. The service
// stores, under a request key in the same WriteBatch as the record, the id of
// what it created and a fingerprint of the request (RequestRecord). A retry:
//   same request_id, same request      -> the first result (a read, audited);
//   same request_id, different request -> ALREADY_EXISTS naming the id.
//
//   BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(req.request_id()));
//   const std::string fp = common::RequestFingerprint("referral.send", req);
//   auto prior = store->Get(cf, request_key);
//   if (prior.ok()) {
//     BUDSTIKKE_ASSIGN_OR_RETURN(std::string id, common::ReplayedId(*prior, fp, req.request_id()));
//     ... return the stored record `id` ...
//   }
//   batch.Put(cf, request_key, common::RequestRecord(new_id, fp));
//
// Pure functions; thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_IDEMPOTENCY_H_
#define BUDSTIKKE_SERVICES_COMMON_IDEMPOTENCY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace budstikke::common {

inline constexpr size_t kMaxRequestIdBytes = 128;

// OK for 1-128 printable ASCII characters; otherwise INVALID_ARGUMENT naming
// `field` ("request_id", "metadata.request_id") and what to fix.
absl::Status ValidateRequestId(absl::string_view request_id,
                               absl::string_view field = "request_id");

// Hex SHA-256 of `kind` and the serialization of `request` (a request
// message: no map fields, so equal requests serialize equally): equal
// requests of the same kind give equal fingerprints.
std::string RequestFingerprint(absl::string_view kind, const google::protobuf::Message& request);

// The value stored under a request key: "<created id>\n<fingerprint>".
std::string RequestRecord(absl::string_view created_id, absl::string_view fingerprint);

// The created id to return for a retry whose request key holds `stored`, or
// ALREADY_EXISTS "request_id '<id>' was already used for a different request"
// when the fingerprints differ. A value written before fingerprints were
// stored (a bare id) is taken as a match. DATA_LOSS for an empty id.
absl::StatusOr<std::string> ReplayedId(absl::string_view stored, absl::string_view fingerprint,
                                       absl::string_view request_id);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_IDEMPOTENCY_H_
