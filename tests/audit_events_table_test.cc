// Issue 4, acceptance 1: every RPC that reads or changes data emits exactly
// the expected audit events, nothing more, nothing less.
//
// One table, one world: every domain class (directory, consultations,
// consent, referrals, inbox, audit, admin) wired as budstikke-server wires it,
// on one real Store in a temp dir with the real StoreAuditOutbox, Keyring,
// Envelope, Inbox, PII scanner and AuditLog. Rows run in order (later rows use
// what earlier rows created); after each call the test reads the outbox
// entries that call added and compares them, as one line per event, with the
// row's exact list: action, outcome, rule, resource kind and id, legal basis,
// consent id, subject (which child's pseudonym, never a national id), actor
// agency/role/user and request id.
//
// What is audited (docs/ARCHITECTURE.md: "every read, write and refusal that touches a
// child's data"; a read records its event before content is returned):
//  - every change, every read of content or of a list, every retry or no-op
//    that returns stored content (a read), and every refusal by a rule (a
//    DENIED event carrying the rule ids);
//  - not audited, by decision: CheckText (stores nothing and returns only
//    finding kinds and offsets of the caller's own text), directory reads
//    (public within the network, no child's data), inbox Subscribe/Ack (the
//    feed holds event types and resource ids only; every resource read they
//    lead to is audited), the log's public verification data (public key,
//    checkpoint, inclusion and consistency proofs: hashes only), admin reads
//    of key status, rewrap progress and server information (no child's data),
//    and retries of rotations (key metadata only). Each of these has a row
//    asserting it emits nothing.
//  - a refusal by the authorization table happens in the adapters, every
//    service's through common::Authenticator with the action
//    common::AuditActionFor(method) and the one event builder (a row here;
//    over gRPC in tests/audit_integration_test.cc). This test checks that the methods
//    with such an action are exactly those whose calls are audited.
// Every method of the authorization table is covered by at least one row
// except DirectoryService/WhoAmI (it echoes the caller's own certificate).
#include <openssl/sha.h>

#include <array>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/admin/admin.h"
#include "services/audit/audit.h"
#include "services/audit/audit_log.h"
#include "services/common/audit_event.h"
#include "services/common/authz.h"
#include "services/common/caller_testing.h"
#include "services/common/fake_clock.h"
#include "services/common/national_id_testing.h"
#include "services/common/pii/scanner.h"
#include "services/common/store_audit_outbox.h"
#include "services/consent/consent.h"
#include "services/consultation/consultation.h"
#include "services/directory/directory.h"
#include "services/inbox/inbox.h"
#include "services/referral/referral.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/pseudonymizer.h"
#include "storage/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tlog/internal/test_keys.h"

namespace budstikke {
namespace {

// No rewrap thread: a rotation leaves the old version in use (key.shred.in_use).
admin::Rewrapper::Options ManualRewrap() {
  admin::Rewrapper::Options options;
  options.background = false;
  return options;
}

using ::budstikke::testing::IsOk;
using ::testing::ElementsAreArray;

using common::testing::Person;

const common::Caller kOperator = Person("budstikke-drift", v1::ROLE_ADMIN, "drift1");
const common::Caller kSchoolAdmin = Person("skole-test", v1::ROLE_ADMIN, "rektor");
const common::Caller kBupAdmin = Person("bup-oslo", v1::ROLE_ADMIN, "ola");
const common::Caller kStaff = Person("bhg-solsikken", v1::ROLE_STAFF, "kari");
const common::Caller kGp = Person("legekontor-sentrum", v1::ROLE_PHYSICIAN, "lege1");
const common::Caller kBup = Person("bup-oslo", v1::ROLE_CLINICIAN, "terapeut1");
const common::Caller kBup2 = Person("bup-oslo", v1::ROLE_CLINICIAN, "terapeut2");
const common::Caller kBupStaff = Person("bup-oslo", v1::ROLE_STAFF, "sekretaer");
const common::Caller kCw = Person("barnevern-oslo", v1::ROLE_CHILD_WELFARE_LEADER, "leder1");
const common::Caller kAuditor = Person("statsforvalteren", v1::ROLE_AUDITOR, "siri");

constexpr char kSeed[] = R"({"agencies":[
  {"id":"budstikke-drift","name":"Drift","type":"operator","municipality":"0301"},
  {"id":"bhg-solsikken","name":"Solsikken","type":"kindergarten","municipality":"0301"},
  {"id":"legekontor-sentrum","name":"Legekontor","type":"gp","municipality":"0301"},
  {"id":"bup-oslo","name":"BUP Oslo","type":"bup","municipality":"0301"},
  {"id":"ppt-oslo","name":"PPT Oslo","type":"ppt","municipality":"0301"},
  {"id":"barnevern-oslo","name":"Barnevern","type":"child_welfare","municipality":"0301"},
  {"id":"statsforvalteren","name":"Statsforvalteren","type":"supervisory_authority",
   "municipality":"0301"}]})";

constexpr char kAttachment[] = "Tiltakslogg: samtale med foreldre om soevn og trivsel.\n";

std::string Sha256(const std::string& data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

std::string Strip(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

class AuditEventsTableTest : public ::testing::Test {
 public:
  void SetUp() override {
    std::set<std::string> cfs;
    for (const auto& cf : storage::Keyring::ColumnFamilies()) cfs.insert(cf);
    for (const auto& cf : audit::AuditLog::ColumnFamilies()) cfs.insert(cf);
    for (const auto& cf : referral::ReferralDesk::ColumnFamilies()) cfs.insert(cf);
    cfs.insert({directory::kColumnFamily, common::kAuditOutboxColumnFamily,
                admin::kAdminColumnFamily, consultation::kColumnFamily, inbox::kColumnFamily,
                consent::kColumnFamily});
    storage::Store::Options options;
    options.column_families.assign(cfs.begin(), cfs.end());
    store_ = *storage::Store::Open(dir_.Sub("db"), options);
    keyring_ = *storage::Keyring::Create(storage::SecretBytes(std::string(32, 'k')), store_.get());
    envelope_ = *storage::Envelope::Create(keyring_.get());
    pseudonymizer_ = *storage::Pseudonymizer::Create(*keyring_);
    outbox_ = *common::StoreAuditOutbox::Create(store_.get(), &clock_);
    directory_ =
        *directory::Directory::Create(store_.get(), &clock_, outbox_.get(), "budstikke-drift");
    ASSERT_THAT(directory_->LoadSeedIfEmpty(kSeed).status(), IsOk());
    inbox_ = *inbox::Inbox::Create(store_.get(), &clock_);
    scanner_ = *pii::Scanner::Create(pii::ScannerConfig());
    consultation::Consultations::Deps deps;
    deps.store = store_.get();
    deps.keyring = keyring_.get();
    deps.envelope = envelope_.get();
    deps.audit = outbox_.get();
    deps.directory = directory_.get();
    deps.inbox = inbox_.get();
    deps.scanner = scanner_.get();
    deps.clock = &clock_;
    consultations_ = *consultation::Consultations::Create(deps, {});
    consents_ = *consent::ConsentRegistry::Create(store_.get(), keyring_.get(), outbox_.get(),
                                                  inbox_.get(), directory_.get(), &clock_);
    desk_ =
        *referral::ReferralDesk::Create(store_.get(), keyring_.get(), outbox_.get(), inbox_.get(),
                                        directory_.get(), consents_.get(), &clock_);
    consents_->SetObserver(desk_.get());
    std::array<uint8_t, 32> seed{};
    seed[0] = 4;
    signer_ = std::move(tlog::Signer::FromPem("budstikke.test/audit",
                                              tlog::tlog_internal::Ed25519PemFromSeed(seed)))
                  .value();
    log_ = *audit::AuditLog::Create(store_.get(), signer_.get(), &clock_);
    audit_ =
        *audit::Audit::Create(log_.get(), outbox_.get(), pseudonymizer_.get(), directory_.get());
    key_target_ = std::make_unique<admin::LocalKeyTarget>("all", store_.get(), keyring_.get(),
                                                          &clock_, ManualRewrap());
    admin::AdminDeps admin_deps{{key_target_.get()}, directory_.get(), outbox_.get(), &clock_,
                                "budstikke-drift",   "budstikke.test", {"all"},       "test"};
    admin_ = *admin::Admin::Create(admin_deps);
    child_pseudonym_ = *pseudonymizer_->Pseudonymize(child_);
    teen_pseudonym_ = *pseudonymizer_->Pseudonymize(teen_);
  }

  // A symbolic name for an id in the expected lines ("REF1" for "ref-3fa9...").
  void Name(const std::string& id, const std::string& name) { names_[id] = name; }
  std::string Id(const std::string& name) const {
    for (const auto& [id, n] : names_) {
      if (n == name) return id;
    }
    ADD_FAILURE() << "no id named " << name;
    return "";
  }

  // One line per event; see the file comment.
  std::string Line(const v1::AuditEvent& e) const {
    auto named = [&](const std::string& id) {
      auto it = names_.find(id);
      return it == names_.end() ? id : it->second;
    };
    std::string subject = e.subject().empty()               ? "-"
                          : e.subject() == child_pseudonym_ ? "child"
                          : e.subject() == teen_pseudonym_  ? "teen"
                                                            : "other:" + e.subject();
    return absl::StrCat(
        e.action(), " ", Strip(v1::AuditOutcome_Name(e.outcome()), "AUDIT_OUTCOME_"),
        " rule=", e.rule(), " ",
        Strip(v1::ResourceKind_Name(e.resource().kind()), "RESOURCE_KIND_"), ":",
        named(e.resource().id()),
        " basis=", Strip(v1::LegalBasis_Name(e.legal_basis()), "LEGAL_BASIS_"),
        " consent=", named(e.consent_id()), " subject=", subject, " by=", e.actor().agency(), "/",
        common::RoleName(e.actor().role()), "/", e.actor().user(), " req=", e.request_id());
  }

  // The outbox entries written since the previous call (keys only grow).
  std::vector<v1::AuditEvent> NewEvents() {
    std::vector<v1::AuditEvent> out;
    for (auto it = store_->Scan(common::kAuditOutboxColumnFamily, ""); it->Valid(); it->Next()) {
      const std::string key(it->key());
      if (!last_key_.empty() && key <= last_key_) continue;
      v1::AuditEvent e;
      EXPECT_TRUE(e.ParseFromString(std::string(it->value())));
      out.push_back(std::move(e));
      last_key_ = key;
    }
    return out;
  }

  absl::StatusOr<v1::AttachmentInfo> Upload(const common::Caller& by, const std::string& rid) {
    v1::AttachmentMetadata m;
    m.set_request_id(rid);
    m.set_filename("tiltakslogg.txt");
    m.set_content_type("text/plain");
    m.set_kind(v1::ATTACHMENT_KIND_ACTION_LOG);
    m.set_size(sizeof(kAttachment) - 1);
    m.set_sha256(Sha256(kAttachment));
    auto up = desk_->BeginUpload(by, m);
    if (!up.ok()) return up.status();
    absl::Status s = (*up)->AddChunk(kAttachment);
    if (!s.ok()) return s;
    return (*up)->Finish();
  }

  v1::AskConsultationRequest AskRequest(const std::string& text, const std::string& rid) {
    v1::AskConsultationRequest r;
    r.set_request_id(rid);
    r.mutable_recipient()->set_agency("bup-oslo");
    r.set_age_band(v1::AGE_BAND_6_9);
    r.add_concerns(v1::CONCERN_SLEEP);
    r.set_text(text);
    return r;
  }

  v1::RecordConsentRequest ConsentRequest(const std::string& subject, const std::string& rid) {
    v1::RecordConsentRequest r;
    r.set_request_id(rid);
    r.set_subject_national_id(subject);
    r.set_giver(v1::CONSENT_GIVER_GUARDIAN);
    r.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
    r.mutable_recipient()->set_agency("bup-oslo");
    r.set_purpose("henvisning til utredning");
    r.set_scope("journalnotat og tiltakslogg");
    r.set_method(v1::CONSENT_METHOD_WRITTEN);
    return r;
  }

  v1::SendReferralRequest SendRequest(const std::string& to, const std::string& rid) {
    v1::SendReferralRequest r;
    r.set_request_id(rid);
    r.set_recipient_agency(to);
    r.set_subject_national_id(child_);
    r.set_reason("Vedvarende soevnvansker og angst gjennom et halvt aar.");
    return r;
  }

  absl::Status Consume(const absl::Status& s) { return s; }
  template <typename T>
  absl::Status Consume(const absl::StatusOr<T>& s) {
    return s.status();
  }

  budstikke::testing::TempDir dir_;
  common::FakeClock clock_{
      absl::FromCivil(absl::CivilSecond(2025, 6, 1, 12, 0, 0), policy::NorwegianTimeZone())};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::Keyring> keyring_;
  std::unique_ptr<storage::Envelope> envelope_;
  std::unique_ptr<storage::Pseudonymizer> pseudonymizer_;
  std::unique_ptr<common::StoreAuditOutbox> outbox_;
  std::unique_ptr<directory::Directory> directory_;
  std::unique_ptr<inbox::Inbox> inbox_;
  std::unique_ptr<pii::Scanner> scanner_;
  std::unique_ptr<consultation::Consultations> consultations_;
  std::unique_ptr<consent::ConsentRegistry> consents_;
  std::unique_ptr<referral::ReferralDesk> desk_;
  std::unique_ptr<tlog::Signer> signer_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<audit::Audit> audit_;
  std::unique_ptr<admin::LocalKeyTarget> key_target_;
  std::unique_ptr<admin::Admin> admin_;
  const std::string child_ = common::testing::MakeSyntheticNationalIdAgedOn(10, 2025, 6, 1, 123);
  const std::string teen_ = common::testing::MakeSyntheticNationalIdAgedOn(16, 2025, 6, 1, 124);
  std::string child_pseudonym_, teen_pseudonym_;
  std::map<std::string, std::string> names_;
  std::string last_key_;
};

using T = AuditEventsTableTest;

struct Row {
  std::string method;  // the RPC, "" for a step that is not one
  std::string name;
  std::function<absl::Status(T*)> call;
  std::vector<std::string> want;
};

// Service prefixes of the method names.
constexpr char kDir[] = "budstikke.v1.DirectoryService/";
constexpr char kCon[] = "budstikke.v1.ConsultationService/";
constexpr char kCns[] = "budstikke.v1.ConsentService/";
constexpr char kRef[] = "budstikke.v1.ReferralService/";
constexpr char kInb[] = "budstikke.v1.InboxService/";
constexpr char kAud[] = "budstikke.v1.AuditService/";
constexpr char kAdm[] = "budstikke.v1.AdminService/";

std::vector<Row> Rows() {
  const std::string text = "Gutten sover daarlig og virker trist.";
  return {
      // --- DirectoryService -------------------------------------------------
      {absl::StrCat(kDir, "CreateAgency"),
       "create",
       [](T* t) {
         v1::Agency a;
         a.set_id("skole-test");
         a.set_name("Testskolen");
         a.set_type(v1::AGENCY_TYPE_SCHOOL);
         a.set_municipality("0301");
         return t->Consume(t->directory_->CreateAgency(kOperator.identity, a, "dir-1"));
       },
       {"agency.create ALLOWED rule= AGENCY:skole-test basis=NONE consent= subject=- "
        "by=budstikke-drift/admin/drift1 req=dir-1"}},
      {absl::StrCat(kDir, "CreateAgency"),
       "retry returns the first result, no event",
       [](T* t) {
         v1::Agency a;
         a.set_id("skole-test");
         a.set_name("Testskolen");
         a.set_type(v1::AGENCY_TYPE_SCHOOL);
         a.set_municipality("0301");
         return t->Consume(t->directory_->CreateAgency(kOperator.identity, a, "dir-1"));
       },
       {}},
      {absl::StrCat(kDir, "CreateAgency"),
       "denied: not the operator",
       [](T* t) {
         v1::Agency a;
         a.set_id("skole-x");
         a.set_name("X");
         a.set_type(v1::AGENCY_TYPE_SCHOOL);
         a.set_municipality("0301");
         absl::Status s = t->Consume(t->directory_->CreateAgency(kBupAdmin.identity, a, "dir-2"));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"agency.create DENIED rule=directory.operator_only AGENCY: basis=NONE consent= "
        "subject=- by=bup-oslo/admin/ola req="}},
      {absl::StrCat(kDir, "UpdateAgency"),
       "own admin renames",
       [](T* t) {
         v1::Agency a = *t->directory_->GetAgency("skole-test");
         a.set_name("Testskolen sentrum");
         return t->Consume(t->directory_->UpdateAgency(kSchoolAdmin.identity, a));
       },
       {"agency.update ALLOWED rule= AGENCY:skole-test basis=NONE consent= subject=- "
        "by=skole-test/admin/rektor req="}},
      {absl::StrCat(kDir, "UpdateAgency"),
       "denied: own admin retypes (routing)",
       [](T* t) {
         v1::Agency a = *t->directory_->GetAgency("skole-test");
         a.set_type(v1::AGENCY_TYPE_BUP);
         absl::Status s = t->Consume(t->directory_->UpdateAgency(kSchoolAdmin.identity, a));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"agency.update DENIED rule=directory.routing_fields AGENCY:skole-test basis=NONE "
        "consent= subject=- by=skole-test/admin/rektor req="}},
      {absl::StrCat(kDir, "UpdateAgency"),
       "denied: another agency",
       [](T* t) {
         v1::Agency a = *t->directory_->GetAgency("ppt-oslo");
         absl::Status s = t->Consume(t->directory_->UpdateAgency(kSchoolAdmin.identity, a));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"agency.update DENIED rule=directory.own_agency_only AGENCY: basis=NONE consent= "
        "subject=- by=skole-test/admin/rektor req="}},
      {absl::StrCat(kDir, "GetAgency"),
       "public data, not audited",
       [](T* t) { return t->Consume(t->directory_->GetAgency("bup-oslo")); },
       {}},
      {absl::StrCat(kDir, "ListAgencies"),
       "public data, not audited",
       [](T* t) {
         return t->Consume(t->directory_->ListAgencies(v1::AGENCY_TYPE_UNSPECIFIED, "", 0, ""));
       },
       {}},

      // --- ConsultationService ----------------------------------------------
      {absl::StrCat(kCon, "CheckText"),
       "stores nothing, not audited",
       [](T* t) {
         return t->Consume(t->consultations_->CheckText(kStaff, "Ring mor paa ola@example.no"));
       },
       {}},
      {absl::StrCat(kCon, "Ask"),
       "ask",
       [text](T* t) {
         auto c = t->consultations_->Ask(kStaff, t->AskRequest(text, "ca-1"));
         if (c.ok()) t->Name(c->id(), "C1");
         return t->Consume(c);
       },
       {"consultation.create ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bhg-solsikken/staff/kari req=ca-1"}},
      {absl::StrCat(kCon, "Ask"),
       "retry returns the content: a read",
       [text](T* t) {
         return t->Consume(t->consultations_->Ask(kStaff, t->AskRequest(text, "ca-1")));
       },
       {"consultation.read ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bhg-solsikken/staff/kari req=ca-1"}},
      {absl::StrCat(kCon, "Ask"),
       "denied: identifying data",
       [](T* t) {
         absl::Status s = t->Consume(
             t->consultations_->Ask(kStaff, t->AskRequest("Ring mor paa ola@example.no", "ca-2")));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"consultation.create DENIED rule=consultation.pii.refused CONSULTATION: basis=NONE "
        "consent= subject=- by=bhg-solsikken/staff/kari req=ca-2"}},
      {absl::StrCat(kCon, "Get"),
       "read",
       [](T* t) { return t->Consume(t->consultations_->Get(kBup, t->Id("C1"))); },
       {"consultation.read ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kCon, "List"),
       "list",
       [](T* t) {
         v1::ListConsultationsRequest r;
         r.set_mailbox(v1::MAILBOX_RECEIVED);
         return t->Consume(t->consultations_->List(kBup, r));
       },
       {"consultation.list ALLOWED rule= CONSULTATION: basis=NONE consent= subject=- "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kCon, "Claim"),
       "claim",
       [](T* t) { return t->Consume(t->consultations_->Claim(kBup, t->Id("C1"))); },
       {"consultation.claim ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kCon, "Claim"),
       "denied: claimed by another",
       [](T* t) {
         absl::Status s = t->Consume(t->consultations_->Claim(kBup2, t->Id("C1")));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"consultation.claim DENIED rule=consultation.already_claimed CONSULTATION:C1 "
        "basis=NONE consent= subject=- by=bup-oslo/clinician/terapeut2 req="}},
      {absl::StrCat(kCon, "Claim"),
       "denied: the sender agency may not claim",
       [](T* t) {
         absl::Status s = t->Consume(t->consultations_->Claim(kStaff, t->Id("C1")));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"consultation.claim DENIED rule=consultation.recipient_only CONSULTATION:C1 "
        "basis=NONE consent= subject=- by=bhg-solsikken/staff/kari req="}},
      {absl::StrCat(kCon, "Claim"),
       "denied: a role that does not answer",
       [](T* t) {
         absl::Status s = t->Consume(t->consultations_->Claim(kBupStaff, t->Id("C1")));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"consultation.claim DENIED rule=consultation.answerer_role CONSULTATION:C1 "
        "basis=NONE consent= subject=- by=bup-oslo/staff/sekretaer req="}},
      {absl::StrCat(kCon, "Claim"),
       "another agency: NOT_FOUND as for a made-up id, the probe audited",
       [](T* t) {
         absl::Status s = t->Consume(t->consultations_->Claim(kGp, t->Id("C1")));
         return absl::IsNotFound(s) ? absl::OkStatus() : s;
       },
       {"consultation.claim DENIED rule=consultation.not_visible CONSULTATION:C1 basis=NONE "
        "consent= subject=- by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kCon, "Answer"),
       "denied: the sender agency may not answer",
       [](T* t) {
         v1::AnswerConsultationRequest r;
         r.set_request_id("an-x");
         r.set_id(t->Id("C1"));
         r.set_text("Svar.");
         absl::Status s = t->Consume(t->consultations_->Answer(kStaff, r));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"consultation.answer DENIED rule=consultation.recipient_only CONSULTATION:C1 "
        "basis=NONE consent= subject=- by=bhg-solsikken/staff/kari req=an-x"}},
      {absl::StrCat(kCon, "Answer"),
       "denied: a role that does not answer",
       [](T* t) {
         v1::AnswerConsultationRequest r;
         r.set_request_id("an-y");
         r.set_id(t->Id("C1"));
         r.set_text("Svar.");
         absl::Status s = t->Consume(t->consultations_->Answer(kBupStaff, r));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"consultation.answer DENIED rule=consultation.answerer_role CONSULTATION:C1 "
        "basis=NONE consent= subject=- by=bup-oslo/staff/sekretaer req=an-y"}},
      {absl::StrCat(kCon, "Answer"),
       "another agency: NOT_FOUND as for a made-up id, the probe audited",
       [](T* t) {
         v1::AnswerConsultationRequest r;
         r.set_request_id("an-z");
         r.set_id(t->Id("C1"));
         r.set_text("Svar.");
         absl::Status s = t->Consume(t->consultations_->Answer(kGp, r));
         return absl::IsNotFound(s) ? absl::OkStatus() : s;
       },
       {"consultation.answer DENIED rule=consultation.not_visible CONSULTATION:C1 basis=NONE "
        "consent= subject=- by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kCon, "Answer"),
       "answer",
       [](T* t) {
         v1::AnswerConsultationRequest r;
         r.set_request_id("an-1");
         r.set_id(t->Id("C1"));
         r.set_text("Dette kan dere proeve foerst.");
         return t->Consume(t->consultations_->Answer(kBup, r));
       },
       {"consultation.answer ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bup-oslo/clinician/terapeut1 req=an-1"}},
      {absl::StrCat(kCon, "AddMessage"),
       "message",
       [](T* t) {
         v1::AddConsultationMessageRequest r;
         r.set_request_id("m-1");
         r.set_id(t->Id("C1"));
         r.set_text("Takk, vi proever det.");
         return t->Consume(t->consultations_->AddMessage(kStaff, r));
       },
       {"consultation.message ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bhg-solsikken/staff/kari req=m-1"}},
      {absl::StrCat(kCon, "Close"),
       "close",
       [](T* t) { return t->Consume(t->consultations_->Close(kStaff, t->Id("C1"))); },
       {"consultation.close ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bhg-solsikken/staff/kari req="}},
      {absl::StrCat(kCon, "Close"),
       "already closed returns the content: a read",
       [](T* t) { return t->Consume(t->consultations_->Close(kStaff, t->Id("C1"))); },
       {"consultation.read ALLOWED rule= CONSULTATION:C1 basis=NONE consent= subject=- "
        "by=bhg-solsikken/staff/kari req="}},
      {absl::StrCat(kCon, "AddMessage"),
       "denied: closed",
       [](T* t) {
         v1::AddConsultationMessageRequest r;
         r.set_request_id("m-2");
         r.set_id(t->Id("C1"));
         r.set_text("En ting til.");
         absl::Status s = t->Consume(t->consultations_->AddMessage(kStaff, r));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"consultation.message DENIED rule=consultation.closed CONSULTATION:C1 basis=NONE "
        "consent= subject=- by=bhg-solsikken/staff/kari req=m-2"}},

      // --- ConsentService ---------------------------------------------------
      {absl::StrCat(kCns, "Record"),
       "record",
       [](T* t) {
         auto c = t->consents_->Record(kGp, t->ConsentRequest(t->child_, "rc-1"));
         if (c.ok()) t->Name(c->id(), "CNS1");
         return t->Consume(c);
       },
       {"consent.record ALLOWED rule= CONSENT:CNS1 basis=NONE consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req=rc-1"}},
      {absl::StrCat(kCns, "Record"),
       "retry returns the consent: a read",
       [](T* t) {
         return t->Consume(t->consents_->Record(kGp, t->ConsentRequest(t->child_, "rc-1")));
       },
       {"consent.read ALLOWED rule= CONSENT:CNS1 basis=NONE consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req=rc-1"}},
      {absl::StrCat(kCns, "Record"),
       "denied: a guardian for a 16-year-old",
       [](T* t) {
         absl::Status s =
             t->Consume(t->consents_->Record(kGp, t->ConsentRequest(t->teen_, "rc-2")));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"consent.record DENIED rule=consent.giver.child_from_16 CONSENT: basis=NONE consent= "
        "subject=teen by=legekontor-sentrum/physician/lege1 req=rc-2"}},
      {absl::StrCat(kCns, "Get"),
       "read by the named recipient",
       [](T* t) { return t->Consume(t->consents_->Get(kBup, t->Id("CNS1"))); },
       {"consent.read ALLOWED rule= CONSENT:CNS1 basis=NONE consent=CNS1 subject=child "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kCns, "List"),
       "list by subject",
       [](T* t) {
         v1::ListConsentsRequest r;
         r.set_subject_national_id(t->child_);
         return t->Consume(t->consents_->List(kGp, r));
       },
       {"consent.list ALLOWED rule= CONSENT: basis=NONE consent= subject=child "
        "by=legekontor-sentrum/physician/lege1 req="}},

      // --- ReferralService --------------------------------------------------
      {absl::StrCat(kRef, "UploadAttachment"),
       "upload",
       [](T* t) {
         auto a = t->Upload(kGp, "up-1");
         if (a.ok()) t->Name(a->id(), "ATT1");
         return t->Consume(a);
       },
       {"attachment.upload ALLOWED rule= ATTACHMENT:ATT1 basis=NONE consent= subject=- "
        "by=legekontor-sentrum/physician/lege1 req=up-1"}},
      {absl::StrCat(kRef, "UploadAttachment"),
       "retry returns the stored info: a read",
       [](T* t) { return t->Consume(t->Upload(kGp, "up-1")); },
       {"attachment.read ALLOWED rule= ATTACHMENT:ATT1 basis=NONE consent= subject=- "
        "by=legekontor-sentrum/physician/lege1 req=up-1"}},
      {absl::StrCat(kRef, "Send"),
       "send under consent",
       [](T* t) {
         v1::SendReferralRequest r = t->SendRequest("bup-oslo", "rs-1");
         r.set_consent_id(t->Id("CNS1"));
         r.add_attachment_ids(t->Id("ATT1"));
         auto sent = t->desk_->Send(kGp, r);
         if (sent.ok()) t->Name(sent->id(), "REF1");
         return t->Consume(sent);
       },
       {"referral.send ALLOWED rule= REFERRAL:REF1 basis=CONSENT consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req=rs-1"}},
      {absl::StrCat(kRef, "Send"),
       "retry returns the referral: a read",
       [](T* t) {
         v1::SendReferralRequest r = t->SendRequest("bup-oslo", "rs-1");
         r.set_consent_id(t->Id("CNS1"));
         r.add_attachment_ids(t->Id("ATT1"));
         return t->Consume(t->desk_->Send(kGp, r));
       },
       {"referral.read ALLOWED rule= REFERRAL:REF1 basis=CONSENT consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req=rs-1"}},
      {absl::StrCat(kRef, "Send"),
       "denied: staff to BUP on statutory duty",
       [](T* t) {
         v1::SendReferralRequest r = t->SendRequest("bup-oslo", "rs-x");
         r.mutable_statutory_duty()->set_justification(
             "Barnet har fortalt om vold hjemme flere ganger denne maaneden.");
         absl::Status s = t->Consume(t->desk_->Send(kStaff, r));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"referral.send DENIED rule=referral.bup.sender_role,referral.statutory_duty.recipient "
        "REFERRAL: basis=STATUTORY_DUTY consent= subject=child by=bhg-solsikken/staff/kari "
        "req=rs-x"}},
      {absl::StrCat(kRef, "Get"),
       "read by the recipient",
       [](T* t) { return t->Consume(t->desk_->Get(kBup, t->Id("REF1"))); },
       {"referral.read ALLOWED rule= REFERRAL:REF1 basis=CONSENT consent=CNS1 subject=child "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "List"),
       "list",
       [](T* t) {
         v1::ListReferralsRequest r;
         r.set_mailbox(v1::MAILBOX_RECEIVED);
         return t->Consume(t->desk_->List(kBup, r));
       },
       {"referral.list ALLOWED rule= REFERRAL: basis=NONE consent= subject=- "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "DownloadAttachment"),
       "download",
       [](T* t) {
         return t->desk_->Download(kBup, t->Id("REF1"), t->Id("ATT1"),
                                   [](const v1::DownloadAttachmentResponse&) { return true; });
       },
       {"attachment.download ALLOWED rule= ATTACHMENT:ATT1 basis=CONSENT consent=CNS1 "
        "subject=child by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "Acknowledge"),
       "acknowledge",
       [](T* t) { return t->Consume(t->desk_->Acknowledge(kBup, t->Id("REF1"))); },
       {"referral.acknowledge ALLOWED rule= REFERRAL:REF1 basis=CONSENT consent=CNS1 "
        "subject=child by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "Acknowledge"),
       "again is a no-op returning it: a read",
       [](T* t) { return t->Consume(t->desk_->Acknowledge(kBup, t->Id("REF1"))); },
       {"referral.read ALLOWED rule= REFERRAL:REF1 basis=CONSENT consent=CNS1 subject=child "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "Decide"),
       "accept",
       [](T* t) {
         v1::DecideReferralRequest r;
         r.set_id(t->Id("REF1"));
         r.set_decision(v1::REFERRAL_DECISION_ACCEPT);
         return t->Consume(t->desk_->Decide(kBup, r));
       },
       {"referral.decide ALLOWED rule= REFERRAL:REF1 basis=CONSENT consent=CNS1 subject=child "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "Decide"),
       "denied: already decided",
       [](T* t) {
         v1::DecideReferralRequest r;
         r.set_id(t->Id("REF1"));
         r.set_decision(v1::REFERRAL_DECISION_REJECT);
         r.set_reason("ombestemt");
         absl::Status s = t->Consume(t->desk_->Decide(kBup, r));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"referral.decide DENIED rule=referral.already_decided REFERRAL:REF1 basis=CONSENT "
        "consent=CNS1 subject=child by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "Withdraw"),
       "denied: already decided",
       [](T* t) {
         v1::WithdrawReferralRequest r;
         r.set_id(t->Id("REF1"));
         absl::Status s = t->Consume(t->desk_->Withdraw(kGp, r));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"referral.withdraw DENIED rule=referral.already_decided REFERRAL:REF1 basis=CONSENT "
        "consent=CNS1 subject=child by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kRef, "Send"),
       "a second referral under the consent",
       [](T* t) {
         v1::SendReferralRequest r = t->SendRequest("bup-oslo", "rs-2");
         r.set_consent_id(t->Id("CNS1"));
         auto sent = t->desk_->Send(kGp, r);
         if (sent.ok()) t->Name(sent->id(), "REF2");
         return t->Consume(sent);
       },
       {"referral.send ALLOWED rule= REFERRAL:REF2 basis=CONSENT consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req=rs-2"}},
      {absl::StrCat(kCns, "Revoke"),
       "revoke withdraws the unacknowledged referral",
       [](T* t) {
         v1::RevokeConsentRequest r;
         r.set_id(t->Id("CNS1"));
         r.set_reason("mor trakk samtykket");
         return t->Consume(t->consents_->Revoke(kGp, r));
       },
       {"consent.revoke ALLOWED rule= CONSENT:CNS1 basis=NONE consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req=",
        "referral.withdraw ALLOWED rule= REFERRAL:REF2 basis=CONSENT consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kCns, "Revoke"),
       "again returns it unchanged: a read",
       [](T* t) {
         v1::RevokeConsentRequest r;
         r.set_id(t->Id("CNS1"));
         r.set_reason("mor trakk samtykket");
         return t->Consume(t->consents_->Revoke(kGp, r));
       },
       {"consent.read ALLOWED rule= CONSENT:CNS1 basis=NONE consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kRef, "Get"),
       "denied: the recipient after revocation before ack",
       [](T* t) {
         absl::Status s = t->Consume(t->desk_->Get(kBup, t->Id("REF2")));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"referral.read DENIED rule=consent.revoked REFERRAL:REF2 basis=CONSENT consent=CNS1 "
        "subject=child by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "Get"),
       "the recipient keeps what it acknowledged",
       [](T* t) { return t->Consume(t->desk_->Get(kBup, t->Id("REF1"))); },
       {"referral.read ALLOWED rule= REFERRAL:REF1 basis=CONSENT consent=CNS1 subject=child "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "DownloadAttachment"),
       "denied: no further disclosure after revocation",
       [](T* t) {
         absl::Status s =
             t->desk_->Download(kBup, t->Id("REF1"), t->Id("ATT1"),
                                [](const v1::DownloadAttachmentResponse&) { return true; });
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"attachment.download DENIED rule=consent.revoked ATTACHMENT:ATT1 basis=CONSENT "
        "consent=CNS1 subject=child by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kRef, "Withdraw"),
       "already withdrawn is a no-op returning it: a read",
       [](T* t) {
         v1::WithdrawReferralRequest r;
         r.set_id(t->Id("REF2"));
         return t->Consume(t->desk_->Withdraw(kGp, r));
       },
       {"referral.read ALLOWED rule= REFERRAL:REF2 basis=CONSENT consent=CNS1 subject=child "
        "by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kRef, "Send"),
       "statutory duty to child welfare",
       [](T* t) {
         v1::SendReferralRequest r = t->SendRequest("barnevern-oslo", "rs-3");
         r.mutable_statutory_duty()->set_justification(
             "Barnet har fortalt om vold hjemme flere ganger denne maaneden.");
         auto sent = t->desk_->Send(kStaff, r);
         if (sent.ok()) t->Name(sent->id(), "REF3");
         return t->Consume(sent);
       },
       {"referral.send ALLOWED rule= REFERRAL:REF3 basis=STATUTORY_DUTY consent= subject=child "
        "by=bhg-solsikken/staff/kari req=rs-3"}},
      {absl::StrCat(kRef, "Withdraw"),
       "withdraw",
       [](T* t) {
         v1::WithdrawReferralRequest r;
         r.set_id(t->Id("REF3"));
         r.set_reason("sendt ved en feil");
         return t->Consume(t->desk_->Withdraw(kStaff, r));
       },
       {"referral.withdraw ALLOWED rule= REFERRAL:REF3 basis=STATUTORY_DUTY consent= "
        "subject=child by=bhg-solsikken/staff/kari req="}},
      {absl::StrCat(kRef, "Draft"),
       "a draft for the GP office to co-sign",
       [](T* t) {
         v1::SendReferralRequest r = t->SendRequest("barnevern-oslo", "rd-1");
         r.mutable_statutory_duty()->set_justification(
             "Barnet har fortalt om vold hjemme flere ganger denne maaneden.");
         r.set_cosigner_agency("legekontor-sentrum");
         auto draft = t->desk_->Draft(kStaff, r);
         if (draft.ok()) t->Name(draft->id(), "REF4");
         return t->Consume(draft);
       },
       {"referral.draft ALLOWED rule= REFERRAL:REF4 basis=STATUTORY_DUTY consent= subject=child "
        "by=bhg-solsikken/staff/kari req=rd-1"}},
      {absl::StrCat(kRef, "Cosign"),
       "the co-signer signs and sends it",
       [](T* t) { return t->Consume(t->desk_->Cosign(kGp, t->Id("REF4"))); },
       {"referral.cosign ALLOWED rule= REFERRAL:REF4 basis=STATUTORY_DUTY consent= subject=child "
        "by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kRef, "PostMessage"),
       "a message on the thread",
       [](T* t) {
         v1::PostReferralMessageRequest r;
         r.set_referral_id(t->Id("REF4"));
         r.set_text("Ring meg gjerne.");
         return t->Consume(t->desk_->PostMessage(kGp, r));
       },
       {"referral.message ALLOWED rule= REFERRAL:REF4 basis=STATUTORY_DUTY consent= "
        "subject=child by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kRef, "GetThread"),
       "the thread",
       [](T* t) { return t->Consume(t->desk_->GetThread(kCw, t->Id("REF4"))); },
       {"referral.thread.read ALLOWED rule= REFERRAL:REF4 basis=STATUTORY_DUTY consent= "
        "subject=child by=barnevern-oslo/child_welfare_leader/leder1 req="}},
      {absl::StrCat(kRef, "Invite"),
       "denied: no consent covers the agency",
       [](T* t) {
         v1::InviteToReferralRequest r;
         r.set_referral_id(t->Id("REF4"));
         r.set_agency("bup-oslo");
         absl::Status s = t->Consume(t->desk_->Invite(kCw, r));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"referral.invite DENIED rule=consent.recipient_mismatch REFERRAL:REF4 "
        "basis=STATUTORY_DUTY consent= subject=child by=barnevern-oslo/child_welfare_leader/leder1 "
        "req="}},
      {absl::StrCat(kRef, "Supplement"),
       "denied: not in NEED_INFO",
       [](T* t) {
         v1::SupplementReferralRequest r;
         r.set_referral_id(t->Id("REF4"));
         r.set_text("Mer informasjon.");
         absl::Status s = t->Consume(t->desk_->Supplement(kGp, r));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"referral.supplement DENIED rule=referral.supplement.state REFERRAL:REF4 "
        "basis=STATUTORY_DUTY consent= subject=child by=legekontor-sentrum/physician/lege1 "
        "req="}},
      {absl::StrCat(kRef, "Return"),
       "the co-signer returns a second draft",
       [](T* t) {
         v1::SendReferralRequest d = t->SendRequest("barnevern-oslo", "rd-2");
         d.mutable_statutory_duty()->set_justification(
             "Barnet har fortalt om vold hjemme flere ganger denne maaneden.");
         d.set_cosigner_agency("legekontor-sentrum");
         auto draft = t->desk_->Draft(kStaff, d);
         if (!draft.ok()) return draft.status();
         t->Name(draft->id(), "REF5");
         t->NewEvents();  // the draft's event is the row above's kind
         v1::ReturnReferralRequest r;
         r.set_id(draft->id());
         r.set_reason("beskriv tiltakene");
         return t->Consume(t->desk_->Return(kGp, r));
       },
       {"referral.return ALLOWED rule= REFERRAL:REF5 basis=STATUTORY_DUTY consent= "
        "subject=child by=legekontor-sentrum/physician/lege1 req="}},
      {absl::StrCat(kRef, "Cosign"),
       "denied: a returned draft",
       [](T* t) {
         absl::Status s = t->Consume(t->desk_->Cosign(kGp, t->Id("REF5")));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"referral.cosign DENIED rule=referral.cosign.state REFERRAL:REF5 basis=STATUTORY_DUTY "
        "consent= subject=child by=legekontor-sentrum/physician/lege1 req="}},

      // --- InboxService -----------------------------------------------------
      {absl::StrCat(kInb, "Subscribe"),
       "event types and ids only, not audited",
       [](T* t) { return t->Consume(t->inbox_->Read("bup-oslo", "desk", 0, 100)); },
       {}},
      {absl::StrCat(kInb, "Ack"),
       "not audited",
       [](T* t) {
         return t->Consume(t->inbox_->Ack("bup-oslo", "desk", *t->inbox_->Latest("bup-oslo")));
       },
       {}},

      // --- AuditService -----------------------------------------------------
      {"",
       "drain the outboxes into the log and sign a checkpoint",
       [](T* t) {
         absl::Status s = t->log_->DrainAll();
         if (!s.ok()) return s;
         return t->Consume(t->log_->SignCheckpoint());
       },
       {}},
      {absl::StrCat(kAud, "GetPublicKey"),
       "public, not audited",
       [](T* t) {
         t->audit_->GetPublicKey();
         return absl::OkStatus();
       },
       {}},
      {absl::StrCat(kAud, "GetCheckpoint"),
       "public, not audited",
       [](T* t) { return t->Consume(t->audit_->GetCheckpoint()); },
       {}},
      {absl::StrCat(kAud, "GetInclusionProof"),
       "hashes only, not audited",
       [](T* t) { return t->Consume(t->audit_->GetInclusionProof(3, 0)); },
       {}},
      {absl::StrCat(kAud, "GetConsistencyProof"),
       "hashes only, not audited",
       [](T* t) { return t->Consume(t->audit_->GetConsistencyProof(2, t->log_->size())); },
       {}},
      {absl::StrCat(kAud, "GetEvent"),
       "auditor reads an event",
       [](T* t) { return t->Consume(t->audit_->GetEvent(kAuditor, 0)); },
       {"audit.get_event ALLOWED rule= AUDIT_LOG:0 basis=NONE consent= subject=- "
        "by=statsforvalteren/auditor/siri req="}},
      {absl::StrCat(kAud, "GetEvent"),
       "denied: an agency admin reads another agency's event",
       [](T* t) {
         absl::Status s = t->Consume(t->audit_->GetEvent(kBupAdmin, 0));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"audit.get_event DENIED rule=audit.own_agency AUDIT_LOG:0 basis=NONE consent= "
        "subject=- by=bup-oslo/admin/ola req="}},
      {absl::StrCat(kAud, "Query"),
       "auditor queries by subject",
       [](T* t) {
         v1::QueryAuditRequest q;
         q.set_subject_national_id(t->child_);
         q.set_with_proofs(true);
         return t->Consume(t->audit_->Query(kAuditor, q));
       },
       {"audit.query ALLOWED rule= AUDIT_LOG: basis=NONE consent= subject=child "
        "by=statsforvalteren/auditor/siri req="}},
      {absl::StrCat(kAud, "Query"),
       "an agency admin queries its own agency",
       [](T* t) { return t->Consume(t->audit_->Query(kBupAdmin, v1::QueryAuditRequest())); },
       {"audit.query ALLOWED rule= AUDIT_LOG: basis=NONE consent= subject=- "
        "by=bup-oslo/admin/ola req="}},
      {absl::StrCat(kAud, "Query"),
       "denied: an agency admin asks for another agency",
       [](T* t) {
         v1::QueryAuditRequest q;
         q.set_actor_agency("barnevern-oslo");
         absl::Status s = t->Consume(t->audit_->Query(kBupAdmin, q));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"audit.query DENIED rule=audit.own_agency AUDIT_LOG: basis=NONE consent= subject=- "
        "by=bup-oslo/admin/ola req="}},
      {absl::StrCat(kAud, "Query"),
       "denied by the authorization table (adapter)",
       [](T* t) {
         // What Authenticator::Authenticate does for every service.
         absl::Status s = common::RecordRefusal(
             *t->outbox_, kBup,
             common::AllowedEvent("audit.query", v1::RESOURCE_KIND_AUDIT_LOG, ""),
             common::Authorize("budstikke.v1.AuditService/Query", kBup.role()));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"audit.query DENIED rule=authz.role AUDIT_LOG: basis=NONE consent= subject=- "
        "by=bup-oslo/clinician/terapeut1 req="}},
      {absl::StrCat(kAud, "SubjectAccessReport"),
       "report",
       [](T* t) {
         v1::SubjectAccessReportRequest q;
         q.set_subject_national_id(t->child_);
         return t->Consume(t->audit_->SubjectAccessReport(kAuditor, q));
       },
       {"audit.subject_access_report ALLOWED rule= AUDIT_LOG: basis=NONE consent= subject=child "
        "by=statsforvalteren/auditor/siri req="}},

      // --- AdminService -----------------------------------------------------
      {absl::StrCat(kAdm, "GetKeyStatus"),
       "key metadata, not audited",
       [](T* t) { return t->Consume(t->admin_->GetKeyStatus(kOperator, "bup-oslo")); },
       {}},
      {absl::StrCat(kAdm, "RotateAgencyKey"),
       "rotate",
       [](T* t) { return t->Consume(t->admin_->RotateAgencyKey(kOperator, "bup-oslo", "rot-1")); },
       {"agency_key.rotate ALLOWED rule= AGENCY_KEY:bup-oslo basis=NONE consent= subject=- "
        "by=budstikke-drift/admin/drift1 req=rot-1"}},
      {absl::StrCat(kAdm, "RotateAgencyKey"),
       "retry does not rotate again; the attempt is audited",
       [](T* t) { return t->Consume(t->admin_->RotateAgencyKey(kOperator, "bup-oslo", "rot-1")); },
       {"agency_key.rotate ALLOWED rule= AGENCY_KEY:bup-oslo basis=NONE consent= subject=- "
        "by=budstikke-drift/admin/drift1 req=rot-1"}},
      {absl::StrCat(kAdm, "RotateAgencyKey"),
       "denied: another agency's key",
       [](T* t) {
         absl::Status s = t->Consume(t->admin_->RotateAgencyKey(kBupAdmin, "ppt-oslo", "rot-2"));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"agency_key.rotate DENIED rule=admin.own_agency AGENCY_KEY:ppt-oslo basis=NONE consent= "
        "subject=- by=bup-oslo/admin/ola req=rot-2"}},
      {absl::StrCat(kAdm, "ShredAgencyKeyVersion"),
       "denied: the current version",
       [](T* t) {
         absl::Status s =
             t->Consume(t->admin_->ShredAgencyKeyVersion(kOperator, "bup-oslo", 2, "bup-oslo/2"));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"agency_key.shred DENIED rule=key.shred.current_version AGENCY_KEY:bup-oslo/2 "
        "basis=NONE consent= subject=- by=budstikke-drift/admin/drift1 req="}},
      {absl::StrCat(kAdm, "ShredAgencyKeyVersion"),
       "denied: the version still protects records",
       [](T* t) {
         absl::Status s =
             t->Consume(t->admin_->ShredAgencyKeyVersion(kOperator, "bup-oslo", 1, "bup-oslo/1"));
         return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;
       },
       {"agency_key.shred DENIED rule=key.shred.in_use AGENCY_KEY:bup-oslo/1 "
        "basis=NONE consent= subject=- by=budstikke-drift/admin/drift1 req="}},
      {absl::StrCat(kAdm, "ShredAgencyKeyVersion"),
       "shred a retired version (forced)",
       [](T* t) {
         return t->Consume(t->admin_->ShredAgencyKeyVersion(kOperator, "bup-oslo", 1, "bup-oslo/1",
                                                            /*force=*/true));
       },
       {"agency_key.shred ALLOWED rule= AGENCY_KEY:bup-oslo/1 basis=NONE consent= subject=- "
        "by=budstikke-drift/admin/drift1 req="}},
      {absl::StrCat(kAdm, "GetRewrapProgress"),
       "not audited",
       [](T* t) { return t->Consume(t->admin_->GetRewrapProgress(kOperator, "bup-oslo")); },
       {}},
      {absl::StrCat(kAdm, "CreateBackup"),
       "backup",
       [](T* t) {
         const std::string dest = t->dir_.Sub("backup-1");
         t->Name(dest, "BACKUP_DIR");
         return t->Consume(t->admin_->CreateBackup(kOperator, dest, "b-1"));
       },
       {"backup.create ALLOWED rule= BACKUP:BACKUP_DIR basis=NONE consent= subject=- "
        "by=budstikke-drift/admin/drift1 req=b-1"}},
      {absl::StrCat(kAdm, "CreateBackup"),
       "denied: not the operator",
       [](T* t) {
         const std::string dest = t->dir_.Sub("backup-2");
         t->Name(dest, "BACKUP_DIR2");
         absl::Status s = t->Consume(t->admin_->CreateBackup(kBupAdmin, dest, "b-2"));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {"backup.create DENIED rule=admin.operator_only BACKUP:BACKUP_DIR2 basis=NONE consent= "
        "subject=- by=bup-oslo/admin/ola req=b-2"}},
      {absl::StrCat(kAdm, "GetServerInfo"),
       "not audited",
       [](T* t) {
         t->admin_->GetServerInfo();
         return absl::OkStatus();
       },
       {}},
  };
}

TEST_F(AuditEventsTableTest, EveryRpcEmitsExactlyTheExpectedEvents) {
  ASSERT_TRUE(NewEvents().empty()) << "seeding the directory is not audited";
  std::set<std::string> covered;
  std::map<std::string, bool> audited;  // method -> some row emitted an event
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.method + ": " + row.name);
    ASSERT_THAT(row.call(this), IsOk());
    std::vector<std::string> got;
    for (const v1::AuditEvent& e : NewEvents()) {
      got.push_back(Line(e));
      // Filled by the outbox; the index only by the log.
      EXPECT_TRUE(e.has_time());
      EXPECT_EQ(e.index(), 0u);
      EXPECT_EQ(e.actor().service(), "");
      // Never a plain national id.
      const std::string bytes = e.SerializeAsString();
      EXPECT_EQ(bytes.find(child_), std::string::npos);
      EXPECT_EQ(bytes.find(teen_), std::string::npos);
    }
    EXPECT_THAT(got, ElementsAreArray(row.want));
    if (!row.method.empty()) {
      covered.insert(row.method);
      audited[row.method] |= !got.empty();
    }
  }
  for (const auto& [method, any] : audited) {
    EXPECT_EQ(common::AuditActionFor(method).empty(), !any)
        << method << ": audited when refused by the authorization table iff audited when called";
  }
  std::vector<std::string> missing;
  for (absl::string_view m : common::AuthorizedMethods()) {
    if (m == "budstikke.v1.DirectoryService/WhoAmI") continue;
    if (!covered.count(std::string(m))) missing.emplace_back(m);
  }
  EXPECT_TRUE(missing.empty()) << "RPCs without a row: " << absl::StrJoin(missing, ", ");
}

}  // namespace
}  // namespace budstikke
