// premiumctl audit reconcile | summary | resolve | suspend | reinstate: the
// auditor's commands (DESIGN sections 7 and 8).
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "clients/premiumctl/commands.h"
#include "nlohmann/json.hpp"
#include "services/grpc_status.h"
#include "wsr/premium/v1/audit.grpc.pb.h"

namespace premium::ctl {
namespace {

namespace pb = wsr::premium::v1;

// Pages of one reconcile at most: a million discrepancies.
constexpr int kReconcilePagesMax = 1000;

struct ReconcileFlags {
  std::string program_id;
  std::string supplier_id;
  std::string brand_id;
  std::string as_of;
};

struct SummaryFlags {
  std::string program_id;
  std::string as_of;
};

struct ResolveFlags {
  std::string id;
  std::string note;
  std::string as_of;
};

struct SuspendFlags {
  std::string program_id;
  std::string supplier_id;
  std::string from_date;
  std::string to_date;
  std::string reason;
};

struct ReinstateFlags {
  std::string program_id;
  std::string supplier_id;
  std::string effective_date;
  std::string reason;
};

// The fields of DESIGN section 8, in its order, for JSON and CSV alike.
const std::vector<std::string>& DiscrepancyColumns() {
  static const auto* columns = new std::vector<std::string>{
      "id",         "type",        "severity",  "program_id",
      "brand_id",   "supplier_id", "worker_id", "period_start",
      "period_end", "invoice_id",  "expected",  "actual",
      "difference", "currency",    "status",    "evidence"};
  return *columns;
}

// The server sends evidence as runs of seqs (audit.proto) and the client
// lists them one by one, so it first checks that they are what the server
// promises: ascending, disjoint, each of at least one seq, all below the
// ledger size the answer was computed at. A lying or broken server cannot
// then make the client list more seqs than the ledger holds.
absl::Status CheckEvidence(const pb::Discrepancy& d, uint64_t tree_size) {
  uint64_t free_from_seq = 0;
  for (int i = 0; i < d.evidence_size(); ++i) {
    const pb::SeqRun& run = d.evidence(i);
    if (run.count() == 0 || run.first_seq() < free_from_seq ||
        run.first_seq() >= tree_size ||
        run.count() > tree_size - run.first_seq()) {
      return absl::DataLossError(absl::StrCat(
          "the server's evidence of ", d.id(), " (run ", i + 1, " of ",
          d.evidence_size(), ": ", run.first_seq(), " + ", run.count(),
          ") is not ascending, disjoint runs of seqs below the ledger size ",
          tree_size));
    }
    free_from_seq = run.first_seq() + run.count();
  }
  return absl::OkStatus();
}

// Calls `visit` with each seq of checked evidence, ascending.
template <typename Visit>
void ForEachEvidenceSeq(const pb::Discrepancy& d, Visit visit) {
  for (const pb::SeqRun& run : d.evidence()) {
    for (uint64_t i = 0; i < run.count(); ++i) visit(run.first_seq() + i);
  }
}

uint64_t EvidenceCount(const pb::Discrepancy& d) {
  uint64_t count = 0;
  for (const pb::SeqRun& run : d.evidence()) count += run.count();
  return count;
}

std::string EvidenceText(const pb::Discrepancy& d) {
  std::string text;
  ForEachEvidenceSeq(d, [&text](uint64_t seq) {
    absl::StrAppend(&text, text.empty() ? "" : " ", seq);
  });
  return text;
}

std::vector<std::string> DiscrepancyFields(const pb::Discrepancy& d) {
  return {d.id(),
          pb::DiscrepancyType_Name(d.type()),
          pb::Severity_Name(d.severity()),
          d.program_id(),
          d.brand_id(),
          d.supplier_id(),
          d.worker_id(),
          d.period_start(),
          d.period_end(),
          d.invoice_id(),
          d.expected(),
          d.actual(),
          d.difference(),
          d.currency(),
          pb::DiscrepancyStatus_Name(d.status()),
          EvidenceText(d)};
}

nlohmann::ordered_json DiscrepancyJson(const pb::Discrepancy& d) {
  const std::vector<std::string> fields = DiscrepancyFields(d);
  const std::vector<std::string>& columns = DiscrepancyColumns();
  nlohmann::ordered_json json;
  for (size_t i = 0; i + 1 < columns.size(); ++i) json[columns[i]] = fields[i];
  json["evidence"] = nlohmann::ordered_json::array();
  ForEachEvidenceSeq(
      d, [&json](uint64_t seq) { json["evidence"].push_back(seq); });
  return json;
}

absl::Status Reconcile(const Connection& connection,
                       const ReconcileFlags& flags) {
  auto stub = pb::AuditService::NewStub(connection.channel());
  pb::ReconcileRequest request;
  request.set_program_id(flags.program_id);
  request.set_supplier_id(flags.supplier_id);
  request.set_brand_id(flags.brand_id);
  // One date for every page, even across midnight.
  request.set_as_of(flags.as_of.empty() ? Today() : flags.as_of);
  std::vector<pb::Discrepancy> discrepancies;
  pb::ReconcileResponse response;
  for (int page = 0;; ++page) {
    if (page == kReconcilePagesMax) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "more than ", kReconcilePagesMax,
          " pages of discrepancies: narrow with --program, --supplier or "
          "--brand"));
    }
    response.Clear();
    if (absl::Status s = FromGrpcStatus(
            stub->Reconcile(connection.NewContext().get(), request, &response));
        !s.ok()) {
      return s;
    }
    for (pb::Discrepancy& d : *response.mutable_discrepancies()) {
      if (absl::Status s = CheckEvidence(d, response.tree_size()); !s.ok()) {
        return s;
      }
      discrepancies.push_back(std::move(d));
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }

  switch (connection.output()) {
    case OutputFormat::kJson: {
      nlohmann::ordered_json json;
      json["as_of"] = response.as_of();
      json["discrepancies"] = nlohmann::ordered_json::array();
      for (const pb::Discrepancy& d : discrepancies) {
        json["discrepancies"].push_back(DiscrepancyJson(d));
      }
      std::cout << json.dump(2) << "\n";
      return absl::OkStatus();
    }
    case OutputFormat::kCsv:
      PrintCsvRecord(DiscrepancyColumns());
      for (const pb::Discrepancy& d : discrepancies) {
        PrintCsvRecord(DiscrepancyFields(d));
      }
      return absl::OkStatus();
    case OutputFormat::kTable:
      break;
  }
  std::vector<std::vector<std::string>> rows;
  size_t open = 0;
  for (const pb::Discrepancy& d : discrepancies) {
    open += d.status() == pb::OPEN;
    rows.push_back(
        {pb::Severity_Name(d.severity()), pb::DiscrepancyType_Name(d.type()),
         pb::DiscrepancyStatus_Name(d.status()),
         absl::StrCat(d.difference(), " ", d.currency()), d.period_start(),
         d.period_end(), absl::StrCat(EvidenceCount(d)), d.id()});
  }
  if (!rows.empty()) {
    PrintTable({"SEVERITY", "TYPE", "STATUS", "DIFFERENCE", "FROM", "TO",
                "EVIDENCE", "ID"},
               rows);
  }
  std::printf("%zu discrepancies (%zu open) as of %s, ledger size %llu\n",
              discrepancies.size(), open, response.as_of().c_str(),
              static_cast<unsigned long long>(response.tree_size()));
  return absl::OkStatus();
}

const std::vector<std::string>& OutcomeColumns() {
  static const auto* columns =
      new std::vector<std::string>{"scope",
                                   "program_id",
                                   "brand_id",
                                   "supplier_id",
                                   "currency",
                                   "owed",
                                   "paid",
                                   "worker_portion_paid",
                                   "received_by_workers",
                                   "pass_through",
                                   "median_days_to_paychecks"};
  return *columns;
}

std::string MedianDays(const pb::Outcome& outcome) {
  return outcome.has_median_days_to_paychecks()
             ? absl::StrCat(outcome.median_days_to_paychecks())
             : std::string();
}

std::vector<std::string> OutcomeFields(absl::string_view scope,
                                       const pb::Outcome& outcome) {
  return {std::string(scope),
          outcome.program_id(),
          outcome.brand_id(),
          outcome.supplier_id(),
          outcome.currency(),
          outcome.owed(),
          outcome.paid(),
          outcome.worker_portion_paid(),
          outcome.received_by_workers(),
          outcome.pass_through(),
          MedianDays(outcome)};
}

nlohmann::ordered_json OutcomeJson(const pb::Outcome& outcome) {
  const std::vector<std::string> fields = OutcomeFields("", outcome);
  const std::vector<std::string>& columns = OutcomeColumns();
  nlohmann::ordered_json json;
  // Amounts are strings; days are a count (null when none is known).
  for (size_t i = 1; i + 1 < columns.size(); ++i) json[columns[i]] = fields[i];
  json["median_days_to_paychecks"] =
      outcome.has_median_days_to_paychecks()
          ? nlohmann::ordered_json(outcome.median_days_to_paychecks())
          : nlohmann::ordered_json(nullptr);
  return json;
}

absl::Status Summary(const Connection& connection, const SummaryFlags& flags) {
  auto stub = pb::AuditService::NewStub(connection.channel());
  pb::SummarizeRequest request;
  request.set_program_id(flags.program_id);
  request.set_as_of(flags.as_of);
  pb::SummarizeResponse response;
  if (absl::Status s = FromGrpcStatus(
          stub->Summarize(connection.NewContext().get(), request, &response));
      !s.ok()) {
    return s;
  }
  const std::vector<std::pair<
      const char*, const google::protobuf::RepeatedPtrField<pb::Outcome>*>>
      scopes = {{"program", &response.programs()},
                {"supplier", &response.suppliers()},
                {"brand", &response.brands()}};
  switch (connection.output()) {
    case OutputFormat::kJson: {
      nlohmann::ordered_json json;
      json["as_of"] = response.as_of();
      for (const auto& [scope, outcomes] : scopes) {
        nlohmann::ordered_json& list = json[absl::StrCat(scope, "s")];
        list = nlohmann::ordered_json::array();
        for (const pb::Outcome& outcome : *outcomes) {
          list.push_back(OutcomeJson(outcome));
        }
      }
      std::cout << json.dump(2) << "\n";
      return absl::OkStatus();
    }
    case OutputFormat::kCsv:
      PrintCsvRecord(OutcomeColumns());
      for (const auto& [scope, outcomes] : scopes) {
        for (const pb::Outcome& outcome : *outcomes) {
          PrintCsvRecord(OutcomeFields(scope, outcome));
        }
      }
      return absl::OkStatus();
    case OutputFormat::kTable:
      break;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [scope, outcomes] : scopes) {
    for (const pb::Outcome& outcome : *outcomes) {
      const std::string party = !outcome.brand_id().empty()
                                    ? outcome.brand_id()
                                    : outcome.supplier_id();
      rows.push_back(
          {outcome.program_id(), scope, party.empty() ? "(all)" : party,
           outcome.currency(), outcome.owed(), outcome.paid(),
           outcome.worker_portion_paid(), outcome.received_by_workers(),
           outcome.pass_through().empty() ? "-" : outcome.pass_through(),
           MedianDays(outcome).empty() ? "-" : MedianDays(outcome)});
    }
  }
  PrintTable(
      {"PROGRAM", "SCOPE", "PARTY", "CUR", "OWED", "PAID", "WORKER_PORTION",
       "RECEIVED_BY_WORKERS", "PASS_THROUGH", "MEDIAN_DAYS"},
      rows);
  std::printf("as of %s, ledger size %llu\n", response.as_of().c_str(),
              static_cast<unsigned long long>(response.tree_size()));
  return absl::OkStatus();
}

absl::Status Resolve(const Connection& connection, const ResolveFlags& flags) {
  auto stub = pb::AuditService::NewStub(connection.channel());
  pb::ResolveDiscrepancyRequest request;
  request.set_discrepancy_id(flags.id);
  request.set_note(flags.note);
  request.set_as_of(flags.as_of.empty() ? Today() : flags.as_of);
  request.set_request_id(RequestIdFor("audit-resolve", request));
  pb::ResolveDiscrepancyResponse response;
  if (absl::Status s = FromGrpcStatus(stub->ResolveDiscrepancy(
          connection.NewContext().get(), request, &response));
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckEvidence(response.discrepancy(), response.tree_size());
      !s.ok()) {
    return s;
  }
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["seq"] = response.seq();
    json["replayed"] = response.replayed();
    json["discrepancy"] = DiscrepancyJson(response.discrepancy());
    std::cout << json.dump(2) << "\n";
  } else if (connection.output() == OutputFormat::kCsv) {
    PrintCsvRecord({"seq", "replayed", "id", "status", "difference"});
    PrintCsvRecord({absl::StrCat(response.seq()),
                    response.replayed() ? "true" : "false",
                    response.discrepancy().id(),
                    pb::DiscrepancyStatus_Name(response.discrepancy().status()),
                    response.discrepancy().difference()});
  } else {
    std::printf("%s %s at a difference of %s %s (entry %llu)%s\n",
                response.discrepancy().id().c_str(),
                response.discrepancy().status() == pb::RESOLVED
                    ? "resolved"
                    : "recorded as resolved",
                response.discrepancy().difference().c_str(),
                response.discrepancy().currency().c_str(),
                static_cast<unsigned long long>(response.seq()),
                response.replayed() ? "; it had been recorded before" : "");
  }
  return absl::OkStatus();
}

absl::Status PrintStandingChange(const Connection& connection,
                                 const pb::StandingChange& change,
                                 const std::string& what) {
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["seq"] = change.seq();
    json["replayed"] = change.replayed();
    std::cout << json.dump(2) << "\n";
  } else if (connection.output() == OutputFormat::kCsv) {
    PrintCsvRecord({"seq", "replayed"});
    PrintCsvRecord(
        {absl::StrCat(change.seq()), change.replayed() ? "true" : "false"});
  } else {
    std::printf("%s (entry %llu)%s\n", what.c_str(),
                static_cast<unsigned long long>(change.seq()),
                change.replayed() ? "; it had been recorded before" : "");
  }
  return absl::OkStatus();
}

absl::Status Suspend(const Connection& connection, const SuspendFlags& flags) {
  auto stub = pb::AuditService::NewStub(connection.channel());
  pb::SuspendSupplierRequest request;
  request.set_program_id(flags.program_id);
  request.set_supplier_id(flags.supplier_id);
  request.set_from_date(flags.from_date);
  request.set_to_date(flags.to_date);
  request.set_reason(flags.reason);
  request.set_request_id(RequestIdFor("audit-suspend", request));
  pb::StandingChange response;
  if (absl::Status s = FromGrpcStatus(stub->SuspendSupplier(
          connection.NewContext().get(), request, &response));
      !s.ok()) {
    return s;
  }
  return PrintStandingChange(
      connection, response,
      absl::StrCat("suspended ", flags.supplier_id, " from ", flags.program_id,
                   " from ", flags.from_date,
                   flags.to_date.empty()
                       ? " until reinstated"
                       : absl::StrCat(" to ", flags.to_date)));
}

absl::Status Reinstate(const Connection& connection,
                       const ReinstateFlags& flags) {
  auto stub = pb::AuditService::NewStub(connection.channel());
  pb::ReinstateSupplierRequest request;
  request.set_program_id(flags.program_id);
  request.set_supplier_id(flags.supplier_id);
  request.set_effective_date(
      flags.effective_date.empty() ? Today() : flags.effective_date);
  request.set_reason(flags.reason);
  request.set_request_id(RequestIdFor("audit-reinstate", request));
  pb::StandingChange response;
  if (absl::Status s = FromGrpcStatus(stub->ReinstateSupplier(
          connection.NewContext().get(), request, &response));
      !s.ok()) {
    return s;
  }
  return PrintStandingChange(
      connection, response,
      absl::StrCat("reinstated ", flags.supplier_id, " in ", flags.program_id,
                   " from ", request.effective_date()));
}

}  // namespace

void AddAuditCommands(CLI::App& app, const ActionSink& set_action) {
  CLI::App* audit = app.add_subcommand("audit", "the auditor's commands");
  audit->require_subcommand(1);

  auto reconcile_flags = std::make_shared<ReconcileFlags>();
  CLI::App* reconcile = audit->add_subcommand(
      "reconcile", "every discrepancy, with its amounts and evidence");
  reconcile->add_option("--program", reconcile_flags->program_id);
  reconcile->add_option("--supplier", reconcile_flags->supplier_id);
  reconcile->add_option("--brand", reconcile_flags->brand_id);
  reconcile->add_option("--as-of", reconcile_flags->as_of,
                        "YYYY-MM-DD, default today (UTC)");
  reconcile->callback([set_action, reconcile_flags] {
    set_action([reconcile_flags](const Connection& connection) {
      return Reconcile(connection, *reconcile_flags);
    });
  });

  auto summary_flags = std::make_shared<SummaryFlags>();
  CLI::App* summary = audit->add_subcommand(
      "summary", "premium owed, paid and received by workers");
  summary->add_option("--program", summary_flags->program_id);
  summary->add_option("--as-of", summary_flags->as_of,
                      "YYYY-MM-DD, default today (UTC)");
  summary->callback([set_action, summary_flags] {
    set_action([summary_flags](const Connection& connection) {
      return Summary(connection, *summary_flags);
    });
  });

  auto resolve_flags = std::make_shared<ResolveFlags>();
  CLI::App* resolve =
      audit->add_subcommand("resolve", "resolve a discrepancy with a note");
  resolve->add_option("--id", resolve_flags->id)->required();
  resolve->add_option("--note", resolve_flags->note)->required();
  resolve->add_option("--as-of", resolve_flags->as_of,
                      "the reconciliation resolved, default today (UTC)");
  resolve->callback([set_action, resolve_flags] {
    set_action([resolve_flags](const Connection& connection) {
      return Resolve(connection, *resolve_flags);
    });
  });

  auto suspend_flags = std::make_shared<SuspendFlags>();
  CLI::App* suspend =
      audit->add_subcommand("suspend", "suspend a supplier from a program");
  suspend->add_option("--program", suspend_flags->program_id)->required();
  suspend->add_option("--supplier", suspend_flags->supplier_id)->required();
  suspend->add_option("--from", suspend_flags->from_date, "YYYY-MM-DD")
      ->required();
  suspend->add_option("--to", suspend_flags->to_date,
                      "last day suspended; default until reinstated");
  suspend->add_option("--reason", suspend_flags->reason)->required();
  suspend->callback([set_action, suspend_flags] {
    set_action([suspend_flags](const Connection& connection) {
      return Suspend(connection, *suspend_flags);
    });
  });

  auto reinstate_flags = std::make_shared<ReinstateFlags>();
  CLI::App* reinstate = audit->add_subcommand(
      "reinstate", "end a supplier's open suspension from a program");
  reinstate->add_option("--program", reinstate_flags->program_id)->required();
  reinstate->add_option("--supplier", reinstate_flags->supplier_id)->required();
  reinstate->add_option("--effective", reinstate_flags->effective_date,
                        "first day in good standing, default today (UTC)");
  reinstate->add_option("--reason", reinstate_flags->reason)->required();
  reinstate->callback([set_action, reinstate_flags] {
    set_action([reinstate_flags](const Connection& connection) {
      return Reinstate(connection, *reinstate_flags);
    });
  });
}

}  // namespace premium::ctl
