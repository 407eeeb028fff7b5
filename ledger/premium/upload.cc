#include "ledger/premium/upload.h"

#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "ledger/money/units.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/validation.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

std::string_view ToStd(absl::string_view text) {
  return std::string_view(text.data(), text.size());
}

}  // namespace

Upload::Upload(Kind kind, UploadContext context, csv::Limits limits)
    : kind_(kind), context_(std::move(context)), reader_(limits) {}

Upload::~Upload() = default;

absl::Status Upload::Fail(absl::Status status) {
  status_ = std::move(status);
  entries_.clear();
  lines_.clear();
  totals_micros_.clear();
  return status_;
}

void Upload::TakeRecords(std::vector<AppendEntry>* entries,
                         std::vector<uint64_t>* lines) {
  entries->insert(entries->end(), std::make_move_iterator(entries_.begin()),
                  std::make_move_iterator(entries_.end()));
  lines->insert(lines->end(), lines_.begin(), lines_.end());
  entries_.clear();
  lines_.clear();
}

absl::Status Upload::Feed(absl::string_view chunk) {
  if (!status_.ok()) return status_;
  const absl::Status read = reader_.Feed(chunk);
  // The records completed before a syntax error come first, as in the
  // file, so that the error reported is the first in file order however
  // the file was cut into chunks: a bad header row on line 1 wins over a bad
  // byte on line 2 whether or not they arrive in the same chunk.
  if (absl::Status s = Drain(); !s.ok()) return Fail(s);
  if (!read.ok()) return Fail(read);
  return absl::OkStatus();
}

absl::Status Upload::Finish() {
  if (!status_.ok()) return status_;
  if (absl::Status s = reader_.Finish(); !s.ok()) return Fail(s);
  if (absl::Status s = Drain(); !s.ok()) return Fail(s);
  if (!header_.has_value()) {
    return Fail(absl::InvalidArgumentError("the file is empty: no header row"));
  }
  if (record_count_ == 0 && errors_.empty()) {
    return Fail(
        absl::InvalidArgumentError("the file has a header but no rows"));
  }
  if (!errors_.empty()) return Fail(errors_.ToStatus());
  return absl::OkStatus();
}

absl::Status Upload::Drain() {
  while (std::optional<csv::Record> record = reader_.Next()) {
    if (!header_.has_value()) {
      absl::Span<const absl::string_view> columns = kPurchaseColumns;
      if (kind_ == Kind::kPayments) columns = kPaymentColumns;
      if (kind_ == Kind::kPayroll) columns = kPayrollColumns;
      absl::StatusOr<csv::Header> header = csv::Header::Parse(*record, columns);
      if (!header.ok()) return header.status();
      header_ = *std::move(header);
      continue;
    }
    if (record->fields.size() != header_->width()) {
      errors_.Add(record->line, "",
                  absl::StrCat("expected ", header_->width(), " fields, got ",
                               record->fields.size()));
      continue;
    }
    ParseRow(*record);
    if (!lookup_failure_.ok()) return lookup_failure_;
  }
  return absl::OkStatus();
}

void Upload::ParseRow(const csv::Record& record) {
  switch (kind_) {
    case Kind::kPurchases:
      return ParsePurchase(record);
    case Kind::kPayments:
      return ParsePayment(record);
    case Kind::kPayroll:
      return ParsePayroll(record);
  }
}

const ProgramHistory* Upload::Program(absl::string_view program_id,
                                      uint64_t line, absl::string_view column) {
  auto it = programs_.find(program_id);
  if (it == programs_.end()) {
    it =
        programs_.emplace(std::string(program_id), context_.program(program_id))
            .first;
  }
  if (!it->second.ok()) {
    if (!absl::IsNotFound(it->second.status())) {
      if (lookup_failure_.ok()) lookup_failure_ = it->second.status();
      return nullptr;
    }
    errors_.Add(line, column, absl::StrCat("no program \"", program_id, "\""));
    return nullptr;
  }
  return &*it->second;
}

bool Upload::SupplierKnown(absl::string_view supplier_id, uint64_t line) {
  auto it = suppliers_.find(supplier_id);
  if (it == suppliers_.end()) {
    it = suppliers_
             .emplace(std::string(supplier_id), context_.supplier(supplier_id))
             .first;
  }
  if (!it->second.ok()) {
    if (!absl::IsNotFound(it->second)) {
      if (lookup_failure_.ok()) lookup_failure_ = it->second;
      return false;
    }
    errors_.Add(line, "supplier_id",
                absl::StrCat("no registered supplier \"", supplier_id, "\""));
    return false;
  }
  return true;
}

void Upload::AddTotal(const std::string& currency, int64_t micros,
                      uint64_t line) {
  absl::StatusOr<int64_t> sum = CheckedAdd(totals_micros_[currency], micros);
  if (!sum.ok()) {
    errors_.Add(line, "", "the file's total overflows");
    return;
  }
  totals_micros_[currency] = *sum;
}

void Upload::ParsePurchase(const csv::Record& record) {
  const uint64_t line = record.line;
  const auto field = [&](absl::string_view name) -> const std::string& {
    return record.fields[header_->index(name)];
  };
  const size_t errors_before = errors_.count();
  const auto check = [&](absl::string_view column, const absl::Status& s) {
    if (!s.ok()) errors_.Add(line, column, s.message());
    return s.ok();
  };
  const std::string& invoice_id = field("invoice_id");
  if (check("invoice_id", ValidateId("invoice_id", invoice_id))) {
    const auto [it, inserted] = ids_.emplace(invoice_id, line);
    if (!inserted) {
      errors_.Add(
          line, "invoice_id",
          absl::StrCat("invoice_id \"", invoice_id,
                       "\" appears again (first on line ", it->second, ")"));
    }
  }
  const std::string& supplier_id = field("supplier_id");
  if (check("supplier_id", ValidateId("supplier_id", supplier_id))) {
    SupplierKnown(supplier_id, line);
  }
  const std::string& program_id = field("program_id");
  const ProgramHistory* history = nullptr;
  if (check("program_id", ValidateId("program_id", program_id))) {
    history = Program(program_id, line, "program_id");
  }
  absl::StatusOr<absl::CivilDay> date =
      ParseDate("purchase_date", field("purchase_date"));
  check("purchase_date", date.status());
  absl::StatusOr<int64_t> quantity =
      ParseMicros(ToStd(field("quantity")), kQuantitySpec);
  if (check("quantity", quantity.status()) && *quantity == 0) {
    errors_.Add(line, "quantity", "quantity must be greater than 0");
  }
  absl::StatusOr<Unit> unit = ParseUnit(ToStd(field("unit")));
  check("unit", unit.status());
  if (errors_.count() != errors_before || history == nullptr) return;

  absl::StatusOr<const ProgramVersionRecord*> version =
      history->InForceOn(*date);
  if (!version.ok()) {
    errors_.Add(line, "purchase_date",
                absl::StrCat("purchase_date ", field("purchase_date"),
                             " is before program ", program_id, " starts (",
                             history->first().version.effective_date(), ")"));
    return;
  }
  absl::StatusOr<PurchasePremium> premium =
      ComputePurchasePremium((*version)->version, *quantity, *unit);
  if (!premium.ok()) {
    errors_.Add(line,
                absl::IsOutOfRange(premium.status()) ? "quantity" : "unit",
                premium.status().message());
    return;
  }
  pb::PurchaseReport report;
  report.set_brand_id(context_.party_id);
  report.set_invoice_id(invoice_id);
  report.set_supplier_id(supplier_id);
  report.set_program_id(program_id);
  report.set_purchase_date(field("purchase_date"));
  report.set_quantity_micros(*quantity);
  report.set_unit(field("unit"));
  report.set_premium_micros(premium->premium_micros);
  report.set_worker_premium_micros(premium->worker_premium_micros);
  report.set_program_version_seq((*version)->seq);
  report.set_source_line(line);
  AddTotal((*version)->version.currency(), premium->premium_micros, line);
  entries_.push_back(
      AppendEntry{kPurchaseReportKind, report.SerializeAsString()});
  lines_.push_back(line);
  ++record_count_;
}

void Upload::ParsePayment(const csv::Record& record) {
  const uint64_t line = record.line;
  const auto field = [&](absl::string_view name) -> const std::string& {
    return record.fields[header_->index(name)];
  };
  const size_t errors_before = errors_.count();
  const auto check = [&](absl::string_view column, const absl::Status& s) {
    if (!s.ok()) errors_.Add(line, column, s.message());
    return s.ok();
  };
  const std::string& payment_id = field("payment_id");
  if (check("payment_id", ValidateId("payment_id", payment_id))) {
    const auto [it, inserted] = ids_.emplace(payment_id, line);
    if (!inserted) {
      errors_.Add(
          line, "payment_id",
          absl::StrCat("payment_id \"", payment_id,
                       "\" appears again (first on line ", it->second, ")"));
    }
  }
  const std::string& supplier_id = field("supplier_id");
  if (check("supplier_id", ValidateId("supplier_id", supplier_id))) {
    SupplierKnown(supplier_id, line);
  }
  const std::string& program_id = field("program_id");
  const ProgramHistory* history = nullptr;
  if (check("program_id", ValidateId("program_id", program_id))) {
    history = Program(program_id, line, "program_id");
  }
  check("paid_date", ParseDate("paid_date", field("paid_date")).status());
  const std::string& currency = field("currency");
  absl::StatusOr<int> minor_digits = CurrencyMinorDigits("currency", currency);
  if (check("currency", minor_digits.status()) && history != nullptr &&
      currency != history->first().version.currency()) {
    errors_.Add(line, "currency",
                absl::StrCat("currency ", currency, " is not program ",
                             program_id, "'s currency (",
                             history->first().version.currency(), ")"));
  }
  // Without a valid currency the amount's precision is unknown; the
  // currency error above already names the row.
  if (!minor_digits.ok()) return;
  absl::StatusOr<int64_t> amount =
      ParseMicros(ToStd(field("amount")), AmountSpec(*minor_digits));
  if (check("amount", amount.status()) && *amount == 0) {
    errors_.Add(line, "amount", "amount must be greater than 0");
  }
  if (errors_.count() != errors_before) return;

  pb::PremiumPayment payment;
  payment.set_brand_id(context_.party_id);
  payment.set_payment_id(payment_id);
  payment.set_supplier_id(supplier_id);
  payment.set_program_id(program_id);
  payment.set_paid_date(field("paid_date"));
  payment.set_amount_micros(*amount);
  payment.set_currency(currency);
  payment.set_source_line(line);
  AddTotal(currency, *amount, line);
  entries_.push_back(
      AppendEntry{kPremiumPaymentKind, payment.SerializeAsString()});
  lines_.push_back(line);
  ++record_count_;
}

void Upload::ParsePayroll(const csv::Record& record) {
  const uint64_t line = record.line;
  const auto field = [&](absl::string_view name) -> const std::string& {
    return record.fields[header_->index(name)];
  };
  const size_t errors_before = errors_.count();
  const auto check = [&](absl::string_view column, const absl::Status& s) {
    if (!s.ok()) errors_.Add(line, column, s.message());
    return s.ok();
  };
  const std::string& program_id = field("program_id");
  const ProgramHistory* history = nullptr;
  if (check("program_id", ValidateId("program_id", program_id))) {
    history = Program(program_id, line, "program_id");
  }
  check("worker_id", ValidateId("worker_id", field("worker_id")));
  absl::StatusOr<absl::CivilDay> start =
      ParseDate("period_start", field("period_start"));
  absl::StatusOr<absl::CivilDay> end =
      ParseDate("period_end", field("period_end"));
  absl::StatusOr<absl::CivilDay> pay = ParseDate("pay_date", field("pay_date"));
  check("period_start", start.status());
  if (check("period_end", end.status()) && start.ok() && *end < *start) {
    errors_.Add(line, "period_end", "period_end is before period_start");
  }
  if (check("pay_date", pay.status()) && start.ok() && *pay < *start) {
    errors_.Add(line, "pay_date", "pay_date is before period_start");
  }
  absl::StatusOr<int64_t> hours =
      ParseMicros(ToStd(field("hours")), kHoursSpec);
  check("hours", hours.status());
  const std::string& currency = field("currency");
  absl::StatusOr<int> minor_digits = CurrencyMinorDigits("currency", currency);
  if (check("currency", minor_digits.status()) && history != nullptr &&
      currency != history->first().version.currency()) {
    errors_.Add(line, "currency",
                absl::StrCat("currency ", currency, " is not program ",
                             program_id, "'s currency (",
                             history->first().version.currency(), ")"));
  }
  if (!minor_digits.ok()) return;
  absl::StatusOr<int64_t> wages =
      ParseMicros(ToStd(field("gross_wages")), AmountSpec(*minor_digits));
  check("gross_wages", wages.status());
  absl::StatusOr<int64_t> premium =
      ParseMicros(ToStd(field("premium_amount")), AmountSpec(*minor_digits));
  check("premium_amount", premium.status());
  if (errors_.count() != errors_before) return;

  // Duplicate lines for one worker and period are accepted: reconciliation
  // reports them (DUPLICATE_PAYROLL_LINE) with their evidence.
  pb::PayrollLine payroll;
  payroll.set_supplier_id(context_.party_id);
  payroll.set_program_id(program_id);
  payroll.set_worker_id(field("worker_id"));
  payroll.set_period_start(field("period_start"));
  payroll.set_period_end(field("period_end"));
  payroll.set_pay_date(field("pay_date"));
  payroll.set_hours_micros(*hours);
  payroll.set_gross_wages_micros(*wages);
  payroll.set_premium_micros(*premium);
  payroll.set_currency(currency);
  payroll.set_source_line(line);
  AddTotal(currency, *premium, line);
  entries_.push_back(
      AppendEntry{kPayrollLineKind, payroll.SerializeAsString()});
  lines_.push_back(line);
  ++record_count_;
}

}  // namespace premium
