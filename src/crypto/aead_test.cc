#include "aegis/crypto/aead.h"

#include <vector>

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/random.h"

namespace aegis::crypto {
namespace {

std::vector<uint8_t> Hex(std::string_view hex) { return *HexDecode(hex); }

TEST(AeadTest, NistGcmVector) {
  // NIST GCM spec test case 16 (AES-256, 60-byte plaintext, 20-byte AAD) with a 12-byte IV.
  const auto key = Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto nonce = Hex("cafebabefacedbaddecaf888");
  const auto pt =
      Hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0d"
          "e657ba637b39");
  const auto aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  std::vector<uint8_t> sealed(pt.size() + kAeadTagSize);
  ASSERT_TRUE(AeadSeal(key, nonce, aad, pt, sealed).ok());
  EXPECT_EQ(HexEncode(sealed),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393"
            "ba7a0abcc9f662"
            "76fc6ece0f4e1768cddf8853bb2d551b");
  std::vector<uint8_t> opened(pt.size());
  ASSERT_TRUE(AeadOpen(key, nonce, aad, sealed, opened).ok());
  EXPECT_EQ(opened, pt);
}

class AeadRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RandomBytes(key_).ok());
    ASSERT_TRUE(RandomBytes(nonce_).ok());
    plaintext_.assign(1000, 0x42);
    sealed_.resize(plaintext_.size() + kAeadTagSize);
    ASSERT_TRUE(AeadSeal(key_, nonce_, AsBytes("aad"), plaintext_, sealed_).ok());
  }
  std::vector<uint8_t> key_ = std::vector<uint8_t>(kAeadKeySize);
  std::vector<uint8_t> nonce_ = std::vector<uint8_t>(kAeadNonceSize);
  std::vector<uint8_t> plaintext_, sealed_;
};

TEST_F(AeadRoundTrip, AnyFlippedBitIsDataLossAndOutputIsWiped) {
  std::vector<uint8_t> out(plaintext_.size());
  for (size_t i = 0; i < sealed_.size(); i += 37) {
    auto tampered = sealed_;
    tampered[i] ^= 0x01;
    std::fill(out.begin(), out.end(), 0x77);
    EXPECT_EQ(AeadOpen(key_, nonce_, AsBytes("aad"), tampered, out).code(), StatusCode::kDataLoss) << i;
    EXPECT_EQ(out, std::vector<uint8_t>(out.size(), 0)) << "unauthenticated bytes left at " << i;
  }
  auto wrong_key = key_;
  wrong_key[0] ^= 1;
  EXPECT_EQ(AeadOpen(wrong_key, nonce_, AsBytes("aad"), sealed_, out).code(), StatusCode::kDataLoss);
  auto wrong_nonce = nonce_;
  wrong_nonce[11] ^= 1;
  EXPECT_EQ(AeadOpen(key_, wrong_nonce, AsBytes("aad"), sealed_, out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(AeadOpen(key_, nonce_, AsBytes("aae"), sealed_, out).code(), StatusCode::kDataLoss);
  std::vector<uint8_t> short_out(plaintext_.size() - 1);
  EXPECT_FALSE(AeadOpen(key_, nonce_, AsBytes("aad"), std::span(sealed_).first(sealed_.size() - 1), short_out).ok());
  EXPECT_EQ(AeadOpen(key_, nonce_, AsBytes("aad"), std::span(sealed_).first(10), {}).code(), StatusCode::kDataLoss);
}

TEST_F(AeadRoundTrip, RejectsBadSizes) {
  std::vector<uint8_t> out(plaintext_.size());
  EXPECT_EQ(AeadOpen(std::span(key_).first(16), nonce_, {}, sealed_, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AeadOpen(key_, std::span(nonce_).first(8), {}, sealed_, out).code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> small(plaintext_.size());
  EXPECT_EQ(AeadSeal(key_, nonce_, {}, plaintext_, small).code(), StatusCode::kInvalidArgument);
}

TEST_F(AeadRoundTrip, ContextReusesKeyAndWorksInPlace) {
  auto ctx = AeadContext::Create(key_);
  ASSERT_TRUE(ctx.ok());
  std::vector<uint8_t> out(plaintext_.size());
  ASSERT_TRUE(ctx->Open(nonce_, AsBytes("aad"), sealed_, out).ok());
  EXPECT_EQ(out, plaintext_);
  // Detached + in place, alternating directions on the same context.
  std::vector<uint8_t> buf = plaintext_;
  std::vector<uint8_t> tag(kAeadTagSize);
  ASSERT_TRUE(ctx->SealDetached(nonce_, {}, buf, buf, tag).ok());
  EXPECT_NE(buf, plaintext_);
  ASSERT_TRUE(ctx->OpenDetached(nonce_, {}, buf, tag, buf).ok());
  EXPECT_EQ(buf, plaintext_);
  // Empty plaintext still authenticates the AAD.
  std::vector<uint8_t> tag_only(kAeadTagSize);
  ASSERT_TRUE(ctx->Seal(nonce_, AsBytes("x"), {}, tag_only).ok());
  EXPECT_TRUE(ctx->Open(nonce_, AsBytes("x"), tag_only, {}).ok());
  EXPECT_EQ(ctx->Open(nonce_, AsBytes("y"), tag_only, {}).code(), StatusCode::kDataLoss);
  // Overlapping but shifted buffers would corrupt data inside OpenSSL: refused.
  std::vector<uint8_t> big(100);
  EXPECT_FALSE(ctx->SealDetached(nonce_, {}, std::span(big).first(50), std::span(big).subspan(1, 50), tag).ok());
}

}  // namespace
}  // namespace aegis::crypto
