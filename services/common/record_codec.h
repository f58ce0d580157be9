// Small encodings shared by the services' storage layouts: random record ids,
// newest-first time keys, a two-part value frame and a protobuf serializer
// for records with long texts.
#ifndef BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_
#define BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace budstikke::common {

// `prefix` followed by `random_bytes` bytes from OpenSSL's CSPRNG
// (storage::RandomBytes) as lowercase hex. Aborts if the CSPRNG fails: there is no safe fallback
// for an id.
std::string RandomHexId(absl::string_view prefix, size_t random_bytes);

// `prefix`, then the milliseconds since the epoch of `now` as 12 hex digits,
// then `random_bytes` bytes from storage::RandomBytes as hex: ids that sort by
// creation time, like UUIDv7, so new record keys land next to each other in
// RocksDB's memtable (docs/PERFORMANCE.md, Referrals). The time is no secret:
// the list indexes hold it in their keys.
std::string TimeOrderedId(absl::string_view prefix, absl::Time now, size_t random_bytes = 10);
// The time (to the millisecond) of an id TimeOrderedId made with `prefix`;
// nullopt for any other string.
std::optional<absl::Time> TimeOfId(absl::string_view prefix, absl::string_view id);

// 20-digit decimal of (INT64_MAX - microseconds since the epoch): byte order
// is newest first.
std::string InvertedTimeMicros(absl::Time t);

// u32 big-endian length of a | a | b.
std::string Frame(absl::string_view a, absl::string_view b);
// The inverse of Frame; false if `framed` is shorter than its length says.
bool Unframe(absl::string_view framed, std::string* a, std::string* b);

// Protobuf 3.21 checks the UTF-8 of every proto3 string it serializes, which
// is costly for long Norwegian texts (docs/PERFORMANCE.md, Consultations,
// fourth round). The two functions below skip that check for strings of
// kLongString bytes or more. Meant for messages built from parsed requests,
// whose strings protobuf checked when gRPC parsed them.
inline constexpr size_t kLongString = 256;

// Moves every long string of `m` and of its sub-messages (maps excepted) into
// the unknown fields of the message that holds it, under its own field
// number; a repeated string field with a long element moves whole, in order.
// `m` then serializes to bytes that parse to the original message (protobuf
// parsers accept fields in any order, and unknown fields are written as they
// are), but its accessors no longer show those strings: call it on a
// response just before it is sent, or on a copy.
void StashLongTextsForWire(google::protobuf::Message* m);

// The same message as m.SerializeAsString() (it parses to an equal message),
// with long strings written unchecked: a copy of `m` after
// StashLongTextsForWire. Without long strings, exactly m.SerializeAsString().
std::string SerializeLongTextsUnchecked(const google::protobuf::Message& m);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_
