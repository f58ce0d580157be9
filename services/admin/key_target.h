// What the admin service acts on: the keyring and store of one process with
// data. The all-in-one server has one (LocalKeyTarget, its own store); the
// admin service of the microservices mode fans out to one per service with
// data (RemoteKeyTarget, services/admin/key_admin_remote.h, served there by
// KeyAdminService over a LocalKeyTarget).
//
// A KeyTarget does not authorize or audit: Admin has done both before it asks.
#ifndef BUDSTIKKE_SERVICES_ADMIN_KEY_TARGET_H_
#define BUDSTIKKE_SERVICES_ADMIN_KEY_TARGET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "budstikke/v1/admin.pb.h"
#include "services/admin/rewrapper.h"
#include "services/common/clock.h"
#include "storage/keyring.h"
#include "storage/store.h"

namespace budstikke::admin {

// Remembered request ids of rotations and backups (idempotency), in every
// process with data.
inline constexpr char kAdminColumnFamily[] = "admin";

class KeyTarget {
 public:
  virtual ~KeyTarget() = default;

  // The service(s) whose keys these are, e.g. "consent" (error messages,
  // backup sub-directories).
  virtual const std::string& name() const = 0;
  // The versions of `agency`'s key here; none if this process never stored
  // anything for it.
  virtual absl::StatusOr<v1::AgencyKeyStatus> Status(absl::string_view agency) = 0;
  // Adds a version. A second call with the same `request_key` does not.
  virtual absl::StatusOr<v1::AgencyKeyStatus> Rotate(absl::string_view agency,
                                                     absl::string_view request_key) = 0;
  // Destroys `version`; OK if it is already shredded, NOT_FOUND if it never
  // existed here.
  virtual absl::StatusOr<v1::AgencyKeyStatus> Shred(absl::string_view agency, uint32_t version) = 0;
  // OK if no value stored here is still sealed for `agency` under `version`
  // (shredding it makes nothing unreadable); else FAILED_PRECONDITION
  // "key version V of 'A' still protects N record(s) in the S service".
  // Reads the whole store (every column family holding sealed values).
  virtual absl::Status CheckUnused(absl::string_view agency, uint32_t version) = 0;
  // The background rewrap of `agency` here (started by Rotate; see Rewrapper).
  virtual absl::StatusOr<v1::RewrapProgress> RewrapProgress(absl::string_view agency) = 0;
  // An online backup into `dest_dir` (absolute; created; ALREADY_EXISTS if
  // not empty). A second call with the same `request_id` returns the first.
  virtual absl::StatusOr<v1::Backup> Backup(absl::string_view dest_dir,
                                            absl::string_view request_id) = 0;
};

// The KeyTarget of this process's own store. Thread-safe.
class LocalKeyTarget final : public KeyTarget {
 public:
  // `store` must have kAdminColumnFamily and the keyring's; all outlive this.
  // Rotate starts the rewrap; with `rewrap.background` (the default) a
  // thread runs it and resumes the rewraps a restart interrupted.
  LocalKeyTarget(std::string name, storage::Store* store, storage::Keyring* keyring,
                 const common::Clock* clock, Rewrapper::Options rewrap = {});

  const std::string& name() const override { return name_; }
  absl::StatusOr<v1::AgencyKeyStatus> Status(absl::string_view agency) override;
  absl::StatusOr<v1::AgencyKeyStatus> Rotate(absl::string_view agency,
                                             absl::string_view request_key) override;
  absl::StatusOr<v1::AgencyKeyStatus> Shred(absl::string_view agency, uint32_t version) override;
  absl::Status CheckUnused(absl::string_view agency, uint32_t version) override;
  absl::StatusOr<v1::RewrapProgress> RewrapProgress(absl::string_view agency) override;
  absl::StatusOr<v1::Backup> Backup(absl::string_view dest_dir,
                                    absl::string_view request_id) override;

  Rewrapper& rewrapper() { return rewrapper_; }

 private:
  const std::string name_;
  storage::Store* store_;
  storage::Keyring* keyring_;
  const common::Clock* clock_;
  absl::Mutex mu_;       // serializes rotations and backups (idempotency bookkeeping)
  Rewrapper rewrapper_;  // last: its thread stops first
};

}  // namespace budstikke::admin

#endif  // BUDSTIKKE_SERVICES_ADMIN_KEY_TARGET_H_
