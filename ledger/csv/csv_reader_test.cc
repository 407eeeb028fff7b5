#include "ledger/csv/csv_reader.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace premium::csv {

// gtest prints records readably on failure.
void PrintTo(const Record& record, std::ostream* os) {
  *os << "{line " << record.line << ": ";
  for (size_t i = 0; i < record.fields.size(); ++i) {
    *os << (i == 0 ? "" : ", ") << '"' << absl::CHexEscape(record.fields[i])
        << '"';
  }
  *os << "}";
}

namespace {

using ::std::string_literals::operator""s;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// gmock's string matchers need a std::string, and Debian's absl::string_view
// is not std::string_view.
std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

// What a reader made of one input: the records it returned, in order, and
// the first error (or OK).
struct Outcome {
  std::vector<Record> records;
  absl::Status status;
};

void Drain(Reader& reader, std::vector<Record>& records) {
  while (std::optional<Record> record = reader.Next()) {
    records.push_back(std::move(*record));
  }
}

// Feeds `input` cut into chunks of the given sizes (the last chunk takes the
// rest), taking records after every call as a caller must.
Outcome ReadInChunks(absl::string_view input,
                     const std::vector<size_t>& chunk_sizes,
                     const Limits& limits = {}) {
  Reader reader(limits);
  Outcome outcome;
  size_t offset = 0;
  for (size_t chunk_size : chunk_sizes) {
    if (offset >= input.size()) break;
    outcome.status = reader.Feed(input.substr(offset, chunk_size));
    offset += chunk_size;
    Drain(reader, outcome.records);
    if (!outcome.status.ok()) return outcome;
  }
  if (offset < input.size()) {
    outcome.status = reader.Feed(input.substr(offset));
    Drain(reader, outcome.records);
    if (!outcome.status.ok()) return outcome;
  }
  outcome.status = reader.Finish();
  Drain(reader, outcome.records);
  return outcome;
}

Outcome ReadWhole(absl::string_view input, const Limits& limits = {}) {
  return ReadInChunks(input, {}, limits);
}

Outcome ReadByteByByte(absl::string_view input, const Limits& limits = {}) {
  return ReadInChunks(input, std::vector<size_t>(input.size(), 1), limits);
}

// Every way of splitting `input` in two, plus byte by byte, gives the same
// outcome as feeding it whole. Returns that outcome.
Outcome ReadEveryWay(absl::string_view input, const Limits& limits = {}) {
  const Outcome whole = ReadWhole(input, limits);
  const Outcome bytes = ReadByteByByte(input, limits);
  EXPECT_EQ(bytes.records, whole.records) << "byte by byte";
  EXPECT_EQ(bytes.status, whole.status) << "byte by byte";
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    const Outcome split = ReadInChunks(input, {cut}, limits);
    EXPECT_EQ(split.records, whole.records) << "split at " << cut;
    EXPECT_EQ(split.status, whole.status) << "split at " << cut;
  }
  return whole;
}

Record R(uint64_t line, std::vector<std::string> fields) {
  return Record{.line = line, .fields = std::move(fields)};
}

// ---------------------------------------------------------------------------
// Reader: accepted input.

struct AcceptCase {
  std::string name;
  std::string input;
  std::vector<Record> expected;
};

TEST(ReaderTest, AcceptsValidInput) {
  const std::string bom = "\xEF\xBB\xBF";
  const AcceptCase cases[] = {
      {"empty input", "", {}},
      {"simple",
       "a,b,c\n1,2,3\n",
       {R(1, {"a", "b", "c"}), R(2, {"1", "2", "3"})}},
      {"no trailing newline", "a,b\n1,2", {R(1, {"a", "b"}), R(2, {"1", "2"})}},
      {"crlf", "a,b\r\n1,2\r\n", {R(1, {"a", "b"}), R(2, {"1", "2"})}},
      {"mixed line ends",
       "a\r\nb\nc\r\nd",
       {R(1, {"a"}), R(2, {"b"}), R(3, {"c"}), R(4, {"d"})}},
      {"empty fields", ",,\n", {R(1, {"", "", ""})}},
      {"final empty field", "a,\n", {R(1, {"a", ""})}},
      {"final empty field at end of input", "a,", {R(1, {"a", ""})}},
      {"single comma", ",", {R(1, {"", ""})}},
      {"quoted comma", "\"a,b\",c\n", {R(1, {"a,b", "c"})}},
      {"escaped quotes",
       "\"say \"\"hi\"\"\",\"\"\"\"\n",
       {R(1, {"say \"hi\"", "\""})}},
      {"empty quoted fields", "\"\",\"\"\n", {R(1, {"", ""})}},
      {"lone empty quoted field is a record", "\"\"\n", {R(1, {""})}},
      {"quoted field at end of input", "a,\"b\"", {R(1, {"a", "b"})}},
      {"quoted field then crlf", "\"a\"\r\n\"b\"", {R(1, {"a"}), R(2, {"b"})}},
      {"embedded lf counts for later lines",
       "\"l1\nl2\",x\nnext,y\n\"p\nq\nr\"\nlast\n",
       {R(1, {"l1\nl2", "x"}), R(3, {"next", "y"}), R(4, {"p\nq\nr"}),
        R(7, {"last"})}},
      {"embedded crlf counts for later lines",
       "\"l1\r\nl2\",x\r\nnext,y\r\n",
       {R(1, {"l1\r\nl2", "x"}), R(3, {"next", "y"})}},
      {"cr inside quotes is data and no line",
       "\"a\rb\"\nc\n",
       {R(1, {"a\rb"}), R(2, {"c"})}},
      {"blank lines skipped but counted",
       "\na\n\n\r\nb\n\n\r\n",
       {R(2, {"a"}), R(5, {"b"})}},
      {"only blank lines", "\n\r\n\n", {}},
      {"spaces-only line is a record", "  \n", {R(1, {"  "})}},
      {"whitespace is data", " 12.50 ,\tx \n", {R(1, {" 12.50 ", "\tx "})}},
      {"bom skipped", bom + "a,b\n", {R(1, {"a", "b"})}},
      {"only a bom", bom, {}},
      {"bom then quoted field", bom + "\"a\"", {R(1, {"a"})}},
      {"bom elsewhere is kept",
       "a," + bom + "b\n" + bom + "\n",
       {R(1, {"a", bom + "b"}), R(2, {bom})}},
      {"second bom at start is kept", bom + bom + "a", {R(1, {bom + "a"})}},
      {"multi-byte utf-8",
       "\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80\n\xC2\x80,\xF4\x8F\xBF\xBF,"
       "\xED\x9F\xBF,\xEE\x80\x80\n",
       {R(1, {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}),
        R(2,
          {"\xC2\x80", "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80"})}},
      {"quoted utf-8 with newline",
       "\"\xE2\x82\xAC\n\xC3\xA9\",x\ny",
       {R(1, {"\xE2\x82\xAC\n\xC3\xA9", "x"}), R(3, {"y"})}},
  };
  for (const AcceptCase& test : cases) {
    SCOPED_TRACE(test.name);
    const Outcome outcome = ReadEveryWay(test.input);
    EXPECT_TRUE(outcome.status.ok()) << outcome.status;
    EXPECT_EQ(outcome.records, test.expected);
  }
}

// ---------------------------------------------------------------------------
// Reader: refused input. Each error names the physical line and the column
// (field index), whichever way the input is split.

struct RejectCase {
  std::string name;
  std::string input;
  std::string position;  // the message's exact prefix
  std::string reason;    // a substring of the rest
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;
};

void ExpectRejected(const RejectCase& test, const Limits& limits = {}) {
  SCOPED_TRACE(test.name);
  const Outcome outcome = ReadEveryWay(test.input, limits);
  EXPECT_EQ(outcome.status.code(), test.code) << outcome.status;
  EXPECT_THAT(Message(outcome.status), StartsWith(test.position));
  EXPECT_THAT(Message(outcome.status), HasSubstr(test.reason));
}

TEST(ReaderTest, RejectsBadSyntax) {
  const RejectCase cases[] = {
      {"bare cr", "a\rb\n", "line 1, column 1: ", "not followed by line feed"},
      {"bare cr at end", "a\r", "line 1, column 1: ", "at end of input"},
      {"bare cr before lf-less eof", "x\ny,\r",
       "line 2, column 2: ", "carriage return"},
      {"bare cr on a blank line", "a\n\rb",
       "line 2, column 1: ", "carriage return"},
      {"bare cr after quoted field", "\"a\"\rb",
       "line 1, column 1: ", "carriage return"},
      {"double cr", "a\r\r\n", "line 1, column 1: ", "carriage return"},
      {"quote in unquoted field", "ab\"c\n",
       "line 1, column 1: ", "'\"' inside an unquoted field"},
      {"quote ending unquoted field", "x\na,b\"\n",
       "line 2, column 2: ", "unquoted field"},
      {"text after closing quote", "\"abc\"x\n",
       "line 1, column 1: ", "'x' after the closing quote"},
      {"space after closing quote", "a,\"b\" \n",
       "line 1, column 2: ", "' ' after the closing quote"},
      {"text after closing quote on later line", "\"a\nb\"c",
       "line 2, column 1: ", "'c' after the closing quote"},
      {"unterminated quote names its start", "a\n\"abc\ndef\n",
       "line 2, column 1: ", "never closed"},
      {"unterminated quote in third column", "x,y,\"open\n\n\n",
       "line 1, column 3: ", "never closed"},
      {"unterminated after escaped quote", "\"a\"\"",
       "line 1, column 1: ", "never closed"},
      {"nul", "a\0b\n"s, "line 1, column 1: ", "NUL"},
      {"nul quoted", "x,\"a\0\"\n"s, "line 1, column 2: ", "NUL"},
      {"nul alone", "a\n\0"s, "line 2, column 1: ", "NUL"},
  };
  for (const RejectCase& test : cases) ExpectRejected(test);
}

TEST(ReaderTest, RejectsInvalidUtf8) {
  const RejectCase cases[] = {
      {"0xFF", "a,\xFF\n", "line 1, column 2: ", "byte 0xFF never appears"},
      {"0xFE", "\xFE", "line 1, column 1: ", "byte 0xFE never appears"},
      {"0xF5", "\xF5\x80\x80\x80", "line 1, column 1: ", "never appears"},
      {"stray continuation", "x\ny,z,\x80",
       "line 2, column 3: ", "unexpected continuation byte 0x80"},
      {"overlong two bytes (C0)", "\xC0\xAF", "line 1, column 1: ", "overlong"},
      {"overlong two bytes (C1)", "\xC1\xBF", "line 1, column 1: ", "overlong"},
      {"overlong three bytes", "\xE0\x80\xAF",
       "line 1, column 1: ", "overlong"},
      {"overlong four bytes", "\xF0\x80\x80\xAF",
       "line 1, column 1: ", "overlong"},
      {"surrogate", "a\n\"b\n\xED\xA0\x80\"",
       "line 3, column 1: ", "surrogate"},
      {"low surrogate", "\xED\xBF\xBF", "line 1, column 1: ", "surrogate"},
      {"above U+10FFFF", "\xF4\x90\x80\x80",
       "line 1, column 1: ", "above U+10FFFF"},
      {"cut short by ascii",
       "\xC3"
       "a",
       "line 1, column 1: ", "cut short by byte 'a'"},
      {"cut short by comma", "a,\xE2\x82,",
       "line 1, column 2: ", "cut short by byte ','"},
      {"cut short by newline", "\xE2\x82\n",
       "line 1, column 1: ", "cut short by byte 0x0A"},
      {"cut short by new lead", "\xC3\xC3\xA9",
       "line 1, column 1: ", "cut short by byte 0xC3"},
      {"truncated at end of input", "h\nx\ny,\xE2\x82", "line 3, column 2: ",
       "input ends inside the sequence started by byte 0xE2"},
      {"truncated four-byte at end", "\xF0\x9F\x98",
       "line 1, column 1: ", "input ends inside"},
      {"partial bom at end", "\xEF\xBB",
       "line 1, column 1: ", "input ends inside"},
      {"partial bom then text", "\xEF\xBBx",
       "line 1, column 1: ", "cut short by byte 'x'"},
  };
  for (const RejectCase& test : cases) ExpectRejected(test);
}

// ---------------------------------------------------------------------------
// Reader: limits.

struct LimitCase {
  std::string name;
  Limits limits;
  std::string accepted;  // at the limit
  RejectCase refused;    // just past it
};

TEST(ReaderTest, EnforcesLimits) {
  constexpr auto kExhausted = absl::StatusCode::kResourceExhausted;
  const LimitCase cases[] = {
      {"field bytes",
       {.field_bytes_max = 3},
       "abc,\"a\"\"b\",\xE2\x82\xAC\n",
       {"", "x\nab,abcd\n", "line 2, column 2: ", "field longer than 3 bytes",
        kExhausted}},
      {"quoted field bytes",
       {.field_bytes_max = 3},
       "\"a\nb\"",
       {"", "\"a\"\"bc\"", "line 1, column 1: ", "field longer than 3",
        kExhausted}},
      {"fields per record",
       {.fields_per_record_max = 2},
       "a,b\n,\n",
       {"", "x\na,b,\n", "line 2, column 3: ", "more than 2 fields",
        kExhausted}},
      {"record bytes exclude the line end",
       {.record_bytes_max = 5},
       "ab,cd\r\n\"a\"\"\"\n",
       {"", "ab,cde\n", "line 1, column 2: ", "record longer than 5 bytes",
        kExhausted}},
      {"record bytes include quoted line ends",
       {.record_bytes_max = 5},
       "\"a\nb\"\n",
       {"", "\"a\nbcd\"\n", "line 2, column 1: ", "record longer than 5",
        kExhausted}},
      {"records, blank lines not counted",
       {.records_max = 2},
       "a\n\nb\n\n",
       {"", "a\nb\n\nc", "line 4: ", "more than 2 records", kExhausted}},
  };
  for (const LimitCase& test : cases) {
    SCOPED_TRACE(test.name);
    const Outcome accepted = ReadEveryWay(test.accepted, test.limits);
    EXPECT_TRUE(accepted.status.ok()) << accepted.status;
    ExpectRejected(test.refused, test.limits);
  }
}

// ---------------------------------------------------------------------------
// Reader: the calling protocol.

TEST(ReaderTest, ErrorIsFinalAndEarlierRecordsRemain) {
  Reader reader;
  const absl::Status error = reader.Feed("a,b\nc,\"d\"x\ne\n");
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(error), StartsWith("line 2, column 2: "));
  std::optional<Record> first = reader.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, R(1, {"a", "b"}));
  EXPECT_EQ(reader.Next(), std::nullopt);
  EXPECT_EQ(reader.Feed("f\n"), error);
  EXPECT_EQ(reader.Finish(), error);
  EXPECT_EQ(reader.Next(), std::nullopt);
}

TEST(ReaderTest, FeedRefusesWhileRecordsWaitAndChangesNothing) {
  Reader reader;
  ASSERT_TRUE(reader.Feed("a\nb").ok());
  const absl::Status refused = reader.Feed("c\n");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reader.Next(), R(1, {"a"}));
  EXPECT_EQ(reader.Next(), std::nullopt);
  ASSERT_TRUE(reader.Feed("c\n").ok());
  EXPECT_EQ(reader.Next(), R(2, {"bc"}));
  ASSERT_TRUE(reader.Finish().ok());
  EXPECT_EQ(reader.Next(), std::nullopt);
}

TEST(ReaderTest, FinishIsIdempotentAndEndsFeeding) {
  Reader reader;
  ASSERT_TRUE(reader.Feed("a").ok());
  ASSERT_TRUE(reader.Finish().ok());
  EXPECT_TRUE(reader.Finish().ok());
  EXPECT_EQ(reader.Next(), R(1, {"a"}));
  EXPECT_EQ(reader.Next(), std::nullopt);
  EXPECT_EQ(reader.Feed("b").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(ReaderTest, EmptyChunksChangeNothing) {
  const std::string input = "\xEF\xBB\xBF\"a\r\n\",b\r\nc";
  std::vector<size_t> sizes;
  for (size_t i = 0; i < input.size(); ++i) {
    sizes.push_back(0);
    sizes.push_back(1);
  }
  const Outcome outcome = ReadInChunks(input, sizes);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.records, ElementsAre(R(1, {"a\r\n", "b"}), R(3, {"c"})));
}

// ---------------------------------------------------------------------------
// Reader: however the input is split, the records and the error are the same
// (property test over generated inputs, fixed seed).

// Pieces fields are made of: ASCII, multi-byte UTF-8, and everything that
// needs quoting.
const char* const kFieldPieces[] = {
    "a", "7",  " ",  "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
    ",", "\"", "\r", "\n",       "\r\n",         "\xEF\xBB\xBF",
};
// Bytes a mutation inserts or writes: structure, NUL and bad UTF-8.
const char kMutationBytes[] = {'"',    ',',    '\r',   '\n',   '\0',   '\xFF',
                               '\x80', '\xC3', '\xE2', '\xED', '\xF4', 'x'};

struct Generated {
  std::string input;
  std::vector<Record> records;
};

Generated GenerateCsv(std::mt19937_64& random) {
  auto below = [&random](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(random);
  };
  Generated generated;
  std::string& input = generated.input;
  if (below(4) == 0) input += "\xEF\xBB\xBF";
  uint64_t line = 1;
  const size_t record_count = below(6);
  for (size_t r = 0; r < record_count; ++r) {
    while (below(5) == 0) {  // blank lines
      input += below(2) ? "\n" : "\r\n";
      ++line;
    }
    Record record{.line = line, .fields = {}};
    const size_t field_count = 1 + below(4);
    for (size_t f = 0; f < field_count; ++f) {
      std::string value;
      const size_t piece_count = below(5);
      for (size_t p = 0; p < piece_count; ++p) {
        value += kFieldPieces[below(std::size(kFieldPieces))];
      }
      // Quote when needed, and sometimes when not. A lone empty field is
      // quoted so that the record is not a blank line; a leading BOM is
      // quoted so that it cannot be taken for the input's BOM.
      const bool must_quote =
          value.find_first_of(",\"\r\n") != std::string::npos ||
          (field_count == 1 && value.empty()) || value.starts_with("\xEF");
      if (f > 0) input += ',';
      if (must_quote || below(4) == 0) {
        input += '"';
        for (char c : value) {
          if (c == '"') input += '"';
          if (c == '\n') ++line;
          input += c;
        }
        input += '"';
      } else {
        input += value;
      }
      record.fields.push_back(std::move(value));
    }
    generated.records.push_back(std::move(record));
    // The last record may end without a line end.
    if (r + 1 < record_count || below(3) != 0) {
      input += below(2) ? "\n" : "\r\n";
      ++line;
    }
  }
  return generated;
}

std::string Mutate(std::string input, std::mt19937_64& random) {
  auto below = [&random](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(random);
  };
  const char byte = kMutationBytes[below(std::size(kMutationBytes))];
  const size_t position = below(input.size() + 1);
  switch (below(3)) {
    case 0:
      input.insert(input.begin() + position, byte);
      break;
    case 1:
      if (position < input.size()) input.erase(position, 1);
      break;
    default:
      if (position < input.size()) input[position] = byte;
      break;
  }
  return input;
}

std::vector<size_t> RandomChunkSizes(size_t total, std::mt19937_64& random) {
  std::vector<size_t> sizes;
  const size_t size_max = 1 + random() % 20;
  for (size_t sum = 0; sum < total;) {
    sizes.push_back(random() % (size_max + 1));  // empty chunks too
    sum += sizes.back();
  }
  return sizes;
}

TEST(ReaderTest, SplittingNeverChangesTheOutcome) {
  std::mt19937_64 random(20240611);
  const Limits small{.field_bytes_max = 12,
                     .fields_per_record_max = 3,
                     .record_bytes_max = 40,
                     .records_max = 4};
  size_t valid = 0;
  size_t refused = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const Generated generated = GenerateCsv(random);
    const bool mutate = random() % 2 == 0;
    const std::string input =
        mutate ? Mutate(generated.input, random) : generated.input;
    const Limits limits = random() % 4 == 0 ? small : Limits{};
    SCOPED_TRACE(absl::StrCat("iteration ", iteration, ", input \"",
                              absl::CHexEscape(input), "\""));

    const Outcome whole = ReadWhole(input, limits);
    const Outcome bytes = ReadByteByByte(input, limits);
    EXPECT_EQ(bytes.records, whole.records);
    EXPECT_EQ(bytes.status, whole.status);
    for (int split = 0; split < 3; ++split) {
      const Outcome chunks =
          ReadInChunks(input, RandomChunkSizes(input.size(), random), limits);
      EXPECT_EQ(chunks.records, whole.records);
      EXPECT_EQ(chunks.status, whole.status);
    }
    if (!mutate && limits.records_max == Limits{}.records_max) {
      // Unchanged generated CSV reads back exactly as generated.
      EXPECT_TRUE(whole.status.ok()) << whole.status;
      EXPECT_EQ(whole.records, generated.records);
    }
    // An error always names a position.
    if (!whole.status.ok()) {
      EXPECT_THAT(Message(whole.status), StartsWith("line "));
    }
    (whole.status.ok() ? valid : refused) += 1;
  }
  // The generator exercises both outcomes.
  EXPECT_GT(valid, 1000u);
  EXPECT_GT(refused, 500u);
}

// ---------------------------------------------------------------------------
// Reader: memory stays bounded over a long stream.

// Record k of a synthetic payroll-like stream; every 1000th record has a
// long quoted field spanning two lines.
void AppendSyntheticRecord(uint64_t k, std::string& out) {
  absl::StrAppend(&out, "prog-", k % 7, ",w", k, ",2024-01-01,2024-01-14,",
                  k % 100, ".25,");
  if (k % 1000 == 0) {
    absl::StrAppend(&out, "\"", std::string(900, 'n'), "\n", "\"\"x\"\"\"");
  } else {
    absl::StrAppend(&out, k % 13);
  }
  out += (k % 2 == 0) ? "\r\n" : "\n";
}

TEST(ReaderTest, MillionRecordStreamStaysBounded) {
  constexpr uint64_t kRecords = 1'000'000;
  constexpr size_t kChunkBytes = 64 * 1024;
  const Limits limits;
  Reader reader(limits);
  std::string pending;
  uint64_t generated = 0;
  uint64_t read = 0;
  uint64_t expected_line = 1;
  size_t buffered_bytes_peak = 0;
  auto take_records = [&] {
    while (std::optional<Record> record = reader.Next()) {
      ASSERT_EQ(record->line, expected_line);
      ASSERT_EQ(record->fields.size(), 6u);
      ASSERT_EQ(record->fields[1], absl::StrCat("w", read));
      expected_line += (read % 1000 == 0) ? 2 : 1;
      ++read;
    }
    // With the queue empty only the partial record remains.
    ASSERT_LE(reader.buffered_bytes(), limits.record_bytes_max);
  };
  while (generated < kRecords || !pending.empty()) {
    while (generated < kRecords && pending.size() < kChunkBytes) {
      AppendSyntheticRecord(generated++, pending);
    }
    const size_t chunk_bytes = std::min(kChunkBytes, pending.size());
    ASSERT_TRUE(
        reader.Feed(absl::string_view(pending).substr(0, chunk_bytes)).ok());
    pending.erase(0, chunk_bytes);
    buffered_bytes_peak =
        std::max(buffered_bytes_peak, reader.buffered_bytes());
    ASSERT_LE(reader.buffered_bytes(), limits.record_bytes_max + kChunkBytes);
    take_records();
  }
  ASSERT_TRUE(reader.Finish().ok());
  take_records();
  EXPECT_EQ(read, kRecords);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  // The bound is not vacuous: a chunk's worth of records did wait.
  EXPECT_GT(buffered_bytes_peak, kChunkBytes / 4);
}

// ---------------------------------------------------------------------------
// Header

const absl::string_view kPaymentColumns[] = {"payment_id", "supplier_id",
                                             "program_id", "paid_date",
                                             "amount",     "currency"};

TEST(HeaderTest, AcceptsColumnsInAnyOrder) {
  const Record row = R(1, {"currency", "amount", "payment_id", "paid_date",
                           "program_id", "supplier_id"});
  const absl::StatusOr<Header> header = Header::Parse(row, kPaymentColumns);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->width(), 6u);
  EXPECT_EQ(header->line(), 1u);
  EXPECT_EQ(header->index("currency"), 0u);
  EXPECT_EQ(header->index("amount"), 1u);
  EXPECT_EQ(header->index("supplier_id"), 5u);
  EXPECT_EQ(header->name(2), "payment_id");
  EXPECT_TRUE(header->CheckWidth(R(2, {"", "", "", "", "", ""})).ok());
  const absl::Status narrow = header->CheckWidth(R(7, {"a", "b"}));
  EXPECT_EQ(narrow.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(narrow.message(), "line 7: expected 6 fields, got 2");
  EXPECT_EQ(header->CheckWidth(R(8, std::vector<std::string>(7))).message(),
            "line 8: expected 6 fields, got 7");
}

TEST(HeaderTest, HeaderLineComesFromTheRecord) {
  // A blank first line moves the header to line 2.
  Reader reader;
  ASSERT_TRUE(reader.Feed("\r\nb,a\n").ok());
  const std::optional<Record> row = reader.Next();
  ASSERT_TRUE(row.has_value());
  const absl::string_view columns[] = {"a", "b"};
  const absl::StatusOr<Header> header = Header::Parse(*row, columns);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->line(), 2u);
  EXPECT_THAT(Message(Header::Parse(R(2, {"a"}), columns).status()),
              StartsWith("line 2: "));
}

struct HeaderRejectCase {
  std::string name;
  std::vector<std::string> fields;
  std::vector<std::string> problems;  // each a substring of the message
};

TEST(HeaderTest, NamesEveryProblem) {
  const HeaderRejectCase cases[] = {
      {"missing columns are all named",
       {"payment_id", "currency", "program_id"},
       {"missing columns: supplier_id, paid_date, amount"}},
      {"duplicate",
       {"payment_id", "supplier_id", "program_id", "paid_date", "amount",
        "currency", "amount"},
       {"column 7: duplicate column \"amount\" (first at column 5)"}},
      {"unknown lists the expected ones",
       {"payment_id", "supplier_id", "program_id", "paid_date", "amt",
        "currency"},
       {"column 5: unknown column \"amt\"", "missing columns: amount",
        "(expected columns, in any order: payment_id, supplier_id, "
        "program_id, paid_date, amount, currency)"}},
      {"near miss in case gets a hint",
       {"payment_id", "supplier_id", "program_id", "paid_date", "Amount",
        "currency"},
       {"column 5: unknown column \"Amount\" (did you mean \"amount\"?"}},
      {"near miss in spaces gets a hint",
       {"payment_id", "supplier_id", "program_id", "paid_date", "amount",
        " currency"},
       {"column 6: unknown column \" currency\" (did you mean \"currency\"?"}},
      {"empty name",
       {"payment_id", "supplier_id", "", "program_id", "paid_date", "amount",
        "currency"},
       {"column 3: empty column name"}},
      {"several problems at once",
       {"", "x", "amount", "amount"},
       {"column 1: empty column name", "column 2: unknown column \"x\"",
        "column 4: duplicate column \"amount\" (first at column 3)",
        "missing columns: payment_id, supplier_id, program_id, paid_date, "
        "currency"}},
      {"empty row", {}, {"missing columns: payment_id"}},
      {"long unknown name is cut",
       {std::string(200, 'z') + "\n\xC3\xA9"},
       {"column 1: unknown column \"" + std::string(64, 'z') + "...\""}},
  };
  for (const HeaderRejectCase& test : cases) {
    SCOPED_TRACE(test.name);
    const absl::StatusOr<Header> header =
        Header::Parse(R(1, test.fields), kPaymentColumns);
    ASSERT_FALSE(header.ok());
    EXPECT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(header.status()),
                StartsWith("line 1: bad header row: "));
    for (const std::string& problem : test.problems) {
      EXPECT_THAT(Message(header.status()), HasSubstr(problem));
    }
  }
}

TEST(HeaderTest, QuotedUserTextIsEscaped) {
  const absl::string_view columns[] = {"a"};
  const absl::StatusOr<Header> header =
      Header::Parse(R(1, {"a\n\"b\xC3\xA9"}), columns);
  ASSERT_FALSE(header.ok());
  EXPECT_THAT(Message(header.status()),
              HasSubstr("unknown column \"a\\n\\\"b\xC3\xA9\""));
}

// ---------------------------------------------------------------------------
// ErrorList

TEST(ErrorListTest, EmptyIsOk) {
  const ErrorList errors;
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(errors.count(), 0u);
  EXPECT_TRUE(errors.ToStatus().ok());
}

TEST(ErrorListTest, NamesEveryRow) {
  ErrorList errors;
  errors.Add(3, "amount", "\"-1\" is negative");
  errors.Add(3, "currency", "expected USD");
  errors.Add(9, "", "expected 6 fields, got 5");
  EXPECT_FALSE(errors.empty());
  EXPECT_EQ(errors.count(), 3u);
  EXPECT_EQ(errors.row_count(), 2u);
  EXPECT_THAT(errors.errors(),
              ElementsAre(FieldError{3, "amount", "\"-1\" is negative"},
                          FieldError{3, "currency", "expected USD"},
                          FieldError{9, "", "expected 6 fields, got 5"}));
  const absl::Status status = errors.ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "2 bad rows (3 errors): line 3, column amount: \"-1\" is "
            "negative; line 3, column currency: expected USD; line 9: "
            "expected 6 fields, got 5");
}

TEST(ErrorListTest, SingleErrorIsSingular) {
  ErrorList errors;
  errors.Add(2, "hours", "too many fraction digits");
  EXPECT_EQ(errors.ToStatus().message(),
            "1 bad row (1 error): line 2, column hours: too many fraction "
            "digits");
}

TEST(ErrorListTest, KeepsOnlyMaxErrorsAndCountsTheRest) {
  ErrorList errors(/*max_errors=*/2);
  for (uint64_t line = 2; line < 12; ++line) errors.Add(line, "id", "bad");
  EXPECT_EQ(errors.count(), 10u);
  EXPECT_EQ(errors.row_count(), 10u);
  EXPECT_EQ(errors.errors().size(), 2u);
  EXPECT_EQ(errors.ToStatus().message(),
            "10 bad rows (10 errors): line 2, column id: bad; line 3, column "
            "id: bad; and 8 more errors");
}

TEST(ErrorListTest, ZeroMaxErrorsStillCounts) {
  ErrorList errors(/*max_errors=*/0);
  errors.Add(4, "id", "bad");
  errors.Add(4, "date", "bad");
  EXPECT_TRUE(errors.errors().empty());
  EXPECT_EQ(errors.ToStatus().message(),
            "1 bad row (2 errors): and 2 more errors");
}

}  // namespace
}  // namespace premium::csv
