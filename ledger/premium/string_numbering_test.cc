#include "ledger/premium/string_numbering.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace premium {
namespace {

using ::testing::Optional;

TEST(StringNumberingTest, NumbersDenselyInTheOrderFirstSeen) {
  StringNumbering numbering;
  EXPECT_THAT(numbering.Number("w-17"), Optional(0u));
  EXPECT_THAT(numbering.Number("w-3"), Optional(1u));
  EXPECT_THAT(numbering.Number("w-17"), Optional(0u));
  EXPECT_THAT(numbering.Number("w-4"), Optional(2u));
  EXPECT_EQ(numbering.size(), 3u);
  EXPECT_EQ(numbering.Text(0), "w-17");
  EXPECT_EQ(numbering.Text(1), "w-3");
  EXPECT_EQ(numbering.Text(2), "w-4");
}

// Texts share one buffer: neighbours, prefixes, the empty string and bytes
// that end C strings must not run into each other.
TEST(StringNumberingTest, KeepsEachTextExactly) {
  StringNumbering numbering;
  const std::vector<std::string> texts = {
      "w1",   "w12", "", "w", std::string("a\0b", 3), std::string("a\0", 2),
      "w12 ", "W1"};
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_THAT(numbering.Number(texts[i]), Optional(static_cast<uint32_t>(i)))
        << i;
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(numbering.Text(static_cast<uint32_t>(i)), texts[i]) << i;
    EXPECT_THAT(numbering.Number(texts[i]), Optional(static_cast<uint32_t>(i)))
        << i;
  }
  EXPECT_EQ(numbering.size(), texts.size());
}

// The index rehashes many times, reading texts back from the buffer, which
// itself moves as it grows.
TEST(StringNumberingTest, FindsEveryTextAcrossGrowth) {
  constexpr uint32_t kTexts = 100'000;
  StringNumbering numbering;
  for (uint32_t i = 0; i < kTexts; ++i) {
    ASSERT_THAT(numbering.Number(absl::StrCat("worker-", i)), Optional(i));
  }
  for (uint32_t i = 0; i < kTexts; i += 7) {
    ASSERT_THAT(numbering.Number(absl::StrCat("worker-", i)), Optional(i));
    ASSERT_EQ(numbering.Text(i), absl::StrCat("worker-", i));
  }
  EXPECT_EQ(numbering.size(), kTexts);
}

TEST(StringNumberingTest, RefusesANewTextPastTheLimitAndChangesNothing) {
  StringNumbering numbering(/*numbers_max=*/2);
  EXPECT_THAT(numbering.Number("a"), Optional(0u));
  EXPECT_THAT(numbering.Number("b"), Optional(1u));
  EXPECT_EQ(numbering.Number("c"), std::nullopt);
  EXPECT_EQ(numbering.size(), 2u);
  // Known texts are still found, and the refused one was not kept.
  EXPECT_THAT(numbering.Number("b"), Optional(1u));
  EXPECT_EQ(numbering.Number("c"), std::nullopt);
  EXPECT_EQ(numbering.Text(1), "b");
}

}  // namespace
}  // namespace premium
