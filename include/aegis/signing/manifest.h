// Model manifests in the OpenSSF Model Signing (OMS) v1.0 sense: one digest per
// file (serialization "files") or per fixed-size shard of each file ("shards"),
// named by relative '/'-separated path and sorted by code point.
//
// Interoperability notes (checked against sigstore/model-transparency and the
// Go port): a single-file model's resource is named by its file name (older
// Python releases wrote "." and verification accepts that); shard resources
// are "path:start:end" with algorithm "sha256-sharded-<shard_size>" while
// serialization.hash_type stays "sha256"; empty files have no shards; the
// Python library sorts by path components then numeric offsets, so verifiers
// accept that order as well as code-point order.
//
// Hashing streams every file (a model may be larger than memory) and spreads the
// files/shards over a thread pool. Symlinks are refused unless allowed, and any
// name that is absolute or contains ".." is refused on both sides.
//
// Example:
//   HashOptions options;  // files, sha256, all cores
//   AEGIS_ASSIGN_OR_RETURN(Manifest m, HashModel("models/fraud", options));
//   crypto::Sha256Digest subject = m.SubjectDigest();
//
// Thread-safety: free functions are safe for concurrent use; Manifest is a value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/crypto/hash.h"

namespace aegis::signing {

enum class SerializationMethod { kFiles, kShards };

struct Serialization {
  SerializationMethod method = SerializationMethod::kFiles;
  std::string hash_type = "sha256";  // the only one supported
  bool allow_symlinks = false;
  uint64_t shard_size = 0;                // kShards only; > 0
  std::vector<std::string> ignore_paths;  // recorded as signed; relative names
};

// One entry of predicate.resources. For shards, name is "path:start:end".
struct Resource {
  std::string name;
  std::string algorithm;  // "sha256" (files) or what OMS writes for shards
  crypto::Sha256Digest digest{};
};

// Paths OMS signers leave out of every folder model by default (top level
// only); they are recorded in serialization.ignore_paths like any other.
inline constexpr std::string_view kDefaultIgnorePaths[] = {".git", ".gitattributes", ".github", ".gitignore"};

struct Manifest {
  std::string model_name;  // the in-toto subject name
  Serialization serialization;
  std::vector<Resource> resources;  // sorted by name (code point order)
  bool single_file = false;         // set by HashModel when the model is one regular file

  // SHA-256 over the concatenated raw resource digests, in resource order.
  crypto::Sha256Digest SubjectDigest() const;
  // Number of distinct files the resources describe (shards grouped by path).
  size_t FileCount() const;
};

struct HashOptions {
  Serialization serialization;
  int threads = 0;  // 0: one per core
  // Called from any hashing thread, at most every few MiB: bytes hashed so far
  // and the total. May be empty.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Hashes a file or a folder (recursively). The model name is the last path
// component. Folders: entries are visited in name order; ignore_paths (exact
// relative paths, each covering its subtree) are skipped. Refuses symlinks
// unless allowed (then their targets must stay inside the folder), special
// files, names that are not safe UTF-8, and models with nothing to sign.
StatusOr<Manifest> HashModel(const std::filesystem::path& path, const HashOptions& options);

// True for a safe relative resource path: valid UTF-8, not empty, no leading
// or trailing '/', no empty, "." or ".." component, no backslash, no control
// character (NUL included).
bool IsSafeResourceName(std::string_view name);

// Compares what was signed with what is on disk now. Ok, or PermissionDenied
// with one line naming the first problem: "file 'x' changed", "file 'x' is
// missing", "file 'y' is not in the manifest", "serialization differs: …".
Status CompareManifests(const Manifest& signed_manifest, const Manifest& actual);

// For the server: checks the bytes of a single-file model against a signed
// manifest. The manifest must describe exactly one file (one "files" resource,
// or "shards" resources of one file covering it exactly) whose digest(s) match.
Status CheckSingleFile(const Manifest& signed_manifest, std::span<const uint8_t> bytes);
// The same, when the caller already holds the SHA-256 of the whole file (the
// registry hashes every upload and every load): a "files" manifest then costs
// no second pass over the bytes.
Status CheckSingleFile(const Manifest& signed_manifest, std::span<const uint8_t> bytes,
                       const crypto::Sha256Digest& whole_file_sha256);

}  // namespace aegis::signing
