// Resource-name rules, manifest validation, comparison and the single-file check.
#include "aegis/signing/manifest.h"

#include <gtest/gtest.h>

#include "aegis/crypto/encoding.h"
#include "common/testing/status_matchers.h"
#include "manifest_rules.h"

namespace aegis::signing {
namespace {

using internal::ValidateManifest;

crypto::Sha256Digest D(std::string_view content) { return crypto::Sha256(content); }

Manifest Files(const std::vector<std::pair<std::string, std::string>>& files) {
  Manifest m;
  m.model_name = "model";
  for (const auto& [name, content] : files) m.resources.push_back({name, "sha256", D(content)});
  return m;
}

Manifest Shards(uint64_t shard_size, const std::vector<std::string>& names) {
  Manifest m;
  m.model_name = "model";
  m.serialization.method = SerializationMethod::kShards;
  m.serialization.shard_size = shard_size;
  for (const auto& name : names) m.resources.push_back({name, internal::ShardAlgorithm(shard_size), D(name)});
  return m;
}

TEST(ResourceNames, SafeAndUnsafe) {
  for (const char* ok : {"a", "a/b", "a.b/c-d_e", ".hidden", "dir/.config", "..x", "x..", "模型.bin", "a:b", "a b"}) {
    EXPECT_TRUE(IsSafeResourceName(ok)) << ok;
  }
  for (std::string_view bad :
       std::initializer_list<std::string_view>{"",     "/abs",      "..",       "../x",     "a/../b",
                                               "a/..", ".",         "./a",      "a/./b",    "a/.",
                                               "a//b", "a/",        "a\\b",     "\\x",      std::string_view("a\0b", 3),
                                               "a\nb", "a\x1b[31m", "\xff\xfe", "\xc0\xaf", "\xed\xa0\x80"}) {
    EXPECT_FALSE(IsSafeResourceName(bad)) << crypto::HexEncode(crypto::AsBytes(bad));
  }
}

TEST(ResourceNames, ShardNamesSplitOnTheLastTwoColons) {
  auto key = internal::SplitShardName("dir/a:b.bin:1000:2000");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->path, "dir/a:b.bin");
  EXPECT_EQ(key->start, 1000u);
  EXPECT_EQ(key->end, 2000u);
  for (const char* bad :
       {"f", "f:1", ":0:1", "f:01:2", "f:-1:2", "f:+1:2", "f:1:", "f::1", "f:1:99999999999999999999"}) {
    EXPECT_FALSE(internal::SplitShardName(bad).has_value()) << bad;
  }
  EXPECT_EQ(internal::ShardName("w.bin", 0, 10), "w.bin:0:10");
}

TEST(ResourceNames, QuoteNeutralisesControlCharacters) {
  EXPECT_EQ(internal::Quote("ok/模型"), "'ok/模型'");
  EXPECT_EQ(internal::Quote("a\x1b[2Jb\n"), "'a?[2Jb?'");
  EXPECT_EQ(internal::Quote("\xe2\x80\xae"), "'?'");  // right-to-left override
  EXPECT_EQ(internal::Quote(std::string(500, 'x')), "'" + std::string(79, 'x') + "...'");
}

TEST(ResourceNames, IgnorePathsNormaliseAndMatchSubtrees) {
  EXPECT_EQ(internal::NormalizeIgnorePath("./.git/"), ".git");
  EXPECT_EQ(internal::NormalizeIgnorePath("a//b/./c"), "a/b/c");
  for (const char* bad : {"", "/etc", "../x", "a/../b", ".", "./"}) {
    EXPECT_FALSE(internal::NormalizeIgnorePath(bad).has_value()) << bad;
  }
  const std::vector<std::string> ignore = {".git", "cache/tmp"};
  EXPECT_TRUE(internal::IsIgnored(".git", ignore));
  EXPECT_TRUE(internal::IsIgnored(".git/config", ignore));
  EXPECT_TRUE(internal::IsIgnored("cache/tmp/x", ignore));
  EXPECT_FALSE(internal::IsIgnored(".gitignore", ignore));
  EXPECT_FALSE(internal::IsIgnored("sub/.git", ignore));
  EXPECT_FALSE(internal::IsIgnored("cache/tmpx", ignore));
}

TEST(ManifestRules, AcceptsCodePointAndOmsPythonOrders) {
  // Code point: '.' (0x2e) sorts before '/' (0x2f)...
  EXPECT_OK(ValidateManifest(Files({{"tokenizer.json", "1"}, {"tokenizer/vocab", "2"}})));
  // ...while model_signing (Python) compares path components.
  EXPECT_OK(ValidateManifest(Files({{"tokenizer/vocab", "2"}, {"tokenizer.json", "1"}})));
  // Python compares shard offsets as numbers, code point as text: both fine.
  EXPECT_OK(ValidateManifest(Shards(1000, {"w:0:1000", "w:10000:11000", "w:2000:3000"})));
  EXPECT_OK(ValidateManifest(Shards(1000, {"w:0:1000", "w:2000:3000", "w:10000:11000"})));
  const Status unsorted = ValidateManifest(Files({{"b", "1"}, {"a", "2"}}));
  EXPECT_EQ(unsorted.message(), "resources are not sorted");
}

TEST(ManifestRules, RefusesMalformedManifests) {
  EXPECT_EQ(ValidateManifest(Files({})).message(), "the manifest has no resources");
  EXPECT_EQ(ValidateManifest(Files({{"a", "1"}, {"a", "2"}})).message(), "duplicate resource name 'a'");
  EXPECT_EQ(ValidateManifest(Files({{"../x", "1"}})).message(), "resource name '../x' is not a safe relative path");
  EXPECT_EQ(ValidateManifest(Files({{".", "1"}, {"a", "1"}})).message(), "duplicate resource name '.'");
  Manifest wrong_algorithm = Files({{"a", "1"}});
  wrong_algorithm.resources[0].algorithm = "md5";
  EXPECT_EQ(ValidateManifest(wrong_algorithm).message(), "unsupported resource algorithm 'md5'");
  Manifest blake = Files({{"a", "1"}});
  blake.serialization.hash_type = "blake2";
  EXPECT_EQ(ValidateManifest(blake).message(), "unsupported hash_type 'blake2'");
  Manifest unnamed = Files({{"a", "1"}});
  unnamed.model_name = "evil\x1b[0m";
  EXPECT_FALSE(ValidateManifest(unnamed).ok());
  Manifest bad_ignore = Files({{"a", "1"}});
  bad_ignore.serialization.ignore_paths = {"../up"};
  EXPECT_FALSE(ValidateManifest(bad_ignore).ok());
  // Shards must be whole shard-size slices at multiples of the shard size.
  EXPECT_FALSE(ValidateManifest(Shards(10, {"w:0:11"})).ok());
  EXPECT_FALSE(ValidateManifest(Shards(10, {"w:5:10"})).ok());
  EXPECT_FALSE(ValidateManifest(Shards(10, {"w:3:3"})).ok());
  EXPECT_FALSE(ValidateManifest(Shards(10, {"w:0:10", "w:0:5"})).ok());
  EXPECT_FALSE(ValidateManifest(Shards(10, {"w"})).ok());
  EXPECT_OK(ValidateManifest(Shards(10, {".:0:10", ".:10:15"})));  // older single-file form
  EXPECT_FALSE(ValidateManifest(Shards(10, {".:0:10", "w:0:10"})).ok());
}

TEST(CompareManifests, NamesTheFirstProblem) {
  const Manifest signed_manifest = Files({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  EXPECT_OK(CompareManifests(signed_manifest, signed_manifest));
  const Status changed = CompareManifests(signed_manifest, Files({{"a", "1"}, {"b", "X"}, {"c", "3"}}));
  EXPECT_STATUS_IS(changed, StatusCode::kPermissionDenied);
  EXPECT_EQ(changed.message(), "file 'b' changed");
  EXPECT_EQ(CompareManifests(signed_manifest, Files({{"a", "1"}, {"c", "3"}})).message(), "file 'b' is missing");
  EXPECT_EQ(CompareManifests(signed_manifest, Files({{"a", "1"}, {"b", "2"}, {"bb", "9"}, {"c", "3"}})).message(),
            "file 'bb' is not in the manifest");
  Manifest sharded = Shards(10, {"a:0:10"});
  EXPECT_EQ(CompareManifests(signed_manifest, sharded).message(), "serialization differs: method");
  Manifest symlinks = signed_manifest;
  symlinks.serialization.allow_symlinks = true;
  EXPECT_EQ(CompareManifests(signed_manifest, symlinks).message(), "serialization differs: allow_symlinks");
}

TEST(CompareManifests, ShardsOfAResizedFileAreOneChangedFile) {
  Manifest before = Shards(10, {"w:0:10", "w:10:20"});
  Manifest after = Shards(10, {"w:0:10", "w:10:20", "w:20:25"});
  after.resources[0].digest = before.resources[0].digest;
  after.resources[1].digest = before.resources[1].digest;
  EXPECT_EQ(CompareManifests(before, after).message(), "file 'w' changed");
  EXPECT_EQ(before.FileCount(), 1u);
}

TEST(CompareManifests, OlderDotNameMatchesASingleFileOnly) {
  Manifest dot = Files({{".", "weights"}});
  Manifest file = Files({{"model.onnx", "weights"}});
  file.single_file = true;
  EXPECT_OK(CompareManifests(dot, file));
  file.resources[0].digest = D("other");
  EXPECT_EQ(CompareManifests(dot, file).message(), "file '.' changed");
  Manifest folder = Files({{"model.onnx", "weights"}});
  EXPECT_EQ(CompareManifests(dot, folder).message(), "the signature covers a single file but the model is a folder");
}

TEST(CheckSingleFile, FilesAndShards) {
  const std::string bytes = "0123456789abcdefghij-tail";
  const auto span = crypto::AsBytes(bytes);
  EXPECT_OK(CheckSingleFile(Files({{"m.bin", bytes}}), span));
  EXPECT_EQ(CheckSingleFile(Files({{"m.bin", bytes + "!"}}), span).message(), "file 'm.bin' changed");
  EXPECT_EQ(CheckSingleFile(Files({{"a", "1"}, {"b", "2"}}), span).message(),
            "the signature covers more than one file");

  Manifest shards = Shards(10, {"m.bin:0:10", "m.bin:10:20", "m.bin:20:25"});
  shards.resources[0].digest = D(bytes.substr(0, 10));
  shards.resources[1].digest = D(bytes.substr(10, 10));
  shards.resources[2].digest = D(bytes.substr(20));
  EXPECT_OK(CheckSingleFile(shards, span));
  EXPECT_FALSE(CheckSingleFile(shards, span.first(24)).ok());  // truncated
  std::string flipped = bytes;
  flipped[13] ^= 1;
  EXPECT_FALSE(CheckSingleFile(shards, crypto::AsBytes(flipped)).ok());
  shards.resources.pop_back();  // does not cover the file to its end
  EXPECT_FALSE(CheckSingleFile(shards, span).ok());
}

TEST(ManifestDigest, SubjectIsSha256OfConcatenatedRawDigests) {
  const Manifest m = Files({{"a", "1"}, {"b", "2"}});
  std::string concatenated;
  for (const auto& r : m.resources) concatenated.append(reinterpret_cast<const char*>(r.digest.data()), 32);
  EXPECT_EQ(m.SubjectDigest(), crypto::Sha256(concatenated));
}

}  // namespace
}  // namespace aegis::signing
