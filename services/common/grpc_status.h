// The one place where absl::Status becomes grpc::Status. Codes map one to one;
// an attached budstikke.v1.ErrorDetails becomes a google.rpc.Status in the
// grpc-status-details-bin trailer (binary error details), so clients decode
// violations and PII findings without parsing the message.
#ifndef BUDSTIKKE_SERVICES_COMMON_GRPC_STATUS_H_
#define BUDSTIKKE_SERVICES_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/record_codec.h"

namespace budstikke::common {

grpc::Status ToGrpcStatus(const absl::Status& status);

// The end of a unary handler: `result`'s error, or its value moved into
// `*resp` with its long texts stashed for the wire (StashLongTextsForWire),
// so gRPC does not check their UTF-8 a second time. Saves ~11 us of a
// referral Send with a 4 KiB reason (docs/PERFORMANCE.md, Referrals).
template <typename T, typename R>
grpc::Status ReplyWith(absl::StatusOr<T> result, R* resp) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = *std::move(result);
  StashLongTextsForWire(resp);
  return grpc::Status::OK;
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_GRPC_STATUS_H_
