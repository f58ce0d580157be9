#include "services/common/grpc_status.h"

#include <string>

#include "google/rpc/status.pb.h"
#include "services/common/errors.h"

namespace budstikke::common {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  std::optional<v1::ErrorDetails> details = GetErrorDetails(status);
  if (!details) return grpc::Status(code, message);
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(status.code()));
  rpc_status.set_message(message);
  rpc_status.add_details()->PackFrom(*details);
  return grpc::Status(code, message, rpc_status.SerializeAsString());
}

}  // namespace budstikke::common
