// Kill loop: a real premiumd, loaded by concurrent gRPC clients that upload a
// generated season (tests/season) in small pieces and retry every failed call
// with the same idempotency key, is killed with SIGKILL at random moments.
//
// One premiumd run per cycle, for a random 50 to 1000 ms after it serves
// (the clients keep sending: a piece not yet acknowledged, or, once all are,
// an acknowledged one again, which must be replayed). The clients pace
// their first sends over the expected time of all cycles, so that kills
// land among first appends all along, not only among retries. After each kill,
// with no process serving:
//   - the ledger, opened in this process as premiumd opens it, holds only
//     whole requests: every idempotency key names one run of entries with
//     request_index 0..n-1 and n the entries its request makes, and never
//     two runs; every acknowledged request is there;
//   - a replayed acknowledgement names the seqs of the first, and a payroll
//     upload's codes are the same on every acknowledgement;
//   - `premiumd verify` passes;
// and once premiumd serves again, its reconciliation and summary (as of the
// season's date) are those of a clean replay: an in-process server that
// was sent each request the killed ledger holds once, in the killed
// ledger's order. At the end every request is acknowledged, premiumd stops
// cleanly and verifies, and the reconciliation is the season's ground truth
// (expected.csv without the workers' disputes, which this test leaves out).
//
// premiumd streams an upload of more than kInlineRecords records
// (--upload-inline-records, far below the default so that the piece stays
// small), and a few payroll pieces are larger than that, so that kills land
// inside streamed appends (staged entries) too.
//
// Environment: KILL_CYCLES (default 20), KILL_SEED (default fixed; printed),
// KILL_CLIENTS (default 4).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "services/testing/service_testing.h"
#include "tests/season/season.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/audit.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"

namespace premium::crash {
namespace {

namespace pb = wsr::premium::v1;
using ::premium::testing::Child;
using ::premium::testing::CommandResult;

constexpr uint64_t kDefaultCycles = 20;
constexpr uint64_t kDefaultSeed = 0x6b696c6cULL;
constexpr int kDefaultClients = 4;
constexpr int kServeMillisMin = 50;
constexpr int kServeMillisMax = 1000;
// Rows of one small upload piece, at most.
constexpr int kPieceRowsMax = 40;
// premiumd's --upload-inline-records, and the uploads that are streamed
// (more lines than that).
constexpr uint64_t kInlineRecords = 1000;
constexpr int kStreamedPieces = 4;
constexpr int kStreamedLines = static_cast<int>(kInlineRecords) + 2000;
constexpr absl::Duration kCallTimeout = absl::Seconds(60);
constexpr char kAuditorId[] = "kill-auditor";
// The streamed pieces' own program and supplier: one rate, the same hours
// and premium on every line, no payment, so it raises no discrepancy and
// the season's ground truth still holds.
constexpr char kBigProgram[] = "kill-big";
constexpr char kBigSupplier[] = "kill-big-grower";

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  uint64_t value = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &value)) return fallback;
  return value;
}

// One request of the workload, sent with the same id on every try.
struct Request {
  enum class Kind {
    kProgram,
    kParty,
    kPurchases,
    kPayments,
    kPayroll,
    kSuspension
  };
  Kind kind;
  std::string id;
  // Whose token sends it: "admin" or a party id.
  std::string sender;
  // The entries it appends.
  uint64_t entries = 1;
  std::string csv;
  pb::AddProgramVersionRequest program;
  pb::RegisterPartyRequest party;
  pb::SuspendSupplierRequest suspension;
};

// What an acknowledgement said.
struct Ack {
  bool replayed = false;
  // 0 when the response names no seq (a program version).
  uint64_t first_seq = 0;
  uint64_t entry_count = 0;
  // A registration's token; a payroll upload's codes, joined.
  std::string token;
  std::string codes;
};

std::string Amount(int64_t micros, int digits) {
  return FormatMicros(micros, digits);
}

// The pieces of a CSV file: its header and, per piece, 1 to kPieceRowsMax
// of its rows (the generator writes no quoted newline).
std::vector<std::string> Pieces(const std::string& text, std::mt19937_64& rng) {
  std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  std::vector<std::string> pieces;
  if (lines.size() < 2) return pieces;
  std::uniform_int_distribution<int> rows(1, kPieceRowsMax);
  for (size_t at = 1; at < lines.size();) {
    const size_t end = std::min(lines.size(), at + rows(rng));
    std::string piece = lines[0] + "\n";
    for (size_t i = at; i < end; ++i) absl::StrAppend(&piece, lines[i], "\n");
    pieces.push_back(std::move(piece));
    at = end;
  }
  return pieces;
}

// Every request of the season, setup first (programs, then parties).
struct Workload {
  season::Season season;
  std::vector<Request> setup;
  std::vector<Request> load;
};

absl::StatusOr<Workload> MakeWorkload(uint64_t seed, const std::string& dir) {
  season::SeasonOptions options;
  options.seed = seed;
  options.brands = 3;
  options.suppliers = 4;
  options.weeks = 10;
  options.workers_per_supplier = 16;
  options.inject_per_type = 1;
  absl::StatusOr<season::Season> season = season::GenerateSeason(options);
  if (!season.ok()) return season.status();
  if (absl::Status s = season::WriteSeason(*season, dir); !s.ok()) return s;
  Workload work{.season = *std::move(season)};
  const season::Season& s = work.season;
  std::mt19937_64 rng(seed);

  int versions = 0;
  for (const season::ProgramVersionSpec& v : s.versions) {
    Request r{.kind = Request::Kind::kProgram,
              .id = absl::StrCat("program-", ++versions),
              .sender = "admin"};
    pb::ProgramVersionSpec* spec = r.program.mutable_version();
    spec->set_program_id(v.program_id);
    spec->set_name(v.name);
    spec->set_currency(v.currency);
    spec->set_unit(v.unit);
    spec->set_worker_rate(Amount(v.worker_rate_micros, 0));
    spec->set_supplier_rate(Amount(v.supplier_rate_micros, 0));
    spec->set_payment_terms_days(v.payment_terms_days);
    spec->set_distribution_deadline_days(v.distribution_deadline_days);
    spec->set_allocation(season::AllocationName(v.allocation));
    spec->set_tolerance(Amount(v.tolerance_micros, 2));
    spec->set_effective_date(season::FormatDay(v.effective_date));
    work.setup.push_back(std::move(r));
  }
  {
    Request big{.kind = Request::Kind::kProgram,
                .id = "program-big",
                .sender = "admin"};
    pb::ProgramVersionSpec* spec = big.program.mutable_version();
    spec->set_program_id(kBigProgram);
    spec->set_name("Kill loop streamed program");
    spec->set_currency("USD");
    spec->set_unit("lb");
    spec->set_worker_rate("0.01");
    spec->set_effective_date("2026-01-01");
    work.setup.push_back(std::move(big));
  }
  std::vector<std::pair<pb::Role, std::string>> parties;
  for (const season::Party& p : s.brands) parties.emplace_back(pb::BRAND, p.id);
  for (const season::Party& p : s.suppliers) {
    parties.emplace_back(pb::SUPPLIER, p.id);
  }
  parties.emplace_back(pb::SUPPLIER, kBigSupplier);
  parties.emplace_back(pb::AUDITOR, kAuditorId);
  for (const auto& [role, id] : parties) {
    Request r{.kind = Request::Kind::kParty,
              .id = absl::StrCat("party-", id),
              .sender = "admin"};
    r.party.set_role(role);
    r.party.set_party_id(id);
    r.party.set_name(absl::StrCat("Party ", id));
    work.setup.push_back(std::move(r));
  }

  auto add_pieces = [&](Request::Kind kind, const std::string& sender,
                        const std::string& file) -> absl::Status {
    // The generator writes no file for a party without rows.
    if (!std::filesystem::exists(file)) return absl::OkStatus();
    for (std::string& piece : Pieces(testing::ReadFileOrDie(file), rng)) {
      const uint64_t rows =
          static_cast<uint64_t>(std::count(piece.begin(), piece.end(), '\n')) -
          1;
      work.load.push_back(
          Request{.kind = kind,
                  .id = absl::StrCat("upload-", work.load.size()),
                  .sender = sender,
                  .entries = rows,
                  .csv = std::move(piece)});
    }
    return absl::OkStatus();
  };
  for (const season::Party& b : s.brands) {
    if (absl::Status st =
            add_pieces(Request::Kind::kPurchases, b.id,
                       absl::StrCat(dir, "/purchases-", b.id, ".csv"));
        !st.ok()) {
      return st;
    }
    if (absl::Status st =
            add_pieces(Request::Kind::kPayments, b.id,
                       absl::StrCat(dir, "/payments-", b.id, ".csv"));
        !st.ok()) {
      return st;
    }
  }
  for (const season::Party& p : s.suppliers) {
    if (absl::Status st =
            add_pieces(Request::Kind::kPayroll, p.id,
                       absl::StrCat(dir, "/payroll-", p.id, ".csv"));
        !st.ok()) {
      return st;
    }
  }
  int suspensions = 0;
  for (const season::SuspensionSpec& spec : s.suspensions) {
    Request r{.kind = Request::Kind::kSuspension,
              .id = absl::StrCat("suspension-", ++suspensions),
              .sender = kAuditorId};
    r.suspension.set_program_id(s.program_ids[spec.program]);
    r.suspension.set_supplier_id(s.suppliers[spec.supplier].id);
    r.suspension.set_from_date(season::FormatDay(spec.from));
    if (spec.to.has_value()) {
      r.suspension.set_to_date(season::FormatDay(*spec.to));
    }
    r.suspension.set_reason(spec.reason);
    work.load.push_back(std::move(r));
  }
  // The streamed pieces: weekly periods of 100 workers (each piece its own)
  // at 40 hours and 4.00 premium each.
  for (int piece = 0; piece < kStreamedPieces; ++piece) {
    Request big{.kind = Request::Kind::kPayroll,
                .id = absl::StrCat("upload-streamed-", piece),
                .sender = kBigSupplier,
                .entries = kStreamedLines};
    big.csv =
        "program_id,worker_id,period_start,period_end,pay_date,hours,"
        "gross_wages,premium_amount,currency\n";
    for (int line = 0; line < kStreamedLines; ++line) {
      const absl::CivilDay start =
          absl::CivilDay(2026, 1, 5) + 7 * (line / 100);
      absl::StrAppend(
          &big.csv, kBigProgram, ",p", piece, "w", line % 100, ",",
          season::FormatDay(start), ",", season::FormatDay(start + 6), ",",
          season::FormatDay(start + 10), ",40.00,600.00,4.00,USD\n");
    }
    work.load.push_back(std::move(big));
  }
  std::shuffle(work.load.begin(), work.load.end(), rng);
  return work;
}

std::unique_ptr<grpc::ClientContext> CallContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  if (!token.empty()) {
    context->AddMetadata("authorization", testing::Bearer(token));
  }
  return context;
}

// Sends `request` once on `channel` as `token`.
absl::StatusOr<Ack> Send(const Request& request,
                         const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& token) {
  Ack ack;
  grpc::Status status;
  switch (request.kind) {
    case Request::Kind::kProgram: {
      pb::AddProgramVersionRequest call = request.program;
      call.set_request_id(request.id);
      pb::Program response;
      status = pb::AdminService::NewStub(channel)->AddProgramVersion(
          CallContext(token).get(), call, &response);
      break;
    }
    case Request::Kind::kParty: {
      pb::RegisterPartyRequest call = request.party;
      call.set_request_id(request.id);
      pb::RegisterPartyResponse response;
      status = pb::AdminService::NewStub(channel)->RegisterParty(
          CallContext(token).get(), call, &response);
      ack.first_seq = response.party().seq();
      ack.entry_count = 1;
      ack.token = response.token();
      break;
    }
    case Request::Kind::kSuspension: {
      pb::SuspendSupplierRequest call = request.suspension;
      call.set_request_id(request.id);
      pb::StandingChange response;
      status = pb::AuditService::NewStub(channel)->SuspendSupplier(
          CallContext(token).get(), call, &response);
      ack.first_seq = response.seq();
      ack.entry_count = 1;
      ack.replayed = response.replayed();
      break;
    }
    case Request::Kind::kPurchases:
    case Request::Kind::kPayments: {
      auto stub = pb::BrandService::NewStub(channel);
      auto context = CallContext(token);
      pb::UploadReceipt receipt;
      auto writer = request.kind == Request::Kind::kPurchases
                        ? stub->SubmitPurchases(context.get(), &receipt)
                        : stub->SubmitPayments(context.get(), &receipt);
      status = testing::StreamUpload(writer.get(), request.csv, 64 << 10,
                                     request.id);
      ack.first_seq = receipt.ledger().first_seq();
      ack.entry_count = receipt.ledger().entry_count();
      ack.replayed = receipt.replayed();
      break;
    }
    case Request::Kind::kPayroll: {
      auto stub = pb::SupplierService::NewStub(channel);
      auto context = CallContext(token);
      pb::UploadPayrollResponse response;
      auto writer = stub->UploadPayroll(context.get(), &response);
      status = testing::StreamUpload(writer.get(), request.csv, 64 << 10,
                                     request.id);
      ack.first_seq = response.receipt().ledger().first_seq();
      ack.entry_count = response.receipt().ledger().entry_count();
      ack.replayed = response.receipt().replayed();
      for (const pb::PaystubCode& code : response.codes()) {
        absl::StrAppend(&ack.codes, code.code(), ";");
      }
      break;
    }
  }
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return ack;
}

// Codes a killed or restarting server answers with; any other error is the
// product's fault.
bool Retryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

// The discrepancies and outcomes an AuditService reports as of `as_of`,
// every page.
absl::StatusOr<std::pair<pb::ReconcileResponse, pb::SummarizeResponse>> Audit(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
    const std::string& as_of) {
  auto stub = pb::AuditService::NewStub(channel);
  pb::ReconcileResponse all;
  pb::ReconcileRequest request;
  request.set_as_of(as_of);
  do {
    pb::ReconcileResponse page;
    const grpc::Status status =
        stub->Reconcile(CallContext(token).get(), request, &page);
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("Reconcile: ", status.error_message()));
    }
    for (pb::Discrepancy& d : *page.mutable_discrepancies()) {
      *all.add_discrepancies() = std::move(d);
    }
    all.set_as_of(page.as_of());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  pb::SummarizeRequest summarize;
  summarize.set_as_of(as_of);
  pb::SummarizeResponse summary;
  const grpc::Status status =
      stub->Summarize(CallContext(token).get(), summarize, &summary);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("Summarize: ", status.error_message()));
  }
  summary.clear_tree_size();
  return std::pair{std::move(all), std::move(summary)};
}

class PremiumdKillTest : public testing::PremiumServicesTest {
 protected:
  PremiumdKillTest()
      : PremiumServicesTest(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()),
                            absl::Now()) {}

  std::string killed_dir() const { return dir_.Sub("killed"); }

  void StartPremiumd() {
    std::string address;
    premiumd_ = testing::StartPremiumd(
        killed_dir(), &address,
        {"--upload-inline-records", absl::StrCat(kInlineRecords)});
    ASSERT_NE(premiumd_, nullptr);
    absl::MutexLock lock(&mu_);
    channel_to_premiumd_ =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }

  std::shared_ptr<grpc::Channel> premiumd_channel() {
    absl::MutexLock lock(&mu_);
    return channel_to_premiumd_;
  }

  std::string TokenOf(const std::string& sender) {
    absl::MutexLock lock(&mu_);
    return sender == "admin" ? admin_token_of_premiumd_
                             : tokens_of_premiumd_[sender];
  }

  // Sends `request` to premiumd until it is acknowledged or `stop_` is set.
  std::optional<Ack> SendUntilAcknowledged(const Request& request) {
    while (!stop_.load()) {
      absl::StatusOr<Ack> ack = [&] {
        absl::ReaderMutexLock calls(&calls_);
        return Send(request, premiumd_channel(), TokenOf(request.sender));
      }();
      if (ack.ok()) return *ack;
      if (!Retryable(ack.status())) {
        ADD_FAILURE() << request.id << ": " << ack.status();
        stop_ = true;
        return std::nullopt;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return std::nullopt;
  }

  void Acknowledged(const Request& request, const Ack& ack) {
    absl::MutexLock lock(&mu_);
    auto [first, inserted] = acks_.emplace(request.id, ack);
    if (inserted) {
      EXPECT_FALSE(ack.replayed && request.kind != Request::Kind::kProgram &&
                   ack.first_seq == 0)
          << request.id;
      return;
    }
    ++replays_acknowledged_;
    // A retry after a kill may be the first ack of what had been
    // committed; from then on, every ack names the same seqs and codes.
    EXPECT_EQ(ack.first_seq, first->second.first_seq) << request.id;
    EXPECT_EQ(ack.entry_count, first->second.entry_count) << request.id;
    EXPECT_EQ(ack.codes, first->second.codes) << request.id;
    EXPECT_TRUE(ack.replayed) << request.id;
  }

  void Client(uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop_.load()) {
      const size_t next = next_.fetch_add(1);
      const Request* request = nullptr;
      if (next < work_.load.size()) {
        request = &work_.load[next];
      } else {
        if (!keep_going_.load()) return;
        // Everything was acknowledged: send one of them again.
        std::uniform_int_distribution<size_t> any(0, work_.load.size() - 1);
        request = &work_.load[any(rng)];
        if (request->entries > kPieceRowsMax) continue;
      }
      const bool streamed = request->entries > kInlineRecords;
      if (streamed) ++streaming_;
      const std::optional<Ack> ack = SendUntilAcknowledged(*request);
      if (streamed) --streaming_;
      if (ack.has_value()) Acknowledged(*request, *ack);
      absl::SleepFor(absl::Milliseconds(pace_millis_.load()));
    }
  }

  // The checks on the killed ledger, opened here as premiumd opens it. Sets
  // `order` to the ids of the requests it holds, in ledger order.
  void CheckKilledLedger(std::vector<std::string>* order) {
    LedgerOptions options;
    options.data_dir = killed_dir();
    options.indexer = &indexer_;
    absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    const uint64_t size = (*ledger)->size();
    std::map<std::string, uint64_t> runs;
    std::string key;
    uint64_t expected_index = 0;
    uint64_t count = 0;
    for (uint64_t seq = 0; seq < size;) {
      absl::StatusOr<std::vector<StoredEntry>> entries =
          (*ledger)->ReadEntries(seq, size, 0);
      ASSERT_TRUE(entries.ok()) << entries.status();
      ASSERT_FALSE(entries->empty());
      for (const StoredEntry& stored : *entries) {
        const pb::Entry& e = stored.entry;
        ASSERT_EQ(e.seq(), seq);
        if (e.request_index() == 0) {
          ASSERT_EQ(expected_index, count) << "request " << key << " cut short";
          key = e.idempotency_key();
          expected_index = 0;
          count = e.request_entry_count();
          if (!key.empty() && key != "bootstrap-admin") {
            ASSERT_EQ(++runs[key], 1u) << key << " appended twice";
            order->push_back(key);
            const auto request = by_id_.find(key);
            ASSERT_NE(request, by_id_.end()) << "unknown key " << key;
            EXPECT_EQ(count, request->second->entries) << key;
          }
        }
        ASSERT_EQ(e.idempotency_key(), key) << "seq " << seq;
        ASSERT_EQ(e.request_index(), expected_index) << "seq " << seq;
        ++expected_index;
        ++seq;
      }
    }
    ASSERT_EQ(expected_index, count) << "the last request " << key << " is cut";
    absl::MutexLock lock(&mu_);
    for (const auto& [id, ack] : acks_) {
      EXPECT_EQ(runs.count(id), 1u) << id << " was acknowledged but is gone";
      if (ack.entry_count > 0) {
        EXPECT_EQ(ack.entry_count, by_id_.at(id)->entries) << id;
      }
    }
  }

  // Sends the requests of `order` the replay has not had yet, in order.
  void Replay(const std::vector<std::string>& order) {
    for (size_t i = replayed_; i < order.size(); ++i) {
      const Request& request = *by_id_.at(order[i]);
      const std::string token =
          request.sender == "admin" ? admin_token_ : tokens_[request.sender];
      absl::StatusOr<Ack> ack = Send(request, channel_, token);
      ASSERT_TRUE(ack.ok()) << request.id << ": " << ack.status();
      ASSERT_FALSE(ack->replayed) << request.id;
      if (request.kind == Request::Kind::kParty) {
        tokens_[request.party.party_id()] = ack->token;
      }
    }
    replayed_ = order.size();
  }

  // premiumd's audit as of the season's date against the replay's.
  void CompareWithReplay() {
    auto killed = Audit(premiumd_channel(), TokenOf(kAuditorId), as_of_);
    ASSERT_TRUE(killed.ok()) << killed.status();
    auto clean = Audit(channel_, tokens_[kAuditorId], as_of_);
    ASSERT_TRUE(clean.ok()) << clean.status();
    for (const auto& [got, want] : {std::pair<const google::protobuf::Message*,
                                              const google::protobuf::Message*>{
                                        &killed->first, &clean->first},
                                    {&killed->second, &clean->second}}) {
      google::protobuf::util::MessageDifferencer differencer;
      std::string differences;
      differencer.ReportDifferencesToString(&differences);
      EXPECT_TRUE(differencer.Compare(*got, *want))
          << "premiumd after the kill (first) and the clean replay (second) "
             "differ:\n"
          << differences;
    }
  }

  Workload work_;
  std::map<std::string, const Request*> by_id_;
  std::string as_of_;
  std::unique_ptr<Child> premiumd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> keep_going_{true};
  // Clients sending a streamed upload.
  std::atomic<int> streaming_{0};
  std::atomic<size_t> next_{0};
  size_t replayed_ = 0;
  // Each client's pause after a request.
  std::atomic<int64_t> pace_millis_{0};
  // Held shared by every call to premiumd, and exclusively by the checks
  // between a kill and the comparison with the replay.
  absl::Mutex calls_;
  absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_to_premiumd_ ABSL_GUARDED_BY(mu_);
  std::string admin_token_of_premiumd_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> tokens_of_premiumd_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Ack> acks_ ABSL_GUARDED_BY(mu_);
  uint64_t replays_acknowledged_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(PremiumdKillTest, AcknowledgedUploadsSurviveExactlyOnce) {
  const uint64_t cycles = EnvOr("KILL_CYCLES", kDefaultCycles);
  const uint64_t seed = EnvOr("KILL_SEED", kDefaultSeed);
  const int clients = static_cast<int>(EnvOr("KILL_CLIENTS", kDefaultClients));
  std::printf("premiumd kill loop: %llu cycles, seed %llu, %d clients\n",
              static_cast<unsigned long long>(cycles),
              static_cast<unsigned long long>(seed), clients);
  absl::StatusOr<Workload> work = MakeWorkload(seed, dir_.Sub("season"));
  ASSERT_TRUE(work.ok()) << work.status();
  work_ = *std::move(work);
  for (const std::vector<Request>* list : {&work_.setup, &work_.load}) {
    for (const Request& r : *list) by_id_[r.id] = &r;
  }
  as_of_ = season::FormatDay(work_.season.as_of);

  // Setup, not killed: programs and parties, in order.
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  {
    const std::string admin =
        testing::ReadFileOrDie(killed_dir() + "/admin.token");
    absl::MutexLock lock(&mu_);
    admin_token_of_premiumd_ = std::string(absl::StripAsciiWhitespace(admin));
  }
  for (const Request& request : work_.setup) {
    const std::optional<Ack> ack = SendUntilAcknowledged(request);
    ASSERT_TRUE(ack.has_value()) << request.id;
    Acknowledged(request, *ack);
    if (request.kind == Request::Kind::kParty) {
      absl::MutexLock lock(&mu_);
      tokens_of_premiumd_[request.party.party_id()] = ack->token;
    }
  }

  pace_millis_ = static_cast<int64_t>(cycles) *
                 (kServeMillisMin + kServeMillisMax) / 2 * clients /
                 static_cast<int64_t>(work_.load.size());
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([this, seed, i] { Client(seed + 1 + i); });
  }
  // A failed assertion returns early: the clients must still be stopped and
  // joined, or the joinable threads' destructors abort the whole run and
  // hide the failure's report.
  absl::Cleanup stop_clients = [this, &threads] {
    stop_ = true;
    for (std::thread& thread : threads) {
      if (thread.joinable()) thread.join();
    }
  };
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> serve_millis(kServeMillisMin,
                                                  kServeMillisMax);
  uint64_t killed_mid_stream = 0;
  for (uint64_t cycle = 0; cycle < cycles && !HasFailure(); ++cycle) {
    absl::SleepFor(absl::Milliseconds(serve_millis(rng)));
    if (streaming_.load() > 0) ++killed_mid_stream;
    premiumd_->Signal(SIGKILL);
    ASSERT_EQ(premiumd_->WaitForExit(absl::Seconds(20)), 128 + SIGKILL);
    premiumd_.reset();
    // No call until premiumd's audit was compared with the replay's.
    absl::WriterMutexLock no_calls(&calls_);
    const absl::Time killed = absl::Now();
    std::vector<std::string> order;
    ASSERT_NO_FATAL_FAILURE(CheckKilledLedger(&order)) << "cycle " << cycle;
    const absl::Time checked = absl::Now();
    const CommandResult verify = testing::RunPremiumdVerify(killed_dir());
    ASSERT_EQ(verify.exit_code, 0)
        << "cycle " << cycle << ": " << verify.out << verify.err;
    const absl::Time verified = absl::Now();
    ASSERT_NO_FATAL_FAILURE(Replay(order));
    const absl::Time replayed = absl::Now();
    ASSERT_NO_FATAL_FAILURE(StartPremiumd());
    const absl::Time started = absl::Now();
    ASSERT_NO_FATAL_FAILURE(CompareWithReplay()) << "cycle " << cycle;
    if (std::getenv("KILL_VERBOSE") != nullptr) {
      std::printf(
          "cycle %llu: %zu requests; check %s, verify %s, replay %s, "
          "start %s, audit %s\n",
          static_cast<unsigned long long>(cycle), order.size(),
          absl::FormatDuration(checked - killed).c_str(),
          absl::FormatDuration(verified - checked).c_str(),
          absl::FormatDuration(replayed - verified).c_str(),
          absl::FormatDuration(started - replayed).c_str(),
          absl::FormatDuration(absl::Now() - started).c_str());
    }
  }

  // The end: every request acknowledged, with nothing killed.
  keep_going_ = false;
  pace_millis_ = 0;
  for (std::thread& thread : threads) thread.join();
  stop_ = true;
  {
    absl::MutexLock lock(&mu_);
    for (const Request& request : work_.load) {
      EXPECT_EQ(acks_.count(request.id), 1u) << request.id;
    }
    std::printf(
        "premiumd kill loop: %llu kills survived, %zu requests acknowledged, "
        "%llu acknowledgements of retries\n",
        static_cast<unsigned long long>(cycles), acks_.size(),
        static_cast<unsigned long long>(replays_acknowledged_));
  }
  premiumd_->Signal(SIGTERM);
  ASSERT_EQ(premiumd_->WaitForExit(absl::Seconds(20)), 0) << premiumd_->err();
  premiumd_.reset();
  std::vector<std::string> order;
  ASSERT_NO_FATAL_FAILURE(CheckKilledLedger(&order));
  ASSERT_EQ(order.size(), work_.setup.size() + work_.load.size());
  const CommandResult verify = testing::RunPremiumdVerify(killed_dir());
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  ASSERT_NO_FATAL_FAILURE(Replay(order));
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  ASSERT_NO_FATAL_FAILURE(CompareWithReplay());

  // And it is the season's ground truth, disputes aside.
  auto audit = Audit(premiumd_channel(), TokenOf(kAuditorId), as_of_);
  ASSERT_TRUE(audit.ok()) << audit.status();
  // id -> type, expected, actual, difference (micro-units).
  using Figures = std::tuple<std::string, int64_t, int64_t, int64_t>;
  std::map<std::string, Figures> got;
  for (const pb::Discrepancy& d : audit->first.discrepancies()) {
    Figures& figures = got[d.id()];
    std::get<0>(figures) = pb::DiscrepancyType_Name(d.type());
    int i = 0;
    for (const std::string* amount :
         {&d.expected(), &d.actual(), &d.difference()}) {
      absl::StatusOr<int64_t> micros =
          ParseMicros(*amount, kInternalAmountSpec);
      ASSERT_TRUE(micros.ok()) << d.id() << ": " << *amount;
      (i == 0   ? std::get<1>(figures)
       : i == 1 ? std::get<2>(figures)
                : std::get<3>(figures)) = *micros;
      ++i;
    }
  }
  std::map<std::string, Figures> want;
  for (const season::ExpectedDiscrepancy& e : work_.season.expected) {
    if (e.type == "WORKER_DISPUTE") continue;
    want[e.id] = Figures{e.type, e.expected_micros, e.actual_micros,
                         e.difference_micros};
  }
  EXPECT_EQ(got, want);
  EXPECT_FALSE(want.empty());
  std::printf("premiumd kill loop: %llu kills seen inside a streamed upload\n",
              static_cast<unsigned long long>(killed_mid_stream));
}

}  // namespace
}  // namespace premium::crash
