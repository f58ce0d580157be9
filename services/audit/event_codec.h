// The canonical, versioned byte encoding of an audit event: the leaf data of
// the audit log (leaf hash = SHA-256(0x00 || leaf data), RFC 9162).
//
// Version 1 is one line of JSON, UTF-8, no whitespace, keys in this order,
// every field always present:
//   {"v":1,"index":N,"time":"2024-05-01T12:00:00.123456789Z",
//    "actor":{"agency":"..","user":"..","role":"CLINICIAN","service":".."},
//    "action":"referral.read","resource":{"kind":"REFERRAL","id":".."},
//    "subject":"<pseudonym hex>","outcome":"ALLOWED","rule":"",
//    "legal_basis":"CONSENT","consent_id":"..","request_id":".."}
// Enum values are the proto names without their type prefix; time is RFC 3339
// UTC with nanoseconds (trailing zeros removed). Never content.
//
// Version 2, for aggregated refusals only (count > 0), is version 1 with "v":2
// and three more keys at the end:
//   ...,"request_id":"","count":N,"first_time":"..","last_time":".."}
// so every event that is not an aggregate keeps version 1's exact bytes.
//
// DecodeLeaf is strict: it accepts exactly the bytes EncodeLeaf produces for
// some event with a time in the years 1 to 9999 (re-encoding must give the
// same bytes), else DATA_LOSS.
// Thread-safe (pure functions).
#ifndef BUDSTIKKE_SERVICES_AUDIT_EVENT_CODEC_H_
#define BUDSTIKKE_SERVICES_AUDIT_EVENT_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "budstikke/v1/audit.pb.h"

namespace budstikke::audit {

inline constexpr int kLeafVersion = 1;
inline constexpr int kAggregatedLeafVersion = 2;

std::string EncodeLeaf(const v1::AuditEvent& event);
absl::StatusOr<v1::AuditEvent> DecodeLeaf(absl::string_view leaf);

// Whether a leaf can hold `event` so that DecodeLeaf reads it back: enum
// values the proto knows, a time from year 1 to 9999 with 0..999999999
// nanoseconds, and nothing EncodeLeaf would have to replace (invalid UTF-8).
// INVALID_ARGUMENT "an audit leaf cannot hold this event: <why>" otherwise.
// Events that come from outside the process (AuditIngest/Append) pass it
// before they are stored.
absl::Status CheckEncodable(const v1::AuditEvent& event);

}  // namespace budstikke::audit

#endif  // BUDSTIKKE_SERVICES_AUDIT_EVENT_CODEC_H_
