// Signed tree heads: the server's signed statement "the audit log had N events
// and this Merkle root at this time". Stored one JSON object per line in
// DIR/audit/heads.jsonl:
//
//   {"tree_size":N,"root":"<hex>","timestamp_ms":T,"time":"<RFC 3339>",
//    "key_id":"<hex SHA-256 of the key's DER SubjectPublicKeyInfo>","signature":"<base64>"}
//
// The signature is Ed25519 over the binary signing input (TreeHeadSigningInput):
//
//   "AEGIS-AUDIT-STH-V1" || 0x00 || uint64be(tree_size) || uint64be(timestamp_ms) || root (32 bytes)
//
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
  std::string key_id;
  std::vector<uint8_t> signature;

  std::chrono::system_clock::time_point time() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(timestamp_ms));
  }
};

std::vector<uint8_t> TreeHeadSigningInput(uint64_t tree_size, int64_t timestamp_ms, const Hash& root);

StatusOr<SignedTreeHead> SignTreeHead(uint64_t tree_size, const Hash& root, std::chrono::system_clock::time_point time,
                                      const crypto::PrivateKey& key);

// Ok when `head` is signed by `key` (and names it); DataLoss otherwise.
Status VerifyTreeHead(const SignedTreeHead& head, const crypto::PublicKey& key);

std::string HeadToJson(const SignedTreeHead& head);
// Strict: every member present with the right type, hex/base64 well formed.
StatusOr<SignedTreeHead> HeadFromJson(std::string_view line);

}  // namespace aegis::audit
