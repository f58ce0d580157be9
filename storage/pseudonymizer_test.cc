#include "storage/pseudonymizer.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/status_matchers.h"

namespace budstikke::storage {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Synthetic national id (month + 80).
constexpr char kSyntheticId[] = "15831012345";

TEST(PseudonymizerTest, KnownValueLowercaseHex) {
  auto p = Pseudonymizer::Create(SecretBytes(std::string(32, '\x01')));
  ASSERT_THAT(p, IsOk());
  auto out = (*p)->Pseudonymize(kSyntheticId);
  ASSERT_THAT(out, IsOk());
  // python3: hmac.new(b"\x01"*32, b"15831012345", "sha256").hexdigest()
  EXPECT_EQ(*out, "25cb512520cdda7d867b576590e20c70849dd8f861abde43c80a61e6b7aa91ab");
  EXPECT_THAT(*out, MatchesRegex("[0-9a-f]{64}"));
}

TEST(PseudonymizerTest, NormalizesToDigits) {
  auto p = Pseudonymizer::Create(SecretBytes(std::string(32, '\x01')));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(*(*p)->Pseudonymize("158310 12345"), *(*p)->Pseudonymize(kSyntheticId));
  EXPECT_EQ(*(*p)->Pseudonymize(" 158310-12345\n"), *(*p)->Pseudonymize(kSyntheticId));
  EXPECT_NE(*(*p)->Pseudonymize("15831012346"), *(*p)->Pseudonymize(kSyntheticId));
  EXPECT_THAT((*p)->Pseudonymize("no digits"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no digits")));
}

TEST(PseudonymizerTest, DependsOnTheSecret) {
  auto a = Pseudonymizer::Create(SecretBytes(std::string(32, '\x01')));
  auto b = Pseudonymizer::Create(SecretBytes(std::string(32, '\x02')));
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(*(*a)->Pseudonymize(kSyntheticId), *(*b)->Pseudonymize(kSyntheticId));
  EXPECT_THAT(Pseudonymizer::Create(SecretBytes(std::string(16, 'x'))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 32 bytes")));
}

TEST(PseudonymizerTest, ConcurrentCallsAgree) {
  auto p = Pseudonymizer::Create(SecretBytes(std::string(32, '\x01')));
  ASSERT_THAT(p, IsOk());
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto out = (*p)->Pseudonymize(kSyntheticId);
        if (!out.ok() ||
            *out != "25cb512520cdda7d867b576590e20c70849dd8f861abde43c80a61e6b7aa91ab") {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace budstikke::storage
