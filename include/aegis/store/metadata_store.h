// MetadataStore: the SQLite (WAL) database under DIR/db/aegis.db holding model
// versions (with their signatures), API token hashes and the trust store of
// publisher keys. Schema migrations are versioned (PRAGMA
// user_version). All statements are prepared with bound parameters.
//
// Thread-safety: all methods are safe for concurrent use (one connection guarded
// by a mutex; SQLite itself is in serialized mode).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::store {

// Who signed a version, as verified at push: the trusted key's name and
// fingerprint, the OMS subject digest, and the whole sigstore bundle (kept so
// every load re-verifies the signature and the manifest).
struct SignatureRecord {
  std::string signer;          // trust-store key name
  std::string fingerprint;     // hex SHA-256 of the key's SubjectPublicKeyInfo
  std::string subject_digest;  // hex
  std::string bundle;          // sigstore bundle JSON
};

struct ModelVersionRecord {
  std::string name;
  std::string version;
  std::string format;          // "onnx" | "torchscript" | "xgboost"
  std::string artifact_id;     // 32 lowercase hex chars
  std::string sha256;          // hex digest of the plaintext artifact
  uint64_t size_bytes = 0;
  std::vector<uint8_t> wrapped_dek;
  std::string kek_id;
  std::string created_at;      // RFC 3339
  std::string created_by;      // principal
  int64_t sequence = 0;        // monotonically increasing push order (set by the store)
  std::optional<SignatureRecord> signature;  // absent for unsigned versions
};

// A publisher key trusted to sign models whose names match `models` (a glob).
struct TrustedKeyRecord {
  std::string name;
  std::string key_type;        // "ecdsa-p256" | "ecdsa-p384" | "ed25519"
  std::string fingerprint;     // hex SHA-256 of the SubjectPublicKeyInfo; unique
  std::string public_key_pem;
  std::string models;          // glob over model names, "*" for all
  std::string created_at;
  std::string created_by;
};

struct TokenRecord {
  std::string id;              // public id embedded in the token
  std::string name;
  std::string role;            // "admin" for now
  std::vector<uint8_t> secret_hash;  // SHA-256 of the secret part
  std::string created_at;
  std::optional<std::string> expires_at;
  bool revoked = false;
};

class MetadataStore {
 public:
  // Opens or creates the database (file mode 0600), enables WAL, applies migrations.
  static StatusOr<std::unique_ptr<MetadataStore>> Open(const std::filesystem::path& db_path);
  virtual ~MetadataStore() = default;

  // AlreadyExists if (name, version) is taken.
  virtual Status InsertModelVersion(ModelVersionRecord record) = 0;
  virtual StatusOr<ModelVersionRecord> GetModelVersion(const std::string& name, const std::string& version) = 0;
  // All versions, ordered by name then sequence.
  virtual StatusOr<std::vector<ModelVersionRecord>> ListModelVersions() = 0;
  // NotFound if absent.
  virtual Status DeleteModelVersion(const std::string& name, const std::string& version) = 0;

  virtual Status InsertToken(const TokenRecord& token) = 0;
  virtual StatusOr<TokenRecord> GetToken(const std::string& id) = 0;
  virtual StatusOr<std::vector<TokenRecord>> ListTokens() = 0;

  // AlreadyExists when the name or the key (fingerprint) is already trusted.
  virtual Status InsertTrustedKey(const TrustedKeyRecord& key) = 0;
  // Ordered by name.
  virtual StatusOr<std::vector<TrustedKeyRecord>> ListTrustedKeys() = 0;
  // NotFound if absent.
  virtual Status DeleteTrustedKey(const std::string& name) = 0;
};

}  // namespace aegis::store
