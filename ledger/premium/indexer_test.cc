// Tests of the premium domain's derived keys: for each record kind the exact
// unique and lookup keys of indexer.h's table, the refusals, and every key
// builder.
#include "ledger/premium/indexer.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/testing/ledger_testing.h"
#include "wsr/premium/v1/entry.pb.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::IsOk;
using ::premium::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// SHA-256("abc") (FIPS 180-2, appendix B.1) as raw bytes, and the key text
// the indexer must derive from it: lowercase hex of all 32 bytes.
const std::string kAbcSha256(
    "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
    "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad",
    32);
constexpr char kAbcSha256Hex[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// SHA-256("") as raw bytes and lowercase hex.
const std::string kEmptySha256(
    "\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24"
    "\x27\xae\x41\xe4\x64\x9b\x93\x4c\xa4\x95\x99\x1b\x78\x52\xb8\x55",
    32);
constexpr char kEmptySha256Hex[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

template <typename Message>
pb::Entry MakeEntry(const char* kind, const Message& message,
                    uint64_t seq = 7) {
  pb::Entry entry;
  entry.set_seq(seq);
  entry.set_append_time_micros(1'700'000'000'000'000);
  entry.set_actor("admin");
  entry.set_kind(kind);
  entry.set_payload(message.SerializeAsString());
  entry.set_idempotency_key("request-1");
  entry.set_request_index(0);
  entry.set_request_entry_count(1);
  return entry;
}

// Derives through the Indexer interface, as the ledger does.
absl::StatusOr<DerivedKeys> Derive(const pb::Entry& entry) {
  const PremiumIndexer premium_indexer;
  const Indexer& indexer = premium_indexer;
  DerivedKeys keys;
  if (absl::Status status = indexer.Derive(entry, &keys); !status.ok()) {
    return status;
  }
  return keys;
}

// ---------------------------------------------------------------------------
// Each record kind.

TEST(PremiumIndexerTest, ProgramVersion) {
  pb::ProgramVersion version;
  version.set_program_id("ffp");
  version.set_name("Fair Food Program");
  version.set_currency("USD");
  version.set_unit("lb");
  version.set_worker_rate_micros(10'000);
  version.set_effective_date("2025-03-01");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kProgramVersionKind, version));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys, ElementsAre("program/ffp/2025-03-01"));
  EXPECT_THAT(keys->lookup_keys, ElementsAre("program/ffp", "programs"));
}

TEST(PremiumIndexerTest, PartyRegistration) {
  pb::PartyRegistration party;
  party.set_role(pb::BRAND);
  party.set_party_id("b1");
  party.set_name("Brand One");
  party.set_token_sha256(kAbcSha256);
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kPartyRegistrationKind, party));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys,
              ElementsAre("party/b1", std::string("token/") + kAbcSha256Hex));
  EXPECT_THAT(keys->lookup_keys, ElementsAre("parties"));
}

TEST(PremiumIndexerTest, PurchaseReport) {
  pb::PurchaseReport report;
  report.set_brand_id("b1");
  report.set_invoice_id("inv-9");
  report.set_supplier_id("s1");
  report.set_program_id("ffp");
  report.set_purchase_date("2025-02-28");
  report.set_quantity_micros(1'000'000'000);
  report.set_unit("lb");
  report.set_premium_micros(10'000'000);
  report.set_worker_premium_micros(10'000'000);
  report.set_program_version_seq(3);
  report.set_source_line(2);
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kPurchaseReportKind, report));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys, ElementsAre("invoice/b1/inv-9"));
  EXPECT_THAT(keys->lookup_keys, ElementsAre("brand/b1", "supplier/s1"));
}

TEST(PremiumIndexerTest, PremiumPayment) {
  pb::PremiumPayment payment;
  payment.set_brand_id("b1");
  payment.set_payment_id("pay-3");
  payment.set_supplier_id("s1");
  payment.set_program_id("ffp");
  payment.set_paid_date("2025-03-10");
  payment.set_amount_micros(150'000'000);
  payment.set_currency("USD");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kPremiumPaymentKind, payment));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys, ElementsAre("payment/b1/pay-3"));
  EXPECT_THAT(keys->lookup_keys, ElementsAre("brand/b1", "supplier/s1"));
}

TEST(PremiumIndexerTest, PayrollLine) {
  pb::PayrollLine line;
  line.set_supplier_id("s1");
  line.set_program_id("ffp");
  line.set_worker_id("w-7");
  line.set_period_start("2025-03-03");
  line.set_period_end("2025-03-09");
  line.set_pay_date("2025-03-14");
  line.set_hours_micros(40'000'000);
  line.set_premium_micros(12'340'000);
  line.set_currency("USD");
  line.set_code_sha256(kEmptySha256);
  absl::StatusOr<DerivedKeys> keys = Derive(MakeEntry(kPayrollLineKind, line));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys,
              ElementsAre(std::string("code/") + kEmptySha256Hex));
  EXPECT_THAT(keys->lookup_keys, ElementsAre("worker/s1/w-7", "payroll/s1"));
}

TEST(PremiumIndexerTest, Suspension) {
  pb::Suspension suspension;
  suspension.set_program_id("ffp");
  suspension.set_supplier_id("s1");
  suspension.set_from_date("2025-04-01");
  suspension.set_reason("Zero-tolerance violation");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kSuspensionKind, suspension));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys, IsEmpty());
  EXPECT_THAT(keys->lookup_keys, ElementsAre("standing/ffp/s1"));
}

TEST(PremiumIndexerTest, Reinstatement) {
  pb::Reinstatement reinstatement;
  reinstatement.set_program_id("ffp");
  reinstatement.set_supplier_id("s1");
  reinstatement.set_effective_date("2025-10-01");
  reinstatement.set_reason("Corrective action complete");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kReinstatementKind, reinstatement));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys, IsEmpty());
  EXPECT_THAT(keys->lookup_keys, ElementsAre("standing/ffp/s1"));
}

TEST(PremiumIndexerTest, WorkerDispute) {
  pb::WorkerDispute dispute;
  dispute.set_line_seq(42);
  dispute.set_supplier_id("s1");
  dispute.set_program_id("ffp");
  dispute.set_worker_id("w-7");
  dispute.set_paystub_amount_micros(10'000'000);
  dispute.set_note("My paystub shows 10.00");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kWorkerDisputeKind, dispute, /*seq=*/50));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys, IsEmpty());
  // The disputed line's seq, not the dispute's own.
  EXPECT_THAT(keys->lookup_keys, ElementsAre("dispute/42"));
}

TEST(PremiumIndexerTest, Reversal) {
  pb::Reversal reversal;
  reversal.set_reversed_seq(17);
  reversal.set_reason("Duplicate invoice");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kReversalKind, reversal, /*seq=*/30));
  ASSERT_THAT(keys, IsOk());
  // The reversed entry's seq, not the reversal's own: a second reversal of
  // the same entry collides.
  EXPECT_THAT(keys->unique_keys, ElementsAre("reversal/17"));
  EXPECT_THAT(keys->lookup_keys, IsEmpty());
}

TEST(PremiumIndexerTest, DiscrepancyResolution) {
  pb::DiscrepancyResolution resolution;
  resolution.set_discrepancy_id("brand_underpaid:ffp:acme:sunny");
  resolution.set_note("Paid by check, see bank statement");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kDiscrepancyResolutionKind, resolution));
  ASSERT_THAT(keys, IsOk());
  // Resolved again after it reopens: never unique.
  EXPECT_THAT(keys->unique_keys, IsEmpty());
  EXPECT_THAT(keys->lookup_keys, IsEmpty());
}

TEST(PremiumIndexerTest, TokenChange) {
  pb::TokenChange change;
  change.set_party_id("acme");
  change.set_role(pb::BRAND);
  change.set_token_sha256(std::string(32, '\x01'));
  change.add_revoked_token_sha256(std::string(32, '\x02'));
  change.set_reason("laptop stolen");
  absl::StatusOr<DerivedKeys> keys =
      Derive(MakeEntry(kTokenChangeKind, change));
  ASSERT_THAT(keys, IsOk());
  // The new token is unique like any other; a token is revoked only once.
  EXPECT_THAT(
      keys->unique_keys,
      ElementsAre(
          "token/"
          "0101010101010101010101010101010101010101010101010101010101010101",
          "revoked/"
          "0202020202020202020202020202020202020202020202020202020202020202"));
  EXPECT_THAT(keys->lookup_keys, ElementsAre("tokens/acme"));
}

TEST(PremiumIndexerTest, ReversalOfTheLargestSeq) {
  pb::Reversal reversal;
  reversal.set_reversed_seq(std::numeric_limits<uint64_t>::max());
  reversal.set_reason("r");
  absl::StatusOr<DerivedKeys> keys = Derive(MakeEntry(kReversalKind, reversal));
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(keys->unique_keys, ElementsAre("reversal/18446744073709551615"));
}

// The ledger derives keys before an entry has a seq and verification
// derives them again afterwards: they must agree, so keys may depend on the
// payload only.
TEST(PremiumIndexerTest, KeysDependOnlyOnThePayload) {
  pb::PurchaseReport report;
  report.set_brand_id("b1");
  report.set_invoice_id("inv-9");
  report.set_supplier_id("s1");
  pb::Entry before_append = MakeEntry(kPurchaseReportKind, report, 0);
  before_append.clear_append_time_micros();
  before_append.clear_request_entry_count();
  pb::Entry after_append = MakeEntry(kPurchaseReportKind, report, 123456);
  after_append.set_actor("brand:b1");
  after_append.set_idempotency_key("other");
  absl::StatusOr<DerivedKeys> before = Derive(before_append);
  absl::StatusOr<DerivedKeys> after = Derive(after_append);
  ASSERT_THAT(before, IsOk());
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(before->unique_keys, after->unique_keys);
  EXPECT_EQ(before->lookup_keys, after->lookup_keys);
}

// Ids at their longest still give keys the ledger accepts: 1 to
// kDerivedKeyLengthMax bytes, no NUL, none listed twice, at most
// kDerivedKeysPerEntryMax in all.
TEST(PremiumIndexerTest, KeysOfLongestIdsAreValidLedgerKeys) {
  const std::string id(64, 'z');
  const std::string other_id(64, 'y');
  std::vector<pb::Entry> entries;
  {
    pb::ProgramVersion m;
    m.set_program_id(id);
    m.set_effective_date("2025-01-01");
    entries.push_back(MakeEntry(kProgramVersionKind, m));
  }
  {
    pb::PartyRegistration m;
    m.set_party_id(id);
    m.set_token_sha256(std::string(32, '\xff'));
    entries.push_back(MakeEntry(kPartyRegistrationKind, m));
  }
  {
    pb::PurchaseReport m;
    m.set_brand_id(id);
    m.set_invoice_id(other_id);
    m.set_supplier_id(id);
    entries.push_back(MakeEntry(kPurchaseReportKind, m));
  }
  {
    pb::PremiumPayment m;
    m.set_brand_id(id);
    m.set_payment_id(other_id);
    m.set_supplier_id(id);
    entries.push_back(MakeEntry(kPremiumPaymentKind, m));
  }
  {
    pb::PayrollLine m;
    m.set_supplier_id(id);
    m.set_worker_id(other_id);
    m.set_code_sha256(std::string(32, '\0'));
    entries.push_back(MakeEntry(kPayrollLineKind, m));
  }
  {
    pb::Suspension m;
    m.set_program_id(id);
    m.set_supplier_id(other_id);
    entries.push_back(MakeEntry(kSuspensionKind, m));
  }
  {
    pb::Reinstatement m;
    m.set_program_id(id);
    m.set_supplier_id(other_id);
    entries.push_back(MakeEntry(kReinstatementKind, m));
  }
  {
    pb::WorkerDispute m;
    m.set_line_seq(std::numeric_limits<uint64_t>::max());
    entries.push_back(MakeEntry(kWorkerDisputeKind, m));
  }
  {
    pb::Reversal m;
    m.set_reversed_seq(std::numeric_limits<uint64_t>::max());
    entries.push_back(MakeEntry(kReversalKind, m));
  }
  for (const pb::Entry& entry : entries) {
    absl::StatusOr<DerivedKeys> keys = Derive(entry);
    ASSERT_THAT(keys, IsOk()) << entry.kind();
    EXPECT_LE(keys->unique_keys.size() + keys->lookup_keys.size(),
              kDerivedKeysPerEntryMax)
        << entry.kind();
    EXPECT_GE(keys->unique_keys.size() + keys->lookup_keys.size(), 1u)
        << entry.kind();
    for (const std::vector<std::string>* list :
         {&keys->unique_keys, &keys->lookup_keys}) {
      absl::flat_hash_set<std::string> seen;
      for (const std::string& key : *list) {
        EXPECT_FALSE(key.empty()) << entry.kind();
        EXPECT_LE(key.size(), kDerivedKeyLengthMax) << entry.kind() << key;
        EXPECT_EQ(key.find('\0'), std::string::npos) << entry.kind() << key;
        EXPECT_TRUE(seen.insert(key).second) << entry.kind() << key;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Refusals.

TEST(PremiumIndexerTest, UnknownKindIsInvalidArgument) {
  pb::PurchaseReport report;
  report.set_brand_id("b1");
  report.set_invoice_id("inv-9");
  for (const std::string kind :
       {"", "PurchaseReport", "wsr.premium.v1.purchasereport",
        "wsr.premium.v1.PurchaseReport ", "wsr.premium.v2.PurchaseReport",
        "wsr.premium.v1.Entry", "wsr.premium.v1.Unknown", "test.Kind"}) {
    pb::Entry entry = MakeEntry(kPurchaseReportKind, report);
    entry.set_kind(kind);
    DerivedKeys keys;
    EXPECT_THAT(PremiumIndexer().Derive(entry, &keys),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("unknown entry kind")))
        << kind;
    EXPECT_THAT(keys.unique_keys, IsEmpty()) << kind;
    EXPECT_THAT(keys.lookup_keys, IsEmpty()) << kind;
  }
}

// Records appended around the services' validation (LedgerService.Append)
// may hold ids no key can carry: refused as bad input, never handed to the
// ledger, which would fail the append with Internal. Found by request_fuzz.
TEST(PremiumIndexerTest, IdsThatCannotFormAKeyAreInvalidArgument) {
  pb::PremiumPayment payment;
  payment.set_brand_id(std::string{'\0', '1'});
  payment.set_payment_id("pay-9");
  payment.set_supplier_id("s1");
  DerivedKeys keys;
  EXPECT_THAT(
      PremiumIndexer().Derive(MakeEntry(kPremiumPaymentKind, payment), &keys),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(R"(payment/\x00\x31/pay-9)")));

  pb::PayrollLine line;
  line.set_supplier_id("s1");
  line.set_worker_id(std::string(kDerivedKeyLengthMax, 'w'));
  keys = DerivedKeys();
  EXPECT_THAT(PremiumIndexer().Derive(MakeEntry(kPayrollLineKind, line), &keys),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot form the key")));

  pb::PurchaseReport purchase;
  purchase.set_brand_id("b1");
  purchase.set_invoice_id(std::string("inv\0", 4));
  purchase.set_supplier_id("s1");
  keys = DerivedKeys();
  EXPECT_THAT(
      PremiumIndexer().Derive(MakeEntry(kPurchaseReportKind, purchase), &keys),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(kPurchaseReportKind)));
}

TEST(PremiumIndexerTest, PayloadThatDoesNotParseIsInvalidArgument) {
  const std::vector<std::string> garbage = {
      std::string("\xff", 1),              // A truncated varint tag.
      std::string("\x0a\x05\x61\x62", 4),  // Field 1 claims 5 bytes, has 2.
      std::string("\x08", 1),              // A tag without its value.
      std::string("\x00\x00", 2),          // Field number 0.
      std::string("\x0f", 1),              // Wire type 7 does not exist.
      std::string("\x0b", 1),              // A group that never ends.
      std::string("\x0b\x14", 2),          // A group ended as another field.
  };
  for (const char* kind :
       {kProgramVersionKind, kPartyRegistrationKind, kPurchaseReportKind,
        kPremiumPaymentKind, kPayrollLineKind, kSuspensionKind,
        kReinstatementKind, kWorkerDisputeKind, kReversalKind}) {
    for (const std::string& payload : garbage) {
      pb::Entry entry;
      entry.set_seq(7);
      entry.set_kind(kind);
      entry.set_payload(payload);
      DerivedKeys keys;
      EXPECT_THAT(PremiumIndexer().Derive(entry, &keys),
                  StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(kind)))
          << kind << " " << absl::CHexEscape(payload);
      EXPECT_THAT(keys.unique_keys, IsEmpty()) << kind;
      EXPECT_THAT(keys.lookup_keys, IsEmpty()) << kind;
    }
  }
}

// ---------------------------------------------------------------------------
// Key builders.

TEST(KeyBuildersTest, EachBuildsItsDocumentedKey) {
  EXPECT_EQ(ProgramKey("ffp"), "program/ffp");
  EXPECT_EQ(ProgramsKey(), "programs");
  EXPECT_EQ(PartyKey("b1"), "party/b1");
  EXPECT_EQ(PartiesKey(), "parties");
  EXPECT_EQ(TokenKey(kAbcSha256), std::string("token/") + kAbcSha256Hex);
  EXPECT_EQ(InvoiceKey("b1", "inv-9"), "invoice/b1/inv-9");
  EXPECT_EQ(PaymentKey("b1", "pay-3"), "payment/b1/pay-3");
  EXPECT_EQ(BrandKey("b1"), "brand/b1");
  EXPECT_EQ(SupplierKey("s1"), "supplier/s1");
  EXPECT_EQ(CodeKey(kEmptySha256), std::string("code/") + kEmptySha256Hex);
  EXPECT_EQ(WorkerKey("s1", "w-7"), "worker/s1/w-7");
  EXPECT_EQ(PayrollKey("s1"), "payroll/s1");
  EXPECT_EQ(StandingKey("ffp", "s1"), "standing/ffp/s1");
  EXPECT_EQ(DisputeKey(0), "dispute/0");
  EXPECT_EQ(DisputeKey(42), "dispute/42");
  EXPECT_EQ(DisputeKey(std::numeric_limits<uint64_t>::max()),
            "dispute/18446744073709551615");
  EXPECT_EQ(ReversalKey(0), "reversal/0");
  EXPECT_EQ(ReversalKey(17), "reversal/17");
  EXPECT_EQ(ReversalKey(std::numeric_limits<uint64_t>::max()),
            "reversal/18446744073709551615");
}

TEST(KeyBuildersTest, HashKeysAreLowercaseHexOfEveryByte) {
  // Every byte value, including NUL and the high half, 32 at a time.
  for (int start = 0; start < 256; start += 32) {
    std::string bytes;
    std::string hex;
    for (int b = start; b < start + 32; ++b) {
      bytes.push_back(static_cast<char>(b));
      constexpr char kDigits[] = "0123456789abcdef";
      hex.push_back(kDigits[b >> 4]);
      hex.push_back(kDigits[b & 0xf]);
    }
    EXPECT_EQ(TokenKey(bytes), "token/" + hex);
    EXPECT_EQ(CodeKey(bytes), "code/" + hex);
    EXPECT_EQ(CodeKey(bytes).size(), 5u + 64u);
  }
}

TEST(KeyBuildersTest, DistinctRecordsGetDistinctKeys) {
  // The same ids in a different role or order give a different key.
  EXPECT_NE(InvoiceKey("b1", "s1"), InvoiceKey("s1", "b1"));
  EXPECT_NE(InvoiceKey("b1", "x"), PaymentKey("b1", "x"));
  EXPECT_NE(BrandKey("x"), SupplierKey("x"));
  EXPECT_NE(PartyKey("x"), ProgramKey("x"));
  EXPECT_NE(StandingKey("a", "b"), StandingKey("b", "a"));
  EXPECT_NE(WorkerKey("s1", "w1"), WorkerKey("w1", "s1"));
  EXPECT_NE(DisputeKey(1), ReversalKey(1));
}

}  // namespace
}  // namespace premium
