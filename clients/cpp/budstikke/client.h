// budstikke::Client: the C++ SDK's connection to a Budstikke server.
//
//   auto client = budstikke::Client::Connect(budstikke::ClientOptions::FromEnv());
//   if (!client.ok()) { ... }            // e.g. "no client certificate configured"
//   auto me = (*client)->WhoAmI();        // absl::StatusOr<v1::WhoAmIResponse>
//
// Every call has a deadline (ClientOptions::timeout, default 10 s) and does not
// wait for a server that is down: it fails with UNAVAILABLE at once. Errors come
// back as absl::Status with the gRPC code; policy violations and PII findings
// are decoded with ErrorDetailsOf(). Thread-safe: one Client may be shared.
#ifndef BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_CLIENT_H_
#define BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "budstikke/v1/admin.grpc.pb.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/directory.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"

namespace budstikke {

struct ClientOptions {
  std::string server = "localhost:7443";  // host:port
  std::string ca_file;                    // PEM CA the server certificate chains to
  std::string cert_file;                  // PEM client certificate (SPIFFE ID)
  std::string key_file;                   // PEM client key
  absl::Duration timeout = absl::Seconds(10);
  // How long a call waits for the connection (TCP and TLS handshake) before
  // failing with UNAVAILABLE, e.g. when the address answers TCP but never
  // speaks TLS; capped by the call's own deadline (then DEADLINE_EXCEEDED).
  absl::Duration connect_timeout = absl::Seconds(4);
  // Attempts for calls that are safe to repeat (see Client::Call); 1 = no
  // retry, at most 5 (gRPC's limit).
  int max_attempts = 3;

  // BUDSTIKKE_SERVER, BUDSTIKKE_CA, BUDSTIKKE_CERT, BUDSTIKKE_KEY.
  static ClientOptions FromEnv();
};

// Options for Client::WatchInbox.
struct InboxWatchOptions {
  // Whose acknowledged position to use (1-64 of a-z, 0-9, '.', '_', '-');
  // empty = the caller's user id (the server decides).
  std::string consumer;
  // Acknowledge each event once on_event has returned true for it.
  bool auto_ack = false;
  // Consecutive failed (re)subscriptions before giving up with UNAVAILABLE.
  int max_reconnects = 10;
  // Backoff between attempts: 100 ms, doubling, at most this.
  absl::Duration max_backoff = absl::Seconds(2);
};

// What a WatchInbox did, for callers that monitor it (and for tests).
struct InboxWatchStats {
  int subscriptions = 0;      // Subscribe streams opened (1 + reconnects)
  int redelivered = 0;        // events the server sent again after a reconnect (skipped)
  uint64_t last_cursor = 0;   // last cursor passed to on_event
  uint64_t acked_cursor = 0;  // highest cursor acknowledged through this watch
  absl::Status last_error;    // why the last stream ended (OK if none did)
};

// Lets another thread end a WatchInbox (it then returns CANCELLED).
// Thread-safe.
class InboxWatchCanceller {
 public:
  void Cancel();
  bool cancelled() const;

 private:
  friend class Client;
  // Registers the context of the current stream; false if already cancelled.
  bool Attach(grpc::ClientContext* context);
  void Detach();

  mutable std::mutex mu_;
  bool cancelled_ = false;
  grpc::ClientContext* context_ = nullptr;
};

// The grpc::Status converted to absl::Status, keeping the details
// (grpc-status-details-bin) as a payload readable by ErrorDetailsOf().
absl::Status FromGrpcStatus(const grpc::Status& status);
// Policy violations and PII findings carried by an error, if any.
std::optional<v1::ErrorDetails> ErrorDetailsOf(const absl::Status& status);

class Client {
 public:
  // Checks that the files exist and parse (clear error naming the file and the
  // variable/flag to set) and creates the channel. Does not contact the server.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  // A context with the default deadline.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // Unary call with the default deadline, converting the status. gRPC itself
  // retries the calls that are safe to repeat on UNAVAILABLE, with backoff
  // (about 100 ms, doubling, at most 1 s) up to ClientOptions::max_attempts
  // within the one deadline: the channel's service config (ChannelArgs) lists
  // them by name: every read, and the creates, which carry a request_id (the
  // server refuses a create without one and answers a repeated id with the
  // first result). Other changes and streams are never retried.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(Stub& stub,
                                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request) const {
    const auto deadline = Deadline();
    if (absl::Status connected = AwaitConnection(deadline); !connected.ok()) return connected;
    grpc::ClientContext context;
    context.set_deadline(deadline);
    Response response;
    grpc::Status status = (stub.*method)(&context, request, &response);
    if (status.ok()) return response;
    return FromGrpcStatus(status);
  }

  // The channel arguments Connect uses: keepalive, reconnect backoff, message
  // size and the retry service config for options.max_attempts.
  static grpc::ChannelArguments ChannelArgs(const ClientOptions& options);

  // Typed wrappers.
  absl::StatusOr<v1::WhoAmIResponse> WhoAmI() const;
  absl::StatusOr<v1::Agency> GetAgency(const std::string& id) const;
  absl::StatusOr<v1::ListAgenciesResponse> ListAgencies(
      const v1::ListAgenciesRequest& request) const;
  absl::StatusOr<v1::Agency> CreateAgency(const v1::Agency& agency,
                                          const std::string& request_id) const;
  absl::StatusOr<v1::Agency> UpdateAgency(const v1::Agency& agency) const;
  // Changes only `fields` ("name", "type", "municipality", "acute_unit").
  absl::StatusOr<v1::Agency> UpdateAgency(const v1::Agency& agency,
                                          const std::vector<std::string>& fields) const;

  // ConsultationService (anonymous consultations). Requests are passed whole;
  // create calls need request.request_id (NewRequestId() if you have none).
  absl::StatusOr<v1::CheckTextResponse> CheckText(const std::string& text) const;
  absl::StatusOr<v1::Consultation> AskConsultation(const v1::AskConsultationRequest& request) const;
  absl::StatusOr<v1::Consultation> ClaimConsultation(const std::string& id) const;
  absl::StatusOr<v1::Consultation> AnswerConsultation(
      const v1::AnswerConsultationRequest& request) const;
  absl::StatusOr<v1::Consultation> AddConsultationMessage(
      const v1::AddConsultationMessageRequest& request) const;
  absl::StatusOr<v1::Consultation> CloseConsultation(const std::string& id) const;
  absl::StatusOr<v1::Consultation> GetConsultation(const std::string& id) const;
  absl::StatusOr<v1::ListConsultationsResponse> ListConsultations(
      const v1::ListConsultationsRequest& request) const;

  // InboxService. Subscribe streams the caller agency's inbox after
  // max(`from_cursor`, the consumer's acknowledged position) (no deadline) and
  // calls `on_event` for each event until it returns false (then OK),
  // `context` is cancelled (TryCancel from another thread; then CANCELLED) or
  // the stream fails (its status, e.g. UNAVAILABLE: resubscribe from the last
  // cursor seen). `context` may be null. `consumer` names the acknowledged
  // position (empty: the caller's user id); Ack moves only that consumer's
  // position and returns it.
  absl::Status SubscribeInbox(uint64_t from_cursor,
                              const std::function<bool(const v1::InboxEvent&)>& on_event,
                              grpc::ClientContext* context = nullptr,
                              const std::string& consumer = "") const;
  absl::StatusOr<v1::AckResponse> AckInbox(uint64_t up_to_cursor,
                                           const std::string& consumer = "") const;
  // Follows the inbox like SubscribeInbox, but survives disconnects and server
  // restarts: when the stream fails with UNAVAILABLE it resubscribes (with
  // backoff) from the last cursor acknowledged through it (auto_ack; else
  // from_cursor). The server starts after the acknowledged position of
  // options.consumer (acks made with AckInbox for that consumer count too) and redelivers every
  // unacknowledged event; events already passed to on_event are skipped, so on_event sees each
  // cursor once, in order. Returns OK when on_event returns false, CANCELLED after
  // canceller->Cancel(), UNAVAILABLE after options.max_reconnects failed
  // attempts in a row, or any other stream or ack error. `stats` and
  // `canceller` may be null.
  absl::Status WatchInbox(uint64_t from_cursor,
                          const std::function<bool(const v1::InboxEvent&)>& on_event,
                          const InboxWatchOptions& options = {}, InboxWatchStats* stats = nullptr,
                          InboxWatchCanceller* canceller = nullptr) const;

  // ConsentService. Record needs request.request_id.
  absl::StatusOr<v1::Consent> RecordConsent(const v1::RecordConsentRequest& request) const;
  absl::StatusOr<v1::Consent> RevokeConsent(const std::string& id, const std::string& reason) const;
  absl::StatusOr<v1::Consent> GetConsent(const std::string& id) const;
  absl::StatusOr<v1::ListConsentsResponse> ListConsents(
      const v1::ListConsentsRequest& request) const;

  // ReferralService. Send needs request.request_id.
  absl::StatusOr<v1::Referral> SendReferral(const v1::SendReferralRequest& request) const;
  absl::StatusOr<v1::Referral> GetReferral(const std::string& id) const;
  absl::StatusOr<v1::ListReferralsResponse> ListReferrals(
      const v1::ListReferralsRequest& request) const;
  absl::StatusOr<v1::Referral> AcknowledgeReferral(const std::string& id) const;
  absl::StatusOr<v1::Referral> DecideReferral(const v1::DecideReferralRequest& request) const;
  // Drafts co-signed by another agency (request.cosigner_agency).
  absl::StatusOr<v1::Referral> DraftReferral(const v1::SendReferralRequest& request) const;
  absl::StatusOr<v1::Referral> CosignReferral(const std::string& id) const;
  absl::StatusOr<v1::Referral> ReturnReferral(const std::string& id,
                                              const std::string& reason) const;
  // The follow-up thread.
  absl::StatusOr<v1::ReferralMessage> PostReferralMessage(
      const v1::PostReferralMessageRequest& request) const;
  absl::StatusOr<v1::ReferralThread> GetReferralThread(const std::string& id) const;
  absl::StatusOr<v1::Referral> InviteToReferral(const std::string& id,
                                                const std::string& agency) const;
  absl::StatusOr<v1::Referral> SupplementReferral(
      const v1::SupplementReferralRequest& request) const;
  absl::StatusOr<v1::Referral> WithdrawReferral(const std::string& id,
                                                const std::string& reason = "") const;
  // Streams `data` in 1 MiB chunks after the metadata; fills metadata.size
  // and metadata.sha256 from `data` when they are unset. Deadline: the
  // default timeout plus 1 s per MiB.
  absl::StatusOr<v1::AttachmentInfo> UploadAttachment(v1::AttachmentMetadata metadata,
                                                      const std::string& data) const;
  // Downloads into `data` and checks size and SHA-256 against the info
  // (DATA_LOSS on mismatch).
  absl::StatusOr<v1::AttachmentInfo> DownloadAttachment(const std::string& referral_id,
                                                        const std::string& attachment_id,
                                                        std::string* data) const;

  // AuditService: the log's public key, checkpoints, proofs and (auditor, or
  // an agency's admin for its own agency) events. See audit_verify.h to check
  // what these return.
  absl::StatusOr<v1::GetPublicKeyResponse> GetAuditPublicKey() const;
  absl::StatusOr<v1::Checkpoint> GetCheckpoint() const;
  absl::StatusOr<v1::GetEventResponse> GetAuditEvent(const v1::GetEventRequest& request) const;
  absl::StatusOr<v1::InclusionProof> GetInclusionProof(
      const v1::GetInclusionProofRequest& request) const;
  absl::StatusOr<v1::ConsistencyProof> GetConsistencyProof(
      const v1::GetConsistencyProofRequest& request) const;
  absl::StatusOr<v1::QueryAuditResponse> QueryAudit(const v1::QueryAuditRequest& request) const;
  absl::StatusOr<v1::SubjectAccessReportResponse> SubjectAccessReport(
      const v1::SubjectAccessReportRequest& request) const;

  // AdminService (role admin). RotateAgencyKey and CreateBackup need
  // request.request_id.
  absl::StatusOr<v1::AgencyKeyStatus> GetKeyStatus(const v1::GetKeyStatusRequest& request) const;
  absl::StatusOr<v1::AgencyKeyStatus> RotateAgencyKey(
      const v1::RotateAgencyKeyRequest& request) const;
  absl::StatusOr<v1::AgencyKeyStatus> ShredAgencyKeyVersion(
      const v1::ShredAgencyKeyVersionRequest& request) const;
  absl::StatusOr<v1::RewrapProgress> GetRewrapProgress(
      const v1::GetRewrapProgressRequest& request) const;
  absl::StatusOr<v1::Backup> CreateBackup(const v1::CreateBackupRequest& request) const;
  absl::StatusOr<v1::ServerInfo> GetServerInfo() const;

  v1::DirectoryService::Stub& directory() const { return *directory_; }
  v1::ConsultationService::Stub& consultation() const { return *consultation_; }
  v1::ConsentService::Stub& consent() const { return *consent_; }
  v1::ReferralService::Stub& referral() const { return *referral_; }
  v1::InboxService::Stub& inbox() const { return *inbox_; }
  v1::AuditService::Stub& audit() const { return *audit_; }
  v1::AdminService::Stub& admin() const { return *admin_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const ClientOptions& options() const { return options_; }

 private:
  Client(ClientOptions options, std::shared_ptr<grpc::Channel> channel);
  std::chrono::system_clock::time_point Deadline() const;
  // Waits (at most connect_timeout, and not past `deadline`) while the channel
  // is idle or connecting. OK when ready, or when it failed: the call then
  // reports the failure itself (e.g. connection refused, bad certificate).
  absl::Status AwaitConnection(std::chrono::system_clock::time_point deadline) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
  std::unique_ptr<v1::ConsultationService::Stub> consultation_;
  std::unique_ptr<v1::ConsentService::Stub> consent_;
  std::unique_ptr<v1::ReferralService::Stub> referral_;
  std::unique_ptr<v1::InboxService::Stub> inbox_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// A fresh random request id ("req-" + 32 hex chars) for create calls.
std::string NewRequestId();

}  // namespace budstikke

#endif  // BUDSTIKKE_CLIENTS_CPP_BUDSTIKKE_CLIENT_H_
