// The one place where absl::Status becomes grpc::Status. Codes map one to one;
// an attached budstikke.v1.ErrorDetails becomes a google.rpc.Status in the
// grpc-status-details-bin trailer (binary error details), so clients decode
// violations and PII findings without parsing the message.
#ifndef BUDSTIKKE_SERVICES_COMMON_GRPC_STATUS_H_
#define BUDSTIKKE_SERVICES_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace budstikke::common {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_GRPC_STATUS_H_
