// Conversions between absl::Time and google.protobuf.Timestamp.
#ifndef BUDSTIKKE_SERVICES_COMMON_TIME_UTIL_H_
#define BUDSTIKKE_SERVICES_COMMON_TIME_UTIL_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace budstikke::common {

inline google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1000000000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return ts;
}

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_TIME_UTIL_H_
