// ConsentRegistry + ReferralDesk on a real RocksDB store, keyring and audit
// outbox (no gRPC): flows, consent gating and the revocation race, encryption
// at rest, audit events with legal basis, inbox events, idempotency and
// attachments.
#include <openssl/sha.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/caller_testing.h"
#include "services/common/errors.h"
#include "services/common/fake_audit_outbox.h"
#include "services/common/fake_clock.h"
#include "services/common/national_id_testing.h"
#include "services/common/record_codec.h"
#include "services/common/store_audit_outbox.h"
#include "services/consent/consent.h"
#include "services/referral/referral.h"
#include "storage/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace budstikke {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class FakeDirectory final : public common::AgencyLookup {
 public:
  FakeDirectory() {
    Add("bhg-solsikken", v1::AGENCY_TYPE_KINDERGARTEN);
    Add("legekontor-sentrum", v1::AGENCY_TYPE_GP);
    Add("bup-oslo", v1::AGENCY_TYPE_BUP);
    Add("ppt-oslo", v1::AGENCY_TYPE_PPT);
    Add("barnevern-oslo", v1::AGENCY_TYPE_CHILD_WELFARE);
    Add("skole-oslo", v1::AGENCY_TYPE_SCHOOL);
    Add("helsestasjon-oslo", v1::AGENCY_TYPE_HEALTH_STATION);
    Add("bup-akutt", v1::AGENCY_TYPE_BUP);
    agencies_["bup-oslo"].set_acute_unit("bup-akutt");
  }
  absl::StatusOr<v1::Agency> GetAgency(absl::string_view id) const override {
    auto it = agencies_.find(std::string(id));
    if (it == agencies_.end()) return absl::NotFoundError("agency not found");
    return it->second;
  }
  absl::StatusOr<std::vector<v1::Agency>> FindAgencies(v1::AgencyType,
                                                       absl::string_view) const override {
    return std::vector<v1::Agency>{};
  }

 private:
  void Add(const std::string& id, v1::AgencyType type) {
    v1::Agency a;
    a.set_id(id);
    a.set_type(type);
    agencies_[id] = a;
  }
  std::map<std::string, v1::Agency> agencies_;
};

// Records inbox events and writes the batch.
class RecordingInbox final : public common::InboxWriter {
 public:
  explicit RecordingInbox(storage::Store* store) : store_(store) {}
  absl::Status Commit(storage::WriteBatch batch,
                      const std::vector<common::InboxDelivery>& events) override {
    absl::MutexLock lock(&mu_);
    absl::Status s = store_->Write(std::move(batch));
    if (s.ok()) {
      for (const auto& e : events) events_.push_back(e);
    }
    return s;
  }
  // "agency TYPE id" lines.
  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      out.push_back(
          absl::StrCat(e.agency, " ", v1::InboxEventType_Name(e.type), " ", e.resource.id()));
    }
    return out;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    events_.clear();
  }

 private:
  storage::Store* store_;
  absl::Mutex mu_;
  std::vector<common::InboxDelivery> events_;
};

// Passes calls on to the desk; fails the next OnConsentRevoked when told to.
class FlakyObserver final : public common::ConsentObserver {
 public:
  explicit FlakyObserver(common::ConsentObserver* inner) : inner_(inner) {}
  absl::StatusOr<bool> ReceivedUnderConsent(absl::string_view consent_id,
                                            absl::string_view agency) const override {
    return inner_->ReceivedUnderConsent(consent_id, agency);
  }
  absl::Status OnConsentRevoked(const common::Caller& caller,
                                const common::ConsentFacts& consent) override {
    ++calls;
    if (fail_next) {
      fail_next = false;
      return absl::UnavailableError("fan-out interrupted: injected failure");
    }
    return inner_->OnConsentRevoked(caller, consent);
  }
  int calls = 0;
  bool fail_next = false;

 private:
  common::ConsentObserver* inner_;
};

// The consent service as the referral desk sees it (the ConsentChecker
// boundary): the real registry, or UNAVAILABLE while `down` is set, the way a
// consent service behind the network fails.
class SwitchableConsents final : public common::ConsentChecker {
 public:
  void Set(const common::ConsentChecker* inner) { inner_ = inner; }
  absl::StatusOr<common::ConsentFacts> GetConsentFacts(
      absl::string_view consent_id) const override {
    ++calls;
    if (down) return absl::UnavailableError("consent service unreachable");
    return inner_->GetConsentFacts(consent_id);
  }
  std::atomic<bool> down{false};
  mutable std::atomic<int> calls{0};

 private:
  const common::ConsentChecker* inner_ = nullptr;
};

using common::testing::Person;

const common::Caller kGp = Person("legekontor-sentrum", v1::ROLE_PHYSICIAN, "lege1");
const common::Caller kStaff = Person("bhg-solsikken", v1::ROLE_STAFF, "kari");
const common::Caller kBup = Person("bup-oslo", v1::ROLE_CLINICIAN, "terapeut1");
const common::Caller kPpt = Person("ppt-oslo", v1::ROLE_PSYCHOLOGIST, "psykolog1");
const common::Caller kCw = Person("barnevern-oslo", v1::ROLE_CHILD_WELFARE_LEADER, "leder1");
const common::Caller kSchool = Person("skole-oslo", v1::ROLE_STAFF, "laerer1");
const common::Caller kLeader = Person("bhg-solsikken", v1::ROLE_LEADER, "styrer");
const common::Caller kNurse = Person("helsestasjon-oslo", v1::ROLE_CLINICIAN, "helsesykepleier");
const common::Caller kAcute = Person("bup-akutt", v1::ROLE_CLINICIAN, "vakt");
const common::Caller kGpStaff = Person("legekontor-sentrum", v1::ROLE_STAFF, "sekretaer");

std::vector<std::string> Rules(const absl::Status& s) {
  std::vector<std::string> out;
  if (auto d = common::GetErrorDetails(s)) {
    for (const auto& v : d->violations()) out.push_back(v.rule());
  }
  return out;
}

std::string Sha256(const std::string& data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

class ReferralDomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::Store::Options options;
    options.column_families = storage::Keyring::ColumnFamilies();
    options.column_families.push_back(common::kAuditOutboxColumnFamily);
    options.column_families.push_back(consent::kColumnFamily);
    for (const auto& cf : referral::ReferralDesk::ColumnFamilies()) {
      options.column_families.push_back(cf);
    }
    store_ = *storage::Store::Open(dir_.Sub("db"), options);
    storage::SecretBytes master(std::string(32, '\x42'));
    keyring_ = *storage::Keyring::Create(master, store_.get());
    audit_ = *common::StoreAuditOutbox::Create(store_.get(), &clock_);
    inbox_ = std::make_unique<RecordingInbox>(store_.get());
    consents_ = *consent::ConsentRegistry::Create(store_.get(), keyring_.get(), audit_.get(),
                                                  inbox_.get(), &directory_, &clock_);
    referral::ReferralOptions ropts;
    ropts.max_attachment_bytes = 25ull << 20;
    checker_.Set(consents_.get());
    desk_ = *referral::ReferralDesk::Create(store_.get(), keyring_.get(), audit_.get(),
                                            inbox_.get(), &directory_, &checker_, &clock_, ropts);
    consents_->SetObserver(desk_.get());
  }

  // A child aged `age` today (2025-06-01, noon Oslo time).
  static std::string Child(int age, int individual = 123) {
    return common::testing::MakeSyntheticNationalIdAgedOn(age, 2025, 6, 1, individual);
  }

  // A written consent for `recipient` ("henvisning", "journalnotat"); the
  // mother's when a guardian gives it.
  v1::RecordConsentRequest ConsentRequest(const std::string& subject, const std::string& recipient,
                                          v1::ConsentGiver giver = v1::CONSENT_GIVER_GUARDIAN) {
    v1::RecordConsentRequest req;
    req.set_request_id(absl::StrCat("rc-", ++counter_));
    req.set_subject_national_id(subject);
    req.set_giver(giver);
    if (giver == v1::CONSENT_GIVER_GUARDIAN) req.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
    req.mutable_recipient()->set_agency(recipient);
    req.set_purpose("henvisning");
    req.set_scope("journalnotat");
    req.set_method(v1::CONSENT_METHOD_WRITTEN);
    return req;
  }

  static v1::RevokeConsentRequest RevokeRequest(const std::string& consent_id,
                                                const std::string& reason) {
    v1::RevokeConsentRequest req;
    req.set_id(consent_id);
    req.set_reason(reason);
    return req;
  }

  v1::Consent RecordConsent(const common::Caller& by, const std::string& subject,
                            const std::string& recipient,
                            v1::ConsentGiver giver = v1::CONSENT_GIVER_GUARDIAN) {
    auto c = consents_->Record(by, ConsentRequest(subject, recipient, giver));
    EXPECT_THAT(c, IsOk());
    return *c;
  }

  v1::SendReferralRequest SendRequest(const std::string& to, const std::string& subject,
                                      const std::string& consent_id) {
    v1::SendReferralRequest req;
    req.set_request_id(absl::StrCat("rs-", ++counter_));
    req.set_recipient_agency(to);
    req.set_subject_national_id(subject);
    if (!consent_id.empty()) req.set_consent_id(consent_id);
    req.set_reason("Vedvarende søvnvansker og angst gjennom et halvt år.");
    return req;
  }

  std::vector<v1::AuditEvent> AuditEvents() {
    std::vector<v1::AuditEvent> out;
    for (auto it = store_->Scan(common::kAuditOutboxColumnFamily, ""); it->Valid(); it->Next()) {
      v1::AuditEvent e;
      EXPECT_TRUE(e.ParseFromString(std::string(it->value())));
      out.push_back(e);
    }
    return out;
  }

  std::vector<v1::AuditEvent> AuditEvents(const std::string& action) {
    std::vector<v1::AuditEvent> out;
    for (auto& e : AuditEvents()) {
      if (e.action() == action) out.push_back(e);
    }
    return out;
  }

  // Every stored byte of a column family, concatenated.
  std::string RawBytes(const std::string& cf) {
    std::string all;
    for (auto it = store_->Scan(cf, ""); it->Valid(); it->Next()) {
      all += std::string(it->key());
      all += std::string(it->value());
    }
    return all;
  }

  absl::StatusOr<v1::AttachmentInfo> Upload(const common::Caller& by, const std::string& data,
                                            const std::string& type,
                                            v1::AttachmentKind kind = v1::ATTACHMENT_KIND_OTHER,
                                            uint64_t declared = UINT64_MAX) {
    v1::AttachmentMetadata m;
    m.set_request_id(absl::StrCat("up-", ++counter_));
    m.set_filename("dokument");
    m.set_content_type(type);
    m.set_kind(kind);
    m.set_size(declared == UINT64_MAX ? data.size() : declared);
    m.set_sha256(Sha256(data));
    auto up = desk_->BeginUpload(by, m);
    if (!up.ok()) return up.status();
    for (size_t off = 0; off < data.size(); off += 1 << 20) {
      absl::Status s = (*up)->AddChunk(absl::string_view(data).substr(off, 1 << 20));
      if (!s.ok()) return s;
    }
    return (*up)->Finish();
  }

  // Upload metadata declaring `data`'s size and SHA-256.
  static v1::AttachmentMetadata Metadata(const std::string& request_id, const std::string& filename,
                                         const std::string& type, const std::string& data,
                                         v1::AttachmentKind kind = v1::ATTACHMENT_KIND_OTHER) {
    v1::AttachmentMetadata m;
    m.set_request_id(request_id);
    m.set_filename(filename);
    m.set_content_type(type);
    m.set_kind(kind);
    m.set_size(data.size());
    m.set_sha256(Sha256(data));
    return m;
  }

  // A referral from kGp to bup-oslo about a 10-year-old, under a fresh
  // consent, carrying `attachment_id`.
  absl::StatusOr<v1::Referral> SendToBupWith(const std::string& attachment_id) {
    const std::string child = Child(10);
    v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
    v1::SendReferralRequest req = SendRequest("bup-oslo", child, c.id());
    req.add_attachment_ids(attachment_id);
    return desk_->Send(kGp, req);
  }

  // An attachment's content as `who` downloads it from the referral, or the refusal.
  absl::StatusOr<std::string> DownloadAll(const common::Caller& who, const std::string& referral_id,
                                          const std::string& attachment_id) {
    std::string got;
    absl::Status s = desk_->Download(who, referral_id, attachment_id,
                                     [&](const v1::DownloadAttachmentResponse& p) {
                                       got += p.chunk();
                                       return true;
                                     });
    if (!s.ok()) return s;
    return got;
  }

  testing::TempDir dir_;
  common::FakeClock clock_{
      absl::FromCivil(absl::CivilSecond(2025, 6, 1, 12, 0, 0), policy::NorwegianTimeZone())};
  FakeDirectory directory_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::Keyring> keyring_;
  std::unique_ptr<common::StoreAuditOutbox> audit_;
  std::unique_ptr<RecordingInbox> inbox_;
  std::unique_ptr<consent::ConsentRegistry> consents_;
  SwitchableConsents checker_;
  std::unique_ptr<referral::ReferralDesk> desk_;
  int counter_ = 0;
};

TEST_F(ReferralDomainTest, GpRefersAChildOfTenToBupWithGuardianConsent) {
  const std::string child = Child(10);
  v1::Consent consent = RecordConsent(kGp, child, "bup-oslo");
  EXPECT_EQ(consent.status(), v1::CONSENT_STATUS_ACTIVE);
  EXPECT_EQ(consent.subject_national_id(), child);
  EXPECT_EQ(consent.valid_until().year(), 2026);

  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, consent.id()));
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->status(), v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(sent->recipient_type(), v1::AGENCY_TYPE_BUP);
  EXPECT_EQ(sent->legal_basis(), v1::LEGAL_BASIS_CONSENT);
  EXPECT_THAT(inbox_->Lines(), ElementsAre(absl::StrCat(
                                   "bup-oslo INBOX_EVENT_TYPE_REFERRAL_RECEIVED ", sent->id())));

  v1::ListReferralsRequest received;
  received.set_mailbox(v1::MAILBOX_RECEIVED);
  auto list = desk_->List(kBup, received);
  ASSERT_THAT(list, IsOk());
  ASSERT_THAT(list->referrals(), SizeIs(1));
  EXPECT_EQ(list->referrals(0).id(), sent->id());
  EXPECT_EQ(list->referrals(0).subject_national_id(), "");
  EXPECT_EQ(list->referrals(0).reason(), "");

  auto got = desk_->Get(kBup, sent->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->subject_national_id(), child);
  EXPECT_EQ(got->reason(), sent->reason());

  auto acked = desk_->Acknowledge(kBup, sent->id());
  ASSERT_THAT(acked, IsOk());
  EXPECT_EQ(acked->status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(acked->acknowledged_by().user(), "terapeut1");
  v1::DecideReferralRequest decide;
  decide.set_id(sent->id());
  decide.set_decision(v1::REFERRAL_DECISION_ACCEPT);
  auto accepted = desk_->Decide(kBup, decide);
  ASSERT_THAT(accepted, IsOk());
  EXPECT_EQ(accepted->status(), v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_THAT(
      inbox_->Lines(),
      ElementsAre(
          HasSubstr("REFERRAL_RECEIVED"),
          absl::StrCat("legekontor-sentrum INBOX_EVENT_TYPE_REFERRAL_STATUS_CHANGED ", sent->id()),
          absl::StrCat("legekontor-sentrum INBOX_EVENT_TYPE_REFERRAL_STATUS_CHANGED ",
                       sent->id())));

  // The sender cannot withdraw an accepted referral.
  v1::WithdrawReferralRequest w;
  w.set_id(sent->id());
  auto withdrawn = desk_->Withdraw(kGp, w);
  EXPECT_THAT(withdrawn, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already")));
  EXPECT_THAT(Rules(withdrawn.status()), ElementsAre("referral.already_decided"));

  auto send_events = AuditEvents("referral.send");
  ASSERT_THAT(send_events, SizeIs(1));
  EXPECT_EQ(send_events[0].legal_basis(), v1::LEGAL_BASIS_CONSENT);
  EXPECT_EQ(send_events[0].consent_id(), consent.id());
  EXPECT_EQ(send_events[0].actor().agency(), "legekontor-sentrum");
  EXPECT_EQ(send_events[0].subject().size(), 64u);
  EXPECT_THAT(AuditEvents("referral.read"), SizeIs(1));
  EXPECT_THAT(AuditEvents("referral.acknowledge"), SizeIs(1));
  EXPECT_THAT(AuditEvents("referral.decide"), SizeIs(1));
  // No national id in any audit event.
  for (const auto& e : AuditEvents()) {
    EXPECT_THAT(e.SerializeAsString(), ::testing::Not(HasSubstr(child)));
  }
}

TEST_F(ReferralDomainTest, KindergartenStaffToBupIsRefusedNamingTheRule) {
  const std::string child = Child(4);
  v1::Consent consent = RecordConsent(kStaff, child, "bup-oslo");
  auto sent = desk_->Send(kStaff, SendRequest("bup-oslo", child, consent.id()));
  EXPECT_THAT(
      sent, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("referral.bup.sender_role")));
  EXPECT_THAT(Rules(sent.status()), ElementsAre("referral.bup.sender_role"));
  auto denied = AuditEvents("referral.send");
  ASSERT_THAT(denied, SizeIs(1));
  EXPECT_EQ(denied[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(denied[0].rule(), "referral.bup.sender_role");
  EXPECT_THAT(inbox_->Lines(), IsEmpty());
}

TEST_F(ReferralDomainTest, StatutoryDutyReportToChildWelfareWithoutConsent) {
  const std::string child = Child(7);
  v1::SendReferralRequest req = SendRequest("barnevern-oslo", child, "");
  req.mutable_statutory_duty()->set_justification(
      "Barnet har fortalt om vold hjemme og har synlige blåmerker på armene.");
  req.mutable_child_welfare()->set_acute(true);
  auto sent = desk_->Send(kStaff, req);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->legal_basis(), v1::LEGAL_BASIS_STATUTORY_DUTY);
  auto got = desk_->Get(kCw, sent->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->child_welfare().acute());
  auto events = AuditEvents("referral.send");
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].legal_basis(), v1::LEGAL_BASIS_STATUTORY_DUTY);
  EXPECT_EQ(events[0].consent_id(), "");
  EXPECT_EQ(events[0].outcome(), v1::AUDIT_OUTCOME_ALLOWED);

  // Too short a justification, and the duty towards BUP: every rule at once.
  v1::SendReferralRequest bad = SendRequest("bup-oslo", child, "");
  bad.mutable_statutory_duty()->set_justification("bekymret");
  auto refused = desk_->Send(kGp, bad);
  EXPECT_THAT(Rules(refused.status()), ElementsAre("referral.statutory_duty.recipient",
                                                   "referral.child_welfare.justification"));
}

TEST_F(ReferralDomainTest, ConsentGiverRulesWhenRecordedAndUsed) {
  v1::RecordConsentRequest req;
  req.set_request_id("g16");
  req.set_subject_national_id(Child(16));
  req.set_giver(v1::CONSENT_GIVER_GUARDIAN);
  req.set_giver_relation(v1::GUARDIAN_RELATION_FATHER);
  req.mutable_recipient()->set_agency_type(v1::AGENCY_TYPE_BUP);
  req.set_purpose("henvisning");
  req.set_scope("alt");
  req.set_method(v1::CONSENT_METHOD_VERBAL);
  auto refused = consents_->Record(kGp, req);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(Rules(refused.status()), ElementsAre("consent.giver.child_from_16"));

  // A guardian's consent recorded at 15 cannot be used once the child is 16.
  const std::string child = Child(15);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  clock_.Advance(absl::Hours(24));
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  EXPECT_THAT(Rules(sent.status()), ElementsAre("consent.giver.child_from_16"));

  // Malformed input names the field; synthetic ids may be refused.
  req.set_subject_national_id("12345678901");
  EXPECT_THAT(consents_->Record(kGp, req),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_national_id")));
}

TEST_F(ReferralDomainTest, ConsentOfAnotherAgencyIsNotFound) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kStaff, child, "bup-oslo");
  EXPECT_THAT(desk_->Send(kGp, SendRequest("bup-oslo", child, c.id())),
              StatusIs(absl::StatusCode::kNotFound, "consent not found"));
  EXPECT_THAT(desk_->Send(kGp, SendRequest("bup-oslo", child, "cns-made-up")),
              StatusIs(absl::StatusCode::kNotFound, "consent not found"));
  EXPECT_THAT(consents_->Get(kSchool, c.id()),
              StatusIs(absl::StatusCode::kNotFound, "consent not found"));
  // The recipient named in the consent may see it, without the national id.
  auto seen = consents_->Get(kBup, c.id());
  ASSERT_THAT(seen, IsOk());
  EXPECT_EQ(seen->subject_national_id(), "");
}

// "action outcome rule agency resource-id subject" of each event after the
// first `from`, the ids and pseudonym replaced by the names in `names`.
std::vector<std::string> Summaries(const std::vector<v1::AuditEvent>& events, size_t from,
                                   const std::map<std::string, std::string>& names) {
  auto name = [&names](const std::string& value) {
    auto it = names.find(value);
    return it == names.end() ? value : it->second;
  };
  std::vector<std::string> out;
  for (size_t i = from; i < events.size(); ++i) {
    const v1::AuditEvent& e = events[i];
    out.push_back(absl::StrCat(e.action(), " ", v1::AuditOutcome_Name(e.outcome()), " ", e.rule(),
                               " ", e.actor().agency(), " ", name(e.resource().id()), " ",
                               name(e.subject())));
  }
  return out;
}

// An unrelated agency learns nothing about a consent: NOT_FOUND before any
// decryption (also when the recording agency's key version was shredded, which
// once answered FAILED_PRECONDITION naming that agency), and each probe is a
// DENIED event for the auditors. A made-up id leaves no event.
TEST_F(ReferralDomainTest, ConsentProbeByAnUnrelatedAgencyIsNotFoundAndAudited) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  const std::string pseudonym = consents_->GetConsentFacts(c.id())->subject_pseudonym;
  ASSERT_THAT(keyring_->Rotate("legekontor-sentrum"), IsOk());
  ASSERT_THAT(keyring_->Shred("legekontor-sentrum", 1), IsOk());
  const size_t before = AuditEvents().size();

  EXPECT_THAT(consents_->Get(kSchool, c.id()),
              StatusIs(absl::StatusCode::kNotFound, "consent not found"));
  EXPECT_THAT(consents_->Revoke(kSchool, RevokeRequest(c.id(), "nysgjerrig")),
              StatusIs(absl::StatusCode::kNotFound, "consent not found"));
  EXPECT_THAT(consents_->Get(kSchool, "cns-made-up"),
              StatusIs(absl::StatusCode::kNotFound, "consent not found"));
  EXPECT_THAT(Summaries(AuditEvents(), before, {{c.id(), "CONSENT"}, {pseudonym, "CHILD"}}),
              ElementsAre("consent.read AUDIT_OUTCOME_DENIED consent.not_visible skole-oslo "
                          "CONSENT CHILD",
                          "consent.revoke AUDIT_OUTCOME_DENIED consent.not_visible skole-oslo "
                          "CONSENT CHILD"));
  // The named recipient still sees it (sealed for it too).
  auto seen = consents_->Get(kBup, c.id());
  ASSERT_THAT(seen, IsOk());
  EXPECT_EQ(seen->subject_national_id(), "");
}

// Probes of another agency's referral: the same NOT_FOUND as a made-up id,
// and a DENIED event (referral.not_visible) for each.
TEST_F(ReferralDomainTest, ReferralProbeByAnUnrelatedAgencyIsAudited) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  const std::string pseudonym = consents_->GetConsentFacts(c.id())->subject_pseudonym;
  const size_t before = AuditEvents().size();

  EXPECT_THAT(desk_->Get(kPpt, sent->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  EXPECT_THAT(desk_->Acknowledge(kPpt, sent->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  EXPECT_THAT(desk_->GetThread(kPpt, sent->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  EXPECT_THAT(desk_->Get(kPpt, "ref-made-up"),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  EXPECT_THAT(
      Summaries(AuditEvents(), before, {{sent->id(), "REFERRAL"}, {pseudonym, "CHILD"}}),
      ElementsAre(
          "referral.read AUDIT_OUTCOME_DENIED referral.not_visible ppt-oslo REFERRAL CHILD",
          "referral.acknowledge AUDIT_OUTCOME_DENIED referral.not_visible ppt-oslo REFERRAL CHILD",
          "referral.thread.read AUDIT_OUTCOME_DENIED referral.not_visible ppt-oslo REFERRAL "
          "CHILD"));
}

// The subject pseudonym is in the clear beside the envelope but bound into its
// authenticated data: a value whose pseudonym is swapped for another child's
// (directly in RocksDB) is DATA_LOSS, never the record under another subject.
TEST_F(ReferralDomainTest, SwappedSubjectPseudonymIsDataLoss) {
  const std::string child = Child(10), other = Child(11, 321);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  v1::Consent other_consent = RecordConsent(kGp, other, "bup-oslo");
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  const std::string other_pseudonym =
      consents_->GetConsentFacts(other_consent.id())->subject_pseudonym;
  auto swap = [&](const std::string& cf, const std::string& key) {
    auto value = store_->Get(cf, key);
    ASSERT_THAT(value, IsOk()) << key;
    std::string pseudonym, sealed;
    ASSERT_TRUE(common::Unframe(*value, &pseudonym, &sealed)) << key;
    ASSERT_NE(pseudonym, other_pseudonym);
    ASSERT_THAT(store_->Put(cf, key, common::Frame(other_pseudonym, sealed)), IsOk());
  };
  swap(consent::kColumnFamily, "c/" + c.id());
  swap(consent::kColumnFamily, "f/" + c.id());
  swap(referral::kColumnFamily, "r/" + sent->id());
  const std::string tampered =
      "envelope content does not authenticate: the value was moved, swapped or tampered with";
  EXPECT_THAT(consents_->Get(kGp, c.id()), StatusIs(absl::StatusCode::kDataLoss, tampered));
  EXPECT_THAT(consents_->GetConsentFacts(c.id()), StatusIs(absl::StatusCode::kDataLoss, tampered));
  EXPECT_THAT(desk_->Get(kGp, sent->id()), StatusIs(absl::StatusCode::kDataLoss, tampered));
  // The other child's records are untouched.
  EXPECT_THAT(consents_->Get(kGp, other_consent.id()), IsOk());
}

TEST_F(ReferralDomainTest, RevocationBeforeAcknowledgeWithdraws) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  inbox_->Clear();
  const v1::RevokeConsentRequest revoke = RevokeRequest(c.id(), "mor trekker samtykket");
  auto revoked = consents_->Revoke(kGp, revoke);
  ASSERT_THAT(revoked, IsOk());
  EXPECT_EQ(revoked->status(), v1::CONSENT_STATUS_REVOKED);
  EXPECT_THAT(
      inbox_->Lines(),
      ElementsAre(absl::StrCat("legekontor-sentrum INBOX_EVENT_TYPE_CONSENT_REVOKED ", c.id()),
                  absl::StrCat("bup-oslo INBOX_EVENT_TYPE_CONSENT_REVOKED ", c.id()),
                  absl::StrCat("bup-oslo INBOX_EVENT_TYPE_REFERRAL_WITHDRAWN ", sent->id())));

  auto read = desk_->Get(kBup, sent->id());
  EXPECT_THAT(read, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("consent.revoked")));
  EXPECT_THAT(desk_->Acknowledge(kBup, sent->id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("referral.withdrawn")));
  auto mine = desk_->Get(kGp, sent->id());
  ASSERT_THAT(mine, IsOk());
  EXPECT_EQ(mine->status(), v1::REFERRAL_STATUS_WITHDRAWN);
  // Revoke again: unchanged. And a new Send under it is refused.
  EXPECT_THAT(consents_->Revoke(kGp, revoke), IsOk());
  EXPECT_THAT(Rules(desk_->Send(kGp, SendRequest("bup-oslo", child, c.id())).status()),
              ElementsAre("consent.revoked"));
  auto denied = AuditEvents("referral.read");
  ASSERT_THAT(denied, SizeIs(2));
  EXPECT_EQ(denied[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(denied[0].rule(), "consent.revoked");
}

TEST_F(ReferralDomainTest, RevocationAfterAcknowledgeKeepsWhatWasReceived) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto att = Upload(kGp, "%PDF-1.4 epikrise .......", "application/pdf");
  ASSERT_THAT(att, IsOk());
  v1::SendReferralRequest req = SendRequest("bup-oslo", child, c.id());
  req.add_attachment_ids(att->id());
  auto sent = desk_->Send(kGp, req);
  ASSERT_THAT(sent, IsOk());
  ASSERT_THAT(desk_->Acknowledge(kBup, sent->id()), IsOk());
  const v1::RevokeConsentRequest revoke = RevokeRequest(c.id(), "far trekker samtykket");
  // The recipient may revoke on the giver's word.
  ASSERT_THAT(consents_->Revoke(kBup, revoke), IsOk());
  auto got = desk_->Get(kBup, sent->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  auto dl = desk_->Download(kBup, sent->id(), att->id(),
                            [](const v1::DownloadAttachmentResponse&) { return true; });
  EXPECT_THAT(dl, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("consent.revoked")));
}

TEST_F(ReferralDomainTest, NoReadSucceedsAfterRevokeReturns) {
  // Many referrals, each raced: readers hammer Get before, while and after
  // the consent is revoked. Every read that starts after Revoke returned must
  // be refused; reads succeeded before Revoke; and reads overlapped Revoke
  // (started before it returned, ended after it began).
  enum Phase : int { kBefore = 0, kRevoking = 1, kRevoked = 2 };
  constexpr int kRounds = 40;
  constexpr int kReadsAfter = 5;  // refused reads each reader makes after Revoke
  int rounds_with_overlap = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string child = Child(10, 100 + round);
    v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
    auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
    ASSERT_THAT(sent, IsOk());
    std::atomic<int> phase{kBefore};
    std::atomic<int> ok_before{0}, overlapping{0}, violations{0}, refused_after{0};
    // Bounds the round whatever happens on the main thread.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
      readers.emplace_back([&] {
        int after = 0;
        while (after < kReadsAfter && absl::Now() < deadline) {
          const int start = phase.load();
          auto r = desk_->Get(kBup, sent->id());
          const int end = phase.load();
          if (start == kBefore && r.ok()) ++ok_before;
          if (start <= kRevoking && end >= kRevoking) ++overlapping;
          if (start == kRevoked) {
            ++after;
            if (r.ok()) {
              ++violations;
            } else if (absl::IsFailedPrecondition(r.status())) {
              ++refused_after;
            }
          }
        }
      });
    }
    // Wait (bounded) until reads have succeeded before revoking.
    while (ok_before.load() < 2 && absl::Now() < deadline) std::this_thread::yield();
    EXPECT_GE(ok_before.load(), 2) << "round " << round;
    const v1::RevokeConsentRequest revoke = RevokeRequest(c.id(), "trukket");
    phase.store(kRevoking);
    EXPECT_THAT(consents_->Revoke(kGp, revoke), IsOk());
    phase.store(kRevoked);
    for (auto& t : readers) t.join();
    EXPECT_EQ(violations.load(), 0) << "round " << round;
    EXPECT_EQ(refused_after.load(), 2 * kReadsAfter) << "round " << round;
    rounds_with_overlap += overlapping.load() > 0;
    EXPECT_THAT(desk_->Get(kBup, sent->id()),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("consent.revoked")));
  }
  // Readers were running while Revoke ran (not merely before and after).
  EXPECT_GT(rounds_with_overlap, 0);
}

TEST_F(ReferralDomainTest, ThirdAgencyCannotReadAndStoredBytesAreSealed) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  EXPECT_THAT(desk_->Get(kPpt, sent->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  EXPECT_THAT(desk_->Get(kPpt, "ref-made-up"),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  EXPECT_THAT(desk_->Acknowledge(kGp, sent->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));

  // At rest: neither the national id nor the reason appears; a third
  // agency's key does not open the envelope.
  const std::string raw = RawBytes(referral::kColumnFamily) + RawBytes(consent::kColumnFamily);
  EXPECT_THAT(raw, ::testing::Not(HasSubstr(child)));
  EXPECT_THAT(raw, ::testing::Not(HasSubstr("søvnvansker")));
  auto value = store_->Get(referral::kColumnFamily, absl::StrCat("r/", sent->id()));
  ASSERT_THAT(value, IsOk());
  ASSERT_THAT(keyring_->EnsureAgencyKey("ppt-oslo"), IsOk());
  auto envelope = *storage::Envelope::Create(keyring_.get());
  const std::string sealed = value->substr(4 + 64);  // after the framed pseudonym
  auto readers = storage::Envelope::Readers(sealed);
  ASSERT_THAT(readers, IsOk());
  ASSERT_THAT(*readers, SizeIs(2));
  EXPECT_EQ((*readers)[0].agency, "legekontor-sentrum");
  EXPECT_EQ((*readers)[1].agency, "bup-oslo");
  EXPECT_THAT(
      envelope->Open(referral::kColumnFamily, absl::StrCat("r/", sent->id()), sealed, "ppt-oslo"),
      StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
}

// The day of the age check is the day the referral is stamped with, also when
// the clock crosses midnight during Send: a child of 15 turns 16 at midnight,
// and a guardian's consent holds only before.
TEST_F(ReferralDomainTest, SendReadsTheClockOnceForCheckAndStamp) {
  const std::string child = Child(15);  // 16 on 2025-06-02
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  clock_.Set(
      absl::FromCivil(absl::CivilSecond(2025, 6, 1, 23, 59, 59), policy::NorwegianTimeZone()));
  clock_.SetStepPerReading(absl::Seconds(1));
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  const absl::CivilDay stamped = absl::ToCivilDay(
      absl::FromUnixSeconds(sent->create_time().seconds()), policy::NorwegianTimeZone());
  EXPECT_EQ(stamped, absl::CivilDay(2025, 6, 1));
}

TEST_F(ReferralDomainTest, RetriedSendYieldsOneReferral) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  v1::SendReferralRequest req = SendRequest("bup-oslo", child, c.id());
  auto first = desk_->Send(kGp, req);
  ASSERT_THAT(first, IsOk());
  auto second = desk_->Send(kGp, req);  // the response was "lost"
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->id(), first->id());
  v1::ListReferralsRequest sent_box;
  sent_box.set_mailbox(v1::MAILBOX_SENT);
  EXPECT_THAT(desk_->List(kGp, sent_box)->referrals(), SizeIs(1));
  EXPECT_THAT(AuditEvents("referral.send"), SizeIs(1));
}

TEST_F(ReferralDomainTest, SendRequestIdReusedForAnotherRequestIsAlreadyExists) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  v1::SendReferralRequest req = SendRequest("bup-oslo", child, c.id());
  ASSERT_THAT(desk_->Send(kGp, req), IsOk());
  v1::SendReferralRequest other = req;
  other.set_reason("En annen henvisning med samme request_id.");
  EXPECT_THAT(desk_->Send(kGp, other),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr(absl::StrCat("request_id '", req.request_id(),
                                              "' was already used for a different request"))));
  EXPECT_THAT(AuditEvents("referral.send"), SizeIs(1));
}

TEST_F(ReferralDomainTest, UploadRequestIdReusedForAnotherFileIsAlreadyExists) {
  const std::string a = "%PDF-1.7 henvisning for barn A";
  const std::string b = "%PDF-1.7 henvisning for barn B";
  auto upload = [&](const std::string& data) -> absl::StatusOr<v1::AttachmentInfo> {
    const v1::AttachmentMetadata m = Metadata("up-same", "barn.pdf", "application/pdf", data);
    auto up = desk_->BeginUpload(kGp, m);
    if (!up.ok()) return up.status();
    absl::Status s = (*up)->AddChunk(data);
    if (!s.ok()) return s;
    return (*up)->Finish();
  };
  auto first = upload(a);
  ASSERT_THAT(first, IsOk());
  auto again = upload(a);  // the same file again: the first result
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->id(), first->id());
  EXPECT_THAT(upload(b), StatusIs(absl::StatusCode::kAlreadyExists,
                                  HasSubstr("request_id 'up-same' was already used for a "
                                            "different request")));
  EXPECT_THAT(AuditEvents("attachment.upload"), SizeIs(1));
}

// Whether `done` holds within 5 s (polled).
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

// An uploaded attachment that no Send or message uses is purged by the desk's
// background job once it is older than options.unsent_attachment_max_age
// (default 24 h, `--attachment-max-age-hours`): info, chunks and request id,
// with an "attachment.purge" event. One that was sent stays.
TEST_F(ReferralDomainTest, UnsentAttachmentsArePurgedAfterTheMaxAge) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  const absl::Time start = clock_.Now();
  auto sent = Upload(kGp, "%PDF-1.4 vedlegg som sendes", "application/pdf");
  auto forgotten = Upload(kGp, "%PDF-1.4 vedlegg som glemmes", "application/pdf");
  clock_.Set(start + absl::Hours(1));
  auto younger = Upload(kGp, "%PDF-1.4 vedlegg lastet opp senere", "application/pdf");
  ASSERT_THAT(sent, IsOk());
  ASSERT_THAT(forgotten, IsOk());
  ASSERT_THAT(younger, IsOk());
  v1::SendReferralRequest send = SendRequest("bup-oslo", child, c.id());
  send.add_attachment_ids(sent->id());
  auto referral = desk_->Send(kGp, send);
  ASSERT_THAT(referral, IsOk());
  auto stored = [this](const std::string& id) {
    return RawBytes(referral::kAttachmentColumnFamily).find(id) != std::string::npos;
  };
  desk_->StartEscalationJob(absl::Milliseconds(5));

  clock_.Set(start + absl::Hours(24) - absl::Seconds(1));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(stored(forgotten->id()));
  clock_.Set(start + absl::Hours(24));
  EXPECT_TRUE(Eventually([&] { return !stored(forgotten->id()); }));
  EXPECT_TRUE(stored(younger->id()));
  v1::SendReferralRequest late = SendRequest("bup-oslo", child, c.id());
  late.add_attachment_ids(forgotten->id());
  EXPECT_THAT(desk_->Send(kGp, late),
              StatusIs(absl::StatusCode::kNotFound, "attachment not found"));

  clock_.Set(start + absl::Hours(25));
  EXPECT_TRUE(Eventually([&] { return !stored(younger->id()); }));
  // The sent one stays, readable by the recipient.
  EXPECT_TRUE(stored(sent->id()));
  ASSERT_THAT(desk_->Acknowledge(kBup, referral->id()), IsOk());
  auto downloaded = DownloadAll(kBup, referral->id(), sent->id());
  ASSERT_THAT(downloaded, IsOk());
  EXPECT_EQ(*downloaded, "%PDF-1.4 vedlegg som sendes");
  std::vector<std::string> purged;
  for (const v1::AuditEvent& e : AuditEvents("attachment.purge")) {
    purged.push_back(absl::StrCat(e.resource().id(), " ", e.actor().service(), " ",
                                  v1::AuditOutcome_Name(e.outcome())));
  }
  EXPECT_THAT(purged, ElementsAre(forgotten->id() + " referral AUDIT_OUTCOME_ALLOWED",
                                  younger->id() + " referral AUDIT_OUTCOME_ALLOWED"));
}

TEST_F(ReferralDomainTest, ConsentRequestIdReusedForAnotherConsentIsAlreadyExists) {
  v1::RecordConsentRequest req = ConsentRequest(Child(10), "bup-oslo");
  auto first = consents_->Record(kGp, req);
  ASSERT_THAT(first, IsOk());
  auto again = consents_->Record(kGp, req);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->id(), first->id());
  v1::RecordConsentRequest other = ConsentRequest(Child(11), "bup-oslo");
  other.set_request_id(req.request_id());
  EXPECT_THAT(consents_->Record(kGp, other),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr(absl::StrCat("request_id '", req.request_id(),
                                              "' was already used for a different request"))));
  EXPECT_THAT(AuditEvents("consent.record"), SizeIs(1));
}

TEST_F(ReferralDomainTest, ConsentServiceUnavailableFailsReadsInsteadOfWithdrawing) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  v1::ListReferralsRequest received;
  received.set_mailbox(v1::MAILBOX_RECEIVED);
  v1::ListReferralsRequest sent_box;
  sent_box.set_mailbox(v1::MAILBOX_SENT);

  checker_.down = true;
  EXPECT_THAT(desk_->Get(kBup, sent->id()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("consent service unreachable")));
  EXPECT_THAT(desk_->Get(kGp, sent->id()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("consent service unreachable")));
  EXPECT_THAT(desk_->List(kBup, received),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("consent service unreachable")));
  EXPECT_THAT(desk_->List(kGp, sent_box),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("consent service unreachable")));
  EXPECT_THAT(AuditEvents("referral.read"), IsEmpty());

  checker_.down = false;
  auto got = desk_->Get(kBup, sent->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->status(), v1::REFERRAL_STATUS_SENT);
  auto listed = desk_->List(kBup, received);
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(listed->referrals(), SizeIs(1));
  EXPECT_EQ(listed->referrals(0).status(), v1::REFERRAL_STATUS_SENT);
}

TEST_F(ReferralDomainTest, GetReadsTheConsentOnceAndListOncePerConsent) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(desk_->Send(kGp, SendRequest("bup-oslo", child, c.id())), IsOk());
  }
  v1::ListReferralsRequest received;
  received.set_mailbox(v1::MAILBOX_RECEIVED);
  checker_.calls = 0;
  auto listed = desk_->List(kBup, received);
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(listed->referrals(), SizeIs(3));
  EXPECT_EQ(checker_.calls, 1);
  checker_.calls = 0;
  ASSERT_THAT(desk_->Get(kBup, listed->referrals(0).id()), IsOk());
  EXPECT_EQ(checker_.calls, 1);
}

TEST_F(ReferralDomainTest, PptNeedsParentConversationAndActionLog) {
  const std::string child = Child(6);
  v1::Consent c = RecordConsent(kStaff, child, "ppt-oslo");
  v1::SendReferralRequest req = SendRequest("ppt-oslo", child, c.id());
  // Sent by staff: the head has not signed it either.
  EXPECT_THAT(Rules(desk_->Send(kStaff, req).status()),
              ElementsAre("referral.ppt.head_signoff", "referral.ppt.parent_conversation",
                          "referral.ppt.action_log"));
  EXPECT_THAT(Rules(desk_->Send(kLeader, req).status()),
              ElementsAre("referral.ppt.parent_conversation", "referral.ppt.action_log"));
  auto log = Upload(kStaff, "Tiltakslogg: uke 1 ...", "text/plain", v1::ATTACHMENT_KIND_ACTION_LOG);
  ASSERT_THAT(log, IsOk());
  req.add_attachment_ids(log->id());
  req.mutable_parent_conversation_date()->set_year(2025);
  req.mutable_parent_conversation_date()->set_month(5);
  req.mutable_parent_conversation_date()->set_day(2);
  req.mutable_ppt()->set_requested_assessment("spesialundervisning");
  auto sent = desk_->Send(kLeader, req);
  ASSERT_THAT(sent, IsOk());
  std::string got;
  ASSERT_THAT(desk_->Download(kPpt, sent->id(), log->id(),
                              [&](const v1::DownloadAttachmentResponse& p) {
                                if (p.has_info()) {
                                  EXPECT_EQ(p.info().kind(), v1::ATTACHMENT_KIND_ACTION_LOG);
                                }
                                got += p.chunk();
                                return true;
                              }),
              IsOk());
  EXPECT_EQ(got, "Tiltakslogg: uke 1 ...");
  // An attachment already used is as unknown as a made-up one.
  v1::SendReferralRequest again = SendRequest("ppt-oslo", child, c.id());
  again.add_attachment_ids(log->id());
  EXPECT_THAT(desk_->Send(kLeader, again), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

// Issue 20, defect 7: Send re-encrypted every chunk of every attachment for
// the new readers (up to 20 x 25 MiB in one batch, under the desk's mutex).
// Now the content is encrypted once under a content key of its own, and Send
// reseals only that key: the chunks stay byte for byte.
TEST_F(ReferralDomainTest, SendGivesTheContentKeyNotANewCopyOfTheContent) {
  std::string data(3u << 20, 'y');
  std::memcpy(data.data(), "%PDF-1.7\n", 9);
  data[(1u << 20) + 5] = 'z';  // chunks differ
  auto info = Upload(kGp, data, "application/pdf");
  ASSERT_THAT(info, IsOk());
  const std::string cf = referral::kAttachmentColumnFamily;
  auto chunks = [&] {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = store_->Scan(cf, absl::StrCat("d/", info->id(), "/")); it->Valid(); it->Next()) {
      out.emplace_back(it->key(), it->value());
    }
    return out;
  };
  const auto before = chunks();
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before[0].second[0], '\xc1');
  const std::string key_record = absl::StrCat("c/", info->id());
  const std::string sealed_key = *store_->Get(cf, key_record);

  auto sent = SendToBupWith(info->id());
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(chunks(), before);
  EXPECT_NE(*store_->Get(cf, key_record), sealed_key);
  auto readers = storage::Envelope::Readers(*store_->Get(cf, key_record));
  ASSERT_THAT(readers, IsOk());
  ASSERT_EQ(readers->size(), 2u);
  EXPECT_EQ((*readers)[0].agency, "legekontor-sentrum");
  EXPECT_EQ((*readers)[1].agency, "bup-oslo");
  auto got = DownloadAll(kBup, sent->id(), info->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, data);
  // A chunk moved to another index of the attachment does not open.
  ASSERT_THAT(store_->Put(cf, before[1].first, before[0].second), IsOk());
  EXPECT_THAT(desk_->Download(kBup, sent->id(), info->id(),
                              [](const v1::DownloadAttachmentResponse&) { return true; }),
              StatusIs(absl::StatusCode::kDataLoss, "attachment chunk does not authenticate"));
}

// Attachments stored before content keys (each chunk an envelope of its own,
// no "c/" record) are still sent and read: their chunks are resealed.
TEST_F(ReferralDomainTest, AttachmentStoredBeforeContentKeysIsStillSentAndRead) {
  const std::string data = "%PDF-1.4 gammel fil";
  auto info = Upload(kGp, data, "application/pdf");
  ASSERT_THAT(info, IsOk());
  const std::string cf = referral::kAttachmentColumnFamily;
  auto envelope = *storage::Envelope::Create(keyring_.get());
  const std::string chunk_key = absl::StrCat("d/", info->id(), "/000000");
  ASSERT_THAT(
      store_->Put(cf, chunk_key, *envelope->Seal(cf, chunk_key, data, {"legekontor-sentrum"})),
      IsOk());
  ASSERT_THAT(store_->Delete(cf, absl::StrCat("c/", info->id())), IsOk());

  auto sent = SendToBupWith(info->id());
  ASSERT_THAT(sent, IsOk());
  auto got = DownloadAll(kBup, sent->id(), info->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, data);
  auto readers = storage::Envelope::Readers(*store_->Get(cf, chunk_key));
  ASSERT_THAT(readers, IsOk());
  EXPECT_EQ(readers->size(), 2u);
}

TEST_F(ReferralDomainTest, AttachmentLimitsAndRoundTrip) {
  std::string big(25u << 20, 'x');
  std::memcpy(big.data(), "%PDF-1.7\n", 9);
  auto info = Upload(kGp, big, "application/pdf");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->size(), 25u << 20);
  EXPECT_EQ(info->sha256(), Sha256(big));

  auto sent = SendToBupWith(info->id());
  ASSERT_THAT(sent, IsOk());
  auto got = DownloadAll(kBup, sent->id(), info->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->size(), big.size());
  EXPECT_EQ(Sha256(*got), Sha256(big));
  EXPECT_THAT(desk_->Download(kPpt, sent->id(), info->id(),
                              [](const v1::DownloadAttachmentResponse&) { return true; }),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));

  const std::string before = RawBytes(referral::kAttachmentColumnFamily);
  // 25 MiB + 1: refused from the metadata, before any byte is stored.
  EXPECT_THAT(Upload(kGp, "", "application/pdf", v1::ATTACHMENT_KIND_OTHER, (25u << 20) + 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too large")));
  // A Windows executable called a PDF, or plain text.
  std::string exe = std::string("MZ\x90\x00\x03\x00\x00\x00", 8) + std::string(100, '\0');
  EXPECT_THAT(Upload(kGp, exe, "application/pdf"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("executable")));
  EXPECT_THAT(Upload(kGp, exe, "text/plain"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("executable")));
  EXPECT_THAT(Upload(kGp, "not a png at all, really", "image/png"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(Upload(kGp, "%PDF-1.4", "application/x-msdownload"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("content_type")));
  // A client that goes away mid-upload: the upload is dropped unfinished.
  {
    v1::AttachmentMetadata m;
    m.set_request_id("abandoned");
    m.set_filename("halv.pdf");
    m.set_content_type("application/pdf");
    m.set_kind(v1::ATTACHMENT_KIND_OTHER);
    m.set_size(3u << 20);
    m.set_sha256(std::string(32, 'a'));
    auto up = desk_->BeginUpload(kGp, m);
    ASSERT_THAT(up, IsOk());
    ASSERT_THAT((*up)->AddChunk("%PDF-1.4" + std::string((1 << 20) - 8, 'y')), IsOk());
  }
  EXPECT_EQ(RawBytes(referral::kAttachmentColumnFamily), before);
  EXPECT_THAT(AuditEvents("attachment.upload"), SizeIs(1));
}

// An upload is stored as it arrives: each full chunk is sealed and written
// at once, so it never holds a whole attachment in memory (issue 20: 16
// uploads of 25 MiB were 400 MiB).
TEST_F(ReferralDomainTest, AnUploadIsStoredAsItArrivesHoldingLessThanOneChunk) {
  std::string data((5u << 20) + 12345, 'z');
  std::memcpy(data.data(), "%PDF-1.7\n", 9);
  const v1::AttachmentMetadata m = Metadata("streamed", "stor.pdf", "application/pdf", data);
  auto chunk_rows = [this] {
    int n = 0;
    for (auto it = store_->Scan(referral::kAttachmentColumnFamily, "d/"); it->Valid(); it->Next()) {
      ++n;
    }
    return n;
  };
  auto up = desk_->BeginUpload(kGp, m);
  ASSERT_THAT(up, IsOk());
  size_t most = 0;
  for (size_t off = 0; off < data.size(); off += 64 << 10) {
    ASSERT_THAT((*up)->AddChunk(absl::string_view(data).substr(off, 64 << 10)), IsOk());
    most = std::max(most, (*up)->buffered_bytes());
  }
  EXPECT_EQ(most, (1u << 20) - (64u << 10));
  EXPECT_EQ(chunk_rows(), 5);  // staged; the last 12,345 bytes go with the record
  EXPECT_THAT(AuditEvents("attachment.upload"), SizeIs(0));
  auto info = (*up)->Finish();
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(chunk_rows(), 6);
  auto sent = SendToBupWith(info->id());
  ASSERT_THAT(sent, IsOk());
  auto got = DownloadAll(kBup, sent->id(), info->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, data);
}

TEST_F(ReferralDomainTest, TextUploadsAreCheckedAcrossChunkBoundaries) {
  auto text_upload = [&](const std::string& id, const std::vector<std::string>& pieces) {
    std::string all;
    for (const auto& p : pieces) all += p;
    const v1::AttachmentMetadata m =
        Metadata(id, "logg.txt", "text/plain", all, v1::ATTACHMENT_KIND_ACTION_LOG);
    auto up = desk_->BeginUpload(kStaff, m);
    if (!up.ok()) return up.status();
    for (const auto& p : pieces) {
      if (absl::Status s = (*up)->AddChunk(p); !s.ok()) return s;
    }
    return (*up)->Finish().status();
  };
  // "ø" is two bytes, split between two chunks: valid text. A NUL byte past
  // the first 16 makes it not text at all; a sequence cut short, bad UTF-8.
  EXPECT_THAT(text_upload("split", {"Tiltakslogg: m\xc3", "\xb8te i barnehagen"}), IsOk());
  EXPECT_THAT(text_upload("nul", {"Tiltakslogg: uke 1, alt vel", std::string("\0", 1)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "attachment content does not match content_type text/plain"));
  EXPECT_THAT(
      text_upload("cut", {"Tiltakslogg: m\xc3"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "text/plain attachment is not UTF-8 text"));
}

TEST_F(ReferralDomainTest, StagedChunksOfAnUploadOlderThanThePurgeAgeAreRemoved) {
  // An upload that outlives unsent_attachment_max_age (or whose process died)
  // leaves staged chunks with an empty p/ row: the purge removes them, and
  // the upload, if it still runs, cannot finish on missing chunks.
  v1::AttachmentMetadata m;
  m.set_request_id("very-slow");
  m.set_filename("treg.pdf");
  m.set_content_type("application/pdf");
  m.set_kind(v1::ATTACHMENT_KIND_OTHER);
  const std::string data = "%PDF-1.4" + std::string((1 << 20) + 100, 'q');
  m.set_size(data.size());
  m.set_sha256(Sha256(data));
  const std::string before = RawBytes(referral::kAttachmentColumnFamily);
  auto up = desk_->BeginUpload(kGp, m);
  ASSERT_THAT(up, IsOk());
  ASSERT_THAT((*up)->AddChunk(absl::string_view(data).substr(0, 1 << 20)), IsOk());
  EXPECT_NE(RawBytes(referral::kAttachmentColumnFamily), before);
  clock_.Advance(absl::Hours(24) + absl::Seconds(1));
  auto purged = desk_->PurgeUnsentAttachments();
  ASSERT_THAT(purged.status(), IsOk());
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(RawBytes(referral::kAttachmentColumnFamily), before);
  ASSERT_THAT((*up)->AddChunk(absl::string_view(data).substr(1 << 20)), IsOk());
  EXPECT_THAT((*up)->Finish(), StatusIs(absl::StatusCode::kAborted,
                                        "the upload was purged before it finished; upload again"));
}

// Retries and no-ops that return the referral are reads: audited first,
// UNAVAILABLE and no content when that fails.
TEST_F(ReferralDomainTest, RetriedSendAndNoOpTransitionAreAuditedFailClosed) {
  common::FakeAuditOutbox fake;
  auto desk = *referral::ReferralDesk::Create(store_.get(), keyring_.get(), &fake, inbox_.get(),
                                              &directory_, consents_.get(), &clock_);
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  v1::SendReferralRequest req = SendRequest("bup-oslo", child, c.id());
  auto first = desk->Send(kGp, req);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(desk->Acknowledge(kBup, first->id()), IsOk());
  fake.Clear();
  fake.SetFailing(true);
  EXPECT_THAT(desk->Send(kGp, req), StatusIs(absl::StatusCode::kUnavailable,
                                             Eq("audit log unavailable: injected failure")));
  EXPECT_THAT(
      desk->Acknowledge(kBup, first->id()),
      StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected failure")));
  fake.SetFailing(false);
  auto again = desk->Send(kGp, req);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(again->subject_national_id(), child);
  auto ack_again = desk->Acknowledge(kBup, first->id());
  ASSERT_THAT(ack_again, IsOk());
  EXPECT_EQ(ack_again->status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  std::vector<v1::AuditEvent> events = fake.events();
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].action(), "referral.read");
  EXPECT_EQ(events[0].resource().id(), first->id());
  EXPECT_EQ(events[0].request_id(), req.request_id());
  EXPECT_EQ(events[0].actor().agency(), "legekontor-sentrum");
  EXPECT_EQ(events[0].legal_basis(), v1::LEGAL_BASIS_CONSENT);
  EXPECT_EQ(events[0].consent_id(), c.id());
  EXPECT_EQ(events[1].action(), "referral.read");
  EXPECT_EQ(events[1].resource().id(), first->id());
  EXPECT_EQ(events[1].actor().agency(), "bup-oslo");
  // Nothing was written: still one referral.
  v1::ListReferralsRequest sent_box;
  sent_box.set_mailbox(v1::MAILBOX_SENT);
  EXPECT_THAT(desk_->List(kGp, sent_box)->referrals(), SizeIs(1));
}

TEST_F(ReferralDomainTest, RetriedRecordAndRepeatedRevokeAreAuditedFailClosed) {
  common::FakeAuditOutbox fake;
  auto registry = *consent::ConsentRegistry::Create(store_.get(), keyring_.get(), &fake,
                                                    inbox_.get(), &directory_, &clock_);
  const std::string child = Child(10);
  v1::RecordConsentRequest req = ConsentRequest(child, "bup-oslo");
  req.set_request_id("rc-retry");
  auto first = registry->Record(kGp, req);
  ASSERT_THAT(first, IsOk());
  const v1::RevokeConsentRequest revoke = RevokeRequest(first->id(), "mor trekker samtykket");
  ASSERT_THAT(registry->Revoke(kGp, revoke), IsOk());
  fake.Clear();
  fake.SetFailing(true);
  EXPECT_THAT(registry->Record(kGp, req), StatusIs(absl::StatusCode::kUnavailable,
                                                   Eq("audit log unavailable: injected failure")));
  EXPECT_THAT(
      registry->Revoke(kGp, revoke),
      StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected failure")));
  fake.SetFailing(false);
  auto again = registry->Record(kGp, req);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(again->subject_national_id(), child);
  EXPECT_EQ(again->status(), v1::CONSENT_STATUS_REVOKED);
  auto revoked_again = registry->Revoke(kGp, revoke);
  ASSERT_THAT(revoked_again, IsOk());
  EXPECT_EQ(revoked_again->status(), v1::CONSENT_STATUS_REVOKED);
  std::vector<v1::AuditEvent> events = fake.events();
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].action(), "consent.read");
  EXPECT_EQ(events[0].resource().id(), first->id());
  EXPECT_EQ(events[0].request_id(), "rc-retry");
  EXPECT_EQ(events[1].action(), "consent.read");
  EXPECT_EQ(events[1].resource().id(), first->id());
  EXPECT_EQ(events[1].request_id(), "");
}

// A fan-out that failed is completed by revoking again.
TEST_F(ReferralDomainTest, RepeatedRevokeCompletesAnInterruptedFanOut) {
  FlakyObserver flaky(desk_.get());
  consents_->SetObserver(&flaky);
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  inbox_->Clear();
  const v1::RevokeConsentRequest revoke = RevokeRequest(c.id(), "mor trekker samtykket");
  flaky.fail_next = true;
  EXPECT_THAT(consents_->Revoke(kGp, revoke),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("fan-out interrupted")));
  EXPECT_THAT(AuditEvents("referral.withdraw"), IsEmpty());
  auto again = consents_->Revoke(kGp, revoke);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->status(), v1::CONSENT_STATUS_REVOKED);
  EXPECT_EQ(flaky.calls, 2);
  auto withdrawn = AuditEvents("referral.withdraw");
  ASSERT_THAT(withdrawn, SizeIs(1));
  EXPECT_EQ(withdrawn[0].resource().id(), sent->id());
  EXPECT_THAT(
      inbox_->Lines(),
      ElementsAre(absl::StrCat("legekontor-sentrum INBOX_EVENT_TYPE_CONSENT_REVOKED ", c.id()),
                  absl::StrCat("bup-oslo INBOX_EVENT_TYPE_CONSENT_REVOKED ", c.id()),
                  absl::StrCat("bup-oslo INBOX_EVENT_TYPE_REFERRAL_WITHDRAWN ", sent->id())));
  // A third Revoke changes nothing more.
  ASSERT_THAT(consents_->Revoke(kGp, revoke), IsOk());
  EXPECT_EQ(flaky.calls, 3);
  EXPECT_THAT(AuditEvents("referral.withdraw"), SizeIs(1));
  EXPECT_THAT(inbox_->Lines(), SizeIs(3));
  consents_->SetObserver(desk_.get());
}

// One referral that cannot be withdrawn does not stop the others.
TEST_F(ReferralDomainTest, FanOutContinuesPastAFailingReferral) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(sent, IsOk());
  // A dangling index entry that sorts before the real one.
  storage::WriteBatch batch;
  batch.Put(referral::kColumnFamily,
            absl::StrCat("k/", c.id(), "/bup-oslo/ref-", std::string(32, '0')), "");
  ASSERT_THAT(store_->Write(std::move(batch)), IsOk());
  const v1::RevokeConsentRequest revoke = RevokeRequest(c.id(), "mor trekker samtykket");
  EXPECT_THAT(consents_->Revoke(kGp, revoke),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("referral not found")));
  auto withdrawn = AuditEvents("referral.withdraw");
  ASSERT_THAT(withdrawn, SizeIs(1));
  EXPECT_EQ(withdrawn[0].resource().id(), sent->id());
}

TEST_F(ReferralDomainTest, UploadsInProgressAreCappedPerCallerPerAgencyAndInAll) {
  auto begin = [&](const common::Caller& who, const std::string& rid) {
    v1::AttachmentMetadata m;
    m.set_request_id(rid);
    m.set_filename("stor.pdf");
    m.set_content_type("application/pdf");
    m.set_kind(v1::ATTACHMENT_KIND_OTHER);
    m.set_size(25u << 20);
    m.set_sha256(std::string(32, 'a'));
    return desk_->BeginUpload(who, m);
  };
  std::vector<std::unique_ptr<referral::AttachmentUpload>> open;
  auto hold = [&](const common::Caller& who, const std::string& rid) {
    auto up = begin(who, rid);
    if (up.ok()) open.push_back(std::move(*up));
    return up.status();
  };
  // Per caller: 2.
  ASSERT_THAT(hold(kGp, "gp-1"), IsOk());
  ASSERT_THAT(hold(kGp, "gp-2"), IsOk());
  EXPECT_THAT(begin(kGp, "gp-3"), StatusIs(absl::StatusCode::kResourceExhausted,
                                           "at most 2 uploads at once per caller; retry in 1 s"));
  EXPECT_THAT(Upload(kGp, "%PDF-1.4 epikrise", "application/pdf"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("per caller")));
  // Per agency: 4 (another person of the GP office gets the agency's last two).
  const common::Caller gp2 =
      common::testing::Person("legekontor-sentrum", v1::ROLE_PHYSICIAN, "lege2");
  ASSERT_THAT(hold(kGpStaff, "staff-1"), IsOk());
  ASSERT_THAT(hold(kGpStaff, "staff-2"), IsOk());
  EXPECT_THAT(begin(gp2, "gp2-1"), StatusIs(absl::StatusCode::kResourceExhausted,
                                            "at most 4 uploads at once per agency; retry in 1 s"));
  // Other agencies still upload: 16 in all.
  for (const common::Caller& who : {kBup, kPpt, kCw, kSchool, kStaff, kNurse}) {
    ASSERT_THAT(hold(who, absl::StrCat(who.identity.user, "-1")), IsOk());
    ASSERT_THAT(hold(who, absl::StrCat(who.identity.user, "-2")), IsOk());
  }
  EXPECT_THAT(begin(kAcute, "acute-1"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "at most 16 uploads at once on this server; retry in 1 s"));
  // An abandoned upload frees its slot; so does a finished one.
  open.erase(open.begin());  // kGp's first
  auto info = Upload(kGp, "%PDF-1.4 epikrise", "application/pdf");
  ASSERT_THAT(info, IsOk());
  EXPECT_THAT(hold(kGp, "gp-after"), IsOk());
  EXPECT_THAT(begin(kGp, "gp-over"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("retry in 1 s")));
}

// Records sealed under a shredded key version are skipped by List.
TEST_F(ReferralDomainTest, ListsSkipRecordsOfAShreddedKeyVersion) {
  const std::string child = Child(10);
  v1::Consent old_consent = RecordConsent(kGp, child, "bup-oslo");
  auto old_ref = desk_->Send(kGp, SendRequest("bup-oslo", child, old_consent.id()));
  ASSERT_THAT(old_ref, IsOk());
  auto v2 = keyring_->Rotate("legekontor-sentrum");
  ASSERT_THAT(v2, IsOk());
  EXPECT_EQ(*v2, 2u);
  ASSERT_THAT(keyring_->Shred("legekontor-sentrum", 1), IsOk());
  v1::Consent new_consent = RecordConsent(kGp, child, "bup-oslo");
  auto new_ref = desk_->Send(kGp, SendRequest("bup-oslo", child, new_consent.id()));
  ASSERT_THAT(new_ref, IsOk());

  auto consents = consents_->List(kGp, v1::ListConsentsRequest());
  ASSERT_THAT(consents, IsOk());
  ASSERT_THAT(consents->consents(), SizeIs(1));
  EXPECT_EQ(consents->consents(0).id(), new_consent.id());
  v1::ListReferralsRequest sent_box;
  sent_box.set_mailbox(v1::MAILBOX_SENT);
  auto sent = desk_->List(kGp, sent_box);
  ASSERT_THAT(sent, IsOk());
  ASSERT_THAT(sent->referrals(), SizeIs(1));
  EXPECT_EQ(sent->referrals(0).id(), new_ref->id());
  // The recipient's key was not shredded: it still sees both.
  v1::ListReferralsRequest received;
  received.set_mailbox(v1::MAILBOX_RECEIVED);
  auto got = desk_->List(kBup, received);
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(got->referrals(), SizeIs(2));
}

TEST_F(ReferralDomainTest, DecideRejectAndNeedInfoReachTheSender) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  auto first = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(first, IsOk());
  auto second = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(second, IsOk());
  inbox_->Clear();

  v1::DecideReferralRequest reject;
  reject.set_id(first->id());
  reject.set_decision(v1::REFERRAL_DECISION_REJECT);
  EXPECT_THAT(desk_->Decide(kBup, reject), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    "reason is required for REJECT and NEED_INFO"));
  reject.set_reason("Ikke indikasjon for BUP; kontakt PPT.");
  auto rejected = desk_->Decide(kBup, reject);
  ASSERT_THAT(rejected, IsOk());
  EXPECT_EQ(rejected->status(), v1::REFERRAL_STATUS_REJECTED);
  EXPECT_EQ(rejected->decision_reason(), "Ikke indikasjon for BUP; kontakt PPT.");
  EXPECT_EQ(rejected->decided_by().user(), "terapeut1");
  EXPECT_EQ(rejected->acknowledged_by().user(), "terapeut1");  // implicitly acknowledged
  EXPECT_THAT(inbox_->Lines(),
              ElementsAre(absl::StrCat(
                  "legekontor-sentrum INBOX_EVENT_TYPE_REFERRAL_STATUS_CHANGED ", first->id())));
  auto seen = desk_->Get(kGp, first->id());
  ASSERT_THAT(seen, IsOk());
  EXPECT_EQ(seen->status(), v1::REFERRAL_STATUS_REJECTED);
  EXPECT_EQ(seen->decision_reason(), "Ikke indikasjon for BUP; kontakt PPT.");
  // Rejected is final.
  v1::DecideReferralRequest accept;
  accept.set_id(first->id());
  accept.set_decision(v1::REFERRAL_DECISION_ACCEPT);
  auto again = desk_->Decide(kBup, accept);
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("referral.already_decided")));
  EXPECT_THAT(Rules(again.status()), ElementsAre("referral.already_decided"));

  inbox_->Clear();
  v1::DecideReferralRequest need_info;
  need_info.set_id(second->id());
  need_info.set_decision(v1::REFERRAL_DECISION_NEED_INFO);
  need_info.set_reason("Send skolens pedagogiske rapport.");
  auto pending = desk_->Decide(kBup, need_info);
  ASSERT_THAT(pending, IsOk());
  EXPECT_EQ(pending->status(), v1::REFERRAL_STATUS_NEED_INFO);
  EXPECT_EQ(pending->decision_reason(), "Send skolens pedagogiske rapport.");
  EXPECT_THAT(inbox_->Lines(),
              ElementsAre(absl::StrCat(
                  "legekontor-sentrum INBOX_EVENT_TYPE_REFERRAL_STATUS_CHANGED ", second->id())));
  auto seen2 = desk_->Get(kGp, second->id());
  ASSERT_THAT(seen2, IsOk());
  EXPECT_EQ(seen2->status(), v1::REFERRAL_STATUS_NEED_INFO);
  // NEED_INFO is not final: once informed, the recipient may accept.
  accept.set_id(second->id());
  auto accepted = desk_->Decide(kBup, accept);
  ASSERT_THAT(accepted, IsOk());
  EXPECT_EQ(accepted->status(), v1::REFERRAL_STATUS_ACCEPTED);

  auto decided = AuditEvents("referral.decide");
  ASSERT_THAT(decided, SizeIs(4));
  EXPECT_EQ(decided[0].outcome(), v1::AUDIT_OUTCOME_ALLOWED);
  EXPECT_EQ(decided[1].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(decided[1].rule(), "referral.already_decided");
}

TEST_F(ReferralDomainTest, RevokedAndExpiredConsentReportsBoth) {
  const std::string child = Child(10);
  v1::RecordConsentRequest req = ConsentRequest(child, "bup-oslo");
  req.set_request_id("short-lived");
  req.mutable_valid_until()->set_year(2025);
  req.mutable_valid_until()->set_month(6);
  req.mutable_valid_until()->set_day(10);
  auto c = consents_->Record(kGp, req);
  ASSERT_THAT(c, IsOk());
  const v1::RevokeConsentRequest revoke = RevokeRequest(c->id(), "mor trekker samtykket");
  ASSERT_THAT(consents_->Revoke(kGp, revoke), IsOk());
  clock_.Advance(absl::Hours(24 * 10));  // 2025-06-11: past valid_until
  auto sent = desk_->Send(kGp, SendRequest("bup-oslo", child, c->id()));
  EXPECT_THAT(sent, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("consent.expired")));
  EXPECT_THAT(Rules(sent.status()), ElementsAre("consent.revoked", "consent.expired"));
  auto denied = AuditEvents("referral.send");
  ASSERT_THAT(denied, SizeIs(1));
  EXPECT_EQ(denied[0].rule(), "consent.revoked,consent.expired");
}

TEST_F(ReferralDomainTest, PurposeMustMatchTheConsent) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");  // purpose "henvisning"
  v1::SendReferralRequest req = SendRequest("bup-oslo", child, c.id());
  req.set_purpose("forskning");
  auto refused = desk_->Send(kGp, req);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr("consent.purpose_mismatch")));
  EXPECT_THAT(Rules(refused.status()), ElementsAre("consent.purpose_mismatch"));
  auto denied = AuditEvents("referral.send");
  ASSERT_THAT(denied, SizeIs(1));
  EXPECT_EQ(denied[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(denied[0].rule(), "consent.purpose_mismatch");
  EXPECT_THAT(inbox_->Lines(), IsEmpty());

  // The same purpose, spelled differently: allowed; the referral records the
  // consent's purpose.
  req.set_request_id("purpose-spelled");
  req.set_purpose("  HENVISNING \t");
  auto sent = desk_->Send(kGp, req);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->purpose(), "henvisning");
  // Omitted: the referral is for the consent's purpose.
  auto plain = desk_->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->purpose(), "henvisning");
  auto got = desk_->Get(kBup, plain->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->purpose(), "henvisning");
  v1::ListReferralsRequest received;
  received.set_mailbox(v1::MAILBOX_RECEIVED);
  auto list = desk_->List(kBup, received);
  ASSERT_THAT(list, IsOk());
  ASSERT_THAT(list->referrals(), SizeIs(2));
  EXPECT_EQ(list->referrals(0).purpose(), "");  // a content field

  // Listed with every other violated rule.
  v1::Consent staff_consent = RecordConsent(kStaff, child, "bup-oslo");
  v1::SendReferralRequest staff_req = SendRequest("bup-oslo", child, staff_consent.id());
  staff_req.set_purpose("forskning");
  EXPECT_THAT(Rules(desk_->Send(kStaff, staff_req).status()),
              ElementsAre("referral.bup.sender_role", "consent.purpose_mismatch"));

  // A purpose belongs to a consent, not to the statutory duty.
  v1::SendReferralRequest duty = SendRequest("barnevern-oslo", child, "");
  duty.mutable_statutory_duty()->set_justification(
      "Barnet har fortalt om vold hjemme og har synlige blåmerker på armene.");
  duty.set_purpose("henvisning");
  EXPECT_THAT(desk_->Send(kStaff, duty), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("purpose goes with consent_id")));
  v1::SendReferralRequest long_purpose = SendRequest("bup-oslo", child, c.id());
  long_purpose.set_purpose(std::string(501, 'a'));
  EXPECT_THAT(desk_->Send(kGp, long_purpose),
              StatusIs(absl::StatusCode::kInvalidArgument, "purpose: at most 500 characters"));
}

TEST_F(ReferralDomainTest, SyntheticIdsRefusedWhenTheServerSaysSo) {
  consent::ConsentOptions copts;
  copts.rules.refuse_synthetic_ids = true;
  auto strict_consents = *consent::ConsentRegistry::Create(
      store_.get(), keyring_.get(), audit_.get(), inbox_.get(), &directory_, &clock_, copts);
  referral::ReferralOptions ropts;
  ropts.rules.refuse_synthetic_ids = true;
  auto strict_desk =
      *referral::ReferralDesk::Create(store_.get(), keyring_.get(), audit_.get(), inbox_.get(),
                                      &directory_, strict_consents.get(), &clock_, ropts);
  strict_consents->SetObserver(strict_desk.get());

  const std::string child = Child(10);  // synthetic (month + 80), as in every test
  v1::RecordConsentRequest rec = ConsentRequest(child, "bup-oslo");
  rec.set_request_id("strict-record");
  auto recorded = strict_consents->Record(kGp, rec);
  EXPECT_THAT(recorded, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("national_id.synthetic_refused")));
  EXPECT_THAT(Rules(recorded.status()), ElementsAre("national_id.synthetic_refused"));
  EXPECT_THAT(recorded.status().message(), ::testing::Not(HasSubstr(child)));
  // Listed together with the giver rule.
  rec.set_request_id("strict-record-16");
  rec.set_subject_national_id(Child(16));
  EXPECT_THAT(Rules(strict_consents->Record(kGp, rec).status()),
              ElementsAre("national_id.synthetic_refused", "consent.giver.child_from_16"));
  v1::ListConsentsRequest by_subject;
  by_subject.set_subject_national_id(child);
  auto listed = strict_consents->List(kGp, by_subject);
  EXPECT_THAT(listed, StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("national_id.synthetic_refused")));
  auto record_events = AuditEvents("consent.record");
  ASSERT_THAT(record_events, SizeIs(2));
  EXPECT_EQ(record_events[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(record_events[0].rule(), "national_id.synthetic_refused");

  // A consent recorded before the switch cannot carry a referral after it.
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  inbox_->Clear();
  auto sent = strict_desk->Send(kGp, SendRequest("bup-oslo", child, c.id()));
  EXPECT_THAT(sent, StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr("national_id.synthetic_refused")));
  EXPECT_THAT(Rules(sent.status()), ElementsAre("national_id.synthetic_refused"));
  v1::SendReferralRequest duty = SendRequest("barnevern-oslo", child, "");
  duty.mutable_statutory_duty()->set_justification(
      "Barnet har fortalt om vold hjemme og har synlige blåmerker på armene.");
  EXPECT_THAT(Rules(strict_desk->Send(kStaff, duty).status()),
              ElementsAre("national_id.synthetic_refused"));
  auto send_events = AuditEvents("referral.send");
  ASSERT_THAT(send_events, SizeIs(2));
  for (const auto& e : send_events) {
    EXPECT_EQ(e.outcome(), v1::AUDIT_OUTCOME_DENIED);
    EXPECT_EQ(e.rule(), "national_id.synthetic_refused");
  }
  EXPECT_THAT(inbox_->Lines(), IsEmpty());
  // The default (development) desk accepts the same referral.
  EXPECT_THAT(desk_->Send(kGp, SendRequest("bup-oslo", child, c.id())), IsOk());
}

// ---------------------------------------------------------------------------
// Issue 19: drafts co-signed by another agency, urgent routing, escalation.

v1::RecipientRef AgencyRef(const std::string& agency) {
  v1::RecipientRef r;
  r.set_agency(agency);
  return r;
}

class ReferralDraftTest : public ReferralDomainTest {
 protected:
  // The parents' consent recorded by the health station: the GP office
  // (co-signer) and BUP.
  v1::Consent NurseConsent(const std::string& child) {
    v1::RecordConsentRequest req = ConsentRequest(child, "legekontor-sentrum");
    req.clear_recipient();
    *req.add_recipients() = AgencyRef("legekontor-sentrum");
    *req.add_recipients() = AgencyRef("bup-oslo");
    auto c = consents_->Record(kNurse, req);
    EXPECT_THAT(c, IsOk());
    return *c;
  }
  v1::SendReferralRequest DraftRequest(const std::string& child, const std::string& consent_id) {
    v1::SendReferralRequest req = SendRequest("bup-oslo", child, consent_id);
    req.set_cosigner_agency("legekontor-sentrum");
    return req;
  }
};

TEST_F(ReferralDraftTest, ConsentWithSeveralRecipients) {
  const std::string child = Child(10);
  v1::Consent c = NurseConsent(child);
  EXPECT_EQ(c.recipient().agency(), "legekontor-sentrum");
  ASSERT_THAT(c.recipients(), SizeIs(2));
  EXPECT_EQ(c.recipients(1).agency(), "bup-oslo");
  // Both named agencies may see it.
  EXPECT_THAT(consents_->Get(kBup, c.id()), IsOk());
  EXPECT_THAT(consents_->Get(kGp, c.id()), IsOk());
  // A duplicate, an unknown agency, a first `recipient` that differs: refused.
  v1::RecordConsentRequest dup = ConsentRequest(child, "bup-oslo");
  dup.clear_recipient();
  *dup.add_recipients() = AgencyRef("bup-oslo");
  *dup.add_recipients() = AgencyRef("bup-oslo");
  EXPECT_THAT(consents_->Record(kNurse, dup),
              StatusIs(absl::StatusCode::kInvalidArgument, "recipients: named twice"));
  v1::RecordConsentRequest differs = ConsentRequest(child, "ppt-oslo");
  *differs.add_recipients() = AgencyRef("bup-oslo");
  EXPECT_THAT(
      consents_->Record(kNurse, differs),
      StatusIs(absl::StatusCode::kInvalidArgument, "recipient must equal the first of recipients"));
  v1::RecordConsentRequest by_type = ConsentRequest(child, "bup-oslo");
  by_type.clear_recipient();
  by_type.add_recipients()->set_type(v1::AGENCY_TYPE_GP);
  *by_type.add_recipients() = AgencyRef("bup-oslo");
  auto typed = consents_->Record(kNurse, by_type);
  ASSERT_THAT(typed, IsOk());
  EXPECT_EQ(typed->recipient().agency_type(), v1::AGENCY_TYPE_GP);
}

TEST_F(ReferralDraftTest, DraftCosignShowsBothAndOnlyTheRightAgenciesSeeIt) {
  const std::string child = Child(10);
  v1::Consent c = NurseConsent(child);
  inbox_->Clear();
  auto draft = desk_->Draft(kNurse, DraftRequest(child, c.id()));
  ASSERT_THAT(draft, IsOk());
  EXPECT_EQ(draft->status(), v1::REFERRAL_STATUS_DRAFT);
  EXPECT_EQ(draft->initiating_agency(), "helsestasjon-oslo");
  EXPECT_EQ(draft->initiated_by().user(), "helsesykepleier");
  EXPECT_EQ(draft->cosigner_agency(), "legekontor-sentrum");
  EXPECT_EQ(draft->sender_agency(), "");
  EXPECT_EQ(draft->requested_recipient(), "bup-oslo");
  EXPECT_THAT(inbox_->Lines(),
              ElementsAre(absl::StrCat(
                  "legekontor-sentrum INBOX_EVENT_TYPE_REFERRAL_DRAFT_RECEIVED ", draft->id())));
  // BUP does not see a draft; the co-signer does (in its co-sign mailbox).
  EXPECT_THAT(desk_->Get(kBup, draft->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  EXPECT_THAT(desk_->Get(kGp, draft->id()), IsOk());
  v1::ListReferralsRequest cosign_box;
  cosign_box.set_mailbox(v1::MAILBOX_COSIGN);
  auto box = desk_->List(kGp, cosign_box);
  ASSERT_THAT(box, IsOk());
  ASSERT_THAT(box->referrals(), SizeIs(1));
  EXPECT_EQ(box->referrals(0).status(), v1::REFERRAL_STATUS_DRAFT);
  // BUP's sender-role rule applies to the co-signer: GP staff may not sign.
  auto by_staff = desk_->Cosign(kGpStaff, draft->id());
  EXPECT_THAT(Rules(by_staff.status()), ElementsAre("referral.bup.sender_role"));
  // Only the co-signer agency co-signs.
  EXPECT_THAT(desk_->Cosign(kNurse, draft->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  inbox_->Clear();
  auto sent = desk_->Cosign(kGp, draft->id());
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->status(), v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(sent->sender_agency(), "legekontor-sentrum");
  EXPECT_EQ(sent->sender().user(), "lege1");
  EXPECT_EQ(sent->initiated_by().user(), "helsesykepleier");
  EXPECT_EQ(sent->recipient_agency(), "bup-oslo");
  EXPECT_EQ(sent->priority(), v1::PRIORITY_NORMAL);
  ASSERT_THAT(sent->history(), SizeIs(2));
  EXPECT_EQ(sent->history(0).status(), v1::REFERRAL_STATUS_DRAFT);
  EXPECT_EQ(sent->history(1).status(), v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(sent->history(1).by().agency(), "legekontor-sentrum");
  EXPECT_THAT(inbox_->Lines(),
              ElementsAre(absl::StrCat("bup-oslo INBOX_EVENT_TYPE_REFERRAL_RECEIVED ", sent->id()),
                          absl::StrCat("helsestasjon-oslo INBOX_EVENT_TYPE_REFERRAL_DRAFT_CHANGED ",
                                       sent->id())));
  // Now BUP, the GP office and the health station see it with the subject.
  for (const auto& who : {kBup, kGp, kNurse}) {
    auto got = desk_->Get(who, sent->id());
    ASSERT_THAT(got, IsOk()) << who.agency();
    EXPECT_EQ(got->subject_national_id(), child);
    EXPECT_EQ(got->initiating_agency(), "helsestasjon-oslo");
    EXPECT_EQ(got->sender_agency(), "legekontor-sentrum");
  }
  EXPECT_THAT(desk_->Get(kPpt, sent->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  // A second Cosign returns it unchanged; Return after sending is refused.
  EXPECT_THAT(desk_->Cosign(kGp, sent->id()), IsOk());
  v1::ReturnReferralRequest ret;
  ret.set_id(sent->id());
  ret.set_reason("for sent");
  EXPECT_THAT(Rules(desk_->Return(kGp, ret).status()), ElementsAre("referral.cosign.state"));
  // Audit: draft, the refused and the accepted co-sign.
  EXPECT_THAT(AuditEvents("referral.draft"), SizeIs(1));
  auto cosign_events = AuditEvents("referral.cosign");
  ASSERT_THAT(cosign_events, SizeIs(2));
  EXPECT_EQ(cosign_events[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(cosign_events[0].rule(), "referral.bup.sender_role");
  EXPECT_EQ(cosign_events[1].outcome(), v1::AUDIT_OUTCOME_ALLOWED);
}

TEST_F(ReferralDraftTest, TheConsentMustCoverTheCosigner) {
  const std::string child = Child(10);
  v1::Consent bup_only = RecordConsent(kNurse, child, "bup-oslo");
  auto draft = desk_->Draft(kNurse, DraftRequest(child, bup_only.id()));
  EXPECT_THAT(Rules(draft.status()), ElementsAre("referral.cosign.consent_scope"));
  auto events = AuditEvents("referral.draft");
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].rule(), "referral.cosign.consent_scope");
}

TEST_F(ReferralDraftTest, ReturnAndWithdraw) {
  const std::string child = Child(10);
  v1::Consent c = NurseConsent(child);
  auto draft = desk_->Draft(kNurse, DraftRequest(child, c.id()));
  ASSERT_THAT(draft, IsOk());
  v1::ReturnReferralRequest ret;
  ret.set_id(draft->id());
  ret.set_reason("Mangler beskrivelse av tiltak som er prøvd.");
  inbox_->Clear();
  EXPECT_THAT(desk_->Return(kNurse, ret),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  auto returned = desk_->Return(kGp, ret);
  ASSERT_THAT(returned, IsOk());
  EXPECT_EQ(returned->status(), v1::REFERRAL_STATUS_RETURNED);
  EXPECT_EQ(returned->return_reason(), "Mangler beskrivelse av tiltak som er prøvd.");
  EXPECT_EQ(returned->history(1).note(), "Mangler beskrivelse av tiltak som er prøvd.");
  EXPECT_THAT(inbox_->Lines(),
              ElementsAre(absl::StrCat("helsestasjon-oslo INBOX_EVENT_TYPE_REFERRAL_DRAFT_CHANGED ",
                                       draft->id())));
  // A returned draft cannot be co-signed.
  EXPECT_THAT(Rules(desk_->Cosign(kGp, draft->id()).status()),
              ElementsAre("referral.cosign.state"));
  // The initiator withdraws it; the co-signer may not.
  v1::WithdrawReferralRequest w;
  w.set_id(draft->id());
  EXPECT_THAT(desk_->Withdraw(kGp, w), StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  auto withdrawn = desk_->Withdraw(kNurse, w);
  ASSERT_THAT(withdrawn, IsOk());
  EXPECT_EQ(withdrawn->status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_THAT(AuditEvents("referral.return"), SizeIs(1));
  EXPECT_THAT(AuditEvents("referral.withdraw"), SizeIs(1));

  // A fresh draft withdrawn before co-signing.
  auto second = desk_->Draft(kNurse, DraftRequest(child, c.id()));
  ASSERT_THAT(second, IsOk());
  w.set_id(second->id());
  EXPECT_EQ(desk_->Withdraw(kNurse, w)->status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_THAT(Rules(desk_->Cosign(kGp, second->id()).status()),
              ElementsAre("referral.cosign.state"));
}

TEST_F(ReferralDraftTest, RevocationWithdrawsADraft) {
  const std::string child = Child(10);
  v1::Consent c = NurseConsent(child);
  auto draft = desk_->Draft(kNurse, DraftRequest(child, c.id()));
  ASSERT_THAT(draft, IsOk());
  ASSERT_THAT(consents_->Revoke(kNurse, RevokeRequest(c.id(), "mor trekker samtykket")), IsOk());
  auto got = desk_->Get(kNurse, draft->id());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->status(), v1::REFERRAL_STATUS_WITHDRAWN);
  EXPECT_THAT(Rules(desk_->Get(kGp, draft->id()).status()), ElementsAre("consent.revoked"));
  EXPECT_THAT(Rules(desk_->Cosign(kGp, draft->id()).status()),
              ElementsAre("referral.cosign.state"));
}

TEST_F(ReferralDraftTest, KindergartenPptReferralIsSignedByItsLeader) {
  const std::string child = Child(6);
  v1::Consent c = RecordConsent(kStaff, child, "ppt-oslo");
  v1::SendReferralRequest req = SendRequest("ppt-oslo", child, c.id());
  req.set_parent_demand(true);  // no action log or parent conversation needed
  req.set_parents_informed(true);
  EXPECT_THAT(Rules(desk_->Send(kStaff, req).status()), ElementsAre("referral.ppt.head_signoff"));
  // A draft for another agency's head is refused as well.
  req.set_cosigner_agency("skole-oslo");
  EXPECT_THAT(Rules(desk_->Draft(kStaff, req).status()),
              ElementsAre("referral.ppt.head_signoff", "referral.cosign.consent_scope"));
  req.set_cosigner_agency("bhg-solsikken");
  req.set_request_id("rs-own-head");
  auto draft = desk_->Draft(kStaff, req);
  ASSERT_THAT(draft, IsOk());
  EXPECT_THAT(Rules(desk_->Cosign(kStaff, draft->id()).status()),
              ElementsAre("referral.ppt.head_signoff"));
  auto sent = desk_->Cosign(kLeader, draft->id());
  ASSERT_THAT(sent, IsOk());
  EXPECT_TRUE(sent->parent_demand());
  EXPECT_TRUE(sent->parents_informed());
  EXPECT_EQ(sent->legal_basis(), v1::LEGAL_BASIS_CONSENT);
  EXPECT_EQ(sent->sender().role(), v1::ROLE_LEADER);
  // Its (allowed) events carry the parents'-demand rule.
  auto cosigned = AuditEvents("referral.cosign");
  ASSERT_THAT(cosigned, SizeIs(2));
  EXPECT_EQ(cosigned[1].outcome(), v1::AUDIT_OUTCOME_ALLOWED);
  EXPECT_EQ(cosigned[1].rule(), "referral.ppt.parent_demand");
}

TEST_F(ReferralDomainTest, BupRefusesAnAdult) {
  const std::string adult = Child(18);
  v1::Consent c = RecordConsent(kGp, adult, "bup-oslo", v1::CONSENT_GIVER_CHILD);
  EXPECT_THAT(Rules(desk_->Send(kGp, SendRequest("bup-oslo", adult, c.id())).status()),
              ElementsAre("referral.bup.age_limit"));
  const std::string youth = Child(17);
  v1::Consent y = RecordConsent(kGp, youth, "bup-oslo", v1::CONSENT_GIVER_CHILD);
  EXPECT_THAT(desk_->Send(kGp, SendRequest("bup-oslo", youth, y.id())), IsOk());
}

TEST_F(ReferralDomainTest, UrgentReferralsAreRoutedAndComeFirst) {
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  // Sunday noon: not a patient -> the acute unit.
  v1::SendReferralRequest normal = SendRequest("bup-oslo", child, c.id());
  ASSERT_THAT(desk_->Send(kGp, normal), IsOk());
  v1::SendReferralRequest urgent = SendRequest("bup-oslo", child, c.id());
  urgent.set_urgent(true);
  inbox_->Clear();
  auto sent = desk_->Send(kGp, urgent);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->priority(), v1::PRIORITY_URGENT);
  EXPECT_EQ(sent->requested_recipient(), "bup-oslo");
  EXPECT_EQ(sent->recipient_agency(), "bup-akutt");
  EXPECT_EQ(sent->routed_reason(), "urgent.not_a_patient");
  EXPECT_THAT(inbox_->Lines(), ElementsAre(absl::StrCat(
                                   "bup-akutt INBOX_EVENT_TYPE_REFERRAL_RECEIVED ", sent->id())));
  EXPECT_THAT(desk_->Get(kAcute, sent->id()), IsOk());
  EXPECT_THAT(desk_->Get(kBup, sent->id()),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  // A known patient on Monday 10:00 goes to the clinic itself.
  clock_.Set(absl::FromCivil(absl::CivilSecond(2025, 6, 2, 10, 0, 0), policy::NorwegianTimeZone()));
  v1::SendReferralRequest known = SendRequest("bup-oslo", child, c.id());
  known.set_urgent(true);
  known.set_known_patient(true);
  auto clinic = desk_->Send(kGp, known);
  ASSERT_THAT(clinic, IsOk());
  EXPECT_EQ(clinic->recipient_agency(), "bup-oslo");
  EXPECT_EQ(clinic->routed_reason(), "urgent.known_patient.clinic_open");
  // Urgent first in the sender's list, though older than the normal one? No:
  // the urgent ones first (newest first among them), then the normal one.
  v1::ListReferralsRequest sent_box;
  sent_box.set_mailbox(v1::MAILBOX_SENT);
  auto listed = desk_->List(kGp, sent_box);
  ASSERT_THAT(listed, IsOk());
  ASSERT_THAT(listed->referrals(), SizeIs(3));
  EXPECT_EQ(listed->referrals(0).id(), clinic->id());
  EXPECT_EQ(listed->referrals(1).id(), sent->id());
  EXPECT_EQ(listed->referrals(2).priority(), v1::PRIORITY_NORMAL);
  // known_patient without urgent is malformed.
  v1::SendReferralRequest bad = SendRequest("bup-oslo", child, c.id());
  bad.set_known_patient(true);
  EXPECT_THAT(desk_->Send(kGp, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, "known_patient goes with urgent"));
}

TEST_F(ReferralDomainTest, UnacknowledgedUrgentReferralEscalatesExactlyOnce) {
  int metric = 0;
  referral::ReferralOptions opts;
  opts.urgent_ack = absl::Minutes(30);
  opts.on_escalation = [&metric] { ++metric; };
  auto desk = *referral::ReferralDesk::Create(store_.get(), keyring_.get(), audit_.get(),
                                              inbox_.get(), &directory_, &checker_, &clock_, opts);
  const std::string child = Child(10);
  v1::Consent c = RecordConsent(kGp, child, "bup-oslo");
  v1::SendReferralRequest req = SendRequest("bup-oslo", child, c.id());
  req.set_urgent(true);
  auto ignored = desk->Send(kGp, req);
  ASSERT_THAT(ignored, IsOk());
  req.set_request_id("rs-acked");
  auto acked = desk->Send(kGp, req);
  ASSERT_THAT(acked, IsOk());
  ASSERT_THAT(desk->Acknowledge(kAcute, acked->id()), IsOk());
  inbox_->Clear();
  clock_.Advance(absl::Minutes(29));
  EXPECT_EQ(*desk->EscalateDue(), 0);
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(*desk->EscalateDue(), 1);
  EXPECT_EQ(*desk->EscalateDue(), 0);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(*desk->EscalateDue(), 0);
  EXPECT_THAT(
      inbox_->Lines(),
      ElementsAre(absl::StrCat("bup-akutt INBOX_EVENT_TYPE_REFERRAL_ESCALATED ", ignored->id())));
  EXPECT_EQ(metric, 1);
  // The sender sees it in the history.
  auto got = desk->Get(kGp, ignored->id());
  ASSERT_THAT(got, IsOk());
  ASSERT_THAT(got->history(), SizeIs(2));
  EXPECT_EQ(got->history(1).status(), v1::REFERRAL_STATUS_SENT);
  EXPECT_EQ(got->history(1).note(), "escalated: not acknowledged within 30m");
  EXPECT_THAT(AuditEvents("referral.escalate"), SizeIs(1));
  auto acked_now = desk->Get(kGp, acked->id());
  EXPECT_THAT(acked_now->history(), SizeIs(2));  // sent, acknowledged
}

// Acceptance 2 and 3 of issue 19 at the domain level: the thread both ways,
// an invited kindergarten, NEED_INFO and the supplement; then revocation.
TEST_F(ReferralDraftTest, ThreadInvitationSupplementAndRevocation) {
  const std::string child = Child(10);
  v1::RecordConsentRequest creq = ConsentRequest(child, "legekontor-sentrum");
  creq.clear_recipient();
  *creq.add_recipients() = AgencyRef("legekontor-sentrum");
  *creq.add_recipients() = AgencyRef("bup-oslo");
  creq.add_recipients()->set_type(v1::AGENCY_TYPE_KINDERGARTEN);
  auto c = consents_->Record(kNurse, creq);
  ASSERT_THAT(c, IsOk());
  auto draft = desk_->Draft(kNurse, DraftRequest(child, c->id()));
  ASSERT_THAT(draft, IsOk());
  auto sent = desk_->Cosign(kGp, draft->id());
  ASSERT_THAT(sent, IsOk());
  const std::string id = sent->id();
  ASSERT_THAT(desk_->Acknowledge(kBup, id), IsOk());
  // Only the recipient invites; only agencies the consent covers.
  v1::InviteToReferralRequest inv;
  inv.set_referral_id(id);
  inv.set_agency("ppt-oslo");
  EXPECT_THAT(Rules(desk_->Invite(kBup, inv).status()), ElementsAre("consent.recipient_mismatch"));
  inv.set_agency("bhg-solsikken");
  EXPECT_THAT(desk_->Invite(kGp, inv), StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  // BUP asks first; the kindergarten then sees that message too.
  v1::PostReferralMessageRequest ask;
  ask.set_referral_id(id);
  ask.set_text("Hvordan fungerer barnet i barnehagen?");
  ASSERT_THAT(desk_->PostMessage(kBup, ask), IsOk());
  EXPECT_THAT(desk_->Get(kStaff, id), StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  auto invited = desk_->Invite(kBup, inv);
  ASSERT_THAT(invited, IsOk());
  EXPECT_THAT(invited->invited_agencies(), ElementsAre("bhg-solsikken"));
  // The invited kindergarten sees the reason, the subject and the thread.
  auto view = desk_->Get(kStaff, id);
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->reason(), "Vedvarende søvnvansker og angst gjennom et halvt år.");
  EXPECT_EQ(view->subject_national_id(), child);
  EXPECT_THAT(view->history(), IsEmpty());
  EXPECT_THAT(view->attachments(), IsEmpty());
  v1::PostReferralMessageRequest answer;
  answer.set_referral_id(id);
  answer.set_text("Hun trekker seg unna i lek og sover i hvilen.");
  auto posted = desk_->PostMessage(kStaff, answer);
  ASSERT_THAT(posted, IsOk());
  EXPECT_EQ(posted->author().agency(), "bhg-solsikken");
  auto thread = desk_->GetThread(kBup, id);
  ASSERT_THAT(thread, IsOk());
  ASSERT_THAT(thread->messages(), SizeIs(2));
  EXPECT_EQ(thread->messages(0).author().agency(), "bup-oslo");
  EXPECT_EQ(thread->messages(1).text(), "Hun trekker seg unna i lek og sover i hvilen.");
  EXPECT_THAT(desk_->GetThread(kStaff, id)->messages(), SizeIs(2));
  EXPECT_THAT(desk_->GetThread(kNurse, id)->messages(), SizeIs(2));
  EXPECT_THAT(desk_->GetThread(kPpt, id),
              StatusIs(absl::StatusCode::kNotFound, "referral not found"));
  // NEED_INFO; the GP supplements (before: refused), back to ACKNOWLEDGED.
  v1::SupplementReferralRequest sup;
  sup.set_referral_id(id);
  sup.set_text("Vekt og høyde er normale; ingen somatiske funn.");
  EXPECT_THAT(Rules(desk_->Supplement(kGp, sup).status()),
              ElementsAre("referral.supplement.state"));
  v1::DecideReferralRequest need;
  need.set_id(id);
  need.set_decision(v1::REFERRAL_DECISION_NEED_INFO);
  need.set_reason("Trenger somatisk status.");
  ASSERT_THAT(desk_->Decide(kBup, need), IsOk());
  auto supplemented = desk_->Supplement(kGp, sup);
  ASSERT_THAT(supplemented, IsOk());
  EXPECT_EQ(supplemented->status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  EXPECT_TRUE(desk_->GetThread(kBup, id)->messages(2).supplement());
  v1::DecideReferralRequest accept;
  accept.set_id(id);
  accept.set_decision(v1::REFERRAL_DECISION_ACCEPT);
  EXPECT_EQ(desk_->Decide(kBup, accept)->status(), v1::REFERRAL_STATUS_ACCEPTED);

  // Revocation in the middle of the thread: nothing more for anyone.
  inbox_->Clear();
  ASSERT_THAT(consents_->Revoke(kNurse, RevokeRequest(c->id(), "foreldrene trekker samtykket")),
              IsOk());
  // The kindergarten (named by type only) is told too.
  EXPECT_THAT(inbox_->Lines(), ::testing::Contains(absl::StrCat(
                                   "bhg-solsikken INBOX_EVENT_TYPE_CONSENT_REVOKED ", c->id())));
  EXPECT_THAT(Rules(desk_->GetThread(kStaff, id).status()), ElementsAre("consent.revoked"));
  EXPECT_THAT(Rules(desk_->GetThread(kBup, id).status()), ElementsAre("consent.revoked"));
  EXPECT_THAT(Rules(desk_->Get(kStaff, id).status()), ElementsAre("consent.revoked"));
  EXPECT_THAT(Rules(desk_->PostMessage(kStaff, answer).status()), ElementsAre("consent.revoked"));
  // The PPT's probe (not a party), then the two refusals after revocation.
  std::vector<std::string> denied;
  for (const auto& e : AuditEvents("referral.thread.read")) {
    if (e.outcome() == v1::AUDIT_OUTCOME_DENIED) {
      denied.push_back(absl::StrCat(e.actor().agency(), " ", e.rule()));
    }
  }
  EXPECT_THAT(denied, ElementsAre("ppt-oslo referral.not_visible", "bhg-solsikken consent.revoked",
                                  "bup-oslo consent.revoked"));
  // BUP keeps what it acknowledged (the referral itself).
  EXPECT_THAT(desk_->Get(kBup, id), IsOk());
}

TEST_F(ReferralDraftTest, ThreadAttachmentsReachTheInvitedAgencyOnly) {
  const std::string child = Child(10);
  v1::RecordConsentRequest creq = ConsentRequest(child, "bup-oslo");
  creq.clear_recipient();
  *creq.add_recipients() = AgencyRef("bup-oslo");
  *creq.add_recipients() = AgencyRef("bhg-solsikken");
  auto c = consents_->Record(kGp, creq);
  ASSERT_THAT(c, IsOk());
  auto epikrise = Upload(kGp, "Epikrise fra fastlegen", "text/plain");
  ASSERT_THAT(epikrise, IsOk());
  v1::SendReferralRequest req = SendRequest("bup-oslo", child, c->id());
  req.add_attachment_ids(epikrise->id());
  auto sent = desk_->Send(kGp, req);
  ASSERT_THAT(sent, IsOk());
  v1::InviteToReferralRequest inv;
  inv.set_referral_id(sent->id());
  inv.set_agency("bhg-solsikken");
  ASSERT_THAT(desk_->Invite(kBup, inv), IsOk());
  auto skjema = Upload(kBup, "Kartleggingsskjema for barnehagen", "text/plain");
  ASSERT_THAT(skjema, IsOk());
  v1::PostReferralMessageRequest msg;
  msg.set_referral_id(sent->id());
  msg.set_text("Fyll gjerne ut skjemaet.");
  msg.add_attachment_ids(skjema->id());
  auto posted = desk_->PostMessage(kBup, msg);
  ASSERT_THAT(posted, IsOk());
  ASSERT_THAT(posted->attachments(), SizeIs(1));
  auto download = [&](const common::Caller& who, const std::string& att) {
    auto got = DownloadAll(who, sent->id(), att);
    return got.ok() ? *got : std::string(got.status().message());
  };
  EXPECT_EQ(download(kStaff, skjema->id()), "Kartleggingsskjema for barnehagen");
  EXPECT_EQ(download(kGp, skjema->id()), "Kartleggingsskjema for barnehagen");
  // The referral's own attachments are not for the invited agency.
  EXPECT_EQ(download(kStaff, epikrise->id()), "attachment not found");
  EXPECT_EQ(download(kBup, epikrise->id()), "Epikrise fra fastlegen");
  // An attachment used once is not used again.
  EXPECT_THAT(desk_->PostMessage(kBup, msg),
              StatusIs(absl::StatusCode::kNotFound, "attachment not found"));
}

}  // namespace
}  // namespace budstikke
