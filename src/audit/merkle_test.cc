// The Merkle tree against RFC 6962's definitions, computed naively here, and
// against the known-answer roots of Certificate Transparency's reference tests.
#include "aegis/audit/merkle.h"

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"

namespace aegis::audit {
namespace {

// MTH by the recursive definition.
Hash NaiveRoot(std::span<const Hash> leaves, MerkleHasher& h) {
  if (leaves.empty()) return MerkleHasher::EmptyRoot();
  if (leaves.size() == 1) return leaves[0];
  uint64_t k = 1;
  while (k * 2 < leaves.size()) k *= 2;
  return h.Node(NaiveRoot(leaves.first(k), h), NaiveRoot(leaves.subspan(k), h));
}

std::vector<Hash> Leaves(size_t n, MerkleHasher& h) {
  std::vector<Hash> out;
  for (size_t i = 0; i < n; ++i) out.push_back(h.Leaf("event " + std::to_string(i)));
  return out;
}

TEST(Merkle, EmptyTreeAndLeafHashFollowRfc6962) {
  MerkleHasher h;
  EXPECT_EQ(crypto::HexEncode(MerkleHasher::EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Leaf hash of the empty string: SHA-256(0x00).
  EXPECT_EQ(crypto::HexEncode(h.Leaf("")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(Merkle, CtReferenceRootsForTheEightTestLeaves) {
  // The leaves of certificate-transparency's merkle_tree_test (hex inputs) and
  // the roots it expects for trees of 1..8 leaves.
  const char* inputs[] = {
      "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
  const char* roots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  MerkleHasher h;
  CompactRange range;
  for (int i = 0; i < 8; ++i) {
    auto bytes = crypto::HexDecode(inputs[i]);
    ASSERT_TRUE(bytes);
    range.Append(h.Leaf(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())), h);
    EXPECT_EQ(crypto::HexEncode(range.Root(h)), roots[i]) << "tree of " << i + 1 << " leaves";
  }
}

TEST(Merkle, CompactRangeMatchesTheDefinitionForEverySize) {
  MerkleHasher h;
  auto leaves = Leaves(70, h);
  CompactRange range;
  for (size_t n = 1; n <= leaves.size(); ++n) {
    range.Append(leaves[n - 1], h);
    ASSERT_EQ(range.Root(h), NaiveRoot(std::span(leaves).first(n), h)) << n;
    ASSERT_EQ(RootOf(std::span(leaves).first(n), h), range.Root(h)) << n;
  }
}

TEST(Merkle, InclusionProofsVerifyAndFailWhenAnythingChanges) {
  MerkleHasher h;
  auto leaves = Leaves(37, h);
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    auto tree = std::span(leaves).first(n);
    const Hash root = RootOf(tree, h);
    for (uint64_t i = 0; i < n; ++i) {
      auto path = InclusionProof(tree, i, h);
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], path, root, h)) << i << "/" << n;
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion((i + 1) % n, n, leaves[i], path, root, h));
        auto bad = path;
        bad[0][0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(i, n, leaves[i], bad, root, h));
      }
      EXPECT_FALSE(VerifyInclusion(i, n, h.Leaf("other"), path, root, h));
    }
  }
}

TEST(Merkle, ConsistencyProofsVerifyAndFailWhenAnythingChanges) {
  MerkleHasher h;
  auto leaves = Leaves(33, h);
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const Hash new_root = RootOf(std::span(leaves).first(n), h);
    for (uint64_t m = 1; m <= n; ++m) {
      const Hash old_root = RootOf(std::span(leaves).first(m), h);
      auto proof = ConsistencyProof(std::span(leaves).first(n), m, h);
      ASSERT_TRUE(VerifyConsistency(m, n, old_root, new_root, proof, h)) << m << "->" << n;
      if (m < n) {
        EXPECT_FALSE(VerifyConsistency(m, n, h.Leaf("x"), new_root, proof, h));
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, h.Leaf("x"), proof, h));
        auto bad = proof;
        bad.back()[5] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, bad, h));
      }
    }
  }
}

}  // namespace
}  // namespace aegis::audit
