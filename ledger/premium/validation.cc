#include "ledger/premium/validation.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace premium {
namespace {

// The currencies of the programs this ledger serves and of the countries
// where WSR agreements operate; extend as programs need.
constexpr std::array<std::pair<absl::string_view, int>, 16> kCurrencies = {{
    {"USD", 2},
    {"EUR", 2},
    {"GBP", 2},
    {"CAD", 2},
    {"MXN", 2},
    {"GTQ", 2},
    {"HNL", 2},
    {"ZAR", 2},
    {"LSL", 2},
    {"BDT", 2},
    {"PKR", 2},
    {"INR", 2},
    {"KHR", 2},
    {"CLP", 0},
    {"JPY", 0},
    {"AUD", 2},
}};

std::string Quoted(absl::string_view text) {
  constexpr size_t kShownMax = 80;
  if (text.size() > kShownMax) {
    return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kShownMax)),
                        "...\" (", text.size(), " bytes)");
  }
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Length of the valid UTF-8 sequence at text[i], or 0 when it is invalid
// (overlong, surrogate, beyond U+10FFFF, truncated).
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint32_t code_point = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kMinimum[length] || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

}  // namespace

absl::Status ValidateId(absl::string_view field, absl::string_view id) {
  if (id.empty())
    return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (id.size() > kIdLengthMax) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", Quoted(id), " is longer than ", kIdLengthMax,
                     " characters"));
  }
  const bool first_ok =
      (id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9');
  for (const char c : id) {
    if (!first_ok || !IsIdChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " ", Quoted(id),
          " must be lowercase letters, digits, '.', '_' or '-', starting "
          "with a letter or digit"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          size_t length_max) {
  if (text.empty())
    return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (text.size() > length_max) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", text.size(), " bytes; at most ", length_max));
  }
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " is not valid UTF-8 at byte ", i + 1));
    }
    // C0 controls and DEL are one byte; C1 controls (U+0080 to U+009F, e.g.
    // NEL, a line break to some readers, and CSI, a terminal escape) are
    // 0xC2 0x80 to 0xC2 0x9F.
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    if ((length == 1 && (lead < 0x20 || lead == 0x7F)) ||
        (length == 2 && lead == 0xC2 &&
         static_cast<unsigned char>(text[i + 1]) < 0xA0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " holds a control character at byte ", i + 1));
    }
    i += length;
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view field,
                                         absl::string_view text) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", Quoted(text), " ", why));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return invalid("is not a date of the form YYYY-MM-DD");
  }
  int parts[3] = {0, 0, 0};
  const std::pair<size_t, size_t> spans[3] = {{0, 4}, {5, 2}, {8, 2}};
  for (int p = 0; p < 3; ++p) {
    for (size_t i = spans[p].first; i < spans[p].first + spans[p].second; ++i) {
      if (!absl::ascii_isdigit(text[i])) {
        return invalid("is not a date of the form YYYY-MM-DD");
      }
      parts[p] = parts[p] * 10 + (text[i] - '0');
    }
  }
  const absl::CivilDay day(parts[0], parts[1], parts[2]);
  // CivilDay normalises (Feb 30 becomes Mar 2): a changed field means the
  // day does not exist.
  if (day.year() != parts[0] || day.month() != parts[1] ||
      day.day() != parts[2]) {
    return invalid("is not a calendar day");
  }
  if (parts[0] < kYearMin || parts[0] > kYearMax) {
    return invalid(
        absl::StrCat("is outside the years ", kYearMin, " to ", kYearMax));
  }
  return day;
}

std::string FormatDate(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

absl::StatusOr<int> CurrencyMinorDigits(absl::string_view field,
                                        absl::string_view code) {
  for (const auto& [name, digits] : kCurrencies) {
    if (name == code) return digits;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, " ", Quoted(code),
      " is not a supported ISO 4217 currency code (three capital letters, "
      "e.g. USD)"));
}

}  // namespace premium
