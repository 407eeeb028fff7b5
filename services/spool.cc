#include "services/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace premium {

absl::StatusOr<std::unique_ptr<Spool>> Spool::Create() {
  std::string path =
      (std::filesystem::temp_directory_path() / "premium-spool-XXXXXX")
          .string();
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create a spool file in ", path, ": ", std::strerror(errno)));
  }
  // Unlinked at once: the file lives only as long as the descriptor.
  unlink(path.c_str());
  return std::unique_ptr<Spool>(new Spool(fd));
}

Spool::~Spool() { close(fd_); }

absl::Status Spool::Append(absl::string_view data) {
  while (!data.empty()) {
    const ssize_t written = write(fd_, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot spool: ", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(written));
    size_ += static_cast<uint64_t>(written);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Spool::Read(uint64_t offset,
                                        size_t max_bytes) const {
  std::string data(max_bytes, '\0');
  ssize_t got;
  do {
    got = pread(fd_, data.data(), max_bytes, static_cast<off_t>(offset));
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the spool: ", std::strerror(errno)));
  }
  data.resize(static_cast<size_t>(got));
  return data;
}

}  // namespace premium
