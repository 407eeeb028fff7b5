// premium-load: the load generators of load.h from the command line, for
// tests/bench/run and for trying a server by hand.
//
//   premium-load lookups --server A --codes F... --clients N --seconds S
//   premium-load empty --server A --clients N --seconds S
//   premium-load raw-ingest --dir D FILE...
//
// Each prints one line of figures on standard output, or with --json one
// JSON object. Exit status: 0; 1 when the run could not be made (one line on
// standard error says why); 2 when it was made but some calls failed (the
// figures are printed all the same, the errors by status code among them),
// so that a script cannot take a run with errors for a good one.
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/bench/load.h"

namespace premium::bench {
namespace {

using nlohmann::json;

constexpr int kExitRunFailed = 1;
constexpr int kExitCallsFailed = 2;

struct LoadFlags {
  std::string server = "127.0.0.1:50051";
  std::vector<std::string> codes_files;
  int clients = 1;
  double seconds = 10;
  double warmup_seconds = 2;
  int deadline_ms = 5000;
  uint64_t seed = 1;
  bool json = false;
};

struct IngestFlags {
  std::string dir;
  std::vector<std::string> files;
  size_t batch_lines = RawIngestOptions{}.batch_lines;
  bool json = false;
};

json ToJson(const LoadResult& result, const std::string& kind,
            const std::string& server) {
  json errors = json::object();
  for (const auto& [code, error] : result.errors_by_code) {
    errors[absl::StatusCodeToString(code)] = {
        {"count", error.count}, {"first_message", error.first_message}};
  }
  const LatencySummary& latency = result.latency;
  return {{"kind", kind},
          {"server", server},
          {"clients", result.clients},
          {"seconds", result.seconds},
          {"calls", result.calls},
          {"errors", result.errors},
          {"calls_per_second", result.calls_per_second},
          {"latency",
           {{"count", latency.count},
            {"mean_us", latency.mean_us},
            {"p50_us", latency.p50_us},
            {"p90_us", latency.p90_us},
            {"p99_us", latency.p99_us},
            {"p999_us", latency.p999_us},
            {"max_us", latency.max_us}}},
          {"warmup_calls", result.warmup_calls},
          {"warmup_errors", result.warmup_errors},
          {"errors_by_code", errors}};
}

std::string Summary(const LoadResult& result, const std::string& kind) {
  const LatencySummary& latency = result.latency;
  std::string line = absl::StrFormat(
      "%s: %d clients, %.1f s: %d calls, %.1f calls/s, %d errors; latency "
      "us p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f",
      kind, result.clients, result.seconds, result.calls,
      result.calls_per_second, result.errors, latency.p50_us, latency.p90_us,
      latency.p99_us, latency.p999_us, latency.max_us);
  for (const auto& [code, error] : result.errors_by_code) {
    absl::StrAppend(&line, "; ", absl::StatusCodeToString(code), " x",
                    error.count, " (first: ", error.first_message, ")");
  }
  return line;
}

int Report(const absl::StatusOr<LoadResult>& result, const std::string& kind,
           const LoadFlags& flags) {
  if (!result.ok()) {
    std::fprintf(stderr, "premium-load: %s\n",
                 result.status().ToString().c_str());
    return kExitRunFailed;
  }
  if (flags.json) {
    std::printf("%s\n", ToJson(*result, kind, flags.server).dump().c_str());
  } else {
    std::printf("%s\n", Summary(*result, kind).c_str());
  }
  const uint64_t failed = result->errors + result->warmup_errors;
  if (failed > 0) {
    std::fprintf(stderr, "premium-load: %llu calls failed\n",
                 static_cast<unsigned long long>(failed));
    return kExitCallsFailed;
  }
  return 0;
}

LoadOptions ToOptions(const LoadFlags& flags) {
  LoadOptions options;
  options.server_address = flags.server;
  options.clients = flags.clients;
  options.duration = absl::Seconds(flags.seconds);
  options.warmup = absl::Seconds(flags.warmup_seconds);
  options.call_deadline = absl::Milliseconds(flags.deadline_ms);
  options.seed = flags.seed;
  return options;
}

int RunLookups(const LoadFlags& flags) {
  absl::StatusOr<std::vector<std::string>> codes =
      LoadPaystubCodes(flags.codes_files);
  if (!codes.ok()) {
    std::fprintf(stderr, "premium-load: %s\n",
                 codes.status().ToString().c_str());
    return kExitRunFailed;
  }
  return Report(RunLookupLoad(ToOptions(flags), *codes), "lookups", flags);
}

int RunEmpty(const LoadFlags& flags) {
  return Report(RunEmptyCallLoad(ToOptions(flags)), "empty", flags);
}

int RunIngest(const IngestFlags& flags) {
  RawIngestOptions options;
  options.dir = flags.dir;
  options.batch_lines = flags.batch_lines;
  absl::StatusOr<RawIngestResult> result =
      RunRawRocksIngest(options, flags.files);
  if (!result.ok()) {
    std::fprintf(stderr, "premium-load: %s\n",
                 result.status().ToString().c_str());
    return kExitRunFailed;
  }
  if (flags.json) {
    const json out = {{"kind", "raw-ingest"},
                      {"dir", flags.dir},
                      {"files", result->files},
                      {"batch_lines", flags.batch_lines},
                      {"lines", result->lines},
                      {"bytes", result->bytes},
                      {"batches", result->batches},
                      {"seconds", result->seconds},
                      {"lines_per_second", result->lines_per_second},
                      {"megabytes_per_second", result->megabytes_per_second}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    absl::PrintF(
        "raw-ingest: %d files, %d lines, %d bytes in %d synced batches of "
        "up to %d lines, %.3f s: %.1f lines/s, %.2f MB/s\n",
        result->files, result->lines, result->bytes, result->batches,
        flags.batch_lines, result->seconds, result->lines_per_second,
        result->megabytes_per_second);
  }
  return 0;
}

// The flags lookups and empty share.
void AddLoadFlags(CLI::App* command, LoadFlags* flags) {
  command->add_option("--server", flags->server, "server address, host:port")
      ->capture_default_str();
  command
      ->add_option("--clients", flags->clients,
                   "concurrent clients, each with its own connection")
      ->check(CLI::Range(1, kClientsMax))
      ->capture_default_str();
  command->add_option("--seconds", flags->seconds, "measured seconds")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  command
      ->add_option("--warmup-seconds", flags->warmup_seconds,
                   "seconds of calls before the measurement")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  command->add_option("--deadline-ms", flags->deadline_ms, "deadline per call")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  command->add_flag("--json", flags->json, "print one JSON object");
}

}  // namespace
}  // namespace premium::bench

int main(int argc, char** argv) {
  using namespace premium::bench;  // NOLINT(build/namespaces): main only
  CLI::App app{
      "Closed-loop gRPC load on a premium ledger server, and the raw RocksDB "
      "ingest it is compared with (tests/bench/run)."};
  app.footer(
      "Exit status: 0; 1 if the run could not be made; 2 if some calls "
      "failed (figures printed all the same).\n");
  app.require_subcommand(1);

  LoadFlags lookups;
  CLI::App* lookups_command = app.add_subcommand(
      "lookups", "WorkerService/LookupCode with codes of codes-out files");
  AddLoadFlags(lookups_command, &lookups);
  lookups_command
      ->add_option("--codes", lookups.codes_files,
                   "premiumctl codes-out CSV files")
      ->required()
      ->check(CLI::ExistingFile);
  lookups_command->add_option("--seed", lookups.seed, "seed of the codes' draw")
      ->capture_default_str();

  LoadFlags empty;
  CLI::App* empty_command = app.add_subcommand(
      "empty", "grpc.health.v1.Health/Check: the RPC's own limit");
  AddLoadFlags(empty_command, &empty);

  IngestFlags ingest;
  CLI::App* ingest_command = app.add_subcommand(
      "raw-ingest",
      "payroll CSV lines into a fresh RocksDB, synced batches, nothing else");
  ingest_command
      ->add_option("--dir", ingest.dir, "directory of the new database")
      ->required();
  ingest_command
      ->add_option("--batch-lines", ingest.batch_lines,
                   "lines per synced WriteBatch")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}))
      ->capture_default_str();
  ingest_command->add_flag("--json", ingest.json, "print one JSON object");
  ingest_command->add_option("files", ingest.files, "payroll CSV files")
      ->required()
      ->check(CLI::ExistingFile);

  CLI11_PARSE(app, argc, argv);
  if (lookups_command->parsed()) return RunLookups(lookups);
  if (empty_command->parsed()) return RunEmpty(empty);
  return RunIngest(ingest);
}
