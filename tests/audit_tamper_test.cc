// Tamper evidence: altering a stored event, a stored tree node or the stored
// checkpoint, or serving an older tree after a newer checkpoint was seen, is
// detected and names the first bad index: an event or tree node that no
// longer matches the rest of the stored tree already by the server, which
// answers DATA_LOSS rather than serve it (issue 20, corruption); a consistent
// rewrite and a fork by the SDK's offline verification (what `budstikke
// audit verify` runs).
#include <cstring>
#include <string>

#include "budstikke/audit_verify.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit.h"
#include "services/common/fake_clock.h"
#include "services/common/store_audit_outbox.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"
#include "tlog/internal/test_keys.h"

namespace budstikke {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;

class AuditTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::array<uint8_t, 32> seed{};
    seed[1] = 9;
    signer_ = std::move(tlog::Signer::FromPem("budstikke.test/audit",
                                              tlog::tlog_internal::Ed25519PemFromSeed(seed)))
                  .value();
    Open();
    common::Caller who;
    who.identity.agency = "bup-oslo";
    who.identity.role = v1::ROLE_CLINICIAN;
    who.identity.user = "per";
    for (int i = 0; i < 40; ++i) {
      v1::AuditEvent e;
      e.set_action("referral.read");
      e.mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
      e.mutable_resource()->set_id("ref-" + std::to_string(i));
      ASSERT_THAT(outbox_->Record(who, e), IsOk());
    }
    ASSERT_THAT(log_->DrainAll(), IsOk());
    ASSERT_THAT(log_->SignCheckpoint().status(), IsOk());
  }

  void Open() {
    log_.reset();
    outbox_.reset();
    store_.reset();
    storage::Store::Options o;
    o.column_families = audit::AuditLog::ColumnFamilies();
    store_ = *storage::Store::Open(dir_.Sub("db"), o);
    auto log = audit::AuditLog::Create(store_.get(), signer_.get(), &clock_);
    open_status_ = log.status();
    if (log.ok()) log_ = *std::move(log);
    outbox_ = *common::StoreAuditOutbox::Create(store_.get(), &clock_);
  }

  // What `audit verify` does with the server's answers.
  absl::Status Verify() {
    auto note = log_->LatestCheckpoint();
    if (!note.ok()) return note.status();
    auto cp = VerifyCheckpoint(signer_->VerifierKey(), note->signed_note());
    if (!cp.ok()) return cp.status();
    auto page = log_->Query(audit::AuditFilter(), cp->size, cp->size, 1000, "");
    if (!page.ok()) return page.status();
    google::protobuf::RepeatedPtrField<v1::AuditRecord> records;
    for (auto& r : page->records) *records.Add() = r;
    return VerifyRecords(*cp, records, 0);
  }

  storage::testing::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(1714564800)};
  std::unique_ptr<tlog::Signer> signer_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<common::StoreAuditOutbox> outbox_;
  absl::Status open_status_;
};

TEST_F(AuditTamperTest, UntouchedLogVerifies) { EXPECT_THAT(Verify(), IsOk()); }

TEST_F(AuditTamperTest, AlteredEventNamesItsIndex) {
  const std::string key = storage::MerkleLog::LeafKey(17);
  std::string leaf = *store_->Get("audit_leaves", key);
  leaf.replace(leaf.find("ref-17"), 6, "ref-99");
  ASSERT_THAT(store_->Put("audit_leaves", key, leaf), IsOk());
  EXPECT_THAT(Verify(),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit event 17: does not match its stored leaf hash (corrupt data dir: "
                       "restore it from a backup)"));
}

TEST_F(AuditTamperTest, ReplacedEventWithConsistentLeafHashIsCaughtByTheProof) {
  // The attacker rewrites the event AND its stored leaf hash.
  const std::string key = storage::MerkleLog::LeafKey(5);
  std::string leaf = *store_->Get("audit_leaves", key);
  leaf.replace(leaf.find("ref-5"), 5, "ref-X");
  ASSERT_THAT(store_->Put("audit_leaves", key, leaf), IsOk());
  tlog::Hash h = tlog::LeafHash(leaf);
  ASSERT_THAT(store_->Put("audit_tree", storage::MerkleLog::NodeKey(0, 5),
                          std::string(reinterpret_cast<const char*>(h.data()), 32)),
              IsOk());
  // Every proof of the events 0..15 is built from the leaf hashes of that
  // tile, the altered one among them; 0 is the first whose proof fails (the
  // server checks the proofs it builds against its root).
  EXPECT_THAT(Verify(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("audit event 0: inclusion proof does not lead")));
}

TEST_F(AuditTamperTest, AlteredInnerNodeNamesFirstAffectedIndex) {
  // Level-4 node 0 covers events 0..15 (kept in memory from the open: the
  // server is reopened); it is the sibling in the proofs of 16..31, and not
  // on the path to the root of 40 ((5, 0) is stored above it).
  ASSERT_THAT(store_->Put("audit_tree", storage::MerkleLog::NodeKey(4, 0), std::string(32, 'x')),
              IsOk());
  Open();
  ASSERT_THAT(open_status_, IsOk());
  EXPECT_THAT(Verify(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("audit event 16: inclusion proof does not lead")));
}

TEST_F(AuditTamperTest, AlteredInnerNodeBelowTheCacheIsNotServed) {
  // Level-2 node 3 covers events 12..15: proofs rebuild their tile of 16 from
  // its leaf hashes, so the altered copy is in no proof and every one verifies
  // (the consistency proof from 12 to 40 would carry it if read from the store).
  auto before = log_->ConsistencyProof(12, 40);
  ASSERT_THAT(before.status(), IsOk());
  ASSERT_THAT(store_->Put("audit_tree", storage::MerkleLog::NodeKey(2, 3), std::string(32, 'x')),
              IsOk());
  EXPECT_THAT(Verify(), IsOk());
  auto after = log_->ConsistencyProof(12, 40);
  ASSERT_THAT(after.status(), IsOk());
  EXPECT_EQ(after->SerializeAsString(), before->SerializeAsString());
}

TEST_F(AuditTamperTest, AlteredCheckpointFailsItsSignature) {
  std::string note = *store_->Get("audit_meta", "checkpoint");
  note[note.find('\n') + 1] = '3';  // the size line
  ASSERT_THAT(store_->Put("audit_meta", "checkpoint", note), IsOk());
  // The server refuses to load it, and a client refuses it too.
  Open();
  EXPECT_THAT(open_status_, StatusIs(absl::StatusCode::kDataLoss,
                                     HasSubstr("stored audit checkpoint does not verify")));
  EXPECT_THAT(VerifyCheckpoint(signer_->VerifierKey(), note).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("checkpoint signature")));
}

TEST_F(AuditTamperTest, TreeAlteredUnderItsCheckpointIsRefusedAtOpen) {
  // (5, 0) covers leaves 0..31 of the 40: a top-level hash of the root at 40.
  const std::string key = storage::MerkleLog::NodeKey(5, 0);
  std::string hash = *store_->Get("audit_tree", key);
  hash[0] ^= 1;
  ASSERT_THAT(store_->Put("audit_tree", key, hash), IsOk());
  Open();
  EXPECT_THAT(
      open_status_,
      StatusIs(absl::StatusCode::kDataLoss,
               ::testing::StrEq("stored audit tree does not match its stored checkpoint: "
                                "the root at size 40 differs (a stored hash was altered)")));
  // Restored, it opens again.
  hash[0] ^= 1;
  ASSERT_THAT(store_->Put("audit_tree", key, hash), IsOk());
  Open();
  EXPECT_THAT(open_status_, IsOk());
  EXPECT_THAT(Verify(), IsOk());
}

TEST_F(AuditTamperTest, RollbackAndForkAreDetected) {
  auto older = VerifyCheckpoint(signer_->VerifierKey(), log_->LatestCheckpoint()->signed_note());
  ASSERT_THAT(older.status(), IsOk());
  // A later checkpoint, consistent.
  common::Caller who;
  who.identity.agency = "bup-oslo";
  who.identity.role = v1::ROLE_CLINICIAN;
  ASSERT_THAT(outbox_->Record(who, v1::AuditEvent()), IsOk());
  ASSERT_THAT(log_->DrainAll(), IsOk());
  ASSERT_THAT(log_->SignCheckpoint().status(), IsOk());
  auto newer = VerifyCheckpoint(signer_->VerifierKey(), log_->LatestCheckpoint()->signed_note());
  ASSERT_THAT(newer.status(), IsOk());
  auto proof = log_->ConsistencyProof(older->size, newer->size);
  ASSERT_THAT(proof.status(), IsOk());
  EXPECT_THAT(VerifyConsistency(*older, *newer, proof->path()), IsOk());
  // Rolled back: the server serves the older tree after the newer was seen.
  EXPECT_THAT(VerifyConsistency(*newer, *older, {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("rolled back")));
  // Forked: same size as seen before but another root.
  tlog::Checkpoint forked = *newer;
  forked.root[0] ^= 1;
  EXPECT_THAT(VerifyConsistency(*newer, forked, {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not consistent")));
}

}  // namespace
}  // namespace budstikke
