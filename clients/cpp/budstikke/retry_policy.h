// Which calls of budstikke.v1 the SDK's channel lets gRPC retry, as a gRPC
// service config (https://github.com/grpc/grpc/blob/master/doc/service_config.md,
// "retryPolicy"). Internal to the SDK: Client::ChannelArgs sets it.
#ifndef BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_RETRY_POLICY_H_
#define BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_RETRY_POLICY_H_

#include <string>
#include <vector>

namespace budstikke::internal {

// "budstikke.v1.<Service>/<Method>" of the unary calls that are safe to send
// again after UNAVAILABLE: every read, and the creates, which carry a
// request_id (the server refuses a create without one and answers a repeated
// id with the first result).
const std::vector<std::string>& RetriedMethods();

// The calls deliberately not retried: changes without a request_id (a second
// attempt could act twice, e.g. Decide) and the streams. Every RPC of
// budstikke.v1 is in exactly one of the two lists (client_test checks it).
const std::vector<std::string>& NotRetriedMethods();

// The service config JSON: one methodConfig naming RetriedMethods() with
// retryPolicy {maxAttempts: max_attempts (at most 5), initialBackoff 0.1s,
// maxBackoff 1s, backoffMultiplier 2, retryableStatusCodes [UNAVAILABLE]};
// no retryPolicy when max_attempts < 2.
std::string RetryServiceConfig(int max_attempts);

}  // namespace budstikke::internal

#endif  // BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_RETRY_POLICY_H_
