// Spool: bytes kept in an unlinked temporary file, so that a large upload
// or stream can be read again without being held in memory, and leaves
// nothing behind if the process dies. Not thread-safe.
#ifndef PREMIUM_SERVICES_SPOOL_H_
#define PREMIUM_SERVICES_SPOOL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace premium {

class Spool {
 public:
  // A new empty spool in the temporary directory ($TMPDIR or /tmp).
  // Unavailable when no file can be made there.
  static absl::StatusOr<std::unique_ptr<Spool>> Create();
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends `data` at the end. Unavailable on a write error (disk full).
  absl::Status Append(absl::string_view data);
  // Up to `max_bytes` from `offset`; empty at the end.
  absl::StatusOr<std::string> Read(uint64_t offset, size_t max_bytes) const;
  uint64_t size() const { return size_; }

 private:
  explicit Spool(int fd) : fd_(fd) {}
  const int fd_;
  uint64_t size_ = 0;
};

}  // namespace premium

#endif  // PREMIUM_SERVICES_SPOOL_H_
