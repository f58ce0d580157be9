#include "services/common/refusal_aggregator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/time_util.h"

namespace budstikke::common {
namespace {

// (actor, action, rule, resource), with separators no field can hold.
std::string KeyOf(const Caller& caller, const v1::AuditEvent& event) {
  const v1::Actor actor = ActorOf(caller);
  return absl::StrCat(caller.identity.spiffe_id, "\x1f", actor.service(), "\x1f", event.action(),
                      "\x1f", event.rule(), "\x1f", event.resource().kind(), "\x1f",
                      event.resource().id());
}

}  // namespace

bool RefusalAggregator::Absorb(const Caller& caller, const v1::AuditEvent& event) {
  if (event.outcome() != v1::AUDIT_OUTCOME_DENIED) return false;
  const absl::Time now = clock_->Now();
  std::string key = KeyOf(caller, event);
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(key);
  if (it == windows_.end() || now >= it->second.start + window_) {
    // A window that ended and was not taken yet still holds its repeats:
    // leave it for TakeEnded and record this refusal on its own.
    if (it == windows_.end() && windows_.size() < max_windows_) {
      windows_.emplace(std::move(key), Window{now, {}, now});
    }
    return false;
  }
  Window& w = it->second;
  v1::AuditEvent& summary = w.repeats.event;
  if (summary.count() == 0) {
    w.repeats.caller = caller;
    summary = event;
    summary.clear_request_id();
    *summary.mutable_first_time() = ToProtoTime(now);
  }
  summary.set_count(summary.count() + 1);
  w.last = now;
  return true;
}

std::vector<RefusalAggregator::Summary> RefusalAggregator::TakeEnded(bool all) {
  const absl::Time now = clock_->Now();
  std::vector<std::pair<absl::Time, Summary>> ended;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (!all && now < it->second.start + window_) {
        ++it;
        continue;
      }
      Window& w = it->second;
      if (w.repeats.event.count() > 0) {
        *w.repeats.event.mutable_last_time() = ToProtoTime(w.last);
        ended.emplace_back(w.start, std::move(w.repeats));
      }
      windows_.erase(it++);
    }
  }
  std::sort(ended.begin(), ended.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Summary> out;
  out.reserve(ended.size());
  for (auto& [start, summary] : ended) out.push_back(std::move(summary));
  return out;
}

size_t RefusalAggregator::open_windows() const {
  absl::MutexLock lock(&mu_);
  return windows_.size();
}

}  // namespace budstikke::common
