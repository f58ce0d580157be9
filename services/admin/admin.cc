#include "services/admin/admin.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/time_util.h"
#include "storage/status_macros.h"

namespace budstikke::admin {
namespace {

// Remembered request ids of rotations and backups (idempotency).
constexpr const char* kColumnFamily = kAdminColumnFamily;

std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace

Admin::Admin(AdminDeps deps) : deps_(std::move(deps)), start_time_(deps_.clock->Now()) {}

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(AdminDeps deps) {
  if (!deps.store || !deps.keyring || !deps.agencies || !deps.audit || !deps.clock) {
    return absl::InvalidArgumentError("Admin needs store, keyring, agencies, audit and clock");
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
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<storage::KeyVersionInfo> versions,
                             deps_.keyring->ListVersions(Sv(agency)));
  v1::AgencyKeyStatus status;
  status.set_agency(std::string(agency));
  uint32_t current = versions.empty() ? 0 : versions.back().version;
  status.set_current_version(current);
  for (const storage::KeyVersionInfo& v : versions) {
    v1::AgencyKeyVersion* out = status.add_versions();
    out->set_version(v.version);
    out->set_state(v.shredded             ? v1::KEY_VERSION_STATE_SHREDDED
                   : v.version == current ? v1::KEY_VERSION_STATE_CURRENT
                                          : v1::KEY_VERSION_STATE_RETIRED);
  }
  return status;
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
  BUDSTIKKE_RETURN_IF_ERROR(CheckMayManage(caller, agency));
  return Status(agency);
}

absl::StatusOr<v1::AgencyKeyStatus> Admin::RotateAgencyKey(const common::Caller& caller,
                                                           absl::string_view agency,
                                                           absl::string_view request_id) {
  BUDSTIKKE_RETURN_IF_ERROR(DenyIfRefused(caller, "agency_key.rotate", v1::RESOURCE_KIND_AGENCY_KEY,
                                          agency, request_id, CheckMayManage(caller, agency)));
  if (request_id.empty() || request_id.size() > 128) {
    return absl::InvalidArgumentError("request_id must be 1-128 characters");
  }
  absl::MutexLock lock(&mu_);
  std::string req_key = absl::StrCat("rotate/", caller.agency(), "/", agency, "/", request_id);
  auto seen = deps_.store->Get(kColumnFamily, req_key);
  if (seen.ok()) return Status(agency);
  if (seen.status().code() != absl::StatusCode::kNotFound) return seen.status();
  // The intent is audited before the key changes (no audit, no change); a
  // rotation that then fails is audited as such.
  BUDSTIKKE_RETURN_IF_ERROR(
      Audit(caller, "agency_key.rotate", v1::RESOURCE_KIND_AGENCY_KEY, agency, request_id));
  absl::StatusOr<uint32_t> version = deps_.keyring->Rotate(Sv(agency));
  if (!version.ok()) {
    v1::AuditEvent failed;
    failed.set_action("agency_key.rotate");
    failed.mutable_resource()->set_kind(v1::RESOURCE_KIND_AGENCY_KEY);
    failed.mutable_resource()->set_id(std::string(agency));
    failed.set_outcome(v1::AUDIT_OUTCOME_DENIED);
    failed.set_rule("agency_key.rotate.failed");
    failed.set_request_id(std::string(request_id));
    (void)deps_.audit->Record(caller, std::move(failed));
    return version.status();
  }
  BUDSTIKKE_RETURN_IF_ERROR(deps_.store->Put(kColumnFamily, req_key, absl::StrCat(*version)));
  return Status(agency);
}

absl::StatusOr<v1::AgencyKeyStatus> Admin::ShredAgencyKeyVersion(const common::Caller& caller,
                                                                 absl::string_view agency,
                                                                 uint32_t version,
                                                                 absl::string_view confirm) {
  const std::string key_id = absl::StrCat(agency, "/", version);
  BUDSTIKKE_RETURN_IF_ERROR(DenyIfRefused(caller, "agency_key.shred", v1::RESOURCE_KIND_AGENCY_KEY,
                                          key_id, "", CheckMayManage(caller, agency)));
  if (confirm != absl::StrCat(agency, "/", version)) {
    return absl::InvalidArgumentError(absl::StrCat("confirm must be exactly \"", agency, "/",
                                                   version, "\": shredding cannot be undone"));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::AgencyKeyStatus status, Status(agency));
  const v1::AgencyKeyVersion* found = nullptr;
  for (const auto& v : status.versions()) {
    if (v.version() == version) found = &v;
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("agency '", agency, "' has no key version ", version));
  }
  if (found->state() == v1::KEY_VERSION_STATE_SHREDDED) {
    return DenyIfRefused(caller, "agency_key.shred", v1::RESOURCE_KIND_AGENCY_KEY, key_id, "",
                         common::PolicyRefusal({{"key.shred.already_shredded",
                                                 absl::StrCat("key version ", version, " of '",
                                                              agency, "' is already shredded")}}));
  }
  if (found->state() == v1::KEY_VERSION_STATE_CURRENT) {
    return DenyIfRefused(
        caller, "agency_key.shred", v1::RESOURCE_KIND_AGENCY_KEY, key_id, "",
        common::PolicyRefusal(
            {{"key.shred.current_version",
              absl::StrCat("key version ", version, " is the current one; rotate first")}}));
  }
  BUDSTIKKE_RETURN_IF_ERROR(
      Audit(caller, "agency_key.shred", v1::RESOURCE_KIND_AGENCY_KEY, key_id, ""));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.keyring->Shred(Sv(agency), version));
  return Status(agency);
}

absl::StatusOr<v1::RewrapProgress> Admin::GetRewrapProgress(const common::Caller& caller,
                                                            absl::string_view agency) const {
  BUDSTIKKE_RETURN_IF_ERROR(CheckMayManage(caller, agency));
  // Old versions keep decrypting; no background rewrap has been started in
  // this version of the server.
  v1::RewrapProgress progress;
  progress.set_agency(std::string(agency));
  progress.set_state(v1::REWRAP_STATE_IDLE);
  auto current = deps_.keyring->CurrentVersion(Sv(agency));
  if (current.ok()) progress.set_target_version(*current);
  return progress;
}

absl::StatusOr<v1::Backup> Admin::CreateBackup(const common::Caller& caller,
                                               absl::string_view dest_dir,
                                               absl::string_view request_id) {
  if (caller.role() != v1::ROLE_ADMIN || caller.agency() != deps_.operator_agency) {
    return DenyIfRefused(
        caller, "backup.create", v1::RESOURCE_KIND_BACKUP, "", request_id,
        common::RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleOperatorOnly,
                            absl::StrCat("only an admin of the operator agency '",
                                         deps_.operator_agency, "' may make backups")));
  }
  std::filesystem::path dir{std::string(dest_dir)};
  if (!dir.is_absolute()) {
    return absl::InvalidArgumentError("dest_dir must be an absolute path on the server");
  }
  if (request_id.empty() || request_id.size() > 128) {
    return absl::InvalidArgumentError("request_id must be 1-128 characters");
  }
  absl::MutexLock lock(&mu_);
  std::string req_key = absl::StrCat("backup/", request_id);
  auto seen = deps_.store->Get(kColumnFamily, req_key);
  if (seen.ok()) {
    v1::Backup b;
    if (b.ParseFromString(*seen)) return b;
    return absl::DataLossError("stored backup record is corrupt");
  }
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat("dest_dir ", dest_dir, " is not empty; choose a new directory"));
  }
  BUDSTIKKE_RETURN_IF_ERROR(
      Audit(caller, "backup.create", v1::RESOURCE_KIND_BACKUP, dest_dir, request_id));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.store->Backup(dir.string()));
  uint64_t size = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) size += entry.file_size(ec);
  }
  v1::Backup backup;
  backup.set_id(std::string(request_id));
  backup.set_dest_dir(dir.string());
  *backup.mutable_create_time() = common::ToProtoTime(deps_.clock->Now());
  backup.set_size_bytes(size);
  BUDSTIKKE_RETURN_IF_ERROR(deps_.store->Put(kColumnFamily, req_key, backup.SerializeAsString()));
  return backup;
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
