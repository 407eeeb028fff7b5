#include "ledger/premium/indexer.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

template <typename Message>
absl::StatusOr<Message> ParsePayload(const pb::Entry& entry) {
  Message message;
  if (!message.ParseFromString(entry.payload())) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload does not parse as ", entry.kind()));
  }
  return message;
}

// One function per kind keeps Derive a dispatch table.
template <typename Message>
using KeysOf = void (*)(const Message&, uint64_t seq, DerivedKeys*);

template <typename Message>
absl::Status DeriveWith(const pb::Entry& entry, KeysOf<Message> keys_of,
                        DerivedKeys* keys) {
  absl::StatusOr<Message> message = ParsePayload<Message>(entry);
  if (!message.ok()) return message.status();
  keys_of(*message, entry.seq(), keys);
  // Keys are built from the record's ids, which the services validate; a
  // record appended around them (LedgerService.Append) may hold ids no key
  // can carry, and that is bad input, not the ledger's Internal.
  for (const auto* list : {&keys->unique_keys, &keys->lookup_keys}) {
    for (const std::string& key : *list) {
      if (!IsDerivableKey(key)) {
        return absl::InvalidArgumentError(absl::StrCat(
            entry.kind(), " holds an id that cannot form the key \"",
            absl::CHexEscape(key), "\": ids are at most ", kDerivedKeyLengthMax,
            " bytes in a key, without NUL"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string ProgramKey(absl::string_view program_id) {
  return absl::StrCat("program/", program_id);
}
std::string ProgramsKey() { return "programs"; }
std::string PartyKey(absl::string_view party_id) {
  return absl::StrCat("party/", party_id);
}
std::string PartiesKey() { return "parties"; }
std::string TokenKey(absl::string_view token_sha256) {
  return absl::StrCat("token/", Hex(token_sha256));
}
std::string RevokedTokenKey(absl::string_view token_sha256) {
  return absl::StrCat("revoked/", Hex(token_sha256));
}
std::string PartyTokensKey(absl::string_view party_id) {
  return absl::StrCat("tokens/", party_id);
}
std::string InvoiceKey(absl::string_view brand_id,
                       absl::string_view invoice_id) {
  return absl::StrCat("invoice/", brand_id, "/", invoice_id);
}
std::string PaymentKey(absl::string_view brand_id,
                       absl::string_view payment_id) {
  return absl::StrCat("payment/", brand_id, "/", payment_id);
}
std::string BrandKey(absl::string_view brand_id) {
  return absl::StrCat("brand/", brand_id);
}
std::string SupplierKey(absl::string_view supplier_id) {
  return absl::StrCat("supplier/", supplier_id);
}
std::string CodeKey(absl::string_view code_sha256) {
  return absl::StrCat("code/", Hex(code_sha256));
}
std::string WorkerKey(absl::string_view supplier_id,
                      absl::string_view worker_id) {
  return absl::StrCat("worker/", supplier_id, "/", worker_id);
}
std::string PayrollKey(absl::string_view supplier_id) {
  return absl::StrCat("payroll/", supplier_id);
}
std::string StandingKey(absl::string_view program_id,
                        absl::string_view supplier_id) {
  return absl::StrCat("standing/", program_id, "/", supplier_id);
}
std::string DisputeKey(uint64_t line_seq) {
  return absl::StrCat("dispute/", line_seq);
}
std::string ReversalKey(uint64_t reversed_seq) {
  return absl::StrCat("reversal/", reversed_seq);
}

absl::Status PremiumIndexer::Derive(const pb::Entry& entry,
                                    DerivedKeys* keys) const {
  const std::string& kind = entry.kind();
  if (kind == kProgramVersionKind) {
    return DeriveWith<pb::ProgramVersion>(
        entry,
        [](const pb::ProgramVersion& m, uint64_t, DerivedKeys* k) {
          k->unique_keys.push_back(absl::StrCat(ProgramKey(m.program_id()), "/",
                                                m.effective_date()));
          k->lookup_keys = {ProgramKey(m.program_id()), ProgramsKey()};
        },
        keys);
  }
  if (kind == kPartyRegistrationKind) {
    return DeriveWith<pb::PartyRegistration>(
        entry,
        [](const pb::PartyRegistration& m, uint64_t, DerivedKeys* k) {
          k->unique_keys = {PartyKey(m.party_id()), TokenKey(m.token_sha256())};
          k->lookup_keys = {PartiesKey()};
        },
        keys);
  }
  if (kind == kPurchaseReportKind) {
    return DeriveWith<pb::PurchaseReport>(
        entry,
        [](const pb::PurchaseReport& m, uint64_t, DerivedKeys* k) {
          k->unique_keys = {InvoiceKey(m.brand_id(), m.invoice_id())};
          k->lookup_keys = {BrandKey(m.brand_id()),
                            SupplierKey(m.supplier_id())};
        },
        keys);
  }
  if (kind == kPremiumPaymentKind) {
    return DeriveWith<pb::PremiumPayment>(
        entry,
        [](const pb::PremiumPayment& m, uint64_t, DerivedKeys* k) {
          k->unique_keys = {PaymentKey(m.brand_id(), m.payment_id())};
          k->lookup_keys = {BrandKey(m.brand_id()),
                            SupplierKey(m.supplier_id())};
        },
        keys);
  }
  if (kind == kPayrollLineKind) {
    return DeriveWith<pb::PayrollLine>(
        entry,
        [](const pb::PayrollLine& m, uint64_t, DerivedKeys* k) {
          k->unique_keys = {CodeKey(m.code_sha256())};
          k->lookup_keys = {WorkerKey(m.supplier_id(), m.worker_id()),
                            PayrollKey(m.supplier_id())};
        },
        keys);
  }
  if (kind == kSuspensionKind) {
    return DeriveWith<pb::Suspension>(
        entry,
        [](const pb::Suspension& m, uint64_t, DerivedKeys* k) {
          k->lookup_keys = {StandingKey(m.program_id(), m.supplier_id())};
        },
        keys);
  }
  if (kind == kReinstatementKind) {
    return DeriveWith<pb::Reinstatement>(
        entry,
        [](const pb::Reinstatement& m, uint64_t, DerivedKeys* k) {
          k->lookup_keys = {StandingKey(m.program_id(), m.supplier_id())};
        },
        keys);
  }
  if (kind == kWorkerDisputeKind) {
    return DeriveWith<pb::WorkerDispute>(
        entry,
        [](const pb::WorkerDispute& m, uint64_t, DerivedKeys* k) {
          k->lookup_keys = {DisputeKey(m.line_seq())};
        },
        keys);
  }
  if (kind == kReversalKind) {
    return DeriveWith<pb::Reversal>(
        entry,
        [](const pb::Reversal& m, uint64_t, DerivedKeys* k) {
          k->unique_keys = {ReversalKey(m.reversed_seq())};
        },
        keys);
  }
  if (kind == kTokenChangeKind) {
    return DeriveWith<pb::TokenChange>(
        entry,
        [](const pb::TokenChange& m, uint64_t, DerivedKeys* k) {
          if (!m.token_sha256().empty()) {
            k->unique_keys.push_back(TokenKey(m.token_sha256()));
          }
          for (const std::string& revoked : m.revoked_token_sha256()) {
            k->unique_keys.push_back(RevokedTokenKey(revoked));
          }
          k->lookup_keys = {PartyTokensKey(m.party_id())};
        },
        keys);
  }
  if (kind == kDiscrepancyResolutionKind) {
    return DeriveWith<pb::DiscrepancyResolution>(
        entry,
        // Ids can be longer than a derived key, and nothing looks
        // resolutions up: the reconciler reads them in log order.
        [](const pb::DiscrepancyResolution&, uint64_t, DerivedKeys*) {}, keys);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown entry kind \"", absl::CHexEscape(kind), "\""));
}

}  // namespace premium
