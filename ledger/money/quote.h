// Text of the money library's error messages (internal to ledger/money).
#ifndef PREMIUM_LEDGER_MONEY_QUOTE_H_
#define PREMIUM_LEDGER_MONEY_QUOTE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace premium::money_internal {

// Debian's Abseil is built with its own absl::string_view, distinct from
// std::string_view, so text crosses over explicitly.
inline absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// `text` as error messages show it: control characters, a non-breaking
// space or a stray quote made visible.
inline std::string Escape(std::string_view text) {
  return absl::CHexEscape(ToAbsl(text));
}

// Text shown inside an error message: quoted, escaped, and cut at
// `bytes_max` so that a hostile input cannot blow up logs.
inline std::string Quote(std::string_view text, size_t bytes_max) {
  if (text.size() > bytes_max) {
    return absl::StrCat("\"", Escape(text.substr(0, bytes_max)), "\"... (",
                        text.size(), " bytes)");
  }
  return absl::StrCat("\"", Escape(text), "\"");
}

}  // namespace premium::money_internal

#endif  // PREMIUM_LEDGER_MONEY_QUOTE_H_
