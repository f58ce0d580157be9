#include "services/server/topology.h"

#include <initializer_list>
#include <utility>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace budstikke::server {
namespace {

struct Needs {
  absl::string_view target;
  std::initializer_list<absl::string_view> needs;
};

// Every process with data sends its audit events to the audit service and
// (consultation, consent, referral) its notifications to the inbox service;
// the directory answers agency lookups; consent and referral call each other
// (consent facts one way, revocations the other). The gateway forwards to
// every service; admin manages the keys and backups of every service with
// data (the fan-out) and records to the audit log.
constexpr Needs kNeeds[] = {
    {"directory", {"audit"}},
    {"consultation", {"directory", "inbox", "audit"}},
    {"consent", {"directory", "referral", "inbox", "audit"}},
    {"referral", {"directory", "consent", "inbox", "audit"}},
    {"inbox", {"audit"}},
    {"audit", {"directory"}},
    {"admin", {"directory", "consultation", "consent", "referral", "inbox", "audit"}},
    {"gateway", {"directory", "consultation", "consent", "referral", "inbox", "audit", "admin"}},
};

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParsePeers(absl::string_view json) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &object).ok()) {
    return absl::InvalidArgumentError("expected a JSON object {\"service\":\"host:port\",...}");
  }
  std::map<std::string, std::string> peers;
  for (const auto& [name, value] : object.fields()) {
    if (value.kind_case() != google::protobuf::Value::kStringValue ||
        !absl::StrContains(value.string_value(), ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", name, "\" must be a \"host:port\" string"));
    }
    peers[name] = value.string_value();
  }
  return peers;
}

std::set<std::string> NeedsOf(const std::string& target) {
  std::set<std::string> out;
  for (const Needs& n : kNeeds) {
    if (n.target != target) continue;
    for (absl::string_view s : n.needs) out.emplace(s);
  }
  return out;
}

std::set<std::string> RemoteNeeds(const std::set<std::string>& targets) {
  std::set<std::string> out;
  for (const std::string& t : targets) {
    for (const std::string& need : NeedsOf(t)) {
      if (targets.count(need) == 0) out.insert(need);
    }
  }
  return out;
}

bool KeepsData(const std::set<std::string>& targets) {
  for (const std::string& t : targets) {
    if (t != "gateway" && t != "admin") return true;
  }
  return false;
}

absl::Status CheckPeers(const std::set<std::string>& targets,
                        const std::map<std::string, std::string>& peers) {
  for (const std::string& t : targets) {
    for (const std::string& need : NeedsOf(t)) {
      if (targets.count(need) == 0 && peers.count(need) == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("target ", t, " needs the ", need,
                         " service: host it here (--target) or name it in --peers"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace budstikke::server
