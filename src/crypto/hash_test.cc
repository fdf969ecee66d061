#include "aegis/crypto/hash.h"

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"

namespace aegis::crypto {
namespace {

TEST(HashTest, KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, StreamingMatchesOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 31);
  Sha256Hasher hasher;
  for (size_t off = 0; off < data.size(); off += 777) {
    hasher.Update(AsBytes(std::string_view(data).substr(off, 777)));
  }
  EXPECT_EQ(hasher.Finish(), Sha256(data));
}

TEST(HashTest, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abc")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abd")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abcd")));
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
}

}  // namespace
}  // namespace aegis::crypto
