#include "segments_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace aegis::audit::internal {

StatusOr<SegmentsLock> SegmentsLock::Take(const std::filesystem::path& dir, Mode mode) {
  const auto path = dir / kSegmentsLockFile;
  const bool exclusive = mode == Mode::kExclusive;
  const int fd = exclusive ? ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)
                           : ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    // Nothing was ever removed from this log (or it is a read-only copy): no one to wait for.
    if (!exclusive && (errno == ENOENT || errno == EACCES || errno == EROFS)) return SegmentsLock(-1);
    return Status::Internal("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  int rc = 0;
  do {
    rc = ::flock(fd, exclusive ? LOCK_EX : LOCK_SH);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return Status::Internal("cannot lock " + path.string() + ": " + why);
  }
  return SegmentsLock(fd);
}

Status SegmentsLock::Prepare(const std::filesystem::path& dir) {
  const auto path = dir / kSegmentsLockFile;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Internal("cannot create " + path.string() + ": " + std::strerror(errno));
  ::close(fd);
  return Status::Ok();
}

SegmentsLock::SegmentsLock(SegmentsLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

SegmentsLock::~SegmentsLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace aegis::audit::internal
