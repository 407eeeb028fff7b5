#include "services/audit_service.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ledger/money/decimal.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/seq_runs.h"
#include "ledger/premium/standing.h"
#include "ledger/premium/validation.h"
#include "services/admin_service.h"
#include "services/grpc_status.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {

namespace pb = wsr::premium::v1;

namespace {

// Entries read from the ledger per call while catching up or reading back
// a pay period's lines.
constexpr size_t kCatchUpBatchEntries = 10'000;
constexpr int kDiscrepancyPageSizeDefault = 1000;
constexpr int kDiscrepancyPageSizeMax = 1000;
// A page stops growing past this many bytes (evidence lists can be long);
// it always holds at least one discrepancy. Clients accept 64 MiB.
constexpr size_t kPageBytesMax = 16 << 20;
// Amounts are shown with at least the cents.
constexpr int kAmountDigits = 2;
// Pass-through ratios are shown to 4 decimals ("0.9875").
constexpr int kRatioDigits = 4;

std::string Amount(int64_t micros) {
  return FormatMicros(micros, kAmountDigits);
}

std::string OptionalDate(const std::optional<absl::CivilDay>& day) {
  return day.has_value() ? FormatDate(*day) : std::string();
}

pb::DiscrepancyType ToProto(DiscrepancyType type) {
  pb::DiscrepancyType value = pb::DISCREPANCY_TYPE_UNSPECIFIED;
  pb::DiscrepancyType_Parse(std::string(DiscrepancyTypeName(type)), &value);
  return value;
}

pb::Severity ToProto(Severity severity) {
  pb::Severity value = pb::SEVERITY_UNSPECIFIED;
  pb::Severity_Parse(std::string(SeverityName(severity)), &value);
  return value;
}

void FillDiscrepancy(const Finding& finding, pb::Discrepancy* out) {
  const Discrepancy& d = *finding.discrepancy;
  out->set_id(d.id);
  out->set_type(ToProto(d.type));
  out->set_severity(ToProto(d.severity));
  out->set_program_id(d.program_id);
  out->set_brand_id(d.brand_id);
  out->set_supplier_id(d.supplier_id);
  out->set_worker_id(d.worker_id);
  out->set_period_start(OptionalDate(d.period_start));
  out->set_period_end(OptionalDate(d.period_end));
  out->set_invoice_id(d.invoice_id);
  out->set_expected(Amount(d.expected_micros));
  out->set_actual(Amount(d.actual_micros));
  out->set_difference(Amount(d.difference_micros));
  out->set_currency(d.currency);
  out->set_status(finding.resolved ? pb::RESOLVED : pb::OPEN);
  for (const SeqRuns::Run& run : d.evidence.runs()) {
    pb::SeqRun* out_run = out->add_evidence();
    out_run->set_first_seq(run.first_seq);
    out_run->set_count(run.count);
  }
  out->set_resolution_seq(finding.resolution_seq);
}

void FillOutcome(const Outcome& outcome, pb::Outcome* out) {
  out->set_program_id(outcome.program_id);
  out->set_brand_id(outcome.brand_id);
  out->set_supplier_id(outcome.supplier_id);
  out->set_currency(outcome.currency);
  out->set_owed(Amount(outcome.owed_micros));
  out->set_paid(Amount(outcome.paid_micros));
  out->set_worker_portion_paid(Amount(outcome.worker_portion_paid_micros));
  out->set_received_by_workers(Amount(outcome.received_by_workers_micros));
  if (outcome.pass_through_micros.has_value()) {
    // Rounding a ratio in [0, 1] to 4 digits cannot overflow.
    absl::StatusOr<int64_t> ratio =
        RoundMicrosHalfEven(*outcome.pass_through_micros, kRatioDigits);
    out->set_pass_through(FormatMicros(ratio.ok() ? *ratio : 0, kRatioDigits));
  }
  if (outcome.median_days_to_paychecks.has_value()) {
    out->set_median_days_to_paychecks(
        static_cast<int32_t>(*outcome.median_days_to_paychecks));
  }
}

// Where a page ends: the sort key (program, type, id) of its last
// discrepancy, carried as the id, which determines the other two.
struct DiscrepancyPageKey {
  std::string program_id;
  DiscrepancyType type;
  std::string id;
};

absl::StatusOr<DiscrepancyPageKey> ParseDiscrepancyPageToken(
    absl::string_view token) {
  std::string id;
  const auto invalid = [] {
    return absl::InvalidArgumentError(
        "page_token: not a token this service returned");
  };
  if (!absl::WebSafeBase64Unescape(token, &id)) return invalid();
  const std::vector<absl::string_view> parts = absl::StrSplit(id, ':');
  if (parts.size() < 3) return invalid();
  std::optional<DiscrepancyType> type =
      ParseDiscrepancyType(absl::AsciiStrToUpper(parts[0]));
  if (!type.has_value()) return invalid();
  return DiscrepancyPageKey{std::string(parts[1]), *type, id};
}

std::string DiscrepancyPageToken(const Discrepancy& last) {
  return absl::WebSafeBase64Escape(last.id);
}

// Is `entry` the one this request appended before (a retry)?
bool AppendedBy(const StoredEntry& entry, const Principal& caller,
                absl::string_view request_id) {
  return entry.entry.actor() == caller.actor() &&
         entry.entry.idempotency_key() == request_id;
}

}  // namespace

AuditServiceImpl::AuditServiceImpl(LedgerClient* ledger,
                                   Authenticator* authenticator,
                                   std::function<absl::CivilDay()> today)
    : ledger_(ledger),
      authenticator_(authenticator),
      today_(
          today
              ? std::move(today)
              : [] { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()); }),
      log_(ledger, kCatchUpBatchEntries),
      reconciler_(&log_) {}

absl::Status AuditServiceImpl::CatchUp() {
  absl::MutexLock lock(&mu_);
  return CatchUpLocked().status();
}

absl::StatusOr<uint64_t> AuditServiceImpl::CatchUpLocked() {
  absl::StatusOr<SignedCheckpoint> latest = ledger_->LatestCheckpoint();
  if (!latest.ok()) return latest.status();
  const uint64_t tree_size = latest->checkpoint.tree_size;
  if (reconciler_.next_seq() < tree_size) {
    absl::Status s = log_.Scan(reconciler_.next_seq(), tree_size,
                               [this](const pb::Entry& entry) {
                                 return reconciler_.Apply(entry.seq(), entry);
                               });
    if (!s.ok()) return s;
  }
  return tree_size;
}

absl::StatusOr<absl::CivilDay> AuditServiceImpl::AsOf(
    absl::string_view text) const {
  if (text.empty()) return today_();
  return ParseDate("as_of", text);
}

grpc::Status AuditServiceImpl::Reconcile(grpc::ServerContext* context,
                                         const pb::ReconcileRequest* request,
                                         pb::ReconcileResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> caller = authenticator_->Authenticate(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s =
          Authenticator::Require(*caller, {pb::AUDITOR, pb::ADMIN});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  for (const auto& [field, id] : {std::pair<const char*, const std::string&>{
                                      "program_id", request->program_id()},
                                  {"brand_id", request->brand_id()},
                                  {"supplier_id", request->supplier_id()}}) {
    if (id.empty()) continue;
    if (absl::Status s = ValidateId(field, id); !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  absl::StatusOr<absl::CivilDay> as_of = AsOf(request->as_of());
  if (!as_of.ok()) return ToGrpcStatus(as_of.status());
  if (request->page_size() < 0 ||
      request->page_size() > kDiscrepancyPageSizeMax) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("page_size must be 0 to ", kDiscrepancyPageSizeMax)));
  }
  const int page_size = request->page_size() == 0 ? kDiscrepancyPageSizeDefault
                                                  : request->page_size();
  std::optional<DiscrepancyPageKey> after;
  if (!request->page_token().empty()) {
    absl::StatusOr<DiscrepancyPageKey> key =
        ParseDiscrepancyPageToken(request->page_token());
    if (!key.ok()) return ToGrpcStatus(key.status());
    after = *std::move(key);
  }

  absl::MutexLock lock(&mu_);
  absl::StatusOr<uint64_t> tree_size = CatchUpLocked();
  if (!tree_size.ok()) return ToGrpcStatus(tree_size.status());
  absl::StatusOr<std::vector<Finding>> findings = reconciler_.Reconcile(
      ReconcileQuery{.as_of = *as_of,
                     .program_id = request->program_id(),
                     .brand_id = request->brand_id(),
                     .supplier_id = request->supplier_id()});
  if (!findings.ok()) return ToGrpcStatus(findings.status());
  response->set_as_of(FormatDate(*as_of));
  response->set_tree_size(*tree_size);
  auto begin = findings->begin();
  if (after.has_value()) {
    begin = std::find_if(
        findings->begin(), findings->end(), [&](const Finding& finding) {
          const Discrepancy& d = *finding.discrepancy;
          return std::tie(d.program_id, d.type, d.id) >
                 std::tie(after->program_id, after->type, after->id);
        });
  }
  size_t page_bytes = 0;
  for (auto it = begin; it != findings->end(); ++it) {
    if (response->discrepancies_size() == page_size ||
        (response->discrepancies_size() > 0 && page_bytes > kPageBytesMax)) {
      response->set_next_page_token(
          DiscrepancyPageToken(*std::prev(it)->discrepancy));
      break;
    }
    pb::Discrepancy* out = response->add_discrepancies();
    FillDiscrepancy(*it, out);
    page_bytes += out->ByteSizeLong();
  }
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::Summarize(grpc::ServerContext* context,
                                         const pb::SummarizeRequest* request,
                                         pb::SummarizeResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> caller = authenticator_->Authenticate(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s =
          Authenticator::Require(*caller, {pb::AUDITOR, pb::ADMIN});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (!request->program_id().empty()) {
    if (absl::Status s = ValidateId("program_id", request->program_id());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  absl::StatusOr<absl::CivilDay> as_of = AsOf(request->as_of());
  if (!as_of.ok()) return ToGrpcStatus(as_of.status());

  absl::MutexLock lock(&mu_);
  absl::StatusOr<uint64_t> tree_size = CatchUpLocked();
  if (!tree_size.ok()) return ToGrpcStatus(tree_size.status());
  absl::StatusOr<Summary> summary =
      reconciler_.Summarize(request->program_id(), *as_of);
  if (!summary.ok()) return ToGrpcStatus(summary.status());
  if (!request->program_id().empty() && summary->programs.empty()) {
    return ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("no program \"", request->program_id(), "\"")));
  }
  response->set_as_of(FormatDate(*as_of));
  response->set_tree_size(*tree_size);
  for (const Outcome& outcome : summary->programs) {
    FillOutcome(outcome, response->add_programs());
  }
  for (const Outcome& outcome : summary->suppliers) {
    FillOutcome(outcome, response->add_suppliers());
  }
  for (const Outcome& outcome : summary->brands) {
    FillOutcome(outcome, response->add_brands());
  }
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ResolveDiscrepancy(
    grpc::ServerContext* context, const pb::ResolveDiscrepancyRequest* request,
    pb::ResolveDiscrepancyResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> auditor = authenticator_->Authenticate(*context);
  if (!auditor.ok()) return ToGrpcStatus(auditor.status());
  if (absl::Status s = Authenticator::Require(*auditor, {pb::AUDITOR});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = ValidateRequestId(request->request_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->discrepancy_id().empty()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("discrepancy_id is required"));
  }
  if (absl::Status s = ValidateText("note", request->note(), kNoteLengthMax);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<absl::CivilDay> as_of = AsOf(request->as_of());
  if (!as_of.ok()) return ToGrpcStatus(as_of.status());

  absl::MutexLock lock(&mu_);
  if (absl::StatusOr<uint64_t> size = CatchUpLocked(); !size.ok()) {
    return ToGrpcStatus(size.status());
  }
  pb::DiscrepancyResolution resolution;
  if (const std::optional<uint64_t> earlier = reconciler_.ResolutionAppendedBy(
          auditor->actor(), request->request_id())) {
    // A retry: the figures may have moved since, so it is the earlier
    // record that is sent again (and replayed), not a new one.
    absl::StatusOr<StoredEntry> entry = ReadOneEntry(*ledger_, *earlier);
    if (!entry.ok()) return ToGrpcStatus(entry.status());
    if (!resolution.ParseFromString(entry->entry.payload())) {
      return ToGrpcStatus(absl::DataLossError(
          absl::StrCat("entry ", *earlier, " does not parse")));
    }
    if (resolution.discrepancy_id() != request->discrepancy_id() ||
        resolution.note() != request->note() ||
        resolution.as_of() != FormatDate(*as_of)) {
      return ToGrpcStatus(absl::AlreadyExistsError(
          absl::StrCat("request_id \"", request->request_id(),
                       "\" was already used for another resolution")));
    }
  } else {
    absl::StatusOr<Finding> finding =
        reconciler_.FindDiscrepancy(request->discrepancy_id(), *as_of);
    if (!finding.ok()) return ToGrpcStatus(finding.status());
    resolution.set_discrepancy_id(request->discrepancy_id());
    resolution.set_note(request->note());
    resolution.set_difference_micros(finding->discrepancy->difference_micros);
    resolution.set_as_of(FormatDate(*as_of));
  }
  AppendRequest append;
  append.actor = auditor->actor();
  append.idempotency_key = request->request_id();
  append.entries.push_back(
      AppendEntry{kDiscrepancyResolutionKind, resolution.SerializeAsString()});
  absl::StatusOr<AppendReceipt> receipt = ledger_->Append(append);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  response->set_seq(receipt->first_seq);
  response->set_replayed(receipt->replayed);

  absl::StatusOr<uint64_t> tree_size = CatchUpLocked();
  if (!tree_size.ok()) return ToGrpcStatus(tree_size.status());
  response->set_tree_size(*tree_size);
  absl::StatusOr<Finding> now =
      reconciler_.FindDiscrepancy(request->discrepancy_id(), *as_of);
  if (absl::IsNotFound(now.status())) {
    // A replayed resolution of a discrepancy since cured.
    response->mutable_discrepancy()->set_id(request->discrepancy_id());
    return grpc::Status::OK;
  }
  if (!now.ok()) return ToGrpcStatus(now.status());
  FillDiscrepancy(*now, response->mutable_discrepancy());
  return grpc::Status::OK;
}

absl::Status AuditServiceImpl::ChangeStanding(
    const Principal& auditor, absl::string_view request_id,
    absl::string_view program_id, absl::string_view supplier_id,
    const char* kind, const google::protobuf::Message& record,
    pb::StandingChange* response) {
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  for (const auto& [field, id] :
       {std::pair<const char*, absl::string_view>{"program_id", program_id},
        {"supplier_id", supplier_id}}) {
    if (absl::Status s = ValidateId(field, id); !s.ok()) return s;
  }
  if (absl::StatusOr<ProgramHistory> program =
          LoadProgramHistory(*ledger_, program_id);
      !program.ok()) {
    return program.status();
  }
  absl::StatusOr<uint64_t> party = ledger_->FindUnique(PartyKey(supplier_id));
  if (!party.ok()) {
    return absl::NotFoundError(
        absl::StrCat("no supplier \"", supplier_id, "\""));
  }
  absl::StatusOr<StoredEntry> registration = ReadOneEntry(*ledger_, *party);
  if (!registration.ok()) return registration.status();
  pb::PartyRegistration party_record;
  if (!party_record.ParseFromString(registration->entry.payload()) ||
      party_record.role() != pb::SUPPLIER) {
    return absl::InvalidArgumentError(
        absl::StrCat("supplier_id: \"", supplier_id, "\" is not a supplier"));
  }

  absl::MutexLock lock(&standing_mu_);
  absl::StatusOr<StandingHistory> history =
      LoadStanding(*ledger_, program_id, supplier_id);
  if (!history.ok()) return history.status();
  // A retry finds its own record already applied: let the ledger replay it.
  std::vector<uint64_t> applied_seqs;
  for (const SuspensionPeriod& period : history->periods()) {
    for (const uint64_t seq :
         {period.suspension_seq, period.reinstatement_seq}) {
      if (seq != 0) applied_seqs.push_back(seq);
    }
  }
  absl::StatusOr<std::vector<StoredEntry>> applied =
      ledger_->ReadEntriesAt(applied_seqs);
  if (!applied.ok()) return applied.status();
  bool retry = false;
  for (const StoredEntry& entry : *applied) {
    retry |= AppendedBy(entry, auditor, request_id);
  }
  if (!retry) {
    StandingHistory changed = *history;
    if (std::string(kind) == kSuspensionKind) {
      const auto& suspension = static_cast<const pb::Suspension&>(record);
      if (absl::Status s = changed.AddSuspension(0, suspension); !s.ok()) {
        return s;
      }
      // The new period is the last; it may not overlap an earlier one.
      const SuspensionPeriod& added = changed.periods().back();
      for (const SuspensionPeriod& period : history->periods()) {
        const bool overlaps =
            (!period.to.has_value() || added.from <= *period.to) &&
            (!added.to.has_value() || period.from <= *added.to);
        if (overlaps) {
          return absl::FailedPreconditionError(
              absl::StrCat(supplier_id, " is already suspended from ",
                           program_id, " from ", FormatDate(period.from),
                           period.to.has_value()
                               ? absl::StrCat(" to ", FormatDate(*period.to))
                               : std::string(" until reinstated"),
                           " (entry ", period.suspension_seq, ")"));
        }
      }
    } else {
      const auto& reinstatement = static_cast<const pb::Reinstatement&>(record);
      if (absl::Status s = changed.AddReinstatement(0, reinstatement);
          !s.ok()) {
        return s;
      }
    }
  }
  AppendRequest append;
  append.actor = auditor.actor();
  append.idempotency_key = std::string(request_id);
  append.entries.push_back(AppendEntry{kind, record.SerializeAsString()});
  absl::StatusOr<AppendReceipt> receipt = ledger_->Append(append);
  if (!receipt.ok()) return receipt.status();
  response->set_seq(receipt->first_seq);
  response->set_replayed(receipt->replayed);
  return absl::OkStatus();
}

grpc::Status AuditServiceImpl::SuspendSupplier(
    grpc::ServerContext* context, const pb::SuspendSupplierRequest* request,
    pb::StandingChange* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> auditor = authenticator_->Authenticate(*context);
  if (!auditor.ok()) return ToGrpcStatus(auditor.status());
  if (absl::Status s = Authenticator::Require(*auditor, {pb::AUDITOR});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s =
          ValidateText("reason", request->reason(), kNoteLengthMax);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::StatusOr<absl::CivilDay> from =
          ParseDate("from_date", request->from_date());
      !from.ok()) {
    return ToGrpcStatus(from.status());
  }
  if (!request->to_date().empty()) {
    if (absl::StatusOr<absl::CivilDay> to =
            ParseDate("to_date", request->to_date());
        !to.ok()) {
      return ToGrpcStatus(to.status());
    }
  }
  pb::Suspension suspension;
  suspension.set_program_id(request->program_id());
  suspension.set_supplier_id(request->supplier_id());
  suspension.set_from_date(request->from_date());
  suspension.set_to_date(request->to_date());
  suspension.set_reason(request->reason());
  return ToGrpcStatus(ChangeStanding(
      *auditor, request->request_id(), request->program_id(),
      request->supplier_id(), kSuspensionKind, suspension, response));
}

grpc::Status AuditServiceImpl::ReinstateSupplier(
    grpc::ServerContext* context, const pb::ReinstateSupplierRequest* request,
    pb::StandingChange* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> auditor = authenticator_->Authenticate(*context);
  if (!auditor.ok()) return ToGrpcStatus(auditor.status());
  if (absl::Status s = Authenticator::Require(*auditor, {pb::AUDITOR});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s =
          ValidateText("reason", request->reason(), kNoteLengthMax);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::StatusOr<absl::CivilDay> day =
          ParseDate("effective_date", request->effective_date());
      !day.ok()) {
    return ToGrpcStatus(day.status());
  }
  pb::Reinstatement reinstatement;
  reinstatement.set_program_id(request->program_id());
  reinstatement.set_supplier_id(request->supplier_id());
  reinstatement.set_effective_date(request->effective_date());
  reinstatement.set_reason(request->reason());
  return ToGrpcStatus(ChangeStanding(
      *auditor, request->request_id(), request->program_id(),
      request->supplier_id(), kReinstatementKind, reinstatement, response));
}

}  // namespace premium
