#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "aegis/common/file_util.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/random.h"
#include "aegis/keys/key_provider.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::keys {
namespace {

using crypto::AsBytes;

class LocalKeyProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = root_ / "keys";
    ASSERT_OK(crypto::RandomBytes(dek_));
  }
  testing::ScopedTempDir tmp_;
  const std::filesystem::path& root_ = tmp_.path();
  std::filesystem::path keys_;
  std::vector<uint8_t> dek_ = std::vector<uint8_t>(32);
};

TEST_F(LocalKeyProviderTest, RawKekRoundTripAndFileMode) {
  auto created = LocalKeyProvider::Create(keys_, std::nullopt);
  ASSERT_OK(created);
  struct stat st {};
  ASSERT_EQ(::stat((keys_ / "kek.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat(keys_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_FALSE(LocalKeyProvider::IsSealed(keys_));

  auto wrapped = (*created)->Wrap(dek_, AsBytes("artifact-1"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->size(), 1u + 12 + 32 + 16);
  auto opened = LocalKeyProvider::Open(keys_, std::nullopt);
  ASSERT_OK(opened);
  EXPECT_EQ((*opened)->KeyId(), (*created)->KeyId());
  EXPECT_EQ((*opened)->KeyId().size(), 16u);
  auto dek = (*opened)->Unwrap(*wrapped, AsBytes("artifact-1"));
  ASSERT_OK(dek);
  EXPECT_EQ(std::vector<uint8_t>(dek->data(), dek->data() + dek->size()), dek_);
  // Fresh nonce per wrap.
  EXPECT_NE(*(*created)->Wrap(dek_, AsBytes("artifact-1")), *wrapped);
}

TEST_F(LocalKeyProviderTest, TamperingContextAndKekAreDataLoss) {
  auto provider = LocalKeyProvider::Create(keys_, std::nullopt);
  ASSERT_OK(provider);
  auto wrapped = (*provider)->Wrap(dek_, AsBytes("artifact-1"));
  ASSERT_OK(wrapped);
  EXPECT_STATUS_IS((*provider)->Unwrap(*wrapped, AsBytes("artifact-2")), StatusCode::kDataLoss);
  EXPECT_STATUS_IS((*provider)->Unwrap(*wrapped, {}), StatusCode::kDataLoss);
  for (size_t i = 0; i < wrapped->size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      auto tampered = *wrapped;
      tampered[i] ^= bit;
      EXPECT_STATUS_IS((*provider)->Unwrap(tampered, AsBytes("artifact-1")), StatusCode::kDataLoss) << i;
    }
  }
  EXPECT_STATUS_IS((*provider)->Unwrap(std::span(*wrapped).first(wrapped->size() - 1), AsBytes("artifact-1")),
                   StatusCode::kDataLoss);
  EXPECT_STATUS_IS((*provider)->Unwrap({}, AsBytes("artifact-1")), StatusCode::kDataLoss);

  auto other = LocalKeyProvider::Create(root_ / "other", std::nullopt);
  ASSERT_OK(other);
  EXPECT_NE((*other)->KeyId(), (*provider)->KeyId());
  EXPECT_STATUS_IS((*other)->Unwrap(*wrapped, AsBytes("artifact-1")), StatusCode::kDataLoss);
}

TEST_F(LocalKeyProviderTest, SealedKekNeedsTheRightPassphrase) {
  auto created = LocalKeyProvider::Create(keys_, "correct horse battery staple");
  ASSERT_OK(created);
  EXPECT_TRUE(LocalKeyProvider::IsSealed(keys_));
  EXPECT_FALSE(std::filesystem::exists(keys_ / "kek.key"));
  auto wrapped = (*created)->Wrap(dek_, AsBytes("a"));
  ASSERT_OK(wrapped);

  auto opened = LocalKeyProvider::Open(keys_, "correct horse battery staple");
  ASSERT_OK(opened);
  EXPECT_EQ((*opened)->KeyId(), (*created)->KeyId());
  EXPECT_OK((*opened)->Unwrap(*wrapped, AsBytes("a")));

  auto wrong = LocalKeyProvider::Open(keys_, "correct horse battery stapler");
  EXPECT_STATUS_IS(wrong, StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), "wrong passphrase");
  EXPECT_STATUS_IS(LocalKeyProvider::Open(keys_, std::nullopt), StatusCode::kUnauthenticated);

  // Weakening the stored Argon2id parameters breaks authentication.
  auto bytes = ReadFile(keys_ / "kek.sealed");
  ASSERT_OK(bytes);
  std::string weakened = *bytes;
  weakened[12] = 1;  // low byte of t_cost
  ASSERT_OK(WriteFileAtomic(keys_ / "kek.sealed", weakened, 0600));
  EXPECT_FALSE(LocalKeyProvider::Open(keys_, "correct horse battery staple").ok());
  ASSERT_OK(WriteFileAtomic(keys_ / "kek.sealed", bytes->substr(0, 50), 0600));
  EXPECT_STATUS_IS(LocalKeyProvider::Open(keys_, "correct horse battery staple"), StatusCode::kDataLoss);
}

TEST_F(LocalKeyProviderTest, RefusesLoosePermissionsAndWrongSize) {
  ASSERT_OK(LocalKeyProvider::Create(keys_, std::nullopt));
  for (mode_t mode : {0640, 0604, 0660, 0644}) {
    ASSERT_EQ(::chmod((keys_ / "kek.key").c_str(), mode), 0);
    EXPECT_STATUS_IS(LocalKeyProvider::Open(keys_, std::nullopt), StatusCode::kPermissionDenied) << mode;
  }
  ASSERT_EQ(::chmod((keys_ / "kek.key").c_str(), 0400), 0);
  EXPECT_OK(LocalKeyProvider::Open(keys_, std::nullopt));

  std::filesystem::remove(keys_ / "kek.key");
  ASSERT_OK(WriteFileExclusive(keys_ / "kek.key", std::string(31, 'k'), 0600));
  EXPECT_STATUS_IS(LocalKeyProvider::Open(keys_, std::nullopt), StatusCode::kDataLoss);
  std::filesystem::remove(keys_ / "kek.key");
  ASSERT_OK(WriteFileExclusive(keys_ / "kek.key", std::string(33, 'k'), 0600));
  EXPECT_STATUS_IS(LocalKeyProvider::Open(keys_, std::nullopt), StatusCode::kDataLoss);
  std::filesystem::remove(keys_ / "kek.key");
  EXPECT_STATUS_IS(LocalKeyProvider::Open(keys_, std::nullopt), StatusCode::kNotFound);
}

TEST_F(LocalKeyProviderTest, RefusesToOverwrite) {
  auto first = LocalKeyProvider::Create(keys_, std::nullopt);
  ASSERT_OK(first);
  const auto before = ReadFile(keys_ / "kek.key");
  EXPECT_STATUS_IS(LocalKeyProvider::Create(keys_, std::nullopt), StatusCode::kAlreadyExists);
  EXPECT_STATUS_IS(LocalKeyProvider::Create(keys_, "passphrase"), StatusCode::kAlreadyExists);
  EXPECT_EQ(*ReadFile(keys_ / "kek.key"), *before);
  EXPECT_FALSE(std::filesystem::exists(keys_ / "kek.sealed"));
  EXPECT_STATUS_IS(LocalKeyProvider::Create(root_ / "k2", ""), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aegis::keys
