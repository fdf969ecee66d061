// Signed tree heads: the server's signed statement "the audit log of replica R
// had N events and this Merkle root at this time". Stored one JSON object per
// line in DIR/audit/heads.jsonl:
//
//   {"tree_size":N,"root":"<hex>","timestamp_ms":T,"time":"<RFC 3339>",["replica":"<id>",]
//    "key_id":"<hex SHA-256 of the key's DER SubjectPublicKeyInfo>","signature":"<base64>"}
//
// The signature is Ed25519 over the binary signing input (TreeHeadSigningInput):
//
//   without a replica (a single server's log, and every head written before
//   replicas existed):
//   "AEGIS-AUDIT-STH-V1" || 0x00 || uint64be(tree_size) || uint64be(timestamp_ms) || root (32 bytes)
//   with one (a replica of a fleet sharing PostgreSQL, docs/scale-out.md):
//   "AEGIS-AUDIT-STH-V2" || 0x00 || uint64be(tree_size) || uint64be(timestamp_ms) || root (32 bytes)
//     || uint8(length of replica) || replica (ASCII)
//
// The two domains differ, so removing, adding or changing a head's replica
// breaks its signature: a head cannot be passed off as another replica's.
// `time` is informational; only the signed fields are trusted.
//
// Thread-safety: value types and stateless functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/audit/merkle.h"
#include "aegis/common/status.h"
#include "aegis/crypto/signature.h"

namespace aegis::audit {

struct SignedTreeHead {
  uint64_t tree_size = 0;
  Hash root{};
  int64_t timestamp_ms = 0;  // milliseconds since the Unix epoch
  // The replica whose log this is (CheckReplicaId); empty for a log that names none.
  std::string replica;
  std::string key_id;
  std::vector<uint8_t> signature;

  std::chrono::system_clock::time_point time() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(timestamp_ms));
  }
};

// Ok when `id` can name a replica: 1 to 63 ASCII letters, digits, '.', '_' or
// '-', starting with a letter or digit (a Kubernetes pod name or a short host
// name fits). InvalidArgument saying what is wrong otherwise.
Status CheckReplicaId(std::string_view id);

// `replica` empty: the V1 input; otherwise V2 (CheckReplicaId must accept it).
std::vector<uint8_t> TreeHeadSigningInput(uint64_t tree_size, int64_t timestamp_ms, const Hash& root,
                                          std::string_view replica = {});

StatusOr<SignedTreeHead> SignTreeHead(uint64_t tree_size, const Hash& root, std::chrono::system_clock::time_point time,
                                      const crypto::PrivateKey& key, std::string_view replica = {});

// Ok when `head` is signed by `key` (and names it); DataLoss otherwise.
Status VerifyTreeHead(const SignedTreeHead& head, const crypto::PublicKey& key);

std::string HeadToJson(const SignedTreeHead& head);
// Strict: every member present with the right type, hex/base64 well formed,
// "replica" (optional) a valid replica id.
StatusOr<SignedTreeHead> HeadFromJson(std::string_view line);

}  // namespace aegis::audit
