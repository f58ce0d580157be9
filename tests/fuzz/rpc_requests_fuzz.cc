// Fuzzes every RPC's request handling from bytes, without a server: the
// domain classes wired as budstikke-server wires them (directory,
// consultations, consent, referrals, inbox, audit, admin) on one real store
// in a temporary directory, with the real keyring, envelopes, PII scanner,
// audit outbox and log. Input: [u8 RPC][u8 caller][request protobuf]. The
// request is parsed as that RPC's request message (as gRPC would), the
// authorization table is applied as the adapters apply it, and the domain
// method the adapter calls runs. The internal ingest RPCs of the
// microservices mode (AuditIngest/Append, InboxIngest/Deliver) are called as
// a service would call them (no role check). State carries over between
// inputs, so a Get may find what an earlier Send stored; before every audit
// RPC the audit outbox is drained into the log and a checkpoint signed, so
// GetEvent, proofs and queries read the leaves earlier requests made.
// Invariants: no crash or leak; no INTERNAL, UNKNOWN or DATA_LOSS (a request
// must never make the service store what it cannot read back), also from
// draining and signing; no error message holds a national id.
// Not covered: WhoAmI, GetPublicKey and GetServerInfo (they ignore their
// empty requests), Subscribe's stream (its consumer check runs, Follow does
// not), CreateBackup with an absolute dest_dir (it would write a backup; every
// other dest_dir is validated), the internal lookups and hooks the services
// call on each other (their requests are ids the domain classes look up).
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "budstikke/internal/v1/internal.pb.h"
#include "budstikke/v1/admin.pb.h"
#include "budstikke/v1/audit.pb.h"
#include "budstikke/v1/consent.pb.h"
#include "budstikke/v1/consultation.pb.h"
#include "budstikke/v1/directory.pb.h"
#include "budstikke/v1/inbox.pb.h"
#include "budstikke/v1/referral.pb.h"
#include "services/admin/admin.h"
#include "services/admin/key_target.h"
#include "services/audit/audit.h"
#include "services/audit/audit_log.h"
#include "services/audit/event_codec.h"
#include "services/common/authz.h"
#include "services/common/caller_testing.h"
#include "services/common/fake_clock.h"
#include "services/common/national_id.h"
#include "services/common/national_id_testing.h"
#include "services/common/outbox/ingest_ledger.h"
#include "services/common/pii/scanner.h"
#include "services/common/remote/ingest.h"
#include "services/common/store_audit_outbox.h"
#include "services/consent/consent.h"
#include "services/consultation/consultation.h"
#include "services/directory/directory.h"
#include "services/inbox/inbox.h"
#include "services/referral/referral.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/pseudonymizer.h"
#include "tests/fuzz/fuzz_support.h"
#include "tlog/internal/test_keys.h"

namespace budstikke::fuzz {
namespace {

using common::Caller;
using common::testing::Person;

constexpr char kSeed[] = R"({"agencies":[
  {"id":"budstikke-drift","name":"Drift","type":"operator","municipality":"0301"},
  {"id":"bhg-solsikken","name":"Solsikken","type":"kindergarten","municipality":"0301"},
  {"id":"legekontor-sentrum","name":"Legekontor","type":"gp","municipality":"0301"},
  {"id":"bup-oslo","name":"BUP Oslo","type":"bup","municipality":"0301"},
  {"id":"ppt-oslo","name":"PPT Oslo","type":"ppt","municipality":"0301"},
  {"id":"barnevern-oslo","name":"Barnevern","type":"child_welfare","municipality":"0301"},
  {"id":"statsforvalteren","name":"Statsforvalteren","type":"supervisory_authority",
   "municipality":"0301"}]})";

const std::vector<Caller>& Callers() {
  static const auto* callers = new std::vector<Caller>{
      Person("legekontor-sentrum", v1::ROLE_PHYSICIAN, "lege1"),
      Person("bup-oslo", v1::ROLE_CLINICIAN, "terapeut1"),
      Person("bhg-solsikken", v1::ROLE_STAFF, "kari"),
      Person("barnevern-oslo", v1::ROLE_CHILD_WELFARE_LEADER, "leder1"),
      Person("bhg-solsikken", v1::ROLE_LEADER, "styrer"),
      Person("statsforvalteren", v1::ROLE_AUDITOR, "siri"),
      Person("bup-oslo", v1::ROLE_ADMIN, "ola"),
      Person("budstikke-drift", v1::ROLE_ADMIN, "drift1"),
      Person("ppt-oslo", v1::ROLE_PSYCHOLOGIST, "psykolog1"),
  };
  return *callers;
}

struct World {
  common::FakeClock clock{absl::FromUnixSeconds(1767225600)};
  storage::Store* store = nullptr;
  std::unique_ptr<storage::Keyring> keyring;
  std::unique_ptr<storage::Envelope> envelope;
  std::unique_ptr<storage::Pseudonymizer> pseudonymizer;
  std::unique_ptr<common::StoreAuditOutbox> outbox;
  std::unique_ptr<directory::Directory> directory;
  std::unique_ptr<inbox::Inbox> inbox;
  std::unique_ptr<pii::Scanner> scanner;
  std::unique_ptr<consultation::Consultations> consultations;
  std::unique_ptr<consent::ConsentRegistry> consents;
  std::unique_ptr<referral::ReferralDesk> desk;
  std::unique_ptr<tlog::Signer> signer;
  std::unique_ptr<audit::AuditLog> log;
  std::unique_ptr<audit::Audit> audit;
  std::unique_ptr<admin::LocalKeyTarget> key_target;
  std::unique_ptr<admin::Admin> admin;
  std::unique_ptr<common::IngestLedger> ledger;
};

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "fuzz world: %s\n", v.status().ToString().c_str());
    std::abort();
  }
  return *std::move(v);
}

World& TheWorld() {
  static World* w = [] {
    auto* world = new World;
    World& x = *world;
    std::set<std::string> cfs;
    for (const auto& cf : storage::Keyring::ColumnFamilies()) cfs.insert(cf);
    for (const auto& cf : audit::AuditLog::ColumnFamilies()) cfs.insert(cf);
    for (const auto& cf : referral::ReferralDesk::ColumnFamilies()) cfs.insert(cf);
    cfs.insert({directory::kColumnFamily, common::kAuditOutboxColumnFamily,
                admin::kAdminColumnFamily, consultation::kColumnFamily, inbox::kColumnFamily,
                consent::kColumnFamily, common::kIngestColumnFamily});
    x.store = TempStore({cfs.begin(), cfs.end()});
    x.keyring = Must(storage::Keyring::Create(storage::SecretBytes(std::string(32, 'k')), x.store));
    x.envelope = Must(storage::Envelope::Create(x.keyring.get()));
    x.pseudonymizer = Must(storage::Pseudonymizer::Create(*x.keyring));
    x.outbox = Must(common::StoreAuditOutbox::Create(x.store, &x.clock));
    x.directory =
        Must(directory::Directory::Create(x.store, &x.clock, x.outbox.get(), "budstikke-drift"));
    Must(x.directory->LoadSeedIfEmpty(kSeed));
    x.inbox = Must(inbox::Inbox::Create(x.store, &x.clock));
    x.scanner = Must(pii::Scanner::Create(pii::ScannerConfig()));
    consultation::Consultations::Deps deps;
    deps.store = x.store;
    deps.keyring = x.keyring.get();
    deps.envelope = x.envelope.get();
    deps.audit = x.outbox.get();
    deps.directory = x.directory.get();
    deps.inbox = x.inbox.get();
    deps.scanner = x.scanner.get();
    deps.clock = &x.clock;
    x.consultations = Must(consultation::Consultations::Create(deps, {}));
    x.consents = Must(consent::ConsentRegistry::Create(x.store, x.keyring.get(), x.outbox.get(),
                                                       x.inbox.get(), x.directory.get(), &x.clock));
    x.desk =
        Must(referral::ReferralDesk::Create(x.store, x.keyring.get(), x.outbox.get(), x.inbox.get(),
                                            x.directory.get(), x.consents.get(), &x.clock));
    x.consents->SetObserver(x.desk.get());
    std::array<uint8_t, 32> seed{};
    seed[0] = 4;
    auto signer = tlog::Signer::FromPem("budstikke.test/audit",
                                        tlog::tlog_internal::Ed25519PemFromSeed(seed));
    if (!signer.ok()) std::abort();
    x.signer = std::move(signer).value();
    x.log = Must(audit::AuditLog::Create(x.store, x.signer.get(), &x.clock));
    x.audit = Must(audit::Audit::Create(x.log.get(), x.outbox.get(), x.pseudonymizer.get(),
                                        x.directory.get()));
    x.key_target =
        std::make_unique<admin::LocalKeyTarget>("all", x.store, x.keyring.get(), &x.clock);
    admin::AdminDeps admin_deps{{x.key_target.get()}, x.directory.get(), x.outbox.get(), &x.clock,
                                "budstikke-drift",    "budstikke.test",  {"all"},        "fuzz"};
    x.admin = Must(admin::Admin::Create(admin_deps));
    x.ledger = std::make_unique<common::IngestLedger>(x.store);
    return world;
  }();
  return *w;
}

// An error message must never hold a national id (checksum-valid 11 digits).
void CheckMessage(const absl::Status& s) {
  const std::string msg(s.message());
  size_t run = 0;
  for (size_t i = 0; i < msg.size(); ++i) {
    run = (msg[i] >= '0' && msg[i] <= '9') ? run + 1 : 0;
    if (run >= 11) {
      FUZZ_CHECK(!common::IsValidNationalIdDigits(msg.data() + i - 10, true));
    }
  }
}

void Check(const absl::Status& s) {
  if (s.ok()) return;
  if (s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kUnknown ||
      s.code() == absl::StatusCode::kDataLoss) {
    std::fprintf(stderr, "unexpected status: %s\n", s.ToString().c_str());
    FUZZ_CHECK(false && "INTERNAL, UNKNOWN or DATA_LOSS from a request");
  }
  CheckMessage(s);
}
template <typename T>
void Check(const absl::StatusOr<T>& s) {
  Check(s.status());
}

// One RPC: its full method name and how the adapter calls the domain.
struct Rpc {
  const char* method;
  // Called by other services (microservices mode), not by people: no role.
  bool internal = false;
  std::function<void(World&, const Caller&, std::string_view)> call;
  std::function<std::string()> seed;  // a valid request, or nullptr
};

template <typename Req>
bool Parse(std::string_view bytes, Req* req) {
  return req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// Rpc whose handler takes the parsed request.
template <typename Req>
Rpc Make(const char* method, std::function<absl::Status(World&, const Caller&, const Req&)> fn,
         std::function<Req()> seed = nullptr) {
  Rpc r;
  r.method = method;
  r.call = [fn](World& w, const Caller& c, std::string_view bytes) {
    Req req;
    if (!Parse(bytes, &req)) return;
    Check(fn(w, c, req));
  };
  if (seed) r.seed = [seed] { return seed().SerializeAsString(); };
  return r;
}

Rpc Internal(Rpc r) {
  r.internal = true;
  return r;
}

// Before an audit RPC: what earlier requests recorded goes into the log and
// under a signed checkpoint, as the server's drain and checkpoint threads do.
void DrainAndSign(World& w) {
  Check(w.log->DrainAll());
  Check(w.log->SignCheckpoint());
}

template <typename T>
absl::Status St(const absl::StatusOr<T>& s) {
  return s.status();
}

std::string Child() { return common::testing::MakeSyntheticNationalId(2016, 5, 17, 530); }

const std::vector<Rpc>& Rpcs() {
  static const auto* rpcs = new std::vector<Rpc>{
      // DirectoryService
      Make<v1::CreateAgencyRequest>(
          "budstikke.v1.DirectoryService/CreateAgency",
          [](World& w, const Caller& c, const v1::CreateAgencyRequest& r) {
            return St(w.directory->CreateAgency(c.identity, r.agency(), r.request_id()));
          },
          [] {
            v1::CreateAgencyRequest r;
            r.set_request_id("req-1");
            r.mutable_agency()->set_id("skole-fuzz");
            r.mutable_agency()->set_name("Skole");
            r.mutable_agency()->set_type(v1::AGENCY_TYPE_SCHOOL);
            r.mutable_agency()->set_municipality("0301");
            return r;
          }),
      Make<v1::UpdateAgencyRequest>(
          "budstikke.v1.DirectoryService/UpdateAgency",
          [](World& w, const Caller& c, const v1::UpdateAgencyRequest& r) {
            return St(w.directory->UpdateAgency(
                c.identity, r.agency(), {r.update_fields().begin(), r.update_fields().end()}));
          },
          [] {
            v1::UpdateAgencyRequest r;
            r.mutable_agency()->set_id("bup-oslo");
            r.mutable_agency()->set_name("BUP Oslo sentrum");
            r.add_update_fields("name");
            return r;
          }),
      Make<v1::GetAgencyRequest>("budstikke.v1.DirectoryService/GetAgency",
                                 [](World& w, const Caller&, const v1::GetAgencyRequest& r) {
                                   return St(w.directory->GetAgency(r.id()));
                                 }),
      Make<v1::ListAgenciesRequest>("budstikke.v1.DirectoryService/ListAgencies",
                                    [](World& w, const Caller&, const v1::ListAgenciesRequest& r) {
                                      return St(
                                          w.directory->ListAgencies(r.type(), r.municipality(),
                                                                    r.page_size(), r.page_token()));
                                    }),
      // ConsultationService
      Make<v1::CheckTextRequest>("budstikke.v1.ConsultationService/CheckText",
                                 [](World& w, const Caller& c, const v1::CheckTextRequest& r) {
                                   return St(w.consultations->CheckText(c, r.text()));
                                 }),
      Make<v1::AskConsultationRequest>(
          "budstikke.v1.ConsultationService/Ask",
          [](World& w, const Caller& c, const v1::AskConsultationRequest& r) {
            return St(w.consultations->Ask(c, r));
          },
          [] {
            v1::AskConsultationRequest r;
            r.set_request_id("ask-1");
            r.mutable_recipient()->set_agency("bup-oslo");
            r.set_age_band(v1::AGE_BAND_6_9);
            r.add_concerns(v1::CONCERN_SLEEP);
            r.set_text("Barnet sover lite og er redd om kvelden.");
            return r;
          }),
      Make<v1::ClaimConsultationRequest>(
          "budstikke.v1.ConsultationService/Claim",
          [](World& w, const Caller& c, const v1::ClaimConsultationRequest& r) {
            return St(w.consultations->Claim(c, r.id()));
          }),
      Make<v1::AnswerConsultationRequest>(
          "budstikke.v1.ConsultationService/Answer",
          [](World& w, const Caller& c, const v1::AnswerConsultationRequest& r) {
            return St(w.consultations->Answer(c, r));
          }),
      Make<v1::AddConsultationMessageRequest>(
          "budstikke.v1.ConsultationService/AddMessage",
          [](World& w, const Caller& c, const v1::AddConsultationMessageRequest& r) {
            return St(w.consultations->AddMessage(c, r));
          }),
      Make<v1::CloseConsultationRequest>(
          "budstikke.v1.ConsultationService/Close",
          [](World& w, const Caller& c, const v1::CloseConsultationRequest& r) {
            return St(w.consultations->Close(c, r.id()));
          }),
      Make<v1::GetConsultationRequest>(
          "budstikke.v1.ConsultationService/Get",
          [](World& w, const Caller& c, const v1::GetConsultationRequest& r) {
            return St(w.consultations->Get(c, r.id()));
          }),
      Make<v1::ListConsultationsRequest>(
          "budstikke.v1.ConsultationService/List",
          [](World& w, const Caller& c, const v1::ListConsultationsRequest& r) {
            return St(w.consultations->List(c, r));
          }),
      // ConsentService
      Make<v1::RecordConsentRequest>(
          "budstikke.v1.ConsentService/Record",
          [](World& w, const Caller& c, const v1::RecordConsentRequest& r) {
            return St(w.consents->Record(c, r));
          },
          [] {
            v1::RecordConsentRequest r;
            r.set_request_id("con-1");
            r.set_subject_national_id(Child());
            r.set_giver(v1::CONSENT_GIVER_GUARDIAN);
            r.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
            r.mutable_recipient()->set_agency("bup-oslo");
            r.set_purpose("henvisning til utredning");
            r.set_scope("journalnotat og tiltakslogg");
            r.set_method(v1::CONSENT_METHOD_WRITTEN);
            return r;
          }),
      Make<v1::RevokeConsentRequest>(
          "budstikke.v1.ConsentService/Revoke",
          [](World& w, const Caller& c, const v1::RevokeConsentRequest& r) {
            return St(w.consents->Revoke(c, r));
          }),
      Make<v1::GetConsentRequest>("budstikke.v1.ConsentService/Get",
                                  [](World& w, const Caller& c, const v1::GetConsentRequest& r) {
                                    return St(w.consents->Get(c, r.id()));
                                  }),
      Make<v1::ListConsentsRequest>(
          "budstikke.v1.ConsentService/List",
          [](World& w, const Caller& c, const v1::ListConsentsRequest& r) {
            return St(w.consents->List(c, r));
          },
          [] {
            v1::ListConsentsRequest r;
            r.set_subject_national_id(Child());
            return r;
          }),
      // ReferralService
      Make<v1::SendReferralRequest>(
          "budstikke.v1.ReferralService/Send",
          [](World& w, const Caller& c, const v1::SendReferralRequest& r) {
            return St(w.desk->Send(c, r));
          },
          [] {
            v1::SendReferralRequest r;
            r.set_request_id("ref-1");
            r.set_recipient_agency("bup-oslo");
            r.set_subject_national_id(Child());
            r.set_reason("Vedvarende soevnvansker og angst gjennom et halvt aar.");
            return r;
          }),
      Make<v1::SendReferralRequest>(
          "budstikke.v1.ReferralService/Draft",
          [](World& w, const Caller& c, const v1::SendReferralRequest& r) {
            return St(w.desk->Draft(c, r));
          }),
      Make<v1::CosignReferralRequest>(
          "budstikke.v1.ReferralService/Cosign",
          [](World& w, const Caller& c, const v1::CosignReferralRequest& r) {
            return St(w.desk->Cosign(c, r.id()));
          }),
      Make<v1::ReturnReferralRequest>(
          "budstikke.v1.ReferralService/Return",
          [](World& w, const Caller& c, const v1::ReturnReferralRequest& r) {
            return St(w.desk->Return(c, r));
          }),
      Make<v1::PostReferralMessageRequest>(
          "budstikke.v1.ReferralService/PostMessage",
          [](World& w, const Caller& c, const v1::PostReferralMessageRequest& r) {
            return St(w.desk->PostMessage(c, r));
          }),
      Make<v1::GetReferralThreadRequest>(
          "budstikke.v1.ReferralService/GetThread",
          [](World& w, const Caller& c, const v1::GetReferralThreadRequest& r) {
            return St(w.desk->GetThread(c, r.referral_id()));
          }),
      Make<v1::InviteToReferralRequest>(
          "budstikke.v1.ReferralService/Invite",
          [](World& w, const Caller& c, const v1::InviteToReferralRequest& r) {
            return St(w.desk->Invite(c, r));
          }),
      Make<v1::SupplementReferralRequest>(
          "budstikke.v1.ReferralService/Supplement",
          [](World& w, const Caller& c, const v1::SupplementReferralRequest& r) {
            return St(w.desk->Supplement(c, r));
          }),
      Make<v1::GetReferralRequest>("budstikke.v1.ReferralService/Get",
                                   [](World& w, const Caller& c, const v1::GetReferralRequest& r) {
                                     return St(w.desk->Get(c, r.id()));
                                   }),
      Make<v1::ListReferralsRequest>(
          "budstikke.v1.ReferralService/List",
          [](World& w, const Caller& c, const v1::ListReferralsRequest& r) {
            return St(w.desk->List(c, r));
          }),
      Make<v1::AcknowledgeReferralRequest>(
          "budstikke.v1.ReferralService/Acknowledge",
          [](World& w, const Caller& c, const v1::AcknowledgeReferralRequest& r) {
            return St(w.desk->Acknowledge(c, r.id()));
          }),
      Make<v1::DecideReferralRequest>(
          "budstikke.v1.ReferralService/Decide",
          [](World& w, const Caller& c, const v1::DecideReferralRequest& r) {
            return St(w.desk->Decide(c, r));
          }),
      Make<v1::WithdrawReferralRequest>(
          "budstikke.v1.ReferralService/Withdraw",
          [](World& w, const Caller& c, const v1::WithdrawReferralRequest& r) {
            return St(w.desk->Withdraw(c, r));
          }),
      // The first message of an upload (its metadata), then one chunk.
      Make<v1::UploadAttachmentRequest>(
          "budstikke.v1.ReferralService/UploadAttachment",
          [](World& w, const Caller& c, const v1::UploadAttachmentRequest& r) -> absl::Status {
            if (!r.has_metadata()) return absl::OkStatus();
            auto up = w.desk->BeginUpload(c, r.metadata());
            if (!up.ok()) return up.status();
            absl::Status s = (*up)->AddChunk("Tiltakslogg: samtale med foreldre.\n");
            if (!s.ok()) return s;
            return (*up)->Finish().status();
          }),
      Make<v1::DownloadAttachmentRequest>(
          "budstikke.v1.ReferralService/DownloadAttachment",
          [](World& w, const Caller& c, const v1::DownloadAttachmentRequest& r) {
            return w.desk->Download(c, r.referral_id(), r.attachment_id(),
                                    [](const v1::DownloadAttachmentResponse&) { return true; });
          }),
      // InboxService
      Make<v1::AckRequest>("budstikke.v1.InboxService/Ack",
                           [](World& w, const Caller& c, const v1::AckRequest& r) {
                             const std::string consumer =
                                 r.consumer().empty() ? c.identity.user : r.consumer();
                             return St(w.inbox->Ack(c.agency(), consumer, r.up_to_cursor()));
                           }),
      Make<v1::SubscribeRequest>("budstikke.v1.InboxService/Subscribe",
                                 [](World& w, const Caller& c, const v1::SubscribeRequest& r) {
                                   return inbox::Inbox::ValidateConsumer(
                                       r.consumer().empty() ? c.identity.user : r.consumer());
                                 }),
      // AuditService
      Make<v1::GetCheckpointRequest>("budstikke.v1.AuditService/GetCheckpoint",
                                     [](World& w, const Caller&, const v1::GetCheckpointRequest&) {
                                       return St(w.audit->GetCheckpoint());
                                     }),
      Make<v1::GetEventRequest>("budstikke.v1.AuditService/GetEvent",
                                [](World& w, const Caller& c, const v1::GetEventRequest& r) {
                                  return St(w.audit->GetEvent(c, r.index()));
                                }),
      Make<v1::GetInclusionProofRequest>(
          "budstikke.v1.AuditService/GetInclusionProof",
          [](World& w, const Caller&, const v1::GetInclusionProofRequest& r) {
            return St(w.audit->GetInclusionProof(r.index(), r.tree_size()));
          }),
      Make<v1::GetConsistencyProofRequest>(
          "budstikke.v1.AuditService/GetConsistencyProof",
          [](World& w, const Caller&, const v1::GetConsistencyProofRequest& r) {
            return St(w.audit->GetConsistencyProof(r.first(), r.second()));
          }),
      Make<v1::QueryAuditRequest>("budstikke.v1.AuditService/Query",
                                  [](World& w, const Caller& c, const v1::QueryAuditRequest& r) {
                                    return St(w.audit->Query(c, r));
                                  }),
      Make<v1::SubjectAccessReportRequest>(
          "budstikke.v1.AuditService/SubjectAccessReport",
          [](World& w, const Caller& c, const v1::SubjectAccessReportRequest& r) {
            return St(w.audit->SubjectAccessReport(c, r));
          },
          [] {
            v1::SubjectAccessReportRequest r;
            r.set_subject_national_id(Child());
            return r;
          }),
      // AdminService
      Make<v1::GetKeyStatusRequest>(
          "budstikke.v1.AdminService/GetKeyStatus",
          [](World& w, const Caller& c, const v1::GetKeyStatusRequest& r) {
            return St(w.admin->GetKeyStatus(c, r.agency()));
          }),
      Make<v1::RotateAgencyKeyRequest>(
          "budstikke.v1.AdminService/RotateAgencyKey",
          [](World& w, const Caller& c, const v1::RotateAgencyKeyRequest& r) {
            return St(w.admin->RotateAgencyKey(c, r.agency(), r.request_id()));
          },
          [] {
            v1::RotateAgencyKeyRequest r;
            r.set_agency("bup-oslo");
            r.set_request_id("rot-1");
            return r;
          }),
      Make<v1::ShredAgencyKeyVersionRequest>(
          "budstikke.v1.AdminService/ShredAgencyKeyVersion",
          [](World& w, const Caller& c, const v1::ShredAgencyKeyVersionRequest& r) {
            return St(
                w.admin->ShredAgencyKeyVersion(c, r.agency(), r.version(), r.confirm(), r.force()));
          }),
      Make<v1::GetRewrapProgressRequest>(
          "budstikke.v1.AdminService/GetRewrapProgress",
          [](World& w, const Caller& c, const v1::GetRewrapProgressRequest& r) {
            return St(w.admin->GetRewrapProgress(c, r.agency()));
          }),
      Make<v1::CreateBackupRequest>(
          "budstikke.v1.AdminService/CreateBackup",
          [](World& w, const Caller& c, const v1::CreateBackupRequest& r) -> absl::Status {
            if (!r.dest_dir().empty() && r.dest_dir()[0] == '/') return absl::OkStatus();
            return St(w.admin->CreateBackup(c, r.dest_dir(), r.request_id()));
          }),
      // Appended last, so the inputs of the RPCs above keep their numbers.
      // The internal ingest RPCs, as audit_ingest and inbox_ingest call them.
      Internal(Make<internal::v1::AppendRequest>(
          "budstikke.internal.v1.AuditIngest/Append",
          [](World& w, const Caller&, const internal::v1::AppendRequest& r) {
            for (int i = 0; i < r.entries_size(); ++i) {
              absl::Status encodable = audit::CheckEncodable(r.entries(i).event());
              if (!encodable.ok()) return encodable;
            }
            return St(common::ApplyDelivery(*w.ledger, r.source(), r.entries(),
                                            [&](uint64_t first_new, storage::WriteBatch batch) {
                                              for (const internal::v1::AuditEntry& e :
                                                   r.entries()) {
                                                if (e.sequence() >= first_new)
                                                  w.outbox->AddFilled(&batch, e.event());
                                              }
                                              return w.store->Write(std::move(batch));
                                            }));
          },
          [] {
            internal::v1::AppendRequest r;
            r.set_source("referral-1");
            internal::v1::AuditEntry* e = r.add_entries();
            e->set_sequence(1);
            v1::AuditEvent* ev = e->mutable_event();
            ev->mutable_time()->set_seconds(1767225600);
            ev->mutable_actor()->set_agency("bup-oslo");
            ev->mutable_actor()->set_user("terapeut1");
            ev->mutable_actor()->set_role(v1::ROLE_CLINICIAN);
            ev->set_action("referral.read");
            ev->mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
            ev->mutable_resource()->set_id("ref-0190a1b2c3d4e5f6a7b8c9d0");
            ev->set_outcome(v1::AUDIT_OUTCOME_ALLOWED);
            return r;
          })),
      Internal(Make<internal::v1::DeliverRequest>(
          "budstikke.internal.v1.InboxIngest/Deliver",
          [](World& w, const Caller&, const internal::v1::DeliverRequest& r) {
            return St(
                common::ApplyDelivery(*w.ledger, r.source(), r.entries(),
                                      [&](uint64_t first_new, storage::WriteBatch batch) {
                                        std::vector<common::InboxDelivery> events;
                                        for (const internal::v1::InboxEntry& e : r.entries()) {
                                          if (e.sequence() < first_new) continue;
                                          events.push_back({e.agency(), e.type(), e.resource()});
                                        }
                                        return w.inbox->Commit(std::move(batch), events);
                                      }));
          },
          [] {
            internal::v1::DeliverRequest r;
            r.set_source("referral-1");
            internal::v1::InboxEntry* e = r.add_entries();
            e->set_sequence(1);
            e->set_agency("bup-oslo");
            e->set_type(v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED);
            e->mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
            e->mutable_resource()->set_id("ref-0190a1b2c3d4e5f6a7b8c9d0");
            return r;
          })),
  };
  return *rpcs;
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace budstikke::fuzz;
  const auto& rpcs = Rpcs();
  std::vector<std::string> seeds;
  for (size_t i = 0; i < rpcs.size(); ++i) {
    if (!rpcs[i].seed) continue;
    if (rpcs[i].internal) {
      seeds.push_back(std::string{static_cast<char>(i), 0} + rpcs[i].seed());
      continue;
    }
    // The first caller the authorization table allows.
    for (size_t c = 0; c < Callers().size(); ++c) {
      if (budstikke::common::IsAllowed(rpcs[i].method, Callers()[c].identity.role)) {
        seeds.push_back(std::string{static_cast<char>(i), static_cast<char>(c)} + rpcs[i].seed());
        break;
      }
    }
  }
  MaybeWriteSeeds(seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  if (size < 2) return 0;
  const auto& rpcs = Rpcs();
  const Rpc& rpc = rpcs[data[0] % rpcs.size()];
  const Caller& caller = Callers()[data[1] % Callers().size()];
  // The adapters refuse what the authorization table does not allow.
  if (!rpc.internal && !common::IsAllowed(rpc.method, caller.identity.role)) return 0;
  World& w = TheWorld();
  if (absl::StartsWith(rpc.method, "budstikke.v1.AuditService/")) DrainAndSign(w);
  rpc.call(w, caller, AsView(data + 2, size - 2));
  return 0;
}
