#include "services/directory/directory.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/common/agency_id.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/common/national_id.h"
#include "services/common/time_util.h"
#include "storage/status_macros.h"

namespace budstikke::directory {
namespace {

constexpr std::array<std::pair<absl::string_view, v1::AgencyType>, 9> kTypes = {{
    {"kindergarten", v1::AGENCY_TYPE_KINDERGARTEN},
    {"school", v1::AGENCY_TYPE_SCHOOL},
    {"ppt", v1::AGENCY_TYPE_PPT},
    {"health_station", v1::AGENCY_TYPE_HEALTH_STATION},
    {"gp", v1::AGENCY_TYPE_GP},
    {"child_welfare", v1::AGENCY_TYPE_CHILD_WELFARE},
    {"bup", v1::AGENCY_TYPE_BUP},
    {"supervisory_authority", v1::AGENCY_TYPE_SUPERVISORY_AUTHORITY},
    {"operator", v1::AGENCY_TYPE_OPERATOR},
}};

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

std::string AgencyKey(absl::string_view id) { return absl::StrCat("agency/", id); }

std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace

std::optional<v1::AgencyType> Directory::TypeFromName(absl::string_view name) {
  for (const auto& [n, t] : kTypes) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::string Directory::TypeName(v1::AgencyType type) {
  for (const auto& [n, t] : kTypes) {
    if (t == type) return std::string(n);
  }
  return "unspecified";
}

absl::Status Directory::Validate(const v1::Agency& agency) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateAgencyId(agency.id(), "agency.id"));
  if (agency.name().empty() || agency.name().size() > 200) {
    return absl::InvalidArgumentError("agency.name must be 1-200 characters");
  }
  if (agency.type() == v1::AGENCY_TYPE_UNSPECIFIED || !v1::AgencyType_IsValid(agency.type())) {
    return absl::InvalidArgumentError(
        "agency.type is required: kindergarten, school, ppt, health_station, gp, "
        "child_welfare, bup, supervisory_authority or operator");
  }
  const std::string& m = agency.municipality();
  if (m.size() != 4 || !std::all_of(m.begin(), m.end(), absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(
        "agency.municipality must be a four-digit municipality number, e.g. \"0301\"");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Directory>> Directory::Create(storage::Store* store,
                                                             const common::Clock* clock,
                                                             common::AuditOutbox* audit,
                                                             std::string operator_agency) {
  if (store == nullptr || clock == nullptr || audit == nullptr) {
    return absl::InvalidArgumentError("Directory needs a store, a clock and an audit outbox");
  }
  return std::unique_ptr<Directory>(new Directory(store, clock, audit, std::move(operator_agency)));
}

namespace {

// The audit event of a directory change of `agency_id`, allowed until told
// otherwise.
v1::AuditEvent AgencyEvent(const char* action, const std::string& agency_id) {
  return common::AllowedEvent(action, v1::RESOURCE_KIND_AGENCY, agency_id);
}

common::Caller CallerOf(const common::Identity& identity) {
  common::Caller who;
  who.identity = identity;
  return who;
}

}  // namespace

absl::Status Directory::Deny(const common::Identity& caller, const char* action,
                             const std::string& agency_id, const char* rule,
                             absl::string_view why) const {
  return common::RecordRefusal(*audit_, CallerOf(caller), AgencyEvent(action, agency_id),
                               common::RuleRefusal(absl::StatusCode::kPermissionDenied, rule, why));
}

absl::Status Directory::AddAudit(const common::Identity& caller, const char* action,
                                 const std::string& agency_id, absl::string_view request_id,
                                 storage::WriteBatch* batch) const {
  v1::AuditEvent event = AgencyEvent(action, agency_id);
  event.set_request_id(std::string(request_id));
  return audit_->Add(batch, CallerOf(caller), std::move(event));
}

absl::Status Directory::Put(const v1::Agency& agency, storage::WriteBatch* batch) const {
  batch->Put(kColumnFamily, AgencyKey(agency.id()), agency.SerializeAsString());
  return absl::OkStatus();
}

absl::StatusOr<v1::Agency> Directory::CreateAgency(const common::Identity& caller,
                                                   const v1::Agency& agency,
                                                   absl::string_view request_id) {
  if (caller.role != v1::ROLE_ADMIN || caller.agency != operator_agency_) {
    return Deny(caller, "agency.create", "", kRuleOperatorOnly,
                absl::StrCat("only an admin of the operator agency '", operator_agency_,
                             "' may create agencies"));
  }
  BUDSTIKKE_RETURN_IF_ERROR(Validate(agency));
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(request_id));
  const std::string req_key = absl::StrCat("req/", caller.agency, "/", request_id);
  const std::string fingerprint = common::RequestFingerprint("agency.create", agency);
  absl::MutexLock lock(&write_mu_);
  auto previous = store_->Get(kColumnFamily, req_key);
  if (previous.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string id,
                               common::ReplayedId(*previous, fingerprint, request_id));
    return ReadAgency(id);
  }
  if (previous.status().code() != absl::StatusCode::kNotFound) return previous.status();

  auto existing = store_->Get(kColumnFamily, AgencyKey(agency.id()));
  if (existing.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("agency '", agency.id(), "' already exists; use UpdateAgency to change it"));
  }
  if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();

  v1::Agency record = agency;
  *record.mutable_create_time() = common::ToProtoTime(clock_->Now());
  *record.mutable_update_time() = record.create_time();
  storage::WriteBatch batch;
  BUDSTIKKE_RETURN_IF_ERROR(Put(record, &batch));
  batch.Put(kColumnFamily, req_key, common::RequestRecord(record.id(), fingerprint));
  BUDSTIKKE_RETURN_IF_ERROR(AddAudit(caller, "agency.create", record.id(), request_id, &batch));
  BUDSTIKKE_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  Remember(record);
  return record;
}

absl::StatusOr<v1::Agency> Directory::UpdateAgency(const common::Identity& caller,
                                                   const v1::Agency& agency,
                                                   const std::vector<std::string>& fields) {
  bool is_operator = caller.role == v1::ROLE_ADMIN && caller.agency == operator_agency_;
  bool is_own = caller.role == v1::ROLE_ADMIN && caller.agency == agency.id();
  if (!is_operator && !is_own) {
    return Deny(caller, "agency.update", "", kRuleOwnAgencyOnly,
                "an agency admin may update only its own agency; the operator's admin may "
                "update any");
  }
  // Which fields change: those named, or (none named) name, type and
  // municipality, and the acute unit if given.
  std::set<std::string> named(fields.begin(), fields.end());
  for (const std::string& f : named) {
    if (f != "name" && f != "type" && f != "municipality" && f != "acute_unit") {
      return absl::InvalidArgumentError(absl::StrCat("update_fields: unknown field '", f,
                                                     "' (name, type, municipality or acute_unit)"));
    }
  }
  if (named.empty()) {
    named = {"name", "type", "municipality"};
    if (!agency.acute_unit().empty()) named.insert("acute_unit");
  }
  absl::MutexLock lock(&write_mu_);
  if (agency.id().empty()) return absl::InvalidArgumentError("agency.id is required");
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Agency record, ReadAgency(agency.id()));
  v1::Agency merged = record;
  if (named.count("name")) merged.set_name(agency.name());
  if (named.count("type")) merged.set_type(agency.type());
  if (named.count("municipality")) merged.set_municipality(agency.municipality());
  if (named.count("acute_unit")) merged.set_acute_unit(agency.acute_unit());
  BUDSTIKKE_RETURN_IF_ERROR(Validate(merged));
  if (!is_operator &&
      (record.type() != merged.type() || record.municipality() != merged.municipality() ||
       record.acute_unit() != merged.acute_unit())) {
    // Type, municipality and the acute unit decide routing (e.g. which BUP
    // gets a consultation or an urgent referral): only the operator may
    // change them.
    return Deny(caller, "agency.update", record.id(), kRuleRoutingFields,
                "an agency admin may change only its agency's name; type, municipality and "
                "acute unit decide routing and are changed by the operator's admin");
  }
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAcuteUnit(merged));
  record = std::move(merged);
  *record.mutable_update_time() = common::ToProtoTime(clock_->Now());
  storage::WriteBatch batch;
  BUDSTIKKE_RETURN_IF_ERROR(Put(record, &batch));
  BUDSTIKKE_RETURN_IF_ERROR(AddAudit(caller, "agency.update", record.id(), "", &batch));
  BUDSTIKKE_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  Remember(record);
  return record;
}

absl::Status Directory::ValidateAcuteUnit(const v1::Agency& agency) const {
  if (agency.acute_unit().empty()) return absl::OkStatus();
  if (agency.type() != v1::AGENCY_TYPE_BUP) {
    return absl::InvalidArgumentError("agency.acute_unit: only a BUP agency has an acute unit");
  }
  if (agency.acute_unit() == agency.id()) {
    return absl::InvalidArgumentError("agency.acute_unit: another agency than itself");
  }
  auto unit = ReadAgency(agency.acute_unit());
  if (!unit.ok() || unit->type() != v1::AGENCY_TYPE_BUP) {
    return absl::InvalidArgumentError("agency.acute_unit: must name a BUP agency in the directory");
  }
  return absl::OkStatus();
}

void Directory::Remember(const v1::Agency& agency) const {
  absl::MutexLock lock(&cache_mu_);
  cache_.insert_or_assign(agency.id(), agency);
}

absl::StatusOr<v1::Agency> Directory::GetAgency(absl::string_view id) const {
  {
    absl::ReaderMutexLock lock(&cache_mu_);
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
  }
  // A miss reads the store in turn with creates and updates (see the header).
  absl::MutexLock lock(&write_mu_);
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Agency agency, ReadAgency(id));
  Remember(agency);
  return agency;
}

absl::StatusOr<v1::Agency> Directory::ReadAgency(absl::string_view id) const {
  auto value = store_->Get(kColumnFamily, AgencyKey(id));
  if (!value.ok()) {
    if (value.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(
          absl::StrCat("agency '", common::MaskNationalIds(std::string_view(id.data(), id.size())),
                       "' not found"));
    }
    return value.status();
  }
  v1::Agency agency;
  if (!agency.ParseFromString(*value)) {
    return absl::DataLossError(absl::StrCat("agency record '", id, "' is corrupt"));
  }
  return agency;
}

absl::StatusOr<AgencyPage> Directory::ListAgencies(v1::AgencyType type,
                                                   absl::string_view municipality, int page_size,
                                                   absl::string_view page_token) const {
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  std::string after;
  if (!page_token.empty() && !absl::WebSafeBase64Unescape(page_token, &after)) {
    return absl::InvalidArgumentError("page_token is not a token from a previous page");
  }
  AgencyPage page;
  std::unique_ptr<storage::Iterator> it = store_->Scan(kColumnFamily, "agency/");
  if (after.empty()) {
    // Scan starts at the prefix.
  } else {
    std::string from = AgencyKey(after);
    from.push_back('\0');
    it->Seek(from);
  }
  std::string last_id;
  for (; it->Valid(); it->Next()) {
    v1::Agency agency;
    if (!agency.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt agency record in directory");
    }
    if (type != v1::AGENCY_TYPE_UNSPECIFIED && agency.type() != type) continue;
    if (!municipality.empty() && agency.municipality() != municipality) continue;
    if (static_cast<int>(page.agencies.size()) == page_size) {
      page.next_page_token = absl::WebSafeBase64Escape(last_id);
      break;
    }
    last_id = agency.id();
    page.agencies.push_back(std::move(agency));
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return page;
}

absl::StatusOr<std::vector<v1::Agency>> Directory::FindAgencies(
    v1::AgencyType type, absl::string_view municipality) const {
  std::vector<v1::Agency> out;
  std::string token;
  do {
    BUDSTIKKE_ASSIGN_OR_RETURN(AgencyPage page,
                               ListAgencies(type, municipality, kMaxPageSize, token));
    for (v1::Agency& a : page.agencies) out.push_back(std::move(a));
    token = std::move(page.next_page_token);
  } while (!token.empty());
  return out;
}

absl::StatusOr<int> Directory::LoadSeedIfEmpty(absl::string_view json_text) {
  absl::MutexLock lock(&write_mu_);
  {
    std::unique_ptr<storage::Iterator> it = store_->Scan(kColumnFamily, "agency/");
    if (it->Valid()) return 0;
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  nlohmann::json doc = nlohmann::json::parse(Sv(json_text), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("agencies") ||
      !doc["agencies"].is_array()) {
    return absl::InvalidArgumentError(
        "seed directory must be JSON {\"agencies\":[{\"id\",\"name\",\"type\",\"municipality\"}]}");
  }
  storage::WriteBatch batch;
  int n = 0;
  std::map<std::string, v1::Agency> seeded;
  absl::Time now = clock_->Now();
  for (const nlohmann::json& entry : doc["agencies"]) {
    auto field = [&](const char* name) -> std::string {
      return entry.is_object() && entry.contains(name) && entry[name].is_string()
                 ? entry[name].get<std::string>()
                 : std::string();
    };
    v1::Agency agency;
    agency.set_id(field("id"));
    agency.set_name(field("name"));
    agency.set_municipality(field("municipality"));
    std::optional<v1::AgencyType> type = TypeFromName(field("type"));
    if (!type) {
      return absl::InvalidArgumentError(absl::StrCat("seed directory entry ", n + 1,
                                                     " has an unknown type '", field("type"), "'"));
    }
    agency.set_type(*type);
    agency.set_acute_unit(field("acute_unit"));
    absl::Status valid = Validate(agency);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("seed directory entry ", n + 1, ": ", valid.message()));
    }
    *agency.mutable_create_time() = common::ToProtoTime(now);
    *agency.mutable_update_time() = agency.create_time();
    BUDSTIKKE_RETURN_IF_ERROR(Put(agency, &batch));
    seeded[agency.id()] = agency;
    ++n;
  }
  // An acute unit names another BUP of the seed.
  for (const auto& [id, agency] : seeded) {
    if (agency.acute_unit().empty()) continue;
    auto unit = seeded.find(agency.acute_unit());
    if (agency.type() != v1::AGENCY_TYPE_BUP || unit == seeded.end() || unit->first == id ||
        unit->second.type() != v1::AGENCY_TYPE_BUP) {
      return absl::InvalidArgumentError(absl::StrCat("seed directory: acute_unit of '", id,
                                                     "' must name another BUP agency of the seed"));
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  return n;
}

}  // namespace budstikke::directory
