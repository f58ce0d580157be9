#include "budstikke/client.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "budstikke/retry_policy.h"
#include "google/rpc/status.pb.h"

namespace budstikke {
namespace {

constexpr char kErrorDetailsTypeUrl[] = "type.googleapis.com/budstikke.v1.ErrorDetails";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what,
                                    const char* how_to_set) {
  if (path.empty()) {
    return absl::UnauthenticatedError(absl::StrCat("no ", what, " configured: set ", how_to_set));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, " ", path, " cannot be read (", how_to_set, ")"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  if (data.find("-----BEGIN") == std::string::npos) {
    return absl::UnauthenticatedError(absl::StrCat(what, " ", path, " is not a PEM file"));
  }
  return data;
}

}  // namespace

ClientOptions ClientOptions::FromEnv() {
  ClientOptions o;
  if (std::string s = Env("BUDSTIKKE_SERVER"); !s.empty()) o.server = s;
  o.ca_file = Env("BUDSTIKKE_CA");
  o.cert_file = Env("BUDSTIKKE_CERT");
  o.key_file = Env("BUDSTIKKE_KEY");
  return o;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!status.error_details().empty()) {
    google::rpc::Status rpc;
    if (rpc.ParseFromString(status.error_details())) {
      for (const auto& any : rpc.details()) {
        v1::ErrorDetails details;
        if (any.UnpackTo(&details)) {
          out.SetPayload(kErrorDetailsTypeUrl, absl::Cord(details.SerializeAsString()));
        }
      }
    }
  }
  return out;
}

std::optional<v1::ErrorDetails> ErrorDetailsOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrorDetailsTypeUrl);
  if (!payload) return std::nullopt;
  v1::ErrorDetails details;
  if (!details.ParseFromString(std::string(*payload))) return std::nullopt;
  return details;
}

Client::Client(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      directory_(v1::DirectoryService::NewStub(channel_)),
      consultation_(v1::ConsultationService::NewStub(channel_)),
      consent_(v1::ConsentService::NewStub(channel_)),
      referral_(v1::ReferralService::NewStub(channel_)),
      inbox_(v1::InboxService::NewStub(channel_)),
      audit_(v1::AuditService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  if (options.server.empty()) {
    return absl::InvalidArgumentError("no server configured: set BUDSTIKKE_SERVER or --server");
  }
  grpc::SslCredentialsOptions ssl;
  auto ca = ReadPem(options.ca_file, "CA certificate", "BUDSTIKKE_CA or --ca");
  if (!ca.ok()) return ca.status();
  auto cert = ReadPem(options.cert_file, "client certificate", "BUDSTIKKE_CERT or --cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(options.key_file, "client key", "BUDSTIKKE_KEY or --key");
  if (!key.ok()) return key.status();
  ssl.pem_root_certs = *std::move(ca);
  ssl.pem_cert_chain = *std::move(cert);
  ssl.pem_private_key = *std::move(key);
  auto channel =
      grpc::CreateCustomChannel(options.server, grpc::SslCredentials(ssl), ChannelArgs(options));
  return std::unique_ptr<Client>(new Client(options, std::move(channel)));
}

grpc::ChannelArguments Client::ChannelArgs(const ClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  // Reconnect soon after a server restart: start at 200 ms, at most 1 s apart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // gRPC 1.51's pick_first can stop reconnecting once in TRANSIENT_FAILURE
  // until the name is resolved again, by default at most every 30 s: resolve
  // again after 500 ms, so a client recovers soon after a server restart.
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 500);
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetServiceConfigJSON(internal::RetryServiceConfig(options.max_attempts));
  return args;
}

std::chrono::system_clock::time_point Client::Deadline() const {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(options_.timeout);
}

absl::Status Client::AwaitConnection(std::chrono::system_clock::time_point deadline) const {
  const auto connect_deadline =
      std::min(deadline, std::chrono::system_clock::now() +
                             absl::ToChronoMilliseconds(options_.connect_timeout));
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state == GRPC_CHANNEL_IDLE || state == GRPC_CHANNEL_CONNECTING) {
    if (!channel_->WaitForStateChange(state, connect_deadline)) {
      if (connect_deadline >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("deadline of ", absl::FormatDuration(options_.timeout),
                         " exceeded while connecting to ", options_.server));
      }
      return absl::UnavailableError(absl::StrCat(
          "no TLS connection to ", options_.server, " within ",
          absl::FormatDuration(options_.connect_timeout),
          ": the address accepts connections but does not answer like a Budstikke server"));
    }
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  return absl::OkStatus();
}

std::unique_ptr<grpc::ClientContext> Client::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(options_.timeout));
  return context;
}

absl::StatusOr<v1::WhoAmIResponse> Client::WhoAmI() const {
  return Call(*directory_, &v1::DirectoryService::Stub::WhoAmI, v1::WhoAmIRequest());
}

absl::StatusOr<v1::Agency> Client::GetAgency(const std::string& id) const {
  v1::GetAgencyRequest request;
  request.set_id(id);
  return Call(*directory_, &v1::DirectoryService::Stub::GetAgency, request);
}

absl::StatusOr<v1::ListAgenciesResponse> Client::ListAgencies(
    const v1::ListAgenciesRequest& request) const {
  return Call(*directory_, &v1::DirectoryService::Stub::ListAgencies, request);
}

absl::StatusOr<v1::Agency> Client::CreateAgency(const v1::Agency& agency,
                                                const std::string& request_id) const {
  v1::CreateAgencyRequest request;
  *request.mutable_agency() = agency;
  request.set_request_id(request_id);
  return Call(*directory_, &v1::DirectoryService::Stub::CreateAgency, request);
}

absl::StatusOr<v1::Agency> Client::UpdateAgency(const v1::Agency& agency) const {
  v1::UpdateAgencyRequest request;
  *request.mutable_agency() = agency;
  return Call(*directory_, &v1::DirectoryService::Stub::UpdateAgency, request);
}

absl::StatusOr<v1::Agency> Client::UpdateAgency(const v1::Agency& agency,
                                                const std::vector<std::string>& fields) const {
  v1::UpdateAgencyRequest request;
  *request.mutable_agency() = agency;
  for (const std::string& f : fields) request.add_update_fields(f);
  return Call(*directory_, &v1::DirectoryService::Stub::UpdateAgency, request);
}

std::string NewRequestId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  return "req-" +
         absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

// --- ConsultationService and InboxService ---

absl::StatusOr<v1::CheckTextResponse> Client::CheckText(const std::string& text) const {
  v1::CheckTextRequest request;
  request.set_text(text);
  return Call(*consultation_, &v1::ConsultationService::Stub::CheckText, request);
}

absl::StatusOr<v1::Consultation> Client::AskConsultation(
    const v1::AskConsultationRequest& request) const {
  return Call(*consultation_, &v1::ConsultationService::Stub::Ask, request);
}

absl::StatusOr<v1::Consultation> Client::ClaimConsultation(const std::string& id) const {
  v1::ClaimConsultationRequest request;
  request.set_id(id);
  return Call(*consultation_, &v1::ConsultationService::Stub::Claim, request);
}

absl::StatusOr<v1::Consultation> Client::AnswerConsultation(
    const v1::AnswerConsultationRequest& request) const {
  return Call(*consultation_, &v1::ConsultationService::Stub::Answer, request);
}

absl::StatusOr<v1::Consultation> Client::AddConsultationMessage(
    const v1::AddConsultationMessageRequest& request) const {
  return Call(*consultation_, &v1::ConsultationService::Stub::AddMessage, request);
}

absl::StatusOr<v1::Consultation> Client::CloseConsultation(const std::string& id) const {
  v1::CloseConsultationRequest request;
  request.set_id(id);
  return Call(*consultation_, &v1::ConsultationService::Stub::Close, request);
}

absl::StatusOr<v1::Consultation> Client::GetConsultation(const std::string& id) const {
  v1::GetConsultationRequest request;
  request.set_id(id);
  return Call(*consultation_, &v1::ConsultationService::Stub::Get, request);
}

absl::StatusOr<v1::ListConsultationsResponse> Client::ListConsultations(
    const v1::ListConsultationsRequest& request) const {
  return Call(*consultation_, &v1::ConsultationService::Stub::List, request);
}

absl::Status Client::SubscribeInbox(uint64_t from_cursor,
                                    const std::function<bool(const v1::InboxEvent&)>& on_event,
                                    grpc::ClientContext* context,
                                    const std::string& consumer) const {
  if (absl::Status connected = AwaitConnection(std::chrono::system_clock::time_point::max());
      !connected.ok()) {
    return connected;
  }
  grpc::ClientContext own;
  grpc::ClientContext* ctx = context != nullptr ? context : &own;
  v1::SubscribeRequest request;
  request.set_from_cursor(from_cursor);
  request.set_consumer(consumer);
  std::unique_ptr<grpc::ClientReader<v1::InboxEvent>> reader = inbox_->Subscribe(ctx, request);
  v1::InboxEvent event;
  while (reader->Read(&event)) {
    if (!on_event(event)) {
      ctx->TryCancel();
      reader->Finish();
      return absl::OkStatus();
    }
  }
  return FromGrpcStatus(reader->Finish());
}

absl::StatusOr<v1::AckResponse> Client::AckInbox(uint64_t up_to_cursor,
                                                 const std::string& consumer) const {
  v1::AckRequest request;
  request.set_up_to_cursor(up_to_cursor);
  request.set_consumer(consumer);
  return Call(*inbox_, &v1::InboxService::Stub::Ack, request);
}

void InboxWatchCanceller::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

bool InboxWatchCanceller::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool InboxWatchCanceller::Attach(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  context_ = context;
  return !cancelled_;
}

void InboxWatchCanceller::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  context_ = nullptr;
}

absl::Status Client::WatchInbox(uint64_t from_cursor,
                                const std::function<bool(const v1::InboxEvent&)>& on_event,
                                const InboxWatchOptions& options, InboxWatchStats* stats,
                                InboxWatchCanceller* canceller) const {
  InboxWatchStats own_stats;
  InboxWatchStats& st = stats != nullptr ? *stats : own_stats;
  st.last_cursor = from_cursor;
  st.acked_cursor = from_cursor;
  int failures = 0;
  const absl::Status cancelled = absl::CancelledError("inbox watch cancelled");
  while (true) {
    if (canceller != nullptr && canceller->cancelled()) return cancelled;
    grpc::ClientContext context;
    if (canceller != nullptr && !canceller->Attach(&context)) return cancelled;
    ++st.subscriptions;
    bool stopped = false;
    absl::Status inner = absl::OkStatus();
    absl::Status ack_unavailable = absl::OkStatus();
    absl::Status s = SubscribeInbox(
        st.acked_cursor,
        [&](const v1::InboxEvent& event) {
          failures = 0;
          if (event.cursor() <= st.last_cursor) {  // sent again after a reconnect
            ++st.redelivered;
            return true;
          }
          st.last_cursor = event.cursor();
          if (!on_event(event)) {
            stopped = true;
            return false;
          }
          if (options.auto_ack) {
            absl::StatusOr<v1::AckResponse> acked = AckInbox(event.cursor(), options.consumer);
            if (!acked.ok()) {
              // The server went away between the event and its Ack: reconnect
              // like a broken stream (the event comes again and is skipped;
              // the next Ack covers it).
              if (absl::IsUnavailable(acked.status())) {
                ack_unavailable = acked.status();
              } else {
                inner = acked.status();
              }
              return false;
            }
            st.acked_cursor = std::max(st.acked_cursor, event.cursor());
          }
          return true;
        },
        &context, options.consumer);
    if (canceller != nullptr) canceller->Detach();
    st.last_error = s;
    if (!inner.ok()) return inner;
    if (stopped) return absl::OkStatus();
    if (canceller != nullptr && canceller->cancelled()) return cancelled;
    if (!ack_unavailable.ok()) s = ack_unavailable;
    if (s.code() != absl::StatusCode::kUnavailable) return s;
    if (++failures > options.max_reconnects) {
      return absl::UnavailableError(absl::StrCat("inbox stream: ", options_.server,
                                                 " unreachable after ", failures,
                                                 " attempts: ", s.message()));
    }
    const absl::Duration backoff =
        std::min(options.max_backoff, absl::Milliseconds(100) * (1 << std::min(failures - 1, 10)));
    absl::SleepFor(backoff);
    // Ask gRPC to resolve and connect again now instead of after its own
    // backoff, so the stream resumes soon after the server is back.
    grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
  }
}

// --- ConsentService and ReferralService ---

absl::StatusOr<v1::Consent> Client::RecordConsent(const v1::RecordConsentRequest& request) const {
  return Call(*consent_, &v1::ConsentService::Stub::Record, request);
}

absl::StatusOr<v1::Consent> Client::RevokeConsent(const std::string& id,
                                                  const std::string& reason) const {
  v1::RevokeConsentRequest request;
  request.set_id(id);
  request.set_reason(reason);
  return Call(*consent_, &v1::ConsentService::Stub::Revoke, request);
}

absl::StatusOr<v1::Consent> Client::GetConsent(const std::string& id) const {
  v1::GetConsentRequest request;
  request.set_id(id);
  return Call(*consent_, &v1::ConsentService::Stub::Get, request);
}

absl::StatusOr<v1::ListConsentsResponse> Client::ListConsents(
    const v1::ListConsentsRequest& request) const {
  return Call(*consent_, &v1::ConsentService::Stub::List, request);
}

absl::StatusOr<v1::Referral> Client::SendReferral(const v1::SendReferralRequest& request) const {
  return Call(*referral_, &v1::ReferralService::Stub::Send, request);
}

absl::StatusOr<v1::Referral> Client::GetReferral(const std::string& id) const {
  v1::GetReferralRequest request;
  request.set_id(id);
  return Call(*referral_, &v1::ReferralService::Stub::Get, request);
}

absl::StatusOr<v1::ListReferralsResponse> Client::ListReferrals(
    const v1::ListReferralsRequest& request) const {
  return Call(*referral_, &v1::ReferralService::Stub::List, request);
}

absl::StatusOr<v1::Referral> Client::AcknowledgeReferral(const std::string& id) const {
  v1::AcknowledgeReferralRequest request;
  request.set_id(id);
  return Call(*referral_, &v1::ReferralService::Stub::Acknowledge, request);
}

absl::StatusOr<v1::Referral> Client::DecideReferral(
    const v1::DecideReferralRequest& request) const {
  return Call(*referral_, &v1::ReferralService::Stub::Decide, request);
}

absl::StatusOr<v1::Referral> Client::DraftReferral(const v1::SendReferralRequest& request) const {
  return Call(*referral_, &v1::ReferralService::Stub::Draft, request);
}

absl::StatusOr<v1::Referral> Client::CosignReferral(const std::string& id) const {
  v1::CosignReferralRequest request;
  request.set_id(id);
  return Call(*referral_, &v1::ReferralService::Stub::Cosign, request);
}

absl::StatusOr<v1::Referral> Client::ReturnReferral(const std::string& id,
                                                    const std::string& reason) const {
  v1::ReturnReferralRequest request;
  request.set_id(id);
  request.set_reason(reason);
  return Call(*referral_, &v1::ReferralService::Stub::Return, request);
}

absl::StatusOr<v1::ReferralMessage> Client::PostReferralMessage(
    const v1::PostReferralMessageRequest& request) const {
  return Call(*referral_, &v1::ReferralService::Stub::PostMessage, request);
}

absl::StatusOr<v1::ReferralThread> Client::GetReferralThread(const std::string& id) const {
  v1::GetReferralThreadRequest request;
  request.set_referral_id(id);
  return Call(*referral_, &v1::ReferralService::Stub::GetThread, request);
}

absl::StatusOr<v1::Referral> Client::InviteToReferral(const std::string& id,
                                                      const std::string& agency) const {
  v1::InviteToReferralRequest request;
  request.set_referral_id(id);
  request.set_agency(agency);
  return Call(*referral_, &v1::ReferralService::Stub::Invite, request);
}

absl::StatusOr<v1::Referral> Client::SupplementReferral(
    const v1::SupplementReferralRequest& request) const {
  return Call(*referral_, &v1::ReferralService::Stub::Supplement, request);
}

absl::StatusOr<v1::Referral> Client::WithdrawReferral(const std::string& id,
                                                      const std::string& reason) const {
  v1::WithdrawReferralRequest request;
  request.set_id(id);
  request.set_reason(reason);
  return Call(*referral_, &v1::ReferralService::Stub::Withdraw, request);
}

namespace {
std::string Sha256Of(const std::string& data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}
constexpr size_t kChunkBytes = 1 << 20;
}  // namespace

absl::StatusOr<v1::AttachmentInfo> Client::UploadAttachment(v1::AttachmentMetadata metadata,
                                                            const std::string& data) const {
  if (metadata.size() == 0) metadata.set_size(data.size());
  if (metadata.sha256().empty()) metadata.set_sha256(Sha256Of(data));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout +
                                          absl::Seconds(1 + data.size() / kChunkBytes)));
  v1::AttachmentInfo info;
  auto writer = referral_->UploadAttachment(&context, &info);
  v1::UploadAttachmentRequest first;
  *first.mutable_metadata() = std::move(metadata);
  bool ok = writer->Write(first);
  for (size_t off = 0; ok && off < data.size(); off += kChunkBytes) {
    v1::UploadAttachmentRequest chunk;
    chunk.set_chunk(data.substr(off, kChunkBytes));
    ok = writer->Write(chunk);
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return info;
}

absl::StatusOr<v1::AttachmentInfo> Client::DownloadAttachment(const std::string& referral_id,
                                                              const std::string& attachment_id,
                                                              std::string* data) const {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout + absl::Seconds(30)));
  v1::DownloadAttachmentRequest request;
  request.set_referral_id(referral_id);
  request.set_attachment_id(attachment_id);
  auto reader = referral_->DownloadAttachment(&context, request);
  v1::DownloadAttachmentResponse part;
  v1::AttachmentInfo info;
  data->clear();
  while (reader->Read(&part)) {
    if (part.has_info()) {
      info = part.info();
      data->reserve(info.size());
    } else {
      data->append(part.chunk());
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (data->size() != info.size() || Sha256Of(*data) != info.sha256()) {
    return absl::DataLossError("attachment does not match its size and sha256");
  }
  return info;
}

}  // namespace budstikke
