// Internal to src/signing: the rules a manifest must satisfy, shared by the
// signer (never sign what a verifier would refuse) and the statement parser
// (never accept what we would not sign), plus resource-name helpers.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/signing/manifest.h"

namespace aegis::signing::internal {

// Upper bound on resources: a 16 MiB bundle holds fewer than this anyway, so
// hashing refuses such models up front rather than after hours of work.
inline constexpr size_t kMaxResources = 100000;
inline constexpr size_t kMaxIgnorePaths = 4096;

// A resource name split into its file path and, for shards, its byte range.
struct ResourceKey {
  std::string_view path;
  uint64_t start = 0;
  uint64_t end = 0;
};

// "path:start:end" -> key, matching the last two colons (paths may contain ':').
// The offsets must be canonical decimals (no sign, no leading zero).
std::optional<ResourceKey> SplitShardName(std::string_view name);
std::string ShardName(std::string_view path, uint64_t start, uint64_t end);
// What OMS writes as each shard's algorithm: "sha256-sharded-<shard_size>".
std::string ShardAlgorithm(uint64_t shard_size);

// The file path a resource describes.
std::string_view ResourcePath(const Manifest& manifest, const Resource& resource);

// True when `relative` is one of `ignore_paths` or lies beneath one.
bool IsIgnored(std::string_view relative, const std::vector<std::string>& ignore_paths);

// Normalises a user- or bundle-given ignore path ("./a/b/" -> "a/b"); nullopt
// when it is not a safe relative path.
std::optional<std::string> NormalizeIgnorePath(std::string_view path);

// Valid UTF-8 without control characters or bidirectional overrides.
bool IsPrintableText(std::string_view text);

// Quotes untrusted text for a one-line message: printable ASCII only, bounded.
std::string Quote(std::string_view untrusted);

// Every structural rule: method and hash type supported, names safe (the lone
// "." name of older single-file signatures allowed), no duplicates, sorted in
// code-point or OMS-Python order, shard ranges well formed, algorithms
// consistent, ignore paths safe, at least one resource.
Status ValidateManifest(const Manifest& manifest);

}  // namespace aegis::signing::internal
