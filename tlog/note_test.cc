#include "tlog/note.h"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <openssl/ec.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tlog/base64.h"
#include "tlog/internal/result_matchers.h"
#include "tlog/internal/test_keys.h"

namespace budstikke::tlog {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::IsError;
using testing::IsOk;
using tlog_internal::Ed25519PemFromSeed;

// A key id as signed notes print it: 8 lowercase hex digits.
std::string Hex(uint32_t key_id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", key_id);
  return buf;
}
using tlog_internal::FilledSeed;

constexpr char kEmDash[] = "\xE2\x80\x94";

// golang.org/x/mod/sumdb/note's published example (a different
// implementation): Ed25519 is deterministic, so signing the same text with
// the same seed must give these exact bytes.
constexpr char kGoSignerSeedB64[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoVerifierKey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kGoText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kGoSignatureLine[] =
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

std::array<uint8_t, 32> GoSeed() {
  std::string raw = *Base64Decode(kGoSignerSeedB64);  // 0x01 || seed
  std::array<uint8_t, 32> seed;
  std::memcpy(seed.data(), raw.data() + 1, 32);
  return seed;
}

std::unique_ptr<Signer> MakeSigner(const std::string& name, uint8_t seed_byte) {
  Result<std::unique_ptr<Signer>> s =
      Signer::FromPem(name, Ed25519PemFromSeed(FilledSeed(seed_byte)));
  if (!s.ok()) ADD_FAILURE() << s.error().message;
  return std::move(s).value();
}

Verifier MakeVerifier(const Signer& signer) {
  Result<Verifier> v = Verifier::FromVerifierKey(signer.VerifierKey());
  if (!v.ok()) ADD_FAILURE() << v.error().message;
  return std::move(v).value();
}

TEST(SignedNoteTest, MatchesGoSumdbNoteByteForByte) {
  Result<std::unique_ptr<Signer>> signer =
      Signer::FromPem("PeterNeumann", Ed25519PemFromSeed(GoSeed()));
  ASSERT_TRUE(signer.ok()) << signer.error().message;
  EXPECT_EQ((*signer)->VerifierKey(), kGoVerifierKey);
  EXPECT_EQ((*signer)->key_id(), 0xc74f20a3u);

  Result<std::string> note = (*signer)->SignNote(kGoText);
  ASSERT_TRUE(note.ok()) << note.error().message;
  const std::string expected = std::string(kGoText) + "\n" + kGoSignatureLine;
  EXPECT_EQ(*note, expected);
  // Shape: text, one blank line, em dash + space, final newline, nothing else.
  EXPECT_EQ(note->find(std::string("\n\n") + kEmDash + " "), std::strlen(kGoText) - 1);
  EXPECT_EQ(note->find("\n\n\n"), std::string::npos);
  EXPECT_EQ(note->back(), '\n');
  EXPECT_EQ(note->find('\r'), std::string::npos);

  Result<Verifier> verifier = Verifier::FromVerifierKey(kGoVerifierKey);
  ASSERT_TRUE(verifier.ok()) << verifier.error().message;
  EXPECT_EQ(verifier->name(), "PeterNeumann");
  EXPECT_EQ(verifier->VerifierKey(), kGoVerifierKey);
  Result<std::string> text = OpenNote(expected, *verifier);
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, kGoText);
}

TEST(SignedNoteTest, RoundTripWithEmptyLinesInText) {
  auto signer = MakeSigner("budstikke.test/audit", 0x42);
  const std::string text = "line one\n\nline three\n";
  Result<std::string> note = signer->SignNote(text);
  ASSERT_TRUE(note.ok());
  Result<std::string> opened = OpenNote(*note, MakeVerifier(*signer));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, text);
}

TEST(SignedNoteTest, TamperedTextOrSignatureIsRejected) {
  auto signer = MakeSigner("budstikke.test/audit", 0x42);
  Verifier verifier = MakeVerifier(*signer);
  const std::string text = "budstikke.test/audit\n7\nAAAA\n";
  std::string note = *signer->SignNote(text);

  std::string body = note;
  body[3] = 'X';
  Result<std::string> r = OpenNote(body, verifier);
  EXPECT_THAT(
      r, IsError(ErrorCode::kDataLoss, AllOf(HasSubstr("signature by key budstikke.test/audit+"),
                                             HasSubstr("does not verify"))));

  // Flip the signature's last byte (keeping the key id and canonical base64).
  size_t b64_at = note.rfind(' ') + 1;
  std::string blob = *Base64Decode(note.substr(b64_at, note.size() - b64_at - 1));
  blob.back() ^= 0x01;
  std::string bad_sig = note.substr(0, b64_at) + Base64Encode(blob) + "\n";
  const std::string does_not_verify =
      "signature by key budstikke.test/audit+" + Hex(verifier.key_id()) + " does not verify";
  r = OpenNote(bad_sig, verifier);
  EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, does_not_verify));

  // A truncated signature from the known key does not verify either.
  blob.pop_back();
  r = OpenNote(note.substr(0, b64_at) + Base64Encode(blob) + "\n", verifier);
  EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, does_not_verify));
}

TEST(SignedNoteTest, WrongOrUnknownKeyIsNotFound) {
  auto signer = MakeSigner("budstikke.test/audit", 0x42);
  auto other = MakeSigner("budstikke.test/audit", 0x43);  // same name, other key
  std::string note = *signer->SignNote("hello\n");
  Result<std::string> r = OpenNote(note, MakeVerifier(*other));
  EXPECT_THAT(r, IsError(ErrorCode::kNotFound,
                         "note has no signature by a known key "
                         "(budstikke.test/audit+" +
                             Hex(other->key_id()) + ")"));

  auto renamed = MakeSigner("elsewhere.test/audit", 0x42);  // same key, other name
  r = OpenNote(note, MakeVerifier(*renamed));
  EXPECT_THAT(r, IsError(ErrorCode::kNotFound,
                         "note has no signature by a known key "
                         "(elsewhere.test/audit+" +
                             Hex(renamed->key_id()) + ")"));
}

TEST(SignedNoteTest, UnknownSignaturesAreIgnoredKnownBadOnesAreNot) {
  auto log = MakeSigner("budstikke.test/audit", 0x42);
  auto witness = MakeSigner("witness.test", 0x44);
  const std::string text = "hello\n";
  std::string log_note = *log->SignNote(text);
  std::string witness_note = *witness->SignNote(text);
  std::string witness_line = witness_note.substr(text.size() + 1);
  std::string both = log_note + witness_line;

  Result<std::string> r = OpenNote(both, MakeVerifier(*log));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, text);
  r = OpenNote(both, std::vector<Verifier>{MakeVerifier(*witness), MakeVerifier(*log)});
  ASSERT_TRUE(r.ok()) << r.error().message;

  // A witness line signed over other text: fine for a log-only verifier,
  // fatal once the witness key is known.
  std::string other_line = witness->SignNote("other\n")->substr(7);
  std::string mixed = log_note + other_line;
  EXPECT_TRUE(OpenNote(mixed, MakeVerifier(*log)).ok());
  r = OpenNote(mixed, std::vector<Verifier>{MakeVerifier(*log), MakeVerifier(*witness)});
  EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, "signature by key witness.test+" +
                                                   Hex(witness->key_id()) + " does not verify"));
}

TEST(SignedNoteTest, MalformedNotesAreInvalid) {
  auto signer = MakeSigner("budstikke.test/audit", 0x42);
  Verifier v = MakeVerifier(*signer);
  std::string note = *signer->SignNote("hello\n");
  struct Case {
    std::string note;
    std::string message;
  } cases[] = {
      {note.substr(0, note.size() - 1), "must end with a newline"},
      {"hello\n" + note.substr(7), "no blank line"},
      {"hello\n\n", "no signature lines"},
      {"hello\r\n" + note.substr(6), "control character 13"},
      {"hello\n\n- budstikke.test/audit AAAAAAAA\n", "does not start with an em dash"},
      {"hello\n\n" + std::string(kEmDash) + " budstikke.test/audit\n", "no space"},
      {"hello\n\n" + std::string(kEmDash) + " x AAA=\n", "base64(key id || signature)"},
      {"hello\n\n" + std::string(kEmDash) + " x QUJDRA==\n", "base64(key id || signature)"},
      {"hel\xff"
       "lo\n" +
           note.substr(5),
       "not valid UTF-8"},
  };
  for (const Case& c : cases) {
    Result<std::string> r = OpenNote(c.note, v);
    EXPECT_THAT(r, IsError(ErrorCode::kInvalidArgument, HasSubstr(c.message))) << c.message;
  }
  std::string many = note;
  std::string line = note.substr(7);
  for (int i = 0; i < 100; ++i) many += line;
  Result<std::string> r = OpenNote(many, v);
  EXPECT_THAT(r, IsError(ErrorCode::kInvalidArgument, "signed note has more than 100 signatures"));
}

TEST(SignedNoteTest, SignRefusesBadText) {
  auto signer = MakeSigner("budstikke.test/audit", 0x42);
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "note text must end with a newline"},
      {"no newline", "note text must end with a newline"},
      {"tab\there\n", "note holds control character 9 at byte 3"},
      {"cr\r\n", "note holds control character 13 at byte 2"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(signer->SignNote(c.text), IsError(ErrorCode::kInvalidArgument, c.message))
        << c.text;
  }
}

TEST(KeyNameTest, InvalidNamesAreRejected) {
  const std::string pem = Ed25519PemFromSeed(FilledSeed(0x42));
  struct Case {
    std::string name;
    std::string message;
  } cases[] = {
      {"", "key name is empty"},
      {"a+b", "must not contain '+'"},
      {"a b", "whitespace"},
      {"a\tb", "whitespace"},
      {"a\xC2\xA0"
       "b",
       "whitespace"},  // U+00A0 NO-BREAK SPACE
      {"a\xE3\x80\x80"
       "b",
       "whitespace"},  // U+3000 IDEOGRAPHIC SPACE
      {"a\x01"
       "b",
       "control"},
      {"a\xC0\xAF", "UTF-8"},
  };
  for (const Case& c : cases) {
    Result<std::unique_ptr<Signer>> s = Signer::FromPem(c.name, pem);
    EXPECT_THAT(s, IsError(ErrorCode::kInvalidArgument, HasSubstr(c.message))) << c.name;
  }
  EXPECT_TRUE(ValidateKeyName("budstikke.test/audit").ok());
  EXPECT_TRUE(ValidateKeyName("bud\xC3\xB8stikke").ok());  // ø is fine
}

TEST(VerifierKeyTest, MalformedKeysAreRejected) {
  const std::string good = kGoVerifierKey;
  ASSERT_TRUE(Verifier::FromVerifierKey(good).ok());
  // transparency-dev/formats' test key: its base64 holds a '+'.
  Result<Verifier> plus =
      Verifier::FromVerifierKey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6");
  ASSERT_TRUE(plus.ok()) << plus.error().message;
  EXPECT_EQ(plus->name(), "TEST");
  struct Case {
    std::string key;
    std::string message;
  } cases[] = {
      {"PeterNeumann+c74f20a3", "<name>+<hex key id>+<base64 key>"},
      {good + "+x", "0x01"},
      {"TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr7", "does not match"},
      {"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "whitespace"},
      {"PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 lowercase hex"},
      {"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"},
      {"PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "0x01"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "0x01"},
      {"Peterneumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"},
  };
  for (const Case& c : cases) {
    Result<Verifier> v = Verifier::FromVerifierKey(c.key);
    EXPECT_THAT(v, IsError(ErrorCode::kInvalidArgument, HasSubstr(c.message))) << c.key;
  }
}

class KeyFileTest : public ::testing::Test {
 protected:
  std::string WriteKey(const std::string& pem, mode_t mode) {
    std::string path = ::testing::TempDir() + "tlog_note_test_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".pem";
    std::remove(path.c_str());
    std::ofstream(path) << pem;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& p : paths_) std::remove(p.c_str());
  }
  std::vector<std::string> paths_;
};

TEST_F(KeyFileTest, GroupOrOtherReadableFileIsRefused) {
  std::string path = WriteKey(Ed25519PemFromSeed(FilledSeed(0x42)), 0644);
  Result<std::unique_ptr<Signer>> s = Signer::FromPemFile("budstikke.test/audit", path);
  EXPECT_THAT(
      s, IsError(ErrorCode::kPermissionDenied,
                 "signing key file " + path +
                     " has mode 0644; it must not be accessible by group or others (chmod 600 " +
                     path + ")"));

  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  s = Signer::FromPemFile("budstikke.test/audit", path);
  EXPECT_THAT(s, IsError(ErrorCode::kPermissionDenied,
                         "signing key file " + path +
                             " has mode 0640; it must not be accessible by group or others "
                             "(chmod 600 " +
                             path + ")"));
}

TEST_F(KeyFileTest, OwnerOnlyFileLoads) {
  std::string path = WriteKey(Ed25519PemFromSeed(FilledSeed(0x42)), 0600);
  Result<std::unique_ptr<Signer>> s = Signer::FromPemFile("budstikke.test/audit", path);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ((*s)->VerifierKey(), MakeSigner("budstikke.test/audit", 0x42)->VerifierKey());
}

TEST_F(KeyFileTest, MissingFileIsNotFound) {
  Result<std::unique_ptr<Signer>> s =
      Signer::FromPemFile("budstikke.test/audit", ::testing::TempDir() + "no-such-key.pem");
  EXPECT_THAT(s, IsError(ErrorCode::kNotFound, HasSubstr("no-such-key.pem")));
}

TEST_F(KeyFileTest, NonEd25519OrGarbageIsInvalid) {
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string ec_pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(ec);

  Result<std::unique_ptr<Signer>> s =
      Signer::FromPemFile("budstikke.test/audit", WriteKey(ec_pem, 0600));
  EXPECT_THAT(s, IsError(ErrorCode::kInvalidArgument, HasSubstr("not an Ed25519 key")));

  s = Signer::FromPem("budstikke.test/audit", "not a pem");
  EXPECT_THAT(
      s, IsError(ErrorCode::kInvalidArgument, HasSubstr("not an unencrypted PEM private key")));
}

}  // namespace
}  // namespace budstikke::tlog
