// X.509 material for `aegis init`: a local CA and an ECDSA P-256 server
// certificate (OpenSSL 3 APIs only; PEM in and out).
//
// Thread-safety: stateless; safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::crypto {

struct PemKeyPair {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8, unencrypted: caller stores it 0600
};

// A self-signed CA (basicConstraints CA:TRUE, pathlen 0, keyCertSign|cRLSign),
// ECDSA P-256, SHA-256, valid `days` days.
StatusOr<PemKeyPair> CreateCertificateAuthority(const std::string& common_name, int days);

// A server certificate signed by `ca`: ECDSA P-256, CN = first DNS name,
// subjectAltName = `dns_names` + `ip_addresses`, extendedKeyUsage serverAuth,
// random 128-bit serial, valid `days` days.
StatusOr<PemKeyPair> CreateServerCertificate(const PemKeyPair& ca, const std::vector<std::string>& dns_names,
                                             const std::vector<std::string>& ip_addresses, int days);

// Seconds until the first certificate in `certificate_pem` expires (negative if expired).
StatusOr<long long> SecondsUntilExpiry(const std::string& certificate_pem);

}  // namespace aegis::crypto
