#include "aegis/registry/registry.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>

#include "aegis/common/file_util.h"
#include "aegis/keys/key_provider.h"
#include "common/testing/scoped_temp_dir.h"

namespace aegis::registry {
namespace {

namespace fs = std::filesystem;

std::string Example(const std::string& name) {
  const char* src = std::getenv("AEGIS_SOURCE_DIR");
  auto bytes = ReadFile(fs::path(src ? src : ".") / "examples" / name);
  EXPECT_TRUE(bytes.ok()) << name;
  return bytes.ok() ? *bytes : "";
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "blobs");
    kek_ = std::move(keys::LocalKeyProvider::Create(dir_ / "keys", std::nullopt)).value();
    Reopen();
  }
  void Reopen() {
    registry_.reset();
    store_.reset();
    store_ = std::move(store::MetadataStore::Open(dir_ / "aegis.db")).value();
    registry_ = std::make_unique<Registry>(RegistryOptions{dir_ / "blobs", 1}, store_.get(), kek_.get(),
                                           Clock::Real());
  }

  Status Push(const std::string& name, const std::string& version, runtime::ModelFormat format,
              const std::string& bytes) {
    AEGIS_ASSIGN_OR_RETURN(auto session, registry_->BeginPush(name, version, format, "tester"));
    // Uneven chunks, as the network delivers them.
    for (size_t off = 0; off < bytes.size(); off += 1000) {
      size_t n = std::min<size_t>(1000, bytes.size() - off);
      AEGIS_RETURN_IF_ERROR(session->Write({reinterpret_cast<const uint8_t*>(bytes.data()) + off, n}));
    }
    return session->Finish().status();
  }

  // Every file under dir_, concatenated: what an attacker with the disk would see.
  std::string AllBytesOnDisk() {
    std::string all;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file()) all += ReadFile(e.path(), 1ull << 32).value();
    }
    return all;
  }

  testing::ScopedTempDir tmp_;
  const fs::path& dir_ = tmp_.path();
  std::unique_ptr<keys::LocalKeyProvider> kek_;
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, PushServesAndNeverWritesPlaintext) {
  const std::string model = Example("mlp.onnx");
  ASSERT_TRUE(Push("mlp", "1", runtime::ModelFormat::kOnnx, model).ok());
  auto served = registry_->Find("mlp", "");
  ASSERT_TRUE(served.ok());
  EXPECT_EQ((*served)->record.version, "1");
  EXPECT_EQ((*served)->record.created_by, "tester");
  EXPECT_EQ((*served)->instances->platform(), "onnx_opencv");
  const std::string disk = AllBytesOnDisk();
  for (size_t off = 0; off + 64 <= model.size(); off += model.size() / 8) {
    EXPECT_EQ(disk.find(model.substr(off, 64)), std::string::npos) << "plaintext window at " << off;
  }
}

TEST_F(RegistryTest, NewestVersionIsTheLastPushedAndRemoveFallsBack) {
  const std::string model = Example("mlp.onnx");
  ASSERT_TRUE(Push("mlp", "2", runtime::ModelFormat::kOnnx, model).ok());
  ASSERT_TRUE(Push("mlp", "10", runtime::ModelFormat::kOnnx, model).ok());
  EXPECT_EQ((*registry_->Find("mlp", ""))->record.version, "10");
  ASSERT_TRUE(registry_->Remove("mlp", "10").ok());
  EXPECT_EQ((*registry_->Find("mlp", ""))->record.version, "2");
  EXPECT_EQ(registry_->Find("mlp", "10").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Remove("mlp", "10").code(), StatusCode::kNotFound);
}

TEST_F(RegistryTest, RefusesDuplicatesBadNamesAndModelsTheEngineRefuses) {
  const std::string model = Example("mlp.onnx");
  ASSERT_TRUE(Push("mlp", "1", runtime::ModelFormat::kOnnx, model).ok());
  EXPECT_EQ(Push("mlp", "1", runtime::ModelFormat::kOnnx, model).code(), StatusCode::kAlreadyExists);
  for (const char* bad : {"", "..", "a/b", "-x", "a..b", "white space", "%2e"}) {
    EXPECT_EQ(registry_->BeginPush(bad, "1", runtime::ModelFormat::kOnnx, "t").status().code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
  Status refused = Push("junk", "1", runtime::ModelFormat::kOnnx, std::string(4096, 'x'));
  EXPECT_EQ(refused.code(), StatusCode::kUnprocessable) << refused.message();
  EXPECT_EQ(registry_->Find("junk", "").status().code(), StatusCode::kNotFound);
  // The refused push left nothing behind: one blob, for mlp.
  size_t blobs = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "blobs")) blobs += e.is_regular_file();
  EXPECT_EQ(blobs, 1u);
  // And the name can be pushed again.
  EXPECT_TRUE(Push("junk", "1", runtime::ModelFormat::kOnnx, model).ok());
}

TEST_F(RegistryTest, AbortedPushLeavesNoTrace) {
  {
    auto session = registry_->BeginPush("mlp", "1", runtime::ModelFormat::kOnnx, "t");
    ASSERT_TRUE(session.ok());
    const std::string model = Example("mlp.onnx");
    ASSERT_TRUE((*session)->Write({reinterpret_cast<const uint8_t*>(model.data()), 100}).ok());
  }  // client disconnected
  EXPECT_TRUE(fs::is_empty(dir_ / "blobs"));
  EXPECT_TRUE(Push("mlp", "1", runtime::ModelFormat::kOnnx, Example("mlp.onnx")).ok());
}

TEST_F(RegistryTest, ReloadsFromTheEncryptedStoreAfterRestart) {
  ASSERT_TRUE(Push("mlp", "1", runtime::ModelFormat::kOnnx, Example("mlp.onnx")).ok());
  ASSERT_TRUE(Push("xgb", "1", runtime::ModelFormat::kXgboost, Example("xgb_classifier.json")).ok());
  Reopen();
  EXPECT_FALSE(registry_->Ready());
  EXPECT_TRUE(registry_->LoadAll().empty());
  EXPECT_TRUE(registry_->Ready());
  EXPECT_TRUE(registry_->Find("mlp", "1").ok());
  EXPECT_EQ((*registry_->Find("xgb", ""))->instances->platform(), "xgboost");
}

TEST_F(RegistryTest, TamperedBlobIsNotServedAndMakesServerUnready) {
  ASSERT_TRUE(Push("mlp", "1", runtime::ModelFormat::kOnnx, Example("mlp.onnx")).ok());
  ASSERT_TRUE(Push("ok", "1", runtime::ModelFormat::kOnnx, Example("mlp.onnx")).ok());
  auto record = store_->GetModelVersion("mlp", "1");
  ASSERT_TRUE(record.ok());
  const fs::path blob = dir_ / "blobs" / (record->artifact_id + ".blob");
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    char c = 0;
    f.read(&c, 1);
    f.seekp(200);
    c ^= 0x01;
    f.write(&c, 1);
  }
  Reopen();
  auto failures = registry_->LoadAll();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].code(), StatusCode::kDataLoss) << failures[0].message();
  EXPECT_FALSE(registry_->Ready());
  EXPECT_EQ(registry_->Find("mlp", "1").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(registry_->Find("mlp", "").status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(registry_->Find("ok", "1").ok());
  // Removing the damaged version makes the server ready again.
  ASSERT_TRUE(registry_->Remove("mlp", "1").ok());
  EXPECT_TRUE(registry_->Ready());
}

TEST_F(RegistryTest, OrphanedBlobsAreRemovedAtStart) {
  ASSERT_TRUE(WriteFileExclusive(dir_ / "blobs" / "deadbeef.blob", "ciphertext", 0600).ok());
  EXPECT_TRUE(registry_->LoadAll().empty());
  EXPECT_FALSE(fs::exists(dir_ / "blobs" / "deadbeef.blob"));
}

}  // namespace
}  // namespace aegis::registry
