// AuditLog: the tamper-evident record of every request and management action.
//
// Layout under DIR/audit/ (see docs/audit.md for the auditor's view):
//   segment-<first seq, 20 digits>.jsonl   append-only event lines (event_line.h),
//                                          a new segment every segment_max_bytes;
//                                          once sealed, compressed to .jsonl.zst
//   checkpoints.jsonl                      where verification may resume (checkpoint.h)
//   heads.jsonl                            signed tree heads (tree_head.h)
//   key.json                               the audit public key {"key_id","public_key"}
// The Ed25519 private key lives in DIR/keys/audit-signing.key, wrapped by the KEK.
//
// Every event is a leaf of an RFC 6962 Merkle tree (merkle.h). Append() never
// blocks on disk: events go to a bounded queue drained by one writer thread that
// formats, hashes and writes them in batches (group commit: a burst gathers for
// up to 2 ms, one fdatasync per batch). At least once a second while events flow,
// and at shutdown, the writer signs a tree head over everything durable. When the
// queue is full Append() waits (fail closed: no event is ever dropped).
//
// Crash safety: events are durable before any head covers them, so a kill -9
// loses at most the events not yet synced. At Open, a torn last line (a write cut
// short) is cut off, then the whole log is verified; a log that fails
// verification is refused (the server does not start on a tampered log). The
// log is re-verified in the background every `verify_interval`.
//
// Volume ([audit] inference_events = "summary", docs/audit.md): with
// `summarized_action` set, the writer counts that action's successful requests
// into one summary event per principal × resource × source × window instead of
// one event each; every other event keeps its own line. A window's summary is
// written once it ends (within about a second) and at close, so a clean
// shutdown loses nothing; a kill -9 loses the windows still open.
//
// Events name who did what to which resource, the decision and the outcome — never
// tensor data, tokens or other secrets: the event type (event.h) has no field that could
// carry them.
//
// Thread-safety: every public method is safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/audit/event.h"
#include "aegis/audit/sink.h"
#include "aegis/audit/tree_head.h"
#include "aegis/common/clock.h"
#include "aegis/common/status.h"
#include "aegis/keys/key_provider.h"

namespace aegis::audit {

// The file in an audit directory that fixes its replica id (AuditLogOptions::replica_id).
inline constexpr std::string_view kReplicaIdFileName = "replica_id";

struct AuditLogOptions {
  std::filesystem::path dir;               // DIR/audit
  std::filesystem::path signing_key_file;  // DIR/keys/audit-signing.key (made on first open)
  const keys::KeyProvider* kek = nullptr;  // wraps the signing key; required
  // The replica whose log this is, named in every event and signed head
  // (docs/scale-out.md). Fixed in DIR/audit/replica_id the first time it is
  // given; after that the file decides, and a different id here is refused.
  // Empty: whatever the file says, or no replica (a single server's log).
  std::string replica_id;
  uint64_t segment_max_bytes = 64ull << 20;
  std::chrono::milliseconds head_interval{1000};
  std::chrono::seconds verify_interval{300};  // background re-verification; 0 = only at Open
  const Clock* clock = &Clock::Real();
  // A background re-verification failed (the log was changed on disk): called
  // from the verifier thread with what failed, after the audit event.
  std::function<void(const std::string& detail)> on_verify_failure;
  // [audit] inference_events = "summary": this action's successful requests are
  // summarized per window (summarizer.h); empty = every event its own line ("all").
  std::string summarized_action;
  std::chrono::milliseconds summary_window{1000};
  // Sealed segments are compressed with zstd in the background
  // (segment-<seq>.jsonl.zst; what is hashed and signed stays the plain lines).
  bool compress_sealed_segments = true;
  // [audit] retention_days: archived segments (aegis audit archive --keep-live)
  // sealed longer ago than this leave the live log; 0 = kept forever. Never
  // prunes a segment no archive holds.
  std::chrono::seconds retention{0};
  // [audit] archive_dir and archive_after_days: the server archives on its own,
  // as `aegis audit archive` does (Archive below), the segments sealed more than
  // `archive_after` ago into a new folder archive_dir/events-<first event, 20
  // digits>, shortly after Open and then every `archive_interval`; with
  // `retention` set the segments stay live (keep_live) until it prunes them,
  // otherwise they leave the live log at once. Empty = off.
  // The folder is the operator's (validated by the configuration), never one a
  // request names.
  std::filesystem::path archive_dir;
  std::chrono::seconds archive_after{0};
  std::chrono::milliseconds archive_interval{std::chrono::hours(1)};
};

struct AuditStats {
  uint64_t events_appended = 0;    // events accepted by Append since Open
  uint64_t events_summarized = 0;  // of those, counted into summary events
  uint64_t tree_size = 0;          // durable events in the whole log
  std::optional<SignedTreeHead> last_head;
  std::string key_fingerprint;
  std::string replica_id;  // the log's replica (AuditLogOptions::replica_id); empty if none
  // The latest full verification of the on-disk log (at Open, then periodically).
  bool verified_ok = false;
  uint64_t verified_events = 0;
  std::chrono::system_clock::time_point verified_at{};
  std::string verify_detail;
  // The server's own archiving ([audit] archive_dir), since Open: runs, runs
  // that failed, and the segments and events they moved out of the live log.
  uint64_t archive_runs = 0;
  uint64_t archive_failures = 0;
  uint64_t archived_segments = 0;
  uint64_t archived_events = 0;
  // Each SIEM sink's counters, by name ("syslog", "webhook").
  std::vector<std::pair<std::string, SinkStats>> sinks;
};

// What AuditLog::Archive moved out (docs/audit.md, "Archiving").
struct ArchiveSummary {
  uint64_t first_event = 0;
  uint64_t end_event = 0;  // exclusive: the live log now starts here
  size_t segments = 0;
  std::string root;  // hex: the signed root over events [0, end_event)
};

// A window of the log for readers (GET /v1/audit).
struct AuditQuery {
  std::optional<uint64_t> from_seq;                            // first event to return
  std::optional<std::chrono::system_clock::time_point> since;  // events at or after
  size_t limit = 100;
};
struct AuditPage {
  std::vector<std::string> lines;    // event lines, oldest first
  std::optional<uint64_t> next_seq;  // set when more events match
};

class AuditLog {
 public:
  static StatusOr<std::unique_ptr<AuditLog>> Open(const AuditLogOptions& options);
  ~AuditLog();  // appends audit.stop, drains the queue, signs a final head

  void Append(AuditEvent event);
  // Returns once every event appended before the call is durable, or, when
  // summarized, counted into a window whose summary is written when it ends.
  Status Flush();
  // Flush, and write the summaries of every window open now (at close; tests).
  Status FlushSummaries();
  // Flush, then sign a head over everything durable now (if anything is unsigned).
  Status SignNow();
  // The last `limit` events (oldest first), after a Flush.
  StatusOr<std::vector<std::string>> Recent(size_t limit);
  // Events from `from_seq` and/or at or after `since`, oldest first, after a Flush.
  StatusOr<AuditPage> Read(const AuditQuery& query);
  AuditStats Stats() const;
  // Moves the segments sealed at or before `before` (with the heads and
  // checkpoints that cover them) into `output` for cold storage: copied,
  // synced, verified on their own, recorded, then removed from the live log,
  // which verifies from the signed checkpoint where it now starts. Records
  // audit.archive. NotFound when nothing was sealed before `before`.
  // With `keep_live` the segments stay in the live log until `retention` prunes them.
  StatusOr<ArchiveSummary> Archive(std::chrono::system_clock::time_point before, const std::filesystem::path& output,
                                   bool keep_live = false);
  // Sinks get every event line written after they are added (once durable) and
  // every signed head, from the writer thread; the local log stays the record.
  void AddSink(std::shared_ptr<AuditSink> sink);

  struct State;

 private:
  explicit AuditLog(std::unique_ptr<State> state);
  // `output` = nullopt: a folder under options.archive_dir named after the first event.
  StatusOr<ArchiveSummary> ArchiveInto(std::chrono::system_clock::time_point before,
                                       const std::optional<std::filesystem::path>& output, bool keep_live);
  void ArchiveOnce() noexcept;  // the archiver thread's run
  static void AppendTo(State& state, AuditEvent event);
  std::unique_ptr<State> state_;
};

}  // namespace aegis::audit
