// Directory: the agencies on the network (domain logic, no gRPC).
//
// Records live in the store's "directory" column family as serialized
// budstikke.v1.Agency under "agency/<id>"; create requests are remembered
// under "req/<caller agency>/<request id>" so a retried create returns the
// first result. Agency data is public within the network and not encrypted.
//
// Who may change what: an `admin` of the operator agency creates and updates
// any agency; an `admin` of another agency may update only its own (the
// authorization table has already checked the role).
//
// Audit: a successful CreateAgency / UpdateAgency records one event
// ("agency.create" / "agency.update", resource AGENCY <id>, outcome ALLOWED,
// request_id for creates) through the AuditOutbox in the same WriteBatch as
// the change, so the change and its event commit together or not at all. A
// retried create that returns the first result records nothing new. Seed
// loading is not audited (start-up configuration, no caller). A refused
// change records one DENIED event (same action, resource AGENCY with the id
// only when it names an existing agency, rule kRuleOperatorOnly,
// kRuleOwnAgencyOnly or kRuleRoutingFields) with AuditOutbox::Record before
// the refusal is returned; if that fails the call is UNAVAILABLE. Reads
// (GetAgency, ListAgencies) are not audited: directory data is public within
// the network and holds no child's data.
//
// GetAgency answers from an in-memory copy of the agencies it has read (every
// Send and Ask looks up its recipient: a store read and a parse, ~4 us on a
// busy server). Creates and updates replace the copy after their write; a
// lookup that misses reads the store under the same mutex as those writes, so
// it cannot put back a value older than a concurrent update. Unknown ids are
// not remembered. Only this class writes the column family while the server
// runs.
//
// Thread-safe: creates, updates and lookups that miss the copy are serialized
// by a mutex; other reads take no lock but a reader lock on the copy.
#ifndef BUDSTIKKE_SERVICES_DIRECTORY_DIRECTORY_H_
#define BUDSTIKKE_SERVICES_DIRECTORY_DIRECTORY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "budstikke/v1/directory.pb.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/identity.h"
#include "storage/store.h"

namespace budstikke::directory {

inline constexpr char kColumnFamily[] = "directory";

// Rule ids of refused changes (audit events).
inline constexpr char kRuleOperatorOnly[] = "directory.operator_only";
inline constexpr char kRuleOwnAgencyOnly[] = "directory.own_agency_only";
inline constexpr char kRuleRoutingFields[] = "directory.routing_fields";

struct AgencyPage {
  std::vector<v1::Agency> agencies;
  std::string next_page_token;
};

class Directory final : public common::AgencyLookup {
 public:
  // `store`, `clock` and `audit` must outlive the Directory (all required).
  static absl::StatusOr<std::unique_ptr<Directory>> Create(storage::Store* store,
                                                           const common::Clock* clock,
                                                           common::AuditOutbox* audit,
                                                           std::string operator_agency);

  // INVALID_ARGUMENT naming the bad field; ALREADY_EXISTS if the id is taken by
  // another request; PERMISSION_DENIED unless the caller is the operator's admin.
  absl::StatusOr<v1::Agency> CreateAgency(const common::Identity& caller, const v1::Agency& agency,
                                          absl::string_view request_id);
  // Replaces name, type and municipality. NOT_FOUND for an unknown id.
  // `fields` ("name", "type", "municipality", "acute_unit") name what
  // changes; empty: name, type and municipality, and acute_unit if set. The
  // acute unit (BUP only; another BUP of the directory) is set by the
  // operator's admin.
  absl::StatusOr<v1::Agency> UpdateAgency(const common::Identity& caller, const v1::Agency& agency,
                                          const std::vector<std::string>& fields = {});
  absl::StatusOr<v1::Agency> GetAgency(absl::string_view id) const override;
  absl::StatusOr<std::vector<v1::Agency>> FindAgencies(
      v1::AgencyType type, absl::string_view municipality) const override;
  // Filters are optional (AGENCY_TYPE_UNSPECIFIED / "" match all).
  absl::StatusOr<AgencyPage> ListAgencies(v1::AgencyType type, absl::string_view municipality,
                                          int page_size, absl::string_view page_token) const;

  // Loads `{"agencies":[{"id","name","type","municipality"}...]}` if the
  // directory is empty; returns how many agencies were added (0 if not empty).
  absl::StatusOr<int> LoadSeedIfEmpty(absl::string_view json);

  // Validation shared with the seed loader.
  static absl::Status Validate(const v1::Agency& agency);
  // "kindergarten" -> AGENCY_TYPE_KINDERGARTEN; nullopt if unknown.
  static std::optional<v1::AgencyType> TypeFromName(absl::string_view name);
  static std::string TypeName(v1::AgencyType type);

 private:
  Directory(storage::Store* store, const common::Clock* clock, common::AuditOutbox* audit,
            std::string operator_agency)
      : store_(store), clock_(clock), audit_(audit), operator_agency_(std::move(operator_agency)) {}

  absl::Status Put(const v1::Agency& agency, storage::WriteBatch* batch) const;
  // The stored record of `id`, read from the store (NOT_FOUND naming the id).
  absl::StatusOr<v1::Agency> ReadAgency(absl::string_view id) const;
  // INVALID_ARGUMENT unless agency.acute_unit is empty or another BUP.
  absl::Status ValidateAcuteUnit(const v1::Agency& agency) const;
  // Replaces the in-memory copy of `agency` (after its write committed).
  void Remember(const v1::Agency& agency) const;
  // Records the DENIED event of a refused change, then returns `refusal`.
  absl::Status Deny(const common::Identity& caller, const char* action,
                    const std::string& agency_id, const char* rule, absl::string_view why) const;
  // Adds the audit event of a change to `batch`.
  absl::Status AddAudit(const common::Identity& caller, const char* action,
                        const std::string& agency_id, absl::string_view request_id,
                        storage::WriteBatch* batch) const;

  storage::Store* store_;
  const common::Clock* clock_;
  common::AuditOutbox* audit_;
  std::string operator_agency_;
  mutable absl::Mutex write_mu_;
  mutable absl::Mutex cache_mu_;
  mutable std::map<std::string, v1::Agency, std::less<>> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace budstikke::directory

#endif  // BUDSTIKKE_SERVICES_DIRECTORY_DIRECTORY_H_
