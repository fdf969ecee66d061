#include "aegis/audit/log_verifier.h"

#include "aegis/audit/event_line.h"
#include "aegis/common/file_util.h"
#include "aegis/common/strict_json.h"
#include "aegis/crypto/encoding.h"
#include "checkpoint.h"
#include "log_files.h"
#include "segments_lock.h"

namespace aegis::audit {
namespace {

using internal::ForEachLine;
using internal::MappedFile;

// Heads from the start of heads.jsonl, or from just after a checkpoint's own
// head (which then comes first): start-up does not parse a year of heads.
StatusOr<std::vector<SignedTreeHead>> ReadHeads(const std::filesystem::path& dir, const crypto::PublicKey& key,
                                                bool all_signatures, const internal::Checkpoint* from,
                                                VerifyReport& report) {
  std::vector<SignedTreeHead> heads;
  const auto path = dir / internal::kHeadsFile;
  if (!std::filesystem::exists(path)) return heads;
  AEGIS_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  std::string_view text = file.view();
  if (from != nullptr) {
    const SignedTreeHead& own = from->head;
    std::optional<SignedTreeHead> before;
    if (from->heads_offset > 0 && from->heads_offset <= text.size() && text[from->heads_offset - 1] == '\n') {
      const std::string_view head = text.substr(0, from->heads_offset - 1);
      const size_t nl = head.rfind('\n');
      auto parsed = HeadFromJson(nl == std::string_view::npos ? head : head.substr(nl + 1));
      if (parsed.ok()) before = std::move(*parsed);
    }
    if (!before || before->tree_size != own.tree_size || before->root != own.root ||
        before->timestamp_ms != own.timestamp_ms || before->replica != own.replica) {
      report.error = "heads.jsonl does not hold the head of the checkpoint at event " + std::to_string(own.tree_size) +
                     " where the checkpoint says (heads removed or changed)";
      return Status::DataLoss(report.error);
    }
    heads.push_back(own);
    text.remove_prefix(from->heads_offset);
  }
  Status problem;
  const auto where = [&](size_t i) { return "signed tree head #" + std::to_string(i + 1); };
  // A torn last head line (a crash while writing it) is ignored like a torn event.
  ForEachLine(text, [&](std::string_view line) {
    auto head = HeadFromJson(line);
    if (!head.ok()) {
      problem = Status::DataLoss(where(heads.size()) + ": " + head.status().message());
      return false;
    }
    if (!heads.empty() &&
        (head->tree_size < heads.back().tree_size || head->timestamp_ms < heads.back().timestamp_ms)) {
      problem = Status::DataLoss(where(heads.size()) + ": goes backwards (size or time below the head before it)");
      return false;
    }
    // A log is named once (replica_id.h): heads before the name may lack it
    // (written before replicas existed), none after it may change it.
    if (!heads.empty() && !heads.back().replica.empty() && head->replica != heads.back().replica) {
      problem = Status::DataLoss(where(heads.size()) + ": names replica \"" + head->replica +
                                 "\" after heads naming \"" + heads.back().replica + "\"");
      return false;
    }
    heads.push_back(std::move(*head));
    return true;
  });
  // The newest head alone vouches for every event (its root covers them all);
  // the older ones matter for proofs between them.
  for (size_t i = all_signatures ? 0 : (heads.empty() ? 0 : heads.size() - 1); problem.ok() && i < heads.size(); ++i) {
    if (Status s = VerifyTreeHead(heads[i], key); !s.ok()) problem = Status::DataLoss(where(i) + ": " + s.message());
  }
  if (!problem.ok()) {
    report.error = problem.message();
    return problem;
  }
  return heads;
}

// Walks every event line, checking order, the prev chain and each head's root.
class EventWalker {
 public:
  EventWalker(const std::vector<SignedTreeHead>& heads, VerifyReport& report, const VerifyOptions& options)
      : heads_(heads), report_(report), options_(options) {}

  // False once the first bad event is known.
  bool Line(std::string_view line) {
    const uint64_t i = report_.events;
    auto prefix = ParseLinePrefix(line);
    if (!prefix) return Fail(i, "event " + std::to_string(i) + " is malformed (not an audit event line)");
    if (prefix->seq != i) {
      return Fail(i, "event " + std::to_string(i) + " is out of place: it carries seq " + std::to_string(prefix->seq) +
                         " (events removed, inserted or reordered)");
    }
    const Hash leaf = hasher_.Leaf(line);
    if (pending_break_) {
      // prev(i-1) did not match. If prev(i) does not match leaf(i-1) either,
      // event i-1 itself changed (its prev member); otherwise event i-2 did.
      const uint64_t bad = prefix->prev != previous_ ? i - 1 : i - 2;
      return Fail(bad, "event " + std::to_string(bad) + " was altered (hash chain broken)");
    }
    if (prefix->prev != previous_) {
      if (i == 0) return Fail(0, "event 0 was altered (hash chain broken)");
      pending_break_ = true;
    }
    Accept(leaf, line);
    return CheckHeads();
  }

  // After the last line.
  void Finish() {
    if (report_.first_bad_event) return;
    if (pending_break_) {
      const uint64_t bad = report_.events - 2;
      Fail(bad, "event " + std::to_string(bad) + " was altered (hash chain broken)");
      return;
    }
    if (next_head_ < heads_.size()) {
      const uint64_t want = heads_.back().tree_size;
      Fail(report_.events, "the log ends after " + std::to_string(report_.events) +
                               " events but a signed head covers " + std::to_string(want) +
                               " (events removed from the end)");
      return;
    }
    report_.root = report_.range.Root(hasher_);
    report_.ok = true;
  }

  void FailAt(uint64_t index, std::string why) { Fail(index, std::move(why)); }

  // Continues after the checkpoint's events, which are not read again.
  void Resume(const internal::Checkpoint& c) {
    report_.range = c.range;
    report_.events = c.range.size();
    report_.first_event = c.range.size();
    report_.last_leaf = c.last_leaf;
    previous_ = c.last_leaf;
  }

 private:
  bool Fail(uint64_t index, std::string why) {
    if (!report_.first_bad_event) {
      report_.first_bad_event = index;
      report_.error = std::move(why);
    }
    return false;
  }

  void Accept(const Hash& leaf, std::string_view line) {
    report_.range.Append(leaf, hasher_);
    report_.last_leaf = leaf;
    previous_ = leaf;
    ++report_.events;
    if (options_.keep_leaves) report_.leaves.push_back(leaf);
    if (options_.keep_line && *options_.keep_line == report_.events - 1) report_.line = line;
  }

  bool CheckHeads() {
    while (next_head_ < heads_.size() && heads_[next_head_].tree_size == report_.events) {
      const SignedTreeHead& head = heads_[next_head_];
      if (report_.range.Root(hasher_) != head.root) {
        const uint64_t bad = pending_break_ ? report_.events - 2 : report_.events - 1;
        return Fail(bad, "event " + std::to_string(bad) + " was altered: the root over " +
                             std::to_string(head.tree_size) + " events differs from the signed head");
      }
      ++next_head_;
    }
    // Heads of size 0 are skipped above only when events == 0.
    return true;
  }

  const std::vector<SignedTreeHead>& heads_;
  VerifyReport& report_;
  const VerifyOptions& options_;
  MerkleHasher hasher_;
  Hash previous_{};
  bool pending_break_ = false;
  size_t next_head_ = 0;
};

}  // namespace

StatusOr<crypto::PublicKey> ReadAuditPublicKey(const std::filesystem::path& audit_dir) {
  const auto path = audit_dir / internal::kKeyFile;
  AEGIS_ASSIGN_OR_RETURN(std::string text, ReadFile(path, size_t{64} * 1024));
  const auto bad = [&](const Status& s) { return Status::DataLoss(path.string() + ": " + s.message()); };
  json::JsonDocument doc;
  if (Status s = doc.Parse(text, "key.json", 4); !s.ok()) return bad(s);
  auto fields = json::Fields::Of(doc.root(), "key.json", {"key_id", "public_key"});
  if (!fields.ok()) return bad(fields.status());
  auto pem = fields->String("public_key");
  auto key_id = fields->String("key_id");
  if (!pem.ok()) return bad(pem.status());
  if (!key_id.ok()) return bad(key_id.status());
  AEGIS_ASSIGN_OR_RETURN(auto key, crypto::PublicKey::FromPem(*pem));
  if (key.type() != crypto::KeyType::kEd25519)
    return Status::DataLoss(path.string() + ": the audit key is not Ed25519");
  if (key.fingerprint() != *key_id) return Status::DataLoss(path.string() + ": key_id does not match the public key");
  return key;
}

namespace {

// The checkpoint to start from: `newest` when given (it must not be older
// than the first segment kept), else the one at the first segment kept when
// older segments were archived (none: start at event 0).
StatusOr<std::optional<internal::Checkpoint>> StartingPoint(const std::filesystem::path& dir,
                                                            const std::vector<internal::Segment>& segments,
                                                            const std::optional<internal::Checkpoint>& newest,
                                                            VerifyReport& report) {
  const uint64_t first = segments.empty() ? 0 : segments.front().first_seq;
  if (newest && newest->range.size() >= first) return newest;
  if (first == 0) return std::optional<internal::Checkpoint>();
  auto checkpoints = internal::ReadCheckpoints(dir);
  if (!checkpoints.ok()) {
    report.error = checkpoints.status().message();
    return checkpoints.status();
  }
  for (auto it = checkpoints->rbegin(); it != checkpoints->rend(); ++it) {
    if (it->range.size() == first && it->segment == first && it->offset == 0) return std::optional(*it);
  }
  report.first_bad_event = 0;
  report.error = "the log starts at event " + std::to_string(first) +
                 " without a signed checkpoint there (segments removed, or archived without one)";
  return Status::DataLoss(report.error);
}

// The line that ends just before `offset` must be event K-1 with the checkpoint's last leaf.
bool LineBeforeFits(std::string_view text, const internal::Checkpoint& c) {
  if (c.offset == 0) return true;
  if (c.offset > text.size() || text[c.offset - 1] != '\n' || c.range.size() == 0) return false;
  const std::string_view before = text.substr(0, c.offset - 1);
  const size_t nl = before.rfind('\n');
  const std::string_view line = nl == std::string_view::npos ? before : before.substr(nl + 1);
  auto prefix = ParseLinePrefix(line);
  MerkleHasher hasher;
  return prefix && prefix->seq == c.range.size() - 1 && hasher.Leaf(line) == c.last_leaf;
}

}  // namespace

StatusOr<VerifyReport> VerifyAuditLog(const std::filesystem::path& audit_dir, const VerifyOptions& options) {
  // Archiving and retention do not remove segments during the walk (segments_lock.h).
  AEGIS_ASSIGN_OR_RETURN(auto lock, internal::SegmentsLock::Take(audit_dir, internal::SegmentsLock::Mode::kShared));
  VerifyReport report;
  AEGIS_ASSIGN_OR_RETURN(crypto::PublicKey key, ReadAuditPublicKey(audit_dir));
  report.key_id = key.fingerprint();
  if (options.pinned_key && options.pinned_key->fingerprint() != key.fingerprint()) {
    report.error = "the audit key in key.json (" + key.fingerprint() + ") is not the pinned key (" +
                   options.pinned_key->fingerprint() + ")";
    return report;
  }
  // Checkpoints, then heads, then events: each only ever refers to what was
  // durable before it, so a log being appended verifies.
  std::optional<internal::Checkpoint> newest;
  if (options.from_newest_checkpoint) {
    auto c = internal::NewestCheckpoint(audit_dir);
    if (!c.ok()) {
      report.error = c.status().message();
      return report;
    }
    newest = std::move(*c);
  }
  auto heads = ReadHeads(audit_dir, key, options.all_signatures, newest ? &*newest : nullptr, report);
  if (!heads.ok()) return report;
  report.heads = *heads;
  if (!report.heads.empty()) {
    report.signed_tree_size = report.heads.back().tree_size;
    report.replica = report.heads.back().replica;
  }
  AEGIS_ASSIGN_OR_RETURN(auto segments, internal::ListSegments(audit_dir));
  auto start = StartingPoint(audit_dir, segments, newest, report);
  if (!start.ok()) return report;
  uint64_t skip = 0;  // events a checkpoint vouches for
  if (*start) {
    if (Status s = internal::CheckCheckpoint(**start, key); !s.ok()) {
      report.first_bad_event = (*start)->range.size();
      report.error = s.message();
      return report;
    }
    skip = (*start)->range.size();
    if (options.keep_leaves && skip > 0) {
      report.error = "events before " + std::to_string(skip) + " are archived: prove them from the archive";
      return report;
    }
  }
  // Heads of size 0 cover nothing, and those within the checkpoint concern
  // events not read here: drop them from the walk (a head of the checkpoint's
  // own size must carry its root).
  std::vector<SignedTreeHead> walk;
  for (const auto& h : report.heads) {
    if (skip > 0 && h.tree_size == skip && h.root != (*start)->head.root) {
      report.first_bad_event = skip - 1;
      report.error = "the signed head of size " + std::to_string(skip) + " disagrees with the checkpoint there";
      return report;
    }
    if (h.tree_size > skip) walk.push_back(h);
  }
  EventWalker walker(walk, report, options);
  if (*start) walker.Resume(**start);
  for (size_t s = 0; s < segments.size(); ++s) {
    const auto& segment = segments[s];
    if (*start && segment.first_seq < (*start)->segment) continue;  // before the checkpoint
    const bool resumed_here = *start && segment.first_seq == (*start)->segment;
    if (!resumed_here && segment.first_seq != report.events) {
      walker.FailAt(report.events, "segment " + segment.path.filename().string() + " should start at event " +
                                       std::to_string(report.events) + " (a segment was removed or replaced)");
      return report;
    }
    // Compressed or not, the events are the same bytes; a segment that does not
    // decompress (truncated, corrupt, a zstd bomb) is tampering, not an error to stop at.
    auto file = internal::SegmentText::Read(segment);
    if (!file.ok() && file.status().code() == StatusCode::kDataLoss) {
      walker.FailAt(report.events, file.status().message());
      return report;
    }
    AEGIS_RETURN_IF_ERROR(file.status());
    std::string_view text = file->view();
    if (resumed_here) {
      if (!LineBeforeFits(text, **start)) {
        walker.FailAt(skip - 1, "event " + std::to_string(skip - 1) + " was altered or removed: segment " +
                                    segment.path.filename().string() +
                                    " does not match the signed checkpoint at event " + std::to_string(skip));
        return report;
      }
      text.remove_prefix((*start)->offset);
    }
    bool stopped = false;
    const size_t torn = ForEachLine(text, [&](std::string_view line) {
      if (walker.Line(line)) return true;
      stopped = true;
      return false;
    });
    if (stopped) return report;
    if (torn > 0) {
      if (s + 1 != segments.size()) {
        walker.FailAt(report.events, "segment " + segment.path.filename().string() + " ends in a partial line");
        return report;
      }
      report.torn_tail_bytes = torn;
    }
  }
  if (*start && (segments.empty() || segments.back().first_seq < (*start)->segment)) {
    walker.FailAt(skip, "the segment of the checkpoint at event " + std::to_string(skip) + " is missing");
    return report;
  }
  walker.Finish();
  report.unsigned_events = report.events - std::min(report.events, report.signed_tree_size);
  return report;
}

}  // namespace aegis::audit
