// Gateway: the one client-facing address in microservices mode. It forwards
// every call, unary and streaming, to the process that hosts the called
// service, without decoding a message and without code per RPC (gRPC's
// generic callback API on both sides).
//
//   GatewayOptions options;
//   options.routes["budstikke.v1.ReferralService"] = referral_channel;
//   options.auth = &authenticator;
//   ASSIGN_OR_RETURN(std::unique_ptr<Gateway> gateway, Gateway::Create(std::move(options)));
//   builder.RegisterCallbackGenericService(gateway->service());
//
// For each incoming call:
//  - The caller comes from Authenticator::Identify (grpc_auth.h), exactly the
//    certificate rules of the all-in-one server: a person certificate that
//    sends `budstikke-on-behalf-of` is PERMISSION_DENIED; a service identity
//    (e.g. the web console) must name a person in it. A refusal is returned
//    with Identify's status unchanged. The authorization table is NOT checked
//    here: the callee checks the original caller as if it had been called
//    directly.
//  - The route is the service part of the method ("/pkg.Service/Method" ->
//    "pkg.Service"); a service without a route is UNIMPLEMENTED
//    "unknown service 'pkg.Service'". Services registered on the same server
//    (health) never reach the gateway.
//  - The backend call has the same method, the incoming deadline (less twice
//    what gRPC's grpc-timeout encoding may round up and 10 ms for its
//    millisecond clocks, e.g. 30 ms of a 7 s deadline, so that the backend
//    gives up no later than the client), the client's custom metadata (without pseudo-headers,
//    reserved HTTP/2 headers, `grpc-*` keys and any `budstikke-on-behalf-of`) and
//    `budstikke-on-behalf-of: <the caller's SPIFFE ID>`. Messages are copied as raw bytes, one at a
//    time in each direction: the next message is read from one side only after the previous write
//    to the other side completed (no unbounded buffering).
//  - The backend's initial metadata, trailing metadata and final status (code,
//    message and binary `grpc-status-details-bin`) come back unchanged. A
//    backend that cannot be reached gives the channel's UNAVAILABLE.
//  - A cancelled incoming call (client gone, deadline) cancels the backend
//    call.
//  - A unary method (by the descriptors compiled into the binary) takes a
//    shorter path with the same rules: the client's one message, one backend
//    call that sends and receives in one batch (GenericStub::UnaryCall), then
//    the response with the status in one operation. A unary call that ends
//    without its request message is INTERNAL "no request message" (CANCELLED
//    if the client cancelled it); a backend's OK without a message is passed
//    on as the status alone, as on the streaming path.
//
// Audit: Authenticator::IdentifyForForwarding records every PERMISSION_DENIED
// refusal of a certificate that names someone as a DENIED event (the method's
// audit action, or "api.call" with the method as resource id) through the
// Authenticator's AuditOutbox; if it cannot be recorded the call is
// UNAVAILABLE (no audit, no answer). A certificate that names no valid
// identity is not recorded (there is no actor).
//
// Thread-safe: one Gateway serves any number of concurrent calls. The Gateway
// must outlive the server it is registered with: shut the server down first
// (which cancels the calls still open); the destructor then waits for the
// forwarded calls still ending. The Authenticator and the outbox must outlive
// the Gateway.
#ifndef BUDSTIKKE_SERVICES_GATEWAY_GATEWAY_H_
#define BUDSTIKKE_SERVICES_GATEWAY_GATEWAY_H_

#include <grpcpp/channel.h>
#include <grpcpp/generic/async_generic_service.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/audit_outbox.h"
#include "services/common/grpc_auth.h"

namespace budstikke::gateway {

struct GatewayOptions {
  // Full gRPC service name ("budstikke.v1.ReferralService") -> channel to the
  // process hosting it (mTLS with the gateway's own service certificate).
  std::map<std::string, std::shared_ptr<grpc::Channel>> routes;
  // Required; not owned. Its AuditOutbox (if set) records refusals.
  const common::Authenticator* auth = nullptr;
};

class Gateway {
 public:
  // INVALID_ARGUMENT without an authenticator, with a null channel, or with a
  // route name that is empty or contains '/'.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(GatewayOptions options);
  ~Gateway();

  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Register with builder.RegisterCallbackGenericService(gateway->service()).
  grpc::CallbackGenericService* service();

  // Whether calls of `method` ("/pkg.Service/Method") take the unary path:
  // routed, and unary in the descriptors compiled into this binary.
  bool ForwardsAsUnary(absl::string_view method) const;

 private:
  class Service;
  explicit Gateway(std::unique_ptr<Service> service);

  std::unique_ptr<Service> service_;
};

}  // namespace budstikke::gateway

#endif  // BUDSTIKKE_SERVICES_GATEWAY_GATEWAY_H_
