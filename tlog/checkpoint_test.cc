#include "tlog/checkpoint.h"

#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tlog/base64.h"
#include "tlog/internal/result_matchers.h"
#include "tlog/internal/test_keys.h"
#include "tlog/note.h"

namespace budstikke::tlog {
namespace {

using ::testing::HasSubstr;
using testing::IsError;
using testing::IsOk;
using tlog_internal::Ed25519PemFromSeed;
using tlog_internal::FilledSeed;

// The example of c2sp.org/tlog-checkpoint.
constexpr char kSpecText[] =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

Hash SpecRoot() {
  std::string raw = *Base64Decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  Hash h;
  std::memcpy(h.data(), raw.data(), h.size());
  return h;
}

TEST(CheckpointTest, FormatsAndParsesSpecExample) {
  Checkpoint cp{"example.com/behind-the-sofa", 20852163, SpecRoot(), {}};
  EXPECT_EQ(cp.Format(), kSpecText);
  Result<Checkpoint> parsed = Checkpoint::Parse(kSpecText);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, cp);
}

TEST(CheckpointTest, ExtensionsAndExtremeSizesRoundTrip) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) {
    Checkpoint cp{"o", size, EmptyHash(), {"ext one", "ext two"}};
    Result<Checkpoint> parsed = Checkpoint::Parse(cp.Format());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, cp);
  }
  EXPECT_EQ((Checkpoint{"o", 0, EmptyHash(), {}}.Format()),
            "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
}

TEST(CheckpointTest, StrictParseRejects) {
  const std::string root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"o\r\n5\n" + root + "\n", "carriage return"},
      {"o\n5\n" + root + "\r\n", "carriage return"},
      {"o\n5\n" + root, "must end with a newline"},
      {"o\n5\n", "got 2 lines"},
      {"\n5\n" + root + "\n", "origin line is empty"},
      {"o\n05\n" + root + "\n", "without leading zeros"},
      {"o\n00\n" + root + "\n", "without leading zeros"},
      {"o\n+5\n" + root + "\n", "without leading zeros"},
      {"o\n-1\n" + root + "\n", "without leading zeros"},
      {"o\n \n" + root + "\n", "without leading zeros"},
      {"o\n\n" + root + "\n", "without leading zeros"},
      {"o\n18446744073709551616\n" + root + "\n", "exceeds 64 bits"},
      {"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "canonical base64 of 32 bytes"},
      {"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "canonical base64 of 32 bytes"},
      {"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n", "canonical base64 of 32 bytes"},
      {"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=AAAA\n", "canonical base64 of 32 bytes"},
      {"o\n5\n" + root + "\n\n", "extension line 4 is empty"},
  };
  for (const Case& c : cases) {
    Result<Checkpoint> r = Checkpoint::Parse(c.text);
    EXPECT_THAT(r, IsError(ErrorCode::kInvalidArgument, HasSubstr(c.message))) << c.text;
  }
}

class SignedCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signer_ = std::move(
        Signer::FromPem("budstikke.test/audit", Ed25519PemFromSeed(FilledSeed(0x42))).value());
    verifier_ =
        std::make_unique<Verifier>(Verifier::FromVerifierKey(signer_->VerifierKey()).value());
    cp_ = Checkpoint{"budstikke.test/audit", 1234, LeafHash("x"), {}};
    note_ = signer_->SignNote(cp_.Format()).value();
  }
  std::unique_ptr<Signer> signer_;
  std::unique_ptr<Verifier> verifier_;
  Checkpoint cp_;
  std::string note_;
};

TEST_F(SignedCheckpointTest, RoundTrip) {
  Result<Checkpoint> r = OpenCheckpoint(note_, *verifier_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, cp_);
  // Byte-exact shape: body, one blank line, one signature line.
  EXPECT_EQ(note_.substr(0, note_.find("\n\n") + 1), cp_.Format());
  EXPECT_EQ(note_.find("\n\n\xE2\x80\x94 budstikke.test/audit "), cp_.Format().size() - 1);
}

TEST_F(SignedCheckpointTest, TamperedSizeRootOrOriginFailVerification) {
  std::string size = note_;
  size.replace(size.find("1234"), 4, "1235");
  std::string root = note_;
  size_t root_at = cp_.Format().find('\n', cp_.origin.size() + 1) + 1;
  root[root_at] = root[root_at] == 'A' ? 'B' : 'A';
  std::string origin = note_;
  origin[0] = 'c';
  for (const std::string& bad : {size, root, origin}) {
    Result<Checkpoint> r = OpenCheckpoint(bad, *verifier_);
    EXPECT_THAT(r, IsError(ErrorCode::kDataLoss, HasSubstr("does not verify")));
  }
}

TEST_F(SignedCheckpointTest, OriginMustMatchKeyName) {
  Checkpoint other{"other.test/log", 1, EmptyHash(), {}};
  std::string note = signer_->SignNote(other.Format()).value();
  Result<Checkpoint> r = OpenCheckpoint(note, *verifier_);
  EXPECT_THAT(
      r,
      IsError(ErrorCode::kInvalidArgument,
              HasSubstr("origin 'other.test/log' does not match key name 'budstikke.test/audit'")));
}

TEST_F(SignedCheckpointTest, SignedButMalformedBodyIsInvalid) {
  std::string note = signer_->SignNote("budstikke.test/audit\n012\nAAAA\n").value();
  Result<Checkpoint> r = OpenCheckpoint(note, *verifier_);
  EXPECT_THAT(r, IsError(ErrorCode::kInvalidArgument, HasSubstr("leading zeros")));
}

}  // namespace
}  // namespace budstikke::tlog
