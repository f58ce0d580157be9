#include "tlog/note.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tlog/base64.h"
#include "tlog/hash.h"

namespace budstikke::tlog {
namespace {

constexpr uint8_t kAlgEd25519 = 0x01;
constexpr char kEmDashSpace[] = "\xE2\x80\x94 ";  // U+2014 + U+0020
constexpr size_t kEd25519SignatureSize = 64;
constexpr size_t kMaxSignatures = 100;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// Decodes one UTF-8 code point at s[*i]; advances *i. Returns -1 if invalid
// (overlong, surrogate, out of range, truncated).
int32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(*i);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  int len;
  int32_t cp;
  int32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (*i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    uint8_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *i += len;
  return cp;
}

bool IsUnicodeSpace(int32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// Valid UTF-8 with no control character other than '\n'.
Result<void> CheckNoteChars(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t at = i;
    int32_t cp = NextCodePoint(s, &i);
    if (cp < 0) return Invalid("note is not valid UTF-8 at byte " + std::to_string(at));
    if ((cp < 0x20 && cp != '\n') || cp == 0x7F) {
      return Invalid("note holds control character " + std::to_string(cp) + " at byte " +
                     std::to_string(at));
    }
  }
  return {};
}

uint32_t ComputeKeyId(std::string_view name, const std::array<uint8_t, 32>& public_key) {
  std::string buf(name);
  buf += '\n';
  buf += static_cast<char>(kAlgEd25519);
  buf.append(reinterpret_cast<const char*>(public_key.data()), public_key.size());
  uint8_t md[32];
  unsigned int len = 0;
  if (EVP_Digest(buf.data(), buf.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
  return (uint32_t{md[0]} << 24) | (uint32_t{md[1]} << 16) | (uint32_t{md[2]} << 8) | md[3];
}

std::string KeyIdHex(uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

std::string FormatVerifierKey(const std::string& name, uint32_t key_id,
                              const std::array<uint8_t, 32>& public_key) {
  std::string raw(1, static_cast<char>(kAlgEd25519));
  raw.append(reinterpret_cast<const char*>(public_key.data()), public_key.size());
  return name + "+" + KeyIdHex(key_id) + "+" + Base64Encode(raw);
}

// PEM passphrase callback that refuses: encrypted keys are not supported and
// OpenSSL's default callback would prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

Result<void> ValidateKeyName(std::string_view name) {
  if (name.empty()) return Invalid("key name is empty");
  for (size_t i = 0; i < name.size();) {
    int32_t cp = NextCodePoint(name, &i);
    if (cp < 0) return Invalid("key name is not valid UTF-8");
    if (cp == '+') return Invalid("key name must not contain '+'");
    if (IsUnicodeSpace(cp)) return Invalid("key name must not contain whitespace");
    if (cp < 0x20 || cp == 0x7F) {
      return Invalid("key name must not contain control characters");
    }
  }
  return {};
}

// ---------------------------------------------------------------- Signer

Signer::Signer(std::string name, EVP_PKEY* key, uint32_t key_id,
               const std::array<uint8_t, 32>& public_key)
    : name_(std::move(name)), key_(key), key_id_(key_id), public_key_(public_key) {}

Signer::~Signer() { EVP_PKEY_free(key_); }

Result<std::unique_ptr<Signer>> Signer::FromPemFile(std::string name, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kPermissionDenied,
                     "cannot open signing key file " + path + ": " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Invalid("signing key file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return MakeError(ErrorCode::kPermissionDenied,
                     "signing key file " + path + " has mode " + mode +
                         "; it must not be accessible by group or others "
                         "(chmod 600 " +
                         path + ")");
  }
  std::string pem;
  char buf[4096];
  ssize_t got;
  while ((got = ::read(fd, buf, sizeof buf)) > 0) {
    pem.append(buf, static_cast<size_t>(got));
    if (pem.size() > (1 << 20)) break;  // no sane key file is this large
  }
  ::close(fd);
  OPENSSL_cleanse(buf, sizeof buf);
  Result<std::unique_ptr<Signer>> signer =
      got < 0 ? Result<std::unique_ptr<Signer>>(Invalid("cannot read signing key file " + path))
              : FromPem(std::move(name), pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!signer.ok()) {
    return MakeError(signer.error().code, signer.error().message + " (in " + path + ")");
  }
  return signer;
}

Result<std::unique_ptr<Signer>> Signer::FromPem(std::string name, std::string_view pem) {
  Result<void> valid = ValidateKeyName(name);
  if (!valid.ok()) return valid.error();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return MakeError(ErrorCode::kInternal, "BIO_new_mem_buf failed");
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(bio, nullptr, NoPassphrase, nullptr));
  BIO_free(bio);
  if (key == nullptr) {
    return Invalid("signing key is not an unencrypted PEM private key");
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return Invalid("signing key is not an Ed25519 key");
  }
  std::array<uint8_t, 32> pub;
  size_t pub_len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &pub_len) != 1 || pub_len != pub.size()) {
    return MakeError(ErrorCode::kInternal, "cannot derive Ed25519 public key");
  }
  uint32_t id = ComputeKeyId(name, pub);
  return std::unique_ptr<Signer>(new Signer(std::move(name), key.release(), id, pub));
}

std::string Signer::VerifierKey() const { return FormatVerifierKey(name_, key_id_, public_key_); }

Result<std::string> Signer::SignNote(std::string_view text) const {
  if (text.empty() || text.back() != '\n') {
    return Invalid("note text must end with a newline");
  }
  Result<void> chars = CheckNoteChars(text);
  if (!chars.ok()) return chars.error();

  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  uint8_t sig[4 + kEd25519SignatureSize];
  size_t sig_len = kEd25519SignatureSize;
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_) != 1 ||
      EVP_DigestSign(ctx.get(), sig + 4, &sig_len, reinterpret_cast<const uint8_t*>(text.data()),
                     text.size()) != 1 ||
      sig_len != kEd25519SignatureSize) {
    return MakeError(ErrorCode::kInternal, "Ed25519 signing failed");
  }
  sig[0] = static_cast<uint8_t>(key_id_ >> 24);
  sig[1] = static_cast<uint8_t>(key_id_ >> 16);
  sig[2] = static_cast<uint8_t>(key_id_ >> 8);
  sig[3] = static_cast<uint8_t>(key_id_);
  std::string note(text);
  note += '\n';
  note += kEmDashSpace;
  note += name_;
  note += ' ';
  note += Base64Encode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
  note += '\n';
  return note;
}

// -------------------------------------------------------------- Verifier

Result<Verifier> Verifier::FromVerifierKey(std::string_view text) {
  size_t p1 = text.find('+');
  size_t p2 = p1 == std::string_view::npos ? p1 : text.find('+', p1 + 1);
  // The name and id hold no '+'; the base64 after the second '+' may.
  if (p2 == std::string_view::npos) {
    return Invalid("verifier key must be <name>+<hex key id>+<base64 key>");
  }
  std::string_view name = text.substr(0, p1);
  std::string_view hex = text.substr(p1 + 1, p2 - p1 - 1);
  std::string_view b64 = text.substr(p2 + 1);
  Result<void> valid = ValidateKeyName(name);
  if (!valid.ok()) return Invalid("verifier key: " + valid.error().message);
  if (hex.size() != 8 || hex.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return Invalid("verifier key id must be 8 lowercase hex digits");
  }
  std::optional<std::string> raw = Base64Decode(b64);
  if (!raw || raw->size() != 33 || static_cast<uint8_t>((*raw)[0]) != kAlgEd25519) {
    return Invalid("verifier key must hold base64(0x01 || 32-byte Ed25519 public key)");
  }
  Verifier v;
  v.name_ = std::string(name);
  std::memcpy(v.public_key_.data(), raw->data() + 1, 32);
  v.key_id_ = ComputeKeyId(name, v.public_key_);
  if (KeyIdHex(v.key_id_) != hex) {
    return Invalid("verifier key id " + std::string(hex) +
                   " does not match the name and public key");
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, v.public_key_.data(), 32);
  if (key == nullptr) return Invalid("verifier key is not a valid Ed25519 public key");
  v.key_.reset(key, PkeyFree());
  return v;
}

std::string Verifier::VerifierKey() const { return FormatVerifierKey(name_, key_id_, public_key_); }

bool Verifier::Verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kEd25519SignatureSize) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  return ctx != nullptr &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const uint8_t*>(signature.data()),
                          signature.size(), reinterpret_cast<const uint8_t*>(message.data()),
                          message.size()) == 1;
}

// ----------------------------------------------------------------- Open

Result<std::string> OpenNote(std::string_view note, const std::vector<Verifier>& verifiers) {
  Result<void> chars = CheckNoteChars(note);
  if (!chars.ok()) return chars.error();
  if (note.empty() || note.back() != '\n') {
    return Invalid("signed note must end with a newline");
  }
  size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return Invalid("signed note has no blank line before its signatures");
  }
  std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return Invalid("signed note has no signature lines");

  size_t verified = 0;
  size_t count = 0;
  while (!sigs.empty()) {
    size_t eol = sigs.find('\n');  // present: the note ends with '\n'
    std::string_view line = sigs.substr(0, eol);
    sigs.remove_prefix(eol + 1);
    if (++count > kMaxSignatures) {
      return Invalid("signed note has more than " + std::to_string(kMaxSignatures) + " signatures");
    }
    if (line.substr(0, sizeof kEmDashSpace - 1) != kEmDashSpace) {
      return Invalid("signature line " + std::to_string(count) +
                     " does not start with an em dash and a space");
    }
    line.remove_prefix(sizeof kEmDashSpace - 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      return Invalid("signature line " + std::to_string(count) +
                     " has no space between key name and signature");
    }
    std::string_view name = line.substr(0, space);
    if (!ValidateKeyName(name).ok()) {
      return Invalid("signature line " + std::to_string(count) + " has an invalid key name");
    }
    std::optional<std::string> blob = Base64Decode(line.substr(space + 1));
    if (!blob || blob->size() <= 4) {
      return Invalid("signature line " + std::to_string(count) +
                     " does not hold base64(key id || signature)");
    }
    const auto* b = reinterpret_cast<const uint8_t*>(blob->data());
    uint32_t id = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    for (const Verifier& v : verifiers) {
      if (v.name() != name || v.key_id() != id) continue;  // unknown: ignore
      if (!v.Verify(text, std::string_view(*blob).substr(4))) {
        return MakeError(ErrorCode::kDataLoss, "signature by key " + std::string(name) + "+" +
                                                   KeyIdHex(id) + " does not verify");
      }
      ++verified;
    }
  }
  if (verified == 0) {
    std::string known;
    for (const Verifier& v : verifiers) {
      known += (known.empty() ? "" : ", ") + v.name() + "+" + KeyIdHex(v.key_id());
    }
    return MakeError(ErrorCode::kNotFound, "note has no signature by a known key (" + known + ")");
  }
  return std::string(text);
}

Result<std::string> OpenNote(std::string_view note, const Verifier& verifier) {
  return OpenNote(note, std::vector<Verifier>{verifier});
}

}  // namespace budstikke::tlog
