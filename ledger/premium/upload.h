// Uploaded CSV files (DESIGN section 8) turned into ledger records. An
// upload is all or nothing: every row is validated, every problem is
// reported with its line and column, and records are produced only when the
// whole file is good. Pure library code: what the services know of the
// ledger (programs, parties) reaches it through UploadContext.
#ifndef PREMIUM_LEDGER_PREMIUM_UPLOAD_H_
#define PREMIUM_LEDGER_PREMIUM_UPLOAD_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ledger/csv/csv_reader.h"
#include "ledger/ledger.h"
#include "ledger/premium/program.h"

namespace premium {

// The columns of each file kind, exactly as DESIGN section 8 names them.
inline constexpr absl::string_view kPurchaseColumns[] = {
    "invoice_id",    "supplier_id", "program_id",
    "purchase_date", "quantity",    "unit"};
inline constexpr absl::string_view kPaymentColumns[] = {
    "payment_id", "supplier_id", "program_id",
    "paid_date",  "amount",      "currency"};
inline constexpr absl::string_view kPayrollColumns[] = {
    "program_id", "worker_id",   "period_start",   "period_end", "pay_date",
    "hours",      "gross_wages", "premium_amount", "currency"};

// What an upload needs to know of the ledger. Each lookup is called at most
// once per distinct id of an upload.
struct UploadContext {
  // The party uploading (the brand for purchases and payments, the
  // supplier for payroll).
  std::string party_id;
  // All versions of a program; NotFound if there is no such program.
  std::function<absl::StatusOr<ProgramHistory>(absl::string_view program_id)>
      program;
  // OK if `supplier_id` is a registered supplier; NotFound otherwise.
  std::function<absl::Status(absl::string_view supplier_id)> supplier;
};

// Reads one uploaded file, a chunk at a time, into ledger entries.
class Upload {
 public:
  enum class Kind { kPurchases, kPayments, kPayroll };

  Upload(Kind kind, UploadContext context, csv::Limits limits = {});
  ~Upload();

  // Feeds the next chunk of the file. A CSV syntax error, a bad header row
  // or an exceeded limit ends the upload with that error (InvalidArgument or
  // ResourceExhausted naming the line and column), as does a lookup that
  // fails other than with NotFound (its own status: the ledger's problem,
  // not the file's); row problems are collected and reported by Finish.
  // The error is the first in file order, whatever the chunks.
  // Errors are final: every later Feed and Finish returns the same status.
  absl::Status Feed(absl::string_view chunk);

  // Ends the file. InvalidArgument listing every bad row (line, column,
  // reason) unless the whole file is good; then entries() holds one entry
  // per data row, in file order. After any error entries(), lines() and
  // totals_micros() are empty.
  absl::Status Finish();

  // The records, as ledger entries; valid after Finish returned OK.
  std::vector<AppendEntry>& entries() { return entries_; }
  // The physical line each entry came from.
  const std::vector<uint64_t>& lines() const { return lines_; }
  // Moves the records made so far (and their lines) to the end of
  // `entries` and `lines`, so a large file need not be held whole. Records
  // taken before Finish are only good if Finish then returns OK.
  void TakeRecords(std::vector<AppendEntry>* entries,
                   std::vector<uint64_t>* lines);
  // Records made so far, taken or not.
  uint64_t record_count() const { return record_count_; }
  // Premium (purchases, payroll) or amount (payments) per currency, in
  // micro-units.
  const absl::flat_hash_map<std::string, int64_t>& totals_micros() const {
    return totals_micros_;
  }

 private:
  absl::Status Drain();
  // Makes `status` final and drops every record: nothing of a bad file may
  // be appended.
  absl::Status Fail(absl::Status status);
  void ParseRow(const csv::Record& record);
  void ParsePurchase(const csv::Record& record);
  void ParsePayment(const csv::Record& record);
  void ParsePayroll(const csv::Record& record);
  const ProgramHistory* Program(absl::string_view program_id, uint64_t line,
                                absl::string_view column);
  bool SupplierKnown(absl::string_view supplier_id, uint64_t line);
  void AddTotal(const std::string& currency, int64_t micros, uint64_t line);

  const Kind kind_;
  const UploadContext context_;
  csv::Reader reader_;
  // The error that ended the upload; sticky.
  absl::Status status_;
  // The first lookup that failed other than with NotFound.
  absl::Status lookup_failure_;
  std::optional<csv::Header> header_;
  csv::ErrorList errors_;
  std::vector<AppendEntry> entries_;
  std::vector<uint64_t> lines_;
  uint64_t record_count_ = 0;
  absl::flat_hash_map<std::string, int64_t> totals_micros_;
  // Business ids seen in this file and their line, to name duplicates.
  absl::flat_hash_map<std::string, uint64_t> ids_;
  // Lookups made once per upload.
  absl::flat_hash_map<std::string, absl::StatusOr<ProgramHistory>> programs_;
  absl::flat_hash_map<std::string, absl::Status> suppliers_;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_UPLOAD_H_
