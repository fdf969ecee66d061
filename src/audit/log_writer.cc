#include "log_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "aegis/audit/event_line.h"
#include "aegis/common/file_util.h"
#include "checkpoint.h"
#include "log_files.h"

namespace aegis::audit::internal {
namespace {

// What the batch buffers keep between batches (see ReleaseLargeBuffers).
constexpr size_t kKeptBatchBytes = 1 << 20;

Status Errno(const std::string& what) { return Status::Internal(what + ": " + std::strerror(errno)); }

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("audit write failed");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<LogWriter>> LogWriter::Lock(const std::filesystem::path& dir, uint64_t segment_max_bytes) {
  const auto heads_path = dir / kHeadsFile;
  const int fd = ::open(heads_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("cannot open " + heads_path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Unavailable("the audit log " + dir.string() + " is in use by another aegis process");
  }
  const auto checkpoints_path = dir / kCheckpointsFile;
  const int checkpoints_fd =
      ::open(checkpoints_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (checkpoints_fd < 0) {
    Status s = Errno("cannot open " + checkpoints_path.string());
    ::close(fd);
    return s;
  }
  return std::unique_ptr<LogWriter>(new LogWriter(dir, segment_max_bytes, fd, checkpoints_fd));
}

LogWriter::LogWriter(std::filesystem::path dir, uint64_t segment_max_bytes, int heads_fd, int checkpoints_fd)
    : dir_(std::move(dir)),
      segment_max_bytes_(segment_max_bytes),
      heads_fd_(heads_fd),
      checkpoints_fd_(checkpoints_fd) {}

LogWriter::~LogWriter() {
  if (segment_fd_ >= 0) ::close(segment_fd_);
  ::close(checkpoints_fd_);
  ::close(heads_fd_);
}

void LogWriter::Resume(CompactRange range, const Hash& last_leaf, std::optional<SignedTreeHead> last_head,
                       crypto::PrivateKey key, std::string replica) {
  range_ = std::move(range);
  prev_ = last_leaf;
  last_head_ = std::move(last_head);
  key_ = std::move(key);
  replica_ = std::move(replica);
}

Status LogWriter::OpenSegment(uint64_t first_seq) {
  const auto path = dir_ / SegmentName(first_seq);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("cannot open audit segment " + path.string());
  if (Status s = SyncDirectory(dir_); !s.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  if (segment_fd_ >= 0) {
    if (::fdatasync(segment_fd_) != 0) {
      ::close(fd);
      ::unlink(path.c_str());
      return Errno("audit fdatasync failed");
    }
    ::close(segment_fd_);
  }
  segment_fd_ = fd;
  segment_first_seq_ = first_seq;
  segment_bytes_ = static_cast<uint64_t>(::lseek(segment_fd_, 0, SEEK_END));
  return Status::Ok();
}

Status LogWriter::WriteLines(size_t from, size_t to) {
  if (from == to) return Status::Ok();
  const size_t begin = lines_[from].first;
  const size_t end = lines_[to - 1].first + lines_[to - 1].second + 1;
  const off_t before = static_cast<off_t>(segment_bytes_);
  Status s = WriteAll(segment_fd_, std::string_view(buffer_).substr(begin, end - begin));
  if (s.ok() && ::fdatasync(segment_fd_) != 0) s = Errno("audit fdatasync failed");
  if (!s.ok()) {
    // Never leave half a batch behind: the retry appends it again whole.
    if (::ftruncate(segment_fd_, before) != 0) spdlog::critical("audit: cannot roll back a failed write");
    return s;
  }
  segment_bytes_ += end - begin;
  return Status::Ok();
}

Status LogWriter::WriteBatch(const std::deque<AuditEvent>& batch, size_t& committed,
                             std::chrono::system_clock::time_point now) {
  committed = 0;
  buffer_.clear();
  lines_.clear();
  leaves_.clear();
  Hash chain = prev_;
  uint64_t seq = range_.size();
  for (const auto& event : batch) {
    const size_t start = buffer_.size();
    AppendEventLine(seq++, chain, replica_, event, buffer_);
    const size_t length = buffer_.size() - start;
    buffer_ += '\n';
    chain = hasher_.Leaf(std::string_view(buffer_).substr(start, length));
    leaves_.push_back(chain);
    lines_.emplace_back(start, length);
  }
  const auto commit = [&](size_t to) {
    for (size_t k = committed; k < to; ++k) range_.Append(leaves_[k], hasher_);
    if (to > committed) prev_ = leaves_[to - 1];
    committed = to;
  };
  // A segment ends before the line that would overflow it.
  uint64_t bytes = segment_bytes_;
  for (size_t i = 0; i < lines_.size(); ++i) {
    const uint64_t line_bytes = lines_[i].second + 1;
    if (bytes > 0 && bytes + line_bytes > segment_max_bytes_) {
      AEGIS_RETURN_IF_ERROR(WriteLines(committed, i));
      commit(i);
      AEGIS_RETURN_IF_ERROR(OpenSegment(range_.size()));
      // The sealed segment ends at a signed checkpoint: verification (and an
      // archive of the segments before it) can start here.
      AEGIS_ASSIGN_OR_RETURN(auto head, SignCheckpoint(now));
      boundary_heads_.push_back(std::move(head));
      bytes = 0;
    }
    bytes += line_bytes;
  }
  AEGIS_RETURN_IF_ERROR(WriteLines(committed, lines_.size()));
  commit(lines_.size());
  return Status::Ok();
}

StatusOr<LogWriter::WrittenHead> LogWriter::SignHead(std::chrono::system_clock::time_point now) {
  const auto floor = last_head_ ? last_head_->time() : std::chrono::system_clock::time_point{};
  AEGIS_ASSIGN_OR_RETURN(auto head,
                         SignTreeHead(range_.size(), range_.Root(hasher_), std::max(now, floor), key_, replica_));
  std::string line = HeadToJson(head);
  const off_t before = ::lseek(heads_fd_, 0, SEEK_END);
  Status written = WriteAll(heads_fd_, line + "\n");
  if (written.ok() && ::fdatasync(heads_fd_) != 0) written = Errno("audit heads fdatasync failed");
  if (!written.ok()) {
    // A partial head would glue itself to the next one: cut it off.
    if (::ftruncate(heads_fd_, before) != 0) spdlog::critical("audit: cannot roll back a failed head write");
    return written;
  }
  last_head_ = head;
  return WrittenHead{std::move(head), std::move(line)};
}

StatusOr<LogWriter::WrittenHead> LogWriter::SignCheckpoint(std::chrono::system_clock::time_point now) {
  AEGIS_ASSIGN_OR_RETURN(auto written, SignHead(now));
  Checkpoint c;
  c.segment = segment_first_seq_;
  c.offset = segment_bytes_;
  c.heads_offset = static_cast<uint64_t>(::lseek(heads_fd_, 0, SEEK_END));
  c.last_leaf = prev_;
  c.range = range_;
  c.head = written.head;
  const off_t before = ::lseek(checkpoints_fd_, 0, SEEK_END);
  Status s = WriteAll(checkpoints_fd_, CheckpointToJson(c) + "\n");
  if (s.ok() && ::fdatasync(checkpoints_fd_) != 0) s = Errno("audit checkpoint fdatasync failed");
  if (!s.ok()) {
    if (::ftruncate(checkpoints_fd_, before) != 0)
      spdlog::critical("audit: cannot roll back a failed checkpoint write");
    return s;
  }
  return written;
}

bool LogWriter::ReleaseLargeBuffers() {
  const bool large = buffer_.capacity() > kKeptBatchBytes || lines_.capacity() * sizeof(lines_[0]) > kKeptBatchBytes ||
                     leaves_.capacity() * sizeof(Hash) > kKeptBatchBytes;
  if (!large) return false;
  std::string().swap(buffer_);
  decltype(lines_)().swap(lines_);
  std::vector<Hash>().swap(leaves_);
  return true;
}

}  // namespace aegis::audit::internal
