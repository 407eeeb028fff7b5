// Writes a season's files (season.h, WriteSeason). Rows are formatted into
// a buffer that is flushed every kFlushBytes, so a season of a million
// payroll lines never exists as text in memory.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "nlohmann/json.hpp"
#include "tests/season/season.h"

namespace premium::season {
namespace {

constexpr size_t kFlushBytes = 1 << 20;

// A file written through a buffer; the first failure is kept and reported
// by Close.
class Sink {
 public:
  explicit Sink(std::string path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr) Fail("cannot create");
    buffer_.reserve(kFlushBytes + 4096);
  }
  ~Sink() {
    if (file_ != nullptr) std::fclose(file_);
  }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  std::string& buffer() { return buffer_; }
  // Call after appending a row to buffer().
  void RowDone() {
    if (buffer_.size() >= kFlushBytes) Flush();
  }

  absl::Status Close() {
    Flush();
    if (file_ != nullptr) {
      if (std::fclose(file_) != 0) Fail("cannot close");
      file_ = nullptr;
    }
    return status_;
  }

 private:
  void Flush() {
    if (file_ != nullptr && !buffer_.empty() &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_) !=
            buffer_.size()) {
      Fail("cannot write");
    }
    buffer_.clear();
  }
  void Fail(const char* what) {
    if (status_.ok()) {
      status_ = absl::UnavailableError(
          absl::StrCat(what, " ", path_, ": ", std::strerror(errno)));
    }
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
  absl::Status status_;
};

std::string Amount(int64_t micros) { return FormatMicros(micros, 2); }

// Debian's absl::string_view is not std::string_view.
absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

absl::Status WritePurchases(const Season& season, int brand,
                            const std::string& dir) {
  Sink sink(absl::StrCat(dir, "/purchases-", season.brands[brand].id, ".csv"));
  std::string& out = sink.buffer();
  out = "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
  for (const Purchase& p : season.purchases[brand]) {
    absl::StrAppend(&out, p.invoice_id, ",", season.suppliers[p.supplier].id,
                    ",", season.program_ids[p.program], ",", FormatDay(p.date),
                    ",", FormatMicros(p.quantity_micros, 0), ",",
                    ToAbsl(UnitName(p.unit)), "\n");
    sink.RowDone();
  }
  return sink.Close();
}

absl::Status WritePayments(const Season& season, int brand,
                           const std::string& dir) {
  Sink sink(absl::StrCat(dir, "/payments-", season.brands[brand].id, ".csv"));
  std::string& out = sink.buffer();
  out = "payment_id,supplier_id,program_id,paid_date,amount,currency\n";
  for (const Payment& p : season.payments[brand]) {
    absl::StrAppend(&out, p.payment_id, ",", season.suppliers[p.supplier].id,
                    ",", season.program_ids[p.program], ",", FormatDay(p.date),
                    ",", Amount(p.amount_micros), ",USD\n");
    sink.RowDone();
  }
  return sink.Close();
}

absl::Status WritePayroll(const Season& season, int supplier,
                          const std::string& dir) {
  Sink sink(
      absl::StrCat(dir, "/payroll-", season.suppliers[supplier].id, ".csv"));
  std::string& out = sink.buffer();
  out =
      "program_id,worker_id,period_start,period_end,pay_date,hours,"
      "gross_wages,premium_amount,currency\n";
  // Each period's dates, formatted once.
  std::vector<std::string> dates;
  for (const PayPeriod& period : season.periods) {
    dates.push_back(absl::StrCat(FormatDay(period.start), ",",
                                 FormatDay(period.end), ",",
                                 FormatDay(period.pay_date)));
  }
  const SupplierPayroll& payroll = season.payroll[supplier];
  for (const PayrollLine& line : payroll.lines) {
    absl::StrAppend(&out, season.program_ids[line.program], ",",
                    payroll.worker_ids[line.worker], ",", dates[line.period],
                    ",", Amount(line.hours_micros), ",",
                    Amount(line.gross_wages_micros), ",",
                    Amount(line.premium_micros), ",USD\n");
    sink.RowDone();
  }
  return sink.Close();
}

absl::Status WriteJson(const Season& season, const std::string& dir) {
  using nlohmann::json;
  json document;
  document["style"] = season.options.style == Style::kFairFood ? "ffp" : "mwd";
  // A string: JSON numbers lose 64-bit integers in many readers.
  document["seed"] = std::to_string(season.options.seed);
  document["as_of"] = FormatDay(season.as_of);
  json programs = json::array();
  for (const ProgramVersionSpec& v : season.versions) {
    programs.push_back(
        {{"id", v.program_id},
         {"name", v.name},
         {"currency", v.currency},
         {"unit", v.unit},
         {"worker_rate", Amount(v.worker_rate_micros)},
         {"supplier_rate", Amount(v.supplier_rate_micros)},
         {"payment_terms_days", v.payment_terms_days},
         {"distribution_deadline_days", v.distribution_deadline_days},
         {"allocation", AllocationName(v.allocation)},
         {"tolerance", Amount(v.tolerance_micros)},
         {"effective", FormatDay(v.effective_date)}});
  }
  document["programs"] = std::move(programs);
  json parties = json::array();
  for (const auto* group : {&season.brands, &season.suppliers}) {
    for (const Party& party : *group) {
      parties.push_back(
          {{"role", party.role}, {"id", party.id}, {"name", party.name}});
    }
  }
  document["parties"] = std::move(parties);
  json suspensions = json::array();
  for (const SuspensionSpec& s : season.suspensions) {
    suspensions.push_back(
        {{"program", season.program_ids[s.program]},
         {"supplier", season.suppliers[s.supplier].id},
         {"from", FormatDay(s.from)},
         {"to", s.to.has_value() ? FormatDay(*s.to) : std::string()},
         {"reason", s.reason}});
  }
  document["suspensions"] = std::move(suspensions);
  json disputes = json::array();
  for (const DisputeSpec& d : season.disputes) {
    disputes.push_back(
        {{"program", season.program_ids[d.program]},
         {"supplier", season.suppliers[d.supplier].id},
         {"worker", season.payroll[d.supplier].worker_ids[d.worker]},
         {"period_start", FormatDay(season.periods[d.period].start)},
         {"period_end", FormatDay(season.periods[d.period].end)},
         {"paystub_amount", Amount(d.paystub_amount_micros)},
         {"note", d.note}});
  }
  document["disputes"] = std::move(disputes);
  Sink sink(absl::StrCat(dir, "/season.json"));
  sink.buffer() = document.dump(2);
  sink.buffer() += "\n";
  return sink.Close();
}

absl::Status WriteExpected(const Season& season, const std::string& dir) {
  Sink sink(absl::StrCat(dir, "/expected.csv"));
  std::string& out = sink.buffer();
  out = absl::StrCat(kExpectedHeader, "\n");
  for (const ExpectedDiscrepancy& d : season.expected) {
    absl::StrAppend(&out, ExpectedRow(d), "\n");
    sink.RowDone();
  }
  return sink.Close();
}

}  // namespace

absl::Status WriteSeason(const Season& season, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  // An upload needs at least one row: files without any are not written.
  for (size_t b = 0; b < season.brands.size(); ++b) {
    if (!season.purchases[b].empty()) {
      if (absl::Status s = WritePurchases(season, b, dir); !s.ok()) return s;
    }
    if (!season.payments[b].empty()) {
      if (absl::Status s = WritePayments(season, b, dir); !s.ok()) return s;
    }
  }
  for (size_t s = 0; s < season.suppliers.size(); ++s) {
    if (season.payroll[s].lines.empty()) continue;
    if (absl::Status status = WritePayroll(season, s, dir); !status.ok()) {
      return status;
    }
  }
  if (absl::Status s = WriteJson(season, dir); !s.ok()) return s;
  return WriteExpected(season, dir);
}

}  // namespace premium::season
