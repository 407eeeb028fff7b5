// Receives a streamed CSV upload (common.proto UploadChunk), validates it
// with ledger/premium/upload.h and appends it as one atomic request.
// Shared by the services that take uploads.
#ifndef PREMIUM_SERVICES_UPLOAD_RECEIVER_H_
#define PREMIUM_SERVICES_UPLOAD_RECEIVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "ledger/premium/upload.h"
#include "services/auth.h"
#include "services/ledger_client.h"
#include "wsr/premium/v1/common.pb.h"

namespace premium {

// The default of UploadLimits::inline_records_max.
inline constexpr uint64_t kInlineRecordsMax = 50'000;

struct UploadLimits {
  // Bytes of one file; a larger upload is refused with RESOURCE_EXHAUSTED
  // as soon as it passes the limit, never read whole.
  uint64_t file_bytes_max = 256 << 20;
  // One message's data at most.
  size_t chunk_bytes_max = 1 << 20;
  // Records of a file appended as one request, held in memory; a file with
  // more is streamed to the ledger from the spool (see ReceiveUpload), and a
  // payroll file's codes are then listed page by page, not returned inline.
  // At least 1.
  uint64_t inline_records_max = kInlineRecordsMax;
};

// Reads the stream (a header, then the file's bytes), validates every row,
// and appends the file's records for `principal` under the header's
// request_id (default: "sha256:" and the file's SHA-256, so the same file
// uploaded twice appends once). Programs and suppliers are looked up in
// the ledger. `before_append`, when set, completes each batch of entries
// (paystub codes) once the idempotency key is known; `first_index` is the
// position of the batch's first entry in the file's records. Its error
// refuses the upload.
//
// The file is spooled to an unlinked temporary file while it is validated,
// never held in memory. A file of up to limits.inline_records_max records
// is then appended as one request; a larger one is read back from the spool
// and streamed to the ledger (LedgerClient::AppendStreamed), a batch at a
// time, so memory stays bounded by a batch whatever the file's size.
using BeforeAppend = std::function<absl::Status(
    absl::string_view idempotency_key, uint64_t first_index,
    std::vector<AppendEntry>* entries)>;
absl::StatusOr<wsr::premium::v1::UploadReceipt> ReceiveUpload(
    grpc::ServerReader<wsr::premium::v1::UploadChunk>* reader,
    const Principal& principal, Upload::Kind kind, LedgerClient& ledger,
    const UploadLimits& limits, const BeforeAppend& before_append = nullptr);

}  // namespace premium

#endif  // PREMIUM_SERVICES_UPLOAD_RECEIVER_H_
