// LogWriter (internal to src/audit): the audit log's files and Merkle state —
// the open segment, heads.jsonl (whose flock keeps a second process out), the
// compact range and hash chain over every durable event, the signing key and
// the last head signed. Formats, hashes and durably writes batches of events;
// signs and writes tree heads, and checkpoints (checkpoint.h) at every segment
// boundary and when asked, so that verification can resume there.
//
// This is the part of AuditLog that only its writer thread touches: AuditLog::Open
// sets it up before the thread starts, and from then on the writer thread owns
// it. Keeping it a type of its own keeps it apart from the state that other
// threads share (AuditLog::State, guarded by its mutex).
//
// Thread-safety: thread-compatible; owned by one thread at a time, no lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aegis/audit/audit_log.h"
#include "aegis/audit/merkle.h"
#include "aegis/audit/tree_head.h"
#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"

namespace aegis::audit::internal {

class LogWriter {
 public:
  // Opens (creating) `dir`/heads.jsonl and takes the directory's exclusive
  // lock: Unavailable while another process holds it.
  static StatusOr<std::unique_ptr<LogWriter>> Lock(const std::filesystem::path& dir, uint64_t segment_max_bytes);
  ~LogWriter();  // closes the files, which releases the lock
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Continues the log as verified at open: its Merkle range, last leaf hash and
  // newest head (none for an empty log), signing new heads with `key`; events
  // and heads name `replica` (none when empty).
  void Resume(CompactRange range, const Hash& last_leaf, std::optional<SignedTreeHead> last_head,
              crypto::PrivateKey key, std::string replica);

  // Makes the segment starting at `first_seq` current. The old one is synced and
  // closed only once the new one is open, so a failure leaves a usable segment.
  Status OpenSegment(uint64_t first_seq);

  // Formats, hashes and durably writes `batch`, committing each part written
  // before a segment boundary as it goes; sets `committed` to how many of its
  // events are now durable (all of them unless the Status says otherwise). The
  // caller retries the rest, which are formatted again with their new seqs.
  // A new segment starts with a signed checkpoint at its first event, signed at `now`.
  Status WriteBatch(const std::deque<AuditEvent>& batch, size_t& committed, std::chrono::system_clock::time_point now);
  // Line `k` (without its newline) of the last WriteBatch.
  std::string_view Line(size_t k) const { return std::string_view(buffer_).substr(lines_[k].first, lines_[k].second); }
  // Gives back what a large batch made the batch buffers grow to (anything over
  // 1 MiB; a steady batch fits) and says whether there was any. Call once the
  // last batch's lines are offered: a batch is whatever queued during the last
  // fdatasync, so without this their capacity ratchets up to the longest stall
  // ever seen.
  bool ReleaseLargeBuffers();

  struct WrittenHead {
    SignedTreeHead head;
    std::string json;  // the line written to heads.jsonl, without its newline
  };
  // Signs a head over every durable event at `now` (never earlier than the last
  // head: head times do not go backwards, even if the wall clock does) and
  // durably appends it to heads.jsonl.
  StatusOr<WrittenHead> SignHead(std::chrono::system_clock::time_point now);
  // SignHead, then durably appends a checkpoint at that head to checkpoints.jsonl.
  StatusOr<WrittenHead> SignCheckpoint(std::chrono::system_clock::time_point now);
  // The heads WriteBatch signed for the checkpoints at segment boundaries, for
  // the sinks (oldest first; cleared).
  std::vector<WrittenHead> TakeBoundaryHeads() { return std::exchange(boundary_heads_, {}); }

  uint64_t tree_size() const { return range_.size(); }  // durable events
  uint64_t signed_size() const { return last_head_ ? last_head_->tree_size : 0; }

 private:
  LogWriter(std::filesystem::path dir, uint64_t segment_max_bytes, int heads_fd, int checkpoints_fd);
  // Writes the formatted lines [from, to) of buffer_ to the current segment.
  Status WriteLines(size_t from, size_t to);

  const std::filesystem::path dir_;
  const uint64_t segment_max_bytes_;
  const int heads_fd_;  // holds the directory's exclusive lock too
  const int checkpoints_fd_;
  int segment_fd_ = -1;
  uint64_t segment_first_seq_ = 0;
  uint64_t segment_bytes_ = 0;
  std::vector<WrittenHead> boundary_heads_;
  crypto::PrivateKey key_;
  std::string replica_;
  MerkleHasher hasher_;
  CompactRange range_;
  Hash prev_{};  // leaf hash of the last durable event: the next line's "prev"
  std::optional<SignedTreeHead> last_head_;
  // The last batch, formatted: its lines as (offset, length) in buffer_ and
  // their leaf hashes.
  std::string buffer_;
  std::vector<std::pair<size_t, size_t>> lines_;
  std::vector<Hash> leaves_;
};

}  // namespace aegis::audit::internal
