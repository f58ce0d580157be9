#include "storage/aead.h"

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <utility>

#include "openssl/crypto.h"
#include "openssl/evp.h"
#include "openssl/rand.h"
#include "storage/big_endian.h"
#include "storage/internal/thread_slot.h"
#include "storage/random.h"

namespace budstikke::storage {
namespace {

constexpr uint64_t kMaxEncryptionsPerInstance = uint64_t{1} << 48;

// Fetched once: with OpenSSL 3 the legacy EVP_aes_256_gcm() triggers an
// implicit provider fetch on every init.
const EVP_CIPHER* Cipher() {
  static const EVP_CIPHER* cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return c != nullptr ? c : EVP_aes_256_gcm();
  }();
  return cipher;
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* U(char* p) { return reinterpret_cast<unsigned char*>(p); }

absl::Status DataLoss() {
  return absl::DataLossError(
      "AES-GCM authentication failed: the ciphertext or its associated data was modified, "
      "moved, or encrypted under another key");
}

// Core seal on a context whose key is already set (or set now if `key` is
// non-null). Writes ciphertext||tag at `out` (len(plaintext) + 16 bytes).
bool GcmSeal(EVP_CIPHER_CTX* ctx, const unsigned char* key, const unsigned char* nonce,
             std::string_view pt, std::string_view aad, std::string_view aad2, unsigned char* out) {
  int len = 0;
  if (EVP_EncryptInit_ex2(ctx, nullptr, key, nonce, nullptr) != 1) {
    return false;
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx, nullptr, &len, U(aad.data()), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  if (!aad2.empty() &&
      EVP_EncryptUpdate(ctx, nullptr, &len, U(aad2.data()), static_cast<int>(aad2.size())) != 1) {
    return false;
  }
  int total = 0;
  if (!pt.empty()) {
    if (EVP_EncryptUpdate(ctx, out, &len, U(pt.data()), static_cast<int>(pt.size())) != 1) {
      return false;
    }
    total = len;
  }
  if (EVP_EncryptFinal_ex(ctx, out + total, &len) != 1) return false;
  total += len;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AesGcmAead::kTagSize, out + total) == 1;
}

// Returns 1 on success, 0 on authentication failure, -1 on an OpenSSL error.
int GcmOpen(EVP_CIPHER_CTX* ctx, const unsigned char* key, std::string_view ct,
            std::string_view aad, std::string_view aad2, unsigned char* out) {
  const unsigned char* nonce = U(ct.data());
  const unsigned char* body = nonce + AesGcmAead::kNonceSize;
  const size_t body_len = ct.size() - AesGcmAead::kOverhead;
  const unsigned char* tag = body + body_len;
  int len = 0;
  if (EVP_DecryptInit_ex2(ctx, nullptr, key, nonce, nullptr) != 1) {
    return -1;
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx, nullptr, &len, U(aad.data()), static_cast<int>(aad.size())) != 1) {
    return -1;
  }
  if (!aad2.empty() &&
      EVP_DecryptUpdate(ctx, nullptr, &len, U(aad2.data()), static_cast<int>(aad2.size())) != 1) {
    return -1;
  }
  int total = 0;
  if (body_len > 0) {
    if (EVP_DecryptUpdate(ctx, out, &len, body, static_cast<int>(body_len)) != 1) return -1;
    total = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AesGcmAead::kTagSize,
                          const_cast<unsigned char*>(tag)) != 1) {
    return -1;
  }
  return EVP_DecryptFinal_ex(ctx, out + total, &len) == 1 ? 1 : 0;
}

// A per-thread context bound to the cipher once; each use only sets key and
// nonce (re-binding the cipher would reallocate the provider context).
EVP_CIPHER_CTX* ThreadCtx() {
  thread_local CtxPtr ctx = [] {
    CtxPtr c(EVP_CIPHER_CTX_new());
    if (c != nullptr && EVP_CipherInit_ex2(c.get(), Cipher(), nullptr, nullptr, 1, nullptr) != 1) {
      c.reset();
    }
    return c;
  }();
  return ctx.get();
}

}  // namespace

// A small pool of EVP contexts with the key schedule already set up, so a
// call only sets the nonce. Lock-free: a fixed array of slots, each holding
// one idle context or null; a thread starts at a slot of its own, so two
// threads rarely touch the same slot (a mutex here was ~12% of a seal under
// two threads: pthread_mutex_lock/unlock and futex hand-offs). The contexts
// belong to the instance and are freed (and so cleansed) with it.
class AesGcmAead::CtxPool {
 public:
  CtxPool(const SecretBytes& key, bool encrypt) : key_(key), encrypt_(encrypt) {}
  ~CtxPool() {
    for (auto& slot : slots_) EVP_CIPHER_CTX_free(slot.ctx.exchange(nullptr));
  }

  CtxPtr Borrow() {
    const size_t start = internal::ThreadSlot();
    for (size_t i = 0; i < kSlots; ++i) {
      EVP_CIPHER_CTX* c =
          slots_[(start + i) % kSlots].ctx.exchange(nullptr, std::memory_order_acquire);
      if (c != nullptr) return CtxPtr(c);
    }
    CtxPtr c(EVP_CIPHER_CTX_new());
    if (c == nullptr) return nullptr;
    const unsigned char* k = U(key_.secret_bytes_for_crypto().data());
    int ok = encrypt_ ? EVP_EncryptInit_ex2(c.get(), Cipher(), k, nullptr, nullptr)
                      : EVP_DecryptInit_ex2(c.get(), Cipher(), k, nullptr, nullptr);
    if (ok != 1) return nullptr;
    return c;
  }

  void Return(CtxPtr c) {
    const size_t start = internal::ThreadSlot();
    for (size_t i = 0; i < kSlots; ++i) {
      EVP_CIPHER_CTX* expected = nullptr;
      if (slots_[(start + i) % kSlots].ctx.compare_exchange_strong(expected, c.get(),
                                                                   std::memory_order_release)) {
        c.release();
        return;
      }
    }
    // Every slot full: c is freed here.
  }

 private:
  static constexpr size_t kSlots = 16;

  // One cache line per slot: two threads on neighbouring slots must not
  // bounce a shared line on every borrow and return.
  struct alignas(64) Slot {
    std::atomic<EVP_CIPHER_CTX*> ctx{nullptr};
  };

  const SecretBytes& key_;
  const bool encrypt_;
  std::array<Slot, kSlots> slots_{};
};

uint64_t AesGcmAead::NextInstanceId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

absl::StatusOr<std::unique_ptr<AesGcmAead>> AesGcmAead::Create(const SecretBytes& key) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError("AES-256-GCM key must be exactly 32 bytes");
  }
  unsigned char seed[12];
  if (RAND_bytes(seed, sizeof(seed)) != 1) return absl::InternalError("RAND_bytes failed");
  uint32_t prefix;
  uint64_t start;
  std::memcpy(&prefix, seed, 4);
  std::memcpy(&start, seed + 4, 8);
  return std::unique_ptr<AesGcmAead>(new AesGcmAead(key.Clone(), prefix, start));
}

AesGcmAead::AesGcmAead(SecretBytes key, uint32_t nonce_prefix, uint64_t counter_start)
    : key_(std::move(key)),
      nonce_prefix_(nonce_prefix),
      counter_start_(counter_start),
      counter_(counter_start),
      instance_id_(NextInstanceId()),
      fork_generation_(random_internal::ForkGeneration()),
      encrypt_pool_(std::make_unique<CtxPool>(key_, true)),
      decrypt_pool_(std::make_unique<CtxPool>(key_, false)) {}

AesGcmAead::~AesGcmAead() = default;

// Nonces are handed out from per-thread blocks of the instance's counter, so
// the hot path touches no shared cache line (one fetch_add per kNonceBlock
// encryptions). A thread keeps one block per slot of a small table indexed by
// instance id (ids increase and are never reused). A newer instance's
// unfinished block is never evicted by an older instance (which then takes a
// single nonce per call), so two instances used in turn waste at most one
// block of the older one per newer instance, and a dead instance's block is
// replaced by the next newer one. Values skipped
// when a finished or stale block is dropped are never used: every nonce is
// used at most once. The counter is never advanced past the limit (checked
// first), so it cannot wrap around however often an exhausted key is called.
bool AesGcmAead::NextNonce(uint64_t* n) const {
  struct Block {
    uint64_t instance = 0;  // 0: empty
    uint64_t next = 0;
    uint64_t end = 0;
  };
  thread_local std::array<Block, 8> blocks;
  Block& b = blocks[instance_id_ % blocks.size()];
  if (b.instance == instance_id_ && b.next != b.end) {
    *n = b.next++;
    return true;
  }
  const bool slot_busy = b.instance > instance_id_ && b.next != b.end;
  const uint64_t take = slot_busy ? 1 : kNonceBlock;
  if (counter_.load(std::memory_order_relaxed) - counter_start_ >
      kMaxEncryptionsPerInstance - kNonceBlock) {
    return false;
  }
  const uint64_t start = counter_.fetch_add(take, std::memory_order_relaxed);
  if (start - counter_start_ > kMaxEncryptionsPerInstance - take) return false;
  if (!slot_busy) {
    b.instance = instance_id_;
    b.next = start + 1;
    b.end = start + kNonceBlock;
  }
  *n = start;
  return true;
}

absl::Status AesGcmAead::EncryptAppend(std::string_view plaintext, std::string_view associated_data,
                                       std::string* out, std::string_view associated_data_2) const {
  // A forked child has copies of the parent's counters: it would repeat the
  // parent's nonces.
  if (random_internal::ForkGeneration() != fork_generation_) {
    return absl::FailedPreconditionError(
        "AES-GCM key instance was created before fork(); create it again in the child");
  }
  uint64_t n = 0;
  if (!NextNonce(&n)) {
    return absl::ResourceExhaustedError("AES-GCM nonce space of this key instance is used up");
  }
  const size_t offset = out->size();
  out->resize(offset + kOverhead + plaintext.size());
  unsigned char* p = U(out->data() + offset);
  std::memcpy(p, &nonce_prefix_, 4);
  StoreBigEndian64(n, p + 4);
  CtxPtr ctx = encrypt_pool_->Borrow();
  if (ctx == nullptr) return absl::InternalError("cannot create AES-GCM context");
  bool ok =
      GcmSeal(ctx.get(), nullptr, p, plaintext, associated_data, associated_data_2, p + kNonceSize);
  encrypt_pool_->Return(std::move(ctx));
  if (!ok) {
    out->resize(offset);
    return absl::InternalError("AES-GCM encryption failed");
  }
  return absl::OkStatus();
}

absl::Status AesGcmAead::DecryptInto(std::string_view ciphertext, std::string_view associated_data,
                                     std::string* plaintext,
                                     std::string_view associated_data_2) const {
  if (ciphertext.size() < kOverhead) return absl::DataLossError("AES-GCM ciphertext too short");
  plaintext->resize(ciphertext.size() - kOverhead);
  CtxPtr ctx = decrypt_pool_->Borrow();
  if (ctx == nullptr) return absl::InternalError("cannot create AES-GCM context");
  int r = GcmOpen(ctx.get(), nullptr, ciphertext, associated_data, associated_data_2,
                  U(plaintext->data()));
  decrypt_pool_->Return(std::move(ctx));
  if (r != 1) {
    OPENSSL_cleanse(plaintext->data(), plaintext->size());
    plaintext->clear();
    return r == 0 ? DataLoss() : absl::InternalError("AES-GCM decryption failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AesGcmAead::Encrypt(std::string_view plaintext,
                                                std::string_view associated_data) const {
  std::string out;
  out.reserve(plaintext.size() + kOverhead);
  absl::Status s = EncryptAppend(plaintext, associated_data, &out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> AesGcmAead::Decrypt(std::string_view ciphertext,
                                                std::string_view associated_data) const {
  std::string out;
  absl::Status s = DecryptInto(ciphertext, associated_data, &out);
  if (!s.ok()) return s;
  return out;
}

namespace aead_internal {

absl::Status SealWithKey(std::string_view key, std::string_view nonce, std::string_view plaintext,
                         std::string_view associated_data, std::string* out,
                         std::string_view associated_data_2) {
  if (key.size() != AesGcmAead::kKeySize || nonce.size() != AesGcmAead::kNonceSize) {
    return absl::InvalidArgumentError("bad AES-256-GCM key or nonce size");
  }
  EVP_CIPHER_CTX* ctx = ThreadCtx();
  if (ctx == nullptr) return absl::InternalError("cannot create AES-GCM context");
  const size_t offset = out->size();
  out->resize(offset + AesGcmAead::kOverhead + plaintext.size());
  unsigned char* p = U(out->data() + offset);
  std::memcpy(p, nonce.data(), AesGcmAead::kNonceSize);
  if (!GcmSeal(ctx, U(key.data()), p, plaintext, associated_data, associated_data_2,
               p + AesGcmAead::kNonceSize)) {
    out->resize(offset);
    return absl::InternalError("AES-GCM encryption failed");
  }
  return absl::OkStatus();
}

absl::Status OpenWithKey(std::string_view key, std::string_view ciphertext,
                         std::string_view associated_data, std::string* plaintext,
                         std::string_view associated_data_2) {
  if (key.size() != AesGcmAead::kKeySize) {
    return absl::InvalidArgumentError("bad AES-256-GCM key size");
  }
  if (ciphertext.size() < AesGcmAead::kOverhead) {
    return absl::DataLossError("AES-GCM ciphertext too short");
  }
  EVP_CIPHER_CTX* ctx = ThreadCtx();
  if (ctx == nullptr) return absl::InternalError("cannot create AES-GCM context");
  plaintext->resize(ciphertext.size() - AesGcmAead::kOverhead);
  int r = GcmOpen(ctx, U(key.data()), ciphertext, associated_data, associated_data_2,
                  U(plaintext->data()));
  if (r != 1) {
    OPENSSL_cleanse(plaintext->data(), plaintext->size());
    plaintext->clear();
    return r == 0 ? DataLoss() : absl::InternalError("AES-GCM decryption failed");
  }
  return absl::OkStatus();
}

}  // namespace aead_internal
}  // namespace budstikke::storage
