#include "storage/envelope.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "storage/internal/strings.h"
#include "openssl/crypto.h"
#include "storage/aead.h"
#include "storage/status_macros.h"

namespace budstikke::storage {
namespace {

using internal::Sv;

constexpr size_t kWrappedKeySize = AesGcmAead::kKeySize + AesGcmAead::kOverhead;  // 60
constexpr char kKeyAadLabel[] = "budstikke envelope v1 key";
constexpr char kContentAadLabel[] = "budstikke envelope v1 content";

void PutU32(uint32_t v, std::string* out) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}
uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
void PutLp(std::string_view s, std::string* out) {
  PutU32(static_cast<uint32_t>(s.size()), out);
  out->append(s);
}

// "label\0" lp(cf) lp(key)
std::string AadBase(std::string_view label, std::string_view cf, std::string_view key,
                    size_t extra) {
  std::string aad;
  aad.reserve(label.size() + 9 + cf.size() + key.size() + extra);
  aad.append(label);
  aad.push_back('\0');
  PutLp(cf, &aad);
  PutLp(key, &aad);
  return aad;
}

void KeyAadSuffix(std::string_view agency, uint32_t version, std::string* aad) {
  PutLp(agency, aad);
  PutU32(version, aad);
}

struct ParsedEntry {
  std::string_view agency;
  uint32_t version;
  std::string_view wrapped;
};
struct Parsed {
  std::vector<ParsedEntry> entries;
  std::string_view header;
  std::string_view content;
};

absl::Status Malformed(std::string_view why) {
  return absl::DataLossError(absl::StrCat("malformed envelope: ", Sv(why)));
}

absl::StatusOr<Parsed> Parse(std::string_view env) {
  if (env.size() < 2) return Malformed("too short");
  if (static_cast<uint8_t>(env[0]) != Envelope::kFormatVersion) {
    return Malformed(absl::StrCat("unknown format version ", static_cast<int>(
                                                                 static_cast<uint8_t>(env[0]))));
  }
  const size_t count = static_cast<uint8_t>(env[1]);
  if (count == 0) return Malformed("no readers");
  Parsed p;
  p.entries.reserve(count);
  size_t pos = 2;
  for (size_t i = 0; i < count; ++i) {
    if (pos + 1 > env.size()) return Malformed("truncated header");
    const size_t len = static_cast<uint8_t>(env[pos]);
    pos += 1;
    if (len == 0 || pos + len + 4 + kWrappedKeySize > env.size()) {
      return Malformed("truncated header");
    }
    ParsedEntry e;
    e.agency = env.substr(pos, len);
    pos += len;
    e.version = GetU32(env.data() + pos);
    pos += 4;
    e.wrapped = env.substr(pos, kWrappedKeySize);
    pos += kWrappedKeySize;
    p.entries.push_back(e);
  }
  if (env.size() - pos < AesGcmAead::kOverhead) return Malformed("truncated content");
  p.header = env.substr(0, pos);
  p.content = env.substr(pos);
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Envelope>> Envelope::Create(const Keyring* keyring) {
  if (keyring == nullptr) return absl::InvalidArgumentError("Envelope needs a Keyring");
  return std::unique_ptr<Envelope>(new Envelope(keyring));
}

absl::StatusOr<std::string> Envelope::Seal(
    std::string_view cf, std::string_view record_key, std::string_view plaintext,
    const std::vector<std::string>& reader_agencies) const {
  if (reader_agencies.empty()) return absl::InvalidArgumentError("an envelope needs a reader");
  // Dedupe while keeping the caller's order.
  std::vector<std::string_view> readers;
  readers.reserve(reader_agencies.size());
  for (const auto& a : reader_agencies) {
    BUDSTIKKE_RETURN_IF_ERROR(keyring_internal::ValidateAgencyId(a));
    if (std::find(readers.begin(), readers.end(), a) == readers.end()) readers.push_back(a);
  }
  if (readers.size() > 255) return absl::InvalidArgumentError("at most 255 readers");

  // Content key and nonce, used exactly once.
  unsigned char fresh[AesGcmAead::kKeySize + AesGcmAead::kNonceSize];
  BUDSTIKKE_RETURN_IF_ERROR(aead_internal::FastRandom(fresh, sizeof(fresh)));
  struct Wipe {
    unsigned char* p;
    size_t n;
    ~Wipe() { OPENSSL_cleanse(p, n); }
  } wipe{fresh, sizeof(fresh)};
  const std::string_view content_key(reinterpret_cast<const char*>(fresh),
                                     AesGcmAead::kKeySize);
  const std::string_view nonce(reinterpret_cast<const char*>(fresh) + AesGcmAead::kKeySize,
                               AesGcmAead::kNonceSize);

  size_t header_size = 2;
  for (auto a : readers) header_size += 1 + a.size() + 4 + kWrappedKeySize;
  std::string out;
  out.reserve(header_size + plaintext.size() + AesGcmAead::kOverhead);
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(readers.size()));

  std::string aad = AadBase(kKeyAadLabel, cf, record_key, 4 + 255 + 4);
  const size_t aad_base_size = aad.size();
  for (auto agency : readers) {
    BUDSTIKKE_ASSIGN_OR_RETURN(auto current, keyring_->CurrentAgencyAead(agency));
    out.push_back(static_cast<char>(agency.size()));
    out.append(agency);
    PutU32(current.first, &out);
    aad.resize(aad_base_size);
    KeyAadSuffix(agency, current.first, &aad);
    BUDSTIKKE_RETURN_IF_ERROR(current.second->EncryptAppend(content_key, aad, &out));
  }

  // Associated data: AadBase || header. `out` holds exactly the header here;
  // copy it as SealWithKey appends to `out`.
  aad = AadBase(kContentAadLabel, cf, record_key, 0);
  const size_t header_end = out.size();
  aad.append(out, 0, header_end);
  BUDSTIKKE_RETURN_IF_ERROR(aead_internal::SealWithKey(content_key, nonce, plaintext, aad, &out));
  return out;
}

absl::StatusOr<std::string> Envelope::Open(std::string_view cf, std::string_view record_key,
                                           std::string_view envelope,
                                           std::string_view reader_agency) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(Parsed parsed, Parse(envelope));
  const ParsedEntry* entry = nullptr;
  for (const auto& e : parsed.entries) {
    if (e.agency == reader_agency) {
      entry = &e;
      break;
    }
  }
  if (entry == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("agency ", Sv(reader_agency), " is not a reader of this record"));
  }
  auto aead = keyring_->AgencyAead(entry->agency, entry->version);
  if (!aead.ok()) {
    if (aead.status().code() == absl::StatusCode::kFailedPrecondition) return aead.status();
    if (aead.status().code() == absl::StatusCode::kNotFound) {
      return absl::DataLossError(absl::StrCat("envelope names key version ", entry->version,
                                              " of agency ", Sv(entry->agency),
                                              ", which does not exist"));
    }
    return aead.status();
  }
  std::string aad = AadBase(kKeyAadLabel, cf, record_key, 4 + entry->agency.size() + 4);
  KeyAadSuffix(entry->agency, entry->version, &aad);
  std::string content_key;
  absl::Status s = (*aead)->DecryptInto(entry->wrapped, aad, &content_key);
  struct Wipe {
    std::string* s;
    ~Wipe() { OPENSSL_cleanse(s->data(), s->size()); }
  } wipe{&content_key};
  if (!s.ok()) {
    if (s.code() != absl::StatusCode::kDataLoss) return s;
    return absl::DataLossError(absl::StrCat(
        "envelope key of agency ", Sv(entry->agency),
        " does not authenticate: the value was moved, swapped or tampered with"));
  }
  std::string plaintext;
  s = aead_internal::OpenWithKey(content_key, parsed.content,
                                 AadBase(kContentAadLabel, cf, record_key, 0), &plaintext,
                                 parsed.header);
  if (!s.ok()) {
    if (s.code() != absl::StatusCode::kDataLoss) return s;
    return absl::DataLossError(
        "envelope content does not authenticate: the value was moved, swapped or tampered "
        "with");
  }
  return plaintext;
}

absl::StatusOr<std::vector<Envelope::Reader>> Envelope::Readers(std::string_view envelope) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Parsed parsed, Parse(envelope));
  std::vector<Reader> out;
  for (const auto& e : parsed.entries) out.push_back(Reader{std::string(e.agency), e.version});
  return out;
}

}  // namespace budstikke::storage
