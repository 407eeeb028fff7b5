// The workload of the crash test, shared by the child that appends
// (ledger_crash_child.cc) and the parent that kills it and checks the ledger
// (crash_test.cc).
//
// Every request is a pure function of its request id: its idempotency key,
// its entry count and every payload byte. So the parent can rebuild any
// request, whether the child acknowledged it or the log merely holds it, and
// compare what is stored with what was sent, byte for byte.
//
// The child's stdout protocol, one line per write(2), never torn (each line
// is far below PIPE_BUF):
//
//   READY <tree size after Open>
//   ACK <request id> <first seq> <entry count>     a new request is durable
//   REPLAY <request id> <first seq>                a re-send was replayed
//   BAD <text>                                     the child saw a violation
#ifndef PREMIUM_TESTS_CRASH_CRASH_WORKLOAD_H_
#define PREMIUM_TESTS_CRASH_CRASH_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "ledger/ledger.h"

namespace premium::crash {

inline constexpr char kActor[] = "crash-child";
inline constexpr char kKind[] = "premium.test.CrashEntry";
inline constexpr char kKeyPrefix[] = "crash-";

// An ordinary request holds 1 to kRequestEntriesMax entries.
inline constexpr uint32_t kRequestEntriesMax = 50;
// Payloads are kPayloadBytesMin to kPayloadBytesMin + kPayloadBytesSpread - 1
// bytes: about 200, like a payroll line.
inline constexpr size_t kPayloadBytesMin = 180;
inline constexpr size_t kPayloadBytesSpread = 41;
// Child run k takes its request ids from [k, k + 1) * kRequestIdsPerRun, so
// two runs never share an id (a run appends far fewer requests than this).
inline constexpr uint64_t kRequestIdsPerRun = 1'000'000'000;

static_assert(kPayloadBytesMin + kPayloadBytesSpread <= kPayloadBytesMax);

// splitmix64's finalizer: a cheap, well-mixed function of one integer.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// About one request in kStreamedOneIn is a large one, appended with
// Ledger::AppendStreamed in batches of kStreamedBatchEntries: kill points
// then fall between its unsynced batches and before its commit.
inline constexpr uint64_t kStreamedOneIn = 32;
inline constexpr uint32_t kStreamedEntriesMin = 1000;
inline constexpr uint32_t kStreamedEntriesSpread = 3000;
inline constexpr size_t kStreamedBatchEntries = 400;

inline bool IsStreamed(uint64_t request_id) {
  return Mix(request_id ^ 0x5bd1e995ULL) % kStreamedOneIn == 0;
}

inline uint32_t EntryCountOf(uint64_t request_id) {
  if (IsStreamed(request_id)) {
    return kStreamedEntriesMin +
           static_cast<uint32_t>(Mix(request_id) % kStreamedEntriesSpread);
  }
  return 1 + static_cast<uint32_t>(Mix(request_id) % kRequestEntriesMax);
}

inline std::string IdempotencyKeyOf(uint64_t request_id) {
  return absl::StrCat(kKeyPrefix, request_id);
}

// The request id named by an idempotency key, or nullopt if the key is not
// one of this workload's.
inline std::optional<uint64_t> RequestIdOfKey(absl::string_view key) {
  absl::string_view digits = key;
  uint64_t request_id = 0;
  if (!absl::ConsumePrefix(&digits, kKeyPrefix) ||
      !absl::SimpleAtoi(digits, &request_id) ||
      absl::string_view(IdempotencyKeyOf(request_id)) != key) {
    return std::nullopt;
  }
  return request_id;
}

// "request=<id> index=<i> of=<n> " followed by pseudo-random letters and
// digits up to a length derived from (id, index).
inline std::string PayloadOf(uint64_t request_id, uint32_t request_index) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string payload =
      absl::StrCat("request=", request_id, " index=", request_index,
                   " of=", EntryCountOf(request_id), " ");
  uint64_t state = Mix(request_id ^ Mix(request_index + 1));
  const size_t length = kPayloadBytesMin + state % kPayloadBytesSpread;
  while (payload.size() < length) {
    state = Mix(state);
    payload.push_back(kAlphabet[state % (sizeof(kAlphabet) - 1)]);
  }
  return payload;
}

// The entries of RequestOf(request_id), made as the ledger pulls them.
class RequestSource final : public EntrySource {
 public:
  explicit RequestSource(uint64_t request_id) : request_id_(request_id) {}
  absl::StatusOr<std::vector<AppendEntry>> Next(size_t max_entries) override {
    std::vector<AppendEntry> entries;
    const uint32_t count = EntryCountOf(request_id_);
    for (; next_ < count && entries.size() < max_entries; ++next_) {
      entries.push_back(AppendEntry{kKind, PayloadOf(request_id_, next_)});
    }
    return entries;
  }

 private:
  const uint64_t request_id_;
  uint32_t next_ = 0;
};

inline AppendRequest RequestOf(uint64_t request_id) {
  AppendRequest request;
  request.actor = kActor;
  request.idempotency_key = IdempotencyKeyOf(request_id);
  const uint32_t count = EntryCountOf(request_id);
  request.entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    request.entries.push_back(AppendEntry{kKind, PayloadOf(request_id, i)});
  }
  return request;
}

}  // namespace premium::crash

#endif  // PREMIUM_TESTS_CRASH_CRASH_WORKLOAD_H_
