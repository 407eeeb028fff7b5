// Fuzz target of ledger/csv/csv_reader.h: the strict RFC 4180 reader on
// arbitrary bytes, fed whole and in chunks, with roomy limits and with
// small ones so that every limit path runs.
//
// Input: one options byte, four limit bytes, then the CSV bytes.
//   options bit 0: re-encode with CRLF (else LF); bit 1: quote only where
//   needed (else every field); bit 2: small limits from the limit bytes
//   (else the defaults); bits 3-7: how the input is cut into chunks.
// Oracles:
//   - a reference parser written here from the header's grammar accepts
//     exactly the inputs the reader accepts (with limits out of the way),
//     with the same records and lines;
//   - the records and the error are the same however the input is cut
//     (the header's promise), and the error is final;
//   - every error is "line L, column C: ..." (or "line L: ..." for the
//     records limit) with L and C inside the input;
//   - with limits, a success is the unlimited result, and every record
//     keeps the limits; an InvalidArgument is the unlimited error; a
//     ResourceExhausted names a limit the unlimited records do break;
//   - the bytes held stay below record_bytes_max once the queue is empty;
//   - records re-encoded as RFC 4180 read back the same, on the lines the
//     encoding puts them;
//   - Header::Parse accepts the first record exactly when it is a
//     permutation of an upload's columns, and indexes them right.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "ledger/csv/csv_reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace premium::csv {
namespace {

// Limits that no input of the fuzzer's size reaches.
constexpr Limits kUnlimited{.field_bytes_max = size_t{1} << 30,
                            .fields_per_record_max = size_t{1} << 30,
                            .record_bytes_max = size_t{1} << 30,
                            .records_max = uint64_t{1} << 40};

// The upload kinds' columns (ledger/premium/upload.h), spelled here so this
// target needs only the reader.
constexpr absl::string_view kPurchaseColumns[] = {"invoice_id", "supplier_id",
                                                  "program_id", "purchase_date",
                                                  "quantity",   "unit"};
constexpr absl::string_view kPayrollColumns[] = {
    "program_id", "worker_id",   "period_start",   "period_end", "pay_date",
    "hours",      "gross_wages", "premium_amount", "currency"};

struct ReadResult {
  absl::Status status;
  std::vector<Record> records;
};

std::string Describe(const ReadResult& result) {
  std::string text = absl::StrCat(result.status.ToString(), ", ",
                                  result.records.size(), " records:");
  for (const Record& record : result.records) {
    absl::StrAppend(&text, " [line ", record.line);
    for (const std::string& field : record.fields) {
      absl::StrAppend(&text, " \"", absl::CHexEscape(field), "\"");
    }
    absl::StrAppend(&text, "]");
  }
  return text;
}

// Cut points from a seed: chunks of 0 to 16 bytes, empty chunks included.
std::vector<size_t> Cuts(uint32_t seed, size_t size) {
  std::vector<size_t> cuts;
  size_t at = 0;
  while (at < size) {
    seed = seed * 1103515245u + 12345u;
    at += (seed >> 16) % 17;
    cuts.push_back(std::min(at, size));
  }
  return cuts;
}

// Reads `input` cut at `cuts` (empty: whole), taking every record as soon as
// it is ready, and checks the reader's own promises along the way.
ReadResult Read(absl::string_view input, const Limits& limits,
                const std::vector<size_t>& cuts) {
  Reader reader(limits);
  ReadResult result;
  const auto drain = [&] {
    while (std::optional<Record> record = reader.Next()) {
      result.records.push_back(*std::move(record));
    }
    FUZZ_CHECK(reader.buffered_bytes() <= limits.record_bytes_max,
               "buffered_bytes ", reader.buffered_bytes(),
               " with the queue empty");
  };
  size_t begin = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (const size_t end : ends) {
    result.status = reader.Feed(input.substr(begin, end - begin));
    begin = end;
    if (!result.status.ok()) break;
    drain();
  }
  if (result.status.ok()) result.status = reader.Finish();
  drain();
  // Errors are final, and Finish is idempotent.
  FUZZ_CHECK(reader.Finish() == result.status, "Finish changed its answer");
  const absl::Status again = reader.Feed("x");
  if (result.status.ok()) {
    FUZZ_CHECK(again.code() == absl::StatusCode::kFailedPrecondition,
               "Feed after Finish: ", again.ToString());
  } else {
    FUZZ_CHECK(again == result.status,
               "the error is not final: ", again.ToString());
  }
  return result;
}

// As Read, feeding the whole input at once, and checking on the way that
// Feed refuses to run while records wait, changing nothing.
ReadResult ReadWhole(absl::string_view input, const Limits& limits) {
  Reader reader(limits);
  ReadResult result;
  result.status = reader.Feed(input);
  if (std::optional<Record> first = reader.Next()) {
    result.records.push_back(*std::move(first));
    if (result.status.ok()) {
      const absl::Status empty_feed = reader.Feed("");
      std::optional<Record> next = reader.Next();
      FUZZ_CHECK(empty_feed.ok() != next.has_value(),
                 "Feed(\"\") with records waiting: ", empty_feed.ToString());
      if (!empty_feed.ok()) {
        FUZZ_CHECK(empty_feed.code() == absl::StatusCode::kFailedPrecondition,
                   empty_feed.ToString());
      }
      if (next.has_value()) result.records.push_back(*std::move(next));
    }
  }
  while (std::optional<Record> record = reader.Next()) {
    result.records.push_back(*std::move(record));
  }
  if (result.status.ok()) result.status = reader.Finish();
  while (std::optional<Record> record = reader.Next()) {
    result.records.push_back(*std::move(record));
  }
  return result;
}

// ---------------------------------------------------------------------------
// The reference: the header's grammar, read directly off the whole input.

bool ValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t at) {
      return static_cast<unsigned char>(text[at]);
    };
    const unsigned char lead = byte(i);
    if (lead == 0) return false;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char lower = 0x80;
    unsigned char upper = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) lower = 0xA0;
      if (lead == 0xED) upper = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) lower = 0x90;
      if (lead == 0xF4) upper = 0x8F;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    if (byte(i + 1) < lower || byte(i + 1) > upper) return false;
    for (size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

// The records of `input`, or nullopt if the grammar refuses it.
std::optional<std::vector<Record>> ReferenceRead(absl::string_view input) {
  if (!ValidUtf8(input)) return std::nullopt;
  size_t pos = absl::StartsWith(input, "\xEF\xBB\xBF") ? 3 : 0;
  const size_t n = input.size();
  uint64_t line = 1;
  std::vector<Record> records;
  // Consumes a line end at pos: LF or CRLF. False for a bare CR.
  const auto line_end = [&]() -> bool {
    if (input[pos] == '\n') {
      ++pos;
    } else if (pos + 1 < n && input[pos + 1] == '\n') {
      pos += 2;
    } else {
      return false;
    }
    ++line;
    return true;
  };
  while (pos < n) {
    if (input[pos] == '\n' || input[pos] == '\r') {  // a blank line
      if (!line_end()) return std::nullopt;
      continue;
    }
    Record record{.line = line};
    while (true) {
      std::string field;
      if (pos < n && input[pos] == '"') {
        ++pos;
        while (true) {
          if (pos >= n) return std::nullopt;  // never closed
          const char c = input[pos];
          if (c == '"') {
            if (pos + 1 < n && input[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
              continue;
            }
            ++pos;
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
          ++pos;
        }
        if (pos < n && input[pos] != ',' && input[pos] != '\r' &&
            input[pos] != '\n') {
          return std::nullopt;  // something after the closing quote
        }
      } else {
        while (pos < n && input[pos] != ',' && input[pos] != '\r' &&
               input[pos] != '\n') {
          if (input[pos] == '"') return std::nullopt;
          field.push_back(input[pos]);
          ++pos;
        }
      }
      record.fields.push_back(std::move(field));
      if (pos < n && input[pos] == ',') {
        ++pos;
        continue;
      }
      break;
    }
    if (pos < n && !line_end()) return std::nullopt;
    records.push_back(std::move(record));
  }
  return records;
}

// ---------------------------------------------------------------------------
// Checks.

size_t LineCount(absl::string_view input) {
  return static_cast<size_t>(std::count(input.begin(), input.end(), '\n')) + 1;
}

// "line L, column C: ..." or "line L: ...", with L and C possible.
void CheckErrorPosition(const absl::Status& status, absl::string_view input,
                        const Limits& limits) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kResourceExhausted,
             "unexpected code: ", status.ToString());
  absl::string_view message = status.message();
  FUZZ_CHECK(absl::ConsumePrefix(&message, "line "), status.ToString());
  const size_t digits = message.find_first_not_of("0123456789");
  uint64_t line = 0;
  FUZZ_CHECK(digits != absl::string_view::npos &&
                 absl::SimpleAtoi(message.substr(0, digits), &line),
             status.ToString());
  FUZZ_CHECK(line >= 1 && line <= LineCount(input), "line ", line, " of ",
             LineCount(input), ": ", status.ToString());
  message.remove_prefix(digits);
  if (absl::ConsumePrefix(&message, ", column ")) {
    const size_t column_digits = message.find_first_not_of("0123456789");
    uint64_t column = 0;
    FUZZ_CHECK(column_digits != absl::string_view::npos &&
                   absl::SimpleAtoi(message.substr(0, column_digits), &column),
               status.ToString());
    FUZZ_CHECK(column >= 1 && column <= limits.fields_per_record_max + 1,
               status.ToString());
    message.remove_prefix(column_digits);
  } else {
    // Only the count of records has no column: it is about a whole record.
    FUZZ_CHECK(status.code() == absl::StatusCode::kResourceExhausted,
               "an error without a column: ", status.ToString());
  }
  FUZZ_CHECK(absl::StartsWith(message, ": "), status.ToString());
}

void CheckRecords(const ReadResult& result, absl::string_view input,
                  const Limits& limits) {
  FUZZ_CHECK(result.records.size() <= limits.records_max, Describe(result));
  uint64_t last_line = 0;
  for (const Record& record : result.records) {
    FUZZ_CHECK(record.line > last_line && record.line <= LineCount(input),
               "record lines: ", Describe(result));
    last_line = record.line;
    FUZZ_CHECK(!record.fields.empty() &&
                   record.fields.size() <= limits.fields_per_record_max,
               Describe(result));
    for (const std::string& field : record.fields) {
      FUZZ_CHECK(field.size() <= limits.field_bytes_max, Describe(result));
      FUZZ_CHECK(ValidUtf8(field), "a field is not UTF-8: ", Describe(result));
    }
  }
}

// Whether `records` (read without limits) break one of `limits`; for the
// record length, whether any encoding of them could.
bool BreaksALimit(const std::vector<Record>& records, const Limits& limits) {
  if (records.size() > limits.records_max) return true;
  for (const Record& record : records) {
    if (record.fields.size() > limits.fields_per_record_max) return true;
    size_t longest_encoding = record.fields.size() - 1;
    for (const std::string& field : record.fields) {
      if (field.size() > limits.field_bytes_max) return true;
      longest_encoding += 2 * field.size() + 2;
    }
    if (longest_encoding > limits.record_bytes_max) return true;
  }
  return false;
}

std::string Encode(const std::vector<Record>& records, bool crlf,
                   bool minimal_quotes) {
  std::string text;
  for (size_t r = 0; r < records.size(); ++r) {
    const std::vector<std::string>& fields = records[r].fields;
    for (size_t f = 0; f < fields.size(); ++f) {
      const std::string& field = fields[f];
      const bool needs_quotes =
          field.find_first_of(",\"\r\n") != std::string::npos ||
          (fields.size() == 1 && field.empty()) ||  // else a blank line
          (r == 0 && f == 0 && absl::StartsWith(field, "\xEF\xBB\xBF"));
      if (f > 0) text += ',';
      if (needs_quotes || !minimal_quotes) {
        text += '"';
        for (const char c : field) {
          text += c;
          if (c == '"') text += '"';
        }
        text += '"';
      } else {
        text += field;
      }
    }
    text += crlf ? "\r\n" : "\n";
  }
  return text;
}

void CheckReencoding(const std::vector<Record>& records, bool crlf,
                     bool minimal_quotes) {
  const std::string encoded = Encode(records, crlf, minimal_quotes);
  const ReadResult again = Read(encoded, kUnlimited, {});
  FUZZ_CHECK(again.status.ok() && again.records.size() == records.size(),
             "re-encoded \"", absl::CHexEscape(encoded), "\" reads as ",
             Describe(again));
  uint64_t line = 1;
  for (size_t r = 0; r < records.size(); ++r) {
    FUZZ_CHECK(again.records[r].fields == records[r].fields &&
                   again.records[r].line == line,
               "re-encoded record ", r, " reads as ", Describe(again));
    for (const std::string& field : records[r].fields) {
      line +=
          static_cast<uint64_t>(std::count(field.begin(), field.end(), '\n'));
    }
    ++line;
  }
}

void CheckHeader(const Record& row,
                 absl::Span<const absl::string_view> columns) {
  const absl::StatusOr<Header> header = Header::Parse(row, columns);
  std::vector<std::string> sorted_row = row.fields;
  std::vector<std::string> sorted_columns(columns.begin(), columns.end());
  std::sort(sorted_row.begin(), sorted_row.end());
  std::sort(sorted_columns.begin(), sorted_columns.end());
  FUZZ_CHECK(header.ok() == (sorted_row == sorted_columns),
             "Header::Parse: ", header.status().ToString());
  if (!header.ok()) {
    FUZZ_CHECK(header.status().code() == absl::StatusCode::kInvalidArgument &&
                   absl::StartsWith(
                       header.status().message(),
                       absl::StrCat("line ", row.line, ": bad header row")),
               header.status().ToString());
    return;
  }
  for (size_t i = 0; i < row.fields.size(); ++i) {
    FUZZ_CHECK(
        header->index(row.fields[i]) == i && header->name(i) == row.fields[i],
        "Header index of ", row.fields[i]);
  }
}

}  // namespace
}  // namespace premium::csv

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace premium::csv;  // NOLINT: one function, many names
  if (size < 5) return 0;
  const uint8_t options = bytes[0];
  const bool crlf = (options & 1) != 0;
  const bool minimal_quotes = (options & 2) != 0;
  Limits limits;
  if ((options & 4) != 0) {
    limits.field_bytes_max = 1 + bytes[1] % 16;
    limits.fields_per_record_max = 1 + bytes[2] % 8;
    limits.record_bytes_max = 1 + bytes[3] % 64;
    limits.records_max = 1 + bytes[4] % 8;
  }
  const absl::string_view input(reinterpret_cast<const char*>(bytes + 5),
                                size - 5);
  const std::vector<size_t> cuts = Cuts(options >> 3, input.size());

  // Without limits: the reference, and the chunked read.
  const ReadResult whole = ReadWhole(input, kUnlimited);
  const std::optional<std::vector<Record>> reference = ReferenceRead(input);
  FUZZ_CHECK(whole.status.ok() == reference.has_value(),
             "reader: ", Describe(whole), "; the reference ",
             reference.has_value() ? "accepts" : "refuses");
  if (reference.has_value()) {
    FUZZ_CHECK(whole.records == *reference, "reader: ", Describe(whole),
               "; reference: ", Describe(ReadResult{{}, *reference}));
  } else {
    CheckErrorPosition(whole.status, input, kUnlimited);
  }
  CheckRecords(whole, input, kUnlimited);
  const ReadResult chunked = Read(input, kUnlimited, cuts);
  FUZZ_CHECK(chunked.status == whole.status && chunked.records == whole.records,
             "chunked: ", Describe(chunked), "; whole: ", Describe(whole));

  // With the limits of this input (the defaults, or small ones).
  const ReadResult limited = Read(input, limits, cuts);
  CheckRecords(limited, input, limits);
  if (limited.status.ok()) {
    FUZZ_CHECK(whole.status.ok() && limited.records == whole.records,
               "limited: ", Describe(limited),
               "; unlimited: ", Describe(whole));
  } else {
    CheckErrorPosition(limited.status, input, limits);
    if (limited.status.code() == absl::StatusCode::kInvalidArgument) {
      FUZZ_CHECK(limited.status == whole.status, "limited: ", Describe(limited),
                 "; unlimited: ", Describe(whole));
    } else if (whole.status.ok()) {
      FUZZ_CHECK(BreaksALimit(whole.records, limits),
                 "limited: ", Describe(limited),
                 " but the records keep the limits");
    }
  }
  FUZZ_CHECK(ReadWhole(input, limits).status == limited.status,
             "whole and chunked reads with limits differ");

  if (whole.status.ok()) {
    CheckReencoding(whole.records, crlf, minimal_quotes);
    if (!whole.records.empty()) {
      CheckHeader(whole.records.front(), kPurchaseColumns);
      CheckHeader(whole.records.front(), kPayrollColumns);
    }
  }
  return 0;
}
