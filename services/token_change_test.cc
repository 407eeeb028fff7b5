// Tests of AdminService.ChangePartyToken (token rotation and revocation)
// and of the Authenticator's check of revoked tokens, through a real gRPC
// server on 127.0.0.1:0 wired as premiumd wires it (a Ledger with the
// PremiumIndexer in a temporary directory, the in-process LedgerClient, the
// Authenticator, the server secret and every role service, the admin
// registered the way premiumd's BootstrapAdmin does). The last tests drive
// the premiumd and premiumctl binaries as the admin would.
//
// Every test starts from program ffp (USD per lb, worker_rate 0.01, from
// 2025-01-01), brands b1 and b2, supplier s1 and auditor a1, each with the
// token its registration returned.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/ledger.h"
#include "ledger/merkle/hasher.h"
#include "ledger/premium/indexer.h"
#include "ledger/testing/child_process.h"
#include "ledger/testing/ledger_testing.h"
#include "ledger/verify.h"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/auth.h"
#include "services/brand_service.h"
#include "services/credentials.h"
#include "services/ledger_client.h"
#include "services/server_secret.h"
#include "services/supplier_service.h"
#include "services/testing/service_testing.h"
#include "services/upload_receiver.h"
#include "services/worker_service.h"
#include "wsr/premium/v1/admin.grpc.pb.h"
#include "wsr/premium/v1/audit.grpc.pb.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/records.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"
#include "wsr/premium/v1/worker.grpc.pb.h"

namespace premium {
namespace {

namespace pb = ::wsr::premium::v1;

using ::premium::testing::Bearer;
using ::premium::testing::CommandResult;
using ::premium::testing::Context;
using ::premium::testing::ExpectOneLine;
using ::premium::testing::GrpcIs;
using ::premium::testing::GrpcOk;
using ::premium::testing::IsOk;
using ::premium::testing::IsOkAndHolds;
using ::premium::testing::Lines;
using ::premium::testing::PremiumdCliTest;
using ::premium::testing::ReadFileOrDie;
using ::premium::testing::WriteFileOrDie;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

const absl::CivilDay kToday(2025, 2, 28);
const absl::Time kAppendTime = absl::FromCivil(
    absl::CivilSecond(2025, 2, 10, 12, 0, 0), absl::UTCTimeZone());

constexpr char kPurchasesHeader[] =
    "invoice_id,supplier_id,program_id,purchase_date,quantity,unit\n";
constexpr char kB1Purchases[] =
    "inv-1,s1,ffp,2025-01-06,1000,lb\n"
    "inv-2,s1,ffp,2025-01-13,2000.5,lb\n";
constexpr char kB2Purchases[] = "inv-1,s1,ffp,2025-01-10,300,lb\n";

constexpr char kRevokedMessage[] = "the token was revoked";

// PERMISSION_DENIED because the token was revoked by the entry `seq`.
auto RevokedAt(uint64_t seq) {
  return GrpcIs(
      grpc::StatusCode::PERMISSION_DENIED,
      HasSubstr(absl::StrCat(kRevokedMessage, " (ledger seq ", seq, ")")));
}

// The raw SHA-256 of a token, as the ledger records it.
std::string TokenHash(absl::string_view token) {
  return std::string(merkle::HashBytes(HashToken(token)));
}

class TokenChangeTest : public testing::PremiumServicesTest {
 protected:
  TokenChangeTest() : PremiumServicesTest(kToday, kAppendTime) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PremiumServicesTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties());
  }

  std::string Admin() const { return Bearer(admin_token_); }

  // Program ffp; brands b1 and b2, supplier s1, auditor a1.
  void SetUpProgramAndParties() {
    pb::AddProgramVersionRequest request;
    request.set_request_id("program-ffp");
    pb::ProgramVersionSpec& spec = *request.mutable_version();
    spec.set_program_id("ffp");
    spec.set_name("Fair Food Program");
    spec.set_currency("USD");
    spec.set_unit("lb");
    spec.set_worker_rate("0.01");
    spec.set_effective_date("2025-01-01");
    pb::Program program;
    ASSERT_THAT(admin_stub_->AddProgramVersion(Context(Admin()).get(), request,
                                               &program),
                GrpcOk());
    tokens_["b1"] = RegisterOrDie(pb::BRAND, "b1");
    tokens_["b2"] = RegisterOrDie(pb::BRAND, "b2");
    tokens_["s1"] = RegisterOrDie(pb::SUPPLIER, "s1");
    tokens_["a1"] = RegisterOrDie(pb::AUDITOR, "a1");
  }

  // Uploads purchases (rows after the header) with `token`.
  grpc::Status SubmitPurchases(const std::string& token, absl::string_view rows,
                               pb::UploadReceipt* receipt) {
    auto context = Context(Bearer(token));
    std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
        brand_stub_->SubmitPurchases(context.get(), receipt);
    return testing::StreamUpload(writer.get(),
                                 absl::StrCat(kPurchasesHeader, rows));
  }

  grpc::Status ListPurchases(const std::string& token,
                             pb::ListPurchasesResponse* response) {
    return brand_stub_->ListPurchases(Context(Bearer(token)).get(),
                                      pb::ListOwnRecordsRequest(), response);
  }

  // The (brand, invoice) of every purchase `token` lists.
  std::vector<std::string> PurchasesOrDie(const std::string& token) {
    pb::ListPurchasesResponse response;
    EXPECT_THAT(ListPurchases(token, &response), GrpcOk());
    std::vector<std::string> purchases;
    for (const pb::Purchase& purchase : response.purchases()) {
      purchases.push_back(
          absl::StrCat(purchase.brand_id(), "/", purchase.invoice_id()));
    }
    return purchases;
  }

  grpc::Status Standing(const std::string& token) {
    pb::GetSupplierStandingRequest request;
    request.set_program_id("ffp");
    request.set_supplier_id("s1");
    pb::SupplierStanding standing;
    return brand_stub_->GetSupplierStanding(Context(Bearer(token)).get(),
                                            request, &standing);
  }

  grpc::Status ChangeToken(const std::string& request_id,
                           const std::string& party_id, bool revoke_only,
                           const std::string& reason,
                           pb::ChangePartyTokenResponse* response,
                           const std::string& authorization) {
    pb::ChangePartyTokenRequest request;
    request.set_request_id(request_id);
    request.set_party_id(party_id);
    request.set_revoke_only(revoke_only);
    request.set_reason(reason);
    return admin_stub_->ChangePartyToken(Context(authorization).get(), request,
                                         response);
  }

  // A rotation by the admin that must succeed.
  pb::ChangePartyTokenResponse RotateOrDie(const std::string& request_id,
                                           const std::string& party_id,
                                           const std::string& reason) {
    pb::ChangePartyTokenResponse response;
    EXPECT_THAT(
        ChangeToken(request_id, party_id, false, reason, &response, Admin()),
        GrpcOk());
    EXPECT_FALSE(response.token().empty());
    EXPECT_FALSE(response.replayed());
    return response;
  }

  // The TokenChange recorded at `seq`, checking the entry's envelope.
  pb::TokenChange TokenChangeAt(uint64_t seq,
                                const std::string& request_id) const {
    pb::TokenChange change;
    absl::StatusOr<StoredEntry> entry = ledger_->ReadEntry(seq);
    EXPECT_THAT(entry, IsOk());
    if (!entry.ok()) return change;
    EXPECT_EQ(entry->entry.kind(), kTokenChangeKind);
    EXPECT_EQ(entry->entry.actor(), "admin:admin");
    EXPECT_EQ(entry->entry.idempotency_key(), request_id);
    EXPECT_TRUE(change.ParseFromString(entry->entry.payload()));
    return change;
  }

  // One call of each service that checks tokens, as `token`. A brand's
  // revoked token must get PERMISSION_DENIED from each, however its role
  // would be answered.
  std::vector<std::pair<std::string, grpc::Status>> CallEveryService(
      const std::string& token) {
    const std::string auth = Bearer(token);
    std::vector<std::pair<std::string, grpc::Status>> statuses;
    {
      pb::ListPurchasesResponse response;
      statuses.emplace_back("BrandService.ListPurchases",
                            ListPurchases(token, &response));
    }
    {
      pb::ListPaymentsResponse response;
      statuses.emplace_back(
          "BrandService.ListPayments",
          brand_stub_->ListPayments(Context(auth).get(),
                                    pb::ListOwnRecordsRequest(), &response));
    }
    statuses.emplace_back("BrandService.GetSupplierStanding", Standing(token));
    {
      pb::UploadReceipt receipt;
      statuses.emplace_back(
          "BrandService.SubmitPurchases",
          SubmitPurchases(token, "inv-9,s1,ffp,2025-01-20,100,lb\n", &receipt));
    }
    {
      pb::ListPayrollLinesResponse response;
      statuses.emplace_back(
          "SupplierService.ListPayrollLines",
          supplier_stub_->ListPayrollLines(
              Context(auth).get(), pb::ListOwnRecordsRequest(), &response));
    }
    {
      pb::ReconcileResponse response;
      statuses.emplace_back(
          "AuditService.Reconcile",
          audit_stub_->Reconcile(Context(auth).get(), pb::ReconcileRequest(),
                                 &response));
    }
    {
      pb::ListProgramsResponse response;
      statuses.emplace_back(
          "AdminService.ListPrograms",
          admin_stub_->ListPrograms(Context(auth).get(),
                                    pb::ListProgramsRequest(), &response));
    }
    {
      pb::GetProgramRequest request;
      request.set_program_id("ffp");
      pb::Program response;
      statuses.emplace_back(
          "AdminService.GetProgram",
          admin_stub_->GetProgram(Context(auth).get(), request, &response));
    }
    {
      pb::ListPartiesResponse response;
      statuses.emplace_back(
          "AdminService.ListParties",
          admin_stub_->ListParties(Context(auth).get(),
                                   pb::ListPartiesRequest(), &response));
    }
    {
      pb::ChangePartyTokenResponse response;
      statuses.emplace_back("AdminService.ChangePartyToken",
                            ChangeToken("by-a-revoked-token", "b2", false,
                                        "not allowed", &response, auth));
    }
    return statuses;
  }

  // Every call of CallEveryService is refused: the token was revoked at
  // `seq`. Nothing is appended.
  void ExpectRevokedEverywhere(const std::string& token, uint64_t seq) {
    const uint64_t size = ledger_->size();
    for (const auto& [call, status] : CallEveryService(token)) {
      EXPECT_THAT(status, RevokedAt(seq)) << call;
    }
    EXPECT_EQ(ledger_->size(), size);
  }
};

// ---------------------------------------------------------------------------
// Rotation

TEST_F(TokenChangeTest, RotationRevokesTheCachedTokenEverywhere) {
  const std::string first = tokens_["b1"];
  pb::UploadReceipt receipt;
  ASSERT_THAT(SubmitPurchases(first, kB1Purchases, &receipt), GrpcOk());
  ASSERT_THAT(SubmitPurchases(tokens_["b2"], kB2Purchases, &receipt), GrpcOk());
  // b1's token works, and so is in the Authenticator's cache.
  EXPECT_THAT(PurchasesOrDie(first), ElementsAre("b1/inv-1", "b1/inv-2"));
  EXPECT_THAT(Standing(first), GrpcOk());
  const uint64_t size = ledger_->size();

  const pb::ChangePartyTokenResponse rotated =
      RotateOrDie("rotate-b1-1", "b1", "monthly rotation");
  const std::string second = rotated.token();
  EXPECT_NE(second, first);
  EXPECT_THAT(second, StartsWith("brand_"));
  EXPECT_EQ(rotated.revoked(), 1u);
  EXPECT_EQ(rotated.seq(), size);
  ASSERT_EQ(ledger_->size(), size + 1);
  const pb::TokenChange change = TokenChangeAt(rotated.seq(), "rotate-b1-1");
  EXPECT_EQ(change.party_id(), "b1");
  EXPECT_EQ(change.role(), pb::BRAND);
  EXPECT_EQ(change.token_sha256(), TokenHash(second));
  EXPECT_THAT(change.revoked_token_sha256(), ElementsAre(TokenHash(first)));
  EXPECT_EQ(change.reason(), "monthly rotation");
  // The derived keys the Authenticator and the next change look up.
  EXPECT_THAT(ledger_->FindUnique(TokenKey(TokenHash(second))),
              IsOkAndHolds(rotated.seq()));
  EXPECT_THAT(ledger_->FindUnique(RevokedTokenKey(TokenHash(first))),
              IsOkAndHolds(rotated.seq()));
  EXPECT_THAT(ledger_->FindByLookupKey(PartyTokensKey("b1"), std::nullopt, 0),
              IsOkAndHolds(ElementsAre(rotated.seq())));

  // The old token is refused by every service, even though it was cached.
  ASSERT_NO_FATAL_FAILURE(ExpectRevokedEverywhere(first, rotated.seq()));

  // The new one acts as b1: it sees b1's records (not b2's) and what it
  // appends is b1's.
  EXPECT_THAT(PurchasesOrDie(second), ElementsAre("b1/inv-1", "b1/inv-2"));
  EXPECT_THAT(Standing(second), GrpcOk());
  ASSERT_THAT(
      SubmitPurchases(second, "inv-3,s1,ffp,2025-01-20,100,lb\n", &receipt),
      GrpcOk());
  PL_ASSERT_OK_AND_ASSIGN(const StoredEntry appended,
                          ledger_->ReadEntry(receipt.ledger().first_seq()));
  EXPECT_EQ(appended.entry.actor(), "brand:b1");
  EXPECT_THAT(PurchasesOrDie(second),
              ElementsAre("b1/inv-1", "b1/inv-2", "b1/inv-3"));
  // A brand still: the audit service refuses it for its role.
  pb::ReconcileResponse reconcile;
  EXPECT_THAT(audit_stub_->Reconcile(Context(Bearer(second)).get(),
                                     pb::ReconcileRequest(), &reconcile),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED,
                     Not(HasSubstr(kRevokedMessage))));
  // Other parties are untouched.
  EXPECT_THAT(PurchasesOrDie(tokens_["b2"]), ElementsAre("b2/inv-1"));

  // A second rotation revokes the second token only: the first one was
  // revoked already.
  const pb::ChangePartyTokenResponse again =
      RotateOrDie("rotate-b1-2", "b1", "second rotation");
  const std::string third = again.token();
  EXPECT_NE(third, second);
  EXPECT_NE(third, first);
  EXPECT_EQ(again.revoked(), 1u);
  const pb::TokenChange second_change =
      TokenChangeAt(again.seq(), "rotate-b1-2");
  EXPECT_EQ(second_change.token_sha256(), TokenHash(third));
  EXPECT_THAT(second_change.revoked_token_sha256(),
              ElementsAre(TokenHash(second)));
  ASSERT_NO_FATAL_FAILURE(ExpectRevokedEverywhere(second, again.seq()));
  // The first stays revoked by the first change.
  EXPECT_THAT(Standing(first), RevokedAt(rotated.seq()));
  EXPECT_THAT(PurchasesOrDie(third),
              ElementsAre("b1/inv-1", "b1/inv-2", "b1/inv-3"));
}

TEST_F(TokenChangeTest, RotatingAnAuditorOrSupplierKeepsItsRole) {
  const pb::ChangePartyTokenResponse auditor =
      RotateOrDie("rotate-a1", "a1", "new auditor on the team");
  EXPECT_THAT(auditor.token(), StartsWith("auditor_"));
  EXPECT_EQ(auditor.revoked(), 1u);
  pb::ReconcileResponse reconcile;
  EXPECT_THAT(audit_stub_->Reconcile(Context(Bearer(auditor.token())).get(),
                                     pb::ReconcileRequest(), &reconcile),
              GrpcOk());
  EXPECT_THAT(audit_stub_->Reconcile(Context(Bearer(tokens_["a1"])).get(),
                                     pb::ReconcileRequest(), &reconcile),
              RevokedAt(auditor.seq()));

  const pb::ChangePartyTokenResponse supplier =
      RotateOrDie("rotate-s1", "s1", "laptop lost");
  EXPECT_THAT(supplier.token(), StartsWith("supplier_"));
  pb::ListPayrollLinesResponse lines;
  EXPECT_THAT(
      supplier_stub_->ListPayrollLines(Context(Bearer(supplier.token())).get(),
                                       pb::ListOwnRecordsRequest(), &lines),
      GrpcOk());
  EXPECT_THAT(
      supplier_stub_->ListPayrollLines(Context(Bearer(tokens_["s1"])).get(),
                                       pb::ListOwnRecordsRequest(), &lines),
      RevokedAt(supplier.seq()));
}

// ---------------------------------------------------------------------------
// Retries

TEST_F(TokenChangeTest, ARetryIsReplayedEvenAfterTheTokensChanged) {
  const pb::ChangePartyTokenResponse first =
      RotateOrDie("rotate-b1", "b1", "monthly rotation");
  const uint64_t size = ledger_->size();

  // The admin never saw the answer and sends the same request again.
  pb::ChangePartyTokenResponse retry;
  ASSERT_THAT(ChangeToken("rotate-b1", "b1", false, "monthly rotation", &retry,
                          Admin()),
              GrpcOk());
  EXPECT_EQ(retry.token(), first.token());
  EXPECT_EQ(retry.revoked(), 1u);
  EXPECT_EQ(retry.seq(), first.seq());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(ledger_->size(), size);
  EXPECT_THAT(Standing(retry.token()), GrpcOk());

  // After another rotation (which revoked that token) the retry is still a
  // replay of the first: nothing appended, nothing else revoked.
  const pb::ChangePartyTokenResponse second =
      RotateOrDie("rotate-b1-later", "b1", "another rotation");
  EXPECT_EQ(second.revoked(), 1u);
  const uint64_t size_after = ledger_->size();
  pb::ChangePartyTokenResponse late_retry;
  ASSERT_THAT(ChangeToken("rotate-b1", "b1", false, "monthly rotation",
                          &late_retry, Admin()),
              GrpcOk());
  EXPECT_EQ(late_retry.token(), first.token());
  EXPECT_EQ(late_retry.revoked(), 1u);
  EXPECT_EQ(late_retry.seq(), first.seq());
  EXPECT_TRUE(late_retry.replayed());
  EXPECT_EQ(ledger_->size(), size_after);
  EXPECT_THAT(Standing(second.token()), GrpcOk());
  EXPECT_THAT(Standing(first.token()), RevokedAt(second.seq()));

  // DESIGN section 5: the same key with other content is ALREADY_EXISTS.
  pb::ChangePartyTokenResponse other_reason;
  EXPECT_THAT(ChangeToken("rotate-b1", "b1", false, "a different reason",
                          &other_reason, Admin()),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(ledger_->size(), size_after);
  EXPECT_THAT(Standing(second.token()), GrpcOk());
}

TEST_F(TokenChangeTest, ARequestIdReusedForAnotherChangeIsRefused) {
  const pb::ChangePartyTokenResponse rotated =
      RotateOrDie("change-b1", "b1", "monthly rotation");
  const uint64_t size = ledger_->size();

  // The same request_id for another party: the ledger refuses the key.
  pb::ChangePartyTokenResponse other_party;
  EXPECT_THAT(ChangeToken("change-b1", "b2", false, "monthly rotation",
                          &other_party, Admin()),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(ledger_->size(), size);
  EXPECT_THAT(Standing(tokens_["b2"]), GrpcOk());

  // The same request_id, now revoke_only: other content, ALREADY_EXISTS.
  pb::ChangePartyTokenResponse now_revoke;
  EXPECT_THAT(ChangeToken("change-b1", "b1", true, "monthly rotation",
                          &now_revoke, Admin()),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS))
      << "token \"" << now_revoke.token() << "\" replayed "
      << now_revoke.replayed();
  EXPECT_EQ(ledger_->size(), size);
  EXPECT_THAT(Standing(rotated.token()), GrpcOk());

  // A revoke_only request retried as a rotation: must not hand out a token
  // that was never recorded.
  pb::ChangePartyTokenResponse revoked;
  ASSERT_THAT(ChangeToken("revoke-b1", "b1", true, "leaked", &revoked, Admin()),
              GrpcOk());
  EXPECT_EQ(revoked.revoked(), 1u);
  EXPECT_THAT(revoked.token(), IsEmpty());
  const uint64_t size_after = ledger_->size();
  pb::ChangePartyTokenResponse now_rotate;
  const grpc::Status status =
      ChangeToken("revoke-b1", "b1", false, "leaked", &now_rotate, Admin());
  EXPECT_THAT(status, GrpcIs(grpc::StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(ledger_->size(), size_after);
  if (status.ok() && !now_rotate.token().empty()) {
    // Whatever it answered, a token it hands out must work.
    EXPECT_THAT(Standing(now_rotate.token()), GrpcOk())
        << "ChangePartyToken returned a token no party holds (replayed "
        << now_rotate.replayed() << ")";
  }
}

// ---------------------------------------------------------------------------
// revoke_only

TEST_F(TokenChangeTest, RevokeOnlyLocksThePartyOutUntilARotation) {
  const std::string registered = tokens_["b1"];
  pb::UploadReceipt receipt;
  ASSERT_THAT(SubmitPurchases(registered, kB1Purchases, &receipt), GrpcOk());
  EXPECT_THAT(Standing(registered), GrpcOk());
  const pb::ChangePartyTokenResponse rotated =
      RotateOrDie("rotate-b1", "b1", "monthly rotation");
  EXPECT_THAT(Standing(rotated.token()), GrpcOk());
  const uint64_t size = ledger_->size();

  // Only the one live token is revoked: the registration's was already.
  pb::ChangePartyTokenResponse revoked;
  ASSERT_THAT(ChangeToken("revoke-b1", "b1", true, "the token leaked", &revoked,
                          Admin()),
              GrpcOk());
  EXPECT_THAT(revoked.token(), IsEmpty());
  EXPECT_EQ(revoked.revoked(), 1u);
  EXPECT_FALSE(revoked.replayed());
  EXPECT_EQ(revoked.seq(), size);
  ASSERT_EQ(ledger_->size(), size + 1);
  const pb::TokenChange change = TokenChangeAt(revoked.seq(), "revoke-b1");
  EXPECT_EQ(change.party_id(), "b1");
  EXPECT_EQ(change.role(), pb::BRAND);
  EXPECT_THAT(change.token_sha256(), IsEmpty());
  EXPECT_THAT(change.revoked_token_sha256(),
              ElementsAre(TokenHash(rotated.token())));
  EXPECT_EQ(change.reason(), "the token leaked");

  // b1 is locked out: no token of its works.
  ASSERT_NO_FATAL_FAILURE(
      ExpectRevokedEverywhere(rotated.token(), revoked.seq()));
  ASSERT_NO_FATAL_FAILURE(ExpectRevokedEverywhere(registered, rotated.seq()));

  // Nothing is left to revoke.
  pb::ChangePartyTokenResponse again;
  EXPECT_THAT(ChangeToken("revoke-b1-again", "b1", true, "still leaked", &again,
                          Admin()),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(ledger_->size(), size + 1);
  // A retry of the revocation is still a replay, not FAILED_PRECONDITION.
  pb::ChangePartyTokenResponse retry;
  EXPECT_THAT(
      ChangeToken("revoke-b1", "b1", true, "the token leaked", &retry, Admin()),
      GrpcOk());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.revoked(), 1u);
  EXPECT_EQ(retry.seq(), revoked.seq());
  EXPECT_EQ(ledger_->size(), size + 1);

  // b1 is still registered, and a rotation lets it in again.
  pb::ListPartiesResponse parties;
  ASSERT_THAT(admin_stub_->ListParties(Context(Admin()).get(),
                                       pb::ListPartiesRequest(), &parties),
              GrpcOk());
  std::vector<std::string> ids;
  for (const pb::Party& party : parties.parties()) {
    ids.push_back(party.party_id());
  }
  EXPECT_THAT(ids, ElementsAre("admin", "b1", "b2", "s1", "a1"));
  const pb::ChangePartyTokenResponse back =
      RotateOrDie("rotate-b1-back", "b1", "new contract");
  EXPECT_EQ(back.revoked(), 0u);
  const pb::TokenChange back_change =
      TokenChangeAt(back.seq(), "rotate-b1-back");
  EXPECT_EQ(back_change.token_sha256(), TokenHash(back.token()));
  EXPECT_THAT(back_change.revoked_token_sha256(), IsEmpty());
  EXPECT_THAT(PurchasesOrDie(back.token()),
              ElementsAre("b1/inv-1", "b1/inv-2"));
  EXPECT_THAT(Standing(rotated.token()), RevokedAt(revoked.seq()));
  EXPECT_THAT(Standing(registered), RevokedAt(rotated.seq()));
}

TEST_F(TokenChangeTest, RevokeOnlyOfTheRegisteredTokenRevokesIt) {
  EXPECT_THAT(Standing(tokens_["s1"]), GrpcOk());
  pb::ChangePartyTokenResponse revoked;
  ASSERT_THAT(ChangeToken("revoke-s1", "s1", true, "left the program", &revoked,
                          Admin()),
              GrpcOk());
  EXPECT_EQ(revoked.revoked(), 1u);
  EXPECT_THAT(revoked.token(), IsEmpty());
  EXPECT_THAT(Standing(tokens_["s1"]), RevokedAt(revoked.seq()));
  // The others keep theirs.
  EXPECT_THAT(Standing(tokens_["b1"]), GrpcOk());
  EXPECT_THAT(Standing(tokens_["b2"]), GrpcOk());
}

// ---------------------------------------------------------------------------
// Who may call it, and bad input

TEST_F(TokenChangeTest, OnlyTheAdminMayChangeTokensAndInputIsChecked) {
  using Code = grpc::StatusCode;
  const uint64_t size = ledger_->size();
  struct Row {
    std::string caller;
    std::string authorization;
    Code code;
  };
  const std::vector<Row> callers = {
      {"no metadata", "", Code::UNAUTHENTICATED},
      {"a token without Bearer", tokens_["b2"], Code::UNAUTHENTICATED},
      {"an unknown token", Bearer("admin_NOTATOKEN"), Code::PERMISSION_DENIED},
      {"brand b1 itself", Bearer(tokens_["b1"]), Code::PERMISSION_DENIED},
      {"brand b2", Bearer(tokens_["b2"]), Code::PERMISSION_DENIED},
      {"supplier s1", Bearer(tokens_["s1"]), Code::PERMISSION_DENIED},
      {"auditor a1", Bearer(tokens_["a1"]), Code::PERMISSION_DENIED},
  };
  for (const Row& row : callers) {
    for (const bool revoke_only : {false, true}) {
      SCOPED_TRACE(
          absl::StrCat(row.caller, revoke_only ? " revokes" : " rotates"));
      pb::ChangePartyTokenResponse response;
      EXPECT_THAT(ChangeToken("not-allowed", "b1", revoke_only, "because",
                              &response, row.authorization),
                  GrpcIs(row.code));
      EXPECT_THAT(response.token(), IsEmpty());
    }
  }
  EXPECT_EQ(ledger_->size(), size);
  // Authentication comes before the checks of the input.
  pb::ChangePartyTokenResponse response;
  EXPECT_THAT(ChangeToken("", "B1!", false, "", &response, ""),
              GrpcIs(Code::UNAUTHENTICATED));
  EXPECT_THAT(
      ChangeToken("", "B1!", false, "", &response, Bearer(tokens_["a1"])),
      GrpcIs(Code::PERMISSION_DENIED));

  struct Input {
    std::string what;
    std::string request_id;
    std::string party_id;
    std::string reason;
    Code code;
    std::string message;
  };
  const std::vector<Input> inputs = {
      {"an unknown party", "change-1", "nobody", "because", Code::NOT_FOUND,
       "nobody"},
      {"the admin", "change-2", "admin", "because", Code::FAILED_PRECONDITION,
       "admin"},
      {"an empty reason", "change-3", "b1", "", Code::INVALID_ARGUMENT,
       "reason"},
      {"an empty party id", "change-4", "", "because", Code::INVALID_ARGUMENT,
       "party_id"},
      {"an upper-case party id", "change-5", "B1", "because",
       Code::INVALID_ARGUMENT, "party_id"},
      {"a party id with a slash", "change-6", "b1/x", "because",
       Code::INVALID_ARGUMENT, "party_id"},
      {"an empty request id", "", "b1", "because", Code::INVALID_ARGUMENT,
       "request_id"},
      {"a request id with a space", "change 7", "b1", "because",
       Code::INVALID_ARGUMENT, "request_id"},
  };
  for (const Input& input : inputs) {
    for (const bool revoke_only : {false, true}) {
      SCOPED_TRACE(
          absl::StrCat(input.what, revoke_only ? ", revoke_only" : ""));
      pb::ChangePartyTokenResponse refused;
      EXPECT_THAT(ChangeToken(input.request_id, input.party_id, revoke_only,
                              input.reason, &refused, Admin()),
                  GrpcIs(input.code, HasSubstr(input.message)));
      EXPECT_THAT(refused.token(), IsEmpty());
    }
  }
  EXPECT_EQ(ledger_->size(), size);
  // Nothing was revoked: every token still works, the admin's too.
  for (const std::string party : {"b1", "b2", "s1", "a1"}) {
    EXPECT_THAT(Standing(tokens_[party]), GrpcOk()) << party;
  }
  EXPECT_THAT(Standing(admin_token_), GrpcOk());
}

// ---------------------------------------------------------------------------
// Restart and verification

TEST_F(TokenChangeTest, RevocationOutlivesARestartAndTheLedgerVerifies) {
  const std::string registered = tokens_["b1"];
  pb::UploadReceipt receipt;
  ASSERT_THAT(SubmitPurchases(registered, kB1Purchases, &receipt), GrpcOk());
  const pb::ChangePartyTokenResponse rotated =
      RotateOrDie("rotate-b1", "b1", "monthly rotation");
  pb::ChangePartyTokenResponse revoked_s1;
  ASSERT_THAT(ChangeToken("revoke-s1", "s1", true, "left the program",
                          &revoked_s1, Admin()),
              GrpcOk());
  const uint64_t size = ledger_->size();

  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(ledger_->size(), size);
  // A fresh Authenticator: nothing cached.
  EXPECT_THAT(Standing(registered), RevokedAt(rotated.seq()));
  EXPECT_THAT(Standing(tokens_["s1"]), RevokedAt(revoked_s1.seq()));
  EXPECT_THAT(PurchasesOrDie(rotated.token()),
              ElementsAre("b1/inv-1", "b1/inv-2"));
  EXPECT_THAT(Standing(tokens_["b2"]), GrpcOk());
  // A retry is still a replay.
  pb::ChangePartyTokenResponse retry;
  ASSERT_THAT(ChangeToken("rotate-b1", "b1", false, "monthly rotation", &retry,
                          Admin()),
              GrpcOk());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.token(), rotated.token());
  EXPECT_EQ(retry.seq(), rotated.seq());
  // And the next rotation, after the restart, finds every token of b1.
  const pb::ChangePartyTokenResponse next =
      RotateOrDie("rotate-b1-next", "b1", "after the restart");
  EXPECT_EQ(next.revoked(), 1u);
  EXPECT_THAT(Standing(rotated.token()), RevokedAt(next.seq()));
  EXPECT_THAT(Standing(next.token()), GrpcOk());
  const uint64_t final_size = ledger_->size();

  // What `premiumd verify` runs, on the closed data directory.
  StopAll();
  VerifyOptions options;
  options.data_dir = data_dir();
  options.indexer = &indexer_;
  VerifyReport report;
  EXPECT_THAT(VerifyLedger(options, &report), IsOk());
  EXPECT_EQ(report.tree_size, final_size);
  EXPECT_EQ(report.entries_checked, final_size);
  EXPECT_GT(report.derived_keys_checked, 0u);
  EXPECT_FALSE(report.first_bad_seq.has_value());
}

// ---------------------------------------------------------------------------
// The binaries, as the admin drives them.

class TokenChangeCliTest : public PremiumdCliTest {
 protected:
  // Program ffp; brand b1 and supplier s1, their tokens in token("b1") and
  // token("s1").
  void SetUpProgramAndParties() {
    CtlOrDie(admin_token(),
             {"program", "add", "--id", "ffp", "--name", "Fair Food Program",
              "--currency", "USD", "--unit", "lb", "--worker-rate", "0.01",
              "--effective", "2025-01-01"});
    for (const auto& [role, id] :
         std::vector<std::pair<std::string, std::string>>{{"brand", "b1"},
                                                          {"supplier", "s1"}}) {
      CtlOrDie(admin_token(),
               {"party", "add", "--role", role, "--id", id, "--name",
                absl::StrCat("Party ", id), "--token-out", token(id)});
    }
  }

  // The brand command used to try a token file.
  CommandResult Standing(const std::string& token_file) {
    return Ctl(token_file, {"supplier", "standing", "--program", "ffp",
                            "--supplier", "s1"});
  }

  // A brand command with `token_file` fails with one line naming
  // PERMISSION_DENIED and the revocation.
  void ExpectRevoked(const std::string& token_file) {
    const CommandResult refused = Standing(token_file);
    EXPECT_NE(refused.exit_code, 0) << token_file;
    EXPECT_THAT(refused.err, HasSubstr("PERMISSION_DENIED"));
    EXPECT_THAT(refused.err, HasSubstr(kRevokedMessage));
    ExpectOneLine(refused.err);
    EXPECT_EQ(refused.out, "");
  }
};

TEST_F(TokenChangeCliTest, TheAdminRotatesAndRevokesATokenWithPremiumctl) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties());
  CtlOrDie(token("b1"),
           {"supplier", "standing", "--program", "ffp", "--supplier", "s1"});

  // rotate-token: the new token printed and written to a new 0600 file.
  const std::string rotated = CtlOrDie(
      admin_token(), {"party", "rotate-token", "--id", "b1", "--reason",
                      "laptop lost", "--token-out", token("b1-new")});
  const std::vector<std::string> lines = Lines(rotated);
  ASSERT_EQ(lines.size(), 2u) << rotated;
  EXPECT_THAT(lines[0], StartsWith("b1: 1 token(s) revoked (ledger seq "));
  EXPECT_THAT(lines[0], Not(HasSubstr("recorded before")));
  ASSERT_THAT(lines[1], StartsWith("new token: brand_"));
  const std::string new_token(absl::StripPrefix(lines[1], "new token: "));
  EXPECT_EQ(ReadFileOrDie(token("b1-new")), absl::StrCat(new_token, "\n"));
  struct stat info;
  ASSERT_EQ(stat(token("b1-new").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_NE(ReadFileOrDie(token("b1")), ReadFileOrDie(token("b1-new")));

  // The old token file no longer works; the new one does.
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(token("b1")));
  const std::string purchases = dir_.Sub("purchases.csv");
  WriteFileOrDie(purchases, absl::StrCat(kPurchasesHeader, kB1Purchases));
  const CommandResult old_submit =
      Ctl(token("b1"), {"purchases", "submit", purchases});
  EXPECT_NE(old_submit.exit_code, 0);
  EXPECT_THAT(old_submit.err, HasSubstr("PERMISSION_DENIED"));
  ExpectOneLine(old_submit.err);
  CtlOrDie(token("b1-new"), {"purchases", "submit", purchases});
  CtlOrDie(token("b1-new"),
           {"supplier", "standing", "--program", "ffp", "--supplier", "s1"});
  // Only the admin may rotate: b1 with its new token is refused.
  const CommandResult by_brand =
      Ctl(token("b1-new"),
          {"party", "rotate-token", "--id", "b1", "--reason", "self-service"});
  EXPECT_NE(by_brand.exit_code, 0);
  EXPECT_THAT(by_brand.err, HasSubstr("PERMISSION_DENIED"));
  ExpectOneLine(by_brand.err);

  // revoke: prints the count, no new token.
  const std::string revoked =
      CtlOrDie(admin_token(),
               {"party", "revoke", "--id", "b1", "--reason", "contract ended"});
  EXPECT_THAT(Lines(revoked),
              ElementsAre(StartsWith("b1: 1 token(s) revoked (ledger seq ")));
  EXPECT_THAT(revoked, Not(HasSubstr("new token")));
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(token("b1-new")));
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(token("b1")));
  // s1 keeps its token.
  const CommandResult own_standing =
      Ctl(token("s1"),
          {"supplier", "standing", "--program", "ffp", "--supplier", "s1"});
  EXPECT_EQ(own_standing.exit_code, 0) << own_standing.err;

  // Nothing left to revoke; an unknown party; the admin.
  const CommandResult nothing_left =
      Ctl(admin_token(),
          {"party", "revoke", "--id", "b1", "--reason", "really ended"});
  EXPECT_NE(nothing_left.exit_code, 0);
  EXPECT_THAT(nothing_left.err, HasSubstr("FAILED_PRECONDITION"));
  ExpectOneLine(nothing_left.err);
  const CommandResult unknown = Ctl(
      admin_token(), {"party", "revoke", "--id", "nobody", "--reason", "x"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
  ExpectOneLine(unknown.err);
  const CommandResult admin =
      Ctl(admin_token(),
          {"party", "rotate-token", "--id", "admin", "--reason", "rotate me"});
  EXPECT_NE(admin.exit_code, 0);
  EXPECT_THAT(admin.err, HasSubstr("FAILED_PRECONDITION"));
  ExpectOneLine(admin.err);

  // A rotation lets b1 back in (0 revoked); JSON output.
  const std::string json =
      CtlOrDie(admin_token(),
               {"--output", "json", "party", "rotate-token", "--id", "b1",
                "--reason", "new contract", "--token-out", token("b1-back")});
  EXPECT_THAT(json, HasSubstr("\"revoked\": 0"));
  EXPECT_THAT(json, HasSubstr("\"replayed\": false"));
  CtlOrDie(token("b1-back"),
           {"supplier", "standing", "--program", "ffp", "--supplier", "s1"});

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
}

// premiumctl derives each request_id from the request, so the same command
// typed again is a retry. Typed again after the party's tokens changed, it
// must still do what it says: an admin who revokes, rotates and revokes
// again with the same words must end with the rotated token revoked.
TEST_F(TokenChangeCliTest, ARevokeTypedAgainAfterARotationRevokes) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties());

  CtlOrDie(admin_token(),
           {"party", "revoke", "--id", "b1", "--reason", "token leaked"});
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(token("b1")));
  CtlOrDie(admin_token(), {"party", "rotate-token", "--id", "b1", "--reason",
                           "reissue", "--token-out", token("b1-2")});
  EXPECT_EQ(Standing(token("b1-2")).exit_code, 0);

  // The new token leaks too: the admin runs the same revoke again.
  const CommandResult again =
      Ctl(admin_token(),
          {"party", "revoke", "--id", "b1", "--reason", "token leaked"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, Not(HasSubstr("recorded before"))) << again.out;
  const CommandResult leaked = Standing(token("b1-2"));
  EXPECT_NE(leaked.exit_code, 0)
      << "the leaked token still works after `party revoke`: " << leaked.out;

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
}

// Likewise a rotation typed again (same --id and --reason) after another
// rotation must not hand out, and write to --token-out, a revoked token.
TEST_F(TokenChangeCliTest, ARotationTypedAgainGivesAWorkingToken) {
  ASSERT_NO_FATAL_FAILURE(StartPremiumd());
  ASSERT_NO_FATAL_FAILURE(SetUpProgramAndParties());

  CtlOrDie(admin_token(), {"party", "rotate-token", "--id", "s1", "--reason",
                           "monthly rotation", "--token-out", token("s1-2")});
  CtlOrDie(admin_token(), {"party", "rotate-token", "--id", "s1", "--reason",
                           "laptop lost", "--token-out", token("s1-3")});
  ASSERT_NO_FATAL_FAILURE(ExpectRevoked(token("s1-2")));
  EXPECT_EQ(Standing(token("s1-3")).exit_code, 0);

  // A month later.
  const CommandResult next =
      Ctl(admin_token(), {"party", "rotate-token", "--id", "s1", "--reason",
                          "monthly rotation", "--token-out", token("s1-4")});
  EXPECT_EQ(next.exit_code, 0) << next.err;
  EXPECT_THAT(next.out, Not(HasSubstr("recorded before"))) << next.out;
  if (next.exit_code == 0) {
    const CommandResult works = Standing(token("s1-4"));
    EXPECT_EQ(works.exit_code, 0)
        << "the token `party rotate-token` printed does not work: "
        << works.err;
  }

  ASSERT_NO_FATAL_FAILURE(StopPremiumdAndVerify());
}

}  // namespace
}  // namespace premium
