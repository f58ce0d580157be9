#include "services/audit/event_codec.h"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/time_util.h"

namespace budstikke::audit {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kTimeFormat[] = "%Y-%m-%d%ET%H:%M:%E*SZ";

template <typename Enum>
std::string Short(const std::string& full, absl::string_view prefix) {
  return absl::StartsWith(full, prefix) ? full.substr(prefix.size()) : full;
}

std::string RoleText(v1::Role r) { return Short<v1::Role>(v1::Role_Name(r), "ROLE_"); }
std::string KindText(v1::ResourceKind k) {
  return Short<v1::ResourceKind>(v1::ResourceKind_Name(k), "RESOURCE_KIND_");
}
std::string OutcomeText(v1::AuditOutcome o) {
  return Short<v1::AuditOutcome>(v1::AuditOutcome_Name(o), "AUDIT_OUTCOME_");
}
std::string BasisText(v1::LegalBasis b) {
  return Short<v1::LegalBasis>(v1::LegalBasis_Name(b), "LEGAL_BASIS_");
}

// RFC 3339 times: the years 1 to 9999, 0..999999999 nanoseconds.
bool TimeInRange(const google::protobuf::Timestamp& t) {
  constexpr int64_t kYear1 = -62135596800;      // 0001-01-01T00:00:00Z
  constexpr int64_t kYear10000 = 253402300800;  // 10000-01-01T00:00:00Z
  return t.seconds() >= kYear1 && t.seconds() < kYear10000 && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

absl::Status Bad(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("audit leaf is not canonical: ", what));
}

const Json* Field(const Json& obj, const char* name, Json::value_t type) {
  auto it = obj.find(name);
  if (it == obj.end() || it->type() != type) return nullptr;
  return &*it;
}

std::string FormatLeafTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime(kTimeFormat, common::FromProtoTime(t), absl::UTCTimeZone());
}

bool ParseLeafTime(const Json* field, google::protobuf::Timestamp* out) {
  absl::Time t;
  std::string err;
  if (field == nullptr || !absl::ParseTime(kTimeFormat, field->get<std::string>(), &t, &err)) {
    return false;
  }
  *out = common::ToProtoTime(t);
  return TimeInRange(*out);
}

// Version 2's fields: the aggregation of repeated refusals.
bool ParseAggregate(const Json& j, v1::AuditEvent* e) {
  const Json* count = Field(j, "count", Json::value_t::number_unsigned);
  if (count == nullptr || count->get<uint64_t>() > UINT32_MAX) return false;
  e->set_count(static_cast<uint32_t>(count->get<uint64_t>()));
  return ParseLeafTime(Field(j, "first_time", Json::value_t::string), e->mutable_first_time()) &&
         ParseLeafTime(Field(j, "last_time", Json::value_t::string), e->mutable_last_time());
}

}  // namespace

std::string EncodeLeaf(const v1::AuditEvent& e) {
  const bool aggregated = e.count() > 0;
  Json j;
  j["v"] = aggregated ? kAggregatedLeafVersion : kLeafVersion;
  j["index"] = e.index();
  j["time"] = FormatLeafTime(e.time());
  j["actor"] = Json{{"agency", e.actor().agency()},
                    {"user", e.actor().user()},
                    {"role", RoleText(e.actor().role())},
                    {"service", e.actor().service()}};
  j["action"] = e.action();
  j["resource"] = Json{{"kind", KindText(e.resource().kind())}, {"id", e.resource().id()}};
  j["subject"] = e.subject();
  j["outcome"] = OutcomeText(e.outcome());
  j["rule"] = e.rule();
  j["legal_basis"] = BasisText(e.legal_basis());
  j["consent_id"] = e.consent_id();
  j["request_id"] = e.request_id();
  if (aggregated) {
    j["count"] = e.count();
    j["first_time"] = FormatLeafTime(e.first_time());
    j["last_time"] = FormatLeafTime(e.last_time());
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<v1::AuditEvent> DecodeLeaf(absl::string_view leaf) {
  Json j = Json::parse(leaf.begin(), leaf.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
  const Json* v = Field(j, "v", Json::value_t::number_unsigned);
  if (v == nullptr ||
      (v->get<uint64_t>() != kLeafVersion && v->get<uint64_t>() != kAggregatedLeafVersion)) {
    return Bad("unknown version");
  }
  using T = Json::value_t;
  const Json* index = Field(j, "index", T::number_unsigned);
  const Json* time = Field(j, "time", T::string);
  const Json* actor = Field(j, "actor", T::object);
  const Json* resource = Field(j, "resource", T::object);
  if (index == nullptr || time == nullptr || actor == nullptr || resource == nullptr) {
    return Bad("missing field");
  }
  v1::AuditEvent e;
  e.set_index(index->get<uint64_t>());
  if (!ParseLeafTime(time, e.mutable_time())) return Bad("time");
  if (v->get<uint64_t>() == kAggregatedLeafVersion && !ParseAggregate(j, &e)) {
    return Bad("missing aggregation field");
  }
  auto str = [](const Json& o, const char* name, std::string* out) {
    const Json* f = Field(o, name, T::string);
    if (f == nullptr) return false;
    *out = f->get<std::string>();
    return true;
  };
  std::string role, kind, outcome, basis;
  v1::Actor* a = e.mutable_actor();
  if (!str(*actor, "agency", a->mutable_agency()) || !str(*actor, "user", a->mutable_user()) ||
      !str(*actor, "role", &role) || !str(*actor, "service", a->mutable_service()) ||
      !str(j, "action", e.mutable_action()) || !str(*resource, "kind", &kind) ||
      !str(*resource, "id", e.mutable_resource()->mutable_id()) ||
      !str(j, "subject", e.mutable_subject()) || !str(j, "outcome", &outcome) ||
      !str(j, "rule", e.mutable_rule()) || !str(j, "legal_basis", &basis) ||
      !str(j, "consent_id", e.mutable_consent_id()) ||
      !str(j, "request_id", e.mutable_request_id())) {
    return Bad("missing field");
  }
  v1::Role r;
  v1::ResourceKind k;
  v1::AuditOutcome o;
  v1::LegalBasis b;
  if (!v1::Role_Parse("ROLE_" + role, &r) || !v1::ResourceKind_Parse("RESOURCE_KIND_" + kind, &k) ||
      !v1::AuditOutcome_Parse("AUDIT_OUTCOME_" + outcome, &o) ||
      !v1::LegalBasis_Parse("LEGAL_BASIS_" + basis, &b)) {
    return Bad("unknown enum value");
  }
  a->set_role(r);
  e.mutable_resource()->set_kind(k);
  e.set_outcome(o);
  e.set_legal_basis(b);
  if (EncodeLeaf(e) != leaf) return Bad("bytes differ from the canonical encoding");
  return e;
}

absl::Status CheckEncodable(const v1::AuditEvent& e) {
  auto refuse = [](auto... why) {
    return absl::InvalidArgumentError(
        absl::StrCat("an audit leaf cannot hold this event: ", why...));
  };
  if (!v1::Role_IsValid(e.actor().role())) return refuse("unknown role ", e.actor().role());
  if (!v1::ResourceKind_IsValid(e.resource().kind())) {
    return refuse("unknown resource kind ", e.resource().kind());
  }
  if (!v1::AuditOutcome_IsValid(e.outcome())) return refuse("unknown outcome ", e.outcome());
  if (!v1::LegalBasis_IsValid(e.legal_basis())) {
    return refuse("unknown legal basis ", e.legal_basis());
  }
  if (!TimeInRange(e.time())) return refuse("time outside the years 1 to 9999");
  // Every field is in a leaf, and unknown fields are not.
  v1::AuditEvent full = e;
  full.mutable_actor();
  full.mutable_resource();
  full.mutable_time();
  full.DiscardUnknownFields();
  absl::StatusOr<v1::AuditEvent> back = DecodeLeaf(EncodeLeaf(full));
  if (!back.ok() || back->SerializeAsString() != full.SerializeAsString()) {
    return refuse("its leaf does not read back");
  }
  return absl::OkStatus();
}

}  // namespace budstikke::audit
