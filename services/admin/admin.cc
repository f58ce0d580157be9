#include "services/admin/admin.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/agency_id.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/common/text.h"
#include "services/common/time_util.h"
#include "storage/status_macros.h"

namespace budstikke::admin {
namespace {

// The longest backup directory an event may name.
constexpr size_t kMaxDestDirBytes = 1024;

absl::Status ValidateDestDir(absl::string_view dest_dir) {
  if (dest_dir.empty() || !std::filesystem::path(std::string(dest_dir)).is_absolute()) {
    return absl::InvalidArgumentError("dest_dir must be an absolute path on the server");
  }
  if (dest_dir.size() > kMaxDestDirBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("dest_dir must be at most ", kMaxDestDirBytes, " bytes"));
  }
  if (common::HasControlCharacter(dest_dir)) {
    return absl::InvalidArgumentError("dest_dir must not contain control characters");
  }
  return absl::OkStatus();
}

// A target's error, naming the service when there are several.
absl::Status FromTarget(const KeyTarget& target, bool fans_out, absl::Status status) {
  if (!fans_out || status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(target.name(), ": ", status.message()));
}

v1::KeyVersionState Merged(const std::vector<v1::KeyVersionState>& states, uint32_t version,
                           uint32_t newest) {
  if (version == newest) return v1::KEY_VERSION_STATE_CURRENT;
  const bool all_shredded = std::all_of(states.begin(), states.end(), [](v1::KeyVersionState s) {
    return s == v1::KEY_VERSION_STATE_SHREDDED;
  });
  return all_shredded ? v1::KEY_VERSION_STATE_SHREDDED : v1::KEY_VERSION_STATE_RETIRED;
}

}  // namespace

v1::AgencyKeyStatus MergeKeyStatus(absl::string_view agency,
                                   const std::vector<v1::AgencyKeyStatus>& per_service) {
  v1::AgencyKeyStatus merged;
  merged.set_agency(std::string(agency));
  std::map<uint32_t, std::vector<v1::KeyVersionState>> states;
  uint32_t newest = 0;
  for (const v1::AgencyKeyStatus& s : per_service) {
    newest = std::max(newest, s.current_version());
    for (const v1::AgencyKeyVersion& v : s.versions()) states[v.version()].push_back(v.state());
    *merged.add_services() = s;
  }
  merged.set_current_version(newest);
  for (const auto& [version, of_services] : states) {
    v1::AgencyKeyVersion* out = merged.add_versions();
    out->set_version(version);
    out->set_state(Merged(of_services, version, newest));
  }
  return merged;
}

namespace {

// How far the merged rewrap is: the worst state first.
int Rank(v1::RewrapState s) {
  switch (s) {
    case v1::REWRAP_STATE_FAILED:
      return 4;
    case v1::REWRAP_STATE_RUNNING:
      return 3;
    case v1::REWRAP_STATE_DONE:
      return 2;
    default:
      return 1;
  }
}

}  // namespace

v1::RewrapProgress MergeRewrapProgress(absl::string_view agency,
                                       const std::vector<v1::RewrapProgress>& per_service) {
  v1::RewrapProgress merged;
  merged.set_agency(std::string(agency));
  merged.set_state(v1::REWRAP_STATE_IDLE);
  std::vector<std::string> errors;
  for (const v1::RewrapProgress& p : per_service) {
    if (Rank(p.state()) > Rank(merged.state())) merged.set_state(p.state());
    merged.set_target_version(std::max(merged.target_version(), p.target_version()));
    merged.set_records_total(merged.records_total() + p.records_total());
    merged.set_records_done(merged.records_done() + p.records_done());
    if (p.has_start_time() &&
        (!merged.has_start_time() ||
         common::FromProtoTime(p.start_time()) < common::FromProtoTime(merged.start_time()))) {
      *merged.mutable_start_time() = p.start_time();
    }
    if (p.has_update_time() &&
        (!merged.has_update_time() ||
         common::FromProtoTime(p.update_time()) > common::FromProtoTime(merged.update_time()))) {
      *merged.mutable_update_time() = p.update_time();
    }
    if (!p.error().empty()) errors.push_back(absl::StrCat(p.service(), ": ", p.error()));
    *merged.add_services() = p;
  }
  merged.set_error(absl::StrJoin(errors, "; "));
  return merged;
}

Admin::Admin(AdminDeps deps) : deps_(std::move(deps)), start_time_(deps_.clock->Now()) {}

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(AdminDeps deps) {
  const bool targets_set =
      !deps.key_targets.empty() && std::none_of(deps.key_targets.begin(), deps.key_targets.end(),
                                                [](const KeyTarget* t) { return t == nullptr; });
  if (!targets_set || !deps.agencies || !deps.audit || !deps.clock) {
    return absl::InvalidArgumentError("Admin needs key targets, agencies, audit and clock");
  }
  return std::unique_ptr<Admin>(new Admin(std::move(deps)));
}

absl::Status Admin::CheckMayManage(const common::Caller& caller, absl::string_view agency) const {
  if (caller.role() != v1::ROLE_ADMIN) {
    return common::RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleOwnAgency,
                               "only an admin may manage keys");
  }
  if (caller.agency() != deps_.operator_agency && caller.agency() != agency) {
    return common::RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleOwnAgency,
                               absl::StrCat("an agency admin manages only its own agency's keys; '",
                                            agency, "' is not '", caller.agency(), "'"));
  }
  return deps_.agencies->GetAgency(agency).status();
}

absl::StatusOr<v1::AgencyKeyStatus> Admin::Status(absl::string_view agency) const {
  std::vector<v1::AgencyKeyStatus> statuses;
  for (KeyTarget* target : deps_.key_targets) {
    absl::StatusOr<v1::AgencyKeyStatus> s = target->Status(agency);
    if (!s.ok()) return FromTarget(*target, FansOut(), s.status());
    if (!FansOut()) return s;
    s->set_service(target->name());
    statuses.push_back(*std::move(s));
  }
  return MergeKeyStatus(agency, statuses);
}

absl::Status Admin::Audit(const common::Caller& caller, absl::string_view action,
                          v1::ResourceKind kind, absl::string_view id,
                          absl::string_view request_id) {
  v1::AuditEvent event = common::AllowedEvent(action, kind, id);
  event.set_request_id(std::string(request_id));
  return deps_.audit->Record(caller, std::move(event));
}

absl::Status Admin::DenyIfRefused(const common::Caller& caller, absl::string_view action,
                                  v1::ResourceKind kind, absl::string_view id,
                                  absl::string_view request_id, absl::Status refusal) {
  // Only refusals by a rule are audited (not bad input or a missing agency).
  if (!absl::IsPermissionDenied(refusal) && !absl::IsFailedPrecondition(refusal)) return refusal;
  v1::AuditEvent event = common::AllowedEvent(action, kind, id);
  event.set_request_id(std::string(request_id));
  return common::RecordRefusal(*deps_.audit, caller, std::move(event), std::move(refusal));
}

absl::StatusOr<v1::AgencyKeyStatus> Admin::GetKeyStatus(const common::Caller& caller,
                                                        absl::string_view agency) const {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateAgencyId(agency));
  BUDSTIKKE_RETURN_IF_ERROR(CheckMayManage(caller, agency));
  return Status(agency);
}

absl::StatusOr<v1::AgencyKeyStatus> Admin::RotateAgencyKey(const common::Caller& caller,
                                                           absl::string_view agency,
                                                           absl::string_view request_id) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateAgencyId(agency));
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(request_id));
  BUDSTIKKE_RETURN_IF_ERROR(DenyIfRefused(caller, "agency_key.rotate", v1::RESOURCE_KIND_AGENCY_KEY,
                                          agency, request_id, CheckMayManage(caller, agency)));
  // The intent is audited before the key changes (no audit, no change).
  BUDSTIKKE_RETURN_IF_ERROR(
      Audit(caller, "agency_key.rotate", v1::RESOURCE_KIND_AGENCY_KEY, agency, request_id));
  const std::string request_key = absl::StrCat(caller.agency(), "/", agency, "/", request_id);
  for (KeyTarget* target : deps_.key_targets) {
    absl::StatusOr<v1::AgencyKeyStatus> rotated = target->Rotate(agency, request_key);
    if (rotated.ok()) continue;
    v1::AuditEvent failed =
        common::AllowedEvent("agency_key.rotate", v1::RESOURCE_KIND_AGENCY_KEY, agency);
    failed.set_outcome(v1::AUDIT_OUTCOME_DENIED);
    failed.set_rule("agency_key.rotate.failed");
    failed.set_request_id(std::string(request_id));
    (void)deps_.audit->Record(caller, std::move(failed));
    return FromTarget(*target, FansOut(), rotated.status());
  }
  return Status(agency);
}

absl::StatusOr<v1::AgencyKeyStatus> Admin::ShredAgencyKeyVersion(const common::Caller& caller,
                                                                 absl::string_view agency,
                                                                 uint32_t version,
                                                                 absl::string_view confirm,
                                                                 bool force) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateAgencyId(agency));
  const std::string key_id = absl::StrCat(agency, "/", version);
  BUDSTIKKE_RETURN_IF_ERROR(DenyIfRefused(caller, "agency_key.shred", v1::RESOURCE_KIND_AGENCY_KEY,
                                          key_id, "", CheckMayManage(caller, agency)));
  if (confirm != key_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("confirm must be exactly \"", key_id, "\": shredding cannot be undone"));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::AgencyKeyStatus status, Status(agency));
  const v1::AgencyKeyVersion* found = nullptr;
  for (const auto& v : status.versions()) {
    if (v.version() == version) found = &v;
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("agency '", agency, "' has no key version ", version));
  }
  auto refuse = [&](absl::string_view rule, std::string why) {
    return DenyIfRefused(caller, "agency_key.shred", v1::RESOURCE_KIND_AGENCY_KEY, key_id, "",
                         common::PolicyRefusal({{std::string(rule), std::move(why)}}));
  };
  if (found->state() == v1::KEY_VERSION_STATE_SHREDDED) {
    return refuse("key.shred.already_shredded",
                  absl::StrCat("key version ", version, " of '", agency, "' is already shredded"));
  }
  // A version still current in any service protects its new writes.
  for (const v1::AgencyKeyStatus& s : status.services()) {
    if (s.current_version() == version) {
      return refuse("key.shred.current_version",
                    absl::StrCat("key version ", version, " is the current one of the ",
                                 s.service(), " service; rotate first"));
    }
  }
  if (found->state() == v1::KEY_VERSION_STATE_CURRENT) {
    return refuse("key.shred.current_version",
                  absl::StrCat("key version ", version, " is the current one; rotate first"));
  }
  // Every service is asked before any shreds, so a refusal shreds nothing.
  for (KeyTarget* target : force ? std::vector<KeyTarget*>() : deps_.key_targets) {
    absl::Status unused = target->CheckUnused(agency, version);
    if (absl::IsFailedPrecondition(unused)) {
      return refuse("key.shred.in_use",
                    absl::StrCat(unused.message(),
                                 ": they would become unreadable for the agency (shred with "
                                 "force to accept that)"));
    }
    if (!unused.ok()) return FromTarget(*target, FansOut(), unused);
  }
  BUDSTIKKE_RETURN_IF_ERROR(
      Audit(caller, "agency_key.shred", v1::RESOURCE_KIND_AGENCY_KEY, key_id, ""));
  return Shred(agency, version);
}

// Shreds `version` wherever it exists.
absl::StatusOr<v1::AgencyKeyStatus> Admin::Shred(absl::string_view agency, uint32_t version) {
  for (KeyTarget* target : deps_.key_targets) {
    absl::StatusOr<v1::AgencyKeyStatus> s = target->Shred(agency, version);
    if (!s.ok() && !(FansOut() && absl::IsNotFound(s.status()))) {
      return FromTarget(*target, FansOut(), s.status());
    }
  }
  return Status(agency);
}

absl::StatusOr<v1::RewrapProgress> Admin::GetRewrapProgress(const common::Caller& caller,
                                                            absl::string_view agency) const {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateAgencyId(agency));
  BUDSTIKKE_RETURN_IF_ERROR(CheckMayManage(caller, agency));
  std::vector<v1::RewrapProgress> per_service;
  for (KeyTarget* target : deps_.key_targets) {
    absl::StatusOr<v1::RewrapProgress> p = target->RewrapProgress(agency);
    if (!p.ok()) return FromTarget(*target, FansOut(), p.status());
    if (!FansOut()) return p;
    p->set_service(target->name());
    per_service.push_back(*std::move(p));
  }
  return MergeRewrapProgress(agency, per_service);
}

absl::StatusOr<v1::Backup> Admin::CreateBackup(const common::Caller& caller,
                                               absl::string_view dest_dir,
                                               absl::string_view request_id) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateDestDir(dest_dir));
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(request_id));
  if (caller.role() != v1::ROLE_ADMIN || caller.agency() != deps_.operator_agency) {
    return DenyIfRefused(
        caller, "backup.create", v1::RESOURCE_KIND_BACKUP, dest_dir, request_id,
        common::RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleOperatorOnly,
                            absl::StrCat("only an admin of the operator agency '",
                                         deps_.operator_agency, "' may make backups")));
  }
  BUDSTIKKE_RETURN_IF_ERROR(
      Audit(caller, "backup.create", v1::RESOURCE_KIND_BACKUP, dest_dir, request_id));
  return Backup(dest_dir, request_id);
}

// One backup per target: into `dest_dir` itself, or DEST_DIR/<service> each.
absl::StatusOr<v1::Backup> Admin::Backup(absl::string_view dest_dir, absl::string_view request_id) {
  if (!FansOut()) return deps_.key_targets.front()->Backup(dest_dir, request_id);
  v1::Backup all;
  all.set_id(std::string(request_id));
  all.set_dest_dir(std::string(dest_dir));
  *all.mutable_create_time() = common::ToProtoTime(deps_.clock->Now());
  for (KeyTarget* target : deps_.key_targets) {
    const std::string dir =
        (std::filesystem::path(std::string(dest_dir)) / target->name()).string();
    absl::StatusOr<v1::Backup> one = target->Backup(dir, request_id);
    if (!one.ok()) return FromTarget(*target, true, one.status());
    one->set_service(target->name());
    all.set_size_bytes(all.size_bytes() + one->size_bytes());
    *all.add_services() = *std::move(one);
  }
  return all;
}

v1::ServerInfo Admin::GetServerInfo() const {
  v1::ServerInfo info;
  info.set_version(deps_.version);
  for (const std::string& t : deps_.targets) info.add_targets(t);
  *info.mutable_start_time() = common::ToProtoTime(start_time_);
  absl::Duration up = deps_.clock->Now() - start_time_;
  info.mutable_uptime()->set_seconds(absl::ToInt64Seconds(up));
  info.set_trust_domain(deps_.trust_domain);
  info.set_operator_agency(deps_.operator_agency);
  return info;
}

}  // namespace budstikke::admin
