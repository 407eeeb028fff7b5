// A lying server's evidence (issue 6): AuditService sends a discrepancy's
// evidence as runs of seqs (audit.proto), and premiumctl lists the seqs one
// by one. So premiumctl, run as a user runs it against a fake AuditService,
// must list honest runs exactly, and refuse runs that are empty, out of
// order, overlapping, past the ledger size the answer names, or that
// overflow, before it prints anything: a lying server must not make it list
// seqs that are not in the ledger, or billions of them.
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/testing/child_process.h"
#include "nlohmann/json.hpp"
#include "wsr/premium/v1/audit.grpc.pb.h"

namespace premium {
namespace {

namespace pb = wsr::premium::v1;
using ::premium::testing::CommandResult;
using ::premium::testing::ExpectOneLine;
using ::premium::testing::RunCommand;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers every Reconcile and ResolveDiscrepancy with the discrepancy it was
// last told, at the ledger size it was told.
class CannedAuditService final : public pb::AuditService::Service {
 public:
  void Tell(pb::Discrepancy discrepancy, uint64_t tree_size) {
    absl::MutexLock lock(&mu_);
    discrepancy_ = std::move(discrepancy);
    tree_size_ = tree_size;
  }

  grpc::Status Reconcile(grpc::ServerContext*, const pb::ReconcileRequest*,
                         pb::ReconcileResponse* response) override {
    absl::MutexLock lock(&mu_);
    response->set_as_of("2025-02-03");
    response->set_tree_size(tree_size_);
    *response->add_discrepancies() = discrepancy_;
    return grpc::Status::OK;
  }

  grpc::Status ResolveDiscrepancy(
      grpc::ServerContext*, const pb::ResolveDiscrepancyRequest*,
      pb::ResolveDiscrepancyResponse* response) override {
    absl::MutexLock lock(&mu_);
    response->set_seq(tree_size_ - 1);
    response->set_tree_size(tree_size_);
    *response->mutable_discrepancy() = discrepancy_;
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  pb::Discrepancy discrepancy_ ABSL_GUARDED_BY(mu_);
  uint64_t tree_size_ ABSL_GUARDED_BY(mu_) = 0;
};

pb::Discrepancy Undistributed(
    const std::vector<std::pair<uint64_t, uint64_t>>& runs) {
  pb::Discrepancy d;
  d.set_id("undistributed_premium:ffp:s1");
  d.set_type(pb::UNDISTRIBUTED_PREMIUM);
  d.set_severity(pb::HIGH);
  d.set_program_id("ffp");
  d.set_supplier_id("s1");
  d.set_period_start("2025-01-20");
  d.set_expected("10.00");
  d.set_actual("4.00");
  d.set_difference("6.00");
  d.set_currency("USD");
  d.set_status(pb::OPEN);
  for (const auto& [first_seq, count] : runs) {
    pb::SeqRun* run = d.add_evidence();
    run->set_first_seq(first_seq);
    run->set_count(count);
  }
  return d;
}

class EvidenceLiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&audit_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }

  void TearDown() override { server_->Shutdown(); }

  CommandResult Premiumctl(const std::vector<std::string>& args) {
    std::vector<std::string> command = {PREMIUMCTL_PATH, "--server", address_};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }

  static const std::vector<std::vector<std::string>>& Commands() {
    static const auto* commands = new std::vector<std::vector<std::string>>{
        {"--output", "json", "audit", "reconcile"},
        {"--output", "csv", "audit", "reconcile"},
        {"audit", "reconcile"},
        {"--output", "json", "audit", "resolve", "--id",
         "undistributed_premium:ffp:s1", "--note", "checked"},
    };
    return *commands;
  }

  CannedAuditService audit_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(EvidenceLiesTest, HonestRunsAreListedSeqBySeq) {
  // An upload's three lines, a payment, and another upload's two lines.
  audit_.Tell(Undistributed({{4, 3}, {8, 1}, {11, 2}}), 13);

  const CommandResult json = Premiumctl(Commands()[0]);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json answer = nlohmann::json::parse(json.out);
  ASSERT_EQ(answer["discrepancies"].size(), 1u);
  EXPECT_EQ(answer["discrepancies"][0]["evidence"],
            nlohmann::json::parse("[4, 5, 6, 8, 11, 12]"));

  const CommandResult csv = Premiumctl(Commands()[1]);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_THAT(csv.out, HasSubstr(",OPEN,4 5 6 8 11 12\n"));

  // The table counts the seqs, not the runs.
  const CommandResult table = Premiumctl(Commands()[2]);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr(" 6 "));
  EXPECT_THAT(table.out, HasSubstr("ledger size 13"));

  const CommandResult resolve = Premiumctl(Commands()[3]);
  ASSERT_EQ(resolve.exit_code, 0) << resolve.err;
  EXPECT_EQ(nlohmann::json::parse(resolve.out)["discrepancy"]["evidence"],
            nlohmann::json::parse("[4, 5, 6, 8, 11, 12]"));

  // Runs that touch are still one list; seq 0 and the ledger's last seq are
  // in bounds.
  audit_.Tell(Undistributed({{0, 2}, {2, 1}, {12, 1}}), 13);
  const CommandResult edges = Premiumctl(Commands()[0]);
  ASSERT_EQ(edges.exit_code, 0) << edges.err;
  EXPECT_EQ(nlohmann::json::parse(edges.out)["discrepancies"][0]["evidence"],
            nlohmann::json::parse("[0, 1, 2, 12]"));
}

TEST_F(EvidenceLiesTest, EveryMalformedRunIsRefusedBeforeAnythingIsPrinted) {
  constexpr uint64_t kMax = ~uint64_t{0};
  const struct {
    const char* name;
    std::vector<std::pair<uint64_t, uint64_t>> runs;
    const char* bad_run;
  } cases[] = {
      {"an empty run", {{4, 3}, {9, 0}}, "run 2 of 2: 9 + 0"},
      {"out of order", {{8, 1}, {4, 3}}, "run 2 of 2: 4 + 3"},
      {"overlapping", {{4, 3}, {6, 2}}, "run 2 of 2: 6 + 2"},
      {"repeated", {{4, 3}, {4, 3}}, "run 2 of 2: 4 + 3"},
      {"past the ledger", {{4, 3}, {11, 3}}, "run 2 of 2: 11 + 3"},
      {"starting at the ledger size", {{13, 1}}, "run 1 of 1: 13 + 1"},
      {"billions of seqs", {{0, 5'000'000'000}}, "run 1 of 1: 0 + 5000000000"},
      {"overflowing", {{4, 3}, {10, kMax}}, "run 2 of 2: 10 + "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    audit_.Tell(Undistributed(c.runs), 13);
    for (const std::vector<std::string>& command : Commands()) {
      SCOPED_TRACE(absl::StrJoin(command, " "));
      const CommandResult result = Premiumctl(command);
      ASSERT_NE(result.exit_code, -1) << "premiumctl did not run to its end";
      EXPECT_NE(result.exit_code, 0) << result.out;
      EXPECT_EQ(result.out, "");
      ExpectOneLine(result.err);
      EXPECT_THAT(result.err, AllOf(HasSubstr("DATA_LOSS"),
                                    HasSubstr("undistributed_premium:ffp:s1"),
                                    HasSubstr(c.bad_run),
                                    HasSubstr("below the ledger size 13")));
    }
  }
}

}  // namespace
}  // namespace premium
