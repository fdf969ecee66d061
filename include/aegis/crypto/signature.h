// Asymmetric signatures for model signing (OpenSSL 3 EVP): ECDSA P-256 / P-384
// and Ed25519 keys, PEM in and out.
//
// ECDSA signs SHA-256 (P-256) or SHA-384 (P-384) of the message and produces
// DER-encoded signatures, as sigstore and the OpenSSF model_signing library do;
// Ed25519 signs the message itself (64-byte signature).
//
// Thread-safety: keys are immutable after construction; Sign/Verify are safe for
// concurrent use on the same key.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/crypto/secure_buffer.h"

namespace aegis::crypto {

enum class KeyType { kEcdsaP256, kEcdsaP384, kEd25519 };

// "ecdsa-p256" | "ecdsa-p384" | "ed25519".
std::string_view KeyTypeName(KeyType type);

class PublicKey {
 public:
  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"). Refuses any other key type or
  // curve (RSA, P-521, secp256k1…) with InvalidArgument, and input over 64 KiB.
  static StatusOr<PublicKey> FromPem(std::string_view pem);

  KeyType type() const { return type_; }
  std::string ToPem() const;
  // Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo: a stable key identity.
  const std::string& fingerprint() const { return fingerprint_; }
  // Ok when `signature` is a valid signature of `message`; PermissionDenied
  // ("signature does not verify") otherwise. Never throws.
  Status Verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
  KeyType type_{};
  std::string fingerprint_;
  friend class PrivateKey;
};

class PrivateKey {
 public:
  static StatusOr<PrivateKey> Generate(KeyType type);
  // Unencrypted PKCS#8 or traditional EC PEM. Encrypted PEM is refused with a
  // clear message (no passphrase prompt here).
  static StatusOr<PrivateKey> FromPem(std::string_view pem);

  KeyType type() const { return public_key_.type(); }
  const PublicKey& public_key() const { return public_key_; }
  // PKCS#8 PEM; the caller stores it 0600.
  SecureBuffer ToPem() const;
  StatusOr<std::vector<uint8_t>> Sign(std::span<const uint8_t> message) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
  PublicKey public_key_;
};

}  // namespace aegis::crypto
