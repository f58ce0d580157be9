// Small encodings shared by the services' storage layouts: random record ids,
// newest-first time keys and a two-part value frame. No personal data.
#ifndef BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_
#define BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

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

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_RECORD_CODEC_H_
