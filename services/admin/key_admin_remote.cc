#include "services/admin/key_admin_remote.h"

#include "services/common/grpc_adapter.h"
#include "storage/status_macros.h"

namespace budstikke::admin {
namespace {

constexpr char kGetKeyStatus[] = "budstikke.internal.v1.KeyAdmin/GetKeyStatus";
constexpr char kRotateAgencyKey[] = "budstikke.internal.v1.KeyAdmin/RotateAgencyKey";
constexpr char kShredAgencyKeyVersion[] = "budstikke.internal.v1.KeyAdmin/ShredAgencyKeyVersion";
constexpr char kCreateBackup[] = "budstikke.internal.v1.KeyAdmin/CreateBackup";
constexpr char kGetRewrapProgress[] = "budstikke.internal.v1.KeyAdmin/GetRewrapProgress";

// A backup copies the whole store: longer than a lookup.
constexpr absl::Duration kBackupTimeout = absl::Minutes(1);

}  // namespace

RemoteKeyTarget::RemoteKeyTarget(common::Peer peer)
    : peer_(std::move(peer)),
      backup_peer_(peer_),
      stub_(internal::v1::KeyAdmin::NewStub(peer_.channel)) {
  backup_peer_.timeout = kBackupTimeout;
}

absl::StatusOr<v1::AgencyKeyStatus> RemoteKeyTarget::Status(absl::string_view agency) {
  v1::GetKeyStatusRequest req;
  req.set_agency(std::string(agency));
  v1::AgencyKeyStatus resp;
  grpc::Status s = stub_->GetKeyStatus(common::PeerContext(peer_).get(), req, &resp);
  return common::PeerAnswer(peer_, s, std::move(resp));
}

absl::StatusOr<v1::AgencyKeyStatus> RemoteKeyTarget::Rotate(absl::string_view agency,
                                                            absl::string_view request_key) {
  internal::v1::RotateKeyRequest req;
  req.set_agency(std::string(agency));
  req.set_request_key(std::string(request_key));
  v1::AgencyKeyStatus resp;
  grpc::Status s = stub_->RotateAgencyKey(common::PeerContext(peer_).get(), req, &resp);
  return common::PeerAnswer(peer_, s, std::move(resp));
}

absl::StatusOr<v1::AgencyKeyStatus> RemoteKeyTarget::Shred(absl::string_view agency,
                                                           uint32_t version) {
  internal::v1::ShredKeyRequest req;
  req.set_agency(std::string(agency));
  req.set_version(version);
  v1::AgencyKeyStatus resp;
  grpc::Status s = stub_->ShredAgencyKeyVersion(common::PeerContext(peer_).get(), req, &resp);
  return common::PeerAnswer(peer_, s, std::move(resp));
}

absl::Status RemoteKeyTarget::CheckUnused(absl::string_view agency, uint32_t version) {
  internal::v1::ShredKeyRequest req;
  req.set_agency(std::string(agency));
  req.set_version(version);
  req.set_check_only(true);
  v1::AgencyKeyStatus resp;
  // Reads the peer's whole store: the backup deadline.
  grpc::Status s =
      stub_->ShredAgencyKeyVersion(common::PeerContext(backup_peer_).get(), req, &resp);
  return common::PeerAnswer(peer_, s, std::move(resp)).status();
}

absl::StatusOr<v1::RewrapProgress> RemoteKeyTarget::RewrapProgress(absl::string_view agency) {
  v1::GetRewrapProgressRequest req;
  req.set_agency(std::string(agency));
  v1::RewrapProgress resp;
  grpc::Status s = stub_->GetRewrapProgress(common::PeerContext(peer_).get(), req, &resp);
  return common::PeerAnswer(peer_, s, std::move(resp));
}

absl::StatusOr<v1::Backup> RemoteKeyTarget::Backup(absl::string_view dest_dir,
                                                   absl::string_view request_id) {
  v1::CreateBackupRequest req;
  req.set_dest_dir(std::string(dest_dir));
  req.set_request_id(std::string(request_id));
  v1::Backup resp;
  grpc::Status s = stub_->CreateBackup(common::PeerContext(backup_peer_).get(), req, &resp);
  return common::PeerAnswer(peer_, s, std::move(resp));
}

grpc::Status KeyAdminService::GetKeyStatus(grpc::ServerContext* ctx,
                                           const v1::GetKeyStatusRequest* req,
                                           v1::AgencyKeyStatus* resp) {
  return common::Unary(ctx, *auth_, kGetKeyStatus, resp, common::kInline,
                       [&](const common::Caller&) { return target_->Status(req->agency()); });
}

grpc::Status KeyAdminService::RotateAgencyKey(grpc::ServerContext* ctx,
                                              const internal::v1::RotateKeyRequest* req,
                                              v1::AgencyKeyStatus* resp) {
  return common::Unary(
      ctx, *auth_, kRotateAgencyKey, resp, common::kInline,
      [&](const common::Caller&) { return target_->Rotate(req->agency(), req->request_key()); });
}

grpc::Status KeyAdminService::ShredAgencyKeyVersion(grpc::ServerContext* ctx,
                                                    const internal::v1::ShredKeyRequest* req,
                                                    v1::AgencyKeyStatus* resp) {
  return common::Unary(
      ctx, *auth_, kShredAgencyKeyVersion, resp, common::kInline,
      [&](const common::Caller&) -> absl::StatusOr<v1::AgencyKeyStatus> {
        if (!req->check_only()) return target_->Shred(req->agency(), req->version());
        BUDSTIKKE_RETURN_IF_ERROR(target_->CheckUnused(req->agency(), req->version()));
        return target_->Status(req->agency());
      });
}

grpc::Status KeyAdminService::CreateBackup(grpc::ServerContext* ctx,
                                           const v1::CreateBackupRequest* req, v1::Backup* resp) {
  return common::Unary(
      ctx, *auth_, kCreateBackup, resp, common::kInline,
      [&](const common::Caller&) { return target_->Backup(req->dest_dir(), req->request_id()); });
}

grpc::Status KeyAdminService::GetRewrapProgress(grpc::ServerContext* ctx,
                                                const v1::GetRewrapProgressRequest* req,
                                                v1::RewrapProgress* resp) {
  return common::Unary(
      ctx, *auth_, kGetRewrapProgress, resp, common::kInline,
      [&](const common::Caller&) { return target_->RewrapProgress(req->agency()); });
}

}  // namespace budstikke::admin
