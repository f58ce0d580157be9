// Admin: per-agency key management, backups and server information (domain
// logic, no gRPC). Never returns content, key material or national ids.
//
// Who may act: an `admin` of the operator agency on any agency and for
// backups; an `admin` of another agency only on its own agency. Every change
// is audited (agency_key.rotate, agency_key.shred, backup.create) through the
// AuditOutbox, recorded before the change is made (each attempt, retries
// included; a retry does not change anything twice). A change refused by a
// rule (another agency's keys: "admin.own_agency"; a backup by anyone but the
// operator: "admin.operator_only"; shredding the current or a shredded
// version: the key.shred.* rule) records one DENIED event with that rule
// first; if it cannot be recorded the call is UNAVAILABLE. Input is checked
// before anything is recorded, so an event holds only a valid agency id,
// request id and path. Reads of key status, rewrap progress and server
// information hold no child's data and are not audited.
//
// What the changes act on: the KeyTargets (key_target.h). One, this
// process's store, in the all-in-one server; one per service with data in
// the microservices mode (the fan-out): statuses are merged, a rotation or a
// backup goes to every target (a retry with the same request id completes
// one that failed part-way), a backup lands in DEST_DIR/<service> of each.
//
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_ADMIN_ADMIN_H_
#define BUDSTIKKE_SERVICES_ADMIN_ADMIN_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "budstikke/v1/admin.pb.h"
#include "services/admin/key_target.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/identity.h"

namespace budstikke::admin {

inline constexpr char kRuleOwnAgency[] = "admin.own_agency";
inline constexpr char kRuleOperatorOnly[] = "admin.operator_only";

struct AdminDeps {
  // At least one; in the order statuses and backups list them.
  std::vector<KeyTarget*> key_targets;
  const common::AgencyLookup* agencies = nullptr;
  common::AuditOutbox* audit = nullptr;
  const common::Clock* clock = nullptr;
  std::string operator_agency;
  std::string trust_domain;
  std::set<std::string> targets;
  std::string version;
};

class Admin {
 public:
  // Every pointer in `deps` must be set and outlive the Admin.
  static absl::StatusOr<std::unique_ptr<Admin>> Create(AdminDeps deps);

  absl::StatusOr<v1::AgencyKeyStatus> GetKeyStatus(const common::Caller& caller,
                                                   absl::string_view agency) const;
  // Adds a key version used for new writes from now on. A retry with the same
  // request_id does not rotate again.
  absl::StatusOr<v1::AgencyKeyStatus> RotateAgencyKey(const common::Caller& caller,
                                                      absl::string_view agency,
                                                      absl::string_view request_id);
  // `confirm` must be "<agency>/<version>". The current version cannot be
  // shredded (key.shred.current_version): rotate first. Nor, unless `force`,
  // a version that still protects records in any service (key.shred.in_use,
  // naming the service and the count): they would become unreadable for the
  // agency. Nothing is shredded anywhere when a service refuses.
  absl::StatusOr<v1::AgencyKeyStatus> ShredAgencyKeyVersion(const common::Caller& caller,
                                                            absl::string_view agency,
                                                            uint32_t version,
                                                            absl::string_view confirm,
                                                            bool force = false);
  // The background rewrap that RotateAgencyKey starts (every service's,
  // merged, in the fan-out).
  absl::StatusOr<v1::RewrapProgress> GetRewrapProgress(const common::Caller& caller,
                                                       absl::string_view agency) const;
  // Operator admin only. `dest_dir` absolute; a non-empty one is ALREADY_EXISTS
  // unless it holds the backup of the same request_id.
  absl::StatusOr<v1::Backup> CreateBackup(const common::Caller& caller, absl::string_view dest_dir,
                                          absl::string_view request_id);
  v1::ServerInfo GetServerInfo() const;

 private:
  explicit Admin(AdminDeps deps);
  bool FansOut() const { return deps_.key_targets.size() > 1; }
  absl::Status CheckMayManage(const common::Caller& caller, absl::string_view agency) const;
  // Every target's status, merged when there are several.
  absl::StatusOr<v1::AgencyKeyStatus> Status(absl::string_view agency) const;
  absl::StatusOr<v1::AgencyKeyStatus> Shred(absl::string_view agency, uint32_t version);
  absl::StatusOr<v1::Backup> Backup(absl::string_view dest_dir, absl::string_view request_id);
  // `refusal` unchanged; a PERMISSION_DENIED or FAILED_PRECONDITION one is
  // first recorded as a DENIED event.
  absl::Status DenyIfRefused(const common::Caller& caller, absl::string_view action,
                             v1::ResourceKind kind, absl::string_view id,
                             absl::string_view request_id, absl::Status refusal);
  absl::Status Audit(const common::Caller& caller, absl::string_view action, v1::ResourceKind kind,
                     absl::string_view id, absl::string_view request_id);

  AdminDeps deps_;
  absl::Time start_time_;
};

// The merged status of one agency's key over several services (see
// AgencyKeyStatus in admin.proto); `per_service` have `service` set.
v1::AgencyKeyStatus MergeKeyStatus(absl::string_view agency,
                                   const std::vector<v1::AgencyKeyStatus>& per_service);
// The merged rewrap of one agency over several services (see RewrapProgress
// in admin.proto); `per_service` have `service` set.
v1::RewrapProgress MergeRewrapProgress(absl::string_view agency,
                                       const std::vector<v1::RewrapProgress>& per_service);

}  // namespace budstikke::admin

#endif  // BUDSTIKKE_SERVICES_ADMIN_ADMIN_H_
