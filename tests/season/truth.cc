// The ground truth of a season: DESIGN section 7 with the definitions of
// ledger/premium/reconcile.h, computed from the season's own records. It is
// deliberately an implementation of its own (nothing of the Reconciler is
// used), written for clarity rather than incrementality.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/season/season.h"
#include "tests/season/season_internal.h"

namespace premium::season {
namespace {

using internal::Exact;
using internal::kCentMicros;

enum TypeIndex {
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

const char* SeverityOf(int type) {
  switch (type) {
    case kLateBrandPayment:
    case kLateDistribution:
    case kAllocationSkew:
      return "MEDIUM";
    case kBrandOverpaid:
      return "LOW";
    default:
      return "HIGH";
  }
}

int64_t Abs(int64_t micros) { return micros < 0 ? -micros : micros; }

// The versions of each program, ordered by effective date.
class Versions {
 public:
  explicit Versions(const Season& season)
      : by_program_(season.program_ids.size()) {
    for (const ProgramVersionSpec& version : season.versions) {
      for (size_t p = 0; p < season.program_ids.size(); ++p) {
        if (season.program_ids[p] == version.program_id) {
          by_program_[p].push_back(&version);
        }
      }
    }
    for (auto& versions : by_program_) {
      std::sort(versions.begin(), versions.end(),
                [](const ProgramVersionSpec* a, const ProgramVersionSpec* b) {
                  return a->effective_date < b->effective_date;
                });
    }
  }

  // The version in force on `day`; the first one before the program starts
  // (reconcile.h: payments dated before the program starts).
  const ProgramVersionSpec& InForce(int program, absl::CivilDay day) const {
    const auto& versions = by_program_[program];
    const ProgramVersionSpec* in_force = versions.front();
    for (const ProgramVersionSpec* version : versions) {
      if (version->effective_date <= day) in_force = version;
    }
    return *in_force;
  }

 private:
  std::vector<std::vector<const ProgramVersionSpec*>> by_program_;
};

// A change of a balance's two sides on a day.
struct Event {
  absl::CivilDay day;
  int64_t expected_delta_micros = 0;
  int64_t actual_delta_micros = 0;
};

// Which difference of the two sides is watched.
enum class Watch { kExpectedOverActual, kActualOverExpected };

// Runs of days on which the watched difference is above the tolerance.
struct Runs {
  // Sides at the as-of date.
  int64_t expected_micros = 0;
  int64_t actual_micros = 0;
  // Above the tolerance at the as-of date, since open_start.
  bool open = false;
  absl::CivilDay open_start;
  // The run that reached the largest difference (the earliest of equal
  // ones), the sides on the first day it was reached, and when the run
  // began and was cured (cured only if it ended by the as-of date).
  bool any = false;
  int64_t worst_expected_micros = 0;
  int64_t worst_actual_micros = 0;
  absl::CivilDay worst_start;
  bool worst_cured = false;
  absl::CivilDay worst_cure;
};

Runs TrackRuns(std::vector<Event> events, int64_t tolerance_micros,
               absl::CivilDay as_of, Watch watch, Exact& exact) {
  std::stable_sort(
      events.begin(), events.end(),
      [](const Event& a, const Event& b) { return a.day < b.day; });
  Runs runs;
  int64_t worst_micros = 0;
  int run_number = 0;
  int worst_run_number = -1;
  size_t i = 0;
  while (i < events.size() && events[i].day <= as_of) {
    const absl::CivilDay day = events[i].day;
    for (; i < events.size() && events[i].day == day; ++i) {
      runs.expected_micros =
          exact.Add(runs.expected_micros, events[i].expected_delta_micros);
      runs.actual_micros =
          exact.Add(runs.actual_micros, events[i].actual_delta_micros);
    }
    const int64_t watched_micros =
        watch == Watch::kExpectedOverActual
            ? exact.Sub(runs.expected_micros, runs.actual_micros)
            : exact.Sub(runs.actual_micros, runs.expected_micros);
    if (watched_micros > tolerance_micros) {
      if (!runs.open) {
        runs.open = true;
        runs.open_start = day;
        ++run_number;
      }
      if (!runs.any || watched_micros > worst_micros) {
        runs.any = true;
        worst_micros = watched_micros;
        worst_run_number = run_number;
        runs.worst_expected_micros = runs.expected_micros;
        runs.worst_actual_micros = runs.actual_micros;
        runs.worst_start = runs.open_start;
        runs.worst_cured = false;
      }
    } else if (runs.open) {
      runs.open = false;
      if (worst_run_number == run_number) {
        runs.worst_cured = true;
        runs.worst_cure = day;
      }
    }
  }
  return runs;
}

class Truth {
 public:
  explicit Truth(const Season& season) : season_(season), versions_(season) {}

  absl::StatusOr<std::vector<ExpectedDiscrepancy>> Compute() {
    BrandAccounts();
    SupplierAccounts();
    for (size_t s = 0; s < season_.suppliers.size(); ++s) PayPeriods(s);
    Suspended();
    if (!exact_.status().ok()) return exact_.status();
    std::sort(found_.begin(), found_.end(), [](const Found& a, const Found& b) {
      return std::tie(a.row.program_id, a.type, a.row.id) <
             std::tie(b.row.program_id, b.type, b.row.id);
    });
    std::vector<ExpectedDiscrepancy> rows;
    rows.reserve(found_.size());
    for (Found& found : found_) rows.push_back(std::move(found.row));
    return rows;
  }

 private:
  struct Found {
    int type = 0;
    ExpectedDiscrepancy row;
  };

  int64_t Tolerance(int program) const {
    return versions_.InForce(program, season_.as_of).tolerance_micros;
  }
  const std::string& Currency(int program) const {
    return versions_.InForce(program, season_.as_of).currency;
  }

  // Key fields must be set before; fills id, type, severity, currency.
  void Add(int type, int program, ExpectedDiscrepancy row) {
    row.type = kTypeNames[type];
    row.severity = SeverityOf(type);
    row.currency = Currency(program);
    std::vector<std::string> parts = {absl::AsciiStrToLower(row.type)};
    for (const std::string* field :
         {&row.program_id, &row.brand_id, &row.supplier_id, &row.worker_id}) {
      if (!field->empty()) parts.push_back(*field);
    }
    // The aggregate types' dates are when, not what: not in their key.
    const bool dated_key =
        type >= kDuplicatePayrollLine && type != kPurchaseFromSuspendedSupplier;
    if (dated_key) {
      parts.push_back(row.period_start);
      parts.push_back(row.period_end);
    }
    if (!row.invoice_id.empty()) parts.push_back(row.invoice_id);
    row.id = absl::StrJoin(parts, ":");
    found_.push_back(Found{type, std::move(row)});
  }

  ExpectedDiscrepancy Keyed(int program, int brand, int supplier) const {
    ExpectedDiscrepancy row;
    row.program_id = season_.program_ids[program];
    if (brand >= 0) row.brand_id = season_.brands[brand].id;
    row.supplier_id = season_.suppliers[supplier].id;
    return row;
  }

  void SetAmounts(ExpectedDiscrepancy& row, int64_t expected_micros,
                  int64_t actual_micros) {
    row.expected_micros = expected_micros;
    row.actual_micros = actual_micros;
    row.difference_micros =
        exact_.Round2(Abs(exact_.Sub(actual_micros, expected_micros)));
  }

  // BRAND_UNDERPAID, LATE_BRAND_PAYMENT, BRAND_OVERPAID per program, brand
  // and supplier.
  void BrandAccounts() {
    using Key = std::tuple<int, int, int>;
    std::map<Key, std::vector<Event>> shortfall;
    std::map<Key, std::vector<Event>> surplus;
    for (const auto& brand_purchases : season_.purchases) {
      for (const Purchase& purchase : brand_purchases) {
        if (purchase.date > season_.as_of) continue;
        const Key key{purchase.program, purchase.brand, purchase.supplier};
        const ProgramVersionSpec& version =
            versions_.InForce(purchase.program, purchase.date);
        shortfall[key].push_back(
            Event{purchase.date + version.payment_terms_days,
                  purchase.premium_micros, 0});
        surplus[key].push_back(
            Event{purchase.date, purchase.premium_micros, 0});
      }
    }
    for (const auto& brand_payments : season_.payments) {
      for (const Payment& payment : brand_payments) {
        if (payment.date > season_.as_of) continue;
        const Key key{payment.program, payment.brand, payment.supplier};
        shortfall[key].push_back(Event{payment.date, 0, payment.amount_micros});
        surplus[key].push_back(Event{payment.date, 0, payment.amount_micros});
      }
    }
    for (auto& [key, events] : shortfall) {
      const auto [program, brand, supplier] = key;
      const Runs runs =
          TrackRuns(std::move(events), Tolerance(program), season_.as_of,
                    Watch::kExpectedOverActual, exact_);
      ReportRuns(runs, kBrandUnderpaid, kLateBrandPayment, program,
                 Keyed(program, brand, supplier));
      const Runs over =
          TrackRuns(std::move(surplus[key]), Tolerance(program), season_.as_of,
                    Watch::kActualOverExpected, exact_);
      if (over.open) {
        ExpectedDiscrepancy row = Keyed(program, brand, supplier);
        row.period_start = FormatDay(over.open_start);
        SetAmounts(row, over.expected_micros, over.actual_micros);
        Add(kBrandOverpaid, program, std::move(row));
      }
    }
  }

  // The open run at the as-of date, else the worst cured one.
  void ReportRuns(const Runs& runs, int open_type, int late_type, int program,
                  ExpectedDiscrepancy row) {
    if (runs.open) {
      row.period_start = FormatDay(runs.open_start);
      SetAmounts(row, runs.expected_micros, runs.actual_micros);
      Add(open_type, program, std::move(row));
    } else if (runs.any) {
      row.period_start = FormatDay(runs.worst_start);
      row.period_end = FormatDay(runs.worst_cure);
      SetAmounts(row, runs.worst_expected_micros, runs.worst_actual_micros);
      Add(late_type, program, std::move(row));
    }
  }

  // UNDISTRIBUTED_PREMIUM and LATE_DISTRIBUTION per program and supplier.
  void SupplierAccounts() {
    using Key = std::pair<int, int>;
    std::map<Key, std::vector<Event>> gap;
    for (const auto& brand_payments : season_.payments) {
      for (const Payment& payment : brand_payments) {
        if (payment.date > season_.as_of) continue;
        const ProgramVersionSpec& version =
            versions_.InForce(payment.program, payment.date);
        const int64_t worker_portion_micros =
            exact_.MulDiv(payment.amount_micros, version.worker_rate_micros,
                          exact_.Add(version.worker_rate_micros,
                                     version.supplier_rate_micros));
        gap[{payment.program, payment.supplier}].push_back(
            Event{payment.date + version.distribution_deadline_days,
                  worker_portion_micros, 0});
      }
    }
    for (size_t s = 0; s < season_.payroll.size(); ++s) {
      for (const PayrollLine& line : season_.payroll[s].lines) {
        const absl::CivilDay pay_date = season_.periods[line.period].pay_date;
        if (pay_date > season_.as_of) continue;
        gap[{line.program, static_cast<int>(s)}].push_back(
            Event{pay_date, 0, line.premium_micros});
      }
    }
    for (auto& [key, events] : gap) {
      const auto [program, supplier] = key;
      const Runs runs =
          TrackRuns(std::move(events), Tolerance(program), season_.as_of,
                    Watch::kExpectedOverActual, exact_);
      ReportRuns(runs, kUndistributedPremium, kLateDistribution, program,
                 Keyed(program, -1, supplier));
    }
  }

  ExpectedDiscrepancy LineKey(int program, size_t supplier, uint32_t worker,
                              int period) const {
    ExpectedDiscrepancy row = Keyed(program, -1, static_cast<int>(supplier));
    row.worker_id = season_.payroll[supplier].worker_ids[worker];
    row.period_start = FormatDay(season_.periods[period].start);
    row.period_end = FormatDay(season_.periods[period].end);
    return row;
  }

  // The per-period types and WORKER_DISPUTE of one supplier.
  void PayPeriods(size_t supplier) {
    const SupplierPayroll& payroll = season_.payroll[supplier];
    // (program, period) -> the lines, in file (ledger) order.
    std::map<std::pair<int, int>, std::vector<const PayrollLine*>> periods;
    for (const PayrollLine& line : payroll.lines) {
      if (season_.periods[line.period].pay_date > season_.as_of) continue;
      periods[{line.program, line.period}].push_back(&line);
    }
    for (const auto& [key, lines] : periods) {
      const auto [program, period] = key;
      Duplicates(program, supplier, period, lines);
      WithoutHours(program, supplier, period, lines);
      const Allocation allocation =
          versions_.InForce(program, season_.periods[period].end).allocation;
      if (allocation != Allocation::kNone) {
        Skew(program, supplier, period, lines, allocation);
      }
    }
    Disputes(supplier, periods);
  }

  void Duplicates(int program, size_t supplier, int period,
                  const std::vector<const PayrollLine*>& lines) {
    std::map<uint32_t, std::vector<const PayrollLine*>> by_worker;
    for (const PayrollLine* line : lines)
      by_worker[line->worker].push_back(line);
    for (const auto& [worker, worker_lines] : by_worker) {
      if (worker_lines.size() < 2) continue;
      int64_t all_micros = 0;
      for (const PayrollLine* line : worker_lines) {
        all_micros = exact_.Add(all_micros, line->premium_micros);
      }
      ExpectedDiscrepancy row = LineKey(program, supplier, worker, period);
      SetAmounts(row, worker_lines.front()->premium_micros, all_micros);
      Add(kDuplicatePayrollLine, program, std::move(row));
    }
  }

  void WithoutHours(int program, size_t supplier, int period,
                    const std::vector<const PayrollLine*>& lines) {
    std::map<uint32_t, int64_t> premium_micros;
    for (const PayrollLine* line : lines) {
      if (line->hours_micros == 0 && line->premium_micros > 0) {
        premium_micros[line->worker] =
            exact_.Add(premium_micros[line->worker], line->premium_micros);
      }
    }
    for (const auto& [worker, micros] : premium_micros) {
      ExpectedDiscrepancy row = LineKey(program, supplier, worker, period);
      SetAmounts(row, 0, micros);
      Add(kPremiumWithoutHours, program, std::move(row));
    }
  }

  // r = the median (lower middle) of premium / weight over the lines with
  // hours > 0; a line is skewed when |premium - r x weight| > max(0.01,
  // 5% of r x weight), r x weight rounded half-even to the micro.
  void Skew(int program, size_t supplier, int period,
            const std::vector<const PayrollLine*>& lines,
            Allocation allocation) {
    std::vector<std::pair<const PayrollLine*, int64_t>> weighted;
    for (const PayrollLine* line : lines) {
      if (line->hours_micros == 0) continue;
      const int64_t weight = allocation == Allocation::kHours
                                 ? line->hours_micros
                                 : line->gross_wages_micros;
      // A line with hours and no wages has no ratio to wages.
      if (weight > 0) weighted.emplace_back(line, weight);
    }
    if (weighted.empty()) return;
    std::vector<std::pair<const PayrollLine*, int64_t>> sorted = weighted;
    std::stable_sort(
        sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
          return static_cast<__int128>(a.first->premium_micros) * b.second <
                 static_cast<__int128>(b.first->premium_micros) * a.second;
        });
    const auto& [median_line, median_weight] = sorted[(sorted.size() - 1) / 2];
    // A worker's skewed lines make one discrepancy: expected and actual
    // summed, the difference the sum of each line's |actual - expected|.
    struct Skewed {
      int64_t expected_micros = 0;
      int64_t actual_micros = 0;
      int64_t off_micros = 0;
    };
    std::map<uint32_t, Skewed> skewed;
    for (const auto& [line, weight] : weighted) {
      const int64_t expected_micros =
          exact_.MulDiv(median_line->premium_micros, weight, median_weight);
      const int64_t off_micros =
          Abs(exact_.Sub(line->premium_micros, expected_micros));
      if (off_micros <= kCentMicros ||
          static_cast<__int128>(off_micros) * 20 <= expected_micros) {
        continue;
      }
      Skewed& worker = skewed[line->worker];
      worker.expected_micros =
          exact_.Add(worker.expected_micros, expected_micros);
      worker.actual_micros =
          exact_.Add(worker.actual_micros, line->premium_micros);
      worker.off_micros = exact_.Add(worker.off_micros, off_micros);
    }
    for (const auto& [worker, sums] : skewed) {
      ExpectedDiscrepancy row = LineKey(program, supplier, worker, period);
      row.expected_micros = sums.expected_micros;
      row.actual_micros = sums.actual_micros;
      row.difference_micros = exact_.Round2(sums.off_micros);
      Add(kAllocationSkew, program, std::move(row));
    }
  }

  void Disputes(size_t supplier,
                const std::map<std::pair<int, int>,
                               std::vector<const PayrollLine*>>& periods) {
    // (program, period, worker) -> the latest paystub amount; one line per
    // key, as the generator disputes only single lines.
    std::map<std::tuple<int, int, uint32_t>, int64_t> latest;
    for (const DisputeSpec& dispute : season_.disputes) {
      if (dispute.supplier != static_cast<int>(supplier)) continue;
      latest[{dispute.program, dispute.period, dispute.worker}] =
          dispute.paystub_amount_micros;
    }
    for (const auto& [key, paystub_micros] : latest) {
      const auto [program, period, worker] = key;
      const auto it = periods.find({program, period});
      if (it == periods.end()) continue;
      int64_t recorded_micros = 0;
      bool found = false;
      for (const PayrollLine* line : it->second) {
        if (line->worker != worker) continue;
        recorded_micros = exact_.Add(recorded_micros, line->premium_micros);
        found = true;
      }
      if (!found) continue;
      ExpectedDiscrepancy row = LineKey(program, supplier, worker, period);
      SetAmounts(row, recorded_micros, paystub_micros);
      Add(kWorkerDispute, program, std::move(row));
    }
  }

  void Suspended() {
    for (const auto& brand_purchases : season_.purchases) {
      for (const Purchase& purchase : brand_purchases) {
        if (purchase.date > season_.as_of) continue;
        bool inside = false;
        for (const SuspensionSpec& suspension : season_.suspensions) {
          inside |=
              suspension.program == purchase.program &&
              suspension.supplier == purchase.supplier &&
              suspension.from <= season_.as_of &&
              suspension.from <= purchase.date &&
              (!suspension.to.has_value() || purchase.date <= *suspension.to);
        }
        if (!inside) continue;
        ExpectedDiscrepancy row =
            Keyed(purchase.program, purchase.brand, purchase.supplier);
        row.invoice_id = purchase.invoice_id;
        row.period_start = FormatDay(purchase.date);
        row.period_end = row.period_start;
        SetAmounts(row, 0, purchase.premium_micros);
        Add(kPurchaseFromSuspendedSupplier, purchase.program, std::move(row));
      }
    }
  }

  const Season& season_;
  const Versions versions_;
  Exact exact_;
  std::vector<Found> found_;
};

}  // namespace

const char kExpectedHeader[] =
    "id,type,severity,program_id,brand_id,supplier_id,worker_id,period_start,"
    "period_end,invoice_id,expected,actual,difference,currency";

std::string ExpectedRow(const ExpectedDiscrepancy& d) {
  return absl::StrCat(d.id, ",", d.type, ",", d.severity, ",", d.program_id,
                      ",", d.brand_id, ",", d.supplier_id, ",", d.worker_id,
                      ",", d.period_start, ",", d.period_end, ",", d.invoice_id,
                      ",", FormatMicros(d.expected_micros, 2), ",",
                      FormatMicros(d.actual_micros, 2), ",",
                      FormatMicros(d.difference_micros, 2), ",", d.currency);
}

absl::StatusOr<std::vector<ExpectedDiscrepancy>> ComputeExpected(
    const Season& season) {
  return Truth(season).Compute();
}

}  // namespace premium::season
