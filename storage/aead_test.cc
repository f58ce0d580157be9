#include "storage/aead.h"

#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/random.h"
#include "storage/secret_bytes.h"
#include "storage/status_matchers.h"

namespace budstikke::storage {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;

SecretBytes Key(char fill) { return SecretBytes(std::string(32, fill)); }

TEST(SecretBytesTest, MoveEmptiesTheSourceAndCloneCopies) {
  SecretBytes a(std::string(32, 'k'));
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(b.secret_bytes_for_crypto(), std::string(32, 'k'));
  SecretBytes c = b.Clone();
  EXPECT_EQ(c.secret_bytes_for_crypto(), b.secret_bytes_for_crypto());
  auto r1 = SecretBytes::Random(32);
  auto r2 = SecretBytes::Random(32);
  ASSERT_THAT(r1, IsOk());
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r1->size(), 32u);
  EXPECT_NE(r1->secret_bytes_for_crypto(), r2->secret_bytes_for_crypto());
}

TEST(AesGcmAeadTest, RejectsWrongKeySize) {
  EXPECT_THAT(AesGcmAead::Create(SecretBytes(std::string(16, 'k'))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32 bytes")));
}

TEST(AesGcmAeadTest, RoundTripWithAssociatedData) {
  auto aead = AesGcmAead::Create(Key('a'));
  ASSERT_THAT(aead, IsOk());
  for (std::string pt : {std::string(), std::string("x"), std::string(1000, 'p')}) {
    auto ct = (*aead)->Encrypt(pt, "aad");
    ASSERT_THAT(ct, IsOk());
    EXPECT_EQ(ct->size(), pt.size() + 28);
    auto back = (*aead)->Decrypt(*ct, "aad");
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(*back, pt);
  }
}

TEST(AesGcmAeadTest, WrongAssociatedDataOrKeyIsDataLoss) {
  auto aead = AesGcmAead::Create(Key('a'));
  auto other = AesGcmAead::Create(Key('b'));
  ASSERT_THAT(aead, IsOk());
  ASSERT_THAT(other, IsOk());
  auto ct = (*aead)->Encrypt("secret", "record-1");
  ASSERT_THAT(ct, IsOk());
  EXPECT_THAT((*aead)->Decrypt(*ct, "record-2"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("authentication failed")));
  EXPECT_THAT((*other)->Decrypt(*ct, "record-1"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("authentication failed")));
  EXPECT_THAT((*aead)->Decrypt(ct->substr(0, 27), "record-1"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("too short")));
}

TEST(AesGcmAeadTest, EveryTamperedByteIsDataLoss) {
  auto aead = AesGcmAead::Create(Key('a'));
  ASSERT_THAT(aead, IsOk());
  auto ct = (*aead)->Encrypt("small value", "ad");
  ASSERT_THAT(ct, IsOk());
  for (size_t i = 0; i < ct->size(); ++i) {
    std::string bad = *ct;
    bad[i] ^= 0x01;
    EXPECT_THAT((*aead)->Decrypt(bad, "ad"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("authentication failed")))
        << "byte " << i;
  }
}

TEST(AesGcmAeadTest, NoncesAreUniqueAndShareTheInstancePrefix) {
  auto aead = AesGcmAead::Create(Key('a'));
  ASSERT_THAT(aead, IsOk());
  std::set<std::string> nonces;
  std::set<std::string> prefixes;
  for (int i = 0; i < 1000; ++i) {
    auto ct = (*aead)->Encrypt("same", "same");
    ASSERT_THAT(ct, IsOk());
    nonces.insert(ct->substr(0, 12));
    prefixes.insert(ct->substr(0, 4));
  }
  EXPECT_EQ(nonces.size(), 1000u);
  EXPECT_EQ(prefixes.size(), 1u);
}

// Nonces come from per-thread blocks of each instance's counter: instances
// used in turn from one thread (more than the 8 slots of the per-thread
// table), from several threads, and instances destroyed and created again
// never repeat a nonce of the same instance.
TEST(AesGcmAeadTest, NoncesStayUniqueAcrossInstancesAndThreads) {
  std::vector<std::unique_ptr<AesGcmAead>> aeads;
  for (int i = 0; i < 11; ++i) aeads.push_back(*AesGcmAead::Create(Key('b')));
  std::vector<std::set<std::string>> nonces(aeads.size());
  std::mutex mu;
  auto work = [&](int rounds) {
    std::vector<std::vector<std::string>> mine(aeads.size());
    for (int r = 0; r < rounds; ++r) {
      for (size_t i = 0; i < aeads.size(); ++i) {
        auto ct = aeads[i]->Encrypt("x", "");
        ASSERT_THAT(ct, IsOk());
        mine[i].push_back(ct->substr(0, 12));
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < aeads.size(); ++i) {
      for (auto& n : mine[i]) EXPECT_TRUE(nonces[i].insert(n).second) << "instance " << i;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(work, 1500);
  for (auto& t : threads) t.join();
  work(1500);  // this thread too
  for (const auto& n : nonces) EXPECT_EQ(n.size(), 5u * 1500u);
  // A new instance of the same key gets a fresh prefix and counter.
  aeads.pop_back();
  auto again = AesGcmAead::Create(Key('b'));
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT((*again)->Encrypt("x", ""), IsOk());
}

TEST(AesGcmAeadTest, RefusesToEncryptInAForkedChild) {
  auto aead = AesGcmAead::Create(Key('c'));
  ASSERT_THAT(aead, IsOk());
  ASSERT_THAT((*aead)->Encrypt("before fork", ""), IsOk());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto ct = (*aead)->Encrypt("in the child", "");
    _exit(ct.status().code() == absl::StatusCode::kFailedPrecondition &&
                  ct.status().message().find("fork") != absl::string_view::npos
              ? 0
              : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_THAT((*aead)->Encrypt("parent goes on", ""), IsOk());
}

// NIST GCM test cases 13 and 14 (AES-256, zero key, zero IV).
TEST(AesGcmOneShotTest, MatchesNistVectors) {
  const std::string key(32, '\0');
  const std::string nonce(12, '\0');
  std::string out;
  ASSERT_THAT(aead_internal::SealWithKey(key, nonce, "", "", &out), IsOk());
  EXPECT_EQ(absl::BytesToHexString(out.substr(12)), "530f8afbc74536b9a963b4f1c4cb738b");
  out.clear();
  ASSERT_THAT(aead_internal::SealWithKey(key, nonce, std::string(16, '\0'), "", &out), IsOk());
  EXPECT_EQ(absl::BytesToHexString(out.substr(12)),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  std::string pt;
  ASSERT_THAT(aead_internal::OpenWithKey(key, out, "", &pt), IsOk());
  EXPECT_EQ(pt, std::string(16, '\0'));
  out[20] ^= 1;
  EXPECT_THAT(aead_internal::OpenWithKey(key, out, "", &pt),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("authentication failed")));
}

TEST(RandomBytesTest, DrawsDifferAcrossBufferRefills) {
  std::set<std::string> draws;
  for (int i = 0; i < 300; ++i) {  // 300 * 44 bytes crosses several 4 KiB refills
    unsigned char buf[44];
    ASSERT_THAT(RandomBytes(buf, sizeof(buf)), IsOk());
    draws.insert(std::string(reinterpret_cast<char*>(buf), sizeof(buf)));
  }
  EXPECT_EQ(draws.size(), 300u);
  EXPECT_EQ(draws.count(std::string(44, '\0')), 0u);
}

// The parent's buffer is full after the first draw; a child must not hand out
// the bytes the parent draws next.
TEST(RandomBytesTest, AForkedChildDoesNotRepeatTheParentsBytes) {
  unsigned char first[16];
  ASSERT_THAT(RandomBytes(first, sizeof(first)), IsOk());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    unsigned char child[16];
    const bool ok = RandomBytes(child, sizeof(child)).ok() &&
                    write(fds[1], child, sizeof(child)) == static_cast<ssize_t>(sizeof(child));
    _exit(ok ? 0 : 1);
  }
  unsigned char parent[16];
  ASSERT_THAT(RandomBytes(parent, sizeof(parent)), IsOk());
  unsigned char child[16];
  ASSERT_EQ(read(fds[0], child, sizeof(child)), static_cast<ssize_t>(sizeof(child)));
  close(fds[0]);
  close(fds[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(std::string(reinterpret_cast<char*>(parent), 16),
            std::string(reinterpret_cast<char*>(child), 16));
}

}  // namespace
}  // namespace budstikke::storage
