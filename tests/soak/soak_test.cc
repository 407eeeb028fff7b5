// Soak: a real premiumd under mixed load for a set time — a brand and two
// suppliers uploading purchases, payments and payroll (and retrying old
// uploads, which must be replayed), workers looking up their paystub codes,
// an auditor reconciling and summarising — with no error of any kind, and,
// in a run of 10 minutes or more, premiumd's resident memory growing by less
// than 10% after the warm-up (the first quarter of the run): the level of
// RSS (90th percentile of the samples) in the last minute against the first
// minute after the warm-up. Every run prints the figures, with the peaks and
// the lowest samples; the CI run (1 minute) does not hold premiumd to the
// bound.
//
// Met in 1,800 s on 2026-12-03 (night; 419K entries, 4.6M lookups, 2,575
// reconciles, 0 errors): level +3.3% (43.4 -> 44.8 MiB), peaks +4.2%
// (44.0 -> 45.9 MiB), lowest sample +7.0%; the lowest of each 270 s after
// the warm-up 42.0, 42.2, 42.9, 42.5, 43.1 MiB. The same day, earlier:
// peaks +19.5% and lowest +18.7% (26 bytes per entry), then +10.7% and
// +5.6% (8 bytes per entry), then with one malloc arena per core +13.1% and
// +2.2% (one sample 5 MiB above the rest of its minute). What went in: the
// tables' indexes and filters moved into the block cache (they grew beside
// the table readers, about 4% of the table files), payments kept in 24
// bytes and purchases as one sum per pair and day, evidence kept and sent
// as runs of seqs, the trimmer counting growth from its lowest point, and
// one malloc arena per core (see premiumd.cc). The file part is flat
// (28.2 MiB, premiumd's binaries: table files are read without mmap). By
// earlier measures (one sample at the end of the warm-up against the
// highest of all after it): +33% before premiumd gave glibc's free pages
// back, +69% when the reconciliation kept ~70 bytes of facts per payroll
// line and table files were mapped, +144% before premiumd fixed glibc's
// mmap threshold.
//
// Uploads are paced (kRoundPause): the point is hours of steady use, not
// throughput, which tests/bench measures; the ledger still grows all along.
//
// Environment: SOAK_SECONDS (default 60; the long run is 1800),
// SOAK_LOOKUP_THREADS (default 2), SOAK_RECONCILES=0 (no auditor),
// SOAK_VERBOSE=1 (RSS every 5 s).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/testing/service_testing.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/audit.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium::soak {
namespace {

namespace pb = wsr::premium::v1;
using ::premium::testing::Context;

constexpr uint64_t kDefaultSeconds = 60;
constexpr absl::Duration kRoundPause = absl::Milliseconds(100);
constexpr absl::Duration kReconcilePause = absl::Milliseconds(500);
constexpr absl::Duration kSamplePeriod = absl::Milliseconds(250);
constexpr int kLookupThreads = 2;
constexpr int kPurchasesPerRound = 5;
constexpr int kPayrollLinesPerRound = 20;
// Codes kept for lookups, at most (the newest replace random old ones).
constexpr size_t kCodesKept = 10'000;
constexpr double kRssGrowthMax = 0.10;
constexpr int64_t kRssCheckedSecondsMin = 600;
// The stretches whose peaks are compared: the first after the warm-up and
// the last of the run (a quarter of what follows the warm-up, if shorter).
constexpr absl::Duration kPeakWindow = absl::Seconds(60);
constexpr int kWriteBufferMib = 4;
constexpr int kBlockCacheMib = 4;
constexpr char kAsOf[] = "2026-12-31";

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  uint64_t value = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &value)) return fallback;
  return value;
}

std::string Day(absl::CivilDay day) { return absl::FormatCivilTime(day); }

struct MemorySample {
  int64_t rss_kib = 0;
  int64_t anon_kib = 0;
  int64_t file_kib = 0;
};

MemorySample Sample(pid_t pid) {
  return {testing::ProcStatusKib(pid, "VmRSS"),
          testing::ProcStatusKib(pid, "RssAnon"),
          testing::ProcStatusKib(pid, "RssFile")};
}

// The RSS samples taken in a stretch of the run (at most kPeakWindow of
// them at kSamplePeriod).
struct MemoryWindow {
  void Add(const MemorySample& sample) {
    if (samples == 0 || sample.rss_kib > peak.rss_kib) peak = sample;
    if (samples == 0 || sample.rss_kib < lowest_rss_kib) {
      lowest_rss_kib = sample.rss_kib;
    }
    ++samples;
    rss_kib.push_back(sample.rss_kib);
  }
  // The RSS that premiumd was at or under in 90% of the samples: where it
  // sits, leaving out the moments of a reconcile's or a compaction's swing.
  int64_t Level() const {
    std::vector<int64_t> sorted = rss_kib;
    std::sort(sorted.begin(), sorted.end());
    return sorted[(sorted.size() - 1) * 9 / 10];
  }
  MemorySample peak;
  int64_t lowest_rss_kib = 0;
  uint64_t samples = 0;
  std::vector<int64_t> rss_kib;
};

class SoakTest : public testing::PremiumdCliTest {
 protected:
  void SetUpParties() {
    channel_ = grpc::CreateChannel(server_, grpc::InsecureChannelCredentials());
    const std::string admin = testing::ReadFileOrDie(admin_token());
    admin_token_ = std::string(absl::StripAsciiWhitespace(admin));
    auto stub = pb::AdminService::NewStub(channel_);
    pb::AddProgramVersionRequest program;
    program.set_request_id("program-ffp");
    pb::ProgramVersionSpec* spec = program.mutable_version();
    spec->set_program_id("ffp");
    spec->set_name("Fair Food Program");
    spec->set_currency("USD");
    spec->set_unit("lb");
    spec->set_worker_rate("0.01");
    spec->set_effective_date("2026-01-01");
    pb::Program added;
    ASSERT_THAT(
        stub->AddProgramVersion(Context(testing::Bearer(admin_token_)).get(),
                                program, &added),
        testing::GrpcOk());
    brand_ = testing::RegisterOrDie(*stub, admin_token_, pb::BRAND, "b1");
    suppliers_[0] =
        testing::RegisterOrDie(*stub, admin_token_, pb::SUPPLIER, "s1");
    suppliers_[1] =
        testing::RegisterOrDie(*stub, admin_token_, pb::SUPPLIER, "s2");
    auditor_ = testing::RegisterOrDie(*stub, admin_token_, pb::AUDITOR, "a1");
  }

  void Fail(const std::string& what, const grpc::Status& status) {
    errors_.fetch_add(1);
    ADD_FAILURE() << what << ": " << status.error_code() << " "
                  << status.error_message();
  }

  static std::string SupplierOf(uint64_t round) {
    return absl::StrCat("s", 1 + round % 2);
  }
  static absl::CivilDay WeekOf(uint64_t round) {
    return absl::CivilDay(2026, 1, 5) + 7 * static_cast<int>(round % 40);
  }
  // A round's payments file: one payment, a week after its purchases.
  static std::string PaymentsCsv(uint64_t round) {
    return absl::StrCat(
        "payment_id,supplier_id,program_id,paid_date,amount,currency\n", "pay-",
        round, ",", SupplierOf(round), ",ffp,", Day(WeekOf(round) + 7),
        ",50.00,USD\n");
  }

  // One round: purchases and a payment of b1 from supplier s(round % 2),
  // and that supplier's payroll for the round's week.
  void UploadRound(uint64_t round) {
    const std::string supplier = SupplierOf(round);
    const absl::CivilDay week = WeekOf(round);
    std::string purchases =
        "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
    for (int i = 0; i < kPurchasesPerRound; ++i) {
      absl::StrAppend(&purchases, "inv-", round, "-", i, ",", supplier, ",ffp,",
                      Day(week), ",1000,lb\n");
    }
    const std::string payments = PaymentsCsv(round);
    std::string payroll =
        "program_id,worker_id,period_start,period_end,pay_date,hours,"
        "gross_wages,premium_amount,currency\n";
    for (int i = 0; i < kPayrollLinesPerRound; ++i) {
      absl::StrAppend(&payroll, "ffp,w", round, "x", i, ",", Day(week + 7), ",",
                      Day(week + 13), ",", Day(week + 17),
                      ",40.00,600.00,2.50,USD\n");
    }
    auto brand = pb::BrandService::NewStub(channel_);
    for (const auto& [file, is_purchases] :
         {std::pair<const std::string*, bool>{&purchases, true},
          std::pair<const std::string*, bool>{&payments, false}}) {
      pb::UploadReceipt receipt;
      auto context = Context(testing::Bearer(brand_));
      auto writer = is_purchases
                        ? brand->SubmitPurchases(context.get(), &receipt)
                        : brand->SubmitPayments(context.get(), &receipt);
      const grpc::Status status = testing::StreamUpload(
          writer.get(), *file, 16 << 10,
          absl::StrCat(is_purchases ? "purchases-" : "payments-", round));
      if (!status.ok()) return Fail("brand upload", status);
      uploaded_entries_.fetch_add(receipt.ledger().entry_count());
    }
    auto supplier_stub = pb::SupplierService::NewStub(channel_);
    pb::UploadPayrollResponse response;
    auto context = Context(testing::Bearer(suppliers_[round % 2]));
    auto writer = supplier_stub->UploadPayroll(context.get(), &response);
    const grpc::Status status = testing::StreamUpload(
        writer.get(), payroll, 16 << 10, absl::StrCat("payroll-", round));
    if (!status.ok()) return Fail("payroll upload", status);
    uploaded_entries_.fetch_add(response.receipt().ledger().entry_count());
    absl::MutexLock lock(&mu_);
    for (const pb::PaystubCode& code : response.codes()) {
      if (codes_.size() < kCodesKept) {
        codes_.push_back(code.code());
      } else {
        codes_[rng_() % codes_.size()] = code.code();
      }
    }
  }

  // A retry of an old round's payments file (same key, same bytes):
  // replayed, nothing appended.
  void RetryRound(uint64_t round) {
    const std::string payments = PaymentsCsv(round);
    auto brand = pb::BrandService::NewStub(channel_);
    pb::UploadReceipt receipt;
    auto context = Context(testing::Bearer(brand_));
    auto writer = brand->SubmitPayments(context.get(), &receipt);
    const grpc::Status status = testing::StreamUpload(
        writer.get(), payments, 16 << 10, absl::StrCat("payments-", round));
    if (!status.ok()) return Fail("retried upload", status);
    EXPECT_TRUE(receipt.replayed());
    retries_.fetch_add(1);
  }

  void Lookups(uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto worker = pb::WorkerService::NewStub(channel_);
    while (!stop_.load()) {
      std::string code;
      {
        absl::MutexLock lock(&mu_);
        if (!codes_.empty()) code = codes_[rng() % codes_.size()];
      }
      if (code.empty()) {
        absl::SleepFor(absl::Milliseconds(10));
        continue;
      }
      pb::LookupCodeRequest request;
      request.set_code(code);
      pb::WorkerLookup lookup;
      const grpc::Status status =
          worker->LookupCode(Context().get(), request, &lookup);
      if (!status.ok()) return Fail("lookup", status);
      if (lookup.lines().empty() || lookup.entry_bytes().empty()) {
        errors_.fetch_add(1);
        ADD_FAILURE() << "empty lookup of " << code;
        return;
      }
      lookups_.fetch_add(1);
    }
  }

  void Reconciles() {
    auto audit = pb::AuditService::NewStub(channel_);
    while (!stop_.load()) {
      pb::ReconcileRequest request;
      request.set_as_of(kAsOf);
      do {
        pb::ReconcileResponse page;
        const grpc::Status status = audit->Reconcile(
            Context(testing::Bearer(auditor_)).get(), request, &page);
        if (!status.ok()) return Fail("reconcile", status);
        request.set_page_token(page.next_page_token());
      } while (!request.page_token().empty());
      pb::SummarizeRequest summarize;
      summarize.set_as_of(kAsOf);
      pb::SummarizeResponse summary;
      const grpc::Status status = audit->Summarize(
          Context(testing::Bearer(auditor_)).get(), summarize, &summary);
      if (!status.ok()) return Fail("summarize", status);
      reconciles_.fetch_add(1);
      absl::SleepFor(kReconcilePause);
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::string admin_token_;
  std::string brand_;
  std::string suppliers_[2];
  std::string auditor_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> uploaded_entries_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> lookups_{0};
  std::atomic<uint64_t> reconciles_{0};
  absl::Mutex mu_;
  std::vector<std::string> codes_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_){7};
};

TEST_F(SoakTest, MixedLoadWithoutErrorsOrMemoryGrowth) {
  const absl::Duration run =
      absl::Seconds(EnvOr("SOAK_SECONDS", kDefaultSeconds));
  const absl::Duration warm_up = std::max(absl::Seconds(10), run / 4);
  // Small memtables and block cache, so that the warm-up fills them: what
  // grows after it is what the load leaves behind.
  premiumd_ = testing::StartPremiumd(
      data_dir(), &server_,
      {"--write-buffer-mib", absl::StrCat(kWriteBufferMib), "--block-cache-mib",
       absl::StrCat(kBlockCacheMib)});
  ASSERT_NE(premiumd_, nullptr);
  ASSERT_NO_FATAL_FAILURE(SetUpParties());

  std::vector<std::thread> threads;
  std::atomic<uint64_t> rounds{0};
  threads.emplace_back([&] {
    std::mt19937_64 rng(1);
    while (!stop_.load()) {
      const uint64_t round = rounds.load();
      UploadRound(round);
      rounds.fetch_add(1);
      if (round > 0 && rng() % 4 == 0) RetryRound(rng() % round);
      absl::SleepFor(kRoundPause);
    }
  });
  const int lookup_threads =
      static_cast<int>(EnvOr("SOAK_LOOKUP_THREADS", kLookupThreads));
  for (int i = 0; i < lookup_threads; ++i) {
    threads.emplace_back([this, i] { Lookups(100 + i); });
  }
  if (EnvOr("SOAK_RECONCILES", 1) != 0) {
    threads.emplace_back([this] { Reconciles(); });
  }

  const absl::Time start = absl::Now();
  // Growth is the level of RSS in the last window of the run against its
  // level in the first window after the warm-up, the level being the 90th
  // percentile of the window's samples (one every kSamplePeriod). Not the
  // peaks: RSS swings by a few MiB for a moment (a reconcile's response, a
  // compaction, free memory between trims), and the highest of 240 samples
  // against the highest of another 240 measures how large a swing happened
  // to be caught, not what stayed. The peaks and the lowest samples are
  // printed too. RSS is premiumd's own memory (RssAnon) plus the mapped
  // pages of its binaries (RssFile; table files are read without mmap).
  const absl::Duration window = std::min(kPeakWindow, (run - warm_up) / 4);
  MemoryWindow first;
  MemoryWindow last;
  first.rss_kib.reserve(window / kSamplePeriod + 1);
  last.rss_kib.reserve(window / kSamplePeriod + 1);
  uint64_t lookups_at_warm_up = 0;
  const bool verbose = std::getenv("SOAK_VERBOSE") != nullptr;
  uint64_t samples = 0;
  while (absl::Now() - start < run && errors_.load() == 0) {
    absl::SleepFor(kSamplePeriod);
    const absl::Duration elapsed = absl::Now() - start;
    const MemorySample sample = Sample(premiumd_->pid());
    ASSERT_GT(sample.rss_kib, 0);
    if (elapsed >= warm_up && first.samples == 0) {
      lookups_at_warm_up = lookups_.load();
    }
    if (elapsed >= warm_up && elapsed < warm_up + window) first.Add(sample);
    if (elapsed >= run - window) last.Add(sample);
    if (verbose && ++samples % 20 == 0) {
      std::printf(
          "soak: %5.0f s  RSS %lld KiB (anon %lld, file %lld)  entries %llu  "
          "lookups %llu\n",
          absl::ToDoubleSeconds(elapsed),
          static_cast<long long>(sample.rss_kib),
          static_cast<long long>(sample.anon_kib),
          static_cast<long long>(sample.file_kib),
          static_cast<unsigned long long>(uploaded_entries_.load()),
          static_cast<unsigned long long>(lookups_.load()));
    }
  }
  stop_ = true;
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_EQ(errors_.load(), 0u);
  ASSERT_GT(first.samples, 0u);
  ASSERT_GT(last.samples, 0u);
  const auto change = [](int64_t from, int64_t to) {
    return static_cast<double>(to) / static_cast<double>(from) - 1.0;
  };
  const double growth = change(first.Level(), last.Level());
  std::printf(
      "soak: %.0f s, %llu upload rounds (%llu entries, %.0f/s), %llu retries "
      "replayed, %llu lookups (%.0f/s), %llu reconciles+summaries, 0 errors; "
      "premiumd RSS level (90th percentile) %lld KiB in the first %.0f s "
      "after the warm-up (%.0f s), %lld KiB in the last %.0f s (%+.1f%%); "
      "peaks %lld -> %lld KiB (%+.1f%%), of which anon %lld -> %lld KiB, "
      "file %lld -> %lld KiB; lowest RSS %lld -> %lld KiB (%+.1f%%)\n",
      seconds, static_cast<unsigned long long>(rounds.load()),
      static_cast<unsigned long long>(uploaded_entries_.load()),
      static_cast<double>(uploaded_entries_.load()) / seconds,
      static_cast<unsigned long long>(retries_.load()),
      static_cast<unsigned long long>(lookups_.load()),
      static_cast<double>(lookups_.load()) / seconds,
      static_cast<unsigned long long>(reconciles_.load()),
      static_cast<long long>(first.Level()), absl::ToDoubleSeconds(window),
      absl::ToDoubleSeconds(warm_up), static_cast<long long>(last.Level()),
      absl::ToDoubleSeconds(window), growth * 100.0,
      static_cast<long long>(first.peak.rss_kib),
      static_cast<long long>(last.peak.rss_kib),
      change(first.peak.rss_kib, last.peak.rss_kib) * 100.0,
      static_cast<long long>(first.peak.anon_kib),
      static_cast<long long>(last.peak.anon_kib),
      static_cast<long long>(first.peak.file_kib),
      static_cast<long long>(last.peak.file_kib),
      static_cast<long long>(first.lowest_rss_kib),
      static_cast<long long>(last.lowest_rss_kib),
      change(first.lowest_rss_kib, last.lowest_rss_kib) * 100.0);
  EXPECT_GT(lookups_.load(), lookups_at_warm_up);
  EXPECT_GT(reconciles_.load(), 0u);
  // A run of a few minutes is still filling memtables and caches; the
  // bound is the long run's (SOAK_SECONDS >= kRssCheckedSecondsMin).
  if (run >= absl::Seconds(kRssCheckedSecondsMin)) {
    EXPECT_LT(growth, kRssGrowthMax);
  }
  StopPremiumdAndVerify(absl::Seconds(120));
}

}  // namespace
}  // namespace premium::soak
