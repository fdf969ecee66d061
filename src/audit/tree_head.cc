#include "aegis/audit/tree_head.h"

#include <nlohmann/json.hpp>

#include "aegis/common/clock.h"
#include "aegis/common/strict_json.h"
#include "aegis/crypto/encoding.h"

namespace aegis::audit {
namespace {

constexpr std::string_view kDomain = "AEGIS-AUDIT-STH-V1";
constexpr std::string_view kReplicaDomain = "AEGIS-AUDIT-STH-V2";
constexpr size_t kMaxReplicaId = 63;

void PutUint64(uint64_t v, std::vector<uint8_t>& out) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

}  // namespace

Status CheckReplicaId(std::string_view id) {
  if (id.empty() || id.size() > kMaxReplicaId) {
    return Status::InvalidArgument("a replica id has 1 to " + std::to_string(kMaxReplicaId) + " characters");
  }
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(id.front())) return Status::InvalidArgument("a replica id starts with a letter or a digit");
  for (char c : id) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') {
      return Status::InvalidArgument("a replica id has only letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

std::vector<uint8_t> TreeHeadSigningInput(uint64_t tree_size, int64_t timestamp_ms, const Hash& root,
                                          std::string_view replica) {
  const std::string_view domain = replica.empty() ? kDomain : kReplicaDomain;
  std::vector<uint8_t> input(domain.begin(), domain.end());
  input.push_back(0);
  PutUint64(tree_size, input);
  PutUint64(static_cast<uint64_t>(timestamp_ms), input);
  input.insert(input.end(), root.begin(), root.end());
  if (!replica.empty()) {
    // Length-prefixed, so the input stays unambiguous should members follow it.
    input.push_back(static_cast<uint8_t>(std::min(replica.size(), kMaxReplicaId)));
    input.insert(input.end(), replica.begin(), replica.begin() + std::min(replica.size(), kMaxReplicaId));
  }
  return input;
}

StatusOr<SignedTreeHead> SignTreeHead(uint64_t tree_size, const Hash& root, std::chrono::system_clock::time_point time,
                                      const crypto::PrivateKey& key, std::string_view replica) {
  if (!replica.empty()) AEGIS_RETURN_IF_ERROR(CheckReplicaId(replica));
  SignedTreeHead head;
  head.tree_size = tree_size;
  head.root = root;
  head.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  head.replica = std::string(replica);
  head.key_id = key.public_key().fingerprint();
  AEGIS_ASSIGN_OR_RETURN(head.signature,
                         key.Sign(TreeHeadSigningInput(tree_size, head.timestamp_ms, root, head.replica)));
  return head;
}

Status VerifyTreeHead(const SignedTreeHead& head, const crypto::PublicKey& key) {
  if (head.key_id != key.fingerprint()) {
    return Status::DataLoss("tree head at size " + std::to_string(head.tree_size) + " names key " + head.key_id +
                            ", not the audit key " + key.fingerprint());
  }
  if (!head.replica.empty() && !CheckReplicaId(head.replica).ok()) {
    return Status::DataLoss("tree head at size " + std::to_string(head.tree_size) + " names no valid replica");
  }
  if (!key.Verify(TreeHeadSigningInput(head.tree_size, head.timestamp_ms, head.root, head.replica), head.signature)
           .ok()) {
    return Status::DataLoss("tree head at size " + std::to_string(head.tree_size) + " has a bad signature");
  }
  return Status::Ok();
}

std::string HeadToJson(const SignedTreeHead& head) {
  nlohmann::ordered_json j;
  j["tree_size"] = head.tree_size;
  j["root"] = crypto::HexEncode(head.root);
  j["timestamp_ms"] = head.timestamp_ms;
  j["time"] = FormatRfc3339(head.time());
  if (!head.replica.empty()) j["replica"] = head.replica;
  j["key_id"] = head.key_id;
  j["signature"] = crypto::Base64Encode(head.signature);
  return j.dump();
}

StatusOr<SignedTreeHead> HeadFromJson(std::string_view line) {
  // heads.jsonl is read back from disk: parsed as untrusted input, duplicate members refused.
  const auto bad = [](const Status& s) { return Status::DataLoss(s.message()); };
  json::JsonDocument doc;
  if (Status s = doc.Parse(line, "tree head", 4); !s.ok()) return bad(s);
  auto fields = json::Fields::Of(doc.root(), "tree head",
                                 {"tree_size", "root", "timestamp_ms", "replica", "key_id", "signature"});
  if (!fields.ok()) return bad(fields.status());
  auto size = fields->PositiveInteger("tree_size");
  auto ts = fields->PositiveInteger("timestamp_ms");
  auto root = fields->String("root");
  auto key_id = fields->String("key_id");
  auto sig = fields->String("signature");
  for (const Status* s : {&size.status(), &ts.status(), &root.status(), &key_id.status(), &sig.status()}) {
    if (!s->ok()) return bad(*s);
  }
  if (*ts > static_cast<uint64_t>(INT64_MAX)) return Status::DataLoss("tree head timestamp_ms is out of range");
  SignedTreeHead head;
  head.tree_size = *size;
  head.timestamp_ms = static_cast<int64_t>(*ts);
  head.key_id = std::string(*key_id);
  if (fields->Get("replica")) {
    auto replica = fields->String("replica");
    if (!replica.ok()) return bad(replica.status());
    if (Status s = CheckReplicaId(*replica); !s.ok()) return Status::DataLoss("tree head replica: " + s.message());
    head.replica = std::string(*replica);
  }
  auto root_bytes = crypto::HexDecode(*root);
  if (!root_bytes || root_bytes->size() != head.root.size())
    return Status::DataLoss("tree head root is not 32 hex bytes");
  std::copy(root_bytes->begin(), root_bytes->end(), head.root.begin());
  auto sig_bytes = crypto::Base64Decode(*sig);
  if (!sig_bytes || sig_bytes->empty() || sig_bytes->size() > 512)
    return Status::DataLoss("tree head signature is not base64");
  head.signature = std::move(*sig_bytes);
  return head;
}

}  // namespace aegis::audit
