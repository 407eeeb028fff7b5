// premiumctl purchases list | payments list (as a brand), payroll list |
// payments received (as a supplier): a party's own records, every page.
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "clients/premiumctl/commands.h"
#include "nlohmann/json.hpp"
#include "services/grpc_status.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"

namespace premium::ctl {
namespace {

namespace pb = wsr::premium::v1;

// Pages of one listing at most (10 million records).
constexpr int kPagesMax = 10'000;

// One listing: which call, which JSON key, and each record's columns.
template <typename Response>
struct Listing {
  std::string json_key;
  std::vector<std::string> columns;
  std::function<grpc::Status(grpc::ClientContext*,
                             const pb::ListOwnRecordsRequest&, Response*)>
      call;
  // The page's records as rows of fields, in `columns` order; field 0 is
  // the seq.
  std::function<std::vector<std::vector<std::string>>(const Response&)> rows;
};

template <typename Response>
absl::Status ListAll(const Connection& connection,
                     const Listing<Response>& listing) {
  pb::ListOwnRecordsRequest request;
  request.set_page_size(1000);
  const OutputFormat output = connection.output();
  std::vector<std::vector<std::string>> table;
  size_t count = 0;
  for (int page = 0;; ++page) {
    if (page == kPagesMax) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", kPagesMax, " pages"));
    }
    Response response;
    if (absl::Status s = FromGrpcStatus(
            listing.call(connection.NewContext().get(), request, &response));
        !s.ok()) {
      // A later page failing leaves a partial listing on standard output;
      // the exit status says so. A first page failing prints nothing.
      return s;
    }
    // JSON and CSV are written as they arrive (a listing can be a million
    // records), once the first page has come back.
    if (page == 0 && output == OutputFormat::kCsv) {
      PrintCsvRecord(listing.columns);
    }
    if (page == 0 && output == OutputFormat::kJson) {
      std::printf("{\"%s\": [", listing.json_key.c_str());
    }
    for (std::vector<std::string>& row : listing.rows(response)) {
      if (output == OutputFormat::kCsv) {
        PrintCsvRecord(row);
      } else if (output == OutputFormat::kJson) {
        nlohmann::ordered_json json;
        for (size_t i = 0; i < row.size(); ++i) {
          if (i == 0) {
            json[listing.columns[i]] = std::stoull(row[i]);
          } else {
            json[listing.columns[i]] = row[i];
          }
        }
        std::printf("%s\n  %s", count == 0 ? "" : ",", json.dump().c_str());
      } else {
        table.push_back(std::move(row));
      }
      ++count;
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  if (output == OutputFormat::kJson) std::printf("\n]}\n");
  if (output == OutputFormat::kTable) {
    std::vector<std::string> header;
    for (const std::string& column : listing.columns) {
      header.push_back(absl::AsciiStrToUpper(column));
    }
    if (!table.empty()) PrintTable(header, table);
    std::printf("%zu records\n", count);
  }
  return absl::OkStatus();
}

std::vector<std::vector<std::string>> PaymentRows(
    const pb::ListPaymentsResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const pb::Payment& p : response.payments()) {
    rows.push_back({absl::StrCat(p.seq()), p.payment_id(), p.brand_id(),
                    p.supplier_id(), p.program_id(), p.paid_date(), p.amount(),
                    p.currency()});
  }
  return rows;
}

const std::vector<std::string> kPaymentColumns = {
    "seq",        "payment_id", "brand_id", "supplier_id",
    "program_id", "paid_date",  "amount",   "currency"};

template <typename Response>
void AddList(CLI::App* group, const std::string& name,
             const std::string& description, const ActionSink& set_action,
             std::function<Listing<Response>(const Connection&)> make) {
  CLI::App* command = group->add_subcommand(name, description);
  command->callback([set_action, make] {
    set_action([make](const Connection& connection) {
      return ListAll(connection, make(connection));
    });
  });
}

}  // namespace

void AddListCommands(CLI::App& app, const ActionSink& set_action) {
  AddList<pb::ListPurchasesResponse>(
      app.get_subcommand("purchases"), "list", "your purchases, oldest first",
      set_action, [](const Connection& connection) {
        auto stub = std::shared_ptr<pb::BrandService::Stub>(
            pb::BrandService::NewStub(connection.channel()));
        return Listing<pb::ListPurchasesResponse>{
            "purchases",
            {"seq", "invoice_id", "supplier_id", "program_id", "purchase_date",
             "quantity", "unit", "premium", "worker_premium", "currency"},
            [stub](grpc::ClientContext* context,
                   const pb::ListOwnRecordsRequest& request,
                   pb::ListPurchasesResponse* response) {
              return stub->ListPurchases(context, request, response);
            },
            [](const pb::ListPurchasesResponse& response) {
              std::vector<std::vector<std::string>> rows;
              for (const pb::Purchase& p : response.purchases()) {
                rows.push_back({absl::StrCat(p.seq()), p.invoice_id(),
                                p.supplier_id(), p.program_id(),
                                p.purchase_date(), p.quantity(), p.unit(),
                                p.premium(), p.worker_premium(), p.currency()});
              }
              return rows;
            }};
      });
  AddList<pb::ListPaymentsResponse>(
      app.get_subcommand("payments"), "list",
      "your premium payments, oldest first", set_action,
      [](const Connection& connection) {
        auto stub = std::shared_ptr<pb::BrandService::Stub>(
            pb::BrandService::NewStub(connection.channel()));
        return Listing<pb::ListPaymentsResponse>{
            "payments", kPaymentColumns,
            [stub](grpc::ClientContext* context,
                   const pb::ListOwnRecordsRequest& request,
                   pb::ListPaymentsResponse* response) {
              return stub->ListPayments(context, request, response);
            },
            PaymentRows};
      });
  AddList<pb::ListPaymentsResponse>(
      app.get_subcommand("payments"), "received",
      "premium payments brands made to you (as a supplier)", set_action,
      [](const Connection& connection) {
        auto stub = std::shared_ptr<pb::SupplierService::Stub>(
            pb::SupplierService::NewStub(connection.channel()));
        return Listing<pb::ListPaymentsResponse>{
            "payments", kPaymentColumns,
            [stub](grpc::ClientContext* context,
                   const pb::ListOwnRecordsRequest& request,
                   pb::ListPaymentsResponse* response) {
              return stub->ListPaymentsReceived(context, request, response);
            },
            PaymentRows};
      });
  AddList<pb::ListPayrollLinesResponse>(
      app.get_subcommand("payroll"), "list", "your payroll lines, oldest first",
      set_action, [](const Connection& connection) {
        auto stub = std::shared_ptr<pb::SupplierService::Stub>(
            pb::SupplierService::NewStub(connection.channel()));
        return Listing<pb::ListPayrollLinesResponse>{
            "lines",
            {"seq", "program_id", "worker_id", "period_start", "period_end",
             "pay_date", "hours", "gross_wages", "premium_amount", "currency"},
            [stub](grpc::ClientContext* context,
                   const pb::ListOwnRecordsRequest& request,
                   pb::ListPayrollLinesResponse* response) {
              return stub->ListPayrollLines(context, request, response);
            },
            [](const pb::ListPayrollLinesResponse& response) {
              std::vector<std::vector<std::string>> rows;
              for (const pb::PayrollLineRecord& l : response.lines()) {
                rows.push_back({absl::StrCat(l.seq()), l.program_id(),
                                l.worker_id(), l.period_start(), l.period_end(),
                                l.pay_date(), l.hours(), l.gross_wages(),
                                l.premium_amount(), l.currency()});
              }
              return rows;
            }};
      });
}

}  // namespace premium::ctl
