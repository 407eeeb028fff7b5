#include "tests/season/season.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "ledger/money/decimal.h"
#include "tests/season/season_internal.h"

namespace premium::season {
namespace {

using internal::Exact;
using internal::kCentMicros;
using internal::Random;

// A brand pays for a week's purchases this many days after the week ends,
// which is inside 14 days of terms for every purchase of the week.
constexpr int kPaymentLagDaysMin = 1;
constexpr int kPaymentLagDaysMax = 4;
// Payroll is paid this many days after its period ends. A supplier pays out
// on a pay date every payment it received since the previous pay date:
// within 7 days weekly, within 16 twice a month (hence mwd's 21 days).
constexpr int kPayLagDays = 5;
// Terms of the second program version: a purchase on the first day of a
// week is paid at most 6 + kPaymentLagDaysMax days later, on the due day.
constexpr int32_t kPaymentTermsDays2 = 10;
static_assert(6 + kPaymentLagDaysMax <= kPaymentTermsDays2);
// Premium a worker earns per week, on average: large enough that a cent of
// rounding stays far below ALLOCATION_SKEW's 5%.
constexpr int64_t kWeeklyPremiumPerWorkerMicros = 30'000'000;
// The default as-of date is this long after the last pay date, when every
// purchase and payment is due.
constexpr int kAsOfAfterLastPayDays = 30;
// A pay period takes a line injection only when its premium is at least
// this much per worker, so the injected line stands out clearly.
constexpr int64_t kInjectablePremiumPerWorkerMicros = 10'000'000;
constexpr int kWorkerTurnoverPercent = 4;
constexpr int kWorkerAbsencePercent = 3;
constexpr int kPresentWorkersMin = 5;
// Line faults in one pay period, each on its own worker, at most: the
// period keeps a majority of sound lines for its median.
constexpr size_t kLineFaultsPerPeriodMax = 2;

// A brand buying from a supplier in the brand's program.
struct Pair {
  int program = 0;
  int brand = 0;
  int supplier = 0;
  int account = 0;
};

// A supplier in a program: what reconciliation's supplier rules key on.
struct Account {
  int program = 0;
  int supplier = 0;
  std::vector<int> pairs;
  // Worker premium one invoice carries, on average.
  int64_t invoice_worker_premium_micros = 0;
};

enum class BrandFault { kNone, kUnderpaid, kLate, kOverpaid };
struct BrandPlan {
  BrandFault fault = BrandFault::kNone;
  int week = 0;
  // kLate: weeks without payment, caught up in week + late_weeks.
  int late_weeks = 0;
  // kUnderpaid: part of `week`'s premium left unpaid; nothing paid after.
  int unpaid_percent = 0;
};

enum class SupplierFault { kNone, kUndistributed, kLate };
struct SupplierPlan {
  SupplierFault fault = SupplierFault::kNone;
  int period = 0;
  // kLate: periods paid out without premium, caught up in period +
  // late_periods.
  int late_periods = 0;
};

enum class LineFault { kNone, kSkew, kWithoutHours, kDuplicate, kDispute };

// A suspension from Tuesday to Friday of a purchase week.
struct Window {
  int account = 0;
  int week = 0;
};

struct Worker {
  uint32_t id = 0;
  int64_t base_hours_hundredths = 0;
  int64_t wage_cents = 0;
};

// A worker on one period's payroll.
struct Present {
  uint32_t worker = 0;
  int64_t hours_hundredths = 0;
  int64_t wages_cents = 0;
};

std::string Padded(int64_t number, int width) {
  return absl::StrFormat("%0*d", width, number);
}

absl::CivilDay LastDayOfMonth(absl::CivilDay day) {
  return absl::CivilDay(absl::CivilMonth(day) + 1) - 1;
}

class Generator {
 public:
  explicit Generator(const SeasonOptions& options)
      : options_(options), random_(options.seed) {}

  absl::StatusOr<Season> Run() {
    if (absl::Status s = CheckOptions(); !s.ok()) return s;
    season_.options = options_;
    MakePrograms();
    MakeParties();
    MakePairs();
    MakePeriods();
    if (absl::Status s = ChooseAsOf(); !s.ok()) return s;
    SizeWorkers();
    if (absl::Status s = PlanSuspensions(); !s.ok()) return s;
    MakePurchases();
    if (absl::Status s = PlanBrandFaults(); !s.ok()) return s;
    MakePayments();
    Receipts();
    if (absl::Status s = PlanSupplierFaults(); !s.ok()) return s;
    Distribution();
    if (absl::Status s = PlanLineFaults(); !s.ok()) return s;
    for (int s = 0; s < options_.suppliers; ++s) MakePayroll(s);
    if (!exact_.status().ok()) return exact_.status();
    absl::StatusOr<std::vector<ExpectedDiscrepancy>> expected =
        ComputeExpected(season_);
    if (!expected.ok()) return expected.status();
    season_.expected = *std::move(expected);
    if (absl::Status s = CheckInjected(); !s.ok()) return s;
    return std::move(season_);
  }

 private:
  absl::Status CheckOptions() const {
    const auto in = [](int64_t value, int64_t low, int64_t high) {
      return value >= low && value <= high;
    };
    if (!in(options_.brands, 1, kBrandsMax) ||
        !in(options_.suppliers, 1, kSuppliersMax) ||
        !in(options_.weeks, 1, kWeeksMax) ||
        !in(options_.workers_per_supplier, kWorkersPerSupplierMin,
            kWorkersPerSupplierMax) ||
        !in(options_.payroll_lines_approx, 0, kPayrollLinesMax) ||
        !in(options_.suppliers_per_brand, 0, options_.suppliers) ||
        !in(options_.payments_approx, 0, kPayrollLinesMax) ||
        !in(options_.invoices_per_week, 1, kInvoicesPerWeekMax) ||
        !in(options_.purchases_approx, 0, kPayrollLinesMax) ||
        !in(options_.inject_per_type, 0, kInjectPerTypeMax)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "season options out of range: brands 1..", kBrandsMax,
          ", suppliers 1..", kSuppliersMax, ", weeks 1..", kWeeksMax,
          ", workers ", kWorkersPerSupplierMin, "..", kWorkersPerSupplierMax,
          ", lines, payments and purchases 0..", kPayrollLinesMax,
          ", suppliers per brand 0..suppliers, invoices per week 1..",
          kInvoicesPerWeekMax, ", inject 0..", kInjectPerTypeMax));
    }
    if (options_.inject_per_type > 0 && options_.weeks < 6) {
      return absl::InvalidArgumentError(
          "injecting discrepancies needs at least 6 weeks (the late types "
          "need a payment or payout held back past its terms and caught up)");
    }
    return absl::OkStatus();
  }

  bool fair_food() const { return options_.style == Style::kFairFood; }
  absl::CivilDay WeekStart(int week) const { return start_ + 7 * week; }
  absl::CivilDay WeekEnd(int week) const { return start_ + 7 * week + 6; }
  int WeekOf(absl::CivilDay day) const {
    return static_cast<int>((day - start_) / 7);
  }

  const ProgramVersionSpec& InForce(int program, absl::CivilDay day) const {
    const ProgramVersionSpec* in_force = nullptr;
    for (const ProgramVersionSpec& version : season_.versions) {
      if (version.program_id != season_.program_ids[program]) continue;
      if (in_force == nullptr || version.effective_date <= day) {
        in_force = &version;
      }
    }
    return *in_force;
  }

  // ffp and ffp-bk, or mwd; each with a rate change halfway through.
  void MakePrograms() {
    start_ = options_.start.value_or(fair_food() ? absl::CivilDay(2026, 1, 5)
                                                 : absl::CivilDay(2026, 1, 1));
    Allocation allocation =
        fair_food() ? Allocation::kHours : Allocation::kWages;
    if (options_.allocation == AllocationChoice::kHours) {
      allocation = Allocation::kHours;
    }
    if (options_.allocation == AllocationChoice::kWages) {
      allocation = Allocation::kWages;
    }
    const absl::CivilDay change = WeekStart(options_.weeks / 2);
    // The second version changes the rates, shortens the terms (a brand
    // then sometimes pays on the due day itself) and, for mwd by default,
    // allocates by hours from then on: periods ending after the change
    // follow the new rule.
    const auto add = [&](ProgramVersionSpec version, int64_t worker_rate_2,
                         int64_t supplier_rate_2, int32_t deadline_days_2) {
      version.currency = "USD";
      version.allocation = allocation;
      version.effective_date = start_;
      season_.program_ids.push_back(version.program_id);
      season_.versions.push_back(version);
      if (options_.weeks >= 2) {
        version.worker_rate_micros = worker_rate_2;
        version.supplier_rate_micros = supplier_rate_2;
        version.payment_terms_days = kPaymentTermsDays2;
        version.distribution_deadline_days = deadline_days_2;
        if (!fair_food() &&
            options_.allocation == AllocationChoice::kStyleDefault) {
          version.allocation = Allocation::kHours;
        }
        version.effective_date = change;
        season_.versions.push_back(version);
      }
    };
    if (fair_food()) {
      add({.program_id = "ffp",
           .name = "Fair Food Program",
           .unit = "lb",
           .worker_rate_micros = 10'000,
           .supplier_rate_micros = 0},
          12'500, 0, 10);
      // The worker share 0.0125 / 0.0175 = 5/7 makes worker portions
      // round at the micro-unit.
      add({.program_id = "ffp-bk",
           .name = "Fair Food Program, 1.5 cent buyers",
           .unit = "lb",
           .worker_rate_micros = 10'000,
           .supplier_rate_micros = 5'000},
          12'500, 5'000, 10);
    } else {
      add({.program_id = "mwd",
           .name = "Milk with Dignity",
           .unit = "cwt",
           .worker_rate_micros = 450'000,
           .supplier_rate_micros = 50'000,
           .distribution_deadline_days = 21,
           .tolerance_micros = 500'000},
          500'000, 70'000, 18);
    }
  }

  void MakeParties() {
    const int brand_digits = options_.brands < 100 ? 2 : 4;
    const int supplier_digits = options_.suppliers < 100 ? 2 : 5;
    for (int b = 0; b < options_.brands; ++b) {
      const std::string number = Padded(b + 1, brand_digits);
      season_.brands.push_back({"brand", absl::StrCat("brand-", number),
                                absl::StrCat("Buyer ", number)});
      // In Fair Food style one brand in five pays 1.5 cents, like the
      // Burger King agreement.
      brand_program_.push_back(fair_food() && b % 5 == 1 ? 1 : 0);
    }
    const std::string kind = fair_food() ? "grower" : "farm";
    for (int s = 0; s < options_.suppliers; ++s) {
      const std::string number = Padded(s + 1, supplier_digits);
      season_.suppliers.push_back(
          {"supplier", absl::StrCat(kind, "-", number),
           absl::StrCat(fair_food() ? "Grower " : "Dairy Farm ", number)});
    }
    season_.purchases.resize(options_.brands);
    season_.payments.resize(options_.brands);
    season_.payroll.resize(options_.suppliers);
  }

  // Brand b buys from suppliers b*k .. b*k + k - 1 (mod suppliers), so
  // every supplier has a buyer when brands * k >= suppliers.
  void MakePairs() {
    const int suppliers = options_.suppliers;
    int per_brand = std::min(
        suppliers,
        std::max(3, (suppliers + options_.brands - 1) / options_.brands));
    if (options_.suppliers_per_brand > 0) {
      per_brand = options_.suppliers_per_brand;
    }
    if (options_.payments_approx > 0) {
      per_brand = static_cast<int>(
          std::clamp<int64_t>((options_.payments_approx +
                               int64_t{options_.brands} * options_.weeks / 2) /
                                  (int64_t{options_.brands} * options_.weeks),
                              1, suppliers));
    }
    std::map<std::pair<int, int>, int> accounts;
    for (int b = 0; b < options_.brands; ++b) {
      for (int j = 0; j < per_brand; ++j) {
        const int supplier =
            static_cast<int>((int64_t{b} * per_brand + j) % suppliers);
        const int program = brand_program_[b];
        auto [it, inserted] = accounts.emplace(
            std::pair{program, supplier}, static_cast<int>(accounts.size()));
        (void)inserted;
        pairs_.push_back({program, b, supplier, it->second});
      }
    }
    accounts_.resize(accounts.size());
    for (const auto& [key, index] : accounts) {
      accounts_[index].program = key.first;
      accounts_[index].supplier = key.second;
    }
    for (size_t i = 0; i < pairs_.size(); ++i) {
      accounts_[pairs_[i].account].pairs.push_back(static_cast<int>(i));
    }
    invoices_per_week_ = options_.invoices_per_week;
    if (options_.purchases_approx > 0) {
      const int64_t pair_weeks = int64_t{options_.weeks} * pairs_.size();
      invoices_per_week_ = static_cast<int>(std::clamp<int64_t>(
          (options_.purchases_approx + pair_weeks / 2) / pair_weeks, 1,
          kInvoicesPerWeekMax));
    }
  }

  // Weekly periods, or 1st-15th and 16th-end; until a pay date falls after
  // the last possible payment, so that every payment is paid out.
  void MakePeriods() {
    const absl::CivilDay last_payment =
        WeekEnd(options_.weeks - 1) + kPaymentLagDaysMax;
    absl::CivilDay begin = start_;
    while (season_.periods.empty() ||
           season_.periods.back().pay_date <= last_payment) {
      absl::CivilDay end = begin + 6;
      if (!fair_food()) {
        end = begin.day() <= 15
                  ? absl::CivilDay(begin.year(), begin.month(), 15)
                  : LastDayOfMonth(begin);
      }
      season_.periods.push_back({begin, end, end + kPayLagDays});
      begin = end + 1;
    }
  }

  absl::Status ChooseAsOf() {
    season_.as_of = options_.as_of.value_or(season_.periods.back().pay_date +
                                            kAsOfAfterLastPayDays);
    if (season_.as_of < start_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "as_of ", FormatDay(season_.as_of), " is before the season starts (",
          FormatDay(start_), ")"));
    }
    return absl::OkStatus();
  }

  // Workers per supplier (each on every program of the supplier), and the
  // size of an invoice that gives them their premium.
  void SizeWorkers() {
    // Suppliers differ in size by up to 30% either way.
    std::vector<int64_t> percents;
    for (int s = 0; s < options_.suppliers; ++s) {
      percents.push_back(random_.Uniform(70, 130));
    }
    std::vector<int64_t> programs(options_.suppliers, 0);
    for (const Account& account : accounts_) ++programs[account.supplier];
    const int64_t periods = static_cast<int64_t>(season_.periods.size());
    // Lines per worker slot and percent of size: a line per program and
    // period, less the absences.
    __int128 weighted_lines = 0;
    for (int s = 0; s < options_.suppliers; ++s) {
      weighted_lines += static_cast<__int128>(percents[s]) * programs[s] *
                        periods * (100 - kWorkerAbsencePercent);
    }
    for (int s = 0; s < options_.suppliers; ++s) {
      int64_t workers = options_.workers_per_supplier * percents[s] / 100;
      if (options_.payroll_lines_approx > 0 && weighted_lines > 0) {
        workers = static_cast<int64_t>(
            (static_cast<__int128>(options_.payroll_lines_approx) *
                 percents[s] * 100 +
             weighted_lines / 2) /
            weighted_lines);
      }
      slots_.push_back(std::clamp<int64_t>(workers, kWorkersPerSupplierMin,
                                           kWorkersPerSupplierMax));
    }
    for (Account& account : accounts_) {
      const int64_t invoices_per_week =
          static_cast<int64_t>(account.pairs.size()) * invoices_per_week_;
      account.invoice_worker_premium_micros = slots_[account.supplier] *
                                              kWeeklyPremiumPerWorkerMicros /
                                              invoices_per_week;
    }
  }

  // A respected suspension (no purchase inside), one with inject_per_type
  // purchases inside, and one open-ended at the end of the season.
  absl::Status PlanSuspensions() {
    if (options_.weeks >= 3) {
      windows_.push_back({0, 1});
      AddSuspension(windows_.back(), "corrective action plan overdue");
    }
    if (options_.inject_per_type > 0) {
      std::vector<Window> candidates;
      for (size_t a = 0; a < accounts_.size(); ++a) {
        for (int week = 0; week < options_.weeks; ++week) {
          const bool respected = !windows_.empty() && a == 0 && week == 1;
          if (!respected && WeekStart(week) + 4 < season_.as_of) {
            candidates.push_back({static_cast<int>(a), week});
          }
        }
      }
      if (candidates.empty()) {
        return absl::InvalidArgumentError(
            "as_of is too early for a suspended purchase");
      }
      injected_window_ = static_cast<int>(windows_.size());
      windows_.push_back(candidates[random_.Uniform(0, candidates.size() - 1)]);
      AddSuspension(windows_.back(), "worker complaint under investigation");
    }
    const Account& last = accounts_.back();
    season_.suspensions.push_back({last.program, last.supplier,
                                   WeekEnd(options_.weeks - 1) + 1,
                                   std::nullopt, "failed end-of-season audit"});
    return absl::OkStatus();
  }

  void AddSuspension(const Window& window, std::string reason) {
    const Account& account = accounts_[window.account];
    season_.suspensions.push_back(
        {account.program, account.supplier, WeekStart(window.week) + 1,
         WeekStart(window.week) + 4, std::move(reason)});
  }

  bool Suspended(int account, absl::CivilDay day) const {
    for (const Window& window : windows_) {
      if (window.account == account && day >= WeekStart(window.week) + 1 &&
          day <= WeekStart(window.week) + 4) {
        return true;
      }
    }
    return false;
  }

  Purchase NewPurchase(const Pair& pair, absl::CivilDay date) {
    const Account& account = accounts_[pair.account];
    const ProgramVersionSpec& first = InForce(pair.program, start_);
    Purchase purchase;
    purchase.program = pair.program;
    purchase.brand = pair.brand;
    purchase.supplier = pair.supplier;
    purchase.date = date;
    const int64_t percent = random_.Uniform(50, 150);
    const bool other_unit = random_.Percent(10);
    if (fair_food()) {
      const int64_t pounds =
          std::max<int64_t>(1, account.invoice_worker_premium_micros /
                                   first.worker_rate_micros * percent / 100);
      purchase.unit = other_unit ? Unit::kKilogram : Unit::kPound;
      // Grams: kilograms with 3 decimals.
      purchase.quantity_micros = other_unit
                                     ? pounds * 45'359'237 / 100'000 * 1'000
                                     : pounds * kMicrosPerUnit;
    } else {
      const int64_t hundredths =
          std::max<int64_t>(1, account.invoice_worker_premium_micros * 100 /
                                   first.worker_rate_micros * percent / 100);
      // A hundredth of a cwt is a pound.
      purchase.unit = other_unit ? Unit::kPound : Unit::kHundredweight;
      purchase.quantity_micros =
          other_unit ? hundredths * kMicrosPerUnit : hundredths * kCentMicros;
    }
    const ProgramVersionSpec& version = InForce(pair.program, date);
    absl::StatusOr<Unit> program_unit = ParseUnit(version.unit);
    purchase.premium_micros = exact_.Premium(
        purchase.quantity_micros, purchase.unit, *program_unit,
        version.worker_rate_micros + version.supplier_rate_micros);
    return purchase;
  }

  void MakePurchases() {
    const int low = std::max(1, invoices_per_week_ - invoices_per_week_ / 2);
    const int high = invoices_per_week_ + invoices_per_week_ / 2;
    for (int week = 0; week < options_.weeks; ++week) {
      for (const Pair& pair : pairs_) {
        const int64_t invoices = random_.Uniform(low, high);
        for (int64_t i = 0; i < invoices; ++i) {
          absl::CivilDay date = WeekStart(week) + random_.Uniform(0, 6);
          // Brands respect a suspension: they buy before or after it.
          if (Suspended(pair.account, date)) {
            static constexpr int kOutside[] = {0, 5, 6};
            date = WeekStart(week) + kOutside[random_.Uniform(0, 2)];
          }
          season_.purchases[pair.brand].push_back(NewPurchase(pair, date));
        }
      }
    }
    if (injected_window_ >= 0) {
      const Window& window = windows_[injected_window_];
      const Account& account = accounts_[window.account];
      for (int i = 0; i < options_.inject_per_type; ++i) {
        const Pair& pair = pairs_[account.pairs[i % account.pairs.size()]];
        const absl::CivilDay date =
            WeekStart(window.week) + random_.Uniform(1, 4);
        season_.purchases[pair.brand].push_back(NewPurchase(pair, date));
      }
    }
    for (int b = 0; b < options_.brands; ++b) {
      auto& purchases = season_.purchases[b];
      std::stable_sort(
          purchases.begin(), purchases.end(),
          [](const Purchase& x, const Purchase& y) { return x.date < y.date; });
      for (size_t i = 0; i < purchases.size(); ++i) {
        purchases[i].invoice_id = absl::StrCat("inv-", Padded(i + 1, 6));
      }
    }
    // What each pair owes per week, then the week's amount to pay: the
    // rounding of the running total to cents, so that the paid total is
    // never more than half a cent from the owed one.
    std::map<std::pair<int, int>, int> pair_of;
    for (size_t i = 0; i < pairs_.size(); ++i) {
      pair_of[{pairs_[i].brand, pairs_[i].supplier}] = static_cast<int>(i);
    }
    std::vector<std::vector<int64_t>> owed(
        pairs_.size(), std::vector<int64_t>(options_.weeks, 0));
    for (const auto& purchases : season_.purchases) {
      for (const Purchase& purchase : purchases) {
        int64_t& week_micros =
            owed[pair_of[{purchase.brand, purchase.supplier}]]
                [WeekOf(purchase.date)];
        week_micros = exact_.Add(week_micros, purchase.premium_micros);
      }
    }
    nominal_.assign(pairs_.size(), std::vector<int64_t>(options_.weeks, 0));
    for (size_t p = 0; p < pairs_.size(); ++p) {
      int64_t total_micros = 0;
      int64_t rounded_micros = 0;
      for (int week = 0; week < options_.weeks; ++week) {
        total_micros = exact_.Add(total_micros, owed[p][week]);
        const int64_t rounded = exact_.Round2(total_micros);
        nominal_[p][week] = rounded - rounded_micros;
        rounded_micros = rounded;
      }
    }
  }

  template <typename T>
  void Shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[random_.Uniform(0, i - 1)]);
    }
  }

  int64_t Tolerance(int program) const {
    return InForce(program, season_.as_of).tolerance_micros;
  }

  // Weeks after which a payment held back is overdue by a few days.
  int LateWeeks(int program, int week) const {
    const int terms = InForce(program, WeekEnd(week)).payment_terms_days;
    int late_weeks = 1;
    while (WeekEnd(week + late_weeks) + kPaymentLagDaysMin <
           WeekEnd(week) + terms + 3) {
      ++late_weeks;
    }
    return late_weeks;
  }

  // Each brand fault on a pair of its own, so that faults do not add up.
  absl::Status PlanBrandFaults() {
    brand_plans_.assign(pairs_.size(), BrandPlan{});
    const int n = options_.inject_per_type;
    if (n == 0) return absl::OkStatus();
    std::vector<int> order(pairs_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    Shuffle(order);
    for (BrandFault fault :
         {BrandFault::kUnderpaid, BrandFault::kLate, BrandFault::kOverpaid}) {
      int planned = 0;
      for (int p : order) {
        if (planned == n) break;
        if (brand_plans_[p].fault != BrandFault::kNone) continue;
        const std::vector<int> weeks = BrandFaultWeeks(p, fault);
        if (weeks.empty()) continue;
        BrandPlan& plan = brand_plans_[p];
        plan.fault = fault;
        plan.week = weeks[random_.Uniform(0, weeks.size() - 1)];
        plan.late_weeks = LateWeeks(pairs_[p].program, plan.week);
        // All of it, or 30% to 60% of it.
        plan.unpaid_percent = random_.Percent(50)
                                  ? 100
                                  : static_cast<int>(random_.Uniform(30, 60));
        ++planned;
      }
      if (planned < n) {
        return absl::InvalidArgumentError(absl::StrCat(
            "injecting ", n, " of each brand type needs ", 3 * n,
            " brand-supplier pairs with premium early enough before as_of; "
            "the season has ",
            pairs_.size(),
            " pairs (add brands, suppliers, --suppliers-per-brand or weeks)"));
      }
    }
    return absl::OkStatus();
  }

  // The weeks of pair p that `fault` can start in and be seen by as_of.
  std::vector<int> BrandFaultWeeks(int p, BrandFault fault) const {
    const Pair& pair = pairs_[p];
    std::vector<int> weeks;
    for (int week = 0; week < options_.weeks; ++week) {
      if (nominal_[p][week] < 10 * Tolerance(pair.program)) continue;
      const int terms = InForce(pair.program, WeekEnd(week)).payment_terms_days;
      if (fault == BrandFault::kUnderpaid &&
          WeekEnd(week) + terms < season_.as_of) {
        weeks.push_back(week);
      }
      if (fault == BrandFault::kLate) {
        const int late_weeks = LateWeeks(pair.program, week);
        if (week + late_weeks < options_.weeks &&
            WeekEnd(week + late_weeks) + kPaymentLagDaysMax < season_.as_of) {
          weeks.push_back(week);
        }
      }
      if (fault == BrandFault::kOverpaid &&
          WeekEnd(week) + kPaymentLagDaysMax < season_.as_of) {
        weeks.push_back(week);
      }
    }
    return weeks;
  }

  void AddPayment(const Pair& pair, absl::CivilDay date,
                  int64_t amount_micros) {
    if (amount_micros <= 0) return;
    Payment payment;
    payment.program = pair.program;
    payment.brand = pair.brand;
    payment.supplier = pair.supplier;
    payment.date = date;
    payment.amount_micros = amount_micros;
    season_.payments[pair.brand].push_back(payment);
  }

  void MakePayments() {
    for (size_t p = 0; p < pairs_.size(); ++p) {
      const Pair& pair = pairs_[p];
      const BrandPlan& plan = brand_plans_[p];
      int64_t held_micros = 0;
      for (int week = 0; week < options_.weeks; ++week) {
        const bool overpaid_week =
            plan.fault == BrandFault::kOverpaid && week == plan.week;
        // A second payment the next day must stay before the next pay date.
        const int lag = static_cast<int>(random_.Uniform(
            kPaymentLagDaysMin,
            overpaid_week ? kPaymentLagDaysMax - 1 : kPaymentLagDaysMax));
        const absl::CivilDay date = WeekEnd(week) + lag;
        int64_t amount_micros = nominal_[p][week];
        if (plan.fault == BrandFault::kUnderpaid && week >= plan.week) {
          amount_micros = week > plan.week
                              ? 0
                              : amount_micros - exact_.Round2(exact_.MulDiv(
                                                    amount_micros,
                                                    plan.unpaid_percent, 100));
        }
        if (plan.fault == BrandFault::kLate && week >= plan.week &&
            week <= plan.week + plan.late_weeks) {
          held_micros += amount_micros;
          amount_micros = week < plan.week + plan.late_weeks ? 0 : held_micros;
        }
        AddPayment(pair, date, amount_micros);
        if (overpaid_week) {
          // Paid twice over, and more: whatever was bought and not yet
          // paid for at any later date cannot hide it.
          const int64_t most_micros =
              *std::max_element(nominal_[p].begin(), nominal_[p].end());
          AddPayment(pair, date + 1,
                     2 * most_micros + 10 * Tolerance(pair.program));
        }
      }
    }
    for (int b = 0; b < options_.brands; ++b) {
      auto& payments = season_.payments[b];
      std::stable_sort(
          payments.begin(), payments.end(),
          [](const Payment& x, const Payment& y) { return x.date < y.date; });
      for (size_t i = 0; i < payments.size(); ++i) {
        payments[i].payment_id = absl::StrCat("pay-", Padded(i + 1, 6));
      }
    }
  }

  // The period whose pay date pays out a payment received on `day`: the
  // first pay date after it.
  int PayoutPeriod(absl::CivilDay day) const {
    const auto it =
        std::upper_bound(season_.periods.begin(), season_.periods.end(), day,
                         [](absl::CivilDay d, const PayPeriod& period) {
                           return d < period.pay_date;
                         });
    return static_cast<int>(it - season_.periods.begin());
  }

  // The worker portion each account receives per payout period, and the
  // latest payment date of each.
  void Receipts() {
    const size_t periods = season_.periods.size();
    received_.assign(accounts_.size(), std::vector<int64_t>(periods, 0));
    latest_payment_.assign(accounts_.size(),
                           std::vector<absl::CivilDay>(periods, start_));
    std::map<std::pair<int, int>, int> account_of;
    for (size_t a = 0; a < accounts_.size(); ++a) {
      account_of[{accounts_[a].program, accounts_[a].supplier}] =
          static_cast<int>(a);
    }
    for (const auto& payments : season_.payments) {
      for (const Payment& payment : payments) {
        const int a = account_of[{payment.program, payment.supplier}];
        const int k = PayoutPeriod(payment.date);
        const ProgramVersionSpec& version =
            InForce(payment.program, payment.date);
        const int64_t worker_portion_micros = exact_.MulDiv(
            payment.amount_micros, version.worker_rate_micros,
            version.worker_rate_micros + version.supplier_rate_micros);
        received_[a][k] = exact_.Add(received_[a][k], worker_portion_micros);
        latest_payment_[a][k] = std::max(latest_payment_[a][k], payment.date);
      }
    }
  }

  // Periods after which a payout held back is overdue by a few days.
  int LatePeriods(int account, int period) const {
    const int program = accounts_[account].program;
    const absl::CivilDay latest = latest_payment_[account][period];
    const int deadline = InForce(program, latest).distribution_deadline_days;
    int late = 1;
    while (period + late < static_cast<int>(season_.periods.size()) &&
           season_.periods[period + late].pay_date < latest + deadline + 3) {
      ++late;
    }
    return late;
  }

  // Each supplier fault on an account of its own.
  absl::Status PlanSupplierFaults() {
    supplier_plans_.assign(accounts_.size(), SupplierPlan{});
    const int n = options_.inject_per_type;
    if (n == 0) return absl::OkStatus();
    std::vector<int> order(accounts_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    Shuffle(order);
    for (SupplierFault fault :
         {SupplierFault::kUndistributed, SupplierFault::kLate}) {
      int planned = 0;
      for (int a : order) {
        if (planned == n) break;
        if (supplier_plans_[a].fault != SupplierFault::kNone) continue;
        const std::vector<int> periods = SupplierFaultPeriods(a, fault);
        if (periods.empty()) continue;
        SupplierPlan& plan = supplier_plans_[a];
        plan.fault = fault;
        plan.period = periods[random_.Uniform(0, periods.size() - 1)];
        plan.late_periods = LatePeriods(a, plan.period);
        ++planned;
      }
      if (planned < n) {
        return absl::InvalidArgumentError(absl::StrCat(
            "injecting ", n, " of each supplier type needs ", 2 * n,
            " program-supplier accounts receiving premium early enough "
            "before as_of; the season has ",
            accounts_.size(), " accounts (add suppliers or weeks)"));
      }
    }
    return absl::OkStatus();
  }

  // The payout periods of account a that `fault` can start in and be seen
  // by as_of.
  std::vector<int> SupplierFaultPeriods(int a, SupplierFault fault) const {
    const Account& account = accounts_[a];
    const int periods = static_cast<int>(season_.periods.size());
    std::vector<int> candidates;
    for (int k = 0; k < periods; ++k) {
      if (received_[a][k] < 10 * Tolerance(account.program)) continue;
      const int deadline = InForce(account.program, latest_payment_[a][k])
                               .distribution_deadline_days;
      if (fault == SupplierFault::kUndistributed &&
          latest_payment_[a][k] + deadline < season_.as_of) {
        candidates.push_back(k);
      }
      const int late = LatePeriods(a, k);
      if (fault == SupplierFault::kLate && k + late < periods &&
          season_.periods[k + late].pay_date >=
              latest_payment_[a][k] + deadline + 3 &&
          season_.periods[k + late].pay_date < season_.as_of) {
        candidates.push_back(k);
      }
    }
    return candidates;
  }

  // The premium each account pays out per period: the running total of
  // what it received, rounded to cents, minus what it paid out before.
  void Distribution() {
    const size_t periods = season_.periods.size();
    payout_.assign(accounts_.size(), std::vector<int64_t>(periods, 0));
    injectable_.assign(accounts_.size(), std::vector<bool>(periods, false));
    for (size_t a = 0; a < accounts_.size(); ++a) {
      const SupplierPlan& plan = supplier_plans_[a];
      int64_t received_micros = 0;
      int64_t paid_out_micros = 0;
      for (size_t k = 0; k < periods; ++k) {
        received_micros = exact_.Add(received_micros, received_[a][k]);
        int64_t payout_micros =
            exact_.Round2(received_micros) - paid_out_micros;
        bool faulty = false;
        if (plan.fault == SupplierFault::kUndistributed &&
            static_cast<int>(k) >= plan.period) {
          payout_micros = 0;
          faulty = true;
        }
        if (plan.fault == SupplierFault::kLate &&
            static_cast<int>(k) >= plan.period &&
            static_cast<int>(k) <= plan.period + plan.late_periods) {
          if (static_cast<int>(k) < plan.period + plan.late_periods) {
            payout_micros = 0;
          }
          faulty = true;
        }
        payout_[a][k] = payout_micros;
        paid_out_micros += payout_micros;
        injectable_[a][k] =
            !faulty && season_.periods[k].pay_date <= season_.as_of &&
            payout_micros >= slots_[accounts_[a].supplier] *
                                 kInjectablePremiumPerWorkerMicros;
      }
    }
  }

  // Line faults spread over pay periods with premium, a period taking a
  // second fault (on another worker) only when there are too few; each
  // fault once per period. Duplicates only where the payout is not under a
  // supplier fault (a duplicate adds to what was paid out and would shrink
  // that gap).
  absl::Status PlanLineFaults() {
    const int n = options_.inject_per_type;
    if (n == 0) return absl::OkStatus();
    std::vector<std::pair<int, int>> candidates;
    for (size_t a = 0; a < accounts_.size(); ++a) {
      for (size_t k = 0; k < season_.periods.size(); ++k) {
        if (injectable_[a][k]) {
          candidates.emplace_back(static_cast<int>(a), static_cast<int>(k));
        }
      }
    }
    Shuffle(candidates);
    for (LineFault fault : {LineFault::kDuplicate, LineFault::kSkew,
                            LineFault::kWithoutHours, LineFault::kDispute}) {
      for (int i = 0; i < n; ++i) {
        // The candidate period with the fewest faults so far, preferring
        // one without a fault of this kind. Two skews in a period could
        // move its median, so skews never share one.
        const std::pair<int, int>* best = nullptr;
        std::pair<bool, size_t> best_rank;
        for (const auto& candidate : candidates) {
          if (fault == LineFault::kDuplicate &&
              supplier_plans_[candidate.first].fault != SupplierFault::kNone) {
            continue;
          }
          const auto it = line_faults_.find(candidate);
          const std::vector<LineFault> none;
          const std::vector<LineFault>& faults =
              it == line_faults_.end() ? none : it->second;
          const bool same_kind =
              std::find(faults.begin(), faults.end(), fault) != faults.end();
          if (faults.size() >= kLineFaultsPerPeriodMax ||
              (same_kind && fault == LineFault::kSkew)) {
            continue;
          }
          const std::pair<bool, size_t> rank{same_kind, faults.size()};
          if (best == nullptr || rank < best_rank) {
            best = &candidate;
            best_rank = rank;
          }
        }
        if (best == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(
              "not enough pay periods with premium before as_of for ", n,
              " line injections of each type; add suppliers or weeks"));
        }
        line_faults_[*best].push_back(fault);
      }
    }
    return absl::OkStatus();
  }

  // Shares total_cents among the lines by weight, each line its exact share
  // rounded down and the cents left over to the largest remainders, so the
  // lines sum to the total exactly. Lines with `skip` set are left alone.
  static void Allocate(int64_t total_cents, const std::vector<int64_t>& weights,
                       const std::vector<bool>& skip,
                       std::vector<int64_t>& cents) {
    __int128 weight_total = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (!skip[i]) weight_total += weights[i];
    }
    if (weight_total == 0 || total_cents == 0) return;
    std::vector<std::pair<__int128, size_t>> remainders;
    int64_t left_cents = total_cents;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (skip[i]) continue;
      const __int128 share = static_cast<__int128>(total_cents) * weights[i];
      cents[i] = static_cast<int64_t>(share / weight_total);
      left_cents -= cents[i];
      remainders.emplace_back(share % weight_total, i);
    }
    std::stable_sort(
        remainders.begin(), remainders.end(),
        [](const auto& x, const auto& y) { return x.first > y.first; });
    for (int64_t i = 0; i < left_cents; ++i) ++cents[remainders[i].second];
  }

  // One program's lines of one period: the payout pro rata, and the
  // period's injection if any.
  void PeriodLines(int account, int period, const std::vector<Present>& roster,
                   SupplierPayroll& payroll) {
    const Account& acc = accounts_[account];
    const Allocation allocation =
        InForce(acc.program, season_.periods[period].end).allocation;
    const size_t n = roster.size();
    std::vector<int64_t> weights(n);
    for (size_t i = 0; i < n; ++i) {
      weights[i] = allocation == Allocation::kWages
                       ? roster[i].wages_cents
                       : roster[i].hours_hundredths;
    }
    const auto it = line_faults_.find({account, period});
    const std::vector<LineFault> no_faults;
    const std::vector<LineFault>& faults =
        it == line_faults_.end() ? no_faults : it->second;
    const int64_t total_cents = payout_[account][period] / kCentMicros;
    std::vector<int64_t> cents(n, 0);
    std::vector<bool> skip(n, false);
    std::vector<int64_t> hours(n);
    std::vector<int64_t> wages(n);
    for (size_t i = 0; i < n; ++i) {
      hours[i] = roster[i].hours_hundredths;
      wages[i] = roster[i].wages_cents;
    }
    // Each fault on a worker of its own.
    std::vector<std::pair<LineFault, size_t>> targets;
    if (!faults.empty()) targets = ChooseTargets(faults, weights);
    int64_t set_aside_cents = 0;
    for (const auto& [fault, x] : targets) {
      if (fault != LineFault::kSkew) continue;
      // Too much or too little for the hours; the others share the rest pro
      // rata, so they stay consistent with each other and with the median.
      const int64_t fair_cents = static_cast<int64_t>(
          static_cast<__int128>(total_cents) * weights[x] /
          std::accumulate(weights.begin(), weights.end(), int64_t{0}));
      const int64_t percent = random_.Percent(50) ? random_.Uniform(30, 60)
                                                  : -random_.Uniform(30, 60);
      cents[x] = fair_cents * (100 + percent) / 100;
      skip[x] = true;
      set_aside_cents += cents[x];
    }
    for (const auto& [fault, x] : targets) {
      if (fault != LineFault::kWithoutHours) continue;
      // A worker without hours this period got an average share.
      hours[x] = 0;
      wages[x] = 0;
      cents[x] = total_cents / static_cast<int64_t>(n);
      skip[x] = true;
      set_aside_cents += cents[x];
    }
    Allocate(total_cents - set_aside_cents, weights, skip, cents);
    const size_t first = payroll.lines.size();
    for (size_t i = 0; i < n; ++i) {
      PayrollLine line;
      line.worker = roster[i].worker;
      line.program = static_cast<uint16_t>(acc.program);
      line.period = static_cast<uint16_t>(period);
      line.hours_micros = hours[i] * kCentMicros;
      line.gross_wages_micros = wages[i] * kCentMicros;
      line.premium_micros = cents[i] * kCentMicros;
      payroll.lines.push_back(line);
    }
    for (const auto& [fault, x] : targets) {
      if (fault == LineFault::kDuplicate) {
        // The same line uploaded twice.
        payroll.lines.push_back(payroll.lines[first + x]);
      }
      if (fault == LineFault::kDispute) {
        AddDisputes(acc, period, payroll.lines[first + x]);
      }
    }
  }

  // Distinct workers for a period's faults: the skewed one weighs at least
  // the average (its fault is then far from every threshold), the others at
  // least half of it when there are enough such workers.
  std::vector<std::pair<LineFault, size_t>> ChooseTargets(
      const std::vector<LineFault>& faults,
      const std::vector<int64_t>& weights) {
    const int64_t n = static_cast<int64_t>(weights.size());
    const int64_t weight_sum =
        std::accumulate(weights.begin(), weights.end(), int64_t{0});
    std::vector<size_t> order(weights.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    Shuffle(order);
    std::vector<bool> taken(weights.size(), false);
    const auto take = [&](int64_t weight_times_n_min) {
      for (size_t i : order) {
        if (!taken[i] && weights[i] * n >= weight_times_n_min) {
          taken[i] = true;
          return i;
        }
      }
      for (size_t i : order) {
        if (!taken[i]) {
          taken[i] = true;
          return i;
        }
      }
      return order.front();
    };
    std::vector<std::pair<LineFault, size_t>> targets;
    for (LineFault fault : faults) {
      if (fault == LineFault::kSkew)
        targets.emplace_back(fault, take(weight_sum));
    }
    for (LineFault fault : faults) {
      if (fault != LineFault::kSkew) {
        targets.emplace_back(fault, take(weight_sum / 2));
      }
    }
    return targets;
  }

  // The worker's paystub shows less premium than the ledger; every other
  // worker disputes twice, and the latest dispute counts.
  void AddDisputes(const Account& account, int period,
                   const PayrollLine& line) {
    const int64_t premium_cents = line.premium_micros / kCentMicros;
    const auto paystub = [&] {
      return premium_cents * random_.Uniform(0, 70) / 100 * kCentMicros;
    };
    DisputeSpec dispute;
    dispute.program = account.program;
    dispute.supplier = account.supplier;
    dispute.worker = line.worker;
    dispute.period = period;
    if (disputes_made_++ % 2 == 1) {
      dispute.paystub_amount_micros = paystub();
      dispute.note = "my paystub shows a different premium";
      season_.disputes.push_back(dispute);
    }
    dispute.paystub_amount_micros = paystub();
    dispute.note = "the premium on my paystub is lower than recorded";
    season_.disputes.push_back(dispute);
  }

  // A supplier's payroll, period by period: who works (workers leave and
  // others join, some miss a period), their hours and wages, and one line
  // per program of the supplier.
  void MakePayroll(int supplier) {
    SupplierPayroll& payroll = season_.payroll[supplier];
    std::vector<int> accounts;
    for (size_t a = 0; a < accounts_.size(); ++a) {
      if (accounts_[a].supplier == supplier) {
        accounts.push_back(static_cast<int>(a));
      }
    }
    if (accounts.empty()) return;
    std::sort(accounts.begin(), accounts.end(), [&](int x, int y) {
      return accounts_[x].program < accounts_[y].program;
    });
    const auto hire = [&] {
      Worker worker;
      worker.id = static_cast<uint32_t>(payroll.worker_ids.size());
      payroll.worker_ids.push_back(absl::StrCat("w", Padded(worker.id + 1, 5)));
      // Hundredths of an hour per week; twice-monthly periods are longer.
      worker.base_hours_hundredths = fair_food() ? random_.Uniform(2000, 5000)
                                                 : random_.Uniform(4500, 6500);
      worker.wage_cents = random_.Uniform(1350, 1850);
      return worker;
    };
    std::vector<Worker> slots;
    for (int64_t i = 0; i < slots_[supplier]; ++i) slots.push_back(hire());
    std::vector<Present> roster;
    for (size_t k = 0; k < season_.periods.size(); ++k) {
      const PayPeriod& period = season_.periods[k];
      const int64_t days = period.end - period.start + 1;
      roster.clear();
      int64_t absences = 0;
      for (Worker& slot : slots) {
        if (k > 0 && random_.Percent(kWorkerTurnoverPercent)) slot = hire();
        const bool absent = random_.Percent(kWorkerAbsencePercent);
        const int64_t percent = random_.Uniform(60, 120);
        // Enough workers stay for a period's median to mean something.
        if (absent && static_cast<int64_t>(slots.size()) - absences - 1 >=
                          kPresentWorkersMin) {
          ++absences;
          continue;
        }
        Present present;
        present.worker = slot.id;
        present.hours_hundredths = std::max<int64_t>(
            400, slot.base_hours_hundredths * days / 7 * percent / 100);
        present.wages_cents =
            exact_.MulDiv(present.hours_hundredths, slot.wage_cents, 100);
        roster.push_back(present);
      }
      for (int a : accounts) {
        PeriodLines(a, static_cast<int>(k), roster, payroll);
      }
    }
  }

  // The ground truth must hold exactly the injected discrepancies.
  absl::Status CheckInjected() const {
    std::map<std::string, int> counts;
    for (const ExpectedDiscrepancy& d : season_.expected) ++counts[d.type];
    std::string problems;
    for (const char* type : kTypeNames) {
      const auto it = counts.find(type);
      const int count = it == counts.end() ? 0 : it->second;
      if (count != options_.inject_per_type) {
        absl::StrAppend(&problems, " ", type, " ", count);
      }
    }
    if (problems.empty()) return absl::OkStatus();
    std::string rows;
    for (const ExpectedDiscrepancy& d : season_.expected) {
      absl::StrAppend(&rows, "\n  ", ExpectedRow(d));
    }
    return absl::InternalError(absl::StrCat(
        "the season's discrepancies are not ", options_.inject_per_type,
        " of each type:", problems, rows));
  }

  const SeasonOptions options_;
  Random random_;
  Exact exact_;
  Season season_;
  absl::CivilDay start_;
  std::vector<int> brand_program_;
  std::vector<Pair> pairs_;
  std::vector<Account> accounts_;
  int invoices_per_week_ = 1;
  std::vector<int64_t> slots_;
  std::vector<Window> windows_;
  int injected_window_ = -1;
  // Per pair and week: what the brand pays when all is well.
  std::vector<std::vector<int64_t>> nominal_;
  std::vector<BrandPlan> brand_plans_;
  // Per account and payout period.
  std::vector<std::vector<int64_t>> received_;
  std::vector<std::vector<absl::CivilDay>> latest_payment_;
  std::vector<SupplierPlan> supplier_plans_;
  std::vector<std::vector<int64_t>> payout_;
  std::vector<std::vector<bool>> injectable_;
  // Per (account, period): the faults of its lines, each on its own worker.
  std::map<std::pair<int, int>, std::vector<LineFault>> line_faults_;
  int disputes_made_ = 0;
};

}  // namespace

int64_t Season::purchase_count() const {
  int64_t count = 0;
  for (const auto& brand_purchases : purchases) count += brand_purchases.size();
  return count;
}

int64_t Season::payment_count() const {
  int64_t count = 0;
  for (const auto& brand_payments : payments) count += brand_payments.size();
  return count;
}

int64_t Season::payroll_line_count() const {
  int64_t count = 0;
  for (const SupplierPayroll& supplier : payroll)
    count += supplier.lines.size();
  return count;
}

std::string FormatDay(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

std::string AllocationName(Allocation allocation) {
  switch (allocation) {
    case Allocation::kHours:
      return "hours";
    case Allocation::kWages:
      return "wages";
    case Allocation::kNone:
      return "none";
  }
  return "none";
}

absl::StatusOr<Season> GenerateSeason(const SeasonOptions& options) {
  return Generator(options).Run();
}

SeasonOptions StressSeasonOptions(uint64_t seed) {
  SeasonOptions options;
  options.style = seed % 2 == 0 ? Style::kFairFood : Style::kMilkWithDignity;
  options.seed = seed;
  options.brands = 2 + seed % 5;
  options.suppliers = 3 + seed % 8;
  options.workers_per_supplier = 6 + seed % 25;
  options.weeks = 6 + seed % 11;
  options.inject_per_type = seed % 4;
  options.invoices_per_week = 1 + seed % 4;
  if (seed % 3 == 0) options.allocation = AllocationChoice::kHours;
  if (seed % 7 == 0) options.allocation = AllocationChoice::kWages;
  if (seed % 4 == 0) {
    // Any day from the fourth week on.
    options.as_of = absl::CivilDay(2026, 1, 1) + 21 +
                    static_cast<int>((seed * 7919) % (7 * options.weeks));
  }
  return options;
}

}  // namespace premium::season
