#include "services/common/record_codec.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"
#include "storage/random.h"

namespace budstikke::common {

std::string RandomHexId(absl::string_view prefix, size_t random_bytes) {
  unsigned char buf[64];
  if (random_bytes > sizeof buf) std::abort();  // a programming error
  if (!storage::RandomBytes(buf, random_bytes).ok()) std::abort();
  return absl::StrCat(prefix, absl::BytesToHexString(absl::string_view(
                                  reinterpret_cast<const char*>(buf), random_bytes)));
}

std::string TimeOrderedId(absl::string_view prefix, absl::Time now, size_t random_bytes) {
  const int64_t ms = std::max<int64_t>(0, absl::ToUnixMillis(now));
  return RandomHexId(absl::StrCat(prefix, absl::Hex(ms, absl::kZeroPad12)), random_bytes);
}

std::optional<absl::Time> TimeOfId(absl::string_view prefix, absl::string_view id) {
  constexpr size_t kDigits = 12;
  if (!absl::StartsWith(id, prefix) || id.size() < prefix.size() + kDigits) return std::nullopt;
  uint64_t ms = 0;
  if (!absl::SimpleHexAtoi(id.substr(prefix.size(), kDigits), &ms)) return std::nullopt;
  return absl::FromUnixMillis(static_cast<int64_t>(ms));
}

std::string InvertedTimeMicros(absl::Time t) {
  const uint64_t micros = static_cast<uint64_t>(absl::ToUnixMicros(t));
  return absl::StrFormat("%020d", std::numeric_limits<int64_t>::max() - micros);
}

std::string Frame(absl::string_view a, absl::string_view b) {
  std::string out;
  out.reserve(4 + a.size() + b.size());
  const uint32_t n = static_cast<uint32_t>(a.size());
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(n >> shift));
  out.append(a.data(), a.size());
  out.append(b.data(), b.size());
  return out;
}

bool Unframe(absl::string_view framed, std::string* a, std::string* b) {
  if (framed.size() < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(framed[i]);
  if (framed.size() - 4 < n) return false;
  a->assign(framed.data() + 4, n);
  b->assign(framed.data() + 4 + n, framed.size() - 4 - n);
  return true;
}

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::UnknownFieldSet;

// What the walk below visits of one message type: its string fields and the
// sub-message fields whose types can hold a string, found once per type and
// kept (descriptors live as long as the process). Reflection::ListFields
// would allocate and sort a vector per message; visiting every field of a
// referral took as long as the UTF-8 check it saves.
struct WalkPlan {
  std::vector<const FieldDescriptor*> strings;
  std::vector<const FieldDescriptor*> nested;
};

bool IsNested(const FieldDescriptor* f) {
  return f->type() == FieldDescriptor::TYPE_MESSAGE && !f->is_map();
}

class WalkPlans {
 public:
  const WalkPlan& For(const Descriptor* d) {
    absl::MutexLock lock(&mu_);
    return PlanLocked(d);
  }

 private:
  const WalkPlan& PlanLocked(const Descriptor* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = plans_.try_emplace(d);
    // node_hash_map: the node stays put while other types are added below
    // (iterators do not).
    WalkPlan& slot = it->second;
    if (!inserted) return slot;
    in_progress_.insert(d);
    WalkPlan plan;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->type() == FieldDescriptor::TYPE_STRING) plan.strings.push_back(f);
      if (IsNested(f) && MayHoldStrings(f->message_type())) plan.nested.push_back(f);
    }
    in_progress_.erase(d);
    return slot = std::move(plan);
  }

  bool MayHoldStrings(const Descriptor* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (in_progress_.contains(d)) return true;  // a type that holds itself: walk it
    const WalkPlan& plan = PlanLocked(d);
    return !plan.strings.empty() || !plan.nested.empty();
  }

  absl::Mutex mu_;
  absl::node_hash_map<const Descriptor*, WalkPlan> plans_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<const Descriptor*> in_progress_ ABSL_GUARDED_BY(mu_);
};

const WalkPlan& PlanFor(const Descriptor* d) {
  static WalkPlans* plans = new WalkPlans;
  return plans->For(d);
}

bool IsLong(const std::string& s) { return s.size() >= kLongString; }

// Whether string field `f` of `m` holds a long string (any element, if repeated).
bool StringFieldIsLong(const Message& m, const Reflection* r, const FieldDescriptor* f) {
  std::string scratch;
  if (!f->is_repeated()) return IsLong(r->GetStringReference(m, f, &scratch));
  for (int i = 0, n = r->FieldSize(m, f); i < n; ++i) {
    if (IsLong(r->GetRepeatedStringReference(m, f, i, &scratch))) return true;
  }
  return false;
}

// Moves string field `f` of `m` (every element, so they keep their order)
// into m's unknown fields.
void StashField(Message* m, const Reflection* r, const FieldDescriptor* f) {
  UnknownFieldSet* unknown = r->MutableUnknownFields(m);
  std::string scratch;
  if (f->is_repeated()) {
    for (int i = 0, n = r->FieldSize(*m, f); i < n; ++i) {
      *unknown->AddLengthDelimited(f->number()) = r->GetRepeatedStringReference(*m, f, i, &scratch);
    }
  } else {
    *unknown->AddLengthDelimited(f->number()) = r->GetStringReference(*m, f, &scratch);
  }
  r->ClearField(m, f);
}

}  // namespace

void StashLongTextsForWire(Message* m) {
  const WalkPlan& plan = PlanFor(m->GetDescriptor());
  const Reflection* r = m->GetReflection();
  for (const FieldDescriptor* f : plan.strings) {
    if (StringFieldIsLong(*m, r, f)) StashField(m, r, f);
  }
  for (const FieldDescriptor* f : plan.nested) {
    if (!f->is_repeated()) {
      if (r->HasField(*m, f)) StashLongTextsForWire(r->MutableMessage(m, f));
    } else {
      for (int j = 0, n = r->FieldSize(*m, f); j < n; ++j) {
        StashLongTextsForWire(r->MutableRepeatedMessage(m, f, j));
      }
    }
  }
}

std::string SerializeLongTextsUnchecked(const Message& m) {
  // Without long strings the stash changes nothing, and the copy serializes
  // to exactly m's bytes. MergeFrom into a new message copies without
  // CopyFrom's check that `m` does not descend from the copy, a reflection
  // walk that cost as much as the copy itself.
  std::unique_ptr<Message> copy(m.New());
  copy->MergeFrom(m);
  StashLongTextsForWire(copy.get());
  return copy->SerializeAsString();
}

}  // namespace budstikke::common
