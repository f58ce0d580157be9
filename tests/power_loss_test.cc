// Issue 20, "Build and prove" 1: an acknowledged write survives a power loss
// with the default durability, the audit log and the inboxes stay consistent.
//
// The domain classes are wired as budstikke-server wires them (one real
// RocksDB store in a temp dir, the real keyring, envelope, outbox, inbox,
// directory, consultations, consents, referrals and audit log with its drain
// and checkpoint thread and an anchor file), on storage::testing::
// PowerLossFileSystem. Each round: open, verify, then run concurrent writers
// (two askers, a consent-send-revoke thread), an inbox consumer that reads
// and acknowledges, and an auditor that fetches checkpoints; at a random
// moment the power is cut (nothing written after it reaches the disk), the
// world is torn down without anything of its shutdown reaching the disk, and
// the unsynced data is dropped. A call counts as acknowledged if it returned
// OK while the power was on (its reply could have reached a client).
//
// After every power loss, on reopening:
//  - the audit log opens: its stored checkpoint and the anchor file (as it
//    was at the cut) match the stored tree, so no checkpoint was signed over
//    data that was not durable; every checkpoint the auditor got is a prefix
//    of the log (consistency proof verified);
//  - every audit event of an acknowledged write is in the log exactly once,
//    and no write's event is there twice;
//  - every acknowledged consultation, consent, revocation and referral is
//    there: readable through the domain (decrypted, content equal), listed
//    by its index, and its inbox event is in the recipient's inbox;
//  - inbox cursors never go back: no cursor a client saw names another event
//    after the loss, and the consumer's acknowledged position is kept.
// A control (sync_writes off, as --no-sync-writes) loses acknowledged writes
// with the same file system, so the test can fail.
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit.h"
#include "services/audit/audit_log.h"
#include "services/common/caller_testing.h"
#include "services/common/clock.h"
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
#include "storage/status_macros.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"
#include "storage/testing/power_loss_fs.h"
#include "tests/support/temp_dir.h"
#include "tlog/internal/test_keys.h"
#include "tlog/tree.h"

namespace budstikke {
namespace {

using ::budstikke::testing::IsOk;
using common::testing::Person;
using storage::testing::PowerLossFileSystem;

const common::Caller kStaff = Person("bhg-solsikken", v1::ROLE_STAFF, "kari");
const common::Caller kStaff2 = Person("bhg-solsikken", v1::ROLE_STAFF, "per");
const common::Caller kGp = Person("legekontor-sentrum", v1::ROLE_PHYSICIAN, "lege1");
constexpr char kRecipient[] = "bup-oslo";
constexpr char kConsumer[] = "desk";

constexpr char kSeed[] = R"({"agencies":[
  {"id":"bhg-solsikken","name":"Solsikken","type":"kindergarten","municipality":"0301"},
  {"id":"legekontor-sentrum","name":"Legekontor","type":"gp","municipality":"0301"},
  {"id":"bup-oslo","name":"BUP Oslo","type":"bup","municipality":"0301"}]})";

// What was acknowledged, across rounds (guarded by mu).
struct Acked {
  std::mutex mu;
  std::map<std::string, std::string> consultations;  // id -> text
  std::set<std::string> consents;                    // ids recorded
  std::set<std::string> revoked;                     // consent ids revoked
  std::map<std::string, std::string> referrals;      // id -> consent id
  std::map<uint64_t, std::string> seen_cursors;      // cursor -> resource id a client saw
  uint64_t position = 0;                             // the consumer's acknowledged position
  std::optional<v1::Checkpoint> published;           // the latest checkpoint an auditor got
  int writes = 0;                                    // acknowledged writes
  int acks = 0;                                      // of them inbox Acks
};

// Figures of one test, printed at its end.
struct Figures {
  int rounds = 0;
  int reads = 0;               // Gets of acknowledged records after a loss
  std::set<std::string> lost;  // acknowledged writes missing after a loss
  uint64_t load_syncs = 0;     // file Syncs while the writers ran (before each cut)
  uint64_t bytes_dropped = 0;
  int files_removed = 0;
};

// Every domain object over one store, built in dependency order.
class World {
 public:
  static absl::StatusOr<std::unique_ptr<World>> Open(const std::string& dir,
                                                     PowerLossFileSystem* plfs, bool sync_writes,
                                                     absl::Duration checkpoint_interval) {
    auto w = std::unique_ptr<World>(new World());
    std::set<std::string> cfs;
    for (const auto& cf : storage::Keyring::ColumnFamilies()) cfs.insert(cf);
    for (const auto& cf : audit::AuditLog::ColumnFamilies()) cfs.insert(cf);
    for (const auto& cf : referral::ReferralDesk::ColumnFamilies()) cfs.insert(cf);
    cfs.insert({directory::kColumnFamily, common::kAuditOutboxColumnFamily,
                consultation::kColumnFamily, inbox::kColumnFamily, consent::kColumnFamily});
    storage::Store::Options options;
    options.column_families.assign(cfs.begin(), cfs.end());
    options.sync_writes = sync_writes;
    options.file_system = plfs->file_system();
    BUDSTIKKE_ASSIGN_OR_RETURN(w->store_, storage::Store::Open(dir + "/db", options));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        w->keyring_,
        storage::Keyring::Create(storage::SecretBytes(std::string(32, 'k')), w->store_.get()));
    BUDSTIKKE_ASSIGN_OR_RETURN(w->envelope_, storage::Envelope::Create(w->keyring_.get()));
    BUDSTIKKE_ASSIGN_OR_RETURN(w->pseudonymizer_, storage::Pseudonymizer::Create(*w->keyring_));
    BUDSTIKKE_ASSIGN_OR_RETURN(w->outbox_,
                               common::StoreAuditOutbox::Create(w->store_.get(), &w->clock_));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        w->directory_, directory::Directory::Create(w->store_.get(), &w->clock_, w->outbox_.get(),
                                                    "budstikke-drift"));
    BUDSTIKKE_RETURN_IF_ERROR(w->directory_->LoadSeedIfEmpty(kSeed).status());
    BUDSTIKKE_ASSIGN_OR_RETURN(w->inbox_, inbox::Inbox::Create(w->store_.get(), &w->clock_));
    BUDSTIKKE_ASSIGN_OR_RETURN(w->scanner_, pii::Scanner::Create(pii::ScannerConfig()));
    consultation::Consultations::Deps deps;
    deps.store = w->store_.get();
    deps.keyring = w->keyring_.get();
    deps.envelope = w->envelope_.get();
    deps.audit = w->outbox_.get();
    deps.directory = w->directory_.get();
    deps.inbox = w->inbox_.get();
    deps.scanner = w->scanner_.get();
    deps.clock = &w->clock_;
    BUDSTIKKE_ASSIGN_OR_RETURN(w->consultations_, consultation::Consultations::Create(deps, {}));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        w->consents_,
        consent::ConsentRegistry::Create(w->store_.get(), w->keyring_.get(), w->outbox_.get(),
                                         w->inbox_.get(), w->directory_.get(), &w->clock_));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        w->desk_, referral::ReferralDesk::Create(
                      w->store_.get(), w->keyring_.get(), w->outbox_.get(), w->inbox_.get(),
                      w->directory_.get(), w->consents_.get(), &w->clock_));
    w->consents_->SetObserver(w->desk_.get());
    std::array<uint8_t, 32> seed{};
    seed[0] = 20;
    auto signer = tlog::Signer::FromPem("budstikke.test/audit",
                                        tlog::tlog_internal::Ed25519PemFromSeed(seed));
    if (!signer.ok()) return absl::InternalError("test signing key");
    w->signer_ = std::move(signer).value();
    audit::AuditLogOptions log_options;
    log_options.anchor_file = AnchorFile(dir);
    log_options.checkpoint_interval = checkpoint_interval;
    log_options.poll_interval = absl::Milliseconds(2);
    BUDSTIKKE_ASSIGN_OR_RETURN(w->log_, audit::AuditLog::Create(w->store_.get(), w->signer_.get(),
                                                                &w->clock_, log_options));
    return w;
  }

  static std::string AnchorFile(const std::string& dir) { return dir + "/audit.anchor"; }

  ~World() {
    if (log_) log_->Stop();
    if (inbox_) inbox_->Shutdown();
  }

  common::SystemClock clock_;
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

 private:
  World() = default;
};

class PowerLossTest : public ::testing::Test {
 protected:
  v1::AskConsultationRequest AskRequest(const std::string& rid, const std::string& text) {
    v1::AskConsultationRequest r;
    r.set_request_id(rid);
    r.mutable_recipient()->set_agency(kRecipient);
    r.set_age_band(v1::AGE_BAND_6_9);
    r.add_concerns(v1::CONCERN_SLEEP);
    r.set_text(text);
    return r;
  }

  v1::RecordConsentRequest ConsentRequest(const std::string& rid) {
    v1::RecordConsentRequest r;
    r.set_request_id(rid);
    r.set_subject_national_id(child_);
    r.set_giver(v1::CONSENT_GIVER_GUARDIAN);
    r.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
    r.mutable_recipient()->set_agency(kRecipient);
    r.set_purpose("henvisning til utredning");
    r.set_scope("journalnotat og tiltakslogg");
    r.set_method(v1::CONSENT_METHOD_WRITTEN);
    return r;
  }

  v1::SendReferralRequest SendRequest(const std::string& rid, const std::string& consent_id) {
    v1::SendReferralRequest r;
    r.set_request_id(rid);
    r.set_recipient_agency(kRecipient);
    r.set_subject_national_id(child_);
    r.set_reason("Vedvarende soevnvansker og angst gjennom et halvt aar.");
    r.set_consent_id(consent_id);
    return r;
  }

  // Records `ok` as acknowledged if the power was still on when it returned.
  bool Ack(bool ok) { return ok && plfs_.powered(); }

  // An asker: consultations until the power goes.
  void Asker(World* w, const common::Caller& who, int round) {
    for (int n = 0; plfs_.powered(); ++n) {
      const std::string text = absl::StrCat("Gutten sover daarlig, runde ", round, " nr ", n, " (",
                                            who.identity.user, ").");
      auto c = w->consultations_->Ask(
          who, AskRequest(absl::StrCat("ca-", who.identity.user, "-", round, "-", n), text));
      if (!Ack(c.ok())) continue;
      std::lock_guard<std::mutex> lock(acked_.mu);
      acked_.consultations[c->id()] = text;
      ++acked_.writes;
    }
  }

  // Consent, a referral under it, and every third time the revocation.
  void Referrer(World* w, int round) {
    for (int n = 0; plfs_.powered(); ++n) {
      auto consent = w->consents_->Record(kGp, ConsentRequest(absl::StrCat("rc-", round, "-", n)));
      if (!Ack(consent.ok())) continue;
      {
        std::lock_guard<std::mutex> lock(acked_.mu);
        acked_.consents.insert(consent->id());
        ++acked_.writes;
      }
      auto sent =
          w->desk_->Send(kGp, SendRequest(absl::StrCat("rs-", round, "-", n), consent->id()));
      if (!Ack(sent.ok())) continue;
      {
        std::lock_guard<std::mutex> lock(acked_.mu);
        acked_.referrals[sent->id()] = consent->id();
        ++acked_.writes;
      }
      if (n % 3 != 2) continue;
      v1::RevokeConsentRequest revoke;
      revoke.set_id(consent->id());
      revoke.set_reason("mor trakk samtykket");
      if (!Ack(w->consents_->Revoke(kGp, revoke).ok())) continue;
      std::lock_guard<std::mutex> lock(acked_.mu);
      acked_.revoked.insert(consent->id());
      ++acked_.writes;
    }
  }

  // The recipient's inbox consumer: reads what is new and acknowledges it.
  void Consumer(World* w) {
    while (plfs_.powered()) {
      auto events = w->inbox_->Read(kRecipient, kConsumer, 0, 500);
      if (!events.ok() || !plfs_.powered()) continue;
      if (events->empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(acked_.mu);
        for (const auto& e : *events) acked_.seen_cursors.emplace(e.cursor(), e.resource().id());
      }
      auto position = w->inbox_->Ack(kRecipient, kConsumer, events->back().cursor());
      if (!Ack(position.ok())) continue;
      std::lock_guard<std::mutex> lock(acked_.mu);
      acked_.position = std::max(acked_.position, *position);
      ++acked_.writes;
      ++acked_.acks;
    }
  }

  // An auditor: the latest signed checkpoint, as a client would keep it.
  void Auditor(World* w) {
    while (plfs_.powered()) {
      auto cp = w->log_->LatestCheckpoint();
      if (cp.ok() && plfs_.powered()) {
        std::lock_guard<std::mutex> lock(acked_.mu);
        if (!acked_.published || acked_.published->tree_size() <= cp->tree_size()) {
          acked_.published = *cp;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Runs the load on `w` for `duration`, then cuts the power, tears `w` down
  // and drops what was not durable.
  void RunAndCutPower(std::unique_ptr<World> w, int round, std::chrono::milliseconds duration) {
    w->log_->Start();
    const uint64_t syncs_before = plfs_.file_syncs();
    std::vector<std::thread> threads;
    threads.emplace_back([&] { Asker(w.get(), kStaff, round); });
    threads.emplace_back([&] { Asker(w.get(), kStaff2, round); });
    threads.emplace_back([&] { Referrer(w.get(), round); });
    threads.emplace_back([&] { Consumer(w.get()); });
    threads.emplace_back([&] { Auditor(w.get()); });
    std::this_thread::sleep_for(duration);
    // The anchor file is written outside RocksDB (fsynced at once): what it
    // held at the cut is what a power loss leaves of it (nothing if it did
    // not exist yet). Read just before the cut: an anchor written in between
    // covers only data synced before the cut.
    const std::string anchor_file = World::AnchorFile(dir_.path());
    const bool anchored = ::access(anchor_file.c_str(), F_OK) == 0;
    const std::string anchor = storage::testing::ReadWholeFile(anchor_file);
    plfs_.CutPower();
    figures_.load_syncs += plfs_.file_syncs() - syncs_before;
    for (auto& t : threads) t.join();
    w.reset();  // nothing of the shutdown reaches the disk
    ASSERT_THAT(plfs_.SimulatePowerLoss(), IsOk());
    figures_.bytes_dropped += plfs_.last_loss().bytes_dropped;
    figures_.files_removed += plfs_.last_loss().files_removed;
    if (!anchored) {
      std::remove(anchor_file.c_str());
      return;
    }
    FILE* f = std::fopen(anchor_file.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(anchor.data(), 1, anchor.size(), f), anchor.size());
    ASSERT_EQ(std::fclose(f), 0);
  }

  // An acknowledged write that is not there: a failure unless the test
  // expects losses (the control), counted in figures_.lost either way.
  // `write` names the write ("consent <id>", "revoke <id>", ...).
  void Lost(const std::string& write, const std::string& how) {
    figures_.lost.insert(write);
    if (!expect_losses_) ADD_FAILURE() << "lost: " << write << ": " << how;
  }

  // Every check of the file comment on the reopened world. Reads back (Get,
  // decrypted) the records whose ids are in `read_back`; the other checks
  // cover everything acknowledged so far.
  void Verify(World* w, const std::set<std::string>& read_back) {
    ASSERT_THAT(w->log_->DrainAll(), IsOk());
    std::lock_guard<std::mutex> lock(acked_.mu);

    // Audit log: each write's event once; no write event twice.
    std::map<std::string, int> events;  // "action resource-id" -> count
    for (uint64_t i = 0; i < w->log_->size(); ++i) {
      auto e = w->log_->GetEvent(i);
      ASSERT_THAT(e, IsOk()) << "event " << i;
      const v1::AuditEvent& ev = e->event();
      if (ev.outcome() != v1::AUDIT_OUTCOME_ALLOWED ||
          ev.action().find(".read") != std::string::npos ||
          ev.action().find(".list") != std::string::npos) {
        continue;
      }
      ++events[absl::StrCat(ev.action(), " ", ev.resource().id())];
    }
    for (const auto& [key, count] : events) EXPECT_EQ(count, 1) << key;
    auto expect_event = [&](const std::string& action, const std::string& id) {
      if (!events.count(absl::StrCat(action, " ", id)))
        Lost(absl::StrCat(action, " ", id), "no audit event");
    };
    for (const auto& [id, text] : acked_.consultations) expect_event("consultation.create", id);
    for (const auto& id : acked_.consents) expect_event("consent.record", id);
    for (const auto& id : acked_.revoked) expect_event("consent.revoke", id);
    for (const auto& [id, consent] : acked_.referrals) expect_event("referral.send", id);

    // The checkpoint the auditor got is a prefix of the log.
    if (acked_.published) {
      const v1::Checkpoint& cp = *acked_.published;
      ASSERT_GE(w->log_->size(), cp.tree_size());
      auto root = w->log_->tree().Root(w->log_->size());
      auto proof = w->log_->tree().ConsistencyProof(cp.tree_size(), w->log_->size());
      ASSERT_THAT(root, IsOk());
      ASSERT_THAT(proof, IsOk());
      tlog::Hash old_root{};
      ASSERT_EQ(cp.root_hash().size(), old_root.size());
      std::copy(cp.root_hash().begin(), cp.root_hash().end(), old_root.begin());
      EXPECT_TRUE(
          tlog::VerifyConsistency(cp.tree_size(), w->log_->size(), old_root, *root, *proof).ok())
          << "published checkpoint of size " << cp.tree_size() << " is not a prefix";
    }

    // Inbox: every write's event, no cursor reused, the position kept.
    std::map<std::string, uint64_t> inbox;  // resource id -> cursor
    for (uint64_t after = 0;;) {
      auto page = w->inbox_->Read(kRecipient, "checker", after, 10000);
      ASSERT_THAT(page, IsOk());
      if (page->empty()) break;
      for (const auto& e : *page) {
        inbox.emplace(e.resource().id(), e.cursor());
        auto seen = acked_.seen_cursors.find(e.cursor());
        if (seen != acked_.seen_cursors.end()) {
          EXPECT_EQ(seen->second, e.resource().id()) << "cursor " << e.cursor() << " reused";
        }
      }
      after = page->back().cursor();
    }
    for (const auto& [id, text] : acked_.consultations) {
      if (!inbox.count(id)) Lost(absl::StrCat("consultation.create ", id), "no inbox event");
    }
    for (const auto& [id, consent] : acked_.referrals) {
      if (!inbox.count(id)) Lost(absl::StrCat("referral.send ", id), "no inbox event");
    }
    auto position = w->inbox_->Position(kRecipient, kConsumer);
    ASSERT_THAT(position, IsOk());
    if (*position < acked_.position) {
      Lost(absl::StrCat("inbox.ack ", acked_.position), absl::StrCat("position now ", *position));
    }
    auto latest = w->inbox_->Latest(kRecipient);
    ASSERT_THAT(latest, IsOk());
    if (!acked_.seen_cursors.empty()) {
      EXPECT_GT(*latest, acked_.seen_cursors.rbegin()->first)
          << "a new event could take a cursor a client saw";
    }

    // Indexes: every record listed.
    std::set<std::string> listed;
    v1::ListConsultationsRequest cl;
    cl.set_mailbox(v1::MAILBOX_SENT);
    cl.set_page_size(500);
    for (const common::Caller* who : {&kStaff, &kStaff2}) {
      cl.clear_page_token();
      do {
        auto page = w->consultations_->List(*who, cl);
        ASSERT_THAT(page, IsOk());
        for (const auto& c : page->consultations) listed.insert(c.id());
        cl.set_page_token(page->next_page_token);
      } while (!cl.page_token().empty());
    }
    v1::ListReferralsRequest rl;
    rl.set_mailbox(v1::MAILBOX_SENT);
    rl.set_page_size(500);
    do {
      auto page = w->desk_->List(kGp, rl);
      ASSERT_THAT(page, IsOk());
      for (const auto& r : page->referrals()) listed.insert(r.id());
      rl.set_page_token(page->next_page_token());
    } while (!rl.page_token().empty());
    v1::ListConsentsRequest nl;
    nl.set_subject_national_id(child_);
    nl.set_page_size(500);
    do {
      auto page = w->consents_->List(kGp, nl);
      ASSERT_THAT(page, IsOk());
      for (const auto& c : page->consents()) listed.insert(c.id());
      nl.set_page_token(page->next_page_token());
    } while (!nl.page_token().empty());
    auto expect_listed = [&](const std::string& action, const std::string& id) {
      if (!listed.count(id)) Lost(absl::StrCat(action, " ", id), "not listed");
    };
    for (const auto& [id, text] : acked_.consultations) expect_listed("consultation.create", id);
    for (const auto& id : acked_.consents) expect_listed("consent.record", id);
    for (const auto& [id, consent] : acked_.referrals) expect_listed("referral.send", id);

    // Read back (decrypted) the records named.
    for (const auto& [id, text] : acked_.consultations) {
      if (!read_back.count(id)) continue;
      ++figures_.reads;
      auto c = w->consultations_->Get(kStaff, id);
      if (!c.ok()) {
        Lost(absl::StrCat("consultation.create ", id), c.status().ToString());
      } else {
        EXPECT_EQ(c->text(), text);
      }
    }
    for (const auto& id : acked_.consents) {
      if (!read_back.count(id)) continue;
      ++figures_.reads;
      auto c = w->consents_->Get(kGp, id);
      if (!c.ok()) {
        Lost(absl::StrCat("consent.record ", id), c.status().ToString());
        continue;
      }
      if (acked_.revoked.count(id)) {
        ++figures_.reads;
        if (c->status() != v1::CONSENT_STATUS_REVOKED)
          Lost(absl::StrCat("consent.revoke ", id), "not revoked");
      }
    }
    for (const auto& [id, consent] : acked_.referrals) {
      if (!read_back.count(id)) continue;
      ++figures_.reads;
      auto r = w->desk_->Get(kGp, id);
      if (!r.ok()) {
        Lost(absl::StrCat("referral.send ", id), r.status().ToString());
        continue;
      }
      EXPECT_EQ(r->consent_id(), consent);
      if (acked_.revoked.count(consent) && r->status() != v1::REFERRAL_STATUS_WITHDRAWN) {
        Lost(absl::StrCat("consent.revoke ", consent),
             absl::StrCat("referral ", id, " not withdrawn"));
      }
    }
  }

  // The ids acknowledged so far (to read back those of one round).
  std::set<std::string> AckedIds() {
    std::lock_guard<std::mutex> lock(acked_.mu);
    std::set<std::string> ids;
    for (const auto& [id, text] : acked_.consultations) ids.insert(id);
    ids.insert(acked_.consents.begin(), acked_.consents.end());
    for (const auto& [id, consent] : acked_.referrals) ids.insert(id);
    return ids;
  }

  void Print(const char* what) {
    std::lock_guard<std::mutex> lock(acked_.mu);
    std::printf(
        "[ FIGURES  ] %s: %d power-loss rounds; %d writes acknowledged (%zu Ask, %zu consent "
        "Record, %zu Send, %zu Revoke, %d inbox Ack), all checked after each loss (audit, index, "
        "inbox), %d Gets of them after a loss; %zu lost; %llu unsynced bytes dropped, %d "
        "unsynced files removed; %llu file syncs while the writers ran; latest checkpoint a "
        "client got: size %llu\n",
        what, figures_.rounds, acked_.writes, acked_.consultations.size(), acked_.consents.size(),
        acked_.referrals.size(), acked_.revoked.size(), acked_.acks, figures_.reads,
        figures_.lost.size(), static_cast<unsigned long long>(figures_.bytes_dropped),
        figures_.files_removed, static_cast<unsigned long long>(figures_.load_syncs),
        static_cast<unsigned long long>(acked_.published ? acked_.published->tree_size() : 0));
  }

  budstikke::testing::TempDir dir_;
  PowerLossFileSystem plfs_;
  Acked acked_;
  Figures figures_;
  bool expect_losses_ = false;  // the control
  const std::string child_ = common::testing::MakeSyntheticNationalIdAgedOn(10, 2025, 6, 1, 123);
};

TEST_F(PowerLossTest, DurableByDefaultLosesNoAcknowledgedWrite) {
  constexpr int kRounds = 20;
  const unsigned seed = std::random_device()();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> duration_ms(50, 400);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::printf("[ FIGURES  ] cut times drawn with seed %u\n", seed);
  std::set<std::string> before;
  for (int round = 0; round <= kRounds; ++round) {
    auto w = World::Open(dir_.path(), &plfs_, /*sync_writes=*/true, absl::Milliseconds(50));
    ASSERT_THAT(w, IsOk()) << "round " << round;
    std::set<std::string> all = AckedIds(), fresh;
    for (const auto& id : all) {
      if (!before.count(id)) fresh.insert(id);
    }
    ASSERT_NO_FATAL_FAILURE(Verify(w->get(), fresh)) << "round " << round;
    if (HasFailure()) break;
    before = std::move(all);
    if (round == kRounds) break;
    ASSERT_NO_FATAL_FAILURE(
        RunAndCutPower(*std::move(w), round, std::chrono::milliseconds(duration_ms(rng))));
    ++figures_.rounds;
  }
  // A last full read-back of everything ever acknowledged.
  {
    auto w = World::Open(dir_.path(), &plfs_, /*sync_writes=*/false, absl::Milliseconds(50));
    ASSERT_THAT(w, IsOk());
    ASSERT_NO_FATAL_FAILURE(Verify(w->get(), AckedIds()));
  }
  Print("durable (sync_writes on)");
  EXPECT_GT(acked_.writes, 100);
  EXPECT_THAT(figures_.lost, ::testing::IsEmpty());
}

// With sync_writes off (--no-sync-writes) acknowledged writes are lost: the
// file system really drops what is not synced. The audit log still opens:
// it syncs the WAL before it signs.
TEST_F(PowerLossTest, ControlWithoutSyncWritesLosesAcknowledgedWrites) {
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    auto w = World::Open(dir_.path(), &plfs_, /*sync_writes=*/false, absl::Seconds(10));
    ASSERT_THAT(w, IsOk()) << "round " << round;
    ASSERT_NO_FATAL_FAILURE(RunAndCutPower(*std::move(w), round, std::chrono::milliseconds(300)));
    ++figures_.rounds;
  }
  auto w = World::Open(dir_.path(), &plfs_, /*sync_writes=*/false, absl::Seconds(10));
  ASSERT_THAT(w, IsOk());
  expect_losses_ = true;
  ASSERT_NO_FATAL_FAILURE(Verify(w->get(), AckedIds()));
  Print("control (sync_writes off)");
  EXPECT_GT(acked_.writes, 100);
  EXPECT_FALSE(figures_.lost.empty());
}

}  // namespace
}  // namespace budstikke
