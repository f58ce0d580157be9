#include "services/common/stream_slots.h"

#include "absl/strings/str_cat.h"
#include "services/common/errors.h"

namespace budstikke::common {

StreamSlots::Slot::~Slot() {
  if (owner_ != nullptr) owner_->Release(agency_, caller_);
}

absl::StatusOr<StreamSlots::Slot> StreamSlots::Acquire(const Caller& caller) {
  const std::string& agency = caller.agency();
  // The person (or service): one key whatever certificate or role they use.
  const std::string who =
      absl::StrCat(agency, "/", caller.identity.user, "/", caller.identity.service);
  absl::MutexLock lock(&mu_);
  std::string cap;
  if (total_ >= limits_.total) {
    cap = absl::StrCat("at most ", limits_.total, " ", what_, " at once on this server");
  } else if (per_agency_[agency] >= limits_.per_agency) {
    cap = absl::StrCat("at most ", limits_.per_agency, " ", what_, " at once per agency");
  } else if (per_caller_[who] >= limits_.per_caller) {
    cap = absl::StrCat("at most ", limits_.per_caller, " ", what_, " at once per caller");
  }
  if (!cap.empty()) {
    if (per_agency_[agency] == 0) per_agency_.erase(agency);
    if (per_caller_[who] == 0) per_caller_.erase(who);
    return LimitRefusal(rule_, cap, absl::Seconds(1));
  }
  ++total_;
  ++per_agency_[agency];
  ++per_caller_[who];
  return Slot(this, agency, who);
}

void StreamSlots::Release(const std::string& agency, const std::string& caller) {
  absl::MutexLock lock(&mu_);
  --total_;
  if (--per_agency_[agency] == 0) per_agency_.erase(agency);
  if (--per_caller_[caller] == 0) per_caller_.erase(caller);
}

}  // namespace budstikke::common
