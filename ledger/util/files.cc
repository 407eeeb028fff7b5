#include "ledger/util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace premium {
namespace {

absl::Status ErrnoError(absl::string_view operation, const std::string& path,
                        int error) {
  return absl::InternalError(
      absl::StrCat(operation, " ", path, ": ", std::strerror(error)));
}

}  // namespace

absl::Status WriteNewFile(const std::string& path, absl::string_view contents,
                          mode_t mode) {
  // Written under a temporary name and linked into place, so that a crash
  // leaves either no file or the whole file, never a truncated one; link
  // (unlike rename) fails if the path exists.
  const std::string temporary = absl::StrCat(path, ".tmp-", ::getpid());
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("open", temporary, errno);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n =
        ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      return ErrnoError("write", temporary, error);
    }
    written += static_cast<size_t>(n);
  }
  // fchmod because the umask may have narrowed the mode given to open.
  const bool ok = ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(temporary.c_str());
    return ErrnoError("sync", temporary, error);
  }
  const int linked = ::link(temporary.c_str(), path.c_str());
  const int link_error = errno;
  ::unlink(temporary.c_str());
  if (linked != 0) {
    if (link_error == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(path, " already exists"));
    }
    return ErrnoError("link", path, link_error);
  }
  // The new name is durable once its directory is.
  const size_t slash = path.rfind('/');
  const std::string directory =
      slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  const int dir_fd =
      ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError("open", directory, errno);
  const bool synced = ::fsync(dir_fd) == 0;
  const int sync_error = errno;
  ::close(dir_fd);
  if (!synced) return ErrnoError("sync", directory, sync_error);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t size_max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    return ErrnoError("open", path, errno);
  }
  std::string contents;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return ErrnoError("read", path, error);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    if (contents.size() > size_max) {
      ::close(fd);
      return absl::ResourceExhaustedError(
          absl::StrCat(path, " is larger than ", size_max, " bytes"));
    }
  }
  ::close(fd);
  return contents;
}

}  // namespace premium
