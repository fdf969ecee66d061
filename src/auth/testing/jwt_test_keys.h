// Test-only: real keys generated with OpenSSL, their public JWKs, and a JWS
// signer, so the JWT tests sign tokens the way an IdP does rather than replay
// canned strings.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "aegis/crypto/encoding.h"

namespace aegis::auth::testing {

using Json = nlohmann::ordered_json;

enum class KeyKind { kRsa, kEc, kEd25519 };

inline std::string B64(std::span<const uint8_t> bytes) { return crypto::Base64UrlEncode(bytes); }
inline std::string B64(std::string_view text) { return B64(crypto::AsBytes(text)); }

class TestKey {
 public:
  static TestKey Generate(KeyKind kind, std::string kid, size_t rsa_bits = 2048) {
    EVP_PKEY* raw = nullptr;
    switch (kind) {
      case KeyKind::kRsa:
        raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", rsa_bits);
        break;
      case KeyKind::kEc:
        raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        break;
      case KeyKind::kEd25519:
        raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        break;
    }
    TestKey key;
    key.kind_ = kind;
    key.kid_ = std::move(kid);
    key.key_.reset(raw, EVP_PKEY_free);
    return key;
  }

  bool ok() const { return key_ != nullptr; }
  const std::string& kid() const { return kid_; }
  std::string alg() const { return kind_ == KeyKind::kRsa ? "RS256" : kind_ == KeyKind::kEc ? "ES256" : "EdDSA"; }

  // The public JWK, with kid and nothing else optional.
  Json Jwk() const {
    switch (kind_) {
      case KeyKind::kRsa:
        return {{"kty", "RSA"},
                {"kid", kid_},
                {"n", B64(Bn(OSSL_PKEY_PARAM_RSA_N, 0))},
                {"e", B64(Bn(OSSL_PKEY_PARAM_RSA_E, 0))}};
      case KeyKind::kEc:
        return {{"kty", "EC"},
                {"kid", kid_},
                {"crv", "P-256"},
                {"x", B64(Bn(OSSL_PKEY_PARAM_EC_PUB_X, 32))},
                {"y", B64(Bn(OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
      case KeyKind::kEd25519: {
        std::vector<uint8_t> x(32);
        size_t len = x.size();
        EVP_PKEY_get_raw_public_key(key_.get(), x.data(), &len);
        return {{"kty", "OKP"}, {"kid", kid_}, {"crv", "Ed25519"}, {"x", B64(x)}};
      }
    }
    return {};
  }

  // What EVP produces: DER ECDSA-Sig-Value for EC keys.
  std::vector<uint8_t> EvpSign(std::string_view input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const char* md = kind_ == KeyKind::kEd25519 ? nullptr : "SHA256";
    size_t len = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    if (EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, key_.get(), nullptr) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
      return {};
    }
    std::vector<uint8_t> sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, input.size()) != 1) return {};
    sig.resize(len);
    return sig;
  }

  // The JWS form: raw r||s for ES256.
  std::vector<uint8_t> Sign(std::string_view input) const {
    std::vector<uint8_t> sig = EvpSign(input);
    if (kind_ != KeyKind::kEc) return sig;
    const uint8_t* in = sig.data();
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> parsed(
        d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(sig.size())), ECDSA_SIG_free);
    std::vector<uint8_t> raw(64);
    BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), raw.data() + 32, 32);
    return raw;
  }

  // SubjectPublicKeyInfo, DER and PEM: what an HS256 key-confusion attacker
  // would use as the HMAC secret.
  std::vector<uint8_t> SpkiDer() const {
    const int len = i2d_PUBKEY(key_.get(), nullptr);
    std::vector<uint8_t> der(static_cast<size_t>(len));
    uint8_t* out = der.data();
    i2d_PUBKEY(key_.get(), &out);
    return der;
  }
  std::string SpkiPem() const {
    const std::string body = crypto::Base64Encode(SpkiDer());
    std::string pem = "-----BEGIN PUBLIC KEY-----\n";
    for (size_t i = 0; i < body.size(); i += 64) pem += body.substr(i, 64) + "\n";
    return pem + "-----END PUBLIC KEY-----\n";
  }

 private:
  std::vector<uint8_t> Bn(const char* name, int pad) const {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key_.get(), name, &bn) != 1) return {};
    std::vector<uint8_t> out(pad > 0 ? static_cast<size_t>(pad) : static_cast<size_t>(BN_num_bytes(bn)));
    BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
  }

  KeyKind kind_ = KeyKind::kRsa;
  std::string kid_;
  std::shared_ptr<EVP_PKEY> key_;
};

inline std::vector<uint8_t> HmacSha256(std::span<const uint8_t> secret, std::string_view data) {
  std::vector<uint8_t> mac(32);
  size_t len = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), mac.size(), &len);
  mac.resize(len);
  return mac;
}

// header.payload.signature from raw JSON texts (so tests can write duplicate
// members and other things a JSON library would not).
inline std::string Compact(std::string_view header_json, std::string_view payload_json,
                           std::span<const uint8_t> signature) {
  return B64(header_json) + "." + B64(payload_json) + "." + B64(signature);
}

inline std::string SigningInput(std::string_view header_json, std::string_view payload_json) {
  return B64(header_json) + "." + B64(payload_json);
}

// A token signed by `key` with these header and payload texts.
inline std::string SignedToken(const TestKey& key, std::string_view header_json, std::string_view payload_json) {
  return SigningInput(header_json, payload_json) + "." + B64(key.Sign(SigningInput(header_json, payload_json)));
}

inline std::string JwksOf(const std::vector<Json>& keys) {
  Json jwks = {{"keys", Json::array()}};
  for (const Json& k : keys) jwks["keys"].push_back(k);
  return jwks.dump();
}

}  // namespace aegis::auth::testing
