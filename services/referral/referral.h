// ReferralDesk: consent-gated referrals of a named child to BUP, PPT and child
// welfare, and their attachments (domain logic, no gRPC). See referral.proto
// for the API contract and policy.h for the rules.
//
// Storage (keys hold no personal data), column family "referral":
//   r/<id>                        Frame(subject pseudonym, envelope of the whole
//                                 v1::Referral sealed for its readers: a draft
//                                 for initiator + co-signer; a sent referral
//                                 for initiator, sender, recipient and invited
//                                 agencies (Readers))
//   s/<sender>/<p><inverted>/<id> sent mailbox (the initiator's drafts too);
//   v/<recipient>/<p><inverted>/<id> received; c/<cosigner>/<p><inverted>/<id>
//                                 drafts to co-sign. <p> is "!" for URGENT
//                                 (sorts before the digits: urgent first)
//   e/<due micros, 20 digits>/<id>  urgent referral to escalate if not
//                                 acknowledged by then (value: recipient)
//   q/<sender>/<request id>       id of the referral a Send created
//   k/<consent>/<recipient>/<id>  referrals under a consent
//   n/<consent>/<recipient>       that recipient was told of the revocation
// column family "referral_attachment":
//   a/<att id>                    Frame(owner agency, Frame(referral id or "",
//                                 envelope of v1::AttachmentInfo))
//   d/<att id>/<6-digit index>    envelope of one chunk (<= 1 MiB)
//   u/<agency>/<request id>       id of the attachment an upload created
//   p/<att id>                    not used by a Send or message yet (value: the
//                                 u/ key, empty while the upload is staged);
//                                 ids begin with the creation time
//   m/unsent-indexed              the p/ rows of older uploads were added
// Attachments are sealed for the uploading agency; Send re-seals them (and the
// info) for sender + recipient in the same WriteBatch as the referral. One
// that nothing used options.unsent_attachment_max_age after its upload is
// deleted with its chunks and request id (PurgeUnsentAttachments, an
// "attachment.purge" event).
//
// Consent gating (consent_gate.cc): the recipient reads a referral (Get,
// Download, transition responses) only while it is acknowledged, or while its
// consent holds: policy::ConsentUsable over the consent's facts, read once per
// request through ConsentChecker (a fresh read, so a revocation that has
// returned is seen by every later read). A SENT referral whose consent is
// revoked is presented as WITHDRAWN even before OnConsentRevoked has
// materialized that. After acknowledgement the recipient keeps Get, but
// attachments (further disclosure) need the consent to hold. A consent that
// cannot be read (e.g. UNAVAILABLE) fails the read with that error.
//
// Idempotency (services/common/idempotency.h): Send and upload store the
// request's fingerprint with the created id; a retry with the same request
// returns the first result, with another request ALREADY_EXISTS.
//
// Drafts (Draft, Cosign, Return; Withdraw by the initiator): a draft is
// evaluated without the signer's role (SendStage::kDraft) and in full when
// co-signed (kCosign, the co-signer as sender); urgent routing happens when
// the referral is sent (Send or Cosign), at that instant.
//
// Escalation: an URGENT referral still SENT options.urgent_ack after it was
// sent gets one history entry and one REFERRAL_ESCALATED inbox event for the
// recipient (EscalateDue, run by StartEscalationJob; exactly once: the e/ row
// is deleted in the same batch).
//
// Source files: referral.cc (reads, transitions), send.cc, drafts.cc
// (co-sign, return, escalation), consent_gate.cc (gate, revocation),
// attachments.cc, records.cc (storage codec).
//
// Audit: every change with AuditOutbox::Add in its WriteBatch; every read with
// Record before content is returned (failure: UNAVAILABLE, no content);
// refusals with common::RecordRefusal (DENIED, every rule id); a request for
// an existing referral the caller's agency cannot open is NOT_FOUND, recorded
// as DENIED with rule referral.not_visible (common::RecordHiddenProbe). A retried
// upload (same request id and metadata) returns the stored info and records
// "attachment.read".
//
// Thread-safe: mutations are serialized by one mutex; reads are lock-free.
#ifndef BUDSTIKKE_SERVICES_REFERRAL_REFERRAL_H_
#define BUDSTIKKE_SERVICES_REFERRAL_REFERRAL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "budstikke/v1/referral.pb.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/consent_checker.h"
#include "services/common/identity.h"
#include "services/common/inbox_writer.h"
#include "services/common/national_id.h"
#include "services/common/periodic_job.h"
#include "services/common/sealed_records.h"
#include "services/common/stream_slots.h"
#include "services/referral/policy.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/pseudonymizer.h"
#include "storage/store.h"

namespace budstikke::referral {

inline constexpr char kColumnFamily[] = "referral";
inline constexpr char kAttachmentColumnFamily[] = "referral_attachment";

struct ReferralOptions {
  // Includes refuse_synthetic_ids.
  PolicyRules rules;
  absl::TimeZone zone = policy::NorwegianTimeZone();
  uint64_t max_attachment_bytes = 25ull << 20;
  size_t max_chunk_bytes = 1u << 20;
  int max_attachments = 20;
  // Uploads in progress at once, in all, per agency and per caller
  // (BeginUpload beyond one: RESOURCE_EXHAUSTED, rule attachment.uploads,
  // e.g. "at most 2 uploads at once per caller; retry in 1 s").
  int max_uploads_in_progress = 16;
  int max_uploads_per_agency = 4;
  int max_uploads_per_caller = 2;
  // An urgent referral not acknowledged this long after it was sent is
  // escalated (`--urgent-ack-minutes`); zero: never.
  absl::Duration urgent_ack = absl::Minutes(30);
  // Called once per escalation (the metric); may be empty.
  std::function<void()> on_escalation;
  // An uploaded attachment that no Send or message used this long after its
  // upload is purged (`--attachment-max-age-hours`); zero: never.
  absl::Duration unsent_attachment_max_age = absl::Hours(24);
};

class ReferralDesk;

// One upload in progress, streamed to the store: the bytes are cut into
// chunks of ReferralOptions::max_chunk_bytes as they arrive, each sealed under
// the attachment's content key and written at once (staged: no attachment
// record, no request id, only a p/ row with an empty value), so an upload
// holds at most about two chunks in memory whatever its size. Finish() checks
// size, SHA-256 and content and writes the last chunk with the attachment's
// record, request id and audit event in one batch. An upload destroyed
// without a successful Finish() deletes its staged chunks; if the process
// dies first, PurgeUnsentAttachments removes them after
// unsent_attachment_max_age (their p/ row). Not thread-safe (one stream).
class AttachmentUpload {
 public:
  // Deletes what it staged unless Finish() succeeded; frees its slot. The
  // desk must outlive the upload.
  ~AttachmentUpload();
  // True when the request id was seen before: Finish() returns the first
  // result without reading chunks.
  bool done() const { return done_; }
  // INVALID_ARGUMENT if the chunk is too large, exceeds the declared size, or
  // its first bytes do not match the declared type; a write error (e.g.
  // UNAVAILABLE) if a full chunk could not be staged.
  absl::Status AddChunk(absl::string_view chunk);
  // INVALID_ARGUMENT on size or sha256 mismatch or a disallowed content.
  absl::StatusOr<v1::AttachmentInfo> Finish();
  // Bytes received and not yet staged (at most max_chunk_bytes after AddChunk).
  size_t buffered_bytes() const;

 private:
  friend class ReferralDesk;
  struct Staging;  // attachments.cc
  AttachmentUpload(ReferralDesk* desk, common::Caller caller, v1::AttachmentMetadata meta);
  void ReleaseSlot();
  ReferralDesk* desk_;
  common::Caller caller_;
  v1::AttachmentMetadata meta_;
  std::unique_ptr<Staging> staging_;  // null for a replayed request id
  bool done_ = false;
  std::optional<common::StreamSlots::Slot> slot_;  // of ReferralDesk::upload_slots_
  v1::AttachmentInfo first_;
};

class ReferralDesk final : public common::ConsentObserver {
 public:
  static std::vector<std::string> ColumnFamilies() {
    return {kColumnFamily, kAttachmentColumnFamily};
  }
  // Dependencies are not owned and must outlive the desk; `inbox` may be null.
  static absl::StatusOr<std::unique_ptr<ReferralDesk>> Create(
      storage::Store* store, storage::Keyring* keyring, common::AuditOutbox* audit,
      common::InboxWriter* inbox, const common::AgencyLookup* directory,
      const common::ConsentChecker* consents, const common::Clock* clock,
      ReferralOptions options = {});

  ~ReferralDesk() override;

  absl::StatusOr<v1::Referral> Send(const common::Caller& caller,
                                    const v1::SendReferralRequest& request);
  // A draft for request.cosigner_agency to co-sign (DRAFT).
  absl::StatusOr<v1::Referral> Draft(const common::Caller& caller,
                                     const v1::SendReferralRequest& request);
  // The co-signer agency signs a DRAFT: every Send rule with the caller as
  // sender; then routed and SENT.
  absl::StatusOr<v1::Referral> Cosign(const common::Caller& caller, absl::string_view id);
  // The co-signer agency returns a DRAFT with a reason (RETURNED).
  absl::StatusOr<v1::Referral> Return(const common::Caller& caller,
                                      const v1::ReturnReferralRequest& request);
  // The thread (thread.cc): sender, initiator, recipient and invited
  // agencies, while the consent holds (else FAILED_PRECONDITION, audited).
  absl::StatusOr<v1::ReferralMessage> PostMessage(const common::Caller& caller,
                                                  const v1::PostReferralMessageRequest& request);
  absl::StatusOr<v1::ReferralThread> GetThread(const common::Caller& caller,
                                               absl::string_view referral_id);
  // The recipient invites an agency its consent covers (consent.recipient_mismatch
  // otherwise); the thread so far is re-sealed for it.
  absl::StatusOr<v1::Referral> Invite(const common::Caller& caller,
                                      const v1::InviteToReferralRequest& request);
  // The sender (or initiator) answers NEED_INFO -> ACKNOWLEDGED
  // (referral.supplement.state in any other status).
  absl::StatusOr<v1::Referral> Supplement(const common::Caller& caller,
                                          const v1::SupplementReferralRequest& request);
  // Escalates every urgent referral due by now and still SENT; returns how
  // many. Called by the escalation job (and by tests with a fake clock).
  absl::StatusOr<int> EscalateDue();
  // Purges every attachment uploaded more than
  // options.unsent_attachment_max_age ago that no Send or message used;
  // returns how many. Called by the background job (and by tests).
  absl::StatusOr<int> PurgeUnsentAttachments();
  // Runs EscalateDue (unless options.urgent_ack is zero) and
  // PurgeUnsentAttachments every `period` on a thread until the desk is
  // destroyed.
  void StartEscalationJob(absl::Duration period);
  absl::StatusOr<v1::Referral> Get(const common::Caller& caller, absl::string_view id);
  absl::StatusOr<v1::ListReferralsResponse> List(const common::Caller& caller,
                                                 const v1::ListReferralsRequest& request);
  absl::StatusOr<v1::Referral> Acknowledge(const common::Caller& caller, absl::string_view id);
  absl::StatusOr<v1::Referral> Decide(const common::Caller& caller,
                                      const v1::DecideReferralRequest& request);
  absl::StatusOr<v1::Referral> Withdraw(const common::Caller& caller,
                                        const v1::WithdrawReferralRequest& request);

  // One of the upload slots (ReferralOptions' caps) for `caller`, taken when
  // an upload stream opens, before its metadata arrives, so that streams
  // which never send hold no server thread beyond the caps.
  absl::StatusOr<common::StreamSlots::Slot> ReserveUpload(const common::Caller& caller);
  // Validates the metadata (INVALID_ARGUMENT naming the field). Uses
  // `reserved` (ReserveUpload) as the upload's slot, or takes one.
  absl::StatusOr<std::unique_ptr<AttachmentUpload>> BeginUpload(
      const common::Caller& caller, const v1::AttachmentMetadata& metadata,
      std::optional<common::StreamSlots::Slot> reserved = std::nullopt);
  // Streams `info` then the chunks to `sink` (which returns false to stop).
  absl::Status Download(const common::Caller& caller, absl::string_view referral_id,
                        absl::string_view attachment_id,
                        const std::function<bool(const v1::DownloadAttachmentResponse&)>& sink);

  // common::ConsentObserver
  absl::StatusOr<bool> ReceivedUnderConsent(absl::string_view consent_id,
                                            absl::string_view agency) const override;
  absl::Status OnConsentRevoked(const common::Caller& caller,
                                const common::ConsentFacts& consent) override;

 private:
  friend class AttachmentUpload;
  struct Stored {
    std::string pseudonym;
    v1::Referral referral;
  };
  struct StoredAttachment {
    std::string owner;
    std::string referral_id;
    v1::AttachmentInfo info;
  };
  // What Send gathered before deciding: the policy facts and the attachments.
  struct SendPlan {
    SendFacts facts;
    std::vector<StoredAttachment> attachments;
  };
  // The consent of a referral sent under one (nullopt: another legal basis).
  using ConsentOfReferral = std::optional<common::ConsentFacts>;

  ReferralDesk(common::RecordDeps deps, const common::ConsentChecker* consents,
               ReferralOptions options)
      : deps_(std::move(deps)),
        consents_(consents),
        options_(std::move(options)),
        upload_slots_({.total = options_.max_uploads_in_progress,
                       .per_agency = options_.max_uploads_per_agency,
                       .per_caller = options_.max_uploads_per_caller},
                      "attachment.uploads", "uploads") {}

  // NOT_FOUND unless `agency` is one of the referral's readers (decided from
  // the envelope's header, before decrypting); then, if `hidden_subject` is
  // set, the record's subject pseudonym goes there.
  absl::StatusOr<Stored> Load(absl::string_view id, absl::string_view agency,
                              std::optional<std::string>* hidden_subject = nullptr) const;
  // Load for the caller's agency; a referral it may not open is NOT_FOUND as a
  // made-up id is, and the probe is recorded (DENIED `action`,
  // referral.not_visible).
  absl::StatusOr<Stored> LoadFor(const common::Caller& caller, absl::string_view id,
                                 const std::string& action);
  // Who may open the record (see the storage layout).
  static std::vector<std::string> Readers(const v1::Referral& r);
  absl::StatusOr<std::string> Encode(const Stored& stored) const;
  absl::StatusOr<StoredAttachment> LoadAttachment(absl::string_view id,
                                                  absl::string_view agency) const;
  // The consent facts of `r`, read once for the request. A consent that no
  // longer exists or can never be read again (its key version shredded)
  // counts as revoked; any other error (e.g. UNAVAILABLE) is returned.
  absl::StatusOr<ConsentOfReferral> ConsentOf(const v1::Referral& r) const;
  // The status as it holds now (SENT under a revoked consent: WITHDRAWN).
  static v1::ReferralStatus EffectiveStatus(const v1::Referral& r,
                                            const ConsentOfReferral& consent);
  // OK if the recipient may read the referral now; else the refusal.
  // `further` = a new disclosure after acknowledgement (attachments).
  absl::Status RecipientGate(const v1::Referral& r, const ConsentOfReferral& consent,
                             bool further) const;
  // For a caller who is the recipient (and not the sender): RecipientGate,
  // with a refusal recorded as DENIED `event`. OK for anyone else.
  absl::Status GateRead(const common::Caller& caller, const v1::Referral& r,
                        const ConsentOfReferral& consent, bool further, v1::AuditEvent event);
  v1::AuditEvent Event(const std::string& action, const Stored& stored,
                       const std::string& request_id) const;
  // Records "referral.read" for `stored`; UNAVAILABLE if it cannot.
  absl::Status RecordRead(const common::Caller& caller, const Stored& stored,
                          const std::string& request_id);
  // Records "attachment.read" (a retried upload returns the stored info).
  absl::Status RecordAttachmentRead(const common::Caller& caller, const v1::AttachmentInfo& info,
                                    const std::string& request_id);
  // One referral of OnConsentRevoked, in its own batch.
  absl::Status WithdrawUnderRevokedConsent(const common::Caller& caller,
                                           const common::ConsentFacts& consent,
                                           const std::string& id, absl::Time now);
  // Who may make a transition.
  enum class Party { kRecipient, kSender, kCosigner };
  // Loads `id`, checks the caller is `party`, applies `change` (false: an
  // idempotent no-op, returned as a read), appends a history entry with
  // `note`, re-seals for the readers and commits with the audit event and
  // inbox events of `event_type` for the other parties.
  absl::StatusOr<v1::Referral> Transition(
      const common::Caller& caller, absl::string_view id, Party party, const std::string& action,
      const std::function<absl::StatusOr<bool>(v1::Referral*)>& change,
      v1::InboxEventType event_type, const std::string& note = "");
  // Send and Draft.
  absl::StatusOr<v1::Referral> Submit(const common::Caller& caller,
                                      const v1::SendReferralRequest& request, SendStage stage);
  // Where a referral sent now goes (urgent routing).
  absl::StatusOr<Route> RouteNow(const v1::Agency& requested, bool urgent, bool known_patient,
                                 absl::Time now) const;
  // True when `agency` is only an invited agency of `r`.
  static bool IsInvitedOnly(const v1::Referral& r, const std::string& agency);
  // What an invited agency sees: reason, subject, parties, status.
  static v1::Referral InvitedView(const v1::Referral& r);
  // NOT_FOUND unless the caller is a party to the thread; the consent refusal
  // (recorded as DENIED `action`) while it does not hold.
  absl::Status GateThread(const common::Caller& caller, const Stored& stored,
                          const std::string& action);
  absl::StatusOr<std::vector<StoredAttachment>> ClaimAttachments(
      const common::Caller& caller,
      const google::protobuf::RepeatedPtrField<std::string>& ids) const;
  absl::StatusOr<std::vector<v1::ReferralMessage>> ReadThread(const v1::Referral& r,
                                                              const std::string& agency) const;
  // Seals `m` (with its attachments re-sealed) for the referral's readers.
  absl::Status AddMessage(const common::Caller& caller, const Stored& stored,
                          v1::ReferralMessage* m, const std::vector<StoredAttachment>& attachments,
                          absl::Time now, storage::WriteBatch* batch);
  static std::vector<common::InboxDelivery> TellOthers(const common::Caller& caller,
                                                       const v1::Referral& r,
                                                       v1::InboxEventType type);
  // One due escalation, in its own batch.
  absl::StatusOr<bool> EscalateOne(const std::string& key, const std::string& id,
                                   const std::string& recipient, absl::Time now);
  CivilDate Today() const { return policy::DateOf(deps_.clock->Now(), options_.zone); }
  // Send's steps (send.cc): gather the facts, build the record, persist it.
  absl::StatusOr<SendPlan> GatherSendFacts(const common::Caller& caller,
                                           const v1::SendReferralRequest& req,
                                           const common::NationalId& subject,
                                           const v1::Agency& recipient, SendStage stage,
                                           const v1::Agency* cosigner, const std::string& pseudonym,
                                           absl::Time now);
  Stored BuildReferral(const common::Caller& caller, const v1::SendReferralRequest& req,
                       const SendPlan& plan, v1::AgencyType recipient_type, const Route& route,
                       absl::Time now) const;
  absl::StatusOr<v1::Referral> PersistSend(const common::Caller& caller,
                                           const v1::SendReferralRequest& req,
                                           const std::string& fingerprint, Stored stored,
                                           std::vector<StoredAttachment> attachments,
                                           absl::Time now);
  // The recipient's rows of a referral sent now: received mailbox, consent
  // index, escalation row (urgent) and its REFERRAL_RECEIVED event.
  void AddDelivery(const v1::Referral& r, absl::Time now, storage::WriteBatch* batch,
                   std::vector<common::InboxDelivery>* events) const;
  // Re-seals an attachment's info and chunks for the referral's readers.
  absl::Status ResealAttachment(const StoredAttachment& a, const std::string& referral_id,
                                const std::vector<std::string>& readers,
                                storage::WriteBatch* batch) const;
  // A retried Send: the referral `stored_request` names (a read, audited).
  absl::StatusOr<v1::Referral> ReplaySend(const common::Caller& caller,
                                          absl::string_view stored_request,
                                          absl::string_view fingerprint,
                                          const std::string& request_id);
  absl::StatusOr<v1::AttachmentInfo> StoreUpload(AttachmentUpload* upload);
  // Seals and writes chunk `index` of a staged upload (with its p/ row when
  // `first`), or adds it to `batch` if non-null.
  absl::Status StageChunk(const AttachmentUpload& upload, size_t index, absl::string_view bytes,
                          storage::WriteBatch* batch);
  // Deletes the staged chunks and the p/ row of an upload that did not finish.
  void DiscardStaged(const AttachmentUpload& upload);
  // Deletes one unsent attachment (its u/ key `request_key`) with its event;
  // false if it was used meanwhile (kept). Callers hold mu_.
  absl::StatusOr<bool> PurgeOne(const std::string& id, const std::string& request_key);
  // Attachments uploaded before the p/ rows existed and never used get one
  // (without a request key), once (the m/ marker), so they are purged too.
  absl::Status IndexUnsentAttachments();

  const common::RecordDeps deps_;
  const common::ConsentChecker* const consents_;
  const ReferralOptions options_;
  absl::Mutex mu_;  // serializes state changes of existing referrals
  // Send creates a new referral, so it only needs to be serialized with
  // retries of the same request id: one stripe per hash of (agency, request
  // id). Reads re-check the consent, so a revocation racing a Send is still
  // honoured (EffectiveStatus).
  static constexpr size_t kSendStripes = 32;
  absl::Mutex send_stripes_[kSendStripes];
  common::StreamSlots upload_slots_;
  // The escalation and purge job (stopped first in the destructor).
  common::PeriodicJob job_;
};

// The mailbox row of `r` in `box` ("s", "v" or "c") of `agency`: urgent
// first, newest first.
std::string MailboxKey(absl::string_view box, absl::string_view agency, const v1::Referral& r,
                       absl::Time at);

// Content sniffing for attachments: OK when `prefix` (the first bytes) fits
// `content_type` and is not an executable; INVALID_ARGUMENT otherwise.
absl::Status CheckContentPrefix(absl::string_view content_type, absl::string_view prefix);

}  // namespace budstikke::referral

#endif  // BUDSTIKKE_SERVICES_REFERRAL_REFERRAL_H_
