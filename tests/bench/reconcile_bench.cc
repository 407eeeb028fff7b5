// reconcile_bench: what reconciliation costs (issue 4's targets: a season of
// 1M payroll lines, 100k purchases and 10k payments from scratch in under
// 2 s; after one more upload of 1,000 lines in under 50 ms).
//
// Builds the season's ledger entries in memory (serialized exactly as the
// services append them, so Apply parses real payloads), then times:
//   1. from scratch: a new Reconciler fed every entry, then one Reconcile;
//   2. the same Reconcile again with nothing new (every account cached);
//   3. one more upload of 1,000 payroll lines (a new pay week of one
//      supplier), applied and reconciled;
//   4. a payment that touches one brand-supplier pair, applied and
//      reconciled;
//   5. Summarize over the whole season;
// and the process's peak resident memory. Not a test: run it by hand
// (`reconcile_bench --help`); figures go to stdout and, with --json, a file.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/reconcile.h"
#include "ledger/premium/validation.h"
#include "nlohmann/json.hpp"
#include "tests/bench/bench_util.h"
#include "wsr/premium/v1/entry.pb.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium::bench {
namespace {

namespace pb = wsr::premium::v1;

struct Options {
  int64_t payroll_lines = 1'000'000;
  int64_t purchases = 100'000;
  int64_t payments = 10'000;
  int brands = 14;
  int suppliers = 40;
  int weeks = 26;
  int64_t increment_lines = 1'000;
  uint64_t seed = 1;
  std::string json_path;
};

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

// Resident memory now, from /proc/self/statm (pages).
int64_t CurrentRssKib() {
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0;
  int64_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * (sysconf(_SC_PAGESIZE) / 1024);
}

int64_t PeakRssKib() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

class SeasonBuilder {
 public:
  explicit SeasonBuilder(const Options& options)
      : options_(options), random_(options.seed) {}

  std::vector<pb::Entry> Build() {
    AddProgram("2026-01-01", 10'000);
    AddProgram("2026-04-01", 15'000);
    for (int64_t i = 0; i < options_.purchases; ++i) AddPurchase(i);
    for (int64_t i = 0; i < options_.payments; ++i) AddPayment(i);
    const int64_t lines_per_week_supplier = std::max<int64_t>(
        1, options_.payroll_lines / (options_.weeks * options_.suppliers));
    int64_t lines = 0;
    for (int week = 0; week < options_.weeks; ++week) {
      for (int s = 0; s < options_.suppliers; ++s) {
        for (int64_t w = 0;
             w < lines_per_week_supplier && lines < options_.payroll_lines;
             ++w, ++lines) {
          AddLine(s, week, w);
        }
      }
    }
    return std::move(entries_);
  }

  // One more pay week of one supplier: `count` lines.
  std::vector<pb::Entry> Increment(int64_t count, uint64_t first_seq) {
    entries_.clear();
    next_seq_ = first_seq;
    for (int64_t w = 0; w < count; ++w) AddLine(0, options_.weeks, w);
    return std::move(entries_);
  }

  pb::Entry OnePayment(uint64_t seq) {
    entries_.clear();
    next_seq_ = seq;
    AddPayment(options_.payments + 1);
    return entries_.front();
  }

 private:
  static std::string Day(int offset_days) {
    return FormatDate(absl::CivilDay(2026, 1, 5) + offset_days);
  }

  void Add(const char* kind, const google::protobuf::Message& payload) {
    pb::Entry entry;
    entry.set_seq(next_seq_++);
    entry.set_append_time_micros(1'780'000'000'000'000);
    entry.set_actor("bench");
    entry.set_kind(kind);
    entry.set_payload(payload.SerializeAsString());
    entries_.push_back(std::move(entry));
  }

  void AddProgram(const char* effective, int64_t worker_rate_micros) {
    pb::ProgramVersion version;
    version.set_program_id("ffp");
    version.set_name("Fair Food Program");
    version.set_currency("USD");
    version.set_unit("lb");
    version.set_worker_rate_micros(worker_rate_micros);
    version.set_payment_terms_days(14);
    version.set_distribution_deadline_days(14);
    version.set_allocation(pb::HOURS);
    version.set_tolerance_micros(1'000'000);
    version.set_effective_date(effective);
    Add(kProgramVersionKind, version);
  }

  void AddPurchase(int64_t i) {
    pb::PurchaseReport purchase;
    purchase.set_brand_id(absl::StrCat("brand-", i % options_.brands));
    purchase.set_invoice_id(absl::StrCat("inv-", i));
    purchase.set_supplier_id(
        absl::StrCat("supplier-", (i / options_.brands) % options_.suppliers));
    purchase.set_program_id("ffp");
    purchase.set_purchase_date(Day(static_cast<int>(
        random_() % static_cast<uint64_t>(options_.weeks * 7))));
    const int64_t pounds = 1'000 + static_cast<int64_t>(random_() % 50'000);
    purchase.set_quantity_micros(pounds * 1'000'000);
    purchase.set_unit("lb");
    purchase.set_premium_micros(pounds * 10'000);
    purchase.set_worker_premium_micros(pounds * 10'000);
    Add(kPurchaseReportKind, purchase);
  }

  void AddPayment(int64_t i) {
    pb::PremiumPayment payment;
    payment.set_brand_id(absl::StrCat("brand-", i % options_.brands));
    payment.set_payment_id(absl::StrCat("pay-", i));
    payment.set_supplier_id(
        absl::StrCat("supplier-", (i / options_.brands) % options_.suppliers));
    payment.set_program_id("ffp");
    payment.set_paid_date(Day(static_cast<int>(
        random_() % static_cast<uint64_t>(options_.weeks * 7))));
    payment.set_amount_micros(static_cast<int64_t>(random_() % 500'000) *
                              10'000);
    payment.set_currency("USD");
    Add(kPremiumPaymentKind, payment);
  }

  void AddLine(int supplier, int week, int64_t worker) {
    pb::PayrollLine line;
    line.set_supplier_id(absl::StrCat("supplier-", supplier));
    line.set_program_id("ffp");
    line.set_worker_id(absl::StrCat("w-", worker));
    line.set_period_start(Day(week * 7));
    line.set_period_end(Day(week * 7 + 6));
    line.set_pay_date(Day(week * 7 + 10));
    const int64_t hours = 20 + static_cast<int64_t>(random_() % 40);
    line.set_hours_micros(hours * 1'000'000);
    line.set_gross_wages_micros(hours * 15'000'000);
    // Pro rata to hours, with some noise for the skew check to find.
    line.set_premium_micros(hours * 300'000 +
                            static_cast<int64_t>(random_() % 20) * 10'000);
    line.set_currency("USD");
    line.set_code_sha256(std::string(32, static_cast<char>(worker)));
    Add(kPayrollLineKind, line);
  }

  const Options& options_;
  std::mt19937_64 random_;
  uint64_t next_seq_ = 0;
  std::vector<pb::Entry> entries_;
};

int Run(const Options& options) {
  const absl::CivilDay as_of(2026, 12, 31);
  SeasonBuilder builder(options);
  const Clock::time_point build_start = Clock::now();
  std::vector<pb::Entry> season = builder.Build();
  std::printf("season: %zu entries built in %.0f ms\n", season.size(),
              MillisSince(build_start));

  const int64_t rss_before_kib = CurrentRssKib();
  const size_t season_entries = season.size();
  // The log the reconciler reads back: the season, then what follows it.
  const EntryVectorLog entry_log(&season);
  Reconciler reconciler(&entry_log);
  Clock::time_point start = Clock::now();
  for (const pb::Entry& entry : season) {
    if (absl::Status s = reconciler.Apply(entry.seq(), entry); !s.ok()) {
      std::fprintf(stderr, "apply: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  const double apply_ms = MillisSince(start);
  const int64_t reconciler_kib = CurrentRssKib() - rss_before_kib;
  start = Clock::now();
  absl::StatusOr<std::vector<Finding>> findings =
      reconciler.Reconcile(ReconcileQuery{.as_of = as_of});
  const double reconcile_ms = MillisSince(start);
  if (!findings.ok()) {
    std::fprintf(stderr, "reconcile: %s\n",
                 findings.status().ToString().c_str());
    return 1;
  }
  const size_t scratch_found = findings->size();

  start = Clock::now();
  findings = reconciler.Reconcile(ReconcileQuery{.as_of = as_of});
  const double cached_ms = MillisSince(start);

  std::vector<pb::Entry> more =
      builder.Increment(options.increment_lines, reconciler.next_seq());
  season.insert(season.end(), more.begin(), more.end());
  start = Clock::now();
  for (const pb::Entry& entry : more) {
    if (absl::Status s = reconciler.Apply(entry.seq(), entry); !s.ok()) {
      std::fprintf(stderr, "apply: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  findings = reconciler.Reconcile(ReconcileQuery{.as_of = as_of});
  const double increment_ms = MillisSince(start);

  const pb::Entry payment = builder.OnePayment(reconciler.next_seq());
  season.push_back(payment);
  start = Clock::now();
  if (absl::Status s = reconciler.Apply(payment.seq(), payment); !s.ok()) {
    std::fprintf(stderr, "apply: %s\n", s.ToString().c_str());
    return 1;
  }
  findings = reconciler.Reconcile(ReconcileQuery{.as_of = as_of});
  const double payment_ms = MillisSince(start);

  start = Clock::now();
  absl::StatusOr<Summary> summary = reconciler.Summarize("", as_of);
  const double summary_ms = MillisSince(start);
  if (!findings.ok() || !summary.ok()) {
    std::fprintf(stderr, "reconcile or summary failed\n");
    return 1;
  }

  const int64_t rss_kib = PeakRssKib();
  std::printf(
      "%-52s %10s\n%-52s %10.0f\n%-52s %10.0f\n%-52s %10.0f\n%-52s "
      "%10.1f\n%-52s %10.1f\n%-52s %10.1f\n%-52s %10.0f\n%-52s %10zu\n%-52s "
      "%10.0f\n%-52s %10.0f\n",
      "reconciliation", "ms", "apply every entry (from scratch)", apply_ms,
      "first reconcile (every account)", reconcile_ms,
      "from scratch: apply + reconcile", apply_ms + reconcile_ms,
      "reconcile again, nothing new (cached)", cached_ms,
      absl::StrCat("+", options.increment_lines,
                   " payroll lines: apply + reconcile")
          .c_str(),
      increment_ms, "+1 payment: apply + reconcile", payment_ms,
      "summary (outcomes, FIFO matching)", summary_ms,
      "discrepancies found from scratch", scratch_found,
      "peak RSS of the process (MiB, entries included)", rss_kib / 1024.0,
      "memory of the reconciler's state (MiB, RSS growth)",
      reconciler_kib / 1024.0);

  if (!options.json_path.empty()) {
    nlohmann::ordered_json json;
    json["entries"] = season_entries;
    json["payroll_lines"] = options.payroll_lines;
    json["purchases"] = options.purchases;
    json["payments"] = options.payments;
    json["apply_ms"] = apply_ms;
    json["first_reconcile_ms"] = reconcile_ms;
    json["from_scratch_ms"] = apply_ms + reconcile_ms;
    json["cached_reconcile_ms"] = cached_ms;
    json["increment_lines"] = options.increment_lines;
    json["increment_ms"] = increment_ms;
    json["one_payment_ms"] = payment_ms;
    json["summary_ms"] = summary_ms;
    json["discrepancies"] = scratch_found;
    json["peak_rss_kib"] = rss_kib;
    json["reconciler_state_kib"] = reconciler_kib;
    std::ofstream(options.json_path) << json.dump(2) << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace premium::bench

int main(int argc, char** argv) {
  premium::bench::TurnOffMutexDeadlockDetection();
  premium::bench::Options options;
  CLI::App app{"reconcile_bench: what reconciliation costs"};
  app.add_option("--lines", options.payroll_lines, "payroll lines")
      ->capture_default_str();
  app.add_option("--purchases", options.purchases)->capture_default_str();
  app.add_option("--payments", options.payments)->capture_default_str();
  app.add_option("--suppliers", options.suppliers)->capture_default_str();
  app.add_option("--brands", options.brands)->capture_default_str();
  app.add_option("--weeks", options.weeks)->capture_default_str();
  app.add_option("--increment", options.increment_lines,
                 "payroll lines of the one more upload")
      ->capture_default_str();
  app.add_option("--seed", options.seed)->capture_default_str();
  app.add_option("--json", options.json_path, "also write figures as JSON");
  CLI11_PARSE(app, argc, argv);
  return premium::bench::Run(options);
}
