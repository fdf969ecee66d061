// DescribeCertificate: what the dispatcher learns from a client certificate,
// on certificates built in memory (names no CA would normally sign).
#include "client_certificate.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

namespace aegis::http::internal {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using CertPtr = std::unique_ptr<X509, CertFree>;

GENERAL_NAME* Ia5Name(int type, std::string_view value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
  GENERAL_NAME_set0_value(name, type, s);
  return name;
}

GENERAL_NAME* IpName(std::string_view bytes) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(s, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  GENERAL_NAME_set0_value(name, GEN_IPADD, s);
  return name;
}

// A self-signed certificate with `subject` entries (field, value) and `sans`.
CertPtr MakeCert(const std::vector<std::pair<std::string, std::string>>& subject,
                 const std::vector<GENERAL_NAME*>& sans) {
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& [field, value] : subject) {
    X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  }
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (!sans.empty()) {
    GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
    for (GENERAL_NAME* n : sans) sk_GENERAL_NAME_push(names, n);
    X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(names);
  }
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  return cert;
}

std::string DerSha256Hex(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(der, static_cast<size_t>(length), md, &md_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < md_len; ++i) (hex += kHex[md[i] >> 4]) += kHex[md[i] & 15];
  return hex;
}

TEST(ClientCertificateTest, SubjectSansAndFingerprint) {
  using namespace std::string_literals;
  const std::string v6("\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
  auto cert = MakeCert({{"O", "Acme"}, {"CN", "scorer"}},
                       {Ia5Name(GEN_DNS, "scorer.internal"), Ia5Name(GEN_URI, "spiffe://acme/scorer"),
                        Ia5Name(GEN_EMAIL, "a@b.example"), IpName("\x0a\x00\x00\x01"s), IpName(v6)});
  const ClientCertificate c = DescribeCertificate(cert.get());
  EXPECT_EQ(c.subject, "CN=scorer,O=Acme");
  EXPECT_EQ(c.sans, (std::vector<std::string>{"DNS:scorer.internal", "URI:spiffe://acme/scorer", "email:a@b.example",
                                              "IP:10.0.0.1", "IP:fd00::1"}));
  EXPECT_EQ(c.fingerprint, DerSha256Hex(cert.get()));
  EXPECT_EQ(c.fingerprint.size(), 64u);
}

TEST(ClientCertificateTest, SmuggledNamesAreLeftOut) {
  using namespace std::string_literals;
  auto cert = MakeCert({{"CN", "x"}},
                       {Ia5Name(GEN_DNS, "good.example\0.evil.example"s), Ia5Name(GEN_DNS, "a\nDNS:admin"),
                        Ia5Name(GEN_URI, "spiffe://acme/\x1b[2Jx"), Ia5Name(GEN_EMAIL, "a b@c"),
                        Ia5Name(GEN_DNS, "caf\xc3\xa9.example"), Ia5Name(GEN_DNS, "del\x7f"), Ia5Name(GEN_DNS, ""),
                        IpName("\x0a\x00\x00\x01\xff\xff\xff\x00"s),  // address/mask: not a leaf's name
                        Ia5Name(GEN_DNS, "kept.example")});
  const ClientCertificate c = DescribeCertificate(cert.get());
  EXPECT_EQ(c.sans, std::vector<std::string>{"DNS:kept.example"});
}

TEST(ClientCertificateTest, SubjectIsEscapedRfc2253) {
  auto cert = MakeCert({{"O", "Acme, Inc."}, {"CN", "a+b=c\n"}}, {});
  const ClientCertificate c = DescribeCertificate(cert.get());
  // Separators inside values are escaped, control characters hex-escaped: one
  // subject cannot pose as another. ('=' needs no escape after the first one.)
  EXPECT_EQ(c.subject, "CN=a\\+b=c\\0A,O=Acme\\, Inc.");
  EXPECT_TRUE(c.sans.empty());
}

}  // namespace
}  // namespace aegis::http::internal
