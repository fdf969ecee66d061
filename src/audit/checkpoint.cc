#include "checkpoint.h"

#include <nlohmann/json.hpp>

#include "aegis/common/strict_json.h"
#include "aegis/crypto/encoding.h"
#include "log_files.h"

namespace aegis::audit::internal {
namespace {

// A uint64 member that may be 0 (PositiveInteger refuses 0).
StatusOr<uint64_t> Unsigned(const json::Fields& fields, std::string_view key) {
  AEGIS_ASSIGN_OR_RETURN(auto v, fields.Required(key));
  uint64_t u = 0;
  if (v.get_uint64().get(u) != simdjson::SUCCESS) {
    return Status::DataLoss("checkpoint " + std::string(key) + " is not an unsigned integer");
  }
  return u;
}

std::optional<Hash> HashFromHex(std::string_view hex) {
  auto bytes = crypto::HexDecode(hex);
  Hash h{};
  if (!bytes || bytes->size() != h.size()) return std::nullopt;
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

}  // namespace

std::string CheckpointToJson(const Checkpoint& c) {
  nlohmann::ordered_json j;
  j["tree_size"] = c.range.size();
  j["segment"] = c.segment;
  j["offset"] = c.offset;
  j["heads_offset"] = c.heads_offset;
  j["last_leaf"] = crypto::HexEncode(c.last_leaf);
  j["frontier"] = nlohmann::ordered_json::array();
  for (const Hash& node : c.range.nodes()) j["frontier"].push_back(crypto::HexEncode(node));
  j["root"] = crypto::HexEncode(c.head.root);
  j["timestamp_ms"] = c.head.timestamp_ms;
  if (!c.head.replica.empty()) j["replica"] = c.head.replica;
  j["key_id"] = c.head.key_id;
  j["signature"] = crypto::Base64Encode(c.head.signature);
  return j.dump();
}

StatusOr<Checkpoint> CheckpointFromJson(std::string_view line) {
  const auto bad = [](const Status& s) { return Status::DataLoss("checkpoint: " + s.message()); };
  // A frontier has at most 64 nodes; a line longer than this is not ours.
  if (line.size() > 8192) return Status::DataLoss("checkpoint: line too long");
  json::JsonDocument doc;
  if (Status s = doc.Parse(line, "checkpoint", 3); !s.ok()) return bad(s);
  auto fields = json::Fields::Of(doc.root(), "checkpoint",
                                 {"tree_size", "segment", "offset", "heads_offset", "last_leaf", "frontier", "root",
                                  "timestamp_ms", "replica", "key_id", "signature"});
  if (!fields.ok()) return bad(fields.status());
  Checkpoint c;
  AEGIS_ASSIGN_OR_RETURN(uint64_t size, Unsigned(*fields, "tree_size"));
  AEGIS_ASSIGN_OR_RETURN(c.segment, Unsigned(*fields, "segment"));
  AEGIS_ASSIGN_OR_RETURN(c.offset, Unsigned(*fields, "offset"));
  AEGIS_ASSIGN_OR_RETURN(c.heads_offset, Unsigned(*fields, "heads_offset"));
  AEGIS_ASSIGN_OR_RETURN(uint64_t ts, Unsigned(*fields, "timestamp_ms"));
  if (c.segment > size || ts > static_cast<uint64_t>(INT64_MAX)) return Status::DataLoss("checkpoint: out of range");
  auto last_leaf = fields->String("last_leaf");
  auto root = fields->String("root");
  auto key_id = fields->String("key_id");
  auto sig = fields->String("signature");
  auto frontier = fields->Array("frontier");
  for (const Status* s : {&last_leaf.status(), &root.status(), &key_id.status(), &sig.status(), &frontier.status()}) {
    if (!s->ok()) return bad(*s);
  }
  auto leaf = HashFromHex(*last_leaf);
  auto root_hash = HashFromHex(*root);
  if (!leaf || !root_hash) return Status::DataLoss("checkpoint: a hash is not 32 hex bytes");
  c.last_leaf = *leaf;
  std::vector<Hash> nodes;
  for (auto node : *frontier) {
    std::string_view hex;
    if (node.get_string().get(hex) != simdjson::SUCCESS || nodes.size() == 64) {
      return Status::DataLoss("checkpoint: frontier is not a list of hashes");
    }
    auto h = HashFromHex(hex);
    if (!h) return Status::DataLoss("checkpoint: a frontier hash is not 32 hex bytes");
    nodes.push_back(*h);
  }
  auto range = CompactRange::FromNodes(size, std::move(nodes));
  if (!range) return Status::DataLoss("checkpoint: the frontier does not fit the tree size");
  c.range = std::move(*range);
  c.head.tree_size = size;
  c.head.root = *root_hash;
  c.head.timestamp_ms = static_cast<int64_t>(ts);
  c.head.key_id = std::string(*key_id);
  if (fields->Get("replica")) {
    auto replica = fields->String("replica");
    if (!replica.ok()) return bad(replica.status());
    if (Status s = CheckReplicaId(*replica); !s.ok()) return Status::DataLoss("checkpoint: replica: " + s.message());
    c.head.replica = std::string(*replica);
  }
  auto sig_bytes = crypto::Base64Decode(*sig);
  if (!sig_bytes || sig_bytes->empty() || sig_bytes->size() > 512) {
    return Status::DataLoss("checkpoint: signature is not base64");
  }
  c.head.signature = std::move(*sig_bytes);
  return c;
}

Status CheckCheckpoint(const Checkpoint& c, const crypto::PublicKey& key) {
  const std::string where = "checkpoint at event " + std::to_string(c.range.size());
  if (Status s = VerifyTreeHead(c.head, key); !s.ok()) return Status::DataLoss(where + ": " + s.message());
  MerkleHasher hasher;
  if (c.range.Root(hasher) != c.head.root) {
    return Status::DataLoss(where + ": its frontier does not hash to its signed root");
  }
  return Status::Ok();
}

StatusOr<std::vector<Checkpoint>> ReadCheckpoints(const std::filesystem::path& dir) {
  std::vector<Checkpoint> out;
  std::error_code ec;
  const auto path = dir / kCheckpointsFile;
  if (!std::filesystem::exists(path, ec)) return out;
  AEGIS_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  Status problem;
  ForEachLine(file.view(), [&](std::string_view line) {
    auto c = CheckpointFromJson(line);
    if (!c.ok()) {
      problem = Status::DataLoss(path.filename().string() + " line " + std::to_string(out.size() + 1) + ": " +
                                 c.status().message());
      return false;
    }
    out.push_back(std::move(*c));
    return true;
  });
  AEGIS_RETURN_IF_ERROR(problem);
  return out;
}

StatusOr<std::optional<Checkpoint>> NewestCheckpoint(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto path = dir / kCheckpointsFile;
  if (!std::filesystem::exists(path, ec)) return std::optional<Checkpoint>();
  AEGIS_ASSIGN_OR_RETURN(auto lines, LastLines(path, 1));
  if (lines.empty()) return std::optional<Checkpoint>();
  auto c = CheckpointFromJson(lines.back());
  if (!c.ok()) return Status::DataLoss(path.filename().string() + " (last line): " + c.status().message());
  return std::optional(std::move(*c));
}

}  // namespace aegis::audit::internal
