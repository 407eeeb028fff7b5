#include "ledger/premium/reconcile.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/program.h"
#include "ledger/premium/seq_runs.h"
#include "ledger/premium/standing.h"
#include "ledger/premium/validation.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {

namespace pb = wsr::premium::v1;

namespace {

using Day = absl::CivilDay;
// Before every record's date (those are years 0001-9999): the as-of date at
// which a pay period has no line or dispute yet.
constexpr Day kBeforeEveryRecord(0, 1, 1);
constexpr Day kAfterEveryRecord(10000, 1, 1);
// A day counted from 1970-01-01: 4 bytes where a Day takes 16, for the facts
// kept per pay day of every pay period. Record dates are validated years
// 0001-9999, far inside int32; other days (an as-of date from a caller)
// saturate, which keeps every comparison with a record's day exact.
constexpr Day kEpochDay(1970, 1, 1);
int32_t DayNumber(Day day) {
  return static_cast<int32_t>(std::clamp<absl::civil_diff_t>(
      day - kEpochDay, std::numeric_limits<int32_t>::min(),
      std::numeric_limits<int32_t>::max()));
}
Day DayOfNumber(int32_t number) { return kEpochDay + number; }
// Sums and cross products of micros: int64 × int64 always fits.
using Int128 = __int128;
// A pay period's lines kept at hand while they are applied (about 70 bytes
// each): a bigger period is read back from the log.
constexpr size_t kOpenPeriodLinesMax = 65'536;

constexpr int kCentDigits = 2;
constexpr int64_t kSkewFloorMicros = 10'000;  // 0.01
// 5% as a divisor: |premium - e| must exceed e / 20.
constexpr int64_t kSkewShareDivisor = 20;

struct TypeInfo {
  DiscrepancyType type;
  absl::string_view name;
  absl::string_view id_prefix;
  Severity severity;
};

constexpr TypeInfo kTypes[kDiscrepancyTypeCount] = {
    {DiscrepancyType::kBrandUnderpaid, "BRAND_UNDERPAID", "brand_underpaid",
     Severity::kHigh},
    {DiscrepancyType::kLateBrandPayment, "LATE_BRAND_PAYMENT",
     "late_brand_payment", Severity::kMedium},
    {DiscrepancyType::kBrandOverpaid, "BRAND_OVERPAID", "brand_overpaid",
     Severity::kLow},
    {DiscrepancyType::kUndistributedPremium, "UNDISTRIBUTED_PREMIUM",
     "undistributed_premium", Severity::kHigh},
    {DiscrepancyType::kLateDistribution, "LATE_DISTRIBUTION",
     "late_distribution", Severity::kMedium},
    {DiscrepancyType::kDuplicatePayrollLine, "DUPLICATE_PAYROLL_LINE",
     "duplicate_payroll_line", Severity::kHigh},
    {DiscrepancyType::kPremiumWithoutHours, "PREMIUM_WITHOUT_HOURS",
     "premium_without_hours", Severity::kHigh},
    {DiscrepancyType::kAllocationSkew, "ALLOCATION_SKEW", "allocation_skew",
     Severity::kMedium},
    {DiscrepancyType::kPurchaseFromSuspendedSupplier,
     "PURCHASE_FROM_SUSPENDED_SUPPLIER", "purchase_from_suspended_supplier",
     Severity::kHigh},
    {DiscrepancyType::kWorkerDispute, "WORKER_DISPUTE", "worker_dispute",
     Severity::kHigh},
};

const TypeInfo& InfoOf(DiscrepancyType type) {
  const TypeInfo& info = kTypes[static_cast<int>(type)];
  assert(info.type == type);
  return info;
}

absl::StatusOr<int64_t> ToMicros(Int128 value, absl::string_view what) {
  if (value > kMaxMicros || value < kMinMicros) {
    return absl::OutOfRangeError(
        absl::StrCat(what, " exceeds the largest amount the ledger holds"));
  }
  return static_cast<int64_t>(value);
}

Int128 Abs(Int128 value) { return value < 0 ? -value : value; }

// A discrepancy's difference: positive and rounded half-even to the cent.
absl::StatusOr<int64_t> Difference(Int128 exact, absl::string_view what) {
  absl::StatusOr<int64_t> micros = ToMicros(Abs(exact), what);
  if (!micros.ok()) return micros.status();
  return RoundMicrosHalfEven(*micros, kCentDigits);
}

// ---------------------------------------------------------------------------
// Facts kept per account: only what the rules read.

// A pair's purchases dated one day. The balance rules and the outcomes need
// only what was owed per purchase date, so purchases are kept per day, not
// per purchase: a brand reporting every day for years keeps a sum and a few
// runs of seqs a day, however many invoices (in the soak test purchases kept
// one by one were most of what grew). The one finding that names a purchase
// (PURCHASE_FROM_SUSPENDED_SUPPLIER) reads it back from the log.
struct PurchaseDay {
  int32_t day_number = 0;  // DayNumber of the purchase date.
  Int128 premium_micros = 0;
  SeqRuns seqs;

  Day date() const { return DayOfNumber(day_number); }
};

// Payments are kept one by one: outcomes match each against paychecks and
// count its days to them. A few per brand and supplier a month, 24 bytes
// each.

struct PaymentFact {
  uint64_t seq = 0;
  int64_t amount_micros = 0;
  int32_t day_number = 0;  // DayNumber of the payment date.

  Day date() const { return DayOfNumber(day_number); }
};
static_assert(sizeof(PaymentFact) == 24);

// A payroll line as a pay period's rules read it back from the log: held
// only while the period's findings are computed.
struct LineFact {
  uint64_t seq = 0;
  int64_t hours_micros = 0;
  int64_t gross_wages_micros = 0;
  int64_t premium_micros = 0;
  std::string worker_id;
};

struct DisputeFact {
  uint64_t seq = 0;
  uint64_t line_seq = 0;
  // The UTC day it was appended: disputes have no business date.
  Day appended;
  std::string worker_id;
  int64_t paystub_micros = 0;
  // The disputed line's premium, kept so a reversal of the line leaves the
  // dispute's figures as the worker saw them.
  int64_t line_premium_micros = 0;
};

using Findings = std::vector<std::shared_ptr<const Discrepancy>>;

// What one account found as of one date. Apply marks it stale.
struct Cache {
  bool stale = true;
  std::optional<Day> as_of;
  Findings findings;

  bool FreshFor(Day day) const { return !stale && as_of == day; }
};

struct PairAccount {  // program, brand, supplier
  std::string brand_id;
  std::string supplier_id;
  // Ascending by day.
  std::vector<PurchaseDay> purchase_days;
  std::vector<PaymentFact> payments;
  Cache cache;

  // The day's purchases, or nullptr if there are none.
  PurchaseDay* PurchasesOn(int32_t day_number) {
    auto it = FirstPurchaseDayFrom(day_number);
    return it != purchase_days.end() && it->day_number == day_number ? &*it
                                                                     : nullptr;
  }
  void AddPurchase(uint64_t seq, int32_t day_number, int64_t premium_micros) {
    auto it = FirstPurchaseDayFrom(day_number);
    if (it == purchase_days.end() || it->day_number != day_number) {
      it = purchase_days.insert(it, PurchaseDay{.day_number = day_number});
    }
    it->premium_micros += premium_micros;
    it->seqs.Append(seq);
  }
  void ErasePurchaseDay(int32_t day_number) {
    auto it = FirstPurchaseDayFrom(day_number);
    assert(it != purchase_days.end() && it->day_number == day_number);
    purchase_days.erase(it);
  }

 private:
  std::vector<PurchaseDay>::iterator FirstPurchaseDayFrom(int32_t day_number) {
    return std::lower_bound(
        purchase_days.begin(), purchase_days.end(), day_number,
        [](const PurchaseDay& day, int32_t n) { return day.day_number < n; });
  }
};

struct PeriodGroup;

struct SupplierAccount {  // program, supplier
  std::string supplier_id;
  // Every brand that reported buying from or paying this supplier.
  std::vector<PairAccount*> pairs;
  // Its pay periods, whose lines are its payroll (kept once, there).
  std::vector<const PeriodGroup*> periods;
  StandingHistory standing;
  Cache cache;
};

// A pay period's lines paid on one day: what the supplier's rules and the
// outcomes need of them, and where they are in the log for the period's own
// rules.
struct PayDayLines {
  // DayNumber(pay date).
  int32_t pay_day = 0;
  Int128 premium_micros = 0;
  // Of the lines with a positive premium: what the outcomes match payments
  // against.
  Int128 paid_out_micros = 0;
  SeqRuns seqs;

  void Add(int64_t line_premium_micros, int sign) {
    premium_micros += sign * Int128{line_premium_micros};
    if (line_premium_micros > 0) {
      paid_out_micros += sign * Int128{line_premium_micros};
    }
  }
};

struct PeriodGroup {  // program, supplier, pay period
  std::string supplier_id;
  Day start;
  Day end;
  // Ascending by pay day; a period is usually paid on one.
  std::vector<PayDayLines> pay_days;
  std::vector<DisputeFact> disputes;
  Cache cache;

  PayDayLines* LinesPaidOn(int32_t pay_day) {
    for (PayDayLines& lines : pay_days) {
      if (lines.pay_day == pay_day) return &lines;
    }
    return nullptr;
  }
  PayDayLines& AddPayDay(int32_t pay_day) {
    auto it = std::find_if(pay_days.begin(), pay_days.end(),
                           [pay_day](const PayDayLines& lines) {
                             return lines.pay_day > pay_day;
                           });
    return *pay_days.insert(it, PayDayLines{.pay_day = pay_day});
  }
  bool HoldsLine(uint64_t seq) const {
    return std::any_of(
        pay_days.begin(), pay_days.end(),
        [seq](const PayDayLines& lines) { return lines.seqs.Contains(seq); });
  }
  // The latest day on or before `as_of` when a line was paid or a dispute
  // appended (kBeforeEveryRecord if none): the period's rules see the same
  // records at every as-of date from that day until the next such day.
  Day LastChangeOnOrBefore(Day as_of) const {
    Day last = kBeforeEveryRecord;
    const int32_t as_of_day = DayNumber(as_of);
    for (const PayDayLines& lines : pay_days) {
      if (lines.pay_day <= as_of_day) {
        last = std::max(last, DayOfNumber(lines.pay_day));
      }
    }
    for (const DisputeFact& dispute : disputes) {
      if (dispute.appended <= as_of) last = std::max(last, dispute.appended);
    }
    return last;
  }
};

struct ProgramState {
  std::string program_id;
  ProgramHistory history;
  absl::flat_hash_map<std::string, std::unique_ptr<PairAccount>> pairs;
  absl::flat_hash_map<std::string, std::unique_ptr<SupplierAccount>> suppliers;
  absl::flat_hash_map<std::string, std::unique_ptr<PeriodGroup>> periods;

  const pb::ProgramVersion& currency_source() const {
    return history.first().version;
  }

  // The version in force on `day`, or the first one for days before the
  // program began (payments, pay dates and as-of dates may precede it).
  const pb::ProgramVersion& VersionOn(Day day) const {
    absl::StatusOr<const ProgramVersionRecord*> record = history.InForceOn(day);
    return record.ok() ? (*record)->version : history.first().version;
  }

  void MarkAllStale() {
    for (auto& [key, pair] : pairs) pair->cache.stale = true;
    for (auto& [key, supplier] : suppliers) supplier->cache.stale = true;
    for (auto& [key, period] : periods) period->cache.stale = true;
  }
};

std::string PairKeyOf(absl::string_view brand_id,
                      absl::string_view supplier_id) {
  return absl::StrCat(brand_id, "/", supplier_id);
}

// Dates in records are validated "YYYY-MM-DD" text, one spelling per day,
// so the text serves as the key without formatting the day again.
std::string PeriodKeyOf(absl::string_view supplier_id,
                        absl::string_view start_text,
                        absl::string_view end_text) {
  return absl::StrCat(supplier_id, "/", start_text, "/", end_text);
}

template <typename Message>
absl::StatusOr<Message> ParsePayload(uint64_t seq, const pb::Entry& entry) {
  Message message;
  if (!message.ParseFromString(entry.payload())) {
    return absl::DataLossError(absl::StrCat(
        "entry ", seq, ": payload does not parse as ", entry.kind()));
  }
  return message;
}

absl::StatusOr<Day> RecordDate(uint64_t seq, absl::string_view field,
                               absl::string_view text) {
  absl::StatusOr<Day> day = ParseDate(field, text);
  if (!day.ok()) {
    return absl::DataLossError(
        absl::StrCat("entry ", seq, ": ", day.status().message()));
  }
  return *day;
}

// ---------------------------------------------------------------------------
// Runs of a balance above the tolerance (shortfalls and gaps).

struct Step {
  Day day;
  Int128 expected_delta = 0;
  Int128 actual_delta = 0;
};

struct Run {
  Day began;
  std::optional<Day> cured;
  // Expected and actual on the first day the run reached its largest
  // difference.
  Int128 peak_expected = 0;
  Int128 peak_actual = 0;
};

struct RunReport {
  // At the as-of date.
  Int128 expected = 0;
  Int128 actual = 0;
  // The run still open at the as-of date.
  std::optional<Run> open;
  // The cured run with the largest peak, the earliest of equal ones.
  std::optional<Run> worst_cured;
};

// Follows expected - actual through `steps` (any order, all dated on or
// before the as-of date) and reports the runs where it exceeded
// `tolerance_micros`.
RunReport TrackRuns(std::vector<Step> steps, int64_t tolerance_micros) {
  std::sort(steps.begin(), steps.end(),
            [](const Step& a, const Step& b) { return a.day < b.day; });
  RunReport report;
  std::optional<Run> run;
  for (size_t i = 0; i < steps.size();) {
    const Day day = steps[i].day;
    // Every change of one day lands together: a payment on a due date
    // cures it that day.
    for (; i < steps.size() && steps[i].day == day; ++i) {
      report.expected += steps[i].expected_delta;
      report.actual += steps[i].actual_delta;
    }
    const Int128 balance = report.expected - report.actual;
    if (balance > tolerance_micros) {
      if (!run.has_value()) {
        run = Run{.began = day,
                  .peak_expected = report.expected,
                  .peak_actual = report.actual};
      } else if (balance > run->peak_expected - run->peak_actual) {
        run->peak_expected = report.expected;
        run->peak_actual = report.actual;
      }
    } else if (run.has_value()) {
      run->cured = day;
      if (!report.worst_cured.has_value() ||
          run->peak_expected - run->peak_actual >
              report.worst_cured->peak_expected -
                  report.worst_cured->peak_actual) {
        report.worst_cured = run;
      }
      run.reset();
    }
  }
  report.open = run;
  return report;
}

}  // namespace

// ---------------------------------------------------------------------------

absl::string_view DiscrepancyTypeName(DiscrepancyType type) {
  return InfoOf(type).name;
}

absl::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kHigh:
      return "HIGH";
    case Severity::kMedium:
      return "MEDIUM";
    case Severity::kLow:
      return "LOW";
  }
  return "HIGH";
}

std::optional<DiscrepancyType> ParseDiscrepancyType(absl::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

std::string DiscrepancyId(const DiscrepancyKey& key) {
  std::vector<std::string> parts = {std::string(InfoOf(key.type).id_prefix),
                                    key.program_id};
  for (const std::string* id :
       {&key.brand_id, &key.supplier_id, &key.worker_id}) {
    if (!id->empty()) parts.push_back(*id);
  }
  for (const std::optional<Day>* day : {&key.period_start, &key.period_end}) {
    if (day->has_value()) parts.push_back(FormatDate(**day));
  }
  if (!key.invoice_id.empty()) parts.push_back(key.invoice_id);
  return absl::StrJoin(parts, ":");
}

// ---------------------------------------------------------------------------

class Reconciler::State {
 public:
  explicit State(const EntryLog* log) : log_(log) {}

  absl::Status Apply(uint64_t seq, const pb::Entry& entry);
  uint64_t next_seq() const { return next_seq_; }
  absl::StatusOr<std::vector<Finding>> Reconcile(const ReconcileQuery& query);
  absl::StatusOr<Summary> Summarize(absl::string_view program_id, Day as_of);

 private:
  absl::StatusOr<ProgramState*> KnownProgram(uint64_t seq,
                                             absl::string_view program_id);
  PairAccount& Pair(ProgramState& program, const std::string& brand_id,
                    const std::string& supplier_id);
  SupplierAccount& Supplier(ProgramState& program,
                            const std::string& supplier_id);

  absl::Status ApplyProgramVersion(uint64_t seq, const pb::Entry& entry);
  absl::Status ApplyPurchase(uint64_t seq, const pb::Entry& entry);
  absl::Status ApplyPayment(uint64_t seq, const pb::Entry& entry);
  absl::Status ApplyPayrollLine(uint64_t seq, const pb::Entry& entry);
  absl::Status ApplyStanding(uint64_t seq, const pb::Entry& entry);
  absl::Status ApplyDispute(uint64_t seq, const pb::Entry& entry);
  absl::Status ApplyResolution(uint64_t seq, const pb::Entry& entry);
  absl::Status ApplyReversal(uint64_t seq, const pb::Entry& entry);

  absl::StatusOr<Findings> PairFindings(const ProgramState& program,
                                        const PairAccount& pair, Day as_of);
  absl::StatusOr<Findings> SupplierFindings(const ProgramState& program,
                                            const SupplierAccount& supplier,
                                            Day as_of);
  // Reads the period's lines back from the log for PeriodFindingsOf.
  absl::StatusOr<Findings> PeriodFindings(const ProgramState& program,
                                          const PeriodGroup& period, Day as_of);
  // `lines`: the period's lines paid on or before `as_of`, in seq order.
  absl::StatusOr<Findings> PeriodFindingsOf(
      const ProgramState& program, const PeriodGroup& period, Day as_of,
      const std::vector<LineFact>& lines) const;
  // Computes the findings of last_line_target_'s period from open_lines_
  // when they are all its lines and it changed.
  void ComputeOpenPeriod();
  // The period's lines paid on or before `as_of`, read back from the log,
  // in seq order.
  absl::StatusOr<std::vector<LineFact>> ReadLines(const ProgramState& program,
                                                  const PeriodGroup& period,
                                                  Day as_of) const;
  // The purchase applied at `seq` as one of `pair`'s on `day`, read back
  // from the log: DataLoss if the log holds something else there.
  absl::StatusOr<pb::PurchaseReport> PurchaseAt(uint64_t seq,
                                                const ProgramState& program,
                                                const PairAccount& pair,
                                                const PurchaseDay& day) const;

  Discrepancy NewDiscrepancy(const ProgramState& program,
                             DiscrepancyKey key) const;
  Finding WithStatus(std::shared_ptr<const Discrepancy> discrepancy) const;

  const EntryLog* const log_;
  uint64_t next_seq_ = 0;
  absl::flat_hash_map<std::string, std::unique_ptr<ProgramState>> programs_;
  // Where the last payroll line went (accounts are never deleted).
  struct LineTarget {
    const ProgramState* program = nullptr;
    std::string supplier_id;
    std::string period_start;
    std::string period_end;
    PeriodGroup* period = nullptr;
    SupplierAccount* supplier = nullptr;
  };
  LineTarget last_line_target_;
  // The lines applied to last_line_target_'s period since it became the
  // target, while they are all of its lines (and at most
  // kOpenPeriodLinesMax): when the target moves on or a reconcile starts,
  // the period's findings are computed from them instead of reading them
  // back, so catching up with the log reads each line once.
  std::vector<LineFact> open_lines_;
  bool open_lines_complete_ = false;
  pb::PayrollLine scratch_line_;
  struct ResolutionFact {
    uint64_t seq = 0;
    int64_t difference_micros = 0;
  };
  // Per discrepancy id, in ledger order.
  absl::flat_hash_map<std::string, std::vector<ResolutionFact>> resolutions_;
  // Who appended each resolution: actor and idempotency key, to seq.
  absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t>
      resolution_requests_;

 public:
  std::optional<uint64_t> ResolutionAppendedBy(
      absl::string_view actor, absl::string_view idempotency_key) const {
    auto it = resolution_requests_.find(
        std::make_pair(std::string(actor), std::string(idempotency_key)));
    if (it == resolution_requests_.end()) return std::nullopt;
    return it->second;
  }
};

absl::Status Reconciler::State::Apply(uint64_t seq, const pb::Entry& entry) {
  if (seq != next_seq_) {
    return absl::FailedPreconditionError(
        absl::StrCat("entries must be applied in order: expected seq ",
                     next_seq_, ", got ", seq));
  }
  const std::string& kind = entry.kind();
  absl::Status applied;
  if (kind == kProgramVersionKind) {
    applied = ApplyProgramVersion(seq, entry);
  } else if (kind == kPurchaseReportKind) {
    applied = ApplyPurchase(seq, entry);
  } else if (kind == kPremiumPaymentKind) {
    applied = ApplyPayment(seq, entry);
  } else if (kind == kPayrollLineKind) {
    applied = ApplyPayrollLine(seq, entry);
  } else if (kind == kSuspensionKind || kind == kReinstatementKind) {
    applied = ApplyStanding(seq, entry);
  } else if (kind == kWorkerDisputeKind) {
    applied = ApplyDispute(seq, entry);
  } else if (kind == kDiscrepancyResolutionKind) {
    applied = ApplyResolution(seq, entry);
  } else if (kind == kReversalKind) {
    applied = ApplyReversal(seq, entry);
  }
  if (!applied.ok()) return applied;
  ++next_seq_;
  return absl::OkStatus();
}

absl::StatusOr<ProgramState*> Reconciler::State::KnownProgram(
    uint64_t seq, absl::string_view program_id) {
  auto it = programs_.find(program_id);
  if (it == programs_.end()) {
    return absl::DataLossError(absl::StrCat("entry ", seq, ": program \"",
                                            program_id,
                                            "\" has no version before it"));
  }
  return it->second.get();
}

PairAccount& Reconciler::State::Pair(ProgramState& program,
                                     const std::string& brand_id,
                                     const std::string& supplier_id) {
  std::unique_ptr<PairAccount>& pair =
      program.pairs[PairKeyOf(brand_id, supplier_id)];
  if (pair == nullptr) {
    pair = std::make_unique<PairAccount>();
    pair->brand_id = brand_id;
    pair->supplier_id = supplier_id;
    Supplier(program, supplier_id).pairs.push_back(pair.get());
  }
  return *pair;
}

SupplierAccount& Reconciler::State::Supplier(ProgramState& program,
                                             const std::string& supplier_id) {
  std::unique_ptr<SupplierAccount>& supplier = program.suppliers[supplier_id];
  if (supplier == nullptr) {
    supplier = std::make_unique<SupplierAccount>();
    supplier->supplier_id = supplier_id;
  }
  return *supplier;
}

absl::Status Reconciler::State::ApplyProgramVersion(uint64_t seq,
                                                    const pb::Entry& entry) {
  absl::StatusOr<pb::ProgramVersion> version =
      ParsePayload<pb::ProgramVersion>(seq, entry);
  if (!version.ok()) return version.status();
  absl::StatusOr<Day> effective =
      RecordDate(seq, "effective_date", version->effective_date());
  if (!effective.ok()) return effective.status();
  std::unique_ptr<ProgramState>& program = programs_[version->program_id()];
  const bool created = program == nullptr;
  if (created) {
    program = std::make_unique<ProgramState>();
    program->program_id = version->program_id();
  }
  absl::Status added = program->history.Add(ProgramVersionRecord{
      .seq = seq, .effective_date = *effective, .version = *version});
  if (!added.ok()) {
    if (created) programs_.erase(version->program_id());
    return absl::DataLossError(
        absl::StrCat("entry ", seq, ": ", added.message()));
  }
  // Terms, deadlines, rates and tolerance may all have changed.
  program->MarkAllStale();
  return absl::OkStatus();
}

absl::Status Reconciler::State::ApplyPurchase(uint64_t seq,
                                              const pb::Entry& entry) {
  absl::StatusOr<pb::PurchaseReport> purchase =
      ParsePayload<pb::PurchaseReport>(seq, entry);
  if (!purchase.ok()) return purchase.status();
  absl::StatusOr<ProgramState*> program =
      KnownProgram(seq, purchase->program_id());
  if (!program.ok()) return program.status();
  absl::StatusOr<Day> date =
      RecordDate(seq, "purchase_date", purchase->purchase_date());
  if (!date.ok()) return date.status();
  PairAccount& pair =
      Pair(**program, purchase->brand_id(), purchase->supplier_id());
  pair.AddPurchase(seq, DayNumber(*date), purchase->premium_micros());
  pair.cache.stale = true;
  Supplier(**program, purchase->supplier_id()).cache.stale = true;
  return absl::OkStatus();
}

absl::Status Reconciler::State::ApplyPayment(uint64_t seq,
                                             const pb::Entry& entry) {
  absl::StatusOr<pb::PremiumPayment> payment =
      ParsePayload<pb::PremiumPayment>(seq, entry);
  if (!payment.ok()) return payment.status();
  absl::StatusOr<ProgramState*> program =
      KnownProgram(seq, payment->program_id());
  if (!program.ok()) return program.status();
  absl::StatusOr<Day> date = RecordDate(seq, "paid_date", payment->paid_date());
  if (!date.ok()) return date.status();
  PairAccount& pair =
      Pair(**program, payment->brand_id(), payment->supplier_id());
  pair.payments.push_back(PaymentFact{.seq = seq,
                                      .amount_micros = payment->amount_micros(),
                                      .day_number = DayNumber(*date)});
  pair.cache.stale = true;
  Supplier(**program, payment->supplier_id()).cache.stale = true;
  return absl::OkStatus();
}

absl::Status Reconciler::State::ApplyPayrollLine(uint64_t seq,
                                                 const pb::Entry& entry) {
  // Parsed into one reused message: its strings keep their buffers, which
  // saves most of the allocations of a million lines.
  pb::PayrollLine* const line = &scratch_line_;
  if (!line->ParseFromString(entry.payload())) {
    return absl::DataLossError(absl::StrCat(
        "entry ", seq, ": payload does not parse as ", entry.kind()));
  }
  absl::StatusOr<ProgramState*> program = KnownProgram(seq, line->program_id());
  if (!program.ok()) return program.status();
  absl::StatusOr<Day> start =
      RecordDate(seq, "period_start", line->period_start());
  if (!start.ok()) return start.status();
  absl::StatusOr<Day> end = RecordDate(seq, "period_end", line->period_end());
  if (!end.ok()) return end.status();
  absl::StatusOr<Day> pay_date = RecordDate(seq, "pay_date", line->pay_date());
  if (!pay_date.ok()) return pay_date.status();

  // A payroll upload is one supplier's lines, period after period: most
  // lines land where the previous one did, without building a key.
  LineTarget& target = last_line_target_;
  if (target.period == nullptr || target.program != *program ||
      target.supplier_id != line->supplier_id() ||
      target.period_start != line->period_start() ||
      target.period_end != line->period_end()) {
    ComputeOpenPeriod();
    std::unique_ptr<PeriodGroup>& period = (*program)->periods[PeriodKeyOf(
        line->supplier_id(), line->period_start(), line->period_end())];
    SupplierAccount& supplier = Supplier(**program, line->supplier_id());
    if (period == nullptr) {
      period = std::make_unique<PeriodGroup>();
      period->supplier_id = line->supplier_id();
      period->start = *start;
      period->end = *end;
      supplier.periods.push_back(period.get());
    }
    target = LineTarget{.program = *program,
                        .supplier_id = line->supplier_id(),
                        .period_start = line->period_start(),
                        .period_end = line->period_end(),
                        .period = period.get(),
                        .supplier = &supplier};
    open_lines_.clear();
    open_lines_complete_ = period->pay_days.empty();
  }
  PeriodGroup* const period = target.period;
  const int32_t pay_day = DayNumber(*pay_date);
  PayDayLines* lines = period->LinesPaidOn(pay_day);
  if (lines == nullptr) lines = &period->AddPayDay(pay_day);
  lines->seqs.Append(seq);
  lines->Add(line->premium_micros(), +1);
  if (open_lines_complete_ && open_lines_.size() >= kOpenPeriodLinesMax) {
    open_lines_complete_ = false;
    std::vector<LineFact>().swap(open_lines_);
  }
  if (open_lines_complete_) {
    open_lines_.push_back(LineFact{
        .seq = seq,
        .hours_micros = line->hours_micros(),
        .gross_wages_micros = line->gross_wages_micros(),
        .premium_micros = line->premium_micros(),
        .worker_id = line->worker_id(),
    });
  }
  period->cache.stale = true;
  target.supplier->cache.stale = true;
  return absl::OkStatus();
}

void Reconciler::State::ComputeOpenPeriod() {
  PeriodGroup* const period = last_line_target_.period;
  if (period == nullptr || !open_lines_complete_ || !period->cache.stale) {
    return;
  }
  const Day seen_until = period->LastChangeOnOrBefore(kAfterEveryRecord);
  absl::StatusOr<Findings> findings = PeriodFindingsOf(
      *last_line_target_.program, *period, seen_until, open_lines_);
  // An error is Reconcile's to report, when it computes the period again.
  if (!findings.ok()) return;
  period->cache.findings = *std::move(findings);
  period->cache.as_of = seen_until;
  period->cache.stale = false;
}

absl::Status Reconciler::State::ApplyStanding(uint64_t seq,
                                              const pb::Entry& entry) {
  std::string program_id;
  std::string supplier_id;
  std::optional<pb::Suspension> suspension;
  std::optional<pb::Reinstatement> reinstatement;
  if (entry.kind() == kSuspensionKind) {
    absl::StatusOr<pb::Suspension> parsed =
        ParsePayload<pb::Suspension>(seq, entry);
    if (!parsed.ok()) return parsed.status();
    program_id = parsed->program_id();
    supplier_id = parsed->supplier_id();
    suspension = *std::move(parsed);
  } else {
    absl::StatusOr<pb::Reinstatement> parsed =
        ParsePayload<pb::Reinstatement>(seq, entry);
    if (!parsed.ok()) return parsed.status();
    program_id = parsed->program_id();
    supplier_id = parsed->supplier_id();
    reinstatement = *std::move(parsed);
  }
  absl::StatusOr<ProgramState*> program = KnownProgram(seq, program_id);
  if (!program.ok()) return program.status();
  // Tried on a copy: a refused record leaves the standing as it was, and
  // an account made for it holds nothing.
  SupplierAccount& supplier = Supplier(**program, supplier_id);
  StandingHistory standing = supplier.standing;
  absl::Status added = suspension.has_value()
                           ? standing.AddSuspension(seq, *suspension)
                           : standing.AddReinstatement(seq, *reinstatement);
  if (!added.ok()) {
    return absl::DataLossError(
        absl::StrCat("entry ", seq, ": ", added.message()));
  }
  supplier.standing = std::move(standing);
  supplier.cache.stale = true;
  return absl::OkStatus();
}

absl::Status Reconciler::State::ApplyDispute(uint64_t seq,
                                             const pb::Entry& entry) {
  absl::StatusOr<pb::WorkerDispute> dispute =
      ParsePayload<pb::WorkerDispute>(seq, entry);
  if (!dispute.ok()) return dispute.status();
  absl::StatusOr<ProgramState*> program =
      KnownProgram(seq, dispute->program_id());
  if (!program.ok()) return program.status();
  absl::StatusOr<Day> start =
      RecordDate(seq, "period_start", dispute->period_start());
  if (!start.ok()) return start.status();
  absl::StatusOr<Day> end =
      RecordDate(seq, "period_end", dispute->period_end());
  if (!end.ok()) return end.status();
  auto period = (*program)->periods.find(PeriodKeyOf(
      dispute->supplier_id(), dispute->period_start(), dispute->period_end()));
  const auto not_the_workers_line = [&] {
    return absl::DataLossError(
        absl::StrCat("entry ", seq, ": disputes line ", dispute->line_seq(),
                     ", which is not that worker's line in that period"));
  };
  if (period == (*program)->periods.end() ||
      !period->second->HoldsLine(dispute->line_seq())) {
    return not_the_workers_line();
  }
  // The period holds where its lines are, not what they say.
  absl::StatusOr<pb::Entry> line_entry = log_->Read(dispute->line_seq());
  if (!line_entry.ok()) return line_entry.status();
  if (line_entry->kind() != kPayrollLineKind) return not_the_workers_line();
  absl::StatusOr<pb::PayrollLine> line =
      ParsePayload<pb::PayrollLine>(dispute->line_seq(), *line_entry);
  if (!line.ok()) return line.status();
  if (line->worker_id() != dispute->worker_id()) return not_the_workers_line();
  const absl::Time appended = absl::FromUnixMicros(entry.append_time_micros());
  period->second->disputes.push_back(DisputeFact{
      .seq = seq,
      .line_seq = dispute->line_seq(),
      .appended = absl::ToCivilDay(appended, absl::UTCTimeZone()),
      .worker_id = dispute->worker_id(),
      .paystub_micros = dispute->paystub_amount_micros(),
      .line_premium_micros = line->premium_micros(),
  });
  period->second->cache.stale = true;
  return absl::OkStatus();
}

absl::Status Reconciler::State::ApplyResolution(uint64_t seq,
                                                const pb::Entry& entry) {
  absl::StatusOr<pb::DiscrepancyResolution> resolution =
      ParsePayload<pb::DiscrepancyResolution>(seq, entry);
  if (!resolution.ok()) return resolution.status();
  resolutions_[resolution->discrepancy_id()].push_back(ResolutionFact{
      .seq = seq, .difference_micros = resolution->difference_micros()});
  resolution_requests_[std::make_pair(entry.actor(), entry.idempotency_key())] =
      seq;
  return absl::OkStatus();
}

namespace {

// Removes the element whose seq is `seq`; false if there is none.
template <typename Fact>
bool EraseSeq(std::vector<Fact>& facts, uint64_t seq) {
  auto it = std::find_if(facts.begin(), facts.end(),
                         [seq](const Fact& fact) { return fact.seq == seq; });
  if (it == facts.end()) return false;
  facts.erase(it);
  return true;
}

}  // namespace

absl::Status Reconciler::State::ApplyReversal(uint64_t seq,
                                              const pb::Entry& entry) {
  absl::StatusOr<pb::Reversal> reversal =
      ParsePayload<pb::Reversal>(seq, entry);
  if (!reversal.ok()) return reversal.status();
  const uint64_t target = reversal->reversed_seq();
  if (target >= seq) {
    return absl::DataLossError(absl::StrCat("entry ", seq, ": reverses entry ",
                                            target,
                                            ", which is not before it"));
  }
  absl::StatusOr<pb::Entry> reversed = log_->Read(target);
  if (!reversed.ok()) return reversed.status();
  const std::string& kind = reversed->kind();
  const auto missing = [&] {
    return absl::DataLossError(absl::StrCat("entry ", seq, ": reverses entry ",
                                            target, ", which was not applied"));
  };

  if (kind == kPurchaseReportKind || kind == kPremiumPaymentKind) {
    std::string program_id;
    std::string brand_id;
    std::string supplier_id;
    // Of a purchase: its day and premium, to take out of the day's sum.
    int32_t day_number = 0;
    int64_t premium_micros = 0;
    if (kind == kPurchaseReportKind) {
      absl::StatusOr<pb::PurchaseReport> purchase =
          ParsePayload<pb::PurchaseReport>(target, *reversed);
      if (!purchase.ok()) return purchase.status();
      absl::StatusOr<Day> date =
          RecordDate(target, "purchase_date", purchase->purchase_date());
      if (!date.ok()) return date.status();
      program_id = purchase->program_id();
      brand_id = purchase->brand_id();
      supplier_id = purchase->supplier_id();
      day_number = DayNumber(*date);
      premium_micros = purchase->premium_micros();
    } else {
      absl::StatusOr<pb::PremiumPayment> payment =
          ParsePayload<pb::PremiumPayment>(target, *reversed);
      if (!payment.ok()) return payment.status();
      program_id = payment->program_id();
      brand_id = payment->brand_id();
      supplier_id = payment->supplier_id();
    }
    absl::StatusOr<ProgramState*> program = KnownProgram(target, program_id);
    if (!program.ok()) return program.status();
    auto it = (*program)->pairs.find(PairKeyOf(brand_id, supplier_id));
    if (it == (*program)->pairs.end()) return missing();
    PairAccount& pair = *it->second;
    if (kind == kPurchaseReportKind) {
      PurchaseDay* day = pair.PurchasesOn(day_number);
      if (day == nullptr || !day->seqs.Contains(target)) return missing();
      if (day->seqs.size() == 1) {
        // The day's last purchase: what was added must all come out again.
        if (day->premium_micros != premium_micros) {
          return absl::DataLossError(absl::StrCat(
              "entry ", seq, ": reverses entry ", target,
              ", which reads back with another premium than it was applied "
              "with"));
        }
        pair.ErasePurchaseDay(day_number);
      } else {
        day->premium_micros -= premium_micros;
        day->seqs.Erase(target);
      }
    } else if (!EraseSeq(pair.payments, target)) {
      return missing();
    }
    pair.cache.stale = true;
    Supplier(**program, supplier_id).cache.stale = true;
    return absl::OkStatus();
  }
  if (kind == kPayrollLineKind) {
    absl::StatusOr<pb::PayrollLine> line =
        ParsePayload<pb::PayrollLine>(target, *reversed);
    if (!line.ok()) return line.status();
    absl::StatusOr<ProgramState*> program =
        KnownProgram(target, line->program_id());
    if (!program.ok()) return program.status();
    absl::StatusOr<Day> start =
        RecordDate(target, "period_start", line->period_start());
    if (!start.ok()) return start.status();
    absl::StatusOr<Day> end =
        RecordDate(target, "period_end", line->period_end());
    if (!end.ok()) return end.status();
    absl::StatusOr<Day> pay_date =
        RecordDate(target, "pay_date", line->pay_date());
    if (!pay_date.ok()) return pay_date.status();
    auto period = (*program)->periods.find(PeriodKeyOf(
        line->supplier_id(), line->period_start(), line->period_end()));
    auto supplier = (*program)->suppliers.find(line->supplier_id());
    if (period == (*program)->periods.end() ||
        supplier == (*program)->suppliers.end()) {
      return missing();
    }
    PeriodGroup& group = *period->second;
    PayDayLines* lines = group.LinesPaidOn(DayNumber(*pay_date));
    if (lines == nullptr || !lines->seqs.Erase(target)) return missing();
    if (&group == last_line_target_.period) {
      open_lines_complete_ = false;
      open_lines_.clear();
    }
    lines->Add(line->premium_micros(), -1);
    if (lines->seqs.empty()) {
      group.pay_days.erase(group.pay_days.begin() +
                           (lines - group.pay_days.data()));
    }
    group.cache.stale = true;
    supplier->second->cache.stale = true;
    return absl::OkStatus();
  }
  if (kind == kWorkerDisputeKind) {
    absl::StatusOr<pb::WorkerDispute> dispute =
        ParsePayload<pb::WorkerDispute>(target, *reversed);
    if (!dispute.ok()) return dispute.status();
    absl::StatusOr<ProgramState*> program =
        KnownProgram(target, dispute->program_id());
    if (!program.ok()) return program.status();
    absl::StatusOr<Day> start =
        RecordDate(target, "period_start", dispute->period_start());
    if (!start.ok()) return start.status();
    absl::StatusOr<Day> end =
        RecordDate(target, "period_end", dispute->period_end());
    if (!end.ok()) return end.status();
    auto period = (*program)->periods.find(PeriodKeyOf(dispute->supplier_id(),
                                                       dispute->period_start(),
                                                       dispute->period_end()));
    if (period == (*program)->periods.end() ||
        !EraseSeq(period->second->disputes, target)) {
      return missing();
    }
    period->second->cache.stale = true;
    return absl::OkStatus();
  }
  if (kind == kDiscrepancyResolutionKind) {
    absl::StatusOr<pb::DiscrepancyResolution> resolution =
        ParsePayload<pb::DiscrepancyResolution>(target, *reversed);
    if (!resolution.ok()) return resolution.status();
    auto it = resolutions_.find(resolution->discrepancy_id());
    if (it == resolutions_.end() || !EraseSeq(it->second, target)) {
      return missing();
    }
    if (it->second.empty()) resolutions_.erase(it);
    resolution_requests_.erase(
        std::make_pair(reversed->actor(), reversed->idempotency_key()));
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("entry ", seq, ": reverses entry ", target, " of kind ",
                   kind, ", which cannot be withdrawn"));
}

// ---------------------------------------------------------------------------

Discrepancy Reconciler::State::NewDiscrepancy(const ProgramState& program,
                                              DiscrepancyKey key) const {
  Discrepancy d;
  d.id = DiscrepancyId(key);
  d.type = key.type;
  d.severity = InfoOf(key.type).severity;
  d.program_id = std::move(key.program_id);
  d.brand_id = std::move(key.brand_id);
  d.supplier_id = std::move(key.supplier_id);
  d.worker_id = std::move(key.worker_id);
  d.period_start = key.period_start;
  d.period_end = key.period_end;
  d.invoice_id = std::move(key.invoice_id);
  d.currency = program.currency_source().currency();
  return d;
}

absl::StatusOr<Findings> Reconciler::State::PairFindings(
    const ProgramState& program, const PairAccount& pair, Day as_of) {
  const int64_t tolerance_micros = program.VersionOn(as_of).tolerance_micros();
  std::vector<Step> due_steps;   // Shortfall: owed when due vs paid.
  std::vector<Step> owed_steps;  // Overpayment: paid vs owed when bought.
  std::vector<SeqRuns::Run> evidence_runs;
  for (const PurchaseDay& day : pair.purchase_days) {
    if (day.date() > as_of) break;
    evidence_runs.insert(evidence_runs.end(), day.seqs.runs().begin(),
                         day.seqs.runs().end());
    owed_steps.push_back(
        Step{.day = day.date(), .actual_delta = day.premium_micros});
    const Day due =
        day.date() + program.VersionOn(day.date()).payment_terms_days();
    if (due <= as_of) {
      due_steps.push_back(
          Step{.day = due, .expected_delta = day.premium_micros});
    }
  }
  for (const PaymentFact& payment : pair.payments) {
    if (payment.date() > as_of) continue;
    evidence_runs.push_back({.first_seq = payment.seq, .count = 1});
    due_steps.push_back(
        Step{.day = payment.date(), .actual_delta = payment.amount_micros});
    owed_steps.push_back(
        Step{.day = payment.date(), .expected_delta = payment.amount_micros});
  }
  const SeqRuns evidence = SeqRuns::FromRuns(std::move(evidence_runs));

  Findings findings;
  const auto add = [&](DiscrepancyType type, std::optional<Day> began,
                       std::optional<Day> cured, Int128 expected,
                       Int128 actual) -> absl::Status {
    Discrepancy d = NewDiscrepancy(
        program, DiscrepancyKey{.type = type,
                                .program_id = program.program_id,
                                .brand_id = pair.brand_id,
                                .supplier_id = pair.supplier_id});
    d.period_start = began;
    d.period_end = cured;
    absl::StatusOr<int64_t> e = ToMicros(expected, "expected");
    absl::StatusOr<int64_t> a = ToMicros(actual, "actual");
    absl::StatusOr<int64_t> diff = Difference(expected - actual, "difference");
    for (const absl::Status& s : {e.status(), a.status(), diff.status()}) {
      if (!s.ok()) return s;
    }
    d.expected_micros = *e;
    d.actual_micros = *a;
    d.difference_micros = *diff;
    d.evidence = evidence;
    findings.push_back(std::make_shared<const Discrepancy>(std::move(d)));
    return absl::OkStatus();
  };

  const RunReport shortfall = TrackRuns(std::move(due_steps), tolerance_micros);
  if (shortfall.open.has_value()) {
    if (absl::Status s =
            add(DiscrepancyType::kBrandUnderpaid, shortfall.open->began,
                std::nullopt, shortfall.expected, shortfall.actual);
        !s.ok()) {
      return s;
    }
  } else if (shortfall.worst_cured.has_value()) {
    const Run& run = *shortfall.worst_cured;
    if (absl::Status s = add(DiscrepancyType::kLateBrandPayment, run.began,
                             run.cured, run.peak_expected, run.peak_actual);
        !s.ok()) {
      return s;
    }
  }
  // Overpayment is paid - owed: "expected" of the run tracker is paid.
  const RunReport overpaid = TrackRuns(std::move(owed_steps), tolerance_micros);
  if (overpaid.open.has_value()) {
    if (absl::Status s =
            add(DiscrepancyType::kBrandOverpaid, overpaid.open->began,
                std::nullopt, overpaid.actual, overpaid.expected);
        !s.ok()) {
      return s;
    }
  }
  return findings;
}

absl::StatusOr<Findings> Reconciler::State::SupplierFindings(
    const ProgramState& program, const SupplierAccount& supplier, Day as_of) {
  const int64_t tolerance_micros = program.VersionOn(as_of).tolerance_micros();
  Findings findings;
  std::vector<Step> steps;
  // Every payroll line counts: a few runs per upload, not a seq per line.
  std::vector<SeqRuns::Run> evidence_runs;
  for (const PairAccount* pair : supplier.pairs) {
    for (const PaymentFact& payment : pair->payments) {
      if (payment.date() > as_of) continue;
      evidence_runs.push_back(
          SeqRuns::Run{.first_seq = payment.seq, .count = 1});
      const pb::ProgramVersion& version = program.VersionOn(payment.date());
      const Day due = payment.date() + version.distribution_deadline_days();
      if (due > as_of) continue;
      absl::StatusOr<int64_t> worker_portion =
          WorkerPortionMicros(version, payment.amount_micros);
      if (!worker_portion.ok()) return worker_portion.status();
      steps.push_back(Step{.day = due, .expected_delta = *worker_portion});
    }
  }
  const int32_t as_of_day = DayNumber(as_of);
  for (const PeriodGroup* period : supplier.periods) {
    for (const PayDayLines& lines : period->pay_days) {
      if (lines.pay_day > as_of_day) continue;
      evidence_runs.insert(evidence_runs.end(), lines.seqs.runs().begin(),
                           lines.seqs.runs().end());
      steps.push_back(Step{.day = DayOfNumber(lines.pay_day),
                           .actual_delta = lines.premium_micros});
    }
  }
  SeqRuns evidence = SeqRuns::FromRuns(std::move(evidence_runs));

  const RunReport gap = TrackRuns(std::move(steps), tolerance_micros);
  std::optional<DiscrepancyType> type;
  std::optional<Day> began;
  std::optional<Day> cured;
  Int128 expected = 0;
  Int128 actual = 0;
  if (gap.open.has_value()) {
    type = DiscrepancyType::kUndistributedPremium;
    began = gap.open->began;
    expected = gap.expected;
    actual = gap.actual;
  } else if (gap.worst_cured.has_value()) {
    type = DiscrepancyType::kLateDistribution;
    began = gap.worst_cured->began;
    cured = gap.worst_cured->cured;
    expected = gap.worst_cured->peak_expected;
    actual = gap.worst_cured->peak_actual;
  }
  if (type.has_value()) {
    Discrepancy d = NewDiscrepancy(
        program, DiscrepancyKey{.type = *type,
                                .program_id = program.program_id,
                                .supplier_id = supplier.supplier_id});
    d.period_start = began;
    d.period_end = cured;
    absl::StatusOr<int64_t> e = ToMicros(expected, "expected");
    absl::StatusOr<int64_t> a = ToMicros(actual, "actual");
    absl::StatusOr<int64_t> diff = Difference(expected - actual, "difference");
    for (const absl::Status& s : {e.status(), a.status(), diff.status()}) {
      if (!s.ok()) return s;
    }
    d.expected_micros = *e;
    d.actual_micros = *a;
    d.difference_micros = *diff;
    d.evidence = std::move(evidence);
    findings.push_back(std::make_shared<const Discrepancy>(std::move(d)));
  }

  for (const PairAccount* pair : supplier.pairs) {
    for (const PurchaseDay& day : pair->purchase_days) {
      if (day.date() > as_of) break;
      const SuspensionPeriod* suspension =
          supplier.standing.SuspendedOn(day.date());
      if (suspension == nullptr) continue;
      Int128 day_premium_micros = 0;
      for (const uint64_t seq : day.seqs) {
        absl::StatusOr<pb::PurchaseReport> purchase =
            PurchaseAt(seq, program, *pair, day);
        if (!purchase.ok()) return purchase.status();
        day_premium_micros += purchase->premium_micros();
        Discrepancy d = NewDiscrepancy(
            program,
            DiscrepancyKey{
                .type = DiscrepancyType::kPurchaseFromSuspendedSupplier,
                .program_id = program.program_id,
                .brand_id = pair->brand_id,
                .supplier_id = supplier.supplier_id,
                .invoice_id = std::move(*purchase->mutable_invoice_id())});
        d.period_start = day.date();
        d.period_end = day.date();
        d.actual_micros = purchase->premium_micros();
        absl::StatusOr<int64_t> diff =
            Difference(purchase->premium_micros(), "difference");
        if (!diff.ok()) return diff.status();
        d.difference_micros = *diff;
        std::vector<uint64_t> evidence_seqs = {seq, suspension->suspension_seq};
        if (suspension->reinstatement_seq != 0) {
          evidence_seqs.push_back(suspension->reinstatement_seq);
        }
        d.evidence = SeqRuns::FromSeqs(std::move(evidence_seqs));
        findings.push_back(std::make_shared<const Discrepancy>(std::move(d)));
      }
      if (day_premium_micros != day.premium_micros) {
        return absl::DataLossError(absl::StrCat(
            "the purchases of ", pair->brand_id, " from ", pair->supplier_id,
            " dated ", FormatDate(day.date()),
            " read back with other premiums than they were applied with"));
      }
    }
  }
  return findings;
}

namespace {

// One worker's figures for one type in one period.
struct WorkerTally {
  Int128 expected = 0;
  Int128 actual = 0;
  Int128 difference = 0;
  std::vector<uint64_t> evidence;
};

}  // namespace

absl::StatusOr<pb::PurchaseReport> Reconciler::State::PurchaseAt(
    uint64_t seq, const ProgramState& program, const PairAccount& pair,
    const PurchaseDay& day) const {
  absl::StatusOr<pb::Entry> entry = log_->Read(seq);
  if (!entry.ok()) return entry.status();
  const auto changed = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(
        "entry ", seq, " was applied as a purchase of ", pair.brand_id,
        " from ", pair.supplier_id, " in ", program.program_id, " dated ",
        FormatDate(day.date()), " and reads back with another ", what));
  };
  if (entry->seq() != seq) return changed("seq");
  if (entry->kind() != kPurchaseReportKind) return changed("kind");
  absl::StatusOr<pb::PurchaseReport> purchase =
      ParsePayload<pb::PurchaseReport>(seq, *entry);
  if (!purchase.ok()) return purchase.status();
  if (purchase->program_id() != program.program_id) return changed("program");
  if (purchase->brand_id() != pair.brand_id) return changed("brand");
  if (purchase->supplier_id() != pair.supplier_id) return changed("supplier");
  absl::StatusOr<Day> date =
      RecordDate(seq, "purchase_date", purchase->purchase_date());
  if (!date.ok() || *date != day.date()) return changed("date");
  return purchase;
}

absl::StatusOr<std::vector<LineFact>> Reconciler::State::ReadLines(
    const ProgramState& program, const PeriodGroup& period, Day as_of) const {
  const std::string start_text = FormatDate(period.start);
  const std::string end_text = FormatDate(period.end);
  const int32_t as_of_day = DayNumber(as_of);
  std::vector<LineFact> lines;
  pb::PayrollLine line;
  for (const PayDayLines& paid : period.pay_days) {
    if (paid.pay_day > as_of_day) continue;
    // The lines must also add up to the sums the supplier's rules use.
    Int128 premium_micros = 0;
    for (const SeqRuns::Run& run : paid.seqs.runs()) {
      uint64_t seq = run.first_seq;
      absl::Status read = log_->Scan(
          run.first_seq, run.end_seq(),
          [&](const pb::Entry& entry) -> absl::Status {
            // What was applied, or the log changed behind reconciliation.
            absl::StatusOr<Day> pay_date = kBeforeEveryRecord;
            const bool parsed = entry.seq() == seq &&
                                entry.kind() == kPayrollLineKind &&
                                line.ParseFromString(entry.payload());
            if (parsed) pay_date = ParseDate("pay_date", line.pay_date());
            if (!parsed || line.program_id() != program.program_id ||
                line.supplier_id() != period.supplier_id ||
                line.period_start() != start_text ||
                line.period_end() != end_text || !pay_date.ok() ||
                DayNumber(*pay_date) != paid.pay_day) {
              return absl::DataLossError(absl::StrCat(
                  "entry ", seq, " read back is not the payroll line of ",
                  program.program_id, "/", period.supplier_id, "/", start_text,
                  "/", end_text, " paid on ",
                  FormatDate(DayOfNumber(paid.pay_day)),
                  " that reconciliation applied"));
            }
            premium_micros += line.premium_micros();
            lines.push_back(LineFact{
                .seq = seq,
                .hours_micros = line.hours_micros(),
                .gross_wages_micros = line.gross_wages_micros(),
                .premium_micros = line.premium_micros(),
                .worker_id = line.worker_id(),
            });
            ++seq;
            return absl::OkStatus();
          });
      if (!read.ok()) return read;
      if (seq != run.end_seq()) {
        return absl::DataLossError(absl::StrCat(
            "the log returned entries ", run.first_seq, " to ", seq,
            " of a run of payroll lines that ends at ", run.end_seq()));
      }
    }
    if (premium_micros != paid.premium_micros) {
      return absl::DataLossError(absl::StrCat(
          "the payroll lines of ", program.program_id, "/", period.supplier_id,
          "/", start_text, "/", end_text, " paid on ",
          FormatDate(DayOfNumber(paid.pay_day)),
          " read back do not add up to the premium reconciliation applied"));
    }
  }
  // Ledger order: a duplicate is measured against the worker's first line.
  std::sort(lines.begin(), lines.end(),
            [](const LineFact& a, const LineFact& b) { return a.seq < b.seq; });
  return lines;
}

absl::StatusOr<Findings> Reconciler::State::PeriodFindings(
    const ProgramState& program, const PeriodGroup& period, Day as_of) {
  absl::StatusOr<std::vector<LineFact>> lines =
      ReadLines(program, period, as_of);
  if (!lines.ok()) return lines.status();
  return PeriodFindingsOf(program, period, as_of, *lines);
}

absl::StatusOr<Findings> Reconciler::State::PeriodFindingsOf(
    const ProgramState& program, const PeriodGroup& period, Day as_of,
    const std::vector<LineFact>& period_lines) const {
  std::vector<const LineFact*> lines;
  lines.reserve(period_lines.size());
  for (const LineFact& line : period_lines) lines.push_back(&line);
  // Per type, per worker, in worker order so ids come out sorted.
  std::map<std::string, WorkerTally> duplicates;
  std::map<std::string, WorkerTally> without_hours;
  std::map<std::string, WorkerTally> skewed;
  std::map<std::string, WorkerTally> disputed;

  absl::flat_hash_map<absl::string_view, std::vector<const LineFact*>>
      by_worker;
  for (const LineFact* line : lines) {
    by_worker[line->worker_id].push_back(line);
    if (line->hours_micros == 0 && line->premium_micros > 0) {
      WorkerTally& tally = without_hours[line->worker_id];
      tally.actual += line->premium_micros;
      tally.difference += line->premium_micros;
      tally.evidence.push_back(line->seq);
    }
  }
  for (const auto& [worker, worker_lines] : by_worker) {
    if (worker_lines.size() < 2) continue;
    WorkerTally& tally = duplicates[std::string(worker)];
    tally.expected = worker_lines.front()->premium_micros;
    for (const LineFact* line : worker_lines) {
      tally.actual += line->premium_micros;
      tally.evidence.push_back(line->seq);
    }
    tally.difference = tally.actual - tally.expected;
  }

  const pb::Allocation allocation = program.VersionOn(period.end).allocation();
  if (allocation == pb::HOURS || allocation == pb::WAGES) {
    const auto basis = [allocation](const LineFact* line) {
      return allocation == pb::HOURS ? line->hours_micros
                                     : line->gross_wages_micros;
    };
    std::vector<const LineFact*> rated;
    for (const LineFact* line : lines) {
      if (line->hours_micros > 0 && basis(line) > 0) rated.push_back(line);
    }
    if (!rated.empty()) {
      // premium / basis compared exactly by cross-multiplying.
      std::sort(rated.begin(), rated.end(),
                [&basis](const LineFact* a, const LineFact* b) {
                  const Int128 left = Int128{a->premium_micros} * basis(b);
                  const Int128 right = Int128{b->premium_micros} * basis(a);
                  return left != right ? left < right : a->seq < b->seq;
                });
      const LineFact* median = rated[(rated.size() - 1) / 2];
      const int64_t median_premium = median->premium_micros;
      const int64_t median_basis = basis(median);
      for (const LineFact* line : rated) {
        // |p - e| > max(0.01, e / 20) with e = p_m × b / b_m, times b_m.
        const Int128 off = Abs(Int128{line->premium_micros} * median_basis -
                               Int128{median_premium} * basis(line));
        const Int128 floor = Int128{kSkewFloorMicros} * median_basis;
        const Int128 share =
            Int128{median_premium} * basis(line) / kSkewShareDivisor;
        if (off <= floor || off <= share) continue;
        absl::StatusOr<int64_t> expected =
            MulDivRoundHalfEven(median_premium, basis(line), median_basis);
        if (!expected.ok()) return expected.status();
        WorkerTally& tally = skewed[line->worker_id];
        tally.expected += *expected;
        tally.actual += line->premium_micros;
        tally.difference += Abs(Int128{line->premium_micros} - *expected);
        tally.evidence.push_back(line->seq);
        tally.evidence.push_back(median->seq);
      }
    }
  }

  // The latest dispute of each line counts; every dispute is evidence.
  absl::flat_hash_map<uint64_t, const DisputeFact*> latest;
  for (const DisputeFact& dispute : period.disputes) {
    if (dispute.appended > as_of) continue;
    const DisputeFact*& slot = latest[dispute.line_seq];
    if (slot == nullptr || slot->seq < dispute.seq) slot = &dispute;
    WorkerTally& tally = disputed[dispute.worker_id];
    tally.evidence.push_back(dispute.seq);
    tally.evidence.push_back(dispute.line_seq);
  }
  for (const auto& [line_seq, dispute] : latest) {
    WorkerTally& tally = disputed[dispute->worker_id];
    tally.expected += dispute->line_premium_micros;
    tally.actual += dispute->paystub_micros;
  }
  for (auto& [worker_id, tally] : disputed) {
    tally.difference = tally.expected - tally.actual;
  }

  Findings findings;
  for (const auto& [type, tallies] :
       {std::pair<DiscrepancyType, const std::map<std::string, WorkerTally>*>{
            DiscrepancyType::kDuplicatePayrollLine, &duplicates},
        {DiscrepancyType::kPremiumWithoutHours, &without_hours},
        {DiscrepancyType::kAllocationSkew, &skewed},
        {DiscrepancyType::kWorkerDispute, &disputed}}) {
    for (const auto& [worker_id, tally] : *tallies) {
      Discrepancy d = NewDiscrepancy(
          program, DiscrepancyKey{.type = type,
                                  .program_id = program.program_id,
                                  .supplier_id = period.supplier_id,
                                  .worker_id = worker_id,
                                  .period_start = period.start,
                                  .period_end = period.end});
      absl::StatusOr<int64_t> e = ToMicros(tally.expected, "expected");
      absl::StatusOr<int64_t> a = ToMicros(tally.actual, "actual");
      absl::StatusOr<int64_t> diff = Difference(tally.difference, "difference");
      for (const absl::Status& s : {e.status(), a.status(), diff.status()}) {
        if (!s.ok()) return s;
      }
      d.expected_micros = *e;
      d.actual_micros = *a;
      d.difference_micros = *diff;
      d.evidence = SeqRuns::FromSeqs(tally.evidence);
      findings.push_back(std::make_shared<const Discrepancy>(std::move(d)));
    }
  }
  return findings;
}

Finding Reconciler::State::WithStatus(
    std::shared_ptr<const Discrepancy> discrepancy) const {
  Finding finding;
  auto it = resolutions_.find(discrepancy->id);
  if (it != resolutions_.end()) {
    const ResolutionFact& latest = it->second.back();
    finding.resolution_seq = latest.seq;
    finding.resolved =
        latest.difference_micros == discrepancy->difference_micros &&
        !(discrepancy->type == DiscrepancyType::kWorkerDispute &&
          !discrepancy->evidence.empty() &&
          discrepancy->evidence.back() > latest.seq);
  }
  finding.discrepancy = std::move(discrepancy);
  return finding;
}

absl::StatusOr<std::vector<Finding>> Reconciler::State::Reconcile(
    const ReconcileQuery& query) {
  ComputeOpenPeriod();
  const Day as_of = query.as_of;
  std::vector<Finding> result;
  const auto collect = [&](const Findings& findings) {
    for (const std::shared_ptr<const Discrepancy>& d : findings) {
      if (!query.brand_id.empty() && d->brand_id != query.brand_id) continue;
      if (!query.supplier_id.empty() && d->supplier_id != query.supplier_id) {
        continue;
      }
      result.push_back(WithStatus(d));
    }
  };
  // Recomputes an account's findings only when it changed or the date it
  // is computed at did.
  const auto refresh = [&](Cache& cache, Day day,
                           auto compute) -> absl::Status {
    if (!cache.FreshFor(day)) {
      absl::StatusOr<Findings> findings = compute();
      if (!findings.ok()) return findings.status();
      cache.findings = *std::move(findings);
      cache.as_of = day;
      cache.stale = false;
    }
    collect(cache.findings);
    return absl::OkStatus();
  };
  const auto supplier_matches = [&](absl::string_view supplier_id) {
    return query.supplier_id.empty() || supplier_id == query.supplier_id;
  };

  for (auto& [program_id, program] : programs_) {
    if (!query.program_id.empty() && program_id != query.program_id) continue;
    for (auto& [key, pair] : program->pairs) {
      if ((!query.brand_id.empty() && pair->brand_id != query.brand_id) ||
          !supplier_matches(pair->supplier_id)) {
        continue;
      }
      // The lambdas below name the loop's objects through init-captures:
      // clang 14 cannot capture structured bindings (a C++20 addition).
      absl::Status s =
          refresh(pair->cache, as_of,
                  [&, &program_state = *program, &pair_state = *pair] {
                    return PairFindings(program_state, pair_state, as_of);
                  });
      if (!s.ok()) return s;
    }
    for (auto& [key, supplier] : program->suppliers) {
      if (!supplier_matches(supplier->supplier_id)) continue;
      absl::Status s = refresh(
          supplier->cache, as_of,
          [&, &program_state = *program, &supplier_state = *supplier] {
            return SupplierFindings(program_state, supplier_state, as_of);
          });
      if (!s.ok()) return s;
    }
    // Pay periods concern no brand.
    if (!query.brand_id.empty()) continue;
    for (auto& [key, period] : program->periods) {
      if (!supplier_matches(period->supplier_id)) continue;
      // Its lines are read back from the log: only when what it sees as of
      // the date changed, not whenever the date did.
      const Day seen_until = period->LastChangeOnOrBefore(as_of);
      absl::Status s = refresh(
          period->cache, seen_until,
          [&, &program_state = *program, &period_state = *period] {
            return PeriodFindings(program_state, period_state, seen_until);
          });
      if (!s.ok()) return s;
    }
  }
  std::sort(result.begin(), result.end(),
            [](const Finding& a, const Finding& b) {
              const Discrepancy& x = *a.discrepancy;
              const Discrepancy& y = *b.discrepancy;
              return std::tie(x.program_id, x.type, x.id) <
                     std::tie(y.program_id, y.type, y.id);
            });
  return result;
}

namespace {

// A supplier's payments matched first-in first-out against its paychecks.
struct MatchedPayment {
  const PairAccount* pair = nullptr;
  int64_t amount_micros = 0;
  int64_t worker_portion_micros = 0;
  int64_t received_by_workers_micros = 0;
  std::optional<int64_t> days_to_paychecks;
};

struct Tally {
  Int128 owed = 0;
  Int128 paid = 0;
  Int128 worker_portion = 0;
  Int128 received = 0;
  std::vector<int64_t> days;

  void AddPayment(const MatchedPayment& payment) {
    paid += payment.amount_micros;
    worker_portion += payment.worker_portion_micros;
    received += payment.received_by_workers_micros;
    if (payment.days_to_paychecks.has_value()) {
      days.push_back(*payment.days_to_paychecks);
    }
  }
  void Add(const Tally& other) {
    owed += other.owed;
    paid += other.paid;
    worker_portion += other.worker_portion;
    received += other.received;
    days.insert(days.end(), other.days.begin(), other.days.end());
  }
};

absl::StatusOr<Outcome> ToOutcome(Tally tally, Outcome outcome) {
  absl::StatusOr<int64_t> owed = ToMicros(tally.owed, "owed");
  absl::StatusOr<int64_t> paid = ToMicros(tally.paid, "paid");
  absl::StatusOr<int64_t> portion =
      ToMicros(tally.worker_portion, "worker portion paid");
  absl::StatusOr<int64_t> received =
      ToMicros(tally.received, "received by workers");
  for (const absl::Status& s :
       {owed.status(), paid.status(), portion.status(), received.status()}) {
    if (!s.ok()) return s;
  }
  outcome.owed_micros = *owed;
  outcome.paid_micros = *paid;
  outcome.worker_portion_paid_micros = *portion;
  outcome.received_by_workers_micros = *received;
  if (*portion > 0) {
    absl::StatusOr<int64_t> ratio =
        MulDivRoundHalfEven(*received, kMicrosPerUnit, *portion);
    if (!ratio.ok()) return ratio.status();
    outcome.pass_through_micros = *ratio;
  }
  if (!tally.days.empty()) {
    const size_t middle = (tally.days.size() - 1) / 2;
    std::nth_element(tally.days.begin(), tally.days.begin() + middle,
                     tally.days.end());
    outcome.median_days_to_paychecks = tally.days[middle];
  }
  return outcome;
}

}  // namespace

absl::StatusOr<Summary> Reconciler::State::Summarize(
    absl::string_view program_id, Day as_of) {
  Summary summary;
  std::vector<const ProgramState*> programs;
  for (const auto& [id, program] : programs_) {
    if (program_id.empty() || id == program_id)
      programs.push_back(program.get());
  }
  std::sort(programs.begin(), programs.end(),
            [](const ProgramState* a, const ProgramState* b) {
              return a->program_id < b->program_id;
            });
  for (const ProgramState* program : programs) {
    const std::string& currency = program->currency_source().currency();
    std::map<std::string, Tally> by_supplier;
    std::map<std::string, Tally> by_brand;
    for (const auto& [key, supplier] : program->suppliers) {
      Tally& supplier_tally = by_supplier[supplier->supplier_id];
      struct Dated {
        Day date;
        uint64_t seq;
        MatchedPayment payment;
      };
      std::vector<Dated> payments;
      for (const PairAccount* pair : supplier->pairs) {
        Tally& brand_tally = by_brand[pair->brand_id];
        for (const PurchaseDay& day : pair->purchase_days) {
          if (day.date() > as_of) break;
          supplier_tally.owed += day.premium_micros;
          brand_tally.owed += day.premium_micros;
        }
        for (const PaymentFact& payment : pair->payments) {
          if (payment.date() > as_of) continue;
          absl::StatusOr<int64_t> portion = WorkerPortionMicros(
              program->VersionOn(payment.date()), payment.amount_micros);
          if (!portion.ok()) return portion.status();
          payments.push_back(
              Dated{payment.date(), payment.seq,
                    MatchedPayment{.pair = pair,
                                   .amount_micros = payment.amount_micros,
                                   .worker_portion_micros = *portion}});
        }
      }
      std::sort(payments.begin(), payments.end(),
                [](const Dated& a, const Dated& b) {
                  return std::tie(a.date, a.seq) < std::tie(b.date, b.seq);
                });
      // Matching line by line in pay-date order completes a payment on
      // the pay date of the line that completes it: matching each day's
      // total does the same.
      std::vector<const PayDayLines*> paid_out;
      const int32_t as_of_day = DayNumber(as_of);
      for (const PeriodGroup* period : supplier->periods) {
        for (const PayDayLines& lines : period->pay_days) {
          if (lines.pay_day <= as_of_day && lines.paid_out_micros > 0) {
            paid_out.push_back(&lines);
          }
        }
      }
      std::sort(paid_out.begin(), paid_out.end(),
                [](const PayDayLines* a, const PayDayLines* b) {
                  return a->pay_day < b->pay_day;
                });
      size_t next_day = 0;
      Int128 day_left_micros =
          paid_out.empty() ? 0 : paid_out.front()->paid_out_micros;
      for (Dated& dated : payments) {
        MatchedPayment& payment = dated.payment;
        int64_t need_micros = payment.worker_portion_micros;
        std::optional<Day> completed;
        while (need_micros > 0 && next_day < paid_out.size()) {
          const int64_t take_micros = static_cast<int64_t>(
              std::min<Int128>(need_micros, day_left_micros));
          need_micros -= take_micros;
          day_left_micros -= take_micros;
          if (need_micros == 0) {
            completed = DayOfNumber(paid_out[next_day]->pay_day);
          }
          if (day_left_micros == 0 && ++next_day < paid_out.size()) {
            day_left_micros = paid_out[next_day]->paid_out_micros;
          }
        }
        payment.received_by_workers_micros =
            payment.worker_portion_micros - need_micros;
        if (completed.has_value() && payment.worker_portion_micros > 0) {
          payment.days_to_paychecks =
              std::max<int64_t>(0, *completed - dated.date);
        }
        supplier_tally.AddPayment(payment);
        by_brand[payment.pair->brand_id].AddPayment(payment);
      }
    }
    Tally program_tally;
    for (const auto& [supplier_id, tally] : by_supplier) {
      program_tally.Add(tally);
      absl::StatusOr<Outcome> outcome =
          ToOutcome(tally, Outcome{.program_id = program->program_id,
                                   .supplier_id = supplier_id,
                                   .currency = currency});
      if (!outcome.ok()) return outcome.status();
      summary.suppliers.push_back(*std::move(outcome));
    }
    for (const auto& [brand_id, tally] : by_brand) {
      absl::StatusOr<Outcome> outcome =
          ToOutcome(tally, Outcome{.program_id = program->program_id,
                                   .brand_id = brand_id,
                                   .currency = currency});
      if (!outcome.ok()) return outcome.status();
      summary.brands.push_back(*std::move(outcome));
    }
    absl::StatusOr<Outcome> outcome = ToOutcome(
        std::move(program_tally),
        Outcome{.program_id = program->program_id, .currency = currency});
    if (!outcome.ok()) return outcome.status();
    summary.programs.push_back(*std::move(outcome));
  }
  return summary;
}

// ---------------------------------------------------------------------------

Reconciler::Reconciler(const EntryLog* log)
    : state_(std::make_unique<State>(log)) {}
Reconciler::~Reconciler() = default;

absl::Status Reconciler::Apply(uint64_t seq, const pb::Entry& entry) {
  return state_->Apply(seq, entry);
}

uint64_t Reconciler::next_seq() const { return state_->next_seq(); }

std::optional<uint64_t> Reconciler::ResolutionAppendedBy(
    absl::string_view actor, absl::string_view idempotency_key) const {
  return state_->ResolutionAppendedBy(actor, idempotency_key);
}

absl::StatusOr<std::vector<Finding>> Reconciler::Reconcile(
    const ReconcileQuery& query) {
  return state_->Reconcile(query);
}

absl::StatusOr<Finding> Reconciler::FindDiscrepancy(absl::string_view id,
                                                    absl::CivilDay as_of) {
  // The program is the id's second part: reconcile only that program.
  const std::vector<absl::string_view> parts = absl::StrSplit(id, ':');
  if (parts.size() < 3 ||
      !ParseDiscrepancyType(absl::AsciiStrToUpper(parts[0])).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("id: \"", id, "\" is not a discrepancy id"));
  }
  absl::StatusOr<std::vector<Finding>> findings = state_->Reconcile(
      ReconcileQuery{.as_of = as_of, .program_id = std::string(parts[1])});
  if (!findings.ok()) return findings.status();
  for (Finding& finding : *findings) {
    if (finding.discrepancy->id == id) return std::move(finding);
  }
  return absl::NotFoundError(absl::StrCat(
      "no discrepancy \"", id, "\" is flagged as of ", FormatDate(as_of)));
}

absl::StatusOr<Summary> Reconciler::Summarize(absl::string_view program_id,
                                              absl::CivilDay as_of) {
  return state_->Summarize(program_id, as_of);
}

}  // namespace premium
