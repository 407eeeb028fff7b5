// Syntax of the premium domain's identifiers, dates and currencies (DESIGN
// sections 4 and 9). Each check returns InvalidArgument whose message starts
// with the field name it was given, so callers can prefix a CSV position.
#ifndef PREMIUM_LEDGER_PREMIUM_VALIDATION_H_
#define PREMIUM_LEDGER_PREMIUM_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace premium {

inline constexpr size_t kIdLengthMax = 64;
inline constexpr size_t kNameLengthMax = 200;
inline constexpr size_t kNoteLengthMax = 2000;
// Dates outside this range are typing errors, not farm seasons.
inline constexpr int kYearMin = 1990;
inline constexpr int kYearMax = 2199;

// [a-z0-9][a-z0-9._-]{0,63}
absl::Status ValidateId(absl::string_view field, absl::string_view id);

// Free text (names, reasons, notes): 1 to `length_max` bytes of valid UTF-8
// without control characters.
absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          size_t length_max);

// Exactly "YYYY-MM-DD", a real calendar day between kYearMin and kYearMax.
absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view field,
                                         absl::string_view text);
std::string FormatDate(absl::CivilDay day);

// An ISO 4217 code this ledger knows, and its minor unit digits (2 for USD).
absl::StatusOr<int> CurrencyMinorDigits(absl::string_view field,
                                        absl::string_view code);

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_VALIDATION_H_
