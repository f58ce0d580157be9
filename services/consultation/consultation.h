// Consultations: anonymous consultations (anonym drøfting) with PII screening
// (domain logic, no gRPC). The contract per RPC is in consultation.proto.
//
// Storage, column family "consultations" (keys hold ids, agency ids and times
// only, never content):
//   "m/<id>"  -> serialized v1::Consultation WITHOUT content (metadata: status,
//                agencies, actors, times, concerns, age band)
//   "t/<id>"  -> Envelope (readers: sender and recipient agency) of a
//                serialized v1::Consultation holding only text, questions and
//                messages
//   "s/<sender agency>/<inverted create time>/<id>"    -> ""   (List SENT)
//   "r/<recipient agency>/<inverted create time>/<id>" -> ""   (List RECEIVED)
//   "q/<agency>/<request id>"  -> "<id>\n<request fingerprint>" (idempotency)
//   "k/<id>/<q key>"           -> ""   (the q keys of a consultation, for deletion)
//   "x/<delete_after, 16 hex unix seconds>/<id>" -> ""   (retention queue)
// Every change is one WriteBatch with its audit event (AuditOutbox::Add) and
// its inbox event, committed through common::InboxWriter. Reads record their
// audit event (AuditOutbox::Record) before returning content; if that fails
// they return UNAVAILABLE and nothing else.
//
// Screening: Ask screens `text` + ("\n" + question)*, Answer and AddMessage
// their text, with the pii::Scanner. Any REFUSE finding -> FAILED_PRECONDITION
// consultation.pii.refused; a WARN finding whose id is not acknowledged ->
// consultation.pii.unacknowledged; both carry every finding (kind, severity,
// offsets; never the text). A refused text is not stored, not logged, and not
// put in any error message or audit event.
//
// Visibility: a consultation exists for its sender and recipient agencies
// only; for everyone else it is NOT_FOUND "consultation '<id>' not found",
// exactly like a made-up id.
//
// Retention: Close sets delete_after = close time + Options::retention.
// RunRetentionOnce() deletes every closed consultation whose delete_after has
// passed (content, metadata, indexes, idempotency records) with an audited
// "consultation.delete" event in the same batch. StartRetentionJob() runs it
// periodically on a background thread until StopRetentionJob()/destruction.
//
// Thread-safe: mutations of one consultation and creates with one request id
// are serialized by striped mutexes; reads take no lock.
#ifndef BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_H_
#define BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_H_

#include <array>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "budstikke/v1/consultation.pb.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/identity.h"
#include "services/common/inbox_writer.h"
#include "services/common/periodic_job.h"
#include "services/common/pii/scanner.h"
#include "services/common/policy/rules.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/store.h"

namespace budstikke::consultation {

inline constexpr char kColumnFamily[] = "consultations";

// Rule ids (docs/ARCHITECTURE.md, docs/API.md).
inline constexpr char kRulePiiRefused[] = "consultation.pii.refused";
inline constexpr char kRulePiiUnacknowledged[] = "consultation.pii.unacknowledged";
inline constexpr char kRuleAlreadyClaimed[] = "consultation.already_claimed";
inline constexpr char kRuleAlreadyAnswered[] = "consultation.already_answered";
inline constexpr char kRuleClosed[] = "consultation.closed";
inline constexpr char kRuleRecipientType[] = "consultation.recipient_type";
inline constexpr char kRuleNoRecipient[] = "routing.no_recipient";
// PERMISSION_DENIED (audited as DENIED): claiming or answering by an agency
// other than the recipient, or by a role that does not answer consultations.
inline constexpr char kRuleRecipientOnly[] = "consultation.recipient_only";
inline constexpr char kRuleAnswererRole[] = "consultation.answerer_role";
// Audit only (the caller gets NOT_FOUND): a request for another agency's
// consultation.
inline constexpr char kRuleNotVisible[] = "consultation.not_visible";

struct ConsultationPage {
  std::vector<v1::Consultation> consultations;
  std::string next_page_token;
};

// The scanner's findings as API findings (id, kind, severity, offsets).
std::vector<v1::PiiFinding> ToApiFindings(const std::vector<pii::Finding>& findings);
v1::ScreeningVerdict ToApiVerdict(pii::Verdict verdict);

class Consultations {
 public:
  struct Options {
    absl::Duration retention = absl::Hours(24 * 90);
    // Maximum CheckText input.
    size_t max_check_text_bytes = 100000;
    // Agency types that answer consultations (policy::PolicyRules).
    std::set<v1::AgencyType> recipient_types = policy::PolicyRules().consultation_recipients;
  };

  struct Deps {
    storage::Store* store = nullptr;  // with kColumnFamily
    storage::Keyring* keyring = nullptr;
    const storage::Envelope* envelope = nullptr;
    common::AuditOutbox* audit = nullptr;
    const common::AgencyLookup* directory = nullptr;
    common::InboxWriter* inbox = nullptr;
    const pii::Scanner* scanner = nullptr;
    const common::Clock* clock = nullptr;
  };

  // Every dependency must be set and outlive the object.
  static absl::StatusOr<std::unique_ptr<Consultations>> Create(const Deps& deps,
                                                               const Options& options);
  ~Consultations();

  // Screens `text` (INVALID_ARGUMENT above max_check_text_bytes). Stores nothing.
  absl::StatusOr<v1::CheckTextResponse> CheckText(const common::Caller& caller,
                                                  absl::string_view text) const;

  absl::StatusOr<v1::Consultation> Ask(const common::Caller& caller,
                                       const v1::AskConsultationRequest& request);
  absl::StatusOr<v1::Consultation> Claim(const common::Caller& caller, absl::string_view id);
  absl::StatusOr<v1::Consultation> Answer(const common::Caller& caller,
                                          const v1::AnswerConsultationRequest& request);
  absl::StatusOr<v1::Consultation> AddMessage(const common::Caller& caller,
                                              const v1::AddConsultationMessageRequest& request);
  absl::StatusOr<v1::Consultation> Close(const common::Caller& caller, absl::string_view id);
  // With content; audited before it is returned.
  absl::StatusOr<v1::Consultation> Get(const common::Caller& caller, absl::string_view id);
  // Newest first, content fields empty.
  absl::StatusOr<ConsultationPage> List(const common::Caller& caller,
                                        const v1::ListConsultationsRequest& request);

  // Deletes the closed consultations whose delete_after <= now; returns how many.
  absl::StatusOr<int> RunRetentionOnce();
  // Runs RunRetentionOnce every `interval` on a background thread.
  void StartRetentionJob(absl::Duration interval);
  void StopRetentionJob();

 private:
  Consultations(const Deps& deps, const Options& options) : d_(deps), options_(options) {}

  struct Loaded {
    v1::Consultation meta;     // no content
    v1::Consultation content;  // text, questions, messages only
  };

  absl::StatusOr<v1::Consultation> LoadMeta(absl::string_view id) const;
  // Meta visible to the caller's agency, else NOT_FOUND; for an existing
  // consultation of other agencies the probe is recorded first (DENIED
  // `action`, consultation.not_visible).
  absl::StatusOr<v1::Consultation> LoadVisible(const common::Caller& caller, absl::string_view id,
                                               const char* action) const;
  absl::StatusOr<v1::Consultation> LoadContent(const v1::Consultation& meta,
                                               absl::string_view reader_agency) const;
  absl::Status PutContent(storage::WriteBatch* batch, const v1::Consultation& meta,
                          const v1::Consultation& content) const;
  absl::Status EnsureKeys(const std::string& a, const std::string& b);
  // Screening: OK, or the PII refusal (audited as DENIED).
  absl::Status Screen(const common::Caller& caller, absl::string_view text,
                      const google::protobuf::RepeatedField<uint32_t>& acks,
                      const std::string& resource_id, const std::string& request_id);
  // Records the refusal as DENIED and returns it; UNAVAILABLE if the audit
  // event cannot be recorded.
  absl::Status Deny(const common::Caller& caller, absl::Status refusal, const char* action,
                    const std::string& resource_id, const std::string& request_id);
  // Records "consultation.read"; UNAVAILABLE if it cannot.
  absl::Status RecordRead(const common::Caller& caller, const std::string& id,
                          const std::string& request_id);
  // Shared by Answer and AddMessage.
  // `request` (the Answer or AddMessage request) is fingerprinted for
  // idempotency.
  absl::StatusOr<v1::Consultation> AppendMessage(
      const common::Caller& caller, const google::protobuf::Message& request,
      const std::string& request_id, const std::string& id, const std::string& text,
      const google::protobuf::RepeatedField<uint32_t>& acks, bool is_answer);
  absl::Mutex& StripeFor(absl::string_view key);

  Deps d_;
  Options options_;
  std::array<absl::Mutex, 64> stripes_;
  absl::Mutex retention_mu_;  // one retention run at a time
  common::PeriodicJob retention_job_;
};

}  // namespace budstikke::consultation

#endif  // BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_H_
