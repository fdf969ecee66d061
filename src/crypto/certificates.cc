#include "aegis/crypto/certificates.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "aegis/crypto/random.h"
#include "crypto/internal/openssl_ptr.h"

namespace aegis::crypto {
namespace {

using namespace internal;  // the OpenSSL owning pointers

constexpr int kMaxDays = 3650;

Status Fail(const char* what) { return Status::Internal(std::string("certificate: ") + what); }

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

StatusOr<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return Fail("cannot encode PEM");
  return BioContents(bio.get());
}

StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key) {
  // A secure-heap BIO is wiped when freed, so the key leaves no copy behind in it.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Fail("cannot encode private key");
  }
  return BioContents(bio.get());
}

// Adds one extension given in OpenSSL's config syntax ("critical,CA:TRUE,pathlen:0").
bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A new certificate with a random positive 128-bit serial, validity and subject set.
StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key, const std::string& common_name, int days) {
  if (days < 1 || days > kMaxDays) return Status::InvalidArgument("certificate validity must be 1..3650 days");
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return Fail("cannot allocate");
  uint8_t serial_bytes[16];
  AEGIS_RETURN_IF_ERROR(RandomBytes(serial_bytes));
  serial_bytes[0] &= 0x7f;  // DER INTEGER must stay positive
  serial_bytes[0] |= 0x01;  // and non-zero in its top byte, so it is always 128 bits long
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Fail("cannot set serial");
  }
  // Backdate a little so a peer whose clock lags a few minutes still accepts it.
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) == nullptr) {
    return Fail("cannot set validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return Fail("cannot set subject");
  }
  return cert;
}

StatusOr<NamesPtr> SubjectAltNames(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips) {
  NamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return Fail("cannot allocate names");
  for (const std::string& dns : dns_names) {
    const bool valid =
        !dns.empty() && dns.size() <= 253 &&
        dns.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") == std::string::npos;
    if (!valid) return Status::InvalidArgument("invalid DNS name for certificate: " + dns);
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* str = ASN1_IA5STRING_new();
    if (gn == nullptr || str == nullptr || ASN1_STRING_set(str, dns.data(), static_cast<int>(dns.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(str);
      return Fail("cannot build DNS name");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, str);
    if (sk_GENERAL_NAME_push(names.get(), gn) == 0) {
      GENERAL_NAME_free(gn);
      return Fail("cannot build DNS name");
    }
  }
  for (const std::string& ip : ips) {
    ASN1_OCTET_STRING* addr = a2i_IPADDRESS(ip.c_str());  // parses IPv4 and IPv6, rejects junk
    if (addr == nullptr) return Status::InvalidArgument("invalid IP address for certificate: " + ip);
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) {
      ASN1_OCTET_STRING_free(addr);
      return Fail("cannot build IP name");
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, addr);
    if (sk_GENERAL_NAME_push(names.get(), gn) == 0) {
      GENERAL_NAME_free(gn);
      return Fail("cannot build IP name");
    }
  }
  return names;
}

StatusOr<KeyPtr> ReadPrivateKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Status::InvalidArgument("cannot parse private key PEM");
  return key;
}

StatusOr<X509Ptr> ReadCertificate(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status::InvalidArgument("cannot parse certificate PEM");
  return cert;
}

StatusOr<PemKeyPair> Finish(X509* cert, EVP_PKEY* signing_key, EVP_PKEY* subject_key) {
  if (X509_sign(cert, signing_key, EVP_sha256()) <= 0) return Fail("cannot sign");
  PemKeyPair out;
  AEGIS_ASSIGN_OR_RETURN(out.certificate_pem, CertificatePem(cert));
  AEGIS_ASSIGN_OR_RETURN(out.private_key_pem, PrivateKeyPem(subject_key));
  return out;
}

}  // namespace

StatusOr<PemKeyPair> CreateCertificateAuthority(const std::string& common_name, int days) {
  if (common_name.empty()) return Status::InvalidArgument("CA common name must not be empty");
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Fail("cannot generate P-256 key");
  AEGIS_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), common_name, days));
  X509* x = cert.get();
  // Self-signed: issuer = subject. The subject key id must exist before the authority key id reads it.
  if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
      !AddExtension(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(x, x, NID_subject_key_identifier, "hash") ||
      !AddExtension(x, x, NID_authority_key_identifier, "keyid:always")) {
    return Fail("cannot add CA extensions");
  }
  return Finish(x, key.get(), key.get());
}

StatusOr<PemKeyPair> CreateServerCertificate(const PemKeyPair& ca, const std::vector<std::string>& dns_names,
                                             const std::vector<std::string>& ip_addresses, int days) {
  if (dns_names.empty() && ip_addresses.empty()) return Status::InvalidArgument("server certificate needs a name");
  AEGIS_ASSIGN_OR_RETURN(X509Ptr ca_cert, ReadCertificate(ca.certificate_pem));
  AEGIS_ASSIGN_OR_RETURN(KeyPtr ca_key, ReadPrivateKey(ca.private_key_pem));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return Status::InvalidArgument("CA private key does not match the CA certificate");
  }
  AEGIS_ASSIGN_OR_RETURN(NamesPtr names, SubjectAltNames(dns_names, ip_addresses));
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Fail("cannot generate P-256 key");
  const std::string cn = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  AEGIS_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), cn, days));
  X509* x = cert.get();
  if (X509_set_issuer_name(x, X509_get_subject_name(ca_cert.get())) != 1 ||
      !AddExtension(x, ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(x, ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(x, ca_cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(x, ca_cert.get(), NID_subject_key_identifier, "hash") ||
      !AddExtension(x, ca_cert.get(), NID_authority_key_identifier, "keyid:always") ||
      X509_add1_ext_i2d(x, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Fail("cannot add server extensions");
  }
  return Finish(x, ca_key.get(), key.get());
}

StatusOr<long long> SecondsUntilExpiry(const std::string& certificate_pem) {
  AEGIS_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(certificate_pem));
  int days = 0;
  int seconds = 0;
  if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())) != 1) {
    return Status::InvalidArgument("certificate has an unreadable expiry time");
  }
  return static_cast<long long>(days) * 86400 + seconds;
}

}  // namespace aegis::crypto
