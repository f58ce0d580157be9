// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures.
//
// Wire format, byte-exact:
//   <text, ending in "\n">
//   "\n"
//   one line per signature: "\xE2\x80\x94 <key name> <base64(key id || sig)>\n"
// where "\xE2\x80\x94" is U+2014 EM DASH, the key id is 4 bytes big-endian
// = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4], and
// sig is the 64-byte Ed25519 signature over the text (up to and including
// its final newline). Notes must be valid UTF-8 with no ASCII control
// character other than "\n".
//
// Verifier key text (what `budstikke audit public-key` prints):
//   <name>+<8 lowercase hex digits of the key id>+<base64(0x01 || public key)>
// Key names are non-empty and contain no '+' and no (Unicode) whitespace.
//
// Errors: kInvalidArgument for malformed notes, names and keys;
// kNotFound when a note has no signature by the given key(s) (signatures by
// unknown keys are ignored, as the spec requires); kDataLoss when a
// signature by a known key does not verify (the whole note is rejected);
// kPermissionDenied / kNotFound for key files; kInternal for OpenSSL.
//
// Thread safety: Signer and Verifier are immutable after creation; all const
// methods are safe to call concurrently. Verifier is cheap to copy.
#ifndef BUDSTIKKE_TLOG_NOTE_H_
#define BUDSTIKKE_TLOG_NOTE_H_

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tlog/result.h"

namespace budstikke::tlog {

// OK iff `name` is a valid note key name (non-empty, valid UTF-8, no '+', no
// whitespace or control characters).
Result<void> ValidateKeyName(std::string_view name);

// Signs notes with an Ed25519 private key. Owns the key; the key bytes are
// never exposed.
class Signer {
 public:
  // Loads a PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm
  // ed25519`). Refuses (kPermissionDenied) a file with any group or other
  // permission bit, naming the file and its mode. Encrypted keys are refused.
  static Result<std::unique_ptr<Signer>> FromPemFile(std::string name, const std::string& path);
  static Result<std::unique_ptr<Signer>> FromPem(std::string name, std::string_view pem);

  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  // "<name>+<hex key id>+<base64(0x01 || public key)>".
  std::string VerifierKey() const;

  // Returns `text` + "\n" + this key's signature line. `text` must be
  // non-empty, end in "\n", be valid UTF-8 and hold no control character
  // other than "\n" (kInvalidArgument otherwise).
  Result<std::string> SignNote(std::string_view text) const;

 private:
  Signer(std::string name, EVP_PKEY* key, uint32_t key_id,
         const std::array<uint8_t, 32>& public_key);

  std::string name_;
  EVP_PKEY* key_;
  uint32_t key_id_;
  std::array<uint8_t, 32> public_key_;
};

// Verifies Ed25519 note signatures of one key.
class Verifier {
 public:
  static Result<Verifier> FromVerifierKey(std::string_view text);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  // The verifier key text this verifier was parsed from (canonical form).
  std::string VerifierKey() const;
  // True iff `signature` (64 bytes) is a valid Ed25519 signature of `message`.
  bool Verify(std::string_view message, std::string_view signature) const;

 private:
  Verifier() = default;
  std::string name_;
  uint32_t key_id_ = 0;
  std::array<uint8_t, 32> public_key_{};
  std::shared_ptr<EVP_PKEY> key_;
};

// Checks a signed note and returns its text (with final newline). Succeeds
// iff the note is well-formed, at least one signature is by a key in
// `verifiers` (same name AND key id) and every such signature verifies.
// At most 100 signature lines are accepted.
Result<std::string> OpenNote(std::string_view note, const std::vector<Verifier>& verifiers);
Result<std::string> OpenNote(std::string_view note, const Verifier& verifier);

}  // namespace budstikke::tlog

#endif  // BUDSTIKKE_TLOG_NOTE_H_
