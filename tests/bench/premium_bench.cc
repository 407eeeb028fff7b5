// premium-bench: the premium ledger side by side with what a team would build
// instead (PostgreSQL 15 with a few tables) and with the machine's limits,
// on the same generated season, in one run (tests/bench/run):
//
//   1. ingest: payroll lines/s through `premiumctl payroll upload` into
//      premiumd, beside PostgreSQL `\copy` into indexed tables and raw
//      RocksDB synced WriteBatches of the same lines;
//   2. reconciliation from scratch and after one more upload, beside the
//      same balance rules in SQL (whose answers must equal premiumd's);
//   3. worker lookups at 1, 16 and 64 clients beside an empty gRPC call;
//   4. `premiumd verify` beside SHA-256 (`openssl speed`);
//   5. inclusion and consistency proofs on the ingested ledgers;
//   6. premiumd's RSS through a large ingest.
//
// Prints a table per section and a goals table, and writes every figure to
// --json. Everything runs in a scratch directory under --work-dir.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/merkle/proof.h"
#include "ledger/testing/child_process.h"
#include "nlohmann/json.hpp"
#include "services/testing/premiumd_banner.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/load.h"
#include "tests/bench/postgres.h"
#include "tests/season/season.h"
#include "tests/season/season_cli.h"

namespace premium::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using premium::testing::Child;
using premium::testing::CommandResult;
using premium::testing::RunCommand;

constexpr char kAuditorId[] = "bench-auditor";
// Only these reconciliation types are computed by the SQL side; the others
// (per pay period, suspensions, disputes) have no SQL counterpart here.
const std::set<std::string>& BalanceTypes() {
  static const auto* const types = new std::set<std::string>{
      "BRAND_UNDERPAID", "LATE_BRAND_PAYMENT", "BRAND_OVERPAID",
      "UNDISTRIBUTED_PREMIUM", "LATE_DISTRIBUTION"};
  return *types;
}

struct Flags {
  std::string work_dir;
  std::string bin_dir;
  int64_t lines = 1'000'000;
  int64_t big_lines = 10'000'000;
  double lookup_seconds = 10;
  std::string json_path;
  bool keep = false;
  bool quick = false;
  std::vector<std::string> skip;

  bool runs(const std::string& section) const {
    return std::find(skip.begin(), skip.end(), section) == skip.end();
  }
  std::string binary(const std::string& relative) const {
    return (fs::path(bin_dir) / relative).string();
  }
  std::string premiumd() const { return binary("services/premiumd"); }
  std::string premiumctl() const { return binary("clients/premiumctl"); }
};

// ------------------------------------------------------------ processes

double Mib(int64_t kib) { return static_cast<double>(kib) / 1024; }

// premiumd serving a data directory on 127.0.0.1:0.
class Premiumd {
 public:
  static absl::StatusOr<std::unique_ptr<Premiumd>> Start(
      const Flags& flags, const std::string& data_dir,
      std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args = {flags.premiumd(), "--data-dir", data_dir,
                                     "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    const Clock::time_point start = Clock::now();
    std::unique_ptr<Child> child = Child::Start(args);
    if (child == nullptr) return absl::InternalError("cannot start premiumd");
    // Warming the reconciliation state of a 10M-entry ledger takes a while.
    const std::optional<std::string> line =
        child->WaitForFirstLine(absl::Minutes(10));
    const double startup_seconds = SecondsSince(start);
    const std::optional<int> port = testing::ServingPortOnLoopback(line);
    if (!port.has_value()) {
      return absl::InternalError(absl::StrCat(
          "premiumd did not start: ", line.value_or(""), "; ", child->err()));
    }
    return std::unique_ptr<Premiumd>(new Premiumd(
        std::move(child), absl::StrCat("127.0.0.1:", *port), startup_seconds));
  }

  ~Premiumd() {
    if (child_->running()) Stop().IgnoreError();
  }

  const std::string& address() const { return address_; }
  double startup_seconds() const { return startup_seconds_; }
  int64_t rss_kib() const {
    return testing::ProcStatusKib(child_->pid(), "VmRSS");
  }
  int64_t peak_rss_kib() const {
    return testing::ProcStatusKib(child_->pid(), "VmHWM");
  }
  // RSS is anonymous memory (premiumd's own) plus the pages of the table
  // files it maps (page cache, shared and reclaimable): each apart.
  int64_t anon_rss_kib() const {
    return testing::ProcStatusKib(child_->pid(), "RssAnon");
  }
  int64_t file_rss_kib() const {
    return testing::ProcStatusKib(child_->pid(), "RssFile");
  }

  absl::Status Stop() {
    child_->Signal(SIGTERM);
    const std::optional<int> code = child_->WaitForExit(absl::Minutes(2));
    if (code != 0) {
      return absl::InternalError(
          absl::StrCat("premiumd did not stop cleanly: ", code.value_or(-1),
                       " ", child_->err()));
    }
    return absl::OkStatus();
  }

 private:
  Premiumd(std::unique_ptr<Child> child, std::string address,
           double startup_seconds)
      : child_(std::move(child)),
        address_(std::move(address)),
        startup_seconds_(startup_seconds) {}

  std::unique_ptr<Child> child_;
  const std::string address_;
  const double startup_seconds_;
};

// Runs `args` to its end; its standard output, or an error naming it.
absl::StatusOr<std::string> RunToEnd(
    const std::vector<std::string>& args,
    absl::Duration timeout = absl::Minutes(30)) {
  const CommandResult result = RunCommand(args, timeout);
  if (result.exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(args, " "), ": exit ",
                                            result.exit_code, ": ",
                                            result.err));
  }
  return result.out;
}

// premiumctl against `server` with `token_file` (none if empty).
absl::StatusOr<std::string> Ctl(const Flags& flags, const std::string& server,
                                const std::string& token_file,
                                const std::vector<std::string>& args) {
  // A 10M-line ledger's first reconcile (its catch-up) outlasts the
  // default 60 s per call.
  std::vector<std::string> command = {flags.premiumctl(), "--server", server,
                                      "--timeout", "900"};
  if (!token_file.empty()) {
    command.insert(command.end(), {"--token-file", token_file});
  }
  command.insert(command.end(), args.begin(), args.end());
  return RunToEnd(command);
}

// ------------------------------------------------------------ the season

struct SeasonFiles {
  std::string dir;
  json document;  // season.json
  std::vector<std::string> brands;
  std::vector<std::string> suppliers;
  // The payroll file held back from the first load: "one more upload".
  std::string late_supplier;
  int64_t payroll_lines = 0;
  std::string as_of;
};

int64_t DataLines(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  int64_t lines = 0;
  std::string line;
  while (std::getline(file, line)) ++lines;
  return std::max<int64_t>(0, lines - 1);
}

std::string PayrollFile(const SeasonFiles& season,
                        const std::string& supplier) {
  return absl::StrCat(season.dir, "/payroll-", supplier, ".csv");
}

// A Fair Food season of about `lines` payroll lines, with the proportions
// of issue 5 (1M lines, 100K purchases, 10K payments), 3 discrepancies of
// each type injected.
SeasonFiles GenerateSeason(const Flags& flags, const std::string& dir,
                           int64_t lines, uint64_t seed) {
  const int64_t purchases = std::max<int64_t>(1000, lines / 10);
  const int64_t payments = std::max<int64_t>(100, lines / 100);
  const Clock::time_point start = Clock::now();
  ValueOrDie(RunToEnd({flags.binary("tests/season/premium-season"),
                       "--style",
                       "ffp",
                       "--seed",
                       absl::StrCat(seed),
                       "--out",
                       dir,
                       "--brands",
                       "14",
                       "--suppliers",
                       "40",
                       "--weeks",
                       "26",
                       "--lines",
                       absl::StrCat(lines),
                       "--purchases",
                       absl::StrCat(purchases),
                       "--payments",
                       absl::StrCat(payments),
                       "--inject",
                       "3"}),
             "premium-season");
  SeasonFiles season;
  season.dir = dir;
  std::ifstream in(dir + "/season.json");
  season.document = json::parse(in);
  season.as_of = season.document.at("as_of").get<std::string>();
  for (const json& p : season.document.at("parties")) {
    const std::string id = p.at("id").get<std::string>();
    if (p.at("role") == "brand") season.brands.push_back(id);
    if (p.at("role") == "supplier" &&
        fs::exists(absl::StrCat(dir, "/payroll-", id, ".csv"))) {
      season.suppliers.push_back(id);
    }
  }
  if (season.suppliers.size() < 2) Die("the season has too few suppliers");
  season.late_supplier = season.suppliers.back();
  for (const std::string& supplier : season.suppliers) {
    season.payroll_lines += DataLines(PayrollFile(season, supplier));
  }
  std::printf(
      "season %s: %lld payroll lines of %zu suppliers, %zu brands, "
      "as of %s (%.1f s)\n",
      dir.c_str(), static_cast<long long>(season.payroll_lines),
      season.suppliers.size(), season.brands.size(), season.as_of.c_str(),
      SecondsSince(start));
  return season;
}

// ------------------------------------------------------------ ingest

struct IngestFigures {
  int64_t lines = 0;
  double seconds = 0;
  double lines_per_second() const { return seconds > 0 ? lines / seconds : 0; }
};

// Drives premiumd through premiumctl as the season's parties would.
class PremiumLoader {
 public:
  PremiumLoader(const Flags& flags, const SeasonFiles& season,
                std::string work_dir)
      : flags_(flags), season_(season), work_dir_(std::move(work_dir)) {
    fs::create_directories(work_dir_);
  }

  std::string token(const std::string& party) const {
    return absl::StrCat(work_dir_, "/", party, ".token");
  }
  std::string codes(const std::string& supplier) const {
    return absl::StrCat(work_dir_, "/codes-", supplier, ".csv");
  }

  // Programs and parties, untimed.
  absl::Status Register(const Premiumd& server, const std::string& data_dir) {
    const std::string admin = data_dir + "/admin.token";
    for (const json& v : season_.document.at("programs")) {
      absl::StatusOr<std::string> added =
          Ctl(flags_, server.address(), admin, season::ProgramAddArgs(v));
      if (!added.ok()) return added.status();
    }
    std::vector<std::pair<std::string, std::string>> parties;
    for (const json& p : season_.document.at("parties")) {
      parties.emplace_back(p.at("role").get<std::string>(),
                           p.at("id").get<std::string>());
    }
    parties.emplace_back("auditor", kAuditorId);
    for (const auto& [role, id] : parties) {
      absl::StatusOr<std::string> added =
          Ctl(flags_, server.address(), admin,
              {"party", "add", "--role", role, "--id", id, "--name", id,
               "--token-out", token(id)});
      if (!added.ok()) return added.status();
    }
    return absl::OkStatus();
  }

  // Every brand's purchases and payments file.
  absl::StatusOr<IngestFigures> BrandFiles(const Premiumd& server, int* files) {
    IngestFigures figures;
    *files = 0;
    const Clock::time_point start = Clock::now();
    for (const std::string& brand : season_.brands) {
      for (const char* what : {"purchases", "payments"}) {
        const std::string file =
            absl::StrCat(season_.dir, "/", what, "-", brand, ".csv");
        if (!fs::exists(file)) continue;
        absl::StatusOr<std::string> sent =
            Ctl(flags_, server.address(), token(brand), {what, "submit", file});
        if (!sent.ok()) return sent.status();
        figures.lines += DataLines(file);
        ++*files;
      }
    }
    figures.seconds = SecondsSince(start);
    return figures;
  }

  // One supplier's payroll file (by default its file in the season), its
  // codes written to codes(supplier).
  absl::StatusOr<IngestFigures> Payroll(const Premiumd& server,
                                        const std::string& supplier,
                                        std::string file = "") {
    if (file.empty()) file = PayrollFile(season_, supplier);
    const Clock::time_point start = Clock::now();
    absl::StatusOr<std::string> sent =
        Ctl(flags_, server.address(), token(supplier),
            {"payroll", "upload", file, "--codes-out", codes(supplier)});
    if (!sent.ok()) return sent.status();
    return IngestFigures{DataLines(file), SecondsSince(start)};
  }

  absl::StatusOr<std::string> Reconcile(const Premiumd& server) {
    return Ctl(
        flags_, server.address(), token(kAuditorId),
        {"audit", "reconcile", "--as-of", season_.as_of, "--output", "csv"});
  }

 private:
  const Flags& flags_;
  const SeasonFiles& season_;
  const std::string work_dir_;
};

// ------------------------------------------------------------ printing

std::string Human(double value) {
  if (value >= 1e6) return absl::StrFormat("%.2fM", value / 1e6);
  if (value >= 1e4) return absl::StrFormat("%.1fK", value / 1e3);
  return absl::StrFormat("%.1f", value);
}

void Section(const char* title) { std::printf("\n== %s\n", title); }

json ToJson(const LatencySummary& latency) {
  return {{"count", latency.count},   {"mean_us", latency.mean_us},
          {"p50_us", latency.p50_us}, {"p90_us", latency.p90_us},
          {"p99_us", latency.p99_us}, {"p999_us", latency.p999_us},
          {"max_us", latency.max_us}};
}

json ToJson(const IngestFigures& figures) {
  return {{"lines", figures.lines},
          {"seconds", figures.seconds},
          {"lines_per_second", figures.lines_per_second()}};
}

// ------------------------------------------------------------ reconciliation

// The balance-rule rows of premiumctl's `audit reconcile --output csv`, in
// expected.csv's 14 columns (the CLI adds status and evidence after them).
// The first 14 fields hold ids, types, dates and amounts, none of which
// may contain a comma or a quote, so splitting on commas is exact there.
absl::StatusOr<std::vector<std::string>> BalanceRows(const std::string& csv) {
  std::vector<std::string> rows;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    if (fields.size() < 14) {
      return absl::InternalError(
          absl::StrCat("a reconcile row of fewer than 14 fields: ", line));
    }
    fields.resize(14);
    if (header) {
      header = false;
      continue;
    }
    if (BalanceTypes().count(std::string(fields[1])) == 0) continue;
    rows.push_back(absl::StrJoin(fields, ","));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<std::string> BalanceRows(
    const std::vector<season::ExpectedDiscrepancy>& discrepancies) {
  std::vector<std::string> rows;
  for (const season::ExpectedDiscrepancy& d : discrepancies) {
    std::string row = season::ExpectedRow(d);
    while (!row.empty() && row.back() == '\n') row.pop_back();
    const std::vector<absl::string_view> fields = absl::StrSplit(row, ',');
    if (fields.size() > 1 && BalanceTypes().count(std::string(fields[1]))) {
      rows.push_back(row);
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

absl::StatusOr<std::vector<std::string>> ExpectedBalanceRows(
    const SeasonFiles& season) {
  std::ifstream in(season.dir + "/expected.csv");
  std::stringstream text;
  text << in.rdbuf();
  return BalanceRows(text.str());
}

// Empty when equal; else what differs, a line per row.
std::string Difference(const std::vector<std::string>& want,
                       const std::vector<std::string>& got) {
  std::string report;
  for (const std::string& row : want) {
    if (!std::binary_search(got.begin(), got.end(), row)) {
      absl::StrAppend(&report, "\n  missing: ", row);
    }
  }
  for (const std::string& row : got) {
    if (!std::binary_search(want.begin(), want.end(), row)) {
      absl::StrAppend(&report, "\n  extra:   ", row);
    }
  }
  return report;
}

// ------------------------------------------------------------ sections

// A run of the whole benchmark: figures go into `out` as they come.
class Bench {
 public:
  Bench(const Flags& flags, std::string scratch)
      : flags_(flags), scratch_(std::move(scratch)) {}

  json& out() { return out_; }

  void Run() {
    const Clock::time_point start = Clock::now();
    out_["machine"] = Machine();
    season_ = GenerateSeason(flags_, scratch_ + "/season", flags_.lines, 1);
    HoldBackLateFile();
    out_["season"] = {{"payroll_lines", season_.payroll_lines},
                      {"suppliers", season_.suppliers.size()},
                      {"brands", season_.brands.size()},
                      {"as_of", season_.as_of}};
    IngestAndServe();
    if (flags_.runs("postgres")) Postgres();
    if (flags_.runs("raw")) RawRocks();
    if (flags_.big_lines > 0 && flags_.runs("big")) Big();
    Goals();
    out_["seconds"] = SecondsSince(start);
  }

 private:
  json Machine() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line, model = "unknown";
    while (std::getline(cpuinfo, line)) {
      if (absl::StartsWith(line, "model name")) {
        model = line.substr(line.find(':') + 2);
        break;
      }
    }
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    std::printf("premium-bench: %u CPUs (%s), load average %.2f, work in %s\n",
                std::thread::hardware_concurrency(), model.c_str(), load[0],
                scratch_.c_str());
    return {{"cpus", std::thread::hardware_concurrency()},
            {"cpu_model", model},
            {"memory_mib", static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) *
                               sysconf(_SC_PAGE_SIZE) / (1 << 20)},
            {"load_average_at_start", load[0]}};
  }

  // The last supplier's payroll goes in after everything else, on both
  // sides: "one more upload".
  void HoldBackLateFile() {
    const std::string late_dir = scratch_ + "/late";
    fs::create_directories(late_dir);
    late_file_ = late_dir + "/payroll-" + season_.late_supplier + ".csv";
    fs::rename(PayrollFile(season_, season_.late_supplier), late_file_);
    late_lines_ = DataLines(late_file_);
  }

  std::vector<std::string> PayrollFiles(const SeasonFiles& season) const {
    std::vector<std::string> files;
    for (const std::string& supplier : season.suppliers) {
      const std::string file = PayrollFile(season, supplier);
      if (fs::exists(file)) files.push_back(file);
    }
    return files;
  }

  // Ingest, lookups, reconciliation, verify and proofs, all on premiumd.
  void IngestAndServe() {
    const std::string data_dir = scratch_ + "/premiumd";
    PremiumLoader loader(flags_, season_, scratch_ + "/premiumctl");
    std::unique_ptr<Premiumd> server =
        ValueOrDie(Premiumd::Start(flags_, data_dir), "premiumd");
    OkOrDie(loader.Register(*server, data_dir), "registering the season");

    Section("1. Ingest into premiumd (premiumctl, durable, one upload each)");
    int brand_files = 0;
    const IngestFigures brand =
        ValueOrDie(loader.BrandFiles(*server, &brand_files), "brand files");
    IngestFigures payroll;
    for (const std::string& supplier : season_.suppliers) {
      if (supplier == season_.late_supplier) continue;
      const IngestFigures one =
          ValueOrDie(loader.Payroll(*server, supplier), "payroll " + supplier);
      payroll.lines += one.lines;
      payroll.seconds += one.seconds;
    }
    std::printf("%-44s %10lld rows %8.2f s %12s rows/s\n",
                absl::StrCat("purchases and payments (", brand_files, " files)")
                    .c_str(),
                static_cast<long long>(brand.lines), brand.seconds,
                Human(brand.lines_per_second()).c_str());
    std::printf(
        "%-44s %10lld rows %8.2f s %12s rows/s\n",
        absl::StrCat("payroll (", season_.suppliers.size() - 1, " files)")
            .c_str(),
        static_cast<long long>(payroll.lines), payroll.seconds,
        Human(payroll.lines_per_second()).c_str());
    std::printf(
        "premiumd RSS %.0f MiB (peak %.0f MiB): anonymous %.0f MiB, mapped "
        "table files %.0f MiB\n",
        Mib(server->rss_kib()), Mib(server->peak_rss_kib()),
        Mib(server->anon_rss_kib()), Mib(server->file_rss_kib()));
    out_["ingest"]["premiumd"] = {
        {"payroll", ToJson(payroll)},
        {"purchases_and_payments", ToJson(brand)},
        {"rss_mib", Mib(server->rss_kib())},
        {"peak_rss_mib", Mib(server->peak_rss_kib())},
        {"anon_rss_mib", Mib(server->anon_rss_kib())},
        {"file_rss_mib", Mib(server->file_rss_kib())}};
    premiumd_ingest_ = payroll;

    if (flags_.runs("lookups")) Lookups(loader, *server);

    Section("2. Reconciliation in premiumd (as of the season's date)");
    // From scratch: premiumd builds its reconciliation state from the
    // whole log before it serves; its start with --ledger-only, which
    // builds none, is the rest of the start.
    OkOrDie(server->Stop(), "stopping premiumd");
    server.reset();
    std::unique_ptr<Premiumd> ledger_only = ValueOrDie(
        Premiumd::Start(flags_, data_dir, {"--ledger-only"}), "premiumd");
    const double bare_start_seconds = ledger_only->startup_seconds();
    OkOrDie(ledger_only->Stop(), "stopping premiumd");
    ledger_only.reset();
    server = ValueOrDie(Premiumd::Start(flags_, data_dir), "premiumd");
    const double warm_seconds =
        std::max(0.0, server->startup_seconds() - bare_start_seconds);
    Clock::time_point call_start = Clock::now();
    const std::string first =
        ValueOrDie(loader.Reconcile(*server), "audit reconcile");
    const double first_call_seconds = SecondsSince(call_start);
    const IngestFigures late =
        ValueOrDie(loader.Payroll(*server, season_.late_supplier, late_file_),
                   "the late payroll upload");
    call_start = Clock::now();
    const std::string after =
        ValueOrDie(loader.Reconcile(*server), "audit reconcile");
    const double after_call_seconds = SecondsSince(call_start);
    premiumd_rows_ = ValueOrDie(BalanceRows(after), "premiumd's answer");
    const std::vector<std::string> expected =
        ValueOrDie(ExpectedBalanceRows(season_), "expected.csv");
    if (const std::string diff = Difference(expected, premiumd_rows_);
        !diff.empty()) {
      Die(
          absl::StrCat("premiumd's reconciliation is not the season's ground "
                       "truth:",
                       diff));
    }
    reconcile_scratch_seconds_ = warm_seconds + first_call_seconds;
    reconcile_after_seconds_ = after_call_seconds;
    std::printf(
        "from scratch: %.3f s (state built from the log at start %.3f s + "
        "first reconcile call %.3f s)\n",
        reconcile_scratch_seconds_, warm_seconds, first_call_seconds);
    std::printf(
        "after one more upload (%lld lines, %.2f s): %.3f s; %zu balance "
        "discrepancies, equal to the ground truth\n",
        static_cast<long long>(late.lines), late.seconds, after_call_seconds,
        premiumd_rows_.size());
    out_["reconcile"]["premiumd"] = {
        {"from_scratch_seconds", reconcile_scratch_seconds_},
        {"state_build_seconds", warm_seconds},
        {"first_call_seconds", first_call_seconds},
        {"after_upload_seconds", after_call_seconds},
        {"late_upload_lines", late.lines},
        {"balance_discrepancies", premiumd_rows_.size()}};
    (void)first;
    out_["ingest"]["premiumd"]["rss_after_reconcile_mib"] =
        Mib(server->rss_kib());
    OkOrDie(server->Stop(), "stopping premiumd");
    server.reset();

    Section("4. Verify");
    out_["verify"] = Verify(data_dir);
    Section("5. Proofs");
    out_["proofs"].push_back(Proofs(data_dir));
  }

  void Lookups(const PremiumLoader& loader, const Premiumd& server) {
    Section("3. Worker lookups (closed loop, a connection per client)");
    std::vector<std::string> code_files;
    for (const std::string& supplier : season_.suppliers) {
      if (supplier != season_.late_supplier) {
        code_files.push_back(loader.codes(supplier));
      }
    }
    const std::vector<std::string> codes =
        ValueOrDie(LoadPaystubCodes(code_files), "paystub codes");
    std::printf("%-26s %8s %10s %10s %10s %10s %8s\n", "what", "clients",
                "calls/s", "p50 us", "p99 us", "max us", "errors");
    for (const int clients : {1, 16, 64}) {
      LoadOptions options;
      options.server_address = server.address();
      options.clients = clients;
      options.duration = absl::Seconds(flags_.lookup_seconds);
      options.warmup = absl::Seconds(std::min(2.0, flags_.lookup_seconds));
      for (const bool empty : {true, false}) {
        const LoadResult result = ValueOrDie(
            empty ? RunEmptyCallLoad(options) : RunLookupLoad(options, codes),
            "load");
        std::printf("%-26s %8d %10s %10.0f %10.0f %10.0f %8llu\n",
                    empty ? "empty call (Health/Check)" : "LookupCode", clients,
                    Human(result.calls_per_second).c_str(),
                    result.latency.p50_us, result.latency.p99_us,
                    result.latency.max_us,
                    static_cast<unsigned long long>(result.errors +
                                                    result.warmup_errors));
        if (result.errors + result.warmup_errors > 0) {
          Die(absl::StrCat(
              empty ? "empty calls" : "lookups", " failed: ",
              result.errors_by_code.begin()->second.first_message));
        }
        json figures = {{"clients", clients},
                        {"calls", result.calls},
                        {"seconds", result.seconds},
                        {"calls_per_second", result.calls_per_second},
                        {"latency", ToJson(result.latency)}};
        (empty ? out_["empty_calls"] : out_["lookups"]).push_back(figures);
      }
    }
  }

  json Verify(const std::string& data_dir) {
    const std::string text = ValueOrDie(
        RunToEnd({flags_.premiumd(), "verify", "--data-dir", data_dir}),
        "premiumd verify");
    std::printf("%s", text.c_str());
    // "... (123.4 MiB/s); ..."
    double verify_mib_per_second = 0;
    const size_t close = text.find(" MiB/s)");
    const size_t open = text.rfind('(', close);
    if (close == std::string::npos || open == std::string::npos ||
        !absl::SimpleAtod(text.substr(open + 1, close - open - 1),
                          &verify_mib_per_second)) {
      Die(absl::StrCat("premiumd verify printed no rate: ", text));
    }
    json out = {{"premiumd_verify_mib_per_second", verify_mib_per_second}};
    // SHA-256 on blocks the size of entries (about 250 bytes) and large.
    for (const int bytes : {256, 16384}) {
      const std::string speed =
          ValueOrDie(RunToEnd({"/usr/bin/openssl", "speed", "-mr", "-seconds",
                               "2", "-bytes", absl::StrCat(bytes), "sha256"}),
                     "openssl speed");
      // "+F:6:sha256:712023296.00": bytes per second.
      double bytes_per_second = 0;
      for (absl::string_view line : absl::StrSplit(speed, '\n')) {
        if (absl::StartsWith(line, "+F:")) {
          const std::vector<absl::string_view> parts =
              absl::StrSplit(line, ':');
          if (parts.size() == 4) {
            absl::SimpleAtod(parts[3], &bytes_per_second);
          }
        }
      }
      const double mib_per_second = bytes_per_second / (1 << 20);
      std::printf("openssl speed sha256, %5d-byte blocks: %8.1f MiB/s\n", bytes,
                  mib_per_second);
      out[absl::StrCat("sha256_", bytes, "_mib_per_second")] = mib_per_second;
    }
    sha256_mib_per_second_ = out["sha256_16384_mib_per_second"];
    verify_mib_per_second_ = verify_mib_per_second;
    return out;
  }

  // Inclusion and consistency proofs on a stopped premiumd's ledger, in
  // process, at its size. The ledger first reads its high nodes into
  // memory, on its own thread, as premiumd's does at start: the time that
  // takes is reported, and the proofs wait for it. The first kSamples then
  // fill the block cache: they are reported apart from the next kSamples,
  // the state a serving premiumd is in, which the goal is held to (as the
  // lookups are measured after a warm-up).
  json Proofs(const std::string& data_dir) {
    LedgerOptions options;
    options.data_dir = data_dir;
    const Clock::time_point open_start = Clock::now();
    std::unique_ptr<Ledger> ledger =
        ValueOrDie(Ledger::Open(options), "opening " + data_dir);
    const double open_seconds = SecondsSince(open_start);
    const double warm_seconds = WaitForNodeCache(*ledger);
    const uint64_t cached_nodes = ledger->node_cache().nodes;
    const uint64_t size = ledger->size();
    std::printf(
        "tree size %llu: open %.2f s, then %llu high nodes read into memory "
        "in %.2f s\n",
        static_cast<unsigned long long>(size), open_seconds,
        static_cast<unsigned long long>(cached_nodes), warm_seconds);
    const merkle::Hash root = ledger->LatestCheckpoint().checkpoint.root_hash;
    std::mt19937_64 random(7);
    constexpr int kSamples = 2000;
    struct Round {
      LatencySummary inclusion;
      LatencySummary consistency;
    };
    const auto run_round = [&]() {
      LatencyHistogram inclusion, consistency;
      for (int i = 0; i < kSamples; ++i) {
        const uint64_t leaf = random() % size;
        Clock::time_point start = Clock::now();
        const std::vector<merkle::Hash> proof =
            ValueOrDie(ledger->InclusionProof(leaf, size), "inclusion proof");
        inclusion.Record(static_cast<uint64_t>(
            std::chrono::nanoseconds(Clock::now() - start).count()));
        const StoredEntry entry = ValueOrDie(ledger->ReadEntry(leaf), "entry");
        OkOrDie(merkle::VerifyInclusion(merkle::HashLeaf(entry.bytes), leaf,
                                        size, proof, root),
                "an inclusion proof of the ledger does not verify");
        const uint64_t old_size = 1 + random() % (size - 1);
        start = Clock::now();
        const std::vector<merkle::Hash> consistent = ValueOrDie(
            ledger->ConsistencyProof(old_size, size), "consistency proof");
        consistency.Record(static_cast<uint64_t>(
            std::chrono::nanoseconds(Clock::now() - start).count()));
        OkOrDie(merkle::VerifyConsistency(
                    old_size, size,
                    ValueOrDie(ledger->RootAt(old_size), "an old root"), root,
                    consistent),
                "a consistency proof of the ledger does not verify");
      }
      return Round{Summarize(inclusion), Summarize(consistency)};
    };
    const Round after_open = run_round();
    const Round warm = run_round();
    for (const auto& [what, round] :
         {std::pair{"first after the open (block cache cold)", &after_open},
          std::pair{"next (warm)", &warm}}) {
      std::printf(
          "tree size %llu, %d random samples, %s: inclusion proof p50 %.1f "
          "us, p99 %.1f us; consistency proof p50 %.1f us, p99 %.1f us\n",
          static_cast<unsigned long long>(size), kSamples, what,
          round->inclusion.p50_us, round->inclusion.p99_us,
          round->consistency.p50_us, round->consistency.p99_us);
    }
    proofs_p99_us_ = std::max(
        {proofs_p99_us_, warm.inclusion.p99_us, warm.consistency.p99_us});
    return {{"tree_size", size},
            {"open_seconds", open_seconds},
            {"node_cache_fill_seconds", warm_seconds},
            {"node_cache_nodes", cached_nodes},
            {"inclusion", ToJson(warm.inclusion)},
            {"consistency", ToJson(warm.consistency)},
            {"inclusion_after_open", ToJson(after_open.inclusion)},
            {"consistency_after_open", ToJson(after_open.consistency)}};
  }

  void Postgres() {
    Section("PostgreSQL 15 on the same season");
    std::unique_ptr<ScratchPostgres> postgres = ValueOrDie(
        ScratchPostgres::Start(scratch_ + "/postgres"), "PostgreSQL");
    json settings;
    for (const auto& [name, value] :
         ValueOrDie(postgres->Settings(), "PostgreSQL settings")) {
      settings[name] = value;
    }
    std::printf("settings: %s\n", settings.dump().c_str());
    const SeasonLoad load =
        ValueOrDie(LoadSeason(*postgres, season_.dir), "loading PostgreSQL");
    const double payroll_seconds = absl::ToDoubleSeconds(load.payroll.elapsed);
    postgres_ingest_ = IngestFigures{load.payroll.rows, payroll_seconds};
    std::printf(
        "payroll \\copy: %lld rows in %d files, %.2f s: %s rows/s "
        "(purchases and payments: %lld rows, %.2f s; ANALYZE %.2f s)\n",
        static_cast<long long>(load.payroll.rows), load.payroll.files,
        payroll_seconds, Human(postgres_ingest_.lines_per_second()).c_str(),
        static_cast<long long>(load.purchases.rows + load.payments.rows),
        absl::ToDoubleSeconds(load.purchases.elapsed + load.payments.elapsed),
        absl::ToDoubleSeconds(load.analyze_elapsed));
    absl::CivilDay as_of;
    if (!absl::ParseCivilTime(season_.as_of, &as_of)) Die("as_of");
    const ReconcileRun scratch =
        ValueOrDie(Reconcile(*postgres, as_of), "reconcile.sql");
    const KindLoad late = ValueOrDie(
        LoadPayrollFile(*postgres, late_file_, season_.late_supplier),
        "the late payroll file");
    const ReconcileRun after =
        ValueOrDie(Reconcile(*postgres, as_of), "reconcile.sql");
    const std::vector<std::string> rows = BalanceRows(after.rows);
    if (const std::string diff = Difference(premiumd_rows_, rows);
        !diff.empty()) {
      Die(absl::StrCat("PostgreSQL's reconciliation differs from premiumd's:",
                       diff));
    }
    postgres_reconcile_scratch_seconds_ =
        absl::ToDoubleSeconds(scratch.elapsed);
    postgres_reconcile_after_seconds_ = absl::ToDoubleSeconds(after.elapsed);
    std::printf(
        "reconcile.sql: %.3f s; after one more \\copy (%lld rows, %.2f s): "
        "%.3f s; the same %zu rows as premiumd\n",
        postgres_reconcile_scratch_seconds_, static_cast<long long>(late.rows),
        absl::ToDoubleSeconds(late.elapsed), postgres_reconcile_after_seconds_,
        rows.size());
    out_["postgres"] = {
        {"settings", settings},
        {"payroll", ToJson(postgres_ingest_)},
        {"purchases_rows", load.purchases.rows},
        {"payments_rows", load.payments.rows},
        {"purchases_and_payments_seconds",
         absl::ToDoubleSeconds(load.purchases.elapsed + load.payments.elapsed)},
        {"analyze_seconds", absl::ToDoubleSeconds(load.analyze_elapsed)},
        {"reconcile_seconds", postgres_reconcile_scratch_seconds_},
        {"reconcile_after_upload_seconds", postgres_reconcile_after_seconds_}};
    OkOrDie(postgres->Stop(), "stopping PostgreSQL");
  }

  void RawRocks() {
    Section(
        "Raw RocksDB: the same payroll lines, synced batches, nothing else");
    RawIngestOptions options;
    options.dir = scratch_ + "/raw";
    const RawIngestResult raw = ValueOrDie(
        RunRawRocksIngest(options, PayrollFiles(season_)), "raw ingest");
    raw_ingest_ = IngestFigures{static_cast<int64_t>(raw.lines), raw.seconds};
    std::printf(
        "%llu lines, %llu batches of up to %zu, %.2f s: %s lines/s, "
        "%.1f MB/s\n",
        static_cast<unsigned long long>(raw.lines),
        static_cast<unsigned long long>(raw.batches), options.batch_lines,
        raw.seconds, Human(raw.lines_per_second).c_str(),
        raw.megabytes_per_second);
    out_["ingest"]["rocksdb_raw"] = {
        {"lines", raw.lines},
        {"bytes", raw.bytes},
        {"batches", raw.batches},
        {"seconds", raw.seconds},
        {"lines_per_second", raw.lines_per_second}};
    fs::remove_all(options.dir);
  }

  // premiumd's memory through a large ingest, and proofs at its size.
  void Big() {
    Section("6. Memory through a large ingest");
    SeasonFiles big =
        GenerateSeason(flags_, scratch_ + "/big", flags_.big_lines, 2);
    const std::string data_dir = scratch_ + "/premiumd-big";
    PremiumLoader loader(flags_, big, scratch_ + "/premiumctl-big");
    std::unique_ptr<Premiumd> server =
        ValueOrDie(Premiumd::Start(flags_, data_dir), "premiumd");
    OkOrDie(loader.Register(*server, data_dir), "registering");
    int brand_files = 0;
    ValueOrDie(loader.BrandFiles(*server, &brand_files), "brand files");
    int64_t lines = 0;
    double seconds = 0;
    json samples = json::array();
    std::printf("%14s %10s %10s %10s %10s\n", "payroll lines", "RSS MiB",
                "anon MiB", "files MiB", "lines/s");
    double peak_anon = 0;
    for (const std::string& supplier : big.suppliers) {
      const IngestFigures one =
          ValueOrDie(loader.Payroll(*server, supplier), "payroll");
      lines += one.lines;
      seconds += one.seconds;
      const double rss = Mib(server->rss_kib());
      const double anon = Mib(server->anon_rss_kib());
      const double files = Mib(server->file_rss_kib());
      peak_anon = std::max(peak_anon, anon);
      samples.push_back({{"payroll_lines", lines},
                         {"rss_mib", rss},
                         {"anon_rss_mib", anon},
                         {"file_rss_mib", files}});
      std::printf("%14lld %10.0f %10.0f %10.0f %10s\n",
                  static_cast<long long>(lines), rss, anon, files,
                  Human(one.lines_per_second()).c_str());
      fs::remove(loader.codes(supplier));
    }
    const double peak = Mib(server->peak_rss_kib());
    big_peak_rss_mib_ = peak;
    big_peak_anon_mib_ = peak_anon;
    std::printf(
        "peak RSS %.0f MiB (anonymous, largest sampled: %.0f MiB); %lld lines "
        "in %.1f s (%s lines/s)\n",
        peak, peak_anon, static_cast<long long>(lines), seconds,
        Human(lines / seconds).c_str());
    out_["memory"] = {{"payroll_lines", lines},
                      {"ingest_seconds", seconds},
                      {"peak_rss_mib", peak},
                      {"peak_anon_rss_mib", peak_anon},
                      {"samples", samples}};
    // premiumd builds its reconciliation state on the first audit call
    // after the ingest: that state is what grows with the ledger.
    const Clock::time_point reconcile_start = Clock::now();
    ValueOrDie(loader.Reconcile(*server), "audit reconcile");
    const double reconcile_seconds = SecondsSince(reconcile_start);
    const double anon_after_reconcile = Mib(server->anon_rss_kib());
    big_peak_anon_mib_ = std::max(big_peak_anon_mib_, anon_after_reconcile);
    std::printf(
        "first audit reconcile after the ingest (catch-up of every entry): "
        "%.1f s; then RSS %.0f MiB, anonymous %.0f MiB\n",
        reconcile_seconds, Mib(server->rss_kib()), anon_after_reconcile);
    out_["memory"]["reconcile_after_ingest_seconds"] = reconcile_seconds;
    out_["memory"]["anon_rss_after_reconcile_mib"] = anon_after_reconcile;
    big_peak_rss_mib_ = Mib(server->peak_rss_kib());
    out_["memory"]["peak_rss_mib"] = big_peak_rss_mib_;
    OkOrDie(server->Stop(), "stopping premiumd");
    server.reset();
    Section("4. Verify (large ledger)");
    out_["verify_big"] = Verify(data_dir);
    Section("5. Proofs (large ledger)");
    out_["proofs"].push_back(Proofs(data_dir));
    fs::remove_all(big.dir);
  }

  void Goals() {
    Section("Goals (issue 5)");
    json goals = json::array();
    const auto goal = [&](const std::string& what, double measured,
                          const std::string& target, bool met) {
      std::printf("%-58s %12.2f %-14s %s\n", what.c_str(), measured,
                  target.c_str(), met ? "met" : "MISSED");
      goals.push_back({{"goal", what},
                       {"measured", measured},
                       {"target", target},
                       {"met", met}});
    };
    const double ingest = premiumd_ingest_.lines_per_second();
    if (postgres_ingest_.seconds > 0) {
      const double ratio = ingest / postgres_ingest_.lines_per_second();
      goal("ingest: premiumd / PostgreSQL", ratio, ">= 2", ratio >= 2);
    }
    if (raw_ingest_.seconds > 0) {
      const double ratio = ingest / raw_ingest_.lines_per_second();
      goal("ingest: premiumd / raw RocksDB", ratio, ">= 0.5", ratio >= 0.5);
    }
    if (postgres_reconcile_scratch_seconds_ > 0) {
      const double ratio =
          postgres_reconcile_scratch_seconds_ / reconcile_scratch_seconds_;
      goal("reconcile from scratch: PostgreSQL time / premiumd time", ratio,
           ">= 5", ratio >= 5);
      const double after =
          postgres_reconcile_after_seconds_ / reconcile_after_seconds_;
      goal("reconcile after one more upload: PostgreSQL / premiumd", after,
           ">= 5", after >= 5);
    }
    if (out_.contains("lookups")) {
      for (size_t i = 0; i < out_["lookups"].size(); ++i) {
        const json& lookup = out_["lookups"][i];
        const json& empty = out_["empty_calls"][i];
        const double ratio = lookup["calls_per_second"].get<double>() /
                             empty["calls_per_second"].get<double>();
        const int clients = lookup["clients"];
        goal(absl::StrCat("lookups / empty calls, ", clients, " clients"),
             ratio, ">= 0.5", ratio >= 0.5);
        if (clients == 16) {
          const double p99 = lookup["latency"]["p99_us"];
          goal("lookup p99 at 16 clients (us)", p99, "< 5000", p99 < 5000);
        }
      }
    }
    if (sha256_mib_per_second_ > 0) {
      const double ratio = verify_mib_per_second_ / sha256_mib_per_second_;
      goal("verify MiB/s / SHA-256 MiB/s (16 KiB blocks)", ratio, ">= 0.5",
           ratio >= 0.5);
    }
    goal("proofs (warm), worst p99 (us)", proofs_p99_us_, "< 100",
         proofs_p99_us_ < 100);
    if (big_peak_rss_mib_ > 0) {
      goal(absl::StrCat("premiumd peak RSS over ", flags_.big_lines,
                        " lines (MiB)"),
           big_peak_rss_mib_, "< 512", big_peak_rss_mib_ < 512);
      goal(absl::StrCat("premiumd anonymous RSS over ", flags_.big_lines,
                        " lines (MiB)"),
           big_peak_anon_mib_, "< 512", big_peak_anon_mib_ < 512);
    }
    out_["goals"] = goals;
  }

  const Flags& flags_;
  const std::string scratch_;
  json out_;
  SeasonFiles season_;
  std::string late_file_;
  int64_t late_lines_ = 0;
  std::vector<std::string> premiumd_rows_;
  IngestFigures premiumd_ingest_;
  IngestFigures postgres_ingest_;
  IngestFigures raw_ingest_;
  double reconcile_scratch_seconds_ = 0;
  double reconcile_after_seconds_ = 0;
  double postgres_reconcile_scratch_seconds_ = 0;
  double postgres_reconcile_after_seconds_ = 0;
  double verify_mib_per_second_ = 0;
  double sha256_mib_per_second_ = 0;
  double proofs_p99_us_ = 0;
  double big_peak_rss_mib_ = 0;
  double big_peak_anon_mib_ = 0;
};

int Main(int argc, char** argv) {
  // A long run's tables show as they come, also when piped to a log.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  TurnOffMutexDeadlockDetection();
  Flags flags;
  CLI::App app{
      "premium-bench: the premium ledger beside PostgreSQL 15 and the "
      "machine's limits on one generated season (issue 5); run it through "
      "tests/bench/run"};
  app.add_option("--work-dir", flags.work_dir,
                 "Where to make the scratch directory (default $TMPDIR or "
                 "/tmp); it needs about 1 GB per million payroll lines");
  app.add_option("--bin-dir", flags.bin_dir,
                 "The build directory holding premiumd, premiumctl and "
                 "premium-season")
      ->required();
  app.add_option("--lines", flags.lines, "Payroll lines of the main season")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10'000}, int64_t{100'000'000}));
  app.add_option("--big-lines", flags.big_lines,
                 "Payroll lines of the memory run (0: skip it)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
  app.add_option("--lookup-seconds", flags.lookup_seconds,
                 "Measured seconds of each lookup and empty-call run")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--skip", flags.skip,
                 "Sections to skip, separated by spaces or commas: lookups, "
                 "postgres, raw, big")
      ->delimiter(',')
      ->check(CLI::IsMember({"lookups", "postgres", "raw", "big"}));
  app.add_flag("--quick", flags.quick,
               "A smoke run: 100,000 lines, no memory run, 2 s lookups");
  app.add_option("--json", flags.json_path, "Write every figure here");
  app.add_flag("--keep", flags.keep, "Keep the scratch directory");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (flags.quick) {
    if (app.count("--lines") == 0) flags.lines = 100'000;
    if (app.count("--big-lines") == 0) flags.big_lines = 0;
    if (app.count("--lookup-seconds") == 0) flags.lookup_seconds = 2;
  }
  std::string parent = flags.work_dir;
  if (parent.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    parent = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  }
  std::string scratch = parent + "/premium-bench.XXXXXX";
  if (::mkdtemp(scratch.data()) == nullptr) {
    Die(absl::StrCat("cannot make a directory in ", parent));
  }
  // PostgreSQL's server runs as the postgres user when this runs as root,
  // and must be able to reach its directory.
  fs::permissions(scratch, fs::perms::owner_all | fs::perms::group_exec |
                               fs::perms::others_exec);
  Bench bench(flags, scratch);
  bench.Run();
  if (!flags.json_path.empty()) {
    std::ofstream out(flags.json_path);
    out << bench.out().dump(2) << "\n";
    std::printf("\nfigures written to %s\n", flags.json_path.c_str());
  }
  if (!flags.keep) fs::remove_all(scratch);
  return 0;
}

}  // namespace
}  // namespace premium::bench

int main(int argc, char** argv) { return premium::bench::Main(argc, argv); }
