// Envelope: encryption of one stored value for a set of reader agencies.
//
// Seal encrypts the plaintext with AES-256-GCM under a random 32-byte data
// key that is wrapped under the CURRENT key version of every reader agency
// (see Keyring). A data key is reused, with a fresh nonce each time, for at
// most kMaxDataKeyUses values of the same reader set (as the AWS Encryption
// SDK's data key caching): a fresh key per value cost a key setup plus one
// AES-GCM wrap per reader, most of a seal. When any agency key is rotated or
// shredded, every cached data key is wiped at once (a Keyring change
// listener) and the next Seal wraps a new one under the current versions. A
// Seal that started before the change may still finish with the old key (as
// it would have without the cache).
//
// Associated data binds each wrapped data key to its agency and key version,
// the content to the column family, the record key and the reader agencies,
// and a header tag (AES-GCM under the data key, empty plaintext) to every
// header byte (all readers, versions and wrapped keys). Open checks the tag
// before the content. So a value moved to another record or column family, a
// wrapped key swapped in from another record, a changed version number or any
// flipped byte gives DATA_LOSS, never wrong plaintext. The tag, not the
// content, covers the versions and wrapped keys so that Rewrap (after a key
// rotation) can move one agency's entry to a new version without decrypting
// or re-encrypting the content.
// (Replacing a value by an older envelope of the SAME record is not detected
// at this layer.) Two values sealed with the same data key share their header
// bytes: the store shows which values were written with one data key (the
// readers are in the clear anyway).
//
// Wire format, version 3 (all integers big-endian):
//   u8   format version = 0x03
//   u8   reader count R (1..255)
//   R x  { u8 agency id length L (1..255) | L bytes agency id |
//          u32 key version | 60 bytes wrapped data key
//          (nonce 12 | AES-GCM(agency key, data key) 32 | tag 16) }
//   header tag: nonce 12 | tag 16 (AES-GCM(data key, empty plaintext))
//   content: nonce 12 | AES-GCM(data key, plaintext) | tag 16
// Associated data (lp(x) = u32 length || x; "header" = every byte before the
// header tag):
//   wrapped key: "budstikke envelope v2 key" 0x00 lp(agency id) u32 key version
//   header tag:  "budstikke envelope v3 header" 0x00 header
//   content:     "budstikke envelope v3 content" 0x00 lp(cf) lp(record key)
//                u8 R, R x lp(agency id)
// Version 2 (still read, no longer written; Rewrap upgrades it) has no header
// tag; its content's associated data is "budstikke envelope v2 content" 0x00
// lp(cf) lp(record key) header.
// Version 1 (likewise) has the layout of version 2 with one
// content key per value, and binds each wrapped key to the record too:
//   wrapped key: "budstikke envelope v1 key" 0x00 lp(cf) lp(record key)
//                lp(agency id) u32 key version
//   content:     "budstikke envelope v1 content" 0x00 lp(cf) lp(record key) header
//
// Errors:
//   Seal: INVALID_ARGUMENT for no readers or a malformed agency id; NOT_FOUND
//     if a reader agency has no key (call Keyring::EnsureAgencyKey first);
//     FAILED_PRECONDITION if a reader's current version was shredded, or in a
//     child after fork(); RESOURCE_EXHAUSTED / INTERNAL from AesGcmAead.
//   Open: PERMISSION_DENIED if the agency is not among the readers (the value
//     exists, this agency may not read it); FAILED_PRECONDITION "key version N
//     of agency X was shredded"; DATA_LOSS for any malformed, moved, swapped or
//     tampered envelope, or an unknown key version.
//
// Thread safety: Seal and Open may be called concurrently. The Keyring is not
// owned and must outlive the Envelope.
#ifndef BUDSTIKKE_STORAGE_ENVELOPE_H_
#define BUDSTIKKE_STORAGE_ENVELOPE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "storage/keyring.h"

namespace budstikke::storage {

class Envelope {
 public:
  static constexpr uint8_t kFormatVersion = 3;  // written; versions 1 to 3 are read
  static constexpr uint32_t kMaxDataKeyUses = 4096;

  struct Reader {
    std::string agency;
    uint32_t key_version = 0;
    bool operator==(const Reader& o) const {
      return agency == o.agency && key_version == o.key_version;
    }
  };

  static absl::StatusOr<std::unique_ptr<Envelope>> Create(const Keyring* keyring);
  ~Envelope();
  Envelope(const Envelope&) = delete;  // registered with the Keyring by address
  Envelope& operator=(const Envelope&) = delete;

  // Duplicate reader agencies are sealed once.
  absl::StatusOr<std::string> Seal(std::string_view cf, std::string_view record_key,
                                   std::string_view plaintext,
                                   const std::vector<std::string>& reader_agencies) const;

  absl::StatusOr<std::string> Open(std::string_view cf, std::string_view record_key,
                                   std::string_view envelope, std::string_view reader_agency) const;

  // The same value with `agency`'s wrapped data key moved to the agency's
  // current key version (after a rotation; the other readers' entries stay as
  // they are). A version-3 envelope keeps its content bytes: only the
  // agency's entry and the header tag change, and the header tag is checked
  // first, so a tampered header is DATA_LOSS rather than signed anew. A
  // version 1 or 2 envelope becomes a version-3 one, its content decrypted
  // and encrypted again (once) under the same data key. The value unchanged
  // if the agency's entry is at the current version already. Errors:
  // PERMISSION_DENIED if the agency is not a reader; FAILED_PRECONDITION if
  // its old version was shredded (nothing can move it any more); DATA_LOSS
  // as Open; NOT_FOUND if the agency has no key.
  static absl::StatusOr<std::string> Rewrap(const Keyring& keyring, std::string_view cf,
                                            std::string_view record_key, std::string_view envelope,
                                            std::string_view agency);

  // The readers and key versions named in an envelope's header (unauthenticated:
  // for rewrap planning and diagnostics only). DATA_LOSS if malformed.
  static absl::StatusOr<std::vector<Reader>> Readers(std::string_view envelope);

  // Wipes every cached data key (Seal makes new ones). Runs by itself when an
  // agency key is rotated or shredded.
  void ForgetDataKeys() const;

 private:
  struct DataKey;
  struct OpenedKey;
  struct Shard;
  explicit Envelope(const Keyring* keyring);
  // A data key for `readers` (deduplicated, in order) under their current versions.
  absl::StatusOr<std::shared_ptr<DataKey>> NewDataKey(absl::Span<const std::string_view> readers,
                                                      uint64_t generation) const;

  // The AEAD of a v2 data key, from the shard's cache of unwrapped keys or
  // unwrapped now (and cached).
  absl::StatusOr<std::shared_ptr<const AesGcmAead>> OpenedDataKey(std::string_view agency,
                                                                  uint32_t version,
                                                                  std::string_view wrapped) const;

  const Keyring* const keyring_;
  // Data keys in a few shards, each used mostly by its own threads.
  const std::unique_ptr<Shard[]> shards_;
  uint64_t listener_id_ = 0;
};

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_ENVELOPE_H_
