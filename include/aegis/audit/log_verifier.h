// Offline verification of an audit directory (`aegis audit verify`), also run by
// the server at start-up and in the background. Needs no key material but the
// public key: recomputes every leaf, the Merkle root at every signed head, checks
// every head's signature, and names the first event that does not fit.
//
// What is detected: a changed byte in any event (root mismatch at the first head
// covering it; `prev` pinpoints which event), a removed, inserted or reordered
// event (`seq`), a dropped tail under a signed head, a removed or replaced
// segment, a head with a bad signature, from another key, or out of order.
// Where it starts: from event 0, or — once older segments were archived
// (`aegis audit archive`) — from the signed checkpoint at the first segment kept
// (checkpoint.h: a signed head plus the tree's right edge, trusted because it
// hashes to the signed root). The server's start-up resumes from the newest
// checkpoint instead, so its start-up time does not grow with the log; the
// full walk runs in the background right after.
//
// Events after the newest head are reported as unsigned (not an error: the
// writer signs within a second); a torn last line of the newest segment (a
// write cut short by a crash) is reported and ignored.
//
// Thread-safety: stateless; safe to run while a server appends (it reads heads
// first, then events, and heads only ever cover durable events).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aegis/audit/merkle.h"
#include "aegis/audit/tree_head.h"
#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"

namespace aegis::audit {

struct VerifyOptions {
  // The auditor's own copy of the audit public key; when set, key.json must match it.
  std::optional<crypto::PublicKey> pinned_key;
  bool keep_leaves = false;           // fill VerifyReport::leaves (for proofs)
  std::optional<uint64_t> keep_line;  // fill VerifyReport::line with this event's line
  // Check every head's signature (aegis audit verify). The server's own start-up
  // and background checks verify the newest head's signature only — its root
  // covers every event — and still check every head's root, so a year of one
  // head a second does not cost minutes of signature checks at each start.
  bool all_signatures = true;
  // Resume from the newest checkpoint (start-up) rather than from the first event kept.
  bool from_newest_checkpoint = false;
};

struct VerifyReport {
  bool ok = false;
  uint64_t events = 0;  // the tree size: events before first_event (vouched for by a checkpoint) + lines read
  // The first event read: 0, or the tree size of the checkpoint it resumed from.
  uint64_t first_event = 0;
  Hash root{};  // MTH over all of them
  uint64_t signed_tree_size = 0;
  uint64_t unsigned_events = 0;  // events after the newest head
  std::string key_id;
  // The replica the newest signed head names (signed with it); empty when it
  // names none (a single server's log) or there is no head yet.
  std::string replica;
  std::optional<uint64_t> first_bad_event;
  std::string error;  // why not ok (names the event or head)
  uint64_t torn_tail_bytes = 0;
  std::vector<SignedTreeHead> heads;
  // For the writer: the tree's right edge and the last leaf after the last good event.
  CompactRange range;
  Hash last_leaf{};
  std::vector<Hash> leaves;  // keep_leaves only, from first_event: 32 bytes an event, not the events themselves
  std::string line;          // keep_line only
};

// Reads DIR/audit. A missing or unreadable key.json is an error Status; every
// integrity problem is a report with ok = false.
StatusOr<VerifyReport> VerifyAuditLog(const std::filesystem::path& audit_dir, const VerifyOptions& options = {});

// The audit public key of a directory (key.json), checked against its key_id.
StatusOr<crypto::PublicKey> ReadAuditPublicKey(const std::filesystem::path& audit_dir);

}  // namespace aegis::audit
