#include "services/inbox/inbox.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "services/common/errors.h"
#include "services/common/time_util.h"
#include "storage/big_endian.h"
#include "storage/status_macros.h"

namespace budstikke::inbox {
namespace {

using storage::BigEndian64;
using storage::LoadBigEndian64;

constexpr char kStartKey[] = "s";
constexpr int kRetentionBatch = 1000;  // events removed per write

std::string EventPrefix(absl::string_view agency) { return absl::StrCat("e/", agency, "/"); }
std::string EventKey(absl::string_view agency, uint64_t cursor) {
  return absl::StrCat("e/", agency, "/", BigEndian64(cursor));
}
std::string PositionPrefix(absl::string_view agency) { return absl::StrCat("p/", agency, "/"); }
std::string PositionKey(absl::string_view agency, absl::string_view consumer) {
  return absl::StrCat("p/", agency, "/", consumer);
}
std::string RemovedKey(absl::string_view agency) { return absl::StrCat("r/", agency); }
// Before 2026-12: the agency-wide acked cursor; the events up to it were deleted.
std::string LegacyAckedKey(absl::string_view agency) { return absl::StrCat("a/", agency); }

absl::Status ValidateAgency(absl::string_view agency) {
  if (agency.empty() || agency.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError("inbox: malformed agency id");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LoadCounter(std::string_view value) {
  if (value.size() != 8) return absl::DataLossError("inbox: malformed counter");
  return LoadBigEndian64(value);
}

absl::StatusOr<std::optional<uint64_t>> ReadCounter(const storage::Store* store,
                                                    const std::string& key) {
  auto v = store->Get(kColumnFamily, key);
  if (absl::IsNotFound(v.status())) return std::nullopt;
  if (!v.ok()) return v.status();
  BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t n, LoadCounter(*v));
  return n;
}

// The floor of this start (see inbox.h), written and synced before use.
absl::StatusOr<uint64_t> StartFloor(storage::Store* store, const common::Clock& clock) {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::optional<uint64_t> previous, ReadCounter(store, kStartKey));
  uint64_t floor = 0;  // the first start of a data dir
  if (previous.has_value()) {
    const int64_t ms = absl::ToUnixMillis(clock.Now());
    floor = std::max<uint64_t>(ms > 0 ? static_cast<uint64_t>(ms) * 1000 : 0, *previous + 1);
  }
  BUDSTIKKE_RETURN_IF_ERROR(store->Put(kColumnFamily, kStartKey, BigEndian64(floor)));
  BUDSTIKKE_RETURN_IF_ERROR(store->SyncWal());
  return floor;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Inbox>> Inbox::Create(storage::Store* store,
                                                     const common::Clock* clock,
                                                     const Options& options) {
  if (store == nullptr || clock == nullptr) return absl::InvalidArgumentError("inbox: null");
  BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t floor, StartFloor(store, *clock));
  return std::unique_ptr<Inbox>(new Inbox(store, clock, options, floor));
}

Inbox::~Inbox() { StopRetentionJob(); }

absl::Status Inbox::ValidateConsumer(absl::string_view consumer) {
  const bool ok_chars = std::all_of(consumer.begin(), consumer.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
  if (consumer.empty() || consumer.size() > 64 || !ok_chars) {
    return absl::InvalidArgumentError(
        "consumer must be 1-64 characters of a-z, 0-9, '.', '_' and '-', e.g. \"desk\"");
  }
  return absl::OkStatus();
}

absl::StatusOr<Inbox::AgencyState*> Inbox::State(absl::string_view agency) const {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAgency(agency));
  absl::MutexLock lock(&map_mu_);
  auto found = states_.find(agency);
  if (found != states_.end()) return found->second.get();
  auto state = std::make_unique<AgencyState>();
  uint64_t removed = 0;
  for (const std::string& key : {RemovedKey(agency), LegacyAckedKey(agency)}) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::optional<uint64_t> n, ReadCounter(store_, key));
    removed = std::max(removed, n.value_or(0));
  }
  uint64_t latest = std::max(removed, floor_);
  {
    const std::string prefix = EventPrefix(agency);
    std::unique_ptr<storage::Iterator> it = store_->Scan(kColumnFamily, prefix);
    it->SeekToLast();
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
    if (it->Valid()) {
      const std::string_view cursor = it->key().substr(prefix.size());
      if (cursor.size() != 8) return absl::DataLossError("inbox: malformed event key");
      latest = std::max(latest, LoadBigEndian64(cursor));
    }
  }
  std::map<std::string, uint64_t, std::less<>> positions;
  {
    const std::string prefix = PositionPrefix(agency);
    std::unique_ptr<storage::Iterator> it = store_->Scan(kColumnFamily, prefix);
    for (; it->Valid(); it->Next()) {
      BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t position, LoadCounter(it->value()));
      positions.emplace(std::string(it->key().substr(prefix.size())), position);
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  {
    absl::MutexLock l(&state->mu);
    state->written = latest;
    state->latest = latest;
    state->removed = removed;
    state->positions = std::move(positions);
  }
  AgencyState* raw = state.get();
  states_.emplace(std::string(agency), std::move(state));
  return raw;
}

absl::Status Inbox::Commit(storage::WriteBatch batch,
                           const std::vector<common::InboxDelivery>& events) {
  if (events.empty()) return store_->Write(std::move(batch));
  std::set<std::string> agencies;
  for (const auto& e : events) {
    BUDSTIKKE_RETURN_IF_ERROR(ValidateAgency(e.agency));
    if (e.type == v1::INBOX_EVENT_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError("inbox: event type unspecified");
    }
    agencies.insert(e.agency);
  }
  // Lock in sorted order (std::set) so that concurrent commits cannot deadlock.
  std::map<std::string, AgencyState*> states;
  for (const auto& a : agencies) {
    BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(a));
    states[a] = s;
  }
  for (auto& [a, s] : states) s->mu.Lock();
  std::map<std::string, uint64_t> next;
  for (auto& [a, s] : states) next[a] = s->written;
  const google::protobuf::Timestamp now = common::ToProtoTime(clock_->Now());
  for (const auto& e : events) {
    uint64_t cursor = ++next[e.agency];
    v1::InboxEvent event;
    event.set_cursor(cursor);
    event.set_type(e.type);
    *event.mutable_resource() = e.resource;
    event.set_priority(e.priority);
    *event.mutable_time() = now;
    batch.Put(kColumnFamily, EventKey(e.agency, cursor), event.SerializeAsString());
  }
  absl::Status status = store_->Write(std::move(batch), storage::Store::Sync::kDeferred);
  if (status.ok()) {
    for (auto& [a, s] : states) s->written = next[a];
  }
  for (auto it = states.rbegin(); it != states.rend(); ++it) it->second->mu.Unlock();
  if (status.ok() && store_->sync_writes()) status = store_->SyncWal();
  if (!status.ok()) return status;
  // Every cursor up to next[a] is written (under the lock, before ours) and
  // as durable as ours (the WAL is synced in order).
  for (auto& [a, s] : states) {
    absl::MutexLock lock(&s->mu);  // unlocking wakes waiters whose condition now holds
    s->latest = std::max(s->latest, next[a]);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::InboxEvent>> Inbox::Read(absl::string_view agency,
                                                        absl::string_view consumer,
                                                        uint64_t after_cursor,
                                                        int max_events) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(Page page, ReadPage(agency, consumer, after_cursor, max_events));
  return std::move(page.events);
}

absl::StatusOr<Inbox::Page> Inbox::ReadPage(absl::string_view agency, absl::string_view consumer,
                                            uint64_t after_cursor, int max_events) const {
  if (max_events < 1 || max_events > 10000) {
    return absl::InvalidArgumentError("inbox: max_events must be 1..10000");
  }
  BUDSTIKKE_RETURN_IF_ERROR(ValidateConsumer(consumer));
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  uint64_t from, latest;
  {
    absl::MutexLock lock(&s->mu);
    auto position = s->positions.find(consumer);
    from = std::max(after_cursor, position == s->positions.end() ? 0 : position->second);
    latest = s->latest;
  }
  Page page;
  page.through = std::max(from, latest);
  if (from >= latest) return page;
  const std::string prefix = EventPrefix(agency);
  auto it = store_->Scan(kColumnFamily, prefix);
  it->Seek(EventKey(agency, from + 1));
  for (; it->Valid(); it->Next()) {
    std::string_view key = it->key();
    uint64_t cursor = LoadBigEndian64(key.substr(prefix.size()));
    if (cursor > latest) break;  // committed after we looked: next round
    if (static_cast<int>(page.events.size()) == max_events) {
      page.through = page.events.back().cursor();
      break;
    }
    v1::InboxEvent event;
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("inbox: malformed event");
    }
    page.events.push_back(std::move(event));
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return page;
}

absl::StatusOr<uint64_t> Inbox::Ack(absl::string_view agency, absl::string_view consumer,
                                    uint64_t up_to_cursor) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateConsumer(consumer));
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  absl::MutexLock lock(&s->mu);
  if (up_to_cursor > s->latest) {
    return absl::InvalidArgumentError(absl::StrCat(
        "up_to_cursor ", up_to_cursor, " is beyond the latest event (", s->latest, ")"));
  }
  auto position = s->positions.find(consumer);
  const uint64_t current = position == s->positions.end() ? 0 : position->second;
  if (up_to_cursor <= current) return current;
  if (position == s->positions.end() && s->positions.size() >= options_.max_consumers) {
    return common::RuleRefusal(
        absl::StatusCode::kResourceExhausted, "inbox.consumers",
        absl::StrCat("the agency's inbox has ", s->positions.size(),
                     " consumers, the most it keeps: acknowledge with a consumer name already in "
                     "use (--consumer)"));
  }
  BUDSTIKKE_RETURN_IF_ERROR(
      store_->Put(kColumnFamily, PositionKey(agency, consumer), BigEndian64(up_to_cursor)));
  s->positions[std::string(consumer)] = up_to_cursor;
  return up_to_cursor;
}

absl::StatusOr<uint64_t> Inbox::Latest(absl::string_view agency) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  absl::MutexLock lock(&s->mu);
  return s->latest;
}

absl::StatusOr<uint64_t> Inbox::Position(absl::string_view agency,
                                         absl::string_view consumer) const {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateConsumer(consumer));
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  absl::MutexLock lock(&s->mu);
  auto position = s->positions.find(consumer);
  return position == s->positions.end() ? 0 : position->second;
}

absl::StatusOr<int> Inbox::RunRetentionOnce() {
  absl::MutexLock run(&retention_mu_);
  const absl::Time cutoff = clock_->Now() - options_.retention;
  // Events of an agency are in commit order, so its old ones come first.
  std::map<std::string, std::vector<uint64_t>> old;
  int found = 0;
  {
    std::unique_ptr<storage::Iterator> it = store_->Scan(kColumnFamily, "e/");
    while (it->Valid() && found < 10 * kRetentionBatch) {
      const std::string_view key = it->key();
      const size_t slash = key.find('/', 2);
      if (slash == std::string_view::npos || key.size() != slash + 9) {
        return absl::DataLossError("inbox: malformed event key");
      }
      const std::string agency(key.substr(2, slash - 2));
      v1::InboxEvent event;
      if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("inbox: malformed event");
      }
      if (common::FromProtoTime(event.time()) < cutoff) {
        old[agency].push_back(LoadBigEndian64(key.substr(slash + 1)));
        ++found;
        it->Next();
      } else {
        it->Seek(absl::StrCat(EventPrefix(agency), std::string(9, '\xff')));  // next agency
      }
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  int removed = 0;
  for (const auto& [agency, cursors] : old) {
    for (size_t i = 0; i < cursors.size(); i += kRetentionBatch) {
      const size_t end = std::min(cursors.size(), i + kRetentionBatch);
      BUDSTIKKE_RETURN_IF_ERROR(RemoveEvents(
          agency, std::vector<uint64_t>(cursors.begin() + static_cast<std::ptrdiff_t>(i),
                                        cursors.begin() + static_cast<std::ptrdiff_t>(end))));
      removed += static_cast<int>(end - i);
    }
  }
  return removed;
}

absl::Status Inbox::RemoveEvents(absl::string_view agency, const std::vector<uint64_t>& cursors) {
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  absl::MutexLock lock(&s->mu);
  const uint64_t removed = std::max(s->removed, cursors.back());
  storage::WriteBatch batch;
  for (uint64_t c : cursors) batch.Delete(kColumnFamily, EventKey(agency, c));
  batch.Put(kColumnFamily, RemovedKey(agency), BigEndian64(removed));
  std::vector<std::string> stale;
  for (const auto& [consumer, position] : s->positions) {
    if (position <= removed) stale.push_back(consumer);
  }
  for (const std::string& consumer : stale) {
    batch.Delete(kColumnFamily, PositionKey(agency, consumer));
  }
  BUDSTIKKE_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  s->removed = removed;
  for (const std::string& consumer : stale) s->positions.erase(consumer);
  return absl::OkStatus();
}

void Inbox::StartRetentionJob(absl::Duration interval) {
  retention_job_.Start(interval, [this] { (void)RunRetentionOnce(); });  // retried next round
}

void Inbox::StopRetentionJob() { retention_job_.Stop(); }

bool Inbox::WaitForNewer(absl::string_view agency, uint64_t cursor, absl::Duration timeout) const {
  if (shutting_down()) return false;
  auto s = State(agency);
  if (!s.ok()) return false;
  AgencyState* st = *s;
  struct Arg {
    const AgencyState* st;
    uint64_t cursor;
  } arg{st, cursor};
  absl::MutexLock lock(&st->mu);
  return st->mu.AwaitWithTimeout(absl::Condition(
                                     +[](Arg* a) { return a->st->latest > a->cursor; }, &arg),
                                 timeout);
}

absl::Status Inbox::Follow(absl::string_view agency, absl::string_view consumer,
                           uint64_t from_cursor, absl::Duration poll,
                           const std::function<bool(const v1::InboxEvent&)>& emit,
                           const std::function<bool()>& cancelled) const {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateConsumer(consumer));
  BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t latest, Latest(agency));
  if (from_cursor > latest) {
    return absl::InvalidArgumentError(
        absl::StrCat("from_cursor ", from_cursor, " is beyond the latest event (", latest, ")"));
  }
  uint64_t cursor = from_cursor;
  while (true) {
    if (cancelled()) return absl::CancelledError("");
    if (shutting_down()) {
      return absl::UnavailableError("server shutting down; resubscribe from the last cursor seen");
    }
    BUDSTIKKE_ASSIGN_OR_RETURN(Page page, ReadPage(agency, consumer, cursor, 500));
    for (const v1::InboxEvent& e : page.events) {
      if (!emit(e)) return absl::CancelledError("");
    }
    // Read looked through `through` (past the consumer's position and the
    // start floor, where no event may be): wait from there, or a subscriber
    // behind it would spin.
    cursor = std::max(cursor, page.through);
    if (page.events.empty()) WaitForNewer(agency, cursor, poll);
  }
}

void Inbox::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  shutdown_ = true;
}

bool Inbox::shutting_down() const {
  absl::MutexLock lock(&shutdown_mu_);
  return shutdown_;
}

}  // namespace budstikke::inbox
