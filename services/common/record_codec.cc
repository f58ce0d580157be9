#include "services/common/record_codec.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// The walk below visits the descriptor's fields in turn instead of calling
// Reflection::ListFields, which allocates and sorts a vector per message:
// with it, one walk of a referral took ~1.2 us, as long as the UTF-8 check
// it saves on a 1 KiB text.

bool IsLong(const std::string& s) { return s.size() >= kLongString; }

bool IsNested(const FieldDescriptor* f) {
  return f->type() == FieldDescriptor::TYPE_MESSAGE && !f->is_map();
}

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
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      if (StringFieldIsLong(*m, r, f)) StashField(m, r, f);
    } else if (IsNested(f)) {
      if (!f->is_repeated()) {
        if (r->HasField(*m, f)) StashLongTextsForWire(r->MutableMessage(m, f));
      } else {
        for (int j = 0, n = r->FieldSize(*m, f); j < n; ++j) {
          StashLongTextsForWire(r->MutableRepeatedMessage(m, f, j));
        }
      }
    }
  }
}

std::string SerializeLongTextsUnchecked(const Message& m) {
  // Without long strings the stash changes nothing, and the copy serializes
  // to exactly m's bytes.
  std::unique_ptr<Message> copy(m.New());
  copy->CopyFrom(m);
  StashLongTextsForWire(copy.get());
  return copy->SerializeAsString();
}

}  // namespace budstikke::common
