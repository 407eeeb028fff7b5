// A streaming, strict RFC 4180 reader for uploaded CSV files, plus the header
// row and error-collection helpers the validation layer builds on.
//
// Uploads are validated before anything is appended (DESIGN section 9), so
// this reader is written to refuse rather than guess: anything that is not
// clearly RFC 4180 in UTF-8 is an error naming the physical line and the
// column (the 1-based field index within the record) where it was found.
//
// Input grammar (RFC 4180, tightened):
//   - The input is UTF-8. Invalid UTF-8 anywhere (overlong forms, surrogates,
//     code points above U+10FFFF, stray continuation bytes, bytes 0xC0, 0xC1,
//     0xF5..0xFF, a sequence cut short) is an error. A UTF-8 byte order mark
//     (EF BB BF) as the very first bytes of the input is skipped, because
//     spreadsheets write one; anywhere else it is ordinary (valid) text and is
//     kept in its field. NUL bytes are refused everywhere, even quoted.
//   - Records end with LF or CRLF; a file may mix them. A CR outside quotes
//     that is not followed by LF (a "bare CR", e.g. classic Mac line ends) is
//     an error. The last record may or may not end with a line end.
//   - Blank lines (a line end with no character before it on its line, e.g.
//     a trailing "\n\n") are skipped wherever they appear and produce no
//     record, but they count for line numbers. A line holding only spaces is
//     not blank: it is a record with one field.
//   - Fields are separated by ','. An unquoted field may contain anything but
//     ',', '"', CR and LF; a '"' in it is an error. A quoted field starts
//     with '"' as the first character of the field, ends with the next lone
//     '"', writes a literal quote as '""', and may contain ',', CR and LF.
//     After the closing quote only ',' or a line end may follow ("abc"x is an
//     error). "a," is two fields, the second empty; ",," is three empty ones.
//   - Whitespace is data: nothing is trimmed (" 12.50" keeps its space, and
//     the value parsers downstream refuse it).
//
// Line numbers are 1-based physical lines: LF characters inside quoted fields
// count, so Record::line is the line where a record starts, and an error names
// the line of the offending byte. A CR alone never starts a new line.
//
// Every quantity is bounded (see Limits); exceeding a limit is
// ResourceExhausted. Syntax errors are InvalidArgument. Either kind of error
// is final: the reader keeps returning it.

#ifndef LEDGER_CSV_CSV_READER_H_
#define LEDGER_CSV_CSV_READER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace premium::csv {

// Sizes the reader accepts; each exceeded limit is a ResourceExhausted error
// naming the line (and the column for per-field limits). They bound both the
// work done on a hostile upload and the memory the reader holds. None of them
// is part of any persistent format.
struct Limits {
  // Bytes of one field's value after unquoting ('""' counts as one byte).
  // Our longest legitimate values (ids, decimals, dates) are under 100 bytes.
  size_t field_bytes_max = 1024;
  // Fields in one record. Our widest file has 9 columns.
  size_t fields_per_record_max = 64;
  // Bytes of one record's text as it appears in the input, quotes and commas
  // included, its final line end excluded (line ends inside quoted fields
  // count). This bounds the reader's buffer: see Reader::buffered_bytes().
  size_t record_bytes_max = 16 * 1024;
  // Records in the input, the header row included; blank lines do not count.
  uint64_t records_max = 10'000'000;
};

// One record: the values of its fields, unquoted, in input order.
struct Record {
  // 1-based physical line on which the record starts.
  uint64_t line = 0;
  std::vector<std::string> fields;

  friend bool operator==(const Record&, const Record&) = default;
};

// An incremental reader: input arrives in chunks of any size, split anywhere
// (inside a quoted field, between CR and LF, inside a UTF-8 sequence); the
// records and the error produced are the same however the input is split.
//
// Use:
//   Reader reader(limits);
//   for each chunk:
//     status = reader.Feed(chunk);          // stop on error
//     while (auto record = reader.Next()) ...;
//   status = reader.Finish();               // stop on error
//   while (auto record = reader.Next()) ...;
//
// Memory: the reader holds at most one partial record (at most
// record_bytes_max bytes of field values) plus the records completed by the
// last chunk, so never much more than record_bytes_max plus one chunk. To
// keep this true, Feed() refuses to run while completed records are waiting.
//
// Not thread-safe: one reader serves one input from one thread at a time.
class Reader {
 public:
  explicit Reader(Limits limits = {});

  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  Reader(Reader&&) = default;
  Reader& operator=(Reader&&) = default;

  // Consumes the next chunk of input (it may be empty). Records completed by
  // it become available from Next().
  // Returns:
  //   - OK if the whole chunk was consumed;
  //   - InvalidArgument "line L, column C: reason" for a syntax or encoding
  //     error, or ResourceExhausted "line L[, column C]: reason" for a limit
  //     exceeded. The reader is then failed: this and every later Feed() or
  //     Finish() returns the same status. Records completed before the error
  //     can still be read with Next() (they are well-formed, but an
  //     all-or-nothing upload should not use them);
  //   - FailedPrecondition, without changing anything, if records from the
  //     previous chunk have not all been taken with Next() (see Memory above)
  //     or if Finish() has already been called.
  absl::Status Feed(absl::string_view chunk);

  // Marks the end of input. A final record without a line end is completed
  // and becomes available from Next().
  // Returns OK, or (and the reader is then failed, as for Feed()):
  //   - InvalidArgument naming the line and column where a quoted field was
  //     opened if the input ends inside it;
  //   - InvalidArgument if the input ends inside a UTF-8 sequence or with a
  //     bare CR.
  // Calling Finish() again returns the same result.
  absl::Status Finish();

  // Removes and returns the oldest completed record; nullopt if none is
  // waiting.
  std::optional<Record> Next();

  // Bytes of field values the reader holds: the waiting records plus the
  // record in progress. It stays below record_bytes_max plus the size of the
  // last chunk, and below record_bytes_max once Next() has emptied the queue.
  // For tests and monitoring.
  size_t buffered_bytes() const { return queued_bytes_ + partial_bytes_; }

 private:
  enum class State {
    kFieldStart,      // before the first byte of a field
    kUnquoted,        // inside an unquoted field
    kQuoted,          // inside a quoted field
    kQuotedQuote,     // just after a '"' inside a quoted field
    kCarriageReturn,  // just after a CR outside quotes; only LF may follow
  };

  bool ConsumeBom(absl::string_view& chunk);
  bool ReplayBomPrefix();
  bool Consume(absl::string_view bytes);
  bool Step(unsigned char byte);
  bool CheckUtf8(unsigned char byte);
  bool StepStructure(unsigned char byte);
  bool Append(unsigned char byte);
  bool EndField();
  void EndLine();
  bool Fail(absl::StatusCode code, uint64_t line, absl::string_view reason);
  bool FailAt(absl::StatusCode code, uint64_t line, size_t column,
              absl::string_view reason);
  size_t column() const { return fields_.size() + 1; }

  Limits limits_;
  absl::Status status_;  // the first error; sticky
  bool finished_ = false;

  // How many bytes of the byte order mark the input has matched so far, and
  // whether the question "does the input start with one?" is settled.
  size_t bom_bytes_matched_ = 0;
  bool bom_settled_ = false;

  // UTF-8 decoding across chunks: continuation bytes still expected, the
  // range the next one must fall in (Unicode Table 3-7), and the lead byte.
  int utf8_pending_ = 0;
  unsigned char utf8_lower_ = 0x80;
  unsigned char utf8_upper_ = 0xBF;
  unsigned char utf8_lead_ = 0;

  State state_ = State::kFieldStart;
  uint64_t line_ = 1;         // physical line of the next byte
  bool record_open_ = false;  // a byte of the current record has been seen
  uint64_t record_line_ = 0;
  uint64_t records_opened_ = 0;
  size_t record_bytes_ = 0;  // raw bytes of the current record so far
  uint64_t quote_line_ = 0;  // where the current quoted field was opened
  size_t quote_column_ = 0;
  std::vector<std::string> fields_;  // completed fields of the current record
  std::string field_;                // the field in progress
  size_t partial_bytes_ = 0;         // value bytes in fields_ and field_

  std::deque<Record> records_;
  size_t queued_bytes_ = 0;  // value bytes in records_
};

// The header row: which field index holds each required column. Columns may
// come in any order; every field must be a required column and every required
// column must be present exactly once.
class Header {
 public:
  // Checks header_row against required_columns (which must be non-empty,
  // distinct and non-empty strings: asserted).
  // Returns InvalidArgument "line L: bad header row: ..." listing every
  // problem: each empty name, unknown name (with a hint when it differs from
  // an expected one only in case or surrounding spaces) and duplicate, by
  // column number and name, then all missing columns by name, then the
  // expected columns. Names are exact: case-sensitive, no surrounding spaces.
  static absl::StatusOr<Header> Parse(
      const Record& header_row,
      absl::Span<const absl::string_view> required_columns);

  // The 0-based field index of column `name`. `name` must be one of the
  // required columns given to Parse (asserted; returns width() when
  // assertions are off).
  size_t index(absl::string_view name) const;

  // The number of columns (equal to the number of required columns).
  size_t width() const { return names_.size(); }

  // The column name of 0-based field index `field_index` < width().
  const std::string& name(size_t field_index) const;

  // The line of the header row.
  uint64_t line() const { return line_; }

  // Returns OK if row has width() fields, else InvalidArgument
  // "line L: expected N fields, got M".
  absl::Status CheckWidth(const Record& row) const;

 private:
  Header(std::vector<std::string> names, uint64_t line)
      : names_(std::move(names)), line_(line) {}

  std::vector<std::string> names_;  // by field index
  uint64_t line_;
};

// One problem found while validating a row.
struct FieldError {
  uint64_t line = 0;
  std::string column;  // column name; empty for a problem with the whole row
  std::string reason;

  friend bool operator==(const FieldError&, const FieldError&) = default;
};

// Collects the problems found in the rows of an upload, so that the answer
// names every bad row instead of only the first. Keeps the first max_errors
// problems (bounding memory and the message) and counts the rest.
// Rows are expected to be validated in order: all the problems of one row are
// added one after another (rows are counted as runs of the same line).
class ErrorList {
 public:
  explicit ErrorList(size_t max_errors = 100) : max_errors_(max_errors) {}

  // Records a problem. `column` is a column name, or empty if the problem is
  // with the whole row (e.g. its width).
  void Add(uint64_t line, absl::string_view column, absl::string_view reason);

  bool empty() const { return count_ == 0; }
  // Problems added, including those past max_errors.
  size_t count() const { return count_; }
  // Rows with at least one problem.
  size_t row_count() const { return row_count_; }
  // The first max_errors problems, in the order added.
  const std::vector<FieldError>& errors() const { return errors_; }

  // OK if empty; otherwise InvalidArgument
  //   "R bad rows (E errors): line 3, column amount: reason; line 9: reason"
  // listing the kept problems and ending "; and K more errors" if some were
  // not kept.
  absl::Status ToStatus() const;

 private:
  size_t max_errors_;
  size_t count_ = 0;
  size_t row_count_ = 0;
  uint64_t last_line_ = 0;
  std::vector<FieldError> errors_;
};

}  // namespace premium::csv

#endif  // LEDGER_CSV_CSV_READER_H_
