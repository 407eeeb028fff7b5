// The PostgreSQL side of the comparison of tests/bench: a scratch
// PostgreSQL 15 cluster of its own (initdb, pg_ctl, psql of Debian's
// postgresql-15), the premium ledger's records as a PostgreSQL user would
// keep them (sql/schema.sql), loaded one upload at a time, and the balance
// rules of DESIGN section 7 as one SQL query (sql/reconcile.sql).
//
// Durability is that of premiumd: fsync, synchronous_commit and
// full_page_writes stay on, and each file is loaded by psql's client-side
// \copy in a transaction of its own, so that a committed file is on disk
// exactly as a committed upload is.
//
// Users. PostgreSQL refuses to run as root: when this process is root, the
// server side (initdb, pg_ctl, so postgres) runs as the `postgres` user
// (runuser), and the cluster's directory is handed to that user; psql runs
// as this process's user, so that \copy reads the CSV files with this
// process's rights and nothing but the directory needs opening up. Every
// command runs in an empty environment (env -i) but for PATH and LC_ALL=C,
// so PG* variables of the caller cannot change what is measured.
//
// Security. The server listens on 127.0.0.1 only, with its unix socket in
// the cluster's directory (mode 0700), and requires a password
// (scram-sha-256) on both: the superuser on a shared machine's loopback
// would otherwise be open to every local user. The password is random and
// kept in a pgpass file only psql's user can read.
//
// Not thread-safe: one thread drives one ScratchPostgres.
#ifndef PREMIUM_TESTS_BENCH_POSTGRES_H_
#define PREMIUM_TESTS_BENCH_POSTGRES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tests/season/season.h"

namespace premium::bench {

// Where Debian's postgresql-15 package puts the server's programs.
inline constexpr char kPostgresBinDir[] = "/usr/lib/postgresql/15/bin";
// The database the premium tables live in.
inline constexpr char kPremiumDatabase[] = "premium";

// How psql reaches the server.
enum class Transport {
  // 127.0.0.1 and the cluster's port: the way premiumctl reaches premiumd,
  // so that the two sides pay the same loopback TCP costs.
  kTcp,
  // The unix socket in the cluster's directory.
  kUnixSocket,
};

struct PostgresOptions {
  // initdb, pg_ctl, postgres and psql.
  std::string bin_dir = kPostgresBinDir;
  // schema.sql and reconcile.sql; default: tests/bench/sql of the source
  // tree this library was built from.
  std::string sql_dir;
  Transport transport = Transport::kTcp;
  // postgresql.conf settings (name, value as the file spells it, e.g.
  // {"shared_buffers", "1GB"}), written after ours, so they win; for the
  // benchmark's variations. Ours are only the address, port and socket
  // directory, and fsync, synchronous_commit and full_page_writes on.
  std::vector<std::pair<std::string, std::string>> settings;
  // Longest one command (initdb, one psql script) may run; it is then
  // killed and DeadlineExceeded returned.
  absl::Duration command_timeout = absl::Hours(1);
};

// A psql variable: -v name=value, used in scripts as :'name' (a quoted
// literal) or :name.
struct PsqlVariable {
  std::string name;
  std::string value;
};

// What a psql run prints on standard output.
enum class PsqlOutput {
  // Each statement's command tag ("BEGIN", "COPY 1200", ...), nothing else
  // unless the script prints.
  kCommandTags,
  // Query results as CSV rows without a header, no command tags.
  kCsvRows,
};

// A PostgreSQL cluster in a directory of its own, running while the object
// lives.
class ScratchPostgres {
 public:
  // Creates a cluster in `dir` (created if missing; it must not hold one
  // yet), starts it on a free port of 127.0.0.1 with its unix socket in
  // `dir`, and creates kPremiumDatabase (empty: see LoadSeason).
  // As root, `dir` is given to the postgres user, and its parent
  // directories must let that user through (FailedPrecondition otherwise,
  // saying so). Errors name the command that failed and its standard error
  // (and the server log's end when the server did not start):
  // FailedPrecondition for a missing program, user or unusable directory,
  // Internal or Unavailable for a command that failed, DeadlineExceeded
  // for one that ran out of time.
  static absl::StatusOr<std::unique_ptr<ScratchPostgres>> Start(
      const std::string& dir, PostgresOptions options = {});

  // Stops the server (as Stop does) if it still runs.
  ~ScratchPostgres();
  ScratchPostgres(const ScratchPostgres&) = delete;
  ScratchPostgres& operator=(const ScratchPostgres&) = delete;

  // pg_ctl stop -m fast: open sessions are rolled back, the server shuts
  // down cleanly. OK if it was already stopped. The directory is left as
  // it is.
  absl::Status Stop();

  bool running() const { return running_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  const PostgresOptions& options() const { return options_; }

  // Runs the psql script at `path` in `database` with ON_ERROR_STOP (the
  // first failing statement ends it; an open transaction is rolled back)
  // and returns its standard output. Failures: InvalidArgument when a
  // statement of the script failed (psql's exit code 3: a refused row, a
  // syntax error), Unavailable when psql could not connect, Internal
  // otherwise; each names the command and quotes its standard error.
  absl::StatusOr<std::string> RunScript(
      const std::string& path, const std::vector<PsqlVariable>& variables = {},
      PsqlOutput output = PsqlOutput::kCommandTags,
      const std::string& database = kPremiumDatabase);

  // RunScript of `script`, written to a file in dir()/scripts first (kept,
  // so that what ran can be read afterwards).
  absl::StatusOr<std::string> RunSql(
      absl::string_view script, const std::vector<PsqlVariable>& variables = {},
      PsqlOutput output = PsqlOutput::kCommandTags,
      const std::string& database = kPremiumDatabase);

  // The rows of the query (or script) `sql`, each the text of its fields
  // (NULL and '' both as empty strings).
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(
      absl::string_view sql, const std::vector<PsqlVariable>& variables = {});

  // The settings a benchmark should print beside its figures (name and
  // value as SHOW prints it): server_version, shared_buffers,
  // synchronous_commit, fsync, full_page_writes, wal_level,
  // wal_sync_method, max_wal_size, checkpoint_timeout, work_mem,
  // maintenance_work_mem.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Settings();

  // Empties kPremiumDatabase: drops its public schema, with everything in
  // it, and creates it anew, in one transaction.
  absl::Status ResetDatabase();

 private:
  ScratchPostgres(std::string dir, PostgresOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}

  absl::Status Create();
  absl::Status StartServer();
  std::vector<std::string> PsqlCommand(
      const std::string& database, PsqlOutput output,
      const std::vector<PsqlVariable>& variables) const;

  std::string dir_;
  PostgresOptions options_;
  int port_ = 0;
  bool running_ = false;
  int scripts_written_ = 0;
};

// The kinds of uploaded file (DESIGN section 8).
enum class FileKind { kPurchases, kPayments, kPayroll };

// Loading one kind of file: how many files and rows, and the wall time of
// the psql run that loaded them (one psql start and connection for all
// the files of the kind; each file is a transaction of its own).
struct KindLoad {
  int files = 0;
  int64_t rows = 0;
  absl::Duration elapsed;
};

struct SeasonLoad {
  // ResetDatabase and schema.sql.
  absl::Duration schema_elapsed;
  // Program versions and parties of season.json (rows: one per version
  // and per party).
  KindLoad programs_and_parties;
  KindLoad purchases;
  KindLoad payments;
  KindLoad payroll;
  // ANALYZE of the loaded tables, as a PostgreSQL user runs it after a
  // bulk load for the planner to see the data.
  absl::Duration analyze_elapsed;
};

// Loads the season in `season_dir` (tests/season/season.h: season.json and
// purchases-<brand>.csv, payments-<brand>.csv, payroll-<supplier>.csv) into
// a reset kPremiumDatabase: the schema, the programs and parties, then
// every file of each kind, the owner taken from the file name. Stops at
// the first refused file: InvalidArgument naming it and quoting psql.
absl::StatusOr<SeasonLoad> LoadSeason(ScratchPostgres& postgres,
                                      const std::string& season_dir);

// Loads the files of one kind, each (path, owner) in its own transaction,
// in one psql run. The column list of each \copy is the file's header row
// (InvalidArgument if it is not a permutation of the kind's columns).
// Files before a refused one stay loaded.
absl::StatusOr<KindLoad> LoadFiles(
    ScratchPostgres& postgres, FileKind kind,
    const std::vector<std::pair<std::string, std::string>>& files);

// One more payroll upload: LoadFiles of one payroll file.
absl::StatusOr<KindLoad> LoadPayrollFile(ScratchPostgres& postgres,
                                         const std::string& path,
                                         const std::string& supplier_id);

// What reconcile.sql reports as of a date: the rows as a season's ground
// truth holds them (id, type, severity, key, dates, exact amounts,
// currency), and the wall time of the psql run.
struct ReconcileRun {
  std::vector<season::ExpectedDiscrepancy> rows;
  absl::Duration elapsed;
};

absl::StatusOr<ReconcileRun> Reconcile(ScratchPostgres& postgres,
                                       absl::CivilDay as_of);

}  // namespace premium::bench

#endif  // PREMIUM_TESTS_BENCH_POSTGRES_H_
