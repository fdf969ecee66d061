// SegmentsLock (internal to src/audit): keeps readers of the live log and
// the code that removes its segments apart.
//
// Archiving (archive.h) and retention remove sealed segments while the server
// runs. A reader that listed the segments and then found one gone would report
// an I/O error, or a verification walk a gap. So removal takes DIR/segments.lock
// exclusively (flock(2)), and every reader of the live log takes it shared: the
// verification walk (VerifyAuditLog: the background re-verification, `aegis audit
// verify|prove|consistency` in another process), AuditLog::Read and Recent (the
// dashboard, GET /v1/audit). flock locks belong to an open file description, so
// they exclude threads of one process as well as processes.
//
// A shared taker does not create the file: a log that nothing ever removed from
// (or a read-only copy) has none, and needs no lock.
//
// Thread-safety: a SegmentsLock belongs to the thread that took it.
#pragma once

#include <filesystem>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::audit::internal {

inline constexpr std::string_view kSegmentsLockFile = "segments.lock";

class SegmentsLock {
 public:
  enum class Mode { kShared, kExclusive };
  // Blocks until the lock is held. kExclusive creates the file (0600).
  static StatusOr<SegmentsLock> Take(const std::filesystem::path& dir, Mode mode);
  // Creates the file if missing, so that readers lock from the first removal on.
  static Status Prepare(const std::filesystem::path& dir);

  SegmentsLock(SegmentsLock&& other) noexcept;
  SegmentsLock& operator=(SegmentsLock&&) = delete;
  SegmentsLock(const SegmentsLock&) = delete;
  SegmentsLock& operator=(const SegmentsLock&) = delete;
  ~SegmentsLock();

 private:
  explicit SegmentsLock(int fd) : fd_(fd) {}
  int fd_ = -1;  // -1: no lock file, nothing held
};

}  // namespace aegis::audit::internal
