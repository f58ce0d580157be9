// Inbox (domain level) with a real Store: dense per-agency cursors under
// concurrent commits, redelivery of unacknowledged events, persistence.
#include "services/inbox/inbox.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/fake_clock.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"
#include "storage/testing/power_loss_fs.h"

namespace budstikke::inbox {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::SizeIs;

common::InboxDelivery Delivery(const std::string& agency, const std::string& id) {
  return {agency, v1::INBOX_EVENT_TYPE_CONSULTATION_RECEIVED,
          common::Ref(v1::RESOURCE_KIND_CONSULTATION, id)};
}

class InboxDomainTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    inbox_.reset();
    store_.reset();
    storage::Store::Options o;
    o.column_families = {kColumnFamily, "other"};
    o.fault_injector = faults_;
    o.sync_writes = sync_writes_;
    if (sync_writes_) o.file_system = plfs_.file_system();
    store_ = *storage::Store::Open(dir_.Sub("db"), o);
    inbox_ = *Inbox::Create(store_.get(), &clock_, options_);
  }
  absl::Status Commit(const std::string& agency, const std::string& id) {
    storage::WriteBatch batch;
    batch.Put("other", id, "change");
    return inbox_->Commit(std::move(batch), {Delivery(agency, id)});
  }

  // Commit returns once its event and every event below it are visible: when
  // `completed` commits have returned, at least that many cursors are latest,
  // and a Read then returns cursors 1..latest without a gap.
  void ExpectEveryCommitReadableWhenItReturns(int thread_count, int per_thread);

  bool sync_writes_ = false;
  storage::testing::PowerLossFileSystem plfs_;
  storage::testing::TempDir dir_;
  std::shared_ptr<storage::FaultInjector> faults_ = std::make_shared<storage::FaultInjector>();
  common::FakeClock clock_{absl::FromUnixSeconds(1717200000)};
  Inbox::Options options_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Inbox> inbox_;
};

TEST_F(InboxDomainTest, TenThousandEventsAcrossThreeAgenciesNoneLostOrDuplicated) {
  const std::vector<std::string> agencies = {"bup-oslo", "ppt-oslo", "barnevern-oslo"};
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;  // 10000 in all
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string& agency = agencies[(t + i) % agencies.size()];
        if (!Commit(agency, absl::StrCat("t", t, "-", i)).ok()) ++failures;
      }
    });
  }
  // A consumer reads and acks concurrently for the first agency, in chunks.
  std::atomic<bool> done{false};
  std::vector<v1::InboxEvent> consumed;
  std::thread consumer([&] {
    uint64_t cursor = 0;
    while (true) {
      auto events = inbox_->Read("bup-oslo", "desk", cursor, 97);
      if (!events.ok()) return;
      for (auto& e : *events) {
        cursor = e.cursor();
        consumed.push_back(e);
      }
      if (!events->empty()) {
        (void)inbox_->Ack("bup-oslo", "desk", cursor);
        continue;
      }
      if (done.load() && *inbox_->Latest("bup-oslo") == cursor) return;
      inbox_->WaitForNewer("bup-oslo", cursor, absl::Milliseconds(50));
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  consumer.join();
  ASSERT_EQ(failures.load(), 0);

  std::map<std::string, int> total;
  std::set<std::string> all_ids;
  for (const std::string& agency : agencies) {
    std::vector<v1::InboxEvent> events;
    if (agency == "bup-oslo") {
      events = consumed;
      auto rest = inbox_->Read(agency, "desk", 0, 10000);
      ASSERT_THAT(rest.status(), IsOk());
      events.insert(events.end(), rest->begin(), rest->end());
    } else {
      auto read = inbox_->Read(agency, "desk", 0, 10000);
      ASSERT_THAT(read.status(), IsOk());
      events = *read;
    }
    // Dense, in order, no duplicates.
    std::map<int, int> last_index_per_thread;
    for (size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].cursor(), i + 1) << agency;
      const std::string& id = events[i].resource().id();
      EXPECT_TRUE(all_ids.insert(id).second) << "duplicate " << id;
      // Each producer's events appear in the order it committed them.
      int t = id[1] - '0';
      int idx = std::stoi(id.substr(3));
      auto it = last_index_per_thread.find(t);
      if (it != last_index_per_thread.end()) {
        EXPECT_LT(it->second, idx);
      }
      last_index_per_thread[t] = idx;
    }
    EXPECT_EQ(*inbox_->Latest(agency), events.size());
    total[agency] = static_cast<int>(events.size());
  }
  EXPECT_EQ(all_ids.size(), 10000u);
}

TEST_F(InboxDomainTest, UnackedEventsAreRedeliveredInOrderAfterAReconnect) {
  for (int i = 1; i <= 10; ++i) ASSERT_THAT(Commit("bup-oslo", absl::StrCat("c", i)), IsOk());
  // First subscriber reads 5 and "dies" before acking.
  auto first = inbox_->Read("bup-oslo", "desk", 0, 5);
  ASSERT_THAT(first.status(), IsOk());
  ASSERT_THAT(*first, SizeIs(5));
  // Resubscribe from 0: the same events again, from cursor 1.
  auto again = inbox_->Read("bup-oslo", "desk", 0, 100);
  ASSERT_THAT(*again, SizeIs(10));
  EXPECT_EQ((*again)[0].cursor(), 1u);
  EXPECT_EQ((*again)[0].resource().id(), "c1");
  // Ack 3: delivery starts at 4, whatever from_cursor below that.
  EXPECT_EQ(*inbox_->Ack("bup-oslo", "desk", 3), 3u);
  auto after_ack = inbox_->Read("bup-oslo", "desk", 0, 100);
  ASSERT_THAT(*after_ack, SizeIs(7));
  EXPECT_EQ((*after_ack)[0].cursor(), 4u);
  // Resume from a cursor: strictly after it.
  auto resumed = inbox_->Read("bup-oslo", "desk", 6, 100);
  ASSERT_THAT(*resumed, SizeIs(4));
  EXPECT_EQ((*resumed)[0].cursor(), 7u);
  // Ack is idempotent and bounded.
  EXPECT_EQ(*inbox_->Ack("bup-oslo", "desk", 2), 3u);
  EXPECT_THAT(inbox_->Ack("bup-oslo", "desk", 11).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  // Other agencies are untouched.
  EXPECT_EQ(*inbox_->Latest("ppt-oslo"), 0u);
  EXPECT_THAT(*inbox_->Read("ppt-oslo", "desk", 0, 10), SizeIs(0));
}

TEST_F(InboxDomainTest, CursorsAndPositionsSurviveReopen) {
  for (int i = 1; i <= 4; ++i) ASSERT_THAT(Commit("bup-oslo", absl::StrCat("c", i)), IsOk());
  ASSERT_THAT(inbox_->Ack("bup-oslo", "desk", 2).status(), IsOk());
  ASSERT_THAT(Commit("bup-oslo-vest", "w1"), IsOk());
  EXPECT_EQ(*inbox_->Latest("bup-oslo"), 4u);  // the first start of a data dir counts from 1
  EXPECT_EQ(*inbox_->Latest("bup-oslo-vest"), 1u);
  EXPECT_EQ(*inbox_->Latest("bup-osl"), 0u);  // an id that is a prefix of another
  Open();
  // A later start jumps to its floor: the start time in ms x 1000.
  constexpr uint64_t kFloor = 1717200000000ull * 1000;
  EXPECT_EQ(*inbox_->Latest("bup-oslo"), kFloor);
  EXPECT_EQ(*inbox_->Position("bup-oslo", "desk"), 2u);
  ASSERT_THAT(Commit("bup-oslo", "c5"), IsOk());
  auto events = inbox_->Read("bup-oslo", "desk", 0, 10);
  ASSERT_THAT(*events, SizeIs(3));
  EXPECT_EQ((*events)[0].cursor(), 3u);
  EXPECT_EQ((*events)[1].cursor(), 4u);
  EXPECT_EQ((*events)[2].cursor(), kFloor + 1);
  EXPECT_EQ((*events)[2].resource().id(), "c5");
  // The change committed with the event is there too.
  EXPECT_THAT(store_->Get("other", "c5").status(), IsOk());
  // Acknowledged up to the last event: the position survives, the events stay.
  ASSERT_THAT(inbox_->Ack("bup-oslo", "desk", kFloor + 1).status(), IsOk());
  clock_.Advance(absl::Seconds(1));
  Open();
  EXPECT_EQ(*inbox_->Position("bup-oslo", "desk"), kFloor + 1);
  EXPECT_THAT(*inbox_->Read("bup-oslo", "kari", 0, 10), SizeIs(5));
  ASSERT_THAT(Commit("bup-oslo", "c6"), IsOk());
  events = inbox_->Read("bup-oslo", "desk", 0, 10);
  ASSERT_THAT(*events, SizeIs(1));
  EXPECT_EQ((*events)[0].cursor(), (1717200001000ull * 1000) + 1);
}

void InboxDomainTest::ExpectEveryCommitReadableWhenItReturns(int thread_count, int per_thread) {
  std::atomic<uint64_t> completed{0};
  std::atomic<int> violations{0}, failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < thread_count; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        if (!Commit("bup-oslo", absl::StrCat("t", t, "-", i)).ok()) ++failures;
        const uint64_t done = completed.fetch_add(1) + 1;
        auto latest = inbox_->Latest("bup-oslo");
        if (!latest.ok() || *latest < done) ++violations;
        if (i % 25 != 0 || !latest.ok()) continue;
        auto events = inbox_->Read("bup-oslo", "desk", 0, 10000);
        if (!events.ok() || events->size() < *latest) {
          ++violations;
          continue;
        }
        for (uint64_t k = 0; k < *latest; ++k) {
          if ((*events)[k].cursor() != k + 1) ++violations;
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(violations.load(), 0);
  auto events = inbox_->Read("bup-oslo", "desk", 0, 10000);
  ASSERT_THAT(events.status(), IsOk());
  ASSERT_THAT(*events, SizeIs(thread_count * per_thread));
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].cursor(), i + 1);
}

TEST_F(InboxDomainTest, EveryCommitIsReadableWhenItReturns) {
  ExpectEveryCommitReadableWhenItReturns(4, 500);
}

// With sync_writes: the WAL is fsynced before a commit returns.
class InboxDurableTest : public InboxDomainTest {
 protected:
  void SetUp() override {
    sync_writes_ = true;
    Open();
  }
};

TEST_F(InboxDurableTest, EveryCommitIsReadableWhenItReturns) {
  ExpectEveryCommitReadableWhenItReturns(8, 100);
}

TEST_F(InboxDurableTest, WritersToOneAgencyShareAnFsyncAndPublishOnlyWhatIsDurable) {
  // While the first commit's fsync is held, eight more commits to the same
  // agency write their batches (the agency's lock is not held across the
  // fsync) but publish nothing; then one fsync serves all eight.
  constexpr int kWriters = 8;
  const uint64_t syncs_before = plfs_.file_syncs();
  absl::Status first_status;
  std::vector<absl::Status> statuses(kWriters);
  storage::testing::SyncHold hold(&plfs_);
  hold.Spawn([&] { first_status = Commit("bup-oslo", "first"); });
  ASSERT_TRUE(hold.AwaitHeld(1));
  for (int i = 0; i < kWriters; ++i) {
    hold.Spawn([&, i] { statuses[i] = Commit("bup-oslo", absl::StrCat("w", i)); });
  }
  ASSERT_TRUE(storage::testing::WaitUntil([&] {
    for (int i = 0; i < kWriters; ++i) {
      if (!store_->Get("other", absl::StrCat("w", i)).ok()) return false;
    }
    return true;
  })) << "the other commits did not write while the first one's fsync was in flight";
  EXPECT_EQ(*inbox_->Latest("bup-oslo"), 0u);
  EXPECT_THAT(*inbox_->Read("bup-oslo", "desk", 0, 100), SizeIs(0));
  EXPECT_FALSE(inbox_->WaitForNewer("bup-oslo", 0, absl::Milliseconds(20)));
  hold.Release();
  EXPECT_THAT(first_status, IsOk());
  for (const absl::Status& s : statuses) EXPECT_THAT(s, IsOk());
  EXPECT_EQ(plfs_.file_syncs() - syncs_before, 2u);
  auto events = inbox_->Read("bup-oslo", "desk", 0, 100);
  ASSERT_THAT(*events, SizeIs(kWriters + 1));
  EXPECT_EQ((*events)[0].resource().id(), "first");
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].cursor(), i + 1);
}

TEST_F(InboxDomainTest, AFailedWriteConsumesNoCursor) {
  ASSERT_THAT(Commit("bup-oslo", "c1"), IsOk());
  faults_->SetFailWrites(true);
  EXPECT_THAT(Commit("bup-oslo", "lost"),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("injected")));
  faults_->SetFailWrites(false);
  EXPECT_EQ(*inbox_->Latest("bup-oslo"), 1u);
  ASSERT_THAT(Commit("bup-oslo", "c2"), IsOk());
  auto events = inbox_->Read("bup-oslo", "desk", 0, 10);
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[1].cursor(), 2u);
  EXPECT_EQ((*events)[1].resource().id(), "c2");
  EXPECT_THAT(store_->Get("other", "lost").status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_F(InboxDomainTest, FailedWritesAmongConcurrentCommitsLeaveDenseCursors) {
  // Writes fail on and off while four threads commit until each has 300
  // successes: failed commits consume no cursor, so the events of the
  // successful ones are exactly cursors 1..1200, each once.
  constexpr int kThreads = 4;
  constexpr int kSuccessesPerThread = 300;
  std::vector<std::vector<std::string>> ok_ids(kThreads);
  std::atomic<int> failed{0};
  std::atomic<bool> stop{false};
  // Writes fail from the start until the first failure is seen, so at least
  // one commit fails however the threads are scheduled; then on and off.
  faults_->SetFailWrites(true);
  std::thread toggler([&] {
    while (failed.load() == 0 && !stop.load()) absl::SleepFor(absl::Microseconds(50));
    bool fail = false;
    while (!stop.load()) {
      faults_->SetFailWrites(fail);
      absl::SleepFor(absl::Microseconds(fail ? 20 : 200));
      fail = !fail;
    }
    faults_->SetFailWrites(false);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; static_cast<int>(ok_ids[t].size()) < kSuccessesPerThread && i < 1000000;
           ++i) {
        const std::string id = absl::StrCat("t", t, "-", i);
        if (Commit("bup-oslo", id).ok()) {
          ok_ids[t].push_back(id);
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  toggler.join();

  std::set<std::string> want;
  for (const auto& ids : ok_ids) want.insert(ids.begin(), ids.end());
  ASSERT_EQ(want.size(), static_cast<size_t>(kThreads * kSuccessesPerThread));
  ASSERT_GT(failed.load(), 0) << "no write failed: the test did not test anything";
  auto events = inbox_->Read("bup-oslo", "desk", 0, 10000);
  ASSERT_THAT(events.status(), IsOk());
  std::set<std::string> got;
  uint64_t previous = 0;
  for (const auto& e : *events) {
    EXPECT_EQ(e.cursor(), previous + 1);
    previous = e.cursor();
    EXPECT_TRUE(got.insert(e.resource().id()).second) << "duplicate " << e.resource().id();
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(previous, want.size());
  EXPECT_EQ(*inbox_->Latest("bup-oslo"), previous);
  // The next commit after a reopen gets a higher cursor (from the floor).
  Open();
  EXPECT_GT(*inbox_->Latest("bup-oslo"), previous);
  ASSERT_THAT(Commit("bup-oslo", "after"), IsOk());
  auto tail = inbox_->Read("bup-oslo", "desk", previous, 10);
  ASSERT_THAT(*tail, SizeIs(1));
  EXPECT_EQ((*tail)[0].cursor(), *inbox_->Latest("bup-oslo"));
  EXPECT_EQ((*tail)[0].resource().id(), "after");
}

// Issue 20, defect 3: a restored data dir (or one that lost its last writes
// to a power loss) must not hand out cursors that clients already saw: they
// de-duplicate by cursor and would drop the new events.
TEST_F(InboxDomainTest, CursorsDoNotGoBackAfterARestore) {
  ASSERT_THAT(Commit("bup-oslo", "before-1"), IsOk());
  ASSERT_THAT(Commit("bup-oslo", "before-2"), IsOk());
  ASSERT_THAT(store_->Backup(dir_.Sub("backup")), IsOk());
  ASSERT_THAT(Commit("bup-oslo", "after-1"), IsOk());
  ASSERT_THAT(Commit("bup-oslo", "after-2"), IsOk());
  auto seen = inbox_->Read("bup-oslo", "desk", 0, 10);  // a client sees all four
  ASSERT_THAT(seen.status(), IsOk());
  ASSERT_THAT(*seen, SizeIs(4));
  const uint64_t last_seen = seen->back().cursor();

  inbox_.reset();
  store_.reset();
  ASSERT_THAT(storage::Store::Restore(dir_.Sub("backup"), dir_.Sub("db")), IsOk());
  clock_.Advance(absl::Minutes(5));
  Open();
  ASSERT_THAT(Commit("bup-oslo", "new"), IsOk());

  auto all = inbox_->Read("bup-oslo", "desk", 0, 10);
  ASSERT_THAT(all.status(), IsOk());
  ASSERT_THAT(*all, SizeIs(3));
  EXPECT_EQ(all->back().resource().id(), "new");
  EXPECT_GT(all->back().cursor(), last_seen);
  // The client resumes from the last cursor it saw and gets the new event.
  auto resumed = inbox_->Read("bup-oslo", "desk", last_seen, 10);
  ASSERT_THAT(resumed.status(), IsOk());
  ASSERT_THAT(*resumed, SizeIs(1));
  EXPECT_EQ((*resumed)[0].resource().id(), "new");
}

// Issue 20, defect 3: each consumer has its own position; an Ack moves only
// that one and removes nothing, so another consumer still gets every event.
TEST_F(InboxDomainTest, ConsumersKeepTheirOwnPositionsAndAcksRemoveNothing) {
  for (int i = 1; i <= 5; ++i) ASSERT_THAT(Commit("bup-oslo", absl::StrCat("c", i)), IsOk());
  EXPECT_EQ(*inbox_->Ack("bup-oslo", "terapeut1", 3), 3u);
  EXPECT_THAT(*inbox_->Read("bup-oslo", "terapeut1", 0, 10), SizeIs(2));
  auto other = inbox_->Read("bup-oslo", "terapeut2", 0, 10);
  ASSERT_THAT(other.status(), IsOk());
  ASSERT_THAT(*other, SizeIs(5));
  EXPECT_EQ((*other)[0].resource().id(), "c1");
  EXPECT_EQ(*inbox_->Position("bup-oslo", "terapeut2"), 0u);
  EXPECT_EQ(*inbox_->Ack("bup-oslo", "terapeut2", 1), 1u);
  EXPECT_EQ(*inbox_->Position("bup-oslo", "terapeut1"), 3u);
  // Another agency's consumer of the same name is another position.
  ASSERT_THAT(Commit("ppt-oslo", "p1"), IsOk());
  EXPECT_THAT(*inbox_->Read("ppt-oslo", "terapeut1", 0, 10), SizeIs(1));
  // Positions survive a restart.
  Open();
  EXPECT_EQ(*inbox_->Position("bup-oslo", "terapeut1"), 3u);
  EXPECT_EQ(*inbox_->Position("bup-oslo", "terapeut2"), 1u);
  EXPECT_THAT(*inbox_->Read("bup-oslo", "terapeut2", 0, 10), SizeIs(4));
  // Consumer names: the characters of a user id, 1-64 of them.
  for (const std::string bad : {std::string(), std::string("Desk"), std::string("a/b"),
                                std::string("a b"), std::string(65, 'a')}) {
    EXPECT_THAT(inbox_->Ack("bup-oslo", bad, 1).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         "consumer must be 1-64 characters of a-z, 0-9, '.', '_' and '-', e.g. "
                         "\"desk\""))
        << bad;
    EXPECT_THAT(inbox_->Read("bup-oslo", bad, 0, 10).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  }
  EXPECT_THAT(inbox_->Ack("bup-oslo", std::string(64, 'a'), 1).status(), IsOk());
}

TEST_F(InboxDomainTest, AnAgencyKeepsAtMostMaxConsumersPositions) {
  options_.max_consumers = 2;
  Open();
  ASSERT_THAT(Commit("bup-oslo", "c1"), IsOk());
  ASSERT_THAT(inbox_->Ack("bup-oslo", "a", 1).status(), IsOk());
  ASSERT_THAT(inbox_->Ack("bup-oslo", "b", 1).status(), IsOk());
  EXPECT_THAT(inbox_->Ack("bup-oslo", "c", 1).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "the agency's inbox has 2 consumers, the most it keeps: acknowledge with "
                       "a consumer name already in use (--consumer)"));
  EXPECT_THAT(inbox_->Ack("bup-oslo", "a", 1).status(), IsOk());
  EXPECT_THAT(inbox_->Ack("bup-oslo", "c", 0).status(), IsOk());  // a no-op adds nothing
  EXPECT_THAT(inbox_->Ack("ppt-oslo", "c", 0).status(), IsOk());
}

TEST_F(InboxDomainTest, RetentionRemovesOldEventsAndThePositionsBelowThem) {
  ASSERT_THAT(Commit("bup-oslo", "old-1"), IsOk());
  ASSERT_THAT(Commit("bup-oslo", "old-2"), IsOk());
  ASSERT_THAT(Commit("ppt-oslo", "old-ppt"), IsOk());
  clock_.Advance(absl::Hours(24 * 89));
  ASSERT_THAT(Commit("bup-oslo", "young"), IsOk());
  ASSERT_THAT(inbox_->Ack("bup-oslo", "behind", 1).status(), IsOk());
  ASSERT_THAT(inbox_->Ack("bup-oslo", "ahead", 3).status(), IsOk());
  EXPECT_EQ(*inbox_->RunRetentionOnce(), 0);
  clock_.Advance(absl::Hours(24 * 2));  // old-* are 91 days old, young 2 days
  EXPECT_EQ(*inbox_->RunRetentionOnce(), 3);
  EXPECT_EQ(*inbox_->RunRetentionOnce(), 0);
  auto kept = inbox_->Read("bup-oslo", "new", 0, 10);
  ASSERT_THAT(*kept, SizeIs(1));
  EXPECT_EQ((*kept)[0].resource().id(), "young");
  EXPECT_THAT(*inbox_->Read("ppt-oslo", "new", 0, 10), SizeIs(0));
  // "behind" pointed below everything removed: it is gone (the same as none).
  EXPECT_EQ(*inbox_->Position("bup-oslo", "behind"), 0u);
  EXPECT_EQ(*inbox_->Position("bup-oslo", "ahead"), 3u);
  // With every event of ppt-oslo removed, its cursors still go on after them.
  EXPECT_EQ(*inbox_->Latest("ppt-oslo"), 1u);
  options_.max_consumers = 1;  // "behind" no longer counts
  Open();
  EXPECT_EQ(*inbox_->Position("bup-oslo", "behind"), 0u);
  EXPECT_THAT(inbox_->Ack("bup-oslo", "ahead", 3).status(), IsOk());
  EXPECT_THAT(*inbox_->Read("bup-oslo", "new", 0, 10), SizeIs(1));
}

// After a restart the agency's latest cursor is the start floor with no event
// at it: a subscriber behind the floor waits instead of spinning.
TEST_F(InboxDomainTest, FollowBehindTheStartFloorWaits) {
  ASSERT_THAT(Commit("bup-oslo", "c1"), IsOk());
  Open();
  std::atomic<int> polls{0};
  std::atomic<bool> stop{false};
  std::vector<std::string> got;
  std::thread follower([&] {
    absl::Status s = inbox_->Follow(
        "bup-oslo", "desk", 1, absl::Milliseconds(50),
        [&](const v1::InboxEvent& e) {
          got.push_back(e.resource().id());
          return true;
        },
        [&] {
          ++polls;
          return stop.load();
        });
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kCancelled, ""));
  });
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_THAT(Commit("bup-oslo", "c2"), IsOk());
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  follower.join();
  EXPECT_THAT(got, ::testing::ElementsAre("c2"));
  EXPECT_LT(polls.load(), 30);
}

TEST_F(InboxDomainTest, WaitForNewerWakesOnCommitAndRejectsBadInput) {
  EXPECT_FALSE(inbox_->WaitForNewer("bup-oslo", 0, absl::Milliseconds(10)));
  std::thread t([&] {
    absl::SleepFor(absl::Milliseconds(20));
    (void)Commit("bup-oslo", "x");
  });
  EXPECT_TRUE(inbox_->WaitForNewer("bup-oslo", 0, absl::Seconds(10)));
  t.join();
  storage::WriteBatch batch;
  EXPECT_THAT(inbox_->Commit(std::move(batch), {Delivery("bad/agency", "x")}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  inbox_->Shutdown();
  EXPECT_FALSE(inbox_->WaitForNewer("bup-oslo", 0, absl::Seconds(10)));
}

}  // namespace
}  // namespace budstikke::inbox
