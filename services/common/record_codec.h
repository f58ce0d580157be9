// Small encodings shared by the services' storage layouts: random record ids,
// newest-first time keys, a two-part value frame and a protobuf serializer
// for records with long texts.
#ifndef BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_
#define BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace budstikke::common {

// `prefix` followed by `random_bytes` bytes from OpenSSL's CSPRNG as lowercase
// hex. Aborts if the CSPRNG fails: there is no safe fallback for an id.
std::string RandomHexId(absl::string_view prefix, size_t random_bytes);

// 20-digit decimal of (INT64_MAX - microseconds since the epoch): byte order
// is newest first.
std::string InvertedTimeMicros(absl::Time t);

// u32 big-endian length of a | a | b.
std::string Frame(absl::string_view a, absl::string_view b);
// The inverse of Frame; false if `framed` is shorter than its length says.
bool Unframe(absl::string_view framed, std::string* a, std::string* b);

// The same message as m.SerializeAsString() (it parses to an equal message),
// without checking UTF-8 again in strings of kLongString bytes or more. Meant
// for records built from parsed requests, whose strings protobuf checked when
// gRPC parsed them. Protobuf 3.21 checks at ~2.4 ns per byte once a text has
// a non-ASCII letter: serializing a referral with a 4 KiB Norwegian reason
// took 9.7 us, this 2.8 (docs/PERFORMANCE.md, Consultations, fourth round).
// Long strings, and the sub-messages holding them, are written after the
// other fields; protobuf parsers accept fields in any order. Map fields are
// serialized as usual.
inline constexpr size_t kLongString = 256;
std::string SerializeLongTextsUnchecked(const google::protobuf::Message& m);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_
