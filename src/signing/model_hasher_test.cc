// HashModel on real folders: naming, order, shards, ignore paths, and the
// symlink / special-file policy.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <mutex>

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"
#include "aegis/signing/manifest.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::signing {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

HashOptions Options(SerializationMethod method = SerializationMethod::kFiles, uint64_t shard_size = 0) {
  HashOptions options;
  options.serialization.method = method;
  options.serialization.shard_size = shard_size;
  return options;
}

std::vector<std::string> Names(const Manifest& m) {
  std::vector<std::string> names;
  for (const auto& r : m.resources) names.push_back(r.name);
  return names;
}

class HashModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = tmp_.path() / "fraud-model";
    Write(model_ / "weights.bin", std::string(2500, 'w'));
    Write(model_ / "config.json", "{}");
    Write(model_ / "tokenizer.json", "t");
    Write(model_ / "tokenizer" / "vocab.txt", "v");
    Write(model_ / "empty", "");
  }
  testing::ScopedTempDir tmp_;
  fs::path model_;
};

TEST_F(HashModelTest, FilesAreNamedRelativeAndSortedByCodePoint) {
  auto m = HashModel(model_, Options());
  ASSERT_OK(m);
  EXPECT_EQ(m->model_name, "fraud-model");
  EXPECT_FALSE(m->single_file);
  EXPECT_EQ(Names(*m),
            (std::vector<std::string>{"config.json", "empty", "tokenizer.json", "tokenizer/vocab.txt", "weights.bin"}));
  EXPECT_EQ(m->resources[0].algorithm, "sha256");
  EXPECT_EQ(m->resources[0].digest, crypto::Sha256("{}"));
  EXPECT_EQ(m->resources[1].digest, crypto::Sha256(""));
  EXPECT_EQ(m->FileCount(), 5u);
}

TEST_F(HashModelTest, ShardsCoverEachNonEmptyFileInOrder) {
  auto m = HashModel(model_, Options(SerializationMethod::kShards, 1000));
  ASSERT_OK(m);
  // Empty files have no shards (OMS); shards of one file are contiguous.
  EXPECT_EQ(Names(*m),
            (std::vector<std::string>{"config.json:0:2", "tokenizer.json:0:1", "tokenizer/vocab.txt:0:1",
                                      "weights.bin:0:1000", "weights.bin:1000:2000", "weights.bin:2000:2500"}));
  EXPECT_EQ(m->resources[5].digest, crypto::Sha256(std::string(500, 'w')));
  EXPECT_EQ(m->resources[0].algorithm, "sha256-sharded-1000");
  EXPECT_EQ(m->serialization.hash_type, "sha256");
  EXPECT_EQ(m->FileCount(), 4u);
}

TEST_F(HashModelTest, SameResultWithAnyThreadCountAndFinalProgress) {
  Write(model_ / "big.bin", std::string(3 << 20, 'b'));
  auto one = Options(SerializationMethod::kShards, 1 << 20);
  one.threads = 1;
  auto many = one;
  many.threads = 8;
  std::mutex mutex;
  uint64_t last_done = 0, last_total = 0;
  many.progress = [&](uint64_t done, uint64_t total) {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_LE(done, total);
    last_done = done;
    last_total = total;
  };
  auto a = HashModel(model_, one);
  auto b = HashModel(model_, many);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->SubjectDigest(), b->SubjectDigest());
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(last_total, (3u << 20) + 2500 + 2 + 1 + 1);
}

TEST_F(HashModelTest, SingleFileIsNamedByItsFileName) {
  auto m = HashModel(model_ / "weights.bin", Options());
  ASSERT_OK(m);
  EXPECT_TRUE(m->single_file);
  EXPECT_EQ(m->model_name, "weights.bin");
  EXPECT_EQ(Names(*m), std::vector<std::string>{"weights.bin"});
  auto trailing_slash = HashModel(model_.string() + "/", Options());
  ASSERT_OK(trailing_slash);
  EXPECT_EQ(trailing_slash->model_name, "fraud-model");
}

TEST_F(HashModelTest, IgnorePathsAreExactRelativePathsAndRecordedNormalised) {
  Write(model_ / ".git" / "HEAD", "ref");
  Write(model_ / "sub" / ".git", "nested, not ignored");
  auto options = Options();
  options.serialization.ignore_paths = {"./.git/", "tokenizer", "config.json", "tokenizer"};
  auto m = HashModel(model_, options);
  ASSERT_OK(m);
  EXPECT_EQ(Names(*m), (std::vector<std::string>{"empty", "sub/.git", "tokenizer.json", "weights.bin"}));
  EXPECT_EQ(m->serialization.ignore_paths, (std::vector<std::string>{".git", "config.json", "tokenizer"}));
  options.serialization.ignore_paths = {"../outside"};
  EXPECT_EQ(HashModel(model_, options).status().message(), "ignore path '../outside' is not a safe relative path");
}

TEST_F(HashModelTest, SymlinksAreRefusedUnlessAllowedAndThenStayInside) {
  fs::create_symlink("weights.bin", model_ / "alias.bin");
  auto refused = HashModel(model_, Options());
  EXPECT_EQ(refused.status().message(), "symlink 'alias.bin' is not allowed (allow_symlinks is false)");
  auto options = Options();
  options.serialization.allow_symlinks = true;
  auto followed = HashModel(model_, options);
  ASSERT_OK(followed);
  EXPECT_EQ(followed->resources[0].name, "alias.bin");
  EXPECT_EQ(followed->resources[0].digest, crypto::Sha256(std::string(2500, 'w')));

  Write(tmp_.path() / "secret", "outside");
  fs::create_symlink(tmp_.path() / "secret", model_ / "leak");
  EXPECT_EQ(HashModel(model_, options).status().message(), "symlink 'leak' points outside the model");
  fs::remove(model_ / "leak");
  fs::create_symlink("..", model_ / "tokenizer" / "up");
  EXPECT_EQ(HashModel(model_, options).status().message(), "symlink loop at 'tokenizer/up'");
  fs::remove(model_ / "tokenizer" / "up");
  fs::create_symlink("missing", model_ / "dangling");
  EXPECT_EQ(HashModel(model_, options).status().message(), "symlink 'dangling' does not resolve");
}

TEST_F(HashModelTest, ModelPathItselfMayNotBeASymlinkByDefault) {
  fs::create_symlink(model_, tmp_.path() / "current");
  EXPECT_FALSE(HashModel(tmp_.path() / "current", Options()).ok());
  auto options = Options();
  options.serialization.allow_symlinks = true;
  EXPECT_OK(HashModel(tmp_.path() / "current", options));
}

TEST_F(HashModelTest, SpecialFilesAreRefused) {
  ASSERT_EQ(::mkfifo((model_ / "pipe").c_str(), 0600), 0);
  EXPECT_EQ(HashModel(model_, Options()).status().message(), "'pipe' is not a regular file or folder");
}

TEST_F(HashModelTest, NothingToSignIsAnError) {
  fs::create_directories(tmp_.path() / "hollow" / "sub");
  EXPECT_EQ(HashModel(tmp_.path() / "hollow", Options()).status().message(), "the model has no file to sign");
  Write(tmp_.path() / "hollow" / "zero", "");
  EXPECT_OK(HashModel(tmp_.path() / "hollow", Options()));
  EXPECT_EQ(HashModel(tmp_.path() / "hollow", Options(SerializationMethod::kShards, 10)).status().message(),
            "the model has no non-empty file to sign");
  EXPECT_STATUS_IS(HashModel(tmp_.path() / "nope", Options()), StatusCode::kNotFound);
}

TEST_F(HashModelTest, UnsafeFileNamesCannotBeSigned) {
  Write(model_ / "back\\slash", "x");
  EXPECT_EQ(HashModel(model_, Options()).status().message(),
            "file name 'back\\slash' cannot be signed (not a safe UTF-8 path)");
}

TEST_F(HashModelTest, OneByteChangeIsDetected) {
  auto before = HashModel(model_, Options(SerializationMethod::kShards, 1000));
  ASSERT_OK(before);
  {
    std::fstream f(model_ / "weights.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1500);
    f.put('X');
  }
  auto after = HashModel(model_, Options(SerializationMethod::kShards, 1000));
  ASSERT_OK(after);
  EXPECT_EQ(CompareManifests(*before, *after).message(), "file 'weights.bin' changed");
  EXPECT_NE(before->SubjectDigest(), after->SubjectDigest());
}

}  // namespace
}  // namespace aegis::signing
