// Load generators of the benchmark (tests/bench/run): what a running server
// does under closed-loop load, next to the limits it is judged against.
//
//   - RunLookupLoad: WorkerService/LookupCode, the public, tokenless call
//     (the paystub code is the credential; DESIGN section 6);
//   - RunEmptyCallLoad: grpc.health.v1.Health/Check on the same server, the
//     cheapest call gRPC can serve there: the RPC's own limit, beside which
//     lookups are judged;
//   - RunRawRocksIngest: payroll lines written straight into RocksDB with
//     the ledger store's options, in synced batches of the streamed append's
//     size: the store's limit, beside which uploads are judged.
//
// Every function runs to its end in the calling thread (starting and joining
// its own client threads) and returns figures or a status; nothing here
// throws. Errors of the calls under load are figures (counted by status
// code), not a failed status: the caller decides that a run with errors
// failed. A status other than OK means the run itself could not be made
// (bad options, a server that cannot be reached, an unreadable file).
//
// Memory is bounded whatever the duration: each client keeps one latency
// histogram of fixed size (LatencyHistogram), never a list of samples.
#ifndef PREMIUM_TESTS_BENCH_LOAD_H_
#define PREMIUM_TESTS_BENCH_LOAD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ledger/csv/csv_reader.h"
#include "ledger/ledger.h"

namespace premium::bench {

// ---------------------------------------------------------------------------
// Latencies.

// A log-linear histogram of durations in nanoseconds (as HdrHistogram lays
// out its buckets): values below 256 ns are exact, larger ones fall into one
// of 128 equal buckets per power of two, so that a value read back is at most
// 1/128 (under 0.8 %) above the one recorded. Fixed size (about 60 KiB)
// whatever is recorded. Not thread-safe: one per client, merged at the end.
class LatencyHistogram {
 public:
  void Record(uint64_t latency_ns);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t max_ns() const { return max_ns_; }
  double mean_ns() const;
  // The smallest recorded value v such that at least `fraction` (in (0, 1])
  // of the values are <= v, rounded up to its bucket's upper end but never
  // past max_ns(): so that percentiles never decrease with the fraction and
  // never exceed the maximum. 0 when nothing was recorded.
  uint64_t PercentileNs(double fraction) const;

 private:
  static constexpr int kExactBits = 8;      // values < 256 have a bucket each
  static constexpr int kSubBucketBits = 7;  // 128 buckets per power of two
  static constexpr size_t kBucketCount =
      (size_t{1} << kExactBits) +
      (64 - kExactBits) * (size_t{1} << kSubBucketBits);

  static size_t BucketOf(uint64_t value_ns);
  static uint64_t BucketUpperNs(size_t bucket);

  std::array<uint64_t, kBucketCount> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ns_ = 0;
  // Sum in nanoseconds, for the mean: 2^64 ns is 584 years of calls.
  uint64_t sum_ns_ = 0;
};

// The percentiles a run reports, in microseconds.
struct LatencySummary {
  uint64_t count = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

LatencySummary Summarize(const LatencyHistogram& histogram);

// ---------------------------------------------------------------------------
// Closed-loop call load.

// Clients one run may start at most: each is a thread with its own channel.
inline constexpr int kClientsMax = 1024;
// Paystub codes LoadPaystubCodes keeps at most (about 20 bytes each).
inline constexpr size_t kPaystubCodesMax = 20'000'000;

struct LoadOptions {
  // "host:port" of the server, reached without TLS.
  std::string server_address;
  // Concurrent clients, 1 to kClientsMax. Each has its own channel (channel
  // arguments that differ per client and a local subchannel pool), hence its
  // own TCP connection: N clients are N HTTP/2 connections, not N streams on
  // one. Each keeps exactly one call in flight (closed loop).
  int clients = 1;
  // Measured time, after the warm-up. Calls that complete inside it are the
  // run's calls, whenever they started.
  absl::Duration duration = absl::Seconds(10);
  // Time before the measurement, for connections, caches and the server's
  // threads to settle. Its calls are counted apart (warmup_calls).
  absl::Duration warmup = absl::Seconds(2);
  // Deadline of each call; a call past it is a DEADLINE_EXCEEDED error.
  absl::Duration call_deadline = absl::Seconds(5);
  // How long each client may take to connect before the run starts; a client
  // that cannot connect makes the whole run Unavailable.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Seed of the codes' draw: client i draws from a generator seeded with
  // seed + i, so that two runs with the same options ask the same codes.
  uint64_t seed = 1;
};

// One status code's errors: how many, and the message of the first.
struct ErrorTally {
  uint64_t count = 0;
  std::string first_message;
};

struct LoadResult {
  int clients = 0;
  // The measured time (LoadOptions::duration), in seconds.
  double seconds = 0;
  // Calls completed in the measured time, errors included.
  uint64_t calls = 0;
  // Of those, the ones that failed.
  uint64_t errors = 0;
  double calls_per_second = 0;
  // Latencies of the measured calls, errors included.
  LatencySummary latency;
  // Calls completed during the warm-up, and the ones of them that failed.
  uint64_t warmup_calls = 0;
  uint64_t warmup_errors = 0;
  // Every error of the run, warm-up included, by status code: the counts
  // add up to errors + warmup_errors.
  std::map<absl::StatusCode, ErrorTally> errors_by_code;
};

// Reads the paystub codes of premiumctl's codes-out files (CSV with the
// header worker_id,program_id,period_start,period_end,code, in any column
// order), every file's codes in file order, read with the ledger's strict
// CSV reader.
// Returns, each naming the file: NotFound for a file that cannot be opened;
// InvalidArgument (with the line) for a file that is not such a CSV or an
// empty code; ResourceExhausted past `codes_max` codes or a CSV reader
// limit. Files with a header row only give no codes, which is not an error
// here (RunLookupLoad refuses an empty list).
absl::StatusOr<std::vector<std::string>> LoadPaystubCodes(
    absl::Span<const std::string> paths, size_t codes_max = kPaystubCodesMax);

// Closed-loop WorkerService/LookupCode calls with no token, for
// options.warmup + options.duration; each call asks a code drawn uniformly
// from `codes` (see LoadOptions::seed). A code that the server does not
// know is an error like any other: the server's failed-lookup limiter then
// answers RESOURCE_EXHAUSTED, which is counted, and the run still ends on
// time.
// Returns InvalidArgument for empty `codes` or options out of range, and
// Unavailable if a client could not connect within connect_timeout.
absl::StatusOr<LoadResult> RunLookupLoad(const LoadOptions& options,
                                         absl::Span<const std::string> codes);

// The same loop with grpc.health.v1.Health/Check for the server as a whole
// (service ""). Same errors as RunLookupLoad, except for the codes.
absl::StatusOr<LoadResult> RunEmptyCallLoad(const LoadOptions& options);

// ---------------------------------------------------------------------------
// Raw store ingest.

struct RawIngestOptions {
  // Where the RocksDB database is created. It must not hold one already
  // (FailedPrecondition): the figure is that of a fresh store.
  std::string dir;
  // Lines per synced WriteBatch. Default: the entries of each batch the
  // ledger's streamed append (AppendStreamed, which payroll uploads use)
  // stages, LedgerOptions::streamed_batch_entries.
  size_t batch_lines = LedgerOptions{}.streamed_batch_entries;
  // Bytes of one line at most (a longer one is ResourceExhausted): the CSV
  // reader's record limit for uploads.
  size_t line_bytes_max = csv::Limits{}.record_bytes_max;
  // Lines of the whole run at most (ResourceExhausted past it).
  uint64_t lines_max = 100'000'000;
  // Memtables and block cache, as the ledger's defaults (which premiumd's
  // --write-buffer-mib and --block-cache-mib keep).
  size_t write_buffer_bytes = LedgerOptions{}.write_buffer_bytes;
  size_t block_cache_bytes = LedgerOptions{}.block_cache_bytes;
};

struct RawIngestResult {
  uint64_t files = 0;
  // Data lines written (header rows and blank lines are not).
  uint64_t lines = 0;
  // Bytes of those lines, line ends excluded: the values written.
  uint64_t bytes = 0;
  // Synced WriteBatches written.
  uint64_t batches = 0;
  // From the first byte read to the last batch synced; opening and closing
  // the database are not counted.
  double seconds = 0;
  double lines_per_second = 0;
  // Of `bytes`, in units of 10^6 bytes per second.
  double megabytes_per_second = 0;
};

// Writes every data line of the payroll CSV `files` (the first non-blank
// record of each file is its header and is skipped) into a new ledger store
// (storage::Store, the ledger's options) in options.dir, in its entries
// column family, under storage::SeqKey(n) (8 bytes, big-endian) for the n-th
// line of the run from 0, with nothing else: no hashing, no index. Lines are
// written in synced WriteBatches of options.batch_lines; a batch never spans
// two files, as an upload is committed on its own. A line is a CSV record:
// a line end inside a quoted field does not end it, a CR before the LF is
// dropped.
// Returns InvalidArgument for options out of range or no files; NotFound for
// a file that cannot be opened; FailedPrecondition if options.dir holds a
// database; ResourceExhausted past a limit; the store's error otherwise.
absl::StatusOr<RawIngestResult> RunRawRocksIngest(
    const RawIngestOptions& options, absl::Span<const std::string> files);

}  // namespace premium::bench

#endif  // PREMIUM_TESTS_BENCH_LOAD_H_
