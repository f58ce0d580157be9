#include "services/audit/audit.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/event_codec.h"
#include "services/common/audit_event.h"
#include "services/common/authz.h"
#include "services/common/caller_testing.h"
#include "services/common/fake_clock.h"
#include "services/common/national_id_testing.h"
#include "services/common/store_audit_outbox.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"
#include "tlog/checkpoint.h"
#include "tlog/internal/test_keys.h"

namespace budstikke::audit {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

using common::testing::Person;

// An outbox whose writes fail (the store-level fault is tested in tests/).
class FailingOutbox final : public common::AuditOutbox {
 public:
  absl::Status Add(storage::WriteBatch*, const common::Caller&, v1::AuditEvent) override {
    return absl::UnavailableError("audit log unavailable: injected");
  }

 protected:
  absl::Status RecordEvent(const common::Caller&, v1::AuditEvent) override {
    return absl::InternalError("injected");
  }
};

class AuditTest : public ::testing::Test {
 public:
  void SetUp() override {
    storage::Store::Options o;
    o.column_families = AuditLog::ColumnFamilies();
    store_ = *storage::Store::Open(dir_.Sub("db"), o);
    std::array<uint8_t, 32> seed{};
    seed[0] = 7;
    signer_ = std::move(tlog::Signer::FromPem("budstikke.test/audit",
                                              tlog::tlog_internal::Ed25519PemFromSeed(seed)))
                  .value();
    log_ = *AuditLog::Create(store_.get(), signer_.get(), &clock_);
    outbox_ = *common::StoreAuditOutbox::Create(store_.get(), &clock_);
    pseudonymizer_ = *storage::Pseudonymizer::Create(storage::SecretBytes(std::string(32, 'k')));
    audit_ = *Audit::Create(log_.get(), outbox_.get(), pseudonymizer_.get(), nullptr);
  }

  // Records a domain event for `subject_id` as another service would.
  void RecordAccess(const common::Caller& who, const std::string& action,
                    const std::string& subject_id) {
    v1::AuditEvent e;
    e.set_action(action);
    e.mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
    e.mutable_resource()->set_id("ref-1");
    if (!subject_id.empty()) e.set_subject(*pseudonymizer_->Pseudonymize(subject_id));
    e.set_legal_basis(v1::LEGAL_BASIS_CONSENT);
    e.set_consent_id("consent-1");
    ASSERT_THAT(outbox_->Record(who, e), IsOk());
  }

  std::vector<v1::AuditEvent> NewEvents(uint64_t from) {
    EXPECT_THAT(log_->DrainAll(), IsOk());
    std::vector<v1::AuditEvent> out;
    for (uint64_t i = from; i < log_->size(); ++i) out.push_back(log_->GetEvent(i)->event());
    return out;
  }

  void Checkpoint() { ASSERT_THAT(log_->SignCheckpoint().status(), IsOk()); }

  storage::testing::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(1714564800)};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<tlog::Signer> signer_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<common::StoreAuditOutbox> outbox_;
  std::unique_ptr<storage::Pseudonymizer> pseudonymizer_;
  std::unique_ptr<Audit> audit_;
  const std::string child_ = common::testing::MakeSyntheticNationalId(2016, 3, 14, 512);
  const common::Caller auditor_ = Person("statsforvalteren", v1::ROLE_AUDITOR, "siri");
  const common::Caller admin_ = Person("bup-oslo", v1::ROLE_ADMIN, "ola");
  const common::Caller clinician_ = Person("bup-oslo", v1::ROLE_CLINICIAN, "per");
};

TEST(EventCodecTest, RoundTripAndStrict) {
  v1::AuditEvent e;
  e.set_index(42);
  e.mutable_time()->set_seconds(1714564800);
  e.mutable_time()->set_nanos(120000000);
  e.mutable_actor()->set_agency("bup-oslo");
  e.mutable_actor()->set_user("per");
  e.mutable_actor()->set_role(v1::ROLE_CLINICIAN);
  e.set_action("referral.read");
  e.mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
  e.mutable_resource()->set_id("r1");
  e.set_subject("ab12");
  e.set_outcome(v1::AUDIT_OUTCOME_ALLOWED);
  e.set_legal_basis(v1::LEGAL_BASIS_CONSENT);
  e.set_consent_id("c1");
  e.set_request_id("req-1");
  const std::string leaf = EncodeLeaf(e);
  EXPECT_EQ(leaf,
            R"({"v":1,"index":42,"time":"2024-05-01T12:00:00.12Z","actor":{"agency":"bup-oslo",)"
            R"("user":"per","role":"CLINICIAN","service":""},"action":"referral.read",)"
            R"("resource":{"kind":"REFERRAL","id":"r1"},"subject":"ab12","outcome":"ALLOWED",)"
            R"("rule":"","legal_basis":"CONSENT","consent_id":"c1","request_id":"req-1"})");
  auto back = DecodeLeaf(leaf);
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(back->SerializeAsString(), e.SerializeAsString());
  std::string spaced = leaf;
  spaced.insert(1, " ");
  EXPECT_THAT(DecodeLeaf(spaced).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("canonical")));
  std::string v3 = leaf;
  v3.replace(v3.find("\"v\":1"), 5, "\"v\":3");
  EXPECT_THAT(DecodeLeaf(v3).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown version")));
  // Version 2 is for aggregated refusals only: its three fields are required.
  std::string v2 = leaf;
  v2.replace(v2.find("\"v\":1"), 5, "\"v\":2");
  EXPECT_THAT(DecodeLeaf(v2).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("missing aggregation field")));
}

TEST(EventCodecTest, AnAggregatedRefusalIsVersion2WithItsCountAndTimes) {
  v1::AuditEvent e;
  e.set_index(7);
  e.mutable_time()->set_seconds(1714564860);
  e.mutable_actor()->set_agency("bup-oslo");
  e.mutable_actor()->set_user("per");
  e.mutable_actor()->set_role(v1::ROLE_CLINICIAN);
  e.set_action("referral.read");
  e.mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
  e.mutable_resource()->set_id("r1");
  e.set_outcome(v1::AUDIT_OUTCOME_DENIED);
  e.set_rule("consent.revoked");
  e.set_legal_basis(v1::LEGAL_BASIS_NONE);
  e.set_count(12);
  e.mutable_first_time()->set_seconds(1714564801);
  e.mutable_last_time()->set_seconds(1714564859);
  e.mutable_last_time()->set_nanos(500000000);
  const std::string leaf = EncodeLeaf(e);
  EXPECT_EQ(leaf, R"({"v":2,"index":7,"time":"2024-05-01T12:01:00Z","actor":{"agency":"bup-oslo",)"
                  R"("user":"per","role":"CLINICIAN","service":""},"action":"referral.read",)"
                  R"("resource":{"kind":"REFERRAL","id":"r1"},"subject":"","outcome":"DENIED",)"
                  R"("rule":"consent.revoked","legal_basis":"NONE","consent_id":"",)"
                  R"("request_id":"","count":12,"first_time":"2024-05-01T12:00:01Z",)"
                  R"("last_time":"2024-05-01T12:00:59.5Z"})");
  auto back = DecodeLeaf(leaf);
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(back->SerializeAsString(), e.SerializeAsString());
  // A count of 0 is not an aggregate: not canonical as version 2.
  std::string zero = leaf;
  zero.replace(zero.find("\"count\":12"), 10, "\"count\":0");
  EXPECT_THAT(DecodeLeaf(zero).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("canonical")));
}

// Found by tests/fuzz (audit_event): a time after 2262 (beyond int64
// nanoseconds) or a fraction of a second before 1970 did not decode to the
// time it was encoded from, so such a leaf was DATA_LOSS or read back wrong.
TEST(EventCodecTest, TimesFromYear1To9999RoundTrip) {
  const std::vector<std::pair<int64_t, int32_t>> times = {
      {-62135596800, 0},          // 0001-01-01T00:00:00Z
      {-1, 500000000},            // 1969-12-31T23:59:59.5Z
      {-86400 * 365, 1},          // 1969-01-01T00:00:00.000000001Z
      {16737459539, 0},           // 2500-05-23T22:18:59Z
      {253402300799, 999999999},  // 9999-12-31T23:59:59.999999999Z
  };
  for (const auto& [seconds, nanos] : times) {
    v1::AuditEvent e;
    e.mutable_time()->set_seconds(seconds);
    e.mutable_time()->set_nanos(nanos);
    e.mutable_actor();
    e.mutable_resource();
    auto back = DecodeLeaf(EncodeLeaf(e));
    ASSERT_THAT(back.status(), IsOk()) << seconds;
    EXPECT_EQ(back->time().seconds(), seconds);
    EXPECT_EQ(back->time().nanos(), nanos) << seconds;
  }
}

// Found by tests/fuzz (audit_event): a leaf with the year 20246 decoded,
// although a leaf's time is RFC 3339 (years 1 to 9999) and CheckEncodable
// refuses such an event.
TEST(EventCodecTest, LeafTimeAfterYear9999IsDataLoss) {
  v1::AuditEvent e;
  e.mutable_time()->set_seconds(1714564800);
  std::string leaf = EncodeLeaf(e);
  ASSERT_THAT(DecodeLeaf(leaf).status(), IsOk());
  leaf.replace(leaf.find("\"2024-"), 6, "\"20246-");
  EXPECT_THAT(DecodeLeaf(leaf).status(),
              StatusIs(absl::StatusCode::kDataLoss, "audit leaf is not canonical: time"));
}

TEST(EventCodecTest, CheckEncodableNamesWhatNoLeafCanHold) {
  v1::AuditEvent e;
  e.mutable_time()->set_seconds(1714564800);
  EXPECT_THAT(CheckEncodable(e), IsOk());
  auto with = [&](auto change) {
    v1::AuditEvent bad = e;
    change(&bad);
    return CheckEncodable(bad);
  };
  constexpr char kWhy[] = "an audit leaf cannot hold this event: ";
  EXPECT_THAT(with([](v1::AuditEvent* b) { b->mutable_actor()->set_role(v1::Role(99)); }),
              StatusIs(absl::StatusCode::kInvalidArgument, absl::StrCat(kWhy, "unknown role 99")));
  EXPECT_THAT(
      with([](v1::AuditEvent* b) { b->mutable_resource()->set_kind(v1::ResourceKind(-1)); }),
      StatusIs(absl::StatusCode::kInvalidArgument, absl::StrCat(kWhy, "unknown resource kind -1")));
  EXPECT_THAT(
      with([](v1::AuditEvent* b) { b->set_outcome(v1::AuditOutcome(7)); }),
      StatusIs(absl::StatusCode::kInvalidArgument, absl::StrCat(kWhy, "unknown outcome 7")));
  EXPECT_THAT(
      with([](v1::AuditEvent* b) { b->set_legal_basis(v1::LegalBasis(42)); }),
      StatusIs(absl::StatusCode::kInvalidArgument, absl::StrCat(kWhy, "unknown legal basis 42")));
  EXPECT_THAT(with([](v1::AuditEvent* b) { b->mutable_time()->set_seconds(253402300800); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(kWhy, "time outside the years 1 to 9999")));
  EXPECT_THAT(with([](v1::AuditEvent* b) { b->mutable_time()->set_nanos(-1); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(kWhy, "time outside the years 1 to 9999")));
  EXPECT_THAT(with([](v1::AuditEvent* b) { b->set_action("referral.\xff"); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(kWhy, "its leaf does not read back")));
}

// The table: every RPC that reads or changes data and the events it must
// emit. Other services add their rows in their own tests with the same shape.
struct Row {
  std::string name;
  std::function<absl::Status(AuditTest*)> call;
  std::vector<std::pair<std::string, v1::AuditOutcome>> want;  // action, outcome
  bool want_subject = false;
};

TEST_F(AuditTest, EveryAuditReadEmitsExactlyTheExpectedEvents) {
  RecordAccess(clinician_, "referral.read", child_);
  ASSERT_THAT(log_->DrainAll(), IsOk());
  Checkpoint();
  const std::vector<Row> rows = {
      {"GetEvent",
       [](AuditTest* t) { return t->audit_->GetEvent(t->auditor_, 0).status(); },
       {{"audit.get_event", v1::AUDIT_OUTCOME_ALLOWED}}},
      {"Query by subject",
       [](AuditTest* t) {
         v1::QueryAuditRequest q;
         q.set_subject_national_id(t->child_);
         return t->audit_->Query(t->auditor_, q).status();
       },
       {{"audit.query", v1::AUDIT_OUTCOME_ALLOWED}},
       /*want_subject=*/true},
      {"SubjectAccessReport",
       [](AuditTest* t) {
         v1::SubjectAccessReportRequest q;
         q.set_subject_national_id(t->child_);
         return t->audit_->SubjectAccessReport(t->auditor_, q).status();
       },
       {{"audit.subject_access_report", v1::AUDIT_OUTCOME_ALLOWED}},
       true},
      {"denied by the authorization table",
       [](AuditTest* t) {
         absl::Status s = common::RecordRefusal(
             *t->outbox_, t->clinician_,
             common::AllowedEvent("audit.query", v1::RESOURCE_KIND_AUDIT_LOG, ""),
             common::Authorize("budstikke.v1.AuditService/Query", t->clinician_.role()));
         return absl::IsPermissionDenied(s) ? absl::OkStatus() : s;
       },
       {{"audit.query", v1::AUDIT_OUTCOME_DENIED}}},
      {"GetCheckpoint reads no child data",
       [](AuditTest* t) { return t->audit_->GetCheckpoint().status(); },
       {}},
      {"GetInclusionProof reads no child data",
       [](AuditTest* t) { return t->audit_->GetInclusionProof(0, 0).status(); },
       {}},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const uint64_t before = log_->size();
    ASSERT_THAT(row.call(this), IsOk());
    std::vector<v1::AuditEvent> got = NewEvents(before);
    ASSERT_EQ(got.size(), row.want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].action(), row.want[i].first);
      EXPECT_EQ(got[i].outcome(), row.want[i].second);
      EXPECT_EQ(got[i].index(), before + i);
      EXPECT_EQ(got[i].rule(), row.want[i].second == v1::AUDIT_OUTCOME_DENIED ? "authz.role" : "");
      EXPECT_FALSE(got[i].actor().agency().empty());
      EXPECT_EQ(got[i].subject().empty(), !row.want_subject);
      // Never a plain national id.
      EXPECT_EQ(EncodeLeaf(got[i]).find(child_), std::string::npos);
    }
  }
}

TEST_F(AuditTest, QueryFiltersVisibilityAndProofs) {
  const std::string other = common::testing::MakeSyntheticNationalId(2018, 7, 1, 600);
  RecordAccess(clinician_, "referral.read", child_);
  RecordAccess(Person("barnevern-oslo", v1::ROLE_CHILD_WELFARE_LEADER, "eva"), "referral.send",
               child_);
  RecordAccess(clinician_, "referral.read", other);
  ASSERT_THAT(log_->DrainAll(), IsOk());
  Checkpoint();

  v1::QueryAuditRequest q;
  q.set_subject_national_id(child_);
  q.set_with_proofs(true);
  auto r = audit_->Query(auditor_, q);
  ASSERT_THAT(r.status(), IsOk());
  ASSERT_EQ(r->records_size(), 2);
  EXPECT_EQ(r->records(0).event().index(), 0u);
  EXPECT_EQ(r->records(1).event().actor().agency(), "barnevern-oslo");
  auto cp = tlog::Checkpoint::Parse(
      r->checkpoint().signed_note().substr(0, r->checkpoint().signed_note().find("\n\n") + 1));
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->size, 3u);
  for (const auto& rec : r->records()) {
    std::vector<tlog::Hash> path;
    for (const auto& b : rec.inclusion_proof().inclusion_path()) {
      tlog::Hash h;
      std::memcpy(h.data(), b.data(), 32);
      path.push_back(h);
    }
    EXPECT_TRUE(tlog::VerifyInclusion(rec.event().index(), 3, tlog::LeafHash(rec.leaf_data()), path,
                                      cp->root)
                    .ok());
  }

  // An admin sees only its own agency's actors.
  v1::QueryAuditRequest all;
  auto mine = audit_->Query(admin_, all);
  ASSERT_THAT(mine.status(), IsOk());
  for (const auto& rec : mine->records()) EXPECT_EQ(rec.event().actor().agency(), "bup-oslo");
  EXPECT_GE(mine->records_size(), 2);
  v1::QueryAuditRequest theirs;
  theirs.set_actor_agency("barnevern-oslo");
  EXPECT_THAT(audit_->Query(admin_, theirs).status(),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("own agency")));
  EXPECT_THAT(audit_->GetEvent(admin_, 1).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("audit.own_agency: an admin may read only its own agency")));

  // Paging: one per page, in index order, then no token.
  v1::QueryAuditRequest paged;
  paged.set_action("referral.read");
  paged.set_page_size(1);
  auto p1 = audit_->Query(auditor_, paged);
  ASSERT_THAT(p1.status(), IsOk());
  ASSERT_EQ(p1->records_size(), 1);
  EXPECT_EQ(p1->records(0).event().index(), 0u);
  paged.set_page_token(p1->next_page_token());
  auto p2 = audit_->Query(auditor_, paged);
  ASSERT_THAT(p2.status(), IsOk());
  ASSERT_EQ(p2->records_size(), 1);
  EXPECT_EQ(p2->records(0).event().index(), 2u);

  v1::QueryAuditRequest bad;
  bad.set_subject_national_id("12345678901");
  EXPECT_THAT(audit_->Query(auditor_, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("national id")));
}

TEST_F(AuditTest, SubjectAccessReportInPlainWords) {
  RecordAccess(clinician_, "referral.read", child_);
  ASSERT_THAT(log_->DrainAll(), IsOk());
  v1::SubjectAccessReportRequest q;
  q.set_subject_national_id(child_);
  auto r = audit_->SubjectAccessReport(auditor_, q);
  ASSERT_THAT(r.status(), IsOk());
  ASSERT_EQ(r->entries_size(), 1);
  EXPECT_EQ(r->entries(0).description(), "leste en henvisning");
  EXPECT_EQ(r->entries(0).agency(), "bup-oslo");
  EXPECT_EQ(r->entries(0).legal_basis(), v1::LEGAL_BASIS_CONSENT);
  EXPECT_EQ(Audit::Describe("referral.read", v1::AUDIT_OUTCOME_DENIED),
            "ble nektet: leste en henvisning");
  // The referral workflow's actions read as sentences too; an unknown one is named.
  EXPECT_EQ(Audit::Describe("referral.thread.read", v1::AUDIT_OUTCOME_ALLOWED),
            "leste tråden til en henvisning");
  EXPECT_EQ(Audit::Describe("referral.invite", v1::AUDIT_OUTCOME_DENIED),
            "ble nektet: inviterte en virksomhet til tråden i en henvisning");
  EXPECT_EQ(Audit::Describe("referral.cosign", v1::AUDIT_OUTCOME_ALLOWED),
            "signerte og sendte en henvisning");
  EXPECT_EQ(Audit::Describe("referral.unknown", v1::AUDIT_OUTCOME_ALLOWED),
            "utførte referral.unknown");
}

TEST_F(AuditTest, NoAuditNoAccess) {
  RecordAccess(clinician_, "referral.read", child_);
  ASSERT_THAT(log_->DrainAll(), IsOk());
  FailingOutbox failing;
  auto audit = *Audit::Create(log_.get(), &failing, pseudonymizer_.get(), nullptr);
  v1::QueryAuditRequest q;
  EXPECT_THAT(audit->Query(auditor_, q).status(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected")));
  EXPECT_THAT(audit->GetEvent(auditor_, 0).status(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected")));
}

TEST_F(AuditTest, ProofRangesAndCheckpoints) {
  EXPECT_THAT(audit_->GetCheckpoint().status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("no audit checkpoint")));
  for (int i = 0; i < 5; ++i) RecordAccess(clinician_, "referral.read", child_);
  ASSERT_THAT(log_->DrainAll(), IsOk());
  Checkpoint();
  auto cp = audit_->GetCheckpoint();
  ASSERT_THAT(cp.status(), IsOk());
  EXPECT_EQ(cp->tree_size(), 5u);
  EXPECT_EQ(cp->origin(), "budstikke.test/audit");
  EXPECT_THAT(audit_->GetInclusionProof(5, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not below tree size")));
  EXPECT_THAT(audit_->GetInclusionProof(0, 6).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the latest")));
  EXPECT_THAT(audit_->GetConsistencyProof(4, 3).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("first <= second")));
  auto proof = audit_->GetConsistencyProof(2, 5);
  ASSERT_THAT(proof.status(), IsOk());
  EXPECT_FALSE(proof->path().empty());
  // A reopened log serves the stored checkpoint.
  log_.reset();
  log_ = *AuditLog::Create(store_.get(), signer_.get(), &clock_);
  auto again = log_->LatestCheckpoint();
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->signed_note(), cp->signed_note());
}

TEST_F(AuditTest, BackgroundThreadDrainsAndCheckpoints) {
  log_->Start();
  RecordAccess(clinician_, "referral.read", child_);
  log_->Stop();  // final drain and checkpoint
  EXPECT_EQ(log_->size(), 1u);
  auto cp = log_->LatestCheckpoint();
  ASSERT_THAT(cp.status(), IsOk());
  EXPECT_EQ(cp->tree_size(), 1u);
}

// A late outbox commit (a key below the drain cursor) is picked up by the
// periodic rescan when it is above the previous rescan's cursor, and by the
// full rescan otherwise; nothing is drained twice.
TEST_F(AuditTest, LateOutboxCommitsAreDrainedByTheRescans) {
  AuditLogOptions o;
  o.rescan_interval = absl::ZeroDuration();  // every drain rescans
  o.full_rescan_interval = absl::Hours(1);   // only the first drain is full
  log_ = *AuditLog::Create(store_.get(), signer_.get(), &clock_, o);
  v1::AuditEvent e;
  e.set_action("referral.read");
  e.set_outcome(v1::AUDIT_OUTCOME_ALLOWED);
  auto late_put = [&](uint64_t seq, const std::string& id) {
    e.mutable_resource()->set_id(id);
    ASSERT_THAT(store_->Put(common::kAuditOutboxColumnFamily, common::StoreAuditOutbox::KeyFor(seq),
                            e.SerializeAsString()),
                IsOk());
  };
  late_put(10, "a");
  late_put(20, "b");
  EXPECT_EQ(*log_->DrainOnce(), 2);  // full scan; the drain is past key 20
  late_put(15, "late-1");            // below the cursor, above the previous rescan's start
  EXPECT_EQ(*log_->DrainOnce(), 1);  // rescan from where the previous one began
  late_put(30, "c");
  EXPECT_EQ(*log_->DrainOnce(), 1);  // from past 20: key 30
  EXPECT_EQ(*log_->DrainOnce(), 0);
  late_put(5, "late-2");  // below every recent rescan start: full rescan only
  EXPECT_EQ(*log_->DrainOnce(), 0);
  EXPECT_EQ(*log_->DrainOnce(), 0);
  ASSERT_THAT(log_->DrainAll(), IsOk());
  ASSERT_EQ(log_->size(), 5u);
  std::vector<std::string> ids;
  for (uint64_t i = 0; i < 5; ++i) ids.push_back(log_->GetEvent(i)->event().resource().id());
  EXPECT_THAT(ids, ::testing::ElementsAre("a", "b", "late-1", "c", "late-2"));
}

}  // namespace
}  // namespace budstikke::audit
