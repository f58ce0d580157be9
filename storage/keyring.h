// Keyring: the master key, the keys derived from it, and the versioned keys
// of every agency.
//
// Master key: exactly 32 raw bytes, from a file readable by the owner only.
// From it, HKDF-SHA256 (empty salt) derives
//   - the key-encryption key (KEK), info "budstikke kek v1", and
//   - the pseudonym secret, info "budstikke pseudonym v1" (see Pseudonymizer).
//
// Agency keys: each agency has numbered key versions 1, 2, ... Every version
// is a random 32-byte AES-256-GCM key stored in column family "keys" under
// "agency/<agency id>/v/<8-digit version>", wrapped under the KEK with the
// associated data ("budstikke agency key v1", agency id, version), so a
// wrapped key copied to another agency or version fails to unwrap. Record
// format: 0x01 || AES-GCM ciphertext of the key; a shredded version keeps a
// one-byte tombstone 0x00 so that its number is never reused and reads can say
// "shredded" rather than "corrupt".
//
// The current version (the highest one) is used for new writes; older versions
// still decrypt until they are shredded. Shred deletes the wrapped key and
// compacts the "keys" column family so the wrapped bytes leave the live files
// (existing backups and open snapshots keep them: shred them too).
//
// Errors: INVALID_ARGUMENT for a malformed agency id (empty, or containing '/'
// or a control character); NOT_FOUND if an agency has no key; FAILED_PRECONDITION
// "key version N of agency X was shredded"; DATA_LOSS if a stored key does not
// unwrap (tampered record or another master key).
//
// Thread safety: all methods may be called concurrently. Mutations (Ensure,
// Rotate, Shred) are serialized within this process; the Store must not be
// shared with another Keyring that mutates keys. Unwrapped agency keys are
// cached in memory. The Keyring does not own the Store, which must outlive it.
#ifndef BUDSTIKKE_STORAGE_KEYRING_H_
#define BUDSTIKKE_STORAGE_KEYRING_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/aead.h"
#include "storage/secret_bytes.h"
#include "storage/store.h"

namespace budstikke::storage {

struct KeyVersionInfo {
  uint32_t version = 0;
  bool shredded = false;
  bool operator==(const KeyVersionInfo& o) const {
    return version == o.version && shredded == o.shredded;
  }
};

// One key version of one agency.
struct KeyVersionRef {
  std::string agency;
  uint32_t version = 0;
  bool operator==(const KeyVersionRef& o) const {
    return agency == o.agency && version == o.version;
  }
};

class Keyring {
 public:
  static constexpr size_t kMasterKeySize = 32;
  static constexpr char kKeysColumnFamily[] = "keys";

  // Column families the Keyring needs; open them in the Store.
  static std::vector<std::string> ColumnFamilies() { return {kKeysColumnFamily}; }

  // Reads a master key file. Refuses, with a one-line reason naming the file:
  //   NOT_FOUND / PERMISSION_DENIED if it cannot be opened,
  //   FAILED_PRECONDITION if it is not a regular file or its mode has any group
  //     or other bit ("master key file F has mode 0644; it must be 0600
  //     (chmod 600 F)"),
  //   INVALID_ARGUMENT if it does not hold exactly 32 bytes ("master key file F
  //     must hold exactly 32 raw bytes, found N").
  static absl::StatusOr<SecretBytes> ReadMasterKeyFile(const std::string& path);

  // `store` must have the column families of ColumnFamilies() and outlive the
  // Keyring. INVALID_ARGUMENT unless the master key is 32 bytes.
  static absl::StatusOr<std::unique_ptr<Keyring>> Create(const SecretBytes& master_key,
                                                         Store* store);
  static absl::StatusOr<std::unique_ptr<Keyring>> CreateFromFile(const std::string& path,
                                                                 Store* store);
  ~Keyring();

  // Creates version 1 if the agency has no key; returns the current version.
  absl::StatusOr<uint32_t> EnsureAgencyKey(std::string_view agency);
  // Adds a new version (used for new writes from now on) and returns it.
  // Creates version 1 if the agency had no key.
  absl::StatusOr<uint32_t> Rotate(std::string_view agency);
  // Destroys one version. NOT_FOUND if it never existed; OK if already shredded.
  absl::Status Shred(std::string_view agency, uint32_t version);
  // The highest version. NOT_FOUND if the agency has no key.
  absl::StatusOr<uint32_t> CurrentVersion(std::string_view agency) const;
  // All versions in ascending order (empty if none).
  absl::StatusOr<std::vector<KeyVersionInfo>> ListVersions(std::string_view agency) const;

  // The AEAD of one key version (for Envelope). Errors as above.
  absl::StatusOr<std::shared_ptr<const AesGcmAead>> AgencyAead(std::string_view agency,
                                                               uint32_t version) const;
  // The current version and its AEAD, for new writes. NOT_FOUND if the agency
  // has no key; FAILED_PRECONDITION if the current version was shredded
  // (rotate to get a fresh one).
  absl::StatusOr<std::pair<uint32_t, std::shared_ptr<const AesGcmAead>>> CurrentAgencyAead(
      std::string_view agency) const;

  // Changes whenever a key version is added or shredded (so a cache of
  // anything derived from the current versions, like Envelope's data keys,
  // knows to start over).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // `listener` runs synchronously after each such change (after generation()
  // has moved on), in the thread that rotated or shredded; it must not call
  // back into the Keyring's Rotate/Shred/EnsureAgencyKey, nor add or remove
  // listeners (nor destroy an Envelope, which removes its own). Returns an id
  // for RemoveChangeListener, which waits for a running call to finish.
  uint64_t AddChangeListener(std::function<void()> listener) const;
  void RemoveChangeListener(uint64_t id) const;

  // Offline tools (no master key needed; the purge of shredded keys from
  // backups, storage/backup_purge.h):
  // Every shredded version that `store` records, in key order (agency, then
  // version); only those of `agency` unless it is empty. DATA_LOSS for a
  // malformed key record.
  static absl::StatusOr<std::vector<KeyVersionRef>> ShreddedVersions(const Store& store,
                                                                     std::string_view agency);
  // Replaces the wrapped key of each of `versions` that `store` still holds
  // by the shredded marker, in one write. Versions absent or already shredded
  // are left alone. Returns the versions replaced. Does not compact: the
  // wrapped bytes stay in the files until kKeysColumnFamily is compacted.
  // Must not run while a Keyring uses `store`.
  static absl::StatusOr<std::vector<KeyVersionRef>> MarkShredded(
      Store* store, const std::vector<KeyVersionRef>& versions);

  // Secret for Pseudonymizer (HKDF of the master key, info "budstikke pseudonym v1").
  const SecretBytes& pseudonym_secret() const { return pseudonym_secret_; }

 private:
  Keyring(Store* store, std::unique_ptr<AesGcmAead> kek, SecretBytes pseudonym_secret);

  absl::StatusOr<uint32_t> AddVersionLocked(std::string_view agency)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::StatusOr<std::shared_ptr<const AesGcmAead>> LoadVersion(std::string_view agency,
                                                                uint32_t version) const;
  void NotifyChanged() const;

  Store* const store_;
  const std::unique_ptr<AesGcmAead> kek_;
  const SecretBytes pseudonym_secret_;

  absl::Mutex write_mu_;  // serializes Ensure/Rotate/Shred
  struct AgencyCache {
    uint32_t current = 0;  // 0: not known yet
    // Unwrapped keys; nullptr marks a shredded version.
    std::map<uint32_t, std::shared_ptr<const AesGcmAead>> keys;
  };
  // std::shared_mutex rather than absl::Mutex on this hot path: Debian's
  // Abseil is built with deadlock detection, which costs ~100 ns per lock.
  mutable std::shared_mutex cache_mu_;
  mutable std::map<std::string, AgencyCache, std::less<>> cache_;  // guarded by cache_mu_
  std::atomic<uint64_t> generation_{1};
  mutable std::mutex listeners_mu_;
  mutable uint64_t last_listener_id_ = 0;                        // guarded by listeners_mu_
  mutable std::map<uint64_t, std::function<void()>> listeners_;  // guarded by listeners_mu_
};

namespace keyring_internal {
// HKDF-SHA256 (RFC 5869) with an empty salt; exposed for the RFC test vectors.
absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& ikm, std::string_view info,
                                       size_t length);
// INVALID_ARGUMENT unless the agency id is 1..255 bytes without '/' or control characters.
absl::Status ValidateAgencyId(std::string_view agency);
}  // namespace keyring_internal

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_KEYRING_H_
