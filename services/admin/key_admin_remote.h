// The admin fan-out over gRPC (microservices mode): RemoteKeyTarget is a
// KeyTarget in another process, reached through budstikke.internal.v1.KeyAdmin;
// KeyAdminService serves that RPC from the process's LocalKeyTarget. Only
// the admin service's identity may call it (services/common/service_allow_list.cc).
#ifndef BUDSTIKKE_SERVICES_ADMIN_KEY_ADMIN_REMOTE_H_
#define BUDSTIKKE_SERVICES_ADMIN_KEY_ADMIN_REMOTE_H_

#include <memory>
#include <string>

#include "budstikke/internal/v1/internal.grpc.pb.h"
#include "services/admin/key_target.h"
#include "services/common/grpc_auth.h"
#include "services/common/remote/remote.h"

namespace budstikke::admin {

// Errors as common::PeerError: "<peer> service unavailable: ..." when the
// peer cannot be reached, otherwise the peer's code and message. Backups get
// a deadline of a minute; the other calls the peer's timeout.
class RemoteKeyTarget final : public KeyTarget {
 public:
  explicit RemoteKeyTarget(common::Peer peer);

  const std::string& name() const override { return peer_.name; }
  absl::StatusOr<v1::AgencyKeyStatus> Status(absl::string_view agency) override;
  absl::StatusOr<v1::AgencyKeyStatus> Rotate(absl::string_view agency,
                                             absl::string_view request_key) override;
  absl::StatusOr<v1::AgencyKeyStatus> Shred(absl::string_view agency, uint32_t version) override;
  absl::Status CheckUnused(absl::string_view agency, uint32_t version) override;
  absl::StatusOr<v1::RewrapProgress> RewrapProgress(absl::string_view agency) override;
  absl::StatusOr<v1::Backup> Backup(absl::string_view dest_dir,
                                    absl::string_view request_id) override;

 private:
  common::Peer peer_;
  common::Peer backup_peer_;  // the same peer with the backup deadline
  std::unique_ptr<internal::v1::KeyAdmin::Stub> stub_;
};

class KeyAdminService final : public internal::v1::KeyAdmin::Service {
 public:
  KeyAdminService(KeyTarget* target, const common::Authenticator* auth)
      : target_(target), auth_(auth) {}
  grpc::Status GetKeyStatus(grpc::ServerContext* ctx, const v1::GetKeyStatusRequest* req,
                            v1::AgencyKeyStatus* resp) override;
  grpc::Status RotateAgencyKey(grpc::ServerContext* ctx, const internal::v1::RotateKeyRequest* req,
                               v1::AgencyKeyStatus* resp) override;
  grpc::Status ShredAgencyKeyVersion(grpc::ServerContext* ctx,
                                     const internal::v1::ShredKeyRequest* req,
                                     v1::AgencyKeyStatus* resp) override;
  grpc::Status CreateBackup(grpc::ServerContext* ctx, const v1::CreateBackupRequest* req,
                            v1::Backup* resp) override;
  grpc::Status GetRewrapProgress(grpc::ServerContext* ctx, const v1::GetRewrapProgressRequest* req,
                                 v1::RewrapProgress* resp) override;

 private:
  KeyTarget* target_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::admin

#endif  // BUDSTIKKE_SERVICES_ADMIN_KEY_ADMIN_REMOTE_H_
