#include "services/common/record_codec.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace budstikke::common {
namespace {

TEST(RecordCodecTest, RandomHexIdHasPrefixLengthAndHexDigits) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = RandomHexId("c-", 16);
    ASSERT_EQ(id.size(), 2u + 32u);
    EXPECT_EQ(id.substr(0, 2), "c-");
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 2), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(RandomHexId("", 12).size(), 24u);
}

TEST(RecordCodecTest, InvertedTimeSortsNewestFirst) {
  const absl::Time t = absl::FromUnixSeconds(1795000000);
  const std::string older = InvertedTimeMicros(t);
  const std::string newer = InvertedTimeMicros(t + absl::Microseconds(1));
  EXPECT_EQ(older.size(), 20u);
  EXPECT_EQ(older, "09221577036854775807");
  EXPECT_LT(newer, older);
}

TEST(RecordCodecTest, FrameRoundTripsAndRefusesTruncation) {
  const std::string framed = Frame("pseudonym", std::string("sealed\0bytes", 12));
  EXPECT_EQ(framed.substr(0, 4), std::string("\0\0\0\x09", 4));
  std::string a, b;
  ASSERT_TRUE(Unframe(framed, &a, &b));
  EXPECT_EQ(a, "pseudonym");
  EXPECT_EQ(b, std::string("sealed\0bytes", 12));
  EXPECT_TRUE(Unframe(Frame("", ""), &a, &b));
  EXPECT_EQ(a, "");
  EXPECT_FALSE(Unframe(framed.substr(0, 3), &a, &b));
  EXPECT_FALSE(Unframe(framed.substr(0, 12), &a, &b));  // shorter than the length says
}

}  // namespace
}  // namespace budstikke::common
