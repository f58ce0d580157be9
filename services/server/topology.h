// Which services a process hosts and which it reaches through --peers
// (microservices mode). One table: kNeeds in topology.cc.
//
// Targets: the seven services (directory, consultation, consent, referral,
// inbox, audit, admin; "all" = these) and "gateway" (the client-facing
// forwarder, never part of "all").
#ifndef BUDSTIKKE_SERVICES_SERVER_TOPOLOGY_H_
#define BUDSTIKKE_SERVICES_SERVER_TOPOLOGY_H_

#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace budstikke::server {

// The services `target` calls (not counting itself).
std::set<std::string> NeedsOf(const std::string& target);

// The services the process hosting `targets` must reach remotely: what its
// targets need that it does not host.
std::set<std::string> RemoteNeeds(const std::set<std::string>& targets);

// "host:port" of each service the process reaches remotely, from the JSON
// object of --peers FILE ({"directory":"host:port",...}). INVALID_ARGUMENT
// with a one-line reason for anything else.
absl::StatusOr<std::map<std::string, std::string>> ParsePeers(absl::string_view json);

// True when the process keeps data (a data dir and the master key): it hosts
// a service other than the gateway and admin.
bool KeepsData(const std::set<std::string>& targets);

// OK, or FAILED_PRECONDITION with one line naming the first service that a
// target needs and that is neither hosted nor in `peers`.
absl::Status CheckPeers(const std::set<std::string>& targets,
                        const std::map<std::string, std::string>& peers);

}  // namespace budstikke::server

#endif  // BUDSTIKKE_SERVICES_SERVER_TOPOLOGY_H_
