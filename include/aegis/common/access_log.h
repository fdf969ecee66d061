// AccessLog: the optional access log ([logging] access_log), one line per
// HTTP request, appended by a thread of its own so that a slow disk never
// holds a request.
//
// Write() never blocks on I/O: it queues the line (at most `max_queued`) and
// returns; past that the line is dropped and counted (dropped(), exported as
// aegis_access_log_dropped_total), since an access log that slows the server
// down would be switched off. A line that could not be written (disk full) is
// counted as dropped too.
//
// The destination is a path, "-" for standard error, or "" for none (off: Write
// returns at once). A file is opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC|
// O_NOFOLLOW with mode 0600 (a symlink is refused, so nobody with write access
// to the folder can point the log at another file) and must be a regular file.
// Opening is separate from using, so that a reload can check the new
// destination before it changes anything (serve's SIGHUP): Open() the new one,
// then Use() it. Opening the same path again after logrotate moved the file
// starts a new file.
//
//   AccessLog log;
//   AEGIS_ASSIGN_OR_RETURN(auto dest, AccessLog::Open("/var/log/aegis/access.log"));
//   log.Use(std::move(dest));
//   if (log.enabled()) log.Write(line);   // line without its newline
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "aegis/common/mutex.h"
#include "aegis/common/status.h"
#include "aegis/common/thread_annotations.h"

namespace aegis {

class AccessLog {
 public:
  // An opened destination (or none), not yet in use. Move-only; closes its
  // file when dropped unused.
  class Destination {
   public:
    Destination() = default;
    ~Destination();
    Destination(Destination&& other) noexcept;
    Destination& operator=(Destination&& other) noexcept;
    Destination(const Destination&) = delete;
    Destination& operator=(const Destination&) = delete;
    const std::string& name() const { return name_; }  // the path, "-", or "" (off)

   private:
    friend class AccessLog;
    int fd_ = -1;         // -1: off
    bool owned_ = false;  // false for standard error
    std::string name_;
  };

  // "" → off, "-" → standard error, else the file at `path` (see above).
  // InvalidArgument naming the path and the reason.
  static StatusOr<Destination> Open(const std::string& destination);

  explicit AccessLog(size_t max_queued = 65536);
  ~AccessLog();  // writes what is queued, then stops
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // From now on lines go to `destination` (those queued and not yet written
  // too); the previous file is closed.
  void Use(Destination destination) AEGIS_EXCLUDES(mu_, file_mu_);
  // Whether lines are being kept (a destination other than "").
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // Queues one line (its newline is added). Never waits for I/O.
  void Write(std::string line) AEGIS_EXCLUDES(mu_);
  // Waits until every line queued before the call is written or dropped.
  void Flush() AEGIS_EXCLUDES(mu_);

  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  void Run() AEGIS_EXCLUDES(mu_, file_mu_);
  void WriteBatch(std::vector<std::string>& batch) AEGIS_EXCLUDES(file_mu_);
  // Writes `buffer` (`lines` lines) to the file and empties it.
  void WriteLines(std::string& buffer, size_t lines) AEGIS_REQUIRES(file_mu_);

  const size_t max_queued_;
  std::atomic<bool> enabled_{false};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};

  Mutex mu_;
  CondVar wake_;  // the writer: lines queued, or stop
  CondVar done_;  // Flush: the writer finished a batch
  std::vector<std::string> queue_ AEGIS_GUARDED_BY(mu_);
  uint64_t queued_total_ AEGIS_GUARDED_BY(mu_) = 0;   // lines ever queued
  uint64_t handled_total_ AEGIS_GUARDED_BY(mu_) = 0;  // of those, written or dropped by the writer
  bool stop_ AEGIS_GUARDED_BY(mu_) = false;

  Mutex file_mu_;  // the writer holds it while writing; Use() while swapping
  Destination file_ AEGIS_GUARDED_BY(file_mu_);
  bool failing_ AEGIS_GUARDED_BY(file_mu_) = false;  // the last write failed (said once per streak)

  std::thread writer_;
};

}  // namespace aegis
