// ledger_bench: what the ledger costs, next to what its store and CPU allow.
//
// Prints one table per section (and, with --json FILE, the same figures as
// JSON):
//   1. context: SHA-256 of 200-byte leaves and of node pairs, an Ed25519
//      checkpoint signature, and raw RocksDB synced WriteBatches (the
//      ceiling of any durable append);
//   2. durable appends for batches of 1, 100 and 1,000 entries with 1 and 8
//      appenders, and how many requests shared each synced write (group
//      commit);
//   3. on a ledger of --entries entries (built with batches of 1,000):
//      inclusion and consistency proofs (generation, served from RocksDB, and
//      verification, pure), and reading one entry;
//   4. VerifyLedger over that ledger;
//   5. Ledger::Open of that ledger (startup).
// Everything runs in a scratch directory that is removed at the end unless
// --keep is given. See --help for the flags.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "ledger/checkpoint/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/verify.h"
#include "nlohmann/json.hpp"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/version.h"
#include "rocksdb/write_batch.h"
#include "tests/bench/bench_util.h"

namespace premium::bench {
namespace {

using nlohmann::json;

constexpr size_t kEntryBytes = 200;
constexpr char kActor[] = "bench";
constexpr char kKind[] = "premium.bench.PayrollLine";
// Requests that build the large ledger hold this many entries.
constexpr size_t kBuildBatchEntries = 1000;
// Random text that payloads are cut from, so that entries differ.
constexpr size_t kPayloadPoolBytes = 1 << 20;

struct Flags {
  uint64_t entries = 1'000'000;
  bool quick = false;
  std::string json_path;
  std::string parent_dir;
  bool keep = false;
  double append_seconds = 3.0;
  double baseline_seconds = 1.0;
  size_t proof_samples = 10'000;
  int open_repeats = 5;
  // Empty: every section.
  std::string only;
};

// Mean, median and 99th percentile of latencies, in microseconds.
struct Latency {
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
};

Latency Summarize(std::vector<double> micros) {
  Latency latency;
  if (micros.empty()) return latency;
  std::sort(micros.begin(), micros.end());
  double sum = 0;
  for (double m : micros) sum += m;
  latency.mean_us = sum / static_cast<double>(micros.size());
  latency.p50_us = micros[micros.size() / 2];
  latency.p99_us =
      micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
  return latency;
}

json ToJson(const Latency& latency) {
  return {{"mean_us", latency.mean_us},
          {"p50_us", latency.p50_us},
          {"p99_us", latency.p99_us}};
}

// "1.23M", "456.7K", "89.0".
std::string Human(double value) {
  char text[32];
  if (value >= 1e6) {
    std::snprintf(text, sizeof(text), "%.2fM", value / 1e6);
  } else if (value >= 1e3) {
    std::snprintf(text, sizeof(text), "%.1fK", value / 1e3);
  } else {
    std::snprintf(text, sizeof(text), "%.1f", value);
  }
  return text;
}

std::string PayloadPool() {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
  std::mt19937_64 random(42);
  std::string pool(kPayloadPoolBytes, ' ');
  for (char& c : pool) c = kAlphabet[random() % (sizeof(kAlphabet) - 1)];
  return pool;
}

// A request of `entries` entries of kEntryBytes, unique by `key`.
AppendRequest MakeRequest(const std::string& pool, std::string key,
                          size_t entries, uint64_t salt) {
  AppendRequest request;
  request.actor = kActor;
  request.idempotency_key = std::move(key);
  request.entries.reserve(entries);
  for (size_t i = 0; i < entries; ++i) {
    const size_t offset = (salt * 7919 + i * 131) % (pool.size() - kEntryBytes);
    request.entries.push_back(
        AppendEntry{kKind, pool.substr(offset, kEntryBytes)});
  }
  return request;
}

std::unique_ptr<Ledger> OpenLedger(const std::string& dir) {
  LedgerOptions options;
  options.data_dir = dir;
  options.create_if_missing = true;
  return ValueOrDie(Ledger::Open(options), absl::StrCat("opening ", dir));
}

// ---------------------------------------------------------------- context

// Calls `work` in a loop for about `seconds`; returns calls per second.
template <typename Work>
double Rate(double seconds, Work work) {
  const Clock::time_point start = Clock::now();
  uint64_t calls = 0;
  do {
    for (int i = 0; i < 256; ++i) work();
    calls += 256;
  } while (SecondsSince(start) < seconds);
  return static_cast<double>(calls) / SecondsSince(start);
}

struct RawCell {
  size_t batch_records = 0;
  int writers = 0;
  // Extra 32-byte records written with each record, as the ledger writes a
  // leaf hash and (on average) one interior node hash with each entry.
  int hash_records = 0;
  double records_per_second = 0;
  double writes_per_second = 0;
};

// Synced WriteBatches of `batch_records` records of kEntryBytes (each with
// `hash_records` 32-byte records beside it) from `writers` threads straight
// into RocksDB, default options.
RawCell RawRocksDb(const std::string& dir, size_t batch_records, int writers,
                   int hash_records, double seconds, const std::string& pool) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, dir, &raw_db);
  if (!status.ok()) Die(absl::StrCat("rocksdb open: ", status.ToString()));
  std::unique_ptr<rocksdb::DB> db(raw_db);
  std::atomic<uint64_t> next_key{0};
  std::atomic<uint64_t> writes{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&] {
      rocksdb::WriteOptions write_options;
      write_options.sync = true;
      while (SecondsSince(start) < seconds) {
        rocksdb::WriteBatch batch;
        const uint64_t first = next_key.fetch_add(batch_records);
        for (size_t i = 0; i < batch_records; ++i) {
          // 'e' or 'h', the hash number, then the big-endian record number.
          char key[10] = {'e', 0};
          const uint64_t k = first + i;
          for (int b = 0; b < 8; ++b) {
            key[2 + b] = static_cast<char>(k >> (56 - 8 * b));
          }
          const char* value =
              pool.data() + (k * 131) % (pool.size() - kEntryBytes);
          batch.Put(rocksdb::Slice(key, sizeof(key)),
                    rocksdb::Slice(value, kEntryBytes));
          for (int h = 0; h < hash_records; ++h) {
            key[0] = 'h';
            key[1] = static_cast<char>(h);
            batch.Put(rocksdb::Slice(key, sizeof(key)),
                      rocksdb::Slice(value, merkle::kHashBytes));
          }
        }
        rocksdb::Status s = db->Write(write_options, &batch);
        if (!s.ok()) Die(absl::StrCat("rocksdb write: ", s.ToString()));
        writes.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double elapsed = SecondsSince(start);
  db.reset();
  std::filesystem::remove_all(dir);
  return RawCell{batch_records, writers, hash_records,
                 static_cast<double>(writes.load() * batch_records) / elapsed,
                 static_cast<double>(writes.load()) / elapsed};
}

json RunContext(const Flags& flags, const std::string& scratch,
                const std::string& pool) {
  std::printf(
      "\n== Context: the CPU's and the store's limits (1 thread "
      "unless said)\n");
  std::printf("%-58s %14s\n", "what", "figure");
  json out;
  const std::string leaf(pool.data(), kEntryBytes);
  merkle::Hash sink{};
  const double leaf_rate =
      Rate(flags.baseline_seconds, [&] { sink = merkle::HashLeaf(leaf); });
  std::printf("%-58s %12s/s\n", "SHA-256 leaf hash (merkle::HashLeaf), 200 B",
              Human(leaf_rate).c_str());
  const double node_rate = Rate(
      flags.baseline_seconds, [&] { sink = merkle::HashChildren(sink, sink); });
  std::printf("%-58s %12s/s\n", "SHA-256 node hash (merkle::HashChildren)",
              Human(node_rate).c_str());
  out["sha256_leaf_200b_per_second"] = leaf_rate;
  out["sha256_node_per_second"] = node_rate;

  const std::string key_dir = scratch + "/signing_key";
  std::filesystem::create_directories(key_dir);
  std::unique_ptr<CheckpointSigner> signer = ValueOrDie(
      CheckpointSigner::CreateInDirectory(key_dir), "creating a key");
  const std::string body = CheckpointBody(Checkpoint{"bench", 1'000'000, sink});
  const double sign_rate = Rate(flags.baseline_seconds / 4, [&] {
    OkOrDie(signer->Sign(body).status(), "signing");
  });
  std::printf("%-58s %12s/s\n", "Ed25519 checkpoint signature (one per group)",
              Human(sign_rate).c_str());
  out["ed25519_sign_per_second"] = sign_rate;

  json raw = json::array();
  struct RawShape {
    size_t batch;
    int writers;
    int hash_records;
  };
  for (const RawShape& shape : std::vector<RawShape>{
           {1, 1, 0}, {1, 8, 0}, {100, 1, 0}, {1000, 1, 0}, {1000, 1, 2}}) {
    const RawCell cell =
        RawRocksDb(scratch + "/raw", shape.batch, shape.writers,
                   shape.hash_records, flags.baseline_seconds, pool);
    std::string what = absl::StrCat(
        "RocksDB synced WriteBatch of ", shape.batch, " x 200 B, ",
        shape.writers, shape.writers == 1 ? " writer" : " writers");
    if (shape.hash_records > 0) {
      what = absl::StrCat("RocksDB, ledger-shaped: as above + ",
                          shape.hash_records, " x 32 B per record");
    }
    std::printf("%-58s %10s rec/s  (%s writes/s)\n", what.c_str(),
                Human(cell.records_per_second).c_str(),
                Human(cell.writes_per_second).c_str());
    raw.push_back({{"batch_records", shape.batch},
                   {"writers", shape.writers},
                   {"hash_records_per_record", shape.hash_records},
                   {"records_per_second", cell.records_per_second},
                   {"synced_writes_per_second", cell.writes_per_second}});
  }
  out["rocksdb_synced_write_batch"] = raw;
  return out;
}

// ---------------------------------------------------------------- appends

struct AppendCell {
  size_t batch_entries = 0;
  int appenders = 0;
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t entries = 0;
  uint64_t synced_writes = 0;
  Latency latency;
};

AppendCell RunAppendCell(const std::string& dir, size_t batch_entries,
                         int appenders, double seconds,
                         const std::string& pool) {
  std::unique_ptr<Ledger> ledger = OpenLedger(dir);
  struct PerThread {
    std::vector<uint64_t> tree_sizes;
    std::vector<double> latencies_us;
  };
  std::vector<PerThread> results(appenders);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      PerThread& mine = results[t];
      for (uint64_t n = 0; SecondsSince(start) < seconds; ++n) {
        const AppendRequest request = MakeRequest(
            pool, absl::StrCat("bench-", t, "-", n), batch_entries, n * 8 + t);
        const Clock::time_point sent = Clock::now();
        const AppendReceipt receipt =
            ValueOrDie(ledger->Append(request), "append");
        mine.latencies_us.push_back(SecondsSince(sent) * 1e6);
        if (receipt.replayed) Die("a new request was replayed");
        mine.tree_sizes.push_back(receipt.tree_size);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  AppendCell cell;
  cell.batch_entries = batch_entries;
  cell.appenders = appenders;
  cell.seconds = SecondsSince(start);
  ledger.reset();
  std::vector<uint64_t> tree_sizes;
  std::vector<double> latencies;
  for (const PerThread& r : results) {
    tree_sizes.insert(tree_sizes.end(), r.tree_sizes.begin(),
                      r.tree_sizes.end());
    latencies.insert(latencies.end(), r.latencies_us.begin(),
                     r.latencies_us.end());
  }
  cell.requests = tree_sizes.size();
  cell.entries = cell.requests * batch_entries;
  std::sort(tree_sizes.begin(), tree_sizes.end());
  cell.synced_writes = static_cast<uint64_t>(
      std::unique(tree_sizes.begin(), tree_sizes.end()) - tree_sizes.begin());
  cell.latency = Summarize(std::move(latencies));
  std::filesystem::remove_all(dir);
  return cell;
}

json RunAppends(const Flags& flags, const std::string& scratch,
                const std::string& pool) {
  std::printf(
      "\n== Durable appends: %zu-byte entries, %.1f s per cell, a new "
      "ledger per cell\n",
      kEntryBytes, flags.append_seconds);
  std::printf("%6s %9s %11s %11s %8s %14s %9s %9s\n", "batch", "appenders",
              "entries/s", "requests/s", "MB/s", "requests/sync", "p50 ms",
              "p99 ms");
  json out = json::array();
  for (const size_t batch : {size_t{1}, size_t{100}, size_t{1000}}) {
    for (const int appenders : {1, 8}) {
      const AppendCell cell =
          RunAppendCell(absl::StrCat(scratch, "/append"), batch, appenders,
                        flags.append_seconds, pool);
      const double entries_per_second =
          static_cast<double>(cell.entries) / cell.seconds;
      const double requests_per_second =
          static_cast<double>(cell.requests) / cell.seconds;
      const double requests_per_sync =
          static_cast<double>(cell.requests) /
          static_cast<double>(std::max<uint64_t>(cell.synced_writes, 1));
      std::printf("%6zu %9d %11s %11s %8.1f %14.2f %9.2f %9.2f\n", batch,
                  appenders, Human(entries_per_second).c_str(),
                  Human(requests_per_second).c_str(),
                  entries_per_second * kEntryBytes / 1e6, requests_per_sync,
                  cell.latency.p50_us / 1e3, cell.latency.p99_us / 1e3);
      out.push_back({{"batch_entries", batch},
                     {"appenders", appenders},
                     {"seconds", cell.seconds},
                     {"requests", cell.requests},
                     {"entries", cell.entries},
                     {"synced_writes", cell.synced_writes},
                     {"entries_per_second", entries_per_second},
                     {"requests_per_second", requests_per_second},
                     {"requests_per_synced_write", requests_per_sync},
                     {"latency", ToJson(cell.latency)}});
    }
  }
  return out;
}

// ---------------------------------------------------------------- large ledger

json BuildLedger(const Flags& flags, const std::string& dir,
                 const std::string& pool) {
  std::unique_ptr<Ledger> ledger = OpenLedger(dir);
  const Clock::time_point start = Clock::now();
  for (uint64_t request = 0; ledger->size() < flags.entries; ++request) {
    const size_t entries = static_cast<size_t>(
        std::min<uint64_t>(kBuildBatchEntries, flags.entries - ledger->size()));
    ValueOrDie(ledger->Append(MakeRequest(pool, absl::StrCat("build-", request),
                                          entries, request)),
               "append");
  }
  const double seconds = SecondsSince(start);
  std::printf(
      "\n== A ledger of %llu entries, built in %.1f s with batches of "
      "%zu from 1 appender (%s entries/s)\n",
      static_cast<unsigned long long>(ledger->size()), seconds,
      kBuildBatchEntries,
      Human(static_cast<double>(ledger->size()) / seconds).c_str());
  return {{"entries", ledger->size()},
          {"batch_entries", kBuildBatchEntries},
          {"seconds", seconds}};
}

struct Timed {
  std::vector<double> micros;
  template <typename Work>
  auto operator()(Work work) {
    const Clock::time_point start = Clock::now();
    auto result = work();
    micros.push_back(SecondsSince(start) * 1e6);
    return result;
  }
};

void PrintLatencyRow(const char* what, const Latency& latency) {
  std::printf("%-52s %10.2f %10.2f %10.2f\n", what, latency.mean_us,
              latency.p50_us, latency.p99_us);
}

// `first_open_millis` is set to the time of the first Open after the build.
json RunProofs(const Flags& flags, const std::string& dir,
               double* first_open_millis) {
  const Clock::time_point open_start = Clock::now();
  std::unique_ptr<Ledger> ledger = OpenLedger(dir);
  *first_open_millis = SecondsSince(open_start) * 1e3;
  const double node_cache_fill_seconds = WaitForNodeCache(*ledger);
  const uint64_t node_cache_nodes = ledger->node_cache().nodes;
  const uint64_t size = ledger->size();
  const merkle::Hash root = ledger->LatestCheckpoint().checkpoint.root_hash;
  std::mt19937_64 random(7);
  std::printf(
      "\n== Proofs at tree size %llu, %zu random samples each "
      "(microseconds), after %llu high nodes were read into memory in "
      "%.2f s\n",
      static_cast<unsigned long long>(size), flags.proof_samples,
      static_cast<unsigned long long>(node_cache_nodes),
      node_cache_fill_seconds);
  std::printf("%-52s %10s %10s %10s\n", "what", "mean", "p50", "p99");

  Timed read, inclusion, inclusion_verify, consistency, consistency_verify;
  for (size_t i = 0; i < flags.proof_samples; ++i) {
    const uint64_t leaf = random() % size;
    const StoredEntry entry = read([&] {
      return ValueOrDie(ledger->ReadEntry(leaf), "reading an entry");
    });
    const std::vector<merkle::Hash> proof = inclusion([&] {
      return ValueOrDie(ledger->InclusionProof(leaf, size), "inclusion proof");
    });
    const merkle::Hash leaf_hash = merkle::HashLeaf(entry.bytes);
    inclusion_verify([&] {
      OkOrDie(merkle::VerifyInclusion(leaf_hash, leaf, size, proof, root),
              "verifying an inclusion proof");
      return 0;
    });
  }
  for (size_t i = 0; i < flags.proof_samples; ++i) {
    const uint64_t old_size = 1 + random() % (size - 1);
    const std::vector<merkle::Hash> proof = consistency([&] {
      return ValueOrDie(ledger->ConsistencyProof(old_size, size),
                        "consistency proof");
    });
    const merkle::Hash old_root =
        ValueOrDie(ledger->RootAt(old_size), "root of an old size");
    consistency_verify([&] {
      OkOrDie(merkle::VerifyConsistency(old_size, size, old_root, root, proof),
              "verifying a consistency proof");
      return 0;
    });
  }
  const Latency read_latency = Summarize(read.micros);
  const Latency inclusion_latency = Summarize(inclusion.micros);
  const Latency inclusion_verify_latency = Summarize(inclusion_verify.micros);
  const Latency consistency_latency = Summarize(consistency.micros);
  const Latency consistency_verify_latency =
      Summarize(consistency_verify.micros);
  PrintLatencyRow("ReadEntry (random seq)", read_latency);
  PrintLatencyRow("InclusionProof generation (random leaf)", inclusion_latency);
  PrintLatencyRow("ConsistencyProof generation (random old size)",
                  consistency_latency);
  PrintLatencyRow("VerifyInclusion (pure)", inclusion_verify_latency);
  PrintLatencyRow("VerifyConsistency (pure)", consistency_verify_latency);
  return {{"tree_size", size},
          {"samples", flags.proof_samples},
          {"node_cache_fill_seconds", node_cache_fill_seconds},
          {"node_cache_nodes", node_cache_nodes},
          {"read_entry", ToJson(read_latency)},
          {"inclusion_proof", ToJson(inclusion_latency)},
          {"consistency_proof", ToJson(consistency_latency)},
          {"verify_inclusion", ToJson(inclusion_verify_latency)},
          {"verify_consistency", ToJson(consistency_verify_latency)}};
}

json RunVerify(const std::string& dir) {
  std::printf("\n== VerifyLedger over the whole ledger\n");
  std::printf("%-40s %9s %10s %11s %10s\n", "what", "seconds", "entry MB",
              "MB/s", "entries/s");
  json out = json::array();
  for (const bool checksums : {true, false}) {
    VerifyOptions options;
    options.data_dir = dir;
    options.check_block_checksums = checksums;
    VerifyReport report;
    const Clock::time_point start = Clock::now();
    OkOrDie(VerifyLedger(options, &report), "VerifyLedger");
    const double seconds = SecondsSince(start);
    const double megabytes = static_cast<double>(report.entry_bytes) / 1e6;
    const double entries_per_second =
        static_cast<double>(report.entries_checked) / seconds;
    std::printf("%-40s %9.2f %10.1f %11.1f %10s\n",
                checksums ? "with RocksDB block checksums (default)"
                          : "without block checksums",
                seconds, megabytes, megabytes / seconds,
                Human(entries_per_second).c_str());
    out.push_back({{"check_block_checksums", checksums},
                   {"seconds", seconds},
                   {"entries", report.entries_checked},
                   {"entry_bytes", report.entry_bytes},
                   {"megabytes_per_second", megabytes / seconds},
                   {"entries_per_second", entries_per_second}});
  }
  return out;
}

json RunStartup(const Flags& flags, const std::string& dir,
                double first_open_millis) {
  std::printf(
      "\n== Startup: Ledger::Open of the ledger, then Close, %d "
      "times (milliseconds)\n",
      flags.open_repeats);
  std::vector<double> millis;
  for (int i = 0; i < flags.open_repeats; ++i) {
    const Clock::time_point start = Clock::now();
    std::unique_ptr<Ledger> ledger = OpenLedger(dir);
    millis.push_back(SecondsSince(start) * 1e3);
    ledger.reset();
  }
  std::string row;
  for (double m : millis) absl::StrAppend(&row, " ", Human(m));
  std::printf("Open after VerifyLedger, each time:%s\n", row.c_str());
  std::vector<double> sorted = millis;
  std::sort(sorted.begin(), sorted.end());
  const double median_millis = sorted[sorted.size() / 2];
  std::printf(
      "median %.1f ms; the first Open after the build (recovers "
      "RocksDB's WAL) took %.1f ms\n",
      median_millis, first_open_millis);
  return {{"open_millis", millis},
          {"median_open_millis", median_millis},
          {"first_open_after_build_millis", first_open_millis}};
}

// ---------------------------------------------------------------- main

// The first three fields of /proc/loadavg: other work on the machine skews
// every figure, so the table says how busy it was.
std::string LoadAverage() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

int ParseFlags(int argc, char** argv, Flags* flags) {
  CLI::App app{
      "ledger_bench: durable append throughput (group commit), proof and "
      "verification costs, VerifyLedger throughput and startup time of the "
      "premium ledger, next to raw RocksDB and SHA-256 figures. Works in a "
      "scratch directory it removes at the end."};
  app.add_option("--entries", flags->entries,
                 "Entries of the large ledger used for proofs, VerifyLedger "
                 "and startup (built with batches of 1,000)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{2}, uint64_t{1} << 40));
  app.add_flag("--quick", flags->quick,
               "Smoke run of about 10 s: --entries 100000, 0.5 s per append "
               "cell, 1,000 proof samples, unless those flags are given");
  app.add_option("--json", flags->json_path,
                 "Also write every figure as JSON to this file");
  app.add_option("--dir", flags->parent_dir,
                 "Where to make the scratch directory (default: $TMPDIR or "
                 "/tmp); put it on the disk you want to measure");
  app.add_flag("--keep", flags->keep, "Keep the scratch directory");
  app.add_option("--append-seconds", flags->append_seconds,
                 "Duration of each of the 6 append cells")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--baseline-seconds", flags->baseline_seconds,
                 "Duration of each context measurement")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--proof-samples", flags->proof_samples,
                 "Random leaves (and old sizes) timed for proofs")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  app.add_option("--open-repeats", flags->open_repeats,
                 "How many times to time Ledger::Open")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--only", flags->only,
                 "Run one section: context, appends or ledger (build, proofs, "
                 "VerifyLedger, startup); default all")
      ->check(CLI::IsMember({"context", "appends", "ledger"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (flags->quick) {
    if (app.count("--entries") == 0) flags->entries = 100'000;
    if (app.count("--append-seconds") == 0) flags->append_seconds = 0.5;
    if (app.count("--baseline-seconds") == 0) flags->baseline_seconds = 0.3;
    if (app.count("--proof-samples") == 0) flags->proof_samples = 1'000;
    if (app.count("--open-repeats") == 0) flags->open_repeats = 3;
  }
  return -1;
}

std::string MakeScratchDirectory(const Flags& flags) {
  std::string parent = flags.parent_dir;
  if (parent.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    parent = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::string pattern = parent + "/ledger_bench.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    Die(absl::StrCat("cannot make a directory in ", parent));
  }
  return pattern;
}

int Main(int argc, char** argv) {
  TurnOffMutexDeadlockDetection();
  Flags flags;
  if (const int exit_code = ParseFlags(argc, argv, &flags); exit_code >= 0) {
    return exit_code;
  }
  const std::string scratch = MakeScratchDirectory(flags);
  const std::string pool = PayloadPool();
  const Clock::time_point start = Clock::now();
  std::printf(
      "ledger_bench: %u CPUs (%s), RocksDB %d.%d.%d, load average %s, "
      "scratch %s%s\n",
      std::thread::hardware_concurrency(), CpuModel().c_str(), ROCKSDB_MAJOR,
      ROCKSDB_MINOR, ROCKSDB_PATCH, LoadAverage().c_str(), scratch.c_str(),
      flags.quick ? ", --quick" : "");
  json out;
  out["machine"] = {{"cpus", std::thread::hardware_concurrency()},
                    {"cpu_model", CpuModel()},
                    {"load_average_at_start", LoadAverage()}};
  const auto selected = [&flags](const char* section) {
    return flags.only.empty() || flags.only == section;
  };
  if (selected("context")) out["context"] = RunContext(flags, scratch, pool);
  if (selected("appends")) out["appends"] = RunAppends(flags, scratch, pool);
  if (selected("ledger")) {
    const std::string big = scratch + "/ledger";
    out["build"] = BuildLedger(flags, big, pool);
    double first_open_millis = 0;
    out["proofs"] = RunProofs(flags, big, &first_open_millis);
    out["verify_ledger"] = RunVerify(big);
    out["startup"] = RunStartup(flags, big, first_open_millis);
  }
  std::printf("\nledger_bench: done in %.0f s, load average %s\n",
              SecondsSince(start), LoadAverage().c_str());
  if (!flags.json_path.empty()) {
    std::ofstream file(flags.json_path);
    file << out.dump(2) << "\n";
    if (!file) Die(absl::StrCat("cannot write ", flags.json_path));
  }
  if (!flags.keep) std::filesystem::remove_all(scratch);
  return 0;
}

}  // namespace
}  // namespace premium::bench

int main(int argc, char** argv) { return premium::bench::Main(argc, argv); }
