#include "aegis/audit/merkle.h"

#include <bit>

#include "aegis/crypto/encoding.h"

namespace aegis::audit {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// The largest power of two strictly below n (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

void SubProof(std::span<const Hash> leaves, uint64_t m, bool whole, MerkleHasher& hasher, std::vector<Hash>& out) {
  const uint64_t n = leaves.size();
  if (m == n) {
    if (!whole) out.push_back(RootOf(leaves, hasher));
    return;
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubProof(leaves.first(k), m, whole, hasher, out);
    out.push_back(RootOf(leaves.subspan(k), hasher));
  } else {
    SubProof(leaves.subspan(k), m - k, false, hasher, out);
    out.push_back(RootOf(leaves.first(k), hasher));
  }
}

}  // namespace

Hash MerkleHasher::Leaf(std::string_view data) {
  hasher_.Reset();
  hasher_.Update(std::span(&kLeafPrefix, 1));
  hasher_.Update(crypto::AsBytes(data));
  return hasher_.Finish();
}

Hash MerkleHasher::Node(const Hash& left, const Hash& right) {
  hasher_.Reset();
  hasher_.Update(std::span(&kNodePrefix, 1));
  hasher_.Update(left);
  hasher_.Update(right);
  return hasher_.Finish();
}

Hash MerkleHasher::EmptyRoot() { return crypto::Sha256(std::string_view()); }

std::optional<CompactRange> CompactRange::FromNodes(uint64_t size, std::vector<Hash> nodes) {
  if (nodes.size() != static_cast<size_t>(std::popcount(size))) return std::nullopt;
  CompactRange range;
  range.size_ = size;
  range.nodes_ = std::move(nodes);
  return range;
}

void CompactRange::Append(const Hash& leaf, MerkleHasher& hasher) {
  // Each trailing 1 bit of the old size is a perfect subtree the new leaf completes.
  Hash carry = leaf;
  for (uint64_t s = size_; s & 1; s >>= 1) {
    carry = hasher.Node(nodes_.back(), carry);
    nodes_.pop_back();
  }
  nodes_.push_back(carry);
  ++size_;
}

Hash CompactRange::Root(MerkleHasher& hasher) const {
  if (nodes_.empty()) return MerkleHasher::EmptyRoot();
  Hash root = nodes_.back();
  for (size_t i = nodes_.size() - 1; i-- > 0;) root = hasher.Node(nodes_[i], root);
  return root;
}

Hash RootOf(std::span<const Hash> leaves, MerkleHasher& hasher) {
  CompactRange range;
  for (const Hash& leaf : leaves) range.Append(leaf, hasher);
  return range.Root(hasher);
}

std::vector<Hash> InclusionProof(std::span<const Hash> leaves, uint64_t index, MerkleHasher& hasher) {
  std::vector<Hash> path;
  // Walk down from the root, collecting siblings; the path lists them leaf first.
  while (leaves.size() > 1) {
    const uint64_t k = SplitPoint(leaves.size());
    if (index < k) {
      path.push_back(RootOf(leaves.subspan(k), hasher));
      leaves = leaves.first(k);
    } else {
      path.push_back(RootOf(leaves.first(k), hasher));
      leaves = leaves.subspan(k);
      index -= k;
    }
  }
  return {path.rbegin(), path.rend()};
}

std::vector<Hash> ConsistencyProof(std::span<const Hash> leaves, uint64_t old_size, MerkleHasher& hasher) {
  std::vector<Hash> out;
  if (old_size == 0 || old_size > leaves.size()) return out;
  SubProof(leaves, old_size, true, hasher, out);
  return out;
}

bool VerifyInclusion(uint64_t index, uint64_t tree_size, const Hash& leaf, std::span<const Hash> path, const Hash& root,
                     MerkleHasher& hasher) {
  if (index >= tree_size) return false;
  uint64_t fn = index, sn = tree_size - 1;
  Hash r = leaf;
  for (const Hash& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = hasher.Node(p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = hasher.Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                       std::span<const Hash> proof, MerkleHasher& hasher) {
  if (old_size == 0 || old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;
  std::vector<Hash> path(proof.begin(), proof.end());
  // When old_size is a power of two, the old root is the proof's implicit first node.
  if (std::has_single_bit(old_size)) path.insert(path.begin(), old_root);
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    if (sn == 0) return false;
    const Hash& c = path[i];
    if ((fn & 1) || fn == sn) {
      fr = hasher.Node(c, fr);
      sr = hasher.Node(c, sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = hasher.Node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

}  // namespace aegis::audit
