#include "aegis/crypto/certificates.h"

#include <memory>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/testing/status_matchers.h"

namespace aegis::crypto {
namespace {

struct Freer {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};

std::unique_ptr<X509, Freer> ParseCert(const std::string& pem) {
  std::unique_ptr<BIO, Freer> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<X509, Freer>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::unique_ptr<EVP_PKEY, Freer> ParseKey(const std::string& pem) {
  std::unique_ptr<BIO, Freer> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<EVP_PKEY, Freer>(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

class CertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CreateCertificateAuthority("Aegis Test CA", 30);
    ASSERT_OK(ca);
    ca_ = *ca;
    auto server = CreateServerCertificate(ca_, {"localhost"}, {"127.0.0.1", "::1"}, 7);
    ASSERT_OK(server);
    server_ = *server;
  }
  PemKeyPair ca_, server_;
};

TEST_F(CertificatesTest, ServerCertificateVerifiesAgainstCa) {
  auto ca = ParseCert(ca_.certificate_pem);
  auto leaf = ParseCert(server_.certificate_pem);
  ASSERT_TRUE(ca && leaf);
  std::unique_ptr<X509_STORE, Freer> store(X509_STORE_new());
  ASSERT_EQ(X509_STORE_add_cert(store.get(), ca.get()), 1);
  std::unique_ptr<X509_STORE_CTX, Freer> ctx(X509_STORE_CTX_new());
  ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr), 1);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  // Hostname and IP checks use the SANs.
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_NE(X509_check_host(leaf.get(), "example.com", 0, 0, nullptr), 1);
}

TEST_F(CertificatesTest, ExtensionsAndKeys) {
  auto ca = ParseCert(ca_.certificate_pem);
  auto leaf = ParseCert(server_.certificate_pem);
  ASSERT_TRUE(ca && leaf);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  EXPECT_NE(X509_get0_subject_key_id(leaf.get()), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(leaf.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.get()), X509_get0_subject_key_id(ca.get())), 0);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(leaf.get(), NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_FALSE(bc->ca);
  BASIC_CONSTRAINTS_free(bc);
  // Serials are random and distinct.
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(leaf.get())), 0);
  // Each private key matches its certificate, and is P-256.
  auto leaf_key = ParseKey(server_.private_key_pem);
  auto ca_key = ParseKey(ca_.private_key_pem);
  ASSERT_TRUE(leaf_key && ca_key);
  EXPECT_EQ(X509_check_private_key(leaf.get(), leaf_key.get()), 1);
  EXPECT_EQ(X509_check_private_key(ca.get(), ca_key.get()), 1);
  EXPECT_NE(X509_check_private_key(leaf.get(), ca_key.get()), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(leaf_key.get(), "EC"));
  char group[32] = {};
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_utf8_string_param(leaf_key.get(), "group", group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_NE(server_.private_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);  // PKCS#8
}

TEST_F(CertificatesTest, SecondsUntilExpiry) {
  auto secs = SecondsUntilExpiry(server_.certificate_pem);
  ASSERT_OK(secs);
  EXPECT_GT(*secs, 7 * 86400 - 60);
  EXPECT_LE(*secs, 7 * 86400);
  EXPECT_FALSE(SecondsUntilExpiry("not a certificate").ok());
}

TEST_F(CertificatesTest, RejectsBadInput) {
  EXPECT_STATUS_IS(CreateServerCertificate(ca_, {"bad,name"}, {}, 7), StatusCode::kInvalidArgument);
  EXPECT_STATUS_IS(CreateServerCertificate(ca_, {"localhost"}, {"300.1.1.1"}, 7), StatusCode::kInvalidArgument);
  EXPECT_FALSE(CreateServerCertificate(ca_, {}, {}, 7).ok());
  EXPECT_FALSE(CreateCertificateAuthority("CA", 0).ok());
  PemKeyPair mismatched{ca_.certificate_pem, server_.private_key_pem};
  EXPECT_FALSE(CreateServerCertificate(mismatched, {"localhost"}, {}, 7).ok());
}

}  // namespace
}  // namespace aegis::crypto
