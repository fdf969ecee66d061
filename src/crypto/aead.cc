#include "aegis/crypto/aead.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace aegis::crypto {
namespace {

// EVP lengths are ints; process big buffers in 1 GiB slices.
constexpr size_t kMaxSlice = size_t{1} << 30;

const EVP_CIPHER* Aes256Gcm() {
  // Fetched once: provider lookups take a global lock.
  static EVP_CIPHER* const cipher = [] {
    EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (fetched == nullptr) std::abort();  // no AES-GCM: nothing can work
    return fetched;
  }();
  return cipher;
}

// Ranges that overlap without being identical would corrupt data inside OpenSSL.
bool PartiallyOverlaps(std::span<const uint8_t> in, std::span<const uint8_t> out) {
  if (in.empty() || out.empty() || in.data() == out.data()) return false;
  const auto a = reinterpret_cast<uintptr_t>(in.data());
  const auto b = reinterpret_cast<uintptr_t>(out.data());
  return a < b + out.size() && b < a + in.size();
}

}  // namespace

struct AeadContext::Impl {
  EVP_CIPHER_CTX* ctx = nullptr;
  ~Impl() { EVP_CIPHER_CTX_free(ctx); }  // also cleanses the key schedule

  // Sets the nonce (and direction) for one message and feeds the AAD.
  bool Begin(int encrypt, std::span<const uint8_t> nonce, std::span<const uint8_t> aad) {
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce.data(), encrypt, nullptr) != 1) return false;
    int len = 0;
    for (size_t off = 0; off < aad.size(); off += kMaxSlice) {
      const int n = static_cast<int>(std::min(kMaxSlice, aad.size() - off));
      if (EVP_CipherUpdate(ctx, nullptr, &len, aad.data() + off, n) != 1) return false;
    }
    return true;
  }

  bool Update(std::span<const uint8_t> in, std::span<uint8_t> out) {
    int len = 0;
    for (size_t off = 0; off < in.size(); off += kMaxSlice) {
      const int n = static_cast<int>(std::min(kMaxSlice, in.size() - off));
      if (EVP_CipherUpdate(ctx, out.data() + off, &len, in.data() + off, n) != 1 || len != n) return false;
    }
    return true;
  }
};

AeadContext::AeadContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AeadContext::AeadContext(AeadContext&&) noexcept = default;
AeadContext& AeadContext::operator=(AeadContext&&) noexcept = default;
AeadContext::~AeadContext() = default;

StatusOr<AeadContext> AeadContext::Create(std::span<const uint8_t> key) {
  if (key.size() != kAeadKeySize) return Status::InvalidArgument("AES-256-GCM key must be 32 bytes");
  auto impl = std::make_unique<Impl>();
  impl->ctx = EVP_CIPHER_CTX_new();
  if (impl->ctx == nullptr || EVP_EncryptInit_ex2(impl->ctx, Aes256Gcm(), key.data(), nullptr, nullptr) != 1) {
    return Status::Internal("cannot initialise AES-256-GCM");
  }
  return AeadContext(std::move(impl));
}

Status AeadContext::SealDetached(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                 std::span<const uint8_t> plaintext, std::span<uint8_t> out, std::span<uint8_t> tag) {
  if (nonce.size() != kAeadNonceSize) return Status::InvalidArgument("AES-GCM nonce must be 12 bytes");
  if (out.size() != plaintext.size() || tag.size() != kAeadTagSize || PartiallyOverlaps(plaintext, out)) {
    return Status::InvalidArgument("AES-GCM output buffer has the wrong size");
  }
  int len = 0;
  if (!impl_->Begin(1, nonce, aad) || !impl_->Update(plaintext, out) ||
      EVP_EncryptFinal_ex(impl_->ctx, nullptr, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(impl_->ctx, EVP_CTRL_GCM_GET_TAG, kAeadTagSize, tag.data()) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::Internal("AES-GCM encryption failed");
  }
  return Status::Ok();
}

Status AeadContext::OpenDetached(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                                 std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                                 std::span<uint8_t> out) {
  if (nonce.size() != kAeadNonceSize || out.size() != ciphertext.size() || tag.size() != kAeadTagSize ||
      PartiallyOverlaps(ciphertext, out)) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::InvalidArgument("AES-GCM nonce, tag or output buffer has the wrong size");
  }
  // OpenSSL takes a non-const tag pointer for SET_TAG; copy rather than cast away const.
  uint8_t expected_tag[kAeadTagSize];
  std::memcpy(expected_tag, tag.data(), kAeadTagSize);
  int len = 0;
  const bool ok = impl_->Begin(0, nonce, aad) &&
                  EVP_CIPHER_CTX_ctrl(impl_->ctx, EVP_CTRL_GCM_SET_TAG, kAeadTagSize, expected_tag) == 1 &&
                  impl_->Update(ciphertext, out) && EVP_DecryptFinal_ex(impl_->ctx, nullptr, &len) == 1;
  if (!ok) {
    // Unauthenticated plaintext must never reach the caller.
    OPENSSL_cleanse(out.data(), out.size());
    return Status::DataLoss("authentication failed");
  }
  return Status::Ok();
}

Status AeadContext::Seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                         std::span<const uint8_t> plaintext, std::span<uint8_t> out) {
  if (out.size() != plaintext.size() + kAeadTagSize) {
    return Status::InvalidArgument("AES-GCM output buffer has the wrong size");
  }
  return SealDetached(nonce, aad, plaintext, out.first(plaintext.size()), out.last(kAeadTagSize));
}

Status AeadContext::Open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad, std::span<const uint8_t> sealed,
                         std::span<uint8_t> out) {
  if (sealed.size() < kAeadTagSize) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::DataLoss("sealed data shorter than the tag");
  }
  if (out.size() != sealed.size() - kAeadTagSize) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::InvalidArgument("AES-GCM output buffer has the wrong size");
  }
  return OpenDetached(nonce, aad, sealed.first(out.size()), sealed.last(kAeadTagSize), out);
}

Status AeadSeal(std::span<const uint8_t> key, std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                std::span<const uint8_t> plaintext, std::span<uint8_t> out) {
  AEGIS_ASSIGN_OR_RETURN(AeadContext ctx, AeadContext::Create(key));
  return ctx.Seal(nonce, aad, plaintext, out);
}

Status AeadOpen(std::span<const uint8_t> key, std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                std::span<const uint8_t> sealed, std::span<uint8_t> out) {
  auto ctx = AeadContext::Create(key);
  if (!ctx.ok()) {
    OPENSSL_cleanse(out.data(), out.size());
    return ctx.status();
  }
  return ctx->Open(nonce, aad, sealed, out);
}

}  // namespace aegis::crypto
