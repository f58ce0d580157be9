#include "storage/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "openssl/core_names.h"
#include "openssl/crypto.h"
#include "openssl/kdf.h"
#include "openssl/params.h"
#include "storage/internal/strings.h"
#include "storage/private_file.h"
#include "storage/status_macros.h"

namespace budstikke::storage {
namespace {

using internal::Sv;

constexpr char kKekInfo[] = "budstikke kek v1";
constexpr char kPseudonymInfo[] = "budstikke pseudonym v1";
constexpr char kWrapAadLabel[] = "budstikke agency key v1";
constexpr char kRecordWrapped = 0x01;
constexpr char kRecordShredded = 0x00;

std::string VersionPrefix(std::string_view agency) {
  return absl::StrCat("agency/", Sv(agency), "/v/");
}
std::string VersionKey(std::string_view agency, uint32_t version) {
  return absl::StrCat(VersionPrefix(agency), absl::StrFormat("%08u", version));
}
std::string WrapAad(std::string_view agency, uint32_t version) {
  std::string aad = absl::StrCat(kWrapAadLabel, absl::string_view("\0", 1), Sv(agency));
  aad.push_back('\0');
  aad += absl::StrFormat("%08u", version);
  return aad;
}
absl::Status ShreddedError(std::string_view agency, uint32_t version) {
  return absl::FailedPreconditionError(
      absl::StrCat("key version ", version, " of agency ", Sv(agency), " was shredded"));
}

}  // namespace

namespace keyring_internal {

absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& ikm, std::string_view info,
                                       size_t length) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return absl::InternalError("HKDF is not available in OpenSSL");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return absl::InternalError("cannot create HKDF context");
  std::string_view key = ikm.secret_bytes_for_crypto();
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(key.data()),
                                        key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end(),
  };
  std::string out(length, '\0');
  int ok = EVP_KDF_derive(ctx, reinterpret_cast<unsigned char*>(out.data()), length, params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InternalError("HKDF-SHA256 derivation failed");
  }
  SecretBytes result(out);
  OPENSSL_cleanse(out.data(), out.size());
  return result;
}

absl::Status ValidateAgencyId(std::string_view agency) {
  if (agency.empty() || agency.size() > 255) {
    return absl::InvalidArgumentError("agency id must be 1 to 255 bytes");
  }
  for (char c : agency) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError("agency id must not contain '/' or control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace keyring_internal

using keyring_internal::ValidateAgencyId;

absl::StatusOr<SecretBytes> Keyring::ReadMasterKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = absl::StrCat("cannot open master key file ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::UnavailableError(msg);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot stat master key file ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("master key file ", path, " is not a regular file"));
  }
  BUDSTIKKE_RETURN_IF_ERROR(CheckPrivateMode("master key file", path, st));
  if (st.st_size != static_cast<off_t>(kMasterKeySize)) {
    return absl::InvalidArgumentError(
        absl::StrCat("master key file ", path, " must hold exactly 32 raw bytes, found ",
                     st.st_size, " (make one with: head -c 32 /dev/urandom > ", path, ")"));
  }
  unsigned char buf[kMasterKeySize + 1];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = ::read(fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(buf, sizeof(buf));
      return absl::UnavailableError(
          absl::StrCat("cannot read master key file ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != kMasterKeySize) {
    OPENSSL_cleanse(buf, sizeof(buf));
    return absl::InvalidArgumentError(
        absl::StrCat("master key file ", path, " must hold exactly 32 raw bytes, found ", got));
  }
  SecretBytes key(std::string_view(reinterpret_cast<const char*>(buf), kMasterKeySize));
  OPENSSL_cleanse(buf, sizeof(buf));
  return key;
}

absl::StatusOr<std::unique_ptr<Keyring>> Keyring::Create(const SecretBytes& master_key,
                                                         Store* store) {
  if (store == nullptr) return absl::InvalidArgumentError("Keyring needs a Store");
  if (master_key.size() != kMasterKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("master key must be exactly 32 bytes, found ", master_key.size()));
  }
  // Fail early if the column family is missing.
  auto probe = store->Get(kKeysColumnFamily, "probe");
  if (!probe.ok() && probe.status().code() != absl::StatusCode::kNotFound) {
    return probe.status();
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(SecretBytes kek_bytes,
                             keyring_internal::HkdfSha256(master_key, kKekInfo, 32));
  BUDSTIKKE_ASSIGN_OR_RETURN(SecretBytes pseudonym,
                             keyring_internal::HkdfSha256(master_key, kPseudonymInfo, 32));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::unique_ptr<AesGcmAead> kek, AesGcmAead::Create(kek_bytes));
  return std::unique_ptr<Keyring>(new Keyring(store, std::move(kek), std::move(pseudonym)));
}

absl::StatusOr<std::unique_ptr<Keyring>> Keyring::CreateFromFile(const std::string& path,
                                                                 Store* store) {
  BUDSTIKKE_ASSIGN_OR_RETURN(SecretBytes master, ReadMasterKeyFile(path));
  return Create(master, store);
}

Keyring::Keyring(Store* store, std::unique_ptr<AesGcmAead> kek, SecretBytes pseudonym_secret)
    : store_(store), kek_(std::move(kek)), pseudonym_secret_(std::move(pseudonym_secret)) {}

Keyring::~Keyring() = default;

absl::StatusOr<std::vector<KeyVersionInfo>> Keyring::ListVersions(std::string_view agency) const {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAgencyId(agency));
  const std::string prefix = VersionPrefix(agency);
  std::vector<KeyVersionInfo> out;
  auto it = store_->Scan(kKeysColumnFamily, prefix);
  for (; it->Valid(); it->Next()) {
    std::string_view suffix = it->key().substr(prefix.size());
    uint32_t version = 0;
    // Exactly the 8 digits VersionKey writes (SimpleAtoi alone also takes
    // " 0000003" or "+0000003", which sort out of version order).
    if (suffix.size() != 8 || !std::all_of(suffix.begin(), suffix.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(Sv(suffix), &version) || version == 0) {
      return absl::DataLossError(absl::StrCat("malformed key record for agency ", Sv(agency)));
    }
    bool shredded = !it->value().empty() && it->value()[0] == kRecordShredded;
    out.push_back(KeyVersionInfo{version, shredded});
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return out;
}

absl::StatusOr<uint32_t> Keyring::CurrentVersion(std::string_view agency) const {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAgencyId(agency));
  {
    std::shared_lock<std::shared_mutex> lock(cache_mu_);
    auto it = cache_.find(agency);
    if (it != cache_.end() && it->second.current != 0) return it->second.current;
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<KeyVersionInfo> versions, ListVersions(agency));
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("agency ", Sv(agency), " has no key"));
  }
  uint32_t current = versions.back().version;
  std::unique_lock<std::shared_mutex> lock(cache_mu_);
  auto& entry = cache_[std::string(agency)];
  if (entry.current < current) entry.current = current;
  return entry.current;
}

absl::StatusOr<std::shared_ptr<const AesGcmAead>> Keyring::LoadVersion(std::string_view agency,
                                                                       uint32_t version) const {
  auto record = store_->Get(kKeysColumnFamily, VersionKey(agency, version));
  if (record.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(
        absl::StrCat("key version ", version, " of agency ", Sv(agency), " does not exist"));
  }
  if (!record.ok()) return record.status();
  std::string_view value = *record;
  if (value.size() == 1 && value[0] == kRecordShredded) {
    return std::shared_ptr<const AesGcmAead>();  // shredded marker
  }
  if (value.empty() || value[0] != kRecordWrapped) {
    return absl::DataLossError(absl::StrCat("key version ", version, " of agency ", Sv(agency),
                                            " has an unknown record format"));
  }
  std::string raw;
  absl::Status s = kek_->DecryptInto(value.substr(1), WrapAad(agency, version), &raw);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("key version ", version, " of agency ", Sv(agency),
                                            " does not unwrap (tampered record or another "
                                            "master key)"));
  }
  SecretBytes key(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  BUDSTIKKE_ASSIGN_OR_RETURN(std::unique_ptr<AesGcmAead> aead, AesGcmAead::Create(key));
  return std::shared_ptr<const AesGcmAead>(std::move(aead));
}

absl::StatusOr<std::shared_ptr<const AesGcmAead>> Keyring::AgencyAead(std::string_view agency,
                                                                      uint32_t version) const {
  {
    std::shared_lock<std::shared_mutex> lock(cache_mu_);
    auto it = cache_.find(agency);
    if (it != cache_.end()) {
      auto kit = it->second.keys.find(version);
      if (kit != it->second.keys.end()) {
        if (kit->second == nullptr) return ShreddedError(agency, version);
        return kit->second;
      }
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAgencyId(agency));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::shared_ptr<const AesGcmAead> aead, LoadVersion(agency, version));
  std::unique_lock<std::shared_mutex> lock(cache_mu_);
  // Keep an existing entry: a concurrent Shred may have marked it meanwhile.
  auto& slot = *cache_[std::string(agency)].keys.emplace(version, aead).first;
  if (slot.second == nullptr) return ShreddedError(agency, version);
  return slot.second;
}

absl::StatusOr<std::pair<uint32_t, std::shared_ptr<const AesGcmAead>>> Keyring::CurrentAgencyAead(
    std::string_view agency) const {
  {  // Fast path: one shared lock, one lookup.
    std::shared_lock<std::shared_mutex> lock(cache_mu_);
    auto it = cache_.find(agency);
    if (it != cache_.end() && it->second.current != 0) {
      auto kit = it->second.keys.find(it->second.current);
      if (kit != it->second.keys.end() && kit->second != nullptr) {
        return std::make_pair(it->second.current, kit->second);
      }
    }
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(uint32_t version, CurrentVersion(agency));
  auto aead = AgencyAead(agency, version);
  if (aead.status().code() == absl::StatusCode::kFailedPrecondition) {
    return absl::FailedPreconditionError(
        absl::StrCat("current key version ", version, " of agency ", Sv(agency),
                     " was shredded; rotate the agency key before writing"));
  }
  if (!aead.ok()) return aead.status();
  return std::make_pair(version, *std::move(aead));
}

absl::StatusOr<uint32_t> Keyring::AddVersionLocked(std::string_view agency) {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<KeyVersionInfo> versions, ListVersions(agency));
  const uint32_t version = versions.empty() ? 1 : versions.back().version + 1;
  BUDSTIKKE_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Random(AesGcmAead::kKeySize));
  std::string record(1, kRecordWrapped);
  BUDSTIKKE_RETURN_IF_ERROR(
      kek_->EncryptAppend(key.secret_bytes_for_crypto(), WrapAad(agency, version), &record));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::unique_ptr<AesGcmAead> aead, AesGcmAead::Create(key));
  BUDSTIKKE_RETURN_IF_ERROR(store_->Put(kKeysColumnFamily, VersionKey(agency, version), record));
  {
    std::unique_lock<std::shared_mutex> lock(cache_mu_);
    auto& entry = cache_[std::string(agency)];
    entry.keys[version] = std::shared_ptr<const AesGcmAead>(std::move(aead));
    entry.current = version;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  NotifyChanged();
  return version;
}

uint64_t Keyring::AddChangeListener(std::function<void()> listener) const {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const uint64_t id = ++last_listener_id_;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void Keyring::RemoveChangeListener(uint64_t id) const {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(id);
}

void Keyring::NotifyChanged() const {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener();
}

absl::StatusOr<uint32_t> Keyring::EnsureAgencyKey(std::string_view agency) {
  // Fast path: the key exists (the cache or the store says so); no write lock.
  auto current = CurrentVersion(agency);
  if (current.ok() || current.status().code() != absl::StatusCode::kNotFound) return current;
  absl::MutexLock lock(&write_mu_);
  current = CurrentVersion(agency);  // another caller may have added it meanwhile
  if (current.ok() || current.status().code() != absl::StatusCode::kNotFound) return current;
  return AddVersionLocked(agency);
}

absl::StatusOr<uint32_t> Keyring::Rotate(std::string_view agency) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAgencyId(agency));
  absl::MutexLock lock(&write_mu_);
  return AddVersionLocked(agency);
}

absl::StatusOr<std::vector<KeyVersionRef>> Keyring::ShreddedVersions(const Store& store,
                                                                     std::string_view agency) {
  if (!agency.empty()) BUDSTIKKE_RETURN_IF_ERROR(ValidateAgencyId(agency));
  const std::string prefix = agency.empty() ? std::string("agency/") : VersionPrefix(agency);
  std::vector<KeyVersionRef> out;
  auto it = store.Scan(kKeysColumnFamily, prefix);
  for (; it->Valid(); it->Next()) {
    // "agency/<id>/v/<8 digits>"; an agency id holds no '/'.
    const std::string_view key = it->key().substr(std::string_view("agency/").size());
    const size_t slash = key.find('/');
    uint32_t version = 0;
    if (slash == std::string_view::npos || key.substr(slash).size() != 11 ||
        key.substr(slash, 3) != "/v/" || !absl::SimpleAtoi(Sv(key.substr(slash + 3)), &version) ||
        version == 0) {
      return absl::DataLossError("malformed key record in the keyring");
    }
    if (it->value().size() == 1 && it->value()[0] == kRecordShredded) {
      out.push_back(KeyVersionRef{std::string(key.substr(0, slash)), version});
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return out;
}

absl::StatusOr<std::vector<KeyVersionRef>> Keyring::MarkShredded(
    Store* store, const std::vector<KeyVersionRef>& versions) {
  WriteBatch batch;
  std::vector<KeyVersionRef> replaced;
  for (const KeyVersionRef& v : versions) {
    BUDSTIKKE_RETURN_IF_ERROR(ValidateAgencyId(v.agency));
    const std::string key = VersionKey(v.agency, v.version);
    absl::StatusOr<std::string> record = store->Get(kKeysColumnFamily, key);
    if (absl::IsNotFound(record.status())) continue;
    if (!record.ok()) return record.status();
    if (record->size() == 1 && (*record)[0] == kRecordShredded) continue;
    batch.Put(kKeysColumnFamily, key, std::string_view(&kRecordShredded, 1));
    replaced.push_back(v);
  }
  if (batch.Count() > 0) BUDSTIKKE_RETURN_IF_ERROR(store->Write(std::move(batch)));
  return replaced;
}

absl::Status Keyring::Shred(std::string_view agency, uint32_t version) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateAgencyId(agency));
  absl::MutexLock lock(&write_mu_);
  const std::string key = VersionKey(agency, version);
  auto record = store_->Get(kKeysColumnFamily, key);
  if (record.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(
        absl::StrCat("key version ", version, " of agency ", Sv(agency), " does not exist"));
  }
  if (!record.ok()) return record.status();
  if (record->size() == 1 && (*record)[0] == kRecordShredded) return absl::OkStatus();
  {
    // Drop the unwrapped key first so no new read or write can use it.
    std::unique_lock<std::shared_mutex> lock(cache_mu_);
    cache_[std::string(agency)].keys[version] = nullptr;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  NotifyChanged();
  BUDSTIKKE_RETURN_IF_ERROR(
      store_->Put(kKeysColumnFamily, key, std::string_view(&kRecordShredded, 1)));
  // Push the wrapped key out of the memtable, the WAL (which every column
  // family shares, hence the full flush) and older SST files.
  BUDSTIKKE_RETURN_IF_ERROR(store_->Flush());
  return store_->CompactColumnFamily(kKeysColumnFamily);
}

}  // namespace budstikke::storage
