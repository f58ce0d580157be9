// Fuzzes C2SP signed notes, checkpoints and verifier keys (tlog/note.h,
// tlog/checkpoint.h, tlog/base64.h) and the SDK's VerifyCheckpoint. The first
// input byte picks a mode:
//   0  checkpoint text: Parse is strict, so Format(Parse(x)) == x;
//   1  signed note: OpenNote/OpenCheckpoint/VerifyCheckpoint with the
//      verifier of a fixed test key; an opened note's text is a prefix of it;
//   2  verifier key text: one that parses prints back to the same text;
//   3  base64: Decode then Encode gives the same text (canonical form only);
//   4  note text and key name: a note signed by a fresh key opens to the same
//      text with its verifier, and with no other key.
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "budstikke/audit_verify.h"
#include "tests/fuzz/fuzz_support.h"
#include "tlog/base64.h"
#include "tlog/checkpoint.h"
#include "tlog/internal/test_keys.h"
#include "tlog/note.h"

namespace budstikke::fuzz {
namespace {

constexpr char kOrigin[] = "budstikke.test/audit";

struct Keys {
  std::unique_ptr<tlog::Signer> signer;
  std::unique_ptr<tlog::Verifier> verifier;
  std::string pem;
};

const Keys& TheKeys() {
  static const Keys* keys = [] {
    auto* k = new Keys;
    std::array<uint8_t, 32> seed{};
    seed[0] = 7;
    k->pem = tlog::tlog_internal::Ed25519PemFromSeed(seed);
    k->signer = std::move(tlog::Signer::FromPem(kOrigin, k->pem)).value();
    k->verifier = std::make_unique<tlog::Verifier>(
        tlog::Verifier::FromVerifierKey(k->signer->VerifierKey()).value());
    return k;
  }();
  return *keys;
}

void CheckpointText(std::string_view text) {
  auto cp = tlog::Checkpoint::Parse(text);
  if (!cp.ok()) return;
  FUZZ_CHECK(!cp->origin.empty());
  FUZZ_CHECK(cp->Format() == text);
  auto again = tlog::Checkpoint::Parse(cp->Format());
  FUZZ_CHECK(again.ok() && *again == *cp);
}

void SignedNote(std::string_view note) {
  const Keys& k = TheKeys();
  auto text = tlog::OpenNote(note, *k.verifier);
  if (text.ok()) {
    FUZZ_CHECK(!text->empty() && text->back() == '\n');
    FUZZ_CHECK(note.substr(0, text->size()) == *text);
  }
  auto cp = tlog::OpenCheckpoint(note, *k.verifier);
  if (cp.ok()) FUZZ_CHECK(text.ok() && cp->origin == kOrigin && cp->Format() == *text);
  auto sdk = VerifyCheckpoint(k.signer->VerifierKey(), std::string(note));
  FUZZ_CHECK(sdk.ok() == cp.ok());
  if (!sdk.ok()) FUZZ_CHECK(sdk.status().code() == absl::StatusCode::kDataLoss);
}

void VerifierKeyText(std::string_view text) {
  auto v = tlog::Verifier::FromVerifierKey(text);
  if (!v.ok()) return;
  FUZZ_CHECK(tlog::ValidateKeyName(v->name()).ok());
  FUZZ_CHECK(v->VerifierKey() == text);
  auto again = tlog::Verifier::FromVerifierKey(v->VerifierKey());
  FUZZ_CHECK(again.ok() && again->name() == v->name() && again->key_id() == v->key_id());
  // A random key never verifies the fixed key's notes... unless it is that key.
  auto signed_note =
      TheKeys().signer->SignNote("budstikke.test/audit\n1\n" + std::string(43, 'A') + "=\n");
  FUZZ_CHECK(signed_note.ok());
  if (tlog::OpenNote(*signed_note, *v).ok()) {
    FUZZ_CHECK(v->VerifierKey() == TheKeys().signer->VerifierKey());
  }
}

void Base64Text(std::string_view text) {
  auto bytes = tlog::Base64Decode(text);
  if (bytes.has_value()) FUZZ_CHECK(tlog::Base64Encode(*bytes) == text);
  auto back = tlog::Base64Decode(tlog::Base64Encode(text));
  FUZZ_CHECK(back.has_value() && *back == text);
}

void SignAndOpen(std::string_view input) {
  // [u8 name length][name][note text]
  if (input.empty()) return;
  const size_t n = static_cast<uint8_t>(input[0]);
  input.remove_prefix(1);
  if (input.size() < n) return;
  const std::string name(input.substr(0, n));
  const std::string_view text = input.substr(n);
  if (!tlog::ValidateKeyName(name).ok()) return;
  auto signer = tlog::Signer::FromPem(name, TheKeys().pem);
  FUZZ_CHECK(signer.ok());
  auto note = (*signer)->SignNote(text);
  if (!note.ok()) return;
  auto verifier = tlog::Verifier::FromVerifierKey((*signer)->VerifierKey());
  FUZZ_CHECK(verifier.ok());
  auto opened = tlog::OpenNote(*note, *verifier);
  FUZZ_CHECK(opened.ok() && *opened == text);
  if (name != kOrigin) FUZZ_CHECK(!tlog::OpenNote(*note, *TheKeys().verifier).ok());
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace budstikke;
  const auto& k = fuzz::TheKeys();
  tlog::Checkpoint cp;
  cp.origin = fuzz::kOrigin;
  cp.size = 1234;
  cp.root.fill(0x5a);
  const std::string text = cp.Format();
  cp.extensions = {"ext one"};
  const std::string with_ext = cp.Format();
  fuzz::MaybeWriteSeeds({
      std::string(1, '\0') + text,
      std::string(1, '\0') + with_ext,
      std::string(1, '\1') + k.signer->SignNote(text).value(),
      std::string(1, '\1') + k.signer->SignNote(with_ext).value(),
      std::string(1, '\2') + k.signer->VerifierKey(),
      std::string(1, '\3') + tlog::Base64Encode("budstikke"),
      std::string(1, '\4') + std::string(1, static_cast<char>(sizeof fuzz::kOrigin - 1)) +
          fuzz::kOrigin + "hello\n",
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke::fuzz;
  if (size == 0) return 0;
  const std::string_view rest = AsView(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      CheckpointText(rest);
      break;
    case 1:
      SignedNote(rest);
      break;
    case 2:
      VerifierKeyText(rest);
      break;
    case 3:
      Base64Text(rest);
      break;
    default:
      SignAndOpen(rest);
      break;
  }
  return 0;
}
