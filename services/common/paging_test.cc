#include "services/common/paging.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"

namespace budstikke::common {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;

class PagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::Store::Options o;
    o.column_families = {"rows"};
    auto s = storage::Store::Open(dir_.Sub("db"), o);
    ASSERT_THAT(s, IsOk());
    store_ = *std::move(s);
  }

  // Rows "a/00000" .. under prefix "a/", and one row of another prefix.
  void Fill(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_THAT(store_->Put("rows", absl::StrFormat("a/%05d", i), ""), IsOk());
    }
    ASSERT_THAT(store_->Put("rows", "b/00000", ""), IsOk());
  }

  storage::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(PagingTest, FullPageEndsAtTheNextRow) {
  Fill(5);
  std::vector<std::string> seen;
  auto next = ScanPage(*store_, "rows", "a/", "", 2, [&](absl::string_view rest) {
    seen.emplace_back(rest);
    return true;
  });
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(*next, "00002");
  EXPECT_THAT(seen, ElementsAre("00000", "00001"));
  seen.clear();
  next = ScanPage(*store_, "rows", "a/", "00004", 2, [&](absl::string_view rest) {
    seen.emplace_back(rest);
    return true;
  });
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(*next, "");
  EXPECT_THAT(seen, ElementsAre("00004"));
}

// Issue 20, defect 7: a filter that matches nothing walked the whole index in
// one call. Now one call examines at most kMaxRowsExamined rows and hands out
// a token for the rest; paging on reaches the rows that match.
TEST_F(PagingTest, FilterMatchingLittleExaminesABoundedNumberOfRowsPerCall) {
  const int n = kMaxRowsExamined + 500;
  Fill(n);
  const std::string wanted = absl::StrFormat("%05d", kMaxRowsExamined + 300);
  int examined = 0;
  std::vector<std::string> found;
  auto filter = [&](absl::string_view rest) -> absl::StatusOr<bool> {
    ++examined;
    if (rest != wanted) return false;
    found.emplace_back(rest);
    return true;
  };
  auto next = ScanPage(*store_, "rows", "a/", "", 50, filter);
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(examined, kMaxRowsExamined);
  EXPECT_EQ(*next, absl::StrFormat("%05d", kMaxRowsExamined));
  EXPECT_TRUE(found.empty());

  examined = 0;
  next = ScanPage(*store_, "rows", "a/", *next, 50, filter);
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(examined, 500);
  EXPECT_EQ(*next, "");
  EXPECT_THAT(found, ElementsAre(wanted));
}

TEST_F(PagingTest, TokenThisServerCouldNotHaveIssuedIsInvalidArgument) {
  Fill(1);
  auto none = [](absl::string_view) -> absl::StatusOr<bool> { return true; };
  EXPECT_THAT(ScanPage(*store_, "rows", "a/", "a b", 2, none),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "page_token is not one this server issued; pass next_page_token unchanged"));
  EXPECT_THAT(PageSize(-1),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_size must not be negative"));
  EXPECT_EQ(*PageSize(0), kDefaultPageSize);
  EXPECT_EQ(*PageSize(kMaxPageSize + 1), kMaxPageSize);
}

}  // namespace
}  // namespace budstikke::common
