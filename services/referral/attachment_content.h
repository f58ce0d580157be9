// AttachmentContent: an attachment's bytes are encrypted once, when uploaded,
// under a content key of their own; only that 32-byte key is sealed for the
// readers (an envelope in record "c/<attachment id>"). Giving an attachment to
// more readers (Send, Cosign, Invite, a thread message) reseals the key record
// and never reads or rewrites the content, so no call holds up to 20 × 25 MiB
// in memory or a lock for the time of re-encrypting it.
//
// A chunk value is kChunkFormat, then AES-256-GCM (nonce, ciphertext, tag)
// under the content key, with the chunk's column family and key as associated
// data (a chunk moved to another attachment or index does not open).
// Attachments stored before content keys (chunks that are envelopes of their
// own, no "c/" record) are still read, and resealed chunk by chunk.
//
// Thread safety: stateless functions over thread-safe Store and Envelope.
#ifndef BUDSTIKKE_SERVICES_REFERRAL_ATTACHMENT_CONTENT_H_
#define BUDSTIKKE_SERVICES_REFERRAL_ATTACHMENT_CONTENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/aead.h"
#include "storage/envelope.h"
#include "storage/store.h"

namespace budstikke::referral::attachment_content {

inline constexpr char kChunkFormat = '\xc1';

std::string ContentKeyRecord(absl::string_view attachment_id);

struct NewContentKey {
  std::string sealed;  // the value of ContentKeyRecord(id)
  std::unique_ptr<storage::AesGcmAead> aead;
};

// A fresh random content key for attachment `id`, sealed for `readers`.
absl::StatusOr<NewContentKey> Create(const storage::Envelope& envelope, absl::string_view cf,
                                     absl::string_view id, const std::vector<std::string>& readers);

// The content key of `id` as `agency` opens it; NOT_FOUND when the attachment
// was stored before content keys; the envelope's errors otherwise.
absl::StatusOr<std::unique_ptr<storage::AesGcmAead>> Open(const storage::Store& store,
                                                          const storage::Envelope& envelope,
                                                          absl::string_view cf,
                                                          absl::string_view id,
                                                          absl::string_view agency);

absl::StatusOr<std::string> SealChunk(const storage::AesGcmAead& key, absl::string_view cf,
                                      absl::string_view chunk_key, absl::string_view plain);

// Opens a chunk value: under `key` when it is kChunkFormat (key must be
// non-null, else DATA_LOSS), as an envelope for `agency` otherwise.
absl::StatusOr<std::string> OpenChunk(const storage::AesGcmAead* key,
                                      const storage::Envelope& envelope, absl::string_view cf,
                                      absl::string_view chunk_key, absl::string_view value,
                                      absl::string_view agency);

}  // namespace budstikke::referral::attachment_content

#endif  // BUDSTIKKE_SERVICES_REFERRAL_ATTACHMENT_CONTENT_H_
