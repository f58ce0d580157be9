// Envelope: encryption of one stored value for a set of reader agencies.
//
// Seal encrypts the plaintext with AES-256-GCM under a fresh random 32-byte
// content key, and wraps that content key under the CURRENT key version of
// every reader agency (see Keyring). Associated data binds the column family
// and the record key to both the content and every wrapped key, and binds each
// wrapped key to its agency and key version; the content's associated data
// also covers the whole header (all readers and versions). So a value moved to
// another record or column family, a wrapped key swapped in from another
// record, a changed version number or any flipped byte gives DATA_LOSS, never
// wrong plaintext. (Replacing a value by an older envelope of the SAME record
// is not detected at this layer.)
//
// Wire format, version 1 (all integers big-endian):
//   u8   format version = 0x01
//   u8   reader count R (1..255)
//   R x  { u8 agency id length L (1..255) | L bytes agency id |
//          u32 key version | 60 bytes wrapped content key
//          (nonce 12 | AES-GCM(agency key, content key) 32 | tag 16) }
//   content: nonce 12 | AES-GCM(content key, plaintext) | tag 16
// Associated data (lp(x) = u32 length || x):
//   wrapped key: "budstikke envelope v1 key" 0x00 lp(cf) lp(record key)
//                lp(agency id) u32 key version
//   content:     "budstikke envelope v1 content" 0x00 lp(cf) lp(record key)
//                header (every byte before the content nonce)
//
// Errors:
//   Seal: INVALID_ARGUMENT for no readers or a malformed agency id; NOT_FOUND
//     if a reader agency has no key (call Keyring::EnsureAgencyKey first);
//     FAILED_PRECONDITION if a reader's current version was shredded.
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
#include "storage/keyring.h"

namespace budstikke::storage {

class Envelope {
 public:
  static constexpr uint8_t kFormatVersion = 1;

  struct Reader {
    std::string agency;
    uint32_t key_version = 0;
    bool operator==(const Reader& o) const {
      return agency == o.agency && key_version == o.key_version;
    }
  };

  static absl::StatusOr<std::unique_ptr<Envelope>> Create(const Keyring* keyring);

  // Duplicate reader agencies are sealed once.
  absl::StatusOr<std::string> Seal(std::string_view cf, std::string_view record_key,
                                   std::string_view plaintext,
                                   const std::vector<std::string>& reader_agencies) const;

  absl::StatusOr<std::string> Open(std::string_view cf, std::string_view record_key,
                                   std::string_view envelope,
                                   std::string_view reader_agency) const;

  // The readers and key versions named in an envelope's header (unauthenticated:
  // for rewrap planning and diagnostics only). DATA_LOSS if malformed.
  static absl::StatusOr<std::vector<Reader>> Readers(std::string_view envelope);

 private:
  explicit Envelope(const Keyring* keyring) : keyring_(keyring) {}
  const Keyring* const keyring_;
};

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_ENVELOPE_H_
