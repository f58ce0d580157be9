#include "services/inbox/inbox.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "services/common/time_util.h"
#include "storage/big_endian.h"
#include "storage/status_macros.h"

namespace budstikke::inbox {
namespace {

using storage::BigEndian64;
using storage::LoadBigEndian64;

std::string EventPrefix(absl::string_view agency) { return absl::StrCat("e/", agency, "/"); }
std::string EventKey(absl::string_view agency, uint64_t cursor) {
  return absl::StrCat("e/", agency, "/", BigEndian64(cursor));
}
std::string AckedKey(absl::string_view agency) { return absl::StrCat("a/", agency); }

absl::Status ValidateAgency(absl::string_view agency) {
  if (agency.empty() || agency.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError("inbox: malformed agency id");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReadCounter(const storage::Store* store, const std::string& key) {
  auto v = store->Get(kColumnFamily, key);
  if (absl::IsNotFound(v.status())) return 0;
  if (!v.ok()) return v.status();
  if (v->size() != 8) return absl::DataLossError("inbox: malformed counter");
  return LoadBigEndian64(*v);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Inbox>> Inbox::Create(storage::Store* store,
                                                     const common::Clock* clock) {
  if (store == nullptr || clock == nullptr) return absl::InvalidArgumentError("inbox: null");
  return std::unique_ptr<Inbox>(new Inbox(store, clock));
}

Inbox::~Inbox() = default;

absl::StatusOr<Inbox::AgencyState*> Inbox::State(absl::string_view agency) const {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAgency(agency));
  absl::MutexLock lock(&map_mu_);
  auto it = states_.find(agency);
  if (it != states_.end()) return it->second.get();
  auto state = std::make_unique<AgencyState>();
  BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t acked, ReadCounter(store_, AckedKey(agency)));
  uint64_t latest = acked;  // every event acknowledged (or none yet)
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
  {
    absl::MutexLock l(&state->mu);
    state->latest = latest;
    state->acked = acked;
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
  for (auto& [a, s] : states) next[a] = s->latest;
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
  absl::Status status = store_->Write(std::move(batch));
  if (status.ok()) {
    for (auto& [a, s] : states) s->latest = next[a];
  }
  // Unlocking wakes waiters whose Await condition now holds.
  for (auto it = states.rbegin(); it != states.rend(); ++it) it->second->mu.Unlock();
  return status;
}

absl::StatusOr<std::vector<v1::InboxEvent>> Inbox::Read(absl::string_view agency,
                                                        uint64_t after_cursor,
                                                        int max_events) const {
  if (max_events < 1 || max_events > 10000) {
    return absl::InvalidArgumentError("inbox: max_events must be 1..10000");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  uint64_t from, latest;
  {
    absl::MutexLock lock(&s->mu);
    from = std::max(after_cursor, s->acked);
    latest = s->latest;
  }
  std::vector<v1::InboxEvent> out;
  if (from >= latest) return out;
  const std::string prefix = EventPrefix(agency);
  auto it = store_->Scan(kColumnFamily, prefix);
  it->Seek(EventKey(agency, from + 1));
  for (; it->Valid() && static_cast<int>(out.size()) < max_events; it->Next()) {
    std::string_view key = it->key();
    uint64_t cursor = LoadBigEndian64(key.substr(prefix.size()));
    if (cursor > latest) break;  // committed after we looked: next round
    v1::InboxEvent event;
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("inbox: malformed event");
    }
    out.push_back(std::move(event));
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return out;
}

absl::StatusOr<uint64_t> Inbox::Ack(absl::string_view agency, uint64_t up_to_cursor) {
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  absl::MutexLock lock(&s->mu);
  if (up_to_cursor > s->latest) {
    return absl::InvalidArgumentError(absl::StrCat(
        "up_to_cursor ", up_to_cursor, " is beyond the latest event (", s->latest, ")"));
  }
  if (up_to_cursor <= s->acked) return s->acked;
  storage::WriteBatch batch;
  for (uint64_t c = s->acked + 1; c <= up_to_cursor; ++c) {
    batch.Delete(kColumnFamily, EventKey(agency, c));
  }
  batch.Put(kColumnFamily, AckedKey(agency), BigEndian64(up_to_cursor));
  BUDSTIKKE_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  s->acked = up_to_cursor;
  return s->acked;
}

absl::StatusOr<uint64_t> Inbox::Latest(absl::string_view agency) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  absl::MutexLock lock(&s->mu);
  return s->latest;
}

absl::StatusOr<uint64_t> Inbox::Acked(absl::string_view agency) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(AgencyState * s, State(agency));
  absl::MutexLock lock(&s->mu);
  return s->acked;
}

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

absl::Status Inbox::Follow(absl::string_view agency, uint64_t from_cursor, absl::Duration poll,
                           const std::function<bool(const v1::InboxEvent&)>& emit,
                           const std::function<bool()>& cancelled) const {
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
    BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<v1::InboxEvent> events, Read(agency, cursor, 500));
    for (const v1::InboxEvent& e : events) {
      if (!emit(e)) return absl::CancelledError("");
      cursor = e.cursor();
    }
    if (events.empty()) {
      // Read starts after the acknowledged position: wait from there too, or a
      // subscriber behind it (e.g. from_cursor 0, everything acked) would spin.
      absl::StatusOr<uint64_t> acked = Acked(agency);
      WaitForNewer(agency, std::max(cursor, acked.ok() ? *acked : cursor), poll);
    }
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
