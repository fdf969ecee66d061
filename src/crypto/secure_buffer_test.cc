#include "aegis/crypto/secure_buffer.h"

#include <cstring>
#include <utility>

#include <gtest/gtest.h>

#include "aegis/crypto/random.h"
#include "common/testing/status_matchers.h"

namespace aegis::crypto {
namespace {

TEST(SecureBufferTest, ConstructsZeroFilledAndCopies) {
  SecureBuffer zero(100);
  ASSERT_EQ(zero.size(), 100u);
  for (size_t i = 0; i < zero.size(); ++i) EXPECT_EQ(zero.data()[i], 0);
  const uint8_t bytes[] = {1, 2, 3};
  SecureBuffer copy(bytes, 3);
  EXPECT_EQ(copy.view(), std::string_view("\x01\x02\x03", 3));
  SecureBuffer empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.data(), nullptr);
}

TEST(SecureBufferTest, AppendGrowsAcrossThePageThreshold) {
  SecureBuffer buf;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    const uint8_t b[3] = {static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8), 0x5a};
    buf.append(b, 3);
    expected.append(reinterpret_cast<const char*>(b), 3);
  }
  EXPECT_EQ(buf.view(), expected);
}

TEST(SecureBufferTest, ShrinkThenGrowReadsZeros) {
  for (size_t size : {size_t{64}, size_t{1} << 16}) {
    SecureBuffer buf(size);
    std::memset(buf.data(), 0xab, size);
    buf.resize(size / 2);
    buf.resize(size);
    for (size_t i = size / 2; i < size; ++i) ASSERT_EQ(buf.data()[i], 0) << "old secret visible at " << i;
    for (size_t i = 0; i < size / 2; ++i) ASSERT_EQ(buf.data()[i], 0xab);
  }
}

TEST(SecureBufferTest, MoveTransfersOwnership) {
  SecureBuffer a(1 << 20);
  a.data()[5] = 7;
  const uint8_t* p = a.data();
  SecureBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.data()[5], 7);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  SecureBuffer c;
  c = std::move(b);
  EXPECT_EQ(c.size(), size_t{1} << 20);
  c.clear();
  EXPECT_TRUE(c.empty());
}

TEST(SecureBufferTest, ReserveKeepsContents) {
  SecureBuffer buf(10);
  ASSERT_OK(RandomBytes(buf.span()));
  const std::string before(buf.view());
  buf.reserve(100000);
  EXPECT_EQ(buf.view(), before);
}

}  // namespace
}  // namespace aegis::crypto
