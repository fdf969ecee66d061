#include "aegis/audit/audit_log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "aegis/common/file_util.h"

namespace aegis::audit {
namespace {

constexpr size_t kMaxQueuedEvents = 65536;
constexpr size_t kMaxRecent = 10000;
constexpr size_t kMaxBatch = 4096;
constexpr auto kGroupCommitWindow = std::chrono::milliseconds(2);

}  // namespace

std::string EventToJson(const AuditEvent& e) {
  nlohmann::ordered_json j;
  j["time"] = FormatRfc3339(e.time);
  j["request_id"] = e.request_id;
  j["principal"] = e.principal;
  if (!e.auth_method.empty()) j["auth_method"] = e.auth_method;
  j["action"] = e.action;
  j["resource"] = e.resource;
  j["decision"] = e.decision;
  if (!e.grant.empty()) j["grant"] = e.grant;
  j["status"] = e.status;
  j["latency_us"] = e.latency_us;
  j["remote"] = e.remote;
  j["listener"] = e.listener;
  if (!e.reason.empty()) j["reason"] = e.reason;
  // Names in paths come from clients: replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::filesystem::path& audit_dir) {
  AEGIS_RETURN_IF_ERROR(MakeDirectory(audit_dir, 0700));
  auto path = audit_dir / "audit.jsonl";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Internal("cannot open audit log " + path.string() + ": " + std::strerror(errno));
  return std::unique_ptr<AuditLog>(new AuditLog(path, fd));
}

AuditLog::AuditLog(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {
  writer_ = std::thread([this] { WriterLoop(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  not_empty_.notify_all();
  writer_.join();
  ::close(fd_);
}

void AuditLog::Append(AuditEvent event) {
  std::unique_lock lock(mu_);
  not_full_.wait(lock, [&] { return queue_.size() < kMaxQueuedEvents || stop_; });
  queue_.push_back(std::move(event));
  ++appended_;
  const bool wake = writer_idle_;
  lock.unlock();
  // A busy writer picks the event up with its next batch; waking it per event
  // would cost a context switch per request.
  if (wake) not_empty_.notify_one();
}

void AuditLog::AddSink(std::shared_ptr<AuditSink> sink) {
  std::lock_guard lock(mu_);
  sinks_.push_back(std::move(sink));
}

void AuditLog::WriterLoop() {
  std::deque<AuditEvent> batch;
  std::string buffer;
  std::vector<size_t> line_ends;  // where each event's line ends in `buffer`
  std::vector<std::shared_ptr<AuditSink>> sinks;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      writer_idle_ = true;
      not_empty_.wait(lock, [&] { return !queue_.empty() || stop_; });
      if (queue_.empty() && stop_) return;
      // Group commit: let a burst gather for a moment so one fdatasync covers it,
      // unless someone is waiting for durability (Flush) or we are stopping.
      if (!stop_ && flush_waiters_ == 0) {
        not_empty_.wait_for(lock, kGroupCommitWindow,
                            [&] { return stop_ || flush_waiters_ > 0 || queue_.size() >= kMaxBatch; });
      }
      writer_idle_ = false;
      batch.swap(queue_);
      sinks = sinks_;
    }
    not_full_.notify_all();
    buffer.clear();
    line_ends.clear();
    for (const auto& e : batch) {
      buffer += EventToJson(e);
      line_ends.push_back(buffer.size());
      buffer += '\n';
    }
    Status status;
    size_t off = 0;
    while (off < buffer.size()) {
      ssize_t n = ::write(fd_, buffer.data() + off, buffer.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        status = Status::Internal(std::string("audit write failed: ") + std::strerror(errno));
        break;
      }
      off += static_cast<size_t>(n);
    }
    if (status.ok() && ::fdatasync(fd_) != 0) {
      status = Status::Internal(std::string("audit fdatasync failed: ") + std::strerror(errno));
    }
    if (status.ok() && !sinks.empty()) {
      // Only durable events leave the machine: a sink never sees an event the
      // local log could lose.
      size_t start = 0;
      for (const size_t end : line_ends) {
        const std::string_view line(buffer.data() + start, end - start);
        for (const auto& sink : sinks) sink->Offer(line);
        start = end + 1;
      }
    }
    {
      std::lock_guard lock(mu_);
      durable_ += batch.size();
      if (!status.ok()) write_status_ = status;
    }
    batch.clear();
    flushed_.notify_all();
  }
}

Status AuditLog::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = appended_;
  if (durable_ >= target) return write_status_;
  ++flush_waiters_;
  not_empty_.notify_one();
  flushed_.wait(lock, [&] { return durable_ >= target; });
  --flush_waiters_;
  return write_status_;
}

StatusOr<std::vector<std::string>> AuditLog::Recent(size_t limit) {
  AEGIS_RETURN_IF_ERROR(Flush());
  limit = std::min(limit, kMaxRecent);
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Internal("cannot read audit log: " + std::string(std::strerror(errno)));
  off_t end = ::lseek(fd, 0, SEEK_END);
  // Read backwards in blocks until we hold `limit` complete lines.
  std::string tail;
  off_t pos = end;
  constexpr off_t kBlock = 64 * 1024;
  while (pos > 0 && static_cast<size_t>(std::count(tail.begin(), tail.end(), '\n')) <= limit) {
    off_t start = pos > kBlock ? pos - kBlock : 0;
    std::string block(static_cast<size_t>(pos - start), '\0');
    ssize_t n = ::pread(fd, block.data(), block.size(), start);
    if (n != static_cast<ssize_t>(block.size())) {
      ::close(fd);
      return Status::Internal("cannot read audit log");
    }
    tail.insert(0, block);
    pos = start;
  }
  ::close(fd);
  std::vector<std::string> lines;
  size_t line_end = tail.size();
  while (line_end > 0 && lines.size() < limit) {
    size_t nl = tail.rfind('\n', line_end - 1);
    size_t line_start = (nl == std::string::npos) ? 0 : nl + 1;
    if (line_start == 0 && pos > 0) break;  // partial first line of the window
    if (line_end > line_start) lines.emplace_back(tail.substr(line_start, line_end - line_start));
    if (nl == std::string::npos) break;
    line_end = nl;
  }
  std::reverse(lines.begin(), lines.end());
  return lines;
}

}  // namespace aegis::audit
