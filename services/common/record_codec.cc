#include "services/common/record_codec.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message.h"
#include "google/protobuf/wire_format_lite.h"

namespace budstikke::common {

std::string RandomHexId(absl::string_view prefix, size_t random_bytes) {
  unsigned char buf[64];
  if (random_bytes > sizeof buf) std::abort();  // a programming error
  if (RAND_bytes(buf, static_cast<int>(random_bytes)) != 1) std::abort();
  return absl::StrCat(prefix, absl::BytesToHexString(absl::string_view(
                                  reinterpret_cast<const char*>(buf), random_bytes)));
}

std::string InvertedTimeMicros(absl::Time t) {
  const uint64_t micros = static_cast<uint64_t>(absl::ToUnixMicros(t));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu",
                static_cast<unsigned long long>(std::numeric_limits<int64_t>::max() - micros));
  return buf;
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

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Field `number` as wire type 2 (length-delimited): tag, length, bytes.
void AppendLengthDelimited(int number, absl::string_view bytes, std::string* out) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  uint8_t head[10];  // two varint32s of at most 5 bytes each
  uint8_t* end = CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), head);
  end = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(bytes.size()), end);
  out->append(reinterpret_cast<const char*>(head), static_cast<size_t>(end - head));
  out->append(bytes.data(), bytes.size());
}

bool HasLongString(const Message& m);

// Whether field `f` of `m` (a string or message field, set) holds a long string.
bool FieldHasLongString(const Message& m, const Reflection* r, const FieldDescriptor* f) {
  std::string scratch;
  if (!f->is_repeated()) {
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      return r->GetStringReference(m, f, &scratch).size() >= kLongString;
    }
    return HasLongString(r->GetMessage(m, f));
  }
  for (int i = 0, n = r->FieldSize(m, f); i < n; ++i) {
    if (f->type() == FieldDescriptor::TYPE_STRING
            ? r->GetRepeatedStringReference(m, f, i, &scratch).size() >= kLongString
            : HasLongString(r->GetRepeatedMessage(m, f, i))) {
      return true;
    }
  }
  return false;
}

bool CarriesText(const FieldDescriptor* f) {
  return !f->is_map() &&
         (f->type() == FieldDescriptor::TYPE_STRING || f->type() == FieldDescriptor::TYPE_MESSAGE);
}

bool HasLongString(const Message& m) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (CarriesText(f) && FieldHasLongString(m, r, f)) return true;
  }
  return false;
}

void AppendUnchecked(const Message& m, std::string* out) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  std::unique_ptr<Message> rest;  // m without the fields moved to `tail`
  std::string tail, scratch, nested;
  for (const FieldDescriptor* f : fields) {
    if (!CarriesText(f) || !FieldHasLongString(m, r, f)) continue;
    // Every element of the field moves, so repeated fields keep their order.
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      if (f->type() == FieldDescriptor::TYPE_STRING) {
        AppendLengthDelimited(f->number(),
                              f->is_repeated() ? r->GetRepeatedStringReference(m, f, i, &scratch)
                                               : r->GetStringReference(m, f, &scratch),
                              &tail);
      } else {
        nested.clear();
        AppendUnchecked(f->is_repeated() ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f),
                        &nested);
        AppendLengthDelimited(f->number(), nested, &tail);
      }
    }
    if (rest == nullptr) {
      rest.reset(m.New());
      rest->CopyFrom(m);
    }
    rest->GetReflection()->ClearField(rest.get(), f);
  }
  (rest != nullptr ? *rest : m).AppendToString(out);
  out->append(tail);
}

}  // namespace

std::string SerializeLongTextsUnchecked(const Message& m) {
  std::string out;
  AppendUnchecked(m, &out);
  return out;
}

}  // namespace budstikke::common
