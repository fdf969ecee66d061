// The client certificate of a mutual-TLS connection as the dispatcher sees it:
// RFC 2253 subject, the subject alternative names Aegis can map to identities,
// and the SHA-256 fingerprint. Built once per connection, after the handshake.
//
// SAN entries are refused (left out) unless they are plain printable ASCII: a
// certificate from a trusted CA may still carry attacker-chosen names, and an
// embedded NUL or control character could make "DNS:a\0.evil" look like
// "DNS:a" to a policy, a log reader or a terminal.
//
// Thread-safety: stateless.
#pragma once

#include <memory>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "aegis/common/status.h"
#include "aegis/http/message.h"

namespace aegis::http::internal {

// The verified client certificate of `ssl`, or null when the connection is
// anonymous (no certificate requested or none sent). An error means the
// connection must be closed: a certificate that did not verify (which a
// correctly configured handshake never lets through), or one that expired
// since the session it resumes was established.
StatusOr<std::shared_ptr<const ClientCertificate>> VerifiedClientCertificate(SSL* ssl);

// Subject, SANs and fingerprint of `cert`, without any verification.
ClientCertificate DescribeCertificate(X509* cert);

}  // namespace aegis::http::internal
