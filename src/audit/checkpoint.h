// Checkpoints (internal to src/audit): where verification may resume without
// re-reading the events before it. One JSON object per line of
// DIR/audit/checkpoints.jsonl:
//
//   {"tree_size":K,"segment":S,"offset":B,"heads_offset":H,"last_leaf":"<hex>",
//    "frontier":["<hex>",…],"root":"<hex>","timestamp_ms":T,"key_id":"<hex>","signature":"<base64>"}
//
// K events come before it; event K is at byte B of the segment that starts at
// seq S (B = 0 and S = K at a segment boundary). `frontier` is the Merkle
// tree's right edge over those K events (CompactRange::nodes) and `last_leaf`
// the leaf hash of event K-1. root/timestamp_ms/key_id/signature are a signed
// tree head of size K (tree_head.h), also the line of heads.jsonl that ends at
// byte H (so start-up reads only the heads after it).
//
// Why it can be trusted without the events before it: the frontier determines
// the root, and the root is signed. A frontier that hashes to the signed root
// is the true one (anything else is a SHA-256 second preimage); `last_leaf`
// only names the first altered event, the tree proves it. A checkpoint that
// fails this check is tampering, never a reason to trust less data.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/audit/merkle.h"
#include "aegis/audit/tree_head.h"
#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"

namespace aegis::audit::internal {

inline constexpr std::string_view kCheckpointsFile = "checkpoints.jsonl";

struct Checkpoint {
  uint64_t segment = 0;
  uint64_t offset = 0;
  uint64_t heads_offset = 0;
  Hash last_leaf{};
  CompactRange range;   // its size is the checkpoint's tree size
  SignedTreeHead head;  // head.tree_size == range.size()
};

std::string CheckpointToJson(const Checkpoint& checkpoint);
// Strict (every member, right types, hex and base64 well formed, one frontier
// node per set bit of the size); DataLoss otherwise. Does not check the signature.
StatusOr<Checkpoint> CheckpointFromJson(std::string_view line);
// The head is signed by `key` and the frontier hashes to its root.
Status CheckCheckpoint(const Checkpoint& checkpoint, const crypto::PublicKey& key);

// Every complete line of `dir`/checkpoints.jsonl, parsed, oldest first (none
// when the file does not exist). A line that does not parse is DataLoss.
StatusOr<std::vector<Checkpoint>> ReadCheckpoints(const std::filesystem::path& dir);
// The last complete line only (start-up); nullopt when there is none.
StatusOr<std::optional<Checkpoint>> NewestCheckpoint(const std::filesystem::path& dir);

}  // namespace aegis::audit::internal
