#include "aegis/store/encrypted_blob.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>

#include "aegis/common/file_util.h"
#include "aegis/crypto/random.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::store {
namespace {

constexpr uint32_t kChunk = 4096;
constexpr size_t kHeader = 40;
constexpr size_t kRecord = kChunk + 28;  // nonce + full chunk + tag
constexpr std::string_view kMarker = "AEGIS-PLAINTEXT-MARKER";

class EncryptedBlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(crypto::RandomBytes(dek_));
    ASSERT_OK(crypto::RandomBytes(id_));
    ASSERT_OK(crypto::RandomBytes(other_id_));
  }

  // Plaintext full of a searchable marker, so leaks into the file are easy to spot.
  static std::vector<uint8_t> Plaintext(size_t n) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(kMarker[i % kMarker.size()]);
    return out;
  }

  std::filesystem::path Write(const std::string& name, std::span<const uint8_t> data, const ArtifactId& id,
                              uint32_t chunk = kChunk, size_t piece = 1000) {
    auto path = dir_ / name;
    auto writer = BlobWriter::Create(path, id, dek_, chunk);
    EXPECT_OK(writer);
    for (size_t off = 0; off < data.size(); off += piece) {
      EXPECT_OK((*writer)->Append(data.subspan(off, std::min(piece, data.size() - off))));
    }
    auto size = (*writer)->Commit();
    EXPECT_OK(size);
    EXPECT_EQ(*size, data.size());
    return path;
  }

  std::string Bytes(const std::filesystem::path& path) { return *ReadFile(path, 1u << 30); }
  void Replace(const std::filesystem::path& path, const std::string& content) {
    ASSERT_OK(WriteFileAtomic(path, content, 0600));
  }
  StatusCode ReadCode(const std::filesystem::path& path) { return ReadBlob(path, id_, dek_).status().code(); }

  testing::ScopedTempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
  std::vector<uint8_t> dek_ = std::vector<uint8_t>(32);
  ArtifactId id_{}, other_id_{};
};

TEST_F(EncryptedBlobTest, RoundTripsAtChunkEdges) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{kChunk - 1}, size_t{kChunk}, size_t{kChunk + 1},
                      size_t{5 * kChunk + 123}, 6 * size_t{kChunk}}) {
    const auto data = Plaintext(size);
    for (size_t piece : {size_t{1000}, size_t{3 * kChunk + 5}}) {
      const auto path = Write("rt-" + std::to_string(size) + "-" + std::to_string(piece), data, id_, kChunk, piece);
      const size_t chunks = size == 0 ? 1 : (size + kChunk - 1) / kChunk;
      EXPECT_EQ(std::filesystem::file_size(path), kHeader + chunks * 28 + size);
      auto read = ReadBlob(path, id_, dek_);
      ASSERT_OK(read) << size << ": " << read.status().message();
      EXPECT_TRUE(std::equal(data.begin(), data.end(), read->data(), read->data() + read->size()));
      EXPECT_EQ(read->size(), size);
      EXPECT_EQ(Bytes(path).find(kMarker), std::string::npos) << "plaintext on disk";
      struct stat st {};
      ASSERT_EQ(::stat(path.c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0600u);
    }
  }
}

TEST_F(EncryptedBlobTest, LargeBlobDecryptsInParallel) {
  std::vector<uint8_t> data(9u << 20 | 5);
  ASSERT_OK(crypto::RandomBytes(data));
  const auto path = Write("large", data, id_, 64u << 10, 1u << 20);
  auto read = ReadBlob(path, id_, dek_);
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), data.size());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), read->data()));
  // A tampered chunk deep inside is still caught on the parallel path.
  std::string bytes = Bytes(path);
  bytes[bytes.size() / 2] ^= 0x10;
  Replace(path, bytes);
  EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss);
}

TEST_F(EncryptedBlobTest, EveryFlippedByteIsDataLoss) {
  const auto path = Write("flip", Plaintext(3 * kChunk + 100), id_);
  const std::string good = Bytes(path);
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  // Header, every nonce, every ciphertext byte, every tag.
  for (size_t i = 0; i < good.size(); ++i) {
    const char flipped = static_cast<char>(good[i] ^ (i % 2 ? 0x01 : 0x80));
    ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(i)), 1);
    ASSERT_EQ(ReadCode(path), StatusCode::kDataLoss) << "byte " << i;
    ASSERT_EQ(::pwrite(fd, &good[i], 1, static_cast<off_t>(i)), 1);
  }
  ::close(fd);
  EXPECT_OK(ReadBlob(path, id_, dek_));
}

TEST_F(EncryptedBlobTest, TruncationAndTrailingBytesAreDataLoss) {
  const auto path = Write("trunc", Plaintext(3 * kChunk + 100), id_);
  const std::string good = Bytes(path);
  std::vector<size_t> cuts = {0, 1, kHeader - 1, kHeader, kHeader + 12, good.size() - 1, good.size() - 16};
  for (size_t k = 1; k <= 3; ++k) {
    const size_t boundary = kHeader + k * kRecord;
    cuts.insert(cuts.end(), {boundary - 1, boundary, boundary + 1, boundary - kRecord / 2});
  }
  for (size_t cut : cuts) {
    Replace(path, good.substr(0, cut));
    EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss) << "cut at " << cut;
  }
  for (const std::string& tail : {std::string(1, '\0'), std::string(28, 'x'), good.substr(kHeader, kRecord)}) {
    Replace(path, good + tail);
    EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss) << "tail of " << tail.size();
  }
}

TEST_F(EncryptedBlobTest, ConsistentlyTruncatedHeaderStillFails) {
  // Cut at a chunk boundary AND rewrite plaintext_size so the size check passes:
  // the final-chunk flag and the size bound in its AAD must catch it.
  const auto path = Write("consistent", Plaintext(3 * size_t{kChunk}), id_);
  const std::string good = Bytes(path);
  for (size_t chunks : {1, 2}) {
    std::string cut = good.substr(0, kHeader + chunks * kRecord);
    const uint64_t size = chunks * kChunk;
    for (int i = 0; i < 8; ++i) cut[32 + i] = static_cast<char>(size >> (56 - 8 * i));
    Replace(path, cut);
    EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss) << chunks;
  }
  // Dropping a middle chunk (header adjusted) shifts the indexes.
  std::string dropped = good.substr(0, kHeader + kRecord) + good.substr(kHeader + 2 * kRecord);
  for (int i = 0; i < 8; ++i) dropped[32 + i] = static_cast<char>(2 * uint64_t{kChunk} >> (56 - 8 * i));
  Replace(path, dropped);
  EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss);
}

TEST_F(EncryptedBlobTest, SwappedAndSplicedChunksAreDataLoss) {
  const auto path = Write("swap", Plaintext(3 * size_t{kChunk}), id_);
  const std::string good = Bytes(path);
  const std::string c0 = good.substr(kHeader, kRecord), c1 = good.substr(kHeader + kRecord, kRecord);
  Replace(path, good.substr(0, kHeader) + c1 + c0 + good.substr(kHeader + 2 * kRecord));
  EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss);
  Replace(path, good.substr(0, kHeader) + c0 + c0 + good.substr(kHeader + 2 * kRecord));
  EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss);

  // Same DEK, other artifact: its chunk 1 must not authenticate inside this blob.
  const auto other = Write("other", Plaintext(3 * size_t{kChunk}), other_id_);
  const std::string foreign = Bytes(other);
  Replace(path, good.substr(0, kHeader + kRecord) + foreign.substr(kHeader + kRecord, kRecord) +
                    good.substr(kHeader + 2 * kRecord));
  EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss);
  // Nor does the other blob read as this artifact, even with the header's id rewritten.
  std::string relabeled = foreign;
  std::copy(id_.begin(), id_.end(), relabeled.begin() + 12);
  Replace(path, relabeled);
  EXPECT_EQ(ReadCode(path), StatusCode::kDataLoss);
}

TEST_F(EncryptedBlobTest, WrongKeyOrArtifactIsDataLoss) {
  const auto path = Write("keys", Plaintext(kChunk + 1), id_);
  std::vector<uint8_t> wrong = dek_;
  wrong[31] ^= 1;
  EXPECT_STATUS_IS(ReadBlob(path, id_, wrong), StatusCode::kDataLoss);
  EXPECT_STATUS_IS(ReadBlob(path, other_id_, dek_), StatusCode::kDataLoss);
  EXPECT_STATUS_IS(ReadBlob(path, id_, std::span(dek_).first(16)), StatusCode::kInvalidArgument);
  EXPECT_STATUS_IS(ReadBlob(dir_ / "missing", id_, dek_), StatusCode::kNotFound);
}

TEST_F(EncryptedBlobTest, AbortRemovesPartialAndNothingIsOverwritten) {
  const auto path = dir_ / "abort";
  {
    auto writer = BlobWriter::Create(path, id_, dek_, kChunk);
    ASSERT_OK(writer);
    ASSERT_OK((*writer)->Append(Plaintext(3 * size_t{kChunk})));
    EXPECT_TRUE(std::filesystem::exists(dir_ / "abort.partial"));
    EXPECT_EQ(Bytes(dir_ / "abort.partial").find(kMarker), std::string::npos);
    // A second writer for the same path is refused while the first is open.
    EXPECT_STATUS_IS(BlobWriter::Create(path, id_, dek_, kChunk), StatusCode::kAlreadyExists);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "abort.partial"));
  EXPECT_FALSE(std::filesystem::exists(path));

  const auto committed = Write("once", Plaintext(10), id_);
  EXPECT_STATUS_IS(BlobWriter::Create(committed, id_, dek_, kChunk), StatusCode::kAlreadyExists);
  auto writer = BlobWriter::Create(dir_ / "twice", id_, dek_, kChunk);
  ASSERT_OK(writer);
  ASSERT_OK((*writer)->Commit());
  EXPECT_FALSE((*writer)->Commit().ok());
  EXPECT_FALSE((*writer)->Append(Plaintext(1)).ok());
  EXPECT_FALSE(BlobWriter::Create(dir_ / "small", id_, dek_, 1024).ok());
  EXPECT_FALSE(BlobWriter::Create(dir_ / "badkey", id_, std::span(dek_).first(31), kChunk).ok());
}

}  // namespace
}  // namespace aegis::store
