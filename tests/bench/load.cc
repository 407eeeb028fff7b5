#include "tests/bench/load.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "ledger/storage/format.h"
#include "ledger/storage/store.h"
#include "rocksdb/write_batch.h"
#include "services/grpc_status.h"
#include "wsr/premium/v1/worker.pb.h"

namespace premium::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kLookupMethod[] = "/wsr.premium.v1.WorkerService/LookupCode";
// Debian ships no client stub of grpc.health.v1, hence the generic stub and
// the message by hand: HealthCheckRequest{service = ""} is the empty message,
// HealthCheckResponse{status = SERVING} is field 1, varint 1.
constexpr char kHealthCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr char kHealthServingResponse[] = "\x08\x01";

// Files are read in chunks of this many bytes: large enough that a read
// costs nothing next to a synced write, small enough to stay in cache.
constexpr size_t kReadChunkBytes = 1 << 20;
// The longest run a caller may ask for; beyond it a typo, not a benchmark.
constexpr absl::Duration kRunDurationMax = absl::Hours(24);
// Calls of one client at most, whatever the duration: a bound for the loop
// that no real run reaches (a million calls a second for ten days).
constexpr uint64_t kCallsPerClientMax = uint64_t{1} << 40;
// How long past a call's deadline its completion may take to show up on the
// completion queue before the call is cancelled: the deadline ends every
// call, so this only guards against a stuck queue.
constexpr absl::Duration kCompletionMargin = absl::Seconds(5);

double ToSeconds(Clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

// ---------------------------------------------------------------------------
// One client of a closed-loop run.

// Makes the bytes of a client's next request.
using RequestMaker = std::function<std::string(std::mt19937_64& random)>;
// Checks the bytes of a successful response; an error makes the call one.
using ResponseCheck = std::function<absl::Status(const std::string& response)>;

struct CallLoad {
  std::string method;
  RequestMaker make_request;
  ResponseCheck check_response;
};

// What one client counted. Each client has its own, merged after the run, so
// that counting takes no lock.
struct ClientTally {
  uint64_t calls = 0;
  uint64_t errors = 0;
  uint64_t warmup_calls = 0;
  uint64_t warmup_errors = 0;
  LatencyHistogram latency;
  std::map<absl::StatusCode, ErrorTally> errors_by_code;
  // When the client's last call completed.
  Clock::time_point last_done{};
};

// The time line of a run, the same for every client.
struct RunClock {
  Clock::time_point start;
  Clock::time_point warmup_end;
  // No call starts at or after this.
  Clock::time_point end;
};

// A channel with a connection of its own: a local subchannel pool, and an
// argument no other client's channel has, so that gRPC shares no subchannel
// (and no HTTP/2 connection) between two clients.
std::shared_ptr<grpc::Channel> NewClientChannel(const std::string& address,
                                                int client_index) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  arguments.SetInt("premium.bench.client_index", client_index);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   arguments);
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::string out;
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// One unary call of `method` with `request`, on the client's own stub and
// completion queue (so that the client pays for the same machinery whatever
// the method), waited for to its end.
absl::Status UnaryCall(grpc::GenericStub& stub, grpc::CompletionQueue& queue,
                       const std::string& method, const std::string& request,
                       absl::Duration deadline, std::string* response) {
  grpc::ClientContext context;
  const absl::Time call_deadline = absl::Now() + deadline;
  context.set_deadline(absl::ToChronoTime(call_deadline));
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, method, request_buffer, &queue);
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, &context);
  void* tag = nullptr;
  bool ok = false;
  const grpc::CompletionQueue::NextStatus next = queue.AsyncNext(
      &tag, &ok, absl::ToChronoTime(call_deadline + kCompletionMargin));
  if (next != grpc::CompletionQueue::GOT_EVENT) {
    // The call must end before `context` goes.
    context.TryCancel();
    queue.Next(&tag, &ok);
    return absl::InternalError(
        "the call did not complete within its deadline and margin");
  }
  if (!status.ok()) return FromGrpcStatus(status);
  *response = ToString(reply);
  return absl::OkStatus();
}

void CountError(const absl::Status& status, ClientTally* tally) {
  ErrorTally& error = tally->errors_by_code[status.code()];
  if (error.count == 0) error.first_message = std::string(status.message());
  ++error.count;
}

void RunClient(const CallLoad& load, const LoadOptions& options,
               const std::shared_ptr<grpc::Channel>& channel, int client_index,
               const absl::Notification& go, const RunClock& run_clock,
               ClientTally* tally) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue queue;
  std::mt19937_64 random(options.seed + static_cast<uint64_t>(client_index));
  std::string response;
  go.WaitForNotification();
  for (uint64_t i = 0; i < kCallsPerClientMax; ++i) {
    // The latency is the call's alone: making the request and checking the
    // answer are left out of it.
    const std::string request = load.make_request(random);
    const Clock::time_point started = Clock::now();
    if (started >= run_clock.end) break;
    absl::Status status = UnaryCall(stub, queue, load.method, request,
                                    options.call_deadline, &response);
    const Clock::time_point done = Clock::now();
    if (status.ok()) status = load.check_response(response);
    // A call belongs to the phase it completes in: every call of the
    // measured time is counted, and the measured time ends with the last.
    if (done < run_clock.warmup_end) {
      ++tally->warmup_calls;
      if (!status.ok()) ++tally->warmup_errors;
    } else {
      ++tally->calls;
      if (!status.ok()) ++tally->errors;
      tally->latency.Record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(done - started)
              .count()));
      tally->last_done = done;
    }
    if (!status.ok()) CountError(status, tally);
  }
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
}

absl::Status CheckLoadOptions(const LoadOptions& options) {
  if (options.server_address.empty()) {
    return absl::InvalidArgumentError("no server address");
  }
  if (options.clients < 1 || options.clients > kClientsMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "clients must be 1 to ", kClientsMax, ", not ", options.clients));
  }
  if (options.duration <= absl::ZeroDuration() ||
      options.duration > kRunDurationMax ||
      options.warmup < absl::ZeroDuration() ||
      options.warmup > kRunDurationMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("the duration must be over 0 and the warm-up 0 or more, "
                     "both at most ",
                     absl::FormatDuration(kRunDurationMax)));
  }
  if (options.call_deadline <= absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "the call deadline and the connect timeout must be over 0");
  }
  return absl::OkStatus();
}

// Connects every client's channel before the clock starts, so that the
// warm-up measures calls rather than TCP handshakes and a server that is not
// there is one clear error.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectClients(
    const LoadOptions& options) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  channels.reserve(static_cast<size_t>(options.clients));
  const absl::Time deadline = absl::Now() + options.connect_timeout;
  for (int i = 0; i < options.clients; ++i) {
    channels.push_back(NewClientChannel(options.server_address, i));
    if (!channels.back()->WaitForConnected(absl::ToChronoTime(deadline))) {
      return absl::UnavailableError(absl::StrCat(
          "client ", i, " could not connect to ", options.server_address,
          " within ", absl::FormatDuration(options.connect_timeout)));
    }
  }
  return channels;
}

LoadResult MergeTallies(const LoadOptions& options, const RunClock& run_clock,
                        const std::vector<ClientTally>& tallies) {
  LoadResult result;
  result.clients = options.clients;
  LatencyHistogram latency;
  Clock::time_point last_done = run_clock.warmup_end;
  for (const ClientTally& tally : tallies) {
    result.calls += tally.calls;
    result.errors += tally.errors;
    result.warmup_calls += tally.warmup_calls;
    result.warmup_errors += tally.warmup_errors;
    latency.Merge(tally.latency);
    last_done = std::max(last_done, tally.last_done);
    for (const auto& [code, error] : tally.errors_by_code) {
      ErrorTally& merged = result.errors_by_code[code];
      if (merged.count == 0) merged.first_message = error.first_message;
      merged.count += error.count;
    }
  }
  // The measured time runs from the end of the warm-up to the last call's
  // completion, which the calls in flight at the end push a little past the
  // nominal duration.
  result.seconds = std::max(ToSeconds(last_done - run_clock.warmup_end),
                            absl::ToDoubleSeconds(options.duration));
  result.calls_per_second = static_cast<double>(result.calls) / result.seconds;
  result.latency = Summarize(latency);
  return result;
}

absl::StatusOr<LoadResult> RunCallLoad(const LoadOptions& options,
                                       const CallLoad& load) {
  if (absl::Status s = CheckLoadOptions(options); !s.ok()) return s;
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectClients(options);
  if (!channels.ok()) return channels.status();
  std::vector<ClientTally> tallies(static_cast<size_t>(options.clients));
  RunClock run_clock;
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(tallies.size());
  for (int i = 0; i < options.clients; ++i) {
    threads.emplace_back(RunClient, std::cref(load), std::cref(options),
                         std::cref((*channels)[static_cast<size_t>(i)]), i,
                         std::cref(go), std::cref(run_clock),
                         &tallies[static_cast<size_t>(i)]);
  }
  // Every thread exists before the clock starts: starting 64 threads takes
  // longer than a short warm-up.
  run_clock.start = Clock::now();
  run_clock.warmup_end =
      run_clock.start + absl::ToChronoNanoseconds(options.warmup);
  run_clock.end =
      run_clock.warmup_end + absl::ToChronoNanoseconds(options.duration);
  go.Notify();
  for (std::thread& thread : threads) thread.join();
  return MergeTallies(options, run_clock, tallies);
}

// ---------------------------------------------------------------------------
// Raw ingest.

// Splits a CSV input into its records' bytes, a chunk at a time, as the
// ledger's CSV reader would delimit them (a LF inside quotes does not end a
// record; a '""' inside quotes toggles twice and so changes nothing) but
// without parsing or checking fields: the cheapest reading there is.
class RecordSplitter {
 public:
  using OnRecord = std::function<absl::Status(absl::string_view record)>;

  explicit RecordSplitter(size_t record_bytes_max)
      : record_bytes_max_(record_bytes_max) {}

  absl::Status Feed(absl::string_view chunk, const OnRecord& on_record) {
    size_t record_start = 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      const char c = chunk[i];
      if (c == '"') {
        in_quotes_ = !in_quotes_;
      } else if (c == '\n') {
        if (!in_quotes_) {
          if (absl::Status s =
                  Emit(chunk.substr(record_start, i - record_start), on_record);
              !s.ok()) {
            return s;
          }
          record_start = i + 1;
        }
        ++line_;
      }
    }
    return Keep(chunk.substr(record_start));
  }

  // The last record, if the input does not end with a line end.
  absl::Status Finish(const OnRecord& on_record) {
    if (partial_.empty()) return absl::OkStatus();
    return Emit("", on_record);
  }

 private:
  absl::Status Keep(absl::string_view bytes) {
    if (partial_.size() + bytes.size() > record_bytes_max_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("line ", line_, ": a record over the limit of ",
                       record_bytes_max_, " bytes"));
    }
    partial_.append(bytes.data(), bytes.size());
    return absl::OkStatus();
  }

  absl::Status Emit(absl::string_view tail, const OnRecord& on_record) {
    absl::string_view record = tail;
    if (!partial_.empty()) {
      if (absl::Status s = Keep(tail); !s.ok()) return s;
      record = partial_;
    } else if (record.size() > record_bytes_max_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("line ", line_, ": a record over the limit of ",
                       record_bytes_max_, " bytes"));
    }
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    absl::Status status = on_record(record);
    partial_.clear();
    return status;
  }

  const size_t record_bytes_max_;
  bool in_quotes_ = false;
  // Physical line of the next byte, for messages.
  uint64_t line_ = 1;
  // The start of a record that the previous chunks did not end.
  std::string partial_;
};

// Writes the lines of one run into the store, in synced batches.
class RawWriter {
 public:
  RawWriter(const RawIngestOptions& options, storage::Store* store,
            RawIngestResult* result)
      : options_(options), store_(store), result_(result) {}

  absl::Status Add(absl::string_view line) {
    if (result_->lines == options_.lines_max) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "more than the limit of ", options_.lines_max, " lines"));
    }
    const rocksdb::Status put =
        batch_.Put(store_->handle(storage::Family::kEntries),
                   storage::SeqKey(result_->lines),
                   rocksdb::Slice(line.data(), line.size()));
    if (absl::Status s = storage::FromRocksStatus(put, "batching a line");
        !s.ok()) {
      return s;
    }
    ++result_->lines;
    result_->bytes += line.size();
    if (static_cast<size_t>(batch_.Count()) == options_.batch_lines) {
      return Commit();
    }
    return absl::OkStatus();
  }

  // Writes what is batched, synced.
  absl::Status Commit() {
    if (batch_.Count() == 0) return absl::OkStatus();
    if (absl::Status s = store_->Write(&batch_); !s.ok()) return s;
    ++result_->batches;
    batch_.Clear();
    return absl::OkStatus();
  }

 private:
  const RawIngestOptions& options_;
  storage::Store* const store_;
  RawIngestResult* const result_;
  rocksdb::WriteBatch batch_;
};

// Feeds the data lines of `path` to `writer`: every non-blank record after
// the first (the header row).
absl::Status IngestFile(const std::string& path, size_t line_bytes_max,
                        RawWriter* writer) {
  std::ifstream file(path, std::ios::binary);
  if (!file.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  bool header_seen = false;
  const RecordSplitter::OnRecord on_record = [&](absl::string_view record) {
    if (record.empty()) return absl::OkStatus();
    if (!header_seen) {
      header_seen = true;
      return absl::OkStatus();
    }
    return writer->Add(record);
  };
  RecordSplitter splitter(line_bytes_max);
  std::string chunk(kReadChunkBytes, '\0');
  // A file of at most 2^64 bytes: the loop ends at end of file.
  for (;;) {
    file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const size_t got = static_cast<size_t>(file.gcount());
    if (absl::Status s =
            splitter.Feed(absl::string_view(chunk.data(), got), on_record);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
    }
    if (!file) break;
  }
  if (file.bad()) return absl::UnavailableError("error reading " + path);
  if (absl::Status s = splitter.Finish(on_record); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return writer->Commit();
}

absl::Status CheckRawIngestOptions(const RawIngestOptions& options,
                                   absl::Span<const std::string> files) {
  if (options.dir.empty()) return absl::InvalidArgumentError("no directory");
  if (files.empty()) return absl::InvalidArgumentError("no files to ingest");
  if (options.batch_lines == 0 || options.line_bytes_max == 0 ||
      options.lines_max == 0 || options.write_buffer_bytes == 0 ||
      options.block_cache_bytes == 0) {
    return absl::InvalidArgumentError(
        "batch lines, line bytes, lines, write buffer and block cache must "
        "all be over 0");
  }
  std::error_code error;
  if (std::filesystem::exists(options.dir + "/CURRENT", error)) {
    return absl::FailedPreconditionError(
        absl::StrCat(options.dir, " already holds a database"));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// LatencyHistogram.

size_t LatencyHistogram::BucketOf(uint64_t value_ns) {
  constexpr uint64_t kExactMax = uint64_t{1} << kExactBits;
  if (value_ns < kExactMax) return static_cast<size_t>(value_ns);
  const int top_bit = 63 - std::countl_zero(value_ns);
  const int shift = top_bit - kSubBucketBits;
  const uint64_t sub_bucket =
      (value_ns >> shift) - (uint64_t{1} << kSubBucketBits);
  return static_cast<size_t>(kExactMax) +
         static_cast<size_t>(top_bit - kExactBits) *
             (size_t{1} << kSubBucketBits) +
         static_cast<size_t>(sub_bucket);
}

uint64_t LatencyHistogram::BucketUpperNs(size_t bucket) {
  constexpr size_t kExactMax = size_t{1} << kExactBits;
  if (bucket < kExactMax) return bucket;
  const size_t index = bucket - kExactMax;
  const int top_bit = kExactBits + static_cast<int>(index >> kSubBucketBits);
  const int shift = top_bit - kSubBucketBits;
  const uint64_t sub_bucket = index & ((size_t{1} << kSubBucketBits) - 1);
  const uint64_t lower = ((uint64_t{1} << kSubBucketBits) + sub_bucket)
                         << shift;
  return lower + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(uint64_t latency_ns) {
  ++buckets_[BucketOf(latency_ns)];
  ++count_;
  max_ns_ = std::max(max_ns_, latency_ns);
  sum_ns_ += latency_ns;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ns_ = std::max(max_ns_, other.max_ns_);
  sum_ns_ += other.sum_ns_;
}

double LatencyHistogram::mean_ns() const {
  if (count_ == 0) return 0;
  return static_cast<double>(sum_ns_) / static_cast<double>(count_);
}

uint64_t LatencyHistogram::PercentileNs(double fraction) const {
  if (count_ == 0) return 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  // The rank of the value sought, 1-based: at least the first.
  const uint64_t rank = std::max<uint64_t>(
      1,
      static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(BucketUpperNs(i), max_ns_);
  }
  return max_ns_;
}

LatencySummary Summarize(const LatencyHistogram& histogram) {
  const auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  LatencySummary summary;
  summary.count = histogram.count();
  summary.mean_us = histogram.mean_ns() / 1e3;
  summary.p50_us = us(histogram.PercentileNs(0.50));
  summary.p90_us = us(histogram.PercentileNs(0.90));
  summary.p99_us = us(histogram.PercentileNs(0.99));
  summary.p999_us = us(histogram.PercentileNs(0.999));
  summary.max_us = us(histogram.max_ns());
  return summary;
}

// ---------------------------------------------------------------------------
// Codes.

absl::StatusOr<std::vector<std::string>> LoadPaystubCodes(
    absl::Span<const std::string> paths, size_t codes_max) {
  static constexpr absl::string_view kColumns[] = {
      "worker_id", "program_id", "period_start", "period_end", "code"};
  std::vector<std::string> codes;
  for (const std::string& path : paths) {
    std::ifstream file(path, std::ios::binary);
    if (!file.is_open()) {
      return absl::NotFoundError(absl::StrCat("cannot open ", path));
    }
    csv::Reader reader;
    std::optional<csv::Header> header;
    // Takes the records the reader has completed.
    const auto take = [&]() -> absl::Status {
      while (std::optional<csv::Record> record = reader.Next()) {
        if (!header.has_value()) {
          absl::StatusOr<csv::Header> parsed =
              csv::Header::Parse(*record, kColumns);
          if (!parsed.ok()) return parsed.status();
          header = *std::move(parsed);
          continue;
        }
        if (absl::Status s = header->CheckWidth(*record); !s.ok()) return s;
        std::string& code = record->fields[header->index("code")];
        if (code.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", record->line, ": empty code"));
        }
        if (codes.size() == codes_max) {
          return absl::ResourceExhaustedError(
              absl::StrCat("more than the limit of ", codes_max, " codes"));
        }
        codes.push_back(std::move(code));
      }
      return absl::OkStatus();
    };
    std::string chunk(kReadChunkBytes / 16, '\0');
    absl::Status status;
    // Ends at end of file; the reader bounds what each record holds.
    while (status.ok()) {
      file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      status = reader.Feed(
          absl::string_view(chunk.data(), static_cast<size_t>(file.gcount())));
      if (status.ok()) status = take();
      if (!file) break;
    }
    if (status.ok() && file.bad()) {
      status = absl::UnavailableError("read error");
    }
    if (status.ok()) status = reader.Finish();
    if (status.ok()) status = take();
    if (status.ok() && !header.has_value()) {
      status = absl::InvalidArgumentError("no header row");
    }
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(path, ": ", status.message()));
    }
  }
  return codes;
}

// ---------------------------------------------------------------------------
// Loads.

absl::StatusOr<LoadResult> RunLookupLoad(const LoadOptions& options,
                                         absl::Span<const std::string> codes) {
  if (codes.empty()) {
    return absl::InvalidArgumentError("no paystub codes to look up");
  }
  CallLoad load;
  load.method = kLookupMethod;
  load.make_request = [codes](std::mt19937_64& random) {
    std::uniform_int_distribution<size_t> pick(0, codes.size() - 1);
    wsr::premium::v1::LookupCodeRequest request;
    request.set_code(codes[pick(random)]);
    return request.SerializeAsString();
  };
  // Parsing the answer would cost the client the CPU that the server, on
  // the same machine, measures with; a found line always has a worker id.
  load.check_response = [](const std::string& response) {
    if (response.empty()) {
      return absl::InternalError("an empty answer to a lookup");
    }
    return absl::OkStatus();
  };
  return RunCallLoad(options, load);
}

absl::StatusOr<LoadResult> RunEmptyCallLoad(const LoadOptions& options) {
  CallLoad load;
  load.method = kHealthCheckMethod;
  load.make_request = [](std::mt19937_64&) { return std::string(); };
  load.check_response = [](const std::string& response) {
    if (response != kHealthServingResponse) {
      return absl::UnavailableError("the server is not SERVING");
    }
    return absl::OkStatus();
  };
  return RunCallLoad(options, load);
}

absl::StatusOr<RawIngestResult> RunRawRocksIngest(
    const RawIngestOptions& options, absl::Span<const std::string> files) {
  if (absl::Status s = CheckRawIngestOptions(options, files); !s.ok()) {
    return s;
  }
  std::error_code error;
  std::filesystem::create_directories(options.dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", options.dir, ": ", error.message()));
  }
  storage::Store::Options store_options;
  store_options.path = options.dir;
  store_options.mode = storage::Store::Mode::kReadWriteCreate;
  store_options.write_buffer_bytes = options.write_buffer_bytes;
  store_options.block_cache_bytes = options.block_cache_bytes;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::Store::Open(store_options);
  if (!store.ok()) return store.status();

  RawIngestResult result;
  RawWriter writer(options, store->get(), &result);
  const Clock::time_point start = Clock::now();
  for (const std::string& path : files) {
    if (absl::Status s = IngestFile(path, options.line_bytes_max, &writer);
        !s.ok()) {
      return s;
    }
    ++result.files;
  }
  result.seconds = ToSeconds(Clock::now() - start);
  if (result.seconds > 0) {
    result.lines_per_second =
        static_cast<double>(result.lines) / result.seconds;
    result.megabytes_per_second =
        static_cast<double>(result.bytes) / 1e6 / result.seconds;
  }
  return result;
}

}  // namespace premium::bench
