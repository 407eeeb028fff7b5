// Tests of the premium domain's syntax checks (DESIGN sections 4 and 9):
// ids, free text, dates and currencies. Every refusal is InvalidArgument and
// its message starts with the field name the caller gave.
#include "ledger/premium/validation.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/testing/ledger_testing.h"

namespace premium {
namespace {

using ::premium::testing::IsOk;
using ::premium::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Test names show the input escaped, so that a control byte is visible.
std::string Shown(const std::string& text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

// ---------------------------------------------------------------------------
// ValidateId: [a-z0-9][a-z0-9._-]{0,63}

TEST(ValidateIdTest, AcceptsTheGrammar) {
  const std::vector<std::string> accepted = {
      "a",
      "0",
      "z",
      "9",
      "brand-1",
      "a.b_c-d",
      "0-",
      "a.",
      "a_",
      "a--b",
      "supplier.2025_farm-3",
      std::string(kIdLengthMax, 'a'),
      "a" + std::string(kIdLengthMax - 1, '-'),
  };
  for (const std::string& id : accepted) {
    EXPECT_THAT(ValidateId("brand_id", id), IsOk()) << Shown(id);
  }
}

TEST(ValidateIdTest, AcceptsExactly64Characters) {
  ASSERT_EQ(kIdLengthMax, 64u);
  EXPECT_THAT(ValidateId("brand_id", std::string(64, 'x')), IsOk());
  EXPECT_THAT(
      ValidateId("brand_id", std::string(65, 'x')),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("brand_id ")));
}

TEST(ValidateIdTest, RefusesEverythingElseNamingTheField) {
  const std::vector<std::string> refused = {
      "",
      std::string(65, 'a'),
      std::string(1000, 'a'),
      "A",
      "Brand-1",
      "brand-B",
      "-a",
      ".a",
      "_a",
      "-",
      ".",
      "_",
      " a",
      "a ",
      "a b",
      "\ta",
      "a\n",
      "café",      // U+00E9 as UTF-8
      "\xC3\xA9",  // é alone
      "ｂrand",    // fullwidth b
      "a/b",
      "/",
      "a\\b",
      "a:b",
      "a,b",
      "a+b",
      "a@b",
      "a\"b",
      std::string("a\0b", 3),
      std::string("\0", 1),
  };
  for (const std::string& id : refused) {
    EXPECT_THAT(ValidateId("supplier_id", id),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("supplier_id ")))
        << Shown(id);
  }
}

TEST(ValidateIdTest, MessageQuotesTheIdEscaped) {
  EXPECT_THAT(
      ValidateId("worker_id", "Bad\nId"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"Bad\\nId\"")));
  // An over-long id is shown truncated, with its length.
  EXPECT_THAT(
      ValidateId("worker_id", std::string(500, 'a')),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(500 bytes)")));
}

// ---------------------------------------------------------------------------
// ValidateText: 1 to length_max bytes of UTF-8 without control characters.

TEST(ValidateTextTest, AcceptsUtf8) {
  const std::vector<std::string> accepted = {
      "a",
      "Fair Food Program",
      "Coalición de Trabajadores de Immokalee",
      "Milk with Dignity — Vermont",  // U+2014, 3 bytes
      "Ação, ñandú, Œuvre",
      "工人",              // 3-byte CJK
      "\xF0\x9F\x8D\x85",  // U+1F345, 4 bytes
      "\xF4\x8F\xBF\xBF",  // U+10FFFF, the last code point
      "\xC2\xA0",          // U+00A0 no-break space: not a control
      "\xEE\x80\x80",      // U+E000, just after the surrogates
      "\xED\x9F\xBF",      // U+D7FF, just before them
      "~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
  };
  for (const std::string& text : accepted) {
    EXPECT_THAT(ValidateText("name", text, kNameLengthMax), IsOk())
        << Shown(text);
  }
}

TEST(ValidateTextTest, RefusesEmpty) {
  EXPECT_THAT(
      ValidateText("reason", "", kNoteLengthMax),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("reason ")));
}

TEST(ValidateTextTest, RefusesControlCharacters) {
  const std::vector<std::string> refused = {
      std::string("\0", 1),
      std::string("a\0b", 3),
      "\x01",
      "line\nbreak",
      "carriage\rreturn",
      "tab\there",
      "\x1B[31mred",  // ESC: a terminal escape
      "\x1F",
      "del\x7F",
      // C1 controls, U+0080 to U+009F (two bytes in UTF-8): NEL (U+0085) is
      // a line break to some readers and CSI (U+009B) starts a terminal
      // escape sequence.
      "\xC2\x80",
      "next\xC2\x85line",
      "\xC2\x9B"
      "31m",
      "\xC2\x9F",
  };
  for (const std::string& text : refused) {
    EXPECT_THAT(
        ValidateText("note", text, kNoteLengthMax),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("note ")))
        << Shown(text);
  }
}

TEST(ValidateTextTest, RefusesInvalidUtf8) {
  const std::vector<std::string> refused = {
      "\x80",                      // a continuation byte without a lead
      "a\xBF",                     //
      "\xFF",                      // never valid
      "\xFE",                      //
      "\xF8\x88\x80\x80\x80",      // 5-byte form
      "\xC0\xAF",                  // overlong '/'
      "\xC1\xBF",                  // overlong U+007F
      "\xE0\x80\xAF",              // overlong '/', 3 bytes
      "\xE0\x9F\xBF",              // overlong U+07FF
      "\xF0\x80\x80\xAF",          // overlong '/', 4 bytes
      "\xF0\x8F\xBF\xBF",          // overlong U+FFFF
      "\xED\xA0\x80",              // U+D800, a surrogate
      "\xED\xBF\xBF",              // U+DFFF, a surrogate
      "\xED\xA0\xBD\xED\xB2\xA9",  // a CESU-8 surrogate pair
      "\xF4\x90\x80\x80",          // U+110000, beyond Unicode
      "\xF7\xBF\xBF\xBF",          //
      "\xC3",                      // truncated 2-byte sequence
      "Coalici\xC3",               // truncated at the end
      "\xE2\x82",                  // truncated 3-byte sequence
      "\xF0\x9F\x8D",              // truncated 4-byte sequence
      "\xC3(",                     // a lead followed by ASCII
      "\xE2(\xA1",                 //
      "Coalici\xF3n",              // Latin-1 ó
  };
  for (const std::string& text : refused) {
    EXPECT_THAT(
        ValidateText("name", text, kNameLengthMax),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("name ")))
        << Shown(text);
  }
}

TEST(ValidateTextTest, NamesTheBytePosition) {
  EXPECT_THAT(ValidateText("name", "ab\x80", kNameLengthMax),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not valid UTF-8 at byte 3")));
  EXPECT_THAT(ValidateText("name", "a\nb", kNameLengthMax),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("control character at byte 2")));
}

TEST(ValidateTextTest, LengthIsInBytes) {
  EXPECT_THAT(
      ValidateText("name", std::string(kNameLengthMax, 'n'), kNameLengthMax),
      IsOk());
  EXPECT_THAT(
      ValidateText("name", std::string(kNameLengthMax + 1, 'n'),
                   kNameLengthMax),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("name ")));
  // 100 "ó" are 100 characters but 200 bytes: at the limit.
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xB3";
  EXPECT_THAT(ValidateText("name", accents, 200), IsOk());
  EXPECT_THAT(
      ValidateText("name", accents, 199),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("name ")));
  EXPECT_THAT(
      ValidateText("note", std::string(kNoteLengthMax + 1, 'n'),
                   kNoteLengthMax),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("note ")));
}

// ---------------------------------------------------------------------------
// ParseDate and FormatDate.

TEST(ParseDateTest, AcceptsCalendarDays) {
  EXPECT_EQ(*ParseDate("purchase_date", "2024-02-29"),
            absl::CivilDay(2024, 2, 29));
  EXPECT_EQ(*ParseDate("purchase_date", "2000-02-29"),
            absl::CivilDay(2000, 2, 29));  // Divisible by 400: a leap year.
  EXPECT_EQ(*ParseDate("purchase_date", "2025-12-31"),
            absl::CivilDay(2025, 12, 31));
  EXPECT_EQ(*ParseDate("purchase_date", "2025-04-30"),
            absl::CivilDay(2025, 4, 30));
  EXPECT_EQ(*ParseDate("purchase_date", "1990-01-01"),
            absl::CivilDay(kYearMin, 1, 1));
  EXPECT_EQ(*ParseDate("purchase_date", "2199-12-31"),
            absl::CivilDay(kYearMax, 12, 31));
}

TEST(ParseDateTest, RefusesAnythingElseNamingTheField) {
  const std::vector<std::string> refused = {
      "",
      "2023-02-29",  // Not a leap year.
      "2100-02-29",  // Divisible by 100 but not 400: not a leap year.
      "2024-02-30",
      "2024-04-31",
      "2024-13-01",
      "2024-00-10",
      "2024-01-00",
      "2024-01-32",
      "2024-99-99",
      "2024-1-01",
      "2024-01-1",
      "24-01-01",
      "02024-01-01",
      "2024/01/01",
      "2024.01.01",
      "20240101",
      "01-01-2024",
      " 2024-01-01",
      "2024-01-01 ",
      "2024-01-01\n",
      std::string("2024-01-01\0", 11),
      "2024-01-01T00:00",
      "2024-01-01T00:00:00Z",
      "+024-01-01",
      "-024-01-01",
      "2024--1-01",
      "2024-+1-01",
      "2024-0a-01",
      "2024-01-0x",
      "２０２４-01-01",  // fullwidth digits
      "1989-12-31",      // Before kYearMin.
      "0000-01-01",
      "2200-01-01",  // After kYearMax.
      "9999-12-31",
  };
  for (const std::string& text : refused) {
    EXPECT_THAT(ParseDate("purchase_date", text),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("purchase_date ")))
        << Shown(text);
  }
}

TEST(ParseDateTest, SaysWhyItRefuses) {
  EXPECT_THAT(ParseDate("pay_date", "2023-02-29"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a calendar day")));
  EXPECT_THAT(
      ParseDate("pay_date", "2024/01/01"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("YYYY-MM-DD")));
  EXPECT_THAT(
      ParseDate("pay_date", "2200-01-01"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1990 to 2199")));
}

TEST(FormatDateTest, PadsEveryField) {
  EXPECT_EQ(FormatDate(absl::CivilDay(2024, 2, 9)), "2024-02-09");
  EXPECT_EQ(FormatDate(absl::CivilDay(1990, 1, 1)), "1990-01-01");
  EXPECT_EQ(FormatDate(absl::CivilDay(2199, 12, 31)), "2199-12-31");
}

// Every day of the accepted range formats and parses back to itself.
TEST(FormatDateTest, RoundTripsEveryDayOfTheRange) {
  const absl::CivilDay first(kYearMin, 1, 1);
  const absl::CivilDay last(kYearMax, 12, 31);
  int days = 0;
  for (absl::CivilDay day = first; day <= last; ++day, ++days) {
    const std::string text = FormatDate(day);
    absl::StatusOr<absl::CivilDay> parsed = ParseDate("date", text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    ASSERT_EQ(*parsed, day) << text;
  }
  EXPECT_EQ(days, last - first + 1);
  // 210 years, 51 of them leap (1992 ... 2196, less 2100).
  EXPECT_EQ(days, 210 * 365 + 51);
  // Just outside the range the text is well formed but refused.
  EXPECT_FALSE(ParseDate("date", FormatDate(first - 1)).ok());
  EXPECT_FALSE(ParseDate("date", FormatDate(last + 1)).ok());
}

// ---------------------------------------------------------------------------
// CurrencyMinorDigits.

TEST(CurrencyMinorDigitsTest, KnownCurrencies) {
  EXPECT_EQ(*CurrencyMinorDigits("currency", "USD"), 2);
  EXPECT_EQ(*CurrencyMinorDigits("currency", "EUR"), 2);
  EXPECT_EQ(*CurrencyMinorDigits("currency", "MXN"), 2);
  EXPECT_EQ(*CurrencyMinorDigits("currency", "JPY"), 0);
  EXPECT_EQ(*CurrencyMinorDigits("currency", "CLP"), 0);
}

TEST(CurrencyMinorDigitsTest, RefusesUnknownCodesNamingTheField) {
  const std::vector<std::string> refused = {
      "usd",
      "Usd",
      "XXX",
      "",
      "US",
      "USDD",
      " USD",
      "USD ",
      "$",
      "XTS",
      std::string("USD\0", 4),
  };
  for (const std::string& code : refused) {
    EXPECT_THAT(
        CurrencyMinorDigits("currency", code),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("currency ")))
        << Shown(code);
  }
}

}  // namespace
}  // namespace premium
