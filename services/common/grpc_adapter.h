// Unary: the one body of every unary gRPC adapter method.
//
//   constexpr char kGet[] = "budstikke.v1.ReferralService/Get";
//
//   grpc::Status ReferralServiceImpl::Get(grpc::ServerContext* ctx,
//                                         const v1::GetReferralRequest* req, v1::Referral* resp) {
//     return common::Unary(ctx, *auth_, kGet, resp, executor_,
//                          [&](const Caller& c) { return desk_->Get(c, req->id()); });
//   }
//
// Contract, in order:
//  1. Authenticate: auth.Authenticate(ctx, method), with `method` the full
//     gRPC name ("budstikke.v1.<Service>/<Method>", the key of the
//     authorization table in authz.cc). On failure its status is returned
//     (UNAUTHENTICATED, PERMISSION_DENIED, or UNAVAILABLE when a refusal could
//     not be audited) and `call` does not run.
//  2. Run `call(caller)` on `executor`, blocking until it is done, or on the
//     calling (gRPC) thread when `executor` is kInline (nullptr).
//  3. Convert once: an error becomes ToGrpcStatus(error) (code, message and
//     ErrorDetails in the binary details trailer) and `*resp` is untouched; a
//     value is moved into `*resp` with its long texts stashed for the wire
//     (ReplyWith) and the result is OK.
//
// `call` takes `const Caller&` and returns absl::StatusOr<T> with T
// assignable to Response (usually Response itself). Both are invoked at most
// once. Streaming methods do not use it: they authenticate with
// Authenticator::Authenticate, stay on gRPC's thread for the whole stream
// (never a DomainExecutor thread) and convert with ToGrpcStatus / ReplyWith.
//
// Thread safety: as that of `auth`, `executor` and `call`; nothing is shared.
#ifndef BUDSTIKKE_SERVICES_COMMON_GRPC_ADAPTER_H_
#define BUDSTIKKE_SERVICES_COMMON_GRPC_ADAPTER_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/domain_executor.h"
#include "services/common/grpc_auth.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"
#include "services/common/stream_watchdog.h"

namespace budstikke::common {

// Pass as `executor` to run the domain call on gRPC's thread.
inline constexpr DomainExecutor* kInline = nullptr;

namespace grpc_adapter_internal {

template <typename T>
struct IsStatusOr : std::false_type {};
template <typename T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};

}  // namespace grpc_adapter_internal

// Steps 2 and 3 of Unary for an already authenticated `caller`.
template <typename Response, typename Call>
grpc::Status RunAndReply(const Caller& caller, DomainExecutor* executor, Response* resp,
                         Call&& call) {
  using Result = std::invoke_result_t<Call&, const Caller&>;
  static_assert(grpc_adapter_internal::IsStatusOr<Result>::value,
                "the domain call of an adapter must return absl::StatusOr<T>");
  return ReplyWith(RunOn(executor, [&]() -> Result { return call(caller); }), resp);
}

template <typename Response, typename Call>
grpc::Status Unary(const grpc::ServerContext* ctx, const Authenticator& auth,
                   absl::string_view method, Response* resp, DomainExecutor* executor,
                   Call&& call) {
  absl::StatusOr<Caller> caller = auth.Authenticate(ctx, method);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return RunAndReply(*caller, executor, resp, std::forward<Call>(call));
}

// One blocking read or write of a stream (`step` returns its bool), watched by
// StreamWatchdog::Default(): still waiting after StreamStepLimit(), the call is
// cancelled and `step` returns false. Sets *expired when that happened.
template <typename Step>
bool WatchedStep(grpc::ServerContext* ctx, Step&& step, bool* expired = nullptr) {
  StreamWatchdog::Step watched(StreamWatchdog::Default(), StreamStepLimit(),
                               [ctx] { ctx->TryCancel(); });
  const bool ok = std::forward<Step>(step)();
  if (expired != nullptr) *expired = watched.expired();
  return ok;
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_GRPC_ADAPTER_H_
