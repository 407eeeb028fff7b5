// ledger_crash_child DATA_DIR FIRST_REQUEST_ID [APPENDERS]
//
// The victim of crash_test: opens (creating if missing) the ledger in
// DATA_DIR and appends requests from APPENDERS threads (default 4) until it
// is killed. Request ids start at FIRST_REQUEST_ID; each request is
// RequestOf(id) (crash_workload.h), the large ones streamed. After an Append
// returns OK the child prints "ACK <id> <first seq> <count>"; now and then a
// thread re-sends a request it saw acknowledged and checks that it is replayed,
// printing "REPLAY <id> <first seq>". Anything unexpected prints "BAD <why>"
// and exits with status 3, so the parent sees it even if it kills the child
// later.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ledger/ledger.h"
#include "tests/crash/crash_workload.h"

namespace premium::crash {
namespace {

// One re-send for every kResendOneIn appends, on average.
constexpr uint64_t kResendOneIn = 8;
// Acknowledged requests remembered for re-sending (the newest ones).
constexpr size_t kRememberedAcksMax = 1024;
constexpr int kAppendersMax = 64;

// Writes `line` to stdout with as many write(2) calls as it takes; callers
// serialize, so lines never interleave.
void WriteAll(int fd, const std::string& line) {
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    // The parent went away: nothing left to report to.
    if (n <= 0) ::_exit(5);
    written += static_cast<size_t>(n);
  }
}

struct Ack {
  uint64_t request_id = 0;
  uint64_t first_seq = 0;
  uint64_t entry_count = 0;
};

class Child {
 public:
  Child(Ledger* ledger, uint64_t first_request_id)
      : ledger_(ledger), next_request_id_(first_request_id) {}

  void WriteLine(const std::string& line) {
    std::lock_guard<std::mutex> lock(stdout_mu_);
    WriteAll(STDOUT_FILENO, line);
  }

  // Reports a broken promise of the ledger and stops the whole process.
  [[noreturn]] void Fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(stdout_mu_);
    WriteAll(STDOUT_FILENO, absl::StrCat("BAD ", why, "\n"));
    WriteAll(STDERR_FILENO, absl::StrCat("ledger_crash_child: ", why, "\n"));
    ::_exit(3);
  }

  // Appends until the process dies.
  [[noreturn]] void Run(uint64_t seed) {
    std::mt19937_64 random(seed);
    while (true) {
      if (random() % kResendOneIn == 0) {
        if (std::optional<Ack> ack = PickAck(random); ack.has_value()) {
          Resend(*ack);
          continue;
        }
      }
      AppendNew(next_request_id_.fetch_add(1));
    }
  }

 private:
  // Large requests go through AppendStreamed, the others through Append.
  absl::StatusOr<AppendReceipt> Send(uint64_t request_id) {
    if (IsStreamed(request_id)) {
      RequestSource source(request_id);
      return ledger_->AppendStreamed(kActor, IdempotencyKeyOf(request_id),
                                     EntryCountOf(request_id), source);
    }
    return ledger_->Append(RequestOf(request_id));
  }

  void AppendNew(uint64_t request_id) {
    absl::StatusOr<AppendReceipt> receipt = Send(request_id);
    if (!receipt.ok()) {
      Fail(absl::StrCat("request ", request_id,
                        " failed: ", receipt.status().ToString()));
    }
    if (receipt->replayed || receipt->entry_count != EntryCountOf(request_id) ||
        receipt->tree_size < receipt->first_seq + receipt->entry_count) {
      Fail(absl::StrCat("request ", request_id, " got a wrong receipt: first ",
                        receipt->first_seq, " count ", receipt->entry_count,
                        " tree size ", receipt->tree_size, " replayed ",
                        receipt->replayed));
    }
    // Printed before the ack is remembered, so a REPLAY line of this request
    // always comes after its ACK line.
    WriteLine(absl::StrCat("ACK ", request_id, " ", receipt->first_seq, " ",
                           receipt->entry_count, "\n"));
    std::lock_guard<std::mutex> lock(acks_mu_);
    if (acks_.size() < kRememberedAcksMax) {
      acks_.push_back({request_id, receipt->first_seq, receipt->entry_count});
    } else {
      acks_[acks_next_ % kRememberedAcksMax] = {request_id, receipt->first_seq,
                                                receipt->entry_count};
    }
    ++acks_next_;
  }

  void Resend(const Ack& ack) {
    absl::StatusOr<AppendReceipt> receipt = Send(ack.request_id);
    if (!receipt.ok()) {
      Fail(absl::StrCat("re-sent request ", ack.request_id,
                        " failed: ", receipt.status().ToString()));
    }
    if (!receipt->replayed || receipt->first_seq != ack.first_seq ||
        receipt->entry_count != ack.entry_count) {
      Fail(absl::StrCat("re-sent request ", ack.request_id, " (first ",
                        ack.first_seq, ") got first ", receipt->first_seq,
                        " count ", receipt->entry_count, " replayed ",
                        receipt->replayed));
    }
    WriteLine(
        absl::StrCat("REPLAY ", ack.request_id, " ", receipt->first_seq, "\n"));
  }

  std::optional<Ack> PickAck(std::mt19937_64& random) {
    std::lock_guard<std::mutex> lock(acks_mu_);
    if (acks_.empty()) return std::nullopt;
    return acks_[random() % acks_.size()];
  }

  Ledger* const ledger_;
  std::atomic<uint64_t> next_request_id_;
  std::mutex stdout_mu_;
  std::mutex acks_mu_;
  std::vector<Ack> acks_;
  uint64_t acks_next_ = 0;
};

int Main(int argc, char** argv) {
  uint64_t first_request_id = 0;
  int appenders = 4;
  if (argc < 3 || argc > 4 || !absl::SimpleAtoi(argv[2], &first_request_id) ||
      (argc == 4 && !absl::SimpleAtoi(argv[3], &appenders)) || appenders < 1 ||
      appenders > kAppendersMax) {
    std::fprintf(stderr,
                 "usage: ledger_crash_child DATA_DIR FIRST_REQUEST_ID "
                 "[APPENDERS, 1..%d]\n",
                 kAppendersMax);
    return 2;
  }
  LedgerOptions options;
  options.data_dir = argv[1];
  options.create_if_missing = true;
  options.streamed_batch_entries = kStreamedBatchEntries;
  absl::StatusOr<std::unique_ptr<Ledger>> ledger = Ledger::Open(options);
  if (!ledger.ok()) {
    std::fprintf(stderr, "ledger_crash_child: opening %s: %s\n", argv[1],
                 ledger.status().ToString().c_str());
    return 2;
  }
  Child child(ledger->get(), first_request_id);
  child.WriteLine(absl::StrCat("READY ", (*ledger)->size(), "\n"));
  std::vector<std::thread> threads;
  for (int i = 0; i < appenders; ++i) {
    threads.emplace_back(
        [&child, seed = Mix(first_request_id + static_cast<uint64_t>(i))] {
          child.Run(seed);
        });
  }
  // Run never returns: the child ends by SIGKILL or by Fail.
  for (std::thread& thread : threads) thread.join();
  return 0;
}

}  // namespace
}  // namespace premium::crash

int main(int argc, char** argv) { return premium::crash::Main(argc, argv); }
