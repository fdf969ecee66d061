#include "client_certificate.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/x509v3.h>

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"

namespace aegis::http::internal {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

std::string Rfc2253(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// DNS names, URIs and e-mail addresses are IA5 strings; we keep only visible
// ASCII (no NUL, control characters, space, DEL or bytes above 0x7E), which is
// all that a well-formed name of these kinds can contain.
std::optional<std::string> VisibleAscii(const ASN1_STRING* s) {
  const unsigned char* data = ASN1_STRING_get0_data(s);
  const int length = ASN1_STRING_length(s);
  if (data == nullptr || length <= 0) return std::nullopt;
  for (int i = 0; i < length; ++i) {
    if (data[i] <= 0x20 || data[i] >= 0x7F) return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
}

std::optional<std::string> IpAddress(const ASN1_OCTET_STRING* s) {
  const unsigned char* data = ASN1_STRING_get0_data(s);
  const int length = ASN1_STRING_length(s);
  char text[INET6_ADDRSTRLEN] = {};
  // Other lengths (address/mask pairs) belong in name constraints, not in a leaf.
  const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
  if (family == 0 || inet_ntop(family, data, text, sizeof text) == nullptr) return std::nullopt;
  return std::string(text);
}

std::optional<std::string> DescribeName(const GENERAL_NAME* name) {
  std::optional<std::string> value;
  switch (name->type) {
    case GEN_DNS:
      if ((value = VisibleAscii(name->d.dNSName))) return "DNS:" + *value;
      break;
    case GEN_URI:
      if ((value = VisibleAscii(name->d.uniformResourceIdentifier))) return "URI:" + *value;
      break;
    case GEN_EMAIL:
      if ((value = VisibleAscii(name->d.rfc822Name))) return "email:" + *value;
      break;
    case GEN_IPADD:
      if ((value = IpAddress(name->d.iPAddress))) return "IP:" + *value;
      break;
    default:  // otherName, directoryName, registeredID...: not mappable
      break;
  }
  return std::nullopt;
}

std::vector<std::string> SubjectAltNames(X509* cert) {
  std::vector<std::string> out;
  // Null when absent, and also when the extension is duplicated (ambiguous).
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    if (auto described = DescribeName(sk_GENERAL_NAME_value(names.get(), i))) out.push_back(std::move(*described));
  }
  return out;
}

std::string Fingerprint(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  if (length <= 0) return {};
  const auto digest = crypto::Sha256(std::span<const uint8_t>(der, static_cast<size_t>(length)));
  OPENSSL_free(der);
  return crypto::HexEncode(digest);
}

}  // namespace

ClientCertificate DescribeCertificate(X509* cert) {
  ClientCertificate out;
  out.subject = Rfc2253(X509_get_subject_name(cert));
  out.sans = SubjectAltNames(cert);
  out.fingerprint = Fingerprint(cert);
  return out;
}

StatusOr<std::shared_ptr<const ClientCertificate>> VerifiedClientCertificate(SSL* ssl) {
  // Only a certificate we asked for and had OpenSSL verify counts.
  if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0) return std::shared_ptr<const ClientCertificate>();
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::shared_ptr<const ClientCertificate>();
  const long verdict = SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK) {
    return Status::Unauthenticated(std::string("client certificate not verified: ") +
                                   X509_verify_cert_error_string(verdict));
  }
  // A resumed session skips verification; its certificate may have expired
  // since the full handshake.
  if (SSL_session_reused(ssl) && X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
    return Status::Unauthenticated("client certificate of the resumed session has expired");
  }
  auto described = std::make_shared<ClientCertificate>(DescribeCertificate(cert));
  if (described->fingerprint.empty()) return Status::Internal("cannot encode the client certificate");
  return std::shared_ptr<const ClientCertificate>(std::move(described));
}

}  // namespace aegis::http::internal
