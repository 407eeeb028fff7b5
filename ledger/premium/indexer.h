// The premium domain's derived keys (see ledger.h, Indexer): what makes a
// business key unique and what the services look records up by. Derived
// keys are a pure function of an entry, so `premiumd verify` recomputes and
// checks them.
//
// clang-format off
//   kind                   unique keys                    lookup keys
//   ProgramVersion         program/<id>/<effective_date>  program/<id>, programs
//   PartyRegistration      party/<id>, token/<sha256 hex> parties
//   PurchaseReport         invoice/<brand>/<invoice_id>   brand/<brand>, supplier/<supplier>
//   PremiumPayment         payment/<brand>/<payment_id>   brand/<brand>, supplier/<supplier>
//   PayrollLine            code/<sha256 hex>              worker/<supplier>/<worker>, payroll/<supplier>
//   Suspension,
//   Reinstatement          -                              standing/<program>/<supplier>
//   WorkerDispute          -                              dispute/<line seq>
//   Reversal               reversal/<seq>                 -
//   DiscrepancyResolution  -                              -
//   TokenChange            token/<new sha256 hex>,        tokens/<party>
//                          revoked/<sha256 hex> each
// clang-format on
#ifndef PREMIUM_LEDGER_PREMIUM_INDEXER_H_
#define PREMIUM_LEDGER_PREMIUM_INDEXER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "ledger/ledger.h"

namespace premium {

// Entry kinds: the full names of the payload messages.
inline constexpr char kProgramVersionKind[] = "wsr.premium.v1.ProgramVersion";
inline constexpr char kPartyRegistrationKind[] =
    "wsr.premium.v1.PartyRegistration";
inline constexpr char kPurchaseReportKind[] = "wsr.premium.v1.PurchaseReport";
inline constexpr char kPremiumPaymentKind[] = "wsr.premium.v1.PremiumPayment";
inline constexpr char kPayrollLineKind[] = "wsr.premium.v1.PayrollLine";
inline constexpr char kSuspensionKind[] = "wsr.premium.v1.Suspension";
inline constexpr char kReinstatementKind[] = "wsr.premium.v1.Reinstatement";
inline constexpr char kWorkerDisputeKind[] = "wsr.premium.v1.WorkerDispute";
inline constexpr char kReversalKind[] = "wsr.premium.v1.Reversal";
inline constexpr char kTokenChangeKind[] = "wsr.premium.v1.TokenChange";
inline constexpr char kDiscrepancyResolutionKind[] =
    "wsr.premium.v1.DiscrepancyResolution";

// Key builders, shared by the indexer and the services that look up.
std::string ProgramKey(absl::string_view program_id);
std::string ProgramsKey();
std::string PartyKey(absl::string_view party_id);
std::string PartiesKey();
std::string TokenKey(absl::string_view token_sha256);
// Held by the TokenChange that revoked a token: a token is revoked once.
std::string RevokedTokenKey(absl::string_view token_sha256);
// Every TokenChange of a party.
std::string PartyTokensKey(absl::string_view party_id);
std::string InvoiceKey(absl::string_view brand_id,
                       absl::string_view invoice_id);
std::string PaymentKey(absl::string_view brand_id,
                       absl::string_view payment_id);
std::string BrandKey(absl::string_view brand_id);
std::string SupplierKey(absl::string_view supplier_id);
std::string CodeKey(absl::string_view code_sha256);
std::string WorkerKey(absl::string_view supplier_id,
                      absl::string_view worker_id);
std::string PayrollKey(absl::string_view supplier_id);
std::string StandingKey(absl::string_view program_id,
                        absl::string_view supplier_id);
std::string DisputeKey(uint64_t line_seq);
std::string ReversalKey(uint64_t reversed_seq);

class PremiumIndexer final : public Indexer {
 public:
  // InvalidArgument when the payload does not parse as its kind, the kind
  // is not one of the above, or an id in it cannot form a key (a NUL, or a
  // key over kDerivedKeyLengthMax).
  absl::Status Derive(const wsr::premium::v1::Entry& entry,
                      DerivedKeys* keys) const override;
};

}  // namespace premium

#endif  // PREMIUM_LEDGER_PREMIUM_INDEXER_H_
