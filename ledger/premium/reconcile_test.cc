// Tests of the reconciliation (DESIGN section 7 and the definitions in the
// header comment of reconcile.h): each of the ten discrepancy types flagged,
// just inside its tolerance, and after a correction or a resolution; program
// versions changing mid-season; the as-of date; filters and order; outcomes;
// incremental reconciles against reconciles from scratch; and the errors of
// Apply.
//
// Every expected amount is computed by hand in a comment beside it. Amounts
// are micros (1.00 = 1,000,000). Unless a test says otherwise the program is
// the Fair Food Program "ffp" (USD per lb, worker_rate 0.01, supplier_rate 0,
// payment terms 14 days, distribution deadline 14 days, allocation by hours,
// tolerance 1.00), effective 2026-01-01, appended at seq 0.
#include "ledger/premium/reconcile.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/ledger_testing.h"
#include "wsr/premium/v1/entry.pb.h"
#include "wsr/premium/v1/records.pb.h"

// Expected discrepancies and outcomes are written as C++20 designated
// initializers naming only the fields that apply; GCC 12 calls the others
// "missing" although they have default member initializers.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::IsOk;
using ::premium::testing::IsOkAndHolds;
using ::premium::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::SizeIs;

using enum DiscrepancyType;
using enum Severity;

constexpr char kFfp[] = "ffp";
constexpr char kBk[] = "ffp-bk";
constexpr char kAcme[] = "acme";
constexpr char kBravo[] = "bravo";
constexpr char kCobalt[] = "cobalt";
constexpr char kSunny[] = "sunny-farms";
constexpr char kRidge[] = "ridge-farms";
constexpr char kCedar[] = "cedar-farms";

constexpr int64_t Dollars(int64_t dollars) { return dollars * 1'000'000; }
constexpr int64_t Cents(int64_t cents) { return cents * 10'000; }
constexpr int64_t Hours(int64_t hours) { return hours * 1'000'000; }

absl::CivilDay Dec(int day) { return absl::CivilDay(2025, 12, day); }
absl::CivilDay Jan(int day) { return absl::CivilDay(2026, 1, day); }
absl::CivilDay Feb(int day) { return absl::CivilDay(2026, 2, day); }
std::string Iso(absl::CivilDay day) { return absl::FormatCivilTime(day); }

struct PayPeriod {
  absl::CivilDay start;
  absl::CivilDay end;
  absl::CivilDay pay_date;
};

// Week n of 2026: from Monday Jan 5 + 7 (n - 1) to the Sunday, paid on the
// Friday after. Week(1) = Jan 5..Jan 11 paid Jan 16, Week(2) = Jan 12..Jan 18
// paid Jan 23, Week(3) = Jan 19..Jan 25 paid Jan 30, Week(4) = Jan 26..Feb 1
// paid Feb 6.
PayPeriod Week(int n) {
  const absl::CivilDay start = Jan(5) + 7 * (n - 1);
  return {start, start + 6, start + 11};
}

pb::ProgramVersion FairFoodProgram() {
  pb::ProgramVersion version;
  version.set_program_id(kFfp);
  version.set_name("Fair Food Program");
  version.set_currency("USD");
  version.set_unit("lb");
  version.set_worker_rate_micros(10'000);  // 0.01
  version.set_supplier_rate_micros(0);
  version.set_payment_terms_days(14);
  version.set_distribution_deadline_days(14);
  version.set_allocation(pb::HOURS);
  version.set_tolerance_micros(Dollars(1));
  version.set_effective_date("2026-01-01");
  return version;
}

// 0.01 per lb for workers plus 0.005 the supplier may keep: the worker
// portion of a payment is 0.01 / 0.015 = 2/3 of it.
pb::ProgramVersion BurgerKingVariant() {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_program_id(kBk);
  version.set_name("Fair Food Program, Burger King variant");
  version.set_supplier_rate_micros(5'000);  // 0.005
  return version;
}

// ---------------------------------------------------------------------------
// Printing, so that a mismatch shows every field.

constexpr const char* kTypeNames[] = {
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
constexpr const char* kSeverityNames[] = {"HIGH", "MEDIUM", "LOW"};

std::string DayText(const std::optional<absl::CivilDay>& day) {
  return day.has_value() ? Iso(*day) : "none";
}

template <typename T>
std::string OptionalText(const std::optional<T>& value) {
  return value.has_value() ? absl::StrCat(*value) : "none";
}

std::vector<uint64_t> Seqs(const SeqRuns& evidence) {
  return std::vector<uint64_t>(evidence.begin(), evidence.end());
}

std::string Describe(const Discrepancy& d) {
  return absl::StrCat(
      "{id=", d.id, " type=", kTypeNames[static_cast<int>(d.type)],
      " severity=", kSeverityNames[static_cast<int>(d.severity)],
      " program=", d.program_id, " brand=", d.brand_id,
      " supplier=", d.supplier_id, " worker=", d.worker_id,
      " period=", DayText(d.period_start), "..", DayText(d.period_end),
      " invoice=", d.invoice_id, " expected=", d.expected_micros,
      " actual=", d.actual_micros, " difference=", d.difference_micros,
      " currency=", d.currency, " evidence=[", absl::StrJoin(d.evidence, ","),
      "]}");
}

std::string Describe(const Finding& finding) {
  if (finding.discrepancy == nullptr) return "{null discrepancy}";
  return absl::StrCat(Describe(*finding.discrepancy),
                      " resolved=", finding.resolved,
                      " resolution_seq=", finding.resolution_seq);
}

std::vector<std::string> Describe(const std::vector<Finding>& findings) {
  std::vector<std::string> lines;
  for (const Finding& finding : findings) lines.push_back(Describe(finding));
  return lines;
}

std::string Describe(const Outcome& o) {
  return absl::StrCat("{program=", o.program_id, " brand=", o.brand_id,
                      " supplier=", o.supplier_id, " currency=", o.currency,
                      " owed=", o.owed_micros, " paid=", o.paid_micros,
                      " worker_portion_paid=", o.worker_portion_paid_micros,
                      " received_by_workers=", o.received_by_workers_micros,
                      " pass_through=", OptionalText(o.pass_through_micros),
                      " median_days=", OptionalText(o.median_days_to_paychecks),
                      "}");
}

std::vector<std::string> Describe(const std::vector<Outcome>& outcomes) {
  std::vector<std::string> lines;
  for (const Outcome& outcome : outcomes) lines.push_back(Describe(outcome));
  return lines;
}

std::vector<std::string> Describe(const Summary& summary) {
  std::vector<std::string> lines;
  for (const auto* part :
       {&summary.programs, &summary.suppliers, &summary.brands}) {
    for (const std::string& line : Describe(*part)) lines.push_back(line);
    lines.push_back("--");
  }
  return lines;
}

std::vector<std::string> Ids(const std::vector<Finding>& findings) {
  std::vector<std::string> ids;
  for (const Finding& finding : findings) {
    ids.push_back(finding.discrepancy == nullptr ? "null"
                                                 : finding.discrepancy->id);
  }
  return ids;
}

// Compares every field, evidence included.
void ExpectDiscrepancy(const Finding& finding, const Discrepancy& expected) {
  ASSERT_NE(finding.discrepancy, nullptr);
  EXPECT_EQ(Describe(*finding.discrepancy), Describe(expected));
}

// ---------------------------------------------------------------------------
// The fixture: a log of entries with consecutive seqs, each fed to
// reconciler_ as it is appended (unless feed_ is false).

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override { AddProgram(FairFoodProgram()); }

  // Entries appended from now on carry `day` (noon UTC) as their append
  // time; it never goes back.
  void SetAppendDay(absl::CivilDay day) {
    ASSERT_GE(day, append_day_);
    append_day_ = day;
  }

  pb::Entry MakeEntry(absl::string_view kind, std::string payload) const {
    pb::Entry entry;
    entry.set_seq(log_.size());
    entry.set_append_time_micros(absl::ToUnixMicros(absl::FromCivil(
        absl::CivilSecond(append_day_) + 12 * 3600, absl::UTCTimeZone())));
    entry.set_actor("test");
    entry.set_kind(std::string(kind));
    entry.set_payload(std::move(payload));
    entry.set_idempotency_key(absl::StrCat("request-", log_.size()));
    entry.set_request_index(0);
    entry.set_request_entry_count(1);
    return entry;
  }

  absl::Status Feed(Reconciler& reconciler, const pb::Entry& entry) const {
    return reconciler.Apply(entry.seq(), entry);
  }

  // Feeds log_[begin, end) to `reconciler`.
  void FeedRange(Reconciler& reconciler, uint64_t begin, uint64_t end) const {
    for (uint64_t seq = begin; seq < end; ++seq) {
      ASSERT_THAT(Feed(reconciler, log_[seq]), IsOk()) << "seq " << seq;
    }
  }

  uint64_t Append(absl::string_view kind,
                  const google::protobuf::Message& payload) {
    pb::Entry entry = MakeEntry(kind, payload.SerializeAsString());
    log_.push_back(entry);
    if (feed_) {
      EXPECT_THAT(Feed(reconciler_, entry), IsOk())
          << kind << " at seq " << entry.seq() << ": "
          << payload.ShortDebugString();
    }
    return entry.seq();
  }

  // Applies an entry that may be refused; it joins the log only if it is
  // accepted.
  absl::Status TryAppend(absl::string_view kind, std::string payload) {
    pb::Entry entry = MakeEntry(kind, std::move(payload));
    log_.push_back(entry);
    absl::Status status = Feed(reconciler_, entry);
    if (!status.ok()) log_.pop_back();
    return status;
  }

  uint64_t AddProgram(const pb::ProgramVersion& version) {
    const uint64_t seq = Append(kProgramVersionKind, version);
    absl::CivilDay effective;
    EXPECT_TRUE(absl::ParseCivilTime(version.effective_date(), &effective));
    versions_[version.program_id()].push_back({effective, seq, version});
    return seq;
  }

  struct VersionAt {
    absl::CivilDay effective;
    uint64_t seq = 0;
    pb::ProgramVersion version;
  };

  // The version in force on `day` (the first before the program starts),
  // null for an unknown program. Versions are added in date order.
  const VersionAt* InForce(const std::string& program,
                           absl::CivilDay day) const {
    auto it = versions_.find(program);
    if (it == versions_.end()) return nullptr;
    const VersionAt* found = &it->second.front();
    for (const VersionAt& at : it->second) {
      if (at.effective <= day) found = &at;
    }
    return found;
  }

  pb::PurchaseReport MakePurchase(const std::string& brand,
                                  const std::string& invoice,
                                  const std::string& supplier,
                                  absl::CivilDay date, int64_t premium_micros,
                                  const std::string& program) const {
    pb::PurchaseReport purchase;
    purchase.set_brand_id(brand);
    purchase.set_invoice_id(invoice);
    purchase.set_supplier_id(supplier);
    purchase.set_program_id(program);
    purchase.set_purchase_date(Iso(date));
    purchase.set_unit("lb");
    purchase.set_premium_micros(premium_micros);
    purchase.set_source_line(2);
    if (const VersionAt* at = InForce(program, date); at != nullptr) {
      const __int128 worker_rate = at->version.worker_rate_micros();
      const __int128 rate = worker_rate + at->version.supplier_rate_micros();
      const __int128 quantity = premium_micros * __int128{1'000'000} / rate;
      purchase.set_unit(at->version.unit());
      purchase.set_quantity_micros(static_cast<int64_t>(
          std::min<__int128>(quantity, std::numeric_limits<int64_t>::max())));
      // The worker part, exact for the amounts of these tests.
      purchase.set_worker_premium_micros(
          static_cast<int64_t>(premium_micros * worker_rate / rate));
      purchase.set_program_version_seq(at->seq);
    }
    return purchase;
  }

  uint64_t Purchase(const std::string& brand, const std::string& invoice,
                    const std::string& supplier, absl::CivilDay date,
                    int64_t premium_micros, const std::string& program = kFfp) {
    return Append(
        kPurchaseReportKind,
        MakePurchase(brand, invoice, supplier, date, premium_micros, program));
  }

  uint64_t Payment(const std::string& brand, const std::string& payment_id,
                   const std::string& supplier, absl::CivilDay date,
                   int64_t amount_micros, const std::string& program = kFfp) {
    pb::PremiumPayment payment;
    payment.set_brand_id(brand);
    payment.set_payment_id(payment_id);
    payment.set_supplier_id(supplier);
    payment.set_program_id(program);
    payment.set_paid_date(Iso(date));
    payment.set_amount_micros(amount_micros);
    payment.set_currency("USD");
    payment.set_source_line(2);
    return Append(kPremiumPaymentKind, payment);
  }

  // Gross wages default to 15.00 an hour.
  uint64_t Line(const std::string& supplier, const std::string& worker,
                const PayPeriod& period, int64_t hours_micros,
                int64_t premium_micros, const std::string& program = kFfp,
                std::optional<int64_t> gross_wages_micros = std::nullopt) {
    pb::PayrollLine line;
    line.set_supplier_id(supplier);
    line.set_program_id(program);
    line.set_worker_id(worker);
    line.set_period_start(Iso(period.start));
    line.set_period_end(Iso(period.end));
    line.set_pay_date(Iso(period.pay_date));
    line.set_hours_micros(hours_micros);
    line.set_gross_wages_micros(gross_wages_micros.value_or(hours_micros * 15));
    line.set_premium_micros(premium_micros);
    line.set_currency("USD");
    line.set_code_sha256(absl::StrCat("code-", log_.size()));
    line.set_source_line(2);
    return Append(kPayrollLineKind, line);
  }

  uint64_t Suspend(const std::string& supplier, absl::CivilDay from,
                   std::optional<absl::CivilDay> to = std::nullopt,
                   const std::string& program = kFfp) {
    pb::Suspension suspension;
    suspension.set_program_id(program);
    suspension.set_supplier_id(supplier);
    suspension.set_from_date(Iso(from));
    if (to.has_value()) suspension.set_to_date(Iso(*to));
    suspension.set_reason("audit finding");
    return Append(kSuspensionKind, suspension);
  }

  uint64_t Reinstate(const std::string& supplier, absl::CivilDay day,
                     const std::string& program = kFfp) {
    pb::Reinstatement reinstatement;
    reinstatement.set_program_id(program);
    reinstatement.set_supplier_id(supplier);
    reinstatement.set_effective_date(Iso(day));
    reinstatement.set_reason("corrective action plan done");
    return Append(kReinstatementKind, reinstatement);
  }

  // A dispute of the payroll line at `line_seq`.
  uint64_t Dispute(uint64_t line_seq, int64_t paystub_amount_micros) {
    pb::PayrollLine line;
    EXPECT_TRUE(line.ParseFromString(log_.at(line_seq).payload()));
    pb::WorkerDispute dispute;
    dispute.set_line_seq(line_seq);
    dispute.set_supplier_id(line.supplier_id());
    dispute.set_program_id(line.program_id());
    dispute.set_worker_id(line.worker_id());
    dispute.set_period_start(line.period_start());
    dispute.set_period_end(line.period_end());
    dispute.set_paystub_amount_micros(paystub_amount_micros);
    dispute.set_note("my paystub says otherwise");
    return Append(kWorkerDisputeKind, dispute);
  }

  uint64_t Reverse(uint64_t seq) {
    pb::Reversal reversal;
    reversal.set_reversed_seq(seq);
    reversal.set_reason("correction");
    return Append(kReversalKind, reversal);
  }

  uint64_t Resolve(const std::string& id, int64_t difference_micros,
                   absl::CivilDay as_of = Feb(1)) {
    pb::DiscrepancyResolution resolution;
    resolution.set_discrepancy_id(id);
    resolution.set_note("explained by the grower's records");
    resolution.set_difference_micros(difference_micros);
    resolution.set_as_of(Iso(as_of));
    return Append(kDiscrepancyResolutionKind, resolution);
  }

  std::vector<Finding> Findings(const ReconcileQuery& query) {
    absl::StatusOr<std::vector<Finding>> findings =
        reconciler_.Reconcile(query);
    EXPECT_THAT(findings, IsOk());
    if (!findings.ok()) return {};
    return *std::move(findings);
  }

  std::vector<Finding> Findings(absl::CivilDay as_of) {
    ReconcileQuery query;
    query.as_of = as_of;
    return Findings(query);
  }

  std::vector<Finding> FindingsOfType(absl::CivilDay as_of,
                                      DiscrepancyType type) {
    std::vector<Finding> of_type;
    for (Finding& finding : Findings(as_of)) {
      if (finding.discrepancy != nullptr && finding.discrepancy->type == type) {
        of_type.push_back(std::move(finding));
      }
    }
    return of_type;
  }

  // The ids of the findings of `type`.
  std::vector<std::string> IdsOfType(absl::CivilDay as_of,
                                     DiscrepancyType type) {
    return Ids(FindingsOfType(as_of, type));
  }

  Summary Summarize(absl::string_view program_id, absl::CivilDay as_of) {
    absl::StatusOr<Summary> summary = reconciler_.Summarize(program_id, as_of);
    EXPECT_THAT(summary, IsOk());
    if (!summary.ok()) return Summary();
    return *std::move(summary);
  }

  // A fresh reconciler fed log_[0, end) answering one query.
  std::vector<std::string> FromScratch(uint64_t end,
                                       const ReconcileQuery& query) const {
    Reconciler fresh(&entry_log_);
    FeedRange(fresh, 0, end);
    absl::StatusOr<std::vector<Finding>> findings = fresh.Reconcile(query);
    EXPECT_THAT(findings, IsOk());
    return findings.ok() ? Describe(*findings) : std::vector<std::string>();
  }

  std::vector<std::string> SummaryFromScratch(uint64_t end,
                                              absl::CivilDay as_of) const {
    Reconciler fresh(&entry_log_);
    FeedRange(fresh, 0, end);
    absl::StatusOr<Summary> summary = fresh.Summarize("", as_of);
    EXPECT_THAT(summary, IsOk());
    return summary.ok() ? Describe(*summary) : std::vector<std::string>();
  }

  std::vector<pb::Entry> log_;
  const EntryVectorLog entry_log_{&log_};
  Reconciler reconciler_{&entry_log_};
  bool feed_ = true;
  absl::CivilDay append_day_ = Jan(1);
  std::map<std::string, std::vector<VersionAt>> versions_;
};

ReconcileQuery Query(absl::CivilDay as_of, std::string program_id = "",
                     std::string brand_id = "", std::string supplier_id = "") {
  ReconcileQuery query;
  query.as_of = as_of;
  query.program_id = std::move(program_id);
  query.brand_id = std::move(brand_id);
  query.supplier_id = std::move(supplier_id);
  return query;
}

// ---------------------------------------------------------------------------
// Names and ids.

TEST(DiscrepancyNamesTest, TypeAndSeverityNamesRoundTrip) {
  for (int i = 0; i < kDiscrepancyTypeCount; ++i) {
    const auto type = static_cast<DiscrepancyType>(i);
    EXPECT_EQ(DiscrepancyTypeName(type), kTypeNames[i]);
    EXPECT_EQ(ParseDiscrepancyType(kTypeNames[i]), type) << kTypeNames[i];
  }
  EXPECT_EQ(ParseDiscrepancyType("NOT_A_TYPE"), std::nullopt);
  EXPECT_EQ(ParseDiscrepancyType(""), std::nullopt);
  EXPECT_EQ(SeverityName(kHigh), "HIGH");
  EXPECT_EQ(SeverityName(kMedium), "MEDIUM");
  EXPECT_EQ(SeverityName(kLow), "LOW");
}

TEST(DiscrepancyIdTest, IsTheLowerCaseTypeAndTheKeyFieldsJoinedByColons) {
  DiscrepancyKey brand;
  brand.type = kBrandUnderpaid;
  brand.program_id = "ffp";
  brand.brand_id = "acme";
  brand.supplier_id = "sunny-farms";
  EXPECT_EQ(DiscrepancyId(brand), "brand_underpaid:ffp:acme:sunny-farms");

  DiscrepancyKey line;
  line.type = kAllocationSkew;
  line.program_id = "ffp";
  line.supplier_id = "sunny-farms";
  line.worker_id = "w-17";
  line.period_start = absl::CivilDay(2026, 1, 5);
  line.period_end = absl::CivilDay(2026, 1, 11);
  EXPECT_EQ(DiscrepancyId(line),
            "allocation_skew:ffp:sunny-farms:w-17:2026-01-05:2026-01-11");

  DiscrepancyKey supplier;
  supplier.type = kUndistributedPremium;
  supplier.program_id = "ffp";
  supplier.supplier_id = "sunny-farms";
  EXPECT_EQ(DiscrepancyId(supplier), "undistributed_premium:ffp:sunny-farms");

  DiscrepancyKey purchase;
  purchase.type = kPurchaseFromSuspendedSupplier;
  purchase.program_id = "ffp";
  purchase.brand_id = "acme";
  purchase.supplier_id = "sunny-farms";
  purchase.invoice_id = "inv-7";
  EXPECT_EQ(DiscrepancyId(purchase),
            "purchase_from_suspended_supplier:ffp:acme:sunny-farms:inv-7");
}

// ---------------------------------------------------------------------------
// Apply.

TEST_F(ReconcilerTest, ApplyAdvancesNextSeqAndSkipsKindsTheRulesDoNotUse) {
  EXPECT_EQ(reconciler_.next_seq(), 1u);  // The program at seq 0.
  pb::PartyRegistration party;
  party.set_role(pb::BRAND);
  party.set_party_id(kAcme);
  party.set_name("Acme Foods");
  party.set_token_sha256(std::string(32, 'x'));
  Append(kPartyRegistrationKind, party);
  EXPECT_EQ(reconciler_.next_seq(), 2u);
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  EXPECT_EQ(reconciler_.next_seq(), 3u);
}

TEST_F(ReconcilerTest, ApplyOfAnotherSeqThanNextSeqIsFailedPrecondition) {
  // next_seq() is 1: neither seq 0 again nor seq 2 is accepted.
  const pb::Entry entry =
      MakeEntry(kPurchaseReportKind,
                MakePurchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100), kFfp)
                    .SerializeAsString());
  for (const uint64_t seq : {uint64_t{0}, uint64_t{2}}) {
    pb::Entry wrong = entry;
    wrong.set_seq(seq);
    EXPECT_THAT(reconciler_.Apply(seq, wrong),
                StatusIs(absl::StatusCode::kFailedPrecondition))
        << "seq " << seq;
  }
  EXPECT_EQ(reconciler_.next_seq(), 1u);
  EXPECT_THAT(Findings(Feb(1)), IsEmpty());
}

TEST_F(ReconcilerTest, UnparsablePayloadIsDataLossAndChangesNothing) {
  const uint64_t purchase =
      Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  const std::vector<std::string> before = Describe(Findings(Feb(1)));
  ASSERT_THAT(before, Not(IsEmpty()));

  // Field 1 (brand_id) says 5 bytes follow; only 2 do.
  EXPECT_THAT(TryAppend(kPurchaseReportKind, std::string("\x0a\x05"
                                                         "ab")),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(TryAppend(kPremiumPaymentKind, std::string("\x0a\x05"
                                                         "ab")),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(TryAppend(kPayrollLineKind, std::string("\x0a\x05"
                                                      "ab")),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(reconciler_.next_seq(), purchase + 1);
  EXPECT_EQ(Describe(Findings(Feb(1))), before);

  // The same seq then takes a good entry.
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(100));
  EXPECT_EQ(reconciler_.next_seq(), purchase + 2);
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandUnderpaid), IsEmpty());
}

TEST_F(ReconcilerTest, PurchaseOfAnUnknownProgramIsDataLoss) {
  const pb::PurchaseReport purchase =
      MakePurchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100), "no-such");
  EXPECT_THAT(TryAppend(kPurchaseReportKind, purchase.SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(reconciler_.next_seq(), 1u);
  EXPECT_THAT(Findings(Feb(1)), IsEmpty());
}

TEST_F(ReconcilerTest, ReinstatementWithoutSuspensionIsDataLoss) {
  pb::Reinstatement reinstatement;
  reinstatement.set_program_id(kFfp);
  reinstatement.set_supplier_id(kSunny);
  reinstatement.set_effective_date("2026-01-20");
  EXPECT_THAT(TryAppend(kReinstatementKind, reinstatement.SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(reconciler_.next_seq(), 1u);
}

TEST_F(ReconcilerTest, ReversalOfAProgramVersionOrSuspensionIsRefused) {
  const uint64_t suspension = Suspend(kSunny, Jan(10));
  const uint64_t purchase =
      Purchase(kAcme, "inv-1", kSunny, Jan(12), Dollars(25));
  const std::vector<std::string> before = Describe(Findings(Feb(1)));

  pb::Reversal of_program;
  of_program.set_reversed_seq(0);
  EXPECT_THAT(TryAppend(kReversalKind, of_program.SerializeAsString()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  pb::Reversal of_suspension;
  of_suspension.set_reversed_seq(suspension);
  EXPECT_THAT(TryAppend(kReversalKind, of_suspension.SerializeAsString()),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  EXPECT_EQ(reconciler_.next_seq(), purchase + 1);
  EXPECT_EQ(Describe(Findings(Feb(1))), before);
  EXPECT_THAT(IdsOfType(Feb(1), kPurchaseFromSuspendedSupplier),
              ElementsAre("purchase_from_suspended_supplier:ffp:acme:"
                          "sunny-farms:inv-1"));
}

TEST_F(ReconcilerTest, ReconcileIsOutOfRangeWhenAnAmountOverflows) {
  // 5e18 + 5e18 micros owed does not fit in int64 (max about 9.22e18).
  Purchase(kAcme, "inv-1", kSunny, Jan(5), 5'000'000'000'000'000'000);
  Purchase(kAcme, "inv-2", kSunny, Jan(5), 5'000'000'000'000'000'000);
  EXPECT_THAT(reconciler_.Reconcile(Query(Feb(1))),
              StatusIs(absl::StatusCode::kOutOfRange));
}

// ---------------------------------------------------------------------------
// BRAND_UNDERPAID.

TEST_F(ReconcilerTest, BrandUnderpaidIsTheShortfallSinceTheDayItBegan) {
  // 100.00 owed on a purchase of Jan 5, due Jan 5 + 14 = Jan 19.
  const uint64_t purchase =
      Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  // 60.00 paid on Jan 15.
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Jan(15), Dollars(60));

  // Jan 18: nothing due yet, Shortfall = 0 - 60.00.
  EXPECT_THAT(FindingsOfType(Jan(18), kBrandUnderpaid), IsEmpty());

  // Feb 1: Shortfall = 100.00 - 60.00 = 40.00 > 1.00, and it has been since
  // the due date Jan 19.
  const std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, 0u);
  ExpectDiscrepancy(findings[0], {.id = "brand_underpaid:ffp:acme:sunny-farms",
                                  .type = kBrandUnderpaid,
                                  .severity = kHigh,
                                  .program_id = kFfp,
                                  .brand_id = kAcme,
                                  .supplier_id = kSunny,
                                  .period_start = Jan(19),
                                  .expected_micros = Dollars(100),
                                  .actual_micros = Dollars(60),
                                  .difference_micros = Dollars(40),
                                  .currency = "USD",
                                  .evidence = {purchase, payment}});

  // On the due date itself it is already flagged.
  const std::vector<Finding> on_due = FindingsOfType(Jan(19), kBrandUnderpaid);
  ASSERT_EQ(on_due.size(), 1u);
  EXPECT_EQ(on_due[0].discrepancy->difference_micros, Dollars(40));
  EXPECT_EQ(on_due[0].discrepancy->period_start, Jan(19));
  // Underpaid is not overpaid: Paid 60.00 - Owed 100.00 < 0.
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandOverpaid), IsEmpty());
}

TEST_F(ReconcilerTest, BrandUnderpaidNotFlaggedAtExactlyTheTolerance) {
  // acme: 100.00 owed, 99.00 paid before the due date: shortfall 1.00, not
  // > 1.00, on every day, so neither underpaid nor late.
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(99));
  // bravo: 100.00 owed, 98.99 paid: shortfall 1.01 > 1.00.
  Purchase(kBravo, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kBravo, "pay-1", kSunny, Jan(10), Cents(9899));

  const std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->id,
            "brand_underpaid:ffp:bravo:sunny-farms");
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(100));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Cents(9899));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Cents(101));
  EXPECT_THAT(FindingsOfType(Feb(1), kLateBrandPayment), IsEmpty());
}

TEST_F(ReconcilerTest, BrandUnderpaidDifferenceIsRoundedHalfEvenToTheCent) {
  // acme: owed 100.004 (10,000.4 lb), paid 99.00: shortfall 1.004 > 1.00 is
  // flagged; its difference rounds to 1.00 while expected stays exact.
  Purchase(kAcme, "inv-1", kSunny, Jan(5), 100'004'000);
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(99));
  // bravo: owed 2.005, nothing paid: 200.5 cents rounds to the even 200.
  Purchase(kBravo, "inv-1", kSunny, Jan(5), 2'005'000);
  // cobalt: owed 2.015, nothing paid: 201.5 cents rounds to the even 202.
  Purchase(kCobalt, "inv-1", kSunny, Jan(5), 2'015'000);

  const std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 3u);
  // Ordered by id: acme, bravo, cobalt.
  EXPECT_EQ(findings[0].discrepancy->brand_id, kAcme);
  EXPECT_EQ(findings[0].discrepancy->expected_micros, 100'004'000);
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Dollars(99));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(1));
  EXPECT_EQ(findings[1].discrepancy->brand_id, kBravo);
  EXPECT_EQ(findings[1].discrepancy->expected_micros, 2'005'000);
  EXPECT_EQ(findings[1].discrepancy->actual_micros, 0);
  EXPECT_EQ(findings[1].discrepancy->difference_micros, 2'000'000);
  EXPECT_EQ(findings[2].discrepancy->brand_id, kCobalt);
  EXPECT_EQ(findings[2].discrepancy->expected_micros, 2'015'000);
  EXPECT_EQ(findings[2].discrepancy->difference_micros, 2'020'000);
}

TEST_F(ReconcilerTest, BrandUnderpaidDatesOnlyTheCurrentRun) {
  // 50.00 of Jan 5 (due Jan 19) paid Jan 22: a first run Jan 19..Jan 22.
  const uint64_t first = Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(50));
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Jan(22), Dollars(50));
  // 30.00 of Jan 10 (due Jan 24), unpaid: a second run from Jan 24.
  const uint64_t second =
      Purchase(kAcme, "inv-2", kSunny, Jan(10), Dollars(30));

  // Feb 1: Owed(due) 80.00 - Paid 50.00 = 30.00, above 1.00 since Jan 24.
  // Underpaid at the as-of date, so not LATE_BRAND_PAYMENT.
  const std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  ExpectDiscrepancy(findings[0], {.id = "brand_underpaid:ffp:acme:sunny-farms",
                                  .type = kBrandUnderpaid,
                                  .severity = kHigh,
                                  .program_id = kFfp,
                                  .brand_id = kAcme,
                                  .supplier_id = kSunny,
                                  .period_start = Jan(24),
                                  .expected_micros = Dollars(80),
                                  .actual_micros = Dollars(50),
                                  .difference_micros = Dollars(30),
                                  .currency = "USD",
                                  .evidence = {first, payment, second}});
  EXPECT_THAT(FindingsOfType(Feb(1), kLateBrandPayment), IsEmpty());
}

// ---------------------------------------------------------------------------
// LATE_BRAND_PAYMENT.

TEST_F(ReconcilerTest, BrandUnderpaidBecomesLatePaymentWhenTheRestIsPaid) {
  // 100.00 of Jan 5 due Jan 19, 60.00 paid Jan 15: underpaid by 40.00.
  const uint64_t purchase =
      Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Jan(15), Dollars(60));
  ASSERT_EQ(FindingsOfType(Feb(1), kBrandUnderpaid).size(), 1u);
  EXPECT_THAT(FindingsOfType(Feb(1), kLateBrandPayment), IsEmpty());

  // The brand pays the other 40.00 on Jan 25.
  const uint64_t cure = Payment(kAcme, "pay-2", kSunny, Jan(25), Dollars(40));

  // Shortfall was 40.00 from Jan 19 until Jan 25 (cured: 0): 6 days. Its
  // amounts are those of Jan 19, the first day of the largest shortfall:
  // Owed(due) 100.00, Paid 60.00. Evidence: the pair's records to Feb 1.
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandUnderpaid), IsEmpty());
  const std::vector<Finding> late = FindingsOfType(Feb(1), kLateBrandPayment);
  ASSERT_EQ(late.size(), 1u);
  ExpectDiscrepancy(late[0], {.id = "late_brand_payment:ffp:acme:sunny-farms",
                              .type = kLateBrandPayment,
                              .severity = kMedium,
                              .program_id = kFfp,
                              .brand_id = kAcme,
                              .supplier_id = kSunny,
                              .period_start = Jan(19),
                              .period_end = Jan(25),
                              .expected_micros = Dollars(100),
                              .actual_micros = Dollars(60),
                              .difference_micros = Dollars(40),
                              .currency = "USD",
                              .evidence = {purchase, payment, cure}});
  EXPECT_EQ(
      *late[0].discrepancy->period_end - *late[0].discrepancy->period_start, 6);
}

class LatePaymentTest : public ReconcilerTest {
 protected:
  // 50.00 of Jan 5 (due Jan 19) and 30.00 of Jan 8 (due Jan 22), paid 50.00
  // on Jan 26 and 30.00 on Jan 29. Shortfall: Jan 19..21 50.00, Jan 22..25
  // 80.00, Jan 26..28 30.00, from Jan 29 0.
  void AddTwoInvoicesPaidLate() {
    first_ = Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(50));
    second_ = Purchase(kAcme, "inv-2", kSunny, Jan(8), Dollars(30));
    first_payment_ = Payment(kAcme, "pay-1", kSunny, Jan(26), Dollars(50));
    second_payment_ = Payment(kAcme, "pay-2", kSunny, Jan(29), Dollars(30));
  }
  uint64_t first_ = 0;
  uint64_t second_ = 0;
  uint64_t first_payment_ = 0;
  uint64_t second_payment_ = 0;
};

TEST_F(LatePaymentTest, LatePaymentReportsTheLargestShortfallAndItsWholeRun) {
  AddTwoInvoicesPaidLate();
  // Largest: 80.00 on Jan 22 (Owed(due) 80.00, nothing paid yet); the run
  // began Jan 19 and was cured Jan 29: 10 days.
  EXPECT_THAT(FindingsOfType(Feb(15), kBrandUnderpaid), IsEmpty());
  const std::vector<Finding> late = FindingsOfType(Feb(15), kLateBrandPayment);
  ASSERT_EQ(late.size(), 1u);
  ExpectDiscrepancy(late[0], {.id = "late_brand_payment:ffp:acme:sunny-farms",
                              .type = kLateBrandPayment,
                              .severity = kMedium,
                              .program_id = kFfp,
                              .brand_id = kAcme,
                              .supplier_id = kSunny,
                              .period_start = Jan(19),
                              .period_end = Jan(29),
                              .expected_micros = Dollars(80),
                              .actual_micros = 0,
                              .difference_micros = Dollars(80),
                              .currency = "USD",
                              .evidence = {first_, second_, first_payment_,
                                           second_payment_}});
}

TEST_F(LatePaymentTest, UnderpaidOrLateDependsOnTheAsOfDate) {
  AddTwoInvoicesPaidLate();
  // Jan 18: nothing is due.
  EXPECT_THAT(FindingsOfType(Jan(18), kBrandUnderpaid), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(18), kLateBrandPayment), IsEmpty());

  // Jan 20: 50.00 due, nothing paid.
  std::vector<Finding> underpaid = FindingsOfType(Jan(20), kBrandUnderpaid);
  ASSERT_EQ(underpaid.size(), 1u);
  EXPECT_EQ(underpaid[0].discrepancy->expected_micros, Dollars(50));
  EXPECT_EQ(underpaid[0].discrepancy->actual_micros, 0);
  EXPECT_EQ(underpaid[0].discrepancy->difference_micros, Dollars(50));
  EXPECT_EQ(underpaid[0].discrepancy->period_start, Jan(19));
  // The evidence is every purchase and payment of the pair dated on or
  // before the as-of date, due or not.
  EXPECT_EQ(Seqs(underpaid[0].discrepancy->evidence),
            std::vector<uint64_t>({first_, second_}));

  // Jan 28: 80.00 due, 50.00 paid: 30.00, in the run that began Jan 19.
  underpaid = FindingsOfType(Jan(28), kBrandUnderpaid);
  ASSERT_EQ(underpaid.size(), 1u);
  EXPECT_EQ(underpaid[0].discrepancy->expected_micros, Dollars(80));
  EXPECT_EQ(underpaid[0].discrepancy->actual_micros, Dollars(50));
  EXPECT_EQ(underpaid[0].discrepancy->difference_micros, Dollars(30));
  EXPECT_EQ(underpaid[0].discrepancy->period_start, Jan(19));
  EXPECT_EQ(underpaid[0].discrepancy->period_end, std::nullopt);
  EXPECT_EQ(Seqs(underpaid[0].discrepancy->evidence),
            std::vector<uint64_t>({first_, second_, first_payment_}));
  EXPECT_THAT(FindingsOfType(Jan(28), kLateBrandPayment), IsEmpty());

  // Jan 29: cured the same day, so late, not underpaid.
  EXPECT_THAT(FindingsOfType(Jan(29), kBrandUnderpaid), IsEmpty());
  const std::vector<Finding> late = FindingsOfType(Jan(29), kLateBrandPayment);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].discrepancy->period_start, Jan(19));
  EXPECT_EQ(late[0].discrepancy->period_end, Jan(29));
  EXPECT_EQ(late[0].discrepancy->difference_micros, Dollars(80));
}

TEST_F(ReconcilerTest, LatePaymentPicksTheLargerRunAndTheEarliestOfEqualOnes) {
  // acme, run 1: 50.00 of Jan 5 (due Jan 19) paid Jan 21.
  const uint64_t acme_first =
      Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(50));
  const uint64_t acme_first_payment =
      Payment(kAcme, "pay-1", kSunny, Jan(21), Dollars(50));
  // acme, run 2: 80.00 of Jan 12 (due Jan 26) paid Feb 2. Larger.
  const uint64_t acme_second =
      Purchase(kAcme, "inv-2", kSunny, Jan(12), Dollars(80));
  const uint64_t acme_cure =
      Payment(kAcme, "pay-2", kSunny, Feb(2), Dollars(80));
  // bravo: two runs of 50.00: Jan 19..Jan 21 and Jan 26..Feb 2.
  const uint64_t bravo_first =
      Purchase(kBravo, "inv-1", kSunny, Jan(5), Dollars(50));
  const uint64_t bravo_others[] = {
      Payment(kBravo, "pay-1", kSunny, Jan(21), Dollars(50)),
      Purchase(kBravo, "inv-2", kSunny, Jan(12), Dollars(50)),
      Payment(kBravo, "pay-2", kSunny, Feb(2), Dollars(50)),
  };

  const std::vector<Finding> late = FindingsOfType(Feb(15), kLateBrandPayment);
  ASSERT_EQ(late.size(), 2u);
  // acme: Jan 26: Owed(due) 130.00 - Paid 50.00 = 80.00, cured Feb 2.
  ExpectDiscrepancy(late[0], {.id = "late_brand_payment:ffp:acme:sunny-farms",
                              .type = kLateBrandPayment,
                              .severity = kMedium,
                              .program_id = kFfp,
                              .brand_id = kAcme,
                              .supplier_id = kSunny,
                              .period_start = Jan(26),
                              .period_end = Feb(2),
                              .expected_micros = Dollars(130),
                              .actual_micros = Dollars(50),
                              .difference_micros = Dollars(80),
                              .currency = "USD",
                              .evidence = {acme_first, acme_first_payment,
                                           acme_second, acme_cure}});
  // bravo: equal shortfalls, the earliest run: Jan 19..Jan 21, 50.00 owed,
  // nothing paid.
  ExpectDiscrepancy(late[1], {.id = "late_brand_payment:ffp:bravo:sunny-farms",
                              .type = kLateBrandPayment,
                              .severity = kMedium,
                              .program_id = kFfp,
                              .brand_id = kBravo,
                              .supplier_id = kSunny,
                              .period_start = Jan(19),
                              .period_end = Jan(21),
                              .expected_micros = Dollars(50),
                              .actual_micros = 0,
                              .difference_micros = Dollars(50),
                              .currency = "USD",
                              .evidence = {bravo_first, bravo_others[0],
                                           bravo_others[1], bravo_others[2]}});
}

TEST_F(ReconcilerTest, LatePaymentNotFlaggedWhenTheShortfallStayedAtTolerance) {
  // acme: 100.00 due Jan 19, 99.00 paid Jan 10 and 1.00 on Jan 25: the
  // shortfall was exactly 1.00 from Jan 19 to Jan 24.
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(99));
  Payment(kAcme, "pay-2", kSunny, Jan(25), Dollars(1));
  // bravo: 98.99 then 1.01: the shortfall was 1.01 from Jan 19 to Jan 24.
  const uint64_t bravo_purchase =
      Purchase(kBravo, "inv-1", kSunny, Jan(5), Dollars(100));
  const uint64_t bravo_payment =
      Payment(kBravo, "pay-1", kSunny, Jan(10), Cents(9899));
  const uint64_t bravo_cure =
      Payment(kBravo, "pay-2", kSunny, Jan(25), Cents(101));

  EXPECT_THAT(FindingsOfType(Feb(1), kBrandUnderpaid), IsEmpty());
  const std::vector<Finding> late = FindingsOfType(Feb(1), kLateBrandPayment);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].discrepancy->brand_id, kBravo);
  EXPECT_EQ(late[0].discrepancy->period_start, Jan(19));
  EXPECT_EQ(late[0].discrepancy->period_end, Jan(25));
  EXPECT_EQ(late[0].discrepancy->expected_micros, Dollars(100));
  EXPECT_EQ(late[0].discrepancy->actual_micros, Cents(9899));
  EXPECT_EQ(late[0].discrepancy->difference_micros, Cents(101));
  EXPECT_EQ(Seqs(late[0].discrepancy->evidence),
            std::vector<uint64_t>({bravo_purchase, bravo_payment, bravo_cure}));
}

// ---------------------------------------------------------------------------
// BRAND_OVERPAID.

TEST_F(ReconcilerTest, BrandOverpaidIsPaidMinusOwedSinceTheDayItBegan) {
  // 100.00 owed on Jan 5, 103.00 paid on Jan 10: Paid - Owed = -100.00 from
  // Jan 5 and 3.00 > 1.00 from Jan 10.
  const uint64_t purchase =
      Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(103));
  // bravo paid 50.00 on Jan 3 for 50.00 bought on Jan 5: overpaid only
  // before the purchase, not at the as-of date.
  Payment(kBravo, "pay-1", kSunny, Jan(3), Dollars(50));
  Purchase(kBravo, "inv-1", kSunny, Jan(5), Dollars(50));

  const std::vector<Finding> findings = FindingsOfType(Jan(31), kBrandOverpaid);
  ASSERT_EQ(findings.size(), 1u);
  ExpectDiscrepancy(findings[0], {.id = "brand_overpaid:ffp:acme:sunny-farms",
                                  .type = kBrandOverpaid,
                                  .severity = kLow,
                                  .program_id = kFfp,
                                  .brand_id = kAcme,
                                  .supplier_id = kSunny,
                                  .period_start = Jan(10),
                                  .expected_micros = Dollars(100),
                                  .actual_micros = Dollars(103),
                                  .difference_micros = Dollars(3),
                                  .currency = "USD",
                                  .evidence = {purchase, payment}});
  EXPECT_THAT(FindingsOfType(Jan(31), kBrandUnderpaid), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(31), kLateBrandPayment), IsEmpty());
}

TEST_F(ReconcilerTest, BrandOverpaidNotFlaggedAtExactlyTheTolerance) {
  // acme overpays by 1.00, bravo by 1.01.
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(101));
  Purchase(kBravo, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kBravo, "pay-1", kSunny, Jan(10), Cents(10101));

  const std::vector<Finding> findings = FindingsOfType(Jan(31), kBrandOverpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->id,
            "brand_overpaid:ffp:bravo:sunny-farms");
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(100));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Cents(10101));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Cents(101));
}

TEST_F(ReconcilerTest, BrandOverpaidClearedByReversingTheWrongPayment) {
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  const uint64_t wrong = Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(103));
  ASSERT_EQ(FindingsOfType(Jan(31), kBrandOverpaid).size(), 1u);

  // A correction: the payment is reversed and entered again as 100.00.
  Reverse(wrong);
  // In between the brand has paid nothing: underpaid by 100.00.
  std::vector<Finding> underpaid = FindingsOfType(Jan(31), kBrandUnderpaid);
  ASSERT_EQ(underpaid.size(), 1u);
  EXPECT_EQ(underpaid[0].discrepancy->difference_micros, Dollars(100));
  Payment(kAcme, "pay-1b", kSunny, Jan(10), Dollars(100));

  EXPECT_THAT(FindingsOfType(Jan(31), kBrandOverpaid), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(31), kBrandUnderpaid), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(31), kLateBrandPayment), IsEmpty());
}

// ---------------------------------------------------------------------------
// UNDISTRIBUTED_PREMIUM and LATE_DISTRIBUTION.

TEST_F(ReconcilerTest, UndistributedPremiumIsTheGapSinceTheDayItBegan) {
  Purchase(kAcme, "inv-1", kSunny, Jan(2), Dollars(100));
  // 100.00 received Jan 10: on paychecks by Jan 24.
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(100));
  // 60.00 on the paychecks of Jan 16.
  const uint64_t line1 = Line(kSunny, "w1", Week(1), Hours(40), Dollars(30));
  const uint64_t line2 = Line(kSunny, "w2", Week(1), Hours(40), Dollars(30));

  // Gap: 0 before Jan 16, -60.00 Jan 16..23, 40.00 from Jan 24.
  EXPECT_THAT(FindingsOfType(Jan(23), kUndistributedPremium), IsEmpty());
  const std::vector<Finding> findings =
      FindingsOfType(Feb(1), kUndistributedPremium);
  ASSERT_EQ(findings.size(), 1u);
  ExpectDiscrepancy(findings[0], {.id = "undistributed_premium:ffp:sunny-farms",
                                  .type = kUndistributedPremium,
                                  .severity = kHigh,
                                  .program_id = kFfp,
                                  .supplier_id = kSunny,
                                  .period_start = Jan(24),
                                  .expected_micros = Dollars(100),
                                  .actual_micros = Dollars(60),
                                  .difference_micros = Dollars(40),
                                  .currency = "USD",
                                  .evidence = {payment, line1, line2}});
  // The brand paid what it owed.
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandUnderpaid), IsEmpty());
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandOverpaid), IsEmpty());
}

TEST_F(ReconcilerTest, UndistributedPremiumNotFlaggedAtExactlyTheTolerance) {
  // sunny-farms received 100.00 on Jan 10 and paid workers 99.00 on Jan 16:
  // the gap is 1.00 from Jan 24.
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(100));
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(99));
  // ridge-farms paid workers 98.99: gap 1.01.
  Payment(kAcme, "pay-2", kRidge, Jan(10), Dollars(100));
  Line(kRidge, "w1", Week(1), Hours(40), Cents(9899));

  const std::vector<Finding> findings =
      FindingsOfType(Feb(1), kUndistributedPremium);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->id,
            "undistributed_premium:ffp:ridge-farms");
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(100));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Cents(9899));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Cents(101));
  EXPECT_THAT(FindingsOfType(Feb(1), kLateDistribution), IsEmpty());
}

TEST_F(ReconcilerTest, UndistributedPremiumBecomesLateDistributionWhenPaidOut) {
  Purchase(kAcme, "inv-1", kSunny, Jan(2), Dollars(100));
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(100));
  const uint64_t line1 = Line(kSunny, "w1", Week(1), Hours(40), Dollars(30));
  const uint64_t line2 = Line(kSunny, "w2", Week(1), Hours(40), Dollars(30));
  ASSERT_EQ(FindingsOfType(Feb(1), kUndistributedPremium).size(), 1u);

  // The other 40.00 reaches the paychecks of Jan 23 + 7 = Jan 30.
  PayPeriod late_pay = Week(2);
  late_pay.pay_date = Jan(30);
  const uint64_t cure = Line(kSunny, "w1", late_pay, Hours(40), Dollars(40));

  // Gap 40.00 from Jan 24 to Jan 30 (6 days); amounts of Jan 24:
  // Received(due) 100.00, Distributed 60.00. Evidence: the supplier's
  // payments and paychecks to Feb 1.
  EXPECT_THAT(FindingsOfType(Feb(1), kUndistributedPremium), IsEmpty());
  const std::vector<Finding> late = FindingsOfType(Feb(1), kLateDistribution);
  ASSERT_EQ(late.size(), 1u);
  ExpectDiscrepancy(late[0], {.id = "late_distribution:ffp:sunny-farms",
                              .type = kLateDistribution,
                              .severity = kMedium,
                              .program_id = kFfp,
                              .supplier_id = kSunny,
                              .period_start = Jan(24),
                              .period_end = Jan(30),
                              .expected_micros = Dollars(100),
                              .actual_micros = Dollars(60),
                              .difference_micros = Dollars(40),
                              .currency = "USD",
                              .evidence = {payment, line1, line2, cure}});
  // As of Jan 29 it is still undistributed.
  const std::vector<Finding> before =
      FindingsOfType(Jan(29), kUndistributedPremium);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].discrepancy->difference_micros, Dollars(40));
  EXPECT_THAT(FindingsOfType(Jan(29), kLateDistribution), IsEmpty());
}

TEST_F(ReconcilerTest, LateDistributionReportsTheLargestGapAndItsWholeRun) {
  // Received 50.00 Jan 5 (due Jan 19) and 30.00 Jan 8 (due Jan 22); paid out
  // 50.00 on Jan 26 and 30.00 on Feb 2. Gap: Jan 19..21 50.00, Jan 22..25
  // 80.00, Jan 26..Feb 1 30.00, from Feb 2 0.
  const uint64_t first = Payment(kAcme, "pay-1", kSunny, Jan(5), Dollars(50));
  const uint64_t second = Payment(kAcme, "pay-2", kSunny, Jan(8), Dollars(30));
  const uint64_t paychecks[] = {
      Line(kSunny, "w1", {Jan(12), Jan(18), Jan(26)}, Hours(40), Dollars(50)),
      Line(kSunny, "w1", {Jan(19), Jan(25), Feb(2)}, Hours(40), Dollars(30)),
  };

  EXPECT_THAT(FindingsOfType(Feb(15), kUndistributedPremium), IsEmpty());
  const std::vector<Finding> late = FindingsOfType(Feb(15), kLateDistribution);
  ASSERT_EQ(late.size(), 1u);
  ExpectDiscrepancy(late[0],
                    {.id = "late_distribution:ffp:sunny-farms",
                     .type = kLateDistribution,
                     .severity = kMedium,
                     .program_id = kFfp,
                     .supplier_id = kSunny,
                     .period_start = Jan(19),
                     .period_end = Feb(2),
                     .expected_micros = Dollars(80),
                     .actual_micros = 0,
                     .difference_micros = Dollars(80),
                     .currency = "USD",
                     .evidence = {first, second, paychecks[0], paychecks[1]}});
}

TEST_F(ReconcilerTest, WorkerPortionOfAPaymentExcludesTheSupplierRate) {
  AddProgram(BurgerKingVariant());
  // 1,000 lb at 0.015: 15.00 owed, 10.00 of it for workers.
  Purchase(kAcme, "inv-1", kSunny, Jan(2), Dollars(15), kBk);
  // 15.00 paid Jan 5: worker portion 15.00 x 0.01 / 0.015 = 10.00, due on
  // paychecks by Jan 19.
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Jan(5), Dollars(15), kBk);
  // 8.00 on the paychecks of Jan 16.
  const uint64_t line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(8), kBk);

  // Gap = 10.00 - 8.00 = 2.00 from Jan 19.
  const std::vector<Finding> findings =
      FindingsOfType(Feb(1), kUndistributedPremium);
  ASSERT_EQ(findings.size(), 1u);
  ExpectDiscrepancy(findings[0],
                    {.id = "undistributed_premium:ffp-bk:sunny-farms",
                     .type = kUndistributedPremium,
                     .severity = kHigh,
                     .program_id = kBk,
                     .supplier_id = kSunny,
                     .period_start = Jan(19),
                     .expected_micros = Dollars(10),
                     .actual_micros = Dollars(8),
                     .difference_micros = Dollars(2),
                     .currency = "USD",
                     .evidence = {payment, line}});
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandUnderpaid), IsEmpty());
}

// ---------------------------------------------------------------------------
// DUPLICATE_PAYROLL_LINE.

TEST_F(ReconcilerTest, DuplicatePayrollLineComparesTheFirstLineWithAll) {
  // Week 1 of sunny-farms: w1 has two lines (20.00 for 40 h, then 5.00 for
  // 10 h); every line is 0.50 an hour, so nothing is skewed.
  const uint64_t first = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(40), Dollars(20));
  const uint64_t again = Line(kSunny, "w1", Week(1), Hours(10), Dollars(5));

  // expected = 20.00 (the first), actual = 25.00 (both), difference 5.00.
  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kDuplicatePayrollLine);
  ASSERT_EQ(findings.size(), 1u);
  ExpectDiscrepancy(
      findings[0],
      {.id = "duplicate_payroll_line:ffp:sunny-farms:w1:2026-01-05:2026-01-11",
       .type = kDuplicatePayrollLine,
       .severity = kHigh,
       .program_id = kFfp,
       .supplier_id = kSunny,
       .worker_id = "w1",
       .period_start = Jan(5),
       .period_end = Jan(11),
       .expected_micros = Dollars(20),
       .actual_micros = Dollars(25),
       .difference_micros = Dollars(5),
       .currency = "USD",
       .evidence = {first, again}});
  EXPECT_THAT(FindingsOfType(Jan(31), kAllocationSkew), IsEmpty());
}

TEST_F(ReconcilerTest, DuplicatePayrollLineNeedsTheSameProgramSupplierPeriod) {
  AddProgram(BurgerKingVariant());
  // w1 once in each of: ffp sunny week 1, ffp sunny week 2, ffp ridge week 1,
  // ffp-bk sunny week 1.
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w1", Week(2), Hours(40), Dollars(20));
  Line(kRidge, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20), kBk);
  EXPECT_THAT(FindingsOfType(Feb(28), kDuplicatePayrollLine), IsEmpty());
}

TEST_F(ReconcilerTest, ReversingTheDuplicateLineClearsIt) {
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(40), Dollars(20));
  const uint64_t again = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kDuplicatePayrollLine);
  ASSERT_EQ(findings.size(), 1u);
  // 20.00 expected, 40.00 on both lines.
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(20));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Dollars(40));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(20));

  Reverse(again);
  EXPECT_THAT(FindingsOfType(Jan(31), kDuplicatePayrollLine), IsEmpty());
}

// ---------------------------------------------------------------------------
// PREMIUM_WITHOUT_HOURS.

TEST_F(ReconcilerTest, PremiumWithoutHoursFlagsPremiumOnZeroHours) {
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(40), Dollars(20));
  // 5.00 for no hours: flagged, and left out of the allocation median.
  const uint64_t no_hours = Line(kSunny, "w3", Week(1), 0, Dollars(5));
  // No hours and no premium: nothing wrong.
  Line(kSunny, "w4", Week(1), 0, 0);
  // Even 0.01 for no hours is flagged: there is no tolerance per line.
  const uint64_t one_cent = Line(kSunny, "w5", Week(1), 0, Cents(1));

  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kPremiumWithoutHours);
  ASSERT_EQ(findings.size(), 2u);
  ExpectDiscrepancy(
      findings[0],
      {.id = "premium_without_hours:ffp:sunny-farms:w3:2026-01-05:2026-01-11",
       .type = kPremiumWithoutHours,
       .severity = kHigh,
       .program_id = kFfp,
       .supplier_id = kSunny,
       .worker_id = "w3",
       .period_start = Jan(5),
       .period_end = Jan(11),
       .expected_micros = 0,
       .actual_micros = Dollars(5),
       .difference_micros = Dollars(5),
       .currency = "USD",
       .evidence = {no_hours}});
  EXPECT_EQ(findings[1].discrepancy->worker_id, "w5");
  EXPECT_EQ(findings[1].discrepancy->actual_micros, Cents(1));
  EXPECT_EQ(findings[1].discrepancy->difference_micros, Cents(1));
  EXPECT_EQ(Seqs(findings[1].discrepancy->evidence),
            std::vector<uint64_t>({one_cent}));
  // The median over w1 and w2 is 0.50 an hour, which both match.
  EXPECT_THAT(FindingsOfType(Jan(31), kAllocationSkew), IsEmpty());
}

TEST_F(ReconcilerTest, PremiumWithoutHoursSumsAWorkersLinesInThePeriod) {
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  // w3 has two lines without hours: one discrepancy, 1.00 + 2.50 = 3.50.
  const uint64_t first = Line(kSunny, "w3", Week(1), 0, Dollars(1));
  const uint64_t second = Line(kSunny, "w3", Week(1), 0, Cents(250));
  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kPremiumWithoutHours);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->expected_micros, 0);
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Cents(350));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Cents(350));
  EXPECT_EQ(Seqs(findings[0].discrepancy->evidence),
            std::vector<uint64_t>({first, second}));
}

TEST_F(ReconcilerTest, PremiumWithoutHoursClearedByACorrectedLine) {
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  const uint64_t wrong = Line(kSunny, "w3", Week(1), 0, Dollars(4));
  ASSERT_EQ(FindingsOfType(Jan(31), kPremiumWithoutHours).size(), 1u);
  // The line is reversed and uploaded again with its 8 hours (0.50 an hour).
  Reverse(wrong);
  Line(kSunny, "w3", Week(1), Hours(8), Dollars(4));
  EXPECT_THAT(FindingsOfType(Jan(31), kPremiumWithoutHours), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(31), kAllocationSkew), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(31), kDuplicatePayrollLine), IsEmpty());
}

// ---------------------------------------------------------------------------
// ALLOCATION_SKEW.

TEST_F(ReconcilerTest, AllocationSkewComparesEachLineWithTheMedianRate) {
  // Rates per hour: w1 0.50, w2 0.51, w3 0.80, w4 0.49. Sorted 0.49 0.50
  // 0.51 0.80: the lower middle is w1's 0.50.
  const uint64_t w1 = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(20), Cents(1020));
  const uint64_t w3 = Line(kSunny, "w3", Week(1), Hours(10), Dollars(8));
  Line(kSunny, "w4", Week(1), Hours(30), Cents(1470));
  // Another supplier's lines do not enter sunny-farms' median.
  Line(kRidge, "w9", Week(1), Hours(10), Dollars(9));
  Line(kRidge, "w8", Week(1), Hours(10), Dollars(9));

  // w3: e = 0.50 x 10 = 5.00; |8.00 - 5.00| = 3.00 > max(0.01, 0.25).
  // w2: e = 10.00, off by 0.20 <= 0.50; w4: e = 15.00, off by 0.30 <= 0.75.
  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kAllocationSkew);
  ASSERT_EQ(findings.size(), 1u);
  ExpectDiscrepancy(
      findings[0],
      {.id = "allocation_skew:ffp:sunny-farms:w3:2026-01-05:2026-01-11",
       .type = kAllocationSkew,
       .severity = kMedium,
       .program_id = kFfp,
       .supplier_id = kSunny,
       .worker_id = "w3",
       .period_start = Jan(5),
       .period_end = Jan(11),
       .expected_micros = Dollars(5),
       .actual_micros = Dollars(8),
       .difference_micros = Dollars(3),
       .currency = "USD",
       // The flagged line and the median line.
       .evidence = {w1, w3}});
}

TEST_F(ReconcilerTest, SeveralFlaggedLinesOfOneWorkerMakeOneDiscrepancy) {
  // Rates per hour: w1 0.50, w2 0.51, w4 0.49, and w3 twice: 6.01 and 4.00
  // for 10.01 h each (0.6004 and 0.3996). Sorted 0.3996 0.49 0.50 0.51
  // 0.6004: the median is w1's 0.50.
  const uint64_t w1 = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(40), Cents(2040));
  Line(kSunny, "w4", Week(1), Hours(20), Cents(980));
  const uint64_t w3_first =
      Line(kSunny, "w3", Week(1), Cents(1001), Cents(601));
  const uint64_t w3_second =
      Line(kSunny, "w3", Week(1), Cents(1001), Cents(400));

  // Each w3 line: e = 0.50 x 10.01 = 5.005, off by 1.005 > 0.25025.
  // expected 5.005 + 5.005 = 10.01, actual 6.01 + 4.00 = 10.01; the
  // difference is 1.005 + 1.005 = 2.01 (not |10.01 - 10.01| = 0, and not
  // 1.00 + 1.00 from rounding each line first).
  std::vector<Finding> findings = FindingsOfType(Jan(31), kAllocationSkew);
  ASSERT_EQ(findings.size(), 1u);
  ExpectDiscrepancy(
      findings[0],
      {.id = "allocation_skew:ffp:sunny-farms:w3:2026-01-05:2026-01-11",
       .type = kAllocationSkew,
       .severity = kMedium,
       .program_id = kFfp,
       .supplier_id = kSunny,
       .worker_id = "w3",
       .period_start = Jan(5),
       .period_end = Jan(11),
       .expected_micros = 10'010'000,
       .actual_micros = 10'010'000,
       .difference_micros = 2'010'000,
       .currency = "USD",
       .evidence = {w1, w3_first, w3_second}});

  // The same two lines are one DUPLICATE_PAYROLL_LINE: the first 6.01
  // against 10.01 on both.
  findings = FindingsOfType(Jan(31), kDuplicatePayrollLine);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->worker_id, "w3");
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Cents(601));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Cents(1001));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Cents(400));
  EXPECT_EQ(Seqs(findings[0].discrepancy->evidence),
            std::vector<uint64_t>({w3_first, w3_second}));
}

TEST_F(ReconcilerTest, AllocationSkewMedianOfAnEvenCountIsTheLowerMiddle) {
  // 10 hours each at 0.40, 0.50, 0.60, 0.70: r = 0.50 (the lower middle;
  // the upper would be 0.60, the mean 0.55). e = 5.00, tolerance 0.25:
  // w1 off by 1.00, w2 by 0, w3 by 1.00, w4 by 2.00.
  Line(kSunny, "w1", Week(1), Hours(10), Dollars(4));
  Line(kSunny, "w2", Week(1), Hours(10), Dollars(5));
  Line(kSunny, "w3", Week(1), Hours(10), Dollars(6));
  Line(kSunny, "w4", Week(1), Hours(10), Dollars(7));

  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kAllocationSkew);
  std::vector<std::string> workers;
  for (const Finding& finding : findings) {
    workers.push_back(finding.discrepancy->worker_id);
    EXPECT_EQ(finding.discrepancy->expected_micros, Dollars(5))
        << Describe(finding);
  }
  EXPECT_THAT(workers, ElementsAre("w1", "w3", "w4"));
}

TEST_F(ReconcilerTest, AllocationSkewToleranceIsFivePercentOfExpected) {
  // In each supplier w1 and w2 earn 0.50 an hour, so r = 0.50 and w3's
  // 20 hours give e = 10.00 with a tolerance of 5% = 0.50.
  for (const char* supplier : {kSunny, kRidge, kCedar}) {
    Line(supplier, "w1", Week(1), Hours(40), Dollars(20));
    Line(supplier, "w2", Week(1), Hours(40), Dollars(20));
  }
  Line(kSunny, "w3", Week(1), Hours(20), Cents(1050));  // off by 0.50
  Line(kRidge, "w3", Week(1), Hours(20), Cents(1051));  // off by 0.51
  Line(kCedar, "w3", Week(1), Hours(20), Cents(949));   // off by -0.51

  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kAllocationSkew);
  ASSERT_EQ(findings.size(), 2u);
  // Ordered by id: cedar-farms before ridge-farms.
  EXPECT_EQ(findings[0].discrepancy->id,
            "allocation_skew:ffp:cedar-farms:w3:2026-01-05:2026-01-11");
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(10));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Cents(949));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Cents(51));
  EXPECT_EQ(findings[1].discrepancy->id,
            "allocation_skew:ffp:ridge-farms:w3:2026-01-05:2026-01-11");
  EXPECT_EQ(findings[1].discrepancy->expected_micros, Dollars(10));
  EXPECT_EQ(findings[1].discrepancy->actual_micros, Cents(1051));
  EXPECT_EQ(findings[1].discrepancy->difference_micros, Cents(51));
}

TEST_F(ReconcilerTest, AllocationSkewToleranceIsAtLeastOneCent) {
  // r = 0.50 in both suppliers (w1, w2).
  for (const char* supplier : {kSunny, kRidge}) {
    Line(supplier, "w1", Week(1), Hours(40), Dollars(20));
    Line(supplier, "w2", Week(1), Hours(40), Dollars(20));
  }
  // sunny w3: 0.02 h, e = 0.01, premium 0.02: off by exactly 0.01 (5% of e
  // would be 0.0005): not flagged.
  Line(kSunny, "w3", Week(1), Cents(2), Cents(2));
  // ridge w3: 0.01 h, e = 0.005, premium 0.02: off by 0.015 > 0.01; the
  // difference rounds half-even to 0.02.
  Line(kRidge, "w3", Week(1), Cents(1), Cents(2));

  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kAllocationSkew);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->id,
            "allocation_skew:ffp:ridge-farms:w3:2026-01-05:2026-01-11");
  EXPECT_EQ(findings[0].discrepancy->expected_micros, 5'000);
  EXPECT_EQ(findings[0].discrepancy->actual_micros, 20'000);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, 20'000);
}

TEST_F(ReconcilerTest, AllocationSkewByWagesAndNotCheckedWhenNone) {
  pb::ProgramVersion by_wages = FairFoodProgram();
  by_wages.set_program_id("mwd");
  by_wages.set_allocation(pb::WAGES);
  AddProgram(by_wages);
  pb::ProgramVersion unchecked = FairFoodProgram();
  unchecked.set_program_id("nop");
  unchecked.set_allocation(pb::NONE);
  AddProgram(unchecked);

  for (const char* program : {"mwd", "nop"}) {
    // Per wage: 8/800 = 0.01, 6/600 = 0.01, 8/400 = 0.02; r = 0.01.
    // (Per hour they would be 0.20, 0.30, 0.20: w2 would be the odd one.)
    Line(kSunny, "w1", Week(1), Hours(40), Dollars(8), program, Dollars(800));
    Line(kSunny, "w2", Week(1), Hours(20), Dollars(6), program, Dollars(600));
    Line(kSunny, "w3", Week(1), Hours(40), Dollars(8), program, Dollars(400));
  }

  // mwd w3: e = 0.01 x 400.00 = 4.00; off by 4.00 > max(0.01, 0.20).
  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kAllocationSkew);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->id,
            "allocation_skew:mwd:sunny-farms:w3:2026-01-05:2026-01-11");
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(4));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, Dollars(8));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(4));
}

TEST_F(ReconcilerTest, AllocationSkewClearedByACorrectedLine) {
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(20), Dollars(10));
  const uint64_t wrong = Line(kSunny, "w3", Week(1), Hours(10), Dollars(8));
  ASSERT_EQ(FindingsOfType(Jan(31), kAllocationSkew).size(), 1u);
  Reverse(wrong);
  Line(kSunny, "w3", Week(1), Hours(10), Dollars(5));
  EXPECT_THAT(FindingsOfType(Jan(31), kAllocationSkew), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(31), kDuplicatePayrollLine), IsEmpty());
}

// ---------------------------------------------------------------------------
// PURCHASE_FROM_SUSPENDED_SUPPLIER.

TEST_F(ReconcilerTest, PurchaseFromSuspendedSupplierFlagsEachInvoice) {
  // bravo's purchase of Jan 11 is appended before the suspension that
  // covers it: suspensions apply to purchases dated inside them.
  const uint64_t bravo =
      Purchase(kBravo, "inv-3", kSunny, Jan(11), Dollars(10));
  const uint64_t suspension = Suspend(kSunny, Jan(10));
  const uint64_t acme = Purchase(kAcme, "inv-7", kSunny, Jan(12), Dollars(25));
  // Before the suspension: fine.
  Purchase(kAcme, "inv-6", kSunny, Jan(9), Dollars(25));

  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kPurchaseFromSuspendedSupplier);
  ASSERT_EQ(findings.size(), 2u);
  ExpectDiscrepancy(
      findings[0],
      {.id = "purchase_from_suspended_supplier:ffp:acme:sunny-farms:inv-7",
       .type = kPurchaseFromSuspendedSupplier,
       .severity = kHigh,
       .program_id = kFfp,
       .brand_id = kAcme,
       .supplier_id = kSunny,
       .period_start = Jan(12),
       .period_end = Jan(12),
       .invoice_id = "inv-7",
       .expected_micros = 0,
       .actual_micros = Dollars(25),
       .difference_micros = Dollars(25),
       .currency = "USD",
       .evidence = {suspension, acme}});
  ExpectDiscrepancy(
      findings[1],
      {.id = "purchase_from_suspended_supplier:ffp:bravo:sunny-farms:inv-3",
       .type = kPurchaseFromSuspendedSupplier,
       .severity = kHigh,
       .program_id = kFfp,
       .brand_id = kBravo,
       .supplier_id = kSunny,
       .period_start = Jan(11),
       .period_end = Jan(11),
       .invoice_id = "inv-3",
       .expected_micros = 0,
       .actual_micros = Dollars(10),
       .difference_micros = Dollars(10),
       .currency = "USD",
       .evidence = {bravo, suspension}});
}

TEST_F(ReconcilerTest, PurchaseFromSuspendedSupplierOnlyInsideTheSuspension) {
  AddProgram(BurgerKingVariant());
  // ridge-farms: suspended Jan 10..Jan 15.
  Suspend(kRidge, Jan(10), Jan(15));
  Purchase(kAcme, "inv-a", kRidge, Jan(9), Dollars(1));
  Purchase(kAcme, "inv-b", kRidge, Jan(10), Dollars(1));
  Purchase(kAcme, "inv-c", kRidge, Jan(15), Dollars(1));
  Purchase(kAcme, "inv-d", kRidge, Jan(16), Dollars(1));
  // sunny-farms: suspended from Jan 10, reinstated from Jan 20.
  const uint64_t suspension = Suspend(kSunny, Jan(10));
  const uint64_t purchase =
      Purchase(kAcme, "inv-e", kSunny, Jan(19), Dollars(1));
  const uint64_t reinstatement = Reinstate(kSunny, Jan(20));
  Purchase(kAcme, "inv-f", kSunny, Jan(20), Dollars(1));
  // A suspension in ffp says nothing of ffp-bk.
  Purchase(kAcme, "inv-g", kSunny, Jan(12), Dollars(3), kBk);

  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kPurchaseFromSuspendedSupplier);
  std::vector<std::string> invoices;
  for (const Finding& finding : findings) {
    invoices.push_back(finding.discrepancy->invoice_id);
  }
  EXPECT_THAT(invoices, ElementsAre("inv-b", "inv-c", "inv-e"));
  // inv-e: the suspension, the purchase and the reinstatement that ended
  // the suspension.
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_EQ(Seqs(findings[2].discrepancy->evidence),
            std::vector<uint64_t>({suspension, purchase, reinstatement}));
}

TEST_F(ReconcilerTest, ReversingThePurchaseFromASuspendedSupplierClearsIt) {
  Suspend(kSunny, Jan(10));
  const uint64_t purchase =
      Purchase(kAcme, "inv-7", kSunny, Jan(12), Dollars(25));
  ASSERT_EQ(FindingsOfType(Jan(31), kPurchaseFromSuspendedSupplier).size(), 1u);
  Reverse(purchase);
  EXPECT_THAT(FindingsOfType(Jan(31), kPurchaseFromSuspendedSupplier),
              IsEmpty());
  // Nothing is owed any more either.
  EXPECT_THAT(FindingsOfType(Feb(28), kBrandUnderpaid), IsEmpty());
}

// Purchases are kept as one sum per pair and day: reversing some of a day's
// purchases takes out exactly theirs, evidence still names the rest, and
// the owed figures follow.
TEST_F(ReconcilerTest, ReversingSomeOfADaysPurchasesTakesOutOnlyThem) {
  const uint64_t first = Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  // Another pair the same day, below the tolerance.
  Purchase(kBravo, "inv-1", kSunny, Jan(5), Cents(50));
  const uint64_t second = Purchase(kAcme, "inv-2", kSunny, Jan(5), Dollars(30));
  const uint64_t later = Purchase(kAcme, "inv-3", kSunny, Jan(6), Dollars(20));
  const auto expect_underpaid = [&](absl::CivilDay since, int64_t owed_micros,
                                    std::vector<uint64_t> evidence) {
    const std::vector<Finding> findings =
        FindingsOfType(Feb(1), kBrandUnderpaid);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].discrepancy->brand_id, kAcme);
    EXPECT_EQ(findings[0].discrepancy->period_start, since);
    EXPECT_EQ(findings[0].discrepancy->expected_micros, owed_micros);
    EXPECT_EQ(findings[0].discrepancy->difference_micros, owed_micros);
    EXPECT_EQ(Seqs(findings[0].discrepancy->evidence), evidence);
    const Summary summary = Summarize("", Feb(1));
    ASSERT_EQ(summary.brands.size(), 2u);
    EXPECT_EQ(summary.brands[0].owed_micros, owed_micros);
    EXPECT_EQ(summary.brands[1].owed_micros, Cents(50));
    ASSERT_EQ(summary.programs.size(), 1u);
    EXPECT_EQ(summary.programs[0].owed_micros, owed_micros + Cents(50));
    EXPECT_EQ(Describe(reconciler_.Reconcile(Query(Feb(1))).value()),
              FromScratch(log_.size(), Query(Feb(1))));
  };
  // Due Jan 19 and Jan 20.
  expect_underpaid(Jan(19), Dollars(150), {first, second, later});
  Reverse(second);
  expect_underpaid(Jan(19), Dollars(120), {first, later});
  Reverse(first);
  expect_underpaid(Jan(20), Dollars(20), {later});
  // A purchase can be withdrawn once.
  pb::Reversal again;
  again.set_reversed_seq(first);
  again.set_reason("twice");
  EXPECT_THAT(TryAppend(kReversalKind, again.SerializeAsString()),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::HasSubstr("which was not applied")));
  expect_underpaid(Jan(20), Dollars(20), {later});
}

// ---------------------------------------------------------------------------
// WORKER_DISPUTE.

TEST_F(ReconcilerTest, WorkerDisputeCountsFromTheDayItWasAppended) {
  const uint64_t line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(40), Dollars(20));
  SetAppendDay(Jan(20));
  // w1's paystub shows 15.00 where the ledger records 20.00.
  const uint64_t dispute = Dispute(line, Dollars(15));

  EXPECT_THAT(FindingsOfType(Jan(19), kWorkerDispute), IsEmpty());
  const std::vector<Finding> findings = FindingsOfType(Jan(20), kWorkerDispute);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(findings[0].resolved);
  ExpectDiscrepancy(
      findings[0],
      {.id = "worker_dispute:ffp:sunny-farms:w1:2026-01-05:2026-01-11",
       .type = kWorkerDispute,
       .severity = kHigh,
       .program_id = kFfp,
       .supplier_id = kSunny,
       .worker_id = "w1",
       .period_start = Jan(5),
       .period_end = Jan(11),
       .expected_micros = Dollars(20),
       .actual_micros = Dollars(15),
       .difference_micros = Dollars(5),
       .currency = "USD",
       .evidence = {line, dispute}});
}

TEST_F(ReconcilerTest, WorkerDisputeUsesTheLatestDisputeOfEachLine) {
  // w1: one line of 20.00, disputed twice: 12.00, then 18.00.
  const uint64_t w1_line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  const uint64_t w1_earlier = Dispute(w1_line, Dollars(12));
  const uint64_t w1_latest = Dispute(w1_line, Dollars(18));
  // w2: two lines of 10.00 in the period, both disputed: 4.00 and 0.
  const uint64_t w2_first = Line(kSunny, "w2", Week(1), Hours(20), Dollars(10));
  const uint64_t w2_second =
      Line(kSunny, "w2", Week(1), Hours(20), Dollars(10));
  const uint64_t w2_first_dispute = Dispute(w2_first, Dollars(4));
  const uint64_t w2_second_dispute = Dispute(w2_second, 0);

  const std::vector<Finding> findings = FindingsOfType(Jan(31), kWorkerDispute);
  ASSERT_EQ(findings.size(), 2u);
  // w1: expected 20.00, actual 18.00 (the latest), difference 2.00; both
  // disputes are evidence.
  ExpectDiscrepancy(
      findings[0],
      {.id = "worker_dispute:ffp:sunny-farms:w1:2026-01-05:2026-01-11",
       .type = kWorkerDispute,
       .severity = kHigh,
       .program_id = kFfp,
       .supplier_id = kSunny,
       .worker_id = "w1",
       .period_start = Jan(5),
       .period_end = Jan(11),
       .expected_micros = Dollars(20),
       .actual_micros = Dollars(18),
       .difference_micros = Dollars(2),
       .currency = "USD",
       .evidence = {w1_line, w1_earlier, w1_latest}});
  // w2: expected 10.00 + 10.00 = 20.00, actual 4.00 + 0 = 4.00.
  ExpectDiscrepancy(
      findings[1],
      {.id = "worker_dispute:ffp:sunny-farms:w2:2026-01-05:2026-01-11",
       .type = kWorkerDispute,
       .severity = kHigh,
       .program_id = kFfp,
       .supplier_id = kSunny,
       .worker_id = "w2",
       .period_start = Jan(5),
       .period_end = Jan(11),
       .expected_micros = Dollars(20),
       .actual_micros = Dollars(4),
       .difference_micros = Dollars(16),
       .currency = "USD",
       .evidence = {w2_first, w2_second, w2_first_dispute, w2_second_dispute}});
}

TEST_F(ReconcilerTest, WorkerDisputeResolvedUntilALaterDisputeReopensIt) {
  const std::string id =
      "worker_dispute:ffp:sunny-farms:w1:2026-01-05:2026-01-11";
  const uint64_t line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Dispute(line, Dollars(15));
  // The auditor resolves it with its difference 5.00.
  const uint64_t resolution = Resolve(id, Dollars(5));
  std::vector<Finding> findings = FindingsOfType(Jan(31), kWorkerDispute);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);

  // The worker disputes again, with the same amount: open again, and the
  // latest resolution is still named.
  Dispute(line, Dollars(15));
  findings = FindingsOfType(Jan(31), kWorkerDispute);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(5));
  EXPECT_FALSE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);

  const uint64_t again = Resolve(id, Dollars(5));
  findings = FindingsOfType(Jan(31), kWorkerDispute);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, again);
}

TEST_F(ReconcilerTest, ReversingTheOnlyDisputeClearsIt) {
  const uint64_t line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  const uint64_t dispute = Dispute(line, Dollars(15));
  ASSERT_EQ(FindingsOfType(Jan(31), kWorkerDispute).size(), 1u);
  Reverse(dispute);
  EXPECT_THAT(FindingsOfType(Jan(31), kWorkerDispute), IsEmpty());
}

// ---------------------------------------------------------------------------
// Resolutions.

TEST_F(ReconcilerTest, ResolutionHoldsWhileTheDifferenceIsTheOneRecorded) {
  const std::string id = "brand_underpaid:ffp:acme:sunny-farms";
  // Underpaid by 100.00 - 60.00 = 40.00.
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(15), Dollars(60));
  const uint64_t resolution = Resolve(id, Dollars(40));

  std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(40));

  // 10.00 more paid: the difference is 30.00, open again.
  Payment(kAcme, "pay-2", kSunny, Jan(25), Dollars(10));
  findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(30));
  EXPECT_FALSE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);

  // Resolved again at 30.00.
  const uint64_t again = Resolve(id, Dollars(30));
  findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, again);
}

TEST_F(ReconcilerTest, ResolutionOfAnotherDifferenceDoesNotResolve) {
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(103));
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(100));
  // Underpaid by 103.00 - 100.00 = 3.00; the auditor recorded 2.00.
  const uint64_t resolution =
      Resolve("brand_underpaid:ffp:acme:sunny-farms", Dollars(2));
  const std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(3));
  EXPECT_FALSE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);
}

TEST_F(ReconcilerTest, ReversingTheResolutionReopensAsNeverResolved) {
  const std::string id = "brand_overpaid:ffp:acme:sunny-farms";
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(103));
  const uint64_t resolution = Resolve(id, Dollars(3), Jan(31));
  std::vector<Finding> findings = FindingsOfType(Jan(31), kBrandOverpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);

  Reverse(resolution);
  findings = FindingsOfType(Jan(31), kBrandOverpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, 0u);
}

TEST_F(ReconcilerTest, ReversingTheLatestResolutionLeavesTheEarlierOne) {
  const std::string id = "brand_underpaid:ffp:acme:sunny-farms";
  // Underpaid by 100.00 - 60.00 = 40.00.
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(15), Dollars(60));
  const uint64_t right = Resolve(id, Dollars(40));
  const uint64_t mistaken = Resolve(id, Dollars(4));
  std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, mistaken);

  // The mistaken resolution is withdrawn: the earlier one is the latest.
  Reverse(mistaken);
  findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, right);
}

TEST_F(ReconcilerTest, WorkerDisputeAppendedAfterTheAsOfDateDoesNotReopen) {
  const std::string id =
      "worker_dispute:ffp:sunny-farms:w1:2026-01-05:2026-01-11";
  const uint64_t line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  SetAppendDay(Jan(17));
  Dispute(line, Dollars(15));
  const uint64_t resolution = Resolve(id, Dollars(5), Jan(17));
  SetAppendDay(Jan(25));
  Dispute(line, Dollars(15));

  // As of Jan 20 the second dispute does not exist yet: still resolved.
  std::vector<Finding> findings = FindingsOfType(Jan(20), kWorkerDispute);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);
  // As of Jan 25 it does: open again.
  findings = FindingsOfType(Jan(25), kWorkerDispute);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_FALSE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);
}

TEST_F(ReconcilerTest, ResolutionAppendedByFindsTheResolutionOfARequest) {
  const uint64_t purchase =
      Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(15), Dollars(60));
  const uint64_t resolution =
      Resolve("brand_underpaid:ffp:acme:sunny-farms", Dollars(40));
  const std::string& key = log_[resolution].idempotency_key();
  EXPECT_EQ(reconciler_.ResolutionAppendedBy("test", key), resolution);

  // Still found after the figures moved and it no longer applies.
  Payment(kAcme, "pay-2", kSunny, Jan(25), Dollars(10));
  EXPECT_EQ(reconciler_.ResolutionAppendedBy("test", key), resolution);
  // Another actor, another key, or a request that resolved nothing.
  EXPECT_EQ(reconciler_.ResolutionAppendedBy("auditor:other", key),
            std::nullopt);
  EXPECT_EQ(reconciler_.ResolutionAppendedBy("test", "no-such-request"),
            std::nullopt);
  EXPECT_EQ(reconciler_.ResolutionAppendedBy("test",
                                             log_[purchase].idempotency_key()),
            std::nullopt);
}

TEST_F(ReconcilerTest, ResolutionOfALateDistributionHoldsAsItsFiguresAreFixed) {
  // Late distribution of 40.00 (see
  // UndistributedPremiumBecomesLateDistributionWhenPaidOut).
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(100));
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(60));
  Line(kSunny, "w1", {Jan(12), Jan(18), Jan(30)}, Hours(40), Dollars(40));
  const uint64_t resolution =
      Resolve("late_distribution:ffp:sunny-farms", Dollars(40));
  // Later paychecks do not change the largest gap of Jan 24.
  Line(kSunny, "w1", Week(4), Hours(40), Dollars(20));
  const std::vector<Finding> findings =
      FindingsOfType(Feb(28), kLateDistribution);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(40));
  EXPECT_TRUE(findings[0].resolved);
  EXPECT_EQ(findings[0].resolution_seq, resolution);
}

// ---------------------------------------------------------------------------
// Program versions changing mid-season.

// Version 2 of ffp, effective Feb 1: payment terms 7 days, distribution
// deadline 21 days, and 0.005 for the supplier on top of 0.01 for workers.
pb::ProgramVersion FairFoodVersion2() {
  pb::ProgramVersion version = FairFoodProgram();
  version.set_effective_date("2026-02-01");
  version.set_payment_terms_days(7);
  version.set_distribution_deadline_days(21);
  version.set_supplier_rate_micros(5'000);
  return version;
}

TEST_F(ReconcilerTest, PurchaseIsDueByTheTermsOfTheVersionInForceOnItsDate) {
  const uint64_t v2 = AddProgram(FairFoodVersion2());
  // Jan 30 (version 1, 14 days): due Feb 13.
  const uint64_t january =
      Purchase(kAcme, "inv-1", kSunny, Jan(30), Dollars(50));
  // Feb 2 (version 2, 7 days): due Feb 9, before the other.
  const uint64_t february =
      Purchase(kAcme, "inv-2", kSunny, Feb(2), Dollars(30));
  pb::PurchaseReport report;
  ASSERT_TRUE(report.ParseFromString(log_[february].payload()));
  ASSERT_EQ(report.program_version_seq(), v2);

  EXPECT_THAT(FindingsOfType(Feb(8), kBrandUnderpaid), IsEmpty());
  // Feb 10: only the February purchase is due: 30.00 (with 7 days for both
  // it would be 80.00, with 14 days for both nothing).
  std::vector<Finding> findings = FindingsOfType(Feb(10), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(30));
  EXPECT_EQ(findings[0].discrepancy->actual_micros, 0);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(30));
  EXPECT_EQ(findings[0].discrepancy->period_start, Feb(9));
  EXPECT_EQ(Seqs(findings[0].discrepancy->evidence),
            std::vector<uint64_t>({january, february}));
  // Feb 13: both: 80.00, in the run that began Feb 9.
  findings = FindingsOfType(Feb(13), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->expected_micros, Dollars(80));
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(80));
  EXPECT_EQ(findings[0].discrepancy->period_start, Feb(9));
  EXPECT_EQ(Seqs(findings[0].discrepancy->evidence),
            std::vector<uint64_t>({january, february}));
}

TEST_F(ReconcilerTest, PaymentUsesTheDeadlineAndRatesInForceOnItsDate) {
  AddProgram(FairFoodVersion2());
  // Dec 20, before the program starts: version 1, due Jan 3, all 10.00 for
  // workers.
  const uint64_t december =
      Payment(kAcme, "pay-0", kSunny, Dec(20), Dollars(10));
  // Jan 30, version 1: due Feb 13, worker portion 15.00.
  const uint64_t january =
      Payment(kAcme, "pay-1", kSunny, Jan(30), Dollars(15));
  // Feb 2, version 2: due Feb 23, worker portion 15.00 x 0.01 / 0.015 =
  // 10.00.
  const uint64_t february =
      Payment(kAcme, "pay-2", kSunny, Feb(2), Dollars(15));

  // Received(due) as of each date. The evidence is every payment dated on
  // or before it, due or not.
  struct Expectation {
    absl::CivilDay as_of;
    int64_t received_micros;  // 0: not flagged
    std::vector<uint64_t> evidence;
  };
  const std::vector<uint64_t> all = {december, january, february};
  const std::vector<Expectation> expectations = {
      {Jan(2), 0, {}},
      {Jan(3), Dollars(10), {december}},
      {Jan(31), Dollars(10), {december, january}},
      {Feb(12), Dollars(10), all},
      {Feb(13), Dollars(25), all},
      {Feb(22), Dollars(25), all},
      {Feb(23), Dollars(35), all},
  };
  for (const Expectation& expectation : expectations) {
    SCOPED_TRACE(Iso(expectation.as_of));
    const std::vector<Finding> findings =
        FindingsOfType(expectation.as_of, kUndistributedPremium);
    if (expectation.received_micros == 0) {
      EXPECT_THAT(findings, IsEmpty());
      continue;
    }
    ASSERT_EQ(findings.size(), 1u);
    // Nothing distributed: the gap is all received, since Jan 3.
    EXPECT_EQ(findings[0].discrepancy->expected_micros,
              expectation.received_micros);
    EXPECT_EQ(findings[0].discrepancy->actual_micros, 0);
    EXPECT_EQ(findings[0].discrepancy->difference_micros,
              expectation.received_micros);
    EXPECT_EQ(findings[0].discrepancy->period_start, Jan(3));
    EXPECT_EQ(Seqs(findings[0].discrepancy->evidence), expectation.evidence);
  }
}

TEST_F(ReconcilerTest, ToleranceIsTheOneInForceOnTheAsOfDate) {
  pb::ProgramVersion v2 = FairFoodProgram();
  v2.set_effective_date("2026-02-01");
  v2.set_tolerance_micros(Dollars(5));
  AddProgram(v2);
  // Shortfall 3.00 from Jan 19.
  Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  Payment(kAcme, "pay-1", kSunny, Jan(10), Dollars(97));

  // Jan 31, tolerance 1.00: underpaid by 3.00.
  const std::vector<Finding> findings =
      FindingsOfType(Jan(31), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(3));
  // Feb 1, tolerance 5.00: 3.00 was never above it, so not late either.
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandUnderpaid), IsEmpty());
  EXPECT_THAT(FindingsOfType(Feb(1), kLateBrandPayment), IsEmpty());
}

TEST_F(ReconcilerTest, AllocationIsTheOneInForceOnThePeriodEnd) {
  pb::ProgramVersion v2 = FairFoodProgram();
  v2.set_effective_date("2026-02-01");
  v2.set_allocation(pb::NONE);
  AddProgram(v2);
  // The same skewed lines in week 3 (ends Jan 25: by hours) and week 4 (ends
  // Feb 1: not checked).
  for (int week : {3, 4}) {
    Line(kSunny, "w1", Week(week), Hours(40), Dollars(20));
    Line(kSunny, "w2", Week(week), Hours(40), Dollars(20));
    Line(kSunny, "w3", Week(week), Hours(10), Dollars(8));
  }
  EXPECT_THAT(
      IdsOfType(Feb(28), kAllocationSkew),
      ElementsAre("allocation_skew:ffp:sunny-farms:w3:2026-01-19:2026-01-25"));
}

// ---------------------------------------------------------------------------
// The as-of date.

TEST_F(ReconcilerTest, RecordsDatedAfterTheAsOfDateAreIgnored) {
  // 100.00 due Jan 19, paid Feb 3.
  const uint64_t purchase =
      Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
  const uint64_t payment =
      Payment(kAcme, "pay-1", kSunny, Feb(3), Dollars(100));
  // A purchase of Feb 2 from a supplier suspended since Jan 10.
  Suspend(kRidge, Jan(10));
  Purchase(kAcme, "inv-2", kRidge, Feb(2), Dollars(1));
  // Paychecks of Feb 6 (week 4).
  Line(kSunny, "w1", Week(4), Hours(40), Dollars(100));

  // Feb 1: neither the payment nor the Feb 2 purchase exists yet.
  std::vector<Finding> findings = FindingsOfType(Feb(1), kBrandUnderpaid);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->id,
            "brand_underpaid:ffp:acme:sunny-farms");
  EXPECT_EQ(findings[0].discrepancy->actual_micros, 0);
  EXPECT_EQ(findings[0].discrepancy->difference_micros, Dollars(100));
  EXPECT_EQ(Seqs(findings[0].discrepancy->evidence),
            std::vector<uint64_t>({purchase}));
  EXPECT_THAT(FindingsOfType(Feb(1), kPurchaseFromSuspendedSupplier),
              IsEmpty());
  EXPECT_THAT(FindingsOfType(Feb(1), kBrandOverpaid), IsEmpty());
  EXPECT_THAT(Findings(Feb(1)), SizeIs(1));

  // Feb 2: the suspended purchase.
  EXPECT_THAT(IdsOfType(Feb(2), kPurchaseFromSuspendedSupplier),
              ElementsAre("purchase_from_suspended_supplier:ffp:acme:"
                          "ridge-farms:inv-2"));

  // Feb 3: paid, 15 days late.
  EXPECT_THAT(FindingsOfType(Feb(3), kBrandUnderpaid), IsEmpty());
  findings = FindingsOfType(Feb(3), kLateBrandPayment);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].discrepancy->period_start, Jan(19));
  EXPECT_EQ(findings[0].discrepancy->period_end, Feb(3));
  EXPECT_EQ(Seqs(findings[0].discrepancy->evidence),
            std::vector<uint64_t>({purchase, payment}));
  // The payment's 100.00 is due on paychecks by Feb 17; those of Feb 6 pay
  // it, so it is never undistributed.
  EXPECT_THAT(FindingsOfType(Feb(28), kUndistributedPremium), IsEmpty());
  EXPECT_THAT(FindingsOfType(Feb(28), kLateDistribution), IsEmpty());
}

TEST_F(ReconcilerTest, AsOfDatesBeyondAnyRecordsDateCompareExactly) {
  // Lines keep their pay date as a 32-bit day count; as-of dates outside
  // that range must still be after (or before) every line, not wrap around.
  const uint64_t first = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  const uint64_t again = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  const absl::CivilDay far_future(6'000'000, 1, 1);
  const absl::CivilDay far_past(-6'000'000, 1, 1);

  const std::vector<Finding> findings =
      FindingsOfType(far_future, kDuplicatePayrollLine);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(Seqs(findings[0].discrepancy->evidence),
            std::vector<uint64_t>({first, again}));
  EXPECT_THAT(FindingsOfType(far_past, kDuplicatePayrollLine), IsEmpty());
}

// ---------------------------------------------------------------------------
// Order and filters.

class OrderAndFiltersTest : public ReconcilerTest {
 protected:
  // As of Feb 1:
  //   ffp BRAND_UNDERPAID acme:ridge-farms (20.00), acme:sunny-farms
  //       (100.00), bravo:sunny-farms (50.00);
  //   ffp BRAND_OVERPAID bravo:ridge-farms (5.00 paid, nothing bought);
  //   ffp UNDISTRIBUTED_PREMIUM ridge-farms (5.00 received Jan 10);
  //   ffp PREMIUM_WITHOUT_HOURS sunny-farms w1 week 1;
  //   ffp-bk UNDISTRIBUTED_PREMIUM sunny-farms (10.00 of 15.00 received).
  void SetUp() override {
    ReconcilerTest::SetUp();
    AddProgram(BurgerKingVariant());
    Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
    Purchase(kBravo, "inv-1", kSunny, Jan(5), Dollars(50));
    Purchase(kAcme, "inv-2", kRidge, Jan(5), Dollars(20));
    Payment(kBravo, "pay-1", kRidge, Jan(10), Dollars(5));
    Line(kSunny, "w1", Week(1), 0, Dollars(5));
    Purchase(kAcme, "inv-3", kSunny, Jan(5), Dollars(15), kBk);
    Payment(kAcme, "pay-2", kSunny, Jan(6), Dollars(15), kBk);
  }
};

constexpr char kUnderpaidAcmeRidge[] = "brand_underpaid:ffp:acme:ridge-farms";
constexpr char kUnderpaidAcmeSunny[] = "brand_underpaid:ffp:acme:sunny-farms";
constexpr char kUnderpaidBravoSunny[] = "brand_underpaid:ffp:bravo:sunny-farms";
constexpr char kOverpaidBravoRidge[] = "brand_overpaid:ffp:bravo:ridge-farms";
constexpr char kUndistributedRidge[] = "undistributed_premium:ffp:ridge-farms";
constexpr char kNoHoursSunny[] =
    "premium_without_hours:ffp:sunny-farms:w1:2026-01-05:2026-01-11";
constexpr char kUndistributedBkSunny[] =
    "undistributed_premium:ffp-bk:sunny-farms";

TEST_F(OrderAndFiltersTest, OrderedByProgramThenTypeThenId) {
  // Types in their enum order (BRAND_UNDERPAID before BRAND_OVERPAID, not
  // alphabetically).
  EXPECT_THAT(
      Ids(Findings(Feb(1))),
      ElementsAre(kUnderpaidAcmeRidge, kUnderpaidAcmeSunny,
                  kUnderpaidBravoSunny, kOverpaidBravoRidge,
                  kUndistributedRidge, kNoHoursSunny, kUndistributedBkSunny));
}

TEST_F(OrderAndFiltersTest, FiltersByProgramBrandAndSupplier) {
  EXPECT_THAT(Ids(Findings(Query(Feb(1), kBk))),
              ElementsAre(kUndistributedBkSunny));
  EXPECT_THAT(Ids(Findings(Query(Feb(1), kFfp))),
              ElementsAre(kUnderpaidAcmeRidge, kUnderpaidAcmeSunny,
                          kUnderpaidBravoSunny, kOverpaidBravoRidge,
                          kUndistributedRidge, kNoHoursSunny));
  // A brand's discrepancies are those naming it.
  EXPECT_THAT(Ids(Findings(Query(Feb(1), "", kAcme))),
              ElementsAre(kUnderpaidAcmeRidge, kUnderpaidAcmeSunny));
  EXPECT_THAT(Ids(Findings(Query(Feb(1), "", kBravo))),
              ElementsAre(kUnderpaidBravoSunny, kOverpaidBravoRidge));
  EXPECT_THAT(Ids(Findings(Query(Feb(1), "", "", kRidge))),
              ElementsAre(kUnderpaidAcmeRidge, kOverpaidBravoRidge,
                          kUndistributedRidge));
  EXPECT_THAT(Ids(Findings(Query(Feb(1), "", "", kSunny))),
              ElementsAre(kUnderpaidAcmeSunny, kUnderpaidBravoSunny,
                          kNoHoursSunny, kUndistributedBkSunny));
  EXPECT_THAT(Ids(Findings(Query(Feb(1), kFfp, kAcme, kSunny))),
              ElementsAre(kUnderpaidAcmeSunny));
  EXPECT_THAT(Findings(Query(Feb(1), "", "nobody")), IsEmpty());
  EXPECT_THAT(Findings(Query(Feb(1), "no-such-program")), IsEmpty());
}

// ---------------------------------------------------------------------------
// FindDiscrepancy.

TEST_F(OrderAndFiltersTest, FindDiscrepancyByIdOrNotFound) {
  const std::vector<Finding> all = Findings(Feb(1));
  for (const Finding& finding : all) {
    absl::StatusOr<Finding> found =
        reconciler_.FindDiscrepancy(finding.discrepancy->id, Feb(1));
    ASSERT_THAT(found, IsOk()) << finding.discrepancy->id;
    EXPECT_EQ(Describe(*found), Describe(finding));
  }
  // Not flagged yet on Jan 18 (nothing due), or not at all.
  EXPECT_THAT(reconciler_.FindDiscrepancy(kUnderpaidAcmeSunny, Jan(18)),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      reconciler_.FindDiscrepancy("brand_underpaid:ffp:acme:nowhere", Feb(1)),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reconciler_.FindDiscrepancy(
                  "late_brand_payment:ffp:acme:sunny-farms", Feb(1)),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------------------
// Summarize.

TEST_F(ReconcilerTest, SummarizeMatchesPaymentsToPaychecksFirstInFirstOut) {
  // Owed: acme 70.00 + 10.00, bravo 80.00; all due by Jan 22.
  Purchase(kAcme, "inv-1", kSunny, Jan(1), Dollars(70));
  Purchase(kBravo, "inv-1", kSunny, Jan(4), Dollars(80));
  Purchase(kAcme, "inv-2", kRidge, Jan(8), Dollars(10));
  // sunny-farms' payments in date order, cumulative:
  //   A1 acme Jan 5 40.00 (40), B1 bravo Jan 6 20.00 (60),
  //   A2 acme Jan 12 30.00 (90), B2 bravo Jan 20 50.00 (140).
  Payment(kAcme, "a1", kSunny, Jan(5), Dollars(40));
  Payment(kBravo, "b1", kSunny, Jan(6), Dollars(20));
  Payment(kAcme, "a2", kSunny, Jan(12), Dollars(30));
  Payment(kBravo, "b2", kSunny, Jan(20), Dollars(50));
  // ridge-farms: A3 acme Jan 10 10.00.
  Payment(kAcme, "a3", kRidge, Jan(10), Dollars(10));
  // sunny-farms' paychecks, cumulative: Jan 2 45.00 (45), Jan 16 25.00
  // (70), Jan 23 30.00 (100), Jan 30 20.00 (120).
  Line(kSunny, "w1", {Dec(26), Jan(1), Jan(2)}, Hours(40), Dollars(45));
  Line(kSunny, "w1", {Jan(5), Jan(11), Jan(16)}, Hours(40), Dollars(25));
  Line(kSunny, "w1", {Jan(12), Jan(18), Jan(23)}, Hours(40), Dollars(30));
  Line(kSunny, "w1", {Jan(19), Jan(25), Jan(30)}, Hours(40), Dollars(20));
  // ridge-farms' paychecks: Jan 15 10.00.
  Line(kRidge, "w9", {Jan(5), Jan(11), Jan(15)}, Hours(40), Dollars(10));

  // As of Jan 31:
  //   A1 (40) completed by the paychecks of Jan 2, before it: 0 days.
  //   B1 (60) completed Jan 16: 10 days.  A2 (90) completed Jan 23: 11 days.
  //   B2 (140) not completed: 120 - 90 = 30.00 received.
  //   A3 completed Jan 15: 5 days.
  // Program: received 120 + 10 = 130 of 150 = 866,666.67 -> 866,667;
  //   days 0, 5, 10, 11: the lower middle is 5.
  // ridge-farms: 10 of 10; 5 days.
  // sunny-farms: 120 of 140 = 857,142.86 -> 857,143; days 0, 10, 11 -> 10.
  // acme: 40 + 30 + 10 = 80 of 80; days 0, 5, 11 -> 5.
  // bravo: 20 + 30 = 50 of 70 = 714,285.71 -> 714,286; days 10.
  const Summary summary = Summarize("", Jan(31));
  EXPECT_THAT(
      Describe(summary.programs),
      ElementsAre(Describe(Outcome{.program_id = kFfp,
                                   .currency = "USD",
                                   .owed_micros = Dollars(160),
                                   .paid_micros = Dollars(150),
                                   .worker_portion_paid_micros = Dollars(150),
                                   .received_by_workers_micros = Dollars(130),
                                   .pass_through_micros = 866'667,
                                   .median_days_to_paychecks = 5})));
  EXPECT_THAT(
      Describe(summary.suppliers),
      ElementsAre(Describe(Outcome{.program_id = kFfp,
                                   .supplier_id = kRidge,
                                   .currency = "USD",
                                   .owed_micros = Dollars(10),
                                   .paid_micros = Dollars(10),
                                   .worker_portion_paid_micros = Dollars(10),
                                   .received_by_workers_micros = Dollars(10),
                                   .pass_through_micros = 1'000'000,
                                   .median_days_to_paychecks = 5}),
                  Describe(Outcome{.program_id = kFfp,
                                   .supplier_id = kSunny,
                                   .currency = "USD",
                                   .owed_micros = Dollars(150),
                                   .paid_micros = Dollars(140),
                                   .worker_portion_paid_micros = Dollars(140),
                                   .received_by_workers_micros = Dollars(120),
                                   .pass_through_micros = 857'143,
                                   .median_days_to_paychecks = 10})));
  EXPECT_THAT(
      Describe(summary.brands),
      ElementsAre(Describe(Outcome{.program_id = kFfp,
                                   .brand_id = kAcme,
                                   .currency = "USD",
                                   .owed_micros = Dollars(80),
                                   .paid_micros = Dollars(80),
                                   .worker_portion_paid_micros = Dollars(80),
                                   .received_by_workers_micros = Dollars(80),
                                   .pass_through_micros = 1'000'000,
                                   .median_days_to_paychecks = 5}),
                  Describe(Outcome{.program_id = kFfp,
                                   .brand_id = kBravo,
                                   .currency = "USD",
                                   .owed_micros = Dollars(80),
                                   .paid_micros = Dollars(70),
                                   .worker_portion_paid_micros = Dollars(70),
                                   .received_by_workers_micros = Dollars(50),
                                   .pass_through_micros = 714'286,
                                   .median_days_to_paychecks = 10})));

  // As of Jan 22 only the paychecks of Jan 2, 15 and 16 count: sunny-farms
  // has 70.00 on them: A1 done (0 days), B1 done (10 days), A2 has 10.00,
  // B2 nothing: 70 of 140 = 500,000; days 0, 10: the lower middle is 0.
  // Program: 80 of 150 = 533,333.33 -> 533,333; days 0, 5, 10 -> 5.
  const Summary earlier = Summarize(kFfp, Jan(22));
  ASSERT_EQ(earlier.programs.size(), 1u);
  EXPECT_EQ(earlier.programs[0].received_by_workers_micros, Dollars(80));
  EXPECT_EQ(earlier.programs[0].pass_through_micros, 533'333);
  EXPECT_EQ(earlier.programs[0].median_days_to_paychecks, 5);
  ASSERT_EQ(earlier.suppliers.size(), 2u);
  EXPECT_EQ(Describe(earlier.suppliers[1]),
            Describe(Outcome{.program_id = kFfp,
                             .supplier_id = kSunny,
                             .currency = "USD",
                             .owed_micros = Dollars(150),
                             .paid_micros = Dollars(140),
                             .worker_portion_paid_micros = Dollars(140),
                             .received_by_workers_micros = Dollars(70),
                             .pass_through_micros = 500'000,
                             .median_days_to_paychecks = 0}));
}

TEST_F(ReconcilerTest, SummarizeUsesTheWorkerPortionAndFiltersByProgram) {
  AddProgram(BurgerKingVariant());
  // ffp-bk: acme owes 15.00 and pays it Jan 5 (worker portion 10.00);
  // cobalt owes 3.00 and pays nothing. Paychecks of Jan 16: 4.00.
  Purchase(kAcme, "inv-1", kSunny, Jan(2), Dollars(15), kBk);
  Payment(kAcme, "pay-1", kSunny, Jan(5), Dollars(15), kBk);
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(4), kBk);
  Purchase(kCobalt, "inv-1", kSunny, Jan(3), Dollars(3), kBk);
  // ffp: acme owes 7.00 and pays nothing.
  Purchase(kAcme, "inv-9", kSunny, Jan(2), Dollars(7));

  const Outcome bk_acme{.program_id = kBk,
                        .brand_id = kAcme,
                        .currency = "USD",
                        .owed_micros = Dollars(15),
                        .paid_micros = Dollars(15),
                        .worker_portion_paid_micros = Dollars(10),
                        .received_by_workers_micros = Dollars(4),
                        .pass_through_micros = 400'000};
  // Nothing paid: no pass-through, no median.
  const Outcome bk_cobalt{.program_id = kBk,
                          .brand_id = kCobalt,
                          .currency = "USD",
                          .owed_micros = Dollars(3)};
  const Outcome bk_total{.program_id = kBk,
                         .currency = "USD",
                         .owed_micros = Dollars(18),
                         .paid_micros = Dollars(15),
                         .worker_portion_paid_micros = Dollars(10),
                         .received_by_workers_micros = Dollars(4),
                         .pass_through_micros = 400'000};
  Outcome bk_sunny = bk_total;
  bk_sunny.supplier_id = kSunny;

  Summary summary = Summarize(kBk, Jan(31));
  EXPECT_THAT(Describe(summary.programs), ElementsAre(Describe(bk_total)));
  EXPECT_THAT(Describe(summary.suppliers), ElementsAre(Describe(bk_sunny)));
  EXPECT_THAT(Describe(summary.brands),
              ElementsAre(Describe(bk_acme), Describe(bk_cobalt)));

  // Every program, ordered by id.
  summary = Summarize("", Jan(31));
  EXPECT_THAT(Describe(summary.programs),
              ElementsAre(Describe(Outcome{.program_id = kFfp,
                                           .currency = "USD",
                                           .owed_micros = Dollars(7)}),
                          Describe(bk_total)));
  ASSERT_EQ(summary.brands.size(), 3u);
  EXPECT_EQ(summary.brands[0].program_id, kFfp);
  EXPECT_EQ(summary.brands[1].program_id, kBk);
  EXPECT_EQ(summary.brands[2].brand_id, kCobalt);

  // The other 6.00 reaches the paychecks of Jan 23: the payment of Jan 5 is
  // completed after 18 days.
  Line(kSunny, "w1", Week(2), Hours(40), Dollars(6), kBk);
  summary = Summarize(kBk, Jan(31));
  ASSERT_EQ(summary.programs.size(), 1u);
  EXPECT_EQ(summary.programs[0].received_by_workers_micros, Dollars(10));
  EXPECT_EQ(summary.programs[0].pass_through_micros, 1'000'000);
  EXPECT_EQ(summary.programs[0].median_days_to_paychecks, 18);
}

// ---------------------------------------------------------------------------
// Pay periods' lines are read back from the log, not kept.

// The fixture's log behind a switch that makes it fail, counting the entries
// scanned.
class ObservedLog final : public EntryLog {
 public:
  explicit ObservedLog(const EntryLog* log) : log_(log) {}

  absl::StatusOr<pb::Entry> Read(uint64_t seq) const override {
    if (failing) return absl::UnavailableError("the log is down");
    return log_->Read(seq);
  }
  absl::Status Scan(uint64_t begin_seq, uint64_t end_seq,
                    Visitor visit) const override {
    if (failing) return absl::UnavailableError("the log is down");
    scanned += end_seq - begin_seq;
    return log_->Scan(begin_seq, end_seq, visit);
  }

  bool failing = false;
  mutable uint64_t scanned = 0;

 private:
  const EntryLog* const log_;
};

class ReadBackTest : public ReconcilerTest {
 protected:
  // Feeds observed_ what the log holds beyond it.
  void CatchUp() { FeedRange(observed_, observed_.next_seq(), log_.size()); }

  std::vector<std::string> Observed(absl::CivilDay as_of) {
    absl::StatusOr<std::vector<Finding>> findings =
        observed_.Reconcile(Query(as_of));
    EXPECT_THAT(findings, IsOk());
    return findings.ok() ? Describe(*findings) : std::vector<std::string>();
  }

  ObservedLog log_view_{&entry_log_};
  Reconciler observed_{&log_view_};
};

TEST_F(ReadBackTest, AReconcileReadsBackOnlyThePeriodsWhoseRecordsItSees) {
  // Week 1 (paid Jan 16): 3 lines, one of them a duplicate; week 2 (paid
  // Jan 23): 2 lines.
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  const uint64_t week_2 = Line(kSunny, "w1", Week(2), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(2), Hours(40), Dollars(20));
  CatchUp();
  // Fed in order, each period's lines were at hand when they were all
  // applied: nothing is read back.
  EXPECT_EQ(Observed(Jan(31)), FromScratch(log_.size(), Query(Jan(31))));
  EXPECT_EQ(log_view_.scanned, 0u);

  // Every line is paid by Jan 23: a later date reads nothing back.
  log_view_.scanned = 0;
  EXPECT_EQ(Observed(Feb(28)), FromScratch(log_.size(), Query(Feb(28))));
  EXPECT_EQ(Observed(Jan(23)), FromScratch(log_.size(), Query(Jan(23))));
  EXPECT_EQ(log_view_.scanned, 0u);
  // Jan 20 moves week 2 only, which then has no line to read.
  EXPECT_EQ(Observed(Jan(20)), FromScratch(log_.size(), Query(Jan(20))));
  EXPECT_EQ(log_view_.scanned, 0u);
  EXPECT_EQ(Observed(Jan(31)), FromScratch(log_.size(), Query(Jan(31))));
  EXPECT_EQ(log_view_.scanned, 2u);

  // One more line in week 1: only week 1 is read again.
  log_view_.scanned = 0;
  Line(kSunny, "w3", Week(1), Hours(40), Dollars(20));
  CatchUp();
  EXPECT_EQ(Observed(Jan(31)), FromScratch(log_.size(), Query(Jan(31))));
  EXPECT_EQ(log_view_.scanned, 4u);
  // And a dispute, appended Feb 2, moves week 2 from that day on.
  log_view_.scanned = 0;
  SetAppendDay(Feb(2));
  Dispute(week_2, Dollars(15));
  CatchUp();
  EXPECT_EQ(Observed(Feb(1)), FromScratch(log_.size(), Query(Feb(1))));
  EXPECT_EQ(log_view_.scanned, 2u);
  EXPECT_EQ(Observed(Feb(3)), FromScratch(log_.size(), Query(Feb(3))));
  EXPECT_EQ(log_view_.scanned, 4u);
  EXPECT_THAT(IdsOfType(Feb(3), kWorkerDispute), SizeIs(1));
}

TEST_F(ReadBackTest, ALineTheLogNoLongerHoldsAsAppliedIsDataLoss) {
  const uint64_t first = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w2", Week(1), Hours(40), Dollars(20));
  const uint64_t last = Line(kSunny, "w3", Week(1), Hours(40), Dollars(20));
  CatchUp();
  const std::vector<pb::Entry> applied = log_;

  // Each a rewrite behind the reconciler's back: another premium, supplier,
  // period, pay date or kind, or another seq.
  const auto rewrite = [](pb::Entry& entry,
                          const std::function<void(pb::PayrollLine&)>& edit) {
    pb::PayrollLine line;
    ASSERT_TRUE(line.ParseFromString(entry.payload()));
    edit(line);
    entry.set_payload(line.SerializeAsString());
  };
  std::vector<std::function<void(pb::Entry&)>> rewrites = {
      [&](pb::Entry& e) {
        rewrite(e,
                [](pb::PayrollLine& l) { l.set_premium_micros(Dollars(2)); });
      },
      [&](pb::Entry& e) {
        rewrite(e, [](pb::PayrollLine& l) { l.set_supplier_id(kRidge); });
      },
      [&](pb::Entry& e) {
        rewrite(e, [](pb::PayrollLine& l) { l.set_period_end("2026-01-12"); });
      },
      [&](pb::Entry& e) {
        rewrite(e, [](pb::PayrollLine& l) { l.set_pay_date("2026-01-17"); });
      },
      [&](pb::Entry& e) { e.set_kind(kPurchaseReportKind); },
      [&](pb::Entry& e) { e.set_seq(e.seq() + 1); },
  };
  for (uint64_t seq : {first, last}) {
    for (size_t i = 0; i < rewrites.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("rewrite ", i, " of seq ", seq));
      rewrites[i](log_[seq]);
      // Week 1 (paid Jan 16) is read back when what it sees as of the date
      // changes.
      EXPECT_THAT(observed_.Reconcile(Query(Jan(10))), IsOk());
      absl::StatusOr<std::vector<Finding>> findings =
          observed_.Reconcile(Query(Jan(31)));
      EXPECT_THAT(findings, StatusIs(absl::StatusCode::kDataLoss));
      if (i < 4 && !findings.ok()) {
        EXPECT_THAT(
            std::string(findings.status().message()),
            ::testing::AnyOf(::testing::HasSubstr(absl::StrCat("entry ", seq)),
                             ::testing::HasSubstr("do not add up")));
      }
      log_[seq] = applied[seq];
      EXPECT_EQ(Observed(Jan(31)), FromScratch(log_.size(), Query(Jan(31))));
    }
  }
}

// Purchases are kept as a sum per day: the finding that names each one
// reads it back, and refuses a log that no longer holds that purchase
// there.
TEST_F(ReadBackTest, ASuspendedSuppliersPurchasesAreReadBack) {
  Suspend(kSunny, Jan(10));
  const uint64_t purchase =
      Purchase(kAcme, "inv-7", kSunny, Jan(12), Dollars(25));
  Purchase(kAcme, "inv-8", kSunny, Jan(12), Dollars(5));
  Purchase(kAcme, "inv-9", kSunny, Jan(13), Dollars(1));
  CatchUp();
  const auto invoices = [&]() -> absl::StatusOr<std::vector<std::string>> {
    absl::StatusOr<std::vector<Finding>> findings =
        observed_.Reconcile(Query(Jan(31)));
    if (!findings.ok()) return findings.status();
    std::vector<std::string> ids;
    for (const Finding& finding : *findings) {
      if (finding.discrepancy->type == kPurchaseFromSuspendedSupplier) {
        ids.push_back(absl::StrCat(finding.discrepancy->invoice_id, " ",
                                   finding.discrepancy->actual_micros));
      }
    }
    return ids;
  };
  EXPECT_THAT(invoices(),
              IsOkAndHolds(ElementsAre("inv-7 25000000", "inv-8 5000000",
                                       "inv-9 1000000")));

  const pb::Entry applied = log_[purchase];
  const auto rewrite =
      [](pb::Entry& entry,
         const std::function<void(pb::PurchaseReport&)>& edit) {
        pb::PurchaseReport report;
        ASSERT_TRUE(report.ParseFromString(entry.payload()));
        edit(report);
        entry.set_payload(report.SerializeAsString());
      };
  for (const auto& [rewrite_entry, names] :
       std::vector<std::pair<std::function<void(pb::Entry&)>, std::string>>{
           {[](pb::Entry& e) { e.set_kind(kPayrollLineKind); },
            absl::StrCat("entry ", purchase)},
           {[](pb::Entry& e) { e.set_seq(e.seq() + 1); },
            absl::StrCat("entry ", purchase)},
           {[](pb::Entry& e) { e.set_payload("\xff\xff"); },
            absl::StrCat("entry ", purchase)},
           {[&](pb::Entry& e) {
              rewrite(e, [](pb::PurchaseReport& r) { r.set_brand_id(kBravo); });
            },
            "another brand"},
           {[&](pb::Entry& e) {
              rewrite(e, [](pb::PurchaseReport& r) {
                r.set_purchase_date("2026-01-13");
              });
            },
            "another date"},
           {[&](pb::Entry& e) {
              rewrite(e, [](pb::PurchaseReport& r) {
                r.set_premium_micros(Dollars(26));
              });
            },
            "dated 2026-01-12 read back with other premiums"},
       }) {
    SCOPED_TRACE(names);
    rewrite_entry(log_[purchase]);
    // A new as-of date makes the supplier's findings be computed again.
    EXPECT_THAT(observed_.Reconcile(Query(Jan(30))),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(names)));
    log_[purchase] = applied;
    EXPECT_THAT(observed_.Reconcile(Query(Jan(29))), IsOk());
  }

  // Reversing a day's last purchase takes out what it added, and the log
  // must still say what that was.
  const uint64_t last = log_.size() - 1;
  const pb::Entry last_applied = log_[last];
  rewrite(log_[last],
          [](pb::PurchaseReport& r) { r.set_premium_micros(Dollars(2)); });
  feed_ = false;  // Only observed_ is held to it.
  Reverse(last);
  feed_ = true;
  EXPECT_THAT(observed_.Apply(log_.back().seq(), log_.back()),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat("reverses entry ", last))));
  EXPECT_EQ(observed_.next_seq(), log_.size() - 1);
  log_[last] = last_applied;
  CatchUp();
  EXPECT_THAT(invoices(),
              IsOkAndHolds(ElementsAre("inv-7 25000000", "inv-8 5000000")));
  EXPECT_EQ(Observed(Jan(31)), FromScratch(log_.size(), Query(Jan(31))));
}

TEST_F(ReadBackTest, ALogThatFailsFailsTheCallAndChangesNothing) {
  const uint64_t line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
  CatchUp();
  log_view_.failing = true;
  // Nothing to read before the pay date; then the lines are read back.
  EXPECT_THAT(observed_.Reconcile(Query(Jan(10))), IsOk());
  EXPECT_THAT(observed_.Reconcile(Query(Jan(31))),
              StatusIs(absl::StatusCode::kUnavailable));
  // A dispute and a reversal read the line they name.
  SetAppendDay(Jan(20));
  Dispute(line, Dollars(15));
  EXPECT_THAT(observed_.Apply(log_.back().seq(), log_.back()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(observed_.next_seq(), log_.size() - 1);
  log_view_.failing = false;
  CatchUp();
  Reverse(line);
  log_view_.failing = true;
  EXPECT_THAT(observed_.Apply(log_.back().seq(), log_.back()),
              StatusIs(absl::StatusCode::kUnavailable));
  log_view_.failing = false;
  CatchUp();
  // Then every rule sees what a reconciler fed from scratch sees.
  EXPECT_EQ(Observed(Jan(31)), FromScratch(log_.size(), Query(Jan(31))));
  EXPECT_THAT(Observed(Jan(31)), SizeIs(1));  // the dispute
}

TEST_F(ReconcilerTest, LinesOfOnePeriodPaidOnTwoDaysAreMatchedByPayDate) {
  // 30.00 paid Jan 5 and 20.00 paid Jan 12, due on paychecks by Jan 19 and
  // Jan 26; week 1's lines are paid Jan 16 (25.00) and, late, Jan 20
  // (25.00, one reversed and reissued).
  Purchase(kAcme, "inv-1", kSunny, Jan(1), Dollars(50));
  Payment(kAcme, "a1", kSunny, Jan(5), Dollars(30));
  Payment(kAcme, "a2", kSunny, Jan(12), Dollars(20));
  const PayPeriod on_time = Week(1);
  const PayPeriod late{on_time.start, on_time.end, Jan(20)};
  Line(kSunny, "w1", on_time, Hours(40), Dollars(25));
  const uint64_t wrong = Line(kSunny, "w2", late, Hours(40), Dollars(26));
  Reverse(wrong);
  Line(kSunny, "w2", late, Hours(40), Dollars(25));
  // a1 is completed on Jan 20 (15 days), a2 too (8 days): median 8.
  const Summary summary = Summarize("", Jan(31));
  ASSERT_EQ(summary.programs.size(), 1u);
  EXPECT_EQ(summary.programs[0].received_by_workers_micros, Dollars(50));
  EXPECT_EQ(summary.programs[0].median_days_to_paychecks, 8);
  // The period's own rules see both days' lines: w1 and w2 once each.
  EXPECT_THAT(FindingsOfType(Jan(31), kDuplicatePayrollLine), IsEmpty());
  EXPECT_THAT(FindingsOfType(Jan(31), kAllocationSkew), IsEmpty());
  // As of Jan 19, the 30.00 of a1 was due and 25.00 paid out: 5.00 short.
  const std::vector<Finding> gap =
      FindingsOfType(Jan(19), kUndistributedPremium);
  ASSERT_EQ(gap.size(), 1u);
  EXPECT_EQ(gap[0].discrepancy->difference_micros, Dollars(5));
  // Evidence: the payments and the line paid by then.
  EXPECT_THAT(gap[0].discrepancy->evidence, ElementsAre(2, 3, 4));
  // Then the Jan 20 paychecks cured it: late by a day.
  EXPECT_THAT(IdsOfType(Jan(31), kLateDistribution), SizeIs(1));
  EXPECT_EQ(Describe(Findings(Jan(31))),
            FromScratch(log_.size(), Query(Jan(31))));
}

// ---------------------------------------------------------------------------
// Incremental reconciles equal reconciles from scratch.

class IncrementalTest : public ReconcilerTest {
 protected:
  // A season with every kind of record; returns the seq of the first entry
  // of its second half. The second half adds a version that changes the
  // tolerance of ffp from Feb 1, reverses records of the first half and
  // resolves discrepancies.
  uint64_t BuildSeason() {
    feed_ = false;
    AddProgram(BurgerKingVariant());
    Purchase(kAcme, "inv-1", kSunny, Jan(5), Dollars(100));
    Purchase(kBravo, "inv-1", kSunny, Jan(6), Dollars(50));
    Purchase(kAcme, "inv-2", kRidge, Jan(7), Dollars(20));
    Payment(kAcme, "pay-1", kSunny, Jan(15), Dollars(60));
    const uint64_t bravo_payment =
        Payment(kBravo, "pay-1", kSunny, Jan(10), Dollars(50));
    const uint64_t line = Line(kSunny, "w1", Week(1), Hours(40), Dollars(20));
    Line(kSunny, "w2", Week(1), Hours(40), Dollars(20));
    Line(kSunny, "w3", Week(1), Hours(10), Dollars(8));
    const uint64_t no_hours = Line(kSunny, "w4", Week(1), 0, Dollars(3));
    Suspend(kRidge, Jan(20));
    Purchase(kAcme, "inv-3", kSunny, Jan(8), Dollars(15), kBk);
    Payment(kAcme, "pay-2", kSunny, Jan(9), Dollars(15), kBk);
    Line(kSunny, "w1", Week(1), Hours(40), Dollars(6), kBk);
    SetAppendDay(Jan(18));
    Dispute(line, Dollars(15));
    Resolve("brand_underpaid:ffp:acme:sunny-farms", Dollars(40));

    const uint64_t second_half = log_.size();
    SetAppendDay(Jan(26));
    pb::ProgramVersion v2 = FairFoodProgram();
    v2.set_effective_date("2026-02-01");
    v2.set_tolerance_micros(Dollars(2));
    v2.set_payment_terms_days(7);
    AddProgram(v2);
    Payment(kAcme, "pay-3", kRidge, Jan(25), Cents(1850));
    Purchase(kAcme, "inv-4", kRidge, Jan(22), Dollars(10));
    Line(kSunny, "w1", Week(2), Hours(40), Dollars(20));
    Line(kSunny, "w1", Week(2), Hours(10), Dollars(5));
    Reverse(no_hours);
    Payment(kAcme, "pay-4", kSunny, Jan(25), Dollars(40));
    SetAppendDay(Feb(10));
    Dispute(line, Dollars(16));
    Resolve("allocation_skew:ffp:sunny-farms:w3:2026-01-05:2026-01-11",
            Dollars(3));
    Line(kRidge, "w9", Week(2), Hours(40), Dollars(10));
    Purchase(kBravo, "inv-2", kSunny, Feb(3), Dollars(30));
    Reverse(bravo_payment);
    Reinstate(kRidge, Feb(5));
    Line(kSunny, "w2", Week(4), Hours(40), Dollars(20));
    Payment(kBravo, "pay-2", kSunny, Feb(12), Dollars(80));
    return second_half;
  }

  // Reconcile through `reconciler`, described.
  static std::vector<std::string> Run(Reconciler& reconciler,
                                      const ReconcileQuery& query) {
    absl::StatusOr<std::vector<Finding>> findings = reconciler.Reconcile(query);
    EXPECT_THAT(findings, IsOk());
    return findings.ok() ? Describe(*findings) : std::vector<std::string>();
  }

  static std::vector<std::string> RunSummary(Reconciler& reconciler,
                                             absl::CivilDay as_of) {
    absl::StatusOr<Summary> summary = reconciler.Summarize("", as_of);
    EXPECT_THAT(summary, IsOk());
    return summary.ok() ? Describe(*summary) : std::vector<std::string>();
  }

  const absl::CivilDay x_ = Feb(15);
  const absl::CivilDay y_ = Jan(20);
};

TEST_F(IncrementalTest, TheSeasonIsNotTrivial) {
  BuildSeason();
  std::set<DiscrepancyType> types;
  Reconciler fresh(&entry_log_);
  FeedRange(fresh, 0, log_.size());
  for (absl::CivilDay as_of : {x_, y_}) {
    absl::StatusOr<std::vector<Finding>> findings =
        fresh.Reconcile(Query(as_of));
    ASSERT_THAT(findings, IsOk());
    for (const Finding& finding : *findings) {
      types.insert(finding.discrepancy->type);
    }
  }
  EXPECT_THAT(
      types,
      IsSupersetOf({kBrandUnderpaid, kLateBrandPayment, kUndistributedPremium,
                    kDuplicatePayrollLine, kAllocationSkew,
                    kPurchaseFromSuspendedSupplier, kWorkerDispute}));
}

TEST_F(IncrementalTest, FedInTwoHalvesEqualsFedAtOnce) {
  const uint64_t half = BuildSeason();
  Reconciler incremental(&entry_log_);
  FeedRange(incremental, 0, half);
  EXPECT_EQ(Run(incremental, Query(x_)), FromScratch(half, Query(x_)));
  EXPECT_EQ(RunSummary(incremental, x_), SummaryFromScratch(half, x_));
  FeedRange(incremental, half, log_.size());
  EXPECT_EQ(Run(incremental, Query(x_)), FromScratch(log_.size(), Query(x_)));
  EXPECT_EQ(RunSummary(incremental, x_), SummaryFromScratch(log_.size(), x_));
  // FindDiscrepancy agrees with Reconcile.
  absl::StatusOr<std::vector<Finding>> all = incremental.Reconcile(Query(x_));
  ASSERT_THAT(all, IsOk());
  for (const Finding& finding : *all) {
    absl::StatusOr<Finding> found =
        incremental.FindDiscrepancy(finding.discrepancy->id, x_);
    ASSERT_THAT(found, IsOk()) << finding.discrepancy->id;
    EXPECT_EQ(Describe(*found), Describe(finding));
  }
}

TEST_F(IncrementalTest, FedInTwoHalvesEqualsFedAtOnceWhenTheAsOfChanges) {
  const uint64_t half = BuildSeason();
  const uint64_t end = log_.size();
  Reconciler incremental(&entry_log_);
  FeedRange(incremental, 0, half);
  EXPECT_EQ(Run(incremental, Query(y_)), FromScratch(half, Query(y_)));
  EXPECT_EQ(Run(incremental, Query(x_)), FromScratch(half, Query(x_)));
  FeedRange(incremental, half, end);
  EXPECT_EQ(Run(incremental, Query(y_)), FromScratch(end, Query(y_)));
  EXPECT_EQ(Run(incremental, Query(x_)), FromScratch(end, Query(x_)));
  EXPECT_EQ(Run(incremental, Query(y_)), FromScratch(end, Query(y_)));
  EXPECT_EQ(RunSummary(incremental, y_), SummaryFromScratch(end, y_));
  EXPECT_EQ(RunSummary(incremental, x_), SummaryFromScratch(end, x_));
}

TEST_F(IncrementalTest, FilteredReconcilesInBetweenLeaveNothingStale) {
  const uint64_t half = BuildSeason();
  const uint64_t end = log_.size();
  Reconciler incremental(&entry_log_);
  FeedRange(incremental, 0, half);
  EXPECT_EQ(Run(incremental, Query(x_, kFfp, "", kSunny)),
            FromScratch(half, Query(x_, kFfp, "", kSunny)));
  FeedRange(incremental, half, end);
  EXPECT_EQ(Run(incremental, Query(x_, "", kAcme)),
            FromScratch(end, Query(x_, "", kAcme)));
  EXPECT_EQ(Run(incremental, Query(x_, kBk)), FromScratch(end, Query(x_, kBk)));
  EXPECT_EQ(Run(incremental, Query(x_)), FromScratch(end, Query(x_)));
}

TEST_F(IncrementalTest, ReconcileAfterEveryEntryEqualsFromScratch) {
  BuildSeason();
  Reconciler incremental(&entry_log_);
  for (uint64_t end = 1; end <= log_.size(); ++end) {
    FeedRange(incremental, end - 1, end);
    const absl::CivilDay as_of = end % 3 == 0 ? y_ : x_;
    SCOPED_TRACE(absl::StrCat("after seq ", end - 1, " as of ", Iso(as_of)));
    EXPECT_EQ(Run(incremental, Query(as_of)), FromScratch(end, Query(as_of)));
    if (end % 5 == 0) {
      EXPECT_EQ(RunSummary(incremental, as_of), SummaryFromScratch(end, as_of));
    }
  }
}

}  // namespace
}  // namespace premium
