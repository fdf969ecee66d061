#include "aegis/audit/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "aegis/audit/event_line.h"
#include "aegis/audit/log_verifier.h"
#include "aegis/common/file_util.h"
#include "log_files.h"
#include "log_recovery.h"
#include "signing_key.h"

namespace aegis::audit {
namespace {

constexpr size_t kMaxQueuedEvents = 65536;
constexpr size_t kMaxRecent = 10000;
constexpr size_t kMaxBatch = 4096;
constexpr auto kGroupCommitWindow = std::chrono::milliseconds(2);
constexpr auto kRetryPause = std::chrono::milliseconds(200);

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

struct AuditLog::State {
  AuditLogOptions options;
  crypto::PrivateKey key;
  int heads_fd = -1;  // holds the directory's exclusive lock too
  int segment_fd = -1;
  uint64_t segment_bytes = 0;

  // Owned by the writer thread.
  MerkleHasher hasher;
  CompactRange range;
  Hash prev{};
  std::string buffer;
  std::vector<std::pair<size_t, size_t>> lines;  // (offset, length) in buffer
  std::vector<Hash> leaves;                      // leaf hash of each line
  std::chrono::steady_clock::time_point last_head_at{};

  mutable std::mutex mu;
  std::condition_variable not_empty, not_full, progress, verifier_wake;
  std::deque<AuditEvent> queue;
  uint64_t appended = 0;       // events ever queued (since Open)
  uint64_t durable = 0;        // of those, written and synced
  uint64_t signed_target = 0;  // SignNow: sign at least this many events
  Status write_status;
  bool writer_idle = false;
  int waiters = 0;  // Flush/SignNow callers
  bool stop = false;
  AuditStats stats;
  std::vector<std::shared_ptr<AuditSink>> sinks;         // guarded by mu (AddSink)
  std::vector<std::shared_ptr<AuditSink>> writer_sinks;  // the writer's copy, taken under mu
  std::thread writer, verifier;

  ~State() {
    if (segment_fd >= 0) ::close(segment_fd);
    if (heads_fd >= 0) ::close(heads_fd);
  }

  // Makes the segment starting at `first_seq` current. The old one is synced and
  // closed only once the new one is open, so a failure leaves a usable segment.
  Status OpenSegment(uint64_t first_seq) {
    const auto path = options.dir / internal::SegmentName(first_seq);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Errno("cannot open audit segment " + path.string());
    if (Status s = SyncDirectory(options.dir); !s.ok()) {
      ::close(fd);
      ::unlink(path.c_str());
      return s;
    }
    if (segment_fd >= 0) {
      if (::fdatasync(segment_fd) != 0) {
        ::close(fd);
        ::unlink(path.c_str());
        return Errno("audit fdatasync failed");
      }
      ::close(segment_fd);
    }
    segment_fd = fd;
    segment_bytes = static_cast<uint64_t>(::lseek(segment_fd, 0, SEEK_END));
    return Status::Ok();
  }

  // Writes the formatted lines [from, to) of `buffer` to the current segment.
  Status WriteLines(size_t from, size_t to) {
    if (from == to) return Status::Ok();
    const size_t begin = lines[from].first;
    const size_t end = lines[to - 1].first + lines[to - 1].second + 1;
    const off_t before = static_cast<off_t>(segment_bytes);
    Status s = WriteAll(segment_fd, std::string_view(buffer).substr(begin, end - begin));
    if (s.ok() && ::fdatasync(segment_fd) != 0) s = Errno("audit fdatasync failed");
    if (!s.ok()) {
      // Never leave half a batch behind: the retry appends it again whole.
      if (::ftruncate(segment_fd, before) != 0) spdlog::critical("audit: cannot roll back a failed write");
      return s;
    }
    segment_bytes += end - begin;
    return Status::Ok();
  }

  // Formats, hashes and durably writes `batch`, committing each part written
  // before a segment boundary as it goes; sets `committed` to how many of its
  // events are now durable (all of them unless the Status says otherwise). The
  // caller retries the rest, which are formatted again with their new seqs.
  Status WriteBatch(const std::deque<AuditEvent>& batch, size_t& committed) {
    committed = 0;
    buffer.clear();
    lines.clear();
    leaves.clear();
    Hash chain = prev;
    uint64_t seq = range.size();
    for (const auto& event : batch) {
      const size_t start = buffer.size();
      AppendEventLine(seq++, chain, event, buffer);
      const size_t length = buffer.size() - start;
      buffer += '\n';
      chain = hasher.Leaf(std::string_view(buffer).substr(start, length));
      leaves.push_back(chain);
      lines.emplace_back(start, length);
    }
    const auto commit = [&](size_t to) {
      for (size_t k = committed; k < to; ++k) range.Append(leaves[k], hasher);
      if (to > committed) prev = leaves[to - 1];
      committed = to;
    };
    // A segment ends before the line that would overflow it.
    uint64_t bytes = segment_bytes;
    for (size_t i = 0; i < lines.size(); ++i) {
      const uint64_t line_bytes = lines[i].second + 1;
      if (bytes > 0 && bytes + line_bytes > options.segment_max_bytes) {
        AEGIS_RETURN_IF_ERROR(WriteLines(committed, i));
        commit(i);
        AEGIS_RETURN_IF_ERROR(OpenSegment(range.size()));
        bytes = 0;
      }
      bytes += line_bytes;
    }
    AEGIS_RETURN_IF_ERROR(WriteLines(committed, lines.size()));
    commit(lines.size());
    return Status::Ok();
  }

  Status SignHead() {
    int64_t floor_ms = 0;
    {
      std::lock_guard lock(mu);
      if (stats.last_head) floor_ms = stats.last_head->timestamp_ms;
    }
    // Head times never go backwards, even if the wall clock does.
    auto now = options.clock->Now();
    auto floor = std::chrono::system_clock::time_point(std::chrono::milliseconds(floor_ms));
    AEGIS_ASSIGN_OR_RETURN(auto head, SignTreeHead(range.size(), range.Root(hasher), std::max(now, floor), key));
    const std::string line = HeadToJson(head);
    const off_t before = ::lseek(heads_fd, 0, SEEK_END);
    Status written = WriteAll(heads_fd, line + "\n");
    if (written.ok() && ::fdatasync(heads_fd) != 0) written = Errno("audit heads fdatasync failed");
    if (!written.ok()) {
      // A partial head would glue itself to the next one: cut it off.
      if (::ftruncate(heads_fd, before) != 0) spdlog::critical("audit: cannot roll back a failed head write");
      return written;
    }
    last_head_at = options.clock->Steady();
    for (const auto& sink : writer_sinks) sink->OfferHead(line);
    std::lock_guard lock(mu);
    stats.last_head = std::move(head);
    write_status = Status::Ok();  // events are written before any head: nothing else is pending
    return Status::Ok();
  }

  uint64_t SignedSize() const { return stats.last_head ? stats.last_head->tree_size : 0; }

  void WriterLoop() {
    std::deque<AuditEvent> batch;
    for (;;) {
      bool stopping = false, sign_requested = false;
      {
        std::unique_lock lock(mu);
        writer_idle = true;
        const auto wake = [&] { return !batch.empty() || !queue.empty() || stop || signed_target > SignedSize(); };
        if (!wake()) {
          if (range.size() > SignedSize()) {
            // Unsigned events are waiting: wake when their head is due.
            not_empty.wait_until(lock, last_head_at + options.head_interval, wake);
          } else {
            not_empty.wait(lock, wake);
          }
        }
        // Group commit: let a burst gather so one fdatasync covers it, unless
        // someone waits for durability or we are stopping.
        if (!queue.empty() && !stop && waiters == 0) {
          not_empty.wait_for(lock, kGroupCommitWindow,
                             [&] { return stop || waiters > 0 || queue.size() >= kMaxBatch; });
        }
        writer_idle = false;
        // A sink may be added while the writer runs (audit.start is already queued).
        if (writer_sinks.size() != sinks.size()) writer_sinks = sinks;
        if (batch.empty()) batch.swap(queue);  // a failed batch is retried first
        stopping = stop && queue.empty();
        sign_requested = signed_target > SignedSize();
      }
      not_full.notify_all();
      if (!batch.empty()) {
        size_t committed = 0;
        Status s = WriteBatch(batch, committed);
        {
          std::lock_guard lock(mu);
          write_status = s;
          durable += committed;
          stats.tree_size = range.size();
        }
        for (const auto& sink : writer_sinks) {
          for (size_t k = 0; k < committed; ++k) {
            sink->Offer(std::string_view(buffer).substr(lines[k].first, lines[k].second));
          }
        }
        batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(committed));
        if (!s.ok() && stopping) {
          spdlog::critical("audit log: {}; {} events could not be written at shutdown", s.message(), batch.size());
          return;
        }
        if (!s.ok()) {
          spdlog::critical("audit log: {} (retrying; requests wait until it can be written)", s.message());
          progress.notify_all();
          std::this_thread::sleep_for(kRetryPause);
          continue;
        }
      }
      const bool due = range.size() > SignedSize() && options.clock->Steady() - last_head_at >= options.head_interval;
      if ((due || sign_requested || stopping) && range.size() > SignedSize()) {
        if (Status s = SignHead(); !s.ok()) {
          spdlog::critical("audit log: cannot sign a tree head: {} (retrying)", s.message());
          {
            std::lock_guard lock(mu);
            write_status = s;
          }
          progress.notify_all();
          if (stopping) return;
          last_head_at = options.clock->Steady();  // next try after a pause, not in a spin
          std::this_thread::sleep_for(kRetryPause);
          continue;
        }
      }
      progress.notify_all();
      if (stopping) return;
    }
  }

  void VerifierLoop() {
    std::unique_lock lock(mu);
    for (;;) {
      verifier_wake.wait_for(lock, options.verify_interval, [&] { return stop; });
      if (stop) return;
      lock.unlock();
      auto report =
          VerifyAuditLog(options.dir, {.pinned_key = std::nullopt, .keep_leaves = false, .all_signatures = false});
      lock.lock();
      const bool ok = report.ok() && report->ok;
      stats.verified_ok = ok;
      stats.verified_at = options.clock->Now();
      stats.verified_events = report.ok() ? report->events : 0;
      stats.verify_detail = !report.ok() ? report.status().message() : report->error;
      if (!ok) {
        const std::string detail = stats.verify_detail;
        lock.unlock();
        spdlog::critical("audit log failed verification: {}", detail);
        // Appending from this thread is safe: only the writer thread may not.
        AuditLog::AppendTo(*this, SystemEvent(options.clock->Now(), SystemAction::kAuditVerifyFailed, "audit", detail,
                                              Decision::kDeny));
        lock.lock();
      }
    }
  }
};

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const AuditLogOptions& options) {
  if (options.kek == nullptr) return Status::InvalidArgument("the audit log needs the KEK to wrap its signing key");
  auto state = std::make_unique<State>();
  state->options = options;
  const auto& dir = options.dir;
  AEGIS_RETURN_IF_ERROR(MakeDirectory(dir, 0700));
  const auto heads_path = dir / internal::kHeadsFile;
  state->heads_fd = ::open(heads_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (state->heads_fd < 0) return Errno("cannot open " + heads_path.string());
  if (::flock(state->heads_fd, LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("the audit log " + dir.string() + " is in use by another aegis process");
  }
  bool key_created = false;
  AEGIS_ASSIGN_OR_RETURN(state->key,
                         internal::LoadOrCreateSigningKey(options.signing_key_file, dir, *options.kek, &key_created));
  AEGIS_ASSIGN_OR_RETURN(auto recovered, internal::RecoverAuditDirectory(dir));
  AEGIS_ASSIGN_OR_RETURN(
      auto report, VerifyAuditLog(dir, {.pinned_key = std::nullopt, .keep_leaves = false, .all_signatures = false}));
  if (!report.ok) {
    return Status::Unavailable("the audit log failed verification (" + report.error +
                               "); run `aegis audit verify` and see docs/audit.md");
  }
  state->range = report.range;
  state->prev = report.last_leaf;
  state->stats.tree_size = report.events;
  state->stats.key_fingerprint = report.key_id;
  if (!report.heads.empty()) state->stats.last_head = report.heads.back();
  state->stats.verified_ok = true;
  state->stats.verified_events = report.events;
  state->stats.verified_at = options.clock->Now();
  AEGIS_ASSIGN_OR_RETURN(auto segments, internal::ListSegments(dir));
  AEGIS_RETURN_IF_ERROR(state->OpenSegment(segments.empty() ? 0 : segments.back().first_seq));
  // Due at once: an unsigned tail left by a crash is signed right away.
  state->last_head_at = options.clock->Steady() - options.head_interval;

  std::unique_ptr<AuditLog> log(new AuditLog(std::move(state)));
  std::string detail = "tree size " + std::to_string(report.events);
  if (!recovered.empty()) detail += "; " + recovered;
  log->Append(SystemEvent(options.clock->Now(), SystemAction::kAuditStart, "audit", detail));
  if (key_created) {
    log->Append(SystemEvent(options.clock->Now(), SystemAction::kAuditKeyCreated, "audit",
                            "Ed25519 signing key " + report.key_id + " wrapped by KEK " + options.kek->KeyId()));
  }
  return log;
}

AuditLog::AuditLog(std::unique_ptr<State> state) : state_(std::move(state)) {
  State* s = state_.get();
  s->writer = std::thread([s] { s->WriterLoop(); });
  if (s->options.verify_interval.count() > 0) s->verifier = std::thread([s] { s->VerifierLoop(); });
}

AuditLog::~AuditLog() {
  Append(SystemEvent(state_->options.clock->Now(), SystemAction::kAuditStop, "audit"));
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->not_empty.notify_all();
  state_->verifier_wake.notify_all();
  state_->writer.join();
  if (state_->verifier.joinable()) state_->verifier.join();
}

void AuditLog::AppendTo(State& s, AuditEvent event) {
  std::unique_lock lock(s.mu);
  s.not_full.wait(lock, [&] { return s.queue.size() < kMaxQueuedEvents || s.stop; });
  s.queue.push_back(std::move(event));
  ++s.appended;
  ++s.stats.events_appended;
  const bool wake = s.writer_idle;
  lock.unlock();
  // A busy writer picks the event up with its next batch; waking it per event
  // would cost a context switch per request.
  if (wake) s.not_empty.notify_one();
}

void AuditLog::Append(AuditEvent event) { AppendTo(*state_, std::move(event)); }

Status AuditLog::Flush() {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  const uint64_t target = s.appended;
  ++s.waiters;
  s.not_empty.notify_one();
  s.progress.wait(lock, [&] { return s.durable >= target || !s.write_status.ok(); });
  --s.waiters;
  return s.write_status;
}

Status AuditLog::SignNow() {
  AEGIS_RETURN_IF_ERROR(Flush());
  State& s = *state_;
  std::unique_lock lock(s.mu);
  const uint64_t target = s.stats.tree_size;
  if (s.SignedSize() >= target) return Status::Ok();
  s.signed_target = std::max(s.signed_target, target);
  ++s.waiters;
  s.not_empty.notify_one();
  s.progress.wait(lock, [&] { return s.SignedSize() >= target || !s.write_status.ok(); });
  --s.waiters;
  return s.write_status;
}

AuditStats AuditLog::Stats() const {
  std::lock_guard lock(state_->mu);
  AuditStats stats = state_->stats;
  for (const auto& sink : state_->sinks) stats.sinks.emplace_back(std::string(sink->name()), sink->Stats());
  return stats;
}

void AuditLog::AddSink(std::shared_ptr<AuditSink> sink) {
  std::lock_guard lock(state_->mu);
  state_->sinks.push_back(std::move(sink));
}

StatusOr<std::vector<std::string>> AuditLog::Recent(size_t limit) {
  AEGIS_RETURN_IF_ERROR(Flush());
  limit = std::min(limit, kMaxRecent);
  AEGIS_ASSIGN_OR_RETURN(auto segments, internal::ListSegments(state_->options.dir));
  std::vector<std::string> out;
  for (auto it = segments.rbegin(); it != segments.rend() && out.size() < limit; ++it) {
    AEGIS_ASSIGN_OR_RETURN(auto lines, internal::LastLines(it->path, limit - out.size()));
    out.insert(out.begin(), std::make_move_iterator(lines.begin()), std::make_move_iterator(lines.end()));
  }
  return out;
}

StatusOr<AuditPage> AuditLog::Read(const AuditQuery& query) {
  AEGIS_RETURN_IF_ERROR(Flush());
  return internal::ReadAuditWindow(state_->options.dir, query, std::min(query.limit, kMaxRecent));
}

}  // namespace aegis::audit
