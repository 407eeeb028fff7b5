// Fuzz target of ledger/premium/upload.h: the three uploaded file kinds
// (purchases, payments, payroll) against a fixed ledger of programs and
// suppliers: the validation every upload request goes through.
//
// Input: one options byte, then the file.
//   bits 0-1: the kind (0 purchases, 1 payments, 2 payroll, 3 purchases);
//   bit 2: prepend the kind's header row, so mutations go to the rows;
//   bit 3: small reader limits (so the upload's limit errors run);
//   bits 4-7: how the file is cut into chunks.
// Oracles:
//   - all or nothing: on success one entry per data row (the rows a
//     separate csv::Reader finds), on the row's line, of the kind's record
//     type, holding the row's values; on error no entries, lines or totals,
//     and a message that names a line (or says the file has no header or no
//     rows), with InvalidArgument or ResourceExhausted, or the lookup's own
//     status when the (fake) ledger is down;
//   - what is accepted obeys the rules independently re-checked here: ids,
//     dates, currencies, positive amounts, dates in order, no repeated
//     business id, a program in force on the purchase date;
//   - the totals are the sums of the records;
//   - the result does not depend on how the file is cut into chunks, nor on
//     taking the records (TakeRecords) as they come.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "ledger/csv/csv_reader.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/program.h"
#include "ledger/premium/upload.h"
#include "tests/fuzz/fuzz_check.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

// Ids the fake ledger answers for as if it were down.
constexpr absl::string_view kDownId = "down";

constexpr csv::Limits kSmallLimits{.field_bytes_max = 24,
                                   .fields_per_record_max = 10,
                                   .record_bytes_max = 200,
                                   .records_max = 6};

pb::ProgramVersion Version(absl::string_view id, absl::string_view currency,
                           absl::string_view unit, int64_t worker_rate_micros,
                           int64_t supplier_rate_micros,
                           absl::string_view effective_date) {
  pb::ProgramVersion version;
  version.set_program_id(std::string(id));
  version.set_name(absl::StrCat("Program ", id));
  version.set_currency(std::string(currency));
  version.set_unit(std::string(unit));
  version.set_worker_rate_micros(worker_rate_micros);
  version.set_supplier_rate_micros(supplier_rate_micros);
  version.set_payment_terms_days(14);
  version.set_distribution_deadline_days(14);
  version.set_allocation(pb::HOURS);
  version.set_tolerance_micros(1'000'000);
  version.set_effective_date(std::string(effective_date));
  return version;
}

// The fixed program history: the seed programs of DESIGN section 3 and a
// few that reach other currencies, units and rounding.
const std::map<std::string, ProgramHistory>& Programs() {
  static const auto* const programs = [] {
    auto* programs = new std::map<std::string, ProgramHistory>();
    uint64_t seq = 1;
    const auto add = [&](pb::ProgramVersion version, absl::CivilDay day) {
      const std::string id = version.program_id();
      const absl::Status added = (*programs)[id].Add(
          ProgramVersionRecord{seq++, day, std::move(version)});
      FUZZ_CHECK(added.ok(), added.ToString());
    };
    // The Fair Food Program, raised mid-season.
    add(Version("ffp", "USD", "lb", 10'000, 0, "2025-01-01"),
        absl::CivilDay(2025, 1, 1));
    add(Version("ffp", "USD", "lb", 15'000, 0, "2025-03-01"),
        absl::CivilDay(2025, 3, 1));
    // The Burger King variant: a supplier part too.
    add(Version("bk", "USD", "lb", 10'000, 5'000, "2025-01-01"),
        absl::CivilDay(2025, 1, 1));
    // Milk with Dignity, per hundredweight.
    add(Version("mwd", "USD", "cwt", 50'000, 0, "2024-06-01"),
        absl::CivilDay(2024, 6, 1));
    add(Version("eu", "EUR", "kg", 20'000, 0, "2025-01-01"),
        absl::CivilDay(2025, 1, 1));
    add(Version("jp", "JPY", "each", 3'000'000, 0, "2025-01-01"),
        absl::CivilDay(2025, 1, 1));
    add(Version("cnt", "USD", "each", 1, 0, "2025-01-01"),
        absl::CivilDay(2025, 1, 1));
    return programs;
  }();
  return *programs;
}

UploadContext Context(Upload::Kind kind) {
  UploadContext context;
  context.party_id = kind == Upload::Kind::kPayroll ? "s1" : "b1";
  context.program =
      [](absl::string_view program_id) -> absl::StatusOr<ProgramHistory> {
    if (program_id == kDownId) {
      return absl::UnavailableError("the ledger is unavailable");
    }
    const auto it = Programs().find(std::string(program_id));
    if (it == Programs().end()) {
      return absl::NotFoundError(absl::StrCat("no program ", program_id));
    }
    return it->second;
  };
  context.supplier = [](absl::string_view supplier_id) -> absl::Status {
    if (supplier_id == kDownId) {
      return absl::UnavailableError("the ledger is unavailable");
    }
    if (supplier_id == "s1" || supplier_id == "s2") return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("no supplier ", supplier_id));
  };
  return context;
}

absl::Span<const absl::string_view> Columns(Upload::Kind kind) {
  switch (kind) {
    case Upload::Kind::kPurchases:
      return kPurchaseColumns;
    case Upload::Kind::kPayments:
      return kPaymentColumns;
    case Upload::Kind::kPayroll:
      return kPayrollColumns;
  }
  return {};
}

struct Result {
  absl::Status status;
  std::vector<AppendEntry> entries;
  std::vector<uint64_t> lines;
  absl::flat_hash_map<std::string, int64_t> totals_micros;
};

bool SameEntries(const std::vector<AppendEntry>& a,
                 const std::vector<AppendEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].kind != b[i].kind || a[i].payload != b[i].payload) return false;
  }
  return true;
}

Result UploadWhole(Upload::Kind kind, absl::string_view file,
                   const csv::Limits& limits) {
  Upload upload(kind, Context(kind), limits);
  Result result;
  result.status = upload.Feed(file);
  if (result.status.ok()) result.status = upload.Finish();
  // Errors are final.
  FUZZ_CHECK(upload.Finish() == result.status, "Finish changed its answer");
  result.entries = upload.entries();
  result.lines = upload.lines();
  result.totals_micros = upload.totals_micros();
  if (result.status.ok()) {
    FUZZ_CHECK(upload.record_count() == result.entries.size(), "record_count ",
               upload.record_count(), " for ", result.entries.size(),
               " entries");
  }
  return result;
}

// As UploadWhole, cut at pseudo-random points, taking the records made so
// far after every chunk.
Result UploadChunked(Upload::Kind kind, absl::string_view file,
                     const csv::Limits& limits, uint32_t seed) {
  Upload upload(kind, Context(kind), limits);
  Result result;
  size_t at = 0;
  while (result.status.ok() && at < file.size()) {
    seed = seed * 1103515245u + 12345u;
    const size_t length = std::min<size_t>((seed >> 16) % 40, file.size() - at);
    result.status = upload.Feed(file.substr(at, length));
    at += length;
    upload.TakeRecords(&result.entries, &result.lines);
  }
  if (result.status.ok()) result.status = upload.Finish();
  if (!result.status.ok()) {
    FUZZ_CHECK(upload.entries().empty() && upload.lines().empty() &&
                   upload.totals_micros().empty(),
               "records kept after ", result.status.ToString());
    result.entries.clear();  // taken before the error: not to be used
    result.lines.clear();
    return result;
  }
  upload.TakeRecords(&result.entries, &result.lines);
  result.totals_micros = upload.totals_micros();
  return result;
}

// ---------------------------------------------------------------------------
// The rules, re-checked on what was accepted.

bool IsId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

// YYYY-MM-DD, a real day in [1990, 2199].
std::optional<absl::CivilDay> Day(absl::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-')
    return std::nullopt;
  int year = 0;
  int month = 0;
  int day = 0;
  for (const size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  if (!absl::SimpleAtoi(text.substr(0, 4), &year) ||
      !absl::SimpleAtoi(text.substr(5, 2), &month) ||
      !absl::SimpleAtoi(text.substr(8, 2), &day)) {
    return std::nullopt;
  }
  const absl::CivilDay civil(year, month, day);
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      year < 1990 || year > 2199) {
    return std::nullopt;
  }
  return civil;
}

int MinorDigits(absl::string_view currency) {
  return currency == "JPY" || currency == "CLP" ? 0 : 2;
}

// A decimal field as the record holds it: the text must parse with `spec`
// to exactly the stored micros.
void CheckDecimal(absl::string_view text, DecimalSpec spec, int64_t micros,
                  bool positive, const std::string& what) {
  const absl::StatusOr<int64_t> parsed =
      ParseMicros(std::string_view(text.data(), text.size()), spec);
  FUZZ_CHECK(parsed.ok() && *parsed == micros && micros >= 0 &&
                 (!positive || micros > 0),
             what, ": \"", absl::CHexEscape(text), "\" stored as ", micros);
}

class RowChecker {
 public:
  RowChecker(Upload::Kind kind, const csv::Record& header)
      : kind_(kind), header_(header) {}

  // The value of column `name` in `row`.
  const std::string& Field(const csv::Record& row,
                           absl::string_view name) const {
    size_t column = 0;
    while (column < header_.fields.size() && header_.fields[column] != name) {
      ++column;
    }
    FUZZ_CHECK(column < header_.fields.size(), "no column ", name,
               " in an accepted header");
    return row.fields[column];
  }

  // Checks the entry made of `row`; adds to `totals`.
  void Check(const csv::Record& row, const AppendEntry& entry,
             std::map<std::string, int64_t>& totals) {
    const std::string what = absl::StrCat("line ", row.line);
    const auto field = [&](absl::string_view name) -> const std::string& {
      return Field(row, name);
    };
    switch (kind_) {
      case Upload::Kind::kPurchases: {
        pb::PurchaseReport report;
        FUZZ_CHECK(entry.kind == kPurchaseReportKind &&
                       report.ParseFromString(entry.payload),
                   what, ": not a purchase report");
        FUZZ_CHECK(report.brand_id() == "b1" &&
                       report.invoice_id() == field("invoice_id") &&
                       report.supplier_id() == field("supplier_id") &&
                       report.program_id() == field("program_id") &&
                       report.purchase_date() == field("purchase_date") &&
                       report.unit() == field("unit") &&
                       report.source_line() == row.line,
                   what, ": the record is not the row");
        FUZZ_CHECK(IsId(report.invoice_id()) && IsId(report.supplier_id()),
                   what, ": bad id accepted");
        FUZZ_CHECK(ids_.insert(report.invoice_id()).second, what,
                   ": invoice_id repeated");
        FUZZ_CHECK(report.supplier_id() == "s1" || report.supplier_id() == "s2",
                   what, ": unknown supplier accepted");
        CheckDecimal(field("quantity"), kQuantitySpec, report.quantity_micros(),
                     true, what);
        const ProgramHistory& program = CheckProgram(report.program_id(), what);
        const std::optional<absl::CivilDay> date = Day(report.purchase_date());
        FUZZ_CHECK(date.has_value(), what, ": bad purchase_date accepted");
        FUZZ_CHECK(*date >= program.first().effective_date, what,
                   ": purchase before the program starts");
        FUZZ_CHECK(report.premium_micros() >= report.worker_premium_micros() &&
                       report.worker_premium_micros() >= 0,
                   what, ": premium parts");
        totals[program.first().version.currency()] += report.premium_micros();
        break;
      }
      case Upload::Kind::kPayments: {
        pb::PremiumPayment payment;
        FUZZ_CHECK(entry.kind == kPremiumPaymentKind &&
                       payment.ParseFromString(entry.payload),
                   what, ": not a payment");
        FUZZ_CHECK(payment.brand_id() == "b1" &&
                       payment.payment_id() == field("payment_id") &&
                       payment.supplier_id() == field("supplier_id") &&
                       payment.program_id() == field("program_id") &&
                       payment.paid_date() == field("paid_date") &&
                       payment.currency() == field("currency") &&
                       payment.source_line() == row.line,
                   what, ": the record is not the row");
        FUZZ_CHECK(IsId(payment.payment_id()) && IsId(payment.supplier_id()),
                   what, ": bad id accepted");
        FUZZ_CHECK(ids_.insert(payment.payment_id()).second, what,
                   ": payment_id repeated");
        FUZZ_CHECK(
            payment.supplier_id() == "s1" || payment.supplier_id() == "s2",
            what, ": unknown supplier accepted");
        FUZZ_CHECK(Day(payment.paid_date()).has_value(), what,
                   ": bad paid_date accepted");
        const ProgramHistory& program =
            CheckProgram(payment.program_id(), what);
        FUZZ_CHECK(payment.currency() == program.first().version.currency(),
                   what, ": another currency than the program's accepted");
        CheckDecimal(field("amount"),
                     AmountSpec(MinorDigits(payment.currency())),
                     payment.amount_micros(), true, what);
        totals[payment.currency()] += payment.amount_micros();
        break;
      }
      case Upload::Kind::kPayroll: {
        pb::PayrollLine line;
        FUZZ_CHECK(entry.kind == kPayrollLineKind &&
                       line.ParseFromString(entry.payload),
                   what, ": not a payroll line");
        FUZZ_CHECK(line.supplier_id() == "s1" &&
                       line.program_id() == field("program_id") &&
                       line.worker_id() == field("worker_id") &&
                       line.period_start() == field("period_start") &&
                       line.period_end() == field("period_end") &&
                       line.pay_date() == field("pay_date") &&
                       line.currency() == field("currency") &&
                       line.source_line() == row.line,
                   what, ": the record is not the row");
        FUZZ_CHECK(IsId(line.worker_id()), what, ": bad worker_id accepted");
        const std::optional<absl::CivilDay> start = Day(line.period_start());
        const std::optional<absl::CivilDay> end = Day(line.period_end());
        const std::optional<absl::CivilDay> pay = Day(line.pay_date());
        FUZZ_CHECK(start.has_value() && end.has_value() && pay.has_value() &&
                       *end >= *start && *pay >= *start,
                   what, ": bad or disordered dates accepted");
        const ProgramHistory& program = CheckProgram(line.program_id(), what);
        FUZZ_CHECK(line.currency() == program.first().version.currency(), what,
                   ": another currency than the program's accepted");
        const DecimalSpec amount = AmountSpec(MinorDigits(line.currency()));
        CheckDecimal(field("hours"), kHoursSpec, line.hours_micros(), false,
                     what);
        CheckDecimal(field("gross_wages"), amount, line.gross_wages_micros(),
                     false, what);
        CheckDecimal(field("premium_amount"), amount, line.premium_micros(),
                     false, what);
        totals[line.currency()] += line.premium_micros();
        break;
      }
    }
  }

 private:
  const ProgramHistory& CheckProgram(const std::string& program_id,
                                     const std::string& what) {
    const auto it = Programs().find(program_id);
    FUZZ_CHECK(it != Programs().end(), what, ": unknown program accepted");
    return it->second;
  }

  const Upload::Kind kind_;
  const csv::Record header_;
  std::set<std::string> ids_;
};

// The rows of the file as the reader sees them: nullopt if it refuses it.
std::optional<std::vector<csv::Record>> Records(absl::string_view file,
                                                const csv::Limits& limits) {
  csv::Reader reader(limits);
  if (!reader.Feed(file).ok() || !reader.Finish().ok()) return std::nullopt;
  std::vector<csv::Record> records;
  while (std::optional<csv::Record> record = reader.Next()) {
    records.push_back(*std::move(record));
  }
  return records;
}

// Whether an error message names where the problem is.
bool NamesALine(absl::string_view message) {
  if (message == "the file is empty: no header row" ||
      message == "the file has a header but no rows") {
    return true;
  }
  // "line L..." from the reader or the header row; "N bad rows (E errors):
  // line L..." from the rows.
  const size_t at = message.find("line ");
  if (at == absl::string_view::npos) return false;
  const absl::string_view after = message.substr(at + 5);
  if (after.empty() || after[0] < '1' || after[0] > '9') return false;
  return at == 0 || absl::StrContains(message.substr(0, at), "bad row");
}

void CheckOutcome(Upload::Kind kind, absl::string_view file,
                  const csv::Limits& limits, const Result& result) {
  if (!result.status.ok()) {
    FUZZ_CHECK(result.entries.empty() && result.lines.empty() &&
                   result.totals_micros.empty(),
               "records kept after ", result.status.ToString());
    if (result.status.code() == absl::StatusCode::kUnavailable) {
      // Only the fake ledger's outage is passed on, as it is.
      FUZZ_CHECK(result.status.message() == "the ledger is unavailable" &&
                     absl::StrContains(file, kDownId),
                 result.status.ToString());
      return;
    }
    FUZZ_CHECK(result.status.code() == absl::StatusCode::kInvalidArgument ||
                   result.status.code() == absl::StatusCode::kResourceExhausted,
               result.status.ToString());
    FUZZ_CHECK(NamesALine(result.status.message()),
               "the error names no line: ", result.status.ToString());
    return;
  }
  const std::optional<std::vector<csv::Record>> records = Records(file, limits);
  FUZZ_CHECK(records.has_value() && !records->empty(),
             "accepted a file the reader refuses");
  const csv::Record& header = records->front();
  FUZZ_CHECK(csv::Header::Parse(header, Columns(kind)).ok(),
             "accepted a bad header row");
  const size_t rows = records->size() - 1;
  FUZZ_CHECK(
      rows > 0 && result.entries.size() == rows && result.lines.size() == rows,
      "accepted ", result.entries.size(), " entries (", result.lines.size(),
      " lines) for ", rows, " rows");
  RowChecker checker(kind, header);
  std::map<std::string, int64_t> totals;
  for (size_t i = 0; i < rows; ++i) {
    const csv::Record& row = (*records)[i + 1];
    FUZZ_CHECK(result.lines[i] == row.line, "entry ", i, " on line ",
               result.lines[i], ", its row is on line ", row.line);
    FUZZ_CHECK(row.fields.size() == header.fields.size(), "line ", row.line,
               ": a row of another width accepted");
    checker.Check(row, result.entries[i], totals);
  }
  std::map<std::string, int64_t> reported(result.totals_micros.begin(),
                                          result.totals_micros.end());
  FUZZ_CHECK(reported == totals, "totals differ from the records' sums");
}

}  // namespace
}  // namespace premium

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using premium::Upload;
  if (size == 0) return 0;
  const uint8_t options = bytes[0];
  const Upload::Kind kind = (options & 3) == 1   ? Upload::Kind::kPayments
                            : (options & 3) == 2 ? Upload::Kind::kPayroll
                                                 : Upload::Kind::kPurchases;
  std::string file;
  if ((options & 4) != 0) {
    file = absl::StrCat(absl::StrJoin(premium::Columns(kind), ","), "\n");
  }
  file.append(reinterpret_cast<const char*>(bytes + 1), size - 1);
  const premium::csv::Limits limits =
      (options & 8) != 0 ? premium::kSmallLimits : premium::csv::Limits{};

  const premium::Result whole = premium::UploadWhole(kind, file, limits);
  premium::CheckOutcome(kind, file, limits, whole);
  const premium::Result chunked =
      premium::UploadChunked(kind, file, limits, options >> 4);
  FUZZ_CHECK(chunked.status == whole.status,
             "chunked: ", chunked.status.ToString(),
             "; whole: ", whole.status.ToString());
  FUZZ_CHECK(premium::SameEntries(chunked.entries, whole.entries) &&
                 chunked.lines == whole.lines &&
                 chunked.totals_micros == whole.totals_micros,
             "chunked and whole uploads made different records");
  return 0;
}
