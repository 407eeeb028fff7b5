// Small-file I/O for keys and credentials: files that must be created once,
// with a given mode, durably, and read back with a size limit.
#ifndef PREMIUM_LEDGER_UTIL_FILES_H_
#define PREMIUM_LEDGER_UTIL_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace premium {

// Creates `path` (which must not exist: AlreadyExists otherwise) with
// exactly `mode` whatever the umask, holding `contents`, durably (file and
// directory synced). A crash leaves either no file or the whole file.
absl::Status WriteNewFile(const std::string& path, absl::string_view contents,
                          mode_t mode);

// Reads the whole of `path`. NotFound if absent; ResourceExhausted if it is
// larger than `size_max` bytes (nothing past the limit is read).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t size_max);

}  // namespace premium

#endif  // PREMIUM_LEDGER_UTIL_FILES_H_
