// Server reflection (grpc.reflection.v1alpha) for authenticated callers only.
//
// gRPC's reflection plugin answers anyone whose certificate chains to the CA,
// whatever its SPIFFE ID. This one first authenticates the caller as every
// Budstikke method does (Authenticator::Authenticated: a valid person or
// service identity of the trust domain) and refuses anyone else with the same
// UNAUTHENTICATED status; health (grpc.health.v1) stays open. It lists the
// services registered on the server and describes them from the generated
// descriptor pool, as gRPC's own service does (a file comes with the
// dependencies not yet sent on the stream).
//
//   builder.SetOption(AuthenticatedReflection(&authenticator));
//
// The Authenticator is not owned and must outlive the server. Thread-safe.
#ifndef BUDSTIKKE_SERVICES_SERVER_REFLECTION_H_
#define BUDSTIKKE_SERVICES_SERVER_REFLECTION_H_

#include <grpcpp/impl/server_builder_option.h>

#include <memory>

#include "services/common/grpc_auth.h"

namespace budstikke::server {

// A server builder option that adds the reflection service (as a plugin, so
// it learns the names of the services the server registered).
std::unique_ptr<grpc::ServerBuilderOption> AuthenticatedReflection(
    const common::Authenticator* auth);

}  // namespace budstikke::server

#endif  // BUDSTIKKE_SERVICES_SERVER_REFLECTION_H_
