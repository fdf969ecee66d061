#include "aegis/crypto/aead.h"

#include <vector>

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/random.h"
#include "common/testing/status_matchers.h"

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
  ASSERT_OK(AeadSeal(key, nonce, aad, pt, sealed));
  EXPECT_EQ(HexEncode(sealed),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393"
            "ba7a0abcc9f662"
            "76fc6ece0f4e1768cddf8853bb2d551b");
  std::vector<uint8_t> opened(pt.size());
  ASSERT_OK(AeadOpen(key, nonce, aad, sealed, opened));
  EXPECT_EQ(opened, pt);
}

class AeadRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(RandomBytes(key_));
    ASSERT_OK(RandomBytes(nonce_));
    plaintext_.assign(1000, 0x42);
    sealed_.resize(plaintext_.size() + kAeadTagSize);
    ASSERT_OK(AeadSeal(key_, nonce_, AsBytes("aad"), plaintext_, sealed_));
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
    EXPECT_STATUS_IS(AeadOpen(key_, nonce_, AsBytes("aad"), tampered, out), StatusCode::kDataLoss) << i;
    EXPECT_EQ(out, std::vector<uint8_t>(out.size(), 0)) << "unauthenticated bytes left at " << i;
  }
  auto wrong_key = key_;
  wrong_key[0] ^= 1;
  EXPECT_STATUS_IS(AeadOpen(wrong_key, nonce_, AsBytes("aad"), sealed_, out), StatusCode::kDataLoss);
  auto wrong_nonce = nonce_;
  wrong_nonce[11] ^= 1;
  EXPECT_STATUS_IS(AeadOpen(key_, wrong_nonce, AsBytes("aad"), sealed_, out), StatusCode::kDataLoss);
  EXPECT_STATUS_IS(AeadOpen(key_, nonce_, AsBytes("aae"), sealed_, out), StatusCode::kDataLoss);
  std::vector<uint8_t> short_out(plaintext_.size() - 1);
  EXPECT_FALSE(AeadOpen(key_, nonce_, AsBytes("aad"), std::span(sealed_).first(sealed_.size() - 1), short_out).ok());
  EXPECT_STATUS_IS(AeadOpen(key_, nonce_, AsBytes("aad"), std::span(sealed_).first(10), {}), StatusCode::kDataLoss);
}

TEST_F(AeadRoundTrip, RejectsBadSizes) {
  std::vector<uint8_t> out(plaintext_.size());
  EXPECT_STATUS_IS(AeadOpen(std::span(key_).first(16), nonce_, {}, sealed_, out), StatusCode::kInvalidArgument);
  EXPECT_STATUS_IS(AeadOpen(key_, std::span(nonce_).first(8), {}, sealed_, out), StatusCode::kInvalidArgument);
  std::vector<uint8_t> small(plaintext_.size());
  EXPECT_STATUS_IS(AeadSeal(key_, nonce_, {}, plaintext_, small), StatusCode::kInvalidArgument);
}

TEST_F(AeadRoundTrip, ContextReusesKeyAndWorksInPlace) {
  auto ctx = AeadContext::Create(key_);
  ASSERT_OK(ctx);
  std::vector<uint8_t> out(plaintext_.size());
  ASSERT_OK(ctx->Open(nonce_, AsBytes("aad"), sealed_, out));
  EXPECT_EQ(out, plaintext_);
  // Detached + in place, alternating directions on the same context.
  std::vector<uint8_t> buf = plaintext_;
  std::vector<uint8_t> tag(kAeadTagSize);
  ASSERT_OK(ctx->SealDetached(nonce_, {}, buf, buf, tag));
  EXPECT_NE(buf, plaintext_);
  ASSERT_OK(ctx->OpenDetached(nonce_, {}, buf, tag, buf));
  EXPECT_EQ(buf, plaintext_);
  // Empty plaintext still authenticates the AAD.
  std::vector<uint8_t> tag_only(kAeadTagSize);
  ASSERT_OK(ctx->Seal(nonce_, AsBytes("x"), {}, tag_only));
  EXPECT_OK(ctx->Open(nonce_, AsBytes("x"), tag_only, {}));
  EXPECT_STATUS_IS(ctx->Open(nonce_, AsBytes("y"), tag_only, {}), StatusCode::kDataLoss);
  // Overlapping but shifted buffers would corrupt data inside OpenSSL: refused.
  std::vector<uint8_t> big(100);
  EXPECT_FALSE(ctx->SealDetached(nonce_, {}, std::span(big).first(50), std::span(big).subspan(1, 50), tag).ok());
}

}  // namespace
}  // namespace aegis::crypto
