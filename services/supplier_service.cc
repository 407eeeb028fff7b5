#include "services/supplier_service.h"

#include "services/grpc_status.h"
#include "services/paystub_code.h"
#include "wsr/premium/v1/records.pb.h"

namespace premium {

namespace pb = wsr::premium::v1;

SupplierServiceImpl::SupplierServiceImpl(LedgerClient* ledger,
                                         Authenticator* authenticator,
                                         const ServerSecret* secret,
                                         UploadLimits limits)
    : ledger_(ledger),
      authenticator_(authenticator),
      secret_(secret),
      limits_(limits) {}

grpc::Status SupplierServiceImpl::UploadPayroll(
    grpc::ServerContext* context, grpc::ServerReader<pb::UploadChunk>* reader,
    pb::UploadPayrollResponse* response) {
  absl::StatusOr<Principal> supplier = authenticator_->Authenticate(*context);
  if (!supplier.ok()) return ToGrpcStatus(supplier.status());
  if (absl::Status s = Authenticator::Require(*supplier, {pb::SUPPLIER});
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Each line gets its code once the upload's idempotency key is known; the
  // ledger keeps only the code's hash.
  const auto attach_codes = [&](absl::string_view idempotency_key,
                                std::vector<AppendEntry>* entries) {
    for (size_t i = 0; i < entries->size(); ++i) {
      pb::PayrollLine line;
      if (!line.ParseFromString((*entries)[i].payload)) {
        return absl::InternalError("a payroll line does not parse");
      }
      const std::string code =
          DerivePaystubCode(*secret_, supplier->party_id, idempotency_key, i);
      const merkle::Hash hash = PaystubCodeHash(*NormalizePaystubCode(code));
      line.set_code_sha256(std::string(merkle::HashBytes(hash)));
      (*entries)[i].payload = line.SerializeAsString();
      pb::PaystubCode* out = response->add_codes();
      out->set_worker_id(line.worker_id());
      out->set_program_id(line.program_id());
      out->set_period_start(line.period_start());
      out->set_period_end(line.period_end());
      out->set_code(code);
      out->set_line(line.source_line());
    }
    return absl::OkStatus();
  };
  absl::StatusOr<pb::UploadReceipt> receipt =
      ReceiveUpload(reader, *supplier, Upload::Kind::kPayroll, *ledger_,
                    limits_, attach_codes);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  const uint64_t first_seq = receipt->ledger().first_seq();
  for (int i = 0; i < response->codes_size(); ++i) {
    response->mutable_codes(i)->set_seq(first_seq + static_cast<uint64_t>(i));
  }
  *response->mutable_receipt() = *std::move(receipt);
  return grpc::Status::OK;
}

}  // namespace premium
