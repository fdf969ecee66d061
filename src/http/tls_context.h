// Server TLS configuration: Mozilla "intermediate" (TLS 1.2 with ECDHE AEAD
// suites only, TLS 1.3 defaults), no compression, no renegotiation. This is the
// only place that decides what the server offers; testssl.sh should rate it A.
// With TlsFiles::client_ca it also asks for client certificates (mutual TLS) and
// refuses the handshake for any that does not chain to that bundle, is outside
// its validity period, or is not for client authentication.
//
// Thread-safety: the returned context is shared, read-only, by all sessions of a
// listener once built.
#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "aegis/common/status.h"
#include "aegis/http/server.h"

namespace aegis::http::internal {

// Loads the PEM chain and key and checks that they belong together, that the
// chain verifies to the server CA when set, and the client CA bundle when set.
// Errors name the file and carry OpenSSL's reason.
StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsFiles& files);

// The newest OpenSSL error on this thread as text (and clears the queue).
std::string TakeOpenSslError();

}  // namespace aegis::http::internal
