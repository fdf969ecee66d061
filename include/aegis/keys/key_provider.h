// KeyProvider: wraps and unwraps data-encryption keys (DEKs) with the
// key-encryption key (KEK). The KEK never leaves the provider.
//
// LocalKeyProvider keeps the KEK in DIR/keys/: either `kek.key` (32 raw bytes,
// mode 0600) or, when a passphrase is given at init, `kek.sealed` — the KEK
// encrypted with AES-256-GCM under a key derived from the passphrase with
// Argon2id (salt and parameters stored beside it). A PKCS#11 provider can come
// later behind the same interface.
//
// Thread-safety: Wrap/Unwrap are safe for concurrent use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/crypto/secure_buffer.h"

namespace aegis::keys {

class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // Identifies the KEK. Stored beside each wrapped key, so that a KEK rotation
  // (not built yet) could tell which KEK wrapped what.
  virtual std::string KeyId() const = 0;
  // Wraps `dek`; `context` (e.g. the artifact id) is bound as associated data, so a
  // wrapped key moved to another artifact fails to unwrap.
  virtual StatusOr<std::vector<uint8_t>> Wrap(std::span<const uint8_t> dek, std::span<const uint8_t> context) const = 0;
  // Returns DataLoss when the wrapped key was altered, or the context or KEK differ.
  virtual StatusOr<crypto::SecureBuffer> Unwrap(std::span<const uint8_t> wrapped,
                                                std::span<const uint8_t> context) const = 0;
};

class LocalKeyProvider final : public KeyProvider {
 public:
  // Creates a fresh 256-bit KEK in `keys_dir` (0700). With a passphrase the KEK is
  // sealed (kek.sealed); without, stored raw in kek.key (0600). Refuses to
  // overwrite an existing KEK.
  static StatusOr<std::unique_ptr<LocalKeyProvider>> Create(const std::filesystem::path& keys_dir,
                                                            const std::optional<std::string>& passphrase);
  // Opens an existing KEK. A sealed KEK needs the passphrase (Unauthenticated if wrong
  // or missing); a raw key file with group/other permissions is refused.
  static StatusOr<std::unique_ptr<LocalKeyProvider>> Open(const std::filesystem::path& keys_dir,
                                                          const std::optional<std::string>& passphrase);

  std::string KeyId() const override;
  StatusOr<std::vector<uint8_t>> Wrap(std::span<const uint8_t> dek, std::span<const uint8_t> context) const override;
  StatusOr<crypto::SecureBuffer> Unwrap(std::span<const uint8_t> wrapped,
                                        std::span<const uint8_t> context) const override;

  // Whether the KEK at `keys_dir` is passphrase-sealed.
  static bool IsSealed(const std::filesystem::path& keys_dir);

 private:
  LocalKeyProvider(crypto::SecureBuffer kek, std::string key_id);
  crypto::SecureBuffer kek_;
  std::string key_id_;
};

}  // namespace aegis::keys
