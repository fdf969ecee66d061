// Manifest comparison: what was signed against what is on disk (or in memory).
// Errors name a file, never a digest: the operator needs to know which file,
// and digests of tampered content are noise in a one-line message.
#include "aegis/signing/manifest.h"

#include <map>
#include <set>
#include <tuple>

#include "manifest_rules.h"

namespace aegis::signing {
namespace {

using internal::Quote;
using internal::ResourcePath;

// One resource reduced to what must match: its byte range (shards) and digest.
using Piece = std::tuple<uint64_t, uint64_t, crypto::Sha256Digest>;
using FilePieces = std::map<std::string, std::vector<Piece>, std::less<>>;

FilePieces ByFile(const Manifest& manifest, bool as_dot) {
  FilePieces files;
  for (const Resource& r : manifest.resources) {
    uint64_t start = 0, end = 0;
    if (manifest.serialization.method == SerializationMethod::kShards) {
      if (auto key = internal::SplitShardName(r.name)) std::tie(start, end) = std::pair(key->start, key->end);
    }
    const std::string path = as_dot ? "." : std::string(ResourcePath(manifest, r));
    files[path].emplace_back(start, end, r.digest);
  }
  return files;
}

Status Denied(std::string message) { return Status::PermissionDenied(std::move(message)); }

Status CompareSerialization(const Serialization& expected, const Serialization& actual) {
  if (expected.method != actual.method) return Denied("serialization differs: method");
  if (expected.hash_type != actual.hash_type) return Denied("serialization differs: hash_type");
  if (expected.allow_symlinks != actual.allow_symlinks) return Denied("serialization differs: allow_symlinks");
  if (expected.method == SerializationMethod::kShards && expected.shard_size != actual.shard_size) {
    return Denied("serialization differs: shard_size");
  }
  return Status::Ok();
}

}  // namespace

crypto::Sha256Digest Manifest::SubjectDigest() const {
  crypto::Sha256Hasher hasher;
  for (const Resource& r : resources) hasher.Update(r.digest);
  return hasher.Finish();
}

size_t Manifest::FileCount() const {
  std::set<std::string_view> paths;
  for (const Resource& r : resources) paths.insert(ResourcePath(*this, r));
  return paths.size();
}

Status CompareManifests(const Manifest& signed_manifest, const Manifest& actual) {
  AEGIS_RETURN_IF_ERROR(CompareSerialization(signed_manifest.serialization, actual.serialization));
  const bool signed_dot =
      !signed_manifest.resources.empty() && ResourcePath(signed_manifest, signed_manifest.resources.front()) == ".";
  if (signed_dot && !actual.single_file) return Denied("the signature covers a single file but the model is a folder");
  const FilePieces expected = ByFile(signed_manifest, false);
  const FilePieces found = ByFile(actual, signed_dot);
  // Walk both sorted maps together; the first problem in path order wins.
  auto e = expected.begin();
  auto f = found.begin();
  while (e != expected.end() || f != found.end()) {
    if (f == found.end() || (e != expected.end() && e->first < f->first)) {
      return Denied("file " + Quote(e->first) + " is missing");
    }
    if (e == expected.end() || f->first < e->first)
      return Denied("file " + Quote(f->first) + " is not in the manifest");
    if (e->second != f->second) return Denied("file " + Quote(e->first) + " changed");
    ++e;
    ++f;
  }
  return Status::Ok();
}

namespace {

// `whole_file_sha256` is computed here when the caller did not have it.
Status CheckSingleFileImpl(const Manifest& signed_manifest, std::span<const uint8_t> bytes,
                           const crypto::Sha256Digest* whole_file_sha256) {
  if (signed_manifest.resources.empty()) return Denied("the signature covers no file");
  const FilePieces expected = ByFile(signed_manifest, false);
  if (expected.size() != 1) return Denied("the signature covers more than one file");
  const auto& [path, pieces] = *expected.begin();
  std::vector<Piece> actual;
  if (signed_manifest.serialization.method == SerializationMethod::kFiles) {
    actual.emplace_back(0, 0, whole_file_sha256 ? *whole_file_sha256 : crypto::Sha256(bytes));
  } else {
    const uint64_t shard = signed_manifest.serialization.shard_size;
    if (shard == 0) return Denied("serialization differs: shard_size");
    for (uint64_t start = 0; start < bytes.size(); start += shard) {
      const uint64_t end = std::min<uint64_t>(start + shard, bytes.size());
      actual.emplace_back(start, end, crypto::Sha256(bytes.subspan(start, end - start)));
    }
  }
  if (actual != pieces) return Denied("file " + Quote(path) + " changed");
  return Status::Ok();
}

}  // namespace

Status CheckSingleFile(const Manifest& signed_manifest, std::span<const uint8_t> bytes) {
  return CheckSingleFileImpl(signed_manifest, bytes, nullptr);
}

Status CheckSingleFile(const Manifest& signed_manifest, std::span<const uint8_t> bytes,
                       const crypto::Sha256Digest& whole_file_sha256) {
  return CheckSingleFileImpl(signed_manifest, bytes, &whole_file_sha256);
}

}  // namespace aegis::signing
