#include "storage/envelope.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "openssl/crypto.h"
#include "storage/aead.h"
#include "storage/internal/strings.h"
#include "storage/internal/thread_slot.h"
#include "storage/secret_bytes.h"
#include "storage/status_macros.h"

namespace budstikke::storage {
namespace {

using internal::Sv;

constexpr size_t kWrappedKeySize = AesGcmAead::kKeySize + AesGcmAead::kOverhead;  // 60
constexpr char kKeyAadLabelV1[] = "budstikke envelope v1 key";
constexpr char kContentAadLabelV1[] = "budstikke envelope v1 content";
constexpr char kKeyAadLabel[] = "budstikke envelope v2 key";  // also of version 3
constexpr char kContentAadLabelV2[] = "budstikke envelope v2 content";
constexpr char kContentAadLabel[] = "budstikke envelope v3 content";
// Followed by a NUL; the header follows as the second part.
constexpr char kHeaderTagAad[] = "budstikke envelope v3 header";
constexpr size_t kHeaderTagSize = AesGcmAead::kOverhead;  // 28
constexpr size_t kShards = 16;
constexpr size_t kDataKeysPerShard = 8;
constexpr size_t kOpenedKeysPerShard = 32;

void PutU32(uint32_t v, std::string* out) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
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
  uint8_t version;
  std::vector<ParsedEntry> entries;
  std::string_view header;      // version byte, count and entries
  std::string_view header_tag;  // version 3 only
  std::string_view content;
};

// u8 R, then lp(agency id) of every reader: the reader list that version 3
// binds the content to (the versions and wrapped keys may change; see Rewrap).
template <typename Agencies>
std::string ReaderAad(const Agencies& agencies) {
  std::string out;
  out.push_back(static_cast<char>(agencies.size()));
  for (std::string_view a : agencies) PutLp(a, &out);
  return out;
}
std::string ReaderAad(const std::vector<ParsedEntry>& entries) {
  std::vector<std::string_view> agencies;
  for (const ParsedEntry& e : entries) agencies.push_back(e.agency);
  return ReaderAad(agencies);
}
std::string HeaderTagAadPrefix() { return std::string(kHeaderTagAad, sizeof kHeaderTagAad); }

absl::Status Malformed(std::string_view why) {
  return absl::DataLossError(absl::StrCat("malformed envelope: ", Sv(why)));
}

absl::StatusOr<Parsed> Parse(std::string_view env) {
  if (env.size() < 2) return Malformed("too short");
  const uint8_t version = static_cast<uint8_t>(env[0]);
  if (version < 1 || version > Envelope::kFormatVersion) {
    return Malformed(absl::StrCat("unknown format version ", static_cast<int>(version)));
  }
  const size_t count = static_cast<uint8_t>(env[1]);
  if (count == 0) return Malformed("no readers");
  Parsed p;
  p.version = version;
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
    if (!keyring_internal::ValidateAgencyId(e.agency).ok()) return Malformed("bad agency id");
    pos += len;
    e.version = GetU32(env.data() + pos);
    pos += 4;
    e.wrapped = env.substr(pos, kWrappedKeySize);
    pos += kWrappedKeySize;
    p.entries.push_back(e);
  }
  p.header = env.substr(0, pos);
  if (version == 3) {
    if (env.size() - pos < kHeaderTagSize) return Malformed("truncated header");
    p.header_tag = env.substr(pos, kHeaderTagSize);
    pos += kHeaderTagSize;
  }
  if (env.size() - pos < AesGcmAead::kOverhead) return Malformed("truncated content");
  p.content = env.substr(pos);
  return p;
}

// Which shard a thread uses: up to kShards threads never share one.
size_t ThreadShard() { return internal::ThreadSlot() % kShards; }

}  // namespace

struct Envelope::DataKey {
  uint64_t generation = 0;
  std::vector<std::string> readers;  // deduplicated, in the caller's order
  std::string header;                // every envelope byte before the content
  std::string reader_aad;            // ReaderAad of `readers`
  std::unique_ptr<AesGcmAead> aead;  // the data key, with its own nonce counter
  uint32_t uses = 0;

  bool Serves(absl::Span<const std::string_view> r, uint64_t gen) const {
    return generation == gen && uses < kMaxDataKeyUses && readers.size() == r.size() &&
           std::equal(readers.begin(), readers.end(), r.begin());
  }
};

struct Envelope::OpenedKey {
  // agency || u32 version || 60 wrapped bytes: the two fixed sizes make the
  // agency's length, and so the whole triple, unambiguous.
  std::string id;
  uint64_t generation = 0;  // Keyring::generation() when unwrapped
  std::shared_ptr<const AesGcmAead> aead;
};

struct alignas(64) Envelope::Shard {
  std::mutex mu;
  std::vector<std::shared_ptr<DataKey>> keys;  // guarded by mu; oldest first
  // Data keys unwrapped by Open, replaced round-robin. Guarded by mu.
  std::vector<OpenedKey> opened;
  size_t next_victim = 0;
};

Envelope::Envelope(const Keyring* keyring)
    : keyring_(keyring), shards_(std::make_unique<Shard[]>(kShards)) {
  listener_id_ = keyring_->AddChangeListener([this] { ForgetDataKeys(); });
}

// Each DataKey's AesGcmAead cleanses its key when destroyed.
Envelope::~Envelope() { keyring_->RemoveChangeListener(listener_id_); }

absl::StatusOr<std::unique_ptr<Envelope>> Envelope::Create(const Keyring* keyring) {
  if (keyring == nullptr) return absl::InvalidArgumentError("Envelope needs a Keyring");
  return std::unique_ptr<Envelope>(new Envelope(keyring));
}

void Envelope::ForgetDataKeys() const {
  for (size_t i = 0; i < kShards; ++i) {
    std::vector<std::shared_ptr<DataKey>> dropped;
    std::vector<OpenedKey> dropped_opened;
    {
      std::lock_guard<std::mutex> lock(shards_[i].mu);
      dropped.swap(shards_[i].keys);
      dropped_opened.swap(shards_[i].opened);
      shards_[i].next_victim = 0;
    }
  }
}

absl::StatusOr<std::shared_ptr<Envelope::DataKey>> Envelope::NewDataKey(
    absl::Span<const std::string_view> readers, uint64_t generation) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Random(AesGcmAead::kKeySize));
  auto dk = std::make_shared<DataKey>();
  dk->generation = generation;
  size_t header_size = 2 + kHeaderTagSize;
  for (auto a : readers) header_size += 1 + a.size() + 4 + kWrappedKeySize;
  dk->header.reserve(header_size);
  dk->header.push_back(static_cast<char>(kFormatVersion));
  dk->header.push_back(static_cast<char>(readers.size()));
  std::string aad;
  for (auto agency : readers) {
    BUDSTIKKE_ASSIGN_OR_RETURN(auto current, keyring_->CurrentAgencyAead(agency));
    dk->header.push_back(static_cast<char>(agency.size()));
    dk->header.append(agency);
    PutU32(current.first, &dk->header);
    aad.assign(kKeyAadLabel);
    aad.push_back('\0');
    KeyAadSuffix(agency, current.first, &aad);
    BUDSTIKKE_RETURN_IF_ERROR(
        current.second->EncryptAppend(key.secret_bytes_for_crypto(), aad, &dk->header));
    dk->readers.emplace_back(agency);
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(dk->aead, AesGcmAead::Create(key));
  const std::string entries = dk->header;
  BUDSTIKKE_RETURN_IF_ERROR(
      dk->aead->EncryptAppend({}, HeaderTagAadPrefix(), &dk->header, entries));
  dk->reader_aad = ReaderAad(readers);
  return dk;
}

absl::StatusOr<std::string> Envelope::Seal(std::string_view cf, std::string_view record_key,
                                           std::string_view plaintext,
                                           const std::vector<std::string>& reader_agencies) const {
  if (reader_agencies.empty()) return absl::InvalidArgumentError("an envelope needs a reader");
  // Dedupe while keeping the caller's order.
  absl::InlinedVector<std::string_view, 4> readers;
  for (const auto& a : reader_agencies) {
    BUDSTIKKE_RETURN_IF_ERROR(keyring_internal::ValidateAgencyId(a));
    if (std::find(readers.begin(), readers.end(), a) == readers.end()) readers.push_back(a);
  }
  if (readers.size() > 255) return absl::InvalidArgumentError("at most 255 readers");

  std::shared_ptr<DataKey> dk;  // kept alive past a concurrent wipe
  {
    Shard& shard = shards_[ThreadShard()];
    std::lock_guard<std::mutex> lock(shard.mu);
    // Read under the shard lock: a rotation or shred bumps the generation and
    // then wipes every shard (ForgetDataKeys), which waits for this lock, so a
    // key made here for an older generation does not outlive the wipe.
    const uint64_t generation = keyring_->generation();
    auto& keys = shard.keys;
    for (auto& k : keys) {
      if (k->Serves(readers, generation)) {
        dk = k;
        break;
      }
    }
    if (dk == nullptr) {
      BUDSTIKKE_ASSIGN_OR_RETURN(std::shared_ptr<DataKey> fresh, NewDataKey(readers, generation));
      // Drop used-up and stale keys, and the oldest if the shard is full.
      keys.erase(std::remove_if(keys.begin(), keys.end(),
                                [&](const std::shared_ptr<DataKey>& k) {
                                  return k->generation != generation || k->uses >= kMaxDataKeyUses;
                                }),
                 keys.end());
      if (keys.size() >= kDataKeysPerShard) keys.erase(keys.begin());
      keys.push_back(fresh);
      dk = std::move(fresh);
    }
    ++dk->uses;  // guarded by shard.mu
  }

  std::string out;
  out.reserve(dk->header.size() + plaintext.size() + AesGcmAead::kOverhead);
  out.append(dk->header);
  BUDSTIKKE_RETURN_IF_ERROR(dk->aead->EncryptAppend(
      plaintext, AadBase(kContentAadLabel, cf, record_key, 0), &out, dk->reader_aad));
  return out;
}

namespace {

// The content (v1) or data (v2) key of `entry`, unwrapped with the agency's key.
absl::StatusOr<SecretBytes> UnwrapKey(const Keyring& keyring, uint8_t format_version,
                                      std::string_view agency, uint32_t version,
                                      std::string_view wrapped, std::string_view cf,
                                      std::string_view record_key) {
  auto aead = keyring.AgencyAead(agency, version);
  if (!aead.ok()) {
    if (aead.status().code() == absl::StatusCode::kFailedPrecondition) return aead.status();
    if (aead.status().code() == absl::StatusCode::kNotFound) {
      return absl::DataLossError(absl::StrCat("envelope names key version ", version, " of agency ",
                                              Sv(agency), ", which does not exist"));
    }
    return aead.status();
  }
  std::string aad;
  if (format_version == 1) {
    aad = AadBase(kKeyAadLabelV1, cf, record_key, 4 + agency.size() + 4);
  } else {
    aad.assign(kKeyAadLabel);
    aad.push_back('\0');
  }
  KeyAadSuffix(agency, version, &aad);
  std::string key;
  absl::Status s = (*aead)->DecryptInto(wrapped, aad, &key);  // wipes `key` on failure
  if (!s.ok()) {
    if (s.code() != absl::StatusCode::kDataLoss) return s;
    return absl::DataLossError(
        absl::StrCat("envelope key of agency ", Sv(agency),
                     " does not authenticate: the value was moved, swapped or tampered with"));
  }
  SecretBytes out(key);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

// DATA_LOSS unless the version-3 header tag authenticates every header byte
// under the data key.
absl::Status CheckHeaderTag(const AesGcmAead& data_key, const Parsed& parsed) {
  std::string empty;
  absl::Status s =
      data_key.DecryptInto(parsed.header_tag, HeaderTagAadPrefix(), &empty, parsed.header);
  if (s.ok() || s.code() != absl::StatusCode::kDataLoss) return s;
  return absl::DataLossError(
      "envelope header does not authenticate: the value was swapped or tampered with");
}

}  // namespace

absl::StatusOr<std::shared_ptr<const AesGcmAead>> Envelope::OpenedDataKey(
    std::string_view agency, uint32_t version, std::string_view wrapped) const {
  std::string id(agency);
  PutU32(version, &id);
  id.append(wrapped);
  Shard& shard = shards_[ThreadShard()];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    // A key from before a rotation or shred is not served even in the moment
    // between the generation's change and the wipe reaching this shard.
    const uint64_t current = keyring_->generation();
    for (const auto& k : shard.opened) {
      if (k.id == id && k.generation == current) return k.aead;
    }
  }
  // Unwrapped outside the lock (it may read the keyring's store). Inserted
  // under it; a wipe that ran meanwhile (rotation or shred) means this key
  // must not be kept.
  const uint64_t generation = keyring_->generation();
  BUDSTIKKE_ASSIGN_OR_RETURN(
      SecretBytes key, UnwrapKey(*keyring_, kFormatVersion, agency, version, wrapped, {}, {}));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::unique_ptr<AesGcmAead> aead, AesGcmAead::Create(key));
  std::shared_ptr<const AesGcmAead> shared(std::move(aead));
  std::lock_guard<std::mutex> lock(shard.mu);
  if (keyring_->generation() == generation) {
    if (shard.opened.size() < kOpenedKeysPerShard) {
      shard.opened.push_back(OpenedKey{std::move(id), generation, shared});
    } else {
      shard.opened[shard.next_victim] = OpenedKey{std::move(id), generation, shared};
      shard.next_victim = (shard.next_victim + 1) % kOpenedKeysPerShard;
    }
  }
  return shared;
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
  std::string plaintext;
  absl::Status s;
  if (parsed.version == 1) {
    BUDSTIKKE_ASSIGN_OR_RETURN(
        SecretBytes key,
        UnwrapKey(*keyring_, 1, entry->agency, entry->version, entry->wrapped, cf, record_key));
    s = aead_internal::OpenWithKey(key.secret_bytes_for_crypto(), parsed.content,
                                   AadBase(kContentAadLabelV1, cf, record_key, 0), &plaintext,
                                   parsed.header);
  } else if (parsed.version == 2) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::shared_ptr<const AesGcmAead> data_key,
                               OpenedDataKey(entry->agency, entry->version, entry->wrapped));
    s = data_key->DecryptInto(parsed.content, AadBase(kContentAadLabelV2, cf, record_key, 0),
                              &plaintext, parsed.header);
  } else {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::shared_ptr<const AesGcmAead> data_key,
                               OpenedDataKey(entry->agency, entry->version, entry->wrapped));
    BUDSTIKKE_RETURN_IF_ERROR(CheckHeaderTag(*data_key, parsed));
    s = data_key->DecryptInto(parsed.content, AadBase(kContentAadLabel, cf, record_key, 0),
                              &plaintext, ReaderAad(parsed.entries));
  }
  if (!s.ok()) {
    if (s.code() != absl::StatusCode::kDataLoss) return s;
    return absl::DataLossError(
        "envelope content does not authenticate: the value was moved, swapped or tampered "
        "with");
  }
  return plaintext;
}

namespace {

// The plaintext of a version 1 or 2 envelope whose data (or content) key is
// `key`. DATA_LOSS if it does not authenticate.
absl::StatusOr<std::string> OpenOldContent(const Parsed& parsed, const SecretBytes& key,
                                           std::string_view cf, std::string_view record_key) {
  std::string plaintext;
  absl::Status s = aead_internal::OpenWithKey(
      key.secret_bytes_for_crypto(), parsed.content,
      AadBase(parsed.version == 1 ? kContentAadLabelV1 : kContentAadLabelV2, cf, record_key, 0),
      &plaintext, parsed.header);
  if (!s.ok()) {
    if (s.code() != absl::StatusCode::kDataLoss) return s;
    return absl::DataLossError(
        "envelope content does not authenticate: the value was moved, swapped or tampered "
        "with");
  }
  return plaintext;
}

// The wrapped key of `e` in the rewrapped envelope: the data key wrapped
// anew under `agency`'s current version, a version-1 entry of another agency
// wrapped anew under its own version (v1 bound it to the record), and any
// other entry as it is.
absl::Status AppendEntry(const Keyring& keyring, const Parsed& parsed, const ParsedEntry& e,
                         std::string_view agency, uint32_t current, const AesGcmAead& current_aead,
                         const SecretBytes& key, std::string* header) {
  header->push_back(static_cast<char>(e.agency.size()));
  header->append(e.agency);
  const AesGcmAead* wrap_with = nullptr;
  std::shared_ptr<const AesGcmAead> own;
  uint32_t version = e.version;
  if (e.agency == agency) {
    wrap_with = &current_aead;
    version = current;
  } else if (parsed.version == 1) {
    absl::StatusOr<std::shared_ptr<const AesGcmAead>> a = keyring.AgencyAead(e.agency, e.version);
    if (a.ok()) {
      own = *std::move(a);
      wrap_with = own.get();
    } else if (a.status().code() != absl::StatusCode::kFailedPrecondition) {
      return a.status();
    }  // a shredded version: kept as it is, so it still reads as shredded
  }
  PutU32(version, header);
  if (wrap_with == nullptr) {
    header->append(e.wrapped);
    return absl::OkStatus();
  }
  std::string aad(kKeyAadLabel);
  aad.push_back('\0');
  KeyAadSuffix(e.agency, version, &aad);
  return wrap_with->EncryptAppend(key.secret_bytes_for_crypto(), aad, header);
}

}  // namespace

absl::StatusOr<std::string> Envelope::Rewrap(const Keyring& keyring, std::string_view cf,
                                             std::string_view record_key, std::string_view envelope,
                                             std::string_view agency) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Parsed parsed, Parse(envelope));
  const ParsedEntry* entry = nullptr;
  for (const auto& e : parsed.entries) {
    if (e.agency == agency) entry = &e;
  }
  if (entry == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("agency ", Sv(agency), " is not a reader of this record"));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(auto current, keyring.CurrentAgencyAead(agency));
  if (entry->version >= current.first) return std::string(envelope);
  BUDSTIKKE_ASSIGN_OR_RETURN(SecretBytes key,
                             UnwrapKey(keyring, parsed.version, entry->agency, entry->version,
                                       entry->wrapped, cf, record_key));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::unique_ptr<AesGcmAead> data_key, AesGcmAead::Create(key));
  std::string plaintext;  // of a version 1 or 2 envelope, re-encrypted once
  if (parsed.version == 3) {
    BUDSTIKKE_RETURN_IF_ERROR(CheckHeaderTag(*data_key, parsed));
  } else {
    BUDSTIKKE_ASSIGN_OR_RETURN(plaintext, OpenOldContent(parsed, key, cf, record_key));
  }
  std::string out;
  out.reserve(envelope.size() + kHeaderTagSize);
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(parsed.entries.size()));
  for (const ParsedEntry& e : parsed.entries) {
    absl::Status s =
        AppendEntry(keyring, parsed, e, agency, current.first, *current.second, key, &out);
    if (!s.ok()) {
      OPENSSL_cleanse(plaintext.data(), plaintext.size());
      return s;
    }
  }
  const std::string header = out;
  absl::Status s = data_key->EncryptAppend({}, HeaderTagAadPrefix(), &out, header);
  if (s.ok() && parsed.version == 3) {
    out.append(parsed.content);  // the content is not touched
  } else if (s.ok()) {
    s = data_key->EncryptAppend(plaintext, AadBase(kContentAadLabel, cf, record_key, 0), &out,
                                ReaderAad(parsed.entries));
  }
  OPENSSL_cleanse(plaintext.data(), plaintext.size());
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<Envelope::Reader>> Envelope::Readers(std::string_view envelope) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Parsed parsed, Parse(envelope));
  std::vector<Reader> out;
  for (const auto& e : parsed.entries) out.push_back(Reader{std::string(e.agency), e.version});
  return out;
}

}  // namespace budstikke::storage
