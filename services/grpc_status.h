// The one place where the project's absl::Status meets grpc::Status. The two
// code spaces are numerically identical by design (both follow
// google.rpc.Code), which static_asserts in the .cc pin down.
#ifndef PREMIUM_SERVICES_GRPC_STATUS_H_
#define PREMIUM_SERVICES_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace premium {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace premium

#endif  // PREMIUM_SERVICES_GRPC_STATUS_H_
