// Conversions between absl::Time and google.protobuf.Timestamp.
#ifndef BUDSTIKKE_SERVICES_COMMON_TIME_UTIL_H_
#define BUDSTIKKE_SERVICES_COMMON_TIME_UTIL_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace budstikke::common {

// Whole seconds rounded down and the nanoseconds after them (0..999999999),
// for any time from year 1 to 9999 (int64 nanoseconds since 1970 would
// saturate before 1677 and after 2262).
inline google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_TIME_UTIL_H_
