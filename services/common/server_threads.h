// Thread settings for every gRPC server of Budstikke (budstikke-server and the
// benchmarks' servers, so the echo baselines run with the same settings).
//
// gRPC's synchronous server keeps between MIN_POLLERS and MAX_POLLERS threads
// waiting for calls. With its defaults (1 and 2) a handler that blocks on a
// RocksDB write makes gRPC create and destroy a thread for most calls; these
// values keep the threads (docs/PERFORMANCE.md, Consultations).
#ifndef BUDSTIKKE_SERVICES_COMMON_SERVER_THREADS_H_
#define BUDSTIKKE_SERVICES_COMMON_SERVER_THREADS_H_

#include <grpcpp/server_builder.h>

namespace budstikke::common {

inline constexpr int kMinPollers = 8;
inline constexpr int kMaxPollers = 16;

inline void ApplyServerThreadOptions(grpc::ServerBuilder& builder) {
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, kMinPollers);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kMaxPollers);
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_SERVER_THREADS_H_
