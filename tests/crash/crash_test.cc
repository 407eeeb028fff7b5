// Crash test: SIGKILL a process that appends to the ledger, then check that
// every acknowledged append survived, whole and exactly once, and that
// nothing else was damaged.
//
// Each cycle runs ledger_crash_child (crash_workload.h explains its protocol)
// on the same data directory, kills it, and then, in this process:
//   - Ledger::Open succeeds and the tree only grew: the root of the previous
//     size is unchanged and a consistency proof links it to the new
//     checkpoint, whose signature verifies;
//   - the new entries [previous size, size) are dense, and split exactly into
//     whole requests, each byte for byte RequestOf(its id), none twice;
//   - every request the child acknowledged is there at the seqs of its ACK;
//   - re-sending acknowledged requests (this cycle's and older ones) and one
//     that was committed but never acknowledged is replayed, appending
//     nothing; the same key with other content is refused (once per run);
//   - after Close, VerifyLedger passes.
// At the end the whole log is scanned again from seq 0. Cycles whose child
// opened the ledger but could not append at all are reported as STALLED.
//
// When the kill falls: the first cycle's child runs 20 to 300 ms once the
// ledger exists. Later kills are timed from the spawn, against the longest
// the child has taken to print READY (its start and Open: about 0.1 s in a
// release build, 0.4 s under a sanitizer): a quarter of them anywhere in that
// time, which lands most in the child's Open (its recovery), the others 20 to
// 300 ms after it, among the appends. A fixed window would kill a sanitized
// child in its Open every time, and test nothing after the first cycle.
//
// Environment: CRASH_CYCLES (default 50), CRASH_SEED (default fixed; printed),
// CRASH_KEEP_DIR=1 keeps the data directory (it is always kept on failure).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/merkle/proof.h"
#include "ledger/storage/format.h"
#include "ledger/storage/store.h"
#include "ledger/verify.h"
#include "tests/crash/crash_workload.h"

#ifndef LEDGER_CRASH_CHILD_PATH
#error "LEDGER_CRASH_CHILD_PATH must name the ledger_crash_child binary"
#endif

namespace premium::crash {
namespace {

using wsr::premium::v1::Entry;

constexpr uint64_t kDefaultCycles = 50;
constexpr uint64_t kDefaultSeed = 0x1ed9e7c2a5bULL;
constexpr int kChildRunMillisMin = 20;
constexpr int kChildRunMillisMax = 300;
// A run of at least this many cycles must have killed children both inside
// their Open and after it.
constexpr uint64_t kCyclesForCoverage = 20;
constexpr char kChildAppenders[] = "4";
// A child that completes no append in this long after its Open returned is
// stalled: an append takes about a millisecond.
constexpr std::chrono::milliseconds kStallTime(100);
// The child's stdout of one run; far more than 300 ms of appends print.
constexpr size_t kChildOutputBytesMax = 64 << 20;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  uint64_t value = 0;
  if (text == nullptr || !absl::SimpleAtoi(text, &value)) return fallback;
  return value;
}

// What one run of the child printed and how it ended.
struct ChildRun {
  std::string output;
  int wait_status = 0;
  // The output had to be cut at kChildOutputBytesMax.
  bool truncated = false;
  // From the spawn to the child's first line (READY: its Open returned).
  std::optional<std::chrono::microseconds> time_to_ready;
  // From the child's first line to the kill.
  std::optional<std::chrono::microseconds> time_after_open;
};

// When the kill clock starts.
enum class KillClock {
  // At the spawn: the kill may land anywhere, the child's Open included.
  kFromSpawn,
  // When the child prints READY (its Ledger::Open returned), or
  // kReadyWaitMax after the spawn if it never does.
  kFromReady,
};
constexpr std::chrono::seconds kReadyWaitMax(30);

// Runs the child for `run_time`, then SIGKILLs it and collects everything
// it printed. The pipe is read while the child runs, so it never blocks on a
// full pipe.
absl::StatusOr<ChildRun> RunChildUntilKilled(const std::string& data_dir,
                                             uint64_t first_request_id,
                                             std::chrono::microseconds run_time,
                                             KillClock kill_clock) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears O_CLOEXEC on the child's stdout; both pipe ends close at exec.
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  const std::string first = absl::StrCat(first_request_id);
  std::string path = LEDGER_CRASH_CHILD_PATH;
  std::string dir = data_dir;
  std::string appenders = kChildAppenders;
  char* argv[] = {path.data(), dir.data(), const_cast<char*>(first.c_str()),
                  appenders.data(), nullptr};
  pid_t pid = 0;
  const int spawn_error =
      ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawn_error != 0) {
    ::close(fds[0]);
    return absl::InternalError(
        absl::StrCat("spawning ", path, ": ", std::strerror(spawn_error)));
  }

  ChildRun run;
  const auto spawned_at = std::chrono::steady_clock::now();
  auto deadline =
      spawned_at +
      (kill_clock == KillClock::kFromSpawn ? run_time : kReadyWaitMax);
  bool clock_started = kill_clock == KillClock::kFromSpawn;
  std::optional<std::chrono::steady_clock::time_point> first_line_at;
  bool killed = false;
  char buffer[1 << 16];
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (!killed && now >= deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      if (first_line_at.has_value()) {
        run.time_after_open =
            std::chrono::duration_cast<std::chrono::microseconds>(
                now - *first_line_at);
      }
    }
    int timeout_millis = -1;
    if (!killed) {
      timeout_millis = static_cast<int>(
          std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count());
    }
    pollfd poll_fd{fds[0], POLLIN, 0};
    const int polled = ::poll(&poll_fd, 1, timeout_millis);
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone.
    if (run.output.size() + static_cast<size_t>(n) > kChildOutputBytesMax) {
      run.truncated = true;
    } else {
      run.output.append(buffer, static_cast<size_t>(n));
    }
    if (!first_line_at.has_value() &&
        run.output.find('\n') != std::string::npos) {
      first_line_at = std::chrono::steady_clock::now();
      run.time_to_ready = std::chrono::duration_cast<std::chrono::microseconds>(
          *first_line_at - spawned_at);
    }
    if (!clock_started && first_line_at.has_value()) {
      clock_started = true;  // The first line is READY (or BAD).
      deadline = *first_line_at + run_time;
    }
  }
  ::close(fds[0]);
  if (!killed) ::kill(pid, SIGKILL);  // EOF before the deadline: it exited.
  while (::waitpid(pid, &run.wait_status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("waitpid: ", std::strerror(errno)));
    }
  }
  return run;
}

struct Ack {
  uint64_t request_id = 0;
  uint64_t first_seq = 0;
  uint64_t entry_count = 0;
};

struct Replay {
  uint64_t request_id = 0;
  uint64_t first_seq = 0;
};

struct ChildReport {
  std::optional<uint64_t> ready_size;
  std::optional<std::chrono::microseconds> time_to_ready;
  std::optional<std::chrono::microseconds> time_after_open;
  std::vector<Ack> acks;
  std::vector<Replay> replays;
};

absl::StatusOr<ChildReport> ParseChildOutput(const std::string& output) {
  ChildReport report;
  if (!output.empty() && output.back() != '\n') {
    return absl::DataLossError("the child's last line is torn");
  }
  for (absl::string_view line :
       absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    const std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
    uint64_t numbers[3] = {0, 0, 0};
    bool parsed = words.size() >= 2 && words.size() <= 4;
    for (size_t i = 1; parsed && i < words.size(); ++i) {
      parsed = absl::SimpleAtoi(words[i], &numbers[i - 1]);
    }
    if (parsed && words[0] == "READY" && words.size() == 2 &&
        !report.ready_size.has_value()) {
      report.ready_size = numbers[0];
    } else if (parsed && words[0] == "ACK" && words.size() == 4) {
      report.acks.push_back({numbers[0], numbers[1], numbers[2]});
    } else if (parsed && words[0] == "REPLAY" && words.size() == 3) {
      report.replays.push_back({numbers[0], numbers[1]});
    } else {
      return absl::InternalError(
          absl::StrCat("unexpected line from the child: \"",
                       std::string(line.data(), line.size()), "\""));
    }
  }
  return report;
}

struct RequestSpan {
  uint64_t first_seq = 0;
  uint64_t entry_count = 0;
};

// Where each request of the log is, by request id.
using RequestMap = std::map<uint64_t, RequestSpan>;

// Walks the log's entries one request at a time and checks each against
// RequestOf(its id).
class RequestScanner {
 public:
  // Checks entries [begin_seq, end_seq): dense seqs, append times that never
  // decrease (and are one per request), and whole requests only, each equal
  // to what RequestOf rebuilds. Adds every request to `requests`; a request
  // already there is a duplicate. begin_seq and end_seq must be request
  // boundaries.
  absl::Status Scan(const Ledger& ledger, uint64_t begin_seq, uint64_t end_seq,
                    RequestMap* requests) {
    uint64_t seq = begin_seq;
    while (seq < end_seq) {
      absl::StatusOr<std::vector<StoredEntry>> entries =
          ledger.ReadEntries(seq, end_seq, 0);
      if (!entries.ok()) return entries.status();
      if (entries->empty()) {
        return absl::DataLossError(
            absl::StrCat("ReadEntries returned nothing at seq ", seq));
      }
      for (const StoredEntry& stored : *entries) {
        if (absl::Status s = CheckEntry(seq, stored.entry, requests); !s.ok()) {
          return s;
        }
        ++seq;
      }
    }
    if (next_index_ != 0) {
      return absl::DataLossError(absl::StrCat(
          "the log ends at seq ", end_seq, " inside request ", request_id_,
          " (", next_index_, " of ", entry_count_, " entries present)"));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status CheckEntry(uint64_t seq, const Entry& entry,
                          RequestMap* requests) {
    const auto bad = [seq](auto&&... what) {
      return absl::DataLossError(absl::StrCat("seq ", seq, ": ", what...));
    };
    if (entry.seq() != seq) return bad("the entry says seq ", entry.seq());
    if (entry.actor() != kActor || entry.kind() != kKind) {
      return bad("unexpected actor \"", entry.actor(), "\" or kind \"",
                 entry.kind(), "\"");
    }
    const std::optional<uint64_t> request_id =
        RequestIdOfKey(entry.idempotency_key());
    if (!request_id.has_value()) {
      return bad("foreign idempotency key \"", entry.idempotency_key(), "\"");
    }
    if (entry.append_time_micros() < append_time_micros_) {
      return bad("append time ", entry.append_time_micros(),
                 " is before the previous entry's ", append_time_micros_);
    }
    if (next_index_ == 0) {  // A request must start here.
      request_id_ = *request_id;
      entry_count_ = EntryCountOf(*request_id);
      first_seq_ = seq;
      append_time_micros_ = entry.append_time_micros();
    }
    if (*request_id != request_id_ || entry.request_index() != next_index_ ||
        entry.request_entry_count() != entry_count_ ||
        entry.append_time_micros() != append_time_micros_) {
      return bad("expected entry ", next_index_, " of ", entry_count_,
                 " of request ", request_id_, ", found entry ",
                 entry.request_index(), " of ", entry.request_entry_count(),
                 " of request ", *request_id, " (append time ",
                 entry.append_time_micros(), ")");
    }
    if (entry.payload() != PayloadOf(request_id_, next_index_)) {
      return bad("the payload of request ", request_id_, " entry ", next_index_,
                 " is not what was sent");
    }
    if (++next_index_ < entry_count_) return absl::OkStatus();
    const auto [it, inserted] =
        requests->emplace(request_id_, RequestSpan{first_seq_, entry_count_});
    if (!inserted) {
      return bad("request ", request_id_, " is in the log twice: at seq ",
                 it->second.first_seq, " and at seq ", first_seq_);
    }
    next_index_ = 0;
    return absl::OkStatus();
  }

  uint64_t request_id_ = 0;
  uint32_t entry_count_ = 0;
  uint32_t next_index_ = 0;
  uint64_t first_seq_ = 0;
  int64_t append_time_micros_ = 0;
};

// Checks that the latest checkpoint is signed, covers the whole ledger and
// extends the tree of (old_size, old_root). Returns the new root.
absl::StatusOr<merkle::Hash> CheckGrowth(const Ledger& ledger,
                                         uint64_t old_size,
                                         const merkle::Hash& old_root) {
  const SignedCheckpoint latest = ledger.LatestCheckpoint();
  if (latest.checkpoint.tree_size != ledger.size() ||
      latest.body != CheckpointBody(latest.checkpoint)) {
    return absl::DataLossError(absl::StrCat(
        "the latest checkpoint (size ", latest.checkpoint.tree_size,
        ") does not describe the ledger of size ", ledger.size()));
  }
  if (absl::Status s = ledger.verifier().Verify(latest.body, latest.signature);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<merkle::Hash> root = ledger.RootAt(ledger.size());
  if (!root.ok()) return root.status();
  if (*root != latest.checkpoint.root_hash) {
    return absl::DataLossError("RootAt(size) differs from the checkpoint");
  }
  if (old_size > ledger.size()) {
    return absl::DataLossError(absl::StrCat("the ledger shrank from ", old_size,
                                            " to ", ledger.size()));
  }
  absl::StatusOr<merkle::Hash> stored_old_root = ledger.RootAt(old_size);
  if (!stored_old_root.ok()) return stored_old_root.status();
  if (*stored_old_root != old_root) {
    return absl::DataLossError(
        absl::StrCat("the root of the tree of size ", old_size, " changed"));
  }
  absl::StatusOr<std::vector<merkle::Hash>> proof =
      ledger.ConsistencyProof(old_size, ledger.size());
  if (!proof.ok()) return proof.status();
  if (absl::Status s = merkle::VerifyConsistency(old_size, ledger.size(),
                                                 old_root, *root, *proof);
      !s.ok()) {
    return s;
  }
  return *root;
}

// Re-sends request `request_id`, known to be at `span`, and checks that the
// ledger replays it without appending.
absl::Status CheckReplay(Ledger& ledger, uint64_t request_id,
                         const RequestSpan& span) {
  const uint64_t size_before = ledger.size();
  absl::StatusOr<AppendReceipt> receipt = ledger.Append(RequestOf(request_id));
  if (!receipt.ok()) return receipt.status();
  if (!receipt->replayed || receipt->first_seq != span.first_seq ||
      receipt->entry_count != span.entry_count ||
      receipt->tree_size < span.first_seq + span.entry_count ||
      ledger.size() != size_before) {
    return absl::InternalError(absl::StrCat(
        "re-sending request ", request_id, " (at seq ", span.first_seq,
        ") gave first ", receipt->first_seq, " count ", receipt->entry_count,
        " replayed ", receipt->replayed, "; size ", size_before, " -> ",
        ledger.size()));
  }
  return absl::OkStatus();
}

// The same idempotency key with other content must be refused.
absl::Status CheckConflict(Ledger& ledger, uint64_t request_id) {
  const uint64_t size_before = ledger.size();
  AppendRequest request = RequestOf(request_id);
  request.entries.back().payload += " (changed)";
  absl::StatusOr<AppendReceipt> receipt = ledger.Append(request);
  if (!absl::IsAlreadyExists(receipt.status()) ||
      ledger.size() != size_before) {
    return absl::InternalError(
        absl::StrCat("a changed request under the key of request ", request_id,
                     " gave status ", receipt.status().ToString(), "; size ",
                     size_before, " -> ", ledger.size()));
  }
  return absl::OkStatus();
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& file :
       std::filesystem::recursive_directory_iterator(dir, error)) {
    if (file.is_regular_file(error)) bytes += file.file_size(error);
  }
  return bytes;
}

// Whether a streamed append was interrupted: its mark is in the database.
bool StagedAppendLeft(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(
      {.path = absl::StrCat(dir, "/", storage::kDatabaseDirectory),
       .mode = storage::Store::Mode::kReadOnly});
  if (!store.ok()) return false;
  absl::StatusOr<std::optional<std::string>> mark =
      (*store)->Get(storage::Family::kMeta, storage::kMetaStagedFrom);
  return mark.ok() && mark->has_value();
}

absl::StatusOr<std::unique_ptr<Ledger>> OpenLedger(const std::string& dir,
                                                   bool create_if_missing) {
  LedgerOptions options;
  options.data_dir = dir;
  options.create_if_missing = create_if_missing;
  return Ledger::Open(options);
}

// The state of one crash test run: what the log and the child have shown so
// far. Each method checks one step of a cycle with gtest assertions.
class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = EnvOr("CRASH_SEED", kDefaultSeed);
    random_.seed(seed_);
    dir_ = absl::StrCat(::testing::TempDir(), "crash_test.", ::getpid());
    std::filesystem::remove_all(dir_);
  }

  // One cycle: run the child, kill it, check the ledger, verify it.
  void RunCycle(uint64_t cycle) {
    std::chrono::microseconds run_time = std::chrono::milliseconds(
        kChildRunMillisMin +
        random_() % (kChildRunMillisMax - kChildRunMillisMin + 1));
    // The first child creates the ledger. Killing it while it does is
    // KilledWhileCreating's business, so its clock starts once the
    // ledger exists; it also shows how long a start takes here.
    const KillClock kill_clock =
        cycle == 0 ? KillClock::kFromReady : KillClock::kFromSpawn;
    if (kill_clock == KillClock::kFromSpawn) {
      const bool aim_at_open = random_() % 4 == 0;
      run_time =
          aim_at_open
              ? std::chrono::microseconds(random_() % (ready_time_.count() + 1))
              : ready_time_ + run_time;
    }
    const uint64_t first_request_id = (cycle + 1) * kRequestIdsPerRun;
    ChildReport report;
    ASSERT_NO_FATAL_FAILURE(
        RunChild(first_request_id, run_time, kill_clock, &report));
    if (report.ready_size.has_value()) {
      ++opened_cycles_;
      ready_time_ = std::max(ready_time_, report.time_to_ready.value());
    }

    // A kill inside a streamed append leaves its staged records marked;
    // the Open below must remove them (counted, to show such kills happen).
    const bool staged = created_ && StagedAppendLeft(dir_);
    if (staged) ++interrupted_streamed_;

    // Before any open succeeded the child may have died before creating the
    // ledger; afterwards the ledger must be there.
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        OpenLedger(dir_, /*create_if_missing=*/!created_);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    created_ = true;
    const uint64_t size = (*ledger)->size();
    absl::StatusOr<merkle::Hash> root =
        CheckGrowth(**ledger, checked_size_, checked_root_);
    ASSERT_TRUE(root.ok()) << root.status();
    const size_t requests_before = in_log_.size();
    RequestScanner scanner;
    absl::Status scanned =
        scanner.Scan(**ledger, checked_size_, size, &in_log_);
    ASSERT_TRUE(scanned.ok()) << scanned;
    ASSERT_NO_FATAL_FAILURE(CheckAcks(report, first_request_id));
    ASSERT_NO_FATAL_FAILURE(Resend(**ledger, report, first_request_id));
    ledger->reset();
    ASSERT_NO_FATAL_FAILURE(Verify(size));

    // A child that appended nothing for a long time after its Open found
    // the ledger's writes stopped. Not a failure of the ledger's promises,
    // but the cycle tested nothing: counted and reported.
    const size_t new_requests = in_log_.size() - requests_before;
    const bool stalled = new_requests == 0 && report.time_after_open.value_or(
                                                  kStallTime) > kStallTime;
    if (stalled) ++stalled_cycles_;
    std::printf(
        "cycle %3llu: child ran %3lld ms (%s), %4zu acks, %3zu child replays, "
        "%4zu new requests in the log, size %llu%s%s\n",
        static_cast<unsigned long long>(cycle),
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(run_time)
                .count()),
        report.ready_size.has_value() ? "opened" : "killed in Open",
        report.acks.size(), report.replays.size(), new_requests,
        static_cast<unsigned long long>(size),
        staged ? ", killed inside a streamed append" : "",
        stalled ? "  STALLED: no append completed after the child's Open" : "");
    checked_size_ = size;
    checked_root_ = *root;
  }

  void RunChild(uint64_t first_request_id, std::chrono::microseconds run_time,
                KillClock kill_clock, ChildReport* report) {
    absl::StatusOr<ChildRun> run =
        RunChildUntilKilled(dir_, first_request_id, run_time, kill_clock);
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_TRUE(WIFSIGNALED(run->wait_status) &&
                WTERMSIG(run->wait_status) == SIGKILL)
        << "the child ended by itself (wait status " << run->wait_status
        << "); its output ends with: "
        << run->output.substr(run->output.size() -
                              std::min<size_t>(run->output.size(), 500));
    ASSERT_FALSE(run->truncated);
    absl::StatusOr<ChildReport> parsed = ParseChildOutput(run->output);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    if (parsed->ready_size.has_value()) {
      // Nothing happened between the parent's Close and the child's Open.
      ASSERT_EQ(*parsed->ready_size, checked_size_);
    }
    *report = *std::move(parsed);
    report->time_to_ready = run->time_to_ready;
    report->time_after_open = run->time_after_open;
  }

  // Every request the child acknowledged is in the log where its ACK says.
  void CheckAcks(const ChildReport& report, uint64_t first_request_id) {
    for (const Ack& ack : report.acks) {
      SCOPED_TRACE(absl::StrCat("acknowledged request ", ack.request_id));
      ASSERT_GE(ack.request_id, first_request_id);
      ASSERT_TRUE(acked_.emplace(ack.request_id, ack).second)
          << "acknowledged twice";
      const auto it = in_log_.find(ack.request_id);
      ASSERT_NE(it, in_log_.end()) << "an acknowledged request is lost";
      ASSERT_EQ(it->second.first_seq, ack.first_seq);
      ASSERT_EQ(it->second.entry_count, ack.entry_count);
      acked_entries_ += ack.entry_count;
    }
    for (const Replay& replay : report.replays) {
      const auto it = acked_.find(replay.request_id);
      ASSERT_TRUE(it != acked_.end() &&
                  it->second.first_seq == replay.first_seq)
          << "the child replayed request " << replay.request_id << " at seq "
          << replay.first_seq << ", which it never acknowledged there";
    }
    child_replays_ += report.replays.size();
  }

  // Re-sends, through this process, one request of this cycle that was
  // acknowledged, one of any cycle, and one that was committed but never
  // acknowledged (the kill fell between the two); once per run, also a
  // conflicting request.
  void Resend(Ledger& ledger, const ChildReport& report,
              uint64_t first_request_id) {
    const uint64_t size = ledger.size();
    if (!report.acks.empty()) {
      const Ack& ack = report.acks[random_() % report.acks.size()];
      absl::Status s =
          CheckReplay(ledger, ack.request_id, {ack.first_seq, ack.entry_count});
      ASSERT_TRUE(s.ok()) << s;
      ++parent_replays_;
      if (!conflict_checked_) {
        s = CheckConflict(ledger, ack.request_id);
        ASSERT_TRUE(s.ok()) << s;
        conflict_checked_ = true;
      }
    }
    if (!acked_.empty()) {  // Any earlier cycle's, found through the SSTs.
      const auto& [request_id, ack] =
          *std::next(acked_.begin(), random_() % acked_.size());
      absl::Status s =
          CheckReplay(ledger, request_id, {ack.first_seq, ack.entry_count});
      ASSERT_TRUE(s.ok()) << s;
      ++parent_replays_;
    }
    for (auto it = in_log_.lower_bound(first_request_id); it != in_log_.end();
         ++it) {
      if (acked_.contains(it->first)) continue;
      absl::Status s = CheckReplay(ledger, it->first, it->second);
      ASSERT_TRUE(s.ok()) << s;
      ++parent_replays_;
      break;
    }
    ASSERT_EQ(ledger.size(), size) << "a re-send appended";
  }

  void Verify(uint64_t size) {
    VerifyOptions options;
    options.data_dir = dir_;
    VerifyReport report;
    absl::Status verified = VerifyLedger(options, &report);
    ASSERT_TRUE(verified.ok()) << verified;
    ASSERT_EQ(report.tree_size, size);
    ASSERT_EQ(report.entries_checked, size);
    ASSERT_EQ(report.requests_checked, in_log_.size());
  }

  // Everything again, from seq 0, with one scanner over the whole log.
  void RescanAll() {
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        OpenLedger(dir_, /*create_if_missing=*/false);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ASSERT_EQ((*ledger)->size(), checked_size_);
    RequestMap rescanned;
    RequestScanner scanner;
    absl::Status scanned =
        scanner.Scan(**ledger, 0, (*ledger)->size(), &rescanned);
    ASSERT_TRUE(scanned.ok()) << scanned;
    ASSERT_EQ(rescanned.size(), in_log_.size());
    for (const auto& [request_id, ack] : acked_) {
      const auto it = rescanned.find(request_id);
      ASSERT_TRUE(it != rescanned.end() &&
                  it->second.first_seq == ack.first_seq)
          << "request " << request_id << " lost";
    }
  }

  uint64_t seed_ = 0;
  std::mt19937_64 random_;
  std::string dir_;
  RequestMap in_log_;              // Every request found in the log.
  std::map<uint64_t, Ack> acked_;  // Every request the child acknowledged.
  uint64_t checked_size_ = 0;      // The log is checked up to here,
  merkle::Hash checked_root_ = merkle::EmptyRoot();  // whose root is this.
  bool created_ = false;
  bool conflict_checked_ = false;
  // The child's longest time yet from spawn to READY (its start and Open),
  // which grows with the ledger and jumps when the machine is busy.
  std::chrono::microseconds ready_time_{0};
  uint64_t opened_cycles_ = 0;
  uint64_t child_replays_ = 0;
  uint64_t parent_replays_ = 0;
  uint64_t acked_entries_ = 0;
  uint64_t stalled_cycles_ = 0;
  uint64_t interrupted_streamed_ = 0;
};

TEST_F(CrashTest, AcknowledgedAppendsSurviveSigkill) {
  const uint64_t cycles = EnvOr("CRASH_CYCLES", kDefaultCycles);
  std::printf("crash_test: seed %llu, %llu cycles, data dir %s\n",
              static_cast<unsigned long long>(seed_),
              static_cast<unsigned long long>(cycles), dir_.c_str());
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle, " of seed ", seed_));
    ASSERT_NO_FATAL_FAILURE(RunCycle(cycle));
  }
  ASSERT_TRUE(conflict_checked_) << "no cycle acknowledged anything";
  ASSERT_NO_FATAL_FAILURE(RescanAll());
  // Kills are aimed at both sides of the child's Open; a run that saw only
  // one side tested half of what it claims (expected: about 3 in 4 open).
  if (cycles >= kCyclesForCoverage) {
    EXPECT_GE(opened_cycles_, cycles / 3) << "too few kills after the Open";
    EXPECT_LT(opened_cycles_, cycles) << "no kill inside the child's Open";
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "crash_test summary: seed %llu, %llu cycles, %zu acknowledged requests "
      "(%llu entries), %zu requests in the log (%zu committed but never "
      "acknowledged), %zu of them streamed, %llu kills inside a streamed "
      "append, %llu child + %llu parent replays, %llu stalled cycles, "
      "%llu killed in Open (the longest open took %lld ms), "
      "final size %llu entries / %.1f MB on disk, %.1f s\n",
      static_cast<unsigned long long>(seed_),
      static_cast<unsigned long long>(cycles), acked_.size(),
      static_cast<unsigned long long>(acked_entries_), in_log_.size(),
      in_log_.size() - acked_.size(),
      static_cast<size_t>(std::count_if(
          acked_.begin(), acked_.end(),
          [](const auto& acked) { return IsStreamed(acked.first); })),
      static_cast<unsigned long long>(interrupted_streamed_),
      static_cast<unsigned long long>(child_replays_),
      static_cast<unsigned long long>(parent_replays_),
      static_cast<unsigned long long>(stalled_cycles_),
      static_cast<unsigned long long>(cycles - opened_cycles_),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(ready_time_)
              .count()),
      static_cast<unsigned long long>(checked_size_),
      static_cast<double>(DirectoryBytes(dir_)) / 1e6, seconds);
  // Kept on failure (the assertions above return early), for a post-mortem.
  if (EnvOr("CRASH_KEEP_DIR", 0) == 0) std::filesystem::remove_all(dir_);
}

// A ledger killed while Ledger::Open creates it (the data directory, the
// signing key, the RocksDB database and its column families, the first
// checkpoint) must open afterwards, holding only whole requests.
// (It found that a kill between writing the private and the public key
// left a directory that could never be opened again; key files are now
// written whole or not at all, and an incomplete pair in an uninitialized
// ledger is made anew.)
TEST_F(CrashTest, KilledWhileCreating) {
  constexpr int kTrials = 60;
  // Creating a ledger takes about 40 ms here; the sweep covers all of it.
  constexpr int kDelayMicrosMax = 60'000;
  const std::string base =
      absl::StrCat(::testing::TempDir(), "crash_test_create.", ::getpid());
  int refused = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const std::string dir = absl::StrCat(base, "/", trial);
    const std::chrono::microseconds delay(trial * kDelayMicrosMax / kTrials +
                                          random_() % 1000);
    absl::StatusOr<ChildRun> run = RunChildUntilKilled(
        dir, kRequestIdsPerRun, delay, KillClock::kFromSpawn);
    ASSERT_TRUE(run.ok()) << run.status();
    absl::StatusOr<ChildReport> report = ParseChildOutput(run->output);
    ASSERT_TRUE(report.ok()) << report.status();
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        OpenLedger(dir, /*create_if_missing=*/true);
    if (!ledger.ok()) {
      ADD_FAILURE() << "killed after " << delay.count() << " us while creating "
                    << dir
                    << ", the ledger cannot be opened: " << ledger.status();
      ++refused;
      continue;
    }
    RequestMap in_log;
    RequestScanner scanner;
    absl::Status scanned =
        scanner.Scan(**ledger, 0, (*ledger)->size(), &in_log);
    ASSERT_TRUE(scanned.ok()) << scanned;
    for (const Ack& ack : report->acks) {
      ASSERT_TRUE(in_log.contains(ack.request_id)) << ack.request_id;
    }
  }
  std::printf(
      "crash_test creation sweep: %d of %d kills left an unopenable "
      "ledger\n",
      refused, kTrials);
  if (refused == 0) std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace premium::crash
