#include "tests/bench/postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ledger/csv/csv_reader.h"
#include "ledger/money/decimal.h"
#include "ledger/testing/child_process.h"
#include "nlohmann/json.hpp"

namespace premium::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kEnv[] = "/usr/bin/env";
constexpr char kRunuser[] = "/usr/sbin/runuser";
constexpr char kTest[] = "/usr/bin/test";
// The server's superuser, and the system user the server runs as when this
// process is root (Debian's postgresql-common creates it).
constexpr char kPostgresUser[] = "postgres";
// A free port found now may be taken before the server binds it.
constexpr int kStartAttemptsMax = 5;
constexpr int kServerWaitSeconds = 120;
// sockaddr_un's sun_path (108 on Linux) must hold DIR/.s.PGSQL.65535.
constexpr size_t kSocketPathBytesMax = sizeof(sockaddr_un::sun_path) - 1;
// Of a failed command's standard error, the end (where the cause is).
constexpr size_t kQuotedErrorBytesMax = 4000;
// A header row longer than this is not one of ours.
constexpr size_t kHeaderBytesMax = 4096;
constexpr size_t kPasswordBytes = 24;
// The columns of reconcile.sql's rows: a season's expected.csv.
constexpr size_t kReconcileColumns = 14;

// The columns of each file kind, as DESIGN section 8 (and
// ledger/premium/upload.h) name them, and the table they go to.
struct KindInfo {
  const char* name;
  const char* table;
  std::vector<absl::string_view> columns;
};

const KindInfo& InfoOf(FileKind kind) {
  static const KindInfo* const kPurchases =
      new KindInfo{"purchases",
                   "purchases",
                   {"invoice_id", "supplier_id", "program_id", "purchase_date",
                    "quantity", "unit"}};
  static const KindInfo* const kPayments =
      new KindInfo{"payments",
                   "payments",
                   {"payment_id", "supplier_id", "program_id", "paid_date",
                    "amount", "currency"}};
  static const KindInfo* const kPayroll = new KindInfo{
      "payroll",
      "payroll_lines",
      {"program_id", "worker_id", "period_start", "period_end", "pay_date",
       "hours", "gross_wages", "premium_amount", "currency"}};
  switch (kind) {
    case FileKind::kPurchases:
      return *kPurchases;
    case FileKind::kPayments:
      return *kPayments;
    case FileKind::kPayroll:
      return *kPayroll;
  }
  return *kPurchases;
}

bool IsRoot() { return geteuid() == 0; }

// [a-z0-9][a-z0-9._-]{0,63}, as ledger/premium/validation.h's ValidateId:
// owners taken from file names are written into SQL and must be ids.
bool IsId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alphanumeric = absl::ascii_islower(c) || absl::ascii_isdigit(c);
    if (!alphanumeric && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
      return false;
    }
  }
  return true;
}

// Paths go into postgresql.conf strings and psql's \copy between single
// quotes, where a quote or a backslash would be read as syntax.
absl::Status CheckQuotable(absl::string_view what, absl::string_view path) {
  for (const char c : path) {
    if (c == '\'' || c == '\\' || absl::ascii_iscntrl(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " \"", path, "\" has a quote, backslash or control character"));
    }
  }
  return absl::OkStatus();
}

// A SQL string literal (standard_conforming_strings is on).
absl::StatusOr<std::string> SqlLiteral(absl::string_view text) {
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("a NUL byte in a SQL value");
  }
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

std::string Tail(absl::string_view text) {
  text = absl::StripTrailingAsciiWhitespace(text);
  if (text.size() > kQuotedErrorBytesMax) {
    text = text.substr(text.size() - kQuotedErrorBytesMax);
  }
  return std::string(text);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view text,
                       mode_t mode) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", path, ": ", std::strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RandomPassword() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string bytes(kPasswordBytes, '\0');
  if (!urandom.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    return absl::FailedPreconditionError("cannot read /dev/urandom");
  }
  return absl::BytesToHexString(bytes);
}

// A port of 127.0.0.1 free at the time of asking.
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("socket: ", std::strerror(errno)));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  close(fd);
  if (!ok) {
    return absl::UnavailableError(
        absl::StrCat("no free port on 127.0.0.1: ", std::strerror(error)));
  }
  return static_cast<int>(ntohs(address.sin_port));
}

// The start of every command: an environment of our choosing (PGOPTIONS,
// PGHOST and the like of the caller must not change what runs).
std::vector<std::string> CleanEnvironment(
    const std::vector<std::string>& variables = {}) {
  std::vector<std::string> args = {kEnv, "-i", "PATH=/usr/bin:/bin",
                                   "LC_ALL=C"};
  args.insert(args.end(), variables.begin(), variables.end());
  return args;
}

// The server side's commands: as the postgres user when we are root.
std::vector<std::string> ServerCommand(const std::vector<std::string>& args) {
  std::vector<std::string> command = CleanEnvironment();
  if (IsRoot()) {
    command.insert(command.end(), {kRunuser, "-u", kPostgresUser, "--"});
  }
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

// The command as a user would type it: without the environment prefix.
std::string Shown(const std::vector<std::string>& args) {
  size_t first = 0;
  if (!args.empty() && args[0] == kEnv) {
    first = 1;
    while (first < args.size() &&
           (args[first] == "-i" || absl::StrContains(args[first], '='))) {
      ++first;
    }
  }
  return absl::StrJoin(args.begin() + first, args.end(), " ");
}

struct CommandOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

absl::StatusOr<CommandOutput> RunCommand(const std::vector<std::string>& args,
                                         absl::Duration timeout) {
  std::unique_ptr<testing::Child> child = testing::Child::Start(args);
  if (child == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start ", Shown(args)));
  }
  const std::optional<int> exit_code = child->WaitForExit(timeout);
  if (!exit_code.has_value()) {
    // The Child kills it on the way out.
    return absl::DeadlineExceededError(
        absl::StrCat(Shown(args), ": still running after ",
                     absl::FormatDuration(timeout), "; killed"));
  }
  return CommandOutput{*exit_code, child->out(), child->err()};
}

// A command that must exit 0; its standard output.
absl::StatusOr<std::string> RunOrError(const std::vector<std::string>& args,
                                       absl::Duration timeout) {
  absl::StatusOr<CommandOutput> output = RunCommand(args, timeout);
  if (!output.ok()) return output.status();
  if (output->exit_code != 0) {
    return absl::InternalError(absl::StrCat(Shown(args), ": exit code ",
                                            output->exit_code, ": ",
                                            Tail(output->err)));
  }
  return std::move(output->out);
}

// Who the server runs as: this process's user, or postgres for root.
struct ServerUser {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Makes `dir` the server user's, private (the socket and the server's files
// live there), and checks that user can reach it.
absl::StatusOr<ServerUser> GiveToServerUser(const std::string& dir) {
  ServerUser user{geteuid(), getegid()};
  if (IsRoot()) {
    const passwd* entry = getpwnam(kPostgresUser);
    if (entry == nullptr) {
      return absl::FailedPreconditionError(
          "PostgreSQL refuses to run as root and there is no postgres user "
          "(install postgresql-15)");
    }
    user = ServerUser{entry->pw_uid, entry->pw_gid};
  }
  if (chown(dir.c_str(), user.uid, user.gid) != 0 ||
      chmod(dir.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot give ", dir, " to uid ", user.uid, ": ", std::strerror(errno)));
  }
  if (!IsRoot()) return user;
  absl::StatusOr<CommandOutput> reachable = RunCommand(
      ServerCommand({kTest, "-w", dir, "-a", "-x", dir}), absl::Minutes(1));
  if (!reachable.ok()) return reachable.status();
  if (reachable->exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the postgres user cannot reach ", dir,
                     ": let it through the parent directories (chmod o+x)"));
  }
  return user;
}

absl::StatusOr<std::vector<std::vector<std::string>>> ParseCsv(
    absl::string_view text) {
  csv::Limits limits;
  limits.field_bytes_max = 1 << 20;
  limits.record_bytes_max = 4 << 20;
  csv::Reader reader(limits);
  std::vector<std::vector<std::string>> rows;
  const auto take = [&] {
    while (std::optional<csv::Record> record = reader.Next()) {
      rows.push_back(std::move(record->fields));
    }
  };
  if (absl::Status s = reader.Feed(text); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("psql's CSV output: ", s.message()));
  }
  take();
  if (absl::Status s = reader.Finish(); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("psql's CSV output: ", s.message()));
  }
  take();
  return rows;
}

// The column names of `path`'s header row, in file order, checked to be
// those of `kind` (each once, any order).
absl::StatusOr<std::vector<std::string>> HeaderColumns(const std::string& path,
                                                       const KindInfo& kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string line(kHeaderBytesMax, '\0');
  in.read(line.data(), static_cast<std::streamsize>(line.size()));
  line.resize(static_cast<size_t>(in.gcount()));
  const size_t end = line.find('\n');
  if (end == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no header row within ", kHeaderBytesMax, " bytes"));
  }
  line.resize(end + 1);
  csv::Reader reader;
  std::optional<csv::Record> record;
  absl::Status status = reader.Feed(line);
  if (status.ok()) record = reader.Next();
  if (!record.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": header row: ", status.ok() ? "empty" : status.message()));
  }
  absl::StatusOr<csv::Header> header = csv::Header::Parse(
      *record, absl::MakeConstSpan(kind.columns.data(), kind.columns.size()));
  if (!header.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", header.status().message()));
  }
  return std::move(record->fields);
}

// The rows of a load script's \copy commands, from psql's command tags
// ("COPY 1200").
struct CopyCounts {
  int copies = 0;
  int64_t rows = 0;
};

CopyCounts CountCopies(absl::string_view out) {
  CopyCounts counts;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    int64_t rows = 0;
    if (absl::ConsumePrefix(&line, "COPY ") && absl::SimpleAtoi(line, &rows)) {
      ++counts.copies;
      counts.rows += rows;
    }
  }
  return counts;
}

// The script line psql's first error names ("psql:SCRIPT:LINE: ERROR:").
std::optional<int> ErrorLine(absl::string_view message) {
  const size_t error = message.find(": ERROR:");
  if (error == absl::string_view::npos) return std::nullopt;
  const size_t colon = message.rfind(':', error - 1);
  if (colon == absl::string_view::npos) return std::nullopt;
  int line = 0;
  if (!absl::SimpleAtoi(message.substr(colon + 1, error - colon - 1), &line)) {
    return std::nullopt;
  }
  return line;
}

absl::StatusOr<std::string> StringField(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "season.json: no string \"", name, "\" in ", object.dump()));
  }
  return it->get<std::string>();
}

absl::StatusOr<int64_t> IntegerField(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "season.json: no integer \"", name, "\" in ", object.dump()));
  }
  return it->get<int64_t>();
}

// One VALUES tuple of `object`'s string fields `names`, as literals.
absl::StatusOr<std::string> StringTuple(const json& object,
                                        const std::vector<const char*>& names) {
  std::vector<std::string> literals;
  for (const char* name : names) {
    absl::StatusOr<std::string> value = StringField(object, name);
    if (!value.ok()) return value.status();
    absl::StatusOr<std::string> literal = SqlLiteral(*value);
    if (!literal.ok()) return literal.status();
    literals.push_back(*std::move(literal));
  }
  return absl::StrJoin(literals, ", ");
}

// The programs, their versions and the parties of season.json, as one
// transaction; `rows` is set to the number of versions and parties.
absl::StatusOr<std::string> ProgramsAndPartiesSql(const json& season,
                                                  int64_t* rows) {
  const auto programs = season.find("programs");
  const auto parties = season.find("parties");
  if (programs == season.end() || !programs->is_array() ||
      parties == season.end() || !parties->is_array()) {
    return absl::InvalidArgumentError(
        "season.json: no \"programs\" or \"parties\" array");
  }
  std::string sql = "BEGIN;\n";
  *rows = 0;
  for (const json& version : *programs) {
    absl::StatusOr<std::string> program =
        StringTuple(version, {"id", "currency", "unit"});
    absl::StatusOr<std::string> values =
        StringTuple(version, {"id", "effective", "name", "currency", "unit",
                              "worker_rate", "supplier_rate"});
    absl::StatusOr<int64_t> terms = IntegerField(version, "payment_terms_days");
    absl::StatusOr<int64_t> deadline =
        IntegerField(version, "distribution_deadline_days");
    absl::StatusOr<std::string> rules =
        StringTuple(version, {"allocation", "tolerance"});
    for (const absl::Status& s :
         {program.status(), values.status(), terms.status(), deadline.status(),
          rules.status()}) {
      if (!s.ok()) return s;
    }
    // The first version of a program says its currency and unit; a later
    // one that disagrees fails the versions' foreign key.
    absl::StrAppend(
        &sql, "INSERT INTO programs (program_id, currency, unit) VALUES (",
        *program, ") ON CONFLICT DO NOTHING;\n",
        "INSERT INTO program_versions (program_id, effective_date, "
        "name, currency, unit, worker_rate, supplier_rate, "
        "payment_terms_days, distribution_deadline_days, "
        "allocation, tolerance) VALUES (",
        *values, ", ", *terms, ", ", *deadline, ", ", *rules, ");\n");
    ++*rows;
  }
  for (const json& party : *parties) {
    absl::StatusOr<std::string> values =
        StringTuple(party, {"id", "role", "name"});
    if (!values.ok()) return values.status();
    absl::StrAppend(&sql, "INSERT INTO parties (party_id, role, name) VALUES (",
                    *values, ");\n");
    ++*rows;
  }
  absl::StrAppend(&sql, "COMMIT;\n");
  return sql;
}

// The season's files of `kind`: (path, owner) by file name.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SeasonFiles(
    const std::string& season_dir, FileKind kind) {
  const std::string prefix = absl::StrCat(InfoOf(kind).name, "-");
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(season_dir, error)) {
    std::string name = entry.path().filename().string();
    absl::string_view owner = name;
    if (!absl::ConsumePrefix(&owner, prefix) ||
        !absl::ConsumeSuffix(&owner, ".csv")) {
      continue;
    }
    if (!IsId(owner)) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry.path().string(), ": \"", owner,
                       "\" in the file name is not a brand or supplier id"));
    }
    files.emplace_back(fs::absolute(entry.path()).string(), std::string(owner));
  }
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("cannot list ", season_dir, ": ", error.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<season::ExpectedDiscrepancy> ParseReconcileRow(
    const std::vector<std::string>& fields) {
  if (fields.size() != kReconcileColumns) {
    return absl::InternalError(
        absl::StrCat("reconcile.sql: a row of ", fields.size(), " fields, not ",
                     kReconcileColumns, ": ", absl::StrJoin(fields, ",")));
  }
  season::ExpectedDiscrepancy row;
  size_t i = 0;
  for (std::string* text :
       {&row.id, &row.type, &row.severity, &row.program_id, &row.brand_id,
        &row.supplier_id, &row.worker_id, &row.period_start, &row.period_end,
        &row.invoice_id}) {
    *text = fields[i++];
  }
  for (int64_t* micros :
       {&row.expected_micros, &row.actual_micros, &row.difference_micros}) {
    absl::StatusOr<int64_t> parsed =
        ParseMicros(fields[i], kInternalAmountSpec);
    if (!parsed.ok()) {
      return absl::InternalError(absl::StrCat("reconcile.sql: row ", row.id,
                                              ": ", parsed.status().message()));
    }
    *micros = *parsed;
    ++i;
  }
  row.currency = fields[i];
  return row;
}

}  // namespace

// ---------------------------------------------------------------------------
// ScratchPostgres

absl::StatusOr<std::unique_ptr<ScratchPostgres>> ScratchPostgres::Start(
    const std::string& dir, PostgresOptions options) {
  if (options.sql_dir.empty()) options.sql_dir = PREMIUM_BENCH_SQL_DIR;
  std::error_code error;
  const std::string absolute = fs::absolute(dir, error).lexically_normal();
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad directory ", dir, ": ", error.message()));
  }
  if (absl::Status s = CheckQuotable("directory", absolute); !s.ok()) return s;
  if (absl::StrCat(absolute, "/.s.PGSQL.65535").size() > kSocketPathBytesMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory ", absolute, " is too long for a unix ",
                     "socket path (", kSocketPathBytesMax, " bytes)"));
  }
  std::unique_ptr<ScratchPostgres> postgres(
      new ScratchPostgres(absolute, std::move(options)));
  if (absl::Status s = postgres->Create(); !s.ok()) return s;
  if (absl::Status s = postgres->StartServer(); !s.ok()) return s;
  if (absl::StatusOr<std::string> created = postgres->RunSql(
          absl::StrCat("CREATE DATABASE ", kPremiumDatabase, ";\n"), {},
          PsqlOutput::kCommandTags, "postgres");
      !created.ok()) {
    return created.status();
  }
  return postgres;
}

ScratchPostgres::~ScratchPostgres() {
  if (absl::Status s = Stop(); !s.ok()) {
    std::fprintf(stderr, "ScratchPostgres: %s\n", s.ToString().c_str());
  }
}

absl::Status ScratchPostgres::Create() {
  for (const char* program : {"initdb", "pg_ctl", "postgres", "psql"}) {
    const std::string path = absl::StrCat(options_.bin_dir, "/", program);
    if (access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("no ", path, ": install postgresql-15"));
    }
  }
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir_, ": ", error.message()));
  }
  const std::string data = absl::StrCat(dir_, "/data");
  if (fs::exists(data)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, " already holds a cluster (", data, ")"));
  }
  absl::StatusOr<ServerUser> user = GiveToServerUser(dir_);
  if (!user.ok()) return user.status();
  absl::StatusOr<std::string> password = RandomPassword();
  if (!password.ok()) return password.status();
  // initdb reads the password from a file, so that it is on no command
  // line; the file goes as soon as initdb has read it.
  const std::string password_file = absl::StrCat(dir_, "/initdb.password");
  if (absl::Status s = WriteFile(password_file, *password, 0600); !s.ok()) {
    return s;
  }
  if (chown(password_file.c_str(), user->uid, user->gid) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot give ", password_file, " to uid ", user->uid));
  }
  // --no-sync: the cluster's initial files need not reach the disk, what
  // the server writes afterwards does (fsync stays on).
  absl::StatusOr<std::string> initdb = RunOrError(
      ServerCommand({absl::StrCat(options_.bin_dir, "/initdb"), "-D", data,
                     "-U", kPostgresUser,
                     absl::StrCat("--pwfile=", password_file),
                     "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
                     "--no-sync", "--no-instructions"}),
      options_.command_timeout);
  fs::remove(password_file, error);
  if (!initdb.ok()) return initdb.status();
  // The client's copy, which only psql's user (this process's) can read.
  if (absl::Status s = WriteFile(
          absl::StrCat(dir_, "/pgpass"),
          absl::StrCat("*:*:*:", kPostgresUser, ":", *password, "\n"), 0600);
      !s.ok()) {
    return s;
  }
  fs::create_directories(absl::StrCat(dir_, "/scripts"), error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir_, "/scripts: ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status ScratchPostgres::StartServer() {
  const std::string data = absl::StrCat(dir_, "/data");
  const std::string log = absl::StrCat(dir_, "/server.log");
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < kStartAttemptsMax; ++attempt) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    // Later lines win: a retry's port replaces the one before.
    std::string settings = absl::StrCat(
        "\n# ScratchPostgres (tests/bench/postgres.cc)\n",
        "listen_addresses = '127.0.0.1'\n", "port = ", *port, "\n",
        "unix_socket_directories = '", dir_, "'\n",
        "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n");
    for (const auto& [name, value] : options_.settings) {
      absl::StrAppend(&settings, name, " = ", value, "\n");
    }
    std::ofstream conf(absl::StrCat(data, "/postgresql.conf"),
                       std::ios::binary | std::ios::app);
    conf << settings;
    conf.close();
    if (!conf) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", data, "/postgresql.conf"));
    }
    const std::vector<std::string> command = ServerCommand(
        {absl::StrCat(options_.bin_dir, "/pg_ctl"), "-D", data, "-l", log, "-w",
         "-t", absl::StrCat(kServerWaitSeconds), "start"});
    absl::StatusOr<CommandOutput> output =
        RunCommand(command, options_.command_timeout);
    if (!output.ok()) return output.status();
    if (output->exit_code == 0) {
      port_ = *port;
      running_ = true;
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> log_text = ReadFile(log);
    const std::string log_tail = log_text.ok() ? Tail(*log_text) : "";
    last = absl::UnavailableError(
        absl::StrCat(Shown(command), ": exit code ", output->exit_code, ": ",
                     Tail(output->err), "; ", log, " ends with: ", log_tail));
    if (!absl::StrContains(log_tail, "could not bind")) return last;
  }
  return last;
}

absl::Status ScratchPostgres::Stop() {
  if (!running_) return absl::OkStatus();
  absl::StatusOr<std::string> stopped = RunOrError(
      ServerCommand({absl::StrCat(options_.bin_dir, "/pg_ctl"), "-D",
                     absl::StrCat(dir_, "/data"), "-m", "fast", "-w", "-t",
                     absl::StrCat(kServerWaitSeconds), "stop"}),
      options_.command_timeout);
  if (!stopped.ok()) return stopped.status();
  running_ = false;
  return absl::OkStatus();
}

std::vector<std::string> ScratchPostgres::PsqlCommand(
    const std::string& database, PsqlOutput output,
    const std::vector<PsqlVariable>& variables) const {
  std::vector<std::string> command =
      CleanEnvironment({absl::StrCat("PGPASSFILE=", dir_, "/pgpass")});
  // -X: no psqlrc; -w: never wait for a password on standard input.
  command.insert(
      command.end(),
      {absl::StrCat(options_.bin_dir, "/psql"), "-X", "-w", "-v",
       "ON_ERROR_STOP=1", "-h",
       options_.transport == Transport::kTcp ? "127.0.0.1" : dir_, "-p",
       absl::StrCat(port_), "-U", kPostgresUser, "-d", database});
  if (output == PsqlOutput::kCsvRows) {
    command.insert(command.end(), {"--csv", "-t", "-q"});
  }
  for (const PsqlVariable& variable : variables) {
    command.insert(command.end(),
                   {"-v", absl::StrCat(variable.name, "=", variable.value)});
  }
  return command;
}

absl::StatusOr<std::string> ScratchPostgres::RunScript(
    const std::string& path, const std::vector<PsqlVariable>& variables,
    PsqlOutput output, const std::string& database) {
  if (!running_) {
    return absl::FailedPreconditionError("the server is not running");
  }
  std::vector<std::string> command = PsqlCommand(database, output, variables);
  command.insert(command.end(), {"-f", path});
  absl::StatusOr<CommandOutput> result =
      RunCommand(command, options_.command_timeout);
  if (!result.ok()) return result.status();
  if (result->exit_code == 0) return std::move(result->out);
  // psql: 3 when a statement of the script failed (ON_ERROR_STOP), 2 when
  // the connection failed, 1 for its own errors (a missing file).
  const std::string message =
      absl::StrCat(Shown(command), ": exit code ", result->exit_code, ": ",
                   Tail(result->err));
  switch (result->exit_code) {
    case 3:
      return absl::InvalidArgumentError(message);
    case 2:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::string> ScratchPostgres::RunSql(
    absl::string_view script, const std::vector<PsqlVariable>& variables,
    PsqlOutput output, const std::string& database) {
  const std::string path =
      absl::StrFormat("%s/scripts/%04d.sql", dir_, ++scripts_written_);
  if (absl::Status s = WriteFile(path, script, 0600); !s.ok()) return s;
  return RunScript(path, variables, output, database);
}

absl::StatusOr<std::vector<std::vector<std::string>>> ScratchPostgres::Query(
    absl::string_view sql, const std::vector<PsqlVariable>& variables) {
  absl::StatusOr<std::string> out =
      RunSql(sql, variables, PsqlOutput::kCsvRows);
  if (!out.ok()) return out.status();
  return ParseCsv(*out);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ScratchPostgres::Settings() {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = Query(
      "SELECT name, current_setting(name)\n"
      "FROM unnest(ARRAY['server_version', 'shared_buffers',\n"
      "                  'synchronous_commit', 'fsync', 'full_page_writes',\n"
      "                  'wal_level', 'wal_sync_method', 'max_wal_size',\n"
      "                  'checkpoint_timeout', 'work_mem',\n"
      "                  'maintenance_work_mem']) WITH ORDINALITY\n"
      "  AS setting (name, position)\n"
      "ORDER BY position;\n");
  if (!rows.ok()) return rows.status();
  std::vector<std::pair<std::string, std::string>> settings;
  for (std::vector<std::string>& row : *rows) {
    if (row.size() != 2) return absl::InternalError("SHOW: not two columns");
    settings.emplace_back(std::move(row[0]), std::move(row[1]));
  }
  return settings;
}

absl::Status ScratchPostgres::ResetDatabase() {
  // Cheaper than dropping the database: CREATE DATABASE copies template1
  // through the WAL, synchronously.
  return RunSql(
             "SET client_min_messages = warning;\n"
             "BEGIN;\n"
             "DROP SCHEMA public CASCADE;\n"
             "CREATE SCHEMA public;\n"
             "COMMIT;\n")
      .status();
}

// ---------------------------------------------------------------------------
// Loading and reconciling.

absl::StatusOr<KindLoad> LoadFiles(
    ScratchPostgres& postgres, FileKind kind,
    const std::vector<std::pair<std::string, std::string>>& files) {
  const KindInfo& info = InfoOf(kind);
  // One transaction per file, as one upload: the owner is set for it
  // alone, and a refused row leaves nothing of its file. Each file takes
  // kLinesPerFile lines of the script, so that psql's error, which names a
  // line, names the file.
  constexpr int kLinesPerFile = 4;
  std::string script;
  for (const auto& [path, owner] : files) {
    if (!IsId(owner)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": owner \"", owner, "\" is not an id"));
    }
    const std::string absolute = fs::absolute(path).string();
    if (absl::Status s = CheckQuotable("file", absolute); !s.ok()) return s;
    absl::StatusOr<std::vector<std::string>> columns =
        HeaderColumns(absolute, info);
    if (!columns.ok()) return columns.status();
    absl::StrAppend(&script, "BEGIN;\n", "SET LOCAL bench.owner = '", owner,
                    "';\n", "\\copy ", info.table, " (",
                    absl::StrJoin(*columns, ", "), ") FROM '", absolute,
                    "' WITH (FORMAT csv, HEADER true)\n", "COMMIT;\n");
  }
  KindLoad load;
  if (files.empty()) return load;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> out = postgres.RunSql(script);
  load.elapsed = absl::Now() - start;
  if (!out.ok()) {
    const std::optional<int> line = ErrorLine(out.status().message());
    if (!absl::IsInvalidArgument(out.status()) || !line.has_value() ||
        *line < 1 ||
        (*line - 1) / kLinesPerFile >= static_cast<int>(files.size())) {
      return out.status();
    }
    const auto& [path, owner] = files[(*line - 1) / kLinesPerFile];
    return absl::InvalidArgumentError(absl::StrCat(
        info.name, " file ", path, " of ", owner,
        " refused, nothing of it loaded: ", out.status().message()));
  }
  const CopyCounts counts = CountCopies(*out);
  if (counts.copies != static_cast<int>(files.size())) {
    return absl::InternalError(
        absl::StrCat(info.name, ": psql reported ", counts.copies, " COPY of ",
                     files.size(), " files: ", Tail(*out)));
  }
  load.files = counts.copies;
  load.rows = counts.rows;
  return load;
}

absl::StatusOr<KindLoad> LoadPayrollFile(ScratchPostgres& postgres,
                                         const std::string& path,
                                         const std::string& supplier_id) {
  return LoadFiles(postgres, FileKind::kPayroll, {{path, supplier_id}});
}

absl::StatusOr<SeasonLoad> LoadSeason(ScratchPostgres& postgres,
                                      const std::string& season_dir) {
  SeasonLoad load;
  absl::StatusOr<std::string> season_text =
      ReadFile(absl::StrCat(season_dir, "/season.json"));
  if (!season_text.ok()) return season_text.status();
  const json season = json::parse(*season_text, nullptr,
                                  /*allow_exceptions=*/false);
  if (season.is_discarded() || !season.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(season_dir, "/season.json is not a JSON object"));
  }
  absl::StatusOr<std::string> programs_and_parties =
      ProgramsAndPartiesSql(season, &load.programs_and_parties.rows);
  if (!programs_and_parties.ok()) return programs_and_parties.status();

  absl::Time start = absl::Now();
  if (absl::Status s = postgres.ResetDatabase(); !s.ok()) return s;
  if (absl::StatusOr<std::string> schema = postgres.RunScript(
          absl::StrCat(postgres.options().sql_dir, "/schema.sql"));
      !schema.ok()) {
    return schema.status();
  }
  load.schema_elapsed = absl::Now() - start;

  start = absl::Now();
  if (absl::StatusOr<std::string> inserted =
          postgres.RunSql(*programs_and_parties);
      !inserted.ok()) {
    return inserted.status();
  }
  load.programs_and_parties.elapsed = absl::Now() - start;
  load.programs_and_parties.files = 1;

  for (const auto& [kind, result] :
       {std::pair{FileKind::kPurchases, &load.purchases},
        std::pair{FileKind::kPayments, &load.payments},
        std::pair{FileKind::kPayroll, &load.payroll}}) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> files =
        SeasonFiles(season_dir, kind);
    if (!files.ok()) return files.status();
    absl::StatusOr<KindLoad> loaded = LoadFiles(postgres, kind, *files);
    if (!loaded.ok()) return loaded.status();
    *result = *loaded;
  }

  start = absl::Now();
  if (absl::StatusOr<std::string> analyzed = postgres.RunSql(
          "ANALYZE programs, program_versions, parties, purchases, "
          "payments, payroll_lines;\n");
      !analyzed.ok()) {
    return analyzed.status();
  }
  load.analyze_elapsed = absl::Now() - start;
  return load;
}

absl::StatusOr<ReconcileRun> Reconcile(ScratchPostgres& postgres,
                                       absl::CivilDay as_of) {
  ReconcileRun run;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> out = postgres.RunScript(
      absl::StrCat(postgres.options().sql_dir, "/reconcile.sql"),
      {{"as_of", season::FormatDay(as_of)}}, PsqlOutput::kCsvRows);
  run.elapsed = absl::Now() - start;
  if (!out.ok()) return out.status();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = ParseCsv(*out);
  if (!rows.ok()) return rows.status();
  for (const std::vector<std::string>& fields : *rows) {
    absl::StatusOr<season::ExpectedDiscrepancy> row = ParseReconcileRow(fields);
    if (!row.ok()) return row.status();
    run.rows.push_back(*std::move(row));
  }
  return run;
}

}  // namespace premium::bench
