#include "ledger/csv/csv_reader.h"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace premium::csv {
namespace {

constexpr absl::string_view kByteOrderMark = "\xEF\xBB\xBF";

// User text quoted in an error message is cut to this many bytes, so that a
// hostile header cannot make the message large.
constexpr size_t kQuotedTextBytesMax = 64;

// `byte` as a reader would want to see it in a message: 'x' if printable
// ASCII, else 0xNN.
std::string DescribeByte(unsigned char byte) {
  if (byte >= 0x20 && byte < 0x7F)
    return absl::StrCat("'", std::string(1, static_cast<char>(byte)), "'");
  static constexpr char kHex[] = "0123456789ABCDEF";
  return absl::StrCat("0x", std::string{kHex[byte >> 4], kHex[byte & 0xF]});
}

// `text` in double quotes, escaped, cut to kQuotedTextBytesMax bytes at a
// character boundary.
std::string Quote(absl::string_view text) {
  bool cut = false;
  if (text.size() > kQuotedTextBytesMax) {
    size_t end = kQuotedTextBytesMax;
    // Back up over continuation bytes so a character is not split.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;
    }
    text = text.substr(0, end);
    cut = true;
  }
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text),
                      cut ? "...\"" : "\"");
}

// A byte that, inside a field, is simply appended: ASCII other than NUL,
// structure (',', '"') and line ends.
bool IsPlainByte(unsigned char byte) {
  return byte != 0 && byte < 0x80 && byte != ',' && byte != '"' &&
         byte != '\r' && byte != '\n';
}

}  // namespace

// ---------------------------------------------------------------------------
// Reader

Reader::Reader(Limits limits) : limits_(limits) {}

absl::Status Reader::Feed(absl::string_view chunk) {
  if (!status_.ok()) return status_;
  if (finished_) {
    return absl::FailedPreconditionError("csv::Reader: Feed after Finish");
  }
  if (!records_.empty()) {
    return absl::FailedPreconditionError(
        "csv::Reader: Feed while records are waiting; take them with Next() "
        "first");
  }
  if (!ConsumeBom(chunk)) return status_;
  Consume(chunk);
  return status_;
}

absl::Status Reader::Finish() {
  if (!status_.ok() || finished_) return status_;
  if (!bom_settled_) {
    // The input ended inside what might have been a byte order mark: those
    // bytes were text after all (and an unfinished UTF-8 sequence).
    bom_settled_ = true;
    if (!ReplayBomPrefix()) return status_;
  }
  if (utf8_pending_ > 0) {
    FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
           absl::StrCat("invalid UTF-8: input ends inside the sequence "
                        "started by byte ",
                        DescribeByte(utf8_lead_)));
    return status_;
  }
  switch (state_) {
    case State::kQuoted:
      FailAt(absl::StatusCode::kInvalidArgument, quote_line_, quote_column_,
             "quoted field opened here is never closed (input ends inside "
             "it)");
      return status_;
    case State::kCarriageReturn:
      FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
             "carriage return (CR) not followed by line feed (LF) at end of "
             "input; lines must end with LF or CRLF");
      return status_;
    case State::kFieldStart:
    case State::kUnquoted:
    case State::kQuotedQuote:
      // Completes a final record without a line end; a no-op after one.
      EndLine();
      break;
  }
  finished_ = true;
  return status_;
}

std::optional<Record> Reader::Next() {
  if (records_.empty()) return std::nullopt;
  Record record = std::move(records_.front());
  records_.pop_front();
  for (const std::string& field : record.fields) queued_bytes_ -= field.size();
  return record;
}

// Skips a byte order mark at the very start of the input, which may arrive
// split over several chunks. Removes the bytes it consumed from `chunk`.
bool Reader::ConsumeBom(absl::string_view& chunk) {
  while (!bom_settled_ && !chunk.empty()) {
    if (chunk.front() == kByteOrderMark[bom_bytes_matched_]) {
      ++bom_bytes_matched_;
      chunk.remove_prefix(1);
      if (bom_bytes_matched_ == kByteOrderMark.size()) bom_settled_ = true;
    } else {
      bom_settled_ = true;
      return ReplayBomPrefix();
    }
  }
  return true;
}

// The input started like a byte order mark but is not one: the bytes held
// back are ordinary input.
bool Reader::ReplayBomPrefix() {
  assert(bom_settled_);
  const size_t matched = bom_bytes_matched_;
  bom_bytes_matched_ = 0;
  return Consume(kByteOrderMark.substr(0, matched));
}

bool Reader::Consume(absl::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    // Fast path, for speed only: inside a field, a run of plain bytes is
    // appended at once. Step() would do the same byte by byte; a run that
    // would break a limit is left to Step() so that the error is the same.
    if ((state_ == State::kUnquoted || state_ == State::kQuoted) &&
        utf8_pending_ == 0) {
      size_t end = i;
      while (end < bytes.size() &&
             IsPlainByte(static_cast<unsigned char>(bytes[end]))) {
        ++end;
      }
      const size_t run = end - i;
      if (run > 0 && record_bytes_ + run <= limits_.record_bytes_max &&
          field_.size() + run <= limits_.field_bytes_max) {
        assert(record_open_);
        field_.append(bytes.data() + i, run);
        record_bytes_ += run;
        partial_bytes_ += run;
        i = end;
        continue;
      }
    }
    if (!Step(static_cast<unsigned char>(bytes[i]))) return false;
    ++i;
  }
  return true;
}

bool Reader::Step(unsigned char byte) {
  // The CR came first in the input, so it is the error to report even if the
  // byte after it is also bad.
  if (state_ == State::kCarriageReturn && byte != '\n') {
    return FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
                  "carriage return (CR) not followed by line feed (LF); lines "
                  "must end with LF or CRLF");
  }
  if (byte == 0) {
    return FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
                  "NUL byte (0x00) is not allowed");
  }
  if (!CheckUtf8(byte)) return false;

  // Line ends outside quotes end the record and are not part of its size;
  // blank lines thus never open a record.
  const bool line_end =
      (byte == '\r' || byte == '\n') && state_ != State::kQuoted;
  if (!line_end) {
    if (!record_open_) {
      if (records_opened_ >= limits_.records_max) {
        return Fail(
            absl::StatusCode::kResourceExhausted, line_,
            absl::StrCat("more than ", limits_.records_max, " records"));
      }
      ++records_opened_;
      record_open_ = true;
      record_line_ = line_;
    }
    if (++record_bytes_ > limits_.record_bytes_max) {
      return FailAt(absl::StatusCode::kResourceExhausted, line_, column(),
                    absl::StrCat("record longer than ",
                                 limits_.record_bytes_max, " bytes"));
    }
  }
  return StepStructure(byte);
}

// Validates UTF-8 one byte at a time, per Unicode Table 3-7 (well-formed
// byte sequences). Errors are reported at the current position, which is
// still that of the lead byte: every byte of a sequence is field data, and an
// interrupting ASCII byte is refused before it is interpreted.
bool Reader::CheckUtf8(unsigned char byte) {
  if (utf8_pending_ > 0) {
    if (byte < utf8_lower_ || byte > utf8_upper_) {
      std::string reason;
      if (byte < 0x80 || byte > 0xBF) {
        reason =
            absl::StrCat("sequence started by byte ", DescribeByte(utf8_lead_),
                         " is cut short by byte ", DescribeByte(byte));
      } else if (utf8_lead_ == 0xE0 || utf8_lead_ == 0xF0) {
        reason = "overlong encoding";
      } else if (utf8_lead_ == 0xED) {
        reason = "surrogate code point (U+D800..U+DFFF)";
      } else {
        reason = "code point above U+10FFFF";
      }
      return FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
                    absl::StrCat("invalid UTF-8: ", reason));
    }
    --utf8_pending_;
    utf8_lower_ = 0x80;
    utf8_upper_ = 0xBF;
    return true;
  }
  if (byte < 0x80) return true;
  utf8_lead_ = byte;
  utf8_lower_ = 0x80;
  utf8_upper_ = 0xBF;
  if (byte >= 0xC2 && byte <= 0xDF) {
    utf8_pending_ = 1;
  } else if (byte >= 0xE0 && byte <= 0xEF) {
    utf8_pending_ = 2;
    if (byte == 0xE0) utf8_lower_ = 0xA0;  // below is overlong
    if (byte == 0xED) utf8_upper_ = 0x9F;  // above is a surrogate
  } else if (byte >= 0xF0 && byte <= 0xF4) {
    utf8_pending_ = 3;
    if (byte == 0xF0) utf8_lower_ = 0x90;  // below is overlong
    if (byte == 0xF4) utf8_upper_ = 0x8F;  // above is past U+10FFFF
  } else {
    std::string reason;
    if (byte <= 0xBF) {
      reason =
          absl::StrCat("unexpected continuation byte ", DescribeByte(byte));
    } else if (byte <= 0xC1) {
      reason =
          absl::StrCat("overlong encoding (byte ", DescribeByte(byte), ")");
    } else {
      reason =
          absl::StrCat("byte ", DescribeByte(byte), " never appears in UTF-8");
    }
    return FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
                  absl::StrCat("invalid UTF-8: ", reason));
  }
  return true;
}

bool Reader::StepStructure(unsigned char byte) {
  switch (state_) {
    case State::kFieldStart:
      if (byte == '"') {
        state_ = State::kQuoted;
        quote_line_ = line_;
        quote_column_ = column();
        return true;
      }
      [[fallthrough]];  // otherwise it is the start of an unquoted field
    case State::kUnquoted:
      switch (byte) {
        case ',':
          return EndField();
        case '\r':
          state_ = State::kCarriageReturn;
          return true;
        case '\n':
          EndLine();
          return true;
        case '"':
          return FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
                        "'\"' inside an unquoted field (a field containing "
                        "quotes must be quoted, each quote doubled)");
        default:
          state_ = State::kUnquoted;
          return Append(byte);
      }
    case State::kQuoted:
      if (byte == '"') {
        state_ = State::kQuotedQuote;
        return true;
      }
      if (!Append(byte)) return false;
      if (byte == '\n') ++line_;
      return true;
    case State::kQuotedQuote:
      switch (byte) {
        case '"':  // '""' is a literal quote
          state_ = State::kQuoted;
          return Append(byte);
        case ',':
          return EndField();
        case '\r':
          state_ = State::kCarriageReturn;
          return true;
        case '\n':
          EndLine();
          return true;
        default:
          return FailAt(absl::StatusCode::kInvalidArgument, line_, column(),
                        absl::StrCat(DescribeByte(byte),
                                     " after the closing quote of a quoted "
                                     "field (only ',' or a line end may "
                                     "follow; a quote inside is written "
                                     "\"\")"));
      }
    case State::kCarriageReturn:
      assert(byte == '\n');  // Step refused anything else
      EndLine();
      return true;
  }
  assert(false && "Reader::StepStructure: unknown state");
  return false;
}

bool Reader::Append(unsigned char byte) {
  if (field_.size() >= limits_.field_bytes_max) {
    return FailAt(
        absl::StatusCode::kResourceExhausted, line_, column(),
        absl::StrCat("field longer than ", limits_.field_bytes_max, " bytes"));
  }
  field_.push_back(static_cast<char>(byte));
  ++partial_bytes_;
  return true;
}

// Ends the current field at a ',': another field follows.
bool Reader::EndField() {
  fields_.push_back(std::move(field_));
  field_.clear();
  state_ = State::kFieldStart;
  if (fields_.size() >= limits_.fields_per_record_max) {
    return FailAt(
        absl::StatusCode::kResourceExhausted, line_, column(),
        absl::StrCat("more than ", limits_.fields_per_record_max, " fields"));
  }
  return true;
}

// Ends the current line (at LF, or at the end of input): completes the
// record if one is open; a blank line produces nothing.
void Reader::EndLine() {
  if (record_open_) {
    fields_.push_back(std::move(field_));
    field_.clear();
    records_.push_back(
        Record{.line = record_line_, .fields = std::move(fields_)});
    fields_.clear();
    queued_bytes_ += partial_bytes_;
    partial_bytes_ = 0;
    record_open_ = false;
    record_bytes_ = 0;
  }
  state_ = State::kFieldStart;
  ++line_;
}

bool Reader::Fail(absl::StatusCode code, uint64_t line,
                  absl::string_view reason) {
  assert(status_.ok());
  status_ = absl::Status(code, absl::StrCat("line ", line, ": ", reason));
  return false;
}

bool Reader::FailAt(absl::StatusCode code, uint64_t line, size_t column,
                    absl::string_view reason) {
  assert(status_.ok());
  status_ = absl::Status(
      code, absl::StrCat("line ", line, ", column ", column, ": ", reason));
  return false;
}

// ---------------------------------------------------------------------------
// Header

absl::StatusOr<Header> Header::Parse(
    const Record& header_row,
    absl::Span<const absl::string_view> required_columns) {
  assert(!required_columns.empty());
  for (size_t i = 0; i < required_columns.size(); ++i) {
    assert(!required_columns[i].empty());
    for (size_t j = 0; j < i; ++j) {
      assert(required_columns[i] != required_columns[j]);
    }
  }
  constexpr size_t kNotSeen = static_cast<size_t>(-1);
  // For each required column, the 0-based field index where it was found.
  std::vector<size_t> found_at(required_columns.size(), kNotSeen);
  std::vector<std::string> problems;
  for (size_t field = 0; field < header_row.fields.size(); ++field) {
    const std::string& name = header_row.fields[field];
    const std::string where = absl::StrCat("column ", field + 1, ": ");
    if (name.empty()) {
      problems.push_back(absl::StrCat(where, "empty column name"));
      continue;
    }
    size_t required = 0;
    while (required < required_columns.size() &&
           required_columns[required] != name) {
      ++required;
    }
    if (required == required_columns.size()) {
      std::string problem = absl::StrCat(where, "unknown column ", Quote(name));
      // A near miss gets a hint, since the difference may be invisible.
      const std::string folded =
          absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
      for (absl::string_view expected : required_columns) {
        if (folded == expected) {
          absl::StrAppend(&problem, " (did you mean ", Quote(expected),
                          "? names are case-sensitive, without spaces)");
          break;
        }
      }
      problems.push_back(std::move(problem));
    } else if (found_at[required] != kNotSeen) {
      problems.push_back(absl::StrCat(where, "duplicate column ", Quote(name),
                                      " (first at column ",
                                      found_at[required] + 1, ")"));
    } else {
      found_at[required] = field;
    }
  }
  std::vector<absl::string_view> missing;
  for (size_t required = 0; required < required_columns.size(); ++required) {
    if (found_at[required] == kNotSeen) {
      missing.push_back(required_columns[required]);
    }
  }
  if (!missing.empty()) {
    problems.push_back(
        absl::StrCat("missing columns: ", absl::StrJoin(missing, ", ")));
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", header_row.line, ": bad header row: ",
        absl::StrJoin(problems, "; "), " (expected columns, in any order: ",
        absl::StrJoin(required_columns, ", "), ")"));
  }
  // Every field is a distinct required column and none is missing, so the
  // row is a permutation of required_columns.
  assert(header_row.fields.size() == required_columns.size());
  return Header(header_row.fields, header_row.line);
}

size_t Header::index(absl::string_view name) const {
  for (size_t field = 0; field < names_.size(); ++field) {
    if (names_[field] == name) return field;
  }
  assert(false && "Header::index: not a required column");
  return names_.size();
}

const std::string& Header::name(size_t field_index) const {
  assert(field_index < names_.size());
  return names_[field_index];
}

absl::Status Header::CheckWidth(const Record& row) const {
  if (row.fields.size() == names_.size()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("line ", row.line, ": expected ", names_.size(),
                   " fields, got ", row.fields.size()));
}

// ---------------------------------------------------------------------------
// ErrorList

void ErrorList::Add(uint64_t line, absl::string_view column,
                    absl::string_view reason) {
  if (count_ == 0 || line != last_line_) ++row_count_;
  last_line_ = line;
  ++count_;
  if (errors_.size() < max_errors_) {
    errors_.push_back(FieldError{.line = line,
                                 .column = std::string(column),
                                 .reason = std::string(reason)});
  }
}

absl::Status ErrorList::ToStatus() const {
  if (empty()) return absl::OkStatus();
  std::string message =
      absl::StrCat(row_count_, row_count_ == 1 ? " bad row (" : " bad rows (",
                   count_, count_ == 1 ? " error): " : " errors): ");
  for (size_t i = 0; i < errors_.size(); ++i) {
    const FieldError& error = errors_[i];
    if (i > 0) message += "; ";
    absl::StrAppend(&message, "line ", error.line);
    if (!error.column.empty()) {
      absl::StrAppend(&message, ", column ", error.column);
    }
    absl::StrAppend(&message, ": ", error.reason);
  }
  if (count_ > errors_.size()) {
    absl::StrAppend(&message, errors_.empty() ? "" : "; ", "and ",
                    count_ - errors_.size(), " more errors");
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace premium::csv
