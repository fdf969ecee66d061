// JWS signature verification (RFC 7515, RFC 7518 §3, RFC 8037) with OpenSSL 3
// EVP: no home-made primitive, only the framing JWS adds around them.
#include <array>
#include <vector>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jwt_internal.h"

namespace aegis::auth::internal {
namespace {

using crypto::internal::BnPtr;
using crypto::internal::MdCtxPtr;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, crypto::internal::OpensslDeleter<ECDSA_SIG_free>>;

constexpr size_t kEs256CoordinateBytes = 32;

struct AlgorithmInfo {
  JwsAlgorithm algorithm;
  std::string_view name;
};
constexpr std::array<AlgorithmInfo, 3> kAlgorithms{{
    {JwsAlgorithm::kRs256, "RS256"},
    {JwsAlgorithm::kEs256, "ES256"},
    {JwsAlgorithm::kEdDsa, "EdDSA"},
}};

// OpenSSL leaves failure details on a thread-local queue; drop them so they do
// not surface later as the "cause" of an unrelated error on this thread.
Status InvalidSignature() {
  ERR_clear_error();
  return Refuse(reason::kInvalidSignature);
}

// JWS carries an ECDSA signature as the fixed-width big-endian r and s side by
// side (RFC 7518 §3.4); OpenSSL verifies the DER ECDSA-Sig-Value. Anything but
// exactly 64 bytes is refused, the DER form included: accepting two encodings
// of one signature is how verifiers drift apart.
std::optional<std::vector<uint8_t>> RawToDer(std::span<const uint8_t> raw) {
  if (raw.size() != 2 * kEs256CoordinateBytes) return std::nullopt;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BnPtr r(BN_bin2bn(raw.data(), kEs256CoordinateBytes, nullptr));
  BnPtr s(BN_bin2bn(raw.data() + kEs256CoordinateBytes, kEs256CoordinateBytes, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

}  // namespace

std::string_view AlgorithmName(JwsAlgorithm algorithm) {
  for (const auto& a : kAlgorithms) {
    if (a.algorithm == algorithm) return a.name;
  }
  return "unknown";
}

std::optional<JwsAlgorithm> ParseAlgorithm(std::string_view name) {
  for (const auto& a : kAlgorithms) {
    if (a.name == name) return a.algorithm;
  }
  return std::nullopt;
}

Status VerifySignature(const VerificationKey& key, std::string_view signing_input, std::span<const uint8_t> signature) {
  std::vector<uint8_t> der;
  const char* digest = "SHA256";
  switch (key.algorithm) {
    case JwsAlgorithm::kRs256:
      // PKCS#1 v1.5 signatures are exactly as long as the modulus.
      if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key.key.get()))) return InvalidSignature();
      break;
    case JwsAlgorithm::kEs256: {
      auto converted = RawToDer(signature);
      if (!converted) return InvalidSignature();
      der = std::move(*converted);
      signature = der;
      break;
    }
    case JwsAlgorithm::kEdDsa:
      digest = nullptr;  // PureEdDSA hashes the message itself
      break;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pkey_ctx, digest, nullptr, nullptr, key.key.get(), nullptr) != 1) {
    ERR_clear_error();
    return Status::Internal("cannot initialise signature verification");
  }
  // RS256 is PKCS#1 v1.5 (OpenSSL's default for RSA): said explicitly so that a
  // changed default can never turn it into PSS.
  if (key.algorithm == JwsAlgorithm::kRs256 && EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) != 1) {
    ERR_clear_error();
    return Status::Internal("cannot initialise signature verification");
  }
  // 1 = valid; 0 = invalid; negative = malformed. All but 1 refuse.
  const auto* message = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message, signing_input.size()) != 1) {
    return InvalidSignature();
  }
  return Status::Ok();
}

}  // namespace aegis::auth::internal
