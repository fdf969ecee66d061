// The audit log's Merkle tree, exactly as RFC 6962 §2.1 (and RFC 9162 §2.1)
// defines it, so that any Certificate Transparency tooling can check our proofs:
//
//   leaf hash  = SHA-256(0x00 || event bytes)
//   node hash  = SHA-256(0x01 || left || right)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
//
// CompactRange keeps only the right edge of the tree (one hash per set bit of the
// size), so the writer appends in O(1) amortized and computes a root in O(log n).
// The proof functions take every leaf hash and are meant for offline tools.
//
// Thread-safety: MerkleHasher and CompactRange are not thread-safe; the free
// functions are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "aegis/crypto/hash.h"

namespace aegis::audit {

using Hash = crypto::Sha256Digest;

// Reuses one OpenSSL digest context for millions of small hashes.
class MerkleHasher {
 public:
  Hash Leaf(std::string_view data);
  Hash Node(const Hash& left, const Hash& right);
  static Hash EmptyRoot();

 private:
  crypto::Sha256Hasher hasher_;
};

class CompactRange {
 public:
  CompactRange() = default;
  // The range of a tree of `size` leaves from its right edge (what nodes()
  // returned); nullopt unless there is one node per set bit of `size`.
  static std::optional<CompactRange> FromNodes(uint64_t size, std::vector<Hash> nodes);

  void Append(const Hash& leaf, MerkleHasher& hasher);
  uint64_t size() const { return size_; }
  const std::vector<Hash>& nodes() const { return nodes_; }
  // MTH of the leaves appended so far (EmptyRoot() when none).
  Hash Root(MerkleHasher& hasher) const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> nodes_;  // perfect subtrees, largest (leftmost) first
};

// MTH(leaves).
Hash RootOf(std::span<const Hash> leaves, MerkleHasher& hasher);

// PATH(index, leaves) of RFC 6962 §2.1.1: the audit path, leaf side first.
// Requires index < leaves.size().
std::vector<Hash> InclusionProof(std::span<const Hash> leaves, uint64_t index, MerkleHasher& hasher);

// PROOF(old_size, leaves) of RFC 6962 §2.1.2. Requires 0 < old_size <= leaves.size().
std::vector<Hash> ConsistencyProof(std::span<const Hash> leaves, uint64_t old_size, MerkleHasher& hasher);

// The verification procedures of RFC 9162 §2.1.3.2 and §2.1.4.2.
bool VerifyInclusion(uint64_t index, uint64_t tree_size, const Hash& leaf, std::span<const Hash> path, const Hash& root,
                     MerkleHasher& hasher);
bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                       std::span<const Hash> proof, MerkleHasher& hasher);

}  // namespace aegis::audit
