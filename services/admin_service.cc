#include "services/admin_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ledger/money/decimal.h"
#include "ledger/money/units.h"
#include "ledger/premium/indexer.h"
#include "ledger/premium/validation.h"
#include "services/credentials.h"
#include "services/grpc_status.h"
#include "services/record_pages.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

constexpr size_t kRequestIdLengthMax = 128;
// Suspensions of one supplier in one program at most: far more than any
// program will ever record.
constexpr size_t kStandingRecordsMax = 10'000;
constexpr size_t kProgramVersionsMax = 1000;

absl::StatusOr<int64_t> ParseField(absl::string_view field,
                                   absl::string_view text, DecimalSpec spec) {
  absl::StatusOr<int64_t> micros =
      ParseMicros(std::string_view(text.data(), text.size()), spec);
  if (!micros.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", micros.status().message()));
  }
  return micros;
}

absl::StatusOr<pb::Allocation> ParseAllocation(absl::string_view text) {
  if (text.empty() || text == "hours") return pb::HOURS;
  if (text == "wages") return pb::WAGES;
  if (text == "none") return pb::NONE;
  return absl::InvalidArgumentError(
      absl::StrCat("allocation \"", text, "\" must be hours, wages or none"));
}

std::string AllocationName(pb::Allocation allocation) {
  switch (allocation) {
    case pb::HOURS:
      return "hours";
    case pb::WAGES:
      return "wages";
    case pb::NONE:
      return "none";
    default:
      return "";
  }
}

template <typename Message>
absl::StatusOr<Message> ParseRecord(const StoredEntry& entry,
                                    absl::string_view kind) {
  Message message;
  if (entry.entry.kind() != kind ||
      !message.ParseFromString(entry.entry.payload())) {
    return absl::DataLossError(
        absl::StrCat("entry ", entry.entry.seq(), " is not a ", kind));
  }
  return message;
}

template <typename Message>
absl::StatusOr<Message> ReadRecord(LedgerClient& ledger, uint64_t seq,
                                   absl::string_view kind) {
  absl::StatusOr<StoredEntry> entry = ReadOneEntry(ledger, seq);
  if (!entry.ok()) return entry.status();
  return ParseRecord<Message>(*entry, kind);
}

}  // namespace

absl::Status ValidateRequestId(absl::string_view request_id) {
  if (request_id.empty() || request_id.size() > kRequestIdLengthMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request_id must be 1 to ", kRequestIdLengthMax, " characters"));
  }
  for (const char c : request_id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') ||
        absl::string_view("._:/=+-").find(c) != absl::string_view::npos;
    if (!ok) {
      return absl::InvalidArgumentError(
          "request_id may hold only letters, digits and ._:/=+-");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<pb::ProgramVersion> ProgramVersionFromSpec(
    const pb::ProgramVersionSpec& spec, absl::CivilDay today) {
  pb::ProgramVersion version;
  version.set_program_id(spec.program_id());
  version.set_name(spec.name());
  version.set_currency(spec.currency());
  version.set_unit(spec.unit());
  absl::StatusOr<int> minor_digits =
      CurrencyMinorDigits("currency", spec.currency());
  if (!minor_digits.ok()) return minor_digits.status();
  absl::StatusOr<int64_t> worker_rate =
      ParseField("worker_rate", spec.worker_rate(), kRateSpec);
  if (!worker_rate.ok()) return worker_rate.status();
  absl::StatusOr<int64_t> supplier_rate = ParseField(
      "supplier_rate",
      spec.supplier_rate().empty() ? "0" : spec.supplier_rate(), kRateSpec);
  if (!supplier_rate.ok()) return supplier_rate.status();
  absl::StatusOr<int64_t> tolerance =
      spec.tolerance().empty()
          ? absl::StatusOr<int64_t>(kToleranceMicrosDefault)
          : ParseField("tolerance", spec.tolerance(),
                       AmountSpec(*minor_digits));
  if (!tolerance.ok()) return tolerance.status();
  absl::StatusOr<pb::Allocation> allocation =
      ParseAllocation(spec.allocation());
  if (!allocation.ok()) return allocation.status();
  version.set_worker_rate_micros(*worker_rate);
  version.set_supplier_rate_micros(*supplier_rate);
  version.set_tolerance_micros(*tolerance);
  version.set_allocation(*allocation);
  version.set_payment_terms_days(spec.has_payment_terms_days()
                                     ? spec.payment_terms_days()
                                     : kPaymentTermsDaysDefault);
  version.set_distribution_deadline_days(
      spec.has_distribution_deadline_days() ? spec.distribution_deadline_days()
                                            : kDistributionDeadlineDaysDefault);
  version.set_effective_date(spec.effective_date().empty()
                                 ? FormatDate(today)
                                 : spec.effective_date());
  if (absl::Status s = ValidateProgramVersion(version); !s.ok()) return s;
  return version;
}

pb::ProgramVersionSpec SpecFromProgramVersion(
    const pb::ProgramVersion& version) {
  pb::ProgramVersionSpec spec;
  spec.set_program_id(version.program_id());
  spec.set_name(version.name());
  spec.set_currency(version.currency());
  spec.set_unit(version.unit());
  spec.set_worker_rate(FormatMicros(version.worker_rate_micros(), 0));
  spec.set_supplier_rate(FormatMicros(version.supplier_rate_micros(), 0));
  spec.set_payment_terms_days(version.payment_terms_days());
  spec.set_distribution_deadline_days(version.distribution_deadline_days());
  spec.set_allocation(AllocationName(version.allocation()));
  const absl::StatusOr<int> minor_digits =
      CurrencyMinorDigits("currency", version.currency());
  spec.set_tolerance(FormatMicros(version.tolerance_micros(),
                                  minor_digits.ok() ? *minor_digits : 2));
  spec.set_effective_date(version.effective_date());
  return spec;
}

absl::StatusOr<StandingHistory> LoadStanding(LedgerClient& ledger,
                                             absl::string_view program_id,
                                             absl::string_view supplier_id) {
  absl::StatusOr<std::vector<StoredEntry>> entries = ledger.ReadByLookupKey(
      StandingKey(program_id, supplier_id), std::nullopt, kStandingRecordsMax);
  if (!entries.ok()) return entries.status();
  StandingHistory history;
  for (const StoredEntry& entry : *entries) {
    const uint64_t seq = entry.entry.seq();
    absl::Status added;
    if (entry.entry.kind() == kSuspensionKind) {
      pb::Suspension suspension;
      suspension.ParseFromString(entry.entry.payload());
      added = history.AddSuspension(seq, suspension);
    } else if (entry.entry.kind() == kReinstatementKind) {
      pb::Reinstatement reinstatement;
      reinstatement.ParseFromString(entry.entry.payload());
      added = history.AddReinstatement(seq, reinstatement);
    }
    if (!added.ok()) {
      return absl::DataLossError(
          absl::StrCat("standing record ", seq, ": ", added.message()));
    }
  }
  return history;
}

absl::StatusOr<ProgramHistory> LoadProgramHistory(
    LedgerClient& ledger, absl::string_view program_id) {
  absl::StatusOr<std::vector<StoredEntry>> entries = ledger.ReadByLookupKey(
      ProgramKey(program_id), std::nullopt, kProgramVersionsMax);
  if (!entries.ok()) return entries.status();
  if (entries->empty()) {
    return absl::NotFoundError(absl::StrCat("no program \"", program_id, "\""));
  }
  ProgramHistory history;
  for (const StoredEntry& entry : *entries) {
    const uint64_t seq = entry.entry.seq();
    absl::StatusOr<pb::ProgramVersion> version =
        ParseRecord<pb::ProgramVersion>(entry, kProgramVersionKind);
    if (!version.ok()) return version.status();
    absl::StatusOr<absl::CivilDay> day =
        ParseDate("effective_date", version->effective_date());
    if (!day.ok()) return absl::DataLossError(day.status().message());
    if (absl::Status s =
            history.Add(ProgramVersionRecord{seq, *day, *std::move(version)});
        !s.ok()) {
      return absl::DataLossError(s.message());
    }
  }
  return history;
}

std::string DerivePartyToken(const ServerSecret& secret, pb::Role role,
                             absl::string_view request_id,
                             absl::string_view party_id) {
  const std::string role_name = RoleName(role);
  const merkle::Hash mac =
      secret.Derive("party-token", {role_name, request_id, party_id});
  return absl::StrCat(
      role_name, "_",
      CrockfordBase32(absl::string_view(
          reinterpret_cast<const char*>(mac.data()), mac.size())));
}

AdminServiceImpl::AdminServiceImpl(LedgerClient* ledger,
                                   Authenticator* authenticator,
                                   const ServerSecret* secret,
                                   std::function<absl::CivilDay()> today)
    : ledger_(ledger),
      authenticator_(authenticator),
      secret_(secret),
      today_(std::move(today)) {}

absl::StatusOr<Principal> AdminServiceImpl::AuthenticateAdmin(
    const grpc::ServerContext& context) {
  absl::StatusOr<Principal> principal = authenticator_->Authenticate(context);
  if (!principal.ok()) return principal.status();
  if (absl::Status s = Authenticator::Require(*principal, {pb::ADMIN});
      !s.ok()) {
    return s;
  }
  return principal;
}

absl::Status AdminServiceImpl::FillProgram(absl::string_view program_id,
                                           pb::Program* out) {
  absl::StatusOr<ProgramHistory> history =
      LoadProgramHistory(*ledger_, program_id);
  if (!history.ok()) return history.status();
  out->set_program_id(std::string(program_id));
  for (const ProgramVersionRecord& record : history->versions()) {
    pb::ProgramVersionView* view = out->add_versions();
    *view->mutable_spec() = SpecFromProgramVersion(record.version);
    view->set_seq(record.seq);
  }
  return absl::OkStatus();
}

grpc::Status AdminServiceImpl::AddProgramVersion(
    grpc::ServerContext* context, const pb::AddProgramVersionRequest* request,
    pb::Program* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> admin = AuthenticateAdmin(*context);
  if (!admin.ok()) return ToGrpcStatus(admin.status());
  if (absl::Status s = ValidateRequestId(request->request_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<pb::ProgramVersion> version =
      ProgramVersionFromSpec(request->version(), today_());
  if (!version.ok()) return ToGrpcStatus(version.status());
  const absl::CivilDay effective =
      *ParseDate("effective_date", version->effective_date());
  {
    absl::MutexLock lock(&program_mu_);
    absl::StatusOr<ProgramHistory> history =
        LoadProgramHistory(*ledger_, version->program_id());
    if (!history.ok() && !absl::IsNotFound(history.status())) {
      return ToGrpcStatus(history.status());
    }
    if (history.ok()) {
      // A retry finds its own version already there; the ledger then
      // replays it (same request_id) or refuses it (another request_id).
      bool identical = false;
      for (const ProgramVersionRecord& record : history->versions()) {
        identical |=
            record.effective_date == effective &&
            record.version.SerializeAsString() == version->SerializeAsString();
      }
      if (!identical) {
        if (absl::Status s =
                history->Add(ProgramVersionRecord{0, effective, *version});
            !s.ok()) {
          return ToGrpcStatus(s);
        }
      }
    }
    AppendRequest append;
    append.actor = admin->actor();
    append.idempotency_key = request->request_id();
    append.entries.push_back(
        AppendEntry{kProgramVersionKind, version->SerializeAsString()});
    absl::StatusOr<AppendReceipt> receipt = ledger_->Append(append);
    if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  }
  return ToGrpcStatus(FillProgram(version->program_id(), response));
}

grpc::Status AdminServiceImpl::GetProgram(grpc::ServerContext* context,
                                          const pb::GetProgramRequest* request,
                                          pb::Program* response) {
  const ScopedCallDeadline deadline(*context);
  // Programs are public terms: every authenticated party may read them.
  absl::StatusOr<Principal> caller = authenticator_->Authenticate(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = ValidateId("program_id", request->program_id());
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  return ToGrpcStatus(FillProgram(request->program_id(), response));
}

grpc::Status AdminServiceImpl::ListPrograms(
    grpc::ServerContext* context, const pb::ListProgramsRequest* request,
    pb::ListProgramsResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> caller = authenticator_->Authenticate(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  absl::StatusOr<std::optional<uint64_t>> after =
      ParsePageToken(request->page_token());
  if (!after.ok()) return ToGrpcStatus(after.status());
  // The "programs" key lists every version; a program is listed at its
  // first version, so each appears on exactly one page.
  absl::StatusOr<std::vector<StoredEntry>> entries = ledger_->ReadByLookupKey(
      ProgramsKey(), *after, static_cast<size_t>(*page_size) * 4);
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  for (const StoredEntry& entry : *entries) {
    if (response->programs_size() >= *page_size) break;
    const uint64_t seq = entry.entry.seq();
    absl::StatusOr<pb::ProgramVersion> version =
        ParseRecord<pb::ProgramVersion>(entry, kProgramVersionKind);
    if (!version.ok()) return ToGrpcStatus(version.status());
    response->set_next_page_token(absl::StrCat(seq));
    pb::Program program;
    if (absl::Status s = FillProgram(version->program_id(), &program);
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (program.versions(0).seq() != seq) continue;
    *response->add_programs() = std::move(program);
  }
  if (entries->size() < static_cast<size_t>(*page_size) * 4 &&
      response->programs_size() < *page_size) {
    response->clear_next_page_token();
  }
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ChangePartyToken(
    grpc::ServerContext* context, const pb::ChangePartyTokenRequest* request,
    pb::ChangePartyTokenResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> admin = AuthenticateAdmin(*context);
  if (!admin.ok()) return ToGrpcStatus(admin.status());
  if (absl::Status s = ValidateRequestId(request->request_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = ValidateId("party_id", request->party_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s =
          ValidateText("reason", request->reason(), kNoteLengthMax);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->party_id() == kAdminPartyId) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        "the admin token is the one in the data directory (admin.token); it "
        "is not changed through the API"));
  }
  absl::StatusOr<uint64_t> party_seq =
      ledger_->FindUnique(PartyKey(request->party_id()));
  if (!party_seq.ok()) {
    return ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("no party \"", request->party_id(), "\"")));
  }
  absl::StatusOr<pb::PartyRegistration> registration =
      ReadRecord<pb::PartyRegistration>(*ledger_, *party_seq,
                                        kPartyRegistrationKind);
  if (!registration.ok()) return ToGrpcStatus(registration.status());

  absl::MutexLock lock(&token_mu_);
  // The party's tokens: the registration's and every one issued since.
  std::vector<std::string> tokens = {registration->token_sha256()};
  absl::StatusOr<std::vector<StoredEntry>> changes = ledger_->ReadByLookupKey(
      PartyTokensKey(request->party_id()), std::nullopt, 0);
  if (!changes.ok()) return ToGrpcStatus(changes.status());
  std::optional<pb::TokenChange> retried;
  for (const StoredEntry& entry : *changes) {
    pb::TokenChange change;
    if (!change.ParseFromString(entry.entry.payload())) {
      return ToGrpcStatus(absl::DataLossError(
          absl::StrCat("entry ", entry.entry.seq(), " does not parse")));
    }
    // A retry finds its own change: send that again, the ledger replays it.
    if (entry.entry.actor() == admin->actor() &&
        entry.entry.idempotency_key() == request->request_id()) {
      retried = change;
    }
    if (!change.token_sha256().empty()) tokens.push_back(change.token_sha256());
  }
  std::string token;
  pb::TokenChange change;
  if (retried.has_value()) {
    // Only the same request is a retry: the same key for another change is
    // refused, as the ledger refuses it.
    if (retried->reason() != request->reason() ||
        retried->token_sha256().empty() != request->revoke_only()) {
      return ToGrpcStatus(absl::AlreadyExistsError(
          absl::StrCat("request_id \"", request->request_id(),
                       "\" was already used for another token change")));
    }
    change = *std::move(retried);
  } else {
    change.set_party_id(request->party_id());
    change.set_role(registration->role());
    change.set_reason(request->reason());
    for (const std::string& hash : tokens) {
      absl::StatusOr<uint64_t> revoked =
          ledger_->FindUnique(RevokedTokenKey(hash));
      if (absl::IsNotFound(revoked.status())) {
        change.add_revoked_token_sha256(hash);
      } else if (!revoked.ok()) {
        return ToGrpcStatus(revoked.status());
      }
    }
  }
  if (!request->revoke_only()) {
    token = DerivePartyToken(*secret_, registration->role(),
                             request->request_id(), request->party_id());
    if (!retried.has_value()) {
      change.set_token_sha256(std::string(merkle::HashBytes(HashToken(token))));
    }
  }
  if (change.token_sha256().empty() && change.revoked_token_sha256().empty()) {
    return ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
        "party \"", request->party_id(), "\" has no token left to revoke")));
  }
  AppendRequest append;
  append.actor = admin->actor();
  append.idempotency_key = request->request_id();
  append.entries.push_back(
      AppendEntry{kTokenChangeKind, change.SerializeAsString()});
  absl::StatusOr<AppendReceipt> receipt = ledger_->Append(append);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  response->set_token(token);
  response->set_revoked(
      static_cast<uint32_t>(change.revoked_token_sha256_size()));
  response->set_seq(receipt->first_seq);
  response->set_replayed(receipt->replayed);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::RegisterParty(
    grpc::ServerContext* context, const pb::RegisterPartyRequest* request,
    pb::RegisterPartyResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> admin = AuthenticateAdmin(*context);
  if (!admin.ok()) return ToGrpcStatus(admin.status());
  if (absl::Status s = ValidateRequestId(request->request_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (request->role() != pb::BRAND && request->role() != pb::SUPPLIER &&
      request->role() != pb::AUDITOR) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("role must be BRAND, SUPPLIER or AUDITOR"));
  }
  if (absl::Status s = ValidateId("party_id", request->party_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = ValidateText("name", request->name(), kNameLengthMax);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  const std::string token = DerivePartyToken(
      *secret_, request->role(), request->request_id(), request->party_id());
  const merkle::Hash token_hash = HashToken(token);
  pb::PartyRegistration registration;
  registration.set_role(request->role());
  registration.set_party_id(request->party_id());
  registration.set_name(request->name());
  registration.set_token_sha256(std::string(merkle::HashBytes(token_hash)));
  AppendRequest append;
  append.actor = admin->actor();
  append.idempotency_key = request->request_id();
  append.entries.push_back(
      AppendEntry{kPartyRegistrationKind, registration.SerializeAsString()});
  absl::StatusOr<AppendReceipt> receipt = ledger_->Append(append);
  if (absl::IsAlreadyExists(receipt.status()) &&
      ledger_->FindUnique(PartyKey(request->party_id())).ok()) {
    return ToGrpcStatus(absl::AlreadyExistsError(absl::StrCat(
        "party_id \"", request->party_id(), "\" is already registered")));
  }
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  pb::Party* party = response->mutable_party();
  party->set_role(request->role());
  party->set_party_id(request->party_id());
  party->set_name(request->name());
  party->set_seq(receipt->first_seq);
  response->set_token(token);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListParties(
    grpc::ServerContext* context, const pb::ListPartiesRequest* request,
    pb::ListPartiesResponse* response) {
  const ScopedCallDeadline deadline(*context);
  absl::StatusOr<Principal> caller = authenticator_->Authenticate(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s =
          Authenticator::Require(*caller, {pb::ADMIN, pb::AUDITOR});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return ToGrpcStatus(page_size.status());
  absl::StatusOr<std::optional<uint64_t>> after =
      ParsePageToken(request->page_token());
  if (!after.ok()) return ToGrpcStatus(after.status());
  absl::StatusOr<std::vector<StoredEntry>> entries = ledger_->ReadByLookupKey(
      PartiesKey(), *after, static_cast<size_t>(*page_size));
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  for (const StoredEntry& entry : *entries) {
    const uint64_t seq = entry.entry.seq();
    absl::StatusOr<pb::PartyRegistration> registration =
        ParseRecord<pb::PartyRegistration>(entry, kPartyRegistrationKind);
    if (!registration.ok()) return ToGrpcStatus(registration.status());
    if (request->role() == pb::ROLE_UNSPECIFIED ||
        registration->role() == request->role()) {
      pb::Party* party = response->add_parties();
      party->set_role(registration->role());
      party->set_party_id(registration->party_id());
      party->set_name(registration->name());
      party->set_seq(seq);
    }
  }
  if (entries->size() == static_cast<size_t>(*page_size)) {
    response->set_next_page_token(absl::StrCat(entries->back().entry.seq()));
  }
  return grpc::Status::OK;
}

}  // namespace premium
