// Reconciliation (DESIGN section 7): follows each premium dollar from the
// purchase that created it, through the brand's payment, to the workers'
// paychecks, and reports every place it stopped, shrank or arrived late.
//
// A Reconciler is derived state: it is fed the ledger's entries in order and
// keeps, per program, brand, supplier and pay period, only what the rules
// need. Work is incremental: Apply marks the accounts an entry touches, and
// Reconcile recomputes only those (and, when the as-of date changes, every
// brand-supplier pair and supplier, but only the pay periods in which the
// date moves which lines or disputes count), so a reconcile after one more
// upload does not rescan the season. Nothing here is persisted: it is rebuilt
// from the log on start.
//
// Memory grows with uploads and pay periods, not with payroll lines: a pay
// period keeps, per pay day, its lines' premium sums and where in the log
// they are (SeqRuns: a run of consecutive seqs per upload, not a fact per
// line), and its own rules (duplicates, premium without hours, allocation
// skew) read its lines back from the EntryLog when its findings are
// recomputed, except while the period is being applied. Purchases are kept
// as a sum per brand, supplier and purchase date, with their seqs as
// SeqRuns (the one finding that names a purchase reads it back). Payments,
// disputes and resolutions, a few per brand or worker and season, are kept
// one by one. Evidence is SeqRuns too: a supplier's UNDISTRIBUTED_PREMIUM or
// LATE_DISTRIBUTION names every payroll line it counts, in a few runs per
// upload.
//
// Definitions beyond DESIGN section 7 (the choices an auditor needs to know):
//   - Due dates. A purchase dated d is due d + payment_terms_days of the
//     program version in force on d; a payment received on d must be on
//     paychecks by d + distribution_deadline_days of the version in force on
//     d (the first version for payments dated before the program starts).
//     With one version this is exactly Owed(t - terms) and
//     Received(t - deadline). The worker portion of a payment uses the rates
//     of the version in force on its date; the tolerance and the allocation
//     rule are those in force on the as-of date and on the period's end.
//   - Dates of a discrepancy (period_start, period_end):
//       pay-period types and WORKER_DISPUTE: the pay period;
//       BRAND_UNDERPAID, UNDISTRIBUTED_PREMIUM, BRAND_OVERPAID: the day the
//         current run above the tolerance began, and no end;
//       LATE_BRAND_PAYMENT, LATE_DISTRIBUTION: the run that reached the
//         largest shortfall (gap) — the earliest of equal ones — from the
//         day it began to the day it was cured; days lasted = end - start;
//       PURCHASE_FROM_SUSPENDED_SUPPLIER: the purchase date, both.
//   - Amounts of the per-record types (difference always positive, rounded
//     half-even to the cent; expected and actual exact):
//       DUPLICATE_PAYROLL_LINE: expected = premium of the worker's first
//         line in the period (ledger order), actual = premium of all of them;
//       PREMIUM_WITHOUT_HOURS: expected 0, actual = the line's premium;
//       ALLOCATION_SKEW: expected = r × hours (or wages) rounded half-even
//         to the micro-unit, actual = the line's premium;
//       PURCHASE_FROM_SUSPENDED_SUPPLIER: expected 0, actual = premium owed
//         on the purchase;
//       WORKER_DISPUTE: expected = premium recorded on the disputed lines,
//         actual = what the latest dispute of each line says the paystub
//         shows.
//     A worker with several flagged lines in one period has one discrepancy
//     of each type: expected and actual are summed over them, and the
//     ALLOCATION_SKEW difference is the sum of each line's |actual -
//     expected| before rounding.
//   - Evidence, the seqs the figures come from, ascending:
//       BRAND_*: the pair's purchases and payments dated <= as_of;
//       UNDISTRIBUTED_PREMIUM, LATE_DISTRIBUTION: the payments to the
//         supplier and its payroll lines dated <= as_of;
//       DUPLICATE_PAYROLL_LINE, PREMIUM_WITHOUT_HOURS: the lines concerned;
//       ALLOCATION_SKEW: the flagged lines and the line whose ratio is the
//         median;
//       PURCHASE_FROM_SUSPENDED_SUPPLIER: the purchase, the suspension and
//         the reinstatement that ended it, if any;
//       WORKER_DISPUTE: the disputed lines and the disputes.
//   - Business dates decide what "as of" includes: purchase, payment and
//     pay dates; a dispute counts from the UTC day it was appended.
//   - A worker's lines in a period with hours = 0 are left out of the
//     allocation median and checked only by PREMIUM_WITHOUT_HOURS.
//   - Status: a discrepancy is RESOLVED when an auditor's latest resolution
//     of its id recorded the difference it has now (and, for
//     WORKER_DISPUTE, no dispute of it came after the resolution); OPEN
//     otherwise, so a changed amount reopens it.
//   - Outcomes: the worker portions of a supplier's payments are matched
//     first-in first-out, in date order, against the premium on its
//     paychecks in pay-date order. received_by_workers of a payment is the
//     part matched so far; its days to paychecks are from its date to the
//     pay date that completed it (0 when workers had been paid ahead), and
//     payments not yet completed have none. A party's figures add up its
//     payments (a brand's across its suppliers, a program's across all), so
//     received by workers never exceeds the worker portion paid, and
//     pass-through = received by workers / worker portion paid.
//   - Reversal entries withdraw the record they reverse (purchases,
//     payments, payroll lines, disputes and resolutions); reversing any
//     other kind is refused (FailedPrecondition) rather than ignored.
#ifndef PREMIUM_LEDGER_PREMIUM_RECONCILE_H_
#define PREMIUM_LEDGER_PREMIUM_RECONCILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "ledger/premium/entry_log.h"
#include "ledger/premium/seq_runs.h"
#include "wsr/premium/v1/entry.pb.h"

namespace premium {

enum class DiscrepancyType {
  kBrandUnderpaid,
  kLateBrandPayment,
  kBrandOverpaid,
  kUndistributedPremium,
  kLateDistribution,
  kDuplicatePayrollLine,
  kPremiumWithoutHours,
  kAllocationSkew,
  kPurchaseFromSuspendedSupplier,
  kWorkerDispute,
};
inline constexpr int kDiscrepancyTypeCount = 10;

enum class Severity { kHigh, kMedium, kLow };

// "BRAND_UNDERPAID", ... and "HIGH", "MEDIUM", "LOW".
absl::string_view DiscrepancyTypeName(DiscrepancyType type);
absl::string_view SeverityName(Severity severity);
// The inverse of DiscrepancyTypeName; nullopt for an unknown name.
std::optional<DiscrepancyType> ParseDiscrepancyType(absl::string_view name);

// The key fields of a discrepancy; those that do not apply are empty.
struct DiscrepancyKey {
  DiscrepancyType type = DiscrepancyType::kBrandUnderpaid;
  std::string program_id;
  std::string brand_id;
  std::string supplier_id;
  std::string worker_id;
  std::optional<absl::CivilDay> period_start;
  std::optional<absl::CivilDay> period_end;
  std::string invoice_id;
};

// The stable id of a discrepancy: its type in lower case and its key fields
// joined by ':', e.g. "brand_underpaid:ffp:acme:sunny-farms" or
// "allocation_skew:ffp:sunny-farms:w-17:2026-01-05:2026-01-11". Ids never
// contain ':', so the id is unambiguous and stays the same across reconciles.
std::string DiscrepancyId(const DiscrepancyKey& key);

struct Discrepancy {
  std::string id;
  DiscrepancyType type = DiscrepancyType::kBrandUnderpaid;
  Severity severity = Severity::kHigh;
  std::string program_id;
  std::string brand_id;
  std::string supplier_id;
  std::string worker_id;
  // See the header comment for what the dates mean per type.
  std::optional<absl::CivilDay> period_start;
  std::optional<absl::CivilDay> period_end;
  std::string invoice_id;
  int64_t expected_micros = 0;
  int64_t actual_micros = 0;
  // Positive, rounded half-even to the cent.
  int64_t difference_micros = 0;
  std::string currency;
  // Seqs of the entries the figures come from.
  SeqRuns evidence;
};

struct Finding {
  std::shared_ptr<const Discrepancy> discrepancy;
  bool resolved = false;
  // The resolution that applies (resolved) or the latest one (reopened),
  // 0 when never resolved.
  uint64_t resolution_seq = 0;
};

struct ReconcileQuery {
  absl::CivilDay as_of;
  // Empty: all.
  std::string program_id;
  std::string brand_id;
  std::string supplier_id;
};

// What a program's premium achieved for one party (or the whole program).
struct Outcome {
  std::string program_id;
  // One of them, or neither for the program's totals.
  std::string brand_id;
  std::string supplier_id;
  std::string currency;
  int64_t owed_micros = 0;
  int64_t paid_micros = 0;
  int64_t worker_portion_paid_micros = 0;
  int64_t received_by_workers_micros = 0;
  // received_by_workers / worker_portion_paid in micros (1,000,000 = all of
  // it), rounded half-even; nullopt when nothing was paid.
  std::optional<int64_t> pass_through_micros;
  // Median over completed payments, the lower middle one when their number
  // is even; nullopt when none is completed.
  std::optional<int64_t> median_days_to_paychecks;
};

struct Summary {
  std::vector<Outcome> programs;
  std::vector<Outcome> suppliers;
  std::vector<Outcome> brands;
};

class Reconciler {
 public:
  // `log` (not owned, must outlive this) holds every entry Apply is fed,
  // read back as the header comment says.
  explicit Reconciler(const EntryLog* log);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Feeds the entry at `seq`. Kinds the rules do not use are skipped.
  // FailedPrecondition when `seq` is not next_seq(); DataLoss when a payload
  // does not parse or contradicts what came before (a purchase of an unknown
  // program, a reinstatement without a suspension), FailedPrecondition for a
  // reversal of a kind that cannot be withdrawn; the log's error when an
  // entry a reversal or dispute names cannot be read. On error nothing is
  // changed and next_seq() stays.
  absl::Status Apply(uint64_t seq, const wsr::premium::v1::Entry& entry);
  uint64_t next_seq() const;

  // Every discrepancy as of `query.as_of` that matches the filters, ordered
  // by program, type, then id. OutOfRange if an amount overflows; DataLoss
  // if a payroll line read back is not the one that was applied; the log's
  // error if it cannot be read.
  absl::StatusOr<std::vector<Finding>> Reconcile(const ReconcileQuery& query);

  // One discrepancy by id as of `as_of`: NotFound when it is not flagged.
  absl::StatusOr<Finding> FindDiscrepancy(absl::string_view id,
                                          absl::CivilDay as_of);

  // The seq of the resolution `actor` appended under `idempotency_key`, if
  // any (a retry must find its own resolution even after the figures moved).
  std::optional<uint64_t> ResolutionAppendedBy(
      absl::string_view actor, absl::string_view idempotency_key) const;

  // Outcomes as of `as_of`, per program (or just `program_id`), ordered by
  // program then party.
  absl::StatusOr<Summary> Summarize(absl::string_view program_id,
                                    absl::CivilDay as_of);

 private:
  class State;
  std::unique_ptr<State> state_;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_RECONCILE_H_
