#include "aegis/common/access_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigset_t, not in <csignal>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "aegis/common/log.h"

namespace aegis {
namespace {

// Lines are joined into writes of about this size.
constexpr size_t kWriteChunk = size_t{64} * 1024;

// write(2) until everything is written; false on an error other than EINTR.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

AccessLog::Destination::~Destination() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

AccessLog::Destination::Destination(Destination&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false)), name_(std::move(other.name_)) {}

AccessLog::Destination& AccessLog::Destination::operator=(Destination&& other) noexcept {
  if (this != &other) {
    if (owned_ && fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    owned_ = std::exchange(other.owned_, false);
    name_ = std::move(other.name_);
  }
  return *this;
}

StatusOr<AccessLog::Destination> AccessLog::Open(const std::string& destination) {
  Destination d;
  d.name_ = destination;
  if (destination.empty()) return d;
  if (destination == "-") {
    d.fd_ = STDERR_FILENO;
    return d;
  }
  // O_NONBLOCK: a FIFO planted at the path must not hang the open; it is
  // refused below as not a regular file.
  const int fd = ::open(destination.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                        S_IRUSR | S_IWUSR);
  if (fd < 0) {
    const int err = errno;
    return Status::InvalidArgument("cannot open access log '" + destination +
                                   "': " + (err == ELOOP ? "it is a symbolic link" : std::strerror(err)));
  }
  d.fd_ = fd;
  d.owned_ = true;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("access log '" + destination + "' is not a regular file");
  }
  // Requests' sources and principals are for the operator only: a file that
  // existed with wider permissions is narrowed, as a new one is created.
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0 && ::fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
    return Status::InvalidArgument("cannot make access log '" + destination +
                                   "' private (mode 0600): " + std::strerror(errno));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Status::InvalidArgument("cannot set up access log '" + destination + "': " + std::strerror(errno));
  }
  return d;
}

AccessLog::AccessLog(size_t max_queued) : max_queued_(max_queued == 0 ? 1 : max_queued) {
  writer_ = std::thread([this] {
    // Process signals belong to the server's signal thread.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    Run();
  });
}

AccessLog::~AccessLog() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  wake_.NotifyOne();
  writer_.join();
}

void AccessLog::Use(Destination destination) {
  const bool on = destination.fd_ >= 0;
  {
    MutexLock lock(file_mu_);
    std::swap(file_, destination);
    failing_ = false;
  }
  enabled_.store(on, std::memory_order_relaxed);
  // `destination` now holds the previous file, closed here.
}

void AccessLog::Write(std::string line) {
  if (!enabled()) return;
  bool wake = false;
  {
    MutexLock lock(mu_);
    if (queue_.size() >= max_queued_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(line));
    ++queued_total_;
    // The writer drains everything it wakes for: only the first line after
    // it emptied the queue needs to wake it (one futex call per batch, not per line).
    wake = queue_.size() == 1;
  }
  if (wake) wake_.NotifyOne();
}

void AccessLog::Flush() {
  MutexLock lock(mu_);
  const uint64_t target = queued_total_;
  while (handled_total_ < target) done_.Wait(mu_);
}

void AccessLog::Run() {
  std::vector<std::string> batch;
  for (;;) {
    {
      MutexLock lock(mu_);
      while (queue_.empty() && !stop_) wake_.Wait(mu_);
      if (queue_.empty()) return;  // stopping, and everything is written
      batch.swap(queue_);
    }
    WriteBatch(batch);
    {
      MutexLock lock(mu_);
      handled_total_ += batch.size();
    }
    done_.NotifyAll();
    batch.clear();
  }
}

void AccessLog::WriteBatch(std::vector<std::string>& batch) {
  MutexLock lock(file_mu_);
  if (file_.fd_ < 0) {  // switched off while these were queued
    dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
    return;
  }
  std::string buffer;
  buffer.reserve(kWriteChunk + 1024);
  size_t lines = 0;
  for (const std::string& line : batch) {
    buffer += line;
    buffer += '\n';
    ++lines;
    if (buffer.size() >= kWriteChunk) {
      WriteLines(buffer, lines);
      lines = 0;
    }
  }
  WriteLines(buffer, lines);
}

void AccessLog::WriteLines(std::string& buffer, size_t lines) {
  if (buffer.empty()) return;
  if (WriteAll(file_.fd_, buffer.data(), buffer.size())) {
    written_.fetch_add(lines, std::memory_order_relaxed);
    if (failing_) log::Warn({}, "access log {}: writing again", file_.name_);
    failing_ = false;
  } else {
    const int err = errno;
    dropped_.fetch_add(lines, std::memory_order_relaxed);
    if (!failing_) log::Error({}, "access log {}: {}; lines are dropped", file_.name_, std::strerror(err));
    failing_ = true;
  }
  buffer.clear();
}

}  // namespace aegis
