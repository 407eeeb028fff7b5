// premiumctl purchases submit | payments submit: stream a CSV file to the
// server, which validates every row and appends the file all or nothing.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "clients/premiumctl/commands.h"
#include "nlohmann/json.hpp"
#include "services/grpc_status.h"
#include "wsr/premium/v1/brand.grpc.pb.h"
#include "wsr/premium/v1/supplier.grpc.pb.h"

namespace premium::ctl {
namespace {

namespace pb = wsr::premium::v1;

constexpr size_t kChunkBytes = 256 * 1024;
constexpr absl::Duration kProgressInterval = absl::Milliseconds(250);

// Shows progress on a terminal only: piped output stays clean.
class Progress {
 public:
  Progress(std::string file_name, uint64_t total_bytes)
      : file_name_(std::move(file_name)),
        total_bytes_(total_bytes),
        enabled_(::isatty(STDERR_FILENO) == 1) {}

  void Update(uint64_t sent_bytes) {
    if (!enabled_ || absl::Now() - last_ < kProgressInterval) return;
    last_ = absl::Now();
    std::fprintf(stderr, "\ruploading %s: %.1f of %.1f MiB", file_name_.c_str(),
                 sent_bytes / 1048576.0, total_bytes_ / 1048576.0);
  }
  void Done() {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  const std::string file_name_;
  const uint64_t total_bytes_;
  const bool enabled_;
  absl::Time last_ = absl::InfinitePast();
};

// Streams the header and the file's bytes on `writer`, then half-closes.
// Returns the local failure, if any; the server's answer comes from Finish.
template <typename Writer>
absl::Status StreamFile(const std::string& path, grpc::ClientContext* context,
                        Writer* writer) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    context->TryCancel();
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot open the file"));
  }
  file.seekg(0, std::ios::end);
  const uint64_t total_bytes = static_cast<uint64_t>(file.tellg());
  file.seekg(0);
  pb::UploadChunk chunk;
  chunk.mutable_header()->set_file_name(path);
  bool open = writer->Write(chunk);
  Progress progress(path, total_bytes);
  std::string buffer(kChunkBytes, '\0');
  uint64_t sent_bytes = 0;
  // A false Write means the server has already answered (a bad row, a size
  // limit): stop sending and read its status.
  while (open && file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize read = file.gcount();
    if (read <= 0) break;
    chunk.set_data(buffer.data(), static_cast<size_t>(read));
    open = writer->Write(chunk);
    sent_bytes += static_cast<uint64_t>(read);
    progress.Update(sent_bytes);
  }
  progress.Done();
  if (file.bad()) {
    context->TryCancel();
    return absl::InternalError(absl::StrCat(path, ": read error"));
  }
  if (open) writer->WritesDone();
  return absl::OkStatus();
}

absl::Status WithPath(const std::string& path, const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const absl::Status s = FromGrpcStatus(status);
  return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
}

void PrintReceipt(const Connection& connection, const std::string& path,
                  absl::string_view noun, absl::string_view totals_noun,
                  const pb::UploadReceipt& receipt) {
  const pb::AppendReceipt& ledger = receipt.ledger();
  if (connection.output() == OutputFormat::kJson) {
    nlohmann::ordered_json json;
    json["file"] = path;
    json["records"] = receipt.records();
    json["replayed"] = receipt.replayed();
    json["first_seq"] = ledger.first_seq();
    json["entry_count"] = ledger.entry_count();
    json["tree_size"] = ledger.tree_size();
    json["totals"] = nlohmann::ordered_json::object();
    for (const auto& [currency, amount] : receipt.totals()) {
      json["totals"][currency] = amount;
    }
    std::cout << json.dump(2) << "\n";
    return;
  }
  std::string totals;
  for (const auto& [currency, amount] : receipt.totals()) {
    absl::StrAppend(&totals, totals.empty() ? "" : ", ", currency, " ", amount);
  }
  if (receipt.replayed()) {
    std::printf(
        "%s was uploaded before (ledger seq %llu to %llu): nothing appended\n",
        path.c_str(), static_cast<unsigned long long>(ledger.first_seq()),
        static_cast<unsigned long long>(ledger.first_seq() +
                                        ledger.entry_count() - 1));
  } else {
    std::printf("appended %llu %s from %s (ledger seq %llu to %llu); %s: %s\n",
                static_cast<unsigned long long>(receipt.records()),
                std::string(noun).c_str(), path.c_str(),
                static_cast<unsigned long long>(ledger.first_seq()),
                static_cast<unsigned long long>(ledger.first_seq() +
                                                ledger.entry_count() - 1),
                std::string(totals_noun).c_str(), totals.c_str());
  }
}

using UploadCall =
    std::function<std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>>(
        grpc::ClientContext*, pb::UploadReceipt*)>;

absl::Status SendFile(const Connection& connection, const std::string& path,
                      absl::string_view noun, absl::string_view totals_noun,
                      const UploadCall& call) {
  auto context = connection.NewContext();
  pb::UploadReceipt receipt;
  std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
      call(context.get(), &receipt);
  if (absl::Status s = StreamFile(path, context.get(), writer.get()); !s.ok()) {
    return s;
  }
  if (absl::Status s = WithPath(path, writer->Finish()); !s.ok()) return s;
  PrintReceipt(connection, path, noun, totals_noun, receipt);
  return absl::OkStatus();
}

// Writes the codes-out CSV: the codes of the response, or, for a file too
// large to return them inline, every page of ListPaystubCodes.
absl::Status WriteCodes(const Connection& connection,
                        pb::SupplierService::Stub& stub,
                        const pb::UploadPayrollResponse& response,
                        std::FILE* file) {
  const auto write_rows =
      [file](const google::protobuf::RepeatedPtrField<pb::PaystubCode>& codes,
             bool header) -> absl::Status {
    std::string text =
        header ? "worker_id,program_id,period_start,period_end,code\n" : "";
    for (const pb::PaystubCode& code : codes) {
      absl::StrAppend(&text, code.worker_id(), ",", code.program_id(), ",",
                      code.period_start(), ",", code.period_end(), ",",
                      code.code(), "\n");
    }
    if (std::fwrite(text.data(), 1, text.size(), file) != text.size()) {
      return absl::InternalError("write error");
    }
    return absl::OkStatus();
  };
  if (!response.codes_paged()) return write_rows(response.codes(), true);
  if (absl::Status s = write_rows({}, true); !s.ok()) return s;
  pb::ListPaystubCodesRequest request;
  request.set_first_seq(response.receipt().ledger().first_seq());
  uint64_t written = 0;
  for (;;) {
    pb::ListPaystubCodesResponse page;
    if (absl::Status s = FromGrpcStatus(stub.ListPaystubCodes(
            connection.NewContext().get(), request, &page));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = write_rows(page.codes(), false); !s.ok()) return s;
    written += static_cast<uint64_t>(page.codes_size());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (written != response.receipt().records()) {
    return absl::DataLossError(
        absl::StrCat("the server listed ", written, " codes for ",
                     response.receipt().records(), " lines"));
  }
  return absl::OkStatus();
}

absl::Status UploadPayroll(const Connection& connection,
                           const std::string& path,
                           const std::string& codes_out) {
  // Checked first: codes the server returns must have somewhere to go. The
  // codes are the workers' credentials: the file is created new (O_EXCL, so
  // no planted file or link is followed) and readable by its owner only, as
  // --token-out is.
  std::FILE* codes_file = nullptr;
  if (!codes_out.empty()) {
    const int fd = ::open(codes_out.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("--codes-out ", codes_out, " already exists"));
    }
    if (fd >= 0) codes_file = ::fdopen(fd, "w");
    if (codes_file == nullptr) {
      if (fd >= 0) {
        ::close(fd);
        ::unlink(codes_out.c_str());
      }
      return absl::InvalidArgumentError(
          absl::StrCat("--codes-out ", codes_out, ": cannot create the file"));
    }
  }
  auto stub = pb::SupplierService::NewStub(connection.channel());
  auto context = connection.NewContext();
  pb::UploadPayrollResponse response;
  std::unique_ptr<grpc::ClientWriter<pb::UploadChunk>> writer =
      stub->UploadPayroll(context.get(), &response);
  absl::Status status = StreamFile(path, context.get(), writer.get());
  if (status.ok()) status = WithPath(path, writer->Finish());
  if (!status.ok()) {
    if (codes_file != nullptr) {
      std::fclose(codes_file);
      ::unlink(codes_out.c_str());
    }
    return status;
  }
  if (codes_file != nullptr) {
    absl::Status written = WriteCodes(connection, *stub, response, codes_file);
    if (std::fclose(codes_file) != 0 && written.ok()) {
      written = absl::InternalError("cannot close the file");
    }
    if (!written.ok()) {
      return absl::Status(
          written.code(),
          absl::StrCat("uploaded, but writing --codes-out ", codes_out,
                       " failed (", written.message(),
                       "); upload the same file again to get the codes"));
    }
  }
  PrintReceipt(connection, path, "payroll lines", "premium paid",
               response.receipt());
  return absl::OkStatus();
}

void AddSubmit(CLI::App& app, const ActionSink& set_action,
               const std::string& group, const std::string& noun,
               absl::string_view totals_noun,
               std::function<UploadCall(pb::BrandService::Stub*)> call_of) {
  CLI::App* parent =
      app.add_subcommand(group, absl::StrCat("a brand's ", noun));
  parent->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  CLI::App* submit = parent->add_subcommand(
      "submit", absl::StrCat("upload a ", noun, " CSV file, all or nothing"));
  submit->add_option("file", *path, "the CSV file")->required();
  const std::string totals_label(totals_noun);
  submit->callback([set_action, path, call_of, noun, totals_label] {
    set_action(
        [path, call_of, noun, totals_label](const Connection& connection) {
          auto stub = pb::BrandService::NewStub(connection.channel());
          return SendFile(connection, *path, noun, totals_label,
                          call_of(stub.get()));
        });
  });
}

}  // namespace

void AddUploadCommands(CLI::App& app, const ActionSink& set_action) {
  CLI::App* payroll = app.add_subcommand("payroll", "a supplier's payroll");
  payroll->require_subcommand(1);
  auto payroll_path = std::make_shared<std::string>();
  auto codes_out = std::make_shared<std::string>();
  CLI::App* upload = payroll->add_subcommand(
      "upload", "upload a payroll CSV file, all or nothing");
  upload->add_option("file", *payroll_path, "the CSV file")->required();
  upload->add_option("--codes-out", *codes_out,
                     "write each line's paystub code to this new CSV file");
  upload->callback([set_action, payroll_path, codes_out] {
    set_action([payroll_path, codes_out](const Connection& connection) {
      return UploadPayroll(connection, *payroll_path, *codes_out);
    });
  });

  AddSubmit(app, set_action, "purchases", "purchases", "premium owed",
            [](pb::BrandService::Stub* stub) -> UploadCall {
              return [stub](grpc::ClientContext* context,
                            pb::UploadReceipt* receipt) {
                return stub->SubmitPurchases(context, receipt);
              };
            });
  AddSubmit(app, set_action, "payments", "payments", "amount paid",
            [](pb::BrandService::Stub* stub) -> UploadCall {
              return [stub](grpc::ClientContext* context,
                            pb::UploadReceipt* receipt) {
                return stub->SubmitPayments(context, receipt);
              };
            });
}

}  // namespace premium::ctl
