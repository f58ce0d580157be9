// Outbox delivery between processes: sequence numbers, the drainer and the
// receiver's ledger, on a real RocksDB store.
#include <memory>
#include <string>
#include <vector>

#include "budstikke/internal/v1/internal.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/fake_clock.h"
#include "services/common/outbox/ingest_ledger.h"
#include "services/common/outbox/outbox_drainer.h"
#include "services/common/outbox/outbox_inbox_writer.h"
#include "services/common/store_audit_outbox.h"
#include "storage/big_endian.h"
#include "storage/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace budstikke::common {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    storage::Store::Options options;
    options.column_families = {kInboxOutboxColumnFamily, kIngestColumnFamily, "applied"};
    auto store = storage::Store::Open(dir_.Sub("db"), options);
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
    auto writer = OutboxInboxWriter::Create(store_.get());
    ASSERT_THAT(writer.status(), IsOk());
    writer_ = *std::move(writer);
  }
  void Reopen() {
    writer_.reset();
    store_.reset();
    Open();
  }
  absl::Status Notify(const std::string& agency) {
    return writer_->Commit(storage::WriteBatch(),
                           {{agency, v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED,
                             Ref(v1::RESOURCE_KIND_REFERRAL, "r-" + agency)}});
  }
  // A receiver that applies entries through the ledger into "applied".
  absl::Status Receive(const std::vector<OutboxEntry>& entries) {
    return ledger_
        ->Apply("src", entries.back().sequence,
                [&](uint64_t next, storage::WriteBatch batch) {
                  for (const OutboxEntry& e : entries) {
                    if (e.sequence < next) continue;
                    internal::v1::InboxEntry entry;
                    EXPECT_TRUE(entry.ParseFromString(e.value));
                    received_.push_back(entry.agency());
                  }
                  return store_->Write(std::move(batch));
                })
        .status();
  }
  std::unique_ptr<OutboxDrainer> Drainer(OutboxDrainer::Deliver deliver) {
    return std::make_unique<OutboxDrainer>(store_.get(), kInboxOutboxColumnFamily,
                                           &writer_->sequence(), std::move(deliver), &clock_);
  }

  ::budstikke::testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<OutboxInboxWriter> writer_;
  std::unique_ptr<IngestLedger> ledger_;
  std::vector<std::string> received_;
};

TEST(OutboxSequenceTest, NumbersInFlightHoldBackSettledBelow) {
  OutboxSequence sequence(7);
  storage::WriteBatch a, b;
  EXPECT_EQ(sequence.Reserve(&a), 7u);
  EXPECT_EQ(sequence.Reserve(&b), 8u);
  EXPECT_EQ(sequence.SettledBelow(), 7u);
  b = storage::WriteBatch();  // dropped unwritten: settles 8
  EXPECT_EQ(sequence.SettledBelow(), 7u);
  a = storage::WriteBatch();
  EXPECT_EQ(sequence.SettledBelow(), 9u);
  EXPECT_EQ(sequence.next(), 9u);
}

TEST_F(OutboxTest, DeliversInOrderDeletesAndKeepsNumbersGoingUpAcrossRestart) {
  ledger_ = std::make_unique<IngestLedger>(store_.get());
  ASSERT_THAT(Notify("a"), IsOk());
  ASSERT_THAT(Notify("b"), IsOk());
  ASSERT_THAT(Notify("c"), IsOk());
  auto drainer = Drainer([&](const std::vector<OutboxEntry>& e) { return Receive(e); });
  EXPECT_EQ(drainer->backlog(), 3u);
  absl::StatusOr<int> n = drainer->DrainOnce();
  ASSERT_THAT(n.status(), IsOk());
  EXPECT_EQ(*n, 3);
  EXPECT_THAT(received_, ElementsAre("a", "b", "c"));
  EXPECT_EQ(drainer->backlog(), 0u);
  EXPECT_EQ(*drainer->DrainOnce(), 0);
  drainer.reset();

  // Every entry is delivered and deleted; a restart must not reuse 0..2.
  Reopen();
  EXPECT_EQ(writer_->sequence().next(), 3u);
  ledger_ = std::make_unique<IngestLedger>(store_.get());
  ASSERT_THAT(Notify("d"), IsOk());
  drainer = Drainer([&](const std::vector<OutboxEntry>& e) { return Receive(e); });
  EXPECT_EQ(*drainer->DrainOnce(), 1);
  EXPECT_THAT(received_, ElementsAre("a", "b", "c", "d"));
}

TEST_F(OutboxTest, RedeliveryAfterALostAnswerHasNoSecondEffect) {
  ledger_ = std::make_unique<IngestLedger>(store_.get());
  ASSERT_THAT(Notify("a"), IsOk());
  ASSERT_THAT(Notify("b"), IsOk());
  int calls = 0;
  auto drainer = Drainer([&](const std::vector<OutboxEntry>& e) {
    absl::Status s = Receive(e);
    // The first answer is lost on the way back.
    return ++calls == 1 ? absl::UnavailableError("connection reset") : s;
  });
  EXPECT_THAT(drainer->DrainOnce().status(),
              StatusIs(absl::StatusCode::kUnavailable, "connection reset"));
  EXPECT_EQ(drainer->backlog(), 2u);
  EXPECT_EQ(*drainer->DrainOnce(), 2);
  EXPECT_EQ(calls, 2);
  EXPECT_THAT(received_, ElementsAre("a", "b"));

  // The ledger's mark is durable: a new receiver skips them too.
  ledger_ = std::make_unique<IngestLedger>(store_.get());
  std::vector<OutboxEntry> again = {{0, ""}, {1, ""}};
  EXPECT_THAT(Receive(again), IsOk());
  EXPECT_THAT(received_, ElementsAre("a", "b"));
}

TEST_F(OutboxTest, AWriteAppliedButReportedFailedIsNotAppliedAgainOnTheRetry) {
  // A durable write whose fsync failed is in the store, mark included, yet
  // returns an error (storage::Store::Sync::kDeferred): the retry must see
  // the mark it wrote.
  ledger_ = std::make_unique<IngestLedger>(store_.get());
  int applied = 0;
  auto apply = [&](bool report_failure) {
    return ledger_
        ->Apply("src", 1,
                [&](uint64_t next, storage::WriteBatch batch) -> absl::Status {
                  applied += next <= 1 ? 2 - static_cast<int>(next) : 0;
                  absl::Status s = store_->Write(std::move(batch));
                  if (!s.ok()) return s;
                  return report_failure ? absl::UnavailableError("sync WAL: injected") : s;
                })
        .status();
  };
  EXPECT_THAT(apply(true), StatusIs(absl::StatusCode::kUnavailable, "sync WAL: injected"));
  EXPECT_EQ(applied, 2);
  EXPECT_THAT(apply(false), IsOk());
  EXPECT_EQ(applied, 2);
}

TEST_F(OutboxTest, AnEntryInFlightHoldsBackLaterOnes) {
  ledger_ = std::make_unique<IngestLedger>(store_.get());
  storage::WriteBatch slow;  // reserved 0, not yet written
  const uint64_t reserved = writer_->sequence().Reserve(&slow);
  EXPECT_EQ(reserved, 0u);
  ASSERT_THAT(Notify("late"), IsOk());  // number 1, written
  auto drainer = Drainer([&](const std::vector<OutboxEntry>& e) { return Receive(e); });
  EXPECT_EQ(*drainer->DrainOnce(), 0);  // 1 waits for 0
  internal::v1::InboxEntry entry;
  entry.set_agency("early");
  slow.Put(kInboxOutboxColumnFamily, storage::BigEndian64(reserved), entry.SerializeAsString());
  ASSERT_THAT(store_->Write(std::move(slow)), IsOk());
  EXPECT_EQ(*drainer->DrainOnce(), 2);
  EXPECT_THAT(received_, ElementsAre("early", "late"));
}

TEST_F(OutboxTest, OldestAgeAndHealthFollowAStuckReceiver) {
  ASSERT_THAT(Notify("a"), IsOk());
  OutboxDrainerOptions options;
  options.max_age = absl::Seconds(30);
  OutboxDrainer drainer(
      store_.get(), kInboxOutboxColumnFamily, &writer_->sequence(),
      [](const std::vector<OutboxEntry>&) { return absl::UnavailableError("inbox down"); }, &clock_,
      options);
  EXPECT_THAT(drainer.DrainOnce().status(), StatusIs(absl::StatusCode::kUnavailable, "inbox down"));
  clock_.Advance(absl::Seconds(31));
  EXPECT_THAT(drainer.DrainOnce().status(), StatusIs(absl::StatusCode::kUnavailable, "inbox down"));
  EXPECT_EQ(drainer.oldest_age(), absl::Seconds(31));
  EXPECT_EQ(drainer.backlog(), 1u);
}

TEST_F(OutboxTest, RefusesEventsWithoutAgencyOrType) {
  EXPECT_THAT(
      writer_->Commit(storage::WriteBatch(), {{"", v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED, {}}}),
      StatusIs(absl::StatusCode::kInvalidArgument, "inbox: agency id is empty"));
  EXPECT_THAT(writer_->Commit(storage::WriteBatch(), {{"a", v1::INBOX_EVENT_TYPE_UNSPECIFIED, {}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "inbox: event type unspecified"));
  EXPECT_EQ(writer_->sequence().next(), 0u);
}

}  // namespace
}  // namespace budstikke::common
