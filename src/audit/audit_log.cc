#include "aegis/audit/audit_log.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "aegis/audit/log_verifier.h"
#include "aegis/common/file_util.h"
#include "aegis/common/mutex.h"
#include "aegis/common/periodic_thread.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/crypto/encoding.h"
#include "archive.h"
#include "log_files.h"
#include "log_recovery.h"
#include "log_writer.h"
#include "replica_id.h"
#include "segment_compression.h"
#include "segments_lock.h"
#include "signing_key.h"
#include "summarizer.h"

namespace aegis::audit {
namespace {

constexpr size_t kMaxQueuedEvents = 65536;
constexpr size_t kMaxRecent = 10000;
constexpr size_t kMaxBatch = 4096;
constexpr auto kGroupCommitWindow = std::chrono::milliseconds(2);
constexpr auto kRetryPause = std::chrono::milliseconds(200);
// How often a head also becomes a checkpoint (besides segment boundaries and
// close): after a crash, start-up re-reads at most this much of the log.
constexpr auto kCheckpointInterval = std::chrono::seconds(60);

}  // namespace

// The log's state, in three parts by who may touch it.
struct AuditLog::State {
  State(const AuditLogOptions& opened_with, std::unique_ptr<internal::LogWriter> opened_files, AuditStats initial)
      : options(opened_with),
        files(std::move(opened_files)),
        // Due at once: an unsigned tail left by a crash is signed right away.
        last_head_at(options.clock->Steady() - options.head_interval),
        last_checkpoint_at(options.clock->Steady()),
        stats(std::move(initial)) {
    if (!options.summarized_action.empty()) summarizer.emplace(options.summarized_action, options.summary_window);
  }

  const AuditLogOptions options;

  // --- The writer thread's own ------------------------------------------------
  // Set up by Open before the writer starts; from then on only WriterLoop and what
  // it calls touch these, so no lock guards them.
  const std::unique_ptr<internal::LogWriter> files;
  std::chrono::steady_clock::time_point last_head_at;
  std::chrono::steady_clock::time_point last_checkpoint_at;
  std::vector<std::shared_ptr<AuditSink>> writer_sinks;  // the writer's copy of `sinks`, taken under mu
  std::optional<internal::Summarizer> summarizer;        // inference_events = "summary"

  // --- Shared: Append/Flush/SignNow callers, Stats readers, the writer and the verifier
  mutable Mutex mu;
  CondVar not_empty;  // the writer waits for events, a waiter or stop
  CondVar not_full;   // Append waits for room in the queue
  CondVar progress;   // Flush and SignNow wait for the writer
  std::deque<AuditEvent> queue AEGIS_GUARDED_BY(mu);
  uint64_t appended AEGIS_GUARDED_BY(mu) = 0;       // events ever queued (since Open)
  uint64_t durable AEGIS_GUARDED_BY(mu) = 0;        // of those, written and synced
  uint64_t signed_target AEGIS_GUARDED_BY(mu) = 0;  // SignNow: sign at least this many events
  // FlushSummaries: requests to write every open window, and how many of them
  // the writer has served (each with a batch taken after the request).
  uint64_t close_requests AEGIS_GUARDED_BY(mu) = 0;
  uint64_t windows_closed AEGIS_GUARDED_BY(mu) = 0;
  Status write_status AEGIS_GUARDED_BY(mu);
  bool writer_idle AEGIS_GUARDED_BY(mu) = false;
  int waiters AEGIS_GUARDED_BY(mu) = 0;  // Flush/SignNow callers
  bool stop AEGIS_GUARDED_BY(mu) = false;
  AuditStats stats AEGIS_GUARDED_BY(mu);
  std::vector<std::shared_ptr<AuditSink>> sinks AEGIS_GUARDED_BY(mu);  // AddSink

  // --- The threads ----------------------------------------------------------------
  std::thread writer;
  // Held by whoever adds or removes segment files other than the writer's
  // (the compressor, Archive), so neither resurrects what the other removed.
  Mutex segment_files_mu;
  std::optional<PeriodicThread> verifier;    // when options.verify_interval > 0
  std::optional<PeriodicThread> compressor;  // when options.compress_sealed_segments
  std::optional<PeriodicThread> archiver;    // when options.archive_dir is set

  // The tree size of the newest signed head, as other threads see it.
  uint64_t SignedSize() const AEGIS_REQUIRES(mu) { return stats.last_head ? stats.last_head->tree_size : 0; }

  // Whether the writer has something to do (called by the writer thread).
  bool WriterHasWork(const std::deque<AuditEvent>& batch) const AEGIS_REQUIRES(mu) {
    return !batch.empty() || !queue.empty() || stop || close_requests > windows_closed ||
           signed_target > files->signed_size();
  }

  // When the writer must wake without new events: a head or a window is due.
  std::optional<std::chrono::steady_clock::time_point> NextDeadline() const {
    std::optional<std::chrono::steady_clock::time_point> due;
    if (files->tree_size() > files->signed_size()) due = last_head_at + options.head_interval;
    if (auto window = summarizer ? summarizer->NextDue() : std::nullopt) {
      const auto at = options.clock->Steady() +
                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(*window - options.clock->Now());
      if (!due || at < *due) due = at;
    }
    return due;
  }

  // The writer sleeps until it has work or, when unsigned events wait, until
  // their head is due.
  void AwaitWork(const std::deque<AuditEvent>& batch) AEGIS_REQUIRES(mu) {
    const auto due = NextDeadline();
    while (!WriterHasWork(batch)) {
      if (!due) {
        not_empty.Wait(mu);
      } else if (not_empty.WaitUntil(mu, *due) == std::cv_status::timeout) {
        return;
      }
    }
  }

  // Group commit: lets a burst gather so one fdatasync covers it, unless someone
  // waits for durability or we are stopping.
  void AwaitBurst() AEGIS_REQUIRES(mu) {
    if (queue.empty() || stop || waiters > 0) return;
    const auto until = std::chrono::steady_clock::now() + kGroupCommitWindow;
    while (!stop && waiters == 0 && queue.size() < kMaxBatch) {
      if (not_empty.WaitUntil(mu, until) == std::cv_status::timeout) return;
    }
  }

  // Takes the summarized events out of a fresh batch and adds the summaries of
  // the windows that are due (every window when `close_all`). Both count as
  // done for Flush: the absorbed events are in a window, the summaries are owed.
  // `close_upto` FlushSummaries requests (and `stopping`) ask for every window.
  // Without a summarizer this only acknowledges those requests.
  void Summarize(std::deque<AuditEvent>& batch, bool fresh, uint64_t close_upto, bool stopping) AEGIS_EXCLUDES(mu) {
    size_t absorbed = 0, summaries = 0;
    if (summarizer) {
      // A request is served by a fresh batch: a retried one may leave events
      // appended before the request in the queue.
      bool close_all = stopping;
      if (fresh) {
        MutexLock lock(mu);
        close_all = close_all || close_upto > windows_closed;
      }
      absorbed = fresh ? summarizer->Absorb(batch) : 0;
      summaries = summarizer->Drain(options.clock->Now(), close_all, batch);
    }
    MutexLock lock(mu);
    durable += absorbed;
    appended += summaries;
    stats.events_summarized += absorbed;
    if (fresh) windows_closed = std::max(windows_closed, close_upto);
  }

  // Signs a head, and makes it a checkpoint too at close and once a minute.
  Status SignHead(bool stopping) AEGIS_EXCLUDES(mu) {
    const auto steady = options.clock->Steady();
    const bool checkpoint = stopping || steady - last_checkpoint_at >= kCheckpointInterval;
    AEGIS_ASSIGN_OR_RETURN(
        auto written, checkpoint ? files->SignCheckpoint(options.clock->Now()) : files->SignHead(options.clock->Now()));
    last_head_at = steady;
    if (checkpoint) last_checkpoint_at = steady;
    PublishHead(std::move(written));
    MutexLock lock(mu);
    write_status = Status::Ok();  // events are written before any head: nothing else is pending
    return Status::Ok();
  }

  void PublishHead(internal::LogWriter::WrittenHead written) AEGIS_EXCLUDES(mu) {
    for (const auto& sink : writer_sinks) sink->OfferHead(written.json);
    MutexLock lock(mu);
    stats.last_head = std::move(written.head);
  }

  void WriterLoop() AEGIS_EXCLUDES(mu) {
    std::deque<AuditEvent> batch;
    for (;;) {
      bool stopping = false, sign_requested = false, fresh = false;
      uint64_t close_upto = 0;
      {
        MutexLock lock(mu);
        writer_idle = true;
        AwaitWork(batch);
        AwaitBurst();
        writer_idle = false;
        // A sink may be added while the writer runs (audit.start is already queued).
        if (writer_sinks.size() != sinks.size()) writer_sinks = sinks;
        if (batch.empty()) {  // a failed batch is retried first
          batch.swap(queue);
          fresh = true;
        }
        stopping = stop && queue.empty();
        sign_requested = signed_target > files->signed_size();
        close_upto = close_requests;
      }
      not_full.NotifyAll();
      Summarize(batch, fresh, close_upto, stopping);
      if (!batch.empty()) {
        size_t committed = 0;
        Status s = files->WriteBatch(batch, committed, options.clock->Now());
        auto boundaries = files->TakeBoundaryHeads();
        for (auto& head : boundaries) PublishHead(std::move(head));
        if (!boundaries.empty() && compressor) compressor->RunNow();  // a segment was sealed
        {
          MutexLock lock(mu);
          write_status = s;
          durable += committed;
          stats.tree_size = files->tree_size();
        }
        for (const auto& sink : writer_sinks) {
          for (size_t k = 0; k < committed; ++k) sink->Offer(files->Line(k));
        }
        batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(committed));
        if (batch.empty() && files->ReleaseLargeBuffers()) {
          // After a backlog (a stall), the deque's block map goes too, and malloc
          // still holds what the queued events used, in the arenas of the request
          // threads that made them: trim, or RSS keeps the highest backlog ever
          // seen. Rare, so the trim's cost (a walk of the arenas) does not matter.
          std::deque<AuditEvent>().swap(batch);
          ::malloc_trim(0);
        }
        if (!s.ok() && stopping) {
          spdlog::critical("audit log: {}; {} events could not be written at shutdown", s.message(), batch.size());
          return;
        }
        if (!s.ok()) {
          spdlog::critical("audit log: {} (retrying; requests wait until it can be written)", s.message());
          progress.NotifyAll();
          std::this_thread::sleep_for(kRetryPause);
          continue;
        }
      }
      const bool unsigned_events = files->tree_size() > files->signed_size();
      const bool due = unsigned_events && options.clock->Steady() - last_head_at >= options.head_interval;
      if ((due || sign_requested || stopping) && unsigned_events) {
        if (Status s = SignHead(stopping); !s.ok()) {
          spdlog::critical("audit log: cannot sign a tree head: {} (retrying)", s.message());
          {
            MutexLock lock(mu);
            write_status = s;
          }
          progress.NotifyAll();
          if (stopping) return;
          last_head_at = options.clock->Steady();  // next try after a pause, not in a spin
          std::this_thread::sleep_for(kRetryPause);
          continue;
        }
      }
      progress.NotifyAll();
      if (stopping) return;
    }
  }

  // Compresses the sealed segments (the compressor thread; segment_compression.h).
  void CompressOnce() noexcept {
    MutexLock lock(segment_files_mu);
    if (options.retention.count() > 0) PruneOnce();
    if (!options.compress_sealed_segments) return;
    auto done = internal::CompressSealedSegments(options.dir);
    if (!done.ok()) {
      spdlog::error("audit log: compressing sealed segments: {} (retried in a minute)", done.status().message());
    } else if (*done > 0) {
      spdlog::info("audit log: compressed {} sealed segment(s) with zstd", *done);
    }
  }

  // [audit] retention_days: archived segments past it leave the live log, recorded.
  void PruneOnce() AEGIS_REQUIRES(segment_files_mu) {
    auto pruned = internal::PruneArchived(options.dir, options.clock->Now() - options.retention);
    if (!pruned.ok()) {
      spdlog::error("audit log: pruning archived segments: {}", pruned.status().message());
      return;
    }
    if (pruned->segments == 0) return;
    const std::string what =
        "events " + std::to_string(pruned->first_event) + " to " + std::to_string(pruned->end_event - 1) + " (" +
        std::to_string(pruned->segments) + " archived segments sealed more than " +
        std::to_string(options.retention.count() / 86400) + " days ago) left the live log under audit.retention_days";
    spdlog::info("audit log: {}", what);
    AuditLog::AppendTo(*this, SystemEvent(options.clock->Now(), SystemAction::kAuditPrune, "audit", what));
  }

  // One background re-verification of the whole log (the verifier thread).
  void VerifyOnce() AEGIS_EXCLUDES(mu) {
    auto report =
        VerifyAuditLog(options.dir, {.pinned_key = std::nullopt, .keep_leaves = false, .all_signatures = false});
    // A segment compressed or archived between the listing and the read is an
    // I/O error, not tampering: look again once.
    if (!report.ok()) {
      report = VerifyAuditLog(options.dir, {.pinned_key = std::nullopt, .keep_leaves = false, .all_signatures = false});
    }
    const bool ok = report.ok() && report->ok;
    std::string detail;
    {
      MutexLock lock(mu);
      stats.verified_ok = ok;
      stats.verified_at = options.clock->Now();
      stats.verified_events = report.ok() ? report->events : 0;
      stats.verify_detail = !report.ok() ? report.status().message() : report->error;
      detail = stats.verify_detail;
    }
    if (ok) return;
    spdlog::critical("audit log failed verification: {}", detail);
    // Appending from this thread is safe: only the writer thread may not.
    AuditLog::AppendTo(
        *this, SystemEvent(options.clock->Now(), SystemAction::kAuditVerifyFailed, "audit", detail, Decision::kDeny));
    if (options.on_verify_failure) options.on_verify_failure(detail);
  }
};

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const AuditLogOptions& options) {
  if (options.kek == nullptr) return Status::InvalidArgument("the audit log needs the KEK to wrap its signing key");
  const auto& dir = options.dir;
  AEGIS_RETURN_IF_ERROR(MakeDirectory(dir, 0700));
  AEGIS_ASSIGN_OR_RETURN(auto files, internal::LogWriter::Lock(dir, options.segment_max_bytes));
  bool key_created = false;
  AEGIS_ASSIGN_OR_RETURN(auto key,
                         internal::LoadOrCreateSigningKey(options.signing_key_file, dir, *options.kek, &key_created));
  AEGIS_ASSIGN_OR_RETURN(auto recovered, internal::RecoverAuditDirectory(dir));
  AEGIS_ASSIGN_OR_RETURN(std::string replica, internal::ResolveReplicaId(dir, options.replica_id));
  // Readers lock it from now on, before anything is ever removed (segments_lock.h).
  AEGIS_RETURN_IF_ERROR(internal::SegmentsLock::Prepare(dir));
  if (!options.archive_dir.empty()) AEGIS_RETURN_IF_ERROR(MakeDirectory(options.archive_dir, 0700));
  // From the newest checkpoint: start-up time does not grow with the log. The
  // full walk follows at once in the background (the verifier thread).
  AEGIS_ASSIGN_OR_RETURN(auto report, VerifyAuditLog(dir, {.pinned_key = std::nullopt,
                                                           .keep_leaves = false,
                                                           .all_signatures = false,
                                                           .from_newest_checkpoint = true}));
  if (!report.ok) {
    return Status::Unavailable("the audit log failed verification (" + report.error +
                               "); run `aegis audit verify` and see docs/audit.md");
  }
  // A log that named a replica keeps naming it: a replica_id file removed or
  // replaced would otherwise rename the log's later heads unnoticed.
  if (!report.replica.empty() && report.replica != replica) {
    return Status::Unavailable("the audit log's newest signed head names replica \"" + report.replica + "\", but " +
                               (dir / internal::kReplicaIdFile).string() +
                               (replica.empty() ? " is missing" : " says \"" + replica + "\"") +
                               "; restore the file (docs/audit.md)");
  }
  AuditStats stats;
  stats.tree_size = report.events;
  stats.key_fingerprint = report.key_id;
  stats.replica_id = replica;
  if (!report.heads.empty()) stats.last_head = report.heads.back();
  stats.verified_ok = true;
  stats.verified_events = report.events;
  stats.verified_at = options.clock->Now();
  files->Resume(report.range, report.last_leaf, stats.last_head, std::move(key), replica);
  AEGIS_ASSIGN_OR_RETURN(auto segments, internal::ListSegments(dir));
  // The newest segment is never compressed by the server; if it is (by hand),
  // events continue in a new one.
  AEGIS_RETURN_IF_ERROR(files->OpenSegment(segments.empty()             ? 0
                                           : segments.back().compressed ? report.events
                                                                        : segments.back().first_seq));

  std::unique_ptr<AuditLog> log(new AuditLog(std::make_unique<State>(options, std::move(files), std::move(stats))));
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
  if (s->options.verify_interval.count() > 0) {
    s->verifier.emplace(s->options.verify_interval, [s]() noexcept { s->VerifyOnce(); });
    // Start-up checked only what follows the newest checkpoint: the whole log next.
    s->verifier->RunNow();
  }
  if (s->options.compress_sealed_segments || s->options.retention.count() > 0) {
    s->compressor.emplace(std::chrono::seconds(60), [s]() noexcept { s->CompressOnce(); });
    s->compressor->RunNow();
  }
  if (!s->options.archive_dir.empty()) {
    // The first run follows Open at once: a server that was down for a while catches up.
    s->archiver.emplace(s->options.archive_interval, [this]() noexcept { ArchiveOnce(); });
    s->archiver->RunNow();
  }
}

AuditLog::~AuditLog() {
  State& s = *state_;
  // The verifier stops first (after a run in progress): an audit.verify_failed it
  // appends must reach the writer before the writer stops, and audit.stop must be
  // the last event.
  if (s.archiver) s.archiver->Stop();  // it appends audit.archive and signs: before the writer stops
  if (s.verifier) s.verifier->Stop();
  if (s.compressor) s.compressor->Stop();
  // The open windows' summaries come before audit.stop (a failure is logged by the writer).
  if (s.summarizer) FlushSummaries().IgnoreError();
  Append(SystemEvent(s.options.clock->Now(), SystemAction::kAuditStop, "audit"));
  {
    MutexLock lock(s.mu);
    s.stop = true;
  }
  s.not_empty.NotifyAll();
  s.writer.join();
}

void AuditLog::AppendTo(State& s, AuditEvent event) {
  bool wake = false;
  {
    MutexLock lock(s.mu);
    while (s.queue.size() >= kMaxQueuedEvents && !s.stop) s.not_full.Wait(s.mu);
    s.queue.push_back(std::move(event));
    ++s.appended;
    ++s.stats.events_appended;
    wake = s.writer_idle;
  }
  // A busy writer picks the event up with its next batch; waking it per event
  // would cost a context switch per request.
  if (wake) s.not_empty.NotifyOne();
}

void AuditLog::Append(AuditEvent event) { AppendTo(*state_, std::move(event)); }

Status AuditLog::Flush() {
  State& s = *state_;
  MutexLock lock(s.mu);
  const uint64_t target = s.appended;
  ++s.waiters;
  s.not_empty.NotifyOne();
  while (s.durable < target && s.write_status.ok()) s.progress.Wait(s.mu);
  --s.waiters;
  return s.write_status;
}

Status AuditLog::FlushSummaries() {
  State& s = *state_;
  {
    MutexLock lock(s.mu);
    const uint64_t target = ++s.close_requests;
    ++s.waiters;
    s.not_empty.NotifyOne();
    while (s.windows_closed < target && s.write_status.ok()) s.progress.Wait(s.mu);
    --s.waiters;
    if (!s.write_status.ok()) return s.write_status;
  }
  return Flush();
}

Status AuditLog::SignNow() {
  AEGIS_RETURN_IF_ERROR(Flush());
  State& s = *state_;
  MutexLock lock(s.mu);
  const uint64_t target = s.stats.tree_size;
  if (s.SignedSize() >= target) return Status::Ok();
  s.signed_target = std::max(s.signed_target, target);
  ++s.waiters;
  s.not_empty.NotifyOne();
  while (s.SignedSize() < target && s.write_status.ok()) s.progress.Wait(s.mu);
  --s.waiters;
  return s.write_status;
}

StatusOr<ArchiveSummary> AuditLog::Archive(std::chrono::system_clock::time_point before,
                                           const std::filesystem::path& output, bool keep_live) {
  return ArchiveInto(before, output, keep_live);
}

StatusOr<ArchiveSummary> AuditLog::ArchiveInto(std::chrono::system_clock::time_point before,
                                               const std::optional<std::filesystem::path>& output, bool keep_live) {
  State& s = *state_;
  // Heads (and the checkpoint at the archive's end) cover everything so far.
  AEGIS_RETURN_IF_ERROR(SignNow());
  AEGIS_ASSIGN_OR_RETURN(crypto::PublicKey key, ReadAuditPublicKey(s.options.dir));
  StatusOr<internal::ArchiveOutcome> outcome = Status::Internal("not run");
  std::filesystem::path folder;
  {
    MutexLock lock(s.segment_files_mu);
    if (output) {
      folder = *output;
      outcome = internal::ArchiveSegments(s.options.dir, before, folder, key, keep_live);
    } else if (auto first = internal::NextArchiveStart(s.options.dir); !first.ok()) {
      outcome = first.status();
    } else {
      // Named after its first event: a run cut short by a crash is redone in the
      // same folder, so a retry leaves no stray half-archive behind.
      char name[32];
      std::snprintf(name, sizeof name, "events-%020llu", static_cast<unsigned long long>(*first));
      folder = s.options.archive_dir / name;
      outcome = internal::ArchiveSegments(s.options.dir, before, folder, key, keep_live, /*replace_unrecorded=*/true);
    }
  }
  if (!outcome.ok()) return outcome.status();
  ArchiveSummary summary{outcome->first_event, outcome->end_event, outcome->segments, crypto::HexEncode(outcome->root)};
  Append(SystemEvent(
      s.options.clock->Now(), SystemAction::kAuditArchive, "audit",
      "events " + std::to_string(summary.first_event) + " to " + std::to_string(summary.end_event - 1) + " (" +
          std::to_string(summary.segments) + " segments, signed root " + summary.root + ") archived to " +
          std::filesystem::absolute(folder).string() +
          (keep_live ? " and kept in the live log until retention prunes them" : " and removed from the live log")));
  AEGIS_RETURN_IF_ERROR(SignNow());
  return summary;
}

void AuditLog::ArchiveOnce() noexcept {
  State& s = *state_;
  const auto before = s.options.clock->Now() - s.options.archive_after;
  StatusOr<ArchiveSummary> done = Status::Internal("not run");
  try {
    // With retention_days the archived segments stay live until retention prunes
    // them (the PCI DSS "3 months at hand"), as with `aegis audit archive --keep-live`.
    done = ArchiveInto(before, std::nullopt, /*keep_live=*/s.options.retention.count() > 0);
  } catch (const std::exception& e) {  // a filesystem or JSON error must not end the server
    done = Status::Internal(e.what());
  }
  const bool nothing_due = !done.ok() && done.status().code() == StatusCode::kNotFound;
  {
    MutexLock lock(s.mu);
    ++s.stats.archive_runs;
    if (done.ok()) {
      s.stats.archived_segments += done->segments;
      s.stats.archived_events += done->end_event - done->first_event;
    } else if (!nothing_due) {
      ++s.stats.archive_failures;
    }
  }
  if (done.ok()) {
    spdlog::info("audit log: archived {} sealed segment(s), events {} to {}, into {} (archive_after_days {}){}",
                 done->segments, done->first_event, done->end_event - 1, s.options.archive_dir.string(),
                 s.options.archive_after.count() / 86400,
                 s.options.retention.count() > 0 ? "; kept live until retention_days prunes them" : "");
  } else if (nothing_due) {
    spdlog::debug("audit log: archiving: {}", done.status().message());
  } else {
    spdlog::error("audit log: archiving into {} failed: {} (retried at the next run; the live log is kept)",
                  s.options.archive_dir.string(), done.status().message());
  }
}

AuditStats AuditLog::Stats() const {
  MutexLock lock(state_->mu);
  AuditStats stats = state_->stats;
  for (const auto& sink : state_->sinks) stats.sinks.emplace_back(std::string(sink->name()), sink->Stats());
  return stats;
}

void AuditLog::AddSink(std::shared_ptr<AuditSink> sink) {
  MutexLock lock(state_->mu);
  state_->sinks.push_back(std::move(sink));
}

StatusOr<std::vector<std::string>> AuditLog::Recent(size_t limit) {
  AEGIS_RETURN_IF_ERROR(Flush());
  limit = std::min(limit, kMaxRecent);
  AEGIS_ASSIGN_OR_RETURN(auto lock,
                         internal::SegmentsLock::Take(state_->options.dir, internal::SegmentsLock::Mode::kShared));
  AEGIS_ASSIGN_OR_RETURN(auto segments, internal::ListSegments(state_->options.dir));
  std::vector<std::string> out;
  for (auto it = segments.rbegin(); it != segments.rend() && out.size() < limit; ++it) {
    AEGIS_ASSIGN_OR_RETURN(auto lines, internal::LastLines(*it, limit - out.size()));
    out.insert(out.begin(), std::make_move_iterator(lines.begin()), std::make_move_iterator(lines.end()));
  }
  return out;
}

StatusOr<AuditPage> AuditLog::Read(const AuditQuery& query) {
  AEGIS_RETURN_IF_ERROR(Flush());
  AEGIS_ASSIGN_OR_RETURN(auto lock,
                         internal::SegmentsLock::Take(state_->options.dir, internal::SegmentsLock::Mode::kShared));
  return internal::ReadAuditWindow(state_->options.dir, query, std::min(query.limit, kMaxRecent));
}

}  // namespace aegis::audit
