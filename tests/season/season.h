// The season generator: realistic premium-program data of a chosen size and
// seed, with a chosen number of discrepancies of every type (DESIGN section
// 7) injected, and the discrepancies a correct reconciliation must report
// written beside it as a ground truth.
//
// A season is what one program year leaves in the ledger: brands buying
// weekly from growers or farms and paying the premium within the terms,
// suppliers passing the worker portion on through payroll within the
// deadline, pro rata to hours (or gross wages), workers joining and leaving,
// and a change of the program halfway (a second version with other rates,
// 10-day payment terms and a shorter deadline). Two styles:
//   - kFairFood: programs "ffp" (lb, 0.01 USD/lb to workers) and "ffp-bk"
//     (lb, 0.01 + 0.005 to the grower), weekly payroll, allocation by hours;
//   - kMilkWithDignity: program "mwd" (cwt, a worker and a farm part),
//     twice-monthly payroll (1st-15th, 16th-end) and a 21-day distribution
//     deadline (a payment that arrives just after a payroll run waits up to
//     16 days for the next one); allocation by gross wages, by hours from
//     the second version on (unless an allocation is chosen).
//
// A clean season (no injection) has no discrepancy at all: every amount is
// exact (micro-units, no floating point) and paid or distributed early
// enough and pro rata, whatever the as-of date. Each injection is designed
// to raise exactly its own discrepancy; the ground truth is nevertheless
// computed from the generated records by an independent implementation of
// the rules of DESIGN section 7 and ledger/premium/reconcile.h (truth.cc),
// so that any consequence of an injection is in it, and the generator
// checks that it found exactly the injected number of each type.
//
// Deterministic: the same options give byte-identical files on every
// platform (std::mt19937_64 and our own integer distributions only).
#ifndef PREMIUM_TESTS_SEASON_SEASON_H_
#define PREMIUM_TESTS_SEASON_SEASON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "ledger/money/units.h"

namespace premium::season {

enum class Style { kFairFood, kMilkWithDignity };

// How a pay period's worker portion is shared (DESIGN section 3).
enum class Allocation { kHours, kWages, kNone };

// kStyleDefault: hours for kFairFood; wages, then hours from the second
// version, for kMilkWithDignity. kHours and kWages hold for the whole season.
enum class AllocationChoice { kStyleDefault, kHours, kWages };

// Limits of the options: beyond them a season is a typing error.
inline constexpr int kBrandsMax = 1000;
inline constexpr int kSuppliersMax = 10'000;
inline constexpr int kWeeksMax = 520;
inline constexpr int kWorkersPerSupplierMax = 100'000;
inline constexpr int64_t kPayrollLinesMax = 100'000'000;
inline constexpr int kInvoicesPerWeekMax = 1000;
inline constexpr int kInjectPerTypeMax = 1000;
// Fewer workers would make a pay period's median meaningless.
inline constexpr int kWorkersPerSupplierMin = 6;

struct SeasonOptions {
  Style style = Style::kFairFood;
  uint64_t seed = 1;
  int brands = 2;
  int suppliers = 3;
  // Workers on each supplier's payroll in a period, on average (suppliers
  // differ by up to 30%). Ignored when payroll_lines_approx > 0.
  int workers_per_supplier = 10;
  // Weeks of purchases. Payroll runs until the last payment is paid out.
  int weeks = 6;
  // When > 0, the number of payroll lines to aim for: sets the workers per
  // supplier.
  int64_t payroll_lines_approx = 0;
  // Suppliers each brand buys from. 0: enough for every supplier to have a
  // buyer, and at least 3 when there are that many.
  int suppliers_per_brand = 0;
  // When > 0, the number of payments to aim for (one per brand, supplier
  // and week): sets suppliers_per_brand.
  int64_t payments_approx = 0;
  // Invoices per brand, supplier and week, on average.
  int invoices_per_week = 3;
  // When > 0, the number of purchases to aim for: sets invoices_per_week.
  int64_t purchases_approx = 0;
  // Discrepancies injected of each of the 10 types.
  int inject_per_type = 0;
  AllocationChoice allocation = AllocationChoice::kStyleDefault;
  // First day of purchases and payroll. Default: 2026-01-05 (a Monday) for
  // kFairFood, 2026-01-01 for kMilkWithDignity.
  std::optional<absl::CivilDay> start;
  // The reconciliation date of the ground truth. Default: 30 days after the
  // last pay date, when every purchase and payment is due.
  std::optional<absl::CivilDay> as_of;
};

// One version of a program's premium rule (DESIGN section 3).
struct ProgramVersionSpec {
  std::string program_id;
  std::string name;
  std::string currency;
  std::string unit;
  int64_t worker_rate_micros = 0;
  int64_t supplier_rate_micros = 0;
  int32_t payment_terms_days = 14;
  int32_t distribution_deadline_days = 14;
  Allocation allocation = Allocation::kHours;
  int64_t tolerance_micros = 1'000'000;
  absl::CivilDay effective_date;
};

struct Party {
  // "brand" or "supplier".
  std::string role;
  std::string id;
  std::string name;
};

// Indexes below (program, brand, supplier) are into Season's program_ids,
// brands and suppliers.
struct Purchase {
  int program = 0;
  int brand = 0;
  int supplier = 0;
  std::string invoice_id;
  absl::CivilDay date;
  int64_t quantity_micros = 0;
  Unit unit = Unit::kPound;
  // Premium owed, worker and supplier parts, exact to the micro-unit.
  int64_t premium_micros = 0;
};

struct Payment {
  int program = 0;
  int brand = 0;
  int supplier = 0;
  std::string payment_id;
  absl::CivilDay date;
  int64_t amount_micros = 0;
};

struct PayPeriod {
  absl::CivilDay start;
  absl::CivilDay end;
  absl::CivilDay pay_date;
};

// One payroll line, compact: a big season holds a million of them.
struct PayrollLine {
  // Into SupplierPayroll::worker_ids.
  uint32_t worker = 0;
  uint16_t program = 0;
  // Into Season::periods.
  uint16_t period = 0;
  int64_t hours_micros = 0;
  int64_t gross_wages_micros = 0;
  int64_t premium_micros = 0;
};

// A supplier's payroll file, in file order.
struct SupplierPayroll {
  std::vector<std::string> worker_ids;
  std::vector<PayrollLine> lines;
};

struct SuspensionSpec {
  int program = 0;
  int supplier = 0;
  absl::CivilDay from;
  // nullopt: until reinstated.
  std::optional<absl::CivilDay> to;
  std::string reason;
};

// A worker's dispute of their (only) line of one program and period. A
// line disputed twice has two of these, in ledger order.
struct DisputeSpec {
  int program = 0;
  int supplier = 0;
  // Into SupplierPayroll::worker_ids of the supplier.
  uint32_t worker = 0;
  int period = 0;
  int64_t paystub_amount_micros = 0;
  std::string note;
};

// One row of expected.csv: a discrepancy the reconciliation must report as
// of Season::as_of. Fields that do not apply are empty.
struct ExpectedDiscrepancy {
  std::string id;
  // "BRAND_UNDERPAID", ... and "HIGH", "MEDIUM", "LOW".
  std::string type;
  std::string severity;
  std::string program_id;
  std::string brand_id;
  std::string supplier_id;
  std::string worker_id;
  std::string period_start;
  std::string period_end;
  std::string invoice_id;
  int64_t expected_micros = 0;
  int64_t actual_micros = 0;
  int64_t difference_micros = 0;
  std::string currency;
};

// The 10 type names in DESIGN section 7 order (the order of
// premium::DiscrepancyType).
inline constexpr const char* kTypeNames[] = {
    "BRAND_UNDERPAID",
    "LATE_BRAND_PAYMENT",
    "BRAND_OVERPAID",
    "UNDISTRIBUTED_PREMIUM",
    "LATE_DISTRIBUTION",
    "DUPLICATE_PAYROLL_LINE",
    "PREMIUM_WITHOUT_HOURS",
    "ALLOCATION_SKEW",
    "PURCHASE_FROM_SUSPENDED_SUPPLIER",
    "WORKER_DISPUTE",
};
inline constexpr int kTypeCount = 10;

struct Season {
  SeasonOptions options;
  absl::CivilDay as_of;
  // Distinct program ids; versions holds every version of each.
  std::vector<std::string> program_ids;
  std::vector<ProgramVersionSpec> versions;
  std::vector<Party> brands;
  std::vector<Party> suppliers;
  // Per brand, in file order (by date).
  std::vector<std::vector<Purchase>> purchases;
  std::vector<std::vector<Payment>> payments;
  std::vector<PayPeriod> periods;
  // Per supplier.
  std::vector<SupplierPayroll> payroll;
  std::vector<SuspensionSpec> suspensions;
  std::vector<DisputeSpec> disputes;
  // Ordered by program, type (kTypeNames order), then id.
  std::vector<ExpectedDiscrepancy> expected;

  int64_t purchase_count() const;
  int64_t payment_count() const;
  int64_t payroll_line_count() const;
};

// Generates a season. InvalidArgument when an option is out of range or the
// season is too small for the injections asked (each aggregate type needs
// its own brand-supplier pair or program-supplier account, and the late
// types need enough weeks), Internal if the ground truth does not hold
// exactly the injected discrepancies (a generator bug).
absl::StatusOr<Season> GenerateSeason(const SeasonOptions& options);

// The options of stress seed `seed` (the stress tests run seeds 1 to N):
// styles, sizes, allocations, injections and as-of dates that vary with it.
// Some are too small for their injections, which GenerateSeason refuses
// with InvalidArgument.
SeasonOptions StressSeasonOptions(uint64_t seed);

// Writes, into `dir` (created if missing): purchases-<brand>.csv and
// payments-<brand>.csv per brand, payroll-<supplier>.csv per supplier (the
// columns of DESIGN section 8), season.json (as_of, program versions,
// parties, suspensions, disputes) and expected.csv (the ground truth).
// Rows are streamed to the files. Existing files of those names are
// replaced; others are left alone.
absl::Status WriteSeason(const Season& season, const std::string& dir);

// The ground truth of DESIGN section 7 for the records of `season` as of
// season.as_of, computed from scratch (truth.cc). GenerateSeason fills
// Season::expected with it.
absl::StatusOr<std::vector<ExpectedDiscrepancy>> ComputeExpected(
    const Season& season);

// The CSV header of expected.csv and one row in its format (amounts as
// FormatMicros(x, 2) prints them).
extern const char kExpectedHeader[];
std::string ExpectedRow(const ExpectedDiscrepancy& discrepancy);

std::string FormatDay(absl::CivilDay day);
std::string AllocationName(Allocation allocation);

}  // namespace premium::season

#endif  // PREMIUM_TESTS_SEASON_SEASON_H_
